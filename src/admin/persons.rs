//! The operators' API on people: search, a person's consents and statutory roles, a consent
//! recorded or withdrawn, a statutory role started or ended.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use super::organisations::SearchQuery;
use super::ApiQuery;
use super::{Page, PageQuery};
use crate::app::AppState;
use crate::domain::client::Application;
use crate::domain::date::Date;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::permission::Permission;
use crate::domain::person::{ConsentForm, Person as DomainPerson};
use crate::registry::{self, consents::Consenter};
use crate::secrets::now;

#[derive(Serialize, ToSchema)]
pub struct PersonSummary {
    pub sub: String,
    pub name: String,
    pub email: Option<String>,
    pub mpsv_client_id: Option<String>,
    pub username: Option<String>,
    /// `active`, `locked`, `disabled`, or null without an account.
    pub status: Option<String>,
    pub role: Option<String>,
}

#[utoipa::path(get, path = "/persons", tag = "register", params(SearchQuery, PageQuery),
    responses((status = 200, description = "OK", body = Page<PersonSummary>), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn list_persons(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(s): ApiQuery<SearchQuery>,
    ApiQuery(p): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<PersonSummary>>> {
    admin.require(Permission::ReadRegister)?;
    let (limit, offset) = p.window()?;
    let mut rows = state
        .storage
        .search_persons(s.q.as_deref().unwrap_or(""), limit + 1, offset)
        .await?;
    Ok(Json(Page::of(&mut rows, limit, offset).map(|p| {
        PersonSummary {
            name: format!("{} {}", p.given_name, p.family_name),
            sub: p.sub.into(),
            email: p.email,
            mpsv_client_id: p.mpsv_client_id,
            username: p.username,
            status: p.status,
            role: p.role,
        }
    })))
}

#[derive(Serialize, ToSchema)]
pub struct Consent {
    pub id: String,
    pub organisation_id: String,
    /// `poskytovatel` or `rodina`.
    pub form: String,
    pub signed_on: String,
    pub received_on: String,
    pub reference: String,
    pub recorded_by: String,
    pub recorded_at: i64,
    pub withdrawn_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct StatutoryRole {
    pub organisation_id: String,
    pub from: i64,
    pub until: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PersonDetail {
    #[serde(flatten)]
    pub person: PersonSummary,
    pub consents: Vec<Consent>,
    pub statutory_roles: Vec<StatutoryRole>,
}

#[utoipa::path(get, path = "/persons/{sub}", tag = "register",
    params(("sub" = String, Path)), responses((status = 200, description = "OK", body = PersonDetail), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn get_person(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
) -> ApiResult<Json<PersonDetail>> {
    admin.require(Permission::ReadRegister)?;
    let p = state
        .storage
        .person(&sub)
        .await?
        .ok_or(ApiError::NotFound("person"))?;
    let account = state.storage.account(&sub).await?;
    let consents = state
        .storage
        .consents_of(&sub)
        .await?
        .into_iter()
        .map(|c| Consent {
            id: c.id,
            organisation_id: c.organisation_id.into(),
            form: c.form,
            signed_on: c.signed_on,
            received_on: c.received_on,
            reference: c.reference,
            recorded_by: c.recorded_by,
            recorded_at: c.recorded_at,
            withdrawn_at: c.withdrawn_at,
        })
        .collect();
    let statutory_roles = state
        .storage
        .statutory_roles(None, Some(&sub), now())
        .await?
        .into_iter()
        .map(|r| StatutoryRole {
            organisation_id: r.organisation_id.into(),
            from: r.from_at,
            until: r.until_at,
        })
        .collect();
    Ok(Json(PersonDetail {
        person: PersonSummary {
            name: p.name(),
            email: p.email,
            mpsv_client_id: p.mpsv_client_id.map(|i| i.as_str().to_owned()),
            username: account.as_ref().map(|a| a.username.clone()),
            status: account.as_ref().map(|a| a.status.as_str().to_owned()),
            role: account.as_ref().map(|a| a.role.as_str().to_owned()),
            sub: p.sub.into(),
        },
        consents,
        statutory_roles,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPerson {
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewConsent {
    /// An existing person; or give `person` to create one.
    pub person_sub: Option<String>,
    pub person: Option<NewPerson>,
    pub organisation_id: String,
    /// `poskytovatel` or `rodina`.
    pub form: String,
    /// YYYY-MM-DD
    pub signed_on: String,
    /// YYYY-MM-DD
    pub received_on: String,
    pub reference: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecordedConsent {
    pub consent_id: String,
    pub person_sub: String,
    pub mpsv_client_id: String,
}

#[utoipa::path(post, path = "/consents", tag = "register", request_body = NewConsent,
    responses((status = 201, description = "Created", body = RecordedConsent), (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn record_consent(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<RecordedConsent>)> {
    admin.require(Permission::ManageConsentsAndAccounts)?;
    let n: NewConsent = super::json(&body)?;
    let form: Application = n
        .form
        .parse()
        .map_err(|_| ApiError::Invalid("form must be poskytovatel or rodina".into()))?;
    let paper = ConsentForm::new(
        Date::parse(&n.signed_on)?,
        Date::parse(&n.received_on)?,
        &n.reference,
    )?;
    let new_person;
    let subject = match (&n.person_sub, &n.person) {
        (Some(sub), None) => Consenter::Existing(&Subject::lookup(sub)),
        (None, Some(p)) => {
            new_person = DomainPerson::new(&p.given_name, &p.family_name, p.email.as_deref())?;
            Consenter::New(&new_person)
        }
        _ => return Err(ApiError::Invalid("give either person_sub or person".into())),
    };
    let r = registry::consents::record(
        &state,
        &admin.actor,
        subject,
        &OrganisationId::lookup(&n.organisation_id),
        form,
        &paper,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RecordedConsent {
            consent_id: r.consent_id,
            person_sub: r.person_sub.into(),
            mpsv_client_id: r.mpsv_client_id.as_str().to_owned(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct Reason {
    pub reason: String,
}

#[utoipa::path(post, path = "/consents/{id}/withdraw", tag = "register", request_body = Reason,
    params(("id" = String, Path)), responses((status = 204, description = "Done"), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageConsentsAndAccounts)?;
    let r: Reason = super::json(&body)?;
    registry::consents::withdraw(&state, &admin.actor, &id, &r.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct NewStatutoryRole {
    pub organisation_id: String,
    /// YYYY-MM-DD (Prague); today when absent.
    pub from: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct StatutoryEnd {
    pub organisation_id: String,
    /// YYYY-MM-DD (Prague): the role ends at the start of that day; now when absent.
    pub on: Option<String>,
    pub reason: String,
}

#[utoipa::path(post, path = "/persons/{sub}/statutory-roles", tag = "register", request_body = NewStatutoryRole,
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn start_statutory(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageStatutoryRoles)?;
    let n: NewStatutoryRole = super::json(&body)?;
    let from = match n.from.as_deref() {
        Some(d) => Date::parse(d)?.start_in_prague(),
        None => now(),
    };
    registry::statutory::start(
        &state,
        &admin.actor,
        &sub,
        &OrganisationId::lookup(&n.organisation_id),
        from,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/persons/{sub}/statutory-roles/end", tag = "register", request_body = StatutoryEnd,
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn end_statutory(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<Subject>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageStatutoryRoles)?;
    let e: StatutoryEnd = super::json(&body)?;
    let at =
        e.on.as_deref()
            .map(|d| Date::parse(d).map(Date::start_in_prague))
            .transpose()?;
    registry::statutory::end(
        &state,
        &admin.actor,
        &sub,
        &OrganisationId::lookup(&e.organisation_id),
        at,
        &e.reason,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
