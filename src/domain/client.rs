//! OAuth clients (relying parties) and the protocol values that describe them.

use std::fmt;
use std::str::FromStr;

use url::Url;

use super::scope::Scopes;
use super::ParseError;
use crate::secrets::HashedToken;

/// A client identifier: 1–100 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty()
            || s.len() > 100
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(ParseError::new(
                "client_id must be 1-100 characters of letters, digits, '.', '_' or '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_text!(ClientId, ClientId::parse);

/// A registered redirect (or post-logout redirect, or back-channel logout) URI. Matching is by
/// exact string comparison (RFC 9700 §4.1.3; OIDC Core §3.1.2.1), so the registered text is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// An absolute `https` URI without fragment; `http` only for loopback hosts (RFC 8252 §7.3).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let url = Url::parse(s).map_err(|_| ParseError(format!("{s:?} is not an absolute URI")))?;
        if url.fragment().is_some() {
            return Err(ParseError(format!("{s:?} must not contain a fragment")));
        }
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(ParseError(format!(
                    "{s:?} must use https (http only for localhost)"
                )))
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError(format!("{s:?} must not contain credentials")));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_text!(RedirectUri, RedirectUri::parse);

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseError(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), s))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Token endpoint client authentication (OIDC Core §9).
    AuthMethod {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        PrivateKeyJwt = "private_key_jwt",
        None = "none",
    }
);

string_enum!(
    /// Grant types the token endpoint serves.
    GrantType {
        AuthorizationCode = "authorization_code",
        RefreshToken = "refresh_token",
        ClientCredentials = "client_credentials",
    }
);

string_enum!(
    /// The MPSV application a client represents; it selects the entitlement check at login.
    Application {
        Poskytovatel = "poskytovatel",
        Rodina = "rodina",
    }
);

impl Application {
    /// The application's proper name, the same in Czech and English.
    pub fn name(self) -> &'static str {
        match self {
            Application::Poskytovatel => "OKslužby – poskytovatel",
            Application::Rodina => "OKslužby – rodina",
        }
    }
}

string_enum!(
    /// JWS algorithms we sign with. RS256 is the OIDC default (Core §15.1); EdDSA is Ed25519
    /// (RFC 8037).
    SigningAlg {
        RS256 = "RS256",
        ES256 = "ES256",
        EdDSA = "EdDSA",
    }
);

impl SigningAlg {
    pub fn jose(self) -> crate::jose::Alg {
        match self {
            SigningAlg::RS256 => crate::jose::Alg::RS256,
            SigningAlg::ES256 => crate::jose::Alg::ES256,
            SigningAlg::EdDSA => crate::jose::Alg::EdDSA,
        }
    }
}

/// A registered client as the protocol layer sees it.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: ClientId,
    pub name: String,
    pub secret_hash: Option<HashedToken>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Scopes,
    pub id_token_alg: SigningAlg,
    pub access_token_alg: SigningAlg,
    /// The client's public keys (a JWK Set as JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
    pub application: Option<Application>,
    pub require_pkce: bool,
    /// Authorization requests must be pushed first (RFC 9126 §6,
    /// `require_pushed_authorization_requests`).
    pub require_pushed_requests: bool,
    /// Authorization requests must be request objects signed with the client's keys (RFC 9101
    /// §10.5, `require_signed_request_object`).
    pub require_signed_request_object: bool,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2,
    /// `dpop_bound_access_tokens`).
    pub dpop_bound_access_tokens: bool,
    /// The FAPI 2.0 Security Profile (§5.3.2): pushed requests only, PKCE S256,
    /// `private_key_jwt`, DPoP-bound tokens, codes that live at most a minute.
    pub fapi2: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub enabled: bool,
}

/// The lifetimes a client may be given, in seconds. Access tokens are bearer credentials that
/// cannot be recalled before they expire (RFC 9700 §4.12 asks for short ones); a refresh
/// token lives at most as long as its SSO session anyway. The upper bounds also bound how long
/// a retired signing key must stay published (`Config::max_signed_lifetime`).
pub const ACCESS_TOKEN_TTL: std::ops::RangeInclusive<i64> = 30..=3600;
pub const REFRESH_TOKEN_TTL: std::ops::RangeInclusive<i64> = 60..=604_800;

