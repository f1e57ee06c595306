//! The merchant's overview of an organisation's stores, and the live stream
//! that says when to read it again (issue 15, items 2 and 6).
//!
//! - `GET /api/v1/orgs/{org_id}/overview`: per store the caller manages, whether it
//!   takes online orders now (`online::profile::ordering`, with the reason), its
//!   node (connected, or away since when; events waiting for it), the devices that
//!   need a person (paper out, cover open, printer error, offline), the kitchen's
//!   backlog and what it does to online ordering, and today's orders, sales and
//!   average ticket in the store's time zone (from the `orders` projection, never
//!   by replaying the log).
//! - `GET /api/v1/orgs/{org_id}/events`: a WebSocket sending
//!   `{"type":"store_changed","store_id","what":[...],"at_ms"}` whenever something
//!   on one of those stores' overview changes (its node came or went, a device's
//!   health, an order, the kitchen, its settings), from the replica's in-process
//!   changes and, on PostgreSQL, other replicas' `NOTIFY hub_events`; and
//!   `{"type":"resync"}` when changes may have been missed (read everything again).
//!   Liveness as the tracking sockets (`api_kit::liveness`).
//!
//! Who sees what: a store is shown to a staff member whose role there (for the
//! whole organisation or that store) may manage its settings, i.e. owners and
//! managers (`Permission::SettingsManage`), and to platform admins. A member of
//! the organisation who manages none of its stores gets 403, anyone else 404.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::TimeZone;
use domain::roles::{Permission, Role};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::error::{ApiError, ApiResult, ReadErrors};
use super::extract::{Path, WebSocketUpgrade, bearer};
use super::online::snapshot;
use super::push::{Ended, PushSocket};
use crate::auth::extract::{Caller, authenticate};
use crate::db::online::DeviceRow;
use crate::hub::Hub;
use crate::online::profile::{local_now, ordering};
use crate::online::{StoreChange, node_now};
pub use api_types::hub::online::TrackingParams;
pub use api_types::hub::overview::{
    DaySales, DeviceAttention, KitchenOverview, NodePresence, Overview, StationOverview,
    StoreChanged, StoreOverview,
};

/// What a store's overview needs of the caller's role there.
const SEES_OVERVIEW: Permission = Permission::SettingsManage;

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/orgs/{org_id}/overview", get(overview))
        .route("/api/v1/orgs/{org_id}/events", get(org_events))
}

/// The stores of the organisation in the path the caller may see on the overview.
/// Authenticated by `Authorization` or, for browsers' WebSockets, `?access_token=`.
pub struct OrgStores {
    pub org_id: String,
    /// Stores of the organisation the caller sees, by id.
    pub stores: Vec<String>,
    /// The caller sees every store of the organisation, new ones included.
    pub org_wide: bool,
}

impl FromRequestParts<Arc<Hub>> for OrgStores {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let Path(org_id) = Path::<String>::from_request_parts(parts, hub).await?;
        if bearer(&parts.headers).is_none() {
            let q =
                Query::<std::collections::HashMap<String, String>>::from_request_parts(parts, hub)
                    .await
                    .map(|q| q.0)
                    .unwrap_or_default();
            if let Some(token) = q.get("access_token") {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    ApiError::unauthorized("bad_token", "the access token is malformed")
                })?;
                parts.headers.insert(header::AUTHORIZATION, value);
            }
        }
        let caller = authenticate(parts, hub).await?;
        if hub.db.org_name(&org_id).await?.is_none() {
            return Err(ApiError::not_found("organisation"));
        }
        let all = hub.db.org_store_ids(&org_id).await?;
        let user = match &caller {
            c if c.is_platform_admin() => {
                return Ok(OrgStores {
                    org_id,
                    stores: all,
                    org_wide: true,
                });
            }
            Caller::User(s) => s.user_id.clone(),
            _ => return Err(ApiError::not_found("organisation")),
        };
        let memberships: Vec<(Option<String>, Role)> = hub
            .db
            .org_roles(&user, &org_id)
            .await?
            .into_iter()
            .filter_map(|(store, role)| Some((store, Role::parse(&role)?)))
            .collect();
        if memberships.is_empty() {
            return Err(ApiError::not_found("organisation"));
        }
        let org_wide = memberships
            .iter()
            .any(|(s, r)| s.is_none() && r.can(SEES_OVERVIEW));
        let stores: Vec<String> = all
            .into_iter()
            .filter(|id| {
                memberships
                    .iter()
                    .any(|(s, r)| s.as_deref().is_none_or(|s| s == id) && r.can(SEES_OVERVIEW))
            })
            .collect();
        if stores.is_empty() && !org_wide {
            return Err(ApiError::forbidden(
                "the overview is for the owners and managers of the organisation's stores",
            ));
        }
        Ok(OrgStores {
            org_id,
            stores,
            org_wide,
        })
    }
}

