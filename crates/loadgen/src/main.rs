//! `loadgen`: measures the store node the way a busy restaurant loads it.
//!
//! It starts the real `store-node` binary as its own process (or targets a
//! running one with `--url`), then:
//! 1. baselines, on the same disk and in the same run: the raw fsync rate
//!    (4 KiB write + fdatasync) and raw SQLite with one transaction per row
//!    (WAL, synchronous=FULL) — the ceiling of a node without group commit;
//! 2. throughput: `--clients` concurrent POS clients place orders as fast as
//!    they are acknowledged, for `--seconds`; prints orders/s and latency;
//! 3. event delay: at a steady `--event-rate` orders/s, the time from each
//!    order's HTTP acknowledgement to its `order.created` on the WebSocket.
//!
//! Progress goes to stderr once a second; the report to stdout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use loadgen::{cpu_seconds, fsync_rate, login, post_created, sqlite_rate};
use serde_json::{Value, json};
use test_support::{Proc, node_command, start};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Concurrent clients in the throughput phase.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of the throughput phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Orders per second in the event-delay phase.
    #[arg(long, default_value_t = 100)]
    event_rate: u64,
    /// Length of the event-delay phase.
    #[arg(long, default_value_t = 10)]
    event_seconds: u64,
    /// A running node to load instead of starting one (it must have the demo data).
    #[arg(long)]
    url: Option<String>,
    /// The store-node binary (default: next to this one).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// Where the node's database and the baselines' files go (must be the disk under test; default ./loadgen-data).
    #[arg(long, default_value = "loadgen-data")]
    data_dir: PathBuf,
}

/// Starts the demo node on the database in `dir`; its process and base URL.
fn start_node(bin: &Path, dir: &Path) -> anyhow::Result<(Proc, String)> {
    let (p, mut found) = start(node_command(bin, dir), &["store-node listening on "])?;
    Ok((p, found.remove(0)))
}

fn order() -> Value {
    json!({
        "channel": "pos", "fulfillment": "dine_in", "table": "4",
        "lines": [
            { "item_id": "harbor-classic-burger", "quantity": 2,
              "modifiers": ["burger-doneness-medium", "burger-bun-brioche", "burger-addons-bacon"] },
            { "item_id": "fountain-soda", "quantity": 2, "modifiers": ["drink-size-large", "soda-choice-cola"] }
        ]
    })
}

/// Sum and count of a Prometheus histogram in the node's /metrics.
async fn histogram_totals(http: &reqwest::Client, base: &str, name: &str) -> Option<(f64, f64)> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |suffix: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}_{suffix} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    Some((value("sum")?, value("count")?))
}

fn as_json(m: &tokio_tungstenite::tungstenite::Message) -> Value {
    serde_json::from_str(m.to_text().unwrap_or("")).unwrap_or(Value::Null)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

async fn throughput(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    clients: usize,
    secs: u64,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = vec![];
    for c in 0..clients {
        let (http, base, token, done) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            let body = order();
            let mut i = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                post_created(
                    &http,
                    &format!("{base}/api/v1/orders"),
                    &token,
                    &format!("tp-{c}-{i}"),
                    &body,
                )
                .await?;
                h.record(t.elapsed().as_micros() as u64).ok();
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(h)
        }));
    }
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "  {:>3.0}s  {n:>8} orders  {:>8.0}/s",
                    start.elapsed().as_secs_f64(),
                    n as f64 / start.elapsed().as_secs_f64()
                );
            }
        })
    };
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        all.add(t.await??)?;
    }
    progress.abort();
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    Ok((rate, all))
}

/// What the event-delay phase measured.
struct Delays {
    /// From the HTTP acknowledgement to the event (0 when the event came first).
    ack_to_event: Histogram<u64>,
    /// From sending the request to the event reaching the subscriber.
    send_to_event: Histogram<u64>,
    early: u64,
    missing: u64,
}

