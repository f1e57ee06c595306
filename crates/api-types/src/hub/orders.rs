//! A store's orders for its merchant. The filter is [`crate::orders::OrderFilter`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A store's orders, as its nodes recorded them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderList {
    /// Oldest first; each as the node describes it (`id`, `ticket`, `status`, `channel`, `lines`, `totals`, `created_ms`, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub orders: Vec<Value>,
    /// How many events of the store the hub holds.
    pub events: usize,
}
