//! Console actions of operators on consents: a new person's consent recorded (with the
//! person), a consent withdrawn.

use axum::extract::{Path, State};
use axum::response::Response;

use super::people::back;
use super::{confirmation, refusal, StaffForm};
use crate::app::AppState;
use crate::domain::client::Application;
use crate::domain::date::Date;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::permission::Permission;
use crate::domain::person::{ConsentForm, Person};
use crate::error::PageError;
use crate::registry::{self, consents::Consenter};
use crate::web::extract::CsrfForm;

/// `POST /admin/consents`: for an existing person (`person`) or a new one (names).
pub async fn record_consent(
    State(state): State<AppState>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let g = |k: &str| form.get(k).unwrap_or("").to_owned();
    let org = g("organisation");
    let return_to = match form.get("person") {
        Some(sub) => format!("/admin/persons/{sub}"),
        None => format!("/admin/organisations/{org}"),
    };
    let result = async {
        let app: Application = g("form")
            .parse()
            .map_err(|_| registry::RegistryError::Invalid("form: poskytovatel or rodina".into()))?;
        let paper = ConsentForm::new(
            Date::parse(&g("signed_on"))?,
            Date::parse(&g("received_on"))?,
            &g("reference"),
        )?;
        let new_person;
        let subject = match form.get("person") {
            Some(sub) => Consenter::Existing(&Subject::lookup(sub)),
            None => {
                new_person = Person::new(&g("given_name"), &g("family_name"), form.get("email"))?;
                Consenter::New(&new_person)
            }
        };
        registry::consents::record(
            &state,
            staff.actor(),
            subject,
            &OrganisationId::lookup(&org),
            app,
            &paper,
        )
        .await
    }
    .await;
    match result {
        Ok(r) => Ok(back(
            &format!("/admin/persons/{}", r.person_sub),
            staff.lang,
            Ok("consent"),
        )),
        Err(e) => Ok(back(&return_to, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/consents/{id}/withdraw` (confirmed)
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let person = form.get("person").unwrap_or("").to_owned();
    let here = format!("/admin/persons/{person}");
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("/admin/consents/{id}/withdraw"),
        staff.t().get("console.confirm_withdraw"),
        &here,
    ) {
        return Ok(r);
    }
    let reason = form.get("reason").unwrap_or("withdrawn");
    match registry::consents::withdraw(&state, staff.actor(), &id, reason).await {
        Ok(()) => Ok(back(&here, staff.lang, Ok("withdrawn"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}
