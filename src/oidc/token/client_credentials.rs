//! `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client acting for itself.
//! No refresh token (§4.4.3) and nothing is written to the database.

use axum::response::Response;

use super::requested_scope;
use crate::app::AppState;
use crate::domain::client::Client;
use crate::domain::scope::Scopes;
use crate::error::OAuthError;
use crate::oidc::issue;

pub async fn grant(
    state: &AppState,
    client: &Client,
    requested: Option<&Scopes>,
    jkt: Option<&str>,
) -> Result<Response, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    // `openid` and the person scopes make no sense without a person.
    let allowed = Scopes::from_list(
        client
            .scopes
            .iter()
            .filter(|s| !matches!(*s, "openid" | "profile" | "email")),
    );
    let scope = requested_scope(requested, &allowed)?;
    let access = issue::access_token(state, client, &scope, None, jkt)?;
    Ok(issue::token_response(access, &scope, None, None))
}
