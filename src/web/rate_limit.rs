//! Rate limits (OWASP Authentication Cheat Sheet, "Login Throttling"): a counter per purpose,
//! key (a client address, or an account) and minute, kept in the database so that every node
//! counts against the same budget (issue 12.3): a burst spread over the nodes behind a load
//! balancer gets no more attempts than one node would give. Each check is one atomic
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING` (the per-account lockout is in the database
//! too). A hit is allowed while the hits of this minute and the one before, together, are
//! within the limit: so no 60 s, wherever they start, hold more than the limit (a client that
//! spent its budget waits one to two minutes).

use crate::storage::{Result, Storage};

/// Window length in seconds.
const WINDOW: i64 = 60;

#[derive(Debug, Clone, Copy)]
pub struct Limiter {
    purpose: &'static str,
    per_minute: u32,
}

impl Limiter {
    /// `per_minute` attempts per key for `purpose` (a short stable name: `login`, `reset`, …).
    pub fn per_minute(purpose: &'static str, per_minute: u32) -> Self {
        Self {
            purpose,
            per_minute: per_minute.max(1),
        }
    }

    /// Takes one attempt for `key`; `false` when over the limit.
    pub async fn allow(&self, storage: &Storage, key: &str, now: i64) -> Result<bool> {
        let window = now - now.rem_euclid(WINDOW);
        let hits = storage
            .rate_limit_hit(&format!("{}:{key}", self.purpose), window, window - WINDOW)
            .await?;
        Ok(hits <= i64::from(self.per_minute))
    }
}
