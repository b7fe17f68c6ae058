//! Password reset by e-mail (OWASP Forgot Password Cheat Sheet): the same answer whether or not
//! the account exists, the mail sent in the background so timing does not tell either, a
//! random single-use link valid one hour (stored hashed), per-IP rate limits, and after the
//! reset every session of the account ends.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::client::ClientMeta;
use super::cookies;
use super::i18n::Lang;
use super::login::too_many_requests;
use super::new_password::{check_new_password, store_new_password, Why};
use super::pages::{html, message_page, Chrome, ForgotPage, Hidden, PasswordPage};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::{Account, AccountStatus, Username};
use crate::error::PageError;
use crate::oidc::params::Params;
use crate::secrets::{constant_time_eq, now, PlainToken};

/// A reset link lives one hour (MPSV rule).
const LINK_SECONDS: i64 = 3600;

#[derive(serde::Deserialize)]
pub struct Q {
    lang: Option<String>,
    token: Option<String>,
}

/// The browser's CSRF token (double-submit cookie: these forms have no session yet).
fn csrf_token(state: &AppState, headers: &HeaderMap) -> PlainToken {
    state
        .cookies
        .get(headers, cookies::CSRF)
        .filter(|c| c.len() == 43)
        .map(|c| PlainToken::from_received(&c))
        .unwrap_or_else(PlainToken::generate)
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

fn csrf_ok(state: &AppState, headers: &HeaderMap, form: &Params) -> bool {
    let f = form.get("csrf").unwrap_or("");
    let c = state
        .cookies
        .get(headers, cookies::CSRF)
        .unwrap_or_default();
    !f.is_empty() && constant_time_eq(f, &c)
}

/// `GET /password/forgot`
pub async fn forgot_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Response {
    let lang = Lang::parse(q.lang.as_deref());
    let csrf = csrf_token(&state, &headers);
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    if !state.reset_limiter.allow(meta.ip) {
        return Ok(too_many_requests(lang));
    }
    if !csrf_ok(&state, &headers, &form) {
        return Err(PageError::bad_request("login.csrf", "", lang));
    }
    let login = form.get("login").unwrap_or("").trim();
    let account = find(&state, login).await?;
    if let Some(account) = account.filter(|a| a.status == AccountStatus::Active) {
        if let Some(email) = account.email.clone() {
            let token = PlainToken::generate();
            state
                .storage
                .insert_password_reset(&token.hashed(), &account.sub, now() + LINK_SECONDS)
                .await?;
            state
                .audit
                .record(
                    Record::new(Event::PasswordResetRequested)
                        .subject(account.sub.clone())
                        .ip(meta.ip_string()),
                )
                .await?;
            let t = lang.texts();
            let link = format!(
                "{}/password/reset?token={}&lang={}",
                state.config.issuer,
                token.expose(),
                lang.code()
            );
            let body = t
                .get("forgot.mail_body")
                .replace("{username}", &account.username)
                .replace("{link}", &link);
            let subject = t.get("forgot.mail_subject").to_owned();
            let mailer = state.mailer.clone();
            // In the background: the answer must not take longer when the account exists.
            tokio::spawn(async move {
                if let Err(e) = mailer.send(&email, &subject, body).await {
                    tracing::error!(error = %e, "password reset mail failed");
                }
            });
        }
    }
    let t = lang.texts();
    Ok(message_page(
        lang,
        t.get("forgot.sent_title"),
        t.get("forgot.sent"),
        "",
        "",
    ))
}

/// By username, else by e-mail address.
async fn find(state: &AppState, login: &str) -> Result<Option<Account>, PageError> {
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
        errors,
    };
    with_cookie(state, page.respond(), csrf)
}

/// `GET /password/reset?token=…`
pub async fn reset_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let token = q.token.unwrap_or_default();
    let Some(account) = account_of_link(&state, &token).await? else {
        return Ok(invalid_link(lang));
    };
    let csrf = csrf_token(&state, &headers);
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    if !csrf_ok(&state, &headers, &form) {
        return Err(PageError::bad_request("login.csrf", "", lang));
    }
    let token = form.get("token").unwrap_or("").to_owned();
    let Some(account) = account_of_link(&state, &token).await? else {
        return Ok(invalid_link(lang));
    };
    match check_new_password(&state, &account, &form, Why::Reset, lang).await? {
        Ok(hash) => {
            // Spend the link first: of two submissions only one sets a password.
            if !state
                .storage
                .use_password_reset(&PlainToken::from_received(&token).hashed(), &account.sub)
                .await?
            {
                return Ok(invalid_link(lang));
            }
            store_new_password(&state, &account, &hash, Why::Reset, &meta, None).await?;
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
            let csrf = csrf_token(&state, &headers);
            Ok(reset_page(&state, &account, &token, &csrf, lang, errors))
        }
    }
}
