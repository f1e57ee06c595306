//! Enrolling a store node with a pairing code (`docs/enrollment.md`), against a real hub
//! process (`cloud-hub`, built into the same target directory: `cargo test --workspace`, or
//! `cargo build -p cloud-hub` first) and real node processes: by the CLI and from a code file
//! at start; a leftover code file deleted unused; refused codes (invalid, another store's)
//! kept; a revoked node cut and refused; and the crash test: boxes killed with SIGKILL at
//! random points of enrolling, each ending enrolled exactly once after a normal start.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};
use test_support::{Proc, Server};

const ADMIN: &str = "admin-token-for-enroll-tests";
/// How long any single wait may take.
const WAIT: Duration = Duration::from_secs(60);
/// The progress lines the node prints, in order (`store_node::enroll::progress`).
const STEPS: [&str; 5] = [
    "key written",
    "request sent",
    "answer received",
    "state written",
    "code deleted",
];

fn node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_store-node"))
}

struct Hub {
    server: Server,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Hub {
    fn start() -> Hub {
        let bin = test_support::bin("cloud-hub");
        assert!(
            bin.exists(),
            "{} is missing: build the hub first (cargo build -p cloud-hub) or run cargo test --workspace",
            bin.display()
        );
        let dir = test_support::temp_dir();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
        let mut cmd = test_support::hub_command(&bin, &url);
        cmd.env("HUB_ADMIN_TOKEN", ADMIN);
        Hub {
            server: test_support::spawn(cmd),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    fn base(&self) -> &str {
        &self.server.base
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base()))
            .bearer_auth(ADMIN)
            .header("Idempotency-Key", uuid::Uuid::now_v7().to_string());
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn create_store(&self, id: &str, name: &str) {
        let (s, b) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/admin/stores",
                Some(json!({"id": id, "name": name})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    /// A fresh pairing code for `store`.
    async fn code(&self, store: &str) -> String {
        let (s, b) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/admin/stores/{store}/pairing-codes"),
                Some(json!({"label": "test box"})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["code"].as_str().unwrap().to_owned()
    }

    async fn nodes(&self, store: &str) -> Vec<Value> {
        let (s, b) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/stores/{store}/nodes"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // `nodes` are the legacy node tokens; `enrolled` the nodes paired with a code.
        b["enrolled"].as_array().unwrap().clone()
    }

    async fn orders(&self, store: &str) -> usize {
        let (s, b) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/stores/{store}/orders"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["orders"].as_array().map_or(0, Vec::len)
    }
}

/// `store-node enroll` on `data_dir`; its exit status and what it printed (stdout + stderr).
fn enroll_cli(data_dir: &Path, hub: &str, code: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(node_bin());
    cmd.args(["enroll", "--hub", hub, "--code", code, "--label", "cli-box"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The node on `data_dir` (demo staff, so a cashier can sign in), MQTT off, with `env`.
fn node_command(data_dir: &Path, demo: bool, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(node_bin());
    cmd.args(["--bind", "127.0.0.1:0", "--mqtt-bind", "off", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    if demo {
        cmd.arg("--demo");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn code_file_env(file: &Path) -> Vec<(&'static str, String)> {
    vec![("STORE_NODE__ENROLL__CODE_FILE", file.display().to_string())]
}

fn write_code_file(path: &Path, hub: &str, code: &str) {
    std::fs::write(path, format!("hub = \"{hub}\"\ncode = \"{code}\"\n")).unwrap();
}

async fn login(http: &reqwest::Client, node: &str) -> String {
    let r: Value = http
        .post(format!("{node}/api/v1/auth/login"))
        .json(&json!({"staff_id": "cashier", "pin": "3000"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().expect("a session").to_owned()
}

async fn sync_status(http: &reqwest::Client, node: &str, token: &str) -> Value {
    http.get(format!("{node}/api/v1/sync/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn place_order(http: &reqwest::Client, node: &str, token: &str) {
    let r = http
        .post(format!("{node}/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(&json!({
            "channel": "pos", "fulfillment": "dine_in", "table": "4",
            "lines": [{ "item_id": "fountain-soda", "quantity": 1,
                        "modifiers": ["drink-size-large", "soda-choice-cola"] }]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// Polls `check` until it holds; the deadline fails the test (the interval is not synchronisation).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn enrollment(dir: &Path) -> Option<Value> {
    std::fs::read(dir.join("enrollment.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

fn public_key(dir: &Path) -> Option<String> {
    let bytes = std::fs::read(dir.join("node-key.pk8")).ok()?;
    Some(
        node_identity::NodeKey::from_pkcs8(&bytes)
            .unwrap()
            .public_key()
            .to_base64(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_by_the_cli_the_node_syncs_and_a_running_node_picks_it_up() {
    let hub = Hub::start();
    let http = reqwest::Client::new();
    hub.create_store("harbor", "Harbor Grill").await;

    // A fresh box enrolled by hand, then started: it serves the enrolled store and syncs.
    let dir = test_support::temp_dir();
    let code = hub.code("harbor").await;
    let (ok, out) = enroll_cli(dir.path(), hub.base(), &code.to_lowercase(), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("store-node enrolled: node "), "{out}");
    for step in &STEPS[..4] {
        assert!(out.contains(step), "{step} in {out}");
    }
    let state = enrollment(dir.path()).unwrap();
    assert_eq!(state["store_id"], "harbor");
    assert_eq!(state["store_name"], "Harbor Grill");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("node-key.pk8"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is the node's alone");
    }
    // Running it again changes nothing.
    let (ok, out) = enroll_cli(dir.path(), hub.base(), &hub.code("harbor").await, &[]);
    assert!(!ok && out.contains("already enrolled"), "{out}");

    let node = test_support::spawn(node_command(dir.path(), true, &[]));
    let cashier = login(&http, &node.base).await;
    eventually("the sync link", async || {
        sync_status(&http, &node.base, &cashier).await["connected"] == true
    })
    .await;
    place_order(&http, &node.base, &cashier).await;
    eventually("the order at the hub", async || {
        hub.orders("harbor").await == 1
    })
    .await;
    let nodes = hub.nodes("harbor").await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(nodes[0]["label"], "cli-box");
    assert_eq!(nodes[0]["public_key"], public_key(dir.path()).unwrap());
    assert_eq!(nodes[0]["online"], true);

    // A running node serving the store, not enrolled: `store-node enroll` from another process;
    // the node notices and syncs, without a restart.
    let dir2 = test_support::temp_dir();
    let env = vec![("STORE_NODE__STORE__ID", "harbor".to_owned())];
    let node2 = test_support::spawn(node_command(dir2.path(), true, &env));
    let cashier2 = login(&http, &node2.base).await;
    assert_eq!(
        sync_status(&http, &node2.base, &cashier2).await["configured"],
        false
    );
    let (ok, out) = enroll_cli(
        dir2.path(),
        hub.base(),
        &hub.code("harbor").await,
        &[("STORE_NODE__STORE__ID", "harbor")],
    );
    assert!(ok, "{out}");
    eventually("the running node to sync", async || {
        sync_status(&http, &node2.base, &cashier2).await["connected"] == true
    })
    .await;
    place_order(&http, &node2.base, &cashier2).await;
    eventually("the second node's order at the hub", async || {
        hub.orders("harbor").await == 2
    })
    .await;
    assert_eq!(hub.nodes("harbor").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_enrolled_for_another_store_exits_to_start_again() {
    let hub = Hub::start();
    hub.create_store("pier", "Pier Cafe").await;
    // A fresh node without data (no demo): it serves the default store until enrolled.
    let dir = test_support::temp_dir();
    let mut node = test_support::spawn(node_command(dir.path(), false, &[]));
    let (ok, out) = enroll_cli(dir.path(), hub.base(), &hub.code("pier").await, &[]);
    assert!(ok, "{out}");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = node.proc.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the node did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(store_node::enroll::EXIT_STORE_CHANGED));
    // Started again (as systemd would), it serves the new store.
    let (_node, found) = test_support::start(
        node_command(dir.path(), false, &[]),
        &["store-node enrolled: ", "listening on "],
    )
    .unwrap();
    assert!(found[0].contains("of store pier"), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_file_enrolls_at_start_and_a_leftover_one_is_deleted_unused() {
    let hub = Hub::start();
    let http = reqwest::Client::new();
    hub.create_store("dock", "Dock Diner").await;
    let dir = test_support::temp_dir();
    let config = test_support::temp_dir();
    let file = config.path().join("enroll.toml");
    write_code_file(&file, hub.base(), &hub.code("dock").await);

    let (node, found) = test_support::start(
        node_command(dir.path(), true, &code_file_env(&file)),
        &["store-node enrolled: ", "listening on "],
    )
    .unwrap();
    assert!(found[0].contains("of store dock"), "{found:?}");
    assert!(!file.exists(), "the code file is deleted once enrolled");
    let base = format!("http://{}", found[1].trim_start_matches("http://"));
    let cashier = login(&http, &base).await;
    eventually("the sync link", async || {
        sync_status(&http, &base, &cashier).await["connected"] == true
    })
    .await;
    drop(node);

    // A code file put back (or never deleted: a power cut after the state was written) is
    // deleted at the next start, never used: the hub still lists one node, the same key.
    let key = public_key(dir.path()).unwrap();
    let state = enrollment(dir.path()).unwrap();
    write_code_file(&file, hub.base(), &hub.code("dock").await);
    let (_node, found) = test_support::start(
        node_command(dir.path(), true, &code_file_env(&file)),
        &["store-node enrolled: ", "listening on "],
    )
    .unwrap();
    assert!(found[0].contains(state["node_id"].as_str().unwrap()));
    assert!(!file.exists(), "the leftover code file is deleted");
    assert_eq!(public_key(dir.path()).unwrap(), key);
    let nodes = hub.nodes("dock").await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_codes_are_kept_and_say_what_to_do() {
    let hub = Hub::start();
    hub.create_store("quay", "Quay Kitchen").await;
    hub.create_store("other", "Other Place").await;

    // An invalid code in the code file: the node says so, keeps the file, and serves anyway.
    let dir = test_support::temp_dir();
    let config = test_support::temp_dir();
    let file = config.path().join("enroll.toml");
    write_code_file(&file, hub.base(), "ABCD-EFGH");
    let (_node, found) = test_support::start(
        node_command(dir.path(), false, &code_file_env(&file)),
        &["store-node NOT enrolled: ", "listening on "],
    )
    .unwrap();
    assert!(found[0].contains("ask for a new one"), "{found:?}");
    assert!(found[0].contains("code file"), "{found:?}");
    assert!(file.exists(), "a refused code file is kept");
    assert!(enrollment(dir.path()).is_none());

    // The CLI says the same, with a failing status.
    let (ok, out) = enroll_cli(dir.path(), hub.base(), "ABCD-EFGH", &[]);
    assert!(!ok && out.contains("not valid"), "{out}");
    let (ok, out) = enroll_cli(dir.path(), hub.base(), "ABCD-EFG0", &[]);
    assert!(!ok && out.contains("8 letters"), "{out}");

    // A node that holds a store's orders refuses a code of another store, and the code stays usable.
    let held = test_support::temp_dir();
    let env = vec![("STORE_NODE__STORE__ID", "quay".to_owned())];
    drop(test_support::spawn(node_command(held.path(), true, &env)));
    let code = hub.code("other").await;
    let (ok, out) = enroll_cli(
        held.path(),
        hub.base(),
        &code,
        &[("STORE_NODE__STORE__ID", "quay")],
    );
    assert!(!ok && out.contains("another store"), "{out}");
    assert!(enrollment(held.path()).is_none());
    let fresh = test_support::temp_dir();
    let (ok, out) = enroll_cli(fresh.path(), hub.base(), &code, &[]);
    assert!(ok, "the code still works for a box of its store: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_node_is_cut_and_refused_and_says_so() {
    let hub = Hub::start();
    let http = reqwest::Client::new();
    hub.create_store("bay", "Bay Bistro").await;
    let dir = test_support::temp_dir();
    let (ok, out) = enroll_cli(dir.path(), hub.base(), &hub.code("bay").await, &[]);
    assert!(ok, "{out}");
    let node_id = enrollment(dir.path()).unwrap()["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let node = test_support::spawn(node_command(dir.path(), true, &[]));
    let cashier = login(&http, &node.base).await;
    eventually("the sync link", async || {
        sync_status(&http, &node.base, &cashier).await["connected"] == true
    })
    .await;

    let (s, b) = hub
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/stores/bay/nodes/{node_id}/revoke"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let revoked = |s: &Value| {
        s["connected"] == false
            && s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("disconnected from the hub by the store's owner"))
    };
    eventually("the node to say it was revoked", async || {
        revoked(&sync_status(&http, &node.base, &cashier).await)
    })
    .await;
    drop(node);

    // Started again, it is refused at once and says so; the kitchen keeps working.
    let node = test_support::spawn(node_command(dir.path(), true, &[]));
    let cashier = login(&http, &node.base).await;
    eventually("the restarted node to say it was revoked", async || {
        revoked(&sync_status(&http, &node.base, &cashier).await)
    })
    .await;
    place_order(&http, &node.base, &cashier).await;
    let nodes = hub.nodes("bay").await;
    assert!(nodes[0]["revoked_at_ms"].is_i64(), "{nodes:?}");
    assert_eq!(nodes[0]["online"], false);
}

/// `cmd` with its log (info and up) appended to `log`, to show when a box fails.
fn logged(mut cmd: Command, log: &Path) -> Command {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.env("RUST_LOG", "info,rumqttd=off").stderr(f);
    cmd
}

/// Where a box is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Right after the node printed this progress line.
    AfterStep(&'static str),
    /// This long after it started.
    After(Duration),
}

/// Starts the node on `dir` with its code file and kills it (SIGKILL) at `kill`. Returns
/// whether it was still running then.
fn start_and_kill(dir: &Path, file: &Path, log: &Path, kill: Kill) {
    let mut child = logged(node_command(dir, false, &code_file_env(file)), log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut proc = Proc { child };
    match kill {
        Kill::AfterStep(step) => {
            let marker = format!("store-node enrollment: {step}");
            let mut lines = BufReader::new(stdout).lines();
            let deadline = Instant::now() + WAIT;
            // Reading blocks; the node either prints the step, or goes on to serve (a step it
            // no longer takes) and prints its listening line.
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains(&marker) || line.contains("listening on ") {
                    break;
                }
                assert!(Instant::now() < deadline, "no {marker:?}");
            }
            proc.kill();
        }
        Kill::After(d) => {
            // Drain stdout so the node never blocks on it.
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut BufReader::new(stdout), &mut std::io::sink());
            });
            std::thread::sleep(d);
            proc.kill();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxes_killed_at_random_points_of_enrolling_end_enrolled_exactly_once() {
    let hub = Hub::start();
    hub.create_store("crash", "Crash Corner").await;
    let seed: u64 = std::env::var("ENROLL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (ENROLL_CRASH_SEED={seed} to replay)");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    const BOXES: usize = 16;
    const KILLS_PER_BOX: usize = 2;
    let mut keys = vec![];
    for b in 0..BOXES {
        let dir = test_support::temp_dir();
        let config = test_support::temp_dir();
        let file = config.path().join("enroll.toml");
        let log = config.path().join("node.log");
        write_code_file(&file, hub.base(), &hub.code("crash").await);
        for k in 0..KILLS_PER_BOX {
            let kill = if rng.random_bool(0.5) {
                Kill::AfterStep(STEPS[rng.random_range(0..STEPS.len())])
            } else {
                Kill::After(Duration::from_millis(rng.random_range(0..600)))
            };
            start_and_kill(dir.path(), &file, &log, kill);
            // Whatever the moment: never a box without a key whose code is gone, and the
            // code file goes only after the state is written.
            if !file.exists() {
                assert!(
                    public_key(dir.path()).is_some() && enrollment(dir.path()).is_some(),
                    "box {b}, kill {k} ({kill:?}): the code is gone but the box is not enrolled"
                );
            }
            if enrollment(dir.path()).is_some() {
                assert!(
                    public_key(dir.path()).is_some(),
                    "box {b}: enrolled without a key"
                );
            }
        }
        // A normal start: it ends enrolled (retrying with the same key if the hub's answer was lost).
        let (node, found) = test_support::start(
            logged(node_command(dir.path(), false, &code_file_env(&file)), &log),
            &["store-node enrolled: ", "listening on "],
        )
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("box {b}: {e:#}\nits log:\n{log}")
        });
        assert!(found[0].contains("of store crash"), "{found:?}");
        drop(node);
        assert!(
            !file.exists(),
            "box {b}: the code file is gone once enrolled"
        );
        let key = public_key(dir.path()).unwrap();
        let state = enrollment(dir.path()).unwrap();
        let nodes = hub.nodes("crash").await;
        let mine: Vec<_> = nodes.iter().filter(|n| n["public_key"] == key).collect();
        assert_eq!(mine.len(), 1, "box {b}: {nodes:?}");
        assert_eq!(mine[0]["node_id"], state["node_id"]);
        keys.push(key);
    }
    // One node per box, each box once.
    let nodes = hub.nodes("crash").await;
    assert_eq!(nodes.len(), BOXES, "{nodes:?}");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), BOXES);
}
