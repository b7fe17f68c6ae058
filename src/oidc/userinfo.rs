//! The UserInfo endpoint (OIDC Core §5.3): claims of the person behind an access token (bearer
//! or DPoP-bound), read from the database now.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::resource::{live_token, presented, Presented};
use crate::app::AppState;
use crate::domain::account::AccountStatus;
use crate::domain::claims_request::{ClaimsRequest, Target};
use crate::domain::id::Subject;
use crate::domain::scope::Scopes;
use crate::error::{no_store, BearerError};
use crate::http::params::{is_form, Params};

/// `GET /userinfo` with `Authorization: Bearer` (RFC 6750 §2.1) or `DPoP` (RFC 9449 §7).
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let r = match presented(&headers) {
        Ok(Some(t)) => userinfo(&state, &headers, "GET", &t).await,
        Ok(None) => Err(BearerError::Missing),
        Err(e) => Err(e),
    };
    respond(&state, &headers, r)
}

/// `POST /userinfo`: the token in the header or as a form parameter (RFC 6750 §2.2), not both.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = post_token(&headers, &body);
    let r = match r {
        Ok(t) => userinfo(&state, &headers, "POST", &t).await,
        Err(e) => Err(e),
    };
    respond(&state, &headers, r)
}

fn post_token(headers: &HeaderMap, body: &[u8]) -> Result<Presented, BearerError> {
    let from_header = presented(headers)?;
    let from_body = if is_form(headers) {
        match Params::parse(body) {
            Ok(p) => p.get("access_token").map(str::to_owned),
            Err(_) => return Err(BearerError::InvalidRequest("repeated parameter")),
        }
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("more than one access token")),
        (Some(t), None) => Ok(t),
        (None, Some(t)) => Ok(Presented::Bearer(t)),
        (None, None) => Err(BearerError::Missing),
    }
}

fn respond(state: &AppState, headers: &HeaderMap, r: Result<Response, BearerError>) -> Response {
    super::dpop::with_nonce(
        state,
        headers,
        r.unwrap_or_else(IntoResponse::into_response),
    )
}

async fn userinfo(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    token: &Presented,
) -> Result<Response, BearerError> {
    let live = live_token(state, headers, method, &state.endpoints.userinfo, token).await?;
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
    let requested =
        ClaimsRequest::from_stored(live.family.as_ref().and_then(|f| f.claims.as_deref()));
    let grant = super::issue::Grant {
        account: &account,
        affiliation: organisation.affiliation(),
        client: &client,
        amr: claims.amr.as_ref(),
    };
    let body =
        super::issue::released_claims(state, grant, &scope, requested.names(Target::Userinfo));
    Ok(no_store(Json(body).into_response()))
}
