//! Linking a national-eID identity (an upstream identity provider's) to one's own account, on
//! the account page, and removing the link. Linking needs the current password and a session
//! at the MFA level (the person proved their second factor at this sign-in), then the round
//! trip to the upstream; an identity linked to someone else is refused. Every link and
//! unlink is audited. Operators link identities in the console instead
//! (`web::console::upstream`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::account::{current_password_ok, wrong_password_page};
use super::extract::{CsrfForm, SsoSession};
use super::format::datetime;
use super::login::upstream::{failed, redirect};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::see_other;
use crate::pages::i18n::Lang;
use crate::secrets::now;
use crate::session::Browser;
use crate::storage::upstream::{UpstreamLink, UpstreamLogin};
use crate::storage::StorageError;
use crate::upstream::{login_expiry, Identity, UpstreamError};

/// An upstream as the account page shows it.
pub struct UpstreamRow {
    pub id: String,
    pub name: String,
    /// "linked on …, last used …", empty when not linked.
    pub linked: String,
    pub by_operator: bool,
}

/// The rows of the account page, one per configured upstream.
pub async fn rows(
    state: &AppState,
    sub: &crate::domain::id::Subject,
    lang: Lang,
) -> Result<Vec<UpstreamRow>, PageError> {
    let links = state.storage.upstream_links_of(sub).await?;
    let t = lang.texts();
    Ok(state
        .upstreams
        .all()
        .iter()
        .map(|u| {
            let link = links.iter().find(|l| l.upstream == u.config.id);
            UpstreamRow {
                id: u.config.id.clone(),
                name: u.config.name.clone(),
                linked: link
                    .map(|l| {
                        let used = l
                            .last_used_at
                            .map(|t| datetime(t, lang))
                            .unwrap_or_else(|| t.get("passkey.never").to_owned());
                        format!(
                            "{} {}; {}: {}",
                            t.get("upstream.linked_on"),
                            datetime(l.linked_at, lang),
                            t.get("passkey.last_used"),
                            used
                        )
                    })
                    .unwrap_or_default(),
                by_operator: link.is_some_and(|l| l.linked_by == "operator"),
            }
        })
        .collect())
}

fn back(lang: Lang, notice: &str) -> Response {
    see_other(&format!("/account?lang={}&notice={notice}", lang.code()))
}

fn message(lang: Lang, key: &str, status: StatusCode) -> Response {
    let t = lang.texts();
    let mut r = crate::pages::message_page(
        lang,
        t.get("upstream.heading"),
        t.get(key),
        &format!("/account?lang={}", lang.code()),
        t.get("account.back"),
    );
    *r.status_mut() = status;
    r
}

/// `POST /account/upstream/link` (form: `csrf`, `upstream`, `current`).
pub async fn link(
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
    let Some(upstream) = state.upstreams.get(form.get("upstream").unwrap_or("")) else {
        return Err(PageError::bad_request("login.expired", "", lang));
    };
    // The password and the second factor: the session must have proved one (OWASP
    // Authentication Cheat Sheet, re-authentication before linking an authenticator).
    if !session.amr.has_second_factor() {
        return Ok(message(lang, "upstream.needs_mfa", StatusCode::FORBIDDEN));
    }
    if !current_password_ok(&state, &account, &form, &meta).await? {
        return Ok(wrong_password_page(lang));
    }
    let login = UpstreamLogin {
        upstream: upstream.config.id.clone(),
        purpose: "link".into(),
        login_request_id: None,
        sub: Some(account.sub.clone()),
        sid: Some(session.sid.as_str().to_owned()),
        nonce: String::new(),
        pkce_verifier: String::new(),
        expires_at: login_expiry(),
    };
    match redirect(&state, upstream, login).await? {
        Ok(r) => Ok(r),
        Err(e) => {
            failed(&state, &meta, upstream, Some(&account.sub), &e).await?;
            Ok(message(lang, "upstream.failed", StatusCode::BAD_GATEWAY))
        }
    }
}

/// The callback of a linking round trip: the same browser, signed in as the same person in
/// the same session; the identity must not be linked to anyone yet.
pub async fn linked(
    state: &AppState,
    meta: &ClientMeta,
    browser: &Browser,
    login: UpstreamLogin,
    result: Result<Identity, UpstreamError>,
) -> Result<Response, PageError> {
    let lang = Lang::Cs;
    let session = crate::session::current(state, &browser.session)
        .await?
        .filter(|s| {
            Some(&s.sub) == login.sub.as_ref() && Some(s.sid.as_str()) == login.sid.as_deref()
        })
        .ok_or_else(|| PageError::bad_request("login.expired", "", lang))?;
    let Some(upstream) = state.upstreams.get(&login.upstream) else {
        return Err(PageError::bad_request("login.expired", "", lang));
    };
    let identity = match result {
        Ok(i) => i,
        Err(e) => {
            failed(state, meta, upstream, Some(&session.sub), &e).await?;
            return Ok(message(lang, "upstream.failed", StatusCode::BAD_REQUEST));
        }
    };
    let mut tx = state.storage.begin_write().await?;
    let inserted = state
        .storage
        .insert_upstream_link(
            &mut tx,
            &UpstreamLink {
                upstream: identity.upstream.clone(),
                upstream_sub: identity.sub.clone(),
                sub: session.sub.clone(),
                linked_by: "self".into(),
                linked_at: now(),
                last_used_at: None,
            },
        )
        .await;
    match inserted {
        Ok(()) => {}
        Err(StorageError::Conflict(_)) => {
            drop(tx);
            state
                .audit
                .record(
                    Record::new(Event::UpstreamLinkRefused)
                        .actor(session.sub.clone())
                        .subject(session.sub.clone())
                        .ip(meta.ip_string())
                        .detail("upstream", identity.upstream.clone())
                        .detail("upstream_sub", identity.sub.clone())
                        .detail("reason", "already_linked"),
                )
                .await?;
            return Ok(message(
                lang,
                "upstream.already_linked",
                StatusCode::CONFLICT,
            ));
        }
        Err(e) => return Err(crate::error::Internal::from(e).into()),
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::UpstreamLinked)
                .actor(session.sub.clone())
                .subject(session.sub.clone())
                .ip(meta.ip_string())
                .detail("upstream", identity.upstream.clone())
                .detail("upstream_sub", identity.sub.clone())
                .detail("by", "self")
                .detail("identity", identity.describe()),
        )
        .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(lang, "upstream_linked"))
}

/// `POST /account/upstream/unlink` (form: `csrf`, `upstream`, `current`).
pub async fn unlink(
    State(state): State<AppState>,
    meta: ClientMeta,
    CsrfForm {
        who: SsoSession { account, .. },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    if !current_password_ok(&state, &account, &form, &meta).await? {
        return Ok(wrong_password_page(lang));
    }
    let upstream = form.get("upstream").unwrap_or("");
    let mut tx = state.storage.begin_write().await?;
    if let Some(l) = state
        .storage
        .delete_upstream_link(&mut tx, &account.sub, upstream)
        .await?
    {
        state
            .audit
            .append(
                &mut tx,
                Record::new(Event::UpstreamUnlinked)
                    .actor(account.sub.clone())
                    .subject(account.sub.clone())
                    .ip(meta.ip_string())
                    .detail("upstream", l.upstream)
                    .detail("upstream_sub", l.upstream_sub),
            )
            .await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(lang, "upstream_unlinked"))
}
