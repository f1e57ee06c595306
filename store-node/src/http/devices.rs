//! Devices and printing: register, change and remove devices (managers),
//! see their health (all staff), the print queue and its dead-letter list,
//! reprints and receipt copies.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use domain::Ident;
use domain::device::DeviceKind;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ReadErrors, StorageErrors, WriteErrors};
use super::extract::{IdempotencyKey, JsonBody, Path, Query};
use super::idempotency;
use crate::auth::{Auth, perm};
use crate::devices::{self, Device, DeviceView, Transport};
use crate::orders::{self, OrdersError};
use crate::printing::{self, JobKind, JobState, NewJob, PrintJob};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/devices", get(list).post(create))
        .route(
            "/api/v1/devices/{id}",
            get(get_one).put(update).delete(remove),
        )
        .route("/api/v1/devices/{id}/credentials", post(rotate))
        .route("/api/v1/devices/{id}/test-print", post(test_print))
        .route("/api/v1/print-jobs", get(jobs))
        .route("/api/v1/print-jobs/{id}/reprint", post(reprint))
        .route("/api/v1/orders/{id}/receipt", post(receipt_copy))
}

/// Registering a device.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Letters, digits, `-` and `_`, at most 64: also the device's MQTT user name.
    #[schema(value_type = String, example = "grill-printer")]
    pub id: Ident,
    pub kind: DeviceKind,
    #[schema(example = "Grill printer")]
    pub name: String,
    /// Kitchen printers and KDS screens: the station they serve.
    #[schema(value_type = Option<String>, example = "grill")]
    pub station: Option<Ident>,
    pub transport: Transport,
}

/// Changing a device: everything but its id and kind.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceChange {
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub station: Option<Ident>,
    pub transport: Transport,
}

/// How a device signs in to the node's MQTT broker. The password is shown only here.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MqttAccess {
    /// Use the device id as both client id and user name.
    pub client_id: String,
    pub username: String,
    pub password: String,
    /// The device may publish under this prefix (`.../status` for heartbeats and its last will).
    pub publish_prefix: String,
    /// The device may subscribe to these filters.
    pub subscribe: Vec<String>,
    /// The broker's plain and TLS ports on this node, if they listen.
    pub port: Option<u16>,
    pub tls_port: Option<u16>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisteredDevice {
    pub device: DeviceView,
    pub mqtt: MqttAccess,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Also list removed devices.
    pub include_removed: Option<bool>,
}

fn check_id(id: &Ident) -> ApiResult<()> {
    if id.as_str() == crate::mqtt::topics::NODE_CLIENT_ID {
        return Err(ApiError::unprocessable(
            "invalid_device_id",
            "that id is the node's own MQTT client id: pick another",
        ));
    }
    if id.as_str().contains('.') {
        return Err(ApiError::unprocessable(
            "invalid_device_id",
            "a device id may hold letters, digits, '-' and '_' only (it is an MQTT user name and topic level)",
        ));
    }
    Ok(())
}

fn file_dir(state: &AppState) -> std::path::PathBuf {
    let dir = state
        .config
        .print
        .file_dir
        .clone()
        .unwrap_or_else(|| state.config.data_dir.join("print-files"));
    std::path::absolute(&dir).unwrap_or(dir)
}

fn check(
    state: &AppState,
    kind: DeviceKind,
    name: &str,
    station: Option<&Ident>,
    transport: &Transport,
) -> ApiResult<()> {
    domain::device::validate(kind, name, transport.link(), station)
        .map_err(|e| ApiError::unprocessable("invalid_device", e.to_string()))?;
    transport
        .check(&file_dir(state))
        .map_err(|e| ApiError::unprocessable("invalid_transport", e))?;
    if let Some(s) = station {
        let menu = state.menu();
        if !menu.menu.stations.iter().any(|st| &st.id == s) {
            return Err(ApiError::unprocessable(
                "unknown_station",
                format!("the menu has no station {s}"),
            ));
        }
    }
    Ok(())
}

