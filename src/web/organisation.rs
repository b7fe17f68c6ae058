//! "Act on behalf of" (docs/domain.md): when a person signs in to an MPSV application, the
//! IdP checks their entitlement and settles which organisation they act for.
//!
//! - No organisation entitles them for the application: a page says why and whom to contact,
//!   and its button returns `error=access_denied` to the application.
//! - One does: it is used.
//! - Several do: the one chosen for this application earlier in the session is reused; the
//!   application's first login in a session reuses the session's current organisation when
//!   entitled; otherwise, and always with `prompt=select_account`, the person picks one.
//!
//! Each choice is bound to that client's grant (a choice in one application never changes
//! another application's tokens) and becomes the session's current organisation.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::login::{
    authenticated_account, bind_csrf, check_csrf, load, Pending, Target as LoginTarget,
};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::client::{Application, Client};
use crate::domain::entitlement::Affiliation;
use crate::error::{Internal, PageError};
use crate::http::cookies;
use crate::http::params::Params;
use crate::http::see_other;
use crate::oidc::authorize::{
    error_continue, error_response, form_action_origin, issue_code, AuthRequest, Continue,
};
use crate::pages::i18n::{Lang, Texts};
use crate::pages::{html, Chrome, Hidden};
use crate::secrets::{now, PlainToken};
use crate::storage::sessions::Session;

/// The stage name of a login request waiting for the choice.
const STAGE: &str = "organisation";

/// What `complete` does next for an application client.
pub enum Decision {
    /// Issue the code for this organisation.
    Act(String),
    /// Show this instead (the choice, or why access is denied).
    Respond(Response),
}

/// Marks a response that sets the login CSRF cookie itself, so the login must not clear it.
#[derive(Clone, Copy)]
pub struct KeepsCsrf;

pub async fn decide(
    state: &AppState,
    client: &Client,
    app: Application,
    req: &AuthRequest,
    session: &Session,
) -> Result<Decision, PageError> {
    let entitled = entitled(state, &session.sub, app).await?;
    if entitled.is_empty() {
        state
            .audit
            .record(
                Record::new(Event::AccessDenied)
                    .actor(session.sub.clone())
                    .subject(session.sub.clone())
                    .detail("client_id", client.client_id.as_str())
                    .detail("application", app.as_str()),
            )
            .await?;
        tracing::info!(client_id = %client.client_id.as_str(), "no entitlement for the application");
        let description = "the person is not entitled to use this application";
        if req.prompt_none {
            let r = error_response(state, &req.target(), "access_denied", description);
            return Ok(Decision::Respond(r));
        }
        return Ok(Decision::Respond(denied_page(state, app, req, description)));
    }
    let is_entitled = |id: &String| entitled.iter().any(|a| a.organisation.id == *id);
    if let [only] = entitled.as_slice() {
        return Ok(Decision::Act(only.organisation.id.clone()));
    }
    if !req.prompt_select_account {
        let remembered = state
            .storage
            .session_client_organisation(&session.sid, client.client_id.as_str())
            .await?;
        let reuse = match remembered {
            Some(org) => Some(org).filter(is_entitled),
            // The application's first login in this session: the session's organisation.
            None => session.organisation_id.clone().filter(is_entitled),
        };
        if let Some(org) = reuse {
            return Ok(Decision::Act(org));
        }
    }
    if req.prompt_none {
        // OIDC Core §3.1.2.6: the choice would need a page.
        let r = error_response(
            state,
            &req.target(),
            "account_selection_required",
            "the person acts for several organisations and must choose one",
        );
        return Ok(Decision::Respond(r));
    }
    park(state, client, req, session)
        .await
        .map(Decision::Respond)
}

/// The person's affiliations that entitle them to `app`, as of now.
async fn entitled(
    state: &AppState,
    sub: &str,
    app: Application,
) -> Result<Vec<Affiliation>, Internal> {
    Ok(state
        .storage
        .affiliations(sub, now())
        .await?
        .into_iter()
        .filter(|a| a.entitled(app))
        .collect())
}

/// Parks the request as a login at the `organisation` stage, bound to this browser by a fresh
/// CSRF cookie, and sends the browser to the choice.
async fn park(
    state: &AppState,
    client: &Client,
    req: &AuthRequest,
    session: &Session,
) -> Result<Response, PageError> {
    let id = PlainToken::generate();
    let binding = PlainToken::generate();
    let params = serde_json::to_string(&LoginTarget::Authorize(Box::new(req.clone())))
        .map_err(|e| Internal::Other(e.to_string()))?;
    let ttl = state.config.tokens.login_request;
    if !state
        .storage
        .insert_login_request(
            id.expose(),
            &binding.hashed(),
            client.client_id.as_str(),
            &params,
            now() + ttl,
            &crate::http::client::current_source(),
            state.config.limits.pending_logins_per_address,
        )
        .await?
    {
        return Ok(super::login::too_many_requests(req.lang));
    }
    state
        .storage
        .advance_login_request(id.expose(), &session.sub, STAGE, &session.amr)
        .await?;
    let mut r = see_other(&format!(
        "/login/organisation?id={}&lang={}",
        id.expose(),
        req.lang.code()
    ));
    if let Some(v) = state
        .cookies
        .set(cookies::CSRF, binding.expose(), Some(ttl))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r.extensions_mut().insert(KeepsCsrf);
    Ok(r)
}

