//! Menu pictures. A merchant who may edit the menu uploads one
//! (`POST /api/v1/stores/{id}/images`, the raw bytes as the body); the hub
//! checks it, keeps it named by the SHA-256 of its bytes and answers its URL,
//! `/api/v1/public/images/<sha256>.<ext>`, which the dashboard then puts in a
//! menu item's `image` through the usual menu edit. Anyone may fetch a
//! picture (`GET /api/v1/public/images/{name}`): the customer app shows it,
//! and store nodes fetch the pictures their synced menu names and serve them
//! at the same path, so a kiosk shows them with the internet down.
//!
//! What an upload must be, and why:
//! - JPEG, PNG or WebP, declared by `Content-Type` and confirmed by the first
//!   bytes (else 415 `unsupported_image`): the kinds every browser shows, and
//!   none that can carry script (an SVG served from the hub's origin could).
//! - At most [`MAX_IMAGE_BYTES`] (2 MiB; else 413 `image_too_large`, also
//!   from the `Idempotency-Key` layer, which reads the body first). A menu
//!   photo for a 72 px thumbnail or a kiosk tile needs far less.
//! - A header whose width and height can be read, at most [`MAX_SIDE`] pixels
//!   a side (else 422 `image_dimensions`): a small file can declare a huge
//!   canvas that a kiosk would run out of memory drawing. The `imagesize`
//!   crate reads the dimensions from the header alone (no decoding, no
//!   dependencies); the `image` crate would decode whole pictures and brings
//!   a codec per format.
//!
//! The bytes live in the hub's database (`images`, migration 0012), so every
//! replica serves every picture and a backup holds them; a name never changes
//! meaning, so answers are cacheable for a year (`immutable`) with the hash as
//! the ETag.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult, ErrorBody, WriteErrors};
use super::extract::Path;
use crate::auth::{StoreAccess, perm};
use crate::db::images::NewImage;
use crate::hub::Hub;
use api_kit::picture;
pub use api_types::hub::images::{ImageKind, ImageName, StoredImage};

/// The largest picture the hub takes.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// The widest or tallest picture the hub takes, in pixels.
pub const MAX_SIDE: usize = 8192;
/// The upload route, whose body the `Idempotency-Key` layer reads with
/// [`MAX_IMAGE_BYTES`] and refuses with [`too_large`].
pub const UPLOAD_ROUTE: &str = "/api/v1/stores/{id}/images";

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route(UPLOAD_ROUTE, post(upload_image))
        .route("/api/v1/public/images/{name}", get(get_image))
}

/// A picture's bytes, in the OpenAPI document (a `Vec<u8>` would read as an array of numbers).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // only its schema is used
pub struct PictureBytes(Vec<u8>);

/// 413 `image_too_large`; `size` when the request said or showed it.
pub fn too_large(size: Option<u64>) -> ApiError {
    let limit = format!("pictures can be up to 2 MiB ({MAX_IMAGE_BYTES} bytes)");
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "image_too_large",
        match size {
            Some(n) => format!("the picture is {n} bytes; {limit}"),
            None => format!("the picture is larger than 2 MiB; {limit}"),
        },
    )
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_image",
        message,
    )
}

/// What an upload is, once checked.
#[derive(Debug, PartialEq, Eq)]
struct Checked {
    kind: ImageKind,
    width: u32,
    height: u32,
}

/// Checks an upload's bytes against its declared kind.
fn check(declared: ImageKind, bytes: &[u8]) -> ApiResult<Checked> {
    let kind = ImageKind::sniff(bytes).ok_or_else(|| {
        unsupported(format!(
            "the body is not a JPEG, PNG or WebP picture (its first bytes are not a {}'s)",
            declared.label()
        ))
    })?;
    if kind != declared {
        return Err(unsupported(format!(
            "the body is a {} picture, but its Content-Type says {}",
            kind.label(),
            declared.content_type()
        )));
    }
    let size = imagesize::blob_size(bytes).map_err(|e| {
        unsupported(format!(
            "the {} picture's header cannot be read ({e}); it may be cut short or damaged",
            kind.label()
        ))
    })?;
    if size.width == 0 || size.height == 0 {
        return Err(unsupported("the picture has no pixels"));
    }
    if size.width > MAX_SIDE || size.height > MAX_SIDE {
        return Err(ApiError::unprocessable(
            "image_dimensions",
            format!(
                "the picture is {} x {} pixels; pictures can be up to {MAX_SIDE} pixels a side",
                size.width, size.height
            ),
        ));
    }
    Ok(Checked {
        kind,
        width: u32::try_from(size.width).unwrap_or(u32::MAX),
        height: u32::try_from(size.height).unwrap_or(u32::MAX),
    })
}

