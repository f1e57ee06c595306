//! Online ordering's live state on one hub replica.
//!
//! - [`Online::subscribe`]: order status changes as they happen, for the
//!   customers' tracking sockets. Whatever writes a status (a web order placed
//!   here, a node's event received here) publishes it in-process; on PostgreSQL
//!   the writing transaction also `NOTIFY`s `hub_events`, and `fanout` (one
//!   `PgListener` per replica) republishes what other replicas wrote and wakes
//!   this replica's node sessions of that store.
//! - `presence`: which node tokens are connected to this replica, written to
//!   the database as a heartbeat so every replica can tell whether a store's
//!   node is reachable, and how long it has been away.
//! - `profile`: the store as customers see it, and whether it takes orders now
//!   (disabled, closed, or its node away longer than the grace period).

pub mod fanout;
pub mod presence;
pub mod profile;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::db::online::OrderUpdate;
use crate::hub::Hub;
pub use api_types::hub::online::WebPayment;
pub use presence::{LinkGuard, LinkState, Presence};

/// Default grace period before a store whose node is away stops taking orders.
pub const DEFAULT_NODE_GRACE_SECS: u64 = 300;

/// What tracking sockets hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An order reached a new status.
    Order(OrderUpdate),
    /// Updates may have been missed (the PostgreSQL listener reconnected): re-read.
    Resync,
}

/// One replica's online-ordering state.
#[derive(Debug)]
pub struct Online {
    /// This replica's id (fresh at every start): tells its own `NOTIFY`s apart.
    pub replica: String,
    /// How long a store's node may be away before the store stops taking orders.
    pub grace: Duration,
    /// How often this replica rewrites its connected nodes' presence rows.
    pub heartbeat: Duration,
    /// One channel per tracked order: a status change wakes only that order's
    /// trackers (with one shared channel, 10,000 trackers woke for every change
    /// of every order, and lagged into re-reading the database).
    trackers: std::sync::Mutex<std::collections::HashMap<String, broadcast::Sender<Signal>>>,
    pub presence: Presence,
    /// Some order's status rose (the payments worker captures or releases on it).
    pub order_changed: tokio::sync::Notify,
    /// Something on a store's overview changed (merchant event streams).
    store_changes: broadcast::Sender<StoreChange>,
}

/// Something on a store's overview changed: its node came or went, a device's
/// health, an order, the kitchen's backlog, its settings (`what`), or
/// something another replica wrote (`unknown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreChange {
    pub store: String,
    pub what: Vec<&'static str>,
}

/// What a batch of appended events changes on the store's overview.
pub fn what_events_change(events: &[sync::log::Event]) -> Vec<&'static str> {
    use domain::fact::kind;
    let mut what = vec![];
    for e in events {
        let w = match e.kind.as_str() {
            kind::DEVICE_HEALTH | kind::DEVICE_STATUS => "devices",
            kind::KITCHEN_BACKLOG => "kitchen",
            kind::ORDER_CREATED
            | kind::ORDER_CHANGED
            | kind::PAYMENT_RECORDED
            | kind::PAYMENT_REFUNDED => "orders",
            _ => continue,
        };
        if !what.contains(&w) {
            what.push(w);
        }
    }
    what
}

impl Online {
    pub fn new(grace: Duration) -> Online {
        Online {
            replica: uuid::Uuid::now_v7().simple().to_string(),
            grace,
            heartbeat: (grace / 3).clamp(Duration::from_millis(200), Duration::from_secs(10)),
            trackers: Default::default(),
            presence: Presence::default(),
            order_changed: tokio::sync::Notify::new(),
            // A slow stream lags and re-reads; 1,024 changes cover bursts of a busy org.
            store_changes: broadcast::channel(1024).0,
        }
    }

    /// Status changes of one order, from now on.
    pub fn subscribe(&self, order: &str) -> broadcast::Receiver<Signal> {
        let mut map = self.trackers.lock().unwrap_or_else(|p| p.into_inner());
        // Forget orders nobody tracks any more, now and then.
        if map.len() > 1024 && map.len().is_power_of_two() {
            map.retain(|_, tx| tx.receiver_count() > 0);
        }
        map.entry(order.to_owned())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    pub fn publish(&self, u: OrderUpdate) {
        self.order_changed.notify_one();
        let mut map = self.trackers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&u.order) {
            if tx.receiver_count() == 0 {
                map.remove(&u.order);
            } else {
                let _ = tx.send(Signal::Order(u));
            }
        }
    }

    /// Changes on stores' overviews, from now on (every store of this replica).
    pub fn subscribe_stores(&self) -> broadcast::Receiver<StoreChange> {
        self.store_changes.subscribe()
    }

    /// Tells merchant streams that `what` changed at `store` (nothing when `what` is empty).
    pub fn store_changed(&self, store: &str, what: Vec<&'static str>) {
        if what.is_empty() {
            return;
        }
        let _ = self.store_changes.send(StoreChange {
            store: store.to_owned(),
            what,
        });
    }

