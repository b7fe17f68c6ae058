//! The error types of the HTTP edge. Domain and storage layers have their own small enums;
//! here they become either an OAuth error response (RFC 6749 §5.2 JSON, or a redirect built by
//! the authorization endpoint), a bearer-token error (RFC 6750 §3), or an HTML error page.
//! Internal failures are logged once, here, and answered without detail.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::keys::SignError;
use crate::password::PasswordError;
use crate::storage::StorageError;

/// Something went wrong on our side; never caused by the request's content.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// The request took longer than `request_timeout` (a database that never answers).
    #[error("the request took longer than {0} s")]
    TimedOut(u64),
    #[error("JSON")]
    Json(#[from] serde_json::Error),
    #[error("signing keys")]
    Keys(#[source] crate::keys::KeyError),
    #[error("the credentials letter")]
    Letter(#[from] crate::letter::LetterError),
    /// Something we stored ourselves does not read back (a bug or a damaged row).
    #[error("stored data cannot be used: {0}")]
    Stored(&'static str),
    /// A stored value cannot be parsed; the cause is kept.
    #[error("stored data cannot be used: {what}")]
    StoredParse {
        what: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<crate::keys::KeyError> for Internal {
    /// A database failure while handling keys stays one (503 when the database is away).
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::Storage(s) => Internal::Storage(s),
            other => Internal::Keys(other),
        }
    }
}

impl Internal {
    /// Logged once, where the error is answered, with its whole cause chain.
    fn log(&self) {
        let mut chain = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        if self.is_unavailable() {
            tracing::warn!(error = %chain, "database unavailable");
        } else {
            tracing::error!(error = %chain, "internal error");
        }
    }

    /// The database cannot be reached right now — no connection within the pool's acquire
    /// timeout, a refused or cut connection (also mid-handshake: TLS or protocol errors), a
    /// server shutting down (SQLSTATE class 08 and 57P), a statement timeout (57014): the
    /// request may succeed later, so it is answered 503 with `Retry-After`, never 500
    /// (issue 12.4).
    pub fn is_unavailable(&self) -> bool {
        if let Internal::TimedOut(_) = self {
            return true;
        }
        let Internal::Storage(StorageError::Database(e)) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            // The peer stopped speaking PostgreSQL's protocol: a connection cut while it was
            // being set up shows as "unexpected response from SSLRequest: 0x00" (sqlx reads the
            // closed socket as a zero byte) — the network, not the request.
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db
                .code()
                // 57014: cancelled by `statement_timeout` (a statement stuck behind a lock).
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "57014"),
            _ => false,
        }
    }

    /// 503 when the database is away, else 500.
    pub fn status(&self) -> StatusCode {
        if self.is_unavailable() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// The OAuth 2.0 and OpenID Connect error codes this OP answers with: RFC 6749 §4.1.2.1 and
/// §5.2, OIDC Core §3.1.2.6, RFC 9101 §6 (request objects) and OpenID Connect Core Unmet
/// Authentication Requirements 1.0 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    AccessDenied,
    LoginRequired,
    InteractionRequired,
    AccountSelectionRequired,
    InvalidRequestObject,
    InvalidDpopProof,
    UseDpopNonce,
    RequestUriNotSupported,
    UnmetAuthenticationRequirements,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AccountSelectionRequired => "account_selection_required",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth 2.0 error answered as JSON (token, revocation, introspection endpoints).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{error}: {description}")]
    Protocol {
        error: ErrorCode,
        description: String,
    },
    /// RFC 6749 §5.2: 401 with `WWW-Authenticate` when the client tried HTTP Basic.
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic: bool },
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl OAuthError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::protocol(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::protocol(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::protocol(ErrorCode::InvalidScope, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::protocol(ErrorCode::UnauthorizedClient, d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::protocol(ErrorCode::UnsupportedGrantType, d)
    }
    pub fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        Self::InvalidClient {
            description: d.into(),
            basic,
        }
    }
    pub fn protocol(error: ErrorCode, d: impl Into<String>) -> Self {
        Self::Protocol {
            error,
            description: d.into(),
        }
    }
}

macro_rules! internal_from {
    ($($t:ty),+) => {$(
        impl From<$t> for OAuthError {
            fn from(e: $t) -> Self { OAuthError::Internal(Internal::from(e)) }
        }
        impl From<$t> for PageError {
            fn from(e: $t) -> Self { PageError::Internal(Internal::from(e)) }
        }
        impl From<$t> for BearerError {
            fn from(e: $t) -> Self { BearerError::Internal(Internal::from(e)) }
        }
    )+};
}
internal_from!(StorageError, SignError, PasswordError, askama::Error);

/// Responses carrying tokens or token errors must not be cached (RFC 6749 §5.1).
pub fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn error_body(error: &str, description: &str) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "error": error, "error_description": nqschar(description) }))
}

