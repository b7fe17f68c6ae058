//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole family, including
//! the access tokens issued from it (§2.1 "SHOULD"); revoking an access token blocks its `jti`
//! until it would have expired. Unknown tokens are answered with 200 (§2.2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate;
use crate::app::AppState;
use crate::error::{no_store, OAuthError};
use crate::secrets::PlainToken;

/// `POST /revoke`
pub async fn handler(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match revoke(&state, &headers, &body).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    }
}

async fn revoke(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let p = super::client_form(headers, body)?;
    let client = authenticate(state, headers, &p).await?;
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    // §2.1: the server verifies that the token was issued to the client asking.
    let not_yours = || OAuthError::invalid_request("the token was not issued to this client");

    if token.matches('.').count() == 2 {
        if let Some(claims) = super::jwt::verify_access_token(state, token) {
            if claims.client_id != client.client_id.as_str() {
                return Err(not_yours());
            }
            state.storage.revoke_jti(&claims.jti, claims.exp).await?;
            tracing::info!(client_id = %client.client_id, "access token revoked");
        }
        return Ok(());
    }
    let hash = PlainToken::from_received(token).hashed();
    if let Some((family, _)) = state.storage.family_of_refresh_token(&hash).await? {
        if family.client_id != client.client_id.as_str() {
            return Err(not_yours());
        }
        state.storage.revoke_family(&family.id).await?;
        tracing::info!(client_id = %client.client_id, "refresh token family revoked");
    }
    Ok(())
}
