//! What the protocol endpoints (`oidc/`, `admin/`) and the pages (`web/`) share about HTTP:
//! form parameters, our cookies, who is calling (address and user agent) and redirects.

pub mod client;
pub mod cookies;
pub mod params;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// 303 See Other to `location`, never cached.
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
