//! Browser cookies: the SSO session and the CSRF token. Over HTTPS they use the `__Host-`
//! prefix (bound to this host, path `/`, `Secure`; RFC 6265bis §4.1.3.2); always `HttpOnly`
//! and `SameSite=Lax` (OWASP Session Management Cheat Sheet).

use axum::http::{header, HeaderMap, HeaderValue};

pub const SESSION: &str = "mpsv_sso";
pub const CSRF: &str = "mpsv_csrf";

/// Cookie settings derived from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    pub fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value; `max_age` `None` makes a browser-session cookie.
    pub fn set(&self, base: &str, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
        let mut c = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax",
            self.name(base)
        );
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&c).ok()
    }

    pub fn clear(&self, base: &str) -> Option<HeaderValue> {
        self.set(base, "", Some(0))
    }

    /// Reads our cookie `base` from the request.
    pub fn get(&self, headers: &HeaderMap, base: &str) -> Option<String> {
        let name = self.name(base);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 128)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_use_the_host_prefix() {
        let p = CookiePolicy { secure: true };
        let v = p.set(SESSION, "abc", None).unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "__Host-mpsv_sso=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let p = CookiePolicy { secure: false };
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xmpsv_sso=no; mpsv_sso=yes; other=1"),
        );
        assert_eq!(p.get(&h, SESSION).as_deref(), Some("yes"));
        assert_eq!(p.get(&h, CSRF), None);
    }
}