/// Every store of the organisation the caller manages (owners and managers,
/// organisation-wide or of the store; platform admins): whether it takes online
/// orders now and why not, its node, devices needing attention, the kitchen's
/// backlog and today's orders and sales in the store's time zone.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/overview", operation_id = "hub_org_overview", tag = "merchant",
    params(("org_id" = String, Path, description = "Organisation id")),
    responses((status = 200, body = Overview), ReadErrors),
    security(("bearer" = [])))]
pub async fn overview(access: OrgStores, State(hub): State<Arc<Hub>>) -> ApiResult<Json<Overview>> {
    // Today's numbers come from the sums kept at ingest: make sure every store's
    // are kept in its time zone with one read for them all, not one per store.
    let mut zoned = Vec::with_capacity(access.stores.len());
    for id in &access.stores {
        zoned.push((id.clone(), snapshot(&hub, id).await?.profile.tz()));
    }
    hub.db.sales_rollups_ready(&zoned).await?;
    let mut stores = Vec::with_capacity(access.stores.len());
    for id in &access.stores {
        stores.push(store_overview(&hub, id).await?);
    }
    stores.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.store_id.cmp(&b.store_id))
    });
    Ok(Json(Overview {
        org_id: access.org_id,
        stores,
        at_ms: hub.now_ms(),
    }))
}

/// One store's overview (its sales sums made ready by the caller).
async fn store_overview(hub: &Hub, store_id: &str) -> ApiResult<StoreOverview> {
    let snap = snapshot(hub, store_id).await?;
    let profile = &snap.profile;
    let now = hub.now_ms();
    let (node, link, backlog) = node_now(hub, store_id).await?;
    let vector = hub.db.vector(store_id).await?;
    let events_waiting = vector
        .iter()
        .map(|(origin, seq)| {
            let acked = link.acked.get(origin).and_then(Value::as_u64).unwrap_or(0);
            seq.saturating_sub(acked)
        })
        .sum();
    let attention = hub
        .db
        .store_devices(store_id)
        .await?
        .iter()
        .filter_map(attention_of)
        .collect();
    let kitchen = backlog.map(|b| KitchenOverview {
        open_tickets: b.open_tickets,
        oldest_age_secs: b.oldest_age_secs,
        stations: b
            .stations
            .into_iter()
            .map(|s| StationOverview {
                station: s.station,
                open_tickets: s.open_tickets,
                oldest_age_secs: s.oldest_age_secs,
            })
            .collect(),
        reported_ms: b.reported_ms,
        extra_pickup_minutes: profile.backlog.extra_minutes(b.open_tickets),
        throttle: profile.backlog.throttle(b.open_tickets).map(str::to_owned),
    });
    let tz = profile.tz();
    Ok(StoreOverview {
        store_id: store_id.to_owned(),
        name: profile.name.clone().unwrap_or_else(|| store_id.to_owned()),
        timezone: tz.name().to_owned(),
        ordering: ordering(profile, node, now),
        node: NodePresence {
            online: link.connected,
            last_seen_ms: link.last_seen_ms,
            away_since_ms: if link.connected {
                None
            } else {
                link.last_seen_ms
            },
            events_waiting,
        },
        attention,
        kitchen,
        today: day_sales(hub, store_id, tz, now).await?,
    })
}

