//! The node's side of store-hub sync: one outbound WebSocket to the hub (no
//! inbound ports), authenticated with the node's credential, reconnecting with
//! exponential backoff and full jitter, and resuming from version vectors.
//!
//! The protocol itself is `sync::session::Session` (sans-IO). Every call into
//! it runs inside a writer transaction (`Db::write`), so events received from
//! the hub are appended to the event log, and a merged catalog document is
//! projected into the menu, in one durable step, and local subscribers see
//! them on the event stream. Local changes (any committed event) trigger a
//! flush. The node keeps serving everything while the hub is unreachable;
//! [`SyncHealth`] says how the link is doing.
//!
//! A link can die without closing (a relay or NAT that drops traffic, a frozen
//! hub): the node pings every third of `[hub] timeout_secs` and drops the link
//! when nothing (no frame, no pong) arrived for the whole timeout, or when a
//! write could not finish within it; then it reconnects as after any drop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use api_kit::liveness::{Liveness, Tick};
use futures_util::{SinkExt, StreamExt};
use rusqlite::params;
use serde::Serialize;
use sync::VersionVector;
use sync::doc::DocKind;
use sync::log::{Event, EventStore, LogError};
use sync::session::{Docs, Session};
use sync::wire::{self, Frame};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::db::{WriteCtx, WriteError};
use crate::events::kind;
use crate::menu::{EditError, store_projection};
use crate::state::AppState;

/// The log's version vector: per origin, the highest sequence number held.
/// Read at every sync step (on the writer thread), so it walks the
/// `(origin, seq)` index origin by origin (a loose index scan: two lookups per
/// origin) instead of `MAX(seq) ... GROUP BY origin`, which visits every event
/// in the log: about 100 ms at 300,000 events, against 0.05 ms.
const VECTOR: &str = "WITH RECURSIVE o(origin) AS ( \
         SELECT MIN(origin) FROM event_log \
         UNION ALL \
         SELECT (SELECT MIN(e.origin) FROM event_log e WHERE e.origin > o.origin) \
         FROM o WHERE o.origin IS NOT NULL) \
     SELECT origin, (SELECT MAX(e.seq) FROM event_log e WHERE e.origin = o.origin) \
     FROM o WHERE origin IS NOT NULL";

/// The link to the hub, for the API, the metrics and the screens.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncHealth {
    /// A hub is configured.
    pub configured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub_url: Option<String>,
    pub connected: bool,
    /// When the hub last acknowledged our events (Unix ms).
    pub last_success_ms: Option<u64>,
    /// Events made here that the hub has not acknowledged yet.
    pub events_waiting: u64,
    /// Age of the oldest unacknowledged event, ms (0 when none wait).
    pub lag_ms: u64,
    pub last_error: Option<String>,
    /// How many of this node's events the hub has acknowledged (its sequence numbers).
    #[serde(skip)]
    pub acked_seq: u64,
}

impl SyncHealth {
    pub fn new(hub_url: Option<String>) -> SyncHealth {
        SyncHealth {
            configured: hub_url.is_some(),
            hub_url,
            connected: false,
            last_success_ms: None,
            events_waiting: 0,
            lag_ms: 0,
            last_error: None,
            acked_seq: 0,
        }
    }
}

/// The health with `events_waiting` and `lag_ms` computed from the log now
/// (orders taken while the hub is unreachable count at once).
pub async fn current(state: &AppState) -> SyncHealth {
    let mut h = state
        .sync
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    if !h.configured {
        return h;
    }
    let (origin, acked) = (state.db.origin.to_string(), h.acked_seq);
    let mine = state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT COALESCE(MAX(seq), 0), (SELECT created_ms FROM event_log WHERE origin = ?1 AND seq = ?2)
                 FROM event_log WHERE origin = ?1",
                params![origin, acked as i64 + 1],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<i64>>(1)?)),
            )
        })
        .await;
    if let Ok((max, oldest)) = mine {
        h.events_waiting = max.saturating_sub(acked);
        h.lag_ms = match oldest {
            Some(t) if h.events_waiting > 0 => state.now().as_u64().saturating_sub(t as u64),
            _ => 0,
        };
        metrics::gauge!("store_sync_events_waiting").set(h.events_waiting as f64);
        metrics::gauge!("store_sync_lag_seconds").set(h.lag_ms as f64 / 1000.0);
    }
    h
}

