//! Logs and metrics. Logs are structured (`tracing`), carry the request id, and record only
//! the path of a request: query strings and bodies may hold codes, tokens or personal data.
//! Metrics are Prometheus text at `/metrics`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::app::AppState;

/// Sets up the global subscriber: `RUST_LOG` filters (default `info`), `MPSV_IDP_LOG=json`
/// switches to JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("MPSV_IDP_LOG").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The counters and histograms of one node.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    tokens: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "mpsv_idp_http_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "mpsv_idp_http_request_duration_seconds",
                "HTTP request latency by endpoint",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["endpoint"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "mpsv_idp_tokens_issued_total",
                "Token responses by grant type",
            ),
            &["grant_type"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            tokens,
        })
    }

    pub fn token_issued(&self, grant_type: &str) {
        self.tokens.with_label_values(&[grant_type]).inc();
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: counts and times each request under its route pattern (never the raw path,
/// so label cardinality stays bounded).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .with_label_values(&[&endpoint])
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[&endpoint, &method, response.status().as_str()])
        .inc();
    response
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
