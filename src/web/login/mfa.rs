//! The page for a person whose application asked for the MFA level (e.g. before submitting
//! on behalf of an organisation: `[protocol] submit_requires_mfa`) while their account has
//! no second factor yet: why a second factor is needed, how to set one up, and the way back
//! to the application, which is answered `unmet_authentication_requirements` (OpenID
//! Connect Core Unmet Authentication Requirements 1.0 §2) so it can say so too.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::AppState;
use crate::error::PageError;
use crate::interaction::{self, authenticated_account, load, Stage};
use crate::pages::i18n::{Lang, Texts};
use crate::pages::{html, Chrome};
use crate::session::Browser;

#[derive(Template)]
#[template(path = "mfa_required.html")]
struct MfaRequiredPage<'a> {
    c: Chrome,
    t: &'static Texts,
    client_name: &'a str,
    /// Passkeys can be set up here (WebAuthn works for this issuer).
    passkeys: bool,
    /// Back to the protocol, which answers the application.
    back: String,
}

#[derive(serde::Deserialize)]
pub struct Q {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login/mfa?id=…`
pub async fn mfa_required(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let pending = load(&state, q.id.as_deref(), lang).await?;
    let account = authenticated_account(&state, &pending, Stage::MfaRequired, lang).await?;
    // Only the browser signed in as that person sees it.
    crate::session::current(&state, &browser.session)
        .await?
        .filter(|s| s.sub == account.sub)
        .ok_or_else(|| PageError::bad_request("login.expired", "", lang))?;
    let client_name = state
        .storage
        .client(&pending.client_id)
        .await?
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let page = MfaRequiredPage {
        c: Chrome::new(
            lang,
            format!(
                "/login/mfa?id={}&lang={}",
                pending.id(),
                lang.other().code()
            ),
        ),
        t: lang.texts(),
        client_name: &client_name,
        passkeys: state.passkeys.is_some(),
        back: interaction::resume_url(pending.id()),
    };
    Ok(html(StatusCode::FORBIDDEN, page.render()))
}
