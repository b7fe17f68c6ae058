//! The token endpoint (RFC 6749 §3.2): authenticates the client, then hands the request to
//! the file of its grant type.

mod authorization_code;
mod client_credentials;
mod refresh_token;
mod request;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use self::request::TokenRequest;
use super::client_auth::authenticate;
use super::dpop::{self, Target};
use crate::app::AppState;
use crate::domain::client::Client;
use crate::domain::id::Subject;
use crate::domain::scope::Scopes;
use crate::error::OAuthError;
use crate::http::params::Params;

/// `POST /token`
pub async fn handler(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = match token(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    dpop::with_nonce(&state, &headers, r)
}

async fn token(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let p = crate::oidc::client_form(headers, body)?;
    let grant = TokenRequest::grant_type(&p)?;
    let client = authenticate(state, headers, &p).await?;
    if !client.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "the client may not use the {grant} grant"
        )));
    }
    let request = TokenRequest::parse(grant, &p)?;
    // RFC 9449 §5: a proof binds the tokens issued here to its key.
    let target = Target {
        method: "POST",
        url: &state.endpoints.token,
        access_token: None,
    };
    let proof = dpop::proof(state, headers, &target).await?;
    if proof.is_none() && client.dpop_bound_access_tokens {
        return Err(OAuthError::invalid_request(
            "this client's tokens are DPoP-bound: send a DPoP proof (RFC 9449)",
        ));
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let response = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let redemption = authorization_code::Redeem {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
            };
            authorization_code::grant(state, &client, redemption, jkt).await?
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh_token::grant(state, &client, &refresh_token, scope.as_ref(), jkt).await?,
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::grant(state, &client, scope.as_ref(), jkt).await?
        }
    };
    state.metrics.token_issued(grant.as_str());
    Ok(response)
}

/// A requested `scope` narrowed to what is allowed (RFC 6749 §3.3); absent means `granted`.
fn requested_scope(requested: Option<&Scopes>, granted: &Scopes) -> Result<Scopes, OAuthError> {
    match requested {
        None => Ok(granted.clone()),
        Some(requested) => {
            if let Some(bad) = requested.not_in(granted).next() {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {bad} exceeds what was granted"
                )));
            }
            Ok(requested.clone())
        }
    }
}

/// The account behind a user grant, which must still be active.
async fn active_account(
    state: &AppState,
    sub: &Subject,
) -> Result<crate::domain::account::Account, OAuthError> {
    state
        .storage
        .account(sub)
        .await?
        .filter(|a| a.status == crate::domain::account::AccountStatus::Active)
        .ok_or_else(|| OAuthError::invalid_grant("the account is not active"))
}

fn refresh_ttl(state: &AppState, client: &Client) -> i64 {
    client
        .refresh_token_ttl
        .unwrap_or(state.config.tokens.refresh_token)
}
