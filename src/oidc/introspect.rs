//! Token introspection (RFC 7662). Only authenticated confidential clients may ask. Access
//! tokens are answered for any such client (resource servers check tokens of others), but the
//! person's identity and claims only to the token's own client; refresh tokens only for the
//! client they were issued to. Anything else is `{"active": false}`.
//!
//! A resource server that asks with `Accept: application/token-introspection+jwt` gets the
//! same answer signed by us (RFC 9701), so that it can keep or pass on a verifiable record.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::client_auth::authenticate;
use crate::app::AppState;
use crate::domain::client::{Client, SigningAlg};
use crate::domain::id::Subject;
use crate::error::{no_store, Internal, OAuthError};
use crate::secrets::PlainToken;

/// The media type of a signed introspection response (RFC 9701 §4).
const JWT_RESPONSE: &str = "application/token-introspection+jwt";

/// `POST /introspect`
pub async fn handler(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match introspect(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn introspect(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let p = super::client_form(headers, body)?;
    let client = authenticate(state, headers, &p).await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "public clients may not introspect tokens",
            false,
        ));
    }
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let v = answer(state, &client, token).await?;
    if accepts_jwt(headers) {
        return signed(state, &client, v);
    }
    Ok(no_store(Json(v).into_response()))
}

/// Does the resource server ask for the signed response (RFC 9701 §4)?
fn accepts_jwt(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.split(';').next())
        .any(|v| v.trim().eq_ignore_ascii_case(JWT_RESPONSE))
}

/// RFC 9701 §5: the answer as the `token_introspection` claim of a JWT for the asking
/// resource server (`aud`), signed RS256 (the default of §6), typed so that it cannot be
/// mistaken for an access token.
fn signed(state: &AppState, client: &Client, v: Value) -> Result<Response, OAuthError> {
    let claims = json!({
        "iss": state.config.issuer,
        "aud": client.client_id.as_str(),
        "iat": crate::secrets::now(),
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "token_introspection": v,
    });
    let payload = serde_json::to_vec(&claims).map_err(Internal::from)?;
    let jwt = state
        .keys
        .sign(SigningAlg::RS256, "token-introspection+jwt", &payload)
        .map_err(Internal::from)?;
    let mut r = jwt.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JWT_RESPONSE));
    Ok(no_store(r))
}

/// The introspection answer for `client` (RFC 7662 §2.2).
async fn answer(state: &AppState, client: &Client, token: &str) -> Result<Value, OAuthError> {
    let inactive = json!({ "active": false });

    if token.matches('.').count() == 2 {
        let Some(live) = super::jwt::live_access_token(state, token).await? else {
            return Ok(inactive);
        };
        let c = live.claims;
        // RFC 7662 §2.2 leaves every member but `active` optional; we release what the
        // asking client may know (data minimisation). Any confidential client learns that the
        // token is active, its client, scope, audience and validity; who it describes and how
        // they signed in only the token's own client (its audience) learns.
        let own = c.client_id == client.client_id.as_str() || c.aud == client.client_id.as_str();
        let mut v = json!({
            "active": true,
            "token_type": if c.cnf.is_some() { "DPoP" } else { "Bearer" },
            "scope": c.scope,
            "client_id": c.client_id,
            "aud": c.aud,
            "iss": c.iss,
            "iat": c.iat,
            "exp": c.exp,
            "jti": c.jti,
        });
        if own {
            v["sub"] = c.sub.clone().into();
        }
        // RFC 9449 §6.2: the resource server checks the proof against this key.
        if let Some(cnf) = &c.cnf {
            v["cnf"] = json!({ "jkt": cnf.jkt });
        }
        if c.sid.is_some() {
            let Some(account) = state
                .storage
                .account(&Subject::lookup(&c.sub))
                .await?
                .filter(|a| a.status == crate::domain::account::AccountStatus::Active)
            else {
                return Ok(inactive);
            };
            // The person's claims as of now, for the grant's own client and organisation.
            let Some(token_client) = state.storage.client(&c.client_id).await? else {
                return Ok(inactive);
            };
            let organisation = super::issue::grant_organisation(
                state,
                &token_client,
                &Subject::lookup(&c.sub),
                live.family
                    .as_ref()
                    .and_then(|f| f.organisation_id.as_ref()),
            )
            .await?;
            if let super::issue::GrantOrganisation::Lost = organisation {
                return Ok(inactive);
            }
            if !own {
                return Ok(v);
            }
            let scope = crate::domain::scope::Scopes::parse(&c.scope).unwrap_or_default();
            if let Value::Object(map) = &mut v {
                let mut claims =
                    super::issue::user_claims(&account, organisation.affiliation(), &scope);
                super::issue::gate_submit(state, &mut claims, &token_client, c.amr.as_ref());
                for (k, val) in claims {
                    map.entry(k).or_insert(val);
                }
            }
            // The username is profile data: only with the scope that releases the profile.
            if scope.contains("profile") {
                v["username"] = account.username.into();
            }
            v["sid"] = c.sid.into();
            v["auth_time"] = c.auth_time.into();
            v["acr"] = c.acr.into();
            v["amr"] = c.amr.map(|a| a.values()).into();
        }
        return Ok(v);
    }

    let hash = PlainToken::from_received(token).hashed();
    match state.storage.family_of_refresh_token(&hash).await? {
        Some((family, expires_at))
            if family.client_id == client.client_id.as_str()
                && family.is_active(crate::secrets::now()) =>
        {
            Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": family.scope,
                "client_id": family.client_id,
                "sub": family.sub,
                "iss": state.config.issuer,
                "exp": expires_at,
                "sid": family.sid,
            }))
        }
        _ => Ok(inactive),
    }
}
