//! The bridge between the MQTT bus and the node's domain.
//!
//! **Devices to node.** The broker reports who connects and disconnects (the
//! device's health follows at once) and what devices publish under their own
//! topics:
//! - `store/{store}/devices/{id}/status`: a heartbeat or the device's last will,
//!   payload `online` / `offline` or JSON `{"state": "online"|"offline", ...}`.
//! - `store/{store}/devices/{id}/bump`: a KDS screen finished its station's part
//!   of an order, JSON `{"order_id": "...", "station": "grill"}` (the station
//!   must be the screen's own). The node records it exactly as a bump on the
//!   KDS web app, as `device:{id}`.
//!
//! **Node to devices.** Every order event is published, compacted, on
//! `store/{store}/broadcast/orders` (JSON `{type, order_id, ticket, status,
//! stations_done}`), so order-ready boards and MQTT screens follow along.
//! MQTT is a best-effort LAN bus: the event log stays the source of truth.
//!
//! **Device health to the log.** When a device's health changes state
//! (online, attention, offline, MQTT connected, what blocks a printer), the
//! node appends a `device.health` event (`{id, kind, name, station, health}`),
//! at most one per device a second, so the hub sees the store's devices
//! through sync. Heartbeats and `last_seen` alone are not logged.

use std::sync::Arc;

use domain::Ident;
use domain::device::DeviceKind;
use serde::Deserialize;

use crate::devices::HealthState;
use crate::mqtt::DeviceSignal;
use crate::state::AppState;
use api_kit::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bump {
    order_id: uuid::Uuid,
    station: Ident,
}

/// Starts both directions and the health log; returns their tasks.
pub fn spawn(state: Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let health = tokio::spawn(log_health(state.clone()));
    let Some(mqtt) = state.mqtt.clone() else {
        return vec![health];
    };
    let mut signals = mqtt.signals();
    let s = state.clone();
    let inbound = tokio::spawn(async move {
        loop {
            match signals.recv().await {
                Ok(sig) => on_signal(&s, sig).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "device bridge fell behind the broker's signals");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let mut bus = state.bus.subscribe();
    let topic = format!(
        "{}/orders",
        domain::device::topics::broadcast_root(&state.config.store.id)
    );
    let outbound = tokio::spawn(async move {
        loop {
            let ev = match bus.recv().await {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if !ev.kind.starts_with("order.") {
                continue;
            }
            let o = &ev.data["order"];
            let msg = serde_json::json!({
                "type": ev.kind,
                "order_id": o["id"],
                "ticket": o["ticket"],
                "status": o["status"],
                "channel": o["channel"],
                "stations_done": o["stations_done"],
            });
            if let Err(e) = mqtt
                .publish(&topic, msg.to_string().into_bytes(), false)
                .await
            {
                tracing::debug!(error = %e, "could not publish an order update on MQTT");
            }
        }
    });
    vec![health, inbound, outbound]
}

/// What of a device's health is worth an event: its state and the print jobs
/// that failed on it, not when it was last seen.
type Summary = (HealthState, bool, Option<&'static str>, u32);

fn summary(h: &crate::devices::Health, dead_jobs: u32) -> Summary {
    (
        h.state,
        h.mqtt_connected,
        h.printer.as_ref().and_then(|p| p.blocker()),
        dead_jobs,
    )
}

/// Print jobs on `device` that failed every attempt and wait for a person (the dead-letter list).
fn dead_jobs(conn: &rusqlite::Connection, device: &str) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COUNT(*) FROM print_jobs WHERE device_id = ?1 AND state = 'dead'",
        [device],
        |r| r.get(0),
    )
}

/// Appends `device.health` events for state changes, coalesced to one per device a second.
/// The event's `health` carries `dead_jobs`, the device's failed print jobs, so the hub
/// can tell the merchant about tickets that did not print.
async fn log_health(state: Arc<AppState>) {
    use std::collections::{HashMap, HashSet};
    let mut notices = state.notices.subscribe();
    let mut logged: HashMap<String, Summary> = HashMap::new();
    let mut pending: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            n = notices.recv() => match n {
                Ok(n) if n["type"] == crate::events::kind::DEVICE_STATUS => {
                    if let Some(id) = n["data"]["id"].as_str() {
                        pending.insert(id.to_owned());
                    }
                }
                // A job died, printed, or was sent again: the device's failed jobs may have changed.
                Ok(n) if n["type"] == "print.job" => {
                    if let Some(id) = n["data"]["device_id"].as_str() {
                        pending.insert(id.to_owned());
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick(), if !pending.is_empty() => {
                for id in std::mem::take(&mut pending) {
                    let health = state.devices.health(&id);
                    let dev = id.clone();
                    let dead = match state.db.read(move |conn| dead_jobs(conn, &dev)).await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(device = %id, error = %e, "could not count a device's failed print jobs");
                            continue;
                        }
                    };
                    let now = summary(&health, dead);
                    if logged.get(&id) == Some(&now) {
                        continue;
                    }
                    let mut health = match serde_json::to_value(&health) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::warn!(device = %id, error = %e, "could not write a device's health");
                            continue;
                        }
                    };
                    health["dead_jobs"] = dead.into();
                    let dev = id.clone();
                    let written = state
                        .db
                        .write(move |ctx| -> Result<(), crate::db::WriteError> {
                            let Some(d) = crate::devices::load(ctx.conn, &dev)? else {
                                return Ok(());
                            };
                            ctx.append(
                                crate::events::kind::DEVICE_HEALTH,
                                Some(&dev),
                                serde_json::json!({
                                    "id": dev, "kind": d.kind, "name": d.name,
                                    "station": d.station, "active": d.active, "health": health,
                                }),
                            )?;
                            Ok(())
                        })
                        .await;
                    match written {
                        Ok(()) => {
                            logged.insert(id, now);
                        }
                        Err(e) => tracing::warn!(device = %id, error = %e, "could not log a device's health"),
                    }
                }
            }
        }
    }
}

