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

/// Opens the sync socket with a node token; None when the hub is not there
/// (refused, reset) or refuses the upgrade: for tests whose hub comes and goes.
pub async fn ws_try_connect(url: &str, token: &str) -> Option<Ws> {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .ok()
        .map(|(ws, _)| ws)
}

impl Peer {
    /// Like `connect`, but false instead of a panic when the hub is not there.
    pub async fn try_connect(&mut self, url: &str, token: &str) -> bool {
        let Some(ws) = ws_try_connect(url, token).await else {
            return false;
        };
        self.ws = Some(ws);
        self.closed = None;
        self.events_frames_sent = 0;
        self.events_frames_received = 0;
        self.events_sent = 0;
        let frames = self.session.start(&self.log, &mut self.docs).unwrap();
        self.send_frames(frames).await;
        true
    }

    /// The ids of the orders the hub placed at this node (web orders), in no order.
    pub fn hub_orders(&self) -> Vec<String> {
        self.log
            .events()
            .filter(|e| e.origin == "hub" && e.kind == "order.created")
            .filter_map(|e| e.subject.clone())
            .collect()
    }

    /// How many `order.created` of `order_id` the hub sent this node.
    pub fn hub_creations(&self, order_id: &str) -> usize {
        self.log
            .events()
            .filter(|e| {
                e.origin == "hub"
                    && e.kind == "order.created"
                    && e.subject.as_deref() == Some(order_id)
            })
            .count()
    }

    /// The statuses this node's log holds for `order_id`, by origin (in no particular order).
    pub fn order_statuses(&self, order_id: &str) -> Vec<(String, domain::status::OrderStatus)> {
        self.log
            .events()
            .filter(|e| e.subject.as_deref() == Some(order_id))
            .filter_map(|e| {
                let fact = domain::fact::Fact::decode(&e.kind, &e.data).ok()?;
                Some((e.origin.clone(), fact.order()?.status))
            })
            .collect()
    }

    /// The store moves an order the hub placed here on (`Accept`, `Cancel`), as
    /// its kitchen would: an `order.changed` of this node, sent at once.
    pub async fn move_order(&mut self, order_id: &str, t: domain::status::Transition) {
        use domain::fact::{Fact, OrderChange};
        let created = self
            .log
            .events()
            .find(|e| e.origin == "hub" && e.subject.as_deref() == Some(order_id))
            .cloned()
            .expect("the order at the node");
        let fact = Fact::decode(&created.kind, &created.data).unwrap();
        let mut view = fact.order().unwrap().clone();
        view.status = view.status.apply(t).unwrap();
        let change = Fact::OrderChanged(OrderChange {
            transition: Some(t),
            station_done: None,
            order: view,
            detail: Default::default(),
        });
        let data = change.data().unwrap();
        let (store, origin) = (self.store.clone(), self.origin.clone());
        self.log
            .record(&store, &origin, change.kind(), Some(order_id), data);
        self.flush().await;
    }
}

