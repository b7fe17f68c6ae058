//! Parsing an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) once, from its
//! parameters, into an [`AuthorizationRequest`]. Until the client and its redirect URI are
//! verified a failure is a page; after that it goes back to the client (§4.1.2.1).

use std::sync::Arc;

use crate::app::AppState;
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::{Client, GrantType};
use crate::domain::id::Subject;
use crate::domain::pkce::CodeChallenge;
use crate::domain::prompt::Prompt;
use crate::domain::scope::Scopes;
use crate::error::{ErrorCode, Internal, PageError};
use crate::http::params::Params;
use crate::interaction::{AuthorizationRequest, ResponseMode};
use crate::oidc::request_object::ObjectError;
use crate::pages::i18n::Lang;

/// The level `acr_values` asks for (OIDC Core §3.1.2.1: space-separated, in order of
/// preference): the first value this OP supports decides; unknown values are ignored.
fn requires_mfa(acr_values: Option<&str>) -> bool {
    acr_values
        .unwrap_or("")
        .split(' ')
        .find(|v| *v == crate::oidc::ACR_MFA || *v == crate::oidc::ACR_PASSWORD)
        == Some(crate::oidc::ACR_MFA)
}

/// The prefix of the `request_uri` values the PAR endpoint hands out (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Why validation stopped.
pub enum Failure {
    Page(PageError),
    Redirect {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        lang: Lang,
        error: ErrorCode,
        description: String,
    },
}

fn page(key: &'static str, detail: String, lang: Lang) -> Failure {
    Failure::Page(PageError::bad_request(key, detail, lang))
}

fn duplicate(d: crate::http::params::Duplicate) -> Failure {
    page(
        "error.bad_request",
        format!("parameter {} appears more than once", d.0),
        Lang::Cs,
    )
}

/// Where the parameters of an authorization request come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The browser's request itself.
    Plain,
    /// A verified request object (RFC 9101) the browser brought in `request`.
    Signed,
    /// Pushed by the authenticated client (RFC 9126); the PAR endpoint checked then whether
    /// the client had to sign it.
    Pushed,
}

/// An authorization request as the browser brings it: its parameters, those of its request
/// object, or with our `request_uri` those the client pushed before (RFC 9126 §4: only
/// `client_id` and `request_uri` are read from the browser then).
pub async fn validate(
    state: &AppState,
    raw: &[u8],
) -> Result<(Arc<Client>, AuthorizationRequest), Failure> {
    let p = Params::parse(raw).map_err(duplicate)?;
    if let Some(reference) = p
        .get("request_uri")
        .and_then(|u| u.strip_prefix(REQUEST_URI_PREFIX))
    {
        let pushed = take_pushed(state, &p, reference).await?;
        return validate_params(state, &pushed, Origin::Pushed).await;
    }
    match p.get("request") {
        Some(jwt) if p.get("request_uri").is_none() => {
            let inner = unwrap_object(state, &p, jwt).await?;
            validate_params(state, &inner, Origin::Signed).await
        }
        // Any other `request_uri` (a request object on another host) is not supported: the
        // request is validated as it stands and answered `request_uri_not_supported`.
        _ => validate_params(state, &p, Origin::Plain).await,
    }
}

/// The parameters inside the request object `jwt` of the request's `client_id`. A refused
/// object is answered to the outer `redirect_uri` if it is one of the client's (the object's
/// own cannot be trusted), otherwise on a page.
async fn unwrap_object(state: &AppState, p: &Params, jwt: &str) -> Result<Params, Failure> {
    let lang = Lang::parse(p.get("ui_locales"));
    let client = known_client(state, p.get("client_id"), lang).await?;
    match crate::oidc::request_object::parameters(state, &client, jwt).await {
        Ok(inner) => Ok(inner),
        Err(ObjectError::Internal(e)) => Err(Failure::Page(PageError::Internal(e))),
        Err(ObjectError::Invalid(why)) => Err(
            match p.get("redirect_uri").and_then(|u| client.redirect_uri(u)) {
                Some(uri) => Failure::Redirect {
                    redirect_uri: uri.as_str().to_owned(),
                    mode: ResponseMode::Query,
                    state: p.get("state").map(str::to_owned),
                    lang,
                    error: ErrorCode::InvalidRequestObject,
                    description: why.to_owned(),
                },
                None => page("error.bad_request", format!("request object: {why}"), lang),
            },
        ),
    }
}

