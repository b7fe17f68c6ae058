//! Handler plumbing as axum extractors: who is signed in ([`SsoSession`] for a person's own
//! pages, `console::Staff` for the console), the page's language from `?lang=`, and
//! [`CsrfForm`], a posted form whose CSRF token must be the signed-in session's (synchronizer
//! token; OWASP CSRF Prevention Cheat Sheet). A handler that takes one of these never sees a
//! request that fails it: the extractor answers instead (the login, a 403 page, `login.csrf`).

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::login;
use crate::app::AppState;
use crate::domain::account::{Account, AccountStatus};
use crate::error::PageError;
use crate::http::params::Params;
use crate::interaction::Purpose;
use crate::pages::i18n::Lang;
use crate::secrets::constant_time_eq;
use crate::session::SessionCookie;
use crate::storage::sessions::Session;

/// The language a page asks for with `?lang=` (Czech when absent or unknown).
pub fn query_lang(parts: &Parts) -> Lang {
    parts
        .uri
        .query()
        .and_then(|q| Params::parse(q.as_bytes()).ok())
        .map(|p| Lang::parse(p.get("lang")))
        .unwrap_or_default()
}

/// Someone signed in whose session carries a CSRF token for their forms.
pub trait Principal: Sized + Send {
    /// The signed-in one behind the browser's session cookie, or the answer instead.
    fn find(
        state: &AppState,
        cookie: &SessionCookie,
        lang: Lang,
    ) -> impl Future<Output = Result<Self, Response>> + Send;

    /// The session's synchronizer token.
    fn csrf(&self) -> &str;
}

/// The browser's session and its active account, if any (a failure is the error page).
pub async fn signed_in(
    state: &AppState,
    cookie: &SessionCookie,
) -> Result<Option<(Session, Account)>, Response> {
    let found = async {
        let Some(session) = crate::session::current(state, cookie).await? else {
            return Ok::<_, PageError>(None);
        };
        Ok(state
            .storage
            .account(&session.sub)
            .await?
            .filter(|a| a.status == AccountStatus::Active)
            .map(|a| (session, a)))
    };
    found.await.map_err(IntoResponse::into_response)
}

/// A person signed in for their own pages (account, delegations); without a session, the
/// login, which comes back to the account page.
pub struct SsoSession {
    pub session: Session,
    pub account: Account,
    pub lang: Lang,
}

impl Principal for SsoSession {
    async fn find(state: &AppState, cookie: &SessionCookie, lang: Lang) -> Result<Self, Response> {
        match signed_in(state, cookie).await? {
            Some((session, account)) => Ok(Self {
                session,
                account,
                lang,
            }),
            None => Err(login::begin(state, Purpose::Account { lang })
                .await
                .unwrap_or_else(IntoResponse::into_response)),
        }
    }

    fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

impl FromRequestParts<AppState> for SsoSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let cookie = SessionCookie::from_headers(state, &parts.headers);
        Self::find(state, &cookie, query_lang(parts)).await
    }
}

/// A posted form of `P`'s pages: `P` signed in (in the form's `lang`), and the form's `csrf`
/// equal to `P`'s session token, compared in constant time.
pub struct CsrfForm<P> {
    pub who: P,
    pub form: Params,
    pub lang: Lang,
}

impl<P: Principal> FromRequest<AppState> for CsrfForm<P> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Params::parse(&body).unwrap_or_default();
        let lang = Lang::parse(form.get("lang"));
        let who = P::find(
            state,
            &SessionCookie::from_headers(state, &parts.headers),
            lang,
        )
        .await?;
        let csrf = form.get("csrf").unwrap_or("");
        if who.csrf().is_empty() || !constant_time_eq(csrf, who.csrf()) {
            tracing::warn!("form with a bad CSRF token");
            return Err(PageError::bad_request("login.csrf", "", lang).into_response());
        }
        Ok(Self { who, form, lang })
    }
}
