//! The hub's request extractors: the shared ones (`api-kit`: JSON body, path,
//! query, bearer token, WebSocket upgrade, all answering bad input with the JSON error). Who the caller
//! is and what they may do is decided by the extractors in `crate::auth::extract`.
//! Also the checks of ids and names that several resources share.

pub use api_kit::extract::{JsonBody, Path, Query, WebSocketUpgrade, bearer, parse_json};
use domain::Ident;

use super::error::{ApiError, ApiResult};

/// A staff member's or a store's id: a `domain::Ident` without '.', since the
/// hub has always refused it and its OpenAPI patterns say
/// `^[A-Za-z0-9_-]{1,64}$` (422 `invalid_id`).
pub fn parse_id(id: &str) -> ApiResult<Ident> {
    Ident::parse(id)
        .ok()
        .filter(|id| !id.as_str().contains('.'))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_id",
                "an id is 1 to 64 characters: letters, digits, '-' and '_'",
            )
        })
}

/// A name or label: 1 to 100 characters once trimmed (422 `invalid_body`).
pub fn check_text(field: &str, v: &str) -> ApiResult<()> {
    let n = v.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(ApiError::unprocessable(
            "invalid_body",
            format!("{field} must be 1 to 100 characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_idents_without_dots() {
        assert_eq!(
            parse_id("store-1_A").ok().map(|i| i.to_string()).as_deref(),
            Some("store-1_A")
        );
        for bad in ["", "a b", "a.b", "é", &"a".repeat(65)] {
            let e = parse_id(bad).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, "invalid_id"), "{bad:?}");
        }
    }
}
