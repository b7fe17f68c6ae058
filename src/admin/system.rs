//! The administrators' part of the API: OAuth clients, signing keys, staff accounts and the
//! audit log.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use super::register::StatusChange;
use super::{ApiQuery, Page, PageQuery};
use crate::app::AppState;
use crate::audit::Filter;

use crate::domain::client::{Application, Client as DomainClient, RedirectUri, SigningAlg};
use crate::domain::permission::Permission;
use crate::domain::scope::Scopes;
use crate::secrets::{now, PlainToken};
use crate::services::{self, Via};

// ---------- clients ----------

#[derive(Serialize, ToSchema)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub auth_method: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// `poskytovatel`, `rodina` or null.
    pub application: Option<String>,
    pub id_token_alg: String,
    pub access_token_alg: String,
    pub require_pkce: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub enabled: bool,
}

impl From<&DomainClient> for Client {
    fn from(c: &DomainClient) -> Self {
        let uris = |l: &[RedirectUri]| l.iter().map(|u| u.as_str().to_owned()).collect();
        Client {
            client_id: c.client_id.as_str().to_owned(),
            name: c.name.clone(),
            auth_method: c.auth_method.as_str().to_owned(),
            redirect_uris: uris(&c.redirect_uris),
            post_logout_redirect_uris: uris(&c.post_logout_redirect_uris),
            backchannel_logout_uri: c
                .backchannel_logout_uri
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scopes: c
                .scopes
                .to_string()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            application: c.application.map(|a| a.as_str().to_owned()),
            id_token_alg: c.id_token_alg.as_str().to_owned(),
            access_token_alg: c.access_token_alg.as_str().to_owned(),
            require_pkce: c.require_pkce,
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            enabled: c.enabled,
        }
    }
}

