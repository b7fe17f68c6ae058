//! The account page of every signed-in person: profile, password change, the second factor
//! (enrol, new recovery codes, remove), and their sessions (see, end). Every form carries the
//! session's synchronizer token.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::SecretString;

use super::extract::{CsrfForm, SsoSession};
use super::format::datetime;
use super::login;
use super::new_password::{set_new_password, Keep, Why};
use super::totp_setup;
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::{Account, Role};
use crate::domain::id::SessionId;
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::http::see_other;
use crate::pages::i18n::Lang;
use crate::pages::{
    html, message_page, Chrome, Hidden, PasswordPage, RecoveryCodesPage, TotpEnrolPage,
};
use crate::password::Verified;
use crate::secrets::now;
use crate::storage::sessions::Session;

#[derive(serde::Deserialize)]
pub struct Q {
    notice: Option<String>,
}

pub struct SessionRow {
    pub sid: String,
    pub started: String,
    pub seen: String,
    pub device: String,
    pub current: bool,
}

/// One organisation the person holds a consent for, and what they may do there.
pub struct OrganisationRow {
    pub name: String,
    pub ico: String,
    pub apps: String,
    pub statutory: bool,
    /// Translation key of the submit permission.
    pub submit_key: &'static str,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub c: Chrome,
    pub t: &'static crate::pages::i18n::Texts,
    pub notice: &'a str,
    pub name: String,
    pub username: &'a str,
    pub email: &'a str,
    pub role_key: &'a str,
    pub mpsv_client_id: &'a str,
    pub organisations: Vec<OrganisationRow>,
    /// A statutory representative somewhere: the delegation page is offered.
    pub represents: bool,
    pub password_changed: String,
    pub totp: bool,
    pub privileged: bool,
    pub recovery_left: i64,
    /// Passkeys can be used here (WebAuthn works for this issuer).
    pub passkeys_enabled: bool,
    pub passkeys: Vec<super::passkeys::PasskeyRow>,
    pub upstreams: Vec<super::upstream_links::UpstreamRow>,
    /// The session proved a second factor (linking an identity needs it).
    pub session_mfa: bool,
    pub sessions: Vec<SessionRow>,
    pub csrf: &'a str,
    pub logout_csrf: &'a str,
}

/// `GET /account`
pub async fn show(
    State(state): State<AppState>,
    SsoSession {
        session,
        account,
        lang,
    }: SsoSession,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let notice = match q.notice.as_deref() {
        Some("password") => "account.notice_password",
        Some("totp") => "account.notice_totp",
        Some("totp_removed") => "account.notice_totp_removed",
        Some("session") => "account.notice_session",
        Some("passkey_added") => "passkey.notice_added",
        Some("upstream_linked") => "upstream.notice_linked",
        Some("upstream_unlinked") => "upstream.notice_unlinked",
        Some("passkey_renamed") => "passkey.notice_renamed",
        Some("passkey_removed") => "passkey.notice_removed",
        _ => "",
    };
    let sessions = state
        .storage
        .sessions_of(&account.sub)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: s.sid == session.sid,
            started: datetime(s.created_at, lang),
            seen: datetime(s.last_seen_at, lang),
            device: format!(
                "{}, {}",
                s.user_agent
                    .as_deref()
                    .map(super::format::user_agent)
                    .unwrap_or_else(|| "?".into()),
                s.ip.as_deref().unwrap_or("?")
            ),
            sid: s.sid.into(),
        })
        .collect();
    let recovery_left = state.storage.unused_recovery_codes(&account.sub).await?;
    let passkeys = state
        .storage
        .passkeys_of(&account.sub)
        .await?
        .into_iter()
        .map(|p| super::passkeys::PasskeyRow::new(p, lang))
        .collect();
    // Evaluated now, by the same rules as the tokens' claims.
    let organisations = state
        .storage
        .affiliations(&account.sub, crate::secrets::now())
        .await?
        .into_iter()
        .map(|a| OrganisationRow {
            apps: a
                .apps()
                .into_iter()
                .map(|app| app.name())
                .collect::<Vec<_>>()
                .join(", "),
            statutory: a.statutory,
            submit_key: match a.submit() {
                Some(crate::domain::entitlement::SubmitSource::Statutory) => {
                    "account.submit_statutory"
                }
                Some(crate::domain::entitlement::SubmitSource::Delegation) => {
                    "account.submit_delegation"
                }
                None => "account.submit_none",
            },
            name: a.organisation.name,
            ico: a.organisation.ico.as_str().to_owned(),
        })
        .collect::<Vec<_>>();
    let represents = organisations.iter().any(|o| o.statutory);
    let role_key = match account.role {
        Role::User => "role.user",
        Role::Operator => "role.operator",
        Role::Administrator => "role.administrator",
    };
    let page = AccountPage {
        c: Chrome::new(lang, format!("/account?lang={}", lang.other().code())),
        t: lang.texts(),
        notice,
        name: account.name(),
        username: &account.username,
        email: account.email.as_deref().unwrap_or("–"),
        role_key,
        mpsv_client_id: account.mpsv_client_id.as_deref().unwrap_or("–"),
        organisations,
        represents,
        password_changed: datetime(account.password_changed_at, lang),
        totp: account.totp_secret.is_some(),
        privileged: account.role.privileged(),
        recovery_left,
        passkeys_enabled: state.passkeys.is_some(),
        passkeys,
        upstreams: super::upstream_links::rows(&state, &account.sub, lang).await?,
        session_mfa: session.amr.has_second_factor(),
        sessions,
        csrf: &session.csrf,
        logout_csrf: &session.csrf,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `POST /account/sessions/end`: ends one of the person's other sessions.
pub async fn end_session(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession {
            session: _,
            account,
            ..
        },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    let sid = form.get("sid").unwrap_or("");
    let theirs = state
        .storage
        .session_by_sid(&SessionId::lookup(sid))
        .await?
        .is_some_and(|s| s.sub == account.sub);
    if theirs {
        crate::session::end_audited(
            &state,
            &SessionId::lookup(sid),
            Record::new(Event::SessionEnded)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string())
                .detail("sid", sid),
        )
        .await?;
    }
    Ok(see_other(&format!(
        "/account?lang={}&notice=session",
        lang.code()
    )))
}

