//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3, OIDC Core §9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523 §2.2) and `none` for public clients.
//!
//! Secrets are compared as SHA-256 digests in constant time; an unknown client and a wrong
//! secret produce the same error.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::app::AppState;
use crate::domain::client::{AuthMethod, Client};
use crate::error::OAuthError;
use crate::http::params::Params;
use crate::secrets::now;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew allowed on `exp`, `iat` and `nbf`, in seconds.
const SKEW: i64 = 30;
const FAILED: &str = "client authentication failed";

/// The credentials a request carried, before checking them.
enum Presented {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
    Assertion { id: String, jwt: String },
    None { id: String },
}

fn presented(headers: &HeaderMap, p: &Params) -> Result<Presented, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
    let secret = p.get("client_secret");
    let assertion = p.get("client_assertion");
    // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
    let methods = [basic.is_some(), secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|m| **m)
        .count();
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method was used",
        ));
    }
    if let Some(b64) = basic {
        let decoded = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
        let (id, secret) = (form_decode(id), form_decode(secret));
        if let Some(body_id) = p.get("client_id") {
            if body_id != id {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the authenticated client",
                ));
            }
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(jwt) = assertion {
        if p.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let subject = unverified_subject(jwt)
            .ok_or_else(|| OAuthError::invalid_client("malformed client assertion", false))?;
        if p.get("client_id").is_some_and(|id| id != subject) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the client assertion",
            ));
        }
        return Ok(Presented::Assertion {
            id: subject,
            jwt: jwt.to_owned(),
        });
    }
    let id = p
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required", false))?
        .to_owned();
    Ok(match secret {
        Some(s) => Presented::Post {
            id,
            secret: s.to_owned(),
        },
        None => Presented::None { id },
    })
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The `sub` of a JWT, read without verifying it (only to find whose keys to verify with).
fn unverified_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("sub")?.as_str().map(str::to_owned)
}

/// Authenticates the client of a request, or answers `invalid_client`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    p: &Params,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let presented = presented(headers, p)?;
    let (id, method, basic) = match &presented {
        Presented::Basic { id, .. } => (id, AuthMethod::ClientSecretBasic, true),
        Presented::Post { id, .. } => (id, AuthMethod::ClientSecretPost, false),
        Presented::Assertion { id, .. } => (id, AuthMethod::PrivateKeyJwt, false),
        Presented::None { id } => (id, AuthMethod::None, false),
    };
    let fail = || OAuthError::invalid_client(FAILED, basic);
    let client = state
        .storage
        .client(id)
        .await?
        .filter(|c| c.enabled)
        .ok_or_else(fail)?;
    if client.auth_method != method {
        return Err(fail());
    }
    let ok = match &presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => client
            .secret_hash
            .as_ref()
            .is_some_and(|h| h.matches(secret)),
        Presented::Assertion { jwt, .. } => verify_assertion(state, &client, jwt).await?,
        Presented::None { .. } => client.is_public(),
    };
    if ok {
        Ok(client)
    } else {
        Err(fail())
    }
}

/// RFC 7523 §3 checks of a `private_key_jwt` assertion against the client's registered keys.
async fn verify_assertion(
    state: &AppState,
    client: &Client,
    jwt: &str,
) -> Result<bool, OAuthError> {
    let Some((payload, _)) = super::client_keys::verify(client, jwt) else {
        return Ok(false);
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&payload) else {
        return Ok(false);
    };
    let id = client.client_id.as_str();
    let t = now();
    let str_claim = |n: &str| claims.get(n).and_then(|v| v.as_str());
    // RFC 7523 §3 item 3 and the OpenID Foundation's 2025 advisory on audience injection: the
    // audience is this authorization server — its issuer or its token endpoint — and nothing
    // else: a single string, or an array holding just that one value.
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => audience_ok(state, a),
        Some(serde_json::Value::Array(list)) => {
            list.len() == 1 && list[0].as_str().is_some_and(|a| audience_ok(state, a))
        }
        _ => false,
    };
    let time = |n: &str| claims.get(n).and_then(|v| v.as_i64());
    let exp = time("exp");
    let Some(jti) = str_claim("jti") else {
        return Ok(false);
    };
    let valid = str_claim("iss") == Some(id)
        && str_claim("sub") == Some(id)
        && aud_ok
        // Not expired (a small leeway for clock skew); an assertion may not live an hour.
        && exp.is_some_and(|e| e + SKEW >= t && e <= t + 3600)
        // Issued, not in the future (RFC 7519 §4.1.6), and within the hour.
        && time("iat").is_some_and(|i| i <= t + SKEW && i >= t - 3600)
        // If present, already valid (RFC 7519 §4.1.5).
        && claims.get("nbf").is_none_or(|n| n.as_i64().is_some_and(|n| n <= t + SKEW));
    if !valid {
        return Ok(false);
    }
    // Replay protection: each jti once (RFC 7523 §3, item 7).
    let fresh = state
        .storage
        .use_once(&format!("{id}:{jti}"), exp.unwrap_or(t) + 60)
        .await?;
    Ok(fresh)
}

/// The assertion's audience names the issuer or the token endpoint (OIDC Core §9, RFC 7523 §3),
/// whichever endpoint the assertion is presented at.
fn audience_ok(state: &AppState, aud: &str) -> bool {
    aud == state.config.issuer || aud == state.endpoints.token
}
