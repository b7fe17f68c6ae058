//! Rate limits (OWASP Authentication Cheat Sheet, "Login Throttling"): a token bucket per
//! client address (or per account) and purpose. They live in each node's memory: they blunt bursts from one
//! address; the per-account lockout, which is in the database, is what holds across nodes.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A limit per key: per client address by default, per account (`Limiter<String>`) where a
/// request is expensive for one account whatever its address.
#[derive(Clone)]
pub struct Limiter<K: Hash + Eq + Clone = IpAddr>(Arc<DefaultKeyedRateLimiter<K>>);

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `per_minute` attempts per key, allowed in a burst of the same size.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self(Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
    }

    /// Takes one attempt for `key`; false when over the limit.
    pub fn allow_key(&self, key: &K) -> bool {
        self.0.check_key(key).is_ok()
    }

    /// Drops buckets that are full again (called periodically to bound memory).
    pub fn shrink(&self) {
        self.0.retain_recent();
    }
}

impl Limiter<IpAddr> {
    /// Takes one attempt for `ip`; false when over the limit. Requests without a known
    /// address share one bucket.
    pub fn allow(&self, ip: Option<IpAddr>) -> bool {
        self.allow_key(&ip.unwrap_or(IpAddr::from([0, 0, 0, 0])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_budget() {
        let l = Limiter::per_minute(3);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(l.allow(a) && l.allow(a) && l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
    }
}
