//! Compact JWS (RFC 7515 §7.1): reading a token's protected header, checking its signature,
//! and signing.

use serde_json::{Map, Value};

use super::{b64, unb64, JoseError, SigningKey, VerifyingKey};

/// The JOSE header of a JWS (RFC 7515 §4).
#[derive(Debug, Clone)]
pub struct Header(Map<String, Value>);

impl Header {
    pub fn algorithm(&self) -> Option<&str> {
        self.text("alg")
    }

    pub fn key_id(&self) -> Option<&str> {
        self.text("kid")
    }

    pub fn token_type(&self) -> Option<&str> {
        self.text("typ")
    }

    /// Any member, e.g. the `jwk` of a DPoP proof.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
}

/// A JWS in compact serialization, its header decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Compact<'a> {
    pub header: Header,
    /// `BASE64URL(header) . BASE64URL(payload)`: what the signature covers.
    signing_input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
}

impl<'a> Compact<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JoseError> {
        use JoseError::Malformed;
        let mut parts = token.split('.');
        let (Some(h), Some(payload), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Malformed("a JWS has three parts"));
        };
        let header: Map<String, Value> = unb64(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Malformed("the header is not base64url JSON"))?;
        // RFC 7515 §4.1.11: extensions we do not understand make the JWS invalid; we
        // understand none (so `b64: false`, RFC 7797, never applies either).
        if header.contains_key("crit") {
            return Err(Malformed("critical header extensions are not supported"));
        }
        let signature = unb64(s).ok_or(Malformed("the signature is not base64url"))?;
        Ok(Self {
            header: Header(header),
            signing_input: &token[..h.len() + 1 + payload.len()],
            payload,
            signature,
        })
    }

    /// The payload, if `key` verifies the signature and the header names the key's algorithm
    /// (RFC 8725 §3.1: the algorithm comes from the key, never from the token alone).
    pub fn verify(&self, key: &VerifyingKey) -> Result<Vec<u8>, JoseError> {
        if self.header.algorithm() != Some(key.alg().as_str())
            || !key.verifies(self.signing_input.as_bytes(), &self.signature)
        {
            return Err(JoseError::Signature);
        }
        unb64(self.payload).ok_or(JoseError::Malformed("the payload is not base64url"))
    }
}

/// `payload` signed by `key` as a compact JWS whose header has `alg`, `kid` and `typ`.
pub fn sign(key: &SigningKey, kid: &str, typ: &str, payload: &[u8]) -> Result<String, JoseError> {
    let header = serde_json::json!({ "alg": key.alg().as_str(), "kid": kid, "typ": typ });
    let mut token = b64(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&b64(payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64(&signature));
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::Alg;

    #[test]
    fn what_we_sign_verifies_for_every_algorithm_and_tampering_does_not() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let public = key.verifying_key().unwrap();
            let jws = sign(&key, "k1", "JWT", br#"{"a":1}"#).unwrap();
            let parsed = Compact::parse(&jws).unwrap();
            assert_eq!(parsed.header.key_id(), Some("k1"));
            assert_eq!(parsed.header.token_type(), Some("JWT"));
            assert_eq!(parsed.verify(&public).unwrap(), br#"{"a":1}"#);
            let mut parts: Vec<&str> = jws.split('.').collect();
            parts[1] = "eyJhIjoyfQ";
            let tampered = parts.join(".");
            assert!(Compact::parse(&tampered).unwrap().verify(&public).is_err());
        }
    }

    #[test]
    fn the_header_cannot_choose_another_algorithm_or_none() {
        let key = SigningKey::generate(Alg::RS256).unwrap();
        let public = key.verifying_key().unwrap();
        let jws = sign(&key, "k1", "JWT", b"{}").unwrap();
        let (_, rest) = jws.split_once('.').unwrap();
        for alg in ["PS256", "none", "HS256"] {
            let header = b64(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#).as_bytes());
            let forged = format!("{header}.{rest}");
            assert!(Compact::parse(&forged).unwrap().verify(&public).is_err());
        }
        let unsigned = format!("{}.e30.", b64(br#"{"alg":"none"}"#));
        assert!(Compact::parse(&unsigned).unwrap().verify(&public).is_err());
    }

    #[test]
    fn malformed_tokens_and_critical_extensions_are_refused() {
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.!!"] {
            assert!(Compact::parse(bad).is_err(), "{bad}");
        }
        let crit = format!(
            "{}.e30.AA",
            b64(br#"{"alg":"ES256","crit":["b64"],"b64":false}"#)
        );
        assert!(Compact::parse(&crit).is_err());
    }
}
