//! Scopes (RFC 6749 §3.3): a space-delimited, order-free set of scope tokens.

use std::collections::BTreeSet;
use std::fmt;

use super::ParseError;

/// The scopes this provider knows. A client may be allowed a subset of them.
pub const SUPPORTED: &[&str] = &["openid", "profile", "email", "mpsv", "organisation"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let mut set = BTreeSet::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(ParseError::new("scope contains an invalid character"));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn from_list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        Self(items.into_iter().map(Into::into).collect())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The scopes in `self` that are not in `allowed`.
    pub fn not_in<'a>(&'a self, allowed: &'a Scopes) -> impl Iterator<Item = &'a str> {
        self.0.difference(&allowed.0).map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

// Stored as the space-separated list (RFC 6749 §3.3).
serde_as_text!(Scopes, Scopes::parse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip_sorted() {
        let s = Scopes::parse("profile  openid email").unwrap();
        assert_eq!(s.to_string(), "email openid profile");
        assert!(Scopes::parse("open\"id").is_err());
        assert!(Scopes::parse("openid").unwrap().is_subset(&s));
    }
}
