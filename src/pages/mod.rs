//! Rendering of HTML pages: the templates, the shared page chrome and the error page.
//! Every page struct has `c` (the frame: language and its switch) and `t` (the strings).

pub mod i18n;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use self::i18n::{Lang, Texts};

/// What every page's frame needs: the language and the link to the other one.
pub struct Chrome {
    pub lang: &'static str,
    pub other_lang: &'static str,
    /// The same page in the other language (empty: no switch shown).
    pub switch_url: String,
}

impl Chrome {
    pub fn new(lang: Lang, switch_url: String) -> Self {
        Self {
            lang: lang.code(),
            other_lang: lang.other().code(),
            switch_url,
        }
    }
}

/// A hidden form field.
pub struct Hidden<'a>(pub &'a str, pub &'a str);

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    /// Translation key of the error shown above the form, or empty.
    pub error: &'a str,
    /// Sign-in with a passkey is offered (WebAuthn works for this issuer).
    pub passkeys: bool,
    /// The upstream identity providers offered: (id, name).
    pub upstreams: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "login_otp.html")]
pub struct OtpPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub error: &'a str,
    /// The application asked for the MFA level (a step-up, or a login that must prove it):
    /// the page says why the code is needed.
    pub step_up: bool,
    /// The account has TOTP (the code field), and passkeys (their button).
    pub totp: bool,
    pub passkey: bool,
}

/// Choosing a new password: forced at login, voluntary on the account page, or by a reset link.
#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub action: &'a str,
    pub hidden: Vec<Hidden<'a>>,
    /// Translation key of the explanation above the form.
    pub intro: &'a str,
    pub ask_current: bool,
    pub min_length: usize,
    /// How many earlier passwords may not be reused (`password.history`).
    pub history: usize,
    /// Translated, filled messages, one per broken rule.
    pub errors: Vec<String>,
}

impl PasswordPage<'_> {
    /// The form, with 400 when it shows refused-password errors.
    pub fn respond(self) -> Response {
        let status = if self.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        html(status, self.render())
    }
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
pub struct TotpEnrolPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub action: &'a str,
    pub hidden: Vec<Hidden<'a>>,
    pub qr: &'a str,
    pub secret: &'a str,
    pub required: bool,
    pub error: &'a str,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub codes: Vec<String>,
    pub action: &'a str,
    pub hidden: Vec<Hidden<'a>>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub title: &'a str,
    pub text: &'a str,
    pub link: &'a str,
    pub link_text: &'a str,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub c: Chrome,
    pub t: &'static Texts,
    pub key: &'a str,
    pub detail: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub c: Chrome,
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
    pub c: Chrome,
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
    let page = ErrorPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        key,
        detail,
    };
    html(status, page.render())
}

/// A page with a title, a text and an optional link (all already translated).
pub fn message_page(lang: Lang, title: &str, text: &str, link: &str, link_text: &str) -> Response {
    let page = MessagePage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        title,
        text,
        link,
        link_text,
    };
    html(StatusCode::OK, page.render())
}
