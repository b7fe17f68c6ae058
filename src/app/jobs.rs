//! A node's background work: the upkeep (key reload, purge of expired rows, statutory roles
//! whose end date has come), the back-channel logout deliveries (`oidc::backchannel`) and,
//! on PostgreSQL, the listener for other nodes' revocations (`storage::revocations`).

use std::time::Duration;

use tokio::task::JoinHandle;

use super::AppState;

/// The background tasks of a running node.
pub struct Jobs {
    upkeep: JoinHandle<()>,
    deliveries: JoinHandle<()>,
    revocations: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Jobs {
    pub fn start(state: &AppState) -> Self {
        let upkeep = tokio::spawn(upkeep(state.clone()));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let deliveries = tokio::spawn(crate::oidc::backchannel::run(state.clone(), stopping));
        let listening = state.clone();
        let revocations = tokio::spawn(async move {
            listening
                .storage
                .listen_for_revocations(&listening.config.database_url)
                .await
        });
        Self {
            upkeep,
            deliveries,
            revocations,
            stop,
        }
    }

    /// Stops the upkeep at once (each of its steps is one transaction that any node's next
    /// upkeep repeats) and lets the delivery task finish the batch it is sending: at most the
    /// HTTP client's timeout (5 s) per delivery, 15 s in all.
    pub async fn stop(self) {
        self.upkeep.abort();
        self.revocations.abort();
        let _ = self.stop.send(true);
        let abort = self.deliveries.abort_handle();
        if tokio::time::timeout(Duration::from_secs(15), self.deliveries)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

async fn upkeep(state: AppState) {
    let period = Duration::from_secs(state.config.keys.reload_interval.max(1));
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = state.keys.reload().await {
            tracing::warn!(error = %e, "reloading keys failed; keeping the old set");
        }
        if let Err(e) = state.storage.purge_expired(crate::secrets::now()).await {
            tracing::warn!(error = %e, "purging expired rows failed");
        }
        // Statutory roles ended on a date that has now come (MPSV rule 6).
        if let Err(e) = crate::registry::statutory::apply_pending_ends(&state).await {
            tracing::warn!(error = %e, "carrying out ended statutory roles failed");
        }
    }
}
