//! `hubbench`: the cloud hub's figures in BENCHMARKS.md, measured against the
//! real release binaries: a `cloud-hub` (on an SQLite file, or PostgreSQL with
//! `--database-url`) and a `store-node` syncing with it.
//!
//! 1. Menu browsing: `--clients` concurrent customers read the public menu
//!    for `--seconds`; requests/s and latency.
//! 2. Order placement: the same number of signed-in customers place pickup
//!    orders (each with its own Idempotency-Key) for `--seconds`.
//! 3. Fan-out: `--sockets` order-tracking WebSockets (`--orders` orders, the
//!    sockets spread evenly over them, each opened by the order's customer);
//!    the kitchen marks every order ready at the store node, the status
//!    travels node -> sync -> hub -> every socket. Reports the delay from the
//!    node's acknowledgement to each socket's "ready", and the hub's memory
//!    before and after the sockets opened.
//!
//! 4. Baseline, same run: a bare WebSocket server in its own process
//!    ([`baseline`]) delivers the same 100 changes to the same number of
//!    sockets at the same pace; its delays are the floor on this machine.
//!
//! Progress goes to stderr; a markdown section to stdout.

mod baseline;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use loadgen::{BENCH_STORE, BenchHub, Until, closed_loop, histogram, json_req, ms, uuid_like};
use serde_json::{Value, json};
use test_support::start;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    target: loadgen::HubTarget,
    /// Length of the browse and order phases.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients in the browse and order phases.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Order-tracking WebSockets in the fan-out phase.
    #[arg(long, default_value_t = 10_000)]
    sockets: usize,
    /// Orders the sockets track (each by its own customer).
    #[arg(long, default_value_t = 100)]
    orders: usize,
    /// Run as the baseline WebSocket server (the bench starts itself this way).
    #[arg(long, hide = true)]
    baseline_server: bool,
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The order object in an answer that is either the order or `{order: ...}`.
fn order_of(v: &Value) -> &Value {
    if v.get("order").is_some_and(Value::is_object) {
        &v["order"]
    } else {
        v
    }
}

