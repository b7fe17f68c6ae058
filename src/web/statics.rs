//! Static assets, compiled into the binary.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

pub async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    )
}

pub async fn form_post_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/form_post.js"),
    )
}

pub async fn passkey_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/passkey.js"),
    )
}
