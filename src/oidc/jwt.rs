//! The JWTs we sign and read back: access tokens (RFC 9068), ID tokens (OIDC Core §2) and
//! logout tokens (OIDC Back-Channel Logout §2.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::domain::amr::Amr;
use crate::domain::client::SigningAlg;
use crate::secrets::now;

/// `typ` of JWT access tokens (RFC 9068 §2.1).
pub const TYP_ACCESS: &str = "at+jwt";
pub const TYP_ID: &str = "JWT";
/// `typ` of logout tokens (Back-Channel Logout §2.4, recommended).
pub const TYP_LOGOUT: &str = "logout+jwt";

/// RFC 9068 §2.2 claims, plus the session context of user tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amr: Option<Amr>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// The key the token is bound to (RFC 9449 §6.1, RFC 7800).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
}

/// `cnf` of a DPoP-bound token: the JWK SHA-256 thumbprint of the client's proof key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessTokenClaims {
    /// User tokens carry their token family in the `jti` (`<family>.<random>`), so that a
    /// revoked family (code reuse, refresh reuse, logout) invalidates its access tokens.
    pub fn family_id(&self) -> Option<&str> {
        self.sid.as_ref()?;
        self.jti.split_once('.').map(|(f, _)| f)
    }
}

/// Verifies signature, `typ`, issuer and expiry of an access token we issued.
pub fn verify_access_token(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    let (payload, header) = state.keys.verify(token)?;
    if header.token_type() != Some(TYP_ACCESS) {
        return None;
    }
    let claims: AccessTokenClaims = serde_json::from_slice(&payload).ok()?;
    (claims.iss == state.config.issuer && claims.exp > now()).then_some(claims)
}

/// The claims of an ID token we issued, checking signature and issuer but not expiry (an
/// expired ID token is still a valid `id_token_hint`, OIDC RP-Initiated Logout §2).
pub fn verify_id_token_hint(
    state: &AppState,
    token: &str,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let (payload, header) = state.keys.verify(token)?;
    if header.token_type() == Some(TYP_ACCESS) || header.token_type() == Some(TYP_LOGOUT) {
        return None;
    }
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).ok()?;
    (claims.get("iss").and_then(|v| v.as_str()) == Some(state.config.issuer.as_str()))
        .then_some(claims)
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the access token's hash, base64url, with
/// the hash of the ID token's `alg`: SHA-256 for RS256 and ES256, SHA-512 for EdDSA with
/// Ed25519 (as node oidc-provider's `oidc-token-hash` and the `openidconnect` crate do: Ed25519
/// hashes with SHA-512, RFC 8032 §5.1).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        SigningAlg::EdDSA => {
            let digest = sha2::Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}

/// An access token that verifies and has not been revoked, directly (RFC 7009) or through its
/// family (code reuse, refresh reuse, logout). The signature check and the answer about a
/// directly revoked token are reused from [`super::token_cache`] while they hold.
pub async fn live_access_token(
    state: &AppState,
    token: &str,
) -> Result<Option<LiveToken>, crate::error::Internal> {
    let key = super::token_cache::TokenCache::key(token);
    let revocations = state.storage.revocations();
    let (claims, revoked, fresh) = match state.token_cache.get(&key, |e| revocations.still(e)) {
        Some(known) => (known.claims, known.revoked, false),
        None => match verify_access_token(state, token) {
            Some(c) => (std::sync::Arc::new(c), None, true),
            None => return Ok(None),
        },
    };
    if claims.exp <= now() {
        return Ok(None);
    }
    let revoked = match revoked {
        Some(r) => r,
        None => {
            // The epoch before the database: a revocation written after this read moves it,
            // so the answer is not reused past that revocation.
            let epoch = revocations.current();
            let r = state.storage.is_jti_revoked(&claims.jti).await?;
            state
                .token_cache
                .put(key, std::sync::Arc::clone(&claims), r, epoch, fresh);
            r
        }
    };
    if revoked {
        return Ok(None);
    }
    // A token of a disabled or removed client is dead at once (issue 11.12), whatever its
    // grant: client_credentials tokens have no family to revoke.
    match state.storage.client(&claims.client_id).await? {
        Some(c) if c.enabled => {}
        _ => return Ok(None),
    }
    let family = match claims.family_id() {
        Some(id) => {
            let t = now();
            match state.storage.family(id).await? {
                Some(f) if f.is_active(t) => Some(f),
                _ => return Ok(None),
            }
        }
        None => None,
    };
    Ok(Some(LiveToken {
        claims: (*claims).clone(),
        family,
    }))
}

/// A valid, unrevoked access token and, for a person's token, its live family.
pub struct LiveToken {
    pub claims: AccessTokenClaims,
    pub family: Option<crate::storage::tokens::TokenFamily>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256_base64url() {
        // Vector computed independently with Python's hashlib and base64.
        assert_eq!(
            at_hash(
                SigningAlg::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnKjBGpNzJYlRVR8AyrdS"
            ),
            "aELK228-_p6hdSJqKviZTQ"
        );
        // EdDSA: the left half of SHA-512 (`python3 -c "import hashlib, base64;
        // print(base64.urlsafe_b64encode(hashlib.sha512(b'...').digest()[:32]))"`).
        assert_eq!(
            at_hash(
                SigningAlg::EdDSA,
                "jHkWEdUXMU1BwAsC4vtUsZwnKjBGpNzJYlRVR8AyrdS"
            ),
            "MSYsy61VYOzoxDUMaqOOzaIP0QRnqw2Qdyt-LVCVcEk"
        );
    }
}
