//! Argon2id password hashing (OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1),
//! run on tokio's blocking pool behind a semaphore sized to the cores, so a burst of logins
//! queues instead of starving the async workers that serve token requests.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing pool is shut down")]
    Pool,
}

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the username is unknown so
    /// that the response time does not reveal whether an account exists (OWASP
    /// Authentication Cheat Sheet, "Authentication Responses").
    dummy_hash: Arc<String>,
}

/// Verification outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Result<Self, PasswordError> {
        let dummy = hash_now(crate::secrets::PlainToken::generate().expose())?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Pool)?;
        tokio::task::spawn_blocking(move || hash_now(password.expose_secret()))
            .await
            .map_err(|_| PasswordError::Pool)?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verified, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Pool)?;
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| (*self.dummy_hash).clone());
        let ok = tokio::task::spawn_blocking(move || verify_now(password.expose_secret(), &hash))
            .await
            .map_err(|_| PasswordError::Pool)?;
        Ok(if ok && known {
            Verified::Yes
        } else {
            Verified::No
        })
    }
}

/// Hashes synchronously (for the CLI and for tests).
pub fn hash_now(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_now(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash_now("správné heslo").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_now("správné heslo", &h));
        assert!(!verify_now("spravne heslo", &h));
        assert!(!verify_now("x", "not a hash"));
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify() {
        let p = Passwords::new(1).unwrap();
        let r = p
            .verify(SecretString::from("anything"), None)
            .await
            .unwrap();
        assert_eq!(r, Verified::No);
    }
}
