//! The application: shared state (`state`), the one router builder (`router`), the
//! background jobs (`jobs`) and `serve`. `main` and every test go through these, so tests
//! exercise exactly what production runs.

mod jobs;
mod router;
mod state;

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;

pub use router::{build_router, metrics_router};
pub use state::{open_keys, AppState, Inner};

/// Serves until `shutdown` resolves (SIGTERM in `main`), then drains in-flight requests and
/// stops the background work ([`jobs::Jobs::stop`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let jobs = jobs::Jobs::start(&state);
    let metrics_server = match &state.config.metrics.bind {
        Some(bind) => {
            let listener = TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding the metrics listener {bind}"))?;
            tracing::info!(bind = %bind, "metrics listening");
            let router = metrics_router(state.clone());
            Some(tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }))
        }
        None => None,
    };
    let router = build_router(state.clone());
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("HTTP server");
    jobs.stop().await;
    tracing::info!("stopped");
    if let Some(m) = metrics_server {
        m.abort();
    }
    result
}
