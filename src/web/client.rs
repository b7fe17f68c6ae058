//! Who is asking: the client's IP address (for rate limits and the audit log) and user agent
//! (for the session list). Behind a reverse proxy listed in `trusted_proxies`, the address is
//! the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (OWASP: never
//! trust the header from anyone else).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;

#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|i| i.to_string())
    }
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
            .map(|c| c.0.ip().to_canonical());
        let trusted = &state.config.trusted_proxies;
        let ip = match peer {
            Some(p) if trusted.contains(&p) => parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical()))
                .rev()
                .find(|ip| !trusted.contains(ip))
                .or(Some(p)),
            other => other,
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect());
        Ok(Self { ip, user_agent })
    }
}

/// Middleware: serves the request with its client address known to the audit log
/// (`audit::SOURCE_IP`).
pub async fn remember_source(
    meta: ClientMeta,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    crate::audit::SOURCE_IP
        .scope(meta.ip_string(), next.run(req))
        .await
}
