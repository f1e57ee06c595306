//! Operations: liveness, readiness and Prometheus metrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;
pub use api_types::node::store::StoreInfo;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/sync/status", get(sync_status))
        .route("/api/v1/store", get(store_info))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The node can serve: the database answers, the writer thread runs and the
/// last write did not fail for a full disk (`disk_full`).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready")))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let db_ok = state
        .db
        .read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
        .await
        .is_ok();
    let writer_ok = state.db.writer_alive();
    // Reads still work on a full disk, but no order can be taken: not ready.
    let disk_full = state.db.disk_full();
    // The broker is reported, not required: orders and the KDS work without it.
    let mqtt = serde_json::json!({
        "enabled": state.config.mqtt.enabled,
        "listening": state.mqtt.as_ref().is_some_and(|m| m.plain_addr().is_some() || m.tls_addr().is_some()),
        "error": state.mqtt_error,
    });
    let body = serde_json::json!({ "database": db_ok, "writer": writer_ok, "disk_full": disk_full, "mqtt": mqtt });
    let code = if db_ok && writer_ok && !disk_full {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // Refreshes the store_sync_* gauges from the log.
    crate::sync_client::current(&state).await;
    metrics::gauge!("store_ws_clients_connected")
        .set(state.ws_clients.load(Ordering::Relaxed) as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

/// How the link to the cloud hub is doing: connected, events waiting, last success, lag.
///
/// The node works the same with the hub unreachable; this says how far behind the hub is.
#[utoipa::path(get, path = "/api/v1/sync/status", tag = "ops",
    responses((status = 200, body = crate::sync_client::SyncHealth), super::error::ReadErrors),
    security(("bearer" = [])))]
pub async fn sync_status(
    State(state): State<Arc<AppState>>,
    _auth: crate::auth::Auth<crate::auth::perm::MenuRead>,
) -> Json<crate::sync_client::SyncHealth> {
    Json(crate::sync_client::current(&state).await)
}

/// The store's name and public settings.
#[utoipa::path(get, path = "/api/v1/store", tag = "ops", responses((status = 200, body = StoreInfo)))]
pub async fn store_info(State(state): State<Arc<AppState>>) -> Json<StoreInfo> {
    let settings = state
        .docs
        .lock()
        .map(|d| crate::docs::settings_of(&d))
        .unwrap_or_default();
    Json(StoreInfo {
        id: state.config.store.id.clone(),
        name: settings
            .name
            .unwrap_or_else(|| state.config.store.name.clone()),
        pickup_lead_minutes: settings.pickup_lead_minutes,
        online_ordering: settings.online_ordering,
    })
}