/// How the node proves to the hub who it is.
#[derive(Clone)]
pub enum Credential {
    /// A node token from the hub's `/node-tokens` (development and tests): `Bearer`.
    Token(crate::config::Secret),
    /// The enrolled node's key (`crate::enroll`): a fresh `EdgeNode` header per connection.
    Key {
        node_id: String,
        key: Arc<node_identity::NodeKey>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Token(_) => f.write_str("Token(***)"),
            Credential::Key { node_id, .. } => write!(f, "Key({node_id})"),
        }
    }
}

/// What the health says, and the log, once the hub has refused this node as revoked.
pub const REVOKED: &str = "This server was disconnected from the hub by the store's owner and no \
    longer syncs. To connect it again, ask for a new pairing code in the dashboard under Devices \
    and pair it again (store-node enroll).";

/// How long a revoked node waits between tries (a revocation is final; the tries only show
/// in the hub's log that the box is still plugged in).
const REVOKED_RETRY: Duration = Duration::from_secs(600);

/// The hub's answers that change what the client does next.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// 401 `clock_skew`: our clock is off by more than the hub allows; the hub's time says by how much.
    #[error("the hub refused our clock (its time is {hub_time_ms} ms)")]
    ClockSkew { hub_time_ms: i64 },
    /// 401 `node_revoked`, or the hub closed the link with 4401.
    #[error("{REVOKED}")]
    Revoked,
}

/// Starts the sync client if a hub is configured (with its `[hub] token`).
pub fn spawn(state: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    let hub = state.config.hub.clone()?;
    let credential = Credential::Token(hub.token.clone());
    Some(spawn_with(state, hub, credential))
}

/// Starts the sync client to `hub`, authenticating with `credential`.
pub fn spawn_with(
    state: Arc<AppState>,
    hub: crate::config::HubConfig,
    credential: Credential,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_link(state, hub, credential))
}

/// The sync client to `hub` (what [`spawn_with`] runs), for a caller that runs it itself.
pub async fn run_link(state: Arc<AppState>, hub: crate::config::HubConfig, credential: Credential) {
    update(&state, |h| {
        h.configured = true;
        h.hub_url = Some(hub.url.clone());
    });
    let mut attempt: u32 = 0;
    // Added to our clock in the signed header, learned from a `clock_skew` refusal.
    let mut offset_ms: i64 = 0;
    let mut skew_retried = false;
    let mut revoked_logged = false;
    loop {
        let result = connect_once(&state, &hub, &credential, offset_ms).await;
        let refusal = result
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<Refusal>());
        match refusal {
            Some(Refusal::ClockSkew { hub_time_ms }) if !skew_retried => {
                offset_ms = hub_time_ms - state.now().as_i64();
                skew_retried = true;
                tracing::warn!(
                    offset_ms,
                    "the hub refused our clock; signing with its time from now on"
                );
                continue;
            }
            Some(Refusal::Revoked) => {
                if !revoked_logged {
                    tracing::error!(hub = %hub.url, "{REVOKED}");
                    revoked_logged = true;
                }
                update(&state, |h| {
                    h.connected = false;
                    h.last_error = Some(REVOKED.to_owned());
                });
                metrics::gauge!("store_sync_connected").set(0.0);
                tokio::time::sleep(REVOKED_RETRY).await;
                continue;
            }
            _ => {}
        }
        let (connected_before, error) = match &result {
            Ok(was_connected) => (*was_connected, None),
            Err(e) => (false, Some(e.to_string())),
        };
        if let Some(e) = &error {
            tracing::warn!(error = %e, "hub link down; retrying");
        }
        update(&state, |h| {
            h.connected = false;
            if error.is_some() {
                h.last_error = error.clone();
            }
        });
        metrics::gauge!("store_sync_connected").set(0.0);
        if connected_before {
            attempt = 0;
            skew_retried = false;
        }
        // Exponential backoff with full jitter: 0.5 s doubling to 30 s.
        let cap = Duration::from_millis(500)
            .saturating_mul(2u32.saturating_pow(attempt.min(6)))
            .min(Duration::from_secs(30));
        attempt = attempt.saturating_add(1);
        let wait = cap
            .mul_f64(rand::random::<f64>())
            .max(Duration::from_millis(100));
        tokio::time::sleep(wait).await;
    }
}

