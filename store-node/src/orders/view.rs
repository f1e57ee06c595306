//! The order and payment views the API shows and the events carry, and how
//! they are read from the `orders` and `payments` tables.
//!
//! A row is read strictly: an id that is not a UUID, a status this node does
//! not know or an unreadable snapshot is a [`CorruptRecord`] (logged, and a
//! 500 with its own code), never a nil id or a `placed` order.

use domain::fact::Fact;
use domain::order::Channel;
use domain::payment::PaymentMethod;
use domain::status::OrderStatus;
use rusqlite::OptionalExtension;

use super::{CorruptRecord, OrdersError};
use crate::db::{Db, WriteCtx};
pub use api_types::node::orders::{OrderView, PaymentResult, PaymentView, RefundView};

/// Appends `fact` to the log under its kind, about order `order_id`, in the caller's transaction:
/// the one way this node records an order fact, so its `data` is the domain's form.
pub(super) fn append_fact(
    ctx: &mut WriteCtx<'_>,
    order_id: &str,
    fact: &Fact,
) -> Result<(), OrdersError> {
    ctx.append(fact.kind(), Some(order_id), fact.data()?)?;
    Ok(())
}

/// An order fact's `detail` (what it records besides the order), from its fields.
pub(super) fn detail<const N: usize>(
    fields: [(&str, serde_json::Value); N],
) -> serde_json::Map<String, serde_json::Value> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

const SELECT_ORDER: &str = "SELECT id, ticket, status, snapshot, created_ms, updated_ms, created_by, paid, refunded, stations_done FROM orders";

/// An `orders` row as stored, before it is checked.
pub(super) struct OrderRow {
    id: String,
    ticket: String,
    status: String,
    snapshot: String,
    created_ms: i64,
    updated_ms: i64,
    created_by: Option<String>,
    paid: i64,
    refunded: i64,
    stations_done: String,
}

impl OrderRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
        Ok(OrderRow {
            id: r.get("id")?,
            ticket: r.get("ticket")?,
            status: r.get("status")?,
            snapshot: r.get("snapshot")?,
            created_ms: r.get("created_ms")?,
            updated_ms: r.get("updated_ms")?,
            created_by: r.get("created_by")?,
            paid: r.get("paid")?,
            refunded: r.get("refunded")?,
            stations_done: r.get("stations_done")?,
        })
    }

    fn parse(self) -> Result<OrderView, CorruptRecord> {
        let bad = |what: String| CorruptRecord::new("orders", &self.id, what);
        let id = self
            .id
            .parse()
            .map_err(|e| bad(format!("id is not a UUID: {e}")))?;
        let status = OrderStatus::parse(&self.status)
            .ok_or_else(|| bad(format!("unknown status {:?}", self.status)))?;
        let order = serde_json::from_str(&self.snapshot)
            .map_err(|e| bad(format!("unreadable snapshot: {e}")))?;
        let stations_done = serde_json::from_str(&self.stations_done)
            .map_err(|e| bad(format!("unreadable stations_done: {e}")))?;
        Ok(OrderView {
            id,
            ticket: self.ticket,
            status,
            order,
            created_ms: self.created_ms as u64,
            updated_ms: self.updated_ms as u64,
            created_by: self.created_by,
            paid: self.paid,
            refunded: self.refunded,
            stations_done,
        })
    }
}

/// The row of order `id`, unchecked.
fn load_row(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<OrderRow>> {
    conn.prepare_cached(&format!("{SELECT_ORDER} WHERE id = ?1"))?
        .query_row([id], OrderRow::read)
        .optional()
}

/// One order as the API shows it (in a transaction or on a read connection).
pub fn load(conn: &rusqlite::Connection, id: &str) -> Result<Option<OrderView>, OrdersError> {
    Ok(load_row(conn, id)?.map(OrderRow::parse).transpose()?)
}

/// One order, read off the writer thread.
pub async fn get(db: &Db, id: uuid::Uuid) -> Result<OrderView, OrdersError> {
    let id = id.to_string();
    let row = db.read(move |c| load_row(c, &id)).await?;
    row.ok_or(OrdersError::NotFound)?
        .parse()
        .map_err(OrdersError::from)
}

/// Which orders [`list`] returns. Empty lists mean any.
#[derive(Debug, Clone)]
pub struct ListFilter {
    pub statuses: Vec<OrderStatus>,
    pub channels: Vec<Channel>,
    /// Created at or after (Unix ms).
    pub since_ms: i64,
    /// Created before (Unix ms).
    pub until_ms: i64,
    pub limit: u32,
}

/// Orders newest first, filtered.
pub async fn list(db: &Db, f: ListFilter) -> Result<Vec<OrderView>, OrdersError> {
    let rows = db
        .read(move |c| {
            let mut sql = format!("{SELECT_ORDER} WHERE created_ms >= ?1 AND created_ms < ?2");
            let mut args: Vec<String> = vec![];
            if !f.statuses.is_empty() {
                sql += &format!(" AND status IN ({})", vec!["?"; f.statuses.len()].join(","));
                args.extend(f.statuses.iter().map(|s| s.as_str().to_owned()));
            }
            if !f.channels.is_empty() {
                sql += &format!(
                    " AND channel IN ({})",
                    vec!["?"; f.channels.len()].join(",")
                );
                args.extend(f.channels.iter().map(|s| s.as_str().to_owned()));
            }
            sql += " ORDER BY created_ms DESC, id DESC LIMIT ?";
            let mut stmt = c.prepare(&sql)?;
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&f.since_ms, &f.until_ms];
            params.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
            params.push(&f.limit);
            stmt.query_map(params.as_slice(), OrderRow::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    rows.into_iter()
        .map(|r| r.parse().map_err(OrdersError::from))
        .collect()
}

/// The payments of an order, oldest first.
pub fn payments_of(
    conn: &rusqlite::Connection,
    order_id: &str,
) -> Result<Vec<PaymentView>, OrdersError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, order_id, method, amount, tendered, change, created_ms, created_by, reference
         FROM payments WHERE order_id = ?1 ORDER BY created_ms, id",
    )?;
    let rows = stmt
        .query_map([order_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                PaymentView {
                    id: uuid::Uuid::nil(),
                    order_id: uuid::Uuid::nil(),
                    method: PaymentMethod::Cash,
                    amount: r.get(3)?,
                    tendered: r.get(4)?,
                    change: r.get(5)?,
                    created_ms: r.get::<_, i64>(6)? as u64,
                    created_by: r.get(7)?,
                    reference: r.get(8)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, order, method, mut p)| {
            let bad = |what: String| CorruptRecord::new("payments", &id, what);
            p.id = id
                .parse()
                .map_err(|e| bad(format!("id is not a UUID: {e}")))?;
            p.order_id = order
                .parse()
                .map_err(|e| bad(format!("order_id is not a UUID: {e}")))?;
            p.method =
                method_of(&method).ok_or_else(|| bad(format!("unknown method {method:?}")))?;
            Ok(p)
        })
        .collect()
}

/// How a tender is stored.
pub(super) fn method_str(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Cash => "cash",
        PaymentMethod::Card => "card",
    }
}

fn method_of(s: &str) -> Option<PaymentMethod> {
    [PaymentMethod::Cash, PaymentMethod::Card]
        .into_iter()
        .find(|m| method_str(*m) == s)
}
