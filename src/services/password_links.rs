//! Single-use links to set a password: a forgotten one (`/password/forgot`) or a new staff
//! member's first one (issue 11.10). Stored hashed and audited in the caller's transaction
//! (or one of their own), then mailed (`mail::send_password_link`).

use crate::audit::{AuditLog, Event, Record};
use crate::domain::account::Account;
use crate::error::Internal;
use crate::secrets::{now, PlainToken};
use crate::storage::{Storage, Tx};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A forgotten password (one hour).
    Reset,
    /// A new staff member's first password, so that the administrator who created the account
    /// never knows it (separation of duties, issue 11.10).
    Welcome,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Reset => "reset",
            Link::Welcome => "welcome",
        }
    }
}

/// Stores a link for `account` valid `seconds` and its audit record in `tx`; returns the
/// token the mail carries.
pub async fn issue_in(
    storage: &Storage,
    audit: &AuditLog,
    tx: &mut Tx,
    account: &Account,
    seconds: i64,
    kind: Link,
    ip: Option<String>,
) -> Result<PlainToken, Internal> {
    let token = PlainToken::generate();
    storage
        .insert_password_reset_in(tx, &token.hashed(), &account.sub, now() + seconds)
        .await?;
    audit
        .append(
            tx,
            Record::new(Event::PasswordResetRequested)
                .subject(account.sub.clone())
                .ip(ip)
                .detail("kind", kind.as_str()),
        )
        .await?;
    Ok(token)
}

/// [`issue_in`] in a transaction of its own.
pub async fn issue(
    storage: &Storage,
    audit: &AuditLog,
    account: &Account,
    seconds: i64,
    kind: Link,
    ip: Option<String>,
) -> Result<PlainToken, Internal> {
    let mut tx = storage.begin_write().await?;
    let token = issue_in(storage, audit, &mut tx, account, seconds, kind, ip).await?;
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    Ok(token)
}
