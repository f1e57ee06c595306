//! The one error type of the HTTP APIs.
//!
//! Client mistakes become a 4xx with a stable machine-readable code and a
//! sentence a person can read: `{"error":{"code":"...","message":"..."}}`.
//! Internal failures are logged with their cause and answered with a generic
//! 500 that leaks nothing.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub use api_types::error::{ErrorBody, ErrorDetail};

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// The server's disk is full: nothing can be written until space is freed.
    /// Not the client's fault, and not a bug: the same request succeeds later.
    pub fn disk_full(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "write refused: the disk is full");
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            "the server's disk is full, so the request was not applied; free some space and try again",
        )
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server; the request was not applied",
        )
    }
}

#[cfg(feature = "rusqlite")]
impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            ApiError::disk_full(e)
        } else {
            ApiError::internal(e)
        }
    }
}

#[cfg(feature = "sqlx")]
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so this connection cannot
            // carry another request. Saying so stops a client from reusing it
            // and losing its next request to the close (RFC 9110, 15.5.14).
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The errors any authenticated read can answer (for the OpenAPI document).
#[allow(dead_code)] // only its derive is used
#[derive(utoipa::IntoResponses)]
pub enum ReadErrors {
    /// Malformed path, query or header.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No session, an unknown one, or an expired one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The role lacks the permission.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such resource.
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// The errors any write can answer (for the OpenAPI document).
#[allow(dead_code)] // only its derive is used
#[derive(utoipa::IntoResponses)]
pub enum WriteErrors {
    /// Malformed path, header or JSON syntax.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No session, an unknown one, or an expired one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The role lacks the permission.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such resource.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// An illegal transition, or the same Idempotency-Key still in flight.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is larger than the node accepts.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// Valid JSON that breaks a rule (unknown item, sold out, bad modifiers, key reused with another body...).
    #[response(status = 422)]
    Unprocessable(ErrorBody),
}

/// What a write to a server's own disk can answer besides [`WriteErrors`] (for the OpenAPI document).
#[allow(dead_code)] // only its derive is used
#[derive(utoipa::IntoResponses)]
pub enum StorageErrors {
    /// The server's disk is full (`disk_full`): nothing was written; retry once space is freed.
    #[response(status = 507)]
    DiskFull(ErrorBody),
}
