//! `GET /api/v1/sync`: the WebSocket a store node keeps open to the hub.
//!
//! The node authenticates with the key it enrolled with (`Authorization:
//! EdgeNode node_id=..,ts=..,nonce=..,sig=..`, `docs/enrollment.md`: a fresh
//! time, a nonce used once, a live node), or with a legacy node token
//! (`Authorization: Bearer`, or `?token=` for tools); anything else is a 401
//! before the upgrade (`clock_skew` carries the hub's time in `hub_time_ms`). After it, the connection runs one [`Session`] (replica `hub`, the
//! token's store): every binary message is one wire frame; the frames the
//! session answers go back as binary messages. The session is synchronous, so
//! each step runs on a blocking thread holding the store's document lock and
//! waits for the database there.
//!
//! Close codes (the reason says more; an `Error` frame precedes all but 1001 and 4401):
//! - 4400: the peer sent something that is not a valid frame (garbage,
//!   truncated, an unknown version or kind, a text message, parts that do
//!   not join), or a bad document message. (Events far ahead of a gap are not
//!   an error: past the held-back limits they are dropped and asked for again.)
//! - 4401: the node (or its node token) was revoked while connected;
//! - 4403: the peer synced another store, or sent an event of another store or
//!   one that contradicts what the hub holds (`wrong_store`, `foreign_event`,
//!   `forged_event`);
//! - 4500: the hub failed to store something; nothing from that frame was acknowledged;
//! - 4408: the node sent nothing (not even a pong to our pings) for the link
//!   timeout (`--link-timeout-secs`), or stopped taking what we send: the link
//!   is dead even if the socket looks open, so the node counts as away;
//! - 1000: the peer sent an `Error` frame; 1001: the hub is shutting down.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use api_kit::liveness::{Liveness, Tick};
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::FutureExt;
use sync::doc::DocKind;
use sync::session::{Session, SessionError};
use sync::wire::{self, Frame};
use tokio::runtime::Handle;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use super::error::ApiError;
use super::extract::{WebSocketUpgrade, bearer};
use super::nodes;
use super::store_docs::open_store;
use crate::crypto::token_hash;
use crate::hub::{HUB_REPLICA, HubLog, StoreState};
use crate::online::{LinkGuard, Online};
use crate::{Hub, db::Db};

pub const CLOSE_BAD_INPUT: u16 = 4400;
pub const CLOSE_REVOKED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_STORAGE: u16 = 4500;
pub const CLOSE_SILENT: u16 = 4408;

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/api/v1/sync", get(sync_socket))
}

/// How long to wait for the peer's close reply before dropping the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Most events appended in one step when `Events` frames queue up.
const MAX_BATCH: usize = 4 * sync::session::BATCH;

pub async fn sync_socket(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, ApiError>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let cred = match credential(&headers, &query) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if *hub.shutdown.borrow() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the hub is shutting down; reconnect shortly",
        )
        .into_response();
    }
    // Register before checking, so a revocation racing with this connect closes it.
    let hash = match &cred {
        Credential::Token(hash) => hash.clone(),
        Credential::Node(auth) => nodes::conn_key(&auth.node_id),
    };
    let (guard, revoked) = hub.register(&hash);
    let row = match check_credential(&hub, &cred).await {
        Ok(row) => row,
        Err(resp) => return resp,
    };
    let ws = match ws {
        Ok(WebSocketUpgrade(ws)) => ws,
        Err(e) => return e.into_response(),
    };
    let store = match open_store(&hub, &row.store_id).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    tracing::info!(store = %row.store_id, node = %row.label, conn = guard.id, "sync connection opened");
    ws.max_message_size(wire::MAX_FRAME)
        .max_frame_size(wire::MAX_FRAME)
        .on_upgrade(move |socket| async move {
            let label = row.label.clone();
            // Counted as connected (for the store's online ordering) while it lives.
            let link = LinkGuard::open(&hub, &hash, &row.store_id);
            let conn = Conn {
                peeked: None,
                hub: hub.clone(),
                link,
                db: hub.db.clone(),
                store,
                session: Some(
                    Session::new(HUB_REPLICA, &row.store_id)
                        .with_held_budget(hub.held_back_per_link, hub.held_back.clone()),
                ),
                conn_id: guard.id,
                socket,
                silent_at: tokio::time::Instant::now() + hub.link_timeout,
            };
            let why = conn.run(&hub, revoked).await;
            tracing::info!(store = %row.store_id, node = %label, conn = guard.id, reason = %why, "sync connection closed");
            drop(guard);
        })
}

