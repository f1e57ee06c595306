//! Online ordering's tables: the order projection, web orders the hub writes
//! into a store's event log, per-store counters, node presence and devices.
//!
//! Two things happen inside the transaction that appends events (the
//! transactional outbox of the architecture): every order event updates the
//! `orders` projection, device events update `node_devices`, and on PostgreSQL
//! a `NOTIFY hub_events` goes out, delivered to every replica when the
//! transaction commits. Events are read as the domain's facts
//! (`domain::fact::Fact`); one that does not parse stays in the log and is not
//! projected. An order's row holds `domain::fact::Order` after every fact of it
//! received so far (status and amount paid only rise), so the projection is
//! the same whatever order events arrive in; the merchant's order list reads
//! it (`store_orders`). The transaction-level functions are written once and
//! expanded per backend by `tx_ops!` (sqlx's types differ per database; the
//! SQL does not).

use domain::fact::{DeviceReport, Fact, KitchenBacklog, Order, OrderFact, OrderView};
use domain::order::Channel;
use domain::status::OrderStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use sync::log::Event;

use super::{BeginWrite, Db};

/// The PostgreSQL channel the replicas tell each other on.
pub const NOTIFY_CHANNEL: &str = "hub_events";
/// The origin of the events the hub writes into a store's log (every replica shares it:
/// the next `seq` is taken inside the inserting transaction).
pub const HUB_ORIGIN: &str = "hub";
/// The counter web tickets are numbered from.
pub const WEB_TICKET_COUNTER: &str = "ticket:W";
/// Attempts at placing an order when another replica took the same `seq` first.
const PLACE_ATTEMPTS: usize = 5;

/// An order reached a new status: for trackers, and on PostgreSQL for the other replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    pub store: String,
    pub order: String,
    pub status: String,
    pub rank: i64,
}

/// What one replica tells the others (the `NOTIFY` payload, JSON): the store's
/// log grew (`order` absent), or an order reached `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The replica that wrote it (each replica ignores its own).
    pub from: String,
    pub store: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<i64>,
    /// `"node"`: a node link of the store opened or closed at that replica;
    /// `"revoked"`: a node credential of the store was revoked there ([`Notice::credential`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    /// With `"revoked"`: the connection key of the revoked credential (a token's
    /// SHA-256, or an enrolled node's key), whose links every replica closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl Notice {
    pub fn store(from: &str, store: &str) -> Notice {
        Notice {
            from: from.into(),
            store: store.into(),
            order: None,
            status: None,
            rank: None,
            what: None,
            credential: None,
        }
    }

    pub fn update(from: &str, u: &OrderUpdate) -> Notice {
        Notice {
            from: from.into(),
            store: u.store.clone(),
            order: Some(u.order.clone()),
            status: Some(u.status.clone()),
            rank: Some(u.rank),
            what: None,
            credential: None,
        }
    }

    /// The order update it carries, if any.
    pub fn as_update(&self) -> Option<OrderUpdate> {
        Some(OrderUpdate {
            store: self.store.clone(),
            order: self.order.clone()?,
            status: self.status.clone()?,
            rank: self.rank?,
        })
    }
}

/// An order as the projection holds it.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub ticket: String,
    pub status: String,
    pub rank: i64,
    /// The order after every fact of it received so far.
    pub view: OrderView,
    pub payment: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A web order to write.
#[derive(Debug)]
pub struct NewWebOrder<'a> {
    pub store_id: &'a str,
    pub customer_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub order_id: uuid::Uuid,
    /// Recorded with the event and the projection: `{"method":"pay_at_pickup"}`.
    pub payment: &'a Value,
    pub now: i64,
    /// The replica writing it (for the `NOTIFY`).
    pub replica: &'a str,
}

/// Builds a web order's view from its ticket number (`W-` and this number).
pub type WebOrderView<'a> = dyn Fn(u64) -> Result<OrderView, serde_json::Error> + Sync + 'a;

/// What placing a web order did.
#[derive(Debug)]
pub enum Placed {
    /// A new order and its `order.created` event.
    New { order: OrderRow, event: Event },
    /// This customer already placed an order under this idempotency key.
    Existing(OrderRow),
}

/// One node token's link as a replica last recorded it.
#[derive(Debug, Clone)]
pub struct PresenceRow {
    pub token_hash: String,
    pub replica: String,
    pub connections: i64,
    /// The node's version vector as it last acknowledged (JSON object origin -> seq).
    pub acked: Value,
    pub last_seen_at: i64,
}

/// A device as its node last reported it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub health: Value,
    pub updated_at: i64,
}

/// A store's kitchen backlog as the hub holds it (the latest `kitchen.backlog`).
#[derive(Debug, Clone)]
pub struct BacklogRow {
    pub open_tickets: u32,
    pub oldest_age_secs: u32,
    pub stations: Vec<domain::fact::StationBacklog>,
    /// When the node measured it (Unix ms).
    pub reported_ms: i64,
    /// When the hub received it (Unix ms).
    pub updated_at: i64,
}

/// The next hybrid-logical-clock reading after `last` (the encoded form of `domain::clock::Hlc`).
pub fn next_hlc(last: Option<&str>, now_ms: i64) -> String {
    let prev = last
        .and_then(|s| s.split_once('-'))
        .and_then(|(w, l)| Some((w.parse().ok()?, l.parse().ok()?)))
        .map(|(wall_ms, logical)| domain::clock::Hlc { wall_ms, logical })
        .unwrap_or_default();
    prev.tick(u64::try_from(now_ms).unwrap_or(0)).encode()
}

