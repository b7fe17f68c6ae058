//! Mandatory TOTP enrolment at login for administrators and operators, then the recovery
//! codes, shown once.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::advance;
use crate::app::AppState;
use crate::domain::amr::Method;
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::interaction::{
    authenticated_account, bind_csrf, check_csrf, load, with_csrf_cookie, Interaction, Stage,
};
use crate::pages::i18n::Lang;
use crate::pages::{html, Chrome, Hidden, RecoveryCodesPage, TotpEnrolPage};
use crate::session::Browser;
use crate::web::totp_setup::{self, Confirmed};

#[derive(serde::Deserialize)]
pub struct Q {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login/totp?id=…`
pub async fn enrol_form(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let pending = load(&state, q.id.as_deref(), lang).await?;
    let account = authenticated_account(&state, &pending, Stage::Enrol, lang).await?;
    if account.totp_secret.is_some() {
        // Enrolled elsewhere since this login reached the stage: it must start over and prove
        // that factor instead.
        return Err(already_enrolled(&state, &pending, lang).await?);
    }
    let enrolment = totp_setup::start(&state, &account)?;
    render(
        &state,
        &browser,
        &pending,
        lang,
        &enrolment,
        "",
        StatusCode::OK,
    )
    .await
}

/// `POST /login/totp`: the first code from the app.
pub async fn enrol_submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let account = authenticated_account(&state, &pending, Stage::Enrol, lang).await?;
    let sealed = form.get("enrolment").unwrap_or("");
    let code = form.get("code").unwrap_or("");
    match totp_setup::confirm(&state, &account, sealed, code, meta.ip_string()).await? {
        Confirmed::Enrolled(codes) => {
            // This login proved the new factor: it alone may pass the second-factor stage
            // (`enrolled_continue` accepts only a login at this stage).
            let amr = pending.amr.clone().with(Method::Otp);
            state
                .storage
                .advance_login_request(&pending.id, &account.sub, "enrolled", &amr)
                .await?;
            let csrf = bind_csrf(&state, &browser.csrf, &pending).await?;
            let page = RecoveryCodesPage {
                c: Chrome::new(lang, String::new()),
                t: lang.texts(),
                codes,
                action: "/login/totp/done",
                hidden: vec![Hidden("id", pending.id()), Hidden("csrf", csrf.expose())],
            };
            Ok(with_csrf_cookie(
                &state,
                html(StatusCode::OK, page.render()),
                &csrf,
                &pending,
            ))
        }
        Confirmed::AlreadyEnrolled => Err(already_enrolled(&state, &pending, lang).await?),
        Confirmed::Failed => {
            // Keep showing the secret already scanned; a fresh one if the form expired or was
            // tampered with.
            let enrolment = match totp_setup::open(&state, &account, sealed) {
                Some(_) => totp_setup::resume(&state, &account, sealed)?,
                None => totp_setup::start(&state, &account)?,
            };
            render(
                &state,
                &browser,
                &pending,
                lang,
                &enrolment,
                "totp.failed",
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// `POST /login/totp/done`: the person has noted the recovery codes.
pub async fn enrolled_continue(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    // Only a login that itself enrolled the factor is at this stage (see `enrol_submit`);
    // one parked at `enrol` while the owner enrolled elsewhere is not, and proves nothing.
    let account = authenticated_account(&state, &pending, Stage::Enrolled, lang).await?;
    if account.totp_secret.is_none() {
        return Err(PageError::bad_request("login.expired", "", lang));
    }
    let amr = pending.amr.clone();
    advance(&state, &browser, &meta, &pending, &account, &amr, lang).await
}

/// The login reached enrolment but the account has a factor now: the login is dropped and
/// must start again (and then pass the `otp` stage with that factor).
async fn already_enrolled(
    state: &AppState,
    pending: &Interaction,
    lang: Lang,
) -> Result<PageError, PageError> {
    state.storage.delete_login_request(&pending.id).await?;
    tracing::warn!("a login at the enrolment stage found a factor enrolled meanwhile");
    Ok(PageError::bad_request("totp.already_enrolled", "", lang))
}

async fn render(
    state: &AppState,
    browser: &Browser,
    pending: &Interaction,
    lang: Lang,
    enrolment: &totp_setup::Enrolment,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let csrf = bind_csrf(state, &browser.csrf, pending).await?;
    let page = TotpEnrolPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        action: "/login/totp",
        hidden: vec![
            Hidden("id", pending.id()),
            Hidden("csrf", csrf.expose()),
            Hidden("enrolment", &enrolment.sealed),
        ],
        qr: &enrolment.qr_data_uri,
        secret: &enrolment.secret_base32,
        required: true,
        error,
    };
    Ok(with_csrf_cookie(
        state,
        html(status, page.render()),
        &csrf,
        pending,
    ))
}