/// A drawer wired to a printer needs that receipt printer to exist.
async fn check_drawer_printer(state: &AppState, transport: &Transport) -> ApiResult<()> {
    let Transport::ViaPrinter { printer_id } = transport else {
        return Ok(());
    };
    let p = printer_id.as_str().to_owned();
    let printer = state.db.read(move |c| devices::load(c, &p)).await?;
    if !printer.is_some_and(|p| p.active && p.kind == DeviceKind::ReceiptPrinter) {
        return Err(ApiError::unprocessable(
            "unknown_printer",
            format!("no receipt printer {printer_id} is registered to wire the drawer to"),
        ));
    }
    Ok(())
}

fn view(
    state: &AppState,
    d: Device,
    counts: &std::collections::HashMap<String, (u32, u32)>,
) -> DeviceView {
    let mut health = state.devices.health(d.id.as_str());
    // The broker knows best whether the device is connected right now.
    health.mqtt_connected = state
        .mqtt
        .as_ref()
        .is_some_and(|m| m.online().iter().any(|o| o == d.id.as_str()));
    let (queued_jobs, dead_jobs) = counts.get(d.id.as_str()).copied().unwrap_or((0, 0));
    DeviceView {
        device: d,
        health,
        queued_jobs,
        dead_jobs,
    }
}

/// A device's view with its current queue counts, as JSON for an idempotent answer.
fn view_json(
    state: &AppState,
    conn: &rusqlite::Connection,
    d: Device,
) -> ApiResult<serde_json::Value> {
    let counts = devices::queue_counts(conn)?;
    serde_json::to_value(view(state, d, &counts)).map_err(ApiError::internal)
}

fn access(state: &AppState, id: &str, password: String) -> MqttAccess {
    let store = &state.config.store.id;
    let root = domain::device::topics::device_root(store, id);
    MqttAccess {
        client_id: id.to_owned(),
        username: id.to_owned(),
        password,
        publish_prefix: format!("{root}/"),
        subscribe: vec![
            format!("{root}/#"),
            format!("{}/#", domain::device::topics::broadcast_root(store)),
        ],
        port: state
            .mqtt
            .as_ref()
            .and_then(|m| m.plain_addr())
            .map(|a| a.port()),
        tls_port: state
            .mqtt
            .as_ref()
            .and_then(|m| m.tls_addr())
            .map(|a| a.port()),
    }
}

/// After a registry write: reload credentials, match lanes to printers, announce.
async fn registry_changed(state: &Arc<AppState>, id: &str) {
    let reg = state.devices.clone();
    let devices = state
        .db
        .read(move |c| {
            reg.load_secrets(c)?;
            devices::list(c, false)
        })
        .await;
    match devices {
        Ok(devices) => {
            state.lanes.sync(state, &devices);
            if !devices.iter().any(|d| d.id.as_str() == id)
                && let Some(m) = &state.mqtt
            {
                m.disconnect(id);
            }
        }
        Err(e) => tracing::error!(error = %e, "reloading the device registry"),
    }
    let _ = state
        .notices
        .send(serde_json::json!({ "type": "device.changed", "data": { "id": id } }));
}

/// List devices with their health and print queues.
#[utoipa::path(get, path = "/api/v1/devices", operation_id = "list_devices", tag = "devices", params(ListParams),
    responses((status = 200, body = DeviceList), ReadErrors),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::DeviceRead>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<DeviceList>> {
    let all = p.include_removed.unwrap_or(false);
    let (devices, counts) = state
        .db
        .read(move |c| Ok((devices::list(c, all)?, devices::queue_counts(c)?)))
        .await?;
    Ok(Json(DeviceList {
        devices: devices
            .into_iter()
            .map(|d| view(&state, d, &counts))
            .collect(),
    }))
}

