//! Signing in, step by step. A pending login (parked by `/authorize` or by the account page)
//! moves through stages, each its own page:
//!
//! 1. `password` — username and password (`/login`);
//! 2. `otp` — the TOTP code or a recovery code, when the account has a second factor;
//! 3. `change` — a new password, when the current one is initial or too old;
//! 4. `enrol` — TOTP enrolment, when the account is privileged and has none yet; once this
//!    login has enrolled it (and so proved it), `enrolled` while the recovery codes are shown;
//!
//! and then the session is created (its id rotated) and the person goes where they were going.
//! Every form is bound to the pending login and to this browser by a CSRF token (stored hashed
//! with the login, echoed in a cookie: OWASP CSRF Prevention Cheat Sheet, synchronizer token).

mod change;
mod enrol;
mod otp;
mod password;

pub use change::{change_form, change_submit};
pub use enrol::{enrol_form, enrol_submit, enrolled_continue};
pub use otp::{otp_form, otp_submit};
pub use password::{show, submit};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::{Account, AccountStatus};
use crate::error::{Internal, PageError};
use crate::http::client::ClientMeta;
use crate::http::cookies;
use crate::http::params::Params;
use crate::http::see_other;
use crate::oidc::authorize::{complete, AuthRequest};
use crate::pages::i18n::Lang;
use crate::secrets::{constant_time_eq, now, HashedToken, PlainToken};
use crate::storage::login_requests::LoginRequest;

/// Where a login leads once done.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Back to a relying party with a code.
    Authorize(Box<AuthRequest>),
    /// The person's own account page.
    Account { lang: Lang },
    /// The staff console (`/admin`).
    Console { lang: Lang },
}

impl Target {
    pub fn lang(&self) -> Lang {
        match self {
            Target::Authorize(r) => r.lang,
            Target::Account { lang } | Target::Console { lang } => *lang,
        }
    }
}

/// Parks a login and sends the browser to its first page.
pub async fn begin(
    state: &AppState,
    client_id: &str,
    target: &Target,
) -> Result<Response, PageError> {
    let id = PlainToken::generate();
    let params = serde_json::to_string(target).map_err(|e| Internal::Other(e.to_string()))?;
    // Each visit without a session stores a row: one client address may hold only so many at
    // once (issue 11.8); expired ones are purged by the upkeep task.
    let source = crate::http::client::current_source();
    let stored = state
        .storage
        .insert_login_request(
            id.expose(),
            &PlainToken::generate().hashed(),
            client_id,
            &params,
            now() + state.config.tokens.login_request,
            &source,
            state.config.limits.pending_logins_per_address,
        )
        .await?;
    if !stored {
        tracing::warn!(source = %source, "too many pending logins from one address");
        return Ok(too_many_requests(target.lang()));
    }
    Ok(see_other(&format!(
        "/login?id={}&lang={}",
        id.expose(),
        target.lang().code()
    )))
}

/// A pending login and where it leads.
pub struct Pending {
    pub row: LoginRequest,
    pub target: Target,
}

impl Pending {
    pub fn id(&self) -> &str {
        &self.row.id
    }
}

pub async fn load(state: &AppState, id: Option<&str>, lang: Lang) -> Result<Pending, PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    let id = id.filter(|i| i.len() <= 64).ok_or_else(expired)?;
    let row = state.storage.login_request(id).await?.ok_or_else(expired)?;
    let target: Target = serde_json::from_str(&row.params)
        .map_err(|e| Internal::Other(format!("stored login request: {e}")))?;
    Ok(Pending { row, target })
}

/// The page of the stage a pending login is at.
pub fn stage_url(p: &Pending, lang: Lang) -> String {
    let page = match p.row.stage.as_str() {
        "otp" => "/login/otp",
        "change" => "/login/password",
        "enrol" | "enrolled" => "/login/totp",
        _ => "/login",
    };
    format!("{page}?id={}&lang={}", p.row.id, lang.code())
}

/// The token that binds a pending login to one browser (double-submit cookie, stored hashed
/// with the login). At the password stage the browser's token is reused when present (two tabs
/// can log in at once) and the login is bound to it. After the password the login is bound to
/// a fresh token given only to the browser that entered it (see [`advance`]), and later pages
/// never re-bind: whoever knows the login's id but lacks that cookie gets `login.expired`
/// (OWASP Session Management Cheat Sheet: renew the binding when privilege changes).
pub async fn bind_csrf(
    state: &AppState,
    headers: &HeaderMap,
    pending: &Pending,
) -> Result<PlainToken, PageError> {
    let cookie = state
        .cookies
        .get(headers, cookies::CSRF)
        .filter(|c| c.len() == 43)
        .map(|c| PlainToken::from_received(&c));
    if pending.row.stage != "password" {
        return cookie
            .filter(|c| HashedToken::from_stored(pending.row.csrf_hash.clone()).matches(c.expose()))
            .ok_or_else(|| PageError::bad_request("login.expired", "", pending.target.lang()));
    }
    let csrf = cookie.unwrap_or_else(PlainToken::generate);
    state
        .storage
        .set_login_request_csrf(&pending.row.id, &csrf.hashed())
        .await?;
    Ok(csrf)
}

