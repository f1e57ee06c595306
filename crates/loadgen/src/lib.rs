//! What the load generators share: a scratch PostgreSQL database, JSON requests,
//! and the same-run baselines (the disk's fsync rate, raw SQLite) their figures
//! stand next to. Starting the real server binaries as child processes is
//! `test_support::process`, shared with the tests.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

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