/// One device with its health.
#[utoipa::path(get, path = "/api/v1/devices/{id}", operation_id = "get_device", tag = "devices",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceView), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::DeviceRead>,
    Path(id): Path<Ident>,
) -> ApiResult<Json<DeviceView>> {
    let (d, counts) = state
        .db
        .read(move |c| Ok((devices::load(c, id.as_str())?, devices::queue_counts(c)?)))
        .await?;
    let d = d.ok_or_else(|| ApiError::not_found("device"))?;
    Ok(Json(view(&state, d, &counts)))
}

/// Register a device (managers). Returns its MQTT credentials once.
///
/// The id of a removed device may be registered again (a replaced screen or
/// printer keeps its id); it gets new credentials, and the old ones stop working.
///
/// Printers start printing at once; a kitchen printer takes the tickets of
/// its station, the first receipt printer takes receipts.
#[utoipa::path(post, path = "/api/v1/devices", operation_id = "register_device", tag = "devices", request_body = NewDevice,
    params(("Idempotency-Key" = String, Header, description = "Unique per registration; reuse it on retry")),
    responses((status = 201, body = RegisteredDevice), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::DeviceManage>,
    key: IdempotencyKey,
    body: JsonBody<NewDevice>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let req = body.value;
    check_id(&req.id)?;
    let name = req.name.trim().to_owned();
    check(
        &state,
        req.kind,
        &name,
        req.station.as_ref(),
        &req.transport,
    )?;
    check_drawer_printer(&state, &req.transport).await?;
    let secret = devices::new_secret();
    let hash = devices::hash_secret(secret.as_bytes());
    let id = req.id.as_str().to_owned();
    let mqtt = access(&state, &id, secret);
    let st = state.clone();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        body.hash,
        StatusCode::CREATED,
        move |ctx| {
            // A removed device's id is free again: a replaced screen or printer takes its old id
            // (also its MQTT user name) with new settings and a new secret. Its old jobs stay as
            // they were (dead-lettered at the removal).
            if devices::load(ctx.conn, req.id.as_str())?.is_some_and(|d| d.active) {
                return Err(ApiError::conflict(
                    "device_exists",
                    format!("a device {} is already registered (remove it first to replace it, or pick another id)", req.id),
                ));
            }
            let now = ctx.now().as_u64();
            let transport = serde_json::to_string(&req.transport).map_err(ApiError::internal)?;
            ctx.conn.execute(
                "INSERT INTO devices (id, kind, name, station, transport, secret_hash, active, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                     station = excluded.station, transport = excluded.transport,
                     secret_hash = excluded.secret_hash, active = 1,
                     created_ms = excluded.created_ms, updated_ms = excluded.updated_ms",
                rusqlite::params![
                    req.id.as_str(),
                    req.kind.as_str(),
                    name,
                    req.station.as_ref().map(|s| s.as_str()),
                    transport,
                    hash,
                    now as i64
                ],
            )?;
            let d = devices::load(ctx.conn, req.id.as_str())?
                .ok_or_else(|| ApiError::internal("device vanished after insert"))?;
            let device = view(&st, d, &Default::default());
            serde_json::to_value(RegisteredDevice { device, mqtt }).map_err(ApiError::internal)
        },
    )
    .await?;
    // A connection still open under this id (the device it replaces) must not outlive its secret.
    if resp.status() == StatusCode::CREATED
        && !resp.headers().contains_key("idempotent-replayed")
        && let Some(m) = &state.mqtt
    {
        m.disconnect(&id);
    }
    registry_changed(&state, &id).await;
    Ok(resp)
}

