//! Rendering of HTML pages: the templates, the shared page chrome and the error page.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, Texts};

/// What every page's frame needs: the language, its strings and the language switch.
pub struct Chrome {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_url: String,
    pub t: &'static Texts,
}

impl Chrome {
    /// `switch_url` is the same page in the other language (empty: no switch shown).
    pub fn new(lang: Lang, switch_url: String) -> Self {
        Self {
            lang: lang.code(),
            other_lang: lang.other().code(),
            switch_url,
            t: lang.texts(),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_url: String,
    pub t: &'static Texts,
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    /// Translation key of the error shown above the form, or empty.
    pub error: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_url: String,
    pub t: &'static Texts,
    pub key: &'a str,
    pub detail: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_url: String,
    pub t: &'static Texts,
    pub done: bool,
    pub csrf: &'a str,
    pub client_id: &'a str,
    pub post_logout_redirect_uri: &'a str,
    pub state: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_url: String,
    pub t: &'static Texts,
    pub action: &'a str,
    pub fields: Vec<(&'a str, &'a str)>,
}

/// An HTML response that is never cached (pages carry CSRF tokens and personal data).
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub fn error_page(status: StatusCode, key: &str, detail: &str, lang: Lang) -> Response {
    let c = Chrome::new(lang, String::new());
    let page = ErrorPage {
        lang: c.lang,
        other_lang: c.other_lang,
        switch_url: c.switch_url,
        t: c.t,
        key,
        detail,
    };
    html(status, page.render())
}
