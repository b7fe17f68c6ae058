//! Single sign-on sessions. The cookie carries a random id; the table holds its hash and a
//! separate public `sid` (OIDC Front/Back-Channel Logout) that may appear in tokens.

use sqlx::FromRow;

use crate::domain::amr::Amr;
use crate::domain::id::{OrganisationId, SessionId, Subject};

use super::{Result, Storage, Tx};
use crate::secrets::{now, HashedToken};

/// A session that an `end_session_in` call was asked to end: its `sid`, and, if it was still
/// live, its `sub` and the clients to notify by back-channel logout.
pub type EndedSession = (SessionId, Option<(Subject, Vec<String>)>);

#[derive(Clone, FromRow)]
pub struct Session {
    pub sid: SessionId,
    pub sub: Subject,
    pub auth_time: i64,
    /// How the person authenticated (stored space-separated).
    #[sqlx(try_from = "String")]
    pub amr: Amr,
    pub expires_at: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Synchronizer token of the account pages' forms.
    pub csrf: String,
    /// The organisation chosen last in this session (the next app offers it first).
    pub organisation_id: Option<OrganisationId>,
}

/// Everything but the CSRF token, which must not end up in a log line (issue 11.20).
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("sub", &self.sub)
            .field("auth_time", &self.auth_time)
            .field("amr", &self.amr)
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("csrf", &"<redacted>")
            .field("organisation_id", &self.organisation_id)
            .finish()
    }
}

macro_rules! columns {
    () => {
        "sid, sub, auth_time, amr, expires_at, created_at, last_seen_at, ip, user_agent, csrf, \
         organisation_id"
    };
}