/// Change a device's name, station or connection (managers).
#[utoipa::path(put, path = "/api/v1/devices/{id}", operation_id = "update_device", tag = "devices", request_body = DeviceChange,
    params(("id" = String, Path, description = "Device id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = DeviceView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::DeviceManage>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
    body: JsonBody<DeviceChange>,
) -> ApiResult<Response> {
    let req = body.value;
    let name = req.name.trim().to_owned();
    let idc = id.as_str().to_owned();
    let current = state
        .db
        .read(move |c| devices::load(c, &idc))
        .await?
        .filter(|d| d.active)
        .ok_or_else(|| ApiError::not_found("device"))?;
    check(
        &state,
        current.kind,
        &name,
        req.station.as_ref(),
        &req.transport,
    )?;
    check_drawer_printer(&state, &req.transport).await?;
    let st = state.clone();
    let idc = id.as_str().to_owned();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        key.0,
        format!("{}:{}", id, body.hash),
        StatusCode::OK,
        move |ctx| {
            let transport = serde_json::to_string(&req.transport).map_err(ApiError::internal)?;
            let n = ctx.conn.execute(
                "UPDATE devices SET name = ?1, station = ?2, transport = ?3, updated_ms = ?4 WHERE id = ?5 AND active = 1",
                rusqlite::params![name, req.station.as_ref().map(|s| s.as_str()), transport, ctx.now().as_i64(), idc],
            )?;
            if n == 0 {
                return Err(ApiError::not_found("device"));
            }
            let d = devices::load(ctx.conn, &idc)?.ok_or_else(|| ApiError::not_found("device"))?;
            view_json(&st, ctx.conn, d)
        },
    )
    .await?;
    registry_changed(&state, id.as_str()).await;
    Ok(resp)
}

/// Remove a device (managers): it stops printing and its MQTT sign-in stops working.
///
/// Jobs still queued for a removed printer fail into the dead-letter list, where
/// a manager can send them to another printer.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", operation_id = "remove_device", tag = "devices",
    params(("id" = String, Path, description = "Device id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = DeviceView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::DeviceManage>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
) -> ApiResult<Response> {
    let st = state.clone();
    let idc = id.as_str().to_owned();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        key.0,
        format!("remove-device {id}"),
        StatusCode::OK,
        move |ctx| {
            let d = devices::load(ctx.conn, &idc)?.ok_or_else(|| ApiError::not_found("device"))?;
            let now = ctx.now().as_i64();
            ctx.conn.execute(
                "UPDATE devices SET active = 0, updated_ms = ?1 WHERE id = ?2",
                rusqlite::params![now, idc],
            )?;
            ctx.conn.execute(
                "UPDATE print_jobs SET state = 'dead', last_error = 'printer removed', updated_ms = ?1
                 WHERE device_id = ?2 AND state = 'queued'",
                rusqlite::params![now, idc],
            )?;
            view_json(&st, ctx.conn, Device { active: false, updated_ms: now as u64, ..d })
        },
    )
    .await?;
    registry_changed(&state, id.as_str()).await;
    Ok(resp)
}

/// Issue a new MQTT password for a device (managers); the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/devices/{id}/credentials", operation_id = "rotate_device_credentials", tag = "devices",
    params(("id" = String, Path, description = "Device id"),
           ("Idempotency-Key" = String, Header, description = "Unique per rotation; reuse it on retry")),
    responses((status = 201, body = MqttAccess), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::DeviceManage>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let secret = devices::new_secret();
    let hash = devices::hash_secret(secret.as_bytes());
    let access = access(&state, id.as_str(), secret);
    let idc = id.as_str().to_owned();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        format!("rotate {id}"),
        StatusCode::CREATED,
        move |ctx| {
            let n = ctx.conn.execute(
                "UPDATE devices SET secret_hash = ?1, updated_ms = ?2 WHERE id = ?3 AND active = 1",
                rusqlite::params![hash, ctx.now().as_i64(), idc],
            )?;
            if n == 0 {
                return Err(ApiError::not_found("device"));
            }
            serde_json::to_value(access).map_err(ApiError::internal)
        },
    )
    .await?;
    if resp.status() == StatusCode::CREATED
        && !resp.headers().contains_key("idempotent-replayed")
        && let Some(m) = &state.mqtt
    {
        m.disconnect(id.as_str());
    }
    registry_changed(&state, id.as_str()).await;
    Ok(resp)
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Queued {
    pub job: PrintJob,
}

