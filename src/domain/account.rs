//! Accounts as the protocol layer needs them: who signs in, and the profile claims.

use super::id::Subject;
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

/// What an account may do beyond signing in. Administrators and operators are privileged:
/// longer passwords and a mandatory second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Operator,
    Administrator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Operator => "operator",
            Role::Administrator => "administrator",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "user" => Ok(Role::User),
            "operator" => Ok(Role::Operator),
            "administrator" => Ok(Role::Administrator),
            _ => Err(ParseError(format!("unknown role {s:?}"))),
        }
    }

    pub fn privileged(self) -> bool {
        self != Role::User
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    /// Stable subject identifier (a UUID), never reassigned.
    pub sub: Subject,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub locale: String,
    pub status: AccountStatus,
    pub password_hash: String,
    pub role: Role,
    pub password_changed_at: i64,
    /// Set for an initial password and after an administrator's reset: the next login must
    /// change the password before anything else.
    pub must_change_password: bool,
    /// When an initial password stops working (it must be changed before).
    pub initial_password_expires_at: Option<i64>,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    /// The sealed TOTP secret, when the second factor is enrolled.
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    /// How many passkeys the account has registered.
    pub passkeys: i64,
    /// The person's MPSV client identifier (persons table), when assigned.
    pub mpsv_client_id: Option<String>,
}

impl Account {
    /// A new active account with a password set now.
    pub fn new(
        username: &Username,
        given_name: &str,
        family_name: &str,
        email: Option<String>,
        password_hash: String,
        now: i64,
    ) -> Self {
        Self {
            sub: Subject::generate(),
            username: username.as_str().to_owned(),
            given_name: given_name.trim().to_owned(),
            family_name: family_name.trim().to_owned(),
            email,
            email_verified: false,
            locale: "cs".into(),
            status: AccountStatus::Active,
            password_hash,
            role: Role::User,
            password_changed_at: now,
            must_change_password: false,
            initial_password_expires_at: None,
            failed_logins: 0,
            locked_until: None,
            totp_secret: None,
            totp_last_step: None,
            passkeys: 0,
            mpsv_client_id: None,
        }
    }

    /// Temporarily locked after repeated failures (the lock lifts by itself).
    pub fn is_locked(&self, now: i64) -> bool {
        self.status == AccountStatus::Locked || self.locked_until.is_some_and(|t| t > now)
    }

    /// Has the account a second factor to prove: TOTP or a passkey?
    pub fn has_second_factor(&self) -> bool {
        self.totp_secret.is_some() || self.passkeys > 0
    }

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
