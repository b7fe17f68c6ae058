//! The pushed authorization request endpoint (RFC 9126): a client sends the parameters of an
//! authorization request straight to us, authenticated as at the token endpoint, and gets a
//! short-lived, single-use `request_uri` to send the browser with instead. The request is
//! validated here exactly as the authorization endpoint will validate it again when the
//! browser brings the reference, but its errors are answered to the client in JSON (§2.3).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::authorize::parse::{validate_params, Failure, REQUEST_URI_PREFIX};
use super::client_auth::authenticate;
use crate::app::AppState;
use crate::error::{no_store, ErrorCode, OAuthError, PageError};
use crate::http::params::Params;
use crate::secrets::{now, PlainToken};

/// What the client authenticated with: kept out of the stored request.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// `POST /par`
pub async fn handler(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match push(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn push(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let p = super::client_form(headers, body)?;
    let client = authenticate(state, headers, &p).await?;
    // §2.1: a pushed request cannot itself refer to another one.
    if p.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri must not be pushed",
        ));
    }
    let mut pushed: Vec<(&str, &str)> =
        p.iter().filter(|(k, _)| !CREDENTIALS.contains(k)).collect();
    match p.get("client_id") {
        Some(id) if id != client.client_id.as_str() => {
            return Err(OAuthError::invalid_request(
                "client_id is not the authenticated client",
            ))
        }
        Some(_) => {}
        // Authenticated with HTTP Basic: the request names its client all the same.
        None => pushed.push(("client_id", client.client_id.as_str())),
    }
    pushed.sort_unstable();
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pushed)
        .finish();
    let params = Params::parse(encoded.as_bytes()).map_err(|d| {
        OAuthError::invalid_request(format!("parameter {} appears more than once", d.0))
    })?;
    validate_params(state, &params, true)
        .await
        .map_err(to_oauth_error)?;

    let reference = PlainToken::generate();
    let lifetime = state.config.tokens.pushed_request;
    state
        .storage
        .insert_pushed_request(
            &reference.hashed(),
            client.client_id.as_str(),
            &encoded,
            now() + lifetime,
        )
        .await?;
    tracing::info!(client_id = %client.client_id, "authorization request pushed");
    // §2.2: 201 with the reference and its lifetime.
    let body = json!({
        "request_uri": format!("{REQUEST_URI_PREFIX}{}", reference.expose()),
        "expires_in": lifetime,
    });
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

/// A validation failure as §2.3 answers it: the authorization endpoint's error code, in JSON.
fn to_oauth_error(f: Failure) -> OAuthError {
    match f {
        Failure::Redirect {
            error, description, ..
        } => OAuthError::protocol(error, description),
        Failure::Page(PageError::Internal(e)) => OAuthError::Internal(e),
        Failure::Page(PageError::Shown { key, detail, .. }) => {
            let description = if detail.is_empty() {
                key.to_owned()
            } else {
                detail
            };
            OAuthError::protocol(ErrorCode::InvalidRequest, description)
        }
        Failure::Page(PageError::RateLimited { .. }) => {
            OAuthError::protocol(ErrorCode::InvalidRequest, "rate limited")
        }
    }
}
