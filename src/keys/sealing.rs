//! Sealing of secrets we must be able to read back (TOTP seeds): AES-256-GCM under a data key
//! kept beside the signing keys (`data.key`, 0600), so a database dump alone does not reveal
//! them. Sealed values are `v1.<base64url(nonce || ciphertext)>`.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use super::KeyFileError;

const FILE: &str = "data.key";

pub struct DataKey(Aes256Gcm);

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened")]
pub struct OpenError;

impl DataKey {
    /// Loads `data.key` from the key folder, creating it on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyFileError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        if !path.exists() {
            let mut key = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut key);
            super::files::write_private(&path, URL_SAFE_NO_PAD.encode(key).as_bytes())?;
        }
        let text = std::fs::read_to_string(&path)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| KeyFileError::Invalid("data.key is not base64url".into()))?;
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| KeyFileError::Invalid("data.key must hold 32 bytes".into()))?;
        Ok(Self(cipher))
    }

    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail; an empty result would
        // only make the value unopenable, never leak it.
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(ct);
        format!("v1.{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let body = sealed.strip_prefix("v1.").ok_or(OpenError)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| OpenError)?;
        if bytes.len() < 12 {
            return Err(OpenError);
        }
        let (nonce, ct) = bytes.split_at(12);
        self.0
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_untampered() {
        let dir = std::env::temp_dir().join(format!("mpsv-seal-{}", uuid::Uuid::new_v4()));
        let k = DataKey::load_or_create(&dir).unwrap();
        let sealed = k.seal(b"JBSWY3DPEHPK3PXP");
        assert_ne!(
            sealed,
            k.seal(b"JBSWY3DPEHPK3PXP"),
            "a fresh nonce each time"
        );
        assert_eq!(k.open(&sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        // The same file gives the same key.
        let again = DataKey::load_or_create(&dir).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(k.open(&tampered).is_err());
        let other = std::env::temp_dir().join(format!("mpsv-seal-{}", uuid::Uuid::new_v4()));
        assert!(DataKey::load_or_create(&other)
            .unwrap()
            .open(&sealed)
            .is_err());
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(other);
    }
}