/// Upload a menu picture: the raw bytes as the body, `Content-Type`
/// `image/jpeg`, `image/png` or `image/webp`, at most 2 MiB and 8192 pixels a
/// side. 415 `unsupported_image` for another type, or bytes that are not the
/// declared kind; 413 `image_too_large`; 422 `image_dimensions`. Answers the
/// picture's URL (201), the same for the same bytes; put it in a menu item's
/// `image` with `PUT /api/v1/stores/{id}/menu`.
#[utoipa::path(post, path = "/api/v1/stores/{id}/images", operation_id = "hub_upload_image", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body(description = "The picture's bytes", content(
        (PictureBytes = "image/jpeg"), (PictureBytes = "image/png"), (PictureBytes = "image/webp"))),
    responses((status = 201, body = StoredImage), WriteErrors),
    security(("bearer" = [])))]
pub async fn upload_image(
    access: StoreAccess<perm::MenuEdit>,
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<StoredImage>)> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(ImageKind::from_content_type)
        .ok_or_else(|| {
            unsupported(
                "send the picture's bytes as the body with Content-Type image/jpeg, image/png or image/webp",
            )
        })?;
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared_len.filter(|n| *n > MAX_IMAGE_BYTES as u64) {
        return Err(too_large(Some(n)));
    }
    let bytes = axum::body::to_bytes(body, MAX_IMAGE_BYTES)
        .await
        .map_err(|_| too_large(None))?;
    let checked = check(declared, &bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let name = ImageName::new(sha256.clone(), checked.kind);
    hub.db
        .put_image(
            &access.store_id,
            &NewImage {
                sha256: &sha256,
                content_type: checked.kind.content_type(),
                bytes: &bytes,
                width: checked.width,
                height: checked.height,
            },
            hub.now_ms(),
        )
        .await?;
    tracing::info!(store = %access.store_id, image = %name.file_name(), bytes = bytes.len(), "picture stored");
    Ok((
        StatusCode::CREATED,
        Json(StoredImage {
            url: name.url(),
            sha256,
            bytes: bytes.len() as u64,
            content_type: checked.kind.content_type().to_owned(),
            width: checked.width,
            height: checked.height,
        }),
    ))
}

/// A menu picture, by the name its upload answered (`<sha256>.<ext>`). Cacheable
/// for a year (the name is the hash of the bytes); 304 for a matching
/// `If-None-Match`; 404 `unknown_image` for any other name.
#[utoipa::path(get, path = "/api/v1/public/images/{name}", operation_id = "hub_get_image", tag = "customer",
    params(("name" = String, Path, description = "`<sha256>.<ext>`, as the upload answered")),
    responses(
        (status = 200, description = "The picture", content(
            (PictureBytes = "image/jpeg"), (PictureBytes = "image/png"), (PictureBytes = "image/webp"))),
        (status = 304, description = "The copy the client has is current"),
        (status = 404, body = ErrorBody, description = "No picture by that name (`unknown_image`)")))]
pub async fn get_image(
    State(hub): State<Arc<Hub>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let name = ImageName::parse(&name).ok_or_else(picture::unknown)?;
    let row = hub
        .db
        .image(&name.sha256)
        .await?
        .filter(|r| r.content_type == name.kind.content_type())
        .ok_or_else(picture::unknown)?;
    Ok(picture::answer(&name, &headers, row.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 x 1 PNG (the smallest a browser shows).
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8,
        0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut p = PNG.to_vec();
        p[16..20].copy_from_slice(&width.to_be_bytes());
        p[20..24].copy_from_slice(&height.to_be_bytes());
        p
    }

    #[test]
    fn uploads_are_checked_by_their_bytes() {
        assert_eq!(
            check(ImageKind::Png, PNG).unwrap(),
            Checked {
                kind: ImageKind::Png,
                width: 1,
                height: 1
            }
        );
        let code = |r: ApiResult<Checked>| r.map(|_| ()).unwrap_err().code;
        assert_eq!(code(check(ImageKind::Jpeg, PNG)), "unsupported_image");
        assert_eq!(code(check(ImageKind::Png, b"<svg/>")), "unsupported_image");
        assert_eq!(code(check(ImageKind::Png, &PNG[..12])), "unsupported_image");
        assert_eq!(
            code(check(ImageKind::Png, &png_of(0, 5))),
            "unsupported_image"
        );
        assert_eq!(
            code(check(ImageKind::Png, &png_of(9000, 10))),
            "image_dimensions"
        );
        assert!(check(ImageKind::Png, &png_of(8192, 8192)).is_ok());
    }
}
