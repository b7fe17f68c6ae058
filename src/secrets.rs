//! Secrets as types. A [`PlainToken`] is what a client or browser holds; only its
//! [`HashedToken`] (SHA-256) is ever stored, so a database dump yields no usable codes,
//! refresh tokens, session cookies or client secrets (crates-io's `PlainToken`/`HashedToken`).
//! High-entropy secrets need no slow hash: SHA-256 plus a constant-time comparison suffices.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A freshly generated random secret (256 bits, base64url). Never printed by `Debug`.
#[derive(Clone)]
pub struct PlainToken(String);

impl PlainToken {
    pub fn generate() -> Self {
        Self::generate_with_bytes(32)
    }

    pub fn generate_with_bytes(n: usize) -> Self {
        let mut bytes = vec![0u8; n];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wrap a token received from outside, to hash it for lookup.
    pub fn from_received(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hashed(&self) -> HashedToken {
        HashedToken::of(&self.0)
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(***)")
    }
}

/// SHA-256 of a secret, hex-encoded: the only form in which secrets are stored.
#[derive(Clone, PartialEq, Eq)]
pub struct HashedToken(String);

impl HashedToken {
    pub fn of(secret: &str) -> Self {
        Self(hex(&Sha256::digest(secret.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Does `secret` hash to this value? Constant time in the compared bytes.
    pub fn matches(&self, secret: &str) -> bool {
        let candidate = HashedToken::of(secret);
        candidate.0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for HashedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashedToken(…)")
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Constant-time equality of two strings (e.g. a CSRF token against its cookie).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Seconds since the Unix epoch. All stored times are these.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_token_matches_only_its_secret() {
        let t = PlainToken::generate();
        let h = t.hashed();
        assert!(h.matches(t.expose()));
        assert!(!h.matches("something else"));
        assert_eq!(t.expose().len(), 43);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = PlainToken::from_received("hunter2");
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
