//! Rate-limit counters (`web::rate_limit`).

use super::{Result, Storage};

impl Storage {
    /// Counts one hit of `bucket` in the window starting at `window_start` (atomic: one
    /// statement); returns the hits of this window so far, this one included, plus those of
    /// the window before (`previous_start`).
    pub async fn rate_limit_hit(
        &self,
        bucket: &str,
        window_start: i64,
        previous_start: i64,
    ) -> Result<i64> {
        let (hits,): (i64,) = sqlx::query_as(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
             RETURNING hits",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(self.pool())
        .await?;
        let before: Option<(i64,)> =
            sqlx::query_as("SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2")
                .bind(bucket)
                .bind(previous_start)
                .fetch_optional(self.pool())
                .await?;
        Ok(hits + before.map_or(0, |(h,)| h))
    }
}
