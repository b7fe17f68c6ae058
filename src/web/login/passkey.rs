//! Signing in with a passkey (`crate::passkeys`): at the first stage without a username (a
//! discoverable credential names the account), or at the second-factor stage in place of the
//! TOTP code. `POST /login/passkey/options` gives the page the WebAuthn options of a fresh
//! challenge (JSON); `POST /login/passkey` takes the browser's answer as a form field and
//! moves the login on like any other stage.
//!
//! Failures are not counted toward the account's lockout: an assertion cannot be guessed,
//! and counting would let anyone who knows a credential id lock its owner out. The per-address
//! limit applies as on every login form. A temporary lock (after wrong passwords) does not
//! stop a passkey; an account locked or disabled by staff cannot sign in at all.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{advance, too_many_requests};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Account;
use crate::domain::amr::Amr;
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::interaction::{authenticated_account, check_csrf, load, Interaction, Stage};
use crate::pages::i18n::Lang;
use crate::passkeys::{proved, PasskeyError, RelyingParty};
use crate::secrets::now;
use crate::session::Browser;

/// `POST /login/passkey/options` (form: `id`, `csrf`, `lang`): the options of a new
/// challenge for this login, as JSON; `{"error": "…"}` with the reason in the page's
/// language when there can be none.
pub async fn options(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let Some(rp) = state.passkeys.as_ref() else {
        return Ok(json_error(lang, StatusCode::NOT_FOUND));
    };
    if !state
        .login_limiter
        .allow(&state.storage, &meta.limit_key(), now())
        .await?
    {
        return Ok(too_many_requests(lang));
    }
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let account = waiting_account(&state, &pending, lang).await?;
    match rp
        .start_login(&state.storage, pending.id(), account.as_ref())
        .await
    {
        Ok(options) => Ok(json(StatusCode::OK, &options)),
        Err(PasskeyError::Internal(e)) => Err(e.into()),
        Err(e) => {
            tracing::info!(error = %e, "no passkey challenge");
            Ok(json_error(lang, StatusCode::BAD_REQUEST))
        }
    }
}

/// `POST /login/passkey` (form: `id`, `csrf`, `lang`, `credential`).
pub async fn submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let Some(rp) = state.passkeys.as_ref() else {
        return Err(PageError::bad_request("login.expired", "", lang));
    };
    if !state
        .login_limiter
        .allow(&state.storage, &meta.limit_key(), now())
        .await?
    {
        return Ok(too_many_requests(lang));
    }
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let account = waiting_account(&state, &pending, lang).await?;
    let credential = form.get("credential").unwrap_or("");
    match sign_in(&state, rp, &pending, account.as_ref(), credential).await {
        Ok((account, amr)) => {
            advance(&state, &browser, &meta, &pending, &account, &amr, lang).await
        }
        Err(PasskeyError::Internal(e)) => Err(e.into()),
        Err(e) => {
            tracing::info!(error = %e, "passkey sign-in refused");
            let mut record = Record::new(Event::PasskeyFailed)
                .ip(meta.ip_string())
                .detail("reason", e.reason());
            if let Some(a) = &account {
                record = record.subject(a.sub.clone());
            }
            state.audit.record(record).await?;
            match &account {
                Some(a) => {
                    super::otp::render(
                        &state,
                        &browser,
                        &pending,
                        a,
                        lang,
                        "passkey.failed",
                        StatusCode::OK,
                    )
                    .await
                }
                None => {
                    super::password::render(
                        &state,
                        &browser,
                        &pending,
                        lang,
                        "",
                        "passkey.failed",
                        StatusCode::OK,
                    )
                    .await
                }
            }
        }
    }
}

/// Verifies the answer; the account and what the login has proved with it.
async fn sign_in(
    state: &AppState,
    rp: &RelyingParty,
    pending: &Interaction,
    account: Option<&Account>,
    credential: &str,
) -> Result<(Account, Amr), PasskeyError> {
    let signed_in = rp
        .finish_login(&state.storage, pending.id(), account, credential)
        .await?;
    let so_far = match account {
        Some(_) => pending.amr.clone(),
        None => Amr::default(),
    };
    Ok((signed_in.account, proved(so_far, signed_in.method)))
}

/// The account whose second factor the login waits for, `None` at the first stage; any
/// other stage has no passkey step (`login.expired`).
async fn waiting_account(
    state: &AppState,
    pending: &Interaction,
    lang: Lang,
) -> Result<Option<Account>, PageError> {
    match pending.stage {
        Stage::Password => Ok(None),
        Stage::SecondFactor => Ok(Some(
            authenticated_account(state, pending, Stage::SecondFactor, lang).await?,
        )),
        _ => Err(PageError::bad_request("login.expired", "", lang)),
    }
}

pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let mut r = (status, axum::Json(value)).into_response();
    // A challenge is for this page only (RFC 9111 §5.2.2.5).
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What the page shows when there is no challenge to be had.
fn json_error(lang: Lang, status: StatusCode) -> Response {
    json(
        status,
        &serde_json::json!({ "error": lang.texts().get("passkey.failed") }),
    )
}
