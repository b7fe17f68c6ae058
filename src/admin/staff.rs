//! The administrators' API on staff accounts: a new operator or administrator (the first
//! password set through a mailed link, `services::staff`), a staff account's status.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::StatusChange;
use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use crate::app::AppState;
use crate::domain::id::Subject;

use crate::domain::permission::Permission;
use crate::secrets::PlainToken;
use crate::services::{self};

// ---------- clients ----------

#[derive(Deserialize, ToSchema)]
pub struct NewStaff {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    /// Required: the link to set the first password is mailed here.
    pub email: Option<String>,
    /// `operator` or `administrator`.
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedStaff {
    pub sub: String,
    pub username: String,
    /// Always `mailed`: the new staff member sets the first password through a single-use link
    /// sent to their e-mail address (valid 72 hours), so the administrator never knows it; at
    /// the first sign-in they enrol TOTP.
    pub password_setup: String,
}

#[utoipa::path(post, path = "/staff", tag = "system", request_body = NewStaff,
    responses((status = 201, description = "Created", body = CreatedStaff), (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn create_staff(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<CreatedStaff>)> {
    admin.require(Permission::ManageStaff)?;
    let n: NewStaff = super::json(&body)?;
    let new = services::staff::check(
        &services::staff::NewStaff {
            username: n.username,
            given_name: n.given_name,
            family_name: n.family_name,
            email: n.email,
            role: n.role,
        },
        services::staff::FirstPassword::Mailed,
    )?;
    // Separation of duties (issue 11.10): the administrator never learns the password. The
    // account gets a random one nobody is told, and the person sets their own via the link.
    let unknown = PlainToken::generate_with_bytes(32);
    let hash = state
        .passwords
        .hash(secrecy::SecretString::from(unknown.expose().to_owned()))
        .await
        .map_err(crate::error::Internal::from)?;
    let (a, link) =
        services::staff::create(state.services(), &admin.actor, new, hash, admin.ip.clone())
            .await?;
    if let Some(token) = link {
        crate::mail::send_password_link(
            &state,
            &a,
            &token,
            services::password_links::Link::Welcome,
            crate::pages::i18n::Lang::Cs,
        )
        .await;
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedStaff {
            sub: a.sub.into(),
            username: a.username,
            password_setup: "mailed".into(),
        }),
    ))
}

#[utoipa::path(post, path = "/staff/{sub}/status", tag = "system", request_body = StatusChange,
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn change_staff_status(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageStaff)?;
    let c: StatusChange = super::json(&body)?;
    match state.storage.account(&sub).await? {
        Some(a) if a.role.privileged() => {}
        _ => return Err(ApiError::NotFound("staff account")),
    }
    if sub == admin.actor.as_str() {
        return Err(ApiError::Invalid(
            "administrators cannot change their own status".into(),
        ));
    }
    super::accounts::set_status(&state, &admin, &sub, &c).await
}
