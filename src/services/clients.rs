//! OAuth client registrations: create, change (including enabling and disabling), new secret.

use serde_json::{json, Map, Value};

use super::{Services, Via};
use crate::audit::{Event, Record};
use crate::domain::client::{Application, AuthMethod, Client, ClientId, GrantType, RedirectUri};
use crate::domain::scope::Scopes;
use crate::registry::{Actor, RegistryError, Result};
use crate::secrets::PlainToken;
use crate::storage::StorageError;

/// The scope that makes a client's tokens act as an MPSV operator.
pub const OPERATOR_SCOPE: &str = "admin:operator";

/// A new registration as the CLI, the console and the API receive it (strings, parsed here).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`.
    pub auth_method: String,
    /// Empty: `authorization_code` and `refresh_token`.
    pub grant_types: Vec<String>,
    /// Empty: `openid profile email`.
    pub scopes: Vec<String>,
    pub application: Option<String>,
    pub id_token_alg: String,
    pub access_token_alg: String,
    /// The client's public keys as a JWK Set (`private_key_jwt`).
    pub jwks: Option<String>,
    pub require_pkce: bool,
    /// Authorization requests only through the PAR endpoint (RFC 9126 §6).
    pub require_pushed_requests: bool,
    /// Authorization requests only as signed request objects (RFC 9101 §10.5).
    pub require_signed_request_object: bool,
    /// Tokens only DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// The FAPI 2.0 Security Profile: turns on PAR, PKCE and DPoP; needs `private_key_jwt`.
    pub fapi2: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    /// A given secret (tests, migrations); otherwise one is generated for secret methods.
    pub secret: Option<String>,
}

impl Registration {
    /// The defaults of a confidential client with a generated secret.
    pub fn new(client_id: &str, name: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            auth_method: "client_secret_basic".into(),
            id_token_alg: "RS256".into(),
            access_token_alg: "RS256".into(),
            require_pkce: true,
            ..Self::default()
        }
    }
}

/// Parses a registration into a client (validated) and its secret, shown once.
pub fn build(r: Registration) -> Result<(Client, Option<PlainToken>)> {
    let err = |e: crate::domain::ParseError| RegistryError::Invalid(e.0);
    let auth_method: AuthMethod = r.auth_method.parse().map_err(err)?;
    let secret = match auth_method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => Some(
            r.secret
                .map(|s| PlainToken::from_received(&s))
                .unwrap_or_else(PlainToken::generate),
        ),
        _ => None,
    };
    let grant_types = if r.grant_types.is_empty() {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    } else {
        r.grant_types
            .iter()
            .map(|g| g.parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(err)?
    };
    let scopes = if r.scopes.is_empty() {
        Scopes::from_list(["openid", "profile", "email"])
    } else {
        Scopes::parse(&r.scopes.join(" ")).map_err(err)?
    };
    let uris = |list: &[String]| -> Result<Vec<RedirectUri>> {
        list.iter()
            .map(|u| RedirectUri::parse(u).map_err(err))
            .collect()
    };
    let jwks = r.jwks.as_deref().map(parse_jwks).transpose()?;
    let client = Client {
        client_id: ClientId::parse(&r.client_id).map_err(err)?,
        name: r.name,
        secret_hash: secret.as_ref().map(PlainToken::hashed),
        auth_method,
        redirect_uris: uris(&r.redirect_uris)?,
        post_logout_redirect_uris: uris(&r.post_logout_redirect_uris)?,
        backchannel_logout_uri: r
            .backchannel_logout_uri
            .as_deref()
            .map(RedirectUri::parse)
            .transpose()
            .map_err(err)?,
        grant_types,
        scopes,
        id_token_alg: r.id_token_alg.parse().map_err(err)?,
        access_token_alg: r.access_token_alg.parse().map_err(err)?,
        jwks,
        application: r
            .application
            .as_deref()
            .map(str::parse::<Application>)
            .transpose()
            .map_err(err)?,
        require_pkce: r.require_pkce || r.fapi2,
        require_pushed_requests: r.require_pushed_requests || r.fapi2,
        require_signed_request_object: r.require_signed_request_object,
        dpop_bound_access_tokens: r.dpop_bound_access_tokens || r.fapi2,
        fapi2: r.fapi2,
        access_token_ttl: r.access_token_ttl,
        refresh_token_ttl: r.refresh_token_ttl,
        enabled: true,
    };
    client.validate()?;
    Ok((client, secret))
}

