//! Which node tokens are connected to this replica, and the database record
//! every replica reads to tell whether a store's node is reachable.
//!
//! Each sync connection holds a [`LinkGuard`]. One writer task per replica
//! ([`run_writer`]) rewrites this replica's `node_presence` rows: at once when
//! a connection opens or closes, and every heartbeat while one is open (with
//! the version vector the node last acknowledged). A row whose replica stopped
//! heartbeating (it crashed) counts as disconnected after three heartbeats;
//! its `last_seen_at` still says when the node was last there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Notify;

use crate::hub::Hub;

/// One token's link on this replica.
#[derive(Debug)]
struct Link {
    store: String,
    connections: i64,
    acked: Value,
    /// Changed since the writer last wrote it.
    dirty: bool,
}

/// This replica's connected node tokens.
#[derive(Debug, Default)]
pub struct Presence {
    links: Mutex<HashMap<String, Link>>,
    changed: Notify,
}

/// A presence row to write: token hash, store, connections, acknowledged vector,
/// and whether a connection opened or closed since the last write.
type Row = (String, String, i64, Value, bool);

/// A node token's link as all replicas together see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkState {
    /// Connected to some replica now.
    pub connected: bool,
    /// When it was last connected (now, while connected); `None`: never.
    pub last_seen_ms: Option<i64>,
    /// The node's acknowledged version vector, from the freshest record.
    pub acked: Value,
}

impl Presence {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Link>) -> T) -> T {
        f(&mut self.links.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether a token has a connection to this replica.
    pub fn local(&self, token_hash: &str) -> bool {
        self.with(|m| m.get(token_hash).is_some_and(|l| l.connections > 0))
    }

    /// Whether any node of `store` has a connection to this replica.
    pub fn local_store(&self, store: &str) -> bool {
        self.with(|m| m.values().any(|l| l.store == store && l.connections > 0))
    }

    /// Records what the node acknowledged (written with the next heartbeat).
    pub fn acked(&self, token_hash: &str, acked: Value) {
        self.with(|m| {
            if let Some(l) = m.get_mut(token_hash) {
                l.acked = acked;
            }
        });
    }

    /// Rows to write now: every connected link and every changed one (`true`:
    /// a connection opened or closed); links whose last connection closed are
    /// written once more (0) and forgotten.
    fn take_rows(&self) -> Vec<Row> {
        self.with(|m| {
            let rows = m
                .iter_mut()
                .filter(|(_, l)| l.connections > 0 || l.dirty)
                .map(|(h, l)| {
                    let changed = std::mem::take(&mut l.dirty);
                    (
                        h.clone(),
                        l.store.clone(),
                        l.connections,
                        l.acked.clone(),
                        changed,
                    )
                })
                .collect();
            m.retain(|_, l| l.connections > 0);
            rows
        })
    }
}

/// A node's sync connection, counted while it lives.
pub struct LinkGuard {
    hub: Arc<Hub>,
    token_hash: String,
    store: String,
}

impl LinkGuard {
    pub fn open(hub: &Arc<Hub>, token_hash: &str, store: &str) -> LinkGuard {
        hub.online.presence.with(|m| {
            let l = m.entry(token_hash.to_owned()).or_insert_with(|| Link {
                store: store.to_owned(),
                connections: 0,
                acked: Value::Object(Default::default()),
                dirty: true,
            });
            l.connections += 1;
            l.dirty = true;
        });
        hub.online.presence.changed.notify_one();
        hub.online.store_changed(store, vec!["node"]);
        LinkGuard {
            hub: hub.clone(),
            token_hash: token_hash.to_owned(),
            store: store.to_owned(),
        }
    }

    /// Records the version vector the node acknowledged.
    pub fn acked(&self, acked: Value) {
        self.hub.online.presence.acked(&self.token_hash, acked);
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        let presence = &self.hub.online.presence;
        presence.with(|m| {
            if let Some(l) = m.get_mut(&self.token_hash) {
                l.connections = (l.connections - 1).max(0);
                l.dirty = true;
            }
        });
        presence.changed.notify_one();
        self.hub.online.store_changed(&self.store, vec!["node"]);
        super::watch_grace(&self.hub, &self.store);
    }
}

/// Writes the rows; a link that opened or closed is also announced to the other
/// replicas (PostgreSQL `NOTIFY`), whose merchant streams then show it.
async fn write_rows(hub: &Hub, rows: Vec<Row>) {
    let now = hub.now_ms();
    for (hash, store, connections, acked, changed) in rows {
        let written = hub
            .db
            .record_presence(&hash, &hub.online.replica, &store, connections, &acked, now)
            .await;
        let announced = match written {
            Ok(()) if changed => hub.db.announce_presence(&hub.online.replica, &store).await,
            other => other,
        };
        if let Err(e) = announced {
            tracing::warn!(%store, error = %e, "could not record a node's presence");
        }
    }
}

/// The replica's presence writer: on every change and every heartbeat, until shutdown
/// (then it records this replica's links as closed).
pub async fn run_writer(hub: Arc<Hub>) {
    let mut shutdown = hub.shutdown.subscribe();
    let mut tick = tokio::time::interval(hub.online.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = hub.online.presence.changed.notified() => {}
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => {
                let rows = hub.online.presence.take_rows();
                let closed = rows.into_iter().map(|(h, s, _, a, _)| (h, s, 0, a, true)).collect();
                write_rows(&hub, closed).await;
                return;
            }
        }
        let rows = hub.online.presence.take_rows();
        write_rows(&hub, rows).await;
    }
}

/// How one token's link stands, from this replica's memory and every replica's record.
fn fold(hub: &Hub, local: bool, rows: &[&crate::db::online::PresenceRow], now: i64) -> LinkState {
    let fresh = now - hub.online.stale_after_ms();
    let remote = rows
        .iter()
        .any(|r| r.replica != hub.online.replica && r.connections > 0 && r.last_seen_at >= fresh);
    let seen = rows.iter().map(|r| r.last_seen_at).max();
    let acked = rows
        .iter()
        .max_by_key(|r| r.last_seen_at)
        .map(|r| r.acked.clone())
        .unwrap_or(Value::Null);
    LinkState {
        connected: local || remote,
        last_seen_ms: if local { Some(now) } else { seen },
        acked,
    }
}

/// How a store's node links stand, taken together.
pub async fn store_link(hub: &Hub, store: &str) -> Result<LinkState, sqlx::Error> {
    let rows = hub.db.store_presence(store).await?;
    let refs: Vec<_> = rows.iter().collect();
    Ok(fold(
        hub,
        hub.online.presence.local_store(store),
        &refs,
        hub.now_ms(),
    ))
}

/// How each node token of a store stands: `(token hash, state)`.
pub async fn token_links(
    hub: &Hub,
    store: &str,
) -> Result<HashMap<String, LinkState>, sqlx::Error> {
    let rows = hub.db.store_presence(store).await?;
    let now = hub.now_ms();
    let mut by_token: HashMap<&str, Vec<&crate::db::online::PresenceRow>> = HashMap::new();
    for r in &rows {
        by_token.entry(r.token_hash.as_str()).or_default().push(r);
    }
    Ok(by_token
        .into_iter()
        .map(|(h, rs)| {
            (
                h.to_owned(),
                fold(hub, hub.online.presence.local(h), &rs, now),
            )
        })
        .collect())
}