/// `GET /account/password`
pub async fn password_form(
    State(state): State<AppState>,
    SsoSession {
        session,
        account,
        lang,
    }: SsoSession,
) -> Result<Response, PageError> {
    Ok(password_page(&state, &session, &account, lang, Vec::new()))
}

fn password_page(
    state: &AppState,
    session: &Session,
    account: &Account,
    lang: Lang,
    errors: Vec<String>,
) -> Response {
    let page = PasswordPage {
        c: Chrome::new(
            lang,
            format!("/account/password?lang={}", lang.other().code()),
        ),
        t: lang.texts(),
        action: "/account/password",
        hidden: vec![Hidden("csrf", &session.csrf)],
        intro: "password.intro_voluntary",
        ask_current: true,
        min_length: state.config.password.min_length(account.role.privileged()),
        history: state.config.password.history,
        errors,
    };
    page.respond()
}

/// `POST /account/password`: the current password, then the new one twice.
pub async fn password_submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession {
            session, account, ..
        },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    if !current_password_ok(&state, &account, &form, &meta).await? {
        let e = vec![lang.texts().get("password.current_wrong").to_owned()];
        return Ok(password_page(&state, &session, &account, lang, e));
    }
    match set_new_password(
        &state,
        &account,
        &form,
        Why::Voluntary,
        &meta,
        Keep {
            sid: Some(session.sid.as_str()),
            login: None,
        },
        lang,
    )
    .await?
    {
        Ok(()) => Ok(see_other(&format!(
            "/account?lang={}&notice=password",
            lang.code()
        ))),
        Err(errors) => Ok(password_page(&state, &session, &account, lang, errors)),
    }
}

/// Re-authentication for sensitive changes. Counted toward the lockout like a login (and
/// refused while locked) and under the same per-address limit, so a stolen session cannot be
/// used to guess the password.
pub(super) async fn current_password_ok(
    state: &AppState,
    account: &Account,
    form: &Params,
    meta: &ClientMeta,
) -> Result<bool, PageError> {
    let allowed = state
        .login_limiter
        .allow(&state.storage, &meta.limit_key(), now())
        .await?;
    if !allowed || !login::reserve_attempt(state, account, meta).await? {
        return Ok(false);
    }
    let current = SecretString::from(form.get("current").unwrap_or("").to_owned());
    let ok = state
        .passwords
        .verify(current, Some(account.password_hash.clone()))
        .await?
        == Verified::Yes;
    if ok {
        state.storage.record_login_success(&account.sub).await?;
    } else {
        login::audit_failure(
            state,
            account,
            meta,
            Event::LoginFailed,
            "wrong_current_password",
        )
        .await?;
    }
    Ok(ok)
}

