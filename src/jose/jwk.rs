//! Public JWKs (RFC 7517) as keys that verify signatures, and their thumbprints (RFC 7638).

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED,
    ECDSA_P384_SHA384_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{b64, unb64, Alg, JoseError};

/// Members of a private or symmetric key (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): a
/// key given to us to verify with must have none of them.
const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public key parsed once for one algorithm; it verifies many signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Alg,
    kid: Option<String>,
    key: ParsedPublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

impl VerifyingKey {
    /// The key of a public JWK, for `alg`. The JWK must be public, of the algorithm's key type
    /// (and curve), for signatures (`use`), and for this algorithm if it names one (`alg`).
    pub fn from_jwk(jwk: &Map<String, Value>, alg: Alg) -> Result<Self, JoseError> {
        let bad = |what: &str| JoseError::Key(what.to_owned());
        if !is_public(jwk) {
            return Err(bad("the JWK has private key members"));
        }
        let text = |n: &str| jwk.get(n).and_then(Value::as_str);
        if text("kty") != Some(alg.key_type()) {
            return Err(JoseError::Key(format!(
                "{alg} needs a {} key",
                alg.key_type()
            )));
        }
        if jwk
            .get("alg")
            .is_some_and(|a| a.as_str() != Some(alg.as_str()))
        {
            return Err(bad("the JWK is for another algorithm"));
        }
        // RFC 7517 §4.2: a key marked for encryption is not one to verify with.
        if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
            return Err(bad("the JWK is not for signatures (use)"));
        }
        let bytes = |n: &str| {
            text(n)
                .and_then(unb64)
                .ok_or_else(|| JoseError::Key(format!("the JWK's {n} is not base64url")))
        };
        let key = match alg {
            Alg::RS256 | Alg::PS256 => {
                let (n, e) = (bytes("n")?, bytes("e")?);
                let params = if alg == Alg::RS256 {
                    &RSA_PKCS1_2048_8192_SHA256
                } else {
                    &RSA_PSS_2048_8192_SHA256
                };
                // RFC 7518 §3.3: keys of 2048 bits or more (checked again at each signature).
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < 2048 {
                    return Err(bad("RSA keys must have at least 2048 bits"));
                }
                RsaPublicKeyComponents { n: &n, e: &e }.to_parsed_public_key(params)?
            }
            Alg::ES256 | Alg::ES384 => {
                let (crv, size, verification): (_, _, &'static dyn VerificationAlgorithm) =
                    if alg == Alg::ES256 {
                        ("P-256", 32, &ECDSA_P256_SHA256_FIXED)
                    } else {
                        ("P-384", 48, &ECDSA_P384_SHA384_FIXED)
                    };
                if text("crv") != Some(crv) {
                    return Err(JoseError::Key(format!("{alg} needs a {crv} key")));
                }
                let (x, y) = (bytes("x")?, bytes("y")?);
                // RFC 7518 §6.2.1.2: coordinates are the full size of the curve.
                if x.len() != size || y.len() != size {
                    return Err(bad("the EC key's coordinates have the wrong length"));
                }
                // SEC 1 §2.3.3 uncompressed point; aws-lc checks that it is on the curve.
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ParsedPublicKey::new(verification, point)?
            }
            Alg::EdDSA => {
                if text("crv") != Some("Ed25519") {
                    return Err(bad("EdDSA needs an Ed25519 key"));
                }
                let x = bytes("x")?;
                if x.len() != 32 {
                    return Err(bad("an Ed25519 key has 32 bytes"));
                }
                ParsedPublicKey::new(&ED25519, x)?
            }
        };
        Ok(Self {
            alg,
            kid: text("kid").map(str::to_owned),
            key,
        })
    }

