//! Signed authorization request objects (RFC 9101, OIDC Core §6.1): the parameters of an
//! authorization request as the claims of a JWT the client signed with one of its registered
//! keys, passed by value in `request` — to the authorization endpoint or through the PAR
//! endpoint. Unsigned (`alg: none`) and encrypted objects are refused; `request_uri` values
//! that point elsewhere stay unsupported (discovery says `request_uri_parameter_supported:
//! false`).
//!
//! When an object is used only its parameters count (RFC 9101 §5, the outer ones are ignored
//! except `client_id`, which finds the keys).

use serde_json::{Map, Value};

use super::client_keys;
use crate::app::AppState;
use crate::domain::client::Client;
use crate::error::Internal;
use crate::http::params::Params;
use crate::secrets::now;

/// `typ` RFC 9101 §10.8 registers; `JWT` and no `typ` are accepted as well (§4: SHOULD).
const TYP: &str = "oauth-authz-req+jwt";
/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
const SKEW: i64 = 30;
/// The longest an object may be valid (FAPI 2.0 Message Signing §5.3.1: `exp` at most 60
/// minutes after `nbf`).
const MAX_LIFETIME: i64 = 3600;
/// The JWT claims that frame an object and are not authorization request parameters.
const FRAME: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// Why an object was refused (answered `invalid_request_object`, RFC 9101 §6.2).
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Internal(#[from] Internal),
}

/// The authorization request parameters inside `jwt`, a request object of `client`.
pub async fn parameters(
    state: &AppState,
    client: &Client,
    jwt: &str,
) -> Result<Params, ObjectError> {
    use ObjectError::Invalid;
    match jwt.split('.').count() {
        3 => {}
        5 => return Err(Invalid("encrypted request objects are not supported")),
        _ => {
            return Err(Invalid(
                "the request object is not a JWS in compact serialization",
            ))
        }
    }
    if client.jwks.is_none() {
        return Err(Invalid(
            "the client has no registered keys (jwks) to verify request objects with",
        ));
    }
    let (payload, header) = client_keys::verify(client, jwt).ok_or(Invalid(
        "the request object's signature does not verify with the client's keys and an allowed algorithm",
    ))?;
    if header.token_type().is_some_and(|t| t != TYP && t != "JWT") {
        return Err(Invalid(
            "the request object's typ must be oauth-authz-req+jwt",
        ));
    }
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| Invalid("the request object is not a JSON object"))?;
    let id = client.client_id.as_str();
    let text = |n: &str| claims.get(n).and_then(Value::as_str);
    // §4 and FAPI 2.0 Message Signing §5.3.1: issued by the client, for this issuer.
    if text("iss") != Some(id) {
        return Err(Invalid("the request object's iss must be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == state.config.issuer,
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(&state.config.issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(Invalid("the request object's aud must be the issuer"));
    }
    if text("client_id").is_some_and(|c| c != id) {
        return Err(Invalid(
            "the request object's client_id is not the client's",
        ));
    }
    let t = now();
    let time = |n: &str| -> Result<Option<i64>, ObjectError> {
        match claims.get(n) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or(Invalid("exp, nbf and iat must be numbers")),
        }
    };
    let exp = time("exp")?.ok_or(Invalid("the request object has no exp"))?;
    if exp + SKEW < t {
        return Err(Invalid("the request object has expired"));
    }
    let start = match (time("nbf")?, time("iat")?) {
        (Some(nbf), _) if nbf > t + SKEW => {
            return Err(Invalid("the request object is not valid yet (nbf)"))
        }
        (_, Some(iat)) if iat > t + SKEW => {
            return Err(Invalid("the request object was issued in the future (iat)"))
        }
        (Some(nbf), _) => nbf,
        (None, Some(iat)) => iat,
        (None, None) => t,
    };
    if exp - start > MAX_LIFETIME {
        return Err(Invalid("a request object may be valid for at most an hour"));
    }
    let jti = text("jti")
        .ok_or(Invalid("the request object has no jti"))?
        .to_owned();
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(Invalid(
            "a request object cannot contain request or request_uri",
        ));
    }
    let mut pairs = Vec::with_capacity(claims.len());
    for (name, value) in claims {
        if FRAME.contains(&name.as_str()) {
            continue;
        }
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            // `claims` (OIDC Core §5.5) and the like are JSON themselves.
            v @ Value::Object(_) => v.to_string(),
            Value::Array(_) => return Err(Invalid("request parameters cannot be arrays")),
        };
        pairs.push((name, value));
    }
    // Each object once: a captured object cannot start a second authorization (the same cache
    // across nodes as client assertions).
    if !state
        .storage
        .use_once(&format!("request:{id}:{jti}"), exp + SKEW)
        .await
        .map_err(Internal::from)?
    {
        return Err(Invalid("the request object was used before (jti)"));
    }
    pairs.push(("client_id".to_owned(), id.to_owned()));
    Ok(Params::from_pairs(pairs))
}
