//! Minting tokens: JWT access tokens, ID tokens, and the token response (RFC 6749 §5.1).
//! Claims are evaluated from the database at every issue, never copied from an older token.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::jwt::{self, AccessTokenClaims};
use crate::app::AppState;
use crate::domain::account::Account;
use crate::domain::amr::Amr;
use crate::domain::claims_request::{scope_of, ClaimsRequest, Target};
use crate::domain::client::Client;
use crate::domain::entitlement::Affiliation;
use crate::domain::id::{OrganisationId, Subject};
use crate::domain::scope::Scopes;
use crate::error::{no_store, Internal};
use crate::secrets::{now, PlainToken};

/// Who a user token is for, and how they authenticated.
pub struct UserContext<'a> {
    pub account: &'a Account,
    pub sid: &'a str,
    pub auth_time: i64,
    pub amr: Amr,
    pub family_id: &'a str,
    /// The organisation the person acts for in this grant, evaluated now.
    pub affiliation: Option<&'a Affiliation>,
}

/// The organisation of a grant, evaluated from the database at the moment of asking.
pub enum GrantOrganisation {
    /// Not an application client's grant: no organisation claims.
    None,
    Current(Box<Affiliation>),
    /// The grant's organisation no longer entitles the person to the client's application
    /// (a consent was withdrawn): the grant must not be used any more.
    Lost,
}

pub async fn grant_organisation(
    state: &AppState,
    client: &Client,
    sub: &Subject,
    organisation_id: Option<&OrganisationId>,
) -> Result<GrantOrganisation, Internal> {
    let Some(org) = organisation_id else {
        // A grant of an application client always has an organisation.
        return Ok(if client.application.is_some() {
            GrantOrganisation::Lost
        } else {
            GrantOrganisation::None
        });
    };
    let Some(a) = state.storage.affiliation(sub, org, now()).await? else {
        return Ok(GrantOrganisation::Lost);
    };
    if client.application.is_some_and(|app| !a.entitled(app)) {
        return Ok(GrantOrganisation::Lost);
    }
    Ok(GrantOrganisation::Current(Box::new(a)))
}

impl GrantOrganisation {
    pub fn affiliation(&self) -> Option<&Affiliation> {
        match self {
            GrantOrganisation::Current(a) => Some(a),
            _ => None,
        }
    }
}

impl UserContext<'_> {
    pub fn acr(&self) -> &'static str {
        if self.amr.has_second_factor() {
            super::ACR_MFA
        } else {
            super::ACR_PASSWORD
        }
    }
}

/// A signed access token, its lifetime in seconds and whether it is DPoP-bound.
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
    pub dpop_bound: bool,
}

/// An access token for `client` (and `user`), bound to the DPoP key `jkt` if one is given
/// (RFC 9449 §6.1).
pub fn access_token(
    state: &AppState,
    client: &Client,
    scope: &Scopes,
    user: Option<&UserContext<'_>>,
    jkt: Option<&str>,
) -> Result<AccessToken, Internal> {
    let ttl = client
        .access_token_ttl
        .unwrap_or(state.config.tokens.access_token);
    let iat = now();
    let random = PlainToken::generate_with_bytes(16);
    let claims = AccessTokenClaims {
        iss: state.config.issuer.clone(),
        sub: user.map_or_else(
            || client.client_id.as_str().to_owned(),
            |u| u.account.sub.clone().into(),
        ),
        aud: client.client_id.as_str().to_owned(),
        client_id: client.client_id.as_str().to_owned(),
        iat,
        exp: iat + ttl,
        jti: match user {
            Some(u) => format!("{}.{}", u.family_id, random.expose()),
            None => random.expose().to_owned(),
        },
        scope: scope.to_string(),
        auth_time: user.map(|u| u.auth_time),
        acr: user.map(|u| u.acr().to_owned()),
        amr: user.map(|u| u.amr.clone()),
        sid: user.map(|u| u.sid.to_owned()),
        cnf: jkt.map(|j| jwt::Confirmation { jkt: j.to_owned() }),
    };
    let payload = serde_json::to_vec(&claims).map_err(Internal::from)?;
    let token = state
        .keys
        .sign(client.access_token_alg, jwt::TYP_ACCESS, &payload)?;
    Ok(AccessToken {
        token,
        expires_in: ttl,
        dpop_bound: jkt.is_some(),
    })
}

/// The claims a person's scopes release (OIDC Core §5.4 and the MPSV claims contract), from
/// the current account record and the grant's organisation as evaluated now.
pub fn user_claims(
    account: &Account,
    affiliation: Option<&Affiliation>,
    scope: &Scopes,
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), account.sub.clone().into());
    if scope.contains("profile") {
        c.insert("name".into(), account.name().into());
        c.insert("given_name".into(), account.given_name.clone().into());
        c.insert("family_name".into(), account.family_name.clone().into());
        c.insert("preferred_username".into(), account.username.clone().into());
        c.insert("locale".into(), account.locale.clone().into());
    }
    if scope.contains("email") {
        if let Some(email) = &account.email {
            c.insert("email".into(), email.clone().into());
            c.insert("email_verified".into(), account.email_verified.into());
        }
    }
    if scope.contains("mpsv") {
        if let Some(id) = &account.mpsv_client_id {
            c.insert("mpsv_client_id".into(), id.clone().into());
        }
    }
    if scope.contains("organisation") {
        if let Some(a) = affiliation {
            organisation_claims(&mut c, a);
        }
    }
    c
}

