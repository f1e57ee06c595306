//! Domain events as the store node records and streams them.
//!
//! Every fact (an order placed, a status change, a menu edit) is appended to
//! `event_log` in the same transaction as the read model it changes
//! (transactional outbox). After commit the writer publishes it on an
//! in-process broadcast channel; the WebSocket stream forwards it to POS and
//! KDS clients and falls back to the log whenever a client is behind.

use serde::Serialize;

/// Event kinds on the stream: the domain's, the one list both servers read.
pub use domain::fact::kind;

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
    #[schema(example = json!(kind::ORDER_CREATED))]
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

/// Reads up to `limit` events after `cursor` as their `/api/v1/events` JSON
/// text, with the last position read. For replays: the stored `data` is
/// copied into the message as it is, never parsed into a `serde_json::Value`
/// tree (about ten times the text's size in small allocations), so a KDS
/// replaying the log from 0 holds one page of strings at a time.
pub fn read_wire_after(
    conn: &rusqlite::Connection,
    cursor: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pos, id, kind, data, created_ms
         FROM event_log WHERE pos > ?1 ORDER BY pos LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![cursor, limit as i64], |r| {
        let pos: i64 = r.get(0)?;
        let id: String = r.get(1)?;
        let kind: String = r.get(2)?;
        let data: String = r.get(3)?;
        let at_ms: i64 = r.get(4)?;
        Ok((pos, wire_text(pos, &id, &kind, &data, at_ms)))
    })?;
    rows.collect()
}

/// A [`WireEvent`] as JSON text from a log row's columns. `data` was written
/// by `serde_json`; should it not read as JSON it goes out as `null`, as
/// [`StoredEvent::from_row`] would make it.
fn wire_text(pos: i64, id: &str, kind: &str, data: &str, at_ms: i64) -> String {
    use serde::de::IgnoredAny;
    let id: uuid::Uuid = id.parse().unwrap_or_default();
    let kind = serde_json::to_string(kind).unwrap_or_else(|_| "\"\"".into());
    let data = match serde_json::from_str::<IgnoredAny>(data) {
        Ok(_) => data,
        Err(_) => "null",
    };
    format!(r#"{{"cursor":{pos},"id":"{id}","type":{kind},"at_ms":{at_ms},"data":{data}}}"#)
}

/// The newest cursor, 0 when the log is empty.
pub fn head(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(pos), 0) FROM event_log", [], |r| {
        r.get(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_is_the_wire_event() {
        let ev = StoredEvent {
            pos: 7,
            id: uuid::Uuid::now_v7(),
            origin: "n".into(),
            seq: 1,
            kind: "order.created".into(),
            subject: None,
            data: serde_json::json!({"ticket": "S-0001", "lines": [{"qty": 2, "note": "no \"ice\""}]}),
            created_ms: 1234,
        };
        let text = wire_text(7, &ev.id.to_string(), &ev.kind, &ev.data.to_string(), 1234);
        let a: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(a, serde_json::to_value(ev.wire()).unwrap());
        let bad = wire_text(7, "x", "k", "{not json", 1);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&bad).unwrap()["data"],
            serde_json::Value::Null
        );
    }
}
