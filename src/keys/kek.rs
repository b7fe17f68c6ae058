//! The key-encryption key (KEK): it seals the signing keys and the data key that many nodes
//! share through the database (issue 12.1). Each node gets it from its configuration (a file
//! or `MPSV_IDP_KEK`), never from the database, so a dump or a backup of the database alone
//! can neither sign tokens nor open TOTP secrets.
//!
//! AES-256-GCM with a random 96-bit nonce (NIST SP 800-38D §8.2.2; a few thousand sealings
//! over the KEK's life are far below the 2^32 limit) and the row's purpose as associated data,
//! so a sealed value copied into another row does not open there. Sealed values are
//! `k1.<base64url(nonce || ciphertext)>`; the row records which KEK sealed it by [`Kek::id`],
//! so a node with the wrong KEK says so instead of failing on a tag mismatch.

use aes_gcm::aead::KeyInit;
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("{0}: a KEK is 32 random bytes written as base64url (mpsv-idp keys generate-kek)")]
    Malformed(String),
    #[error("reading the KEK file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("a value sealed with the KEK could not be opened")]
pub struct UnsealError;

/// One KEK.
pub struct Kek {
    cipher: Aes256Gcm,
    id: String,
}

impl Kek {
    /// Parses the text form (base64url of 32 bytes; padding and surrounding whitespace are
    /// tolerated). `origin` names where it came from, for the error message.
    pub fn parse(text: &str, origin: &str) -> Result<Self, KekError> {
        let trimmed = text.trim().trim_end_matches('=');
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(trimmed)
                .map_err(|_| KekError::Malformed(origin.to_owned()))?,
        );
        if bytes.len() != 32 {
            return Err(KekError::Malformed(origin.to_owned()));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|_| KekError::Malformed(origin.into()))?;
        // A name for the KEK that reveals nothing about it: HMAC(KEK, label), 12 bytes.
        let mac = super::sealing::hmac_sha256(&bytes, &[b"mpsv-idp kek id v1"]);
        let id = URL_SAFE_NO_PAD.encode(&mac[..12]);
        Ok(Self { cipher, id })
    }

    /// Reads a KEK from a file (its whole content, trimmed).
    pub fn from_file(path: &std::path::Path) -> Result<Self, KekError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KekError::File {
                    path: path.display().to_string(),
                    source,
                })?,
            );
        Self::parse(&text, &path.display().to_string())
    }

    /// A fresh KEK in its text form.
    pub fn generate() -> String {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut *key);
        URL_SAFE_NO_PAD.encode(*key)
    }

    /// Which KEK this is, as stored beside what it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` for the row named by `purpose` (e.g. `signing-key:<kid>:…`).
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        format!(
            "k1.{}",
            super::sealing::aead_seal(&self.cipher, purpose.as_bytes(), plaintext)
        )
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
        let body = sealed.strip_prefix("k1.").ok_or(UnsealError)?;
        super::sealing::aead_open(&self.cipher, purpose.as_bytes(), body)
            .map(Zeroizing::new)
            .ok_or(UnsealError)
    }
}

/// The KEK a node seals with, and the earlier ones it still opens during a KEK rotation.
pub struct Keks {
    pub current: Kek,
    pub previous: Vec<Kek>,
}

impl Keks {
    /// The KEK with this id, if the node has it.
    pub fn find(&self, id: &str) -> Option<&Kek> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == id)
    }

    /// Opens a value sealed by the KEK `kek_id` for `purpose`.
    pub fn open(
        &self,
        kek_id: &str,
        purpose: &str,
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
        self.find(kek_id).ok_or(UnsealError)?.open(purpose, sealed)
    }

    /// The ids this node knows, for an error message.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .map(|k| k.id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_kek_and_purpose() {
        let a = Kek::parse(&Kek::generate(), "test").unwrap();
        let b = Kek::parse(&Kek::generate(), "test").unwrap();
        assert_ne!(a.id(), b.id());
        let sealed = a.seal("signing-key:k1", b"pem");
        assert_eq!(&*a.open("signing-key:k1", &sealed).unwrap(), b"pem");
        assert!(
            a.open("signing-key:k2", &sealed).is_err(),
            "bound to its row"
        );
        assert!(
            b.open("signing-key:k1", &sealed).is_err(),
            "bound to its KEK"
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open("signing-key:k1", &tampered).is_err());
        let keks = Keks {
            current: b,
            previous: vec![a],
        };
        let id = keks.previous[0].id().to_owned();
        assert_eq!(&*keks.open(&id, "signing-key:k1", &sealed).unwrap(), b"pem");
        assert!(keks.open("unknown", "signing-key:k1", &sealed).is_err());
    }

    #[test]
    fn the_text_form_is_32_bytes_of_base64url_and_its_id_is_stable() {
        let text = Kek::generate();
        assert_eq!(text.len(), 43);
        let padded = format!(" {text}=\n");
        assert_eq!(
            Kek::parse(&text, "t").unwrap().id(),
            Kek::parse(&padded, "t").unwrap().id()
        );
        assert!(Kek::parse("c2hvcnQ", "t").is_err(), "too short");
        assert!(Kek::parse("not base64!", "t").is_err());
        assert!(Kek::parse("", "t").is_err());
    }
}
