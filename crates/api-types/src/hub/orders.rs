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

/// A refund of an online order's card payment, as a manager asks for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// Minor units; leave it out to give back everything not given back yet.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10_000_000))]
    pub amount: Option<i64>,
    /// Why, as the customer and the books will read it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked for at the store's till; the hub has not checked it yet.
    Requested,
    /// Accepted; the payment processor has not confirmed it yet (it is asked again until it does).
    Pending,
    /// The money is on its way back to the card.
    Refunded,
    /// Not made: `problem` says why.
    Declined,
}

/// A refund of an online order's card payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundView {
    pub id: String,
    pub order_id: String,
    /// Minor units (absent while a till's "everything that remains" is unchecked).
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub status: RefundStatus,
    /// Who asked: a hub member's id, a till's staff id, `store` or `processor`.
    pub requested_by: String,
    /// `hub`, `node` (the till), `store_cancel` (the store ended the order) or `processor` (made at the processor).
    pub source: String,
    /// Why it was declined.
    pub problem: Option<String>,
    /// Unix ms.
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An order's refunds, oldest first, and what its card payment stands at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundList {
    pub refunds: Vec<RefundView>,
    /// Captured, minor units.
    pub captured: i64,
    /// Given back so far, minor units.
    pub refunded: i64,
}
