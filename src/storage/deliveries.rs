//! The back-channel logout outbox (issue 12.2): rows are written by `end_session_in` in the
//! transaction that ends the session, claimed by one node at a time with a lease, and marked
//! delivered, retried later, or given up.

use sqlx::FromRow;

use super::{Backend, Result, Storage};
use crate::domain::id::{SessionId, Subject};

/// One logout token to deliver (or delivered).
#[derive(Debug, Clone, FromRow)]
pub struct Delivery {
    pub id: String,
    pub client_id: String,
    pub sub: Subject,
    pub sid: SessionId,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub attempts: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<String>,
    pub delivered_at: Option<i64>,
    pub given_up_at: Option<i64>,
}

/// Which deliveries a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    GivenUp,
}

impl DeliveryState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "given_up" => Some(Self::GivenUp),
            _ => None,
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Self::Pending => "delivered_at IS NULL AND given_up_at IS NULL",
            Self::Delivered => "delivered_at IS NOT NULL",
            Self::GivenUp => "given_up_at IS NOT NULL",
        }
    }
}

const COLUMNS: &str = "id, client_id, sub, sid, created_at, next_attempt_at, attempts, \
     last_attempt_at, last_status, delivered_at, given_up_at";

impl Storage {
    /// Claims up to `limit` due deliveries for `lease` seconds: no other node takes them until
    /// the lease ends (a node killed mid-delivery leaves its claims to expire and be retried).
    /// On PostgreSQL rows another node is claiming right now are skipped (`SKIP LOCKED`); on
    /// SQLite the one writer serialises claims.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE logout_deliveries SET claimed_until = $1 WHERE id IN (SELECT id FROM \
             logout_deliveries WHERE delivered_at IS NULL AND given_up_at IS NULL \
             AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
             ORDER BY next_attempt_at LIMIT $3{lock}) RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(now + lease)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// A delivery the client accepted.
    pub async fn delivery_done(&self, id: &str, now: i64, status: &str) -> Result<()> {
        sqlx::query(
            "UPDATE logout_deliveries SET delivered_at = $1, last_attempt_at = $1, \
             last_status = $2, attempts = attempts + 1, claimed_until = NULL WHERE id = $3",
        )
        .bind(now)
        .bind(status)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A failed attempt: retried at `next_at`, or given up when `next_at` is `None`.
    pub async fn delivery_failed(
        &self,
        id: &str,
        now: i64,
        status: &str,
        next_at: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE logout_deliveries SET last_attempt_at = $1, last_status = $2, \
             attempts = attempts + 1, claimed_until = NULL, \
             next_attempt_at = COALESCE($3, next_attempt_at), \
             given_up_at = CASE WHEN $3 IS NULL THEN $1 ELSE NULL END WHERE id = $4",
        )
        .bind(now)
        .bind(status)
        .bind(next_at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deliveries in a state, the newest first, optionally of one client.
    pub async fn deliveries(
        &self,
        state: DeliveryState,
        client_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM logout_deliveries WHERE {} AND ($1 = '' OR client_id = $1) \
             ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            state.condition()
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(client_id.unwrap_or(""))
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }

    /// How many deliveries wait (for the metrics).
    pub async fn pending_deliveries(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM logout_deliveries WHERE delivered_at IS NULL AND given_up_at IS NULL",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }
}