fn decode_json(s: &str) -> Result<Value, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn decode_view(s: &str) -> Result<OrderView, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn encode<T: Serialize>(v: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The columns of an order's row beside its view, as the view gives them.
struct Columns {
    ticket: String,
    channel: String,
    total: i64,
    created_ms: Option<i64>,
    /// When it was created, or (for a view that does not say) when the hub first saw it.
    created_at: i64,
    updated_at: i64,
    /// The sales report's figures (`totals.tax`, `totals.discount`, `refunded`, `totals.currency`).
    tax: i64,
    discount: i64,
    refunded: i64,
    currency: String,
}

impl Columns {
    fn of(v: &OrderView, now: i64) -> Columns {
        let ms = |t: Option<u64>| t.and_then(|t| i64::try_from(t).ok());
        let totals = |k: &str| v.rest.get("totals").and_then(|t| t.get(k));
        let created_ms = ms(v.created_ms);
        let created_at = created_ms.unwrap_or(now);
        Columns {
            // An order that names no ticket or channel lists them empty (the columns predate the facts).
            ticket: v
                .ticket
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect(),
            channel: v
                .channel
                .map(Channel::as_str)
                .unwrap_or_default()
                .to_owned(),
            total: v
                .rest
                .get("totals")
                .and_then(|t| t.get("total"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
            created_ms,
            created_at,
            updated_at: ms(v.updated_ms).unwrap_or(created_at),
            tax: totals("tax").and_then(Value::as_i64).unwrap_or(0),
            discount: totals("discount").and_then(Value::as_i64).unwrap_or(0),
            refunded: v.refunded.unwrap_or(0),
            currency: totals("currency")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(3)
                .collect(),
        }
    }
}

/// Whether the sales report counts an order in this status: every order but a cancelled or voided one.
pub fn counted(status: OrderStatus) -> bool {
    !matches!(status, OrderStatus::Cancelled | OrderStatus::Voided)
}

/// An order's lines as the sales report reads them (`order_lines`).
struct SaleLine {
    item_id: String,
    name: String,
    quantity: i64,
    /// `line_total - discount`.
    sales: i64,
}

/// The lines of an order's view (`rest.lines`); a line that does not have the priced form counts nothing.
fn sale_lines(v: &OrderView) -> Vec<SaleLine> {
    let Some(lines) = v.rest.get("lines").and_then(Value::as_array) else {
        return vec![];
    };
    let int = |l: &Value, k: &str| l.get(k).and_then(Value::as_i64).unwrap_or(0);
    let text = |l: &Value, k: &str, n: usize| {
        l.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(n)
            .collect::<String>()
    };
    lines
        .iter()
        .map(|l| SaleLine {
            item_id: text(l, "item_id", 64),
            name: text(l, "name", 200),
            quantity: int(l, "quantity"),
            sales: int(l, "line_total").saturating_sub(int(l, "discount")),
        })
        .collect()
}

/// The tender a `payment.recorded` fact's `payment` names: `cash`, `card` (at the
/// till), `online_card` (captured by the hub), or `other`; with its id and amount.
fn tender_of(payment: &Value) -> (&'static str, Option<String>, i64) {
    let online = payment.get("online").and_then(Value::as_bool) == Some(true);
    let tender = match payment.get("method").and_then(Value::as_str) {
        Some("cash") => "cash",
        Some("card") if online => "online_card",
        Some("card") => "card",
        _ => "other",
    };
    let id = payment
        .get("id")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(200).collect());
    let amount = payment.get("amount").and_then(Value::as_i64).unwrap_or(0);
    (tender, id, amount)
}

/// The orders of a store a merchant asks for (`GET /api/v1/stores/{id}/orders`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderQuery {
    /// Any of these (all when empty).
    pub statuses: Vec<OrderStatus>,
    /// Any of these (all when empty).
    pub channels: Vec<Channel>,
    /// Created at or after (Unix ms).
    pub since_ms: i64,
    /// Created before (Unix ms).
    pub until_ms: i64,
    /// The newest this many.
    pub limit: usize,
}

impl OrderQuery {
    /// Whether the query names a time window: an order whose view gives no time passes none.
    fn timed(&self) -> bool {
        self.since_ms > 0 || self.until_ms < i64::MAX
    }

    /// The `SELECT` of the orders that pass, newest first, with its parameters after
    /// the store's id (`$1`): one `$n` per status, per channel, the window, the limit.
    fn sql(&self) -> String {
        let mut sql = String::from("SELECT snapshot FROM orders WHERE store_id = $1");
        let mut n = 1;
        let mut list = |sql: &mut String, column: &str, len: usize| {
            if len == 0 {
                return;
            }
            let marks: Vec<String> = (0..len)
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
        };
        list(&mut sql, "status", self.statuses.len());
        list(&mut sql, "channel", self.channels.len());
        if self.timed() {
            sql.push_str(&format!(
                " AND created_ms >= ${} AND created_ms < ${}",
                n + 1,
                n + 2
            ));
            n += 2;
        }
        sql.push_str(&format!(
            " ORDER BY COALESCE(created_ms, 0) DESC, id DESC LIMIT ${}",
            n + 1
        ));
        sql
    }
}

/// Reads an `orders` row selected with `order_columns!()`.
fn order_row(row: &impl OrderRowSource) -> Result<OrderRow, sqlx::Error> {
    row.order_row()
}

/// The columns every `orders` read selects (a macro, so queries stay literal strings).
macro_rules! order_columns {
    () => {
        "id, store_id, customer_id, ticket, status, status_rank, snapshot, payment, created_at, updated_at"
    };
}

/// Row types of both backends, read the same way.
trait OrderRowSource {
    fn order_row(&self) -> Result<OrderRow, sqlx::Error>;
}

macro_rules! impl_order_row {
    ($row:ty) => {
        impl OrderRowSource for $row {
            fn order_row(&self) -> Result<OrderRow, sqlx::Error> {
                let payment: Option<String> = self.try_get("payment")?;
                Ok(OrderRow {
                    id: self.try_get("id")?,
                    store_id: self.try_get("store_id")?,
                    customer_id: self.try_get("customer_id")?,
                    ticket: self.try_get("ticket")?,
                    status: self.try_get("status")?,
                    rank: self.try_get("status_rank")?,
                    view: decode_view(&self.try_get::<String, _>("snapshot")?)?,
                    payment: payment.as_deref().map(decode_json).transpose()?,
                    created_at: self.try_get("created_at")?,
                    updated_at: self.try_get("updated_at")?,
                })
            }
        }
    };
}
impl_order_row!(sqlx::sqlite::SqliteRow);
impl_order_row!(sqlx::postgres::PgRow);

/// The functions that run inside a transaction, once per backend: `$id` is the
/// Rust type of `events.id` there and `$to_id` makes it from a UUID.
macro_rules! tx_ops {
    ($module:ident, $db:ty, $is_pg:expr, $id:ty, $to_id:expr) => {
        pub(super) mod $module {
            use super::*;

            type Tx<'t> = sqlx::Transaction<'t, $db>;
            const IS_PG: bool = $is_pg;

            fn event_id(id: uuid::Uuid) -> $id {
                ($to_id)(id)
            }

            /// Projects appended events; returns the orders whose status rose (or that are new).
            /// On PostgreSQL also queues the notices for the other replicas.
            pub async fn project(
                tx: &mut Tx<'_>,
                store_id: &str,
                events: &[Event],
                now: i64,
                from: &str,
            ) -> Result<Vec<OrderUpdate>, sqlx::Error> {
                let mut updates = vec![];
                for e in events {
                    let fact = match Fact::decode(&e.kind, &e.data) {
                        Ok(f) => f,
                        Err(err) => {
                            tracing::warn!(store = %store_id, event = %e.id, origin = %e.origin, error = %err, "a fact that does not parse is kept in the log but not projected");
                            continue;
                        }
                    };
                    match &fact {
                        Fact::DeviceHealth(d) | Fact::DeviceStatus(d) => {
                            project_device(tx, store_id, e, d, now).await?;
                        }
                        Fact::KitchenBacklog(b) => {
                            project_backlog(tx, store_id, e, b, now).await?;
                        }
                        Fact::RefundRequested(r) => {
                            // Checked and carried out by the payments worker (`payments::refunds`).
                            sqlx::query(
                                "INSERT INTO card_refunds (id, order_id, store_id, amount, reason, requested_by, source, \
                                 state, created_at, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, 'node', 'requested', $7, $7) ON CONFLICT (id) DO NOTHING",
                            )
                            .bind(r.id.clone())
                            .bind(r.order_id.clone())
                            .bind(store_id.to_owned())
                            .bind(r.amount)
                            .bind(r.reason.clone())
                            .bind(r.approved_by.clone().unwrap_or_else(|| r.by.clone()))
                            .bind(now)
                            .execute(&mut **tx)
                            .await?;
                        }
                        _ => {
                            let Some(view) = fact.order() else { continue };
                            if e.subject.as_deref() != Some(view.id.as_str()) {
                                tracing::warn!(store = %store_id, event = %e.id, "an order fact whose subject is not its order; not projected");
                                continue;
                            }
                            if let Some(u) = project_order(tx, store_id, view, now, None).await? {
                                updates.push(u);
                            }
                            if let Fact::PaymentRecorded(f) = &fact
                                && let Some(payment) = f.detail.get("payment")
                            {
                                project_tender(tx, store_id, &view.id, &e.id.to_string(), payment).await?;
                            }
                        }
                    }
                }
                if !events.is_empty() {
                    let mut notices = vec![Notice::store(from, store_id)];
                    notices.extend(updates.iter().map(|u| Notice::update(from, u)));
                    notify(tx, &notices).await?;
                }
                Ok(updates)
            }

            /// Queues `NOTIFY hub_events` (PostgreSQL only; sent when the transaction commits).
            pub async fn notify(tx: &mut Tx<'_>, notices: &[Notice]) -> Result<(), sqlx::Error> {
                if !IS_PG {
                    return Ok(());
                }
                let payloads = notices
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(|p| serde_json::to_string(&p))
                    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                // One round trip for all of them: a JSON array of the payloads.
                sqlx::query("SELECT pg_notify($1, n) FROM json_array_elements_text($2::json) AS n")
                    .bind(NOTIFY_CHANNEL)
                    .bind(payloads)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Inserts or raises one order; `Some` when it is new or its status rose.
            /// Keeps the store's sales sums (`db::sales`) with the projections.
            async fn project_order(
                tx: &mut Tx<'_>,
                store_id: &str,
                view: &OrderView,
                now: i64,
                web: Option<(&str, Option<&str>, &str)>,
            ) -> Result<Option<OrderUpdate>, sqlx::Error> {
                // The zone of the store's sales sums (taking, on PostgreSQL, their
                // lock before the order's row).
                let tz = crate::db::sales::$module::rollup_tz(tx, store_id).await?;
                crate::db::sales::$module::writer(tx, true).await?;
                let r = project_order_rows(tx, store_id, view, now, web, tz).await;
                if r.is_ok() {
                    crate::db::sales::$module::writer(tx, false).await?;
                }
                r
            }

            async fn project_order_rows(
                tx: &mut Tx<'_>,
                store_id: &str,
                view: &OrderView,
                now: i64,
                web: Option<(&str, Option<&str>, &str)>,
                tz: Option<chrono_tz::Tz>,
            ) -> Result<Option<OrderUpdate>, sqlx::Error> {
                // The row is read, joined with the fact's view and written back: on
                // PostgreSQL locked meanwhile, as another replica may project the same
                // order (SQLite's write transactions are already one at a time).
                let select = if IS_PG {
                    "SELECT store_id, status_rank, snapshot, updated_at FROM orders WHERE id = $1 FOR UPDATE"
                } else {
                    "SELECT store_id, status_rank, snapshot, updated_at FROM orders WHERE id = $1"
                };
                let current = sqlx::query(select)
                    .bind(view.id.clone())
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(current) = current else {
                    let order = Order::new(view.clone());
                    let c = Columns::of(order.view(), now);
                    let (customer, key, payment) = match web {
                        Some((c, k, p)) => (Some(c.to_owned()), k.map(str::to_owned), Some(p.to_owned())),
                        None => (None, None, None),
                    };
                    let status = order.status();
                    let n = sqlx::query(
                        "INSERT INTO orders (id, store_id, customer_id, idempotency_key, ticket, channel, status, status_rank, total, snapshot, payment, created_at, updated_at, created_ms, \
                         tax, discount, refunded, currency) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(view.id.clone())
                    .bind(store_id.to_owned())
                    .bind(customer)
                    .bind(key)
                    .bind(c.ticket.clone())
                    .bind(c.channel.clone())
                    .bind(status.as_str())
                    .bind(i64::from(status.rank()))
                    .bind(c.total)
                    .bind(encode(order.view())?)
                    .bind(payment)
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .bind(c.created_ms)
                    .bind(c.tax)
                    .bind(c.discount)
                    .bind(c.refunded)
                    .bind(c.currency.clone())
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                    if n == 1 {
                        project_sales(tx, store_id, order.view(), status, &c).await?;
                        if let Some(tz) = tz {
                            let sums = crate::db::sales::$module::order_sums(tx, tz, store_id, &view.id).await?;
                            crate::db::sales::$module::apply(tx, store_id, &sums).await?;
                        }
                    }
                    return Ok((n == 1).then(|| OrderUpdate {
                        store: store_id.to_owned(),
                        order: view.id.clone(),
                        status: status.as_str().to_owned(),
                        rank: i64::from(status.rank()),
                    }));
                };
                let owner: String = current.try_get("store_id")?;
                if owner != store_id {
                    tracing::warn!(order = %view.id, store = %store_id, "an event names an order of another store; not projected");
                    return Ok(None);
                }
                let rank: i64 = current.try_get("status_rank")?;
                let held = match decode_view(&current.try_get::<String, _>("snapshot")?) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(order = %view.id, error = %e, "the projection holds an order that does not parse; not projected");
                        return Ok(None);
                    }
                };
                let mut order = Order::new(held);
                if !order.join(view) {
                    return Ok(None);
                }
                let c = Columns::of(order.view(), now);
                let status = order.status();
                let before = match tz {
                    Some(tz) => Some(crate::db::sales::$module::order_sums(tx, tz, store_id, &view.id).await?),
                    None => None,
                };
                let updated = current.try_get::<i64, _>("updated_at")?.max(Columns::of(view, now).updated_at);
                sqlx::query(
                    "UPDATE orders SET status = $2, status_rank = $3, snapshot = $4, updated_at = $5, \
                     ticket = $6, channel = $7, total = $8, created_ms = $9, tax = $10, discount = $11, \
                     refunded = $12, currency = $13 WHERE id = $1",
                )
                .bind(view.id.clone())
                .bind(status.as_str())
                .bind(i64::from(status.rank()))
                .bind(encode(order.view())?)
                .bind(updated)
                .bind(c.ticket.clone())
                .bind(c.channel.clone())
                .bind(c.total)
                .bind(c.created_ms)
                .bind(c.tax)
                .bind(c.discount)
                .bind(c.refunded)
                .bind(c.currency.clone())
                .execute(&mut **tx)
                .await?;
                project_sales(tx, store_id, order.view(), status, &c).await?;
                if let (Some(tz), Some(before)) = (tz, before) {
                    let after = crate::db::sales::$module::order_sums(tx, tz, store_id, &view.id).await?;
                    crate::db::sales::$module::apply(tx, store_id, &after.minus(&before)).await?;
                }
                Ok((i64::from(status.rank()) > rank).then(|| OrderUpdate {
                    store: store_id.to_owned(),
                    order: view.id.clone(),
                    status: status.as_str().to_owned(),
                    rank: i64::from(status.rank()),
                }))
            }

            /// The sales report's rows of an order (`order_lines`, and whether its
            /// `order_tenders` count), rewritten after every change of the order.
            async fn project_sales(
                tx: &mut Tx<'_>,
                store_id: &str,
                view: &OrderView,
                status: OrderStatus,
                c: &Columns,
            ) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM order_lines WHERE order_id = $1")
                    .bind(view.id.clone())
                    .execute(&mut **tx)
                    .await?;
                let counted = counted(status);
                sqlx::query("UPDATE order_tenders SET counted = $2, created_ms = $3 WHERE order_id = $1")
                    .bind(view.id.clone())
                    .bind(i64::from(counted))
                    .bind(c.created_ms)
                    .execute(&mut **tx)
                    .await?;
                let Some(created_ms) = c.created_ms.filter(|_| counted) else {
                    return Ok(());
                };
                for (n, l) in sale_lines(view).into_iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO order_lines (order_id, line_no, store_id, item_id, name, quantity, sales, created_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(view.id.clone())
                    .bind(i64::try_from(n).unwrap_or(i64::MAX))
                    .bind(store_id.to_owned())
                    .bind(l.item_id)
                    .bind(l.name)
                    .bind(l.quantity)
                    .bind(l.sales)
                    .bind(created_ms)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// One `payment.recorded` fact's tender (`order_tenders`), counted as its order is.
            async fn project_tender(
                tx: &mut Tx<'_>,
                store_id: &str,
                order_id: &str,
                event_id: &str,
                payment: &Value,
            ) -> Result<(), sqlx::Error> {
                let (tender, id, amount) = tender_of(payment);
                let tz = crate::db::sales::$module::rollup_tz(tx, store_id).await?;
                crate::db::sales::$module::writer(tx, true).await?;
                let inserted = sqlx::query(
                    "INSERT INTO order_tenders (order_id, payment_id, store_id, tender, amount, created_ms, counted) \
                     SELECT id, $2, store_id, $3, $4, created_ms, \
                     CASE WHEN status IN ('cancelled', 'voided') THEN 0 ELSE 1 END \
                     FROM orders WHERE id = $1 AND store_id = $5 \
                     ON CONFLICT (order_id, payment_id) DO NOTHING RETURNING created_ms, counted",
                )
                .bind(order_id.to_owned())
                .bind(id.unwrap_or_else(|| event_id.to_owned()))
                .bind(tender)
                .bind(amount)
                .bind(store_id.to_owned())
                .fetch_optional(&mut **tx)
                .await?;
                crate::db::sales::$module::writer(tx, false).await?;
                // The new payment's part of the store's sales sums, when it counts.
                if let (Some(tz), Some(row)) = (tz, inserted)
                    && row.try_get::<i64, _>("counted")? == 1
                    && let Some(created_ms) = row.try_get::<Option<i64>, _>("created_ms")?
                {
                    let mut sums = crate::db::sales::Rollup::default();
                    sums.add_tenders(tz, created_ms, tender, [1, amount]);
                    crate::db::sales::$module::apply(tx, store_id, &sums).await?;
                }
                Ok(())
            }

            async fn project_device(
                tx: &mut Tx<'_>,
                store_id: &str,
                e: &Event,
                d: &DeviceReport,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                let id = d.id.as_deref().or(e.subject.as_deref());
                let Some(id) = id.filter(|i| (1..=64).contains(&i.len())) else {
                    return Ok(());
                };
                let text = |k: &str| d.text(k).map(|s| s.chars().take(100).collect::<String>());
                let health = d.health().to_string();
                sqlx::query(
                    "INSERT INTO node_devices (store_id, device_id, kind, name, health, hlc, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (store_id, device_id) DO UPDATE SET kind = COALESCE(excluded.kind, node_devices.kind), \
                     name = COALESCE(excluded.name, node_devices.name), health = excluded.health, \
                     hlc = excluded.hlc, updated_at = excluded.updated_at \
                     WHERE excluded.hlc > node_devices.hlc",
                )
                .bind(store_id.to_owned())
                .bind(id.to_owned())
                .bind(text("kind"))
                .bind(text("name"))
                .bind(health)
                .bind(e.hlc.clone())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn project_backlog(
                tx: &mut Tx<'_>,
                store_id: &str,
                e: &Event,
                b: &KitchenBacklog,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                let stations = encode(&b.stations)?;
                sqlx::query(
                    "INSERT INTO kitchen_backlog (store_id, open_tickets, oldest_age_secs, stations, reported_ms, hlc, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (store_id) DO UPDATE SET open_tickets = excluded.open_tickets, \
                     oldest_age_secs = excluded.oldest_age_secs, stations = excluded.stations, \
                     reported_ms = excluded.reported_ms, hlc = excluded.hlc, updated_at = excluded.updated_at \
                     WHERE excluded.hlc > kitchen_backlog.hlc",
                )
                .bind(store_id.to_owned())
                .bind(i64::from(b.open_tickets))
                .bind(i64::from(b.oldest_age_secs))
                .bind(stations)
                .bind(i64::try_from(b.at_ms).unwrap_or(i64::MAX))
                .bind(e.hlc.clone())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// One attempt at a web order: counter, next hub `seq`, event, projection, notice.
            /// A unique violation (another replica took the seq) surfaces as the error to retry on.
            pub async fn place(
                tx: &mut Tx<'_>,
                o: &NewWebOrder<'_>,
                view: &WebOrderView<'_>,
            ) -> Result<Placed, sqlx::Error> {
                if let Some(key) = o.idempotency_key {
                    let row = sqlx::query(concat!(
                        "SELECT ", order_columns!(), " FROM orders WHERE customer_id = $1 AND idempotency_key = $2"
                    ))
                    .bind(o.customer_id.to_owned())
                    .bind(key.to_owned())
                    .fetch_optional(&mut **tx)
                    .await?;
                    if let Some(row) = row {
                        return Ok(Placed::Existing(order_row(&row)?));
                    }
                }
                // The counter update comes first: it takes the write lock (SQLite) or the
                // row lock (PostgreSQL), so one store's web orders are placed one at a time.
                let ticket: i64 = sqlx::query(
                    "INSERT INTO store_counters (store_id, name, value) VALUES ($1, $2, 1) \
                     ON CONFLICT (store_id, name) DO UPDATE SET value = store_counters.value + 1 RETURNING value",
                )
                .bind(o.store_id.to_owned())
                .bind(WEB_TICKET_COUNTER)
                .fetch_one(&mut **tx)
                .await?
                .try_get("value")?;
                let order = view(u64::try_from(ticket).unwrap_or(1))
                    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                let mut detail = serde_json::Map::new();
                detail.insert("payment".into(), o.payment.clone());
                let fact = Fact::OrderCreated(OrderFact { order, detail });
                let event = insert_hub_event(tx, o.store_id, &o.order_id.to_string(), &fact, o.now).await?;
                let view = fact.order().ok_or_else(|| sqlx::Error::Protocol("a web order's fact has no order".into()))?;
                let update = project_order(
                    tx,
                    o.store_id,
                    view,
                    o.now,
                    Some((o.customer_id, o.idempotency_key, &o.payment.to_string())),
                )
                .await?;
                let mut notices = vec![Notice::store(o.replica, o.store_id)];
                notices.extend(update.iter().map(|u| Notice::update(o.replica, u)));
                notify(tx, &notices).await?;
                let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
                    .bind(o.order_id.to_string())
                    .fetch_one(&mut **tx)
                    .await?;
                Ok(Placed::New {
                    order: order_row(&row)?,
                    event,
                })
            }
            /// Appends `fact` about `subject` to the store's log as the hub's next event
            /// (the next hub `seq` and HLC); a unique violation means another replica
            /// took that `seq` first, and the caller retries.
            async fn insert_hub_event(
                tx: &mut Tx<'_>,
                store_id: &str,
                subject: &str,
                fact: &Fact,
                now: i64,
            ) -> Result<Event, sqlx::Error> {
                let last = sqlx::query(
                    "SELECT seq, hlc FROM events WHERE store_id = $1 AND origin = $2 ORDER BY seq DESC LIMIT 1",
                )
                .bind(store_id.to_owned())
                .bind(HUB_ORIGIN)
                .fetch_optional(&mut **tx)
                .await?;
                let (seq, hlc) = match &last {
                    Some(r) => (r.try_get::<i64, _>("seq")? + 1, next_hlc(Some(&r.try_get::<String, _>("hlc")?), now)),
                    None => (1, next_hlc(None, now)),
                };
                let data = fact.data().map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                let event = Event {
                    id: uuid::Uuid::now_v7(),
                    store: store_id.to_owned(),
                    origin: HUB_ORIGIN.to_owned(),
                    seq: u64::try_from(seq).unwrap_or(1),
                    hlc,
                    kind: fact.kind().to_owned(),
                    subject: Some(subject.to_owned()),
                    data,
                };
                sqlx::query(
                    "INSERT INTO events (id, store_id, origin, seq, hlc, kind, subject, data, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(event_id(event.id))
                .bind(store_id.to_owned())
                .bind(HUB_ORIGIN)
                .bind(seq)
                .bind(event.hlc.clone())
                .bind(event.kind.clone())
                .bind(event.subject.clone())
                .bind(event.data.to_string())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(event)
            }

            /// Appends one fact of the hub's own (a change it decided, such as
            /// cancelling an order the store never accepted): the next hub `seq`,
            /// the event, its projection and notices, in one transaction.
            pub async fn append_hub_fact(
                tx: &mut Tx<'_>,
                store_id: &str,
                subject: &str,
                fact: &Fact,
                now: i64,
                replica: &str,
            ) -> Result<(Event, Vec<OrderUpdate>), sqlx::Error> {
                let event = insert_hub_event(tx, store_id, subject, fact, now).await?;
                let updates = project(tx, store_id, std::slice::from_ref(&event), now, replica).await?;
                Ok((event, updates))
            }
        }
    };
}

tx_ops!(sqlite_tx, sqlx::Sqlite, false, String, |u: uuid::Uuid| u
    .to_string());
tx_ops!(pg_tx, sqlx::Postgres, true, uuid::Uuid, |u: uuid::Uuid| u);

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Db {
    /// Places a customer's web order: the next `W-` ticket of the store, an
    /// `order.created` event of origin [`HUB_ORIGIN`] (the next `seq`, taken in
    /// the same transaction, retried when another replica took it first), and
    /// its row in the projection, all in one transaction. `view` builds the
    /// order's `OrderView` JSON from the ticket number. A retry under the same
    /// idempotency key returns the order placed first.
    pub async fn place_web_order(
        &self,
        o: &NewWebOrder<'_>,
        view: &WebOrderView<'_>,
    ) -> Result<Placed, sqlx::Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = match self {
                Db::Sqlite(pool) => {
                    let mut tx = pool.begin_write().await?;
                    match sqlite_tx::place(&mut tx, o, view).await {
                        Ok(p) => tx.commit().await.map(|_| p),
                        Err(e) => Err(e),
                    }
                }
                Db::Postgres(pool) => {
                    let mut tx = pool.begin_write().await?;
                    match pg_tx::place(&mut tx, o, view).await {
                        Ok(p) => tx.commit().await.map(|_| p),
                        Err(e) => Err(e),
                    }
                }
            };
            match r {
                Err(e) if is_unique_violation(&e) && attempt < PLACE_ATTEMPTS => {
                    tracing::debug!(store = %o.store_id, attempt, "hub seq taken by another replica; retrying");
                }
                other => return other,
            }
        }
    }

    /// Appends a fact the hub decided about order `subject` of `store_id` (see
    /// `append_hub_fact` in the transaction modules), retried when another
    /// replica took the next hub `seq` first. Returns the event and the orders
    /// whose status rose.
    pub async fn append_hub_fact(
        &self,
        store_id: &str,
        subject: &str,
        fact: &Fact,
        now: i64,
        replica: &str,
    ) -> Result<(Event, Vec<OrderUpdate>), sqlx::Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = match self {
                Db::Sqlite(pool) => {
                    let mut tx = pool.begin_write().await?;
                    match sqlite_tx::append_hub_fact(&mut tx, store_id, subject, fact, now, replica)
                        .await
                    {
                        Ok(p) => tx.commit().await.map(|_| p),
                        Err(e) => Err(e),
                    }
                }
                Db::Postgres(pool) => {
                    let mut tx = pool.begin_write().await?;
                    match pg_tx::append_hub_fact(&mut tx, store_id, subject, fact, now, replica)
                        .await
                    {
                        Ok(p) => tx.commit().await.map(|_| p),
                        Err(e) => Err(e),
                    }
                }
            };
            match r {
                Err(e) if is_unique_violation(&e) && attempt < PLACE_ATTEMPTS => {
                    tracing::debug!(store = %store_id, attempt, "hub seq taken by another replica; retrying");
                }
                other => return other,
            }
        }
    }

    /// A store's orders that pass `q`, oldest first (by the time their views give;
    /// orders that give none first), the newest `q.limit` of them: each as the
    /// projection holds it, the node's `OrderView` after every fact received.
    pub async fn store_orders(
        &self,
        store_id: &str,
        q: &OrderQuery,
    ) -> Result<Vec<Value>, sqlx::Error> {
        let sql = q.sql();
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let mut orders: Vec<Value> = on_pool!(self, pool => {
            // Only placeholders vary: the values are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(store_id.to_owned());
            for s in &q.statuses {
                query = query.bind(s.as_str());
            }
            for c in &q.channels {
                query = query.bind(c.as_str());
            }
            if q.timed() {
                query = query.bind(q.since_ms).bind(q.until_ms);
            }
            let rows = query.bind(limit).fetch_all(pool).await?;
            rows.iter()
                .map(|r| decode_json(&r.try_get::<String, _>("snapshot")?))
                .collect::<Result<_, sqlx::Error>>()?
        });
        orders.reverse();
        Ok(orders)
    }

    /// How many events of a store the hub holds.
    pub async fn event_count(&self, store_id: &str) -> Result<u64, sqlx::Error> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE store_id = $1")
            .bind(store_id.to_owned())
            .fetch_one(pool)
            .await?);
        u64::try_from(n).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }

    /// Projects a store's whole log again, once, when migration 0005 listed the
    /// store: its log may hold orders from before the projection took every order
    /// fact, which the merchant's list (read from the projection since) must still
    /// show. Joining is idempotent, so a replica doing it alongside another is harmless.
    pub async fn replay_orders_once(
        &self,
        store_id: &str,
        now: i64,
        from: &str,
    ) -> Result<(), sqlx::Error> {
        let pending = on_pool!(self, pool => sqlx::query("SELECT 1 FROM order_replays WHERE store_id = $1")
            .bind(store_id.to_owned())
            .fetch_optional(pool)
            .await?
            .is_some());
        if !pending {
            return Ok(());
        }
        let events = self.events(store_id).await?;
        macro_rules! replay {
            ($pool:expr, $project:path) => {{
                let mut tx = $pool.begin_write().await?;
                let n = sqlx::query("DELETE FROM order_replays WHERE store_id = $1")
                    .bind(store_id.to_owned())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    $project(&mut tx, store_id, &events, now, from).await?;
                }
                tx.commit().await?;
            }};
        }
        match self {
            Db::Sqlite(pool) => replay!(pool, sqlite_tx::project),
            Db::Postgres(pool) => replay!(pool, pg_tx::project),
        }
        tracing::info!(store = %store_id, events = events.len(), "the store's log was projected again for the order list");
        Ok(())
    }

    /// An order of a store (`None` for another store's order or none at all).
    pub async fn store_order(
        &self,
        store_id: &str,
        order_id: &str,
    ) -> Result<Option<OrderRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 AND store_id = $2"))
                .bind(order_id.to_owned())
                .bind(store_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(order_row).transpose()
        })
    }

    /// An order of a customer (`None` for another customer's order or none at all).
    pub async fn customer_order(
        &self,
        customer_id: &str,
        order_id: &str,
    ) -> Result<Option<OrderRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 AND customer_id = $2"))
                .bind(order_id.to_owned())
                .bind(customer_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(order_row).transpose()
        })
    }

    /// A customer's orders, newest first.
    pub async fn customer_orders(
        &self,
        customer_id: &str,
        limit: i64,
    ) -> Result<Vec<OrderRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(concat!(
                "SELECT ", order_columns!(),
                " FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
                .bind(customer_id.to_owned())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(order_row).collect()
        })
    }

    /// A store's name as created (the settings document may override it).
    pub async fn store_name(&self, store_id: &str) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT name FROM stores WHERE id = $1")
                .bind(store_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.try_get::<String, _>("name")).transpose()
        })
    }

    /// Records how a node token's link stands on one replica.
    pub async fn record_presence(
        &self,
        token_hash: &str,
        replica: &str,
        store_id: &str,
        connections: i64,
        acked: &Value,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO node_presence (token_hash, replica, store_id, connections, acked, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_hash, replica) DO UPDATE SET \
             store_id = excluded.store_id, connections = excluded.connections, acked = excluded.acked, \
             last_seen_at = excluded.last_seen_at",
        )
        .bind(token_hash.to_owned())
        .bind(replica.to_owned())
        .bind(store_id.to_owned())
        .bind(connections)
        .bind(acked.to_string())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// Tells the other replicas a node link of `store` opened or closed here
    /// (PostgreSQL `NOTIFY`; one process on SQLite has nobody to tell).
    pub async fn announce_presence(
        &self,
        replica: &str,
        store_id: &str,
    ) -> Result<(), sqlx::Error> {
        let Db::Postgres(pool) = self else {
            return Ok(());
        };
        let notice = Notice {
            what: Some("node".into()),
            ..Notice::store(replica, store_id)
        };
        notify(pool, &notice).await
    }

    /// Tells the other replicas (PostgreSQL) that a node credential was revoked, so
    /// they close its links too; on SQLite there is one process and nothing to tell.
    pub async fn announce_revocation(
        &self,
        replica: &str,
        store_id: &str,
        credential: &str,
    ) -> Result<(), sqlx::Error> {
        let Db::Postgres(pool) = self else {
            return Ok(());
        };
        let notice = Notice {
            what: Some("revoked".into()),
            credential: Some(credential.into()),
            ..Notice::store(replica, store_id)
        };
        notify(pool, &notice).await
    }

    /// Every replica's record of every node token of a store.
    pub async fn store_presence(&self, store_id: &str) -> Result<Vec<PresenceRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT token_hash, replica, connections, acked, last_seen_at FROM node_presence WHERE store_id = $1",
            )
            .bind(store_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(PresenceRow {
                        token_hash: r.try_get("token_hash")?,
                        replica: r.try_get("replica")?,
                        connections: r.try_get("connections")?,
                        acked: decode_json(&r.try_get::<String, _>("acked")?)?,
                        last_seen_at: r.try_get("last_seen_at")?,
                    })
                })
                .collect()
        })
    }

    /// A store's node tokens: (SHA-256, label, revoked), oldest first.
    pub async fn store_tokens(
        &self,
        store_id: &str,
    ) -> Result<Vec<(String, String, bool)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT token_hash, node_label, revoked_at FROM node_tokens WHERE store_id = $1 ORDER BY created_at, token_hash",
            )
            .bind(store_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("token_hash")?,
                        r.try_get("node_label")?,
                        r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    ))
                })
                .collect()
        })
    }

    /// Orders of a store created in `[since_ms, until_ms)` (by their view's
    /// `created_ms`), from the projection: `(status, count, sum of totals)` per status.
    pub async fn day_sales(
        &self,
        store_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS sum FROM orders \
                 WHERE store_id = $1 AND created_ms >= $2 AND created_ms < $3 GROUP BY status",
            )
            .bind(store_id.to_owned())
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("status")?, r.try_get("n")?, r.try_get("sum")?)))
                .collect()
        })
    }

    /// The store's kitchen backlog as its node last reported it.
    pub async fn store_backlog(&self, store_id: &str) -> Result<Option<BacklogRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT open_tickets, oldest_age_secs, stations, reported_ms, updated_at FROM kitchen_backlog WHERE store_id = $1",
            )
            .bind(store_id.to_owned())
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                let stations: Vec<domain::fact::StationBacklog> =
                    serde_json::from_str(&r.try_get::<String, _>("stations")?).unwrap_or_default();
                Ok(BacklogRow {
                    open_tickets: u32::try_from(r.try_get::<i64, _>("open_tickets")?).unwrap_or(u32::MAX),
                    oldest_age_secs: u32::try_from(r.try_get::<i64, _>("oldest_age_secs")?).unwrap_or(u32::MAX),
                    stations,
                    reported_ms: r.try_get("reported_ms")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .transpose()
        })
    }

    /// The devices a store's nodes reported, by id.
    pub async fn store_devices(&self, store_id: &str) -> Result<Vec<DeviceRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT device_id, kind, name, health, updated_at FROM node_devices WHERE store_id = $1 ORDER BY device_id",
            )
            .bind(store_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DeviceRow {
                        id: r.try_get("device_id")?,
                        kind: r.try_get("kind")?,
                        name: r.try_get("name")?,
                        health: decode_json(&r.try_get::<String, _>("health")?)?,
                        updated_at: r.try_get("updated_at")?,
                    })
                })
                .collect()
        })
    }
}