/// An `error_description` as RFC 6749 §5.2 (and §4.1.2.1) allows it: NQSCHAR only
/// (`%x20-21 / %x23-5B / %x5D-7E`, printable ASCII without `"` and `\`). Anything else — a
/// control character or quote echoed from the request, a non-ASCII letter — becomes `?`, and
/// the text is cut at 200 characters.
pub fn nqschar(description: &str) -> String {
    description
        .chars()
        .take(200)
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let r = match self {
            OAuthError::Protocol { error, description } => (
                StatusCode::BAD_REQUEST,
                error_body(error.as_str(), &description),
            )
                .into_response(),
            OAuthError::InvalidClient { description, basic } => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    error_body("invalid_client", &description),
                )
                    .into_response();
                if basic {
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"mpsv-idp\""),
                    );
                }
                r
            }
            OAuthError::Internal(e) => {
                e.log();
                let body = if e.is_unavailable() {
                    error_body("temporarily_unavailable", "try again shortly")
                } else {
                    error_body("server_error", "internal error")
                };
                (e.status(), body).into_response()
            }
        };
        no_store(r)
    }
}

/// A protected-resource error (RFC 6750 §3.1), e.g. at userinfo.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No token at all: 401 with a bare challenge (RFC 6750 §3.1, no error code).
    #[error("no access token")]
    Missing,
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error("insufficient_scope: {0}")]
    InsufficientScope(&'static str),
    /// A DPoP-bound token or its proof was refused (RFC 9449 §7.1): answered with a `DPoP`
    /// challenge; `error` is `invalid_token`, `invalid_dpop_proof` or `use_dpop_nonce`.
    #[error("{error}: {description}")]
    Dpop {
        error: &'static str,
        description: &'static str,
    },
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match &self {
            BearerError::Missing => (
                StatusCode::UNAUTHORIZED,
                "Bearer realm=\"mpsv-idp\"".to_owned(),
                None,
            ),
            BearerError::InvalidToken(d) => (
                StatusCode::UNAUTHORIZED,
                format!("Bearer realm=\"mpsv-idp\", error=\"invalid_token\", error_description=\"{d}\""),
                Some(error_body("invalid_token", d)),
            ),
            BearerError::InvalidRequest(d) => (
                StatusCode::BAD_REQUEST,
                format!("Bearer realm=\"mpsv-idp\", error=\"invalid_request\", error_description=\"{d}\""),
                Some(error_body("invalid_request", d)),
            ),
            BearerError::InsufficientScope(d) => (
                StatusCode::FORBIDDEN,
                format!("Bearer realm=\"mpsv-idp\", error=\"insufficient_scope\", error_description=\"{d}\""),
                Some(error_body("insufficient_scope", d)),
            ),
            BearerError::Dpop { error, description } => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "DPoP algs=\"{}\", error=\"{error}\", error_description=\"{description}\"",
                    crate::oidc::dpop::ALGS.join(" ")
                ),
                Some(error_body(error, description)),
            ),
            BearerError::Internal(e) => {
                e.log();
                (
                    e.status(),
                    "Bearer realm=\"mpsv-idp\"".to_owned(),
                    Some(error_body("server_error", "internal error")),
                )
            }
        };
        let mut r = match body {
            Some(b) => (status, b).into_response(),
            None => status.into_response(),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        no_store(r)
    }
}

/// An error shown to a person as an HTML page (unknown client, unregistered redirect URI,
/// expired login, …). Never a redirect: RFC 6749 §4.1.2.1 forbids redirecting to an
/// unverified URI.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{key}")]
    Shown {
        status: StatusCode,
        /// Translation key of the explanation (see `locales/`).
        key: &'static str,
        /// Technical detail shown under the explanation (never secrets).
        detail: String,
        lang: crate::pages::i18n::Lang,
    },
    /// Over a per-address limit (logins, pending logins): 429 with `Retry-After: 60`.
    #[error("rate limited")]
    RateLimited { lang: crate::pages::i18n::Lang },
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl PageError {
    pub fn too_many_requests(lang: crate::pages::i18n::Lang) -> Self {
        Self::RateLimited { lang }
    }

    pub fn bad_request(
        key: &'static str,
        detail: impl Into<String>,
        lang: crate::pages::i18n::Lang,
    ) -> Self {
        Self::Shown {
            status: StatusCode::BAD_REQUEST,
            key,
            detail: detail.into(),
            lang,
        }
    }

    pub fn not_found(lang: crate::pages::i18n::Lang) -> Self {
        Self::Shown {
            status: StatusCode::NOT_FOUND,
            key: "error.not_found",
            detail: String::new(),
            lang,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Shown {
                status,
                key,
                detail,
                lang,
            } => crate::pages::error_page(status, key, &detail, lang),
            PageError::RateLimited { lang } => {
                let mut r = crate::pages::error_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "login.rate_limited",
                    "",
                    lang,
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                r
            }
            PageError::Internal(e) => {
                e.log();
                let key = if e.is_unavailable() {
                    "error.unavailable"
                } else {
                    "error.internal"
                };
                crate::pages::error_page(e.status(), key, "", crate::pages::i18n::Lang::Cs)
            }
        }
    }
}
