//! The absolute URLs of our protocol endpoints (discovery, `aud` checks), derived from the
//! issuer once at start.

/// Absolute URLs of our endpoints, derived from the issuer once.
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: String,
    pub jwks: String,
    pub revocation: String,
    pub introspection: String,
    pub end_session: String,
    pub pushed_authorization_request: String,
}

impl Endpoints {
    pub fn new(issuer: &str) -> Self {
        let u = |p: &str| format!("{issuer}{p}");
        Self {
            authorization: u("/authorize"),
            token: u("/token"),
            userinfo: u("/userinfo"),
            jwks: u("/jwks"),
            revocation: u("/revoke"),
            introspection: u("/introspect"),
            end_session: u("/logout"),
            pushed_authorization_request: u("/par"),
        }
    }
}
