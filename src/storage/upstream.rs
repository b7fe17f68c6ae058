//! Upstream identity providers: round trips in progress, the links of upstream identities to
//! accounts, and the one-time codes with which an operator links an identity.

use sqlx::FromRow;

use super::{conflict_on_unique, Result, Storage, Tx};
use crate::domain::id::Subject;
use crate::secrets::{now, HashedToken};

/// A round trip to the upstream, as stored until its callback.
#[derive(Debug, FromRow)]
pub struct UpstreamLogin {
    pub upstream: String,
    /// `login` or `link`.
    pub purpose: String,
    pub login_request_id: Option<String>,
    pub sub: Option<Subject>,
    pub sid: Option<String>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub expires_at: i64,
}

/// An upstream identity linked to an account.
#[derive(Debug, Clone, FromRow)]
pub struct UpstreamLink {
    pub upstream: String,
    pub upstream_sub: String,
    pub sub: Subject,
    pub linked_by: String,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a link code stands for.
#[derive(Debug, FromRow)]
pub struct LinkCode {
    pub upstream: String,
    pub upstream_sub: String,
    pub claims: String,
    pub expires_at: i64,
}

impl Storage {
    pub async fn insert_upstream_login(
        &self,
        state: &HashedToken,
        l: &UpstreamLogin,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO upstream_logins (state_hash, upstream, purpose, login_request_id, sub, \
             sid, nonce, pkce_verifier, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(state.as_str())
        .bind(&l.upstream)
        .bind(&l.purpose)
        .bind(&l.login_request_id)
        .bind(&l.sub)
        .bind(&l.sid)
        .bind(&l.nonce)
        .bind(&l.pkce_verifier)
        .bind(l.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the round trip whose `state` hashes to this, in the same statement that deletes
    /// it: a callback is answered once, even with two nodes racing.
    pub async fn take_upstream_login(&self, state: &HashedToken) -> Result<Option<UpstreamLogin>> {
        Ok(sqlx::query_as(
            "DELETE FROM upstream_logins WHERE state_hash = $1 RETURNING upstream, purpose, \
             login_request_id, sub, sid, nonce, pkce_verifier, expires_at",
        )
        .bind(state.as_str())
        .fetch_optional(self.pool())
        .await?)
    }

    /// The account an upstream identity is linked to, if any.
    pub async fn upstream_link(
        &self,
        upstream: &str,
        upstream_sub: &str,
    ) -> Result<Option<UpstreamLink>> {
        Ok(sqlx::query_as(
            "SELECT upstream, upstream_sub, sub, linked_by, linked_at, last_used_at \
             FROM upstream_links WHERE upstream = $1 AND upstream_sub = $2",
        )
        .bind(upstream)
        .bind(upstream_sub)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The account's links.
    pub async fn upstream_links_of(&self, sub: &Subject) -> Result<Vec<UpstreamLink>> {
        Ok(sqlx::query_as(
            "SELECT upstream, upstream_sub, sub, linked_by, linked_at, last_used_at \
             FROM upstream_links WHERE sub = $1 ORDER BY upstream",
        )
        .bind(sub)
        .fetch_all(self.pool())
        .await?)
    }

    /// Links an upstream identity to an account, in the caller's transaction; `Conflict`
    /// when the identity is linked already (to anyone) or the account has a link to this
    /// upstream already.
    pub async fn insert_upstream_link(&self, tx: &mut Tx, l: &UpstreamLink) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO upstream_links (upstream, upstream_sub, sub, linked_by, linked_at) \
             VALUES ($1,$2,$3,$4,$5)",
        )
        .bind(&l.upstream)
        .bind(&l.upstream_sub)
        .bind(&l.sub)
        .bind(&l.linked_by)
        .bind(l.linked_at)
        .execute(&mut **tx)
        .await;
        conflict_on_unique(r, "upstream link")?;
        Ok(())
    }

    /// Removes the account's link to `upstream`; the removed link, if there was one.
    pub async fn delete_upstream_link(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        upstream: &str,
    ) -> Result<Option<UpstreamLink>> {
        Ok(sqlx::query_as(
            "DELETE FROM upstream_links WHERE sub = $1 AND upstream = $2 \
             RETURNING upstream, upstream_sub, sub, linked_by, linked_at, last_used_at",
        )
        .bind(sub)
        .bind(upstream)
        .fetch_optional(&mut **tx)
        .await?)
    }

    pub async fn touch_upstream_link(&self, upstream: &str, upstream_sub: &str) -> Result<()> {
        sqlx::query(
            "UPDATE upstream_links SET last_used_at = $1 WHERE upstream = $2 AND upstream_sub = $3",
        )
        .bind(now())
        .bind(upstream)
        .bind(upstream_sub)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn insert_link_code(&self, code: &HashedToken, c: &LinkCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO upstream_link_codes (code_hash, upstream, upstream_sub, claims, \
             expires_at) VALUES ($1,$2,$3,$4,$5)",
        )
        .bind(code.as_str())
        .bind(&c.upstream)
        .bind(&c.upstream_sub)
        .bind(&c.claims)
        .bind(c.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// What a link code stands for, without using it up.
    pub async fn link_code(&self, code: &HashedToken) -> Result<Option<LinkCode>> {
        Ok(sqlx::query_as(
            "SELECT upstream, upstream_sub, claims, expires_at FROM upstream_link_codes \
             WHERE code_hash = $1",
        )
        .bind(code.as_str())
        .fetch_optional(self.pool())
        .await?)
    }

    /// Takes a link code (once), in the caller's transaction.
    pub async fn take_link_code(
        &self,
        tx: &mut Tx,
        code: &HashedToken,
    ) -> Result<Option<LinkCode>> {
        Ok(sqlx::query_as(
            "DELETE FROM upstream_link_codes WHERE code_hash = $1 \
             RETURNING upstream, upstream_sub, claims, expires_at",
        )
        .bind(code.as_str())
        .fetch_optional(&mut **tx)
        .await?)
    }
}
