//! What the cross-process tests share: the hub and node commands they start
//! (through `test_support::spawn`, killed when dropped), a JSON client, a poll
//! with a deadline, and a fresh PostgreSQL database per test.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::bin;
pub use test_support::spawn;

/// How long any single wait may take.
pub const WAIT: Duration = Duration::from_secs(90);

/// The platform admin token the tests start hubs with.
pub const ADMIN: &str = "admin-token-for-tests-only";

/// A hub on a free port over `database_url`, with [`ADMIN`] as its admin token.
pub fn hub_command(database_url: &str) -> Command {
    let mut cmd = test_support::hub_command(&bin("cloud-hub"), database_url);
    cmd.env("HUB_ADMIN_TOKEN", ADMIN);
    cmd
}

/// The demo store node for `store` with its data in `dir`, syncing with the
/// hub at `hub_base` (its http:// address) with node token `token`.
pub fn node_command(dir: &std::path::Path, store: &str, hub_base: &str, token: &str) -> Command {
    let hub_ws = format!(
        "ws://{}/api/v1/sync",
        hub_base.trim_start_matches("http://")
    );
    let mut cmd = test_support::node_command(&bin("store-node"), dir);
    cmd.env("STORE_NODE__STORE__ID", store)
        .env("STORE_NODE__HUB__URL", hub_ws)
        .env("STORE_NODE__HUB__TOKEN", token);
    cmd
}

/// A JSON API client: method, URL, bearer token, body, Idempotency-Key; returns
/// the status and the JSON body (Null when there is none).
pub struct Api {
    pub http: reqwest::Client,
}

impl Api {
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        self.try_call(method, url, token, body, key).await.unwrap()
    }

    /// [`Api::call`], with a connection failure (a server down) as an error instead of a panic.
    pub async fn try_call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> reqwest::Result<(u16, Value)> {
        let mut r = self.http.request(method, url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        let r = r.send().await?;
        let s = r.status().as_u16();
        Ok((s, r.json().await.unwrap_or(Value::Null)))
    }

    /// GET with a bearer token; the JSON body.
    pub async fn get(&self, url: &str, token: &str) -> Value {
        self.call(reqwest::Method::GET, url, Some(token), None, None)
            .await
            .1
    }

    /// Signs in at a node with a staff id and PIN; the session token.
    pub async fn login(&self, base: &str, staff: &str, pin: &str) -> String {
        let (st, r) = self
            .call(
                reqwest::Method::POST,
                &format!("{base}/api/v1/auth/login"),
                None,
                Some(serde_json::json!({"staff_id": staff, "pin": pin})),
                None,
            )
            .await;
        assert_eq!(st, 200, "{r}");
        r["token"].as_str().unwrap().to_owned()
    }
}

/// Polls `check` until it holds; the deadline fails the test (the interval is not synchronisation).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database of its own on the local PostgreSQL, dropped with this value.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let name = format!("e2e_{}", uuid::Uuid::now_v7().simple());
        psql(&format!("CREATE DATABASE {name}"));
        PgDatabase {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// An SQLite hub database in `dir`.
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("hub.db").display())
}

/// Reads JSON text messages from a WebSocket until one satisfies `want`, within [`WAIT`]; returns it.
pub async fn until(ws: &mut Ws, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the socket closed while waiting for {what}"))
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if want(&v) {
                return v;
            }
        }
    }
}

/// A server started by [`spawn_logged`]: what it prints also lands in files.
pub struct Logged {
    pub server: test_support::Server,
    tee: Option<std::thread::JoinHandle<()>>,
}

impl Logged {
    pub fn base(&self) -> &str {
        &self.server.base
    }

    /// Kills the process (SIGKILL, as a crash would) and waits until everything it
    /// printed is in its log files. Doing it again does nothing.
    pub fn stop(&mut self) {
        self.server.proc.kill();
        if let Some(tee) = self.tee.take() {
            let _ = tee.join();
        }
    }
}

