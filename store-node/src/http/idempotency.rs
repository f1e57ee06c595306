//! `Idempotency-Key` for every write.
//!
//! The first request with a key runs and its response is stored in the same
//! transaction as its effect. A retry with the same key and the same body gets
//! that stored response again (`Idempotent-Replayed: true`) and changes
//! nothing; the same key with a different body is 422; a duplicate that
//! arrives while the first is still running is 409. Keys are scoped to the
//! signed-in staff member.

use std::sync::Arc;

use super::error::ApiError;
use crate::db::WriteCtx;
use crate::replay;
use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A key held for one request: removed from the in-flight set when dropped, however the request ends.
pub struct Reservation<'a> {
    state: &'a AppState,
    slot: (String, String),
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.in_flight.lock() {
            s.remove(&self.slot);
        }
    }
}

/// Holds `key` for `principal` while a request runs; a concurrent duplicate gets 409.
pub fn reserve<'a>(
    state: &'a AppState,
    principal: &str,
    key: &str,
) -> Result<Reservation<'a>, ApiError> {
    let slot = (principal.to_owned(), key.to_owned());
    let mut set = state.in_flight.lock().map_err(ApiError::internal)?;
    if !set.insert(slot.clone()) {
        return Err(ApiError::conflict(
            "request_in_flight",
            "a request with this Idempotency-Key is still being processed: retry shortly",
        ));
    }
    Ok(Reservation { state, slot })
}

enum Outcome {
    Fresh(serde_json::Value),
    Replay(u16, String),
}

/// The stored answer to an earlier request with this key, if there is one.
/// (The same key with a different request is 422.)
pub async fn stored(
    state: &AppState,
    principal: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<Response>, ApiError> {
    let (p, k, h) = (
        principal.to_owned(),
        key.to_owned(),
        request_hash.to_owned(),
    );
    let row = state.db.read(move |c| replay::lookup(c, &p, &k)).await?;
    match row {
        None => Ok(None),
        Some(a) if a.request_hash != h => Err(key_reused()),
        Some(a) => Ok(Some(replayed(a.status, a.body))),
    }
}

fn replayed(code: u16, body: String) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    let mut r = (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

/// 422: the same key with a different request.
fn key_reused() -> ApiError {
    ApiError::unprocessable(
        "idempotency_key_reused",
        "this Idempotency-Key was already used for a different request",
    )
}

/// Runs a write under an optional idempotency key and answers with `status` and the JSON it returns.
pub async fn write<F>(
    state: &Arc<AppState>,
    principal: &str,
    key: Option<String>,
    request_hash: String,
    status: StatusCode,
    f: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&mut WriteCtx<'_>) -> Result<serde_json::Value, ApiError> + Send + 'static,
{
    let Some(key) = key else {
        let v = state.db.write(f).await?;
        return Ok((status, axum::Json(v)).into_response());
    };
    let _guard = reserve(state, principal, &key)?;
    write_reserved(state, principal, key, request_hash, status, f).await
}

/// Like [`write`], for a caller that already holds the key with [`reserve`].
pub async fn write_reserved<F>(
    state: &Arc<AppState>,
    principal: &str,
    key: String,
    request_hash: String,
    status: StatusCode,
    f: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&mut WriteCtx<'_>) -> Result<serde_json::Value, ApiError> + Send + 'static,
{
    let principal = principal.to_owned();
    let outcome = state
        .db
        .write(move |ctx| -> Result<Outcome, ApiError> {
            if let Some(a) = replay::lookup(ctx.conn, &principal, &key)? {
                if a.request_hash != request_hash {
                    return Err(key_reused());
                }
                return Ok(Outcome::Replay(a.status, a.body));
            }
            let value = f(ctx)?;
            replay::store(
                ctx.conn,
                &principal,
                &key,
                &request_hash,
                status.as_u16(),
                &value,
                ctx.now(),
            )?;
            Ok(Outcome::Fresh(value))
        })
        .await?;
    Ok(match outcome {
        Outcome::Fresh(v) => (status, axum::Json(v)).into_response(),
        Outcome::Replay(code, body) => replayed(code, body),
    })
}