#[utoipa::path(get, path = "/clients", tag = "system",
    responses((status = 200, description = "OK", body = Vec<Client>), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")))]
pub async fn list_clients(
    State(state): State<AppState>,
    admin: Admin,
) -> ApiResult<Json<Vec<Client>>> {
    admin.require(Permission::ManageClients)?;
    let clients = state.storage.clients().await?;
    Ok(Json(clients.iter().map(Client::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt`, `none`.
    pub auth_method: Option<String>,
    /// Default: authorization_code and refresh_token.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Default: openid, profile, email.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `poskytovatel` or `rodina`: logins are checked for entitlement and act for one organisation.
    pub application: Option<String>,
    pub id_token_alg: Option<String>,
    pub access_token_alg: Option<String>,
    /// The client's JWK Set (for `private_key_jwt`), as JSON text.
    pub jwks: Option<String>,
    pub require_pkce: Option<bool>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: Client,
    /// Shown once; only its hash is stored.
    pub client_secret: Option<String>,
}

#[utoipa::path(post, path = "/clients", tag = "system", request_body = NewClient,
    responses((status = 201, description = "Created", body = CreatedClient), (status = 409, description = "Already exists", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn create_client(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<CreatedClient>)> {
    admin.require(Permission::ManageClients)?;
    let n: NewClient = super::json(&body)?;
    let (client, secret) = services::clients::build(services::clients::Registration {
        client_id: n.client_id,
        name: n.name,
        redirect_uris: n.redirect_uris,
        post_logout_redirect_uris: n.post_logout_redirect_uris,
        backchannel_logout_uri: n.backchannel_logout_uri,
        auth_method: n
            .auth_method
            .unwrap_or_else(|| "client_secret_basic".into()),
        grant_types: n.grant_types,
        scopes: n.scopes,
        application: n.application,
        id_token_alg: n.id_token_alg.unwrap_or_else(|| "RS256".into()),
        access_token_alg: n.access_token_alg.unwrap_or_else(|| "RS256".into()),
        jwks: n.jwks,
        require_pkce: n.require_pkce.unwrap_or(true),
        access_token_ttl: n.access_token_ttl,
        refresh_token_ttl: n.refresh_token_ttl,
        secret: None,
    })?;
    services::clients::create(state.services(), &admin.actor, &client, Via::Staff).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client: Client::from(&client),
            client_secret: secret.map(|s| s.expose().to_owned()),
        }),
    ))
}

async fn stored_client(state: &AppState, id: &str) -> ApiResult<DomainClient> {
    let c = state
        .storage
        .client(id)
        .await?
        .ok_or(ApiError::NotFound("client"))?;
    Ok((*c).clone())
}

#[derive(Deserialize, ToSchema)]
pub struct ClientChange {
    pub name: Option<String>,
    /// Replaces the list; each must be an absolute `https` URI (or `http` on loopback), no fragment.
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `poskytovatel`, `rodina`, or an empty string for none.
    pub application: Option<String>,
    pub enabled: Option<bool>,
}

#[utoipa::path(patch, path = "/clients/{id}", tag = "system", request_body = ClientChange,
    params(("id" = String, Path)), responses((status = 200, description = "OK", body = Client), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn update_client(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Client>> {
    admin.require(Permission::ManageClients)?;
    let ch: ClientChange = super::json(&body)?;
    let mut c = stored_client(&state, &id).await?;
    let uris = |l: Vec<String>| -> ApiResult<Vec<RedirectUri>> {
        l.iter()
            .map(|u| RedirectUri::parse(u).map_err(ApiError::from))
            .collect()
    };
    if let Some(n) = ch.name {
        if n.trim().is_empty() {
            return Err(ApiError::Invalid("name is empty".into()));
        }
        c.name = n.trim().to_owned();
    }
    if let Some(l) = ch.redirect_uris {
        c.redirect_uris = uris(l)?;
    }
    if let Some(l) = ch.post_logout_redirect_uris {
        c.post_logout_redirect_uris = uris(l)?;
    }
    if let Some(u) = ch.backchannel_logout_uri {
        c.backchannel_logout_uri = if u.is_empty() {
            None
        } else {
            Some(RedirectUri::parse(&u)?)
        };
    }
    if let Some(s) = ch.scopes {
        c.scopes = Scopes::parse(&s.join(" "))?;
    }
    if let Some(a) = ch.application {
        c.application = if a.is_empty() {
            None
        } else {
            Some(a.parse::<Application>()?)
        };
    }
    if let Some(e) = ch.enabled {
        c.enabled = e;
    }
    services::clients::update(state.services(), &admin.actor, &c, Via::Staff).await?;
    Ok(Json(Client::from(&c)))
}

#[derive(Serialize, ToSchema)]
pub struct NewSecret {
    /// Shown once; the previous secret stops working at once.
    pub client_secret: String,
}

#[utoipa::path(post, path = "/clients/{id}/secret", tag = "system",
    params(("id" = String, Path)), responses((status = 200, description = "OK", body = NewSecret), (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid input or a broken rule", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not allowed for this role", body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<NewSecret>> {
    admin.require(Permission::ManageClients)?;
    let secret =
        services::clients::rotate_secret(state.services(), &admin.actor, &id, Via::Staff).await?;
    Ok(Json(NewSecret {
        client_secret: secret.expose().to_owned(),
    }))
}

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
    /// `RS256` or `ES256`.
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

// ---------- staff ----------

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
            sub: a.sub,
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
    Path(sub): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    admin.require(Permission::ManageStaff)?;
    let c: StatusChange = super::json(&body)?;
    match state.storage.account(&sub).await? {
        Some(a) if a.role.privileged() => {}
        _ => return Err(ApiError::NotFound("staff account")),
    }
    if sub == admin.actor {
        return Err(ApiError::Invalid(
            "administrators cannot change their own status".into(),
        ));
    }
    super::register::set_status(&state, &admin, &sub, &c).await
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
            sub: d.sub,
            sid: d.sid,
            created_at: d.created_at,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            delivered_at: d.delivered_at,
            given_up_at: d.given_up_at,
        }
    })))
}
