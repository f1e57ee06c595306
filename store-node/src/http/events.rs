//! `GET /api/v1/events`: the live event stream over WebSocket.
//!
//! A client connects with `?cursor=N` (the last cursor it processed; 0 or
//! absent for everything) and `&log=ID` (the log that cursor is from, as the
//! last `caught_up` named it) and receives every event after it, in order, then
//! live events as they commit. After the backlog the server sends
//! `{"type":"caught_up","cursor":N,"log":ID}`.
//!
//! Cursors are positions in one database's log. When the client's cursor is
//! from another log, or beyond the end of this one (the node was replaced or
//! its database started afresh at the same address; a client without `log`,
//! from an older build, is judged by the end alone), the server first sends
//! `{"type":"reset","cursor":0,"log":ID}` and then the whole log: the client
//! drops what it built from the old log and rebuilds. Without this it would
//! skip every new event up to its old cursor and show "live" while missing
//! tickets.
//!
//! The stream subscribes to the live bus
//! *before* reading the backlog and drops anything at or below the last cursor
//! sent, and whenever it sees a gap (or lags behind the bus) it re-reads the
//! log: a KDS that reconnects with its cursor never misses or doubles a ticket.
//!
//! Besides events, the stream carries *notices*, which have no cursor and are
//! not in the log: `{"type":"sync.status","data":{...}}` whenever the link to
//! the hub changes (connected, events waiting), so screens can show it;
//! `{"type":"device.status","data":{"id","health"}}` when a device's health
//! changes; `{"type":"device.changed"}` when the registry changes; and
//! `{"type":"print.job","data":{"id","device_id","state",...}}` when a job
//! prints or dies, or a failed one is sent again (`"state":"queued"`).
//!
//! The node pings every third of `[http] ws_timeout_secs` and closes a socket
//! that sent nothing (not even a pong; browsers answer pings on their own)
//! for the whole timeout, or that takes no data for as long: a screen that
//! vanished without closing (power cut, Wi-Fi gone) does not hold a socket
//! and a bus subscription forever.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use api_kit::liveness::{Liveness, Tick};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket};
use axum::response::Response;
use axum::routing::get;
use tokio::sync::broadcast::error::RecvError;

use super::error::ReadErrors;
use super::extract::{Query, WebSocketUpgrade};
use crate::auth::{Auth, perm};
use crate::events::{StoredEvent, head, read_wire_after};
use crate::state::AppState;
pub use api_types::node::events::StreamParams;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/events", get(subscribe))
}

/// Subscribe to order and menu events (WebSocket upgrade). Messages are `WireEvent` JSON.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(StreamParams),
    responses((status = 101, description = "Switching to WebSocket; each message is a WireEvent", body = crate::events::WireEvent), ReadErrors),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::EventsSubscribe>,
    Query(p): Query<StreamParams>,
    WebSocketUpgrade(ws): WebSocketUpgrade,
) -> Response {
    let cursor = p.cursor.unwrap_or(0).max(0);
    ws.on_upgrade(move |socket| async move {
        state.ws_clients.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("store_ws_clients").increment(1.0);
        if let Err(e) = stream(&state, socket, cursor, p.log).await {
            tracing::debug!(error = %e, "event stream ended");
        }
        state.ws_clients.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("store_ws_clients").decrement(1.0);
    })
}

/// The client's socket, every write bounded by its [`Liveness`] timeout.
struct Client {
    socket: WebSocket,
    live: Liveness,
}

impl Client {
    async fn send(&mut self, msg: Message) -> anyhow::Result<()> {
        self.live.write(self.socket.send(msg)).await??;
        Ok(())
    }

    async fn text(&mut self, text: String) -> anyhow::Result<()> {
        self.send(Message::Text(text.into())).await
    }
}

async fn send(socket: &mut Client, ev: &StoredEvent) -> anyhow::Result<()> {
    socket.text(serde_json::to_string(&ev.wire())?).await
}

/// Sends every logged event after `*last`, updating `*last`, a page at a time
/// as ready-made JSON text (see [`read_wire_after`]).
async fn catch_up(state: &AppState, socket: &mut Client, last: &mut i64) -> anyhow::Result<()> {
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
            socket.text(text).await?;
            *last = pos;
        }
        if !full {
            return Ok(());
        }
    }
}

async fn send_sync_notice(state: &AppState, socket: &mut Client) -> anyhow::Result<()> {
    let health = crate::sync_client::current(state).await;
    let notice = serde_json::json!({ "type": "sync.status", "data": health });
    socket.text(notice.to_string()).await
}

async fn stream(
    state: &AppState,
    socket: WebSocket,
    cursor: i64,
    log: Option<String>,
) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(state.config.http.ws_timeout_secs.max(1));
    let mut socket = Client {
        socket,
        live: Liveness::new(timeout),
    };
    let mut live = state.bus.subscribe();
    let log_id = &*state.db.log_id;
    // Read after subscribing: the end only grows, so no cursor within the log is taken for one beyond it.
    let end = state.db.read(head).await?;
    let mut last = cursor;
    if cursor > end || log.is_some_and(|l| l != log_id) {
        tracing::info!(
            cursor,
            end,
            "an event stream client's cursor is from another log; resetting it"
        );
        let reset = serde_json::json!({ "type": "reset", "cursor": 0, "log": log_id });
        socket.text(reset.to_string()).await?;
        last = 0;
    }
    catch_up(state, &mut socket, &mut last).await?;
    let hello = serde_json::json!({ "type": "caught_up", "cursor": last, "log": log_id });
    socket.text(hello.to_string()).await?;
    // Sync health travels as a notice: no cursor, not in the log, the latest state only.
    let mut sync_changed = state.sync_changed.subscribe();
    let mut notices = state.notices.subscribe();
    if state.config.hub.is_some() {
        send_sync_notice(state, &mut socket).await?;
    }
    loop {
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) if ev.pos <= last => {}
                Ok(ev) if ev.pos == last + 1 => { send(&mut socket, &ev).await?; last = ev.pos; }
                // A gap: something committed that we have not seen; the log has it.
                Ok(_) | Err(RecvError::Lagged(_)) => catch_up(state, &mut socket, &mut last).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            msg = socket.socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                // Clients have nothing to say but pongs (and pings, which axum answers).
                Some(Ok(_)) => socket.live.heard(),
            },
            Ok(()) = sync_changed.changed() => send_sync_notice(state, &mut socket).await?,
            notice = notices.recv() => match notice {
                Ok(n) => socket.text(n.to_string()).await?,
                // Notices are the latest state of something; a missed one is refreshed by the next.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
            tick = socket.live.tick() => match tick {
                Tick::Ping => socket.send(Message::Ping(Vec::new().into())).await?,
                Tick::Silent => anyhow::bail!("the client went silent"),
            },
        }
    }
}
