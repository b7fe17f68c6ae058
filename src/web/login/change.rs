//! A new password before anything else: the initial password from the letter, or one past the
//! maximum age (18 months).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;

use super::advance;
use crate::app::AppState;
use crate::domain::account::Account;
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::interaction::{
    authenticated_account, bind_csrf, check_csrf, load, with_csrf_cookie, Interaction, Stage,
};
use crate::pages::i18n::Lang;
use crate::pages::{Chrome, Hidden, PasswordPage};
use crate::session::Browser;
use crate::web::new_password::{set_new_password, Keep, Why};

#[derive(serde::Deserialize)]
pub struct Q {
    id: Option<String>,
    lang: Option<String>,
}

/// `GET /login/password?id=…`
pub async fn change_form(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let pending = load(&state, q.id.as_deref(), lang).await?;
    let account = authenticated_account(&state, &pending, Stage::ChangePassword, lang).await?;
    render(&state, &browser, &pending, &account, lang, Vec::new()).await
}

/// `POST /login/password`
pub async fn change_submit(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let pending = load(&state, form.get("id"), lang).await?;
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let account = authenticated_account(&state, &pending, Stage::ChangePassword, lang).await?;
    // This login goes on (to enrolment, say): only the account's other pending logins end.
    let keep = Keep {
        sid: None,
        login: Some(pending.id()),
    };
    match set_new_password(&state, &account, &form, Why::Forced, &meta, keep, lang).await? {
        Ok(()) => {
            // Re-read: the password is no longer initial or expired.
            let account = state
                .storage
                .account(&account.sub)
                .await?
                .unwrap_or(account);
            let amr = pending.amr.clone();
            advance(&state, &browser, &meta, &pending, &account, &amr, lang).await
        }
        Err(errors) => render(&state, &browser, &pending, &account, lang, errors).await,
    }
}

async fn render(
    state: &AppState,
    browser: &Browser,
    pending: &Interaction,
    account: &Account,
    lang: Lang,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let csrf = bind_csrf(state, &browser.csrf, pending).await?;
    let intro = if account.must_change_password {
        "password.intro_initial"
    } else {
        "password.intro_expired"
    };
    let page = PasswordPage {
        c: Chrome::new(
            lang,
            format!(
                "/login/password?id={}&lang={}",
                pending.id(),
                lang.other().code()
            ),
        ),
        t: lang.texts(),
        action: "/login/password",
        hidden: vec![Hidden("id", pending.id()), Hidden("csrf", csrf.expose())],
        intro,
        ask_current: false,
        min_length: state.config.password.min_length(account.role.privileged()),
        history: state.config.password.history,
        errors,
    };
    Ok(with_csrf_cookie(state, page.respond(), &csrf, pending))
}