const LINES: &str = r#"[{"item_id":"shoestring-fries","quantity":1,"modifiers":[]}]"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.baseline_server {
        return baseline::serve().await;
    }
    let bin_dir = loadgen::bin_dir(args.target.bin_dir.as_deref())?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let bench = BenchHub::start(
        &http,
        &bin_dir,
        &args.target.database,
        "hubbench",
        |_, _| Ok(()),
    )
    .await?;
    let (hub, node, backend) = (bench.hub.clone(), bench.node.clone(), bench.backend);
    let hub_pid = bench.hub_proc.id();

    let mut out = String::new();
    out.push_str(&format!(
        "#### Cloud hub on {backend}\n\n| measurement | value |\n|---|---|\n"
    ));

    // 1. Browse.
    eprintln!(
        "phase 1: {} clients browse the menu for {} s ...",
        args.clients, args.seconds
    );
    let browse = closed_loop("browse", args.clients, Until::Seconds(args.seconds), {
        let http = http.clone();
        let url = format!("{hub}/api/v1/public/stores/{BENCH_STORE}/menu");
        move |_, _| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let r = http.get(&url).send().await.map_err(|e| e.to_string())?;
                if r.status() == 200 {
                    Ok(())
                } else {
                    Err(format!("HTTP {}", r.status()))
                }
            }
        }
    })
    .await;
    out.push_str(&rate_row(
        &format!(
            "menu browse (`GET /public/stores/{{id}}/menu`), {} clients",
            args.clients
        ),
        browse.ok as f64 / args.seconds as f64,
        "req/s",
        &browse.latency,
    ));

    // 2. Orders: one customer per client.
    eprintln!(
        "phase 2: {} customers sign up and place orders for {} s ...",
        args.clients, args.seconds
    );
    let mut tokens = vec![];
    for c in 0..args.clients.max(args.orders) {
        tokens.push(loadgen::signup(&http, &hub, c).await?);
    }
    let tokens = Arc::new(tokens);
    let placing = closed_loop("orders", args.clients, Until::Seconds(args.seconds), {
        let http = http.clone();
        let hub = hub.clone();
        let tokens = tokens.clone();
        move |c, _| {
            let http = http.clone();
            let url = format!("{hub}/api/v1/stores/{BENCH_STORE}/orders");
            let token = tokens[c].clone();
            async move {
                let lines: Value = serde_json::from_str(LINES).map_err(|e| e.to_string())?;
                let (s, b) = json_req(
                    http.post(&url)
                        .bearer_auth(token)
                        .header("idempotency-key", uuid_like())
                        .json(&json!({"lines": lines, "customer_name": "Bench"})),
                )
                .await
                .map_err(|e| e.to_string())?;
                if s == 201 {
                    Ok(())
                } else {
                    Err(loadgen::refused(s, &b))
                }
            }
        }
    })
    .await;
    out.push_str(&rate_row(
        &format!(
            "order placement (`POST /stores/{{id}}/orders`, durable, synced to the node), {} customers",
            args.clients
        ),
        placing.ok as f64 / args.seconds as f64,
        "orders/s",
        &placing.latency,
    ));

    // 3. Fan-out.
    eprintln!(
        "phase 3: {} orders, {} tracking sockets ...",
        args.orders, args.sockets
    );
    let mut orders = vec![];
    for (c, token) in tokens.iter().take(args.orders).enumerate() {
        let (s, b) = json_req(http.post(format!("{hub}/api/v1/stores/{BENCH_STORE}/orders"))
                .bearer_auth(token)
                .header("idempotency-key", format!("fanout-{c}"))
                .json(&json!({"lines": serde_json::from_str::<Value>(LINES)?, "customer_name": format!("Fan {c}")})),
        )
        .await?;
        anyhow::ensure!(s == 201, "placing a tracked order: {s} {b}");
        orders.push((
            order_of(&b)["id"].as_str().context("order id")?.to_owned(),
            token.clone(),
        ));
    }
    let rss_before = loadgen::memory_kib(hub_pid, "VmRSS:").unwrap_or(0);
    let ws_base = hub.replace("http://", "ws://");
    // (order index, when the socket got "ready", the hub's own send time in Unix ms)
    let ready_at: Arc<std::sync::Mutex<Vec<(usize, Instant, i64)>>> = Arc::default();
    let opened = Tally::new();
    // Sockets that have heard "in_preparation" (the kitchen started the order).
    let preparing = Tally::new();
    let mut tasks = vec![];
    for s in 0..args.sockets {
        let which = s % orders.len();
        let (order, token) = orders[which].clone();
        let url = format!("{ws_base}/api/v1/me/orders/{order}/events?access_token={token}");
        let ready_at = ready_at.clone();
        let opened = opened.clone();
        let preparing = preparing.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = match tokio_tungstenite::connect_async(&url).await {
                Ok(ws) => ws,
                Err(e) => return Err(format!("socket {s}: {e}")),
            };
            opened.add();
            while let Some(Ok(m)) = ws.next().await {
                let tokio_tungstenite::tungstenite::Message::Text(t) = m else {
                    continue;
                };
                if t.contains("\"in_preparation\"") {
                    preparing.add();
                }
                if t.contains("\"ready\"") {
                    let received = Instant::now();
                    let hub_sent_ms = serde_json::from_str::<Value>(&t)
                        .ok()
                        .and_then(|v| v["at_ms"].as_i64())
                        .unwrap_or(0);
                    ready_at.lock().map_err(|e| e.to_string())?.push((
                        which,
                        received,
                        hub_sent_ms,
                    ));
                    return Ok(());
                }
            }
            Err(format!("socket {s} closed before ready"))
        }));
        if s % 1000 == 999 {
            eprintln!("  {} sockets opening", s + 1);
        }
    }
    opened
        .reach(args.sockets as u64, Duration::from_secs(120), "opened")
        .await?;
    // Each socket got the current status on connect; give the hub a moment to settle its buffers.
    let rss_after = loadgen::memory_kib(hub_pid, "VmRSS:").unwrap_or(0);
    eprintln!(
        "  all {} sockets open; the kitchen marks the orders ready ...",
        args.sockets
    );
    let kitchen = login_node(&http, &node).await?;
    // The orders must have reached the node before the kitchen can move them.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (order, _) in &orders {
        loop {
            let (s, _) = json_req(
                http.get(format!("{node}/api/v1/orders/{order}"))
                    .bearer_auth(&kitchen),
            )
            .await?;
            if s == 200 {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "order {order} did not reach the node"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for t in ["accept", "start"] {
            let (s, b) = json_req(
                http.post(format!("{node}/api/v1/orders/{order}/{t}"))
                    .bearer_auth(&kitchen),
            )
            .await?;
            anyhow::ensure!(s == 200, "{t}: {s} {b}");
        }
    }
    // Let the accept and start waves (2 x sockets messages) reach every socket first, so
    // the ready wave is timed on its own rather than queued behind them.
    let wave = Instant::now();
    preparing
        .reach(
            args.sockets as u64,
            Duration::from_secs(120),
            "heard in_preparation",
        )
        .await?;
    eprintln!(
        "  every socket heard in_preparation ({:.0} ms after the last start); now ready ...",
        wave.elapsed().as_secs_f64() * 1000.0
    );
    let mut acked = vec![];
    for (order, _) in &orders {
        let (s, b) = json_req(
            http.post(format!("{node}/api/v1/orders/{order}/ready"))
                .bearer_auth(&kitchen),
        )
        .await?;
        anyhow::ensure!(s == 200, "ready: {s} {b}");
        acked.push((Instant::now(), unix_ms()));
    }
    let first_ack = acked.first().context("orders")?.0;
    let last_ack = acked.last().context("orders")?.0;
    let mut failures = 0;
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(60), t).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                failures += 1;
                if failures < 5 {
                    eprintln!("  {e}");
                }
            }
            _ => failures += 1,
        }
    }
    let times = ready_at.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    // Each delivery's delay after the node acknowledged that order's "ready": the node's
    // commit, sync to the hub, the hub's projection and the fan-out to the socket.
    // Split at the hub's send time (its `at_ms`, same clock): node ack -> hub writes the
    // message, and hub writes it -> the client reads it.
    let (mut h, mut to_hub, mut on_wire) = (histogram(), histogram(), histogram());
    let now_wall = unix_ms();
    let now_mono = Instant::now();
    for (which, t, sent_ms) in &times {
        let (ack, ack_ms) = acked[*which];
        h.record(t.saturating_duration_since(ack).as_micros().max(1) as u64)?;
        // The receive instant on the wall clock, to compare with the hub's at_ms.
        let recv_ms = now_wall - now_mono.saturating_duration_since(*t).as_millis() as i64;
        to_hub.record((sent_ms - ack_ms).max(0) as u64 * 1000 + 1)?;
        on_wire.record((recv_ms - sent_ms).max(0) as u64 * 1000 + 1)?;
    }
    out.push_str(&format!(
        "| order tracking: {} WebSockets on {} orders, all ready at the node within {:.0} ms | {} of {} delivered; node ack of an order's ready -> its sockets: p50 {} / p99 **{}** / max {} ms |\n",
        args.sockets,
        orders.len(),
        last_ack.duration_since(first_ack).as_secs_f64() * 1000.0,
        times.len(),
        args.sockets,
        ms(&h, 0.5),
        ms(&h, 0.99),
        ms(&h, 1.0),
    ));
    out.push_str(&format!(
        "| the same deliveries split at the hub's send time (ms resolution) | ack -> hub sends: p50 {} / p99 {} ms; hub sends -> socket reads: p50 {} / p99 {} ms |\n",
        ms(&to_hub, 0.5),
        ms(&to_hub, 0.99),
        ms(&on_wire, 0.5),
        ms(&on_wire, 0.99),
    ));
    out.push_str(&format!(
        "| hub memory (VmRSS) before / after opening the sockets | {:.1} / {:.1} MiB ({:.1} KiB per socket) |\n",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        (rss_after.saturating_sub(rss_before)) as f64 / args.sockets as f64
    ));
    // 4. The floor: the same deliveries from a bare server, at the same pace.
    eprintln!("phase 4: baseline, a bare WebSocket server ...");
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--baseline-server").stderr(Stdio::null());
    let (_baseline, mut url) = start(cmd, &["baseline listening on "])?;
    let url = url.remove(0);
    let offsets: Vec<Duration> = acked
        .iter()
        .map(|(a, _)| a.duration_since(first_ack))
        .collect();
    let b = baseline::measure(&url, args.sockets, &offsets).await?;
    out.push_str(&format!(
        "| baseline, same run: a bare tokio-tungstenite server (own process, no HTTP, auth or database) sends the same {} changes to {} sockets at the same pace | fire -> socket: p50 {} / p99 **{}** / max {} ms |\n",
        offsets.len(),
        args.sockets,
        ms(&b, 0.5),
        ms(&b, 0.99),
        ms(&b, 1.0),
    ));
    println!("{out}");
    if failures > 0 {
        bail!("{failures} sockets did not receive ready");
    }
    Ok(())
}