/// A client's public keys as given: a JWK Set (JSON text), kept as given.
pub fn parse_jwks(jwks: &str) -> Result<String> {
    let keys = crate::jose::jwk::key_set(jwks).map_err(|e| {
        RegistryError::Invalid(format!("jwks is not a JWK Set of public keys: {e}"))
    })?;
    if keys.is_empty() {
        return Err(RegistryError::Invalid(format!(
            "jwks has no key for any of {}",
            crate::oidc::client_keys::SIGNING_ALGS.join(", ")
        )));
    }
    Ok(jwks.to_owned())
}

/// The rules every registration follows, whoever registers it.
pub fn check(client: &Client, via: Via) -> Result<()> {
    client.validate()?;
    // Separation of duties (issue 11.10): administrators manage clients, operators the
    // register. A client carrying `admin:operator` acts as an operator, so an administrator who
    // could register one could act as an operator; such automation is registered at the
    // server (`mpsv-idp client add`), by operations staff, not through the console or the API.
    if via == Via::Staff && client.scopes.contains(OPERATOR_SCOPE) {
        return Err(RegistryError::Invalid(format!(
            "a client with the scope {OPERATOR_SCOPE} acts as an operator; administrators \
             cannot register one (separation of duties): use `mpsv-idp client add` at the server"
        )));
    }
    Ok(())
}

/// Registers a client.
pub async fn create(
    state: Services<'_>,
    actor: Actor<'_>,
    client: &Client,
    via: Via,
) -> Result<()> {
    check(client, via)?;
    let mut tx = state.storage.begin_write().await?;
    state.storage.insert_client_in(&mut tx, client).await?;
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::ClientCreated)
                .actor(actor)
                .subject(client.client_id.as_str())
                .detail("client", Value::Object(describe(client))),
        )
        .await?;
    commit(tx).await
}

/// Replaces a client's settings with `changed` (same `client_id`). Disabling it revokes every
/// grant it holds, in the same transaction: a disabled client's refresh tokens never work
/// again, even if it is enabled later, and its access tokens stop at once
/// (`oidc::jwt::live_access_token` also refuses tokens of a disabled client).
pub async fn update(
    state: Services<'_>,
    actor: Actor<'_>,
    changed: &Client,
    via: Via,
) -> Result<()> {
    let mut tx = state.storage.begin_write().await?;
    // As stored now (not a node's cached copy), inside the transaction that changes it.
    let before = state
        .storage
        .client_in(&mut tx, changed.client_id.as_str())
        .await?
        .ok_or(RegistryError::NotFound("client"))?;
    // An existing operator client may be renamed or disabled from the console, but not made
    // one there (nor its operator scope kept when it is re-registered through the console).
    if via == Via::Staff
        && before.scopes.contains(OPERATOR_SCOPE)
        && changed.scopes.contains(OPERATOR_SCOPE)
    {
        changed.validate()?;
    } else {
        check(changed, via)?;
    }
    if !state.storage.update_client_in(&mut tx, changed).await? {
        return Err(RegistryError::NotFound("client"));
    }
    let mut record = Record::new(Event::ClientChanged)
        .actor(actor)
        .subject(changed.client_id.as_str())
        .detail("changes", Value::Object(changes(&before, changed)));
    // Revoking is idempotent: done whenever the client ends up disabled.
    if !changed.enabled {
        let revoked = state
            .storage
            .revoke_client_families(&mut tx, changed.client_id.as_str())
            .await?;
        record = record.detail("grants_revoked", revoked);
    }
    state.audit.append(&mut tx, record).await?;
    commit(tx).await?;
    state.storage.forget_client(changed.client_id.as_str());
    Ok(())
}

