//! Signing in through an upstream OpenID Provider — profiled for the national identification
//! point (NIA, "Identita občana"; Act 250/2017 on electronic identification). We are its
//! relying party, with the `openidconnect` crate: discovery, the code flow with PKCE (S256),
//! `state` and `nonce`, and the ID token checked as OIDC Core §3.1.3.7 says (signature with
//! the upstream's JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`). On top: the `acr` must
//! be an accepted eIDAS level of assurance.
//!
//! What comes back is an [`Identity`] (upstream, its `sub`, the names and birth date it
//! released). Whether that identity may sign in is for the links (`storage::upstream`): only
//! an explicit step ever links one to an MPSV person, never a match of names or e-mail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::Mutex;

use crate::config::{Config, UpstreamConfig};
use crate::secrets::{now, PlainToken};

/// How long a round trip to the upstream may take (the person signs in there).
pub const LOGIN_SECONDS: i64 = 600;

/// How long discovery and the JWKS are reused before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("unknown upstream")]
    Unknown,
    #[error("the upstream cannot be reached or its metadata is wrong: {0}")]
    Discovery(String),
    #[error("the upstream answered with an error: {0}")]
    Answered(String),
    #[error("token request failed: {0}")]
    Token(String),
    #[error("the ID token is not acceptable: {0}")]
    IdToken(String),
    #[error("level of assurance {0:?} is not accepted")]
    Assurance(Option<String>),
}

impl UpstreamError {
    /// The `reason` in the audit record.
    pub fn reason(&self) -> &'static str {
        match self {
            UpstreamError::Unknown => "unknown_upstream",
            UpstreamError::Discovery(_) => "discovery",
            UpstreamError::Answered(_) => "upstream_error",
            UpstreamError::Token(_) => "token",
            UpstreamError::IdToken(_) => "id_token",
            UpstreamError::Assurance(_) => "assurance",
        }
    }
}

/// Who the upstream says signed in.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub upstream: String,
    /// The upstream's `sub` (NIA: a pseudonym for this service).
    pub sub: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birthdate: Option<String>,
    /// The level of assurance (`acr`) of this sign-in.
    pub acr: String,
}

impl Identity {
    /// "Jana Nováková, 1980-04-02" for pages and the console.
    pub fn describe(&self) -> String {
        let name = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        match &self.birthdate {
            Some(b) if !name.is_empty() => format!("{name}, {b}"),
            Some(b) => b.clone(),
            None => name,
        }
    }
}

/// A round trip begun: where to send the browser, and what to keep until it comes back.
pub struct Begun {
    pub url: String,
    pub state: PlainToken,
    pub nonce: String,
    pub pkce_verifier: String,
}

struct Cached {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// One configured upstream.
pub struct Upstream {
    pub config: UpstreamConfig,
    secret: String,
    cached: Mutex<Option<Cached>>,
}

/// The configured upstreams, in configuration order.
pub struct Upstreams {
    list: Vec<Arc<Upstream>>,
    redirect: RedirectUrl,
    http: reqwest::Client,
}

impl Upstreams {
    pub fn new(config: &Config, http: reqwest::Client) -> anyhow::Result<Self> {
        let redirect = RedirectUrl::new(format!("{}/login/upstream/callback", config.issuer))?;
        let list = config
            .upstreams
            .iter()
            .map(|u| {
                Ok(Arc::new(Upstream {
                    secret: u.secret()?,
                    config: u.clone(),
                    cached: Mutex::new(None),
                }))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            list,
            redirect,
            http,
        })
    }

    pub fn all(&self) -> &[Arc<Upstream>] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Upstream>> {
        self.list.iter().find(|u| u.config.id == id)
    }

    /// The upstream's metadata (discovery and JWKS), fetched again when older than
    /// [`METADATA_TTL`] or when `refresh` (a signature by a key we do not know yet).
    async fn metadata(
        &self,
        u: &Upstream,
        refresh: bool,
    ) -> Result<CoreProviderMetadata, UpstreamError> {
        let mut cached = u.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if !refresh && c.fetched.elapsed() < METADATA_TTL {
                return Ok(c.metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(u.config.issuer.clone())
            .map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        // Discovery checks that the document's `issuer` is the configured one (OIDC
        // Discovery §4.3).
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| UpstreamError::Discovery(error_chain(&e)))?;
        *cached = Some(Cached {
            metadata: metadata.clone(),
            fetched: Instant::now(),
        });
        Ok(metadata)
    }

    fn client(
        &self,
        u: &Upstream,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(u.config.client_id.clone()),
            Some(ClientSecret::new(u.secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a round trip: the authorization request (code, PKCE S256, `state`, `nonce`,
    /// the configured scopes and `acr_values`).
    pub async fn begin(&self, u: &Upstream) -> Result<Begun, UpstreamError> {
        let metadata = self.metadata(u, false).await?;
        let client = self.client(u, metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = PlainToken::generate();
        let state_value = state.expose().to_owned();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_value),
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in u.config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for acr in &u.config.acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, _, nonce) = request.url();
        Ok(Begun {
            url: url.to_string(),
            state,
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a round trip: the code for tokens, and the ID token checked.
    pub async fn complete(
        &self,
        u: &Upstream,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, UpstreamError> {
        let metadata = self.metadata(u, false).await?;
        let client = self.client(u, metadata);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| UpstreamError::Token(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| UpstreamError::Token(error_chain(&e)))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| UpstreamError::IdToken("no id_token in the token response".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            // A key we have not seen: the upstream may have rotated; fetch its JWKS again.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let metadata = self.metadata(u, true).await?;
                let client = self.client(u, metadata);
                let verifier = client.id_token_verifier();
                let claims = id_token
                    .claims(&verifier, &nonce)
                    .map_err(|e| UpstreamError::IdToken(e.to_string()))?
                    .clone();
                claims
            }
            Err(e) => return Err(UpstreamError::IdToken(e.to_string())),
        };
        // The level of assurance must be one we accept (NIA: eIDAS substantial or high).
        let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned());
        match &acr {
            Some(a) if u.config.accepted_acr.iter().any(|x| x == a) => {}
            _ => return Err(UpstreamError::Assurance(acr)),
        }
        Ok(Identity {
            upstream: u.config.id.clone(),
            sub: claims.subject().as_str().to_owned(),
            given_name: claims
                .given_name()
                .and_then(|l| l.get(None))
                .map(|v| v.as_str().to_owned()),
            family_name: claims
                .family_name()
                .and_then(|l| l.get(None))
                .map(|v| v.as_str().to_owned()),
            birthdate: claims.birthdate().map(|b| b.as_str().to_owned()),
            acr: acr.unwrap_or_default(),
        })
    }
}

/// An error with its causes, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// The expiry of a round trip begun now.
pub fn login_expiry() -> i64 {
    now() + LOGIN_SECONDS
}