async fn on_signal(state: &Arc<AppState>, sig: DeviceSignal) {
    match sig {
        DeviceSignal::Connected { device } => state.devices.update(&device, |h| {
            h.mqtt_connected = true;
            h.state = HealthState::Online;
            h.last_error = None;
            h.last_seen_ms = Some(state.now().as_u64());
        }),
        DeviceSignal::Disconnected { device, reason } => state.devices.update(&device, |h| {
            h.mqtt_connected = false;
            h.state = HealthState::Offline;
            h.last_error = Some(format!("disconnected: {reason}"));
        }),
        DeviceSignal::Violation {
            device,
            peer,
            reason,
        } => {
            tracing::warn!(device = ?device, %peer, reason, "MQTT client broke the rules and was disconnected");
            if let Some(d) = device {
                state
                    .devices
                    .update(&d, |h| h.last_error = Some(format!("refused: {reason}")));
            }
        }
        DeviceSignal::Message {
            device,
            subtopic,
            payload,
        } => match subtopic.as_str() {
            "status" => on_status(state, &device, &payload),
            "bump" => {
                if let Err(e) = on_bump(state, &device, &payload).await {
                    tracing::info!(device, code = e.code, error = %e.message, "refused a bump from a device");
                    state.devices.update(&device, |h| {
                        h.last_error = Some(format!("bump refused: {}", e.message))
                    });
                }
            }
            _ => state.devices.seen(&device, state.now()),
        },
    }
}

fn on_status(state: &AppState, device: &str, payload: &[u8]) {
    let text = String::from_utf8_lossy(payload);
    let said = match text.trim() {
        "online" => Some(true),
        "offline" => Some(false),
        t => serde_json::from_str::<serde_json::Value>(t)
            .ok()
            .and_then(|v| {
                v.get("state")
                    .and_then(|s| s.as_str())
                    .map(|s| s == "online")
            }),
    };
    state.devices.update(device, |h| {
        h.last_seen_ms = Some(state.now().as_u64());
        match said {
            Some(true) => {
                h.state = HealthState::Online;
                h.last_error = None;
            }
            // A last will arrives after the connection is gone; a device may also say it is going away.
            Some(false) => h.state = HealthState::Offline,
            None => {}
        }
    });
}

async fn on_bump(state: &Arc<AppState>, device: &str, payload: &[u8]) -> Result<(), ApiError> {
    let bump: Bump = serde_json::from_slice(payload).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("a bump is {{\"order_id\",\"station\"}}: {e}"),
        )
    })?;
    let id = device.to_owned();
    let screen = state
        .db
        .read(move |c| crate::devices::load(c, &id))
        .await?
        .filter(|d| d.active)
        .ok_or_else(|| ApiError::not_found("device"))?;
    if screen.kind != DeviceKind::KdsScreen || screen.station.as_ref() != Some(&bump.station) {
        return Err(ApiError::forbidden(format!(
            "{device} may bump only its own station's tickets"
        )));
    }
    state.devices.seen(device, state.now());
    let by = format!("device:{device}");
    let order = bump.order_id.to_string();
    state
        .db
        .write(move |ctx| -> Result<_, ApiError> {
            let now = ctx.now();
            Ok(crate::orders::mark_station_done(
                ctx,
                &order,
                &bump.station,
                &by,
                now,
            )?)
        })
        .await?;
    Ok(())
}