/// The enabled client `client_id` names, or the page that says why there is none.
async fn known_client(
    state: &AppState,
    client_id: Option<&str>,
    lang: Lang,
) -> Result<Arc<Client>, Failure> {
    let client_id =
        client_id.ok_or_else(|| page("error.bad_request", "client_id is missing".into(), lang))?;
    let client = state
        .storage
        .client(client_id)
        .await
        .map_err(|e| Failure::Page(PageError::Internal(Internal::from(e))))?
        .ok_or_else(|| {
            page(
                "error.unknown_client",
                format!("client_id={client_id}"),
                lang,
            )
        })?;
    if !client.enabled {
        return Err(page("error.client_disabled", String::new(), lang));
    }
    Ok(client)
}

/// The parameters pushed under `reference` (the `request_uri` past our prefix) for the
/// request's `client_id`, taken (single use).
async fn take_pushed(state: &AppState, p: &Params, reference: &str) -> Result<Params, Failure> {
    let lang = Lang::parse(p.get("ui_locales"));
    let client_id = p
        .get("client_id")
        .ok_or_else(|| page("error.bad_request", "client_id is missing".into(), lang))?;
    let hash = crate::secrets::PlainToken::from_received(reference).hashed();
    let gone = || {
        page(
            "error.bad_request",
            "request_uri is unknown, already used or expired".into(),
            lang,
        )
    };
    let pushed = state
        .storage
        .take_pushed_request(&hash, client_id)
        .await
        .map_err(|e| Failure::Page(PageError::Internal(Internal::from(e))))?
        .filter(|r| r.expires_at > crate::secrets::now())
        .ok_or_else(gone)?;
    Params::parse(pushed.params.as_bytes()).map_err(duplicate)
}

