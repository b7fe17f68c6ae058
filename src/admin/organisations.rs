//! The operators' API on organisations: search, register, read (members, representatives,
//! delegations), and delegations granted or revoked on an organisation's behalf. Each handler
//! parses its input into domain types, asks for its permission and calls `registry` (rules +
//! audit).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use super::persons::Reason;
use super::ApiQuery;
use super::{Page, PageQuery};
use crate::app::AppState;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::organisation::{
    Ico, Organisation as DomainOrganisation, OrganisationKind, Seat,
};
use crate::domain::permission::Permission;
use crate::registry::{self};
use crate::secrets::now;

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
            id: o.id.into(),
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
    Path(id): Path<OrganisationId>,
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
            sub: m.sub.into(),
        })
        .collect();
    let delegations = state
        .storage
        .delegations(&id)
        .await?
        .into_iter()
        .map(|d| Delegation {
            id: d.id,
            delegate_sub: d.delegate_sub.into(),
            delegate_name: d.delegate_name,
            delegator_sub: d.delegator_sub.into(),
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
    Path(id): Path<OrganisationId>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Created>)> {
    admin.require(Permission::ManageDelegations)?;
    let n: NewDelegation = super::json(&body)?;
    let d = registry::delegations::grant(
        &state,
        &admin.actor,
        &id,
        &Subject::lookup(&n.delegator_sub),
        &Subject::lookup(&n.delegate_sub),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id: d })))
}

#[utoipa::path(post, path = "/organisations/{id}/delegations/{delegation}/revoke", tag = "register",
    request_body = Reason, params(("id" = String, Path), ("delegation" = String, Path)),
    responses((status = 204, description = "Done"), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_delegation(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, delegation)): Path<(OrganisationId, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageDelegations)?;
    let r: Reason = super::json(&body)?;
    registry::delegations::revoke(&state, &admin.actor, &id, &delegation, &r.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
