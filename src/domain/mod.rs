//! Protocol values and MPSV rules as types. Nothing here knows about HTTP or SQL: values are
//! parsed at the boundary into these types, and past it they are known to be well-formed.

pub mod account;
pub mod client;
pub mod date;
pub mod entitlement;
pub mod lockout;
pub mod mpsv_id;
pub mod organisation;
pub mod password_policy;
pub mod permission;
pub mod person;
pub mod pkce;
pub mod prompt;
pub mod recovery;
pub mod scope;
pub mod text;
pub mod totp;

/// A value that failed to parse, with a message fit for an `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}
