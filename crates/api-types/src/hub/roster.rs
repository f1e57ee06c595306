//! A store's roster: the staff who sign in at its nodes with a PIN.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub name: String,
    /// owner, manager, cashier, kitchen, or customer (a kiosk's account).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(owner|manager|cashier|kitchen|customer)$")
    )]
    pub role: String,
    /// 4 to 8 digits; only its Argon2id hash is kept, and synced to the store's nodes.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4,8}$"))]
    pub pin: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// A roster entry as saved (never the PIN or its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffSaved {
    pub id: String,
    pub name: String,
    pub role: String,
    pub active: bool,
}

/// One entry of a store's roster; a field a node wrote with another type reads as null.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterEntry {
    pub id: String,
    pub name: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
}

/// A store's roster (the staff who sign in at its nodes with a PIN).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Roster {
    pub staff: Vec<RosterEntry>,
}
