//! Test harness: a database per test (a temporary SQLite file, or a fresh
//! PostgreSQL database dropped afterwards), a real hub on port 0, an admin
//! HTTP client, and a test peer that syncs over the real WebSocket exactly as a
//! store node will: its own `Session` over an in-memory log and documents.

#![allow(dead_code)]

use std::time::Duration;

use cloud_hub::{Config, Running};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::Connection;
use sync::doc::{DocKind, SharedDoc};
use sync::log::{Event, MemoryLog};
use sync::session::{Docs, Session, SessionError};
use sync::wire::{self, Frame};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN: &str = "test-admin-token-0123456789";
/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Runs a test function once on SQLite and once on PostgreSQL:
/// `both!(name)` makes `name::sqlite` and `name::postgres`. (Not every test
/// file uses it, as not every one uses each helper here.)
#[allow(unused_macros)]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both;

/// The `error.code` of an error body.
pub fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// A string field of a JSON body (the test fails when it is missing).
pub fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_owned()
}

/// Polls `check` until it holds; the deadline fails the test (the interval is
/// not synchronisation: it bounds how often the condition is read).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests use (trust auth); `HUB_TEST_POSTGRES` overrides.
fn pg_server() -> String {
    std::env::var("HUB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// One test's database; dropped (PostgreSQL) or deleted (SQLite) with the value.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!("hub_test_{}", hex::encode(rand::random::<[u8; 8]>()));
                let mut c = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server()))
                    .await
                    .expect("PostgreSQL at HUB_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .unwrap();
                c.close().await.unwrap();
                TestDb {
                    url: format!("{}/{name}", pg_server()),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a runtime of our own on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) =
                    sqlx::PgConnection::connect(&format!("{}/postgres", pg_server())).await
                {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

/// A hub serving on a free port, and an HTTP client for its API.
pub struct TestHub {
    pub running: Running,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestHub {
    pub async fn start(db: &TestDb) -> TestHub {
        TestHub::start_with(db, |_| {}).await
    }

    /// Starts a hub after `adjust` changed its config. Every test client is
    /// 127.0.0.1, so the per-IP sign-in limit is lifted unless `adjust` sets it.
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> TestHub {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), ADMIN);
        config.database_url = db.url.clone();
        config.db_max_connections = 5;
        config.auth.limits.ip_burst = 10_000;
        config.auth.limits.account_burst = 1_000;
        config.auth.limits.account_total_burst = 1_000;
        adjust(&mut config);
        let running = cloud_hub::run(config).await.unwrap();
        let base = format!("http://{}", running.addr);
        TestHub {
            running,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub async fn stop(self) {
        self.running.shutdown().await.unwrap();
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/sync", self.running.addr)
    }

    /// Sends a request with the admin token; returns the status and the JSON body (Null when none).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_as(Some(ADMIN), method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{method} {path}: body is not JSON: {bytes:?}"))
        };
        (status, v)
    }

    /// Any request: bearer token, JSON body and extra headers; returns status, JSON body (Null when none) and headers.
    pub async fn request(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{method} {path}: body is not JSON: {bytes:?}"))
        };
        (status, v, headers)
    }

    pub async fn create_store(&self, id: &str) {
        let (s, b) = self
            .call(
                "POST",
                "/api/v1/admin/stores",
                Some(&json!({ "id": id, "name": format!("Store {id}") })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    pub async fn create_token(&self, store: &str, label: &str) -> String {
        let (s, b) = self
            .call(
                "POST",
                &format!("/api/v1/admin/stores/{store}/node-tokens"),
                Some(&json!({ "label": label })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["token"].as_str().unwrap().to_owned()
    }

    pub async fn orders(&self, store: &str) -> Value {
        let (s, b) = self
            .call("GET", &format!("/api/v1/stores/{store}/orders"), None)
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    pub async fn event_count(&self, store: &str) -> u64 {
        self.orders(store).await["events"].as_u64().unwrap()
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the sync socket with a node token; Err(status) when the hub refuses the upgrade.
pub async fn ws_connect(url: &str, token: Option<&str>) -> Result<Ws, u16> {
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("connect failed: {e}"),
    }
}

/// What arrived on a socket.
#[derive(Debug)]
pub enum Got {
    Frame(Frame),
    /// The hub closed: code and reason (None when the socket just ended).
    Closed(Option<(u16, String)>),
}

/// The next thing the hub sends, decoded, before `deadline` (panics after it).
pub async fn next_got(ws: &mut Ws, deadline: Instant) -> Got {
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("timed out waiting for the hub");
        match msg {
            None => return Got::Closed(None),
            Some(Err(_)) => return Got::Closed(None),
            Some(Ok(Message::Binary(b))) => {
                return Got::Frame(wire::decode(&b).expect("the hub sends valid frames"));
            }
            Some(Ok(Message::Close(f))) => {
                // Keep reading so the close reply goes out and the close completes.
                while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, ws.next()).await {}
                return Got::Closed(f.map(|f| (u16::from(f.code), f.reason.to_string())));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Reads until the hub closes; returns the close code and reason and the frames seen before it.
pub async fn expect_close(ws: &mut Ws) -> ((u16, String), Vec<Frame>) {
    let deadline = Instant::now() + WAIT;
    let mut frames = vec![];
    loop {
        match next_got(ws, deadline).await {
            Got::Frame(f) => frames.push(f),
            Got::Closed(Some(c)) => return (c, frames),
            Got::Closed(None) => panic!("socket ended without a close frame; saw {frames:?}"),
        }
    }
}

/// A store node in miniature: a session over an in-memory log and documents.
pub struct Peer {
    pub store: String,
    pub origin: String,
    pub session: Session,
    pub log: MemoryLog,
    pub docs: Docs,
    pub ws: Option<Ws>,
    /// Events frames sent and received since the last `connect`.
    pub events_frames_sent: usize,
    pub events_frames_received: usize,
    pub events_sent: usize,
    pub acks_received: usize,
    /// Codes of the `Error` frames the hub sent.
    pub remote_errors: Vec<String>,
    /// The close the hub sent, once it did.
    pub closed: Option<Option<(u16, String)>>,
    /// The token issuer and JWKS the hub last sent.
    pub keys: Option<(String, Value)>,
}

impl Peer {
    pub fn new(store: &str, origin: &str) -> Peer {
        Peer {
            store: store.into(),
            origin: origin.into(),
            session: Session::new(origin, store),
            log: MemoryLog::new(),
            docs: Docs::new(),
            ws: None,
            events_frames_sent: 0,
            events_frames_received: 0,
            events_sent: 0,
            acks_received: 0,
            remote_errors: vec![],
            closed: None,
            keys: None,
        }
    }

    /// Records an order as the node does: `order.created` with `{"order": {...}}`.
    pub fn record_order(&mut self, id: &str, ticket: &str, total: i64) -> Event {
        let order = json!({
            "id": id, "ticket": ticket, "status": "placed",
            "totals": { "subtotal": total, "tax": 0, "total": total },
            "lines": [{ "item_id": "burger", "quantity": 1 }],
        });
        let store = self.store.clone();
        let origin = self.origin.clone();
        self.log.record(
            &store,
            &origin,
            "order.created",
            Some(id),
            json!({ "order": order }),
        )
    }

    /// Connects with `token` and sends the session's opening frames.
    pub async fn connect(&mut self, url: &str, token: &str) -> Result<(), u16> {
        self.ws = Some(ws_connect(url, Some(token)).await?);
        self.closed = None;
        self.events_frames_sent = 0;
        self.events_frames_received = 0;
        self.events_sent = 0;
        let frames = self.session.start(&self.log, &mut self.docs).unwrap();
        self.send_frames(frames).await;
        Ok(())
    }

    pub async fn send_frames(&mut self, frames: Vec<Frame>) {
        for f in frames {
            self.send_frame(&f).await;
        }
    }

    pub async fn send_frame(&mut self, f: &Frame) {
        if let Frame::Events { events } = f {
            self.events_frames_sent += 1;
            self.events_sent += events.len();
        }
        self.send_raw(Message::Binary(wire::encode(f).into())).await;
    }

    pub async fn send_raw(&mut self, m: Message) {
        let ws = self.ws.as_mut().expect("connected");
        // The hub may already have closed; what it said arrives on the read side.
        let _ = ws.send(m).await;
    }

    /// Sends whatever changed locally (new events, document edits).
    pub async fn flush(&mut self) {
        let frames = self.session.flush(&self.log, &mut self.docs).unwrap();
        self.send_frames(frames).await;
    }

    /// Handles one message from the hub; false once the socket is closed.
    pub async fn step(&mut self, deadline: Instant) -> bool {
        let ws = self.ws.as_mut().expect("connected");
        match next_got(ws, deadline).await {
            Got::Frame(f) => {
                match &f {
                    Frame::Events { .. } => self.events_frames_received += 1,
                    Frame::Ack { .. } => self.acks_received += 1,
                    Frame::Keys { issuer, jwks } => {
                        self.keys = Some((issuer.clone(), jwks.clone()))
                    }
                    _ => {}
                }
                match self.session.receive(f, &mut self.log, &mut self.docs) {
                    Ok(step) => self.send_frames(step.send).await,
                    // The hub explains before it closes; the close follows.
                    Err(SessionError::Remote { code, .. }) => self.remote_errors.push(code),
                    Err(e) => panic!("peer session failed: {e}"),
                }
                true
            }
            Got::Closed(c) => {
                self.closed = Some(c);
                false
            }
        }
    }

    /// Handles messages until `done` holds; panics at the deadline or if the hub closes.
    pub async fn pump_until(&mut self, what: &str, mut done: impl FnMut(&mut Peer) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for: {what}");
            }
            if !self.step(deadline).await {
                panic!(
                    "the hub closed ({:?}) while waiting for: {what}",
                    self.closed
                );
            }
        }
    }

    /// Waits until the hub acknowledges holding `n` events of this peer's origin.
    pub async fn wait_acked(&mut self, n: u64) {
        let origin = self.origin.clone();
        self.pump_until(&format!("hub acks {n} events of {origin}"), |p| {
            p.session.acked().map(|v| v.get(&origin)) == Some(n)
        })
        .await;
    }

    /// Reads until the hub closes; returns the close code and reason.
    pub async fn wait_closed(&mut self) -> Option<(u16, String)> {
        let deadline = Instant::now() + WAIT;
        while self.step(deadline).await {}
        self.closed.clone().flatten()
    }

    pub async fn disconnect(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
            // Drain until the hub's close reply or the end, so the close completes.
            let deadline = Instant::now() + WAIT;
            while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, ws.next()).await {}
        }
    }

    pub fn catalog(&mut self) -> &mut SharedDoc {
        let actor = self.origin.clone();
        self.docs
            .entry(DocKind::Catalog)
            .or_insert_with(|| SharedDoc::new(DocKind::Catalog, actor.as_bytes()))
    }
}

/// The demo menu the store node ships.
pub fn demo_menu() -> domain::menu::Menu {
    serde_json::from_str(include_str!("../../../store-node/demo/menu.json")).unwrap()
}

/// A customer's tracking socket of one order (`GET /api/v1/me/orders/{id}/events`).
pub async fn track(hub: &TestHub, token: &str, order: &str) -> Ws {
    let url = format!(
        "ws://{}/api/v1/me/orders/{order}/events?access_token={token}",
        hub.running.addr
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next status message on a tracking socket.
pub async fn next_status(ws: &mut Ws) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a status message in time")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}