/// Print a test page on a printer (managers): the installer's first check.
#[utoipa::path(post, path = "/api/v1/devices/{id}/test-print", operation_id = "test_print", tag = "devices",
    params(("id" = String, Path, description = "Printer id"),
           ("Idempotency-Key" = String, Header, description = "Unique per test print")),
    responses((status = 202, body = Queued), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn test_print(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::DeviceManage>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let head = printing::Letterhead::of(&state);
    let idc = id.as_str().to_owned();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        format!("test-print {id}"),
        StatusCode::ACCEPTED,
        move |ctx| {
            let d = devices::load(ctx.conn, &idc)?
                .filter(|d| d.active)
                .ok_or_else(|| ApiError::not_found("device"))?;
            if !d.kind.is_printer() || d.transport.driver().is_none() {
                return Err(ApiError::unprocessable(
                    "not_a_printer",
                    format!("{} is a {}, not a printer", d.id, d.kind.as_str()),
                ));
            }
            let doc = drivers::render::KitchenDoc {
                station: d
                    .station
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "receipts".into()),
                ticket: "TEST".into(),
                channel: head.name.clone(),
                placed_at: d.name.clone(),
                items: vec![drivers::render::KitchenItem {
                    qty: 1,
                    name: "Test page".into(),
                    modifiers: vec![format!("printer {}", d.id)],
                    note: Some("If you can read this, printing works.".into()),
                }],
                order_note: None,
                reprint: false,
                pickup_at: None,
            };
            let bytes = drivers::render::render_kitchen(&doc, drivers::render::PaperWidth::Mm80)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let job = printing::insert_job(
                ctx,
                NewJob {
                    device_id: &idc,
                    kind: JobKind::Test,
                    order_id: None,
                    station: None,
                    label: format!("Test page on {}", d.name),
                    payload: bytes,
                },
            )?;
            let job = printing::load_job(ctx.conn, &job)?
                .ok_or_else(|| ApiError::internal("job vanished"))?;
            serde_json::to_value(Queued { job }).map_err(ApiError::internal)
        },
    )
    .await?;
    state.lanes.kick();
    Ok(resp)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobParams {
    /// `queued`, `done` or `dead` (the dead-letter list); all when absent.
    pub state: Option<String>,
    /// At most this many, newest first (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub jobs: Vec<PrintJob>,
}

/// The print queue: waiting, printed and dead (failed every attempt) jobs.
#[utoipa::path(get, path = "/api/v1/print-jobs", operation_id = "list_print_jobs", tag = "devices", params(JobParams),
    responses((status = 200, body = JobList), ReadErrors),
    security(("bearer" = [])))]
