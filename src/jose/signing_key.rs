//! Private keys we sign with: generated here, kept as PKCS#8 PEM (RFC 5208, RFC 7468 §10),
//! published as public JWKs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{b64, Alg, JoseError, VerifyingKey};

/// PEM label of PKCS#8 private keys (RFC 7468 §10).
const PKCS8: &str = "PRIVATE KEY";
/// PEM label of PKCS#1 RSA private keys, read for keys made by other tools.
const PKCS1: &str = "RSA PRIVATE KEY";

/// A private key and the algorithm it signs with.
pub struct SigningKey {
    alg: Alg,
    pair: Pair,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// A fresh key: RSA keys have 2048 bits (RFC 7518 §3.3's minimum, what every peer
    /// publishes; NIST SP 800-57 deems it adequate until 2030).
    pub fn generate(alg: Alg) -> Result<Self, JoseError> {
        let pair = match alg {
            Alg::RS256 | Alg::PS256 => Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048)?),
            Alg::ES256 => Pair::Ecdsa(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?),
            Alg::ES384 => Pair::Ecdsa(EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING)?),
            Alg::EdDSA => Pair::Ed25519(Ed25519KeyPair::generate()?),
        };
        Ok(Self { alg, pair })
    }

    /// A key from its PEM: PKCS#8, or PKCS#1 for RSA.
    pub fn from_pem(alg: Alg, pem: &[u8]) -> Result<Self, JoseError> {
        let (label, der) = pem_rfc7468::decode_vec(pem)
            .map_err(|e| JoseError::Key(format!("not a PEM private key: {e}")))?;
        let der = Zeroizing::new(der);
        let pair = match (alg, label) {
            (Alg::RS256 | Alg::PS256, PKCS8) => Pair::Rsa(RsaKeyPair::from_pkcs8(&der)?),
            (Alg::RS256 | Alg::PS256, PKCS1) => Pair::Rsa(RsaKeyPair::from_der(&der)?),
            (Alg::ES256, PKCS8) => Pair::Ecdsa(EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )?),
            (Alg::ES384, PKCS8) => Pair::Ecdsa(EcdsaKeyPair::from_pkcs8(
                &ECDSA_P384_SHA384_FIXED_SIGNING,
                &der,
            )?),
            (Alg::EdDSA, PKCS8) => Pair::Ed25519(Ed25519KeyPair::from_pkcs8(&der)?),
            (_, label) => {
                return Err(JoseError::Key(format!(
                    "a {alg} key cannot be read from a PEM \"{label}\""
                )))
            }
        };
        Ok(Self { alg, pair })
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        let der = match &self.pair {
            Pair::Rsa(k) => Zeroizing::new(k.as_der()?.as_ref().to_vec()),
            Pair::Ecdsa(k) => Zeroizing::new(k.to_pkcs8v1()?.as_ref().to_vec()),
            Pair::Ed25519(k) => Zeroizing::new(k.to_pkcs8v1()?.as_ref().to_vec()),
        };
        let pem = pem_rfc7468::encode_string(PKCS8, pem_rfc7468::LineEnding::LF, &der)
            .map_err(|_| JoseError::Crypto("the key could not be written as PEM"))?;
        Ok(Zeroizing::new(pem.into_bytes()))
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public key as a JWK (RFC 7518 §6.2, §6.3; RFC 8037 §2), without `kid`/`alg`/`use`.
    pub fn public_jwk(&self) -> Map<String, Value> {
        let mut jwk = Map::new();
        let mut put = |k: &str, v: String| {
            jwk.insert(k.to_owned(), Value::String(v));
        };
        match &self.pair {
            Pair::Rsa(k) => {
                let public = k.public_key();
                put("kty", "RSA".into());
                put("n", b64(public.modulus().big_endian_without_leading_zero()));
                put(
                    "e",
                    b64(public.exponent().big_endian_without_leading_zero()),
                );
            }
            Pair::Ecdsa(k) => {
                // The uncompressed point 0x04 || x || y (SEC 1 §2.3.3).
                let point = k.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                put("kty", "EC".into());
                put(
                    "crv",
                    if self.alg == Alg::ES384 {
                        "P-384"
                    } else {
                        "P-256"
                    }
                    .into(),
                );
                put("x", b64(&point[1..1 + size]));
                put("y", b64(&point[1 + size..]));
            }
            Pair::Ed25519(k) => {
                put("kty", "OKP".into());
                put("crv", "Ed25519".into());
                put("x", b64(k.public_key().as_ref()));
            }
        }
        jwk
    }

    /// The matching public key, to verify what this key signed.
    pub fn verifying_key(&self) -> Result<VerifyingKey, JoseError> {
        VerifyingKey::from_jwk(&self.public_jwk(), self.alg)
    }

    /// The JWS signature of `message` (ECDSA as `r || s`, RFC 7518 §3.4).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        match &self.pair {
            Pair::Rsa(k) => {
                let padding = if self.alg == Alg::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; k.public_modulus_len()];
                k.sign(padding, &SystemRandom::new(), message, &mut signature)?;
                Ok(signature)
            }
            Pair::Ecdsa(k) => Ok(k.sign(&SystemRandom::new(), message)?.as_ref().to_vec()),
            Pair::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_its_pem() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let pem = key.to_pem().unwrap();
            assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
            let again = SigningKey::from_pem(alg, &pem).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk());
        }
        let ed = SigningKey::generate(Alg::EdDSA).unwrap().to_pem().unwrap();
        assert!(SigningKey::from_pem(Alg::ES256, &ed).is_err());
        assert!(SigningKey::from_pem(Alg::RS256, b"not a key").is_err());
    }

    #[test]
    fn keys_written_by_josekit_with_openssl_still_load() {
        // Keys of deployments before the switch to aws-lc-rs (docs/decisions.md).
        use josekit::jwk::KeyPair as _;
        let rsa = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
        let key = SigningKey::from_pem(Alg::RS256, &rsa.to_pem_private_key()).unwrap();
        let theirs = rsa.to_jwk_public_key();
        assert_eq!(
            key.public_jwk().get("n").and_then(Value::as_str),
            theirs.parameter("n").and_then(Value::as_str)
        );
        let ec = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap();
        let key = SigningKey::from_pem(Alg::ES256, &ec.to_pem_private_key()).unwrap();
        let theirs = ec.to_jwk_public_key();
        assert_eq!(
            key.public_jwk().get("x").and_then(Value::as_str),
            theirs.parameter("x").and_then(Value::as_str)
        );
        // And josekit (OpenSSL) verifies what we sign.
        let jws = super::super::jws::sign(&key, "k", "JWT", b"{}").unwrap();
        let verifier = josekit::jws::ES256.verifier_from_jwk(&theirs).unwrap();
        josekit::jws::deserialize_compact(&jws, &verifier).unwrap();
    }
}
