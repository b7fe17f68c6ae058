//! Authorization codes (RFC 6749 §4.1.2): short-lived, single-use, stored only as hashes.

use sqlx::FromRow;

use crate::domain::amr::Amr;
use crate::domain::id::{OrganisationId, SessionId, Subject};

use super::{Result, Storage};
use crate::secrets::{now, HashedToken};

#[derive(Debug, Clone, FromRow)]
pub struct AuthorizationCode {
    pub client_id: String,
    pub sub: Subject,
    pub sid: SessionId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    #[sqlx(try_from = "String")]
    pub amr: Amr,
    pub expires_at: i64,
    /// The organisation the person acts for in this grant (application clients only).
    pub organisation_id: Option<OrganisationId>,
    /// `dpop_jkt` of the authorization request (RFC 9449 §10): the key that must redeem it.
    pub dpop_jkt: Option<String>,
    /// The `claims` parameter of the request (OIDC Core §5.5), stored form.
    pub claims: Option<String>,
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum Redemption {
    /// First use: the code is now spent.
    Fresh(Box<AuthorizationCode>),
    /// The code was already redeemed: every token issued from it has just been revoked
    /// (RFC 6749 §4.1.2, RFC 9700 §4.5.3).
    Reused,
    /// No such code.
    Unknown,
}

impl Storage {
    pub async fn insert_code(&self, hash: &HashedToken, c: &AuthorizationCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, sub, sid, redirect_uri, scope, \
             nonce, code_challenge, auth_time, amr, created_at, expires_at, organisation_id, \
             dpop_jkt, claims) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
        )
        .bind(hash.as_str())
        .bind(c.client_id.clone())
        .bind(c.sub.clone())
        .bind(c.sid.clone())
        .bind(c.redirect_uri.clone())
        .bind(c.scope.clone())
        .bind(c.nonce.clone())
        .bind(c.code_challenge.clone())
        .bind(c.auth_time)
        .bind(c.amr.to_string())
        .bind(now())
        .bind(c.expires_at)
        .bind(c.organisation_id.clone())
        .bind(c.dpop_jkt.clone())
        .bind(c.claims.clone())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks the code used, atomically: of two concurrent redemptions exactly one wins.
    pub async fn redeem_code(&self, hash: &HashedToken) -> Result<Redemption> {
        let t = now();
        let won: Option<AuthorizationCode> = sqlx::query_as(
            "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
             RETURNING client_id, sub, sid, redirect_uri, scope, nonce, code_challenge, auth_time, \
             amr, expires_at, organisation_id, dpop_jkt, claims",
        )
        .bind(t)
        .bind(hash.as_str())
        .fetch_optional(self.writer())
        .await?;
        if let Some(code) = won {
            return Ok(Redemption::Fresh(Box::new(code)));
        }
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT code_hash FROM authorization_codes WHERE code_hash = $1")
                .bind(hash.as_str())
                .fetch_optional(self.writer())
                .await?;
        if exists.is_none() {
            return Ok(Redemption::Unknown);
        }
        sqlx::query(
            "UPDATE token_families SET revoked_at = $1 WHERE code_hash = $2 AND revoked_at IS NULL",
        )
        .bind(t)
        .bind(hash.as_str())
        .execute(self.writer())
        .await?;
        Ok(Redemption::Reused)
    }
}
