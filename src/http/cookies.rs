//! Browser cookies: the SSO session and the CSRF token. Over HTTPS they use the `__Host-`
//! prefix (bound to this host, path `/`, `Secure`; RFC 6265bis §4.1.3.2); always `HttpOnly`
//! and `SameSite=Lax` (OWASP Session Management Cheat Sheet).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};

use crate::app::AppState;
use crate::secrets::{constant_time_eq, PlainToken};

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

/// The browser's double-submit CSRF cookie as sent (OWASP CSRF Prevention Cheat Sheet,
/// "signed double-submit cookie": the value is also stored hashed where a form belongs to an
/// interaction). Used by the forms that have no session yet: the login stages, the password
/// reset and the logout confirmation. Only a well-formed value (a 43-character token) counts.
#[derive(Default)]
pub struct CsrfCookie(Option<PlainToken>);

impl CsrfCookie {
    /// The token as sent, if any.
    pub fn token(&self) -> Option<&PlainToken> {
        self.0.as_ref()
    }

    /// The browser's token, or a new one (one token per browser: two tabs keep working).
    pub fn or_new(&self) -> PlainToken {
        self.0
            .as_ref()
            .map(|t| PlainToken::from_received(t.expose()))
            .unwrap_or_else(PlainToken::generate)
    }

    /// Does the form's `csrf` value equal the cookie (constant time; both present)?
    pub fn matches(&self, form_value: Option<&str>) -> bool {
        match (&self.0, form_value) {
            (Some(cookie), Some(form)) => constant_time_eq(form, cookie.expose()),
            _ => false,
        }
    }
}

impl FromRequestParts<AppState> for CsrfCookie {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self(
            state
                .cookies
                .get(&parts.headers, CSRF)
                .filter(|c| c.len() == 43)
                .map(|c| PlainToken::from_received(&c)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_cookie_matches_only_an_equal_value() {
        let t = PlainToken::generate();
        let c = CsrfCookie(Some(PlainToken::from_received(t.expose())));
        assert!(c.matches(Some(t.expose())));
        assert!(!c.matches(Some("other")));
        assert!(!c.matches(None));
        assert!(!CsrfCookie::default().matches(Some("")));
        assert_eq!(c.or_new().expose(), t.expose());
        assert_ne!(CsrfCookie::default().or_new().expose(), t.expose());
    }

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
