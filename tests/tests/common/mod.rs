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
