//! `offlinebench`: the offline day of BENCHMARKS.md measured end to end,
//! through the real release binaries instead of the simulated network of
//! `syncbench`: a `cloud-hub` (SQLite file, or PostgreSQL with `--database
//! postgres`) and a `store-node` whose only link to the hub is a counting
//! relay (`crates/relay`) on loopback.
//!
//! 1. The node syncs with the hub; then the relay resets the link and refuses
//!    new connections (the node is offline).
//! 2. The offline day: `--orders` orders at the node (each with `--lines`
//!    lines and one status change, as in `syncbench`) from `--clients`
//!    concurrent tills, and `--edits` menu edits, half sold-out toggles at the
//!    node, half price changes at the hub.
//! 3. The link heals. Reports the time until both sides hold everything (the
//!    hub has acknowledged every node event and both menus are equal) and the
//!    bytes the relay moved each way meanwhile.
//! 4. Baselines, same run, same disk: the fsync rate, and raw SQLite
//!    inserting as many rows of the same mean size in batches of 500.
//!
//! Progress goes to stderr; a markdown table to stdout.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use loadgen::{fsync_rate, json_req, sqlite_batched, uuid_like};
use relay::{Link, Relay};
use serde_json::{Value, json};
use test_support::{hub_command, start};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// `sqlite` (a file in a temporary directory) or `postgres` (a fresh database on the local
    /// server at 127.0.0.1:5432, user postgres, created and dropped by the bench).
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Orders taken while offline.
    #[arg(long, default_value_t = 5000)]
    orders: usize,
    /// Menu edits while offline (half at the node, half at the hub).
    #[arg(long, default_value_t = 500)]
    edits: usize,
    /// Lines per order (a normal order has a few).
    #[arg(long, default_value_t = 2)]
    lines: usize,
    /// Concurrent tills placing the orders.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// How long the link may take to converge before the bench gives up.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Directory of the release binaries (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

/// Batch size of the raw SQLite baseline: about what one sync `Events` frame carries.
const BASELINE_BATCH: usize = 500;

/// Items toggled sold out while offline; none of them is ordered.
const TOGGLED: [&str; 4] = [
    "margherita-pizza",
    "caesar-salad",
    "brownie-sundae",
    "iced-tea",
];
/// Lines the orders are made of (no required choice left open).
const LINE_TEMPLATES: [&str; 3] = [
    r#"{"item_id":"shoestring-fries","quantity":1,"modifiers":[]}"#,
    r#"{"item_id":"fountain-soda","quantity":2,"modifiers":["drink-size-large","soda-choice-cola"]}"#,
    r#"{"item_id":"house-garden-salad","quantity":1,"modifiers":["salad-dressing-ranch"]}"#,
];

fn order(lines: usize, i: usize) -> Value {
    let lines: Vec<Value> = (0..lines.max(1))
        .map(|l| {
            serde_json::from_str(LINE_TEMPLATES[(i + l) % LINE_TEMPLATES.len()]).expect("line")
        })
        .collect();
    json!({"channel": "pos", "fulfillment": "takeaway", "lines": lines})
}

/// The node's event log, read-only beside the running node (WAL allows it): the highest local
/// position, and the count and bytes (every column as stored) of the events after `after`.
fn node_events(db: &std::path::Path, after: i64) -> anyhow::Result<(i64, u64, u64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (max, n, bytes): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT COALESCE(MAX(pos), 0) FROM event_log), COUNT(*),
                COALESCE(SUM(LENGTH(id) + LENGTH(origin) + 8 + LENGTH(hlc) + LENGTH(kind)
                             + COALESCE(LENGTH(subject), 0) + LENGTH(data) + 8), 0)
         FROM event_log WHERE pos > ?1",
        [after],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((max, n as u64, bytes as u64))
}

async fn sync_status(http: &reqwest::Client, node: &str, token: &str) -> anyhow::Result<Value> {
    let (s, b) = json_req(
        http.get(format!("{node}/api/v1/sync/status"))
            .bearer_auth(token),
    )
    .await?;
    anyhow::ensure!(s == 200, "sync status: {s} {b}");
    Ok(b)
}

