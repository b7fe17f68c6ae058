//! The first stage: username and password. Every failure looks the same, whether the account is
//! unknown, locked, disabled or the password wrong, and takes about as long (a dummy hash is
//! verified when there is no usable account): OWASP Authentication Cheat Sheet.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;

use super::{advance, audit_failure, reserve_attempt, too_many_requests};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::{AccountStatus, Username};
use crate::domain::amr::{Amr, Method};
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::http::see_other;
use crate::interaction::{
    bind_csrf, check_csrf, load, next_stage, with_csrf_cookie, Interaction, Purpose, Stage,
};
use crate::pages::i18n::Lang;
use crate::pages::{html, Chrome, LoginPage};
use crate::password::Verified;
use crate::secrets::now;
use crate::session::Browser;

#[derive(Deserialize)]
pub struct ShowQuery {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login?id=…`
pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let lang_param = Lang::from_ui_locales(q.lang.as_deref());
    let pending = load(&state, q.id.as_deref(), lang_param.unwrap_or_default()).await?;
    let lang = lang_param.unwrap_or(pending.purpose.lang());
    if pending.stage != Stage::Password {
        return Ok(see_other(&pending.url(lang)));
    }
    let hint = match &pending.purpose {
        Purpose::Authorize(r) => r.login_hint.clone().unwrap_or_default(),
        Purpose::Account { .. } | Purpose::Console { .. } => String::new(),
    };
    render(&state, &browser, &pending, lang, &hint, "", StatusCode::OK).await
}

/// `POST /login`
pub async fn submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    if !state
        .login_limiter
        .allow(&state.storage, &meta.limit_key(), now())
        .await?
    {
        return Ok(too_many_requests(lang));
    }
    let pending = load(&state, form.get("id"), lang).await?;
    if pending.stage != Stage::Password {
        return Err(PageError::bad_request("login.expired", "", lang));
    }
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let password = SecretString::from(form.get("password").unwrap_or("").to_owned());

    let account = match Username::parse(&username) {
        Ok(u) => state.storage.account_by_username(u.as_str()).await?,
        Err(_) => None,
    };
    let t = now();
    // The attempt is counted before the check (atomically); locked or disabled accounts are
    // checked against the dummy hash like unknown ones.
    let active = account
        .as_ref()
        .filter(|a| a.status == AccountStatus::Active);
    let allowed = match active {
        Some(a) => reserve_attempt(&state, a, &meta).await?,
        None => false,
    };
    let usable = active.filter(|_| allowed);
    let verified = state
        .passwords
        .verify(password.clone(), usable.map(|a| a.password_hash.clone()))
        .await?;
    let account = match (verified, usable) {
        (Verified::Yes, Some(a)) => a.clone(),
        (_, usable) => {
            match (usable, &account) {
                // The attempt was counted toward the lockout when it was reserved.
                (Some(a), _) => {
                    audit_failure(&state, a, &meta, Event::LoginFailed, "wrong_password").await?
                }
                (None, Some(a)) => {
                    let reason = if a.status == AccountStatus::Active {
                        "locked"
                    } else {
                        a.status.as_str()
                    };
                    state
                        .audit
                        .record(
                            Record::new(Event::LoginFailed)
                                .subject(a.sub.clone())
                                .ip(meta.ip_string())
                                .detail("reason", reason),
                        )
                        .await?;
                }
                (None, None) => {
                    state
                        .audit
                        .record(
                            Record::new(Event::LoginFailed)
                                .ip(meta.ip_string())
                                .detail("reason", "unknown_user")
                                .detail("username", username.chars().take(64).collect::<String>()),
                        )
                        .await?;
                }
            }
            tracing::info!("login failed");
            return render(
                &state,
                &browser,
                &pending,
                lang,
                &username,
                "login.failed",
                StatusCode::OK,
            )
            .await;
        }
    };

    // Transparent upgrade of hashes made with older parameters.
    if crate::password::needs_rehash(&account.password_hash) {
        let hash = state.passwords.hash(password).await?;
        state
            .storage
            .upgrade_password_hash(&account.sub, &hash)
            .await?;
    }
    // An initial password that was never changed stops working after its time.
    if account.initial_password_expires_at.is_some_and(|e| e <= t) {
        state
            .audit
            .record(
                Record::new(Event::LoginFailed)
                    .subject(account.sub.clone())
                    .ip(meta.ip_string())
                    .detail("reason", "initial_password_expired"),
            )
            .await?;
        return Err(PageError::bad_request("login.initial_expired", "", lang));
    }
    // Without a second factor to come, the right password ends the run of failures now; with
    // one, only the whole login does (else password + guess, password + guess… would never
    // lock).
    let amr = Amr::of(Method::Password);
    if next_stage(&state, &account, &amr) != Some(Stage::SecondFactor) {
        state.storage.record_login_success(&account.sub).await?;
    }
    advance(&state, &browser, &meta, &pending, &account, &amr, lang).await
}

/// Renders the form, (re)binding the pending login to this browser's CSRF token.
pub(super) async fn render(
    state: &AppState,
    browser: &Browser,
    pending: &Interaction,
    lang: Lang,
    username: &str,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let csrf = bind_csrf(state, &browser.csrf, pending).await?;
    let client_name = match &pending.purpose {
        Purpose::Authorize(_) => state
            .storage
            .client(&pending.client_id)
            .await?
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        Purpose::Account { .. } => lang.texts().get("account.title").to_owned(),
        Purpose::Console { .. } => lang.texts().get("console.title").to_owned(),
    };
    let page = LoginPage {
        c: Chrome::new(
            lang,
            format!("/login?id={}&lang={}", pending.id(), lang.other().code()),
        ),
        t: lang.texts(),
        client_name: &client_name,
        request_id: pending.id(),
        csrf: csrf.expose(),
        username,
        error,
        passkeys: state.passkeys.is_some(),
        upstreams: state
            .upstreams
            .all()
            .iter()
            .map(|u| (u.config.id.clone(), u.config.name.clone()))
            .collect(),
    };
    Ok(with_csrf_cookie(
        state,
        html(status, page.render()),
        &csrf,
        pending,
    ))
}
