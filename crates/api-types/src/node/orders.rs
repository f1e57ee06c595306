//! Orders and payments at the node. The order list's filter is
//! [`crate::orders::OrderFilter`], shared with the hub.

use domain::Ident;
use domain::fact;
use domain::order::PricedOrder;
use domain::payment::PaymentMethod;
use domain::status::OrderStatus;
use serde::{Deserialize, Serialize};

/// An order as the API shows it: the snapshot taken when it was placed, plus its current status.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderView {
    pub id: uuid::Uuid,
    /// What the kitchen calls out: `S-0457`.
    #[cfg_attr(feature = "openapi", schema(example = "S-0457"))]
    pub ticket: String,
    pub status: OrderStatus,
    #[serde(flatten)]
    pub order: PricedOrder,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// Staff id of who placed it.
    pub created_by: Option<String>,
    /// Paid so far, minor units; the balance due is `totals.total - paid`.
    pub paid: i64,
    /// Given back so far, minor units: what was paid for an order later cancelled or voided.
    #[serde(default)]
    pub refunded: i64,
    /// Kitchen stations that have finished their part; when every station of the order is done it is ready.
    pub stations_done: Vec<Ident>,
}

impl OrderView {
    /// The view as an order fact carries it (`domain::fact::OrderView`), field for field:
    /// its JSON is this view's JSON.
    pub fn to_fact(&self) -> Result<fact::OrderView, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(self)?)
    }

    /// The node's view of an order a fact carries; an error when the fact lacks what the
    /// node shows (a ticket, the priced order, the times), never a made-up value.
    pub fn from_fact(view: &fact::OrderView) -> Result<OrderView, serde_json::Error> {
        serde_json::from_value(view.to_json()?)
    }
}

/// A payment as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentView {
    pub id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub method: PaymentMethod,
    /// Applied to the order, minor units.
    pub amount: i64,
    /// Cash handed over, minor units.
    pub tendered: i64,
    /// Change to give back, minor units.
    pub change: i64,
    pub created_ms: u64,
    pub created_by: Option<String>,
    /// Card payments: the terminal's reference (terminal id, trace and receipt number). Never card data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

// A recorded payment and the order after it. (No doc comment: it would change the OpenAPI schema.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentResult {
    pub payment: PaymentView,
    pub order: OrderView,
}

/// A payment given back, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundView {
    pub id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    /// The payment given back.
    pub payment_id: uuid::Uuid,
    /// The payment's tender: cash comes out of the drawer; card is refunded at the terminal.
    pub method: PaymentMethod,
    /// Minor units.
    pub amount: i64,
    /// Card: the payment's terminal reference, to find it for the refund at the terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub created_ms: u64,
    pub created_by: Option<String>,
    pub approved_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderList {
    pub orders: Vec<OrderView>,
}

/// Why an order was cancelled, voided or refunded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// Required for `void` and `refund`; at most 200 characters.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub method: PaymentMethod,
    /// Cash: the amount handed over, minor units; at least the balance due. Not used for card.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10_000_000))]
    pub tendered: Option<i64>,
    /// Card: the terminal to use; the store's first card terminal when absent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub terminal_id: Option<Ident>,
}

/// Give back (part of) an online order's card payment: the hub holds the
/// payment, so the till asks it (managers; it goes through sync, offline too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnlineRefundRequest {
    /// Minor units; leave it out to give back everything not given back yet.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10_000_000))]
    pub amount: Option<i64>,
    /// Why; at most 200 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

/// Where a refund of an online payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnlineRefundStatus {
    /// Asked for; the hub has not answered yet (it will once it hears of it, offline or not).
    Asked,
    /// Given back to the customer's card.
    Refunded,
    /// Not given back: `problem` says why.
    Declined,
}

/// A refund of an online order's card payment, as the till shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OnlineRefundView {
    pub id: String,
    pub order_id: uuid::Uuid,
    /// What was asked, minor units; absent: everything that remained.
    pub amount: Option<i64>,
    /// What the hub gave back, minor units.
    pub refunded: Option<i64>,
    pub reason: Option<String>,
    pub status: OnlineRefundStatus,
    /// Staff id of who asked (a hub refund: the merchant's account).
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub problem: Option<String>,
    pub created_ms: u64,
    pub updated_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OnlineRefundList {
    pub refunds: Vec<OnlineRefundView>,
}
