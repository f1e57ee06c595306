//! Online ordering: a store and its menu as customers see them, carts, a
//! customer's orders and their tracking, and the merchant's view of the
//! store's node links.

use std::sync::Arc;

use domain::menu::{LineRequest, Menu};
use domain::order::PricedOrder;
use domain::status::OrderStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a store is not taking online orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// The merchant switched online ordering off.
    Disabled,
    /// Outside the store's opening hours.
    Closed,
    /// The store's node has been unreachable for longer than the grace period.
    StoreOffline,
    /// The kitchen's open tickets reached the store's `backlog_pause_at`; resumes by
    /// itself when the kitchen catches up.
    KitchenBusy,
    /// The merchant paused online ordering until a time (`opens_at`), with a message.
    Paused,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Disabled => "disabled",
            PauseReason::Closed => "closed",
            PauseReason::StoreOffline => "store_offline",
            PauseReason::KitchenBusy => "kitchen_busy",
            PauseReason::Paused => "paused",
        }
    }
}

/// Whether a store takes online orders now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ordering {
    pub accepting: bool,
    /// Null while accepting.
    pub reason: Option<PauseReason>,
    /// For customers, in words.
    pub message: String,
    /// When the store next opens (RFC 3339 with the store's UTC offset), when it is
    /// closed or paused until a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<String>,
}

/// How a customer wants to pay, when placing an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentChoice {
    /// At the counter, on pickup (where the store allows it).
    PayAtPickup,
    /// By card now, on the payment page the answer links to (`payment.checkout_url`).
    Card,
}

/// Where an online card payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CardPaymentState {
    /// Waiting for the customer on the payment page (`checkout_url`).
    AwaitingPayment,
    /// The card is authorised; it is charged when the store accepts the order.
    Authorized,
    /// Charged.
    Captured,
    /// The hold on the card was released; nothing was charged (`problem` says why).
    Released,
    /// Never paid: the payment page expired; nothing was charged.
    Expired,
}

/// How a web order is paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum WebPayment {
    /// Paid at the store on pickup (cash or card at the counter).
    PayAtPickup,
    /// Paid by card online: authorised when ordering, charged when the store accepts.
    Card {
        state: CardPaymentState,
        /// The payment page, while the payment is awaited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkout_url: Option<String>,
        /// Why the card was declined, or why the payment was released or expired, in words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
        /// Charged so far, minor units.
        captured: i64,
        /// Given back to the card so far, minor units.
        #[serde(default)]
        refunded: i64,
    },
}

/// Where a customer's order stands: the order's status once it is placed at the
/// store, and before that (card orders) whether it is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// Card orders: not sent to the store until the payment page is completed.
    AwaitingPayment,
    /// Card orders: the payment page expired unpaid; the store never saw the order.
    PaymentExpired,
    Placed,
    Accepted,
    InPreparation,
    Ready,
    Completed,
    Cancelled,
    Voided,
    Refunded,
}

impl From<OrderStatus> for CustomerStatus {
    fn from(s: OrderStatus) -> CustomerStatus {
        match s {
            OrderStatus::Placed => CustomerStatus::Placed,
            OrderStatus::Accepted => CustomerStatus::Accepted,
            OrderStatus::InPreparation => CustomerStatus::InPreparation,
            OrderStatus::Ready => CustomerStatus::Ready,
            OrderStatus::Completed => CustomerStatus::Completed,
            OrderStatus::Cancelled => CustomerStatus::Cancelled,
            OrderStatus::Voided => CustomerStatus::Voided,
            OrderStatus::Refunded => CustomerStatus::Refunded,
        }
    }
}

/// A store as customers see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicStore {
    pub id: String,
    pub name: Option<String>,
    pub address: Option<String>,
    /// IANA time zone of the hours (UTC when the store set none).
    pub timezone: String,
    /// Weekly opening hours (`null`: no hours set, orders any time).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub hours: Option<domain::hours::WeeklyHours>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub hours_exceptions: Vec<domain::hours::HoursException>,
    /// Minutes from ordering to pickup.
    pub pickup_lead_minutes: Option<u32>,
    pub ordering: Ordering,
}

/// The stores that take online orders, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicStores {
    /// Each with whether it takes orders now (open, closed until `opens_at`, or paused and why).
    pub stores: Vec<PublicStore>,
}

/// A store's menu for customers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicMenu {
    pub store_id: String,
    /// Every item and modifier, sold-out ones marked `sold_out: true`.
    #[cfg_attr(feature = "openapi", schema(value_type = Menu))]
    pub menu: Arc<Menu>,
    pub ordering: Ordering,
}

/// A cart: the lines of a pickup order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Cart {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub lines: Vec<LineRequest>,
    /// For the kitchen, at most 200 characters.
    #[serde(default)]
    pub note: Option<String>,
    /// The name the counter calls; the account's name when absent. At most 60 characters.
    #[serde(default)]
    pub customer_name: Option<String>,
    /// How to pay; absent: at pickup where the store allows it, else by card.
    #[serde(default)]
    pub payment: Option<PaymentChoice>,
    /// When to pick the order up (Unix ms), one of the store's `pickup-times` or any
    /// minute between its earliest and latest while the store is open; absent: as
    /// soon as possible. Pricing ignores it; placing checks it (422 `pickup_time_unavailable`).
    #[serde(default)]
    pub pickup_at: Option<i64>,
}

