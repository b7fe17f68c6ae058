//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every client that took part
//! in it and registered a `backchannel_logout_uri` receives a signed logout token.
//!
//! Deliveries are durable (issue 12.2): the transaction that ends a session also writes one
//! row per client to notify into the `logout_deliveries` outbox. Any node's delivery task
//! claims due rows with a lease (never two nodes at once), signs a fresh logout token and
//! POSTs it with a timeout and no redirects; failures are retried with back-off and given up
//! after about a day, every attempt recorded. The person's logout never waits on a relying
//! party, and a node that dies mid-delivery loses nothing: its lease expires and another node
//! sends it.

use std::time::Duration;

use serde_json::json;

use super::jwt::TYP_LOGOUT;
use crate::app::AppState;
use crate::domain::client::Client;
use crate::domain::id::{SessionId, Subject};
use crate::error::Internal;
use crate::secrets::{now, PlainToken};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The logout token (§2.4) for `client`: `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`,
/// `events`, and never a `nonce`.
pub fn logout_token(
    state: &AppState,
    client: &Client,
    sub: &Subject,
    sid: &SessionId,
) -> Result<String, Internal> {
    let iat = now();
    let claims = json!({
        "iss": state.config.issuer,
        "aud": client.client_id.as_str(),
        "iat": iat,
        "exp": iat + 120,
        "jti": PlainToken::generate_with_bytes(16).expose(),
        "sub": sub,
        "sid": sid,
        "events": { EVENT: {} },
    });
    let payload = serde_json::to_vec(&claims).map_err(Internal::from)?;
    Ok(state.keys.sign(client.id_token_alg, TYP_LOGOUT, &payload)?)
}

/// Wakes this node's delivery task: a transaction just committed new deliveries.
pub fn wake(state: &AppState) {
    state.logout_outbox.notify_one();
}

/// How long a node owns the deliveries it claimed: longer than one attempt can take (the
/// HTTP client's timeout is 5 s), so a delivery is never sent by two nodes at the same time.
const LEASE_SECONDS: i64 = 30;
/// Deliveries claimed at once.
const BATCH: i64 = 16;
/// Attempts before a delivery is given up: with the back-off below, about a day.
pub const MAX_ATTEMPTS: i64 = 18;

/// Seconds before attempt `n + 1` after `n` failed ones: 5 s doubling, at most 4 h.
pub fn backoff(attempts: i64) -> i64 {
    let n = attempts.clamp(1, 20) as u32;
    (5i64 << (n - 1)).min(4 * 3600)
}

/// The delivery task of a node: claims due deliveries from the outbox and sends them, when
/// woken by a commit on this node or every second (deliveries of other nodes, retries, and
/// leases of nodes that died mid-delivery).
///
/// When `stop` turns true (the node is shutting down) it finishes the batch it is sending —
/// every attempt recorded — and returns; what it has not claimed stays for the other nodes.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let woken = state.logout_outbox.notified();
        match deliver_due(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "back-channel logout outbox unavailable"),
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Claims and sends one batch; returns how many were claimed.
async fn deliver_due(state: &AppState) -> Result<usize, Internal> {
    let t = now();
    let batch = state
        .storage
        .claim_deliveries(t, LEASE_SECONDS, BATCH)
        .await?;
    let n = batch.len();
    let sends = batch.into_iter().map(|d| {
        let state = state.clone();
        async move {
            if let Err(e) = deliver(&state, &d).await {
                tracing::warn!(error = %e, client_id = %d.client_id, "back-channel logout: recording the attempt failed");
            }
        }
    });
    futures_join_all(sends).await;
    if let Ok(p) = state.storage.pending_deliveries().await {
        state.metrics.logout_pending(p);
    }
    Ok(n)
}

async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

/// One attempt at one delivery (§2.5), recorded: delivered, retried later, or given up.
async fn deliver(
    state: &AppState,
    d: &crate::storage::deliveries::Delivery,
) -> Result<(), Internal> {
    let t = now();
    let client = state.storage.client(&d.client_id).await?;
    let target = client.as_ref().and_then(|c| {
        c.backchannel_logout_uri
            .as_ref()
            .map(|u| (c.clone(), u.as_str().to_owned()))
    });
    let Some((client, uri)) = target else {
        // The client is gone or no longer listens: nothing to deliver to.
        state
            .storage
            .delivery_failed(&d.id, t, "client has no back-channel logout URI", None)
            .await?;
        return Ok(());
    };
    let token = logout_token(state, &client, &d.sub, &d.sid)?;
    let result = state
        .http
        .post(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cache-control", "no-store")
        .body(format!(
            "logout_token={}",
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        ))
        .send()
        .await;
    let status = match &result {
        Ok(r) => r.status().as_u16().to_string(),
        // The error's kind only: its text may hold the URI's query.
        Err(e) if e.is_timeout() => "timeout".to_owned(),
        Err(e) if e.is_connect() => "connection failed".to_owned(),
        Err(_) => "request failed".to_owned(),
    };
    match result {
        Ok(r) if r.status().is_success() => {
            state.storage.delivery_done(&d.id, now(), &status).await?;
            state.metrics.logout_delivered(&d.client_id);
            tracing::info!(client_id = %d.client_id, "back-channel logout delivered");
        }
        _ => {
            let attempts = d.attempts + 1;
            let next = (attempts < MAX_ATTEMPTS).then(|| now() + backoff(attempts));
            state
                .storage
                .delivery_failed(&d.id, now(), &status, next)
                .await?;
            state.metrics.logout_failed(&d.client_id, next.is_none());
            tracing::warn!(client_id = %d.client_id, %status, attempts, given_up = next.is_none(), "back-channel logout failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_is_capped() {
        assert_eq!(backoff(1), 5);
        assert_eq!(backoff(2), 10);
        assert_eq!(backoff(5), 80);
        assert_eq!(backoff(30), 4 * 3600);
        let total: i64 = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert!((20 * 3600..=30 * 3600).contains(&total), "{total}");
    }
}
