//! Test support: start a real store node on port 0 with its own database, sign
//! in, and read the event stream.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use store_node::{Config, Running};
use test_support::{ManualClock, Millis};
use tokio_tungstenite::tungstenite::Message;

pub struct TestNode {
    pub node: Running,
    pub base: String,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

pub fn config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        demo: true,
        ..Config::default()
    };
    c.http.bind = "127.0.0.1:0".parse().unwrap();
    // Never the default 1883: a system mosquitto listens there.
    c.mqtt.bind = Some("127.0.0.1:0".into());
    // Tests wait for retries; keep them short.
    c.print.retry_base_ms = 50;
    c.print.send_timeout_ms = 2_000;
    c.print.status_poll_ms = 500;
    c
}

pub async fn spawn_app() -> TestNode {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    tweak(&mut c);
    let node = store_node::run(c).await.expect("node starts");
    TestNode::new(node, Some(dir))
}

/// A node on an existing data directory (to restart one on the same database).
pub async fn start_in(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> TestNode {
    let mut c = config(dir);
    tweak(&mut c);
    let node = store_node::run(c).await.expect("node starts");
    TestNode::new(node, None)
}

/// When a [`TestNode::with_clock`] node's clock starts: 2026-12-06T12:00:00Z, a fixed
/// moment, so what a test computes from it is the same on every run.
pub const CLOCK_START_MS: i64 = 1_796_558_400_000;

impl TestNode {
    fn new(node: Running, dir: Option<tempfile::TempDir>) -> TestNode {
        let base = format!("http://{}", node.addr);
        TestNode {
            node,
            base,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A node (as [`spawn_with`]) whose time is a [`ManualClock`] showing
    /// [`CLOCK_START_MS`]: it moves only when the test moves it, so expiry and
    /// backoff are tested by stepping the clock instead of sleeping. Tokio timers
    /// that pace the node's work (print lanes' polling, retries of refused writes)
    /// still run in real time; every time the node decides on or stores is this clock's.
    pub async fn with_clock(tweak: impl FnOnce(&mut Config)) -> (TestNode, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Millis::new(CLOCK_START_MS).unwrap()));
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        tweak(&mut c);
        let node = store_node::run_with_clock(c, clock.clone())
            .await
            .expect("node starts");
        (TestNode::new(node, Some(dir)), clock)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, staff: &str, pin: &str) -> String {
        let r = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "staff_id": staff, "pin": pin }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login as {staff}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn cashier(&self) -> String {
        self.login("cashier", "3000").await
    }
    pub async fn manager(&self) -> String {
        self.login("manager", "2000").await
    }
    pub async fn kitchen(&self) -> String {
        self.login("kitchen", "4000").await
    }

    /// POST JSON with a bearer token and optional idempotency key; returns (status, body).
    pub async fn post(
        &self,
        token: &str,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).bearer_auth(token).json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn place(&self, token: &str, key: &str) -> Value {
        let (s, b) = self
            .post(token, "/api/v1/orders", Some(key), &burger_order())
            .await;
        assert_eq!(s, 201, "{b}");
        b
    }

    pub fn ws_url(&self, token: &str, cursor: i64) -> String {
        format!(
            "ws://{}/api/v1/events?cursor={cursor}&token={token}",
            self.node.addr
        )
    }
}

/// A valid POS order from the demo menu: two burgers with modifiers and a drink.
pub fn burger_order() -> Value {
    json!({
        "channel": "pos",
        "fulfillment": "dine_in",
        "table": "12",
        "lines": [
            { "item_id": "harbor-classic-burger", "quantity": 2,
              "modifiers": ["burger-doneness-medium", "burger-bun-brioche", "burger-addons-bacon"],
              "note": "no pickles" },
            { "item_id": "fountain-soda", "quantity": 1,
              "modifiers": ["drink-size-large", "soda-choice-cola"] }
        ]
    })
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect_events(node: &TestNode, token: &str, cursor: i64) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(node.ws_url(token, cursor))
        .await
        .expect("ws connects");
    ws
}

/// The next JSON text message, within a deadline.
pub async fn next_json(ws: &mut Ws) -> Value {
    let deadline = Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("an event within the deadline")
            .expect("stream open")
            .expect("no ws error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Reads messages until `caught_up`; returns the events before it.
pub async fn until_caught_up(ws: &mut Ws) -> (Vec<Value>, i64) {
    let mut events = vec![];
    loop {
        let m = next_json(ws).await;
        if m["type"] == "caught_up" {
            return (events, m["cursor"].as_i64().unwrap());
        }
        events.push(m);
    }
}

/// Re-checks `probe` until it returns something, for at most 10 s: for state that the node
/// records just after the event a test saw (a print job's result after its last byte).
pub async fn eventually<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
