//! How both servers answer for a menu picture (`GET /api/v1/public/images/{name}`):
//! the hub from its database, a store node from its copy on disk. The name is
//! the hash of the bytes, so an answer never goes stale: cacheable for a year
//! (`immutable`), the hash as the ETag, 304 for a client that has it;
//! `nosniff`, so a browser never reads the bytes as anything but the picture
//! kind the name says.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use api_types::hub::images::ImageName;

/// A year: a picture's name is the hash of its bytes, so it never changes.
pub const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

/// 404 `unknown_image`.
pub fn unknown() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_image",
        "there is no picture by that name",
    )
}

/// Whether `If-None-Match` names this picture's ETag (or `*`).
pub fn not_modified(request: &HeaderMap, sha256: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == sha256)
}

fn headers(name: &ImageName) -> [(HeaderName, HeaderValue); 4] {
    let etag = HeaderValue::from_str(&format!("\"{}\"", name.sha256))
        .unwrap_or(HeaderValue::from_static("\"\""));
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(name.kind.content_type()),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_FOREVER),
        ),
        (header::ETAG, etag),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

/// The answer for a picture the server has: 304 when the request's
/// `If-None-Match` names it, else its bytes.
pub fn answer(name: &ImageName, request: &HeaderMap, bytes: Vec<u8>) -> Response {
    if not_modified(request, &name.sha256) {
        return (StatusCode::NOT_MODIFIED, headers(name)).into_response();
    }
    (headers(name), bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, "ab"));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"cd\", W/\"ab\""),
        );
        assert!(not_modified(&h, "ab"));
        assert!(!not_modified(&h, "ef"));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, "ef"));
    }
}
