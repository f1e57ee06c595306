//! A store's menu as the hub's catalog document holds it. The menu view itself
//! (`MenuView`) stays in the hub: its conflicts are the sync crate's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Two replicas' concurrent values of one catalog field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogConflict {
    /// `collection/id/field`, or `field` for a root field.
    pub path: String,
    /// The value every replica shows.
    pub winner: Value,
    /// The values concurrent edits wrote that lost.
    pub others: Vec<Value>,
}

/// `{"sold_out": true}` marks it sold out, `false` available again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SoldOut {
    pub sold_out: bool,
}

/// Where a conflicting value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictPlace {
    /// At the hub: the dashboard or the merchant API.
    Hub,
    /// At the store's own server (its store node), e.g. by a manager at the till.
    Store,
    /// A writer the hub cannot place.
    Unknown,
}

/// One of the values a conflicting menu field holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuConflictValue {
    /// The value as the menu stores it (a price in minor units, `true` for sold out, an id, ...).
    pub value: Value,
    /// For a field naming another part of the menu (tax class, station,
    /// category, modifier groups): that part's name, as people know it.
    pub label: Option<String>,
    /// Where it was written.
    pub from: Vec<ConflictPlace>,
    /// This is the value the store and the customers see until someone chooses.
    pub shown: bool,
}

/// A field of a menu item that the hub and the store changed while they were
/// apart, each to a different value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuConflict {
    pub item_id: String,
    /// The item's name as shown now.
    pub item_name: String,
    /// The field's name in the menu's item (`price`, `name`, `sold_out`, `tax_class`, ...).
    pub field: String,
    /// Two or more different values.
    pub values: Vec<MenuConflictValue>,
}

/// The menu's open conflicts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuConflicts {
    /// The menu's currency (ISO 4217), for prices.
    pub currency: String,
    pub conflicts: Vec<MenuConflict>,
}

/// Keep `value` for an item's field: it replaces every value of the conflict.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveMenuConflict {
    pub item_id: String,
    pub field: String,
    /// One of the conflict's values, exactly as listed.
    pub value: Value,
}
