//! Per-account brute-force protection (OWASP Authentication Cheat Sheet, "Account Lockout"):
//! after `threshold` consecutive failures the account is locked for a while, the lock doubling
//! with each further failure up to `max_lock_seconds`. Every lock lifts by itself, so an attacker
//! can delay a person but never lock them out for good.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    pub threshold: i64,
    pub first_lock_seconds: i64,
    pub max_lock_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            first_lock_seconds: 60,
            max_lock_seconds: 900,
        }
    }
}

impl LockoutPolicy {
    /// How long to lock after `failures` consecutive failures, if at all.
    pub fn lock_for(&self, failures: i64) -> Option<i64> {
        if failures < self.threshold.max(1) {
            return None;
        }
        let doublings = (failures - self.threshold).clamp(0, 20) as u32;
        let seconds = self
            .first_lock_seconds
            .max(1)
            .saturating_mul(1 << doublings);
        Some(seconds.min(self.max_lock_seconds.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_the_threshold_doubles_and_stops_at_fifteen_minutes() {
        let p = LockoutPolicy::default();
        assert_eq!(p.lock_for(4), None);
        assert_eq!(p.lock_for(5), Some(60));
        assert_eq!(p.lock_for(6), Some(120));
        assert_eq!(p.lock_for(8), Some(480));
        assert_eq!(p.lock_for(9), Some(900));
        assert_eq!(p.lock_for(1000), Some(900));
    }
}