    /// Tells merchant streams that `what` changed at `store` once `after` has passed
    /// (and 50 ms more, so a read then is past the instant): for changes that come with
    /// time alone, such as a pause or a grace period running out. Real time, as the
    /// sockets' pings: the hub's clock port answers what time it is, not when to wake.
    pub fn recheck_after(&self, store: &str, after: Duration, what: Vec<&'static str>) {
        let changes = self.store_changes.clone();
        let store = store.to_owned();
        let after = after + Duration::from_millis(50);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = changes.send(StoreChange { store, what });
        });
    }

    /// Tells every tracker to re-read its order (updates may have been missed).
    pub fn resync(&self) {
        let map = self.trackers.lock().unwrap_or_else(|p| p.into_inner());
        for tx in map.values() {
            let _ = tx.send(Signal::Resync);
        }
    }

    /// A presence row older than this (ms) is from a replica that stopped heartbeating.
    pub fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.heartbeat.as_millis() * 3).unwrap_or(i64::MAX)
    }

    pub fn grace_ms(&self) -> i64 {
        i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Default for Online {
    fn default() -> Self {
        Online::new(Duration::from_secs(DEFAULT_NODE_GRACE_SECS))
    }
}

/// A store's node link closed (here, or at another replica): when the grace period
/// has run out, the store's online ordering stops with nobody writing anything, so
/// merchant streams are told then. The moment is read from the presence records
/// (when the node was last seen, which the presence writer stamps a little after
/// the close), so the watch waits again until it has passed; a node back in time
/// ends it quietly.
pub fn watch_grace(hub: &Arc<Hub>, store: &str) {
    let hub = hub.clone();
    let store = store.to_owned();
    tokio::spawn(async move {
        let mut wait = hub.online.grace;
        loop {
            tokio::time::sleep(wait + Duration::from_millis(50)).await;
            match store_reachable(&hub, &store).await {
                Ok((_, link)) if link.connected => return,
                Ok((false, _)) => {
                    hub.online.store_changed(&store, vec!["node", "ordering"]);
                    return;
                }
                Ok((true, link)) => {
                    // Seen later than the close: wait for the rest of its grace period.
                    let seen = link.last_seen_ms.unwrap_or(0);
                    let left = hub.online.grace_ms() - hub.now_ms().saturating_sub(seen);
                    wait = Duration::from_millis(u64::try_from(left.max(0)).unwrap_or(0));
                }
                Err(e) => {
                    tracing::warn!(%store, error = %e, "could not read a node's presence");
                    return;
                }
            }
        }
    });
}

/// Whether a store's node is reachable enough to take orders: connected now
/// (to any replica), or gone for no longer than the grace period.
pub async fn store_reachable(hub: &Hub, store: &str) -> Result<(bool, LinkState), sqlx::Error> {
    let link = presence::store_link(hub, store).await?;
    let now = hub.now_ms();
    let reachable = link.connected
        || link
            .last_seen_ms
            .is_some_and(|t| now.saturating_sub(t) <= hub.online.grace_ms());
    Ok((reachable, link))
}

/// What `ordering()` needs of the store's node: reachable, and its kitchen's
/// open tickets (the last `kitchen.backlog`); with the link and the backlog row.
pub async fn node_now(
    hub: &Hub,
    store: &str,
) -> Result<
    (
        profile::NodeNow,
        LinkState,
        Option<crate::db::online::BacklogRow>,
    ),
    sqlx::Error,
> {
    let (reachable, link) = store_reachable(hub, store).await?;
    let backlog = hub.db.store_backlog(store).await?;
    let node = profile::NodeNow {
        reachable,
        open_tickets: backlog.as_ref().map_or(0, |b| b.open_tickets),
    };
    Ok((node, link, backlog))
}

/// Starts the replica's background tasks: the presence heartbeat and, on
/// PostgreSQL, the `hub_events` listener. They end when the hub shuts down.
/// Starts presence and, on PostgreSQL, the cross-replica listener; the receiver
/// completes once that listener listens (see [`fanout::spawn`]).
pub fn spawn_tasks(hub: &Arc<Hub>) -> tokio::sync::oneshot::Receiver<()> {
    tokio::spawn(presence::run_writer(hub.clone()));
    fanout::spawn(hub)
}

/// Places a customer's web order: the next `W-` ticket, its `order.created`
/// event and its projection row (a retry under the same key finds the order
/// placed first), then tells this replica's node connections to flush (other
/// replicas hear the `NOTIFY`). `payment` is recorded with the event.
pub async fn place_order(
    hub: &Hub,
    store_id: &str,
    customer_id: &str,
    key: &str,
    order_id: uuid::Uuid,
    order: &domain::order::PricedOrder,
    payment: &serde_json::Value,
) -> Result<crate::db::online::OrderRow, sqlx::Error> {
    use crate::db::online::{NewWebOrder, Placed};
    use domain::ticket::{TicketNumber, WEB_PREFIX};
    let now = hub.now_ms();
    let at_ms = u64::try_from(now).unwrap_or(0);
    let view = |ticket: u64| {
        domain::fact::OrderView::placed(
            order_id,
            TicketNumber::nth(WEB_PREFIX, ticket).to_string(),
            order,
            at_ms,
        )
    };
    let placed = hub
        .db
        .place_web_order(
            &NewWebOrder {
                store_id,
                customer_id,
                idempotency_key: Some(key),
                order_id,
                payment,
                now,
                replica: &hub.online.replica,
            },
            &view,
        )
        .await?;
    Ok(match placed {
        Placed::New { order, event } => {
            tracing::info!(store = %store_id, order = %order.id, ticket = %order.ticket, seq = event.seq, "web order placed");
            // A customer tracking a card order since the payment page hears it is placed.
            hub.online.publish(crate::db::online::OrderUpdate {
                store: store_id.to_owned(),
                order: order.id.clone(),
                status: order.status.clone(),
                rank: order.rank,
            });
            hub.wake(store_id).await;
            hub.online.store_changed(store_id, vec!["orders"]);
            order
        }
        Placed::Existing(order) => order,
    })
}
