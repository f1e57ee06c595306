//! The merchant's overview of an organisation's stores (`GET
//! /api/v1/orgs/{org_id}/overview`) and the live stream that says when to read
//! it again (`GET /api/v1/orgs/{org_id}/events`, WebSocket).

use serde::{Deserialize, Serialize};

use super::online::Ordering;

/// Every store of the organisation the caller manages, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    pub org_id: String,
    pub stores: Vec<StoreOverview>,
    /// When this was read (Unix ms, the hub's clock).
    pub at_ms: i64,
}

/// One store at a glance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreOverview {
    pub store_id: String,
    pub name: String,
    /// IANA time zone the store's day is counted in.
    pub timezone: String,
    /// Whether it takes online orders now, and if not why (`ordering()`'s answer).
    pub ordering: Ordering,
    pub node: NodePresence,
    /// Devices that need a person now; empty when all is well.
    pub attention: Vec<DeviceAttention>,
    /// The kitchen as the store's node last reported it; `None` before any report.
    pub kitchen: Option<KitchenOverview>,
    pub today: DaySales,
}

/// Whether the store's node is connected to the hub.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodePresence {
    /// Some node of the store is connected now (to any hub replica).
    pub online: bool,
    /// When a node was last connected (Unix ms); `None`: never. While online, now.
    pub last_seen_ms: Option<i64>,
    /// Away since (Unix ms) while not online; `None` while online or never seen.
    pub away_since_ms: Option<i64>,
    /// Events the hub holds that the store's nodes have not acknowledged (the
    /// freshest node), e.g. web orders waiting to reach the kitchen.
    pub events_waiting: u64,
}

/// A device that needs a person, in fields ready for words.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceAttention {
    pub device_id: String,
    /// `printer`, `kds`, `terminal`, ... as the node registered it.
    pub kind: Option<String>,
    /// The name staff gave it ("Kitchen printer").
    pub name: Option<String>,
    /// `paper_out`, `cover_open`, `printer_error`, `offline`, `attention` (something else a person must see to),
    /// `print_failed` (print jobs that failed every attempt wait at the node for a person).
    pub problem: String,
    /// The node's own words for the last problem, when it has some.
    pub detail: Option<String>,
    /// When the hub learnt of this state (Unix ms).
    pub since_ms: i64,
}

/// The kitchen's backlog and what it does to online ordering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KitchenOverview {
    pub open_tickets: u32,
    pub oldest_age_secs: u32,
    pub stations: Vec<StationOverview>,
    /// When the node measured it (Unix ms).
    pub reported_ms: i64,
    /// Minutes the backlog adds to the pickup quote now.
    pub extra_pickup_minutes: u32,
    /// `slow` (pickups quoted later), `paused` (online ordering paused), or `None`.
    pub throttle: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StationOverview {
    pub station: String,
    pub open_tickets: u32,
    pub oldest_age_secs: u32,
}

/// Today's orders in the store's time zone (from midnight there), from the hub's
/// order projection: every channel the store's nodes synced, and web orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DaySales {
    /// `YYYY-MM-DD` in the store's time zone.
    pub date: String,
    /// Orders placed today that were not cancelled or voided.
    pub orders: u64,
    /// Their totals, minor units.
    pub sales: i64,
    /// `sales / orders`, rounded down; 0 without orders.
    pub average_ticket: i64,
    /// Orders placed today that were cancelled or voided.
    pub cancelled: u64,
}

/// What the merchant event stream sends: a store of the organisation changed;
/// read the overview again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreChanged {
    /// Always `store_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub store_id: String,
    /// What changed: any of `node`, `devices`, `orders`, `kitchen`, `settings`, `unknown`.
    pub what: Vec<String>,
    pub at_ms: i64,
}
