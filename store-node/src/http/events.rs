//! `GET /api/v1/events`: the live event stream over WebSocket.
//!
//! A client connects with `?cursor=N` (the last cursor it processed; 0 or
//! absent for everything) and receives every event after it, in order, then
//! live events as they commit. After the backlog the server sends
//! `{"type":"caught_up","cursor":N}`. The stream subscribes to the live bus
//! *before* reading the backlog and drops anything at or below the last cursor
//! sent, and whenever it sees a gap (or lags behind the bus) it re-reads the
//! log: a KDS that reconnects with its cursor never misses or doubles a ticket.
//!
//! Besides events, the stream carries *notices*, which have no cursor and are
//! not in the log: `{"type":"sync.status","data":{...}}` whenever the link to
//! the hub changes (connected, events waiting), so screens can show it;
//! `{"type":"device.status","data":{"id","health"}}` when a device's health
//! changes; `{"type":"device.changed"}` when the registry changes; and
//! `{"type":"print.job","data":{"id","state",...}}` when a job prints or dies.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::error::ReadErrors;
use super::extract::Query;
use crate::auth::{Auth, perm};
use crate::events::{StoredEvent, read_wire_after};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/events", get(subscribe))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StreamParams {
    /// Resume after this cursor (the `cursor` of the last event you processed).
    pub cursor: Option<i64>,
    /// The session token, for browsers that cannot set `Authorization` on a WebSocket.
    pub token: Option<String>,
}

/// Subscribe to order and menu events (WebSocket upgrade). Messages are `WireEvent` JSON.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(StreamParams),
    responses((status = 101, description = "Switching to WebSocket; each message is a WireEvent", body = crate::events::WireEvent), ReadErrors),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::EventsSubscribe>,
    Query(p): Query<StreamParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let cursor = p.cursor.unwrap_or(0).max(0);
    ws.on_upgrade(move |socket| async move {
        state.ws_clients.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("store_ws_clients").increment(1.0);
        if let Err(e) = stream(&state, socket, cursor).await {
            tracing::debug!(error = %e, "event stream ended");
        }
        state.ws_clients.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("store_ws_clients").decrement(1.0);
    })
}

async fn send(socket: &mut WebSocket, ev: &StoredEvent) -> anyhow::Result<()> {
    let text = serde_json::to_string(&ev.wire())?;
    socket.send(Message::Text(text.into())).await?;
    Ok(())
}

/// Sends every logged event after `*last`, updating `*last`, a page at a time
/// as ready-made JSON text (see [`read_wire_after`]).
async fn catch_up(state: &AppState, socket: &mut WebSocket, last: &mut i64) -> anyhow::Result<()> {
    /// An order event is 1 to 3 KB of JSON, so a page is well under a
    /// megabyte however many screens replay at once, and a replay of 10,000
    /// events is 50 reads.
    const PAGE: usize = 200;
    loop {
        let after = *last;
        let page = state
            .db
            .read(move |c| read_wire_after(c, after, PAGE))
            .await?;
        let full = page.len() == PAGE;
        for (pos, text) in page {
            socket.send(Message::Text(text.into())).await?;
            *last = pos;
        }
        if !full {
            return Ok(());
        }
    }
}

async fn send_sync_notice(state: &AppState, socket: &mut WebSocket) -> anyhow::Result<()> {
    let health = crate::sync_client::current(state).await;
    let notice = serde_json::json!({ "type": "sync.status", "data": health });
    socket
        .send(Message::Text(notice.to_string().into()))
        .await?;
    Ok(())
}

async fn stream(state: &AppState, mut socket: WebSocket, cursor: i64) -> anyhow::Result<()> {
    let mut live = state.bus.subscribe();
    let mut last = cursor;
    catch_up(state, &mut socket, &mut last).await?;
    let hello = serde_json::json!({ "type": "caught_up", "cursor": last });
    socket.send(Message::Text(hello.to_string().into())).await?;
    // Sync health travels as a notice: no cursor, not in the log, the latest state only.
    let mut sync_changed = state.sync_changed.subscribe();
    let mut notices = state.notices.subscribe();
    if state.config.hub.is_some() {
        send_sync_notice(state, &mut socket).await?;
    }
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(20));
    loop {
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) if ev.pos <= last => {}
                Ok(ev) if ev.pos == last + 1 => { send(&mut socket, &ev).await?; last = ev.pos; }
                // A gap: something committed that we have not seen; the log has it.
                Ok(_) | Err(RecvError::Lagged(_)) => catch_up(state, &mut socket, &mut last).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {} // clients have nothing to say; pings are answered by axum
            },
            Ok(()) = sync_changed.changed() => send_sync_notice(state, &mut socket).await?,
            notice = notices.recv() => match notice {
                Ok(n) => socket.send(Message::Text(n.to_string().into())).await?,
                // Notices are the latest state of something; a missed one is refreshed by the next.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
            _ = ping.tick() => socket.send(Message::Ping(Vec::new().into())).await?,
        }
    }
}
