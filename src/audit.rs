//! The audit log: an append-only, hash-chained record of security events and privileged
//! actions. Each record's `hash` is SHA-256 over the previous record's hash and this record's
//! fields, so altering or removing a record breaks the chain from there on.
//!
//! Appends are serialised: within a node by a mutex, across PostgreSQL nodes by a transaction
//! advisory lock, so two records never claim the same predecessor.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::secrets::{hex, now};
use crate::storage::{Backend, Result, Storage, Tx};

/// The hash that precedes the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened (stable names, used in filters and exports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    OtpFailed,
    PasswordChanged,
    PasswordResetRequested,
    PasswordResetCompleted,
    TotpEnrolled,
    TotpRemoved,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    PasskeyRegistered,
    PasskeyRenamed,
    PasskeyRemoved,
    PasskeyFailed,
    SecondFactorsReset,
    UpstreamLoginFailed,
    UpstreamUnlinkedSignIn,
    UpstreamLinked,
    UpstreamLinkRefused,
    UpstreamUnlinked,
    SessionEnded,
    AccountCreated,
    AccessDenied,
    PersonCreated,
    ConsentRecorded,
    ConsentWithdrawn,
    LetterIssued,
    StatutoryRoleStarted,
    StatutoryRoleEnded,
    DelegationGranted,
    DelegationRevoked,
    OrganisationCreated,
    AccountStatusChanged,
    SessionsEndedByStaff,
    ClientCreated,
    ClientChanged,
    ClientSecretRotated,
    KeyRotated,
    KeysImported,
    KeysResealed,
    StaffCreated,
    DemoRemoved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::LoginSucceeded => "login.succeeded",
            Event::LoginFailed => "login.failed",
            Event::AccountLocked => "account.locked",
            Event::OtpFailed => "login.otp_failed",
            Event::PasswordChanged => "password.changed",
            Event::PasswordResetRequested => "password.reset_requested",
            Event::PasswordResetCompleted => "password.reset_completed",
            Event::TotpEnrolled => "totp.enrolled",
            Event::TotpRemoved => "totp.removed",
            Event::RecoveryCodeUsed => "totp.recovery_code_used",
            Event::RecoveryCodesRegenerated => "totp.recovery_codes_regenerated",
            Event::PasskeyRegistered => "passkey.registered",
            Event::PasskeyRenamed => "passkey.renamed",
            Event::PasskeyRemoved => "passkey.removed",
            Event::PasskeyFailed => "login.passkey_failed",
            Event::SecondFactorsReset => "account.second_factors_reset",
            Event::UpstreamLoginFailed => "login.upstream_failed",
            Event::UpstreamUnlinkedSignIn => "login.upstream_unlinked",
            Event::UpstreamLinked => "upstream.linked",
            Event::UpstreamLinkRefused => "upstream.link_refused",
            Event::UpstreamUnlinked => "upstream.unlinked",
            Event::SessionEnded => "session.ended",
            Event::AccountCreated => "account.created",
            Event::AccessDenied => "login.access_denied",
            Event::PersonCreated => "person.created",
            Event::ConsentRecorded => "consent.recorded",
            Event::ConsentWithdrawn => "consent.withdrawn",
            Event::LetterIssued => "letter.issued",
            Event::StatutoryRoleStarted => "statutory.started",
            Event::StatutoryRoleEnded => "statutory.ended",
            Event::DelegationGranted => "delegation.granted",
            Event::DelegationRevoked => "delegation.revoked",
            Event::OrganisationCreated => "organisation.created",
            Event::AccountStatusChanged => "account.status_changed",
            Event::SessionsEndedByStaff => "session.ended_by_staff",
            Event::ClientCreated => "client.created",
            Event::ClientChanged => "client.changed",
            Event::ClientSecretRotated => "client.secret_rotated",
            Event::KeyRotated => "key.rotated",
            Event::KeysImported => "key.imported",
            Event::KeysResealed => "key.resealed",
            Event::StaffCreated => "staff.created",
            Event::DemoRemoved => "demo.removed",
        }
    }
}

tokio::task_local! {
    /// The client address of the request being served (set by `web::client::remember_source`
    /// for every request), so that records written deep inside an action — by `registry`, say —
    /// carry their source address without every function passing it along.
    pub static SOURCE_IP: Option<String>;
}

/// One record to append.
#[derive(Debug, Clone)]
pub struct Record {
    pub event: Event,
    /// Who acted (a `sub`, a `client_id`, or `None` for an anonymous request).
    pub actor: Option<String>,
    /// Whom or what it concerned.
    pub subject: Option<String>,
    pub source_ip: Option<String>,
    /// Event details; never secrets.
    pub details: Value,
}

