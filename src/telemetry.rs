//! Logs and metrics. Logs are structured (`tracing`), carry the request id, and record only
//! the path of a request: query strings and bodies may hold codes, tokens or personal data.
//! Metrics are Prometheus text at `/metrics`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
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
    logout_delivered: IntCounterVec,
    logout_failed: IntCounterVec,
    logout_given_up: IntCounterVec,
    logout_pending: IntGauge,
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
        // Per client: the label values are the registered clients' ids (a closed set that
        // administrators control), never a request value.
        let logout =
            |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["client_id"]);
        let logout_delivered = logout(
            "mpsv_idp_backchannel_logout_delivered_total",
            "Back-channel logout tokens a client accepted",
        )?;
        let logout_failed = logout(
            "mpsv_idp_backchannel_logout_failures_total",
            "Failed back-channel logout attempts (alert when it keeps growing for a client)",
        )?;
        let logout_given_up = logout(
            "mpsv_idp_backchannel_logout_given_up_total",
            "Back-channel logouts given up after every retry",
        )?;
        let logout_pending = IntGauge::new(
            "mpsv_idp_backchannel_logout_pending",
            "Back-channel logouts waiting in the outbox (all nodes)",
        )?;
        for c in [&logout_delivered, &logout_failed, &logout_given_up] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(logout_pending.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            tokens,
            logout_delivered,
            logout_failed,
            logout_given_up,
            logout_pending,
        })
    }

    pub fn token_issued(&self, grant_type: &str) {
        self.tokens.with_label_values(&[grant_type]).inc();
    }

    pub fn logout_delivered(&self, client_id: &str) {
        self.logout_delivered.with_label_values(&[client_id]).inc();
    }

    pub fn logout_failed(&self, client_id: &str, given_up: bool) {
        self.logout_failed.with_label_values(&[client_id]).inc();
        if given_up {
            self.logout_given_up.with_label_values(&[client_id]).inc();
        }
    }

    pub fn logout_pending(&self, n: i64) {
        self.logout_pending.set(n);
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: counts and times each request. Every label comes from a closed set (the route
/// template axum matched, never the raw path; a known method; a known status or its class), so
/// no request can create new time series and grow memory without bound.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let start = Instant::now();
    let response = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .with_label_values(&[&endpoint])
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[&endpoint, method, status_label(response.status())])
        .inc();
    response
}

/// The method as a label: the standard ones by name, anything else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status as a label: the codes this server answers with by number, any other by class.
pub fn status_label(status: StatusCode) -> &'static str {
    const KNOWN: [(u16, &str); 19] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (302, "302"),
        (303, "303"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
    ];
    let code = status.as_u16();
    if let Some((_, label)) = KNOWN.iter().find(|(c, _)| *c == code) {
        return label;
    }
    match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// `GET /metrics` on the main listener: served only when `metrics.token` is configured, and
/// then only to that bearer token; otherwise it does not exist (404), so a public node never
/// shows its metrics to the internet.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.config.metrics.token {
        None => crate::pages::error_page(
            StatusCode::NOT_FOUND,
            "error.not_found",
            "",
            crate::pages::i18n::Lang::Cs,
        ),
        Some(token) => guarded(&state, token, &headers),
    }
}

/// `GET /metrics` on the separate metrics listener (`metrics.bind`): open to whoever reaches
/// that address, unless a token is configured too.
pub async fn metrics_listener(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.config.metrics.token {
        None => render(&state),
        Some(token) => guarded(&state, token, &headers),
    }
}

fn guarded(state: &AppState, token: &str, headers: &HeaderMap) -> Response {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        });
    match sent {
        Some(sent) if crate::secrets::constant_time_eq(sent, token) => render(state),
        // RFC 6750 §3.
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
        )
            .into_response(),
    }
}

fn render(state: &AppState) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