/// `GET /account/totp`: enrolment of an authenticator app.
pub async fn totp_form(
    State(state): State<AppState>,
    SsoSession {
        session,
        account,
        lang,
    }: SsoSession,
) -> Result<Response, PageError> {
    if account.totp_secret.is_some() {
        return Ok(see_other(&format!("/account?lang={}", lang.code())));
    }
    let enrolment = totp_setup::start(&state, &account)?;
    Ok(totp_page(&session, lang, &enrolment, "", StatusCode::OK))
}

fn totp_page(
    session: &Session,
    lang: Lang,
    enrolment: &totp_setup::Enrolment,
    error: &str,
    status: StatusCode,
) -> Response {
    let page = TotpEnrolPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        action: "/account/totp",
        hidden: vec![
            Hidden("csrf", &session.csrf),
            Hidden("enrolment", &enrolment.sealed),
        ],
        qr: &enrolment.qr_data_uri,
        secret: &enrolment.secret_base32,
        required: false,
        error,
    };
    html(status, page.render())
}

/// `POST /account/totp`: the first code confirms the enrolment.
pub async fn totp_submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession {
            session, account, ..
        },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    // Replacing an enrolled factor would need no secret at all: refused (remove it first,
    // which asks for the password).
    if account.totp_secret.is_some() {
        return Ok(see_other(&format!("/account?lang={}", lang.code())));
    }
    let sealed = form.get("enrolment").unwrap_or("");
    let code = form.get("code").unwrap_or("");
    match totp_setup::confirm(&state, &account, sealed, code, meta.ip_string()).await? {
        totp_setup::Confirmed::Enrolled(codes) => Ok(codes_page(lang, codes)),
        // Enrolled in another tab meanwhile: nothing was replaced.
        totp_setup::Confirmed::AlreadyEnrolled => {
            Ok(see_other(&format!("/account?lang={}", lang.code())))
        }
        totp_setup::Confirmed::Failed => {
            let enrolment = match totp_setup::open(&state, &account, sealed) {
                Some(_) => totp_setup::resume(&state, &account, sealed)?,
                None => totp_setup::start(&state, &account)?,
            };
            Ok(totp_page(
                &session,
                lang,
                &enrolment,
                "totp.failed",
                StatusCode::BAD_REQUEST,
            ))
        }
    }
}

fn codes_page(lang: Lang, codes: Vec<String>) -> Response {
    let page = RecoveryCodesPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        codes,
        action: "/account/done",
        hidden: Vec::new(),
    };
    html(StatusCode::OK, page.render())
}

/// `POST /account/done`: back to the account page after the recovery codes were shown.
pub async fn done(body: Bytes) -> Response {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    see_other(&format!("/account?lang={}&notice=totp", lang.code()))
}

/// `POST /account/recovery-codes`: a new set; the old ones stop working.
pub async fn recovery_codes(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession {
            session: _,
            account,
            ..
        },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    if account.totp_secret.is_none() {
        return Ok(see_other(&format!("/account?lang={}", lang.code())));
    }
    if !current_password_ok(&state, &account, &form, &meta).await? {
        return Ok(wrong_password_page(lang));
    }
    match totp_setup::new_recovery_codes(&state, &account, meta.ip_string()).await? {
        Some(codes) => Ok(codes_page(lang, codes)),
        None => Ok(see_other(&format!("/account?lang={}", lang.code()))),
    }
}

/// `POST /account/totp/remove`: with the current password; privileged accounts, whose
/// second factor is mandatory, only while they have a passkey.
pub async fn totp_remove(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession {
            session: _,
            account,
            ..
        },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    let mandatory = || Err(PageError::bad_request("account.factor_mandatory", "", lang));
    if account.role.privileged() && account.passkeys == 0 {
        return mandatory();
    }
    if !current_password_ok(&state, &account, &form, &meta).await? {
        return Ok(wrong_password_page(lang));
    }
    let mut tx = state.storage.begin_write().await?;
    // Staff keep a second factor: a passkey removed meanwhile is seen under the row lock.
    let (_, passkeys) = state
        .storage
        .lock_second_factors(&mut tx, &account.sub)
        .await?
        .unwrap_or_default();
    if account.role.privileged() && passkeys == 0 {
        return mandatory();
    }
    state.storage.remove_totp(&mut tx, &account.sub).await?;
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::TotpRemoved)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string()),
        )
        .await?;
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    Ok(see_other(&format!(
        "/account?lang={}&notice=totp_removed",
        lang.code()
    )))
}

pub(super) fn wrong_password_page(lang: Lang) -> Response {
    let t = lang.texts();
    let mut r = message_page(
        lang,
        t.get("account.title"),
        t.get("password.current_wrong"),
        &format!("/account?lang={}", lang.code()),
        t.get("account.back"),
    );
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}
