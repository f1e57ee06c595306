//! The facts that cross the wire, and the order they describe.
//!
//! A store's event log holds facts: an order placed, moved, paid or refunded, a
//! menu edit, a device's health. Each is an event `kind` (the strings in
//! [`kind`]) and a JSON `data` object, recorded by a store node (or by the hub,
//! for web orders) and carried to every replica by sync. Logs written since the
//! first sync hold them, so their serde form here is the form on the wire,
//! field for field: [`Fact::decode`] then [`Fact::data`] gives back the same
//! JSON.
//!
//! Every order fact carries the order's whole view after it happened
//! (`data.order`, the node's `OrderView`), so a replica that has any one of an
//! order's facts knows the order. [`Order::apply`] is the one rule for what an
//! order is after a set of facts, used by every projection: status and amount
//! paid by [`Progress::join`] (each only rises), amount refunded and last change
//! only rise, the stations done are the union; the rest of the view (ticket,
//! lines, totals, times) is the order's snapshot, the same in every fact of it
//! (should two disagree, the larger by its JSON text wins). Each part is a join,
//! so any arrival order of the same facts, with any duplicates, gives the same
//! order (`tests/facts.rs`).
//!
//! A fact that does not parse is a [`FactError`], never a default; a kind this
//! build does not know (stock levels, say) is [`Fact::Other`] and changes no
//! order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Ident;
use crate::order::{Channel, PricedOrder};
use crate::status::{OrderStatus, Progress, Transition};

/// Event kinds in a store's log.
pub mod kind {
    /// An order was placed (`data`: `order`; a web order also `payment`).
    pub const ORDER_CREATED: &str = "order.created";
    /// An order moved (`data`: `transition`, `from`, `to`, `by`, `reason`, `order`)
    /// or a station finished its part (`station_done`, `by`, `order`).
    pub const ORDER_CHANGED: &str = "order.changed";
    /// The menu changed (`data`: `version`, `change`).
    pub const MENU_CHANGED: &str = "menu.changed";
    /// A payment was taken (`data`: `payment`, `order`).
    pub const PAYMENT_RECORDED: &str = "payment.recorded";
    /// A payment given back (one per tender) when a paid order is cancelled or voided
    /// (`data`: `refund`, `order`).
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
    /// A device's health changed state (online, attention, offline); synced so the hub can show it.
    pub const DEVICE_HEALTH: &str = "device.health";
    /// The same report under the name of the node's live notices; the hub reads it too.
    pub const DEVICE_STATUS: &str = "device.status";
    /// A manager at a store node asked the hub to give back (part of) an online
    /// order's card payment (`data`: [`super::RefundRequest`]). The hub answers
    /// with `payment.refunded` (its `refund.id` is the request's) or `refund.declined`.
    pub const REFUND_REQUESTED: &str = "refund.requested";
    /// The hub could not give back what a refund request asked (`data`: [`super::RefundDeclined`]).
    pub const REFUND_DECLINED: &str = "refund.declined";
    /// How busy a node's kitchen is: open tickets and the oldest one's age, per
    /// station (`data`: [`super::KitchenBacklog`]). Sent when it changes
    /// meaningfully, at most every ~10 s; the hub quotes later pickups and
    /// pauses online ordering past the store's thresholds. Older hubs read it
    /// as [`super::Fact::Other`].
    pub const KITCHEN_BACKLOG: &str = "kitchen.backlog";
}

/// `kitchen.backlog`: the kitchen's open tickets as a node saw them at `at_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenBacklog {
    /// Open tickets (orders placed or in the kitchen, not ready), all stations together.
    pub open_tickets: u32,
    /// Age of the oldest open ticket, seconds (0 when none is open).
    pub oldest_age_secs: u32,
    /// The same per kitchen station (a ticket with lines for two stations counts at both).
    #[serde(default)]
    pub stations: Vec<StationBacklog>,
    /// Unix ms.
    pub at_ms: u64,
    /// Fields a newer node added, kept as recorded.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One station's part of a [`KitchenBacklog`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationBacklog {
    pub station: String,
    pub open_tickets: u32,
    pub oldest_age_secs: u32,
}

