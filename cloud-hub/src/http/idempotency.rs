//! `Idempotency-Key` on every write (POST, PUT, PATCH, DELETE), as a layer.
//!
//! The first request with a key claims `(principal, key)` in the database,
//! runs, and, when it succeeds (2xx), its answer is stored; a retry with the
//! same key and the same request gets that answer again
//! (`Idempotent-Replayed: true`) and changes nothing. The same key with a
//! different request is 422 `idempotency_key_reused`; a duplicate that arrives
//! while the first is still running is 409 `request_in_flight` (on any
//! replica: the claim is a database row). A failed request (4xx/5xx) releases
//! its claim, so a retry runs again. A claim left by a crashed replica is taken
//! over after a minute. Answers are kept for 24 hours.
//!
//! A malformed key is 400 `invalid_idempotency_key`, except for a method the
//! route does not take (405) and on a route that needs a token (as the
//! OpenAPI document says) called without a valid one (401), as without the header.
//!
//! A replay authenticates like a new request: a bearer token must still be
//! live (a signed-out session's token gets 401, not the stored answer), and the
//! routes whose credential travels in the body and is spent or checked by the
//! handler ([`RUN_EVERY_TIME`]: sign-in, refresh) are never answered from
//! storage, so a resent spent refresh token meets reuse detection.
//!
//! The principal is the signed-in user (or the admin token), else the client
//! IP. Stored answers may carry tokens (a login's refresh token, an
//! invitation's token), so they are sealed with ChaCha20-Poly1305, and the
//! request fingerprint is an HMAC (a login body holds a password): both keys
//! are derived from the admin token, which never enters the database. A
//! database dump alone reveals no secret.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::MAX_BODY_BYTES;
use super::error::ApiError;
use super::extract::bearer;
use crate::auth::extract::{authenticate, client_ip};
use crate::db::Reservation;
use crate::hub::Hub;

/// A claim older than this whose request never finished is taken over.
const STALE_AFTER_MS: i64 = 60_000;
/// Writes a retry runs again instead of replaying: their credential is in
/// the body and their handler spends it (a refresh token) or checks it (a
/// password), and their answer is a live token pair. Replaying a refresh would
/// hand a working pair to whoever resends a spent token and skip reuse
/// detection (OAuth 2.0 Security BCP, refresh token rotation); a retried
/// sign-in simply opens another session. Sign-up and invitation acceptance stay
/// replayable: running them twice fails (the email, the invitation is taken).
const RUN_EVERY_TIME: &[&str] = &["/api/v1/auth/login", "/api/v1/auth/refresh"];

/// Largest answer stored for replay.
const MAX_STORED_ANSWER: usize = 4 * 1024 * 1024;

fn is_write(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The `Idempotency-Key` header: absent, or 1 to 255 visible ASCII characters.
fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("");
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(s.to_owned()))
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let empty = body.is_empty();
    let mut r = (status, body).into_response();
    if !empty {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

/// The layer (`axum::middleware::from_fn_with_state`).
pub async fn idempotency(State(hub): State<Arc<Hub>>, req: Request, next: Next) -> Response {
    if !is_write(req.method()) {
        return next.run(req).await;
    }
    let key = match key_of(&req) {
        Ok(Some(k)) => k,
        Ok(None) => return next.run(req).await,
        Err(e) => {
            // A method the route does not take is 405, and a route that needs a
            // token answers 401 without one, whatever the key.
            let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str());
            let needs_token = route.and_then(|r| super::openapi::needs_token(req.method(), r));
            let Some(needs_token) = needs_token else {
                return next.run(req).await;
            };
            let (parts, _) = req.into_parts();
            if needs_token && let Err(denied) = authenticate(&parts, &hub).await {
                return denied.into_response();
            }
            return e.into_response();
        }
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    if route
        .as_deref()
        .is_some_and(|r| RUN_EVERY_TIME.contains(&r))
    {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let ip_principal = || {
        format!(
            "ip:{}",
            client_ip(&parts, hub.auth.config.trust_forwarded_for)
        )
    };
    // Authenticated as the handler will be (a live session, not just a good
    // signature), so a stored answer never outlives its caller's sign-out.
    let principal = match bearer(&parts.headers) {
        Some(_) => match authenticate(&parts, &hub).await {
            Ok(caller) => caller.principal(),
            Err(denied)
                if route
                    .as_deref()
                    .and_then(|r| super::openapi::needs_token(&parts.method, r))
                    == Some(true) =>
            {
                return denied.into_response();
            }
            // A route that also serves anonymous callers runs as for one.
            Err(_) => ip_principal(),
        },
        None => ip_principal(),
    };
    // A picture upload is read up to its own limit and refused in its own words.
    let picture = route.as_deref() == Some(super::images::UPLOAD_ROUTE);
    let limit = if picture {
        super::images::MAX_IMAGE_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) if picture => return super::images::too_large(None).into_response(),
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
            .into_response();
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let fingerprint = hub.sealer.fingerprint(&parts.method, path, &bytes);
    let now = hub.now_ms();
    match hub
        .db
        .idem_reserve(&principal, &key, &fingerprint, now, now - STALE_AFTER_MS)
        .await
    {
        Err(e) => return ApiError::internal(e).into_response(),
        Ok(Reservation::InFlight) => {
            return ApiError::conflict(
                "request_in_flight",
                "a request with this Idempotency-Key is still being processed: retry shortly",
            )
            .into_response();
        }
        Ok(Reservation::Done { request_hash, .. }) if request_hash != fingerprint => {
            return ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request",
            )
            .into_response();
        }
        Ok(Reservation::Done { status, body, .. }) => {
            return match hub.sealer.open(&body) {
                Some(plain) => replay(status, plain),
                None => ApiError::conflict(
                    "idempotent_answer_unavailable",
                    "this request was already done, but its stored answer cannot be read (the hub's secret changed)",
                )
                .into_response(),
            };
        }
        Ok(Reservation::Fresh) => {}
    }
    // The request runs to its end in a task of its own: a client that goes away
    // mid-request (a killed box, a dropped connection) must not leave the write half
    // done or its key claimed until it goes stale, so the retry gets the stored answer.
    let run = tokio::spawn(async move {
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        if !response.status().is_success() {
            if let Err(e) = hub.db.idem_release(&principal, &key).await {
                tracing::warn!(error = %e, "could not release an idempotency key");
            }
            return response;
        }
        let (rparts, rbody) = response.into_parts();
        let answer = match axum::body::to_bytes(rbody, MAX_STORED_ANSWER).await {
            Ok(b) => b,
            Err(e) => {
                let _ = hub.db.idem_release(&principal, &key).await;
                return ApiError::internal(format!("answer unreadable: {e}")).into_response();
            }
        };
        let stored = match hub.sealer.seal(&answer) {
            Ok(sealed) => hub
                .db
                .idem_complete(&principal, &key, rparts.status.as_u16(), sealed)
                .await
                .map_err(ApiError::internal),
            Err(e) => Err(ApiError::internal(e)),
        };
        if stored.is_err() {
            // The effect happened; the answer still goes out. A retry would run again.
            let _ = hub.db.idem_release(&principal, &key).await;
        }
        Response::from_parts(rparts, Body::from(answer))
    });
    run.await.unwrap_or_else(|e| {
        ApiError::internal(format!("the request's task failed: {e}")).into_response()
    })
}
