//! The OpenID Connect / OAuth 2.0 endpoints, one file each, and what they share.

pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod client_keys;
pub mod discovery;
pub mod dpop;
pub mod endpoints;
pub mod introspect;
pub mod issue;
pub mod jwks;
pub mod jwt;
pub mod logout;
pub mod par;
pub mod request_object;
pub mod resource;
pub mod revoke;
pub mod token;
pub mod token_cache;
pub mod userinfo;

/// Authentication context class references we assert (OIDC Core §2, `acr`).
pub const ACR_PASSWORD: &str = "urn:mpsv:idp:acr:pwd";
pub const ACR_MFA: &str = "urn:mpsv:idp:acr:mfa";

/// The form a client posts to a back-channel endpoint (token, PAR, introspection,
/// revocation): `application/x-www-form-urlencoded` (RFC 6749 §3.2) with no parameter twice
/// (§3.1); anything else is `invalid_request`.
pub fn client_form(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<crate::http::params::Params, crate::error::OAuthError> {
    use crate::error::OAuthError;
    if !crate::http::params::is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    crate::http::params::Params::parse(body).map_err(|d| {
        OAuthError::invalid_request(format!("parameter {} appears more than once", d.0))
    })
}

/// The protocol's endpoints (merged into `app::build_router`).
pub fn routes() -> axum::Router<crate::app::AppState> {
    use axum::routing::{get, post};
    use axum::Router;
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::handler))
        .route("/jwks", get(jwks::handler))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/authorize/resume", get(authorize::resume))
        .route("/par", post(par::handler))
        .route("/token", post(token::handler))
        .route("/userinfo", get(userinfo::get).post(userinfo::post))
        .route("/revoke", post(revoke::handler))
        .route("/introspect", post(introspect::handler))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/logout/confirm", post(logout::confirm))
}
