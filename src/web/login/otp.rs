//! The second factor at login: a TOTP code (RFC 6238, each time step accepted once) or one of
//! the recovery codes. Failures count toward the same lockout as wrong passwords.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{advance, audit_failure, reserve_attempt, too_many_requests};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Account;
use crate::domain::amr::Method;
use crate::domain::totp;
use crate::error::{Internal, PageError};
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::interaction::{
    authenticated_account, bind_csrf, check_csrf, load, with_csrf_cookie, Interaction, Stage,
};
use crate::pages::i18n::Lang;
use crate::pages::{html, Chrome, OtpPage};
use crate::secrets::now;
use crate::session::Browser;

#[derive(serde::Deserialize)]
pub struct Q {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login/otp?id=…`
pub async fn otp_form(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let pending = load(&state, q.id.as_deref(), lang).await?;
    let account = authenticated_account(&state, &pending, Stage::SecondFactor, lang).await?;
    render(
        &state,
        &browser,
        &pending,
        &account,
        lang,
        "",
        StatusCode::OK,
    )
    .await
}

/// `POST /login/otp`
pub async fn otp_submit(
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
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let account = authenticated_account(&state, &pending, Stage::SecondFactor, lang).await?;
    // Counted before the check, atomically: parallel guesses cannot outrun the lockout.
    if !reserve_attempt(&state, &account, &meta).await? {
        audit_failure(&state, &account, &meta, Event::OtpFailed, "locked").await?;
        return render(
            &state,
            &browser,
            &pending,
            &account,
            lang,
            "otp.failed",
            StatusCode::OK,
        )
        .await;
    }
    let code = form.get("code").unwrap_or("");
    if check_code(&state, &account, code, &meta).await? {
        let amr = pending.amr.clone().with(Method::Otp);
        return advance(&state, &browser, &meta, &pending, &account, &amr, lang).await;
    }
    audit_failure(&state, &account, &meta, Event::OtpFailed, "wrong_code").await?;
    render(
        &state,
        &browser,
        &pending,
        &account,
        lang,
        "otp.failed",
        StatusCode::OK,
    )
    .await
}

/// Accepts a fresh TOTP code or an unused recovery code.
pub async fn check_code(
    state: &AppState,
    account: &Account,
    code: &str,
    meta: &ClientMeta,
) -> Result<bool, Internal> {
    let Some(sealed) = &account.totp_secret else {
        return Ok(false);
    };
    let secret = state
        .data_key
        .open(sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| totp::TotpSecret::from_base32(&s).ok())
        .ok_or(Internal::Stored("TOTP secret"))?;
    if let Some(step) = totp::verify(&secret, code, now(), account.totp_last_step) {
        // The database decides, so the same code cannot pass twice even on two nodes.
        return Ok(state.storage.use_totp_step(&account.sub, step).await?);
    }
    if crate::web::totp_setup::use_recovery_code(state, account, code).await? {
        state
            .audit
            .record(
                Record::new(Event::RecoveryCodeUsed)
                    .subject(account.sub.clone())
                    .ip(meta.ip_string()),
            )
            .await?;
        return Ok(true);
    }
    Ok(false)
}

pub(super) async fn render(
    state: &AppState,
    browser: &Browser,
    pending: &Interaction,
    account: &Account,
    lang: Lang,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let csrf = bind_csrf(state, &browser.csrf, pending).await?;
    let page = OtpPage {
        c: Chrome::new(
            lang,
            format!(
                "/login/otp?id={}&lang={}",
                pending.id(),
                lang.other().code()
            ),
        ),
        t: lang.texts(),
        request_id: pending.id(),
        csrf: csrf.expose(),
        error,
        step_up: pending.request().is_some_and(|r| r.require_mfa),
        totp: account.totp_secret.is_some(),
        passkey: account.passkeys > 0 && state.passkeys.is_some(),
    };
    Ok(with_csrf_cookie(
        state,
        html(status, page.render()),
        &csrf,
        pending,
    ))
}
