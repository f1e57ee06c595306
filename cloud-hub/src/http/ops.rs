//! Operations endpoints: liveness (`/healthz`), readiness (`/readyz`: the
//! database answers), Prometheus metrics (`/metrics`, see `crate::metrics`)
//! and the OpenAPI document (`/api/v1/openapi.json`, see `super::openapi`).
//! None needs a token: they say nothing about tenants.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use crate::hub::Hub;

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/auth/jwks", get(jwks_api))
}

/// The process answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// The hub can serve: its database answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// Always `ok`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "hub_healthz", tag = "ops",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers (503 `not_ready` when it does not).
#[utoipa::path(get, path = "/readyz", operation_id = "hub_readyz", tag = "ops",
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody, description = "The database is not reachable")))]
pub async fn readyz(State(hub): State<Arc<Hub>>) -> Response {
    match hub.db.ping().await {
        Ok(()) => Json(Ready {
            status: "ok",
            database: hub.db.backend(),
        })
        .into_response(),
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

/// Prometheus text format: requests by route and status, their latency, sign-ins by outcome, open sync connections.
#[utoipa::path(get, path = "/metrics", operation_id = "hub_metrics", tag = "ops",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain", body = String)))]
pub async fn metrics(state: State<Arc<Hub>>) -> Response {
    crate::metrics::metrics_text(state).await
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "hub_openapi", tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document of the hub", body = Object)))]
pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::json(),
    )
        .into_response()
}

/// `GET /api/v1/auth/jwks`: the same key set as `/.well-known/jwks.json`, under the API prefix.
#[utoipa::path(get, path = "/api/v1/auth/jwks", operation_id = "hub_jwks_api", tag = "accounts",
    responses((status = 200, body = Object, description = "JWK set: OKP / Ed25519 keys")))]
pub async fn jwks_api(state: State<Arc<Hub>>) -> Response {
    super::auth::jwks(state).await
}
