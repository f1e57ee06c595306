//! Domain events as the store node records and streams them.
//!
//! Every fact (an order placed, a status change, a menu edit) is appended to
//! `event_log` in the same transaction as the read model it changes
//! (transactional outbox). After commit the writer publishes it on an
//! in-process broadcast channel; the WebSocket stream forwards it to POS and
//! KDS clients and falls back to the log whenever a client is behind.

use serde::Serialize;

/// Event kinds on the stream.
pub mod kind {
    pub const ORDER_CREATED: &str = "order.created";
    pub const ORDER_CHANGED: &str = "order.changed";
    pub const MENU_CHANGED: &str = "menu.changed";
    pub const PAYMENT_RECORDED: &str = "payment.recorded";
    /// A payment given back (one per tender) when a paid order is cancelled or voided.
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
    /// A device's health changed state (online, attention, offline); synced so the hub can show it.
    pub const DEVICE_HEALTH: &str = "device.health";
}

/// One row of the event log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Local position: the stream cursor.
    pub pos: i64,
    pub id: uuid::Uuid,
    pub origin: String,
    pub seq: u64,
    pub kind: String,
    pub subject: Option<String>,
    pub data: serde_json::Value,
    pub created_ms: u64,
}

/// An event as sent on `/api/v1/events`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WireEvent<'a> {
    /// Resume after a reconnect with `?cursor=` set to the last cursor you processed.
    pub cursor: i64,
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    #[schema(example = "order.created")]
    pub kind: &'a str,
    pub at_ms: u64,
    #[schema(value_type = Object)]
    pub data: &'a serde_json::Value,
}

impl StoredEvent {
    pub fn wire(&self) -> WireEvent<'_> {
        WireEvent {
            cursor: self.pos,
            id: self.id,
            kind: &self.kind,
            at_ms: self.created_ms,
            data: &self.data,
        }
    }

    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
        let id: String = r.get("id")?;
        let data: String = r.get("data")?;
        Ok(StoredEvent {
            pos: r.get("pos")?,
            id: id.parse().unwrap_or_default(),
            origin: r.get("origin")?,
            seq: r.get::<_, i64>("seq")? as u64,
            kind: r.get("kind")?,
            subject: r.get("subject")?,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            created_ms: r.get::<_, i64>("created_ms")? as u64,
        })
    }
}

/// Reads up to `limit` events after `cursor`, in order.
pub fn read_after(
    conn: &rusqlite::Connection,
    cursor: i64,
    limit: usize,
) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pos, id, origin, seq, kind, subject, data, created_ms
         FROM event_log WHERE pos > ?1 ORDER BY pos LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![cursor, limit as i64],
        StoredEvent::from_row,
    )?;
    rows.collect()
}

/// The newest cursor, 0 when the log is empty.
pub fn head(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(pos), 0) FROM event_log", [], |r| {
        r.get(0)
    })
}
