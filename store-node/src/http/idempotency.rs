//! `Idempotency-Key` for every write.
//!
//! The first request with a key runs and its response is stored in the same
//! transaction as its effect. A retry with the same key and the same body gets
//! that stored response again (`Idempotent-Replayed: true`) and changes
//! nothing; the same key with a different body is 422; a duplicate that
//! arrives while the first is still running is 409. Keys are scoped to the
//! signed-in staff member.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::OptionalExtension;

use super::error::ApiError;
use crate::db::{WriteCtx, now_ms};
use crate::state::AppState;

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
    let row = state
        .db
        .read(move |c| {
            c.prepare_cached(
                "SELECT request_hash, status, body FROM idempotency WHERE principal = ?1 AND key = ?2",
            )?
            .query_row([&p, &k], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u16>(1)?, r.get::<_, String>(2)?)))
            .optional()
        })
        .await?;
    match row {
        None => Ok(None),
        Some((hash, _, _)) if hash != h => Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        )),
        Some((_, code, body)) => Ok(Some(replayed(code, body))),
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

/// Stores the answer to a request under its key, in the caller's transaction (with its effect).
pub fn store(
    conn: &rusqlite::Connection,
    principal: &str,
    key: &str,
    request_hash: &str,
    status: StatusCode,
    value: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO idempotency (principal, key, request_hash, status, body, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(rusqlite::params![
        principal,
        key,
        request_hash,
        status.as_u16(),
        value.to_string(),
        now_ms() as i64
    ])?;
    Ok(())
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
            let stored: Option<(String, u16, String)> = ctx
                .conn
                .prepare_cached(
                    "SELECT request_hash, status, body FROM idempotency WHERE principal = ?1 AND key = ?2",
                )?
                .query_row([&principal, &key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            if let Some((hash, code, body)) = stored {
                if hash != request_hash {
                    return Err(ApiError::unprocessable(
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used for a different request",
                    ));
                }
                return Ok(Outcome::Replay(code, body));
            }
            let value = f(ctx)?;
            store(ctx.conn, &principal, &key, &request_hash, status, &value)?;
            Ok(Outcome::Fresh(value))
        })
        .await?;
    Ok(match outcome {
        Outcome::Fresh(v) => (status, axum::Json(v)).into_response(),
        Outcome::Replay(code, body) => replayed(code, body),
    })
}