impl KitchenBacklog {
    /// The backlog of open tickets at `now_ms`, each given as when it was placed
    /// (Unix ms) and the stations that still have to do their part.
    pub fn measure(
        tickets: impl IntoIterator<Item = (u64, Vec<String>)>,
        now_ms: u64,
    ) -> KitchenBacklog {
        let age =
            |placed: u64| u32::try_from(now_ms.saturating_sub(placed) / 1000).unwrap_or(u32::MAX);
        let mut out = KitchenBacklog {
            at_ms: now_ms,
            ..KitchenBacklog::default()
        };
        let mut stations: std::collections::BTreeMap<String, StationBacklog> = Default::default();
        for (placed, open) in tickets {
            out.open_tickets = out.open_tickets.saturating_add(1);
            out.oldest_age_secs = out.oldest_age_secs.max(age(placed));
            for station in open {
                let s = stations
                    .entry(station.clone())
                    .or_insert_with(|| StationBacklog {
                        station,
                        ..StationBacklog::default()
                    });
                s.open_tickets = s.open_tickets.saturating_add(1);
                s.oldest_age_secs = s.oldest_age_secs.max(age(placed));
            }
        }
        out.stations = stations.into_values().collect();
        out
    }

    /// Whether `self` differs from `before` enough to be worth a fact: the
    /// ticket counts changed, or the oldest ticket's age moved by a minute or more.
    pub fn differs_from(&self, before: &KitchenBacklog) -> bool {
        let counts = |b: &KitchenBacklog| {
            let mut v: Vec<(String, u32)> = b
                .stations
                .iter()
                .map(|s| (s.station.clone(), s.open_tickets))
                .collect();
            v.sort();
            (b.open_tickets, v)
        };
        counts(self) != counts(before)
            || self.oldest_age_secs.abs_diff(before.oldest_age_secs) >= 60
    }
}

/// `refund.requested`: give back an online order's card payment, or part of it.
/// Only the hub holds the payment; it checks the request (never more than was
/// captured) when it arrives, however late.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The request's id: a UUID, or [`RefundRequest::on_cancel_id`] for the
    /// refund that ending a paid order asks for.
    pub id: String,
    pub order_id: String,
    /// Minor units; absent: everything not given back yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The staff member who asked, and the manager who approved it.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Unix ms.
    pub at_ms: u64,
}

impl RefundRequest {
    /// The id of the refund that cancelling, voiding or refunding a paid online
    /// order asks for, wherever that is noticed (the node that ended it, the hub
    /// that sees it ended): one id, so the two are one refund.
    pub fn on_cancel_id(order_id: &str) -> String {
        format!("{order_id}-cancel")
    }
}

/// `refund.declined`: why the hub did not give back what request `id` asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundDeclined {
    pub id: String,
    pub order_id: String,
    /// In the words staff are shown.
    pub reason: String,
    /// Unix ms.
    pub at_ms: u64,
}

/// An order as a fact carries it: the node's `OrderView` (`store-node`'s
/// `orders::view::OrderView` writes this form). The fields every replica reads
/// are typed; the rest (lines, totals, note, `created_by`, ...) is kept as it
/// came in `rest`, so a view reads back exactly as it was written. A field
/// the recording replica left out stays out (`None`), nothing is made up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    /// The order's id (a UUIDv7 from the node or the hub), the event's subject.
    pub id: String,
    /// What the kitchen calls out: `S-0457`, `W-0001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<u64>,
    /// Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<u64>,
    /// Paid so far, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<i64>,
    /// Given back so far, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded: Option<i64>,
    /// Kitchen stations that have finished their part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stations_done: Option<Vec<Ident>>,
    /// The rest of the view as recorded: the priced order's fields and `created_by`.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl OrderView {
    /// A new order's view, as a node records it on `order.created`: placed, nothing paid,
    /// no station done, placed by nobody on staff (`created_by: null`).
    pub fn placed(
        id: uuid::Uuid,
        ticket: String,
        order: &PricedOrder,
        at_ms: u64,
    ) -> Result<OrderView, serde_json::Error> {
        let Value::Object(mut rest) = serde_json::to_value(order)? else {
            return Err(serde::ser::Error::custom("a priced order is a JSON object"));
        };
        let channel = rest
            .remove("channel")
            .map(serde_json::from_value)
            .transpose()?;
        rest.insert("created_by".into(), Value::Null);
        Ok(OrderView {
            id: id.to_string(),
            ticket: Some(ticket),
            status: OrderStatus::Placed,
            channel,
            created_ms: Some(at_ms),
            updated_ms: Some(at_ms),
            paid: Some(0),
            refunded: None,
            stations_done: Some(vec![]),
            rest,
        })
    }

    /// Status and amount paid; a view that names no payment has none.
    pub fn progress(&self) -> Progress {
        Progress {
            status: self.status,
            paid: self.paid.unwrap_or(0),
        }
    }

    /// The priced order inside the view (lines, totals, note, ...).
    pub fn priced(&self) -> Result<PricedOrder, serde_json::Error> {
        let mut fields = self.rest.clone();
        if let Some(c) = self.channel {
            fields.insert("channel".into(), serde_json::to_value(c)?);
        }
        serde_json::from_value(Value::Object(fields))
    }

    /// The view as its JSON object.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// What two views of one order agree is not progress: compared when they disagree.
    fn snapshot_key(&self) -> String {
        serde_json::to_string(&(&self.ticket, self.channel, self.created_ms, &self.rest))
            .unwrap_or_default()
    }
}

