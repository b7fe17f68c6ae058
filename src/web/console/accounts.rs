//! Console actions of operators on accounts: created from a consent with its credentials
//! letter, the letter re-issued, the account locked, disabled or enabled, its sessions ended.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::people::back;
use super::{confirmation, refusal, Staff, StaffForm};
use crate::app::AppState;
use crate::domain::account::{Role, Username};
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::registry::{self};
use crate::web::extract::CsrfForm;

fn pdf(l: registry::accounts::IssuedLetter) -> Response {
    let mut r = (StatusCode::OK, l.pdf).into_response();
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
    r
}

/// `POST /admin/persons/{sub}/account`: the account, and its letter downloaded at once.
pub async fn create_account(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let here = format!("/admin/persons/{sub}");
    let result = async {
        let username = form.get("username").map(Username::parse).transpose()?;
        registry::accounts::create(
            &state,
            staff.actor(),
            &Subject::lookup(&sub),
            &OrganisationId::lookup(form.get("organisation").unwrap_or("")),
            username,
        )
        .await
    }
    .await;
    match result {
        Ok(l) => Ok(pdf(l)),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/persons/{sub}/letter` (confirmed): a new initial password and its letter.
pub async fn reissue_letter(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &Subject::lookup(&sub)).await? {
        return Ok(r);
    }
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/letter"),
        staff.t().get("console.confirm_reissue"),
        &here,
    ) {
        return Ok(r);
    }
    match registry::accounts::reissue_letter(
        &state,
        staff.actor(),
        &Subject::lookup(&sub),
        &OrganisationId::lookup(form.get("organisation").unwrap_or("")),
    )
    .await
    {
        Ok(l) => Ok(pdf(l)),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// Operators manage clients' accounts only, never staff ones.
async fn guard_user_account(
    state: &AppState,
    staff: &Staff,
    sub: &Subject,
) -> Result<Option<Response>, PageError> {
    Ok(match state.storage.account(sub).await? {
        Some(a) if a.role != Role::User => Some(crate::pages::error_page(
            StatusCode::FORBIDDEN,
            "console.forbidden",
            "",
            staff.lang,
        )),
        _ => None,
    })
}

/// `POST /admin/persons/{sub}/status` (lock and disable confirmed)
pub async fn change_status(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &Subject::lookup(&sub)).await? {
        return Ok(r);
    }
    let action: registry::accounts::StatusAction = match form.get("action").unwrap_or("").parse() {
        Ok(a) => a,
        Err(e) => return Ok(back(&here, staff.lang, Err(refusal(e)?))),
    };
    if matches!(
        action,
        registry::accounts::StatusAction::Lock | registry::accounts::StatusAction::Disable
    ) {
        if let Some(r) = confirmation(
            &staff,
            &form,
            &format!("{here}/status"),
            staff.t().get("console.confirm_status"),
            &here,
        ) {
            return Ok(r);
        }
    }
    if let Err(e) =
        registry::accounts::set_status(&state, staff.actor(), &Subject::lookup(&sub), action, "")
            .await
    {
        return Ok(back(&here, staff.lang, Err(refusal(e)?)));
    }
    Ok(back(&here, staff.lang, Ok("status")))
}

/// `POST /admin/persons/{sub}/sessions/end` (confirmed): sign out everywhere.
pub async fn end_sessions(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &Subject::lookup(&sub)).await? {
        return Ok(r);
    }
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/sessions/end"),
        staff.t().get("console.confirm_sessions"),
        &here,
    ) {
        return Ok(r);
    }
    if let Err(e) =
        registry::accounts::end_sessions(&state, staff.actor(), &Subject::lookup(&sub)).await
    {
        return Ok(back(&here, staff.lang, Err(refusal(e)?)));
    }
    Ok(back(&here, staff.lang, Ok("sessions")))
}

/// `POST /admin/persons/{sub}/second-factors/reset` (confirmed): the person lost every
/// second factor and the operator has checked who they are.
pub async fn reset_second_factors(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &Subject::lookup(&sub)).await? {
        return Ok(r);
    }
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/second-factors/reset"),
        staff.t().get("console.confirm_factors"),
        &here,
    ) {
        return Ok(r);
    }
    if let Err(e) =
        registry::accounts::reset_second_factors(&state, staff.actor(), &Subject::lookup(&sub))
            .await
    {
        return Ok(back(&here, staff.lang, Err(refusal(e)?)));
    }
    Ok(back(&here, staff.lang, Ok("factors")))
}
