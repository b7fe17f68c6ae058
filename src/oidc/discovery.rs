//! OpenID Connect Discovery 1.0 §3: the provider metadata, rendered once at start.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::client_keys::SIGNING_ALGS;
use super::endpoints::Endpoints;
use crate::app::AppState;
use crate::config::ProtocolConfig;
use crate::domain::client::{AuthMethod, GrantType, SigningAlg};
use crate::domain::scope::SUPPORTED;

pub fn document(issuer: &str, e: &Endpoints, protocol: &ProtocolConfig) -> Value {
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let confidential: Vec<&str> = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
    ]
    .iter()
    .map(|m| m.as_str())
    .collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": e.authorization,
        "token_endpoint": e.token,
        "userinfo_endpoint": e.userinfo,
        "jwks_uri": e.jwks,
        "revocation_endpoint": e.revocation,
        "introspection_endpoint": e.introspection,
        "end_session_endpoint": e.end_session,
        "pushed_authorization_request_endpoint": e.pushed_authorization_request,
        "require_pushed_authorization_requests": protocol.require_pushed_authorization_requests,
        "scopes_supported": SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": GrantType::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported":
            AuthMethod::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported":
            AuthMethod::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "introspection_endpoint_auth_methods_supported": confidential,
        // RFC 9701 §7: signed introspection responses on request.
        "introspection_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": super::dpop::ALGS,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
            "at_hash", "name", "given_name", "family_name", "preferred_username", "locale",
            "email", "email_verified", "mpsv_client_id", "organisation",
            "statutory_representative", "submit_permission", "submit_permission_source", "apps"
        ],
        "claims_parameter_supported": true,
        // RFC 9101: request objects by value (and through PAR), signed with the client's
        // keys; `request_uri` values are only ours (the PAR endpoint's), never fetched.
        "request_parameter_supported": true,
        "request_uri_parameter_supported": false,
        "request_object_signing_alg_values_supported": SIGNING_ALGS,
        "require_signed_request_object": protocol.require_signed_request_object,
        // `consent` is accepted but shows no page (the person's consent is the signed paper
        // form an operator records): not advertised (docs/decisions.md).
        "prompt_values_supported": ["none", "login", "select_account"],
        "acr_values_supported": [super::ACR_PASSWORD, super::ACR_MFA],
        "ui_locales_supported": ["cs", "en"],
        "claims_locales_supported": ["cs"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}

/// `GET /.well-known/openid-configuration`
pub async fn handler(State(state): State<AppState>) -> Response {
    let mut r = state.discovery.clone().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
