//! The operators' part of the API: organisations, people, consents, accounts and letters,
//! statutory roles, delegations, account status. Each handler parses its input into domain
//! types, asks for its permission and calls `registry` (rules + audit).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use super::ApiQuery;
use super::{Page, PageQuery};
use crate::app::AppState;
use crate::domain::account::{Role, Username};
use crate::domain::client::Application;
use crate::domain::date::Date;
use crate::domain::organisation::{
    Ico, Organisation as DomainOrganisation, OrganisationKind, Seat,
};
use crate::domain::permission::Permission;
use crate::domain::person::{ConsentForm, Person as DomainPerson};
use crate::registry::{self, consents::Subject};
use crate::secrets::now;

// ---------- organisations ----------

#[derive(Serialize, ToSchema)]
pub struct Organisation {
    pub id: String,
    /// IČO: 8 digits with a mod-11 check digit.
    pub ico: String,
    pub name: String,
    pub legal_form: String,
    pub street: String,
    pub city: String,
    pub postcode: String,
    pub social_service_provider: bool,
    pub nno_family_support: bool,
}

impl From<DomainOrganisation> for Organisation {
    fn from(o: DomainOrganisation) -> Self {
        Organisation {
            id: o.id,
            ico: o.ico.as_str().to_owned(),
            name: o.name,
            legal_form: o.legal_form,
            street: o.seat.street,
            city: o.seat.city,
            postcode: o.seat.postcode,
            social_service_provider: o.kind.social_service_provider,
            nno_family_support: o.kind.nno_family_support,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewOrganisation {
    pub ico: String,
    pub name: String,
    pub legal_form: String,
    pub street: String,
    pub city: String,
    pub postcode: String,
    #[serde(default)]
    pub social_service_provider: bool,
    #[serde(default)]
    pub nno_family_support: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Part of a name or IČO (organisations); of a name, username or e-mail, or a whole MPSV
    /// client identifier (people). Empty: all.
    pub q: Option<String>,
}

#[utoipa::path(get, path = "/organisations", tag = "register",
    params(SearchQuery, PageQuery),
    responses((status = 200, description = "OK", body = Page<Organisation>), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn list_organisations(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(s): ApiQuery<SearchQuery>,
    ApiQuery(p): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Organisation>>> {
    admin.require(Permission::ReadRegister)?;
    let (limit, offset) = p.window()?;
    // One more than asked tells whether there is a next page.
    let mut rows = state
        .storage
        .search_organisations_page(s.q.as_deref().unwrap_or(""), limit + 1, offset)
        .await?;
    Ok(Json(
        Page::of(&mut rows, limit, offset).map(Organisation::from),
    ))
}

#[utoipa::path(post, path = "/organisations", tag = "register", request_body = NewOrganisation,
    responses((status = 201, description = "Created", body = Organisation), (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn create_organisation(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Organisation>)> {
    admin.require(Permission::ManageOrganisations)?;
    let n: NewOrganisation = super::json(&body)?;
    let o = DomainOrganisation::new(
        Ico::parse(&n.ico)?,
        &n.name,
        &n.legal_form,
        Seat::parse(&n.street, &n.city, &n.postcode)?,
        OrganisationKind {
            social_service_provider: n.social_service_provider,
            nno_family_support: n.nno_family_support,
        },
    )?;
    registry::organisations::create(&state, &admin.actor, &o).await?;
    Ok((StatusCode::CREATED, Json(o.into())))
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub sub: String,
    pub name: String,
    pub username: Option<String>,
    pub statutory_representative: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Delegation {
    pub id: String,
    pub delegate_sub: String,
    pub delegate_name: String,
    pub delegator_sub: String,
    pub delegator_name: String,
    pub created_at: i64,
    /// Who granted it: the representative's `sub`, an operator, or `client:<id>`.
    pub created_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrganisationDetail {
    #[serde(flatten)]
    pub organisation: Organisation,
    pub members: Vec<Member>,
    pub delegations: Vec<Delegation>,
}

#[utoipa::path(get, path = "/organisations/{id}", tag = "register",
    params(("id" = String, Path, description = "organisation id")),
    responses((status = 200, description = "OK", body = OrganisationDetail), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn get_organisation(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<OrganisationDetail>> {
    admin.require(Permission::ReadRegister)?;
    let o = state
        .storage
        .organisation(&id)
        .await?
        .ok_or(ApiError::NotFound("organisation"))?;
    let t = now();
    let statutory = state.storage.statutory_roles(Some(&id), None, t).await?;
    let members = state
        .storage
        .members(&id)
        .await?
        .into_iter()
        .map(|m| Member {
            statutory_representative: statutory
                .iter()
                .any(|r| r.person_sub == m.sub && r.from_at <= t),
            name: format!("{} {}", m.given_name, m.family_name),
            username: m.username,
            sub: m.sub,
        })
        .collect();
    let delegations = state
        .storage
        .delegations(&id)
        .await?
        .into_iter()
        .map(|d| Delegation {
            id: d.id,
            delegate_sub: d.delegate_sub,
            delegate_name: d.delegate_name,
            delegator_sub: d.delegator_sub,
            delegator_name: d.delegator_name,
            created_at: d.created_at,
            created_by: d.created_by,
        })
        .collect();
    Ok(Json(OrganisationDetail {
        organisation: o.into(),
        members,
        delegations,
    }))
}

// ---------- people ----------

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
            sub: p.sub,
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
    Path(sub): Path<String>,
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
            organisation_id: c.organisation_id,
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
            organisation_id: r.organisation_id,
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
            sub: p.sub,
        },
        consents,
        statutory_roles,
    }))
}

// ---------- consents ----------

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
        (Some(sub), None) => Subject::Existing(sub),
        (None, Some(p)) => {
            new_person = DomainPerson::new(&p.given_name, &p.family_name, p.email.as_deref())?;
            Subject::New(&new_person)
        }
        _ => return Err(ApiError::Invalid("give either person_sub or person".into())),
    };
    let r = registry::consents::record(
        &state,
        &admin.actor,
        subject,
        &n.organisation_id,
        form,
        &paper,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RecordedConsent {
            consent_id: r.consent_id,
            person_sub: r.person_sub,
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

// ---------- accounts and letters ----------

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
    Path(sub): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    admin.require(Permission::ManageConsentsAndAccounts)?;
    let n: NewAccount = super::json(&body)?;
    let username = n.username.as_deref().map(Username::parse).transpose()?;
    let l = registry::accounts::create(&state, &admin.actor, &sub, &n.organisation_id, username)
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
    Path(sub): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    admin.require(Permission::ManageConsentsAndAccounts)?;
    let n: LetterRequest = super::json(&body)?;
    staff_guard(&state, &sub).await?;
    let l =
        registry::accounts::reissue_letter(&state, &admin.actor, &sub, &n.organisation_id).await?;
    Ok(letter_response(StatusCode::CREATED, l))
}

/// Operators manage the accounts of MPSV's clients, never staff accounts (an operator who
/// could reset an administrator's password could become one).
async fn staff_guard(state: &AppState, sub: &str) -> ApiResult<()> {
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
    Path(sub): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageAccountStatus)?;
    let c: StatusChange = super::json(&body)?;
    staff_guard(&state, &sub).await?;
    set_status(&state, &admin, &sub, &c).await
}

/// Applies a status change (audited, through `registry`).
pub(super) async fn set_status(
    state: &AppState,
    admin: &Admin,
    sub: &str,
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

#[utoipa::path(post, path = "/persons/{sub}/sessions/end", tag = "register",
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")))]
pub async fn end_all_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<String>,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageAccountStatus)?;
    staff_guard(&state, &sub).await?;
    registry::accounts::end_sessions(&state, &admin.actor, &sub).await?;
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
    /// Authentication methods (`pwd`, `otp`).
    pub amr: Vec<String>,
}

#[utoipa::path(get, path = "/persons/{sub}/sessions", tag = "register",
    params(("sub" = String, Path)), responses((status = 200, description = "OK", body = Vec<SessionInfo>), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn list_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<String>,
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
                amr: s.amr_list(),
                sid: s.sid,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

// ---------- statutory roles and delegations ----------

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
    Path(sub): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageStatutoryRoles)?;
    let n: NewStatutoryRole = super::json(&body)?;
    let from = match n.from.as_deref() {
        Some(d) => Date::parse(d)?.start_in_prague(),
        None => now(),
    };
    registry::statutory::start(&state, &admin.actor, &sub, &n.organisation_id, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/persons/{sub}/statutory-roles/end", tag = "register", request_body = StatutoryEnd,
    params(("sub" = String, Path)), responses((status = 204, description = "Done"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn end_statutory(
    State(state): State<AppState>,
    admin: Admin,
    Path(sub): Path<String>,
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
        &e.organisation_id,
        at,
        &e.reason,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct NewDelegation {
    /// A statutory representative of the organisation now.
    pub delegator_sub: String,
    /// A member of the organisation.
    pub delegate_sub: String,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: String,
}

#[utoipa::path(post, path = "/organisations/{id}/delegations", tag = "register", request_body = NewDelegation,
    params(("id" = String, Path)), responses((status = 201, description = "Created", body = Created), (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn grant_delegation(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Created>)> {
    admin.require(Permission::ManageDelegations)?;
    let n: NewDelegation = super::json(&body)?;
    let d =
        registry::delegations::grant(&state, &admin.actor, &id, &n.delegator_sub, &n.delegate_sub)
            .await?;
    Ok((StatusCode::CREATED, Json(Created { id: d })))
}

#[utoipa::path(post, path = "/organisations/{id}/delegations/{delegation}/revoke", tag = "register",
    request_body = Reason, params(("id" = String, Path), ("delegation" = String, Path)),
    responses((status = 204, description = "Done"), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_delegation(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, delegation)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageDelegations)?;
    let r: Reason = super::json(&body)?;
    registry::delegations::revoke(&state, &admin.actor, &id, &delegation, &r.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
