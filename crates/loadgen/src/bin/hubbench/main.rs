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

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use loadgen::{json_req, uuid_like};
use serde_json::{Value, json};
use test_support::{hub_command, start};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// `sqlite` (a file in a temporary directory) or `postgres` (a fresh database on the local
    /// server at 127.0.0.1:5432, user postgres, created and dropped by the bench).
    #[arg(long, default_value = "sqlite")]
    database: String,
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
    /// Directory of the release binaries (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Run as the baseline WebSocket server (the bench starts itself this way).
    #[arg(long, hide = true)]
    baseline_server: bool,
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

fn ms(h: &Histogram<u64>, q: f64) -> String {
    format!("{:.2}", h.value_at_quantile(q) as f64 / 1000.0)
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
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_path_buf(),
    };
    let scratch = tempfile::tempdir()?;
    let (database_url, _drop_pg) =
        loadgen::hub_database(&args.database, "hubbench", scratch.path())?;
    let backend = if database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let admin = "hubbench-admin-token-0123456789";
    eprintln!("starting cloud-hub on {backend} ...");
    let mut hub_cmd = hub_command(&bin_dir.join("cloud-hub"), &database_url);
    hub_cmd
        .env("HUB_ADMIN_TOKEN", admin)
        // Each simulated customer signs in from its own address (sign-in limits are per IP).
        .env("HUB_TRUST_FORWARDED_FOR", "true")
        .stderr(Stdio::null());
    let (hub_proc, hub_addr) = start(hub_cmd, &["cloud-hub listening on "])?;
    let hub_pid = hub_proc.id();
    let hub = hub_addr[0].trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let adm =
        |r: reqwest::RequestBuilder| r.bearer_auth(admin).header("idempotency-key", uuid_like());
    let (s, org) = json_req(
        adm(http.post(format!("{hub}/api/v1/admin/orgs")))
            .json(&json!({"name": "Bench Org", "owner_email": "owner@bench.example"})),
    )
    .await?;
    anyhow::ensure!(s == 201, "creating the org: {s} {org}");
    let org_id = org["id"].as_str().context("org id")?.to_owned();
    let (s, b) = json_req(
        adm(http.post(format!("{hub}/api/v1/admin/stores")))
            .json(&json!({"id": "store-1", "name": "Bench Kitchen", "org_id": org_id})),
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
    let (s, b) = json_req(
        adm(http.put(format!("{hub}/api/v1/stores/store-1/settings")))
            .json(&json!({"online_ordering": true, "pickup_lead_minutes": 15})),
    )
    .await?;
    anyhow::ensure!(s == 200, "settings: {s} {b}");

    eprintln!("starting store-node syncing with the hub ...");
    let node_dir = scratch.path().join("node");
    let mut node_cmd = Command::new(bin_dir.join("store-node"));
    node_cmd
        .args([
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--mqtt-bind",
            "off",
            "--data-dir",
        ])
        .arg(&node_dir)
        .env("STORE_NODE__STORE__ID", "store-1")
        .env(
            "STORE_NODE__HUB__URL",
            format!("{}/api/v1/sync", hub.replace("http://", "ws://")),
        )
        .env("STORE_NODE__HUB__TOKEN", &node_token)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let (_node_proc, node_addr) = start(node_cmd, &["store-node listening on "])?;
    let node = node_addr[0].trim_end_matches('/').to_owned();

    // Wait until the demo menu reached the hub and online ordering is open.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, b) = json_req(http.get(format!("{hub}/api/v1/public/stores/store-1"))).await?;
        if s == 200 && b["ordering"]["accepting"] == true {
            let (s, m) =
                json_req(http.get(format!("{hub}/api/v1/public/stores/store-1/menu"))).await?;
            if s == 200 && m.to_string().contains("shoestring-fries") {
                break;
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the store did not open for online orders: {b}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut out = String::new();
    out.push_str(&format!(
        "#### Cloud hub on {backend}\n\n| measurement | value |\n|---|---|\n"
    ));

    // 1. Browse.
    eprintln!(
        "phase 1: {} clients browse the menu for {} s ...",
        args.clients, args.seconds
    );
    let (n, h) = closed_loop(args.clients, args.seconds, {
        let http = http.clone();
        let url = format!("{hub}/api/v1/public/stores/store-1/menu");
        move |_c| {
            let http = http.clone();
            let url = url.clone();
            async move {
                http.get(&url)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ())
            }
        }
    })
    .await;
    out.push_str(&rate_row(
        &format!(
            "menu browse (`GET /public/stores/{{id}}/menu`), {} clients",
            args.clients
        ),
        n as f64 / args.seconds as f64,
        "req/s",
        &h,
    ));

    // 2. Orders: one customer per client.
    eprintln!(
        "phase 2: {} customers sign up and place orders for {} s ...",
        args.clients, args.seconds
    );
    let mut tokens = vec![];
    for c in 0..args.clients.max(args.orders) {
        tokens.push(signup(&http, &hub, c).await?);
    }
    let tokens = Arc::new(tokens);
    let (n, h) = closed_loop(args.clients, args.seconds, {
        let http = http.clone();
        let hub = hub.clone();
        let tokens = tokens.clone();
        move |c| {
            let http = http.clone();
            let url = format!("{hub}/api/v1/stores/store-1/orders");
            let token = tokens[c].clone();
            async move {
                let body: Value = json!({"lines": serde_json::from_str::<Value>(LINES).ok()?, "customer_name": "Bench"});
                let r = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("idempotency-key", uuid_like())
                    .json(&body)
                    .send()
                    .await
                    .ok()?;
                (r.status() == 201).then_some(())
            }
        }
    })
    .await;
    out.push_str(&rate_row(
        &format!(
            "order placement (`POST /stores/{{id}}/orders`, durable, synced to the node), {} customers",
            args.clients
        ),
        n as f64 / args.seconds as f64,
        "orders/s",
        &h,
    ));

    // 3. Fan-out.
    eprintln!(
        "phase 3: {} orders, {} tracking sockets ...",
        args.orders, args.sockets
    );
    let mut orders = vec![];
    for (c, token) in tokens.iter().take(args.orders).enumerate() {
        let (s, b) = json_req(http.post(format!("{hub}/api/v1/stores/store-1/orders"))
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

async fn signup(http: &reqwest::Client, hub: &str, c: usize) -> anyhow::Result<String> {
    let (s, b) = json_req(http.post(format!("{hub}/api/v1/auth/signup"))
            .header("x-forwarded-for", format!("10.{}.{}.{}", c / 65536 % 256, c / 256 % 256, c % 256))
            .header("idempotency-key", uuid_like())
            .json(&json!({"email": format!("customer{c}@bench.example"), "password": format!("correct horse battery {c} staple"), "name": format!("Customer {c}")})),
    )
    .await?;
    anyhow::ensure!(s == 201, "signup {c}: {s} {b}");
    Ok(b["access_token"]
        .as_str()
        .context("access token")?
        .to_owned())
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

/// Runs `clients` loops of `op` for `seconds`; returns successful operations and their latency.
async fn closed_loop<F, Fut>(clients: usize, seconds: u64, op: F) -> (u64, Histogram<u64>)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<()>> + Send,
{
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = vec![];
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut n = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                if op(c).await.is_some() {
                    n += 1;
                    let _ = h.record(t.elapsed().as_micros().max(1) as u64);
                }
            }
            (n, h)
        }));
    }
    let mut total = 0;
    let mut all = histogram();
    for t in tasks {
        if let Ok((n, h)) = t.await {
            total += n;
            let _ = all.add(h);
        }
    }
    (total, all)
}
