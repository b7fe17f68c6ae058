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

use super::authorize::parse::{validate_params, Failure, Origin, REQUEST_URI_PREFIX};
use super::client_auth::authenticate;
use super::dpop::{self, Target};
use super::request_object::{self, ObjectError};
use crate::app::AppState;
use crate::domain::client::Client;
use crate::error::{no_store, ErrorCode, OAuthError, PageError};
use crate::http::params::Params;
use crate::secrets::{now, PlainToken};

/// What the client authenticated with: kept out of the stored request.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// `POST /par`
pub async fn handler(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = match push(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    dpop::with_nonce(&state, &headers, r)
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
    // The proof first (RFC 9449 §10.1): a client answering `use_dpop_nonce` sends the same
    // request again, whose request object must not have been spent by the refused attempt.
    let target = Target {
        method: "POST",
        url: &state.endpoints.pushed_authorization_request,
        access_token: None,
    };
    let proof = dpop::proof(state, headers, &target).await?;
    let params = match p.get("request") {
        // RFC 9126 §3: with a request object, only its parameters are the request.
        Some(jwt) => request_object::parameters(state, &client, jwt)
            .await
            .map_err(|e| match e {
                ObjectError::Invalid(why) => {
                    OAuthError::protocol(ErrorCode::InvalidRequestObject, why)
                }
                ObjectError::Internal(e) => OAuthError::Internal(e),
            })?,
        None if state.config.protocol.require_signed_request_object
            || client.require_signed_request_object =>
        {
            return Err(OAuthError::invalid_request(
                "authorization requests of this client must be signed request objects (RFC 9101)",
            ))
        }
        None => plain_parameters(&p, &client)?,
    };
    let params = bind_dpop_key(proof, params)?;
    let mut pairs: Vec<(&str, &str)> = params.iter().collect();
    pairs.sort_unstable();
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    validate_params(state, &params, Origin::Pushed)
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

/// The pushed parameters without the client's credentials, naming the authenticated client.
fn plain_parameters(p: &Params, client: &Client) -> Result<Params, OAuthError> {
    match p.get("client_id") {
        Some(id) if id != client.client_id.as_str() => {
            return Err(OAuthError::invalid_request(
                "client_id is not the authenticated client",
            ))
        }
        _ => {}
    }
    Ok(Params::from_pairs(
        p.iter()
            .filter(|(k, _)| !CREDENTIALS.contains(k))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            // Authenticated with HTTP Basic, the request names its client all the same.
            .chain([("client_id".to_owned(), client.client_id.as_str().to_owned())]),
    ))
}

/// RFC 9449 §10.1: a DPoP proof at the PAR endpoint binds the code to its key, as `dpop_jkt`
/// does; if both are given they must name the same key.
fn bind_dpop_key(proof: Option<dpop::Proof>, params: Params) -> Result<Params, OAuthError> {
    let Some(proof) = proof else {
        return Ok(params);
    };
    match params.get("dpop_jkt") {
        Some(j) if j != proof.jkt => Err(OAuthError::protocol(
            ErrorCode::InvalidDpopProof,
            "dpop_jkt is not the thumbprint of the proof's key",
        )),
        Some(_) => Ok(params),
        None => Ok(Params::from_pairs(
            params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .chain([("dpop_jkt".to_owned(), proof.jkt)]),
        )),
    }
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
