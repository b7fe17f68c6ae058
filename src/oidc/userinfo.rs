//! The UserInfo endpoint (OIDC Core §5.3): claims of the person behind a bearer access token,
//! read from the database now.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::domain::account::AccountStatus;
use crate::domain::id::Subject;
use crate::domain::scope::Scopes;
use crate::error::{no_store, BearerError};
use crate::http::params::{is_form, Params};

/// `GET /userinfo` with `Authorization: Bearer` (RFC 6750 §2.1).
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = match bearer(&headers) {
        Ok(Some(t)) => t,
        Ok(None) => return BearerError::Missing.into_response(),
        Err(e) => return e.into_response(),
    };
    result(userinfo(&state, &token).await)
}

/// `POST /userinfo`: the token in the header or as a form parameter (RFC 6750 §2.2), not both.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let from_header = match bearer(&headers) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let from_body = if is_form(&headers) {
        match Params::parse(&body) {
            Ok(p) => p.get("access_token").map(str::to_owned),
            Err(_) => return BearerError::InvalidRequest("repeated parameter").into_response(),
        }
    } else {
        None
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return BearerError::InvalidRequest("more than one access token").into_response()
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return BearerError::Missing.into_response(),
    };
    result(userinfo(&state, &token).await)
}

fn result(r: Result<Response, BearerError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, BearerError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(BearerError::InvalidRequest("expected a Bearer token")),
    }
}

async fn userinfo(state: &AppState, token: &str) -> Result<Response, BearerError> {
    let live =
        super::jwt::live_access_token(state, token)
            .await?
            .ok_or(BearerError::InvalidToken(
                "the access token is invalid, expired or revoked",
            ))?;
    let claims = live.claims;
    if claims.sid.is_none() {
        return Err(BearerError::InvalidToken(
            "the access token does not represent a person",
        ));
    }
    let scope = Scopes::parse(&claims.scope).unwrap_or_default();
    if !scope.contains("openid") {
        return Err(BearerError::InsufficientScope(
            "the openid scope is required",
        ));
    }
    let account = state
        .storage
        .account(&Subject::lookup(&claims.sub))
        .await?
        .filter(|a| a.status == AccountStatus::Active)
        .ok_or(BearerError::InvalidToken("the account is not active"))?;
    // Evaluated now, for the grant's client and organisation (DESIGN: claims contract).
    let client =
        state
            .storage
            .client(&claims.client_id)
            .await?
            .ok_or(BearerError::InvalidToken(
                "the client of this token is gone",
            ))?;
    let organisation = super::issue::grant_organisation(
        state,
        &client,
        &account.sub,
        live.family
            .as_ref()
            .and_then(|f| f.organisation_id.as_ref()),
    )
    .await?;
    if let super::issue::GrantOrganisation::Lost = organisation {
        return Err(BearerError::InvalidToken(
            "the person is no longer entitled to this application",
        ));
    }
    let body = super::issue::user_claims(&account, organisation.affiliation(), &scope);
    Ok(no_store(Json(body).into_response()))
}