pub fn app_name(t: &Texts, app: Application) -> &str {
    match app {
        Application::Poskytovatel => t.get("app.poskytovatel"),
        Application::Rodina => t.get("app.rodina"),
    }
}

#[derive(Template)]
#[template(path = "no_access.html")]
struct DeniedPage<'a> {
    c: Chrome,
    t: &'static Texts,
    app_name: &'a str,
    why: &'a str,
    /// The link back to the application (response mode `query`), or empty.
    link: String,
    /// The form back to the application (response mode `form_post`), when no link.
    action: String,
    fields: Vec<(String, String)>,
}

/// A page that says why the person may not use the application and whom to contact; its
/// button returns `error=access_denied` to the application (DESIGN: "Application entitlement").
fn denied_page(
    state: &AppState,
    app: Application,
    req: &AuthRequest,
    description: &str,
) -> Response {
    let t = req.lang.texts();
    let target = req.target();
    let (link, action, fields) = match error_continue(state, &target, "access_denied", description)
    {
        Continue::Link(url) => (url, String::new(), Vec::new()),
        Continue::Form { action, fields } => (String::new(), action, fields),
    };
    let posts_back = !action.is_empty();
    let page = DeniedPage {
        c: Chrome::new(req.lang, String::new()),
        t,
        app_name: app_name(t, app),
        why: match app {
            Application::Poskytovatel => t.get("denied.why_poskytovatel"),
            Application::Rodina => t.get("denied.why_rodina"),
        },
        link,
        action,
        fields,
    };
    let mut r = html(StatusCode::FORBIDDEN, page.render());
    if posts_back {
        // The button posts to the application (response mode form_post).
        let csp = format!(
            "default-src 'none'; style-src 'self'; form-action {}; frame-ancestors 'none'; \
             base-uri 'none'",
            form_action_origin(&req.redirect_uri)
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    r
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

/// What both the page and its form need: the pending login, its request, the live session
/// of the same person, the client and its application.
struct Context {
    pending: Pending,
    req: AuthRequest,
    session: Session,
    client: std::sync::Arc<Client>,
    app: Application,
}

async fn context(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<&str>,
    lang: Lang,
) -> Result<Context, PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    let pending = load(state, id, lang).await?;
    let account = authenticated_account(state, &pending, STAGE, lang).await?;
    let session = crate::session::current(state, headers)
        .await?
        .filter(|s| s.sub == account.sub)
        .ok_or_else(expired)?;
    let LoginTarget::Authorize(req) = &pending.target else {
        return Err(expired());
    };
    let req = (**req).clone();
    let client = state
        .storage
        .client(&pending.row.client_id)
        .await?
        .filter(|c| c.enabled)
        .ok_or_else(|| PageError::bad_request("error.client_disabled", "", lang))?;
    let app = client.application.ok_or_else(expired)?;
    Ok(Context {
        pending,
        req,
        session,
        client,
        app,
    })
}

/// `GET /login/organisation?id=…`
pub async fn choose_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(q.lang.as_deref());
    let ctx = context(&state, &headers, q.id.as_deref(), lang).await?;
    let csrf = bind_csrf(&state, &headers, &ctx.pending).await?;
    let entitled = entitled(&state, &ctx.session.sub, ctx.app).await?;
    render(&ctx, &entitled, csrf.expose(), lang, "", StatusCode::OK)
}

/// `POST /login/organisation`
pub async fn choose_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    let ctx = context(&state, &headers, form.get("id"), lang).await?;
    check_csrf(&state, &headers, &form, &ctx.pending, lang)?;
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
    state.storage.delete_login_request(ctx.pending.id()).await?;
    tracing::info!(client_id = %ctx.client.client_id.as_str(), "organisation chosen");
    let mut r = issue_code(
        &state,
        &ctx.client,
        &ctx.req,
        &ctx.session,
        Some(org.organisation.id.clone()),
    )
    .await?;
    if let Some(v) = state.cookies.clear(cookies::CSRF) {
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
    let current = ctx.session.organisation_id.as_deref();
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
        app_name: app_name(t, ctx.app),
        hidden: vec![
            Hidden("id", ctx.pending.id()),
            Hidden("csrf", csrf),
            Hidden("lang", lang.code()),
        ],
        choices: entitled
            .iter()
            .map(|a| Choice {
                id: &a.organisation.id,
                name: &a.organisation.name,
                ico: a.organisation.ico.as_str(),
                city: &a.organisation.seat.city,
                checked: Some(a.organisation.id.as_str()) == current,
            })
            .collect(),
        error,
    };
    Ok(html(status, page.render()))
}
