//! Request extractors that answer bad input with our JSON errors instead of
//! axum's plain-text rejections: a JSON body (content type, size, syntax,
//! shape), path and query parameters, the `Idempotency-Key` header, the
//! bearer token, and a WebSocket upgrade.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A JSON body, plus the SHA-256 of its raw bytes (to detect a reused idempotency key).
pub struct JsonBody<T> {
    pub value: T,
    pub hash: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is too large",
                    )
                } else {
                    ApiError::bad_request("unreadable_body", e.body_text())
                }
            })?;
        let hash = hex::encode(Sha256::digest(&bytes));
        let value = parse_json(&bytes)?;
        Ok(JsonBody { value, hash })
    }
}

/// Parses JSON: bytes that are not JSON are 400 `malformed_json`; JSON of the wrong shape is 422 `invalid_body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))
}

/// Path parameters with a JSON 400/404 on failure.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// Query parameters with a JSON 400 on failure.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// A WebSocket upgrade. A plain HTTP request to a WebSocket endpoint is 400
/// `websocket_required` in JSON (axum's own rejection is `text/plain`). Put it
/// after the extractors that check who is calling, or take it as
/// `Result<WebSocketUpgrade, ApiError>` to check first, so a caller without
/// the right still hears 401/403/404 rather than how to connect.
pub struct WebSocketUpgrade(pub axum::extract::ws::WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(WebSocketUpgrade)
            .map_err(|e| {
                ApiError::bad_request(
                    "websocket_required",
                    format!("this endpoint speaks WebSocket only: {}", e.body_text()),
                )
            })
    }
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let bad = || {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        };
        let s = v.to_str().map_err(|_| bad())?;
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(IdempotencyKey(Some(s.to_owned())))
    }
}

impl IdempotencyKey {
    /// For endpoints where a retry without a key could double a real-world effect.
    pub fn required(self) -> Result<String, ApiError> {
        self.0.ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "this request needs an Idempotency-Key header so a retry cannot create a second order",
            )
        })
    }
}

/// The `Authorization: Bearer <token>` value, if there is one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
