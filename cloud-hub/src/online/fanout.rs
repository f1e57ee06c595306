//! Cross-replica fan-out on PostgreSQL: one `LISTEN hub_events` connection per
//! replica. Every transaction that appends events to a store's log (a node's
//! batch, a web order) `NOTIFY`s the store, and each order whose status rose;
//! this task turns other replicas' notices into local effects: the store's node
//! sessions here flush (so an order placed on replica B reaches a node
//! connected to replica A), and tracking sockets here hear the status.
//!
//! Notifications sent while the listener is down are lost, so every time it
//! (re)connects it wakes every open store and tells trackers to re-read
//! ([`super::Signal::Resync`]): nothing is missed, some work is repeated.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use crate::db::Db;
use crate::db::online::{NOTIFY_CHANNEL, Notice};
use crate::hub::Hub;

/// Starts the listener when the hub runs on PostgreSQL.
pub fn spawn(hub: &Arc<Hub>) {
    if let Db::Postgres(pool) = &hub.db {
        tokio::spawn(run(hub.clone(), pool.clone()));
    }
}

async fn run(hub: Arc<Hub>, pool: PgPool) {
    let mut shutdown = hub.shutdown.subscribe();
    let mut backoff = Duration::from_millis(250);
    loop {
        let ended = tokio::select! {
            r = listen(&hub, &pool) => r,
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
        };
        match ended {
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!(error = %e, "hub_events listener failed; reconnecting"),
            Ok(()) => tracing::warn!("hub_events listener lost its connection; reconnecting"),
        }
        // Back off before reconnecting (not synchronisation: a reconnect delay).
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One listening connection, until it is lost.
async fn listen(hub: &Arc<Hub>, pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    tracing::debug!(replica = %hub.online.replica, "listening on hub_events");
    // Whatever happened while nobody listened: flush and re-read.
    hub.wake_all().await;
    hub.online.resync();
    while let Some(n) = listener.try_recv().await? {
        dispatch(hub, n.payload()).await;
    }
    Ok(())
}

async fn dispatch(hub: &Arc<Hub>, payload: &str) {
    let notice: Notice = match serde_json::from_str(payload) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable hub_events payload");
            return;
        }
    };
    if notice.from == hub.online.replica {
        return; // this replica already acted on it
    }
    if notice.what.as_deref() == Some("revoked") {
        // A node credential was revoked at that replica: its links here close too (4401).
        if let Some(key) = &notice.credential {
            let closed = hub.close_token(key);
            tracing::info!(store = %notice.store, closed, "node credential revoked at another replica");
        }
        return;
    }
    if notice.what.as_deref() == Some("node") {
        // A node link opened or closed at that replica.
        hub.online.store_changed(&notice.store, vec!["node"]);
        super::watch_grace(hub, &notice.store);
        return;
    }
    // Another replica appended to the store's log (a node's batch, a web order):
    // merchant streams here re-read the store.
    hub.online.store_changed(&notice.store, vec!["unknown"]);
    match notice.as_update() {
        Some(u) => hub.online.publish(u),
        None => hub.wake(&notice.store).await,
    }
}
