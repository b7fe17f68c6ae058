//! RP-Initiated Logout 1.0 (the `end_session_endpoint`). With a valid `id_token_hint` for the
//! current session the person is signed out at once; otherwise they are asked to confirm
//! (§2: the OP should ask when the request may not come from the RP). A
//! `post_logout_redirect_uri` is honoured only when registered for the client, exactly.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::PageError;
use crate::http::cookies;
use crate::http::cookies::CsrfCookie;
use crate::http::params::{is_form, Params};
use crate::http::see_other;
use crate::pages::i18n::Lang;
use crate::pages::{html, Chrome, LogoutPage};
use crate::secrets::constant_time_eq;
use crate::session::Browser;

/// `GET /logout`
pub async fn get(
    State(state): State<AppState>,
    browser: Browser,
    RawQuery(q): RawQuery,
) -> Response {
    respond(logout(&state, &browser, q.unwrap_or_default().as_bytes(), false).await)
}

/// `POST /logout` (form-encoded, §2).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    browser: Browser,
    body: Bytes,
) -> Response {
    let raw: &[u8] = if is_form(&headers) { &body } else { b"" };
    respond(logout(&state, &browser, raw, false).await)
}

/// `POST /logout/confirm`: the person confirmed on our page (CSRF-checked).
pub async fn confirm(State(state): State<AppState>, browser: Browser, body: Bytes) -> Response {
    respond(logout(&state, &browser, &body, true).await)
}

fn respond(r: Result<Response, PageError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn logout(
    state: &AppState,
    browser: &Browser,
    raw: &[u8],
    confirmed: bool,
) -> Result<Response, PageError> {
    let p = Params::parse(raw).map_err(|d| {
        PageError::bad_request(
            "error.bad_request",
            format!("parameter {} repeated", d.0),
            Lang::Cs,
        )
    })?;
    let lang = Lang::parse(p.get("ui_locales").or(p.get("lang")));
    let bad = |detail: &str| PageError::bad_request("error.bad_request", detail.to_owned(), lang);

    let hint = match p.get("id_token_hint") {
        Some(h) => Some(
            super::jwt::verify_id_token_hint(state, h)
                .ok_or_else(|| bad("id_token_hint is not valid"))?,
        ),
        None => None,
    };
    let hint_aud = hint.as_ref().and_then(|c| match c.get("aud") {
        Some(serde_json::Value::String(a)) => Some(a.clone()),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    });
    let client_id = match (p.get("client_id"), hint_aud.as_deref()) {
        (Some(a), Some(b)) if a != b => return Err(bad("client_id does not match id_token_hint")),
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let client = match &client_id {
        Some(id) => Some(state.storage.client(id).await?.ok_or_else(|| {
            PageError::bad_request("error.unknown_client", format!("client_id={id}"), lang)
        })?),
        None => None,
    };
    let redirect = match p.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let registered = client
                .as_ref()
                .and_then(|c| c.post_logout_redirect_uri(uri))
                .ok_or_else(|| {
                    PageError::bad_request(
                        "error.bad_redirect_uri",
                        format!("post_logout_redirect_uri={uri}"),
                        lang,
                    )
                })?;
            Some(registered.as_str().to_owned())
        }
    };

    let session = crate::session::current(state, &browser.session).await?;
    if let Some(s) = &session {
        let hint_matches = hint.as_ref().is_some_and(|c| {
            c.get("sid").and_then(|v| v.as_str()) == Some(s.sid.as_str())
                || c.get("sub").and_then(|v| v.as_str()) == Some(s.sub.as_str())
        });
        let csrf_ok = confirmed && {
            let form = p.get("csrf");
            // The confirmation page's token (double-submit cookie) or the account page's
            // (the session's synchronizer token).
            browser.csrf.matches(form)
                || (!s.csrf.is_empty() && form.is_some_and(|f| constant_time_eq(f, &s.csrf)))
        };
        if !hint_matches && !csrf_ok {
            return Ok(confirmation_page(
                state,
                &browser.csrf,
                lang,
                &client_id,
                &redirect,
                p.get("state"),
            ));
        }
        // RP-initiated logout is audited with the session's end, in one transaction.
        let mut record = crate::audit::Record::new(crate::audit::Event::SessionEnded)
            .actor(s.sub.clone())
            .subject(s.sub.clone())
            .detail("sid", s.sid.clone())
            .detail("reason", "rp_initiated_logout");
        if let Some(id) = &client_id {
            record = record.detail("client_id", id.clone());
        }
        crate::session::end_audited(state, &s.sid, record).await?;
    }

    let mut response = match redirect {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(|_| bad("post_logout_redirect_uri"))?;
            if let Some(st) = p.get("state") {
                url.query_pairs_mut().append_pair("state", st);
            }
            see_other(url.as_str())
        }
        None => {
            let page = LogoutPage {
                c: Chrome::new(lang, String::new()),
                t: lang.texts(),
                done: true,
                csrf: "",
                client_id: "",
                post_logout_redirect_uri: "",
                state: "",
            };
            html(StatusCode::OK, page.render())
        }
    };
    if let Some(v) = state.cookies.clear(cookies::SESSION) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

fn confirmation_page(
    state: &AppState,
    cookie: &CsrfCookie,
    lang: Lang,
    client_id: &Option<String>,
    redirect: &Option<String>,
    st: Option<&str>,
) -> Response {
    // One token per browser, as on the login page.
    let csrf = cookie.or_new();
    let page = LogoutPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        done: false,
        csrf: csrf.expose(),
        client_id: client_id.as_deref().unwrap_or(""),
        post_logout_redirect_uri: redirect.as_deref().unwrap_or(""),
        state: st.unwrap_or(""),
    };
    let mut r = html(StatusCode::OK, page.render());
    if let Some(v) = state.cookies.set(cookies::CSRF, csrf.expose(), Some(600)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