/// Paced orders, each timed from send and from ack to its `order.created` on the stream.
async fn event_delay(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    kitchen: &str,
    rate: u64,
    secs: u64,
) -> anyhow::Result<Delays> {
    let ws_base = base.replacen("http://", "ws://", 1);
    // Start at the head of the log: connect with a huge cursor is wrong, so read caught_up first.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{ws_base}/api/v1/events?token={kitchen}"))
            .await?;
    loop {
        let m = ws.next().await.context("stream closed")??;
        if as_json(&m)["type"] == "caught_up" {
            break;
        }
    }
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let arrived = Arc::new(tokio::sync::Notify::new());
    let reader = {
        let (seen, arrived) = (seen.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                let at = Instant::now();
                let v = as_json(&m);
                if v["type"] == "order.created"
                    && let Some(id) = v["data"]["order"]["id"].as_str()
                {
                    seen.lock().expect("lock").insert(id.to_owned(), at);
                    arrived.notify_one();
                }
            }
        })
    };
    let acks: Arc<Mutex<Vec<(String, Instant, Instant)>>> = Default::default();
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    let mut tasks = vec![];
    let total = rate * secs;
    for i in 0..total {
        tick.tick().await;
        let (http, base, token, acks) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            acks.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let o = post_created(
                &http,
                &format!("{base}/api/v1/orders"),
                &token,
                &format!("ev-{i}"),
                &order(),
            )
            .await?;
            let at = Instant::now();
            acks.lock().expect("lock").push((
                o["id"].as_str().unwrap_or_default().to_owned(),
                sent,
                at,
            ));
            anyhow::Ok(())
        }));
        if i % rate == 0 && i > 0 {
            eprintln!("  {:>3}s  {i:>8} orders sent", i / rate);
        }
    }
    for t in tasks {
        t.await??;
    }
    // Wait (with a deadline) until every order's event has arrived.
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("lock").len() < total as usize {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, arrived.notified())
            .await
            .is_err()
        {
            break;
        }
    }
    reader.abort();
    let seen = seen.lock().expect("lock");
    let mut ack_to_event = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut send_to_event = ack_to_event.clone();
    let (mut early, mut missing) = (0, 0);
    for (id, sent, ack) in acks.lock().expect("lock").iter() {
        let Some(ev) = seen.get(id) else {
            missing += 1;
            continue;
        };
        send_to_event
            .record(ev.duration_since(*sent).as_micros().max(1) as u64)
            .ok();
        if ev < ack {
            early += 1;
        }
        ack_to_event
            .record(ev.saturating_duration_since(*ack).as_micros().max(1) as u64)
            .ok();
    }
    Ok(Delays {
        ack_to_event,
        send_to_event,
        early,
        missing,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.data_dir)?;
    let scratch = tempfile::tempdir_in(&args.data_dir)?;

    eprintln!("baseline: fsync rate of {} ...", args.data_dir.display());
    let fsyncs = fsync_rate(scratch.path())?;
    eprintln!("baseline: raw SQLite, one transaction per row ...");
    let sqlite = sqlite_rate(scratch.path())?;

    let (node, base) = match &args.url {
        Some(u) => (None, u.trim_end_matches('/').to_owned()),
        None => {
            let bin = match &args.node_bin {
                Some(b) => b.clone(),
                None => std::env::current_exe()?.with_file_name("store-node"),
            };
            let (p, base) = start_node(&bin, &scratch.path().join("node"))?;
            (Some(p), base)
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let cashier = login(&http, &base, "cashier", "3000").await?;
    let kitchen = login(&http, &base, "kitchen", "4000").await?;

    eprintln!("warm-up ...");
    throughput(&http, &base, &cashier, args.clients, 1).await?;
    eprintln!(
        "throughput: {} clients for {} s",
        args.clients, args.seconds
    );
    let pid = node.as_ref().map(Proc::id);
    let cpu_before = pid.and_then(cpu_seconds);
    let batches_before = histogram_totals(&http, &base, "store_db_commit_batch_size").await;
    let (rate, lat) = throughput(&http, &base, &cashier, args.clients, args.seconds).await?;
    let cpu_after = pid.and_then(cpu_seconds);
    let batches_after = histogram_totals(&http, &base, "store_db_commit_batch_size").await;
    eprintln!(
        "event delay: {} orders/s for {} s",
        args.event_rate, args.event_seconds
    );
    let d = event_delay(
        &http,
        &base,
        &cashier,
        &kitchen,
        args.event_rate,
        args.event_seconds,
    )
    .await?;

    println!("| measurement | value |");
    println!("|---|---|");
    println!("| disk fsync rate (4 KiB write + fdatasync) | {fsyncs:.0} /s |");
    println!("| raw SQLite, 1 row per transaction (WAL, synchronous=FULL) | {sqlite:.0} rows/s |");
    println!(
        "| store node: durable orders/s at {} clients | {rate:.0} /s ({:.1}x raw SQLite) |",
        args.clients,
        rate / sqlite
    );
    println!(
        "| order latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        ms(&lat, 0.5),
        ms(&lat, 0.99),
        lat.max() as f64 / 1000.0
    );
    if let (Some((s0, c0)), Some((s1, c1))) = (batches_before, batches_after) {
        let (writes, commits) = (s1 - s0, c1 - c0);
        println!(
            "| group commit during the throughput phase | {commits:.0} commits (fsyncs) for {writes:.0} writes: {:.1} writes per commit, {:.0} commits/s |",
            writes / commits.max(1.0),
            commits / args.seconds as f64
        );
    }
    if let (Some(c0), Some(c1)) = (cpu_before, cpu_after) {
        let orders = rate * args.seconds as f64;
        println!(
            "| store-node CPU during the throughput phase | {:.2} cores busy, {:.0} µs CPU per order (load generator on the same cores) |",
            (c1 - c0) / args.seconds as f64,
            (c1 - c0) / orders.max(1.0) * 1e6
        );
    }
    let (a, s) = (&d.ack_to_event, &d.send_to_event);
    println!(
        "| at {}/s, HTTP ack -> WebSocket event p50 / p99 / max | {:.2} / {:.2} / {:.2} ms ({} of {} events arrived before their ack, counted as 0) |",
        args.event_rate,
        ms(a, 0.5),
        ms(a, 0.99),
        a.max() as f64 / 1000.0,
        d.early,
        a.len()
    );
    println!(
        "| at {}/s, request sent -> WebSocket event p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        args.event_rate,
        ms(s, 0.5),
        ms(s, 0.99),
        s.max() as f64 / 1000.0
    );
    let missing = d.missing;
    if missing > 0 {
        bail!("{missing} orders never appeared on the event stream");
    }
    Ok(())
}
