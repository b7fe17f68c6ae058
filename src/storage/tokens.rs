//! Token families, refresh tokens (rotated on every use), revoked access tokens and used
//! client assertions.

use sqlx::FromRow;

use crate::domain::amr::Amr;
use crate::domain::id::{OrganisationId, SessionId, Subject};

use super::{Result, Storage, Tx};
use crate::secrets::{now, HashedToken};

/// Everything issued from one authorization code shares a family.
#[derive(Debug, Clone, FromRow)]
pub struct TokenFamily {
    pub id: String,
    pub client_id: String,
    pub sub: Subject,
    pub sid: SessionId,
    pub scope: String,
    pub auth_time: i64,
    #[sqlx(try_from = "String")]
    pub amr: Amr,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The organisation the person acts for in this grant (application clients only).
    pub organisation_id: Option<OrganisationId>,
    /// The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
    /// The `claims` parameter of the authorization request (OIDC Core §5.5), stored form.
    pub claims: Option<String>,
}

impl TokenFamily {
    pub fn is_active(&self, at: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > at
    }
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum Rotation {
    /// The token was current: it is now spent and `new` replaces it.
    Rotated(TokenFamily),
    /// The token had already been rotated: the whole family has just been revoked
    /// (RFC 9700 §4.14.2, refresh token reuse detection).
    Reused,
    /// The caller's check refused the family (e.g. another client's token); nothing changed.
    Refused(TokenFamily),
    /// Unknown, expired, or its family was revoked.
    Invalid,
}

macro_rules! family_columns {
    () => {
        "id, client_id, sub, sid, scope, auth_time, amr, expires_at, revoked_at, organisation_id, \
         dpop_jkt, claims"
    };
}

impl Storage {
    /// Creates a family and, optionally, its first refresh token, in one transaction, only
    /// while its SSO session is alive; `false` (nothing written) when the session has ended.
    ///
    /// A logout racing the code exchange cannot leave a live family behind: on PostgreSQL the
    /// session row is share-locked here, so a concurrent `end_session` either ended it first
    /// (and this sees `ended_at`) or waits for this commit and then revokes the new family too;
    /// on SQLite the write transaction holds the database's only write lock from the start.
    pub async fn insert_family(
        &self,
        f: &TokenFamily,
        code_hash: Option<&HashedToken>,
        refresh: Option<(&HashedToken, i64)>,
    ) -> Result<bool> {
        let t = now();
        let mut tx = self.writer_tx().await?;
        let lock = match self.backend() {
            super::Backend::Postgres => " FOR SHARE",
            super::Backend::Sqlite => "",
        };
        let alive: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM sessions WHERE sid = $1 AND ended_at IS NULL AND expires_at > $2{lock}"
        )))
        .bind(f.sid.clone())
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
        if alive.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO token_families (id, client_id, sub, sid, code_hash, scope, auth_time, amr, \
             created_at, expires_at, organisation_id, dpop_jkt, claims) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        )
        .bind(f.id.clone())
        .bind(f.client_id.clone())
        .bind(f.sub.clone())
        .bind(f.sid.clone())
        .bind(code_hash.map(|h| h.as_str().to_owned()))
        .bind(f.scope.clone())
        .bind(f.auth_time)
        .bind(f.amr.to_string())
        .bind(t)
        .bind(f.expires_at)
        .bind(f.organisation_id.clone())
        .bind(f.dpop_jkt.clone())
        .bind(f.claims.clone())
        .execute(&mut *tx)
        .await?;
        if let Some((hash, expires_at)) = refresh {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
                 VALUES ($1,$2,$3,$4)",
            )
            .bind(hash.as_str())
            .bind(f.id.clone())
            .bind(t)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Spends `old` and stores `new` in its family, or detects reuse and revokes the family.
    /// `expires_at` of the new token is capped by the family's own expiry.
    /// `accept` sees the family before anything is committed; refusing rolls back.
    pub async fn rotate_refresh_token(
        &self,
        old: &HashedToken,
        new: &HashedToken,
        ttl: i64,
        accept: impl FnOnce(&TokenFamily) -> bool,
    ) -> Result<Rotation> {
        let t = now();
        let mut tx = self.writer().begin().await?;
        let spent: Option<(String,)> = sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING family_id",
        )
        .bind(t)
        .bind(old.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((family_id,)) = spent else {
            let used: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT family_id, used_at FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(old.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            return match used {
                Some((family_id, Some(_))) => {
                    sqlx::query(
                        "UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                    )
                    .bind(t)
                    .bind(family_id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Rotation::Reused)
                }
                _ => {
                    tx.rollback().await?;
                    Ok(Rotation::Invalid)
                }
            };
        };
        // The family must be live, and so must its SSO session: a family created by a code
        // exchange that raced a logout dies here at its first refresh (issue 11.4).
        let sql = concat!(
            "SELECT ",
            family_columns!(),
            " FROM token_families WHERE id = $1 AND EXISTS (SELECT 1 FROM sessions s \
             WHERE s.sid = token_families.sid AND s.ended_at IS NULL AND s.expires_at > $2)"
        );
        let family: Option<TokenFamily> = sqlx::query_as(sql)
            .bind(family_id.clone())
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(family) = family.filter(|f| f.is_active(t)) else {
            tx.rollback().await?;
            return Ok(Rotation::Invalid);
        };
        if !accept(&family) {
            tx.rollback().await?;
            return Ok(Rotation::Refused(family));
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
             VALUES ($1,$2,$3,$4)",
        )
        .bind(new.as_str())
        .bind(family_id)
        .bind(t)
        .bind((t + ttl).min(family.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated(family))
    }

    pub async fn family(&self, id: &str) -> Result<Option<TokenFamily>> {
        let sql = concat!(
            "SELECT ",
            family_columns!(),
            " FROM token_families WHERE id = $1"
        );
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The family of a current (not yet rotated, not expired) refresh token.
    pub async fn family_of_refresh_token(
        &self,
        hash: &HashedToken,
    ) -> Result<Option<(TokenFamily, i64)>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT family_id, expires_at FROM refresh_tokens \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(hash.as_str())
        .bind(now())
        .fetch_optional(self.pool())
        .await?;
        let Some((family_id, expires_at)) = row else {
            return Ok(None);
        };
        Ok(self.family(&family_id).await?.map(|f| (f, expires_at)))
    }

    pub async fn revoke_family(&self, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Revokes every token family of a person acting for an organisation; returns how many.
    pub async fn revoke_families_for_organisation_in(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        organisation_id: &OrganisationId,
    ) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE token_families SET revoked_at = $1 \
             WHERE sub = $2 AND organisation_id = $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(sub)
        .bind(organisation_id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected())
    }

    pub async fn is_jti_revoked(&self, jti: &str) -> Result<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT jti FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// Records a single-use value (a client assertion's or a request object's `jti`) until
    /// `expires_at`; false if it was seen before (a replay).
    pub async fn use_once(&self, jti: &str, expires_at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO used_assertions (jti, expires_at) VALUES ($1,$2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
