//! The administrators' part of the API beside clients (`clients.rs`) and staff (`staff.rs`):
//! signing keys, the settings in force, the audit log and the back-channel logout outbox.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use super::{ApiQuery, Page, PageQuery};
use crate::app::AppState;
use crate::audit::Filter;

use crate::domain::client::SigningAlg;
use crate::domain::permission::Permission;
use crate::secrets::now;
use crate::services::{self};

// ---------- keys ----------

#[derive(Serialize, ToSchema)]
pub struct Key {
    pub kid: String,
    pub alg: String,
    /// `next` (published, not yet signing), `current`, or `retired` (still verifying).
    pub state: String,
    pub created_at: i64,
    pub active_from: i64,
}

#[utoipa::path(get, path = "/keys", tag = "system", responses((status = 200, description = "OK", body = Vec<Key>), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn list_keys(State(state): State<AppState>, admin: Admin) -> ApiResult<Json<Vec<Key>>> {
    admin.require(Permission::ManageKeys)?;
    Ok(Json(
        state
            .keys
            .states(now())
            .into_iter()
            .map(|(k, s)| Key {
                kid: k.meta.kid.clone(),
                alg: k.meta.alg.clone(),
                state: s.label().to_owned(),
                created_at: k.meta.created_at,
                active_from: k.meta.active_from,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct KeyRotation {
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// Seconds until the new key signs (default: `keys.rotation_delay`).
    pub delay: Option<i64>,
}

#[utoipa::path(post, path = "/keys/rotate", tag = "system", request_body = KeyRotation,
    responses((status = 201, description = "Created", body = Key), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_key(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Key>)> {
    admin.require(Permission::ManageKeys)?;
    let r: KeyRotation = super::json(&body)?;
    let alg: SigningAlg = r.alg.parse()?;
    let delay = r.delay.unwrap_or(state.config.keys.rotation_delay);
    let meta =
        services::keys::rotate(state.services(), &state.keys, &admin.actor, alg, delay).await?;
    Ok((
        StatusCode::CREATED,
        Json(Key {
            kid: meta.kid,
            alg: meta.alg,
            state: "next".into(),
            created_at: meta.created_at,
            active_from: meta.active_from,
        }),
    ))
}

// ---------- settings ----------

#[derive(Serialize, ToSchema)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

#[utoipa::path(get, path = "/settings", tag = "system",
    responses((status = 200, description = "The settings in force (from the configuration file; no secrets)", body = Vec<Setting>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn settings(
    State(state): State<AppState>,
    admin: Admin,
) -> ApiResult<Json<Vec<Setting>>> {
    admin.require(Permission::ReadSettings)?;
    Ok(Json(
        state
            .config
            .summary()
            .into_iter()
            .map(|(name, value)| Setting {
                name: name.into(),
                value,
            })
            .collect(),
    ))
}

// ---------- audit ----------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub event: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub source_ip: Option<String>,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/audit", tag = "system", params(AuditQuery),
    responses((status = 200, description = "OK", body = AuditPage), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_log(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    admin.require(Permission::ReadAudit)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Invalid("limit must be 1 to 500".into()));
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::Invalid("bad cursor".into()))
        })
        .transpose()?;
    let rows = state
        .audit
        .query(&Filter {
            event: q.event,
            actor: q.actor,
            subject: q.subject,
            from: q.from,
            until: q.until,
            before,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        items: rows
            .into_iter()
            .map(|r| AuditRecord {
                details: serde_json::from_str(&r.details).unwrap_or_default(),
                id: r.id,
                at: r.at,
                event: r.event,
                actor: r.actor,
                subject: r.subject,
                source_ip: r.source_ip,
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect(),
        next_cursor,
    }))
}

// ---------- back-channel logout deliveries ----------

#[derive(Serialize, ToSchema)]
pub struct LogoutDelivery {
    pub id: String,
    pub client_id: String,
    /// The person signed out.
    pub sub: String,
    pub sid: String,
    pub created_at: i64,
    /// `pending`, `delivered` or `given_up`.
    pub state: String,
    pub attempts: i64,
    pub last_attempt_at: Option<i64>,
    /// HTTP status of the last attempt, or `timeout` / `connection failed` / `request failed`.
    pub last_status: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub given_up_at: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending` (default), `delivered` or `given_up`.
    pub state: Option<String>,
    /// Only this client's deliveries.
    pub client_id: Option<String>,
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/logout-deliveries", tag = "system", params(DeliveryQuery),
    responses((status = 200, description = "OK", body = Page<LogoutDelivery>), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
/// The back-channel logout outbox: what waits, what was delivered, what was given up, with
/// every delivery's attempts and last status (issue 12.2).
pub async fn list_logout_deliveries(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Page<LogoutDelivery>>> {
    use crate::storage::deliveries::DeliveryState;
    admin.require(Permission::ManageClients)?;
    let which = match q.state.as_deref() {
        None => DeliveryState::Pending,
        Some(s) => DeliveryState::parse(s).ok_or_else(|| {
            ApiError::Invalid("state must be pending, delivered or given_up".into())
        })?,
    };
    let (limit, offset) = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    }
    .window()?;
    let mut rows = state
        .storage
        .deliveries(which, q.client_id.as_deref(), limit + 1, offset)
        .await?;
    Ok(Json(Page::of(&mut rows, limit, offset).map(|d| {
        let label = if d.delivered_at.is_some() {
            "delivered"
        } else if d.given_up_at.is_some() {
            "given_up"
        } else {
            "pending"
        };
        LogoutDelivery {
            next_attempt_at: (label == "pending").then_some(d.next_attempt_at),
            state: label.into(),
            id: d.id,
            client_id: d.client_id,
            sub: d.sub.into(),
            sid: d.sid.into(),
            created_at: d.created_at,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            delivered_at: d.delivered_at,
            given_up_at: d.given_up_at,
        }
    })))
}
