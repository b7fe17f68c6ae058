//! Console actions of operators on statutory roles: a representative's role started or ended
//! (now or on a date).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::people::back;
use super::{refusal, Block, Field, Form, StaffForm};
use crate::app::AppState;
use crate::domain::date::Date;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::registry::{self};
use crate::secrets::now;
use crate::web::extract::CsrfForm;

/// `POST /admin/persons/{sub}/statutory/start`
pub async fn start_role(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageStatutoryRoles)?;
    let here = format!("/admin/persons/{sub}");
    match registry::statutory::start(
        &state,
        staff.actor(),
        &Subject::lookup(&sub),
        &OrganisationId::lookup(form.get("organisation").unwrap_or("")),
        now(),
    )
    .await
    {
        Ok(_) => Ok(back(&here, staff.lang, Ok("role_started"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/persons/{sub}/statutory/end` (confirmed, with the date and the reason)
pub async fn end_role(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageStatutoryRoles)?;
    let here = format!("/admin/persons/{sub}");
    let t = staff.t();
    if form.get("confirm") != Some("yes") {
        // The confirmation page asks for the reason and, optionally, a later date.
        let org = form.get("organisation").unwrap_or("").to_owned();
        // Say whose role, in which organisation, before asking.
        let person_name = state
            .storage
            .person(&Subject::lookup(&sub))
            .await?
            .map(|p| p.name());
        let org_name = state
            .storage
            .organisation(&OrganisationId::lookup(&org))
            .await?
            .map(|o| o.name);
        let (Some(person_name), Some(org_name)) = (person_name, org_name) else {
            return Err(PageError::not_found(staff.lang));
        };
        return Ok(staff.page(
            StatusCode::OK,
            t.get("console.confirm_title"),
            vec![
                Block::Facts(vec![
                    (t.get("console.name").into(), person_name),
                    (t.get("console.organisation").into(), org_name),
                ]),
                Block::Text(t.get("console.confirm_end_role").into()),
                Block::Form(
                    String::new(),
                    Form::post(
                        format!("{here}/statutory/end"),
                        t.get("console.end_role"),
                        vec![
                            Field::hidden("organisation", org),
                            Field::hidden("confirm", "yes"),
                            Field::input("reason", t.get("console.reason"), "text", true),
                            Field::input("on", t.get("console.end_on"), "date", false)
                                .with_hint(t.get("console.end_on_hint")),
                        ],
                    ),
                ),
                Block::Link(here.clone(), t.get("console.cancel").into()),
            ],
            &here,
        ));
    }
    let result = async {
        let at = form
            .get("on")
            .map(|d| Date::parse(d).map(Date::start_in_prague))
            .transpose()?;
        registry::statutory::end(
            &state,
            staff.actor(),
            &Subject::lookup(&sub),
            &OrganisationId::lookup(form.get("organisation").unwrap_or("")),
            at,
            form.get("reason").unwrap_or(""),
        )
        .await
    }
    .await;
    match result {
        Ok(()) => Ok(back(&here, staff.lang, Ok("role_ended"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}
