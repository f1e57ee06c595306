//! The store as screens show it.

use serde::{Deserialize, Serialize};

/// The store as screens show it (name, pickup lead time), from the settings document the merchant
/// edits at the hub, or the node's configuration until there is one. No sign-in needed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreInfo {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_lead_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_ordering: Option<bool>,
}
