//! The administrators' API on OAuth clients: list, register (the secret shown once), change,
//! new secret. Each action goes through `services::clients` (validated, written and audited in
//! one transaction).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::{ApiError, ApiResult, Problem};
use crate::app::AppState;

use crate::domain::client::{Application, Client as DomainClient, RedirectUri};
use crate::domain::permission::Permission;
use crate::domain::scope::Scopes;
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
    /// Authorization requests only through the PAR endpoint (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Authorization requests only as signed request objects (RFC 9101).
    pub require_signed_request_object: bool,
    /// Tokens only DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// `fapi2` under the FAPI 2.0 Security Profile, otherwise null.
    pub security_profile: Option<String>,
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
            require_pushed_authorization_requests: c.require_pushed_requests,
            require_signed_request_object: c.require_signed_request_object,
            dpop_bound_access_tokens: c.dpop_bound_access_tokens,
            security_profile: c.fapi2.then(|| "fapi2".to_owned()),
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
    /// Authorization requests only through the PAR endpoint (RFC 9126 §6); default false.
    pub require_pushed_authorization_requests: Option<bool>,
    /// Authorization requests only as request objects signed with `jwks` (RFC 9101 §10.5);
    /// default false.
    pub require_signed_request_object: Option<bool>,
    /// Token requests only with a DPoP proof; every token DPoP-bound (RFC 9449 §5.2); default
    /// false.
    pub dpop_bound_access_tokens: Option<bool>,
    /// `fapi2`: the FAPI 2.0 Security Profile (turns on PAR, PKCE and DPoP; needs
    /// `private_key_jwt` and `jwks`).
    pub security_profile: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
}

/// `security_profile`: none or `fapi2`.
fn security_profile(p: Option<&str>) -> ApiResult<bool> {
    match p {
        None | Some("") => Ok(false),
        Some("fapi2") => Ok(true),
        Some(other) => Err(ApiError::Invalid(format!(
            "security_profile {other:?} is not fapi2"
        ))),
    }
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
        require_pushed_requests: n.require_pushed_authorization_requests.unwrap_or(false),
        require_signed_request_object: n.require_signed_request_object.unwrap_or(false),
        dpop_bound_access_tokens: n.dpop_bound_access_tokens.unwrap_or(false),
        fapi2: security_profile(n.security_profile.as_deref())?,
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
    pub require_pushed_authorization_requests: Option<bool>,
    pub require_signed_request_object: Option<bool>,
    pub dpop_bound_access_tokens: Option<bool>,
    /// `fapi2` (turns on PAR, PKCE and DPoP too) or an empty string for none.
    pub security_profile: Option<String>,
    /// Replaces the client's JWK Set (JSON text); an empty string removes it.
    pub jwks: Option<String>,
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
    if let Some(r) = ch.require_pushed_authorization_requests {
        c.require_pushed_requests = r;
    }
    if let Some(r) = ch.require_signed_request_object {
        c.require_signed_request_object = r;
    }
    if let Some(d) = ch.dpop_bound_access_tokens {
        c.dpop_bound_access_tokens = d;
    }
    if let Some(p) = ch.security_profile {
        c.fapi2 = security_profile(Some(&p))?;
        if c.fapi2 {
            c.require_pushed_requests = true;
            c.require_pkce = true;
            c.dpop_bound_access_tokens = true;
        }
    }
    if let Some(j) = ch.jwks {
        c.jwks = if j.is_empty() {
            None
        } else {
            Some(services::clients::parse_jwks(&j)?)
        };
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
