//! The one router: each area's routes (`oidc::routes`, `web::routes`,
//! `web::console::routes`, `admin::routes`) merged, with health, metrics, the middleware
//! stack and the security headers.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::routing::get;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::AppState;
use crate::oidc;
use crate::telemetry;
use crate::web;

/// The one router: every endpoint, the middleware stack, and the security headers.
pub fn build_router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The path only: query strings can carry personal data or secrets.
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    });
    let router = Router::new()
        .nest(crate::admin::BASE, crate::admin::routes())
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(telemetry::metrics))
        .merge(oidc::routes())
        .merge(web::routes())
        .merge(web::console::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::client::remember_source,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::track,
        ))
        .layer(axum::middleware::from_fn(retry_after));
    let router = security_headers(router);
    // HSTS only when served over HTTPS (RFC 6797 §7.2: not over plain HTTP).
    let router = if state.config.issuer.starts_with("https://") {
        router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        router
    };
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Security headers for every response (OWASP HTTP Headers Cheat Sheet). Handlers that need a
/// different CSP (the form_post page) set their own; these apply only where none is set.
fn security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Every 503 says when to try again (RFC 9110 §10.2.3): the database is away and a node
/// recovers by itself when it returns.
async fn retry_after(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut r = next.run(req).await;
    if r.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static("5"));
    }
    r
}

/// Answers 503 (with `Retry-After`, added by [`retry_after`]) when a request takes longer
/// than `request_timeout`: the bound for a database that accepts connections but never
/// answers, past the pool's acquire timeout (issue 12.4). The handler's future is dropped,
/// which rolls back its open transaction — a half-done request leaves nothing behind.
async fn request_deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state.config.request_timeout;
    let api = req.uri().path().starts_with(crate::admin::BASE);
    let oauth = matches!(
        req.uri().path(),
        "/token" | "/introspect" | "/revoke" | "/userinfo"
    );
    match tokio::time::timeout(Duration::from_secs(limit), next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            let e = crate::error::Internal::TimedOut(limit);
            if api {
                crate::admin::error::ApiError::Internal(e).into_response()
            } else if oauth {
                crate::error::OAuthError::Internal(e).into_response()
            } else {
                crate::error::PageError::Internal(e).into_response()
            }
        }
    }
}

/// `GET /healthz`: the process is up.
async fn health() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers and a signing key is available.
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    // Every algorithm has a current key.
    let keys_ok = crate::domain::client::SigningAlg::ALL
        .iter()
        .all(|alg| state.keys.current(*alg).is_some());
    // Bounded: a database that does not answer within two seconds is not ready.
    let ping = tokio::time::timeout(Duration::from_secs(2), state.storage.ping()).await;
    match ping {
        Ok(Ok(())) if keys_ok => (axum::http::StatusCode::OK, "ready"),
        _ => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

async fn not_found() -> axum::response::Response {
    crate::pages::error_page(
        axum::http::StatusCode::NOT_FOUND,
        "error.not_found",
        "",
        crate::pages::i18n::Lang::Cs,
    )
}

/// The router of the separate metrics listener (`metrics.bind`): `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(telemetry::metrics_listener))
        .with_state(state)
}
