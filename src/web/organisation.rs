//! The pages of "act on behalf of" (docs/domain.md; the rules are in
//! `interaction::organisation`): the choice of the organisation a person acts for in an MPSV
//! application, and the page that says why they may not use it. Both belong to an
//! interaction the protocol started; when the person is done, the browser goes back to the
//! protocol (`/authorize/resume`).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::Response;

use crate::app::AppState;
use crate::domain::client::Application;
use crate::domain::entitlement::Affiliation;
use crate::error::PageError;
use crate::http::params::Params;
use crate::http::see_other;
use crate::interaction::organisation::entitled;
use crate::interaction::{
    self, authenticated_account, bind_csrf, check_csrf, load, Interaction, Outcome, Stage,
};
use crate::pages::i18n::{Lang, Texts};
use crate::pages::{html, Chrome, Hidden};
use crate::session::Browser;
use crate::storage::sessions::Session;

#[derive(Template)]
#[template(path = "no_access.html")]
struct DeniedPage<'a> {
    c: Chrome,
    t: &'static Texts,
    app_name: &'a str,
    why: &'a str,
    /// Back to the protocol, which answers the application with `access_denied`.
    link: String,
}

/// `GET /login/denied?id=…`: why the person may not use the application and whom to contact
/// (DESIGN: "Application entitlement"); its button returns `error=access_denied` to the
/// application.
pub async fn denied(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let ctx = context(&state, &browser, q.id.as_deref(), Stage::NoAccess, lang).await?;
    let t = lang.texts();
    let page = DeniedPage {
        c: Chrome::new(
            lang,
            format!(
                "/login/denied?id={}&lang={}",
                ctx.pending.id(),
                lang.other().code()
            ),
        ),
        t,
        app_name: ctx.app.name(),
        why: match ctx.app {
            Application::Poskytovatel => t.get("denied.why_poskytovatel"),
            Application::Rodina => t.get("denied.why_rodina"),
        },
        link: interaction::resume_url(ctx.pending.id()),
    };
    Ok(html(StatusCode::FORBIDDEN, page.render()))
}

/// One organisation offered on the choice page.
struct Choice<'a> {
    id: &'a str,
    name: &'a str,
    ico: &'a str,
    city: &'a str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "organisation.html")]
struct ChoicePage<'a> {
    c: Chrome,
    t: &'static Texts,
    app_name: &'a str,
    hidden: Vec<Hidden<'a>>,
    choices: Vec<Choice<'a>>,
    error: &'a str,
}

#[derive(serde::Deserialize)]
pub struct Q {
    id: Option<String>,
    lang: Option<String>,
}

/// What the pages and the form need: the interaction, the live session of the same person,
/// the client and its application.
struct Context {
    pending: Interaction,
    session: Session,
    app: Application,
}

async fn context(
    state: &AppState,
    browser: &Browser,
    id: Option<&str>,
    stage: Stage,
    lang: Lang,
) -> Result<Context, PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    let pending = load(state, id, lang).await?;
    let account = authenticated_account(state, &pending, stage, lang).await?;
    let session = crate::session::current(state, &browser.session)
        .await?
        .filter(|s| s.sub == account.sub)
        .ok_or_else(expired)?;
    if pending.request().is_none() {
        return Err(expired());
    }
    let app = state
        .storage
        .client(&pending.client_id)
        .await?
        .filter(|c| c.enabled)
        .ok_or_else(|| PageError::bad_request("error.client_disabled", "", lang))?
        .application
        .ok_or_else(expired)?;
    Ok(Context {
        pending,
        session,
        app,
    })
}

/// `GET /login/organisation?id=…`
pub async fn choose_form(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let ctx = context(&state, &browser, q.id.as_deref(), Stage::Organisation, lang).await?;
    let csrf = bind_csrf(&state, &browser.csrf, &ctx.pending).await?;
    let entitled = entitled(&state, &ctx.session.sub, ctx.app).await?;
    render(&ctx, &entitled, csrf.expose(), lang, "", StatusCode::OK)
}

/// `POST /login/organisation`
pub async fn choose_submit(
    State(state): State<AppState>,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let ctx = context(&state, &browser, form.get("id"), Stage::Organisation, lang).await?;
    check_csrf(&browser.csrf, &form, &ctx.pending, lang)?;
    let entitled = entitled(&state, &ctx.session.sub, ctx.app).await?;
    let chosen = form.get("organisation").unwrap_or("");
    let Some(org) = entitled.iter().find(|a| a.organisation.id == chosen) else {
        let csrf = form.get("csrf").unwrap_or("");
        return render(
            &ctx,
            &entitled,
            csrf,
            lang,
            "organisation.required",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let outcome = Outcome::ActsFor(org.organisation.id.clone());
    interaction::finish(&state, &ctx.pending, &ctx.session.sub, &outcome).await?;
    let mut r = see_other(&interaction::resume_url(ctx.pending.id()));
    if let Some(v) = state.cookies.clear(crate::http::cookies::CSRF) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

fn render(
    ctx: &Context,
    entitled: &[Affiliation],
    csrf: &str,
    lang: Lang,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let t = lang.texts();
    let current = ctx.session.organisation_id.as_ref();
    let page = ChoicePage {
        c: Chrome::new(
            lang,
            format!(
                "/login/organisation?id={}&lang={}",
                ctx.pending.id(),
                lang.other().code()
            ),
        ),
        t,
        app_name: ctx.app.name(),
        hidden: vec![
            Hidden("id", ctx.pending.id()),
            Hidden("csrf", csrf),
            Hidden("lang", lang.code()),
        ],
        choices: entitled
            .iter()
            .map(|a| Choice {
                id: a.organisation.id.as_str(),
                name: &a.organisation.name,
                ico: a.organisation.ico.as_str(),
                city: &a.organisation.seat.city,
                checked: Some(&a.organisation.id) == current,
            })
            .collect(),
        error,
    };
    Ok(html(status, page.render()))
}
