//! Sealing of secrets we must be able to read back (TOTP seeds): AES-256-GCM under a data key
//! kept beside the signing keys (`data.key`, 0600), so a database dump alone does not reveal
//! them. Sealed values are `v1.<base64url(nonce || ciphertext)>`.
//!
//! The same key also keys the hashes of secrets we only need to recognise (recovery codes):
//! HMAC-SHA256 under a sub-key derived for that purpose, over the account and the value, so a
//! dump of the database neither reveals them nor lets them be guessed offline without the key.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;

use zeroize::Zeroizing;

use super::KeyError;
use crate::domain::id::Subject;

const FILE: &str = "data.key";

pub struct DataKey {
    cipher: Aes256Gcm,
    /// HMAC-SHA256 key for recovery codes: HMAC(data key, "mpsv-idp recovery-code v1").
    recovery_mac_key: [u8; 32],
    /// HMAC-SHA256 key for DPoP server nonces: HMAC(data key, "mpsv-idp dpop-nonce v1"). The
    /// data key is the same on every node, so is every node's nonce.
    dpop_nonce_key: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened")]
pub struct OpenError;

impl DataKey {
    /// Loads `data.key` from the key folder, creating it on first use. Creation is atomic
    /// (`files::write_private_new`): two nodes starting together on a shared folder end up
    /// with the same key, never one each.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        if !path.exists() {
            super::files::write_private_new(&path, URL_SAFE_NO_PAD.encode(*fresh()).as_bytes())?;
        }
        let bytes = read_file(dir)?.ok_or_else(|| KeyError::Invalid("data.key vanished".into()))?;
        Self::from_bytes(&bytes)
            .map_err(|_| KeyError::Invalid("data.key must hold 32 bytes".into()))
    }

    pub(super) fn from_bytes(bytes: &[u8]) -> Result<Self, OpenError> {
        if bytes.len() != 32 {
            return Err(OpenError);
        }
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| OpenError)?;
        let recovery_mac_key = hmac_sha256(bytes, &[b"mpsv-idp recovery-code v1"]);
        let dpop_nonce_key = hmac_sha256(bytes, &[b"mpsv-idp dpop-nonce v1"]);
        Ok(Self {
            cipher,
            recovery_mac_key,
            dpop_nonce_key,
        })
    }

    /// The stored form of a recovery code (already normalised) of account `sub`: base64url of
    /// HMAC-SHA256(recovery key, sub || 0x00 || code). Salted by the account, keyed by a secret
    /// that is not in the database.
    pub fn recovery_code_hash(&self, sub: &Subject, code: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(
            &self.recovery_mac_key,
            &[sub.as_str().as_bytes(), &[0], code.as_bytes()],
        ))
    }

    /// The MAC of a DPoP nonce for time window `window` (RFC 9449 §8: the server's nonces).
    pub fn dpop_nonce_mac(&self, window: i64) -> [u8; 32] {
        hmac_sha256(&self.dpop_nonce_key, &[&window.to_be_bytes()])
    }

    pub fn seal(&self, plaintext: &[u8]) -> String {
        format!("v1.{}", aead_seal(&self.cipher, b"", plaintext))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let body = sealed.strip_prefix("v1.").ok_or(OpenError)?;
        aead_open(&self.cipher, b"", body).ok_or(OpenError)
    }
}

/// AES-256-GCM with a fresh random 96-bit nonce: base64url(nonce || ciphertext). `aad` is
/// bound to the value (empty for the data key's own values: GCM with empty associated data
/// is GCM without, so values sealed before the KEK existed still open).
pub(super) fn aead_seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> String {
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    // Encryption with a valid key and a 12-byte nonce cannot fail; an empty result would only
    // make the value unopenable, never leak it.
    let ct = cipher
        .encrypt(&Nonce::from(nonce), payload)
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(ct);
    URL_SAFE_NO_PAD.encode(out)
}

/// Opens what [`aead_seal`] sealed with the same `aad`.
pub(super) fn aead_open(cipher: &Aes256Gcm, aad: &[u8], body: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(12);
    let nonce = Nonce::try_from(nonce).ok()?;
    let payload = Payload { msg: ct, aad };
    cipher.decrypt(&nonce, payload).ok()
}

/// 32 fresh random bytes for a new data key.
pub(super) fn fresh() -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(&mut *key);
    key
}

/// The bytes of `data.key` in the folder, if it has one.
pub(super) fn read_file(dir: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = Zeroizing::new(std::fs::read_to_string(&path)?);
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| KeyError::Invalid("data.key is not base64url".into()))?;
    Ok(Some(Zeroizing::new(bytes)))
}

/// What the data key's check value seals.
pub const CHECK_PLAINTEXT: &[u8] = b"mpsv-idp data key check v1";

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, KeyInit, Mac};
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
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

    #[test]
    fn two_creators_at_once_end_up_with_one_key() {
        let dir = std::env::temp_dir().join(format!("mpsv-seal-{}", uuid::Uuid::new_v4()));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let d = dir.clone();
                std::thread::spawn(move || DataKey::load_or_create(&d).unwrap())
            })
            .collect();
        let keys: Vec<DataKey> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let sealed = keys[0].seal(b"x");
        assert!(
            keys.iter().all(|k| k.open(&sealed).is_ok()),
            "one key for all"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn recovery_code_hashes_are_keyed_and_salted_by_the_account() {
        let a = DataKey::from_bytes(&[7; 32]).unwrap();
        let b = DataKey::from_bytes(&[8; 32]).unwrap();
        let h = a.recovery_code_hash(&Subject::lookup("sub-1"), "abcdef");
        assert_eq!(h, a.recovery_code_hash(&Subject::lookup("sub-1"), "abcdef"));
        assert_ne!(
            h,
            a.recovery_code_hash(&Subject::lookup("sub-2"), "abcdef"),
            "salted"
        );
        assert_ne!(
            h,
            b.recovery_code_hash(&Subject::lookup("sub-1"), "abcdef"),
            "keyed"
        );
        // Not the plain SHA-256 that a dump could be checked against.
        assert_ne!(h, crate::secrets::HashedToken::of("abcdef").as_str());
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac[..4],
            [0x5b, 0xdc, 0xc1, 0x46],
            "HMAC-SHA256 as RFC 4231 gives it"
        );
    }
}