impl Record {
    pub fn new(event: Event) -> Self {
        Self {
            event,
            actor: None,
            subject: None,
            source_ip: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn actor(mut self, a: impl Into<String>) -> Self {
        self.actor = Some(a.into());
        self
    }

    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = Some(s.into());
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.source_ip = ip;
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(m) = &mut self.details {
            m.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// A stored record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Stored {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub source_ip: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain hash of a record.
pub fn chain_hash(
    prev: &str,
    at: i64,
    event: &str,
    actor: Option<&str>,
    subject: Option<&str>,
    ip: Option<&str>,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &at.to_string(),
        event,
        actor.unwrap_or(""),
        subject.unwrap_or(""),
        ip.unwrap_or(""),
        details,
    ] {
        // Length-prefixed, so that field boundaries cannot be shifted.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

#[derive(Clone)]
pub struct AuditLog {
    storage: Storage,
    lock: Arc<Mutex<()>>,
}

impl AuditLog {
    pub fn new(storage: Storage) -> Self {
        Self {
            storage,
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// Appends a record in a transaction of its own. Failures are returned: an action whose
    /// audit cannot be written should not silently succeed.
    pub async fn record(&self, r: Record) -> Result<()> {
        let _guard = self.lock.lock().await;
        let mut tx = self.storage.begin_write().await?;
        self.append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends a record inside the caller's write transaction (from `Storage::begin_write`),
    /// so the action and its record commit together or not at all. The chain stays serial:
    /// on SQLite the transaction already holds the database's write lock, on PostgreSQL the
    /// advisory lock taken here is held until the caller commits.
    pub async fn append(&self, tx: &mut Tx, mut r: Record) -> Result<()> {
        if r.source_ip.is_none() {
            r.source_ip = SOURCE_IP.try_with(Clone::clone).ok().flatten();
        }
        let details = r.details.to_string();
        let at = now();
        if self.storage.backend() == Backend::Postgres {
            // A fixed key for "the audit chain"; released at commit.
            sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
                .execute(&mut **tx)
                .await?;
        }
        let prev: Option<(String,)> =
            sqlx::query_as("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut **tx)
                .await?;
        let prev = prev.map(|(h,)| h).unwrap_or_else(|| GENESIS.to_owned());
        let hash = chain_hash(
            &prev,
            at,
            r.event.as_str(),
            r.actor.as_deref(),
            r.subject.as_deref(),
            r.source_ip.as_deref(),
            &details,
        );
        sqlx::query(
            "INSERT INTO audit_log (at, event, actor, subject, source_ip, details, prev_hash, hash) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(at)
        .bind(r.event.as_str())
        .bind(r.actor)
        .bind(r.subject)
        .bind(r.source_ip)
        .bind(details)
        .bind(prev)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records of a subject, newest first.
    pub async fn for_subject(&self, subject: &str, limit: i64) -> Result<Vec<Stored>> {
        Ok(sqlx::query_as(
            "SELECT id, at, event, actor, subject, source_ip, details, prev_hash, hash \
             FROM audit_log WHERE subject = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(subject)
        .bind(limit)
        .fetch_all(self.storage.pool())
        .await?)
    }

    /// Walks the whole chain, a page at a time; returns the id of the first record that does
    /// not verify (altered, inserted or removed), or `None` and the number of records.
    pub async fn verify(&self) -> Result<Verification> {
        let mut prev = GENESIS.to_owned();
        let mut after = 0;
        let mut count = 0;
        loop {
            let page = self.page_after(after, 1000).await?;
            let Some(last) = page.last() else {
                return Ok(Verification::Intact { records: count });
            };
            after = last.id;
            for r in page {
                let expected = chain_hash(
                    &prev,
                    r.at,
                    &r.event,
                    r.actor.as_deref(),
                    r.subject.as_deref(),
                    r.source_ip.as_deref(),
                    &r.details,
                );
                if r.prev_hash != prev || r.hash != expected {
                    return Ok(Verification::Broken { at_id: r.id });
                }
                prev = r.hash;
                count += 1;
            }
        }
    }

    /// Records with `id > after`, oldest first (export and verification walk the log so).
    pub async fn page_after(&self, after: i64, limit: i64) -> Result<Vec<Stored>> {
        Ok(sqlx::query_as(
            "SELECT id, at, event, actor, subject, source_ip, details, prev_hash, hash \
             FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.storage.pool())
        .await?)
    }

    /// Records matching `f`, newest first; `f.before` pages backwards (ids below it).
    pub async fn query(&self, f: &Filter) -> Result<Vec<Stored>> {
        Ok(sqlx::query_as(
            "SELECT id, at, event, actor, subject, source_ip, details, prev_hash, hash \
             FROM audit_log WHERE ($1 = '' OR event = $1) AND ($2 = '' OR actor = $2) \
             AND ($3 = '' OR subject = $3) AND ($4 = 0 OR at >= $4) AND ($5 = 0 OR at < $5) \
             AND ($6 = 0 OR id < $6) ORDER BY id DESC LIMIT $7",
        )
        .bind(f.event.clone().unwrap_or_default())
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.subject.clone().unwrap_or_default())
        .bind(f.from.unwrap_or(0))
        .bind(f.until.unwrap_or(0))
        .bind(f.before.unwrap_or(0))
        .bind(f.limit.clamp(1, 1000))
        .fetch_all(self.storage.pool())
        .await?)
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Intact { records: u64 },
    Broken { at_id: i64 },
}

/// A search of the audit log; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub event: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Only records with a smaller id (the cursor of the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

impl Stored {
    /// The record as one JSON object (details parsed), as `audit export` writes a line.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "at": self.at,
            "event": self.event,
            "actor": self.actor,
            "subject": self.subject,
            "source_ip": self.source_ip,
            "details": serde_json::from_str::<Value>(&self.details).unwrap_or(Value::Null),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_hash_depends_on_every_field_and_its_boundaries() {
        let a = chain_hash(GENESIS, 1, "login.failed", Some("x"), Some("y"), None, "{}");
        assert_ne!(
            a,
            chain_hash(GENESIS, 2, "login.failed", Some("x"), Some("y"), None, "{}")
        );
        assert_ne!(
            a,
            chain_hash(GENESIS, 1, "login.failed", Some("xy"), Some(""), None, "{}")
        );
        assert_ne!(
            a,
            chain_hash(&a, 1, "login.failed", Some("x"), Some("y"), None, "{}")
        );
        assert_eq!(a.len(), 64);
    }
}
