//! The OpenID Connect / OAuth 2.0 endpoints, one file each, and what they share.

pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod discovery;
pub mod introspect;
pub mod issue;
pub mod jwks;
pub mod jwt;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;

/// Authentication context class references we assert (OIDC Core §2, `acr`).
pub const ACR_PASSWORD: &str = "urn:mpsv:idp:acr:pwd";
pub const ACR_MFA: &str = "urn:mpsv:idp:acr:mfa";