    /// The algorithms a JWK may verify: its `alg`, else what its type (and curve) signs
    /// with — an RSA key without `alg` both RS256 and PS256. Empty for what we do not know.
    pub fn algs_of(jwk: &Map<String, Value>) -> Vec<Alg> {
        if let Some(alg) = jwk.get("alg") {
            return alg.as_str().and_then(Alg::parse).into_iter().collect();
        }
        match (
            jwk.get("kty").and_then(Value::as_str),
            jwk.get("crv").and_then(Value::as_str),
        ) {
            (Some("RSA"), _) => vec![Alg::RS256, Alg::PS256],
            (Some("EC"), Some("P-384")) => vec![Alg::ES384],
            (Some("EC"), _) => vec![Alg::ES256],
            (Some("OKP"), _) => vec![Alg::EdDSA],
            _ => vec![],
        }
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `signature` (the JWS encoding: ECDSA as `r || s`, RFC 7518 §3.4) signs
    /// `message` with this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// Whether a JWK has no private or symmetric key members.
pub fn is_public(jwk: &Map<String, Value>) -> bool {
    !PRIVATE.iter().any(|m| jwk.contains_key(*m))
}

/// The keys of a JWK Set (RFC 7517 §5) that we can verify with, one per key and algorithm,
/// for a registration: keys of other types or algorithms and keys for encryption
/// (`use: enc`) are skipped (§5: "implementations SHOULD ignore JWKs ... they do not
/// understand"), a malformed key of a known type is an error.
pub fn key_set(jwks: &str) -> Result<Vec<VerifyingKey>, JoseError> {
    parse_set(jwks, None)
}

/// The keys of a registered JWK Set that may verify a JWS with `alg` and, when the JWS names
/// one, `kid`: only those are parsed (a client assertion or request object costs one key
/// parse, not one per registered key). Keys that do not parse are skipped (a set registered
/// before the checks of [`key_set`] existed keeps its good keys).
pub fn usable_keys(jwks: &str, alg: Alg, kid: Option<&str>) -> Vec<VerifyingKey> {
    parse_set(jwks, Some((alg, kid))).unwrap_or_default()
}

/// Strict (for a registration) without `want`; with it, lenient and only the wanted keys.
fn parse_set(
    jwks: &str,
    want: Option<(Alg, Option<&str>)>,
) -> Result<Vec<VerifyingKey>, JoseError> {
    let strict = want.is_none();
    let set: Value =
        serde_json::from_str(jwks).map_err(|_| JoseError::Key("not a JSON object".into()))?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JoseError::Key("a JWK Set has a \"keys\" array".into()))?;
    let mut out = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let Some(jwk) = key.as_object() else {
            if strict {
                return Err(JoseError::Key(format!("key {i} is not a JSON object")));
            }
            continue;
        };
        if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
            continue;
        }
        if let Some((_, Some(kid))) = want {
            if jwk.get("kid").and_then(Value::as_str) != Some(kid) {
                continue;
            }
        }
        let algs = VerifyingKey::algs_of(jwk);
        for alg in algs
            .into_iter()
            .filter(|a| want.is_none_or(|(w, _)| w == *a))
        {
            match VerifyingKey::from_jwk(jwk, alg) {
                Ok(k) => out.push(k),
                Err(e) if strict => return Err(JoseError::Key(format!("key {i}: {e}"))),
                Err(_) => {}
            }
        }
    }
    Ok(out)
}

/// RFC 7638 §3: SHA-256 of the key's required members, in lexicographic order, base64url.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, m) in members.iter().enumerate() {
        let v = jwk.get(*m)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&format!("\"{m}\":{}", Value::String(v.to_owned())));
    }
    canonical.push('}');
    Some(b64(&Sha256::digest(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn thumbprint_is_rfc7638s_example() {
        let key = jwk(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        );
        assert_eq!(
            thumbprint(&key).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // RFC 8037 §A.3: the thumbprint of an Ed25519 key.
        let ed = jwk(
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        );
        assert_eq!(
            thumbprint(&ed).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rfc8037s_ed25519_signature_verifies() {
        // RFC 8037 §A.4: the JWS of "Example of Ed25519 signing" with the key of §A.1.
        let key = VerifyingKey::from_jwk(
            &jwk(r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#),
            Alg::EdDSA,
        )
        .unwrap();
        let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let parsed = crate::jose::Compact::parse(jws).unwrap();
        assert_eq!(parsed.verify(&key).unwrap(), b"Example of Ed25519 signing");
    }

    #[test]
    fn private_wrong_type_and_short_keys_are_refused() {
        let ed =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo""#;
        assert!(VerifyingKey::from_jwk(
            &jwk(&format!(
                "{ed},\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}}"
            )),
            Alg::EdDSA
        )
        .is_err());
        assert!(
            VerifyingKey::from_jwk(&jwk(&format!("{ed},\"use\":\"enc\"}}")), Alg::EdDSA).is_err()
        );
        assert!(
            VerifyingKey::from_jwk(&jwk(&format!("{ed},\"alg\":\"ES256\"}}")), Alg::EdDSA).is_err()
        );
        assert!(VerifyingKey::from_jwk(&jwk(&format!("{ed}}}")), Alg::ES256).is_err());
        // RFC 7517 §A.1's 2048-bit key is fine; one of 1024 bits is not.
        let short = format!(r#"{{"kty":"RSA","e":"AQAB","n":"{}"}}"#, b64(&[0xC5; 128]));
        assert!(VerifyingKey::from_jwk(&jwk(&short), Alg::RS256).is_err());
        // A point that is not on the curve.
        let off = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            b64(&[1; 32]),
            b64(&[2; 32])
        );
        assert!(VerifyingKey::from_jwk(&jwk(&off), Alg::ES256).is_err());
    }

    #[test]
    fn a_key_set_skips_unknown_types_and_refuses_broken_keys() {
        let ok = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","use":"enc","n":"AA","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}"#;
        let keys = key_set(ok).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].alg(), keys[0].kid()), (Alg::EdDSA, Some("a")));
        let broken = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(key_set(broken).is_err());
        // Already registered: the good key still works.
        assert_eq!(usable_keys(broken, Alg::EdDSA, None).len(), 1);
        // Only the keys for the JWS's algorithm and kid are parsed.
        assert!(usable_keys(ok, Alg::ES256, None).is_empty());
        assert_eq!(usable_keys(ok, Alg::EdDSA, Some("a")).len(), 1);
        assert!(usable_keys(ok, Alg::EdDSA, Some("b")).is_empty());
        assert!(key_set(r#"{"kty":"OKP"}"#).is_err());
    }
}