/// Whose claims are released, to which client, at which authentication (`amr`).
#[derive(Clone, Copy)]
pub struct Grant<'a> {
    pub account: &'a Account,
    pub affiliation: Option<&'a Affiliation>,
    pub client: &'a Client,
    pub amr: Option<&'a Amr>,
}

/// `[protocol] submit_requires_mfa`: for those applications, `submit_permission: true` only
/// when the grant's authentication reached the MFA level. Below it the permission reads
/// false and `submit_permission_mfa_required: true` tells the application to step up.
pub fn gate_submit(
    state: &AppState,
    c: &mut Map<String, Value>,
    client: &Client,
    amr: Option<&Amr>,
) {
    let required = client.application.is_some_and(|a| {
        state
            .config
            .protocol
            .submit_requires_mfa
            .iter()
            .any(|n| n == a.as_str())
    });
    if !required || amr.is_some_and(Amr::has_second_factor) {
        return;
    }
    if c.get("submit_permission") == Some(&Value::Bool(true)) {
        c.insert("submit_permission".into(), false.into());
        c.insert("submit_permission_source".into(), Value::Null);
        c.insert("submit_permission_mfa_required".into(), true.into());
    }
}

/// The claims of `scope` and, of those asked for individually (`claims`, OIDC Core §5.5),
/// the ones whose scope the client is registered for, even if this request did not ask for
/// that scope.
pub fn released_claims<'a>(
    state: &AppState,
    grant: Grant<'_>,
    scope: &Scopes,
    requested: impl Iterator<Item = &'a str>,
) -> Map<String, Value> {
    let Grant {
        account,
        affiliation,
        client,
        amr,
    } = grant;
    let mut c = user_claims(account, affiliation, scope);
    gate_submit(state, &mut c, client, amr);
    let extra: Vec<&str> = requested
        .filter(|n| !c.contains_key(*n))
        .filter(|n| scope_of(n).is_some_and(|s| client.scopes.contains(s)))
        .collect();
    if extra.is_empty() {
        return c;
    }
    let wider = Scopes::from_list(scope.iter().chain(extra.iter().filter_map(|n| scope_of(n))));
    let mut all = user_claims(account, affiliation, &wider);
    gate_submit(state, &mut all, client, amr);
    for name in extra {
        if let Some(v) = all.remove(name) {
            c.insert(name.to_owned(), v);
        }
    }
    c
}

/// The `organisation` scope's claims (DESIGN.md, "Claims contract").
fn organisation_claims(c: &mut Map<String, Value>, a: &Affiliation) {
    let o = &a.organisation;
    c.insert(
        "organisation".into(),
        json!({
            "id": o.id,
            "ico": o.ico.as_str(),
            "name": o.name,
            "legal_form": o.legal_form,
            "social_service_provider": o.kind.social_service_provider,
            "nno_family_support": o.kind.nno_family_support,
        }),
    );
    let submit = a.submit();
    c.insert("statutory_representative".into(), a.statutory.into());
    c.insert("submit_permission".into(), submit.is_some().into());
    c.insert(
        "submit_permission_source".into(),
        submit.map_or(Value::Null, |s| s.as_str().into()),
    );
    c.insert(
        "apps".into(),
        Value::Array(a.apps().into_iter().map(|a| a.as_str().into()).collect()),
    );
}

/// An ID token (OIDC Core §2, §3.1.3.6) for `client`, bound to `access_token` by `at_hash`.
pub fn id_token(
    state: &AppState,
    client: &Client,
    user: &UserContext<'_>,
    scope: &Scopes,
    nonce: Option<&str>,
    access_token: &str,
    requested: &ClaimsRequest,
) -> Result<String, Internal> {
    let iat = now();
    let grant = Grant {
        account: user.account,
        affiliation: user.affiliation,
        client,
        amr: Some(&user.amr),
    };
    let mut c = released_claims(state, grant, scope, requested.names(Target::IdToken));
    c.insert("iss".into(), state.config.issuer.clone().into());
    c.insert("aud".into(), client.client_id.as_str().into());
    c.insert("azp".into(), client.client_id.as_str().into());
    c.insert("iat".into(), iat.into());
    c.insert("exp".into(), (iat + state.config.tokens.id_token).into());
    c.insert("auth_time".into(), user.auth_time.into());
    c.insert("sid".into(), user.sid.into());
    c.insert("amr".into(), json!(user.amr));
    c.insert("acr".into(), user.acr().into());
    c.insert(
        "at_hash".into(),
        jwt::at_hash(client.id_token_alg, access_token).into(),
    );
    if let Some(n) = nonce {
        c.insert("nonce".into(), n.into());
    }
    let payload = serde_json::to_vec(&c).map_err(Internal::from)?;
    Ok(state
        .keys
        .sign(client.id_token_alg, jwt::TYP_ID, &payload)?)
}

/// RFC 6749 §5.1 successful token response, never cached.
pub fn token_response(
    access: AccessToken,
    scope: &Scopes,
    id_token: Option<String>,
    refresh_token: Option<PlainToken>,
) -> Response {
    let mut body = json!({
        "access_token": access.token,
        // RFC 9449 §5.1: a bound token's type is DPoP.
        "token_type": if access.dpop_bound { "DPoP" } else { "Bearer" },
        "expires_in": access.expires_in,
        "scope": scope.to_string(),
    });
    if let Some(id) = id_token {
        body["id_token"] = id.into();
    }
    if let Some(rt) = refresh_token {
        body["refresh_token"] = rt.expose().into();
    }
    no_store((StatusCode::OK, Json(body)).into_response())
}
