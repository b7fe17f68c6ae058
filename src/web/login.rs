//! The login form. A pending authorization request (parked by `/authorize`) is shown as a
//! form bound to this browser by a CSRF token (synchronizer token stored hashed with the
//! request, echoed in a cookie: OWASP CSRF Prevention Cheat Sheet). Every failure looks the
//! same, whether the account is unknown, locked or the password wrong (OWASP Authentication
//! Cheat Sheet), and the session id is rotated at every login (OWASP Session Management).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;

use super::cookies;
use super::i18n::Lang;
use super::pages::{html, Chrome, LoginPage};
use crate::app::AppState;
use crate::domain::account::{AccountStatus, Username};
use crate::error::{Internal, PageError};
use crate::oidc::authorize::{complete, AuthRequest};
use crate::oidc::params::Params;
use crate::password::Verified;
use crate::secrets::{constant_time_eq, now, PlainToken};
use crate::storage::login_requests::LoginRequest;
use crate::storage::sessions::Session;

#[derive(Deserialize)]
pub struct ShowQuery {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login?id=…`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let lang_param = Lang::from_ui_locales(q.lang.as_deref());
    let (pending, req) = load(&state, q.id.as_deref(), lang_param.unwrap_or_default()).await?;
    let lang = lang_param.unwrap_or(req.lang);
    let username = req.login_hint.clone().unwrap_or_default();
    render(
        &state,
        &headers,
        &pending,
        lang,
        &username,
        "",
        StatusCode::OK,
    )
    .await
}

/// `POST /login`
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let (pending, req) = load(&state, form.get("id"), lang).await?;
    let username = form.get("username").unwrap_or("").trim().to_owned();

    // CSRF: the form's token must equal the cookie and hash to the one stored for this login.
    let form_csrf = form.get("csrf").unwrap_or("");
    let cookie_csrf = state
        .cookies
        .get(&headers, cookies::CSRF)
        .unwrap_or_default();
    let csrf_ok = !form_csrf.is_empty()
        && constant_time_eq(form_csrf, &cookie_csrf)
        && crate::secrets::HashedToken::from_stored(pending.csrf_hash.clone()).matches(form_csrf);
    if !csrf_ok {
        // Not re-rendered: that would re-bind the pending login to the sender's browser.
        tracing::warn!("login form with a bad CSRF token");
        return Err(PageError::bad_request("login.csrf", "", lang));
    }

    let password = SecretString::from(form.get("password").unwrap_or("").to_owned());
    let account = match Username::parse(&username) {
        Ok(u) => state.storage.account_by_username(u.as_str()).await?,
        Err(_) => None,
    };
    // Locked or disabled accounts are checked against the dummy hash like unknown ones.
    let usable = account.filter(|a| a.status == AccountStatus::Active);
    let verified = state
        .passwords
        .verify(password, usable.as_ref().map(|a| a.password_hash.clone()))
        .await?;
    let account = match (verified, usable) {
        (Verified::Yes, Some(a)) => a,
        _ => {
            tracing::info!("login failed");
            return render(
                &state,
                &headers,
                &pending,
                lang,
                &username,
                "login.failed",
                StatusCode::OK,
            )
            .await;
        }
    };

    let client = state
        .storage
        .client(&pending.client_id)
        .await?
        .filter(|c| c.enabled)
        .ok_or_else(|| PageError::bad_request("error.client_disabled", "", lang))?;
    state.storage.delete_login_request(&pending.id).await?;

    // Rotate the session id: a fresh cookie value at every login.
    let cookie = PlainToken::generate();
    let t = now();
    let amr = "pwd".to_owned();
    let previous = crate::oidc::authorize::current_session(&state, &headers).await?;
    let session = match previous {
        Some(s) if s.sub == account.sub => {
            state
                .storage
                .reauthenticate_session(&s.sid, &cookie.hashed(), t, &amr)
                .await?;
            Session {
                auth_time: t,
                amr,
                ..s
            }
        }
        other => {
            if let Some(old) = other {
                // A different person signs in on this browser: the old session ends.
                crate::oidc::logout::end_session(&state, &old.sid).await?;
            }
            let s = Session {
                sid: uuid::Uuid::new_v4().to_string(),
                sub: account.sub.clone(),
                auth_time: t,
                amr,
                expires_at: t + state.config.session.absolute_timeout,
            };
            state.storage.insert_session(&cookie.hashed(), &s).await?;
            s
        }
    };
    tracing::info!(sid = %session.sid, client_id = %client.client_id, "login succeeded");
    let mut response = complete(&state, &client, &req, &session).await?;
    let h = response.headers_mut();
    if let Some(v) = state.cookies.set(cookies::SESSION, cookie.expose(), None) {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = state.cookies.clear(cookies::CSRF) {
        h.append(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn load(
    state: &AppState,
    id: Option<&str>,
    lang: Lang,
) -> Result<(LoginRequest, AuthRequest), PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    let id = id.filter(|i| i.len() <= 64).ok_or_else(expired)?;
    let pending = state.storage.login_request(id).await?.ok_or_else(expired)?;
    let req: AuthRequest = serde_json::from_str(&pending.params)
        .map_err(|e| Internal::Other(format!("stored login request: {e}")))?;
    Ok((pending, req))
}

/// Renders the form, (re)binding the pending login to this browser's CSRF token.
async fn render(
    state: &AppState,
    headers: &HeaderMap,
    pending: &LoginRequest,
    lang: Lang,
    username: &str,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    // Keep one token per browser so that two tabs with two logins both work.
    let csrf = state
        .cookies
        .get(headers, cookies::CSRF)
        .filter(|c| c.len() == 43)
        .map(|c| PlainToken::from_received(&c))
        .unwrap_or_else(PlainToken::generate);
    state
        .storage
        .set_login_request_csrf(&pending.id, &csrf.hashed())
        .await?;
    let client_name = state
        .storage
        .client(&pending.client_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let c = Chrome::new(
        lang,
        format!("/login?id={}&lang={}", pending.id, lang.other().code()),
    );
    let page = LoginPage {
        lang: c.lang,
        other_lang: c.other_lang,
        switch_url: c.switch_url,
        t: c.t,
        client_name: &client_name,
        request_id: &pending.id,
        csrf: csrf.expose(),
        username,
        error,
    };
    let mut r = html(status, page.render());
    let max_age = (pending.expires_at - now()).max(0);
    if let Some(v) = state
        .cookies
        .set(cookies::CSRF, csrf.expose(), Some(max_age))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}
