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

/// Removes the key from the in-flight set when the request ends, however it ends.
struct InFlight<'a> {
    state: &'a AppState,
    slot: (String, String),
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.in_flight.lock() {
            s.remove(&self.slot);
        }
    }
}

enum Outcome {
    Fresh(serde_json::Value),
    Replay(u16, String),
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
    let slot = (principal.to_owned(), key.clone());
    {
        let mut set = state.in_flight.lock().map_err(ApiError::internal)?;
        if !set.insert(slot.clone()) {
            return Err(ApiError::conflict(
                "request_in_flight",
                "a request with this Idempotency-Key is still being processed: retry shortly",
            ));
        }
    }
    let _guard = InFlight { state, slot };
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
            ctx.conn
                .prepare_cached(
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
            Ok(Outcome::Fresh(value))
        })
        .await?;
    Ok(match outcome {
        Outcome::Fresh(v) => (status, axum::Json(v)).into_response(),
        Outcome::Replay(code, body) => {
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
    })
}
