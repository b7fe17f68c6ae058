//! Signing in, step by step: the pages of an interaction (`crate::interaction`), each stage
//! its own page:
//!
//! 1. `password` — username and password (`/login`);
//! 2. `otp` — the TOTP code or a recovery code, when the account has a second factor;
//! 3. `change` — a new password, when the current one is initial or too old;
//! 4. `enrol` — TOTP enrolment, when the account is privileged and has none yet; once this
//!    login has enrolled it (and so proved it), `enrolled` while the recovery codes are shown;
//!
//! and then the session is established (its id rotated) and the person goes where they were
//! going: back to the protocol (`/authorize/resume`), their account page or the console.

mod change;
mod enrol;
mod mfa;
mod otp;
mod passkey;
mod password;
pub(crate) mod upstream;

pub use change::{change_form, change_submit};
pub use enrol::{enrol_form, enrol_submit, enrolled_continue};
pub use mfa::mfa_required;
pub use otp::{otp_form, otp_submit};
pub use passkey::{json as passkey_json, options as passkey_options, submit as passkey_submit};
pub use password::{show, submit};
pub use upstream::{callback as upstream_callback, start as upstream_start};

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Account;
use crate::domain::amr::Amr;
use crate::error::{Internal, PageError};
use crate::http::client::ClientMeta;
use crate::http::cookies;
use crate::http::see_other;
use crate::interaction::{self, Interaction, Outcome, Purpose};
use crate::pages::i18n::Lang;
use crate::secrets::now;
use crate::session::Browser;

/// Starts a login for the account page or the console and sends the browser to its form.
pub async fn begin(state: &AppState, purpose: Purpose) -> Result<Response, PageError> {
    let lang = purpose.lang();
    match interaction::start(state, "", purpose).await? {
        Some(i) => Ok(see_other(&i.url(lang))),
        None => Ok(too_many_requests(lang)),
    }
}

/// Moves on: to the next stage's page, or, when none is left, finishes the login.
pub async fn advance(
    state: &AppState,
    browser: &Browser,
    meta: &ClientMeta,
    pending: &Interaction,
    account: &Account,
    amr: &Amr,
    lang: Lang,
) -> Result<Response, PageError> {
    match interaction::next_stage(state, account, amr) {
        Some(stage) => {
            // The password was right: from here the login belongs to this browser only.
            let moved = interaction::advance(state, pending, &account.sub, stage, amr).await?;
            let binding = interaction::rebind(state, &moved).await?;
            Ok(interaction::with_csrf_cookie(
                state,
                see_other(&moved.url(lang)),
                &binding,
                &moved,
            ))
        }
        None => finish(state, browser, meta, pending, account, amr).await,
    }
}

/// Establishes the session (a fresh cookie value: the id is rotated at every login) and goes
/// where the login was leading.
async fn finish(
    state: &AppState,
    browser: &Browser,
    meta: &ClientMeta,
    pending: &Interaction,
    account: &Account,
    amr: &Amr,
) -> Result<Response, PageError> {
    let lang = pending.lang();
    match &pending.purpose {
        // The protocol finishes it (and checks the client is still enabled).
        Purpose::Authorize(_) => {
            interaction::finish(state, pending, &account.sub, &Outcome::Authenticated).await?
        }
        Purpose::Account { .. } | Purpose::Console { .. } => {
            interaction::discard(state, pending).await?
        }
    }
    state.storage.record_login_success(&account.sub).await?;
    let established =
        crate::session::establish(state, &browser.session, meta, &account.sub, amr).await?;
    let session = &established.session;
    state
        .audit
        .record(
            Record::new(Event::LoginSucceeded)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string())
                .detail("sid", session.sid.clone())
                .detail("amr", amr.to_string())
                .detail("client_id", pending.client_id.clone()),
        )
        .await?;
    tracing::info!(sid = %session.sid, client_id = %pending.client_id, "login succeeded");

    let mut response = match &pending.purpose {
        Purpose::Authorize(_) => see_other(&interaction::resume_url(pending.id())),
        Purpose::Console { .. } => see_other(&format!("/admin?lang={}", lang.code())),
        Purpose::Account { .. } => see_other(&format!("/account?lang={}", lang.code())),
    };
    let h = response.headers_mut();
    if let Some(v) = established.set_cookie(state) {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = state.cookies.clear(cookies::CSRF) {
        h.append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The answer to a login attempt over the per-IP rate limit.
pub fn too_many_requests(lang: Lang) -> Response {
    PageError::too_many_requests(lang).into_response()
}

/// Reserves one attempt against the account's lockout *before* checking a secret: the counter
/// goes up at once (and a lock is set when it reaches the threshold), atomically, so parallel
/// guesses cannot all slip through before the first failure is recorded. A success resets it
/// (`record_login_success`). `false`: the account is locked and nothing may be checked.
pub async fn reserve_attempt(
    state: &AppState,
    account: &Account,
    meta: &ClientMeta,
) -> Result<bool, Internal> {
    let t = now();
    let policy = &state.config.lockout;
    let first_lock = policy.lock_for(policy.threshold).unwrap_or(0);
    let Some(attempts) = state
        .storage
        .reserve_login_attempt(&account.sub, t, policy.threshold, t + first_lock)
        .await?
    else {
        return Ok(false);
    };
    if let Some(seconds) = state.config.lockout.lock_for(attempts) {
        state.storage.extend_lock(&account.sub, t + seconds).await?;
        // Logged when the failure is known; the lock itself is audited here.
        state
            .audit
            .record(
                Record::new(Event::AccountLocked)
                    .subject(account.sub.clone())
                    .ip(meta.ip_string())
                    .detail("seconds", seconds)
                    .detail("attempts", attempts),
            )
            .await?;
        tracing::warn!(sub = %account.sub, seconds, "account temporarily locked");
    }
    Ok(true)
}

/// Audits a failed step (the attempt was already counted by [`reserve_attempt`]).
pub async fn audit_failure(
    state: &AppState,
    account: &Account,
    meta: &ClientMeta,
    event: Event,
    reason: &str,
) -> Result<(), Internal> {
    state
        .audit
        .record(
            Record::new(event)
                .subject(account.sub.clone())
                .ip(meta.ip_string())
                .detail("reason", reason),
        )
        .await?;
    Ok(())
}

/// Renders a page result, or the error page.
pub fn respond(r: Result<Response, PageError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}
