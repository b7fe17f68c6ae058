//! Mandatory TOTP enrolment at login for administrators and operators, then the recovery
//! codes, shown once.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{
    advance, authenticated_account, bind_csrf, check_csrf, load, with_csrf_cookie, Pending,
};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Account;
use crate::error::PageError;
use crate::oidc::params::Params;
use crate::web::client::ClientMeta;
use crate::web::i18n::Lang;
use crate::web::pages::{html, Chrome, Hidden, RecoveryCodesPage, TotpEnrolPage};
use crate::web::totp_setup;

#[derive(serde::Deserialize)]
pub struct Q {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login/totp?id=…`
pub async fn enrol_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let pending = load(&state, q.id.as_deref(), lang).await?;
    let account = authenticated_account(&state, &pending, "enrol", lang).await?;
    let enrolment = totp_setup::start(&state, &account)?;
    render(
        &state,
        &headers,
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&state, &headers, &form, &pending, lang)?;
    let account = authenticated_account(&state, &pending, "enrol", lang).await?;
    let sealed = form.get("enrolment").unwrap_or("");
    match totp_setup::confirm(&state, &account, sealed, form.get("code").unwrap_or("")).await? {
        Some(codes) => {
            audit_enrolled(&state, &account, &meta).await?;
            let csrf = bind_csrf(&state, &headers, &pending).await?;
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
        None => {
            // Keep showing the secret already scanned; a fresh one if the form expired or was
            // tampered with.
            let enrolment = match totp_setup::open(&state, &account, sealed) {
                Some(_) => totp_setup::resume(&state, &account, sealed)?,
                None => totp_setup::start(&state, &account)?,
            };
            render(
                &state,
                &headers,
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&state, &headers, &form, &pending, lang)?;
    let account = authenticated_account(&state, &pending, "enrol", lang).await?;
    if account.totp_secret.is_none() {
        return Err(PageError::bad_request("login.expired", "", lang));
    }
    // Enrolling proved possession of the new factor.
    let amr = format!("{} otp", pending.row.amr).trim().to_owned();
    advance(&state, &headers, &meta, &pending, &account, &amr, lang).await
}

pub async fn audit_enrolled(
    state: &AppState,
    account: &Account,
    meta: &ClientMeta,
) -> Result<(), crate::error::Internal> {
    Ok(state
        .audit
        .record(
            Record::new(Event::TotpEnrolled)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string()),
        )
        .await?)
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    pending: &Pending,
    lang: Lang,
    enrolment: &totp_setup::Enrolment,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let csrf = bind_csrf(state, headers, pending).await?;
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