/// Adds the CSRF cookie (valid as long as the pending login) to a form page.
pub fn with_csrf_cookie(
    state: &AppState,
    mut r: Response,
    csrf: &PlainToken,
    pending: &Pending,
) -> Response {
    let max_age = (pending.row.expires_at - now()).max(0);
    if let Some(v) = state
        .cookies
        .set(cookies::CSRF, csrf.expose(), Some(max_age))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The posted form's CSRF token must equal the cookie and hash to the one stored for this
/// login. A failure is refused without re-binding the login to the sender.
pub fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    form: &Params,
    pending: &Pending,
    lang: Lang,
) -> Result<(), PageError> {
    let form_csrf = form.get("csrf").unwrap_or("");
    let cookie = state
        .cookies
        .get(headers, cookies::CSRF)
        .unwrap_or_default();
    let ok = !form_csrf.is_empty()
        && constant_time_eq(form_csrf, &cookie)
        && HashedToken::from_stored(pending.row.csrf_hash.clone()).matches(form_csrf);
    if ok {
        Ok(())
    } else {
        tracing::warn!("login form with a bad CSRF token");
        Err(PageError::bad_request("login.csrf", "", lang))
    }
}

/// The account a pending login has authenticated so far (stages after the password).
pub async fn authenticated_account(
    state: &AppState,
    pending: &Pending,
    stage: &str,
    lang: Lang,
) -> Result<Account, PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    if pending.row.stage != stage {
        return Err(expired());
    }
    let sub = pending.row.sub.as_deref().ok_or_else(expired)?;
    state
        .storage
        .account(sub)
        .await?
        .filter(|a| a.status == AccountStatus::Active)
        .ok_or_else(expired)
}

/// The stage that follows the ones already passed (`amr` so far), or `None` when done.
pub fn next_stage(state: &AppState, a: &Account, amr: &str) -> Option<&'static str> {
    let t = now();
    let passed_otp = amr.split(' ').any(|m| m == "otp");
    if a.totp_secret.is_some() && !passed_otp {
        return Some("otp");
    }
    if a.must_change_password || state.config.password.expired(a.password_changed_at, t) {
        return Some("change");
    }
    if a.role.privileged() && a.totp_secret.is_none() {
        return Some("enrol");
    }
    None
}

/// Moves on: to the next stage's page, or, when none is left, finishes the login.
pub async fn advance(
    state: &AppState,
    headers: &HeaderMap,
    meta: &ClientMeta,
    pending: &Pending,
    account: &Account,
    amr: &str,
    lang: Lang,
) -> Result<Response, PageError> {
    match next_stage(state, account, amr) {
        Some(stage) => {
            // The password was right: from here the login belongs to this browser only.
            let binding = PlainToken::generate();
            state
                .storage
                .advance_login_request(&pending.row.id, &account.sub, stage, amr)
                .await?;
            state
                .storage
                .set_login_request_csrf(&pending.row.id, &binding.hashed())
                .await?;
            let mut moved = Pending {
                row: pending.row.clone(),
                target: pending.target.clone(),
            };
            moved.row.stage = stage.to_owned();
            Ok(with_csrf_cookie(
                state,
                see_other(&stage_url(&moved, lang)),
                &binding,
                pending,
            ))
        }
        None => finish(state, headers, meta, pending, account, amr).await,
    }
}

/// Creates the session (a fresh cookie value: the id is rotated at every login) and goes where
/// the login was leading.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    meta: &ClientMeta,
    pending: &Pending,
    account: &Account,
    amr: &str,
) -> Result<Response, PageError> {
    let lang = pending.target.lang();
    let client = match &pending.target {
        Target::Authorize(_) => Some(
            state
                .storage
                .client(&pending.row.client_id)
                .await?
                .filter(|c| c.enabled)
                .ok_or_else(|| PageError::bad_request("error.client_disabled", "", lang))?,
        ),
        Target::Account { .. } | Target::Console { .. } => None,
    };
    state.storage.delete_login_request(&pending.row.id).await?;
    state.storage.record_login_success(&account.sub).await?;

    let established = crate::session::establish(state, headers, meta, &account.sub, amr).await?;
    let session = &established.session;
    state
        .audit
        .record(
            Record::new(Event::LoginSucceeded)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string())
                .detail("sid", session.sid.clone())
                .detail("amr", amr)
                .detail("client_id", pending.row.client_id.clone()),
        )
        .await?;
    tracing::info!(sid = %session.sid, client_id = %pending.row.client_id, "login succeeded");

    let mut response = match (&pending.target, client) {
        // The client named the person it expects (`id_token_hint`) and someone else signed
        // in: OIDC Core §3.1.2.1 says to answer with an error rather than a code for them.
        (Target::Authorize(req), Some(_))
            if req.expected_sub.as_ref().is_some_and(|s| *s != account.sub) =>
        {
            let target = crate::oidc::authorize::Target {
                redirect_uri: &req.redirect_uri,
                mode: req.response_mode,
                state: req.state.as_deref(),
                lang,
            };
            crate::oidc::authorize::error_response(
                state,
                &target,
                "login_required",
                "a different person signed in than the id_token_hint names",
            )
        }
        (Target::Authorize(req), Some(client)) => complete(state, &client, req, session).await?,
        (Target::Console { .. }, _) => see_other(&format!("/admin?lang={}", lang.code())),
        _ => see_other(&format!("/account?lang={}", lang.code())),
    };
    let keeps_csrf = response
        .extensions()
        .get::<crate::web::organisation::KeepsCsrf>()
        .is_some();
    let h = response.headers_mut();
    if let Some(v) = established.set_cookie(state) {
        h.append(header::SET_COOKIE, v);
    }
    // The organisation choice binds the browser anew with its own CSRF cookie.
    if !keeps_csrf {
        if let Some(v) = state.cookies.clear(cookies::CSRF) {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// The answer to a login attempt over the per-IP rate limit.
pub fn too_many_requests(lang: Lang) -> Response {
    let mut r = crate::pages::error_page(
        StatusCode::TOO_MANY_REQUESTS,
        "login.rate_limited",
        "",
        lang,
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("60"),
    );
    r
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