fn update(state: &AppState, f: impl FnOnce(&mut SyncHealth)) {
    let changed = match state.sync.lock() {
        Ok(mut h) => {
            let before = (h.connected, h.acked_seq, h.last_error.clone());
            f(&mut h);
            before != (h.connected, h.acked_seq, h.last_error.clone())
        }
        Err(_) => false,
    };
    if changed {
        state.sync_changed.send_modify(|n| *n += 1);
    }
}

/// The event log as the sync session sees it, inside a writer transaction.
struct NodeLog<'c, 'a> {
    ctx: &'c mut WriteCtx<'a>,
    store: &'c str,
}

fn storage(e: rusqlite::Error) -> LogError {
    LogError::Storage(e.to_string())
}

impl EventStore for NodeLog<'_, '_> {
    /// Per origin, the highest sequence number held (see [`VECTOR`]).
    fn vector(&self) -> Result<VersionVector, LogError> {
        let mut v = VersionVector::new();
        let mut stmt = self.ctx.conn.prepare_cached(VECTOR).map_err(storage)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(storage)?;
        for row in rows {
            let (origin, n) = row.map_err(storage)?;
            v.raise(&origin, n as u64);
        }
        Ok(v)
    }

    fn range(
        &self,
        origin: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Event>, LogError> {
        let mut stmt = self
            .ctx
            .conn
            .prepare_cached(
                "SELECT id, origin, seq, hlc, kind, subject, data FROM event_log
                 WHERE origin = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq LIMIT ?4",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map(
                params![
                    origin,
                    from as i64,
                    to.min(i64::MAX as u64) as i64,
                    limit.min(i64::MAX as usize) as i64
                ],
                |r| {
                    let id: String = r.get(0)?;
                    let data: String = r.get(6)?;
                    Ok(Event {
                        id: id.parse().unwrap_or_default(),
                        store: self.store.to_owned(),
                        origin: r.get(1)?,
                        seq: r.get::<_, i64>(2)? as u64,
                        hlc: r.get(3)?,
                        kind: r.get(4)?,
                        subject: r.get(5)?,
                        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                    })
                },
            )
            .map_err(storage)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
    }

    fn append(&mut self, events: &[Event]) -> Result<(), LogError> {
        for e in events {
            self.ctx.append_remote(e).map_err(storage)?;
            crate::orders::project_remote(self.ctx, e)
                .map_err(|e| LogError::Storage(e.to_string()))?;
        }
        Ok(())
    }
}

/// What one session call produced, after its transaction committed.
struct Outcome {
    send: Vec<Frame>,
    /// The hub joins parts: frames over the budget may be cut (`wire::encode_within`).
    parts: bool,
    menu_changed: bool,
    /// How many of this node's events the hub has acknowledged, once it has said.
    acked_seq: Option<u64>,
}

/// Why a session call did not commit; its text goes to the hub in a `rejected` frame.
#[derive(Debug, thiserror::Error)]
enum SyncErr {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{0} lock poisoned")]
    Poisoned(&'static str),
    #[error("{code}: {0}", code = .0.code())]
    Session(sync::session::SessionError),
    #[error(transparent)]
    Storage(#[from] rusqlite::Error),
    #[error("{0}")]
    Roster(anyhow::Error),
    #[error(transparent)]
    Menu(#[from] EditError),
}

/// Runs a session call in a writer transaction; persists changed documents and the menu projection with it.
async fn in_writer(
    state: &Arc<AppState>,
    session: &Arc<Mutex<Session>>,
    call: impl FnOnce(
        &mut Session,
        &mut NodeLog<'_, '_>,
        &mut Docs,
    ) -> Result<(Vec<Frame>, Vec<DocKind>), sync::session::SessionError>
    + Send
    + 'static,
) -> Result<Outcome, SyncErr> {
    let (session, docs, store) = (
        session.clone(),
        state.docs.clone(),
        state.config.store.id.clone(),
    );
    state
        .db
        .write(move |ctx| -> Result<Outcome, SyncErr> {
            let mut session = session.lock().map_err(|_| SyncErr::Poisoned("session"))?;
            let mut docs = docs.lock().map_err(|_| SyncErr::Poisoned("documents"))?;
            let origin = ctx.origin().to_owned();
            let (send, changed) = {
                let mut log = NodeLog { ctx, store: &store };
                call(&mut session, &mut log, &mut docs).map_err(SyncErr::Session)?
            };
            let mut menu_changed = false;
            for kind in changed {
                crate::docs::save(ctx.conn, &mut docs, kind, ctx.now())?;
                if kind == DocKind::Catalog
                    && let Some(menu) = crate::docs::menu_of(&docs)
                {
                    if let Err(e) = menu.validate() {
                        tracing::warn!(error = %e, "the merged menu breaks a rule; serving it anyway");
                    }
                    let now = ctx.now();
                    store_projection(ctx, menu, serde_json::json!({ "synced": true }), now)?;
                    menu_changed = true;
                }
                if kind == DocKind::Roster {
                    crate::docs::project_roster(ctx.conn, &docs).map_err(SyncErr::Roster)?;
                }
            }
            // How much of our own history the hub has acknowledged. (What is still waiting is
            // computed from the log when asked, off this thread: `current`.)
            let acked_seq = session.acked().map(|a| a.get(&origin));
            let parts = session.peer_reads(wire::FEATURE_PARTS);
            Ok(Outcome { send, parts, menu_changed, acked_seq })
        })
        .await
}

fn record_health(state: &AppState, o: &Outcome) {
    let Some(acked) = o.acked_seq else { return };
    update(state, |h| {
        h.acked_seq = h.acked_seq.max(acked);
        h.last_success_ms = Some(state.now().as_u64());
    });
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection, until it drops. Returns whether it got as far as connected.
async fn connect_once(
    state: &Arc<AppState>,
    hub: &crate::config::HubConfig,
    credential: &Credential,
    offset_ms: i64,
) -> anyhow::Result<bool> {
    let mut request = hub.url.as_str().into_client_request()?;
    let authorization = match credential {
        Credential::Token(token) => format!("Bearer {}", token.expose()),
        Credential::Key { node_id, key } => key
            .sync_auth(node_id, (state.now().as_i64() + offset_ms).max(0))?
            .to_string(),
    };
    request
        .headers_mut()
        .insert("authorization", authorization.parse()?);
    let connector = tokio_tungstenite::Connector::Rustls(state.hub_tls.clone());
    let ws = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to the hub timed out"))?;
    let (ws, _) = match ws {
        Ok(ws) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
            return Err(refused(answer.status().as_u16(), answer.body().as_deref()));
        }
        Err(e) => return Err(e.into()),
    };
    let (tx, mut rx) = ws.split();
    // A separate writer: while a large batch is being written, this loop keeps reading the
    // hub's acks and batches. (Writing and reading in one task can deadlock when both sides
    // send more than the socket buffers hold.)
    let (out, mut queue) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let mut writer = tokio::spawn(async move {
        let mut tx = tx;
        while let Some(m) = queue.recv().await {
            tx.send(m).await?;
        }
        tx.close().await?;
        anyhow::Ok(())
    });
    let result = drive(state, hub, &out, &mut rx).await;
    drop(out);
    // Let the writer finish what is queued (an Error frame saying why), briefly.
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    result
}

/// The hub's refusal of the upgrade, as an error; a [`Refusal`] when it changes what we do next.
fn refused(status: u16, body: Option<&[u8]>) -> anyhow::Error {
    let body: serde_json::Value = body
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or("");
    match (status, code) {
        (401, "node_revoked") => Refusal::Revoked.into(),
        (401, "clock_skew") => match body["hub_time_ms"]
            .as_i64()
            .or_else(|| body["error"]["hub_time_ms"].as_i64())
        {
            Some(hub_time_ms) => Refusal::ClockSkew { hub_time_ms }.into(),
            None => anyhow::anyhow!("the hub refused our clock and did not say its time"),
        },
        _ => anyhow::anyhow!(
            "the hub refused the link: {status} {code} {}",
            body["error"]["message"].as_str().unwrap_or("")
        ),
    }
}

/// Queues frames for the writer, each within the frame budget when the hub joins `parts`.
fn queue(
    out: &tokio::sync::mpsc::UnboundedSender<Message>,
    frames: Vec<Frame>,
    parts: bool,
) -> anyhow::Result<()> {
    for f in frames {
        for bytes in wire::encode_within(&f, wire::FRAME_BUDGET, parts) {
            out.send(Message::Binary(bytes.into()))
                .map_err(|_| anyhow::anyhow!("the link to the hub is closed"))?;
        }
    }
    Ok(())
}

/// Runs one connection's session until it drops.
async fn drive(
    state: &Arc<AppState>,
    hub: &crate::config::HubConfig,
    out: &tokio::sync::mpsc::UnboundedSender<Message>,
    rx: &mut futures_util::stream::SplitStream<Ws>,
) -> anyhow::Result<bool> {
    // Subscribe before the first flush so no local change slips between them.
    let mut local = state.bus.subscribe();
    let session = Arc::new(Mutex::new(Session::new(
        &state.db.origin,
        &state.config.store.id,
    )));
    let start = in_writer(state, &session, |s, log, docs| {
        Ok((s.start(log, docs)?, vec![]))
    })
    .await?;
    queue(out, start.send, start.parts)?;
    update(state, |h| {
        h.connected = true;
        h.last_error = None;
    });
    metrics::gauge!("store_sync_connected").set(1.0);
    tracing::info!(hub = %hub.url, "connected to the hub");
    let mut live = Liveness::new(hub.timeout());
    loop {
        let outcome = tokio::select! {
            // What has arrived is read before the silence check: a busy writer is not a dead hub.
            biased;
            msg = rx.next() => match msg.inspect(|m| if m.is_ok() { live.heard() }) {
                Some(Ok(Message::Binary(bytes))) => {
                    let frame = match wire::decode(&bytes) {
                        Ok(Frame::Keys { issuer, jwks }) => {
                            // Not sync: a bad set is logged and the last good one kept.
                            if let Err(e) = crate::hub_keys::accept(state, issuer, jwks).await {
                                tracing::warn!(error = %e, "hub keys not taken");
                            }
                            continue;
                        }
                        Ok(Frame::EndedSessions { sessions }) => {
                            if let Err(e) = crate::hub_keys::accept_ended(state, sessions).await {
                                tracing::warn!(error = %e, "ended hub sessions not stored");
                            }
                            continue;
                        }
                        Ok(f) => f,
                        Err(e) => {
                            let _ = queue(out, vec![Frame::Error { code: "malformed_frame".into(), message: e.to_string() }], false);
                            anyhow::bail!("the hub sent a bad frame: {e}");
                        }
                    };
                    match in_writer(state, &session, move |s, log, docs| {
                        let step = s.receive(frame, log, docs)?;
                        Ok((step.send, step.docs_changed))
                    })
                    .await
                    {
                        Ok(o) => o,
                        Err(e) => {
                            let _ = queue(out, vec![Frame::Error { code: "rejected".into(), message: e.to_string() }], false);
                            anyhow::bail!("sync stopped: {e}");
                        }
                    }
                }
                Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == 4401 => {
                    return Err(Refusal::Revoked.into());
                }
                Some(Ok(Message::Close(frame))) => {
                    anyhow::bail!("the hub closed the link: {}", frame.map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default());
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(true),
            },
            ev = local.recv() => {
                match &ev {
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(true),
                    Ok(ev) if ev.origin != *state.db.origin && ev.kind != kind::MENU_CHANGED => {
                        continue; // came from the hub: nothing new to tell it
                    }
                    _ => {}
                }
                // One flush for everything committed meanwhile: under a burst of orders the
                // session reads the log once per batch, not once per order.
                while local.try_recv().is_ok() {}
                in_writer(state, &session, |s, log, docs| Ok((s.flush(log, docs)?, vec![])))
                    .await?
            }
            tick = live.tick() => match tick {
                Tick::Ping => {
                    out.send(Message::Ping(Vec::new().into())).map_err(|_| anyhow::anyhow!("the link to the hub is closed"))?;
                    continue;
                }
                Tick::Silent => anyhow::bail!("nothing heard from the hub for {:?}; reconnecting", live.timeout()),
            },
        };
        record_health(state, &outcome);
        if outcome.menu_changed {
            crate::menu::refresh(&state.db, &state.menu)
                .await
                .context("reading the synced menu")?;
        }
        queue(out, outcome.send, outcome.parts)?;
    }
}
