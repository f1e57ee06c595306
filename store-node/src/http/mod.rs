//! The HTTP API under `/api/v1`. Each module owns its router; this one merges
//! them and wraps them in the layers every request goes through: a body size
//! limit, panic catching, request metrics and tracing, and JSON answers for
//! unknown routes and methods.

pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod menu;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod session;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use error::ApiError;

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.http.body_limit_bytes;
    Router::new()
        .merge(session::router())
        .merge(menu::router())
        .merge(orders::router())
        .merge(events::router())
        .merge(ops::router())
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    openapi::json(),
                )
            }),
        )
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        .with_state(state)
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => resp.status().as_u16().to_string()
    )
    .record(start.elapsed().as_secs_f64());
    resp
}
