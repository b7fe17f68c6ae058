//! The administration REST API under `/admin/api/v1` (issue 6): the same operations as the
//! console and the CLI, for operators and administrators and their automation. JSON in and
//! out, RFC 9457 problem details for errors, offset-cursor pagination, and an OpenAPI 3.1
//! document generated from the code (`utoipa`) at `/admin/api/v1/openapi.json`.

pub mod accounts;
pub mod auth;
pub mod clients;
pub mod error;
pub mod organisations;
pub mod persons;
pub mod staff;
pub mod system;

use axum::http::{header, HeaderValue};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::app::AppState;
use error::{ApiError, ApiResult};

pub const BASE: &str = "/admin/api/v1";

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

impl<R> Page<R> {
    /// `rows` holds up to `limit + 1` rows read at `offset`: the extra one only says that
    /// another page exists.
    pub fn of(rows: &mut Vec<R>, limit: i64, offset: i64) -> Page<R> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        Page {
            items: std::mem::take(rows),
            next_cursor: more.then(|| (offset + limit).to_string()),
        }
    }

    pub fn map<T>(self, f: impl FnMut(R) -> T) -> Page<T> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

impl PageQuery {
    /// (limit, offset), checked.
    pub fn window(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::Invalid("limit must be 1 to 200".into()));
        }
        let offset = match self.cursor.as_deref() {
            None => 0,
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|o| (0..=1_000_000).contains(o))
                .ok_or_else(|| ApiError::Invalid("bad cursor".into()))?,
        };
        Ok((limit, offset))
    }
}

/// A JSON request body, read after the permission check (so a caller without the right role
/// learns nothing about the body's shape) and refused as a problem document when malformed.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::Invalid(format!("request body: {e}")))
}

/// Query parameters whose rejection is a problem document too.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(ApiQuery)
            .map_err(|e| ApiError::Invalid(format!("query: {e}")))
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token of this IdP with scope admin:operator or \
                         admin:administrator (client_credentials for automation)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mpsv-idp administration API",
        description = "Organisations, people, consents, accounts and letters, statutory roles, \
            delegations (operators); OAuth clients, signing keys, staff and the audit log \
            (administrators). Errors are RFC 9457 problem details.",
        version = "1"
    ),
    servers((url = "/admin/api/v1")),
    modifiers(&Security),
    security(("bearer" = [])),
    paths(
        organisations::list_organisations, organisations::create_organisation, organisations::get_organisation,
        persons::list_persons, persons::get_person,
        persons::record_consent, persons::withdraw_consent,
        accounts::create_account, accounts::reissue_letter,
        accounts::change_status, accounts::list_sessions, accounts::end_all_sessions,
        accounts::reset_second_factors,
        persons::start_statutory, persons::end_statutory,
        organisations::grant_delegation, organisations::revoke_delegation,
        clients::list_clients, clients::create_client, clients::update_client, clients::rotate_secret,
        system::list_keys, system::rotate_key,
        staff::create_staff, staff::change_staff_status,
        system::settings,
        system::audit_log,
        system::list_logout_deliveries,
    ),
    tags(
        (name = "register", description = "operators: the MPSV register"),
        (name = "system", description = "administrators: clients, keys, staff, audit"),
    )
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("endpoint")
}

/// The API's routes, nested under [`BASE`] by the application router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route(
            "/organisations",
            get(organisations::list_organisations).post(organisations::create_organisation),
        )
        .route("/organisations/{id}", get(organisations::get_organisation))
        .route(
            "/organisations/{id}/delegations",
            post(organisations::grant_delegation),
        )
        .route(
            "/organisations/{id}/delegations/{delegation}/revoke",
            post(organisations::revoke_delegation),
        )
        .route("/persons", get(persons::list_persons))
        .route("/persons/{sub}", get(persons::get_person))
        .route("/persons/{sub}/account", post(accounts::create_account))
        .route("/persons/{sub}/letters", post(accounts::reissue_letter))
        .route("/persons/{sub}/status", post(accounts::change_status))
        .route("/persons/{sub}/sessions", get(accounts::list_sessions))
        .route(
            "/persons/{sub}/sessions/end",
            post(accounts::end_all_sessions),
        )
        .route(
            "/persons/{sub}/second-factors/reset",
            post(accounts::reset_second_factors),
        )
        .route(
            "/persons/{sub}/statutory-roles",
            post(persons::start_statutory),
        )
        .route(
            "/persons/{sub}/statutory-roles/end",
            post(persons::end_statutory),
        )
        .route("/consents", post(persons::record_consent))
        .route("/consents/{id}/withdraw", post(persons::withdraw_consent))
        .route(
            "/clients",
            get(clients::list_clients).post(clients::create_client),
        )
        .route("/clients/{id}", patch(clients::update_client))
        .route("/clients/{id}/secret", post(clients::rotate_secret))
        .route("/keys", get(system::list_keys))
        .route("/keys/rotate", post(system::rotate_key))
        .route("/staff", post(staff::create_staff))
        .route("/staff/{sub}/status", post(staff::change_staff_status))
        .route("/settings", get(system::settings))
        .route("/audit", get(system::audit_log))
        .route("/logout-deliveries", get(system::list_logout_deliveries))
        .fallback(not_found)
        // Every answer of this API is personal data, a secret, an initial password or the
        // letter that carries one: never stored by a browser or a proxy (RFC 9111 §5.2.2.5;
        // OWASP REST Security Cheat Sheet). `overriding`: whatever a handler set.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ))
}