/// An order fact's `data`: the order after it, and what else the fact records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFact {
    pub order: OrderView,
    /// The rest, as recorded: `payment` (a web order's `order.created`, `payment.recorded`),
    /// `refund` (`payment.refunded`), `from`, `to`, `by`, `reason` (`order.changed`).
    #[serde(flatten)]
    pub detail: Map<String, Value>,
}

/// `order.changed`: a transition, or a station's part done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_done: Option<Ident>,
    pub order: OrderView,
    /// The rest, as recorded: `from`, `to`, `by`, `reason`.
    #[serde(flatten)]
    pub detail: Map<String, Value>,
}

/// `device.health` (and `device.status`): a device as its node last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// The device's id (the event's subject when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rest, as recorded: `kind`, `name`, `station`, `active`, `health`.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl DeviceReport {
    /// A text field of the report (`kind`, `name`).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.rest.get(key).and_then(Value::as_str)
    }

    /// The device's health as reported (`null` when the report has none).
    pub fn health(&self) -> &Value {
        self.rest.get("health").unwrap_or(&Value::Null)
    }
}

/// One fact of a store's log.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    OrderCreated(OrderFact),
    OrderChanged(OrderChange),
    PaymentRecorded(OrderFact),
    PaymentRefunded(OrderFact),
    /// `menu.changed`, as recorded (the catalog document carries the menu itself).
    MenuChanged(Map<String, Value>),
    DeviceHealth(DeviceReport),
    DeviceStatus(DeviceReport),
    RefundRequested(RefundRequest),
    RefundDeclined(RefundDeclined),
    KitchenBacklog(KitchenBacklog),
    /// A kind this build does not know (stock levels, say): kept, read by nothing.
    Other {
        kind: String,
        data: Value,
    },
}

/// A fact whose `data` does not have its kind's form.
#[derive(Debug, thiserror::Error)]
#[error("a {kind} fact does not parse: {source}")]
pub struct FactError {
    pub kind: String,
    #[source]
    pub source: serde_json::Error,
}

impl Fact {
    /// Reads a fact from its event's kind and data.
    pub fn decode(kind: &str, data: &Value) -> Result<Fact, FactError> {
        fn parse<'a, T: Deserialize<'a>>(kind: &str, data: &'a Value) -> Result<T, FactError> {
            T::deserialize(data).map_err(|source| FactError {
                kind: kind.to_owned(),
                source,
            })
        }
        Ok(match kind {
            kind::ORDER_CREATED => Fact::OrderCreated(parse(kind, data)?),
            kind::ORDER_CHANGED => Fact::OrderChanged(parse(kind, data)?),
            kind::PAYMENT_RECORDED => Fact::PaymentRecorded(parse(kind, data)?),
            kind::PAYMENT_REFUNDED => Fact::PaymentRefunded(parse(kind, data)?),
            kind::MENU_CHANGED => Fact::MenuChanged(parse(kind, data)?),
            kind::DEVICE_HEALTH => Fact::DeviceHealth(parse(kind, data)?),
            kind::DEVICE_STATUS => Fact::DeviceStatus(parse(kind, data)?),
            kind::REFUND_REQUESTED => Fact::RefundRequested(parse(kind, data)?),
            kind::REFUND_DECLINED => Fact::RefundDeclined(parse(kind, data)?),
            kind::KITCHEN_BACKLOG => Fact::KitchenBacklog(parse(kind, data)?),
            other => Fact::Other {
                kind: other.to_owned(),
                data: data.clone(),
            },
        })
    }

    /// The event kind it is recorded under.
    pub fn kind(&self) -> &str {
        match self {
            Fact::OrderCreated(_) => kind::ORDER_CREATED,
            Fact::OrderChanged(_) => kind::ORDER_CHANGED,
            Fact::PaymentRecorded(_) => kind::PAYMENT_RECORDED,
            Fact::PaymentRefunded(_) => kind::PAYMENT_REFUNDED,
            Fact::MenuChanged(_) => kind::MENU_CHANGED,
            Fact::DeviceHealth(_) => kind::DEVICE_HEALTH,
            Fact::DeviceStatus(_) => kind::DEVICE_STATUS,
            Fact::RefundRequested(_) => kind::REFUND_REQUESTED,
            Fact::RefundDeclined(_) => kind::REFUND_DECLINED,
            Fact::KitchenBacklog(_) => kind::KITCHEN_BACKLOG,
            Fact::Other { kind, .. } => kind,
        }
    }