impl Client {
    /// A public client holds no credentials (RFC 6749 §2.1).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Exact string match against the registered redirect URIs.
    pub fn redirect_uri(&self, candidate: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|u| u.as_str() == candidate)
    }

    pub fn post_logout_redirect_uri(&self, candidate: &str) -> Option<&RedirectUri> {
        self.post_logout_redirect_uris
            .iter()
            .find(|u| u.as_str() == candidate)
    }

    /// How long this client's authorization codes live: at most a minute under FAPI 2.0
    /// (Security Profile §5.3.2.2 item 7).
    pub fn code_lifetime(&self, configured: i64) -> i64 {
        if self.fapi2 {
            configured.min(60)
        } else {
            configured
        }
    }

    /// PKCE is mandatory for public clients and on by default for the rest.
    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    /// Checks the combination of settings a registration must satisfy.
    pub fn validate(&self) -> Result<(), ParseError> {
        if let Some(t) = self.access_token_ttl {
            if !ACCESS_TOKEN_TTL.contains(&t) {
                return Err(ParseError::new(
                    "access_token_ttl must be 30 to 3600 seconds",
                ));
            }
        }
        if let Some(t) = self.refresh_token_ttl {
            if !REFRESH_TOKEN_TTL.contains(&t) {
                return Err(ParseError::new(
                    "refresh_token_ttl must be 60 to 604800 seconds (7 days)",
                ));
            }
        }
        if self.is_public() && self.allows_grant(GrantType::ClientCredentials) {
            return Err(ParseError::new(
                "a public client cannot use the client_credentials grant",
            ));
        }
        if self.allows_grant(GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(ParseError::new(
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        if self.auth_method == AuthMethod::PrivateKeyJwt && self.jwks.is_none() {
            return Err(ParseError::new(
                "private_key_jwt needs the client's JWK Set",
            ));
        }
        if self.fapi2 {
            // FAPI 2.0 Security Profile §5.3.2.1 (client authentication), §5.3.2.2 (PAR,
            // PKCE S256), §5.3.2.1 item 4 / §5.3.3 (sender-constrained tokens: DPoP).
            let fits = self.auth_method == AuthMethod::PrivateKeyJwt
                && self.require_pushed_requests
                && self.require_pkce
                && self.dpop_bound_access_tokens;
            if !fits {
                return Err(ParseError::new(
                    "the FAPI 2.0 profile needs private_key_jwt, pushed authorization requests, \
                     PKCE and DPoP-bound tokens",
                ));
            }
        }
        if self.require_signed_request_object && self.jwks.is_none() {
            return Err(ParseError::new(
                "signed request objects need the client's JWK Set",
            ));
        }
        let needs_secret = matches!(
            self.auth_method,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        );
        if needs_secret && self.secret_hash.is_none() {
            return Err(ParseError::new("this authentication method needs a secret"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_except_on_loopback() {
        assert!(RedirectUri::parse("https://app.mpsv.cz/cb").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:3000/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost/cb").is_ok());
        assert!(RedirectUri::parse("http://app.mpsv.cz/cb").is_err());
        assert!(RedirectUri::parse("https://app.mpsv.cz/cb#x").is_err());
        assert!(RedirectUri::parse("/relative").is_err());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn string_enums_round_trip() {
        for m in AuthMethod::ALL {
            assert_eq!(m.as_str().parse::<AuthMethod>().unwrap(), *m);
        }
        assert!("bogus".parse::<GrantType>().is_err());
    }

    #[test]
    fn fapi2_codes_live_at_most_a_minute() {
        use crate::services::clients::{build, Registration};
        let r = Registration {
            redirect_uris: vec!["https://app.mpsv.cz/cb".into()],
            ..Registration::new("app", "App")
        };
        let (mut c, _) = build(r).unwrap();
        assert_eq!(c.code_lifetime(600), 600);
        c.fapi2 = true;
        assert_eq!(c.code_lifetime(600), 60);
        assert_eq!(c.code_lifetime(30), 30);
    }

    #[test]
    fn client_ids_are_restricted() {
        assert!(ClientId::parse("okstuzby-rodina_1.0").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a b").is_err());
    }
}
