//! DPoP (RFC 9449): a client proves possession of a key with a fresh signed proof on each
//! request (the `DPoP` header), and the tokens issued to it are bound to that key's
//! thumbprint (`cnf.jkt`), so that a stolen token is useless without the private key.
//!
//! A proof is checked for its `typ`, an allowed algorithm, a public `jwk` that verifies its
//! signature, the request's method and URL (`htm`, `htu`), a recent `iat`, the access token's
//! hash (`ath`) at resource endpoints, our nonce (§8) when nonces are required, and a `jti`
//! seen only once — in the database, so on every node (§11.1).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::Internal;
use crate::jose::{Alg, Compact, VerifyingKey};
use crate::secrets::now;

pub use crate::jose::thumbprint;

/// The algorithms a proof may be signed with (`dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 5] = ["ES256", "ES384", "RS256", "PS256", "EdDSA"];
/// The response header that carries our nonce (§8.1).
pub const NONCE_HEADER: &str = "dpop-nonce";
/// §4.2: `typ` of a proof.
const TYP: &str = "dpop+jwt";
/// How old a proof may be (its `iat`), and how far in the future, in seconds (§4.3 item 11,
/// §11.1: a short window limits what a replay cache must remember).
const MAX_AGE: i64 = 120;
const SKEW: i64 = 30;
/// A nonce is good for the window it was made in and the next one (§8: the server decides).
const NONCE_WINDOW: i64 = 300;

/// A valid proof: the thumbprint (RFC 7638) of the key it was signed with.
#[derive(Debug, Clone)]
pub struct Proof {
    pub jkt: String,
}

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// `invalid_dpop_proof` (§5, §7.1).
    #[error("invalid_dpop_proof: {0}")]
    Invalid(&'static str),
    /// `use_dpop_nonce` (§8): no nonce, or an old one; the response carries a fresh one.
    #[error("use_dpop_nonce: the proof must carry the server's current nonce")]
    UseNonce,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<DpopError> for crate::error::OAuthError {
    fn from(e: DpopError) -> Self {
        use crate::error::{ErrorCode, OAuthError};
        match e {
            DpopError::Invalid(d) => OAuthError::protocol(ErrorCode::InvalidDpopProof, d),
            DpopError::UseNonce => OAuthError::protocol(
                ErrorCode::UseDpopNonce,
                "the proof must carry the server's current nonce (DPoP-Nonce header)",
            ),
            DpopError::Internal(e) => OAuthError::Internal(e),
        }
    }
}

impl From<DpopError> for crate::error::BearerError {
    fn from(e: DpopError) -> Self {
        use crate::error::BearerError;
        match e {
            DpopError::Invalid(description) => BearerError::Dpop {
                error: "invalid_dpop_proof",
                description,
            },
            DpopError::UseNonce => BearerError::Dpop {
                error: "use_dpop_nonce",
                description: "the proof must carry the server's current nonce (DPoP-Nonce header)",
            },
            DpopError::Internal(e) => BearerError::Internal(e),
        }
    }
}

/// The request a proof must be bound to.
pub struct Target<'a> {
    pub method: &'a str,
    /// The endpoint's URL (without query and fragment).
    pub url: &'a str,
    /// At a resource endpoint: the access token presented with the proof (`ath`, §4.3).
    pub access_token: Option<&'a str>,
}

/// The proof of the request's `DPoP` header, checked against `target`; `None` without one.
pub async fn proof(
    state: &AppState,
    headers: &HeaderMap,
    target: &Target<'_>,
) -> Result<Option<Proof>, DpopError> {
    use DpopError::Invalid;
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Invalid("more than one DPoP header"));
    }
    let jwt = value
        .to_str()
        .map_err(|_| Invalid("the DPoP header is not a JWT"))?;
    let (claims, jkt) = verify_signature(&state.dpop_keys, jwt)?;
    let text = |n: &str| claims.get(n).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(Invalid("the proof has no jti"))?;
    if text("htm") != Some(target.method) {
        return Err(Invalid("the proof's htm is not this request's method"));
    }
    match (
        text("htu").and_then(without_query),
        without_query(target.url),
    ) {
        (Some(a), Some(b)) if a == b => {}
        _ => return Err(Invalid("the proof's htu is not this endpoint's URL")),
    }
    let t = now();
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(Invalid("the proof has no iat"))?;
    if iat < t - MAX_AGE || iat > t + SKEW {
        return Err(Invalid("the proof's iat is too old or in the future"));
    }
    if let Some(token) = target.access_token {
        if text("ath") != Some(token_hash(token).as_str()) {
            return Err(Invalid("the proof's ath is not the access token's hash"));
        }
    }
    if state.config.protocol.dpop_nonce && !text("nonce").is_some_and(|n| nonce_valid(state, n, t))
    {
        return Err(DpopError::UseNonce);
    }
    // §11.1: each proof once, within its window, on every node.
    let fresh = state
        .storage
        .use_once(&format!("dpop:{jkt}:{jti}"), iat + MAX_AGE + SKEW)
        .await
        .map_err(Internal::from)?;
    if !fresh {
        return Err(Invalid("the proof was used before (jti)"));
    }
    Ok(Some(Proof { jkt }))
}

