//! Pending logins: an authorization request parked while the person fills in the form.
//! The browser holds the CSRF token in a cookie; only its hash is stored here.

use sqlx::FromRow;

use crate::domain::amr::Amr;
use crate::domain::id::{OrganisationId, Subject};

use super::{Result, Storage, Tx};
use crate::secrets::{now, HashedToken};

#[derive(Debug, Clone, FromRow)]
pub struct LoginRequest {
    pub id: String,
    pub csrf_hash: String,
    pub client_id: String,
    /// Where the login leads (an authorization request or the account page), as JSON.
    pub params: String,
    pub expires_at: i64,
    /// Set once the password was verified: the login waits for a further step.
    pub sub: Option<Subject>,
    /// `password`, `otp`, `change` (password must be changed) or `enrol` (TOTP required).
    pub stage: String,
    /// Methods passed so far (stored space-separated).
    #[sqlx(try_from = "String")]
    pub amr: Amr,
    /// The organisation a finished interaction chose (`src/interaction`).
    pub organisation_id: Option<OrganisationId>,
}

impl Storage {
    /// Parks a login opened from `source_ip`, unless that address already holds `max_per_source`
    /// unexpired ones (checked in the same statement); `false`: over the limit, nothing stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_login_request(
        &self,
        id: &str,
        csrf: &HashedToken,
        client_id: &str,
        params: &str,
        expires_at: i64,
        source_ip: &str,
        max_per_source: u32,
    ) -> Result<bool> {
        let t = now();
        let r = sqlx::query(
            "INSERT INTO login_requests (id, csrf_hash, client_id, params, created_at, expires_at, \
             source_ip) SELECT $1,$2,$3,$4,$5,$6,$7 WHERE (SELECT COUNT(*) FROM login_requests \
             WHERE source_ip = $7 AND expires_at > $5) < $8",
        )
        .bind(id)
        .bind(csrf.as_str())
        .bind(client_id)
        .bind(params)
        .bind(t)
        .bind(expires_at)
        .bind(source_ip)
        .bind(i64::from(max_per_source))
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// A pending login that has not expired.
    pub async fn login_request(&self, id: &str) -> Result<Option<LoginRequest>> {
        Ok(sqlx::query_as(
            "SELECT id, csrf_hash, client_id, params, expires_at, sub, stage, amr, organisation_id \
             FROM login_requests WHERE id = $1 AND expires_at >= $2",
        )
        .bind(id)
        .bind(now())
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn delete_login_request(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_requests WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

impl Storage {
    /// Records progress: the person behind the login and the step that comes next.
    pub async fn advance_login_request(
        &self,
        id: &str,
        sub: &Subject,
        stage: &str,
        amr: &Amr,
    ) -> Result<()> {
        sqlx::query("UPDATE login_requests SET sub = $1, stage = $2, amr = $3 WHERE id = $4")
            .bind(sub)
            .bind(stage)
            .bind(amr.to_string())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Marks a login finished for the protocol: the person, the final stage and the
    /// organisation chosen, if any.
    pub async fn finish_login_request(
        &self,
        id: &str,
        sub: &Subject,
        stage: &str,
        organisation_id: Option<&OrganisationId>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE login_requests SET sub = $1, stage = $2, organisation_id = $3 WHERE id = $4",
        )
        .bind(sub)
        .bind(stage)
        .bind(organisation_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes a pending login if it is still at `stage`: `true` for the one caller that did.
    pub async fn take_login_request(&self, id: &str, stage: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM login_requests WHERE id = $1 AND stage = $2")
            .bind(id)
            .bind(stage)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Drops every pending login of a person (after a password change or reset).
    /// Deletes the account's pending logins but `keep`, in the caller's transaction.
    pub async fn delete_login_requests_of_in(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        keep: Option<&str>,
    ) -> Result<()> {
        sqlx::query("DELETE FROM login_requests WHERE sub = $1 AND id <> $2")
            .bind(sub)
            .bind(keep.unwrap_or(""))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn delete_login_requests_of(&self, sub: &Subject) -> Result<()> {
        sqlx::query("DELETE FROM login_requests WHERE sub = $1")
            .bind(sub)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Binds a pending login to the CSRF token of the browser that shows its form.
    pub async fn set_login_request_csrf(&self, id: &str, csrf: &HashedToken) -> Result<()> {
        sqlx::query("UPDATE login_requests SET csrf_hash = $1 WHERE id = $2")
            .bind(csrf.as_str())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