pub async fn jobs(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::DeviceRead>,
    Query(p): Query<JobParams>,
) -> ApiResult<Json<JobList>> {
    let st = match p.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("unknown state {s:?}: queued, done or dead"),
            )
        })?),
    };
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 500",
        ));
    }
    let jobs = state
        .db
        .read(move |c| printing::list_jobs(c, st, limit))
        .await?;
    Ok(Json(JobList { jobs }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReprintRequest {
    /// Print on this printer instead (a backup); the job's own printer when absent.
    #[schema(value_type = Option<String>)]
    pub device_id: Option<Ident>,
}

/// Print a job again (managers), on its printer or a backup.
///
/// A dead job goes back into the queue with fresh attempts; a printed job is
/// copied into a new job marked as a reprint.
#[utoipa::path(post, path = "/api/v1/print-jobs/{id}/reprint", operation_id = "reprint", tag = "devices", request_body = ReprintRequest,
    params(("id" = uuid::Uuid, Path, description = "Print job id"),
           ("Idempotency-Key" = String, Header, description = "Unique per reprint; reuse it on retry")),
    responses((status = 202, body = Queued), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn reprint(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::DeviceManage>,
    key: IdempotencyKey,
    Path(id): Path<uuid::Uuid>,
    body: JsonBody<ReprintRequest>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let req = body.value;
    // A failed job sent again leaves its printer's dead-letter list: say so after the write.
    let job_id = id.to_string();
    let was = state
        .db
        .read(move |conn| printing::load_job(conn, &job_id))
        .await
        .map_err(ApiError::internal)?;
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        format!("reprint {id} {}", body.hash),
        StatusCode::ACCEPTED,
        move |ctx| {
            let id = id.to_string();
            let job = printing::load_job(ctx.conn, &id)?.ok_or_else(|| ApiError::not_found("print job"))?;
            let target = req.device_id.as_ref().map(|d| d.as_str().to_owned()).unwrap_or(job.device_id.clone());
            let printer = devices::load(ctx.conn, &target)?
                .filter(|d| d.active && d.transport.driver().is_some())
                .ok_or_else(|| ApiError::unprocessable("unknown_printer", format!("no active printer {target}")))?;
            let now = ctx.now().as_i64();
            let new_id = match job.state {
                JobState::Queued => {
                    return Err(ApiError::conflict("job_queued", "the job is still queued: it will print when its printer answers"));
                }
                JobState::Dead => {
                    ctx.conn.execute(
                        "UPDATE print_jobs SET state = 'queued', attempts = 0, device_id = ?1, next_attempt_ms = ?2, updated_ms = ?2 WHERE id = ?3",
                        rusqlite::params![printer.id.as_str(), now, id],
                    )?;
                    id
                }
                JobState::Done => {
                    let payload: Vec<u8> = ctx.conn.query_row(
                        "SELECT payload FROM print_jobs WHERE id = ?1", [&id], |r| r.get(0))?;
                    printing::insert_job(ctx, NewJob {
                        device_id: printer.id.as_str(),
                        kind: job.kind,
                        order_id: job.order_id.as_deref(),
                        station: job.station.as_deref(),
                        label: format!("Reprint: {}", job.label),
                        payload,
                    })?
                }
            };
            let job = printing::load_job(ctx.conn, &new_id)?.ok_or_else(|| ApiError::internal("job vanished"))?;
            serde_json::to_value(Queued { job }).map_err(ApiError::internal)
        },
    )
    .await?;
    if let Some(job) = was.filter(|j| j.state == JobState::Dead) {
        let _ = state.notices.send(serde_json::json!({
            "type": "print.job",
            "data": { "id": job.id, "device_id": job.device_id, "label": job.label, "state": "queued" },
        }));
    }
    state.lanes.kick();
    Ok(resp)
}

/// Print a copy of an order's receipt on the receipt printer.
#[utoipa::path(post, path = "/api/v1/orders/{id}/receipt", operation_id = "print_receipt", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id"),
           ("Idempotency-Key" = String, Header, description = "Unique per copy; reuse it on retry")),
    responses((status = 202, body = Queued), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn receipt_copy(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::PaymentTake>,
    key: IdempotencyKey,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let head = printing::Letterhead::of(&state);
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        format!("receipt {id}"),
        StatusCode::ACCEPTED,
        move |ctx| {
            let id = id.to_string();
            let order = orders::load(ctx.conn, &id)?.ok_or(OrdersError::NotFound)?;
            let payments = orders::payments_of(ctx.conn, &id)?;
            let job = printing::enqueue_receipt(ctx, &head, &order, &payments, false)?.ok_or_else(
                || {
                    ApiError::unprocessable(
                        "no_receipt_printer",
                        "no receipt printer is registered at this store",
                    )
                },
            )?;
            let job = printing::load_job(ctx.conn, &job)?
                .ok_or_else(|| ApiError::internal("job vanished"))?;
            serde_json::to_value(Queued { job }).map_err(ApiError::internal)
        },
    )
    .await?;
    state.lanes.kick();
    Ok(resp)
}
