//! The passkeys on a person's account page: add (after the current password), rename, remove
//! (after the current password). Each change is audited in the transaction that makes it.
//!
//! Re-authentication before adding or removing an authenticator: OWASP Authentication Cheat
//! Sheet ("Reauthentication After Risk Events") and NIST SP 800-63B §6.1.2.1 — a session
//! taken over must not be enough to plant a key of one's own or take away the owner's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::account::{current_password_ok, wrong_password_page};
use super::extract::{CsrfForm, SsoSession};
use super::format::datetime;
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::see_other;
use crate::pages::i18n::Lang;
use crate::passkeys::{parse_name, PasskeyError};
use crate::storage::passkeys::StoredPasskey;
use crate::storage::StorageError;

/// A passkey as the account page lists it.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    /// Translation key: synced (backup eligible) or bound to one device.
    pub kind_key: &'static str,
    pub created: String,
    pub last_used: String,
}

impl PasskeyRow {
    pub fn new(p: StoredPasskey, lang: Lang) -> Self {
        Self {
            kind_key: if p.backup_eligible != 0 {
                "passkey.synced"
            } else {
                "passkey.device"
            },
            created: datetime(p.created_at, lang),
            last_used: p
                .last_used_at
                .map(|t| datetime(t, lang))
                .unwrap_or_else(|| lang.texts().get("passkey.never").to_owned()),
            id: p.id,
            name: p.name,
        }
    }
}

fn back(lang: Lang, notice: &str) -> Response {
    see_other(&format!("/account?lang={}&notice={notice}", lang.code()))
}

/// `POST /account/passkeys/options` (form: `csrf`, `name`, `current`): after the current
/// password, the WebAuthn options for a new passkey (JSON), or `{"error": "…"}`.
pub async fn options(
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
    let t = lang.texts();
    let Some(rp) = state.passkeys.as_ref() else {
        return Ok(error(StatusCode::NOT_FOUND, t.get("passkey.failed")));
    };
    if parse_name(form.get("name").unwrap_or("")).is_none() {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            t.get("passkey.name_invalid"),
        ));
    }
    if !current_password_ok(&state, &account, &form, &meta).await? {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            t.get("password.current_wrong"),
        ));
    }
    match rp
        .start_registration(&state.storage, &account, session.sid.as_str())
        .await
    {
        Ok(options) => Ok(super::login::passkey_json(StatusCode::OK, &options)),
        Err(PasskeyError::Internal(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "no passkey registration");
            Ok(error(StatusCode::BAD_REQUEST, t.get("passkey.failed")))
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    super::login::passkey_json(status, &serde_json::json!({ "error": message }))
}

/// `POST /account/passkeys` (form: `csrf`, `name`, `credential`): the authenticator's answer
/// to the registration this session started (after the password, within five minutes).
pub async fn register(
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
    let Some(rp) = state.passkeys.as_ref() else {
        return Err(PageError::bad_request("passkey.failed", "", lang));
    };
    let Some(name) = parse_name(form.get("name").unwrap_or("")) else {
        return Err(PageError::bad_request("passkey.name_invalid", "", lang));
    };
    let credential = form.get("credential").unwrap_or("");
    let passkey = match rp
        .finish_registration(
            &state.storage,
            &account,
            session.sid.as_str(),
            credential,
            &name,
        )
        .await
    {
        Ok(p) => p,
        Err(PasskeyError::Internal(e)) => return Err(e.into()),
        Err(e) => return refused(&state, &account.sub, &meta, &e, lang).await,
    };
    let mut tx = state.storage.begin_write().await?;
    match state.storage.insert_passkey(&mut tx, &passkey).await {
        Ok(()) => {}
        Err(StorageError::Conflict(_)) => {
            drop(tx);
            return refused(
                &state,
                &account.sub,
                &meta,
                &PasskeyError::AlreadyRegistered,
                lang,
            )
            .await;
        }
        Err(e) => return Err(crate::error::Internal::from(e).into()),
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::PasskeyRegistered)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string())
                .detail("passkey", passkey.id.clone())
                .detail("name", passkey.name.clone())
                .detail("backup_eligible", passkey.backup_eligible != 0),
        )
        .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(lang, "passkey_added"))
}

/// A registration that did not pass: audited, and a page that says so.
async fn refused(
    state: &AppState,
    sub: &crate::domain::id::Subject,
    meta: &ClientMeta,
    e: &PasskeyError,
    lang: Lang,
) -> Result<Response, PageError> {
    tracing::info!(error = %e, "passkey registration refused");
    state
        .audit
        .record(
            Record::new(Event::PasskeyFailed)
                .actor(sub.clone())
                .subject(sub.clone())
                .ip(meta.ip_string())
                .detail("reason", e.reason())
                .detail("ceremony", "registration"),
        )
        .await?;
    let t = lang.texts();
    let mut r = crate::pages::message_page(
        lang,
        t.get("passkey.heading"),
        t.get("passkey.not_added"),
        &format!("/account?lang={}", lang.code()),
        t.get("account.back"),
    );
    *r.status_mut() = StatusCode::BAD_REQUEST;
    Ok(r)
}

/// `POST /account/passkeys/rename` (form: `csrf`, `passkey`, `name`).
pub async fn rename(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession { account, .. },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    let Some(name) = parse_name(form.get("name").unwrap_or("")) else {
        return Err(PageError::bad_request("passkey.name_invalid", "", lang));
    };
    let id = form.get("passkey").unwrap_or("");
    let mut tx = state.storage.begin_write().await?;
    if state
        .storage
        .rename_passkey(&mut tx, &account.sub, id, &name)
        .await?
    {
        state
            .audit
            .append(
                &mut tx,
                Record::new(Event::PasskeyRenamed)
                    .actor(account.sub.clone())
                    .subject(account.sub.clone())
                    .ip(meta.ip_string())
                    .detail("passkey", id)
                    .detail("name", name),
            )
            .await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(lang, "passkey_renamed"))
}

/// `POST /account/passkeys/remove` (form: `csrf`, `passkey`, `current`). Staff keep at
/// least one second factor: their last one cannot be removed here.
pub async fn remove(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession { account, .. },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    let mandatory = || Err(PageError::bad_request("account.factor_mandatory", "", lang));
    if account.role.privileged() && account.totp_secret.is_none() && account.passkeys <= 1 {
        return mandatory();
    }
    if !current_password_ok(&state, &account, &form, &meta).await? {
        return Ok(wrong_password_page(lang));
    }
    let id = form.get("passkey").unwrap_or("");
    let mut tx = state.storage.begin_write().await?;
    // Counted again under the account's row lock: two removals at once cannot both take
    // what each thought was not the last factor.
    let (totp, passkeys) = state
        .storage
        .lock_second_factors(&mut tx, &account.sub)
        .await?
        .unwrap_or_default();
    if account.role.privileged() && !totp && passkeys <= 1 {
        return mandatory();
    }
    if let Some(removed) = state
        .storage
        .delete_passkey(&mut tx, &account.sub, id)
        .await?
    {
        state
            .audit
            .append(
                &mut tx,
                Record::new(Event::PasskeyRemoved)
                    .actor(account.sub.clone())
                    .subject(account.sub.clone())
                    .ip(meta.ip_string())
                    .detail("passkey", removed.id)
                    .detail("name", removed.name),
            )
            .await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(lang, "passkey_removed"))
}
