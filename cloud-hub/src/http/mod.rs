//! The hub's HTTP surface: health, the admin and store API, and the sync socket.

pub mod api;
pub mod error;
pub mod extract;
pub mod node_sync;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::hub::Hub;
use error::ApiError;

/// Largest JSON body the API accepts (a menu is the largest).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

async fn readyz(State(hub): State<Arc<Hub>>) -> Response {
    match hub.db.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": hub.db.backend() })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database is not reachable",
            )
            .into_response()
        }
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on the hub; the request was not applied",
    )
    .into_response()
}

pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/api/v1/sync", get(node_sync::sync_socket))
        .route("/api/v1/admin/stores", post(api::create_store))
        .route(
            "/api/v1/admin/stores/{id}/node-tokens",
            post(api::create_token),
        )
        .route(
            "/api/v1/admin/stores/{id}/node-tokens/revoke",
            post(api::revoke_token),
        )
        .route(
            "/api/v1/stores/{id}/menu",
            get(api::get_menu).put(api::put_menu),
        )
        .route("/api/v1/stores/{id}/orders", get(api::get_orders))
        .route("/api/v1/stores/{id}/staff", get(api::get_staff))
        .route("/api/v1/stores/{id}/staff/{staff_id}", put(api::put_staff))
        .route(
            "/api/v1/stores/{id}/settings",
            get(api::get_settings).put(api::put_settings),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "route not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(hub)
}
