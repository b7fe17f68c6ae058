//! The marks on what `serve --demo` created, and its removal.

use super::{Result, Storage, Tx};
use crate::secrets::now;

/// What a demo object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoKind {
    Client,
    Organisation,
    Person,
}

impl DemoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DemoKind::Client => "client",
            DemoKind::Organisation => "organisation",
            DemoKind::Person => "person",
        }
    }
}

/// Deletes, for the marked persons (`$1` = kind 'person'), organisations and clients, every
/// row that refers to them, children first. The audit log is append-only and keeps its records.
const REMOVE: &[&str] = &[
    // Persons: tokens, sessions, login state, the account, the register's rows, the person.
    "DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM token_families WHERE sub IN \
     (SELECT id FROM demo_objects WHERE kind = 'person'))",
    "DELETE FROM token_families WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM authorization_codes WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM session_clients WHERE sid IN (SELECT sid FROM sessions WHERE sub IN \
     (SELECT id FROM demo_objects WHERE kind = 'person'))",
    "DELETE FROM sessions WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM login_requests WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM password_history WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM recovery_codes WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM passkeys WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM upstream_links WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM password_resets WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM letters WHERE person_sub IN (SELECT id FROM demo_objects WHERE kind = 'person') \
     OR organisation_id IN (SELECT id FROM demo_objects WHERE kind = 'organisation')",
    "DELETE FROM delegations WHERE delegate_sub IN (SELECT id FROM demo_objects WHERE kind = 'person') \
     OR delegator_sub IN (SELECT id FROM demo_objects WHERE kind = 'person') \
     OR organisation_id IN (SELECT id FROM demo_objects WHERE kind = 'organisation')",
    "DELETE FROM statutory_roles WHERE person_sub IN (SELECT id FROM demo_objects WHERE kind = 'person') \
     OR organisation_id IN (SELECT id FROM demo_objects WHERE kind = 'organisation')",
    "DELETE FROM memberships WHERE person_sub IN (SELECT id FROM demo_objects WHERE kind = 'person') \
     OR organisation_id IN (SELECT id FROM demo_objects WHERE kind = 'organisation')",
    "DELETE FROM consents WHERE person_sub IN (SELECT id FROM demo_objects WHERE kind = 'person') \
     OR organisation_id IN (SELECT id FROM demo_objects WHERE kind = 'organisation')",
    "DELETE FROM accounts WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM persons WHERE sub IN (SELECT id FROM demo_objects WHERE kind = 'person')",
    "DELETE FROM organisations WHERE id IN (SELECT id FROM demo_objects WHERE kind = 'organisation')",
    // Clients: their grants and sessions' links, pending logins, the registration.
    "DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM token_families WHERE client_id IN \
     (SELECT id FROM demo_objects WHERE kind = 'client'))",
    "DELETE FROM token_families WHERE client_id IN (SELECT id FROM demo_objects WHERE kind = 'client')",
    "DELETE FROM authorization_codes WHERE client_id IN (SELECT id FROM demo_objects WHERE kind = 'client')",
    "DELETE FROM session_clients WHERE client_id IN (SELECT id FROM demo_objects WHERE kind = 'client')",
    "DELETE FROM login_requests WHERE client_id IN (SELECT id FROM demo_objects WHERE kind = 'client')",
    "DELETE FROM clients WHERE client_id IN (SELECT id FROM demo_objects WHERE kind = 'client')",
    "DELETE FROM demo_objects",
];

impl Storage {
    /// Marks an object as created by the demo (idempotent).
    pub async fn mark_demo(&self, kind: DemoKind, id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO demo_objects (kind, id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, id) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(id)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn is_demo(&self, kind: DemoKind, id: &str) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM demo_objects WHERE kind = $1 AND id = $2")
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// Every marked object: (kind, id, created_at), ordered by kind and id.
    pub async fn demo_objects(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(
            sqlx::query_as("SELECT kind, id, created_at FROM demo_objects ORDER BY kind, id")
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Deletes every marked object and what refers to it, in the caller's transaction (with
    /// its audit record); returns how many objects were marked.
    pub async fn remove_demo(&self, tx: &mut Tx) -> Result<usize> {
        let objects: Vec<(String, String)> = sqlx::query_as("SELECT kind, id FROM demo_objects")
            .fetch_all(&mut **tx)
            .await?;
        for sql in REMOVE {
            sqlx::query(*sql).execute(&mut **tx).await?;
        }
        for (kind, id) in &objects {
            if kind == DemoKind::Client.as_str() {
                self.clients.forget(id);
            }
        }
        Ok(objects.len())
    }
}
