//! The SSO session of a browser (OIDC Core §3.1.2.3 "the OP's session"): which one the request
//! carries, establishing one at the end of a login (its cookie value rotated every time:
//! OWASP Session Management Cheat Sheet, "renew the session ID after any privilege level
//! change"), and ending one everywhere — its row, its token families and a back-channel logout
//! to each client that took part, queued in the same transaction (docs/decisions.md, issue
//! 12.2). Used alike by the protocol (`oidc/`), the pages (`web/`) and the staff API.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::app::AppState;
use crate::domain::amr::Amr;
use crate::domain::id::{SessionId, Subject};
use crate::error::Internal;
use crate::http::client::ClientMeta;
use crate::http::cookies::{self, CsrfCookie};
use crate::secrets::{now, PlainToken};
use crate::storage::sessions::{EndedSession, Session};

/// The SSO session cookie as the browser sent it, not yet looked up (an extractor: a handler
/// that may need the session takes this, not the headers).
#[derive(Default)]
pub struct SessionCookie(Option<PlainToken>);

impl SessionCookie {
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Self {
        Self(
            state
                .cookies
                .get(headers, cookies::SESSION)
                .map(|c| PlainToken::from_received(&c)),
        )
    }
}

impl FromRequestParts<AppState> for SessionCookie {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self::from_headers(state, &parts.headers))
    }
}

/// What the pages without a session of their own (the login stages, the logout confirmation)
/// read from the browser: the double-submit CSRF cookie (an interaction's binding token) and
/// the SSO session cookie, both as sent; each is checked where it is used.
pub struct Browser {
    pub csrf: CsrfCookie,
    pub session: SessionCookie,
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self {
            csrf: CsrfCookie::from_request_parts(parts, state).await?,
            session: SessionCookie::from_request_parts(parts, state).await?,
        })
    }
}

/// The live session of this browser whose account may still sign in.
pub async fn current(
    state: &AppState,
    cookie: &SessionCookie,
) -> Result<Option<Session>, Internal> {
    let Some(token) = &cookie.0 else {
        return Ok(None);
    };
    let Some(session) = state
        .storage
        .session_by_cookie(&token.hashed(), state.config.session.idle_timeout)
        .await?
    else {
        return Ok(None);
    };
    // Idle timeout: a use of the session keeps it alive (written at most once a minute).
    let t = now();
    if t - session.last_seen_at >= 60 {
        state.storage.touch_session(&session.sid, t).await?;
    }
    let active = state
        .storage
        .account(&session.sub)
        .await?
        .is_some_and(|a| a.status == crate::domain::account::AccountStatus::Active);
    Ok(active.then_some(session))
}

/// A session just established: what it is and the cookie value that carries it.
pub struct Established {
    pub session: Session,
    pub cookie: PlainToken,
}

impl Established {
    /// The `Set-Cookie` value of the session cookie (a browser-session cookie).
    pub fn set_cookie(&self, state: &AppState) -> Option<HeaderValue> {
        state
            .cookies
            .set(cookies::SESSION, self.cookie.expose(), None)
    }
}

/// Establishes the session of `sub` authenticated by `amr` now. The browser's session of the
/// same person is re-authenticated under a fresh cookie value; another person's session on
/// this browser ends first.
pub async fn establish(
    state: &AppState,
    browser: &SessionCookie,
    meta: &ClientMeta,
    sub: &Subject,
    amr: &Amr,
) -> Result<Established, Internal> {
    let cookie = PlainToken::generate();
    let t = now();
    let session = match current(state, browser).await? {
        Some(s) if s.sub == *sub => {
            state
                .storage
                .reauthenticate_session(&s.sid, &cookie.hashed(), t, amr)
                .await?;
            Session {
                auth_time: t,
                amr: amr.clone(),
                last_seen_at: t,
                ..s
            }
        }
        other => {
            if let Some(old) = other {
                end(state, &old.sid).await?;
            }
            let s = Session {
                sid: SessionId::generate(),
                sub: sub.clone(),
                auth_time: t,
                amr: amr.clone(),
                expires_at: t + state.config.session.absolute_timeout,
                created_at: t,
                last_seen_at: t,
                ip: meta.ip_string(),
                user_agent: meta.user_agent.clone(),
                csrf: PlainToken::generate().expose().to_owned(),
                organisation_id: None,
            };
            state.storage.insert_session(&cookie.hashed(), &s).await?;
            s
        }
    };
    Ok(Established { session, cookie })
}

/// Ends a session everywhere: the session row, its token families, and a back-channel
/// logout to each client that took part.
pub async fn end(state: &AppState, sid: &SessionId) -> Result<(), Internal> {
    if state.storage.end_session(sid).await?.is_some() {
        tracing::info!(%sid, "session ended");
        wake_deliveries(state);
    }
    Ok(())
}

/// [`end`] with its audit record written in the same transaction (only when the session was
/// still live).
pub async fn end_audited(
    state: &AppState,
    sid: &SessionId,
    record: crate::audit::Record,
) -> Result<(), Internal> {
    let mut tx = state.storage.begin_write().await?;
    let ended = state.storage.end_session_in(&mut tx, sid).await?;
    if ended.is_some() {
        state.audit.append(&mut tx, record).await?;
    }
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    if ended.is_some() {
        tracing::info!(%sid, "session ended");
        wake_deliveries(state);
    }
    Ok(())
}

/// After a transaction that ended sessions with `Storage::end_session_in` committed: the
/// back-channel logouts of those that were still live go out now.
pub fn notify_ended(state: &AppState, ended: Vec<EndedSession>) {
    let mut any = false;
    for (sid, e) in ended {
        if e.is_some() {
            tracing::info!(%sid, "session ended");
            any = true;
        }
    }
    if any {
        wake_deliveries(state);
    }
}

/// Wakes this node's back-channel logout delivery task (`oidc::backchannel`) for the
/// deliveries just committed; other nodes find them at their next poll.
fn wake_deliveries(state: &AppState) {
    state.logout_outbox.notify_one();
}
