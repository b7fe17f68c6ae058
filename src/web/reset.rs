//! Password reset by e-mail (OWASP Forgot Password Cheat Sheet): the same answer whether or not
//! the account exists, the mail sent in the background so timing does not tell either, a
//! random single-use link valid one hour (stored hashed), per-IP rate limits, and after the
//! reset every session of the account ends.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::Response;

use super::login::too_many_requests;
use super::new_password::{check_new_password, store_new_password, Keep, Why};
use crate::app::AppState;
use crate::domain::account::{Account, AccountStatus, Username};
use crate::error::{Internal, PageError};
use crate::http::client::ClientMeta;
use crate::http::cookies;
use crate::http::cookies::CsrfCookie;
use crate::http::params::Params;
use crate::pages::i18n::Lang;
use crate::pages::{html, message_page, Chrome, ForgotPage, Hidden, PasswordPage};
use crate::secrets::{now, PlainToken};
use crate::services::password_links::{self, Link};

/// A reset link lives one hour (MPSV rule).
const LINK_SECONDS: i64 = 3600;

#[derive(serde::Deserialize)]
pub struct Q {
    lang: Option<String>,
    token: Option<String>,
}

fn with_cookie(state: &AppState, mut r: Response, csrf: &PlainToken) -> Response {
    if let Some(v) = state
        .cookies
        .set(cookies::CSRF, csrf.expose(), Some(LINK_SECONDS))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /password/forgot`
pub async fn forgot_form(
    State(state): State<AppState>,
    csrf_cookie: CsrfCookie,
    Query(q): Query<Q>,
) -> Response {
    let lang = Lang::parse(q.lang.as_deref());
    let csrf = csrf_cookie.or_new();
    let page = ForgotPage {
        c: Chrome::new(
            lang,
            format!("/password/forgot?lang={}", lang.other().code()),
        ),
        t: lang.texts(),
        csrf: csrf.expose(),
    };
    with_cookie(&state, html(StatusCode::OK, page.render()), &csrf)
}

/// `POST /password/forgot`
pub async fn forgot_submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    csrf_cookie: CsrfCookie,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    if !state
        .reset_limiter
        .allow(&state.storage, &meta.limit_key(), now())
        .await?
    {
        return Ok(too_many_requests(lang));
    }
    if !csrf_cookie.matches(form.get("csrf")) {
        return Err(PageError::bad_request("login.csrf", "", lang));
    }
    // Everything that depends on whether the account exists — the look-up, the link's row,
    // the audit record, the mail — happens after the answer, in the background, so neither
    // the answer nor its timing tells (OWASP Forgot Password Cheat Sheet; issue 11.14).
    let login = form.get("login").unwrap_or("").trim().to_owned();
    let background = state.clone();
    let ip = meta.ip_string();
    tokio::spawn(async move {
        if let Err(e) = request_reset(&background, &login, ip, lang).await {
            tracing::error!(error = %e, "password reset request failed");
        }
    });
    let t = lang.texts();
    Ok(message_page(
        lang,
        t.get("forgot.sent_title"),
        t.get("forgot.sent"),
        "",
        "",
    ))
}

/// The work behind a reset request: a link for an active account with an e-mail address.
async fn request_reset(
    state: &AppState,
    login: &str,
    ip: Option<String>,
    lang: Lang,
) -> Result<(), Internal> {
    let Some(account) = find(state, login)
        .await?
        .filter(|a| a.status == AccountStatus::Active)
    else {
        return Ok(());
    };
    send_link(state, &account, LINK_SECONDS, Link::Reset, ip, lang).await
}

/// Stores a single-use link for `account` valid `seconds`, audits it and mails it. Nothing is
/// sent to an account without an e-mail address.
pub async fn send_link(
    state: &AppState,
    account: &Account,
    seconds: i64,
    kind: Link,
    ip: Option<String>,
    lang: Lang,
) -> Result<(), Internal> {
    if account.email.is_none() {
        return Ok(());
    }
    let token =
        password_links::issue(&state.storage, &state.audit, account, seconds, kind, ip).await?;
    crate::mail::send_password_link(state, account, &token, kind, lang).await;
    Ok(())
}

/// By username, else by e-mail address.
async fn find(state: &AppState, login: &str) -> Result<Option<Account>, Internal> {
    if login.is_empty() || login.len() > 256 {
        return Ok(None);
    }
    if let Ok(u) = Username::parse(login) {
        if let Some(a) = state.storage.account_by_username(u.as_str()).await? {
            return Ok(Some(a));
        }
    }
    if login.contains('@') {
        return Ok(state.storage.account_by_email(login).await?);
    }
    Ok(None)
}

fn invalid_link(lang: Lang) -> Response {
    let t = lang.texts();
    let mut r = message_page(
        lang,
        t.get("forgot.title"),
        t.get("forgot.invalid"),
        &format!("/password/forgot?lang={}", lang.code()),
        t.get("forgot.title"),
    );
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

async fn account_of_link(state: &AppState, token: &str) -> Result<Option<Account>, PageError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let Some(sub) = state
        .storage
        .password_reset(&PlainToken::from_received(token).hashed())
        .await?
    else {
        return Ok(None);
    };
    Ok(state
        .storage
        .account(&sub)
        .await?
        .filter(|a| a.status == AccountStatus::Active))
}

fn reset_page(
    state: &AppState,
    account: &Account,
    token: &str,
    csrf: &PlainToken,
    lang: Lang,
    errors: Vec<String>,
) -> Response {
    let page = PasswordPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        action: "/password/reset",
        hidden: vec![Hidden("token", token), Hidden("csrf", csrf.expose())],
        intro: "password.intro_reset",
        ask_current: false,
        min_length: state.config.password.min_length(account.role.privileged()),
        history: state.config.password.history,
        errors,
    };
    with_cookie(state, page.respond(), csrf)
}

/// `GET /password/reset?token=…`
pub async fn reset_form(
    State(state): State<AppState>,
    csrf_cookie: CsrfCookie,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let token = q.token.unwrap_or_default();
    let Some(account) = account_of_link(&state, &token).await? else {
        return Ok(invalid_link(lang));
    };
    let csrf = csrf_cookie.or_new();
    Ok(reset_page(
        &state,
        &account,
        &token,
        &csrf,
        lang,
        Vec::new(),
    ))
}

/// `POST /password/reset`
pub async fn reset_submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    csrf_cookie: CsrfCookie,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    if !csrf_cookie.matches(form.get("csrf")) {
        return Err(PageError::bad_request("login.csrf", "", lang));
    }
    let token = form.get("token").unwrap_or("").to_owned();
    let Some(account) = account_of_link(&state, &token).await? else {
        return Ok(invalid_link(lang));
    };
    match check_new_password(&state, &account, &form, Why::Reset, &meta, lang).await? {
        Ok(hash) => {
            // Spend the link first: of two submissions only one sets a password.
            if !state
                .storage
                .use_password_reset(&PlainToken::from_received(&token).hashed(), &account.sub)
                .await?
            {
                return Ok(invalid_link(lang));
            }
            store_new_password(&state, &account, &hash, Why::Reset, &meta, Keep::default()).await?;
            let t = lang.texts();
            Ok(message_page(
                lang,
                t.get("password.changed_title"),
                t.get("password.changed_text"),
                "",
                "",
            ))
        }
        Err(errors) => {
            let csrf = csrf_cookie.or_new();
            Ok(reset_page(&state, &account, &token, &csrf, lang, errors))
        }
    }
}
