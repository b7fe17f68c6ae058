//! Identifiers past the boundary: a subject is not a session id is not an organisation id,
//! though all three are text in the database and in tokens. Each is parsed where it comes in
//! (a path, a form, a token) and stays typed from there to the SQL.

use std::fmt;

use super::ParseError;

macro_rules! identifier {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random identifier (a UUID, as every one of ours is).
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// An identifier received from outside: 1–64 characters of letters, digits and
            /// `-`, `_`, `.` (ours are UUIDs; older or imported ones need only be well-formed).
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                if s.is_empty()
                    || s.len() > 64
                    || !s
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                {
                    return Err(ParseError::new(concat!("not a valid ", $what)));
                }
                Ok(Self(s.to_owned()))
            }

            /// An identifier received (a path, a form, a query) only to be looked up: it is
            /// compared, never trusted, and one that names nothing is simply not found.
            pub fn lookup(s: &str) -> Self {
                Self(s.to_owned())
            }

            /// As read back from our own storage or our own signed token.
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        /// In audit details and API answers: the JSON string.
        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> serde_json::Value {
                serde_json::Value::String(id.0)
            }
        }

        impl From<&$name> for serde_json::Value {
            fn from(id: &$name) -> serde_json::Value {
                serde_json::Value::String(id.0.clone())
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

identifier!(
    /// A person's stable subject identifier (`sub`, OIDC Core §2), never reassigned.
    Subject,
    "subject identifier"
);

identifier!(
    /// An SSO session's identifier (`sid`, OIDC Front-/Back-Channel Logout §2), public: it is
    /// in ID tokens. The cookie value is another, secret token.
    SessionId,
    "session identifier"
);

identifier!(
    /// An organisation's identifier in this IdP (not its IČO).
    OrganisationId,
    "organisation identifier"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_identifiers_are_checked() {
        assert!(Subject::parse("7d9f3c1e-2b4a-4c8e-9f10-1a2b3c4d5e6f").is_ok());
        assert!(Subject::parse("").is_err());
        assert!(Subject::parse("a b").is_err());
        assert!(SessionId::parse(&"x".repeat(65)).is_err());
        let s = Subject::generate();
        assert_eq!(Subject::parse(s.as_str()).unwrap(), s);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!(s.as_str())
        );
    }
}
