//! Protocol values and MPSV rules as types. Nothing here knows about HTTP or SQL: values are
//! parsed at the boundary into these types, and past it they are known to be well-formed.

/// Serde for a value kept as its text (in a stored interaction, say): written as the string,
/// read back through `$parse`, so what comes back from storage is as valid as what went in.
macro_rules! serde_as_text {
    ($t:ty, $parse:expr) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                let parse: fn(&str) -> Result<$t, $crate::domain::ParseError> = $parse;
                parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod account;
pub mod amr;
pub mod claims_request;
pub mod client;
pub mod date;
pub mod entitlement;
pub mod id;
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