/// When a customer may pick up an order placed now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupTimes {
    /// Minutes from ordering to the earliest pickup ("as soon as possible"): the
    /// store's lead time plus what the kitchen's backlog adds now.
    pub asap_minutes: u32,
    /// Today's date in the store's time zone (`YYYY-MM-DD`), to tell today's slots from tomorrow's.
    pub today: String,
    /// The times on offer, every 15 minutes while the store is open, up to 12 hours ahead.
    pub slots: Vec<PickupSlot>,
    pub ordering: Ordering,
}

/// One pickup time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupSlot {
    /// Unix ms: what `Cart.pickup_at` takes.
    pub at_ms: i64,
    /// The same instant in the store's time zone, RFC 3339 with its offset.
    pub at: String,
}

/// A priced cart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricedCart {
    /// Lines as priced and taxed now, and the totals.
    pub order: PricedOrder,
    pub ordering: Ordering,
}

/// A customer's order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerOrder {
    pub id: String,
    pub store_id: String,
    /// What the counter calls: `W-0123`; null until a card order is paid (it is
    /// numbered when it is sent to the store).
    pub ticket: Option<String>,
    pub status: CustomerStatus,
    /// Lines, note, name and totals as priced when placed.
    #[serde(flatten)]
    pub order: PricedOrder,
    /// Paid so far, minor units.
    pub paid: i64,
    pub payment: WebPayment,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A customer's orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerOrders {
    /// Newest first, at most 100.
    pub orders: Vec<CustomerOrder>,
}

/// Query of the tracking socket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct TrackingParams {
    /// The access token, for browsers that cannot set `Authorization` on a WebSocket.
    pub access_token: Option<String>,
}

/// A message on the tracking socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusMessage {
    /// Always `status`.
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: String,
    pub ticket: String,
    pub status: String,
    /// When this replica sent it (Unix ms).
    pub at_ms: i64,
}

/// One node token's link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeLink {
    pub label: String,
    /// The first 12 hex digits of the token's SHA-256 (as issued).
    pub token_sha256_prefix: String,
    /// The token's whole SHA-256, which revokes it (`node-tokens/revoke`); not the token itself.
    pub token_sha256: String,
    pub revoked: bool,
    /// Connected to a hub replica now.
    pub connected: bool,
    /// When it was last connected (Unix ms); null: never.
    pub last_seen_ms: Option<i64>,
    /// Events the hub holds that the node has not acknowledged (web orders, other nodes' events).
    pub events_waiting: u64,
}

/// A device as the store's node last reported it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeDevice {
    pub id: String,
    pub kind: Option<String>,
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub health: Value,
    pub updated_ms: i64,
}

/// A store's node links and devices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreNodes {
    pub store_id: String,
    /// Some node of the store is connected now.
    pub connected: bool,
    pub last_seen_ms: Option<i64>,
    /// How long a node may be away before online ordering pauses.
    pub grace_secs: u64,
    pub ordering: Ordering,
    /// The store's node tokens (legacy; development and tests).
    pub nodes: Vec<NodeLink>,
    /// The store's nodes enrolled with a pairing code, oldest first.
    pub enrolled: Vec<crate::hub::nodes::NodeView>,
    pub devices: Vec<NodeDevice>,
}

/// An item a customer marked as a favourite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Favourite {
    pub store_id: String,
    pub item_id: String,
}

/// A customer's profile: what the account says, and what they keep for ordering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerProfile {
    pub name: String,
    pub email: String,
    /// For the store to call about an order.
    pub phone: Option<String>,
    /// Notes they reuse on orders ("no onions", "ring the bell").
    pub saved_notes: Vec<String>,
    pub favourites: Vec<Favourite>,
}

/// A change of the profile: each field present is replaced, the rest kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1 to 80 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 80))]
    pub name: Option<String>,
    /// Digits, spaces and `+ - ( )`, at most 30 characters; an empty string removes it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 30))]
    pub phone: Option<String>,
    /// At most 10, each 1 to 200 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub saved_notes: Option<Vec<String>>,
    /// At most 50.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub favourites: Option<Vec<Favourite>>,
}

impl ProfileUpdate {
    /// The update with its text trimmed, or why it is refused (`field`, message).
    pub fn check(mut self) -> Result<ProfileUpdate, (&'static str, String)> {
        if let Some(n) = &mut self.name {
            *n = n.trim().to_owned();
            if n.is_empty() || n.chars().count() > 80 {
                return Err(("name", "a name is 1 to 80 characters".into()));
            }
        }
        if let Some(p) = &mut self.phone {
            *p = p.trim().to_owned();
            let ok_chars = p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
            if p.chars().count() > 30 || !ok_chars {
                return Err((
                    "phone",
                    "a phone number is digits, spaces and + - ( ), at most 30 characters".into(),
                ));
            }
        }
        if let Some(notes) = &mut self.saved_notes {
            for n in notes.iter_mut() {
                *n = n.trim().to_owned();
            }
            notes.retain(|n| !n.is_empty());
            if notes.len() > 10 || notes.iter().any(|n| n.chars().count() > 200) {
                return Err((
                    "saved_notes",
                    "keep at most 10 notes of at most 200 characters each".into(),
                ));
            }
        }
        if let Some(f) = &mut self.favourites {
            let bad = |s: &str| s.is_empty() || s.len() > 64 || s.chars().any(char::is_whitespace);
            if f.len() > 50 || f.iter().any(|x| bad(&x.store_id) || bad(&x.item_id)) {
                return Err((
                    "favourites",
                    "at most 50 favourites, each a store id and an item id".into(),
                ));
            }
            f.dedup();
        }
        Ok(self)
    }
}
