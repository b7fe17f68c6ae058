//! Accounts as the protocol layer needs them: who signs in, and the profile claims.

use super::ParseError;

/// A login name: 3–64 characters of letters, digits, `.`, `_`, `-`, `@`; case-insensitive
/// (stored lower-case) so that `Novak` and `novak` cannot be two accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if !(3..=64).contains(&s.chars().count())
            || !s
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(ParseError::new(
                "username must be 3-64 letters, digits or . _ - @",
            ));
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Account status. Only `active` accounts can sign in or keep tokens alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Locked,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "locked" => Self::Locked,
            // Anything unknown is treated as the most restrictive state.
            _ => Self::Disabled,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    /// Stable subject identifier (a UUID), never reassigned.
    pub sub: String,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub locale: String,
    pub status: AccountStatus,
    pub password_hash: String,
}

impl Account {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
            .trim()
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_checked() {
        assert_eq!(
            Username::parse(" Jana.Novakova ").unwrap().as_str(),
            "jana.novakova"
        );
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("with space").is_err());
        assert_eq!(Username::parse("Šťastná").unwrap().as_str(), "šťastná");
    }
}