/// Sends `notice` to every replica listening on [`NOTIFY_CHANNEL`].
async fn notify(pool: &sqlx::PgPool, notice: &Notice) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(notice).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(NOTIFY_CHANNEL)
        .bind(payload)
        .execute(pool)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_readings_move_forward() {
        let a = next_hlc(None, 1_000);
        let b = next_hlc(Some(&a), 900);
        assert!(b > a, "{b} after {a} though the wall clock went back");
        assert_eq!(next_hlc(Some("garbage"), 5), next_hlc(None, 5));
    }

    #[test]
    fn notices_round_trip_and_carry_updates() {
        let u = OrderUpdate {
            store: "s1".into(),
            order: "o1".into(),
            status: "ready".into(),
            rank: 3,
        };
        let n = Notice::update("r1", &u);
        let back: Notice = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
        assert_eq!(back.as_update(), Some(u));
        assert_eq!(Notice::store("r1", "s1").as_update(), None);
    }

    #[test]
    fn the_order_list_binds_one_placeholder_per_value() {
        let q = OrderQuery {
            statuses: vec![OrderStatus::Placed, OrderStatus::Ready],
            channels: vec![Channel::Online],
            since_ms: 0,
            until_ms: i64::MAX,
            limit: 10,
        };
        assert_eq!(
            q.sql(),
            "SELECT snapshot FROM orders WHERE store_id = $1 AND status IN ($2, $3) AND channel IN ($4) \
             ORDER BY COALESCE(created_ms, 0) DESC, id DESC LIMIT $5"
        );
        let timed = OrderQuery {
            statuses: vec![],
            channels: vec![],
            since_ms: 5,
            ..q
        };
        assert_eq!(
            timed.sql(),
            "SELECT snapshot FROM orders WHERE store_id = $1 AND created_ms >= $2 AND created_ms < $3 \
             ORDER BY COALESCE(created_ms, 0) DESC, id DESC LIMIT $4"
        );
    }
}