/// A new secret for a client that has one; the old one stops working at once.
pub async fn rotate_secret(
    state: Services<'_>,
    actor: Actor<'_>,
    client_id: &str,
    via: Via,
) -> Result<PlainToken> {
    let mut c = (*state
        .storage
        .client(client_id)
        .await?
        .ok_or(RegistryError::NotFound("client"))?)
    .clone();
    // Whoever holds the secret of an operator client acts as an operator (see `check`).
    if via == Via::Staff && c.scopes.contains(OPERATOR_SCOPE) {
        return Err(RegistryError::Invalid(format!(
            "the secret of a client with the scope {OPERATOR_SCOPE} is rotated at the server \
             (`mpsv-idp client rotate-secret`), not by administrators (separation of duties)"
        )));
    }
    if c.secret_hash.is_none() {
        return Err(RegistryError::Invalid(
            "this client authenticates without a secret".into(),
        ));
    }
    let secret = PlainToken::generate();
    c.secret_hash = Some(secret.hashed());
    let mut tx = state.storage.begin_write().await?;
    if !state.storage.update_client_in(&mut tx, &c).await? {
        return Err(RegistryError::NotFound("client"));
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::ClientSecretRotated)
                .actor(actor)
                .subject(client_id),
        )
        .await?;
    commit(tx).await?;
    state.storage.forget_client(client_id);
    Ok(secret)
}

async fn commit(tx: crate::storage::Tx) -> Result<()> {
    tx.commit().await.map_err(StorageError::from)?;
    Ok(())
}

/// A registration as the audit log records it (never the secret or its hash).
pub fn describe(c: &Client) -> Map<String, Value> {
    let uris = |l: &[crate::domain::client::RedirectUri]| {
        l.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>()
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name));
    m.insert("auth_method".into(), json!(c.auth_method.as_str()));
    m.insert("redirect_uris".into(), json!(uris(&c.redirect_uris)));
    m.insert(
        "post_logout_redirect_uris".into(),
        json!(uris(&c.post_logout_redirect_uris)),
    );
    m.insert(
        "backchannel_logout_uri".into(),
        json!(c.backchannel_logout_uri.as_ref().map(|u| u.as_str())),
    );
    m.insert(
        "grant_types".into(),
        json!(c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
    );
    m.insert("scopes".into(), json!(c.scopes.to_string()));
    m.insert(
        "application".into(),
        json!(c.application.map(|a| a.as_str())),
    );
    m.insert("id_token_alg".into(), json!(c.id_token_alg.as_str()));
    m.insert(
        "access_token_alg".into(),
        json!(c.access_token_alg.as_str()),
    );
    m.insert("require_pkce".into(), json!(c.require_pkce));
    m.insert(
        "require_pushed_requests".into(),
        json!(c.require_pushed_requests),
    );
    // The keys themselves are public, but long: their ids say which were registered.
    m.insert(
        "jwks_kids".into(),
        json!(c.jwks.as_deref().map(|j| {
            serde_json::from_str::<Value>(j)
                .ok()
                .and_then(|set| {
                    let keys = set.get("keys")?.as_array()?.iter();
                    Some(
                        keys.map(|k| k.get("kid").and_then(Value::as_str).unwrap_or(""))
                            .map(str::to_owned)
                            .collect::<Vec<_>>(),
                    )
                })
                .unwrap_or_default()
        })),
    );
    m.insert(
        "require_signed_request_object".into(),
        json!(c.require_signed_request_object),
    );
    m.insert(
        "dpop_bound_access_tokens".into(),
        json!(c.dpop_bound_access_tokens),
    );
    m.insert("fapi2".into(), json!(c.fapi2));
    m.insert("access_token_ttl".into(), json!(c.access_token_ttl));
    m.insert("refresh_token_ttl".into(), json!(c.refresh_token_ttl));
    m.insert("enabled".into(), json!(c.enabled));
    m.insert("has_jwks".into(), json!(c.jwks.is_some()));
    m
}

/// What changed: `{setting: [before, after]}` for every setting that differs.
fn changes(before: &Client, after: &Client) -> Map<String, Value> {
    let (b, a) = (describe(before), describe(after));
    a.into_iter()
        .filter(|(k, v)| b.get(k) != Some(v))
        .map(|(k, v)| {
            let old = b.get(&k).cloned().unwrap_or(Value::Null);
            (k, json!([old, v]))
        })
        .collect()
}