/// What a device reported needs a person for, if anything.
fn attention_of(d: &DeviceRow) -> Option<DeviceAttention> {
    let h = &d.health;
    let printer = &h["printer"];
    let problem = if h["state"] == "offline" {
        "offline"
    } else if printer["paper_out"] == true {
        "paper_out"
    } else if printer["cover_open"] == true {
        "cover_open"
    } else if printer["error"] == true {
        "printer_error"
    } else if h["state"] == "attention" {
        "attention"
    } else if h["dead_jobs"].as_u64().is_some_and(|n| n > 0) {
        "print_failed"
    } else {
        return None;
    };
    Some(DeviceAttention {
        device_id: d.id.clone(),
        kind: d.kind.clone(),
        name: d.name.clone(),
        problem: problem.to_owned(),
        detail: match h["dead_jobs"].as_u64() {
            Some(n) if n > 0 && problem == "print_failed" => Some(format!(
                "{n} print job{} failed every attempt",
                if n == 1 { "" } else { "s" }
            )),
            _ => h["last_error"]
                .as_str()
                .map(|s| s.chars().take(200).collect()),
        },
        since_ms: d.updated_at,
    })
}

/// Midnight of the local date `date` in `tz`, Unix ms (the first instant of the day).
fn midnight_ms(tz: chrono_tz::Tz, date: chrono::NaiveDate) -> Option<i64> {
    let start = date.and_hms_opt(0, 0, 0)?;
    // A day that starts in a daylight-saving gap starts an hour later.
    tz.from_local_datetime(&start)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(start + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
}

/// Today's orders in the store's time zone, from the sales sums kept at ingest.
async fn day_sales(hub: &Hub, store_id: &str, tz: chrono_tz::Tz, now: i64) -> ApiResult<DaySales> {
    let (date, _) =
        local_now(tz, now).ok_or_else(|| ApiError::internal("the hub's clock is out of range"))?;
    let naive = chrono::NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        u32::from(date.month()),
        u32::from(date.day()),
    )
    .ok_or_else(|| ApiError::internal("a local date out of range"))?;
    let since = midnight_ms(tz, naive);
    let until = naive.succ_opt().and_then(|d| midnight_ms(tz, d));
    // The day's bounds are not read (the sums are by local day) but a day without them is still refused.
    let (Some(_), Some(_)) = (since, until) else {
        return Err(ApiError::internal("the store's day has no bounds"));
    };
    let mut out = DaySales {
        date: date.to_string(),
        orders: 0,
        sales: 0,
        average_ticket: 0,
        cancelled: 0,
    };
    // From the sums kept at ingest by the store's local day (`db::sales`), made
    // ready for every store of the overview before (`overview`).
    let day = crate::db::sales::day_number(naive);
    for (class, n, sum) in hub.db.day_classes(store_id, day).await? {
        let n = u64::try_from(n).unwrap_or(0);
        // Cancelled, voided (`void`) and refunded orders are not today's sales.
        if class != "sale" {
            out.cancelled += n;
        } else {
            out.orders += n;
            out.sales = out.sales.saturating_add(sum);
        }
    }
    if out.orders > 0 {
        out.average_ticket = out.sales / i64::try_from(out.orders).unwrap_or(i64::MAX);
    }
    Ok(out)
}

/// Live changes of the organisation's stores the caller manages (WebSocket;
/// `?access_token=` for browsers). Each message is a `StoreChanged`
/// (`{"type":"store_changed","store_id","what","at_ms"}`): read the overview again;
/// or `{"type":"resync"}`: changes may have been missed, read all of it again.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/events", operation_id = "hub_org_events", tag = "merchant",
    params(("org_id" = String, Path, description = "Organisation id"), TrackingParams),
    responses((status = 101, description = "Switching to WebSocket; each message is a StoreChanged", body = StoreChanged), ReadErrors),
    security(("bearer" = [])))]