/// The proof keys seen lately, parsed, by thumbprint and algorithm: a client signs every
/// proof with the same key, and parsing a key (checking an EC point is on its curve, building
/// an RSA key) costs about as much as the signature check itself. Bounded: when full it
/// starts over, so a flood of fresh keys costs only the parsing it would cost anyway.
#[derive(Default)]
pub struct ProofKeys(RwLock<HashMap<KeyId, Arc<VerifyingKey>>>);

/// A proof key as the cache knows it: its thumbprint and the algorithm it verifies.
type KeyId = (String, Alg);

const MAX_KEYS: usize = 4096;

impl ProofKeys {
    fn get(&self, jkt: &str, alg: Alg) -> Option<Arc<VerifyingKey>> {
        let keys = self.0.read().ok()?;
        keys.get(&(jkt.to_owned(), alg)).cloned()
    }

    fn put(&self, jkt: String, alg: Alg, v: Arc<VerifyingKey>) {
        if let Ok(mut keys) = self.0.write() {
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
            keys.insert((jkt, alg), v);
        }
    }
}

/// The proof's claims and key thumbprint if its header is a proof's and its own key verifies
/// its signature with an allowed algorithm.
fn verify_signature(
    cache: &ProofKeys,
    jwt: &str,
) -> Result<(Map<String, Value>, String), DpopError> {
    use DpopError::Invalid;
    let jws = Compact::parse(jwt).map_err(|_| Invalid("the DPoP header is not a JWT"))?;
    if jws.header.token_type() != Some(TYP) {
        return Err(Invalid("the proof's typ must be dpop+jwt"));
    }
    let alg = jws
        .header
        .algorithm()
        .filter(|a| ALGS.contains(a))
        .and_then(Alg::parse)
        .ok_or(Invalid(
            "the proof's alg is not one of dpop_signing_alg_values_supported",
        ))?;
    let jwk = jws
        .header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(Invalid("the proof has no jwk"))?;
    if !crate::jose::jwk::is_public(jwk) {
        return Err(Invalid("the proof's jwk must be a public key"));
    }
    let jkt = thumbprint(jwk).ok_or(Invalid("the proof's jwk is not an EC, RSA or OKP key"))?;
    // The thumbprint covers the whole public key, so a cached key is the same key.
    let key = match cache.get(&jkt, alg) {
        Some(k) => k,
        None => {
            let k = Arc::new(
                VerifyingKey::from_jwk(jwk, alg)
                    .map_err(|_| Invalid("the proof's jwk does not fit its alg"))?,
            );
            cache.put(jkt.clone(), alg, Arc::clone(&k));
            k
        }
    };
    let payload = jws
        .verify(&key)
        .map_err(|_| Invalid("the proof's signature does not verify with its jwk"))?;
    let claims = serde_json::from_slice(&payload)
        .map_err(|_| Invalid("the proof's payload is not a JSON object"))?;
    Ok((claims, jkt))
}

/// `ath` (§4.2): base64url of the SHA-256 of the access token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// `htu` is compared without query and fragment (§4.3 item 9), after URL normalisation
/// (scheme and host case, default ports).
fn without_query(u: &str) -> Option<String> {
    let mut u = url::Url::parse(u).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.into())
}

/// The nonce of the current window: base64url(window || HMAC(window)[..16]), the same on every
/// node (the data key is shared), so no node needs to remember the nonces it handed out.
pub fn current_nonce(state: &AppState) -> String {
    nonce_for(state, now().div_euclid(NONCE_WINDOW))
}

fn nonce_for(state: &AppState, window: i64) -> String {
    let mac = state.data_key.dpop_nonce_mac(window);
    let mut bytes = window.to_be_bytes().to_vec();
    bytes.extend_from_slice(&mac[..16]);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn nonce_valid(state: &AppState, nonce: &str, t: i64) -> bool {
    let current = t.div_euclid(NONCE_WINDOW);
    [current, current - 1]
        .iter()
        .any(|w| crate::secrets::constant_time_eq(nonce, &nonce_for(state, *w)))
}

/// Adds our current nonce to a response of a request that carried a proof (§8.1), when
/// nonces are required.
pub fn with_nonce(
    state: &AppState,
    headers: &HeaderMap,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if state.config.protocol.dpop_nonce && headers.contains_key("dpop") {
        if let Ok(v) = HeaderValue::from_str(&current_nonce(state)) {
            response.headers_mut().insert(NONCE_HEADER, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_ignores_query_fragment_and_default_ports() {
        assert_eq!(
            without_query("HTTPS://IdP.example:443/token?x=1#f"),
            without_query("https://idp.example/token")
        );
        assert_ne!(
            without_query("https://idp.example/token2"),
            without_query("https://idp.example/token")
        );
    }
}
