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
