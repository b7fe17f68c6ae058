//! Argon2id password hashing (OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1),
//! run on tokio's blocking pool behind a semaphore sized to the cores, so a burst of logins
//! queues instead of starving the async workers that serve token requests.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::domain::password_policy::normalize;

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

    /// A permit to hash, moved into the blocking task that hashes: if the request is dropped
    /// (its deadline passed) the hash still runs to its end, and holds the permit until then,
    /// so no more hashes run at once than `password_hash_concurrency` allows.
    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, PasswordError> {
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Pool)
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_now(password.expose_secret())
        })
        .await
        .map_err(|_| PasswordError::Pool)?
    }

    /// Verifies against each of `stored` (newest first); the index of the first match. Used for
    /// the password history, off the async threads like every hash.
    pub async fn find_match(
        &self,
        password: SecretString,
        stored: Vec<String>,
    ) -> Result<Option<usize>, PasswordError> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            stored
                .iter()
                .position(|h| verify_now(password.expose_secret(), h))
        })
        .await
        .map_err(|_| PasswordError::Pool)
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verified, PasswordError> {
        let permit = self.permit().await?;
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| (*self.dummy_hash).clone());
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_now(password.expose_secret(), &hash)
        })
        .await
        .map_err(|_| PasswordError::Pool)?;
        Ok(if ok && known {
            Verified::Yes
        } else {
            Verified::No
        })
    }
}

/// Hashes synchronously (for the CLI and for tests). Passwords are hashed in Unicode NFKC, so
/// the same password typed with another input method verifies.
pub fn hash_now(password: &str) -> Result<String, PasswordError> {
    let password = normalize(password);
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_now(password: &str, stored: &str) -> bool {
    let password = normalize(password);
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verifies synchronously on the calling thread (for benchmarks and tools).
pub fn verify_blocking(password: &str, stored: &str) -> bool {
    verify_now(password, stored)
}

/// Was `stored` made with other parameters than today's? Then it is re-hashed at the next
/// successful login (the password is at hand only then).
pub fn needs_rehash(stored: &str) -> bool {
    const CURRENT: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
    !stored.starts_with(CURRENT)
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

    #[test]
    fn the_same_password_in_another_unicode_form_verifies() {
        // "é" precomposed vs. "e" + combining acute accent.
        let h = hash_now("kr\u{e9}mov\u{e1} heslo 12").unwrap();
        assert!(verify_now("kre\u{301}mova\u{301} heslo 12", &h));
        assert!(!needs_rehash(&h));
        assert!(needs_rehash("$argon2id$v=19$m=4096,t=3,p=1$abc$def"));
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
