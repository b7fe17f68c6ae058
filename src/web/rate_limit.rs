//! Per-IP rate limits (OWASP Authentication Cheat Sheet, "Login Throttling"): a token bucket per
//! client address and purpose. They live in each node's memory: they blunt bursts from one
//! address; the per-account lockout, which is in the database, is what holds across nodes.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct Limiter(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl Limiter {
    /// `per_minute` attempts per address, allowed in a burst of the same size.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self(Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
    }

    /// Takes one attempt for `ip`; false when over the limit. Requests without a known
    /// address share one bucket.
    pub fn allow(&self, ip: Option<IpAddr>) -> bool {
        let key = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        self.0.check_key(&key).is_ok()
    }

    /// Drops buckets that are full again (called periodically to bound memory).
    pub fn shrink(&self) {
        self.0.retain_recent();
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
