//! Recently checked access tokens (issue 16). A resource server introspects, and a client
//! calls userinfo with, the same token many times over its life; checking its signature and
//! asking the database whether it was revoked each time costs far more than the answer.
//!
//! An entry is keyed by the SHA-256 of the whole token (so only the exact bytes that verified
//! find it, and no token is kept in memory) and holds the verified claims and the last
//! revocation answer: "revoked" holds for good, "not revoked" only while the revocation epoch
//! it was read at is current ([`crate::storage::revocations`]): any revocation, on this node
//! or another, makes every such answer stale at once. Every entry also ages out after `ttl`
//! (`client_cache_seconds`; 0 turns the cache off), and the token's own `exp` is checked on
//! each use. The family of a person's token and the client's state are not cached here: they
//! are read as before (the client through its own cache).
//!
//! Only tokens that verified are kept (garbage costs an attacker a signature check, not our
//! memory), at most [`MAX_ENTRIES`]; when full the cache starts over.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::jwt::AccessTokenClaims;

/// About 0.5 KiB each: a few MiB at most.
const MAX_ENTRIES: usize = 8_192;

pub type Key = [u8; 32];

#[derive(Clone)]
struct Entry {
    at: Instant,
    claims: Arc<AccessTokenClaims>,
    revocation: Revocation,
}

#[derive(Clone, Copy)]
enum Revocation {
    Revoked,
    NotRevokedAt(u64),
    Unknown,
}

/// What the cache knows of a token.
pub struct Known {
    pub claims: Arc<AccessTokenClaims>,
    /// `Some(true)`: revoked; `Some(false)`: not revoked as of the current epoch; `None`: ask.
    pub revoked: Option<bool>,
}

pub struct TokenCache {
    ttl: Duration,
    entries: RwLock<HashMap<Key, Entry>>,
}

impl TokenCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn key(token: &str) -> Key {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The cached claims of `key` and its revocation answer, if still usable; `is_current`
    /// says whether a "not revoked" answer read at an epoch still holds.
    pub fn get(&self, key: &Key, is_current: impl Fn(u64) -> bool) -> Option<Known> {
        if self.ttl.is_zero() {
            return None;
        }
        let entry = self.entries.read().ok()?.get(key).cloned()?;
        if entry.at.elapsed() >= self.ttl {
            return None;
        }
        let revoked = match entry.revocation {
            Revocation::Revoked => Some(true),
            Revocation::NotRevokedAt(e) if is_current(e) => Some(false),
            Revocation::NotRevokedAt(_) | Revocation::Unknown => None,
        };
        Some(Known {
            claims: entry.claims,
            revoked,
        })
    }

    /// Remembers a verified token. `revoked`: the answer the database gave, and for "not
    /// revoked" the epoch read *before* asking it (`None`: the answer may not be reused).
    pub fn put(
        &self,
        key: Key,
        claims: Arc<AccessTokenClaims>,
        revoked: bool,
        epoch: Option<u64>,
        fresh: bool,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let revocation = match (revoked, epoch) {
            (true, _) => Revocation::Revoked,
            (false, Some(e)) => Revocation::NotRevokedAt(e),
            (false, None) => Revocation::Unknown,
        };
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        // A verified token keeps the time it was verified at: re-answering the revocation
        // question does not stretch how long its signature check is reused.
        let at = match entries.get(&key) {
            Some(old) if !fresh => old.at,
            _ => Instant::now(),
        };
        entries.insert(
            key,
            Entry {
                at,
                claims,
                revocation,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Arc<AccessTokenClaims> {
        Arc::new(AccessTokenClaims {
            iss: "https://idp.example".into(),
            sub: "c".into(),
            aud: "c".into(),
            client_id: "c".into(),
            iat: 0,
            exp: i64::MAX,
            jti: "j".into(),
            scope: String::new(),
            auth_time: None,
            acr: None,
            amr: None,
            sid: None,
            cnf: None,
        })
    }

    #[test]
    fn not_revoked_holds_only_at_its_epoch_and_revoked_holds_for_good() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let (a, b) = (TokenCache::key("a.b.c"), TokenCache::key("d.e.f"));
        assert!(cache.get(&a, |_| true).is_none());
        cache.put(a, claims(), false, Some(7), true);
        cache.put(b, claims(), true, Some(7), true);
        assert_eq!(cache.get(&a, |e| e == 7).unwrap().revoked, Some(false));
        assert_eq!(cache.get(&a, |e| e == 8).unwrap().revoked, None);
        assert_eq!(cache.get(&b, |_| false).unwrap().revoked, Some(true));
        cache.put(a, claims(), false, None, false);
        assert_eq!(cache.get(&a, |_| true).unwrap().revoked, None);
    }

    #[test]
    fn entries_age_out_and_a_zero_lifetime_keeps_nothing() {
        let short = TokenCache::new(Duration::from_nanos(1));
        let k = TokenCache::key("a.b.c");
        short.put(k, claims(), false, Some(0), true);
        std::thread::sleep(Duration::from_millis(1));
        assert!(short.get(&k, |_| true).is_none());

        let off = TokenCache::new(Duration::ZERO);
        off.put(k, claims(), false, Some(0), true);
        assert!(off.get(&k, |_| true).is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = TokenCache::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 1 {
            cache.put(
                TokenCache::key(&i.to_string()),
                claims(),
                false,
                Some(0),
                true,
            );
        }
        assert!(cache.entries.read().unwrap().len() <= MAX_ENTRIES);
        assert!(cache
            .get(&TokenCache::key(&MAX_ENTRIES.to_string()), |_| true)
            .is_some());
    }
}