/// A report row for a closed-loop phase: its rate and latency percentiles.
fn rate_row(what: &str, rate: f64, unit: &str, h: &Histogram<u64>) -> String {
    format!(
        "| {what} | {rate:.0} {unit}, p50 {} / p99 **{}** ms |\n",
        ms(h, 0.5),
        ms(h, 0.99)
    )
}

/// A count the sockets' tasks raise and the bench waits on (woken by each
/// raise, not polled).
#[derive(Clone)]
struct Tally(Arc<tokio::sync::watch::Sender<u64>>);

impl Tally {
    fn new() -> Tally {
        Tally(Arc::new(tokio::sync::watch::channel(0).0))
    }

    fn add(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    /// Waits until the count reaches `n`; fails after `within`, saying how far it got.
    async fn reach(&self, n: u64, within: Duration, what: &str) -> anyhow::Result<()> {
        let mut rx = self.0.subscribe();
        match tokio::time::timeout(within, rx.wait_for(|c| *c >= n)).await {
            Ok(Ok(_)) => Ok(()),
            _ => bail!("only {} of {n} sockets {what}", *self.0.borrow()),
        }
    }
}

async fn login_node(http: &reqwest::Client, node: &str) -> anyhow::Result<String> {
    let (s, b) = json_req(
        http.post(format!("{node}/api/v1/auth/login"))
            .json(&json!({"staff_id": "kitchen", "pin": "4000"})),
    )
    .await?;
    anyhow::ensure!(s == 200, "kitchen login: {s} {b}");
    Ok(b["token"].as_str().context("token")?.to_owned())
}