/// Validates the parameters of an authorization request from `origin`.
pub async fn validate_params(
    state: &AppState,
    p: &Params,
    origin: Origin,
) -> Result<(Arc<Client>, AuthorizationRequest), Failure> {
    let lang = Lang::parse(p.get("ui_locales"));
    let client = known_client(state, p.get("client_id"), lang).await?;
    let redirect_uri = p.get("redirect_uri").ok_or_else(|| {
        page(
            "error.bad_redirect_uri",
            "redirect_uri is missing".into(),
            lang,
        )
    })?;
    let redirect_uri = client
        .redirect_uri(redirect_uri)
        .ok_or_else(|| {
            page(
                "error.bad_redirect_uri",
                format!("redirect_uri={redirect_uri}"),
                lang,
            )
        })?
        .clone();

    // From here on, errors are returned to the verified redirect URI.
    let st = p.get("state").map(str::to_owned);
    let mode = match p.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(_) => Err("unsupported response_mode"),
    };
    let redirect = |mode, error: ErrorCode, description: &str| Failure::Redirect {
        redirect_uri: redirect_uri.as_str().to_owned(),
        mode,
        state: st.clone(),
        lang,
        error,
        description: description.to_owned(),
    };
    let mode = mode.map_err(|d| redirect(ResponseMode::Query, ErrorCode::InvalidRequest, d))?;
    let fail = |error: ErrorCode, d: &str| redirect(mode, error, d);

    // RFC 9101 §10.5: the server or the client may insist on signed requests.
    if origin == Origin::Plain
        && (state.config.protocol.require_signed_request_object
            || client.require_signed_request_object)
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "authorization requests of this client must be signed request objects (RFC 9101)",
        ));
    }
    if p.get("request").is_some() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "request and request_uri cannot be used together",
        ));
    }
    // RFC 9126 §5/§6: the server or the client may insist on pushed requests.
    if origin != Origin::Pushed
        && (state.config.protocol.require_pushed_authorization_requests
            || client.require_pushed_requests)
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "authorization requests of this client must be pushed first (PAR, RFC 9126)",
        ));
    }
    if p.get("request_uri").is_some() {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "only request_uri values from the pushed authorization request endpoint are supported",
        ));
    }
    match p.get("response_type") {
        None => return Err(fail(ErrorCode::InvalidRequest, "response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ))
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "the client may not use the authorization code grant",
        ));
    }
    let scope = Scopes::parse(p.get("scope").unwrap_or(""))
        .map_err(|e| fail(ErrorCode::InvalidScope, &e.0))?;
    if scope.is_empty() {
        return Err(fail(ErrorCode::InvalidScope, "scope is missing"));
    }
    if let Some(bad) = scope.not_in(&client.scopes).next() {
        return Err(fail(
            ErrorCode::InvalidScope,
            &format!("scope {bad} is not allowed for this client"),
        ));
    }
    let prompt =
        Prompt::parse(p.get("prompt")).map_err(|e| fail(ErrorCode::InvalidRequest, &e.0))?;
    let max_age = p
        .get("max_age")
        .map(|v| v.parse::<i64>().ok().filter(|n| *n >= 0))
        .map(|v| {
            v.ok_or_else(|| {
                fail(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                )
            })
        })
        .transpose()?;
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (Some(c), m) => {
            Some(CodeChallenge::parse(c, m).map_err(|e| fail(ErrorCode::InvalidRequest, &e.0))?)
        }
        (None, Some(_)) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ))
        }
        (None, None) if client.pkce_required() => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge (PKCE, S256) is required",
            ))
        }
        (None, None) => None,
    };
    for (name, max) in [("state", 2048), ("nonce", 512), ("login_hint", 256)] {
        if p.get(name).is_some_and(|v| v.len() > max) {
            return Err(fail(
                ErrorCode::InvalidRequest,
                &format!("{name} is too long"),
            ));
        }
    }
    // RFC 9449 §10: a JWK SHA-256 thumbprint, base64url (43 characters).
    let dpop_jkt = p.get("dpop_jkt").map(str::to_owned);
    if dpop_jkt.as_deref().is_some_and(|j| {
        j.len() != 43
            || !j
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "dpop_jkt is not a JWK SHA-256 thumbprint",
        ));
    }
    let claims = p
        .get("claims")
        .map(ClaimsRequest::parse)
        .transpose()
        .map_err(|e| fail(ErrorCode::InvalidRequest, &e.0))?;
    // §5.5.1.1: an essential acr is a requirement; none of its values known is unmet.
    let essential_acr = claims.as_ref().and_then(ClaimsRequest::essential_acr);
    let mfa_by_claims = match &essential_acr {
        None => false,
        Some(values) => {
            let known = |v: &&str| *v == crate::oidc::ACR_MFA || *v == crate::oidc::ACR_PASSWORD;
            if !values.iter().any(known) {
                return Err(fail(
                    ErrorCode::UnmetAuthenticationRequirements,
                    "none of the essential acr values is supported",
                ));
            }
            !values.contains(&crate::oidc::ACR_PASSWORD)
        }
    };
    let claimed_sub = match &claims {
        Some(c) => c
            .expected_sub()
            .map_err(|e| fail(ErrorCode::InvalidRequest, &e.0))?
            .map(|s| Subject::from_stored(s.to_owned())),
        None => None,
    };
    let expected_sub = match p.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let claims = crate::oidc::jwt::verify_id_token_hint(state, hint)
                .ok_or_else(|| fail(ErrorCode::InvalidRequest, "id_token_hint is not valid"))?;
            claims
                .get("sub")
                .and_then(|s| s.as_str())
                // Our own signature: the `sub` is one we issued.
                .map(|s| Subject::from_stored(s.to_owned()))
        }
    };
    let expected_sub = match (expected_sub, claimed_sub) {
        (Some(a), Some(b)) if a != b => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "id_token_hint and the sub of claims name different people",
            ))
        }
        (a, b) => a.or(b),
    };
    let req = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope,
        state: st.clone(),
        nonce: p.get("nonce").map(str::to_owned),
        code_challenge: challenge,
        response_mode: mode,
        prompt_login: prompt.login,
        prompt_none: prompt.none,
        prompt_select_account: prompt.select_account,
        max_age,
        login_hint: p.get("login_hint").map(str::to_owned),
        lang,
        expected_sub,
        require_mfa: requires_mfa(p.get("acr_values")) || mfa_by_claims,
        dpop_jkt,
        claims,
    };
    Ok((client, req))
}