/// Starts a server like [`spawn`], but keeps what it prints: stderr in
/// `logs/NAME.stderr`, stdout (read for its `listening on` line) in
/// `logs/NAME.stdout`. The log level is the command's (`RUST_LOG`).
pub fn spawn_logged(mut cmd: Command, logs: &std::path::Path, name: &str) -> Logged {
    use std::io::{BufRead, Write};
    let program = cmd.get_program().to_string_lossy().into_owned();
    let stderr = std::fs::File::create(logs.join(format!("{name}.stderr"))).unwrap();
    let mut stdout_file = std::fs::File::create(logs.join(format!("{name}.stdout"))).unwrap();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let proc = test_support::Proc { child };
    let (tx, rx) = std::sync::mpsc::channel();
    let tee = std::thread::spawn(move || {
        let mut out = std::io::BufReader::new(stdout);
        let mut line = Vec::new();
        let mut tx = Some(tx);
        loop {
            line.clear();
            match out.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            stdout_file.write_all(&line).unwrap();
            let text = String::from_utf8_lossy(&line);
            if let (Some(i), Some(t)) = (text.find("listening on "), &tx) {
                let _ = t.send(text[i + "listening on ".len()..].trim().to_owned());
                tx = None;
            }
        }
    });
    let base = rx
        .recv_timeout(test_support::START_TIMEOUT)
        .unwrap_or_else(|e| panic!("{program} printed no \"listening on\" line: {e}"));
    Logged {
        server: test_support::Server { proc, base },
        tee: Some(tee),
    }
}

/// Creates `store` at the hub (as the platform admin) and issues a node token
/// for it; returns the token.
pub async fn enroll_store(api: &Api, hub_base: &str, store: &str, name: &str) -> String {
    let (s, b) = api
        .call(
            reqwest::Method::POST,
            &format!("{hub_base}/api/v1/admin/stores"),
            Some(ADMIN),
            Some(serde_json::json!({"id": store, "name": name})),
            None,
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, t) = api
        .call(
            reqwest::Method::POST,
            &format!("{hub_base}/api/v1/admin/stores/{store}/node-tokens"),
            Some(ADMIN),
            Some(serde_json::json!({"label": "counter"})),
            None,
        )
        .await;
    assert_eq!(s, 201, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

/// The password the tests' customers sign up with.
pub const CUSTOMER_PASSWORD: &str = "plum-kettle-73-orbit";

/// Signs a customer up at the hub; the access token.
pub async fn sign_up(api: &Api, hub_base: &str, email: &str, name: &str) -> String {
    let (s, session) = api
        .call(
            reqwest::Method::POST,
            &format!("{hub_base}/api/v1/auth/signup"),
            None,
            Some(serde_json::json!({"email": email, "password": CUSTOMER_PASSWORD, "name": name})),
            None,
        )
        .await;
    assert_eq!(s, 201, "{session}");
    session["access_token"].as_str().unwrap().to_owned()
}

/// A WebSocket the tests open (a node's event stream, a hub's tracking socket).
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the customer's tracking socket of `order` at the hub; the socket and
/// its first message (the order's current status).
pub async fn track_order(hub_base: &str, order: &str, token: &str) -> (Ws, Value) {
    let hub_ws = hub_base.replacen("http://", "ws://", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{hub_ws}/api/v1/me/orders/{order}/events?access_token={token}"
    ))
    .await
    .unwrap();
    let first = until(&mut ws, "the current status", |m| m["type"] == "status").await;
    (ws, first)
}

/// Waits until the hub's public menu of `store` says it takes online orders
/// (its node has synced the menu and is connected).
pub async fn until_accepting_online_orders(api: &Api, hub_base: &str, store: &str) {
    let menu = format!("{hub_base}/api/v1/public/stores/{store}/menu");
    eventually("the store to take online orders at the hub", async || {
        let (s, m) = api
            .call(reqwest::Method::GET, &menu, None, None, None)
            .await;
        s == 200 && m["ordering"]["accepting"] == true
    })
    .await;
}
