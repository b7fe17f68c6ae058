//! The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2): takes the request as
//! `parse.rs` parsed it, reuses the SSO session when it can, or parks the request and sends
//! the person to the login form; finally issues a code to the registered redirect URI
//! (RFC 9207 adds `iss`).
//!
//! Errors before the client and its redirect URI are verified are shown as a page; after that
//! they go back to the client (§4.1.2.1).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(in crate::oidc) mod parse;

use self::parse::{validate, Failure};
use crate::app::AppState;
use crate::domain::client::Client;
use crate::domain::id::OrganisationId;
use crate::error::{ErrorCode, PageError};
use crate::http::params::is_form;
use crate::http::see_other;
use crate::interaction::organisation::{self, Decision};
use crate::interaction::{
    self as interaction, AuthorizationRequest, Interaction, Outcome, Purpose, ResponseMode, Stage,
};
use crate::pages::i18n::Lang;
use crate::pages::{html, Chrome, FormPostPage};
use crate::secrets::{now, PlainToken};
use crate::session::SessionCookie;
use crate::storage::codes::AuthorizationCode;
use crate::storage::sessions::Session;

/// Whether a session's authentication included a second factor.
fn has_second_factor(session: &Session) -> bool {
    session.amr.has_second_factor()
}

/// Where an authorization response (success or error) goes.
pub struct Target<'a> {
    pub redirect_uri: &'a str,
    pub mode: ResponseMode,
    pub state: Option<&'a str>,
    pub lang: Lang,
}

impl AuthorizationRequest {
    /// Where and how authorization responses for this request go.
    pub fn target(&self) -> Target<'_> {
        Target {
            redirect_uri: self.redirect_uri.as_str(),
            mode: self.response_mode,
            state: self.state.as_deref(),
            lang: self.lang,
        }
    }
}

/// `GET /authorize`
pub async fn get(
    State(state): State<AppState>,
    browser: SessionCookie,
    RawQuery(query): RawQuery,
) -> Response {
    handle(state, browser, query.unwrap_or_default().as_bytes()).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-encoded parameters).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    browser: SessionCookie,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return PageError::bad_request(
            "error.bad_request",
            "expected application/x-www-form-urlencoded",
            Lang::Cs,
        )
        .into_response();
    }
    handle(state, browser, &body).await
}

