//! Online ordering's tables: the order projection, web orders the hub writes
//! into a store's event log, per-store counters, node presence and devices.
//!
//! Two things happen inside the transaction that appends events (the
//! transactional outbox of the architecture): every order event updates the
//! `orders` projection, device events update `node_devices`, and on PostgreSQL
//! a `NOTIFY hub_events` goes out, delivered to every replica when the
//! transaction commits. An order's row holds the join of every view of it
//! received so far (`join_views`: status and amount paid only rise, the
//! domain's `Progress::join`), so the projection is the same whatever order
//! events arrive in. The transaction-level functions are written once and
//! expanded per backend by `tx_ops!` (sqlx's types differ per database; the
//! SQL does not).

use std::collections::BTreeSet;

use domain::status::{OrderStatus, Progress};
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
}

impl Notice {
    pub fn store(from: &str, store: &str) -> Notice {
        Notice {
            from: from.into(),
            store: store.into(),
            order: None,
            status: None,
            rank: None,
        }
    }

    pub fn update(from: &str, u: &OrderUpdate) -> Notice {
        Notice {
            from: from.into(),
            store: u.store.clone(),
            order: Some(u.order.clone()),
            status: Some(u.status.clone()),
            rank: Some(u.rank),
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
    /// The latest `OrderView` JSON.
    pub snapshot: Value,
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

/// The facts of an order event the projection needs, or `None` when the event carries no readable order.
struct OrderFacts {
    id: String,
    ticket: String,
    channel: String,
    status: String,
    rank: i64,
    total: i64,
    created: i64,
    updated: i64,
    /// The order's view as the event carries it.
    view: Value,
}

fn order_facts(e: &Event, now: i64) -> Option<OrderFacts> {
    let order = e.data.get("order").filter(|o| o.is_object())?;
    let id = e.subject.clone()?;
    if order
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|o| o != id)
    {
        return None;
    }
    let status = progress(order)?.status;
    let int = |k: &str| order.get(k).and_then(Value::as_i64);
    let text = |k: &str| {
        order
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(64)
            .collect::<String>()
    };
    let created = int("created_ms").unwrap_or(now);
    Some(OrderFacts {
        ticket: text("ticket"),
        channel: text("channel"),
        status: status.as_str().to_owned(),
        rank: i64::from(status.rank()),
        total: order
            .get("totals")
            .and_then(|t| t.get("total"))
            .and_then(Value::as_i64)
            .unwrap_or(0),
        created,
        updated: int("updated_ms").unwrap_or(created),
        view: order.clone(),
        id,
    })
}

/// An order view's status and amount paid (`None` without a readable status).
fn progress(view: &Value) -> Option<Progress> {
    Some(Progress {
        status: OrderStatus::parse(view.get("status")?.as_str()?)?,
        paid: view.get("paid").and_then(Value::as_i64).unwrap_or(0),
    })
}

/// Joins two views of one order that replicas recorded (`OrderView` JSON), so
/// that any arrival order of a store's events gives the same order: status and
/// amount paid are the domain's join (each only rises, `Progress::join`), the
/// stations done are the union of both, and the rest comes from the further
/// view (higher status, then later `updated_ms`; between two different views
/// equal in both, the larger text, so no tie depends on arrival). The stations
/// done come out sorted: a set, in one order whatever the arrival. A view
/// without a readable status loses to one with.
pub fn join_views(a: &Value, b: &Value) -> Value {
    let (pa, pb) = match (progress(a), progress(b)) {
        (Some(pa), Some(pb)) => (pa, pb),
        (None, Some(_)) => return b.clone(),
        _ => return a.clone(),
    };
    let key =
        |v: &Value, p: Progress| (p.status.rank(), v.get("updated_ms").and_then(Value::as_i64));
    let a_leads = match key(a, pa).cmp(&key(b, pb)) {
        std::cmp::Ordering::Equal => {
            let (ta, tb) = (a.to_string(), b.to_string());
            ta >= tb
        }
        order => order.is_gt(),
    };
    let mut joined = if a_leads { a.clone() } else { b.clone() };
    let p = pa.join(pb);
    joined["status"] = Value::from(p.status.as_str());
    joined["paid"] = Value::from(p.paid);
    let stations = |v: &Value| -> BTreeSet<String> {
        v.get("stations_done")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut done = stations(a);
    done.extend(stations(b));
    joined["stations_done"] = Value::from(done.into_iter().collect::<Vec<_>>());
    joined
}

/// Device events the nodes log (`device.health` today; `device.status` accepted too).
fn is_device_event(kind: &str) -> bool {
    kind == "device.health" || kind == "device.status"
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
                    snapshot: decode_json(&self.try_get::<String, _>("snapshot")?)?,
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
                    if is_device_event(&e.kind) {
                        project_device(tx, store_id, e, now).await?;
                    } else if let Some(f) = order_facts(e, now) {
                        if let Some(u) = project_order(tx, store_id, &f, None).await? {
                            updates.push(u);
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
            async fn project_order(
                tx: &mut Tx<'_>,
                store_id: &str,
                f: &OrderFacts,
                web: Option<(&str, Option<&str>, &str)>,
            ) -> Result<Option<OrderUpdate>, sqlx::Error> {
                // The row is read, joined with the event's view and written back: on
                // PostgreSQL locked meanwhile, as another replica may project the same
                // order (SQLite's write transactions are already one at a time).
                let select = if IS_PG {
                    "SELECT store_id, status_rank, snapshot, updated_at FROM orders WHERE id = $1 FOR UPDATE"
                } else {
                    "SELECT store_id, status_rank, snapshot, updated_at FROM orders WHERE id = $1"
                };
                let current = sqlx::query(select)
                    .bind(f.id.clone())
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(current) = current else {
                    let (customer, key, payment) = match web {
                        Some((c, k, p)) => (Some(c.to_owned()), k.map(str::to_owned), Some(p.to_owned())),
                        None => (None, None, None),
                    };
                    let n = sqlx::query(
                        "INSERT INTO orders (id, store_id, customer_id, idempotency_key, ticket, channel, status, status_rank, total, snapshot, payment, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(f.id.clone())
                    .bind(store_id.to_owned())
                    .bind(customer)
                    .bind(key)
                    .bind(f.ticket.clone())
                    .bind(f.channel.clone())
                    .bind(f.status.clone())
                    .bind(f.rank)
                    .bind(f.total)
                    .bind(f.view.to_string())
                    .bind(payment)
                    .bind(f.created)
                    .bind(f.updated)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                    return Ok((n == 1).then(|| OrderUpdate {
                        store: store_id.to_owned(),
                        order: f.id.clone(),
                        status: f.status.clone(),
                        rank: f.rank,
                    }));
                };
                let owner: String = current.try_get("store_id")?;
                if owner != store_id {
                    tracing::warn!(order = %f.id, store = %store_id, "an event names an order of another store; not projected");
                    return Ok(None);
                }
                let rank: i64 = current.try_get("status_rank")?;
                let held = decode_json(&current.try_get::<String, _>("snapshot")?)?;
                let joined = join_views(&held, &f.view);
                if joined == held {
                    return Ok(None);
                }
                let Some(status) = progress(&joined).map(|p| p.status) else {
                    return Ok(None);
                };
                let updated = current.try_get::<i64, _>("updated_at")?.max(f.updated);
                sqlx::query(
                    "UPDATE orders SET status = $2, status_rank = $3, snapshot = $4, updated_at = $5 WHERE id = $1",
                )
                .bind(f.id.clone())
                .bind(status.as_str())
                .bind(i64::from(status.rank()))
                .bind(joined.to_string())
                .bind(updated)
                .execute(&mut **tx)
                .await?;
                Ok((i64::from(status.rank()) > rank).then(|| OrderUpdate {
                    store: store_id.to_owned(),
                    order: f.id.clone(),
                    status: status.as_str().to_owned(),
                    rank: i64::from(status.rank()),
                }))
            }

            async fn project_device(
                tx: &mut Tx<'_>,
                store_id: &str,
                e: &Event,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                let id = e
                    .data
                    .get("id")
                    .and_then(Value::as_str)
                    .or(e.subject.as_deref());
                let Some(id) = id.filter(|i| (1..=64).contains(&i.len())) else {
                    return Ok(());
                };
                let text = |k: &str| e.data.get(k).and_then(Value::as_str).map(|s| s.chars().take(100).collect::<String>());
                let health = e.data.get("health").cloned().unwrap_or(Value::Null).to_string();
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

            /// One attempt at a web order: counter, next hub `seq`, event, projection, notice.
            /// A unique violation (another replica took the seq) surfaces as the error to retry on.
            pub async fn place(
                tx: &mut Tx<'_>,
                o: &NewWebOrder<'_>,
                view: &(dyn Fn(u64) -> Value + Sync),
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
                let last = sqlx::query(
                    "SELECT seq, hlc FROM events WHERE store_id = $1 AND origin = $2 ORDER BY seq DESC LIMIT 1",
                )
                .bind(o.store_id.to_owned())
                .bind(HUB_ORIGIN)
                .fetch_optional(&mut **tx)
                .await?;
                let (seq, hlc) = match &last {
                    Some(r) => (r.try_get::<i64, _>("seq")? + 1, next_hlc(Some(&r.try_get::<String, _>("hlc")?), o.now)),
                    None => (1, next_hlc(None, o.now)),
                };
                let order = view(u64::try_from(ticket).unwrap_or(1));
                let data = serde_json::json!({ "order": order, "payment": o.payment });
                let event = Event {
                    id: uuid::Uuid::now_v7(),
                    store: o.store_id.to_owned(),
                    origin: HUB_ORIGIN.to_owned(),
                    seq: u64::try_from(seq).unwrap_or(1),
                    hlc,
                    kind: "order.created".into(),
                    subject: Some(o.order_id.to_string()),
                    data,
                };
                sqlx::query(
                    "INSERT INTO events (id, store_id, origin, seq, hlc, kind, subject, data, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(event_id(event.id))
                .bind(o.store_id.to_owned())
                .bind(HUB_ORIGIN)
                .bind(seq)
                .bind(event.hlc.clone())
                .bind(event.kind.clone())
                .bind(event.subject.clone())
                .bind(event.data.to_string())
                .bind(o.now)
                .execute(&mut **tx)
                .await?;
                let facts = order_facts(&event, o.now)
                    .ok_or_else(|| sqlx::Error::Protocol("a web order's view is unreadable".into()))?;
                let update = project_order(
                    tx,
                    o.store_id,
                    &facts,
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
        view: &(dyn Fn(u64) -> Value + Sync),
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
}
