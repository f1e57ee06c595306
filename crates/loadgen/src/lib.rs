//! What the load generators share: a scratch PostgreSQL database, JSON requests,
//! the same-run baselines (the disk's fsync rate, raw SQLite) their figures
//! stand next to, closed-loop phases with their latency histograms, and a release
//! hub with a store open for online orders and its node ([`BenchHub`]). Starting the
//! real server binaries as child processes is `test_support::process`, shared with
//! the tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use test_support::{Proc, hub_command, start};

/// Runs one SQL statement on the local PostgreSQL (127.0.0.1:5432, user postgres).
pub fn psql(sql: &str) -> anyhow::Result<()> {
    let st = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .status()
        .context("running psql")?;
    anyhow::ensure!(st.success(), "psql failed: {sql}");
    Ok(())
}

/// Drops the bench's PostgreSQL database at the end.
pub struct DropDb(pub Option<String>);

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Some(db) = &self.0 {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// A key unique in this process (Idempotency-Key values).
pub fn uuid_like() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "bench-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Sends a request; the status and the body as JSON (a string when it is not JSON).
pub async fn json_req(req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let r = req.send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// How long each baseline runs: long enough to average out a slow first write.
pub const BASELINE: Duration = Duration::from_secs(3);

/// The disk's rate of 4 KiB writes each followed by fdatasync, per second.
pub fn fsync_rate(dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < BASELINE {
        f.write_all(&block)?;
        f.sync_data()?;
        n += 1;
    }
    std::fs::remove_file(path)?;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// An SQLite file in `dir` as the servers open theirs (WAL, synchronous=FULL) with one table of
/// text rows; removed with its WAL when dropped.
struct ProbeDb {
    conn: Option<rusqlite::Connection>,
    path: std::path::PathBuf,
}

impl ProbeDb {
    fn open(dir: &Path) -> anyhow::Result<ProbeDb> {
        let path = dir.join("sqlite-probe.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        )?;
        Ok(ProbeDb {
            conn: Some(conn),
            path,
        })
    }

    fn conn(&mut self) -> &mut rusqlite::Connection {
        self.conn.as_mut().expect("open until dropped")
    }
}

impl Drop for ProbeDb {
    fn drop(&mut self) {
        drop(self.conn.take());
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// Rows per second with one transaction per row, as a node without group commit would write.
pub fn sqlite_rate(dir: &Path) -> anyhow::Result<f64> {
    let mut db = ProbeDb::open(dir)?;
    let body = "x".repeat(1500); // about one order's snapshot
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < BASELINE {
        db.conn()
            .execute("INSERT INTO t (body) VALUES (?1)", [&body])?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The time raw SQLite takes to insert `rows` rows of `size` bytes, `batch` rows per transaction.
pub fn sqlite_batched(
    dir: &Path,
    rows: usize,
    size: usize,
    batch: usize,
) -> anyhow::Result<Duration> {
    let mut db = ProbeDb::open(dir)?;
    let body = "x".repeat(size);
    let start = Instant::now();
    let mut left = rows;
    while left > 0 {
        let n = left.min(batch.max(1));
        let tx = db.conn().transaction()?;
        for _ in 0..n {
            tx.execute("INSERT INTO t (body) VALUES (?1)", [&body])?;
        }
        tx.commit()?;
        left -= n;
    }
    Ok(start.elapsed())
}

/// A process's memory in KiB from /proc (`field` is `"VmRSS:"`, or `"VmHWM:"` for the peak).
pub fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A store node staff sign-in with id and PIN; the session token.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    staff: &str,
    pin: &str,
) -> anyhow::Result<String> {
    let r: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"staff_id": staff, "pin": pin}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(r["token"].as_str().context("no token")?.to_owned())
}

/// POSTs with an Idempotency-Key; the JSON answer when it is 201.
pub async fn post_created(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let r = http
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await?;
    if r.status() != 201 {
        bail!(
            "POST {url} refused: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    Ok(r.json().await?)
}

/// User + system CPU seconds of a process, from /proc (Linux).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// The hub's database for one benchmark run: a SQLite file in `scratch`, or a
/// fresh PostgreSQL database named after `prefix` and this process, dropped
/// with the returned guard. `kind` is `sqlite` or `postgres`.
pub fn hub_database(kind: &str, prefix: &str, scratch: &Path) -> anyhow::Result<(String, DropDb)> {
    match kind {
        "sqlite" => Ok((
            format!("sqlite://{}?mode=rwc", scratch.join("hub.db").display()),
            DropDb(None),
        )),
        "postgres" => {
            let name = format!("{prefix}_{}", std::process::id());
            psql(&format!("CREATE DATABASE {name}"))?;
            Ok((
                format!("postgres://postgres@127.0.0.1:5432/{name}"),
                DropDb(Some(name)),
            ))
        }
        other => bail!("--database is sqlite or postgres, not {other}"),
    }
}

/// The directory of the release binaries: `dir`, or the one this binary runs from.
pub fn bin_dir(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => Ok(std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_path_buf()),
    }
}

/// A latency histogram in microseconds, 1 µs to 120 s, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

/// A quantile of a microsecond histogram, in milliseconds with two decimals.
pub fn ms(h: &Histogram<u64>, q: f64) -> String {
    format!("{:.2}", h.value_at_quantile(q) as f64 / 1000.0)
}

/// How long a [`closed_loop`] runs.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// Every client starts operations until this many seconds have passed.
    Seconds(u64),
    /// This many operations in all, shared by the clients.
    Count(u64),
}

/// What a [`closed_loop`] phase did: successful operations and their latency, the
/// failures by what went wrong, and the time from the start to the last answer.
pub struct Phase {
    pub ok: u64,
    pub latency: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Phase {
    /// Successful operations per second of the phase's wall time.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// `none`, or each kind of failure with its count.
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|(what, n)| format!("{n} × {what}"))
            .collect();
        parts.join("; ")
    }
}

/// Runs `clients` loops, each calling `op(client, n)` (`n` counts the phase's
/// operations from 0) after the previous one answered, until `until`. An `Err` is a
/// failure, counted by its text; only successes are timed. Prints `label`'s progress
/// on stderr every two seconds.
pub async fn closed_loop<F, Fut>(label: &str, clients: usize, until: Until, op: F) -> Phase
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let ticker = {
        let (done, label) = (done.clone(), label.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let (ok, failed) = (
                    done.0.load(Ordering::Relaxed),
                    done.1.load(Ordering::Relaxed),
                );
                eprintln!(
                    "  {label}: {ok} done, {failed} failed, {:.0}/s after {:.0} s",
                    ok as f64 / start.elapsed().as_secs_f64(),
                    start.elapsed().as_secs_f64()
                );
            }
        })
    };
    let end = match until {
        Until::Seconds(s) => Some(start + Duration::from_secs(s)),
        Until::Count(_) => None,
    };
    let mut tasks = vec![];
    for c in 0..clients {
        let (op, next, done) = (op.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut errors = BTreeMap::<String, u64>::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let more = match (until, end) {
                    (Until::Count(total), _) => n < total,
                    (_, Some(end)) => Instant::now() < end,
                    (_, None) => false,
                };
                if !more {
                    break;
                }
                let t = Instant::now();
                match op(c, n).await {
                    Ok(()) => {
                        let _ = h.record(t.elapsed().as_micros().max(1) as u64);
                        done.0.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        *errors.entry(e).or_default() += 1;
                        done.1.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (h, errors)
        }));
    }
    let mut phase = Phase {
        ok: 0,
        latency: histogram(),
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        match t.await {
            Ok((h, errors)) => {
                phase.ok += h.len();
                let _ = phase.latency.add(h);
                for (e, n) in errors {
                    *phase.errors.entry(e).or_default() += n;
                }
            }
            Err(e) => *phase.errors.entry(format!("client task: {e}")).or_default() += 1,
        }
    }
    phase.elapsed = start.elapsed();
    ticker.abort();
    phase
}

/// The failure text of an HTTP answer that was not `want`: its status and the
/// error code of the body, when it has one.
pub fn refused(status: u16, body: &Value) -> String {
    match body["error"]["code"].as_str() {
        Some(code) => format!("HTTP {status} {code}"),
        None => format!("HTTP {status}"),
    }
}

/// Signs up customer `c` at the hub (from an address of its own: sign-in limits are
/// per IP, and the hub trusts X-Forwarded-For); the access token.
pub async fn signup(http: &reqwest::Client, hub: &str, c: usize) -> anyhow::Result<String> {
    let (s, b) = json_req(
        http.post(format!("{hub}/api/v1/auth/signup"))
            .header(
                "x-forwarded-for",
                format!("10.{}.{}.{}", c / 65536 % 256, c / 256 % 256, c % 256),
            )
            .header("idempotency-key", uuid_like())
            .json(&json!({
                "email": format!("customer{c}@bench.example"),
                "password": format!("correct horse battery {c} staple"),
                "name": format!("Customer {c}"),
            })),
    )
    .await?;
    anyhow::ensure!(s == 201, "signup {c}: {s} {b}");
    Ok(b["access_token"]
        .as_str()
        .context("access token")?
        .to_owned())
}

/// The id of the store [`BenchHub::start`] opens.
pub const BENCH_STORE: &str = "store-1";

/// A release `cloud-hub` with one store (`store-1`, online ordering on) and a release
/// `store-node` with the demo menu syncing with it as that store's node: the store
/// takes online orders once the menu reached the hub. Both are killed, the hub's
/// PostgreSQL database dropped and the scratch directory removed when it is dropped.
pub struct BenchHub {
    /// `http://127.0.0.1:PORT` of the hub.
    pub hub: String,
    /// `http://127.0.0.1:PORT` of the store node.
    pub node: String,
    /// `SQLite` or `PostgreSQL`.
    pub backend: &'static str,
    pub hub_proc: Proc,
    _node_proc: Proc,
    _db: DropDb,
    /// Where the hub's SQLite file and the node's data live.
    pub scratch: tempfile::TempDir,
}

impl BenchHub {
    /// The platform admin's bearer token.
    pub const ADMIN: &str = "bench-admin-token-0123456789";

    /// Starts both on `database` (`sqlite` or `postgres`, see [`hub_database`]; the
    /// PostgreSQL database is named after `prefix`). `configure` may add flags and
    /// variables to the hub's command (stderr is discarded unless it says otherwise).
    pub async fn start(
        http: &reqwest::Client,
        bin_dir: &Path,
        database: &str,
        prefix: &str,
        configure: impl FnOnce(&mut Command, &Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<BenchHub> {
        let scratch = tempfile::tempdir()?;
        let (database_url, db) = hub_database(database, prefix, scratch.path())?;
        let backend = if database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        eprintln!("starting cloud-hub on {backend} ...");
        let mut hub_cmd = hub_command(&bin_dir.join("cloud-hub"), &database_url);
        hub_cmd
            .env("HUB_ADMIN_TOKEN", Self::ADMIN)
            // Each simulated customer signs in from its own address (sign-in limits are per IP).
            .env("HUB_TRUST_FORWARDED_FOR", "true")
            .stderr(Stdio::null());
        configure(&mut hub_cmd, scratch.path())?;
        let (hub_proc, hub_addr) = start(hub_cmd, &["cloud-hub listening on "])?;
        let hub = hub_addr[0].trim_end_matches('/').to_owned();
        let node_token = open_store(http, &hub).await?;

        eprintln!("starting store-node syncing with the hub ...");
        let node_cmd = synced_node_command(
            bin_dir,
            &scratch.path().join("node"),
            &format!("{}/api/v1/sync", hub.replace("http://", "ws://")),
            &node_token,
        );
        let (node_proc, node_addr) = start(node_cmd, &["store-node listening on "])?;
        let node = node_addr[0].trim_end_matches('/').to_owned();
        wait_until_ordering(http, &hub).await?;
        Ok(BenchHub {
            hub,
            node,
            backend,
            hub_proc,
            _node_proc: node_proc,
            _db: db,
            scratch,
        })
    }
}

/// The release `store-node` (in `bin_dir`) with the demo menu and its data in `data_dir`,
/// HTTP on a free loopback port, no MQTT, syncing as [`BENCH_STORE`]'s node with the hub
/// at `sync_url` (`ws://…/api/v1/sync`) with the node token `token`; warnings only, stderr
/// discarded. It prints `store-node listening on http://ADDR`.
pub fn synced_node_command(
    bin_dir: &Path,
    data_dir: &Path,
    sync_url: &str,
    token: &str,
) -> Command {
    let mut cmd = Command::new(bin_dir.join("store-node"));
    cmd.args([
        "--demo",
        "--bind",
        "127.0.0.1:0",
        "--mqtt-bind",
        "off",
        "--data-dir",
    ])
    .arg(data_dir)
    .env("STORE_NODE__STORE__ID", BENCH_STORE)
    .env("STORE_NODE__HUB__URL", sync_url)
    .env("STORE_NODE__HUB__TOKEN", token)
    .env("RUST_LOG", "warn")
    .stderr(Stdio::null());
    cmd
}

/// Where a hub benchmark runs: its database and the release binaries, flattened into
/// each bench's flags.
#[derive(clap::Args, Debug)]
pub struct HubTarget {
    /// `sqlite` (a file in a temporary directory) or `postgres` (a fresh database on the local
    /// server at 127.0.0.1:5432, user postgres, created and dropped by the bench).
    #[arg(long, default_value = "sqlite")]
    pub database: String,
    /// Directory of the release binaries (default: next to this one).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
}

/// Creates an organisation and the bench store with online ordering on; the store's
/// node token.
async fn open_store(http: &reqwest::Client, hub: &str) -> anyhow::Result<String> {
    let adm = |r: reqwest::RequestBuilder| {
        r.bearer_auth(BenchHub::ADMIN)
            .header("idempotency-key", uuid_like())
    };
    let (s, org) = json_req(
        adm(http.post(format!("{hub}/api/v1/admin/orgs")))
            .json(&json!({"name": "Bench Org", "owner_email": "owner@bench.example"})),
    )
    .await?;
    anyhow::ensure!(s == 201, "creating the org: {s} {org}");
    let org_id = org["id"].as_str().context("org id")?;
    let (s, b) = json_req(
        adm(http.post(format!("{hub}/api/v1/admin/stores")))
            .json(&json!({"id": BENCH_STORE, "name": "Bench Kitchen", "org_id": org_id})),
    )
    .await?;
    anyhow::ensure!(s == 201, "creating the store: {s} {b}");
    let (s, tok) = json_req(
        adm(http.post(format!(
            "{hub}/api/v1/admin/stores/{BENCH_STORE}/node-tokens"
        )))
        .json(&json!({"label": "bench node"})),
    )
    .await?;
    anyhow::ensure!(s == 201, "node token: {s} {tok}");
    let (s, b) = json_req(
        adm(http.put(format!("{hub}/api/v1/stores/{BENCH_STORE}/settings")))
            .json(&json!({"online_ordering": true, "pickup_lead_minutes": 15})),
    )
    .await?;
    anyhow::ensure!(s == 200, "settings: {s} {b}");
    Ok(tok["token"].as_str().context("node token")?.to_owned())
}

/// Waits until the demo menu reached the hub and the store takes online orders.
async fn wait_until_ordering(http: &reqwest::Client, hub: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, b) =
            json_req(http.get(format!("{hub}/api/v1/public/stores/{BENCH_STORE}"))).await?;
        if s == 200 && b["ordering"]["accepting"] == true {
            let (s, m) =
                json_req(http.get(format!("{hub}/api/v1/public/stores/{BENCH_STORE}/menu")))
                    .await?;
            if s == 200 && m.to_string().contains("shoestring-fries") {
                return Ok(());
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the store did not open for online orders: {b}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
