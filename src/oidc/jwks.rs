//! The JWK Set (RFC 7517 §5): next, current and still-valid retired public keys.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// `GET /jwks`: prepared bytes, like discovery (issue 16).
pub async fn handler(State(state): State<AppState>) -> Response {
    let mut r = state.keys.jwks_bytes().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Short enough that a pre-published key is seen well within the rotation delay.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
