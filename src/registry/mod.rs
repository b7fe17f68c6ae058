//! What MPSV operators do to the register of people (docs/domain.md): record consents, create
//! accounts with a credentials letter, record statutory roles and their end, and delegate
//! submit. Every action checks the MPSV rules, writes through `storage`, and is audited. The
//! CLI, the self-service delegation page and (later) the console and the API call these
//! functions and nothing lower.

pub mod accounts;
pub mod consents;
pub mod delegations;
pub mod import;
pub mod organisations;
pub mod statutory;

use crate::domain::id::Subject;
use crate::domain::ParseError;
use crate::error::Internal;
use crate::storage::StorageError;

/// Who acts: an operator's or representative's `sub`, or `cli:<user>` on the server.
pub type Actor<'a> = &'a str;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Refused(&'static str),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<StorageError> for RegistryError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) => RegistryError::Conflict(what),
            other => RegistryError::Internal(Internal::from(other)),
        }
    }
}

impl From<ParseError> for RegistryError {
    fn from(e: ParseError) -> Self {
        RegistryError::Invalid(e.0)
    }
}

impl From<crate::password::PasswordError> for RegistryError {
    fn from(e: crate::password::PasswordError) -> Self {
        RegistryError::Internal(Internal::from(e))
    }
}

pub type Result<T> = std::result::Result<T, RegistryError>;

/// Commits a registry action's transaction (the action and its audit records together).
pub(crate) async fn commit(tx: crate::storage::Tx) -> Result<()> {
    tx.commit().await.map_err(StorageError::from)?;
    Ok(())
}

/// MPSV staff (operators, administrators) are not MPSV's clients: no consents, statutory
/// roles or delegations for them (and operators must not act on staff accounts).
pub(crate) async fn ensure_not_staff(state: &crate::app::AppState, sub: &Subject) -> Result<()> {
    match state.storage.account(sub).await? {
        Some(a) if a.role.privileged() => Err(RegistryError::Refused(
            "staff accounts do not take part in the register",
        )),
        _ => Ok(()),
    }
}