pub async fn org_events(
    access: OrgStores,
    State(hub): State<Arc<Hub>>,
    ws: Result<WebSocketUpgrade, ApiError>,
) -> Response {
    // Subscribe before answering, so no change slips between the overview read and the stream.
    let changes = hub.online.subscribe_stores();
    let ws = match ws {
        Ok(WebSocketUpgrade(ws)) => ws,
        Err(e) => return e.into_response(),
    };
    let ws = ws.write_buffer_size(8 * 1024).read_buffer_size(4 * 1024);
    ws.on_upgrade(move |socket| async move {
        let org = access.org_id.clone();
        let Err(why) = stream(&hub, PushSocket::new(&hub, socket), access, changes).await;
        tracing::debug!(org = %org, reason = %why, "merchant event stream closed");
    })
}

/// Streams the organisation's store changes until the client leaves, goes
/// silent, or the hub shuts down.
async fn stream(
    hub: &Hub,
    mut socket: PushSocket,
    access: OrgStores,
    mut changes: tokio::sync::broadcast::Receiver<StoreChange>,
) -> Result<Infallible, Ended> {
    let mut visible: HashSet<String> = access.stores.into_iter().collect();
    loop {
        match socket.next(changes.recv()).await? {
            Ok(change) => {
                if !visible.contains(&change.store) {
                    // A store made since the stream opened, for those who see them all.
                    let ours = access.org_wide
                        && matches!(hub.db.store_org(&change.store).await, Ok(Some(Some(o))) if o == access.org_id);
                    if !ours {
                        continue;
                    }
                    visible.insert(change.store.clone());
                }
                let msg = StoreChanged {
                    kind: "store_changed".into(),
                    store_id: change.store,
                    what: change.what.into_iter().map(str::to_owned).collect(),
                    at_ms: hub.now_ms(),
                };
                socket.send_json(&msg).await?;
            }
            Err(RecvError::Lagged(_)) => socket.send_json(&json!({ "type": "resync" })).await?,
            Err(RecvError::Closed) => return Err("hub closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(health: Value) -> DeviceRow {
        DeviceRow {
            id: "p1".into(),
            kind: Some("printer".into()),
            name: Some("Kitchen printer".into()),
            health,
            updated_at: 7,
        }
    }

    #[test]
    fn device_problems_in_words_ready_codes() {
        let p = |h| attention_of(&device(h)).map(|a| a.problem);
        assert_eq!(p(json!({ "state": "online" })), None);
        assert_eq!(p(json!(null)), None);
        assert_eq!(
            p(json!({ "state": "attention", "printer": { "paper_out": true } })).as_deref(),
            Some("paper_out")
        );
        assert_eq!(
            p(json!({ "state": "attention", "printer": { "cover_open": true } })).as_deref(),
            Some("cover_open")
        );
        assert_eq!(
            p(json!({ "state": "offline", "printer": { "paper_out": true } })).as_deref(),
            Some("offline")
        );
        assert_eq!(
            p(json!({ "state": "attention" })).as_deref(),
            Some("attention")
        );
        // Tickets that did not print, on a printer that is fine again.
        let failed = attention_of(&device(json!({ "state": "online", "dead_jobs": 2 }))).unwrap();
        assert_eq!(failed.problem, "print_failed");
        assert_eq!(
            failed.detail.as_deref(),
            Some("2 print jobs failed every attempt")
        );
        assert_eq!(p(json!({ "state": "online", "dead_jobs": 0 })), None);
        // A printer out of paper says so first.
        assert_eq!(
            p(json!({ "state": "attention", "printer": { "paper_out": true }, "dead_jobs": 1 }))
                .as_deref(),
            Some("paper_out")
        );
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        // 00:00 in Berlin (UTC+1) is 23:00 UTC the day before.
        assert_eq!(
            midnight_ms(tz, d),
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 11, 26, 23, 0, 0)
                    .unwrap()
                    .timestamp_millis()
            )
        );
    }
}