impl Storage {
    pub async fn insert_session(&self, id: &HashedToken, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, sid, sub, auth_time, amr, created_at, expires_at, \
             last_seen_at, ip, user_agent, csrf) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(id.as_str())
        .bind(s.sid.clone())
        .bind(s.sub.clone())
        .bind(s.auth_time)
        .bind(s.amr.to_string())
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .bind(s.ip.clone())
        .bind(s.user_agent.clone())
        .bind(s.csrf.clone())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live session a cookie points at, if any: not ended, within its absolute lifetime,
    /// and used within the last `idle_timeout` seconds.
    pub async fn session_by_cookie(
        &self,
        id: &HashedToken,
        idle_timeout: i64,
    ) -> Result<Option<Session>> {
        let t = now();
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE id_hash = $1 AND ended_at IS NULL AND expires_at > $2 \
             AND last_seen_at > $3"
        ))
        .bind(id.as_str())
        .bind(t)
        .bind(t - idle_timeout)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Marks the session used now (idle timeout); cheap enough to call on every use.
    pub async fn touch_session(&self, sid: &SessionId, at: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE sid = $2")
            .bind(at)
            .bind(sid)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The live sessions of a person, newest first.
    pub async fn sessions_of(&self, sub: &Subject) -> Result<Vec<Session>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE sub = $1 AND ended_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC"
        ))
        .bind(sub)
        .bind(now())
        .fetch_all(self.pool())
        .await?)
    }

    /// A live session by its public id.
    pub async fn session_by_sid(&self, sid: &SessionId) -> Result<Option<Session>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE sid = $1 AND ended_at IS NULL AND expires_at > $2"
        ))
        .bind(sid)
        .bind(now())
        .fetch_optional(self.pool())
        .await?)
    }

    /// Remembers that `client_id` received tokens in this session (for back-channel logout),
    /// and the organisation the person chose for it. A choice also becomes the session's
    /// current organisation, offered first to the next application.
    pub async fn add_session_client(
        &self,
        sid: &SessionId,
        client_id: &str,
        organisation_id: Option<&OrganisationId>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO session_clients (sid, client_id, created_at, organisation_id) \
             VALUES ($1,$2,$3,$4) \
             ON CONFLICT (sid, client_id) DO UPDATE SET organisation_id = $4",
        )
        .bind(sid)
        .bind(client_id)
        .bind(now())
        .bind(organisation_id)
        .execute(&mut *tx)
        .await?;
        if let Some(org) = organisation_id {
            sqlx::query("UPDATE sessions SET organisation_id = $1 WHERE sid = $2")
                .bind(org)
                .bind(sid)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The organisation chosen for `client_id` earlier in this session, if any.
    pub async fn session_client_organisation(
        &self,
        sid: &SessionId,
        client_id: &str,
    ) -> Result<Option<OrganisationId>> {
        let row: Option<(Option<OrganisationId>,)> = sqlx::query_as(
            "SELECT organisation_id FROM session_clients WHERE sid = $1 AND client_id = $2",
        )
        .bind(sid)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|(o,)| o))
    }

    /// Live sessions of a person in which the organisation was chosen (for any client).
    pub async fn sessions_with_organisation(
        &self,
        sub: &Subject,
        organisation_id: &OrganisationId,
    ) -> Result<Vec<SessionId>> {
        let rows: Vec<(SessionId,)> = sqlx::query_as(
            "SELECT s.sid FROM sessions s WHERE s.sub = $1 AND s.ended_at IS NULL \
             AND (s.organisation_id = $2 OR EXISTS (SELECT 1 FROM session_clients c \
             WHERE c.sid = s.sid AND c.organisation_id = $2))",
        )
        .bind(sub)
        .bind(organisation_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Ends a session and revokes every token family bound to it. Returns the clients that
    /// took part in it, or `None` when it had already ended (so logout is sent only once).
    pub async fn end_session(&self, sid: &SessionId) -> Result<Option<(Subject, Vec<String>)>> {
        let mut tx = self.begin_write().await?;
        let ended = self.end_session_in(&mut tx, sid).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// [`Storage::end_session`] in the caller's transaction (with its audit record).
    pub async fn end_session_in(
        &self,
        tx: &mut Tx,
        sid: &SessionId,
    ) -> Result<Option<(Subject, Vec<String>)>> {
        let t = now();
        let sub: Option<(Subject,)> = sqlx::query_as(
            "UPDATE sessions SET ended_at = $1 WHERE sid = $2 AND ended_at IS NULL RETURNING sub",
        )
        .bind(t)
        .bind(sid)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((sub,)) = sub else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE token_families SET revoked_at = $1 WHERE sid = $2 AND revoked_at IS NULL",
        )
        .bind(t)
        .bind(sid)
        .execute(&mut **tx)
        .await?;
        let clients: Vec<(String,)> = sqlx::query_as(
            "SELECT client_id FROM session_clients WHERE sid = $1 ORDER BY client_id",
        )
        .bind(sid)
        .fetch_all(&mut **tx)
        .await?;
        // The back-channel logouts to send, in the same transaction (issue 12.2: a crash after
        // the commit loses none; `oidc::backchannel` delivers them from any node).
        sqlx::query(
            "INSERT INTO logout_deliveries (id, client_id, sub, sid, created_at, next_attempt_at) \
             SELECT sc.sid || ' ' || sc.client_id, sc.client_id, $2, sc.sid, $3, $3 \
             FROM session_clients sc JOIN clients c ON c.client_id = sc.client_id \
             WHERE sc.sid = $1 AND c.backchannel_logout_uri IS NOT NULL \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(sid)
        .bind(sub.clone())
        .bind(t)
        .execute(&mut **tx)
        .await?;
        Ok(Some((sub, clients.into_iter().map(|(c,)| c).collect())))
    }
}

impl Storage {
    /// Re-authentication of the same person (e.g. `prompt=login`): a new cookie value (the
    /// session id is rotated at every login) and a new `auth_time`, same `sid`.
    pub async fn reauthenticate_session(
        &self,
        sid: &SessionId,
        new_id: &HashedToken,
        auth_time: i64,
        amr: &Amr,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET id_hash = $1, auth_time = $2, amr = $3, last_seen_at = $2 \
             WHERE sid = $4",
        )
        .bind(new_id.as_str())
        .bind(auth_time)
        .bind(amr.to_string())
        .bind(sid)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_hides_the_csrf_token() {
        let s = super::Session {
            sid: crate::domain::id::SessionId::lookup("sid-1"),
            sub: crate::domain::id::Subject::lookup("sub-1"),
            auth_time: 1,
            amr: crate::domain::amr::Amr::of(crate::domain::amr::Method::Password),
            expires_at: 2,
            created_at: 1,
            last_seen_at: 1,
            ip: None,
            user_agent: None,
            csrf: "csrf-secret-value".into(),
            organisation_id: None,
        };
        let shown = format!("{s:?}");
        assert!(shown.contains("sid-1"));
        assert!(!shown.contains("csrf-secret-value"), "{shown}");
    }
}