/// How a node says who it is.
enum Credential {
    /// A node token's SHA-256 (`Authorization: Bearer`, or `?token=`).
    Token(String),
    /// A key-signed header (`Authorization: EdgeNode ...`), parsed but not yet checked.
    Node(node_identity::SyncAuth),
}

fn credential(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Credential, ApiError> {
    let authz = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(v) = authz
        && node_identity::SyncAuth::is_edge_node(v)
    {
        return node_identity::SyncAuth::parse(v)
            .map(Credential::Node)
            .map_err(|e| ApiError::unauthorized("bad_authorization", e.to_string()));
    }
    match bearer(headers).or(query.get("token").map(String::as_str)) {
        Some(token) => Ok(Credential::Token(token_hash(token))),
        None => Err(ApiError::unauthorized(
            "unauthenticated",
            "send Authorization: EdgeNode node_id=..,ts=..,nonce=..,sig=.. (or a node token as Bearer)",
        )),
    }
}

/// Who is connecting, once the credential checked out.
struct NodeRow {
    store_id: String,
    label: String,
}

/// Checks a credential: a live node token, or a signature by a live enrolled node's key, at a
/// time within 5 minutes of ours (else 401 `clock_skew` with our time), with a nonce not seen.
async fn check_credential(hub: &Hub, cred: &Credential) -> Result<NodeRow, Response> {
    match cred {
        Credential::Token(hash) => {
            let row = hub
                .db
                .token(hash)
                .await
                .map_err(|e| ApiError::internal(e).into_response())?;
            match row.filter(|r| !r.revoked) {
                Some(r) => Ok(NodeRow {
                    store_id: r.store_id,
                    label: r.label,
                }),
                None => Err(ApiError::unauthorized(
                    "bad_token",
                    "the node token is unknown or revoked",
                )
                .into_response()),
            }
        }
        Credential::Node(auth) => {
            let now = hub.now_ms();
            if !auth.fresh_at(now) {
                let body = serde_json::json!({
                    "error": {
                        "code": "clock_skew",
                        "message": format!(
                            "the signed time is more than 5 minutes from the hub's ({now} ms): sign with the hub's time"
                        ),
                    },
                    "hub_time_ms": now,
                });
                return Err((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response());
            }
            let node = hub
                .db
                .enrolled_node(&auth.node_id)
                .await
                .map_err(|e| ApiError::internal(e).into_response())?
                .ok_or_else(|| {
                    ApiError::unauthorized("unknown_node", "no node is enrolled with this id")
                        .into_response()
                })?;
            let key = node_identity::PublicKey::parse(&node.public_key)
                .map_err(|e| ApiError::internal(e).into_response())?;
            if auth.verify(&key).is_err() {
                return Err(ApiError::unauthorized(
                    "bad_signature",
                    "the signature is not this node's",
                )
                .into_response());
            }
            if node.revoked_at.is_some() {
                return Err(ApiError::unauthorized(
                    "node_revoked",
                    "this store server was disconnected from the hub; enroll it again with a new pairing code",
                )
                .into_response());
            }
            if !hub
                .enroll_guard
                .fresh_nonce(&auth.node_id, &auth.nonce, auth.ts_ms, now)
            {
                return Err(ApiError::unauthorized(
                    "replayed",
                    "this signed header was used before: sign a new one with a fresh nonce",
                )
                .into_response());
            }
            Ok(NodeRow {
                store_id: node.store_id,
                label: node.label.unwrap_or(node.node_id),
            })
        }
    }
}

/// What a session step produced.
struct Outcome {
    send: Vec<Frame>,
    /// Events were appended or documents changed: other connections should flush.
    changed: bool,
}

enum Op {
    Start,
    Receive(Frame),
    Flush,
}

enum StepError {
    Session(SessionError),
    /// The blocking task died (a panic); the session is gone.
    Lost(String),
}

struct Conn {
    hub: Arc<Hub>,
    /// A message read ahead by [`Conn::batch_events`], handled next.
    peeked: Option<Option<Result<Message, axum::Error>>>,
    link: LinkGuard,
    db: Db,
    store: Arc<StoreState>,
    session: Option<Session>,
    conn_id: u64,
    socket: WebSocket,
    /// Every write must be done by then: when the node will have been silent for the link
    /// timeout ([`Liveness::silent_at`], moved on by `run` whenever the node is heard).
    silent_at: tokio::time::Instant,
}

impl Conn {
    /// Runs the connection until it ends; returns why.
    async fn run(mut self, hub: &Hub, mut revoked: oneshot::Receiver<()>) -> String {
        let mut flush = self.store.flush.subscribe();
        let mut shutdown = hub.shutdown.subscribe();
        if let Some(why) = self.step_and_send(Op::Start).await {
            return why;
        }
        // When the node was last heard from; when to ping it.
        let mut live = Liveness::new(hub.link_timeout);
        let mut keys_sent = false;
        let mut keys_changed = hub.auth.keys_changed();
        // The ended sessions last sent, once the node said it reads them.
        let mut ended_sent: Option<Vec<wire::EndedSession>> = None;
        let mut sessions_ended = hub.auth.sessions_ended_watch();
        loop {
            tokio::select! {
                biased;
                _ = &mut revoked => {
                    return self.close(CLOSE_REVOKED, "node revoked").await;
                }
                _ = async { drop(shutdown.wait_for(|s| *s).await) } => {
                    return self.close(1001, "hub shutting down").await;
                }
                msg = self.next_message() => {
                    let msg = match msg {
                        None => return "peer disconnected".into(),
                        Some(Err(e)) => return format!("socket error: {e}"),
                        Some(Ok(m)) => m,
                    };
                    live.heard();
                    self.silent_at = live.silent_at();
                    match msg {
                        Message::Binary(bytes) => match wire::decode(&bytes) {
                            Ok(mut frame) => {
                                if let Frame::Events { events } = &mut frame {
                                    self.batch_events(events);
                                }
                                if let Frame::Hello { features, .. } = &frame
                                    && !keys_sent
                                    && features.iter().any(|f| f == wire::FEATURE_KEYS)
                                {
                                    keys_sent = true;
                                    if let Some(why) = self.send_keys(hub).await {
                                        return why;
                                    }
                                }
                                if let Frame::Hello { features, .. } = &frame
                                    && ended_sent.is_none()
                                    && features.iter().any(|f| f == wire::FEATURE_ENDED_SESSIONS)
                                    && let Some(why) = self.send_ended_sessions(hub, &mut ended_sent).await
                                {
                                    return why;
                                }
                                if let Some(why) = self.step_and_send(Op::Receive(frame)).await {
                                    return why;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(store = %self.store.id, conn = self.conn_id, error = %e, "bad frame");
                                return self
                                    .fail(CLOSE_BAD_INPUT, "bad_frame", &e.to_string())
                                    .await;
                            }
                        },
                        Message::Text(_) => {
                            tracing::warn!(store = %self.store.id, conn = self.conn_id, "text message on the sync socket");
                            return self
                                .fail(CLOSE_BAD_INPUT, "bad_frame", "sync frames are binary messages, not text")
                                .await;
                        }
                        Message::Close(_) => return "peer closed".into(),
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                tick = live.tick() => match tick {
                    Tick::Ping => {
                        if let Some(why) = self.send(Message::Ping(Vec::new().into())).await {
                            return why;
                        }
                    }
                    Tick::Silent => {
                        tracing::warn!(store = %self.store.id, conn = self.conn_id, "the node went silent; dropping its link");
                        return self.abandon(CLOSE_SILENT, "nothing heard from the node within the link timeout").await;
                    }
                },
                Ok(()) = keys_changed.changed() => {
                    // A rotation or retirement: a node that has our keys gets the new set.
                    if keys_sent && let Some(why) = self.send_keys(hub).await {
                        return why;
                    }
                }
                Ok(()) = sessions_ended.changed() => {
                    if ended_sent.is_some()
                        && let Some(why) = self.send_ended_sessions(hub, &mut ended_sent).await
                    {
                        return why;
                    }
                }
                r = flush.recv() => {
                    match r {
                        Ok(from) if from == self.conn_id => {}
                        Ok(_) | Err(RecvError::Lagged(_)) => {
                            // Coalesce whatever else is queued into this one flush.
                            while flush.try_recv().is_ok() {}
                            if let Some(why) = self.step_and_send(Op::Flush).await {
                                return why;
                            }
                        }
                        Err(RecvError::Closed) => return "store closed".into(),
                    }
                }
            }
        }
    }

    /// Our token issuer and public keys, which the node keeps to accept
    /// hub-signed staff tokens while we are unreachable.
    async fn send_keys(&mut self, hub: &Hub) -> Option<String> {
        let keys = Frame::Keys {
            issuer: hub.auth.config.issuer.clone(),
            jwks: hub.auth.jwks(),
        };
        self.send(Message::Binary(wire::encode(&keys).into())).await
    }

    /// The staff sessions that ended within an access token's lifetime, when
    /// they differ from what the node last got (`sent`): the node refuses
    /// their access tokens, also while we are unreachable. A failed query is
    /// logged and retried at the next change.
    async fn send_ended_sessions(
        &mut self,
        hub: &Hub,
        sent: &mut Option<Vec<wire::EndedSession>>,
    ) -> Option<String> {
        let since = hub.auth.ended_sessions_since(hub.now_ms());
        let rows = match hub
            .db
            .ended_staff_sessions(since, wire::MAX_ENDED_SESSIONS)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(store = %self.store.id, error = %e, "could not read the ended sessions");
                sent.get_or_insert_with(Vec::new);
                return None;
            }
        };
        let sessions: Vec<wire::EndedSession> = rows
            .into_iter()
            .map(|(sid, ended)| wire::EndedSession {
                sid,
                until: hub.auth.ended_session_until(ended),
            })
            .collect();
        if sent.as_ref() == Some(&sessions) {
            return None;
        }
        let frame = Frame::EndedSessions {
            sessions: sessions.clone(),
        };
        *sent = Some(sessions);
        self.send(Message::Binary(wire::encode(&frame).into()))
            .await
    }

    /// Sends one message within the link timeout; `Some(reason)` when the connection is lost.
    async fn send(&mut self, msg: Message) -> Option<String> {
        // Bounded by the silence deadline, not a fresh timeout: a send stuck on a dead link's
        // full buffers must not push its detection further out.
        match tokio::time::timeout_at(self.silent_at, self.socket.send(msg)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("send failed: {e}")),
            Err(_) => Some("send failed: the node took no data within the link timeout".into()),
        }
    }

    /// The next message: one read ahead by [`Conn::batch_events`], or the socket's next.
    async fn next_message(&mut self) -> Option<Result<Message, axum::Error>> {
        match self.peeked.take() {
            Some(m) => m,
            None => self.socket.recv().await,
        }
    }

    /// Adds to `events` the `Events` frames that have already arrived behind
    /// them (up to [`MAX_BATCH`] events), so one step appends them in one
    /// transaction and answers with one ack; the first other message is kept
    /// for [`Conn::next_message`]. When the hub falls behind a busy node, its
    /// batches grow instead of its queue. (Frames are ordered, so appending
    /// them together is what appending them one by one would have done.)
    fn batch_events(&mut self, events: &mut Vec<sync::log::Event>) {
        while events.len() < MAX_BATCH {
            // Only what is already here: never wait for more.
            let Some(next) = self.socket.recv().now_or_never() else {
                return;
            };
            if let Some(Ok(Message::Binary(bytes))) = &next
                && let Ok(Frame::Events { events: more }) = wire::decode(bytes)
            {
                events.extend(more);
                continue;
            }
            self.peeked = Some(next);
            return;
        }
    }

    /// Runs one session step and sends its frames; `Some(reason)` when the connection ended.
    async fn step_and_send(&mut self, op: Op) -> Option<String> {
        match self.step(op).await {
            Ok(out) => {
                if out.changed {
                    self.store.notify(self.conn_id);
                }
                // Within the node's frame budget: large frames go as parts to a node that joins them.
                let messages: Vec<Vec<u8>> = match &self.session {
                    Some(s) => out.send.iter().flat_map(|f| s.encode(f)).collect(),
                    None => out.send.iter().map(wire::encode).collect(),
                };
                for bytes in messages {
                    if let Some(why) = self.send(Message::Binary(bytes.into())).await {
                        return Some(why);
                    }
                }
                None
            }
            Err(StepError::Session(e)) => {
                let code = match &e {
                    SessionError::WrongStore { .. }
                    | SessionError::ForeignEvent(_)
                    | SessionError::Log(sync::log::LogError::Forged { .. }) => CLOSE_FORBIDDEN,
                    SessionError::Log(_) => CLOSE_STORAGE,
                    SessionError::Remote { .. } => 1000,
                    SessionError::Doc(_) | SessionError::Wire(_) => CLOSE_BAD_INPUT,
                };
                if code == CLOSE_STORAGE {
                    tracing::error!(store = %self.store.id, conn = self.conn_id, error = %e, "sync storage failure");
                } else {
                    tracing::warn!(store = %self.store.id, conn = self.conn_id, code = e.code(), error = %e, "sync session ended");
                }
                if let SessionError::Remote { .. } = e {
                    return Some(self.close(code, e.code()).await);
                }
                let frame = e.frame();
                let _ = self
                    .send(Message::Binary(wire::encode(&frame).into()))
                    .await;
                Some(self.close(code, &e.to_string()).await)
            }
            Err(StepError::Lost(why)) => {
                tracing::error!(store = %self.store.id, conn = self.conn_id, error = %why, "sync step failed");
                Some(
                    self.fail(CLOSE_STORAGE, "internal", "the hub failed; reconnect")
                        .await,
                )
            }
        }
    }

    /// Runs a session call on a blocking thread, holding the store's documents.
    async fn step(&mut self, op: Op) -> Result<Outcome, StepError> {
        let Some(mut session) = self.session.take() else {
            return Err(StepError::Lost("session lost".into()));
        };
        let db = self.db.clone();
        let store = self.store.clone();
        let hub = self.hub.clone();
        let rt = Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            let r = run_op(
                &mut session,
                op,
                &db,
                &store,
                &rt,
                &hub.online,
                hub.now_ms(),
            );
            (session, r)
        })
        .await;
        match joined {
            Ok((session, r)) => {
                if let Some(acked) = session.acked().and_then(|v| serde_json::to_value(v).ok()) {
                    self.link.acked(acked);
                }
                self.session = Some(session);
                r.map_err(StepError::Session)
            }
            Err(e) => Err(StepError::Lost(e.to_string())),
        }
    }

    /// Sends an `Error` frame, then closes.
    async fn fail(&mut self, close: u16, code: &str, message: &str) -> String {
        let frame = Frame::Error {
            code: code.into(),
            message: message.into(),
        };
        let _ = self
            .send(Message::Binary(wire::encode(&frame).into()))
            .await;
        self.close(close, message).await
    }

    /// Sends a close frame (if the socket still takes one) without waiting for the
    /// peer's answer: for a peer that has gone silent.
    async fn abandon(&mut self, code: u16, reason: &str) -> String {
        let _ = tokio::time::timeout(
            CLOSE_GRACE,
            self.socket.send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }))),
        )
        .await;
        format!("closed {code}: {reason}")
    }

    /// Sends a close frame and waits (briefly) for the peer's, so the close reaches it intact.
    async fn close(&mut self, code: u16, reason: &str) -> String {
        let reason = truncate(reason, 120);
        let _ = self
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.clone().into(),
            })))
            .await;
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(m)) = self.socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
        format!("closed {code}: {reason}")
    }
}

/// A close reason fits in 123 bytes; cut on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// One session call, on a blocking thread: lock the store's documents, run,
/// and save any document that changed before its frames are sent.
fn run_op(
    session: &mut Session,
    op: Op,
    db: &Db,
    store: &StoreState,
    rt: &Handle,
    online: &Online,
    now_ms: i64,
) -> Result<Outcome, SessionError> {
    let mut guard = store.docs.blocking_lock();
    let mut log = HubLog::new(db, &store.id, rt, online, now_ms);
    match op {
        Op::Start => Ok(Outcome {
            send: session.start(&log, &mut guard.docs)?,
            changed: false,
        }),
        Op::Flush => Ok(Outcome {
            send: session.flush(&log, &mut guard.docs)?,
            changed: false,
        }),
        Op::Receive(frame) => {
            let step = session.receive(frame, &mut log, &mut guard.docs)?;
            let changed: Vec<DocKind> = step.docs_changed;
            if !changed.is_empty() {
                rt.block_on(guard.save(db, &store.id, &changed))
                    .map_err(|e| sync::log::LogError::Storage(e.to_string()))?;
            }
            Ok(Outcome {
                send: step.send,
                changed: !changed.is_empty() || !step.applied.is_empty(),
            })
        }
    }
}