/// Polls `check` until it holds (true) or `deadline` passes (false): for waits
/// longer than `WAIT`, or that explain their own failure.
pub async fn wait_until(deadline: Instant, mut check: impl AsyncFnMut() -> bool) -> bool {
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The store of [`CardShop`].
pub const CARD_STORE: &str = "s1";

/// A hub taking card payments through our fake Stripe (its real Stripe
/// adapter, the fake's signed webhooks), a store with the demo menu, its node
/// (a `Peer`, synced), and one signed-up customer.
pub struct CardShop {
    pub hub: TestHub,
    pub stripe: fake_stripe::Running,
    pub node: Peer,
    /// The customer's access token.
    pub customer: String,
    pub http: reqwest::Client,
}

impl CardShop {
    /// Starts it all; `adjust` may change the payment flow's and the adapter's settings
    /// (the worker ticks every 100 ms, Stripe requests time out after 5 s).
    pub async fn start(
        backend: Backend,
        webhook_secret: &str,
        adjust: impl FnOnce(
            &mut cloud_hub::payments::PaymentsConfig,
            &mut cloud_hub::payments::stripe::StripeConfig,
        ),
    ) -> (TestDb, CardShop) {
        let db = TestDb::new(backend).await;
        let stripe = fake_stripe::start(
            fake_stripe::Config {
                webhook_secret: webhook_secret.into(),
                webhook_retry_base: Duration::from_millis(50),
                ..Default::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let mut flow = cloud_hub::payments::PaymentsConfig::new("http://shop.example", "");
        flow.tick = Duration::from_millis(100);
        let mut adapter = cloud_hub::payments::stripe::StripeConfig {
            secret_key: "sk_test_fake".into(),
            api_base: Some(stripe.url()),
            webhook_secret: webhook_secret.into(),
            request_timeout: Duration::from_secs(5),
        };
        adjust(&mut flow, &mut adapter);
        let hub = TestHub::start_with(&db, move |c| {
            c.payments = Some(cloud_hub::CardPayments {
                stripe: adapter,
                flow,
            });
        })
        .await;
        stripe.set_webhook_url(Some(format!("{}/api/v1/payments/stripe/webhook", hub.base)));
        hub.create_store(CARD_STORE).await;
        let menu = serde_json::to_value(demo_menu()).unwrap();
        let (s, b) = hub
            .call(
                "PUT",
                &format!("/api/v1/stores/{CARD_STORE}/menu"),
                Some(&menu),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let token = hub.create_token(CARD_STORE, "node-1").await;
        let mut node = Peer::new(CARD_STORE, "node-1");
        node.connect(&hub.ws_url(), &token).await.unwrap();
        node.pump_until("the catalog at the node", |p| {
            p.docs.contains_key(&DocKind::Catalog)
        })
        .await;
        let signup = json!({ "email": "sam@example.com", "password": "plum-kettle-73-orbit", "name": "Sam" });
        let (s, b) = hub
            .call_as(None, "POST", "/api/v1/auth/signup", Some(&signup))
            .await;
        assert_eq!(s, 201, "{b}");
        let customer = b["access_token"].as_str().unwrap().to_owned();
        let shop = CardShop {
            hub,
            stripe,
            node,
            customer,
            http: reqwest::Client::new(),
        };
        (db, shop)
    }

    /// The customer places an order (`Idempotency-Key: key`).
    pub async fn place(&self, key: &str, body: &Value) -> (u16, Value) {
        let path = format!("/api/v1/stores/{CARD_STORE}/orders");
        let (s, b, _) = self
            .hub
            .request(
                Some(&self.customer),
                "POST",
                &path,
                Some(body),
                &[("idempotency-key", key)],
            )
            .await;
        (s, b)
    }

    /// One of the customer's orders.
    pub async fn order(&self, id: &str) -> Value {
        let path = format!("/api/v1/me/orders/{id}");
        let (s, b) = self
            .hub
            .call_as(Some(&self.customer), "GET", &path, None)
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    /// Sets faults at the fake (`/_fake/faults`), or clears them all (`None`).
    pub async fn faults(&self, faults: Option<&Value>) {
        let url = format!("{}_fake/faults", self.stripe.url());
        let r = match faults {
            Some(f) => self.http.post(url).json(f).send().await.unwrap(),
            None => self.http.delete(url).send().await.unwrap(),
        };
        assert!(r.status().is_success(), "faults: {}", r.status());
    }

    /// Clicks a button of the fake's payment page of `order` (`pay`, `decline`, `expire`).
    pub async fn checkout(&self, order: &Value, action: &str) {
        let id = checkout_id(order);
        let r = self
            .http
            .post(format!("{}_fake/checkout/{id}/{action}", self.stripe.url()))
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "{action}: {status} {}",
            r.text().await.unwrap()
        );
    }

    /// The fake's PaymentIntents of our order.
    pub fn intents(&self, order_id: &str) -> Vec<Value> {
        let ledger = self.stripe.ledger();
        let all = ledger.as_array().unwrap().iter();
        all.filter(|pi| pi["metadata"]["order_id"] == order_id)
            .cloned()
            .collect()
    }
}

/// The id of a card order's checkout (the last part of its payment page's URL).
pub fn checkout_id(order: &Value) -> String {
    let url = order["payment"]["checkout_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no payment page: {order}"));
    url.rsplit('/').next().unwrap().to_owned()
}
