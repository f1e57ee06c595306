//! Menu pictures at the node: `GET /api/v1/public/images/{name}` serves the
//! pictures the node keeps (`crate::images`, fetched from the hub when the
//! synced menu names them) at the hub's path, so a menu item's relative
//! `image` URL shows at the kiosk, the POS and the KDS with the internet
//! down. No sign-in: an `<img>` sends none, and the pictures are the menu's.

use std::sync::Arc;

use api_kit::picture;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Path;
use crate::images::Pictures;
use crate::state::AppState;
use api_types::hub::images::ImageName;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/public/images/{name}", get(get_image))
}

/// A picture of the menu, by name (`<sha256>.<ext>`, as the hub names it),
/// when the node has fetched it from the hub. Cacheable for a year; 304 for a
/// matching `If-None-Match`; 404 `unknown_image` when the node has none by
/// that name (yet).
#[utoipa::path(get, path = "/api/v1/public/images/{name}", tag = "menu",
    params(("name" = String, Path, description = "`<sha256>.<ext>`, as in the menu item's `image`")),
    responses(
        (status = 200, description = "The picture (image/jpeg, image/png or image/webp)"),
        (status = 304, description = "The copy the client has is current"),
        (status = 404, body = ErrorBody, description = "No picture by that name here (`unknown_image`)")))]
pub async fn get_image(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let name = ImageName::parse(&name).ok_or_else(picture::unknown)?;
    let bytes = Pictures::of(&state.config.data_dir)
        .read(&name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(picture::unknown)?;
    Ok(picture::answer(&name, &headers, bytes))
}