/// Polls `check` every 20 ms until it holds (the interval bounds the timing error); fails after `within`.
async fn wait_until(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while !check().await? {
        if Instant::now() > deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_path_buf(),
    };
    let scratch = tempfile::tempdir()?;
    let (database_url, _drop_pg) =
        loadgen::hub_database(&args.database, "offlinebench", scratch.path())?;
    let backend = if args.database == "postgres" {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    let admin = "offlinebench-admin-token-0123456789";
    eprintln!("starting cloud-hub on {backend} ...");
    let mut hub_cmd = hub_command(&bin_dir.join("cloud-hub"), &database_url);
    hub_cmd.env("HUB_ADMIN_TOKEN", admin).stderr(Stdio::null());
    let (_hub_proc, hub_addr) = start(hub_cmd, &["cloud-hub listening on "])?;
    let hub = hub_addr[0].trim_end_matches('/').to_owned();
    let hub_sock: std::net::SocketAddr = hub
        .trim_start_matches("http://")
        .parse()
        .context("the hub's address")?;
    let http = reqwest::Client::new();
    let adm =
        |r: reqwest::RequestBuilder| r.bearer_auth(admin).header("idempotency-key", uuid_like());
    let (s, b) = json_req(
        adm(http.post(format!("{hub}/api/v1/admin/stores")))
            .json(&json!({"id": "store-1", "name": "Bench Kitchen"})),
    )
    .await?;
    anyhow::ensure!(s == 201, "creating the store: {s} {b}");
    let (s, tok) = json_req(
        adm(http.post(format!("{hub}/api/v1/admin/stores/store-1/node-tokens")))
            .json(&json!({"label": "bench node"})),
    )
    .await?;
    anyhow::ensure!(s == 201, "node token: {s} {tok}");
    let node_token = tok["token"].as_str().context("node token")?.to_owned();

    // The node's only way to the hub: the counting relay.
    let relay = Relay::start("127.0.0.1:0".parse()?, hub_sock).await?;
    eprintln!("starting store-node syncing through the relay ...");
    let node_dir = scratch.path().join("node");
    let node_cmd = loadgen::synced_node_command(
        &bin_dir,
        &node_dir,
        &format!("ws://{}/api/v1/sync", relay.addr()),
        &node_token,
    );
    let (_node_proc, node_addr) = start(node_cmd, &["store-node listening on "])?;
    let node = node_addr[0].trim_end_matches('/').to_owned();
    let login = |staff: &'static str, pin: &'static str| {
        let (http, node) = (http.clone(), node.clone());
        async move {
            let (s, b) = json_req(
                http.post(format!("{node}/api/v1/auth/login"))
                    .json(&json!({"staff_id": staff, "pin": pin})),
            )
            .await?;
            anyhow::ensure!(s == 200, "login {staff}: {s} {b}");
            anyhow::Ok(b["token"].as_str().context("token")?.to_owned())
        }
    };
    let cashier = login("cashier", "3000").await?;
    let manager = login("manager", "2000").await?;
    wait_until(Duration::from_secs(60), "the first sync", async || {
        let st = sync_status(&http, &node, &cashier).await?;
        Ok(st["connected"] == true && st["events_waiting"] == 0)
    })
    .await?;

    // 1. Offline.
    relay.set(Link::Reset);
    wait_until(
        Duration::from_secs(60),
        "the node to see the link down",
        async || Ok(sync_status(&http, &node, &cashier).await?["connected"] == false),
    )
    .await?;

    let node_db = node_dir.join("store.db");
    let (cut_pos, _, _) = node_events(&node_db, i64::MAX)?;

    // 2. The day.
    eprintln!(
        "offline: {} orders ({} lines each, one status change each) from {} tills, {} menu edits ...",
        args.orders, args.lines, args.clients, args.edits
    );
    let day = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tills = vec![];
    for _ in 0..args.clients.max(1) {
        let (http, node, cashier, manager, next) = (
            http.clone(),
            node.clone(),
            cashier.clone(),
            manager.clone(),
            next.clone(),
        );
        let (orders, lines) = (args.orders, args.lines);
        tills.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= orders {
                    return anyhow::Ok(());
                }
                let (s, o) = json_req(
                    http.post(format!("{node}/api/v1/orders"))
                        .bearer_auth(&cashier)
                        .header("idempotency-key", uuid_like())
                        .json(&order(lines, i)),
                )
                .await?;
                anyhow::ensure!(s == 201, "order {i}: {s} {o}");
                let id = o["id"].as_str().context("order id")?;
                let (s, b) = json_req(
                    http.post(format!("{node}/api/v1/orders/{id}/accept"))
                        .bearer_auth(&manager)
                        .header("idempotency-key", uuid_like()),
                )
                .await?;
                anyhow::ensure!(s == 200, "accept {i}: {s} {b}");
            }
        }));
    }
    for e in 0..args.edits {
        let item = TOGGLED[e % TOGGLED.len()];
        if e % 2 == 0 {
            let (s, b) = json_req(
                http.post(format!("{node}/api/v1/menu/items/{item}/sold-out"))
                    .bearer_auth(&manager)
                    .header("idempotency-key", uuid_like())
                    .json(&json!({"sold_out": e % 4 == 0})),
            )
            .await?;
            anyhow::ensure!(s == 200, "sold-out toggle: {s} {b}");
        } else {
            let url = format!("{hub}/api/v1/stores/store-1/menu");
            let (_, m) = json_req(http.get(&url).bearer_auth(admin)).await?;
            let mut menu = m["menu"].clone();
            for i in menu["items"].as_array_mut().context("items")? {
                if i["id"] == item {
                    i["price"] = json!(500 + e as i64);
                }
            }
            let (s, b) = json_req(adm(http.put(&url)).json(&menu)).await?;
            anyhow::ensure!(s == 200, "hub menu edit: {s} {b}");
        }
    }
    for t in tills {
        t.await??;
    }
    let offline = day.elapsed();
    let waiting = sync_status(&http, &node, &cashier).await?["events_waiting"]
        .as_u64()
        .unwrap_or(0);
    // Everything logged since the cut was made here: the hub could not deliver.
    let (_, day_events, raw_bytes) = node_events(&node_db, cut_pos)?;

    // 3. Heal and converge.
    eprintln!("healing the link with {waiting} events waiting at the node ...");
    let before = relay.bytes();
    let conns = relay.connections();
    relay.set(Link::Open);
    let healed = Instant::now();
    let hub_menu_url = format!("{hub}/api/v1/stores/store-1/menu");
    // The node retries with backoff (up to 30 s between tries): how long it took to come back is
    // reported apart from how long the catch-up took.
    let mut reconnected = None;
    wait_until(
        Duration::from_secs(args.timeout_secs),
        "the node and the hub to converge",
        async || {
            let st = sync_status(&http, &node, &cashier).await?;
            if st["connected"] != true {
                return Ok(false);
            }
            reconnected.get_or_insert_with(|| healed.elapsed());
            if st["events_waiting"] != 0 {
                return Ok(false);
            }
            let (_, a) = json_req(
                http.get(format!("{node}/api/v1/menu"))
                    .bearer_auth(&cashier),
            )
            .await?;
            let (_, b) = json_req(http.get(&hub_menu_url).bearer_auth(admin)).await?;
            Ok(a["menu"] == b["menu"])
        },
    )
    .await?;
    let took = healed.elapsed();
    let after = relay.bytes();
    let (up, down) = (after.up - before.up, after.down - before.down);
    let (_, hub_orders) = json_req(
        http.get(format!("{hub}/api/v1/stores/store-1/orders?limit=1"))
            .bearer_auth(admin),
    )
    .await?;
    let hub_events = hub_orders["events"].as_u64().unwrap_or(0);

    // 4. Baselines.
    eprintln!("baselines on the same disk ...");
    let fsync = fsync_rate(scratch.path())?;
    let mean = (raw_bytes / day_events.max(1)) as usize;
    let raw = sqlite_batched(scratch.path(), day_events as usize, mean, BASELINE_BATCH)?;

    println!("#### Offline day end to end, hub on {backend}\n");
    println!("| measurement | value |\n|---|---|");
    println!(
        "| offline day at the node: {} orders ({} lines each) + {} status changes, {} menu edits (half at the hub) | {:.1} s |",
        args.orders,
        args.lines,
        args.orders,
        args.edits,
        offline.as_secs_f64()
    );
    println!(
        "| node events to move at reconnect | {waiting} ({day_events} logged while offline, {raw_bytes} raw bytes as stored) |"
    );
    let back = reconnected.unwrap_or_default();
    let catch_up = took.saturating_sub(back);
    println!(
        "| link healed → node reconnected (its backoff) | {:.2} s |",
        back.as_secs_f64()
    );
    println!(
        "| node reconnected → converged (both sides hold everything) | **{:.2} s** ({:.0} events/s) |",
        catch_up.as_secs_f64(),
        waiting as f64 / catch_up.as_secs_f64().max(1e-3)
    );
    println!(
        "| bytes on the wire to converge (node→hub / hub→node) | {} / {} ({:.2}x the raw event bytes up; {} connection(s)) |",
        up,
        down,
        up as f64 / raw_bytes.max(1) as f64,
        relay.connections() - conns
    );
    println!("| events the hub holds afterwards | {hub_events} |");
    println!(
        "| baseline: raw SQLite inserting the same events ({day_events} rows of {mean} B), {BASELINE_BATCH} per transaction (WAL, synchronous=FULL) | {:.0} ms |",
        raw.as_secs_f64() * 1000.0
    );
    println!("| baseline: fsync rate of the disk (4 KiB + fdatasync) | {fsync:.0}/s |");
    Ok(())
}
