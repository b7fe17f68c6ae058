//! Who is asking: the client's IP address (for rate limits and the audit log) and user agent
//! (for the session list). Only when the connection comes from a reverse proxy listed in
//! `trusted_proxies` is a forwarding header believed (OWASP: never trust it from anyone
//! else), and only the one `forwarded_header` names: `X-Forwarded-For` (default) or
//! `Forwarded` (RFC 7239) — the other may come from the client untouched by the proxy. The address is the
//! right-most hop that is not itself a trusted proxy; entries may carry a port
//! (`192.0.2.1:4711`, `[2001:db8::1]:4711`). An entry that is not an address (`unknown`, an
//! obfuscated `_name`, garbage) stops the walk: what lies left of it was written by whoever
//! the untrusted hop was, so the last trusted hop's address is used instead.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::config::{ForwardedHeader, TrustedProxy};

#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|i| i.to_string())
    }

    /// The key of per-address limits: the address, or `unknown` (one shared bucket).
    pub fn limit_key(&self) -> String {
        self.ip_string().unwrap_or_else(|| "unknown".to_owned())
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
        let config = &state.config;
        let ip = peer.map(|p| {
            client_address(
                p,
                &config.trusted_proxies,
                config.forwarded_header,
                &parts.headers,
            )
        });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect());
        Ok(Self { ip, user_agent })
    }
}

/// The client's address for a connection from `peer` (see the module's documentation).
pub fn client_address(
    peer: IpAddr,
    trusted: &[TrustedProxy],
    forwarded: ForwardedHeader,
    headers: &axum::http::HeaderMap,
) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .collect()
    };
    // Each hop as the node it names: `for=` of a `Forwarded` element (absent: not an address).
    let hops: Vec<String> = match forwarded {
        ForwardedHeader::Forwarded => values("forwarded")
            .iter()
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .map(|(_, v)| v.trim().trim_matches('"').to_owned())
                    .unwrap_or_default()
            })
            .collect(),
        ForwardedHeader::XForwardedFor => values("x-forwarded-for"),
    };
    let mut last_trusted = peer;
    for hop in hops.iter().rev() {
        match node_address(hop) {
            Some(ip) if trusted(&ip) => last_trusted = ip,
            Some(ip) => return ip,
            None => return last_trusted,
        }
    }
    last_trusted
}

/// An address with or without a port: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:80` (RFC 7239 §6).
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inside
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    let (host, port) = node.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The client address of the request being served (as `remember_source` recorded it), or
/// `unknown`: the key under which per-address rows are counted.
pub fn current_source() -> String {
    crate::audit::SOURCE_IP
        .try_with(Clone::clone)
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxy(s: &str) -> TrustedProxy {
        s.parse().unwrap()
    }

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    const PROXY: &str = "10.0.0.10";
    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = with(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        for header in [XFF, FWD] {
            assert_eq!(
                client_address(ip("9.9.9.9"), &[proxy(PROXY)], header, &h),
                ip("9.9.9.9")
            );
        }
    }

    #[test]
    fn x_forwarded_for_entries_may_carry_ports() {
        let t = [proxy(PROXY)];
        for (value, want) in [
            ("203.0.113.7:51234", "203.0.113.7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("2001:db8::8", "2001:db8::8"),
            ("spoofed, 203.0.113.9:1", "203.0.113.9"),
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
            assert_eq!(client_address(ip(PROXY), &t, XFF, &h), ip(want), "{value}");
        }
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let t = [proxy(PROXY)];
        let h = with(&[
            ("forwarded", "for=198.51.100.1"),
            ("x-forwarded-for", "192.0.2.99"),
        ]);
        assert_eq!(client_address(ip(PROXY), &t, XFF, &h), ip("192.0.2.99"));
        assert_eq!(client_address(ip(PROXY), &t, FWD, &h), ip("198.51.100.1"));
        // A client's own `Forwarded` past a proxy that only appends X-Forwarded-For is ignored.
        let h = with(&[("forwarded", "for=1.2.3.4")]);
        assert_eq!(client_address(ip(PROXY), &t, XFF, &h), ip(PROXY));
    }

    #[test]
    fn forwarded_is_parsed() {
        let t = [proxy(PROXY), proxy("10.0.0.11")];
        let h = with(&[
            (
                "forwarded",
                "for=198.51.100.1;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.11, for=10.0.0.11",
            ),
            ("x-forwarded-for", "192.0.2.99"),
        ]);
        assert_eq!(
            client_address(ip(PROXY), &t, FWD, &h),
            ip("2001:db8:cafe::17")
        );
    }

    #[test]
    fn an_unparsable_hop_stops_the_walk_at_the_last_trusted_one() {
        let t = [proxy(PROXY), proxy("10.0.0.11")];
        let h = with(&[("x-forwarded-for", "198.51.100.1, garbage, 10.0.0.11")]);
        assert_eq!(client_address(ip(PROXY), &t, XFF, &h), ip("10.0.0.11"));
        let h = with(&[("forwarded", "for=198.51.100.1, for=unknown")]);
        assert_eq!(client_address(ip(PROXY), &t, FWD, &h), ip(PROXY));
        let h = with(&[("forwarded", "for=_hidden")]);
        assert_eq!(client_address(ip(PROXY), &t, FWD, &h), ip(PROXY));
    }

    #[test]
    fn only_proxies_in_the_header_fall_back_to_the_proxy() {
        let t = [proxy(PROXY)];
        assert_eq!(
            client_address(ip(PROXY), &t, XFF, &HeaderMap::new()),
            ip(PROXY)
        );
        let h = with(&[("x-forwarded-for", "10.0.0.10")]);
        assert_eq!(client_address(ip(PROXY), &t, XFF, &h), ip(PROXY));
    }

    #[test]
    fn a_range_of_proxies_is_trusted_as_a_whole() {
        let t = [proxy("10.42.0.0/16"), proxy("2001:db8:1::/48")];
        let h = with(&[("x-forwarded-for", "203.0.113.9, 10.42.7.1")]);
        assert_eq!(
            client_address(ip("10.42.3.4"), &t, XFF, &h),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("2001:db8:1::5"), &t, XFF, &h),
            ip("203.0.113.9")
        );
        // An IPv4 peer seen through a dual-stack socket is the same address.
        assert_eq!(
            client_address(ip("::ffff:10.42.3.4"), &t, XFF, &h),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("10.43.0.1"), &t, XFF, &h),
            ip("10.43.0.1")
        );
        assert!(
            "10.42.0.1/16".parse::<TrustedProxy>().is_err(),
            "host bits set"
        );
        assert!("10.42.0.0/33".parse::<TrustedProxy>().is_err());
        assert!("0.0.0.0/0".parse::<TrustedProxy>().is_err(), "everyone");
        assert!("::/0".parse::<TrustedProxy>().is_err(), "everyone");
        assert!("::ffff:10.0.0.0/104".parse::<TrustedProxy>().is_err());
        assert_eq!(proxy("10.0.0.10").to_string(), "10.0.0.10");
        assert_eq!(proxy("10.42.0.0/16").to_string(), "10.42.0.0/16");
    }
}