async fn handle(state: AppState, browser: SessionCookie, raw: &[u8]) -> Response {
    let (client, req) = match validate(&state, raw).await {
        Ok(v) => v,
        Err(Failure::Page(e)) => return e.into_response(),
        Err(Failure::Redirect {
            redirect_uri,
            mode,
            state: st,
            lang,
            error,
            description,
        }) => {
            let target = Target {
                redirect_uri: &redirect_uri,
                mode,
                state: st.as_deref(),
                lang,
            };
            return error_response(&state, &target, error, &description);
        }
    };
    match proceed(&state, &browser, &client, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Does the existing session satisfy the request, or must the person sign in?
fn needs_login(req: &AuthorizationRequest, session: Option<&Session>) -> bool {
    let Some(s) = session else { return true };
    (req.require_mfa && !has_second_factor(s)) || needs_password(req, s)
}

/// Must the person of `s` sign in again from the start (password first)? If not, a missing
/// second factor is asked for alone, within the session (a step-up).
fn needs_password(req: &AuthorizationRequest, s: &Session) -> bool {
    if req.prompt_login {
        return true;
    }
    if let Some(max_age) = req.max_age {
        // OIDC Core §3.1.2.1: re-authenticate when the last authentication is older;
        // `max_age=0` always asks (times have one-second resolution).
        if max_age == 0 || now() - s.auth_time > max_age {
            return true;
        }
    }
    req.expected_sub.as_ref().is_some_and(|sub| *sub != s.sub)
}

async fn proceed(
    state: &AppState,
    browser: &SessionCookie,
    client: &Client,
    req: AuthorizationRequest,
) -> Result<Response, PageError> {
    let session = crate::session::current(state, browser).await?;
    let target = Target {
        redirect_uri: req.redirect_uri.as_str(),
        mode: req.response_mode,
        state: req.state.as_deref(),
        lang: req.lang,
    };
    if !needs_login(&req, session.as_ref()) {
        if let Some(session) = &session {
            return complete(state, client, &req, session).await;
        }
    }
    if let Some(s) = session
        .as_ref()
        .filter(|s| req.require_mfa && !has_second_factor(s))
    {
        // Signing in again helps only if the person has a second factor to prove.
        let has_factor = state
            .storage
            .account(&s.sub)
            .await?
            .is_some_and(|a| a.has_second_factor());
        if !has_factor {
            return no_second_factor(state, client, req, s).await;
        }
    }
    if req.prompt_none {
        // OIDC Core §3.1.2.6: no UI may be shown.
        let (error, description) = match &session {
            Some(_) => (
                ErrorCode::InteractionRequired,
                "the request needs the end-user to sign in again",
            ),
            None => (ErrorCode::LoginRequired, "the end-user is not signed in"),
        };
        return Ok(error_response(state, &target, error, description));
    }
    // Step-up (OIDC Core §3.1.2.1 acr_values, §5.5.1.1 essential acr; RFC 9470 §4): the
    // session is the right person's and recent enough, only its level is too low — the
    // second factor is asked for alone, and the same session (same sid) rises to the MFA
    // level.
    if let Some(s) = session.as_ref().filter(|s| !needs_password(&req, s)) {
        tracing::info!(sid = %s.sid, client_id = %client.client_id, "step-up to the MFA level");
        return at_stage(state, client, req, s, Stage::SecondFactor).await;
    }
    // The person must sign in: an interaction, which the login page binds to this browser.
    let lang = req.lang;
    match interaction::start(
        state,
        client.client_id.as_str(),
        Purpose::Authorize(Box::new(req)),
    )
    .await?
    {
        Some(i) => Ok(see_other(&i.url(lang))),
        None => Err(PageError::too_many_requests(lang)),
    }
}

/// Finishes an authorization for `session`: for a client of an MPSV application, first the
/// entitlement and the organisation the person acts for (`interaction::organisation`), which
/// may need a page (an interaction at that stage); then the code.
async fn complete(
    state: &AppState,
    client: &Client,
    req: &AuthorizationRequest,
    session: &Session,
) -> Result<Response, PageError> {
    // The login is over: if it proved no second factor, the requested level is not met.
    if req.require_mfa && !has_second_factor(session) {
        return no_second_factor(state, client, req.clone(), session).await;
    }
    let Some(app) = client.application else {
        return issue_code(state, client, req, session, None).await;
    };
    let stage = match organisation::decide(state, client, app, req, session).await? {
        Decision::Act(org) => return issue_code(state, client, req, session, Some(org)).await,
        Decision::Deny if req.prompt_none => {
            let description = "the person is not entitled to use this application";
            return Ok(error_response(
                state,
                &req.target(),
                ErrorCode::AccessDenied,
                description,
            ));
        }
        // OIDC Core §3.1.2.6: the choice would need a page.
        Decision::Choose if req.prompt_none => {
            return Ok(error_response(
                state,
                &req.target(),
                ErrorCode::AccountSelectionRequired,
                "the person acts for several organisations and must choose one",
            ));
        }
        Decision::Deny => Stage::NoAccess,
        Decision::Choose => Stage::Organisation,
    };
    at_stage(state, client, req.clone(), session, stage).await
}

/// Continues the request of `session`'s person at a page of `stage` (an interaction bound to
/// this browser).
async fn at_stage(
    state: &AppState,
    client: &Client,
    req: AuthorizationRequest,
    session: &Session,
    stage: Stage,
) -> Result<Response, PageError> {
    let lang = req.lang;
    let purpose = Purpose::Authorize(Box::new(req));
    let Some((i, binding)) =
        interaction::start_for_session(state, client.client_id.as_str(), purpose, session, stage)
            .await?
    else {
        return Err(PageError::too_many_requests(lang));
    };
    Ok(interaction::with_csrf_cookie(
        state,
        see_other(&i.url(lang)),
        &binding,
        &i,
    ))
}

#[derive(serde::Deserialize)]
pub struct ResumeQuery {
    id: Option<String>,
}

/// `GET /authorize/resume?id=…`: finishes an interaction the pages are done with. Only the
/// browser whose session is the interaction's person may, and only once.
pub async fn resume(
    State(state): State<AppState>,
    browser: SessionCookie,
    axum::extract::Query(q): axum::extract::Query<ResumeQuery>,
) -> Result<Response, PageError> {
    let i = interaction::load(&state, q.id.as_deref(), crate::pages::i18n::Lang::Cs).await?;
    let lang = i.lang();
    let expired = || PageError::bad_request("login.expired", "", lang);
    let (Some(req), Some(outcome)) = (i.request(), i.outcome()) else {
        return Err(expired());
    };
    let session = crate::session::current(&state, &browser)
        .await?
        .filter(|s| i.sub.as_ref() == Some(&s.sub))
        .ok_or_else(expired)?;
    let client = state
        .storage
        .client(&i.client_id)
        .await?
        .filter(|c| c.enabled)
        .ok_or_else(|| PageError::bad_request("error.client_disabled", "", lang))?;
    if !interaction::take(&state, &i).await? {
        return Err(expired());
    }
    finish(&state, &client, req, &session, &i, outcome).await
}

async fn finish(
    state: &AppState,
    client: &Client,
    req: &AuthorizationRequest,
    session: &Session,
    i: &Interaction,
    outcome: Outcome,
) -> Result<Response, PageError> {
    match outcome {
        // The client named the person it expects (`id_token_hint`) and someone else signed
        // in: OIDC Core §3.1.2.1 says to answer with an error rather than a code for them.
        Outcome::Authenticated if req.expected_sub.as_ref().is_some_and(|s| *s != session.sub) => {
            Ok(error_response(
                state,
                &req.target(),
                ErrorCode::LoginRequired,
                "a different person signed in than the id_token_hint names",
            ))
        }
        Outcome::Authenticated => complete(state, client, req, session).await,
        Outcome::ActsFor(org) => {
            // Chosen on the page from the entitled ones; still entitled now?
            let entitled = match client.application {
                Some(app) => organisation::entitled(state, &session.sub, app)
                    .await?
                    .iter()
                    .any(|a| a.organisation.id == org),
                None => false,
            };
            if !entitled {
                return Err(PageError::bad_request("login.expired", "", i.lang()));
            }
            tracing::info!(client_id = %client.client_id.as_str(), "organisation chosen");
            issue_code(state, client, req, session, Some(org)).await
        }
        Outcome::Denied => Ok(error_response(
            state,
            &req.target(),
            ErrorCode::AccessDenied,
            "the person is not entitled to use this application",
        )),
        Outcome::MfaUnavailable => Ok(unmet_mfa(state, &req.target())),
    }
}

/// The MFA level was asked for and the person has no second factor: a page that says why it
/// is needed and how to set one up, whose button answers the client with
/// `unmet_authentication_requirements` — or, with `prompt=none`, that answer at once.
async fn no_second_factor(
    state: &AppState,
    client: &Client,
    req: AuthorizationRequest,
    session: &Session,
) -> Result<Response, PageError> {
    if req.prompt_none {
        return Ok(unmet_mfa(state, &req.target()));
    }
    at_stage(state, client, req, session, Stage::MfaRequired).await
}

/// OpenID Connect Core Unmet Authentication Requirements 1.0 §2: the MFA level was asked
/// for and the person has no second factor to prove it with.
fn unmet_mfa(state: &AppState, target: &Target<'_>) -> Response {
    error_response(
        state,
        target,
        ErrorCode::UnmetAuthenticationRequirements,
        "the requested authentication level (urn:mpsv:idp:acr:mfa) cannot be met: the account has no second factor",
    )
}

/// Issues a code for `session` acting for `organisation_id` and sends it to the client
/// (RFC 6749 §4.1.2).
async fn issue_code(
    state: &AppState,
    client: &Client,
    req: &AuthorizationRequest,
    session: &Session,
    organisation_id: Option<OrganisationId>,
) -> Result<Response, PageError> {
    let code = PlainToken::generate();
    state
        .storage
        .insert_code(
            &code.hashed(),
            &AuthorizationCode {
                client_id: client.client_id.as_str().to_owned(),
                sub: session.sub.clone(),
                sid: session.sid.clone(),
                redirect_uri: req.redirect_uri.as_str().to_owned(),
                scope: req.scope.to_string(),
                nonce: req.nonce.clone(),
                code_challenge: req.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
                auth_time: session.auth_time,
                amr: session.amr.clone(),
                expires_at: now() + client.code_lifetime(state.config.tokens.authorization_code),
                organisation_id: organisation_id.clone(),
                dpop_jkt: req.dpop_jkt.clone(),
                claims: req.claims.as_ref().map(|c| c.to_stored()),
            },
        )
        .await?;
    state
        .storage
        .add_session_client(
            &session.sid,
            client.client_id.as_str(),
            organisation_id.as_ref(),
        )
        .await?;
    Ok(respond(state, &req.target(), vec![("code", code.expose())]))
}

/// The `form-action` source that lets a page's form post to `redirect_uri`.
fn form_action_origin(redirect_uri: &str) -> String {
    url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// An error authorization response (RFC 6749 §4.1.2.1).
pub fn error_response<'a>(
    state: &'a AppState,
    target: &Target<'a>,
    error: ErrorCode,
    description: &'a str,
) -> Response {
    let description = crate::error::nqschar(description);
    respond(
        state,
        target,
        vec![
            ("error", error.as_str()),
            ("error_description", &description),
        ],
    )
}

/// Sends `fields` plus `state` and `iss` (RFC 9207) by the requested response mode.
fn respond<'a>(
    state: &'a AppState,
    target: &Target<'a>,
    mut fields: Vec<(&'a str, &'a str)>,
) -> Response {
    if let Some(s) = target.state {
        fields.push(("state", s));
    }
    fields.push(("iss", &state.config.issuer));
    match target.mode {
        ResponseMode::Query => {
            let mut url = match url::Url::parse(target.redirect_uri) {
                Ok(u) => u,
                // Registered URIs are validated; an unparsable one is a corrupt registration.
                Err(_) => {
                    return PageError::bad_request("error.bad_redirect_uri", "", target.lang)
                        .into_response()
                }
            };
            url.query_pairs_mut().extend_pairs(fields);
            see_other(url.as_str())
        }
        ResponseMode::FormPost => form_post(target, &fields),
    }
}

/// OAuth 2.0 Form Post Response Mode: an auto-submitting form (script served as a file).
fn form_post(target: &Target<'_>, fields: &[(&str, &str)]) -> Response {
    let page = FormPostPage {
        c: Chrome::new(target.lang, String::new()),
        t: target.lang.texts(),
        action: target.redirect_uri,
        fields: fields.to_vec(),
    };
    let mut r = html(StatusCode::OK, page.render());
    let origin = form_action_origin(target.redirect_uri);
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; form-action {origin}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}
