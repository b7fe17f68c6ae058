//! JOSE on aws-lc-rs (docs/decisions.md "One crypto provider"): compact JWS (RFC 7515), the
//! public JWKs we verify with (RFC 7517, RFC 7518 §6, RFC 8037) and their thumbprints
//! (RFC 7638), and the private keys we sign with (PKCS#8 PEM).
//!
//! Only what the IdP uses is here: the five signature algorithms of [`Alg`], no `none`, no
//! HMAC, no encryption, no `crit` extensions.

pub mod jwk;
pub mod jws;
mod signing_key;

pub use jwk::{thumbprint, VerifyingKey};
pub use jws::{Compact, Header};
pub use signing_key::SigningKey;

/// Why a key or a JWS was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    #[error("not a JWS in compact serialization: {0}")]
    Malformed(&'static str),
    #[error("unusable key: {0}")]
    Key(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("{0}")]
    Crypto(&'static str),
}

impl From<aws_lc_rs::error::KeyRejected> for JoseError {
    fn from(e: aws_lc_rs::error::KeyRejected) -> Self {
        JoseError::Key(e.to_string())
    }
}

impl From<aws_lc_rs::error::Unspecified> for JoseError {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        JoseError::Crypto("the crypto library refused the operation")
    }
}

/// The JWS algorithms we know (RFC 7518 §3.1, RFC 8037 §3.1; EdDSA only with Ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    PS256,
    ES256,
    ES384,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 5] = [Alg::RS256, Alg::PS256, Alg::ES256, Alg::ES384, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// `None` for every other name, `none` included.
    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The JWK key type (`kty`) the algorithm signs with.
    pub fn key_type(self) -> &'static str {
        match self {
            Alg::RS256 | Alg::PS256 => "RSA",
            Alg::ES256 | Alg::ES384 => "EC",
            Alg::EdDSA => "OKP",
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// base64url without padding (RFC 7515 §2), strict: padding or other alphabets are refused.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}
