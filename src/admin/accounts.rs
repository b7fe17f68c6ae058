//! The operators' API on accounts: created from a consent with its credentials letter, the
//! letter re-issued, the status changed, the sessions listed and ended.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use crate::app::AppState;
use crate::domain::account::{Role, Username};
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::permission::Permission;
use crate::registry::{self};

#[derive(Deserialize, ToSchema)]
pub struct NewAccount {
    /// The organisation whose seat the letter goes to (one with the person's consent).
    pub organisation_id: String,
    pub username: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LetterRequest {
    pub organisation_id: String,
}

fn letter_response(status: StatusCode, l: registry::accounts::IssuedLetter) -> Response {
    let mut r = (status, l.pdf).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"dopis-{}.pdf\"",
        l.username
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&l.reference) {
        h.insert("x-letter-reference", v);
    }
    r
}

#[utoipa::path(post, path = "/persons/{sub}/account", tag = "register", request_body = NewAccount,
    params(("sub" = String, Path)),
    responses((status = 201, description = "the credentials letter", content_type = "application/pdf"),
        (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json", description = "no active consent"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn create_account(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
    body: Bytes,
) -> ApiResult<Response> {
    admin.require(Permission::ManageConsentsAndAccounts)?;
    let n: NewAccount = super::json(&body)?;
    let username = n.username.as_deref().map(Username::parse).transpose()?;
    let l = registry::accounts::create(
        &state,
        &admin.actor,
        &sub,
        &OrganisationId::lookup(&n.organisation_id),
        username,
    )
    .await?;
    Ok(letter_response(StatusCode::CREATED, l))
}

#[utoipa::path(post, path = "/persons/{sub}/letters", tag = "register", request_body = LetterRequest,
    params(("sub" = String, Path)),
    responses((status = 201, description = "a new credentials letter; the previous password stops working", content_type = "application/pdf"),
        (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn reissue_letter(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
    body: Bytes,
) -> ApiResult<Response> {
    admin.require(Permission::ManageConsentsAndAccounts)?;
    let n: LetterRequest = super::json(&body)?;
    staff_guard(&state, &sub).await?;
    let l = registry::accounts::reissue_letter(
        &state,
        &admin.actor,
        &sub,
        &OrganisationId::lookup(&n.organisation_id),
    )
    .await?;
    Ok(letter_response(StatusCode::CREATED, l))
}

/// Operators manage the accounts of MPSV's clients, never staff accounts (an operator who
/// could reset an administrator's password could become one).
async fn staff_guard(state: &AppState, sub: &Subject) -> ApiResult<()> {
    match state.storage.account(sub).await? {
        Some(a) if a.role != Role::User => Err(ApiError::Forbidden(
            "staff accounts are managed by administrators",
        )),
        _ => Ok(()),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct StatusChange {
    /// `lock`, `unlock`, `disable` or `enable`.
    pub action: String,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/persons/{sub}/status", tag = "register", request_body = StatusChange,
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")))]
pub async fn change_status(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageAccountStatus)?;
    let c: StatusChange = super::json(&body)?;
    staff_guard(&state, &sub).await?;
    set_status(&state, &admin, &sub, &c).await
}

#[utoipa::path(post, path = "/persons/{sub}/sessions/end", tag = "register",
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")))]
pub async fn end_all_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageAccountStatus)?;
    staff_guard(&state, &sub).await?;
    registry::accounts::end_sessions(&state, &admin.actor, &sub).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/persons/{sub}/second-factors/reset", tag = "register",
    params(("sub" = String, Path)), responses((status = 204, description = "Done: TOTP, recovery codes and passkeys removed, sessions ended"), (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")))]
/// For a person who lost every second factor, once their identity was checked. A staff
/// member's factors are reset by another administrator only.
pub async fn reset_second_factors(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
) -> ApiResult<StatusCode> {
    match state.storage.account(&sub).await? {
        Some(a) if a.role != Role::User => {
            admin.require(Permission::ManageStaff)?;
            if admin.actor == a.sub.as_str() {
                return Err(ApiError::Forbidden(
                    "another administrator resets an administrator's second factors",
                ));
            }
        }
        _ => admin.require(Permission::ManageAccountStatus)?,
    }
    registry::accounts::reset_second_factors(&state, &admin.actor, &sub).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    /// The public session id (`sid` in tokens and logout tokens).
    pub sid: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Authentication methods (`pwd`, `otp`, `hwk`, `swk`, `user`).
    pub amr: Vec<String>,
}

#[utoipa::path(get, path = "/persons/{sub}/sessions", tag = "register",
    params(("sub" = String, Path)), responses((status = 200, description = "OK", body = Vec<SessionInfo>), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn list_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    admin.require(Permission::ManageAccountStatus)?;
    staff_guard(&state, &sub).await?;
    Ok(Json(
        state
            .storage
            .sessions_of(&sub)
            .await?
            .into_iter()
            .map(|s| SessionInfo {
                amr: s.amr.values().into_iter().map(str::to_owned).collect(),
                sid: s.sid.into(),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// Applies a status change (audited, through `registry`).
pub(super) async fn set_status(
    state: &AppState,
    admin: &Admin,
    sub: &Subject,
    c: &StatusChange,
) -> ApiResult<StatusCode> {
    let action: registry::accounts::StatusAction = c.action.parse()?;
    registry::accounts::set_status(
        state,
        &admin.actor,
        sub,
        action,
        c.reason.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