    /// The event's `data`.
    pub fn data(&self) -> Result<Value, serde_json::Error> {
        match self {
            Fact::OrderCreated(f) | Fact::PaymentRecorded(f) | Fact::PaymentRefunded(f) => {
                serde_json::to_value(f)
            }
            Fact::OrderChanged(c) => serde_json::to_value(c),
            Fact::MenuChanged(m) => Ok(Value::Object(m.clone())),
            Fact::DeviceHealth(d) | Fact::DeviceStatus(d) => serde_json::to_value(d),
            Fact::RefundRequested(r) => serde_json::to_value(r),
            Fact::RefundDeclined(d) => serde_json::to_value(d),
            Fact::KitchenBacklog(b) => serde_json::to_value(b),
            Fact::Other { data, .. } => Ok(data.clone()),
        }
    }

    /// The order view an order fact carries.
    pub fn order(&self) -> Option<&OrderView> {
        match self {
            Fact::OrderCreated(f) | Fact::PaymentRecorded(f) | Fact::PaymentRefunded(f) => {
                Some(&f.order)
            }
            Fact::OrderChanged(c) => Some(&c.order),
            _ => None,
        }
    }
}

/// An order as the facts received so far describe it. See the module's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    view: OrderView,
}

impl Order {
    /// The order one view describes.
    pub fn new(mut view: OrderView) -> Order {
        if let Some(s) = &mut view.stations_done {
            s.sort();
            s.dedup();
        }
        Order { view }
    }

    /// The order an order fact describes (`None` for other facts).
    pub fn from_fact(fact: &Fact) -> Option<Order> {
        fact.order().cloned().map(Order::new)
    }

    /// The order after all of `facts` (`None` when none of them is about an order);
    /// facts about other orders than the first one's are ignored.
    pub fn fold<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> Option<Order> {
        let mut order: Option<Order> = None;
        for f in facts {
            match &mut order {
                Some(o) => {
                    o.apply(f);
                }
                None => order = Order::from_fact(f),
            }
        }
        order
    }

    /// Takes in one more fact; true when the order changed. Facts about another
    /// order, and facts that are not about orders, change nothing.
    pub fn apply(&mut self, fact: &Fact) -> bool {
        match fact.order() {
            Some(v) => self.join(v),
            None => false,
        }
    }

    /// Joins another view of the same order (another id changes nothing); true when the order changed.
    pub fn join(&mut self, other: &OrderView) -> bool {
        if other.id != self.view.id {
            return false;
        }
        let before = self.view.clone();
        let same_snapshot = other.ticket == self.view.ticket
            && other.channel == self.view.channel
            && other.created_ms == self.view.created_ms
            && other.rest == self.view.rest;
        // The text is made only when the snapshots differ (never, from honest replicas).
        if !same_snapshot && other.snapshot_key() > self.view.snapshot_key() {
            self.view.ticket = other.ticket.clone();
            self.view.channel = other.channel;
            self.view.created_ms = other.created_ms;
            self.view.rest = other.rest.clone();
        }
        let v = &mut self.view;
        // Paid joins like `Progress::join` (the higher), a view naming no payment being the least.
        v.status = v.progress().join(other.progress()).status;
        v.paid = v.paid.max(other.paid);
        v.refunded = v.refunded.max(other.refunded);
        v.updated_ms = v.updated_ms.max(other.updated_ms);
        v.stations_done = match (v.stations_done.take(), &other.stations_done) {
            (None, None) => None,
            (mine, theirs) => {
                let mut all = mine.unwrap_or_default();
                all.extend(theirs.iter().flatten().cloned());
                all.sort();
                all.dedup();
                Some(all)
            }
        };
        self.view != before
    }

    pub fn id(&self) -> &str {
        &self.view.id
    }

    pub fn status(&self) -> OrderStatus {
        self.view.status
    }

    pub fn progress(&self) -> Progress {
        self.view.progress()
    }

    /// The order's view: what an order list shows.
    pub fn view(&self) -> &OrderView {
        &self.view
    }

    pub fn into_view(self) -> OrderView {
        self.view
    }
}
