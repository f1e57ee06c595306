//! `soakbench`: a day of service compressed into minutes, against the real
//! `store-node` binary (started with the demo data as its own process), with
//! the node's resident memory (VmRSS) sampled next to the order count, to see
//! whether memory stays flat (the budget in BENCHMARKS.md, "Memory over a day").
//!
//! What runs during the day, all on loopback:
//! - **Orders** from the POS, on a day's curve (nothing before 08:00, lunch
//!   and dinner peaks), `--orders` in all, each with lines for one to three
//!   stations. Every simulated hour the cashier signs in again and signs the
//!   old session out (shift changes), and a wrong PIN is tried once.
//! - **KDS screens** (`--kds`) that reload the way the web app does: replay
//!   the event stream from cursor 0, stay a while, disconnect, again;
//!   their replays overlap.
//! - **POS clients** (`--pos`) that reconnect with their last cursor and list
//!   today's orders.
//! - **Printers**: three `virtual-printer` processes (the binary next to this
//!   one) registered as the stations' kitchen printers, so every order is
//!   printed over TCP.
//! - **MQTT devices** (`--devices` KDS screens) that send heartbeats and
//!   reconnect now and then.
//! - **Sync**: a `cloud-hub` (the binary next to this one, SQLite, unless
//!   `--no-hub`) that the node syncs every order to; it goes down at 15:00
//!   and comes back at 16:30 on the same address, so the node queues the
//!   afternoon's orders, reconnects and catches up. After the day the bench
//!   waits until the hub has acknowledged everything, and samples its memory too.
//!
//! Progress goes to stderr; a markdown table (simulated time, orders, RSS)
//! goes to stdout. Optionally `--chart FILE.svg` draws RSS and orders over the day.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use loadgen::{login, memory_kib, post_created};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use test_support::Proc;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The store-node binary (default: next to this one).
    #[arg(long)]
    node: Option<PathBuf>,
    /// The virtual-printer binary (default: next to this one).
    #[arg(long)]
    printer: Option<PathBuf>,
    /// The cloud-hub binary the node syncs with (default: next to this one).
    #[arg(long)]
    hub: Option<PathBuf>,
    /// Run the node without a hub.
    #[arg(long)]
    no_hub: bool,
    /// Real minutes that one day of service takes.
    #[arg(long, default_value_t = 6.0)]
    minutes: f64,
    /// Orders over the day (below 9,990: ticket numbers wrap at S-9999).
    #[arg(long, default_value_t = 3000)]
    orders: u64,
    /// KDS screens replaying the stream from 0 on every reload.
    #[arg(long, default_value_t = 3)]
    kds: usize,
    /// POS clients resuming the stream from their cursor.
    #[arg(long, default_value_t = 4)]
    pos: usize,
    /// MQTT devices (KDS screens) sending heartbeats.
    #[arg(long, default_value_t = 4)]
    devices: usize,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
    /// Real seconds of quiet after the day, before the last sample.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Where the node's database goes (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Draw RSS and orders over the day into this SVG file.
    #[arg(long)]
    chart: Option<PathBuf>,
}

/// The store the node is and the hub knows.
const SOAK_STORE: &str = "soak-store";
const HUB_ADMIN: &str = "soakbench-admin-token-0123456789";
/// When (simulated hours) the hub goes down, and comes back.
const HUB_DOWN: (f64, f64) = (15.0, 16.5);

/// The cloud hub the node syncs with: its process while it runs.
struct Hub {
    bin: PathBuf,
    database_url: String,
    /// host:port, kept across restarts so the node finds it again.
    addr: String,
    node_token: String,
    process: Option<Proc>,
    /// The running hub's pid, 0 while it is down (for the memory samples).
    pid: Arc<AtomicU64>,
}

impl Hub {
    /// Starts a hub on a SQLite file in `scratch`, with the soak store and a node token.
    async fn start(bin: PathBuf, scratch: &Path) -> anyhow::Result<Hub> {
        let database_url = format!("sqlite://{}?mode=rwc", scratch.join("hub.db").display());
        let mut hub = Hub {
            bin,
            database_url,
            addr: "127.0.0.1:0".into(),
            node_token: String::new(),
            process: None,
            pid: Arc::new(AtomicU64::new(0)),
        };
        hub.run()?;
        let http = reqwest::Client::new();
        let base = format!("http://{}", hub.addr);
        let store = json!({ "id": SOAK_STORE, "name": "Soak Kitchen" });
        http.post(format!("{base}/api/v1/admin/stores"))
            .bearer_auth(HUB_ADMIN)
            .json(&store)
            .send()
            .await?
            .error_for_status()?;
        let token: Value = http
            .post(format!(
                "{base}/api/v1/admin/stores/{SOAK_STORE}/node-tokens"
            ))
            .bearer_auth(HUB_ADMIN)
            .header("idempotency-key", "soak-node")
            .json(&json!({ "label": "soak node" }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        hub.node_token = token["token"].as_str().context("no node token")?.to_owned();
        Ok(hub)
    }

    /// Starts the process on `addr` (port 0 the first time).
    fn run(&mut self) -> anyhow::Result<()> {
        eprintln!("starting {} on {} ...", self.bin.display(), self.addr);
        let (p, addr) = start(
            &self.bin,
            &["--bind", &self.addr, "--database-url", &self.database_url],
            None,
            &[("HUB_ADMIN_TOKEN", HUB_ADMIN)],
            &["cloud-hub listening on "],
        )?;
        self.addr = addr[0]
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        self.pid.store(u64::from(p.id()), Ordering::Relaxed);
        self.process = Some(p);
        Ok(())
    }

    /// Takes the hub down at [`HUB_DOWN`]`.0` and back up at `.1`.
    async fn outage(mut self, day: Day) -> anyhow::Result<Hub> {
        let until = |hour: f64| async move {
            while day.hour() < hour && !day.over() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        until(HUB_DOWN.0).await;
        eprintln!("the hub goes down ({:.1} h)", day.hour());
        self.pid.store(0, Ordering::Relaxed);
        self.process = None;
        until(HUB_DOWN.1).await;
        self.run()?;
        Ok(self)
    }
}

/// The demo menu's stations, one kitchen printer each.
const STATIONS: [&str; 3] = ["grill", "pizza", "bar"];

/// Starts `bin` with `args` (then `dir`, if any) and `env`, logging warnings to
/// our stderr, and waits for each of `markers` on its stdout
/// ([`test_support::start`]); returns the process and the rest of each line.
fn start(
    bin: &Path,
    args: &[&str],
    dir: Option<&Path>,
    env: &[(&str, &str)],
    markers: &[&str],
) -> anyhow::Result<(Proc, Vec<String>)> {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.arg(d);
    }
    cmd.envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
    test_support::start(cmd, markers).with_context(|| format!("starting {}", bin.display()))
}

fn order_body(i: u64) -> Value {
    let line = |station: &str| match station {
        "grill" => json!({ "item_id": "harbor-classic-burger", "quantity": 2,
            "modifiers": ["burger-doneness-medium", "burger-bun-brioche", "burger-addons-bacon"] }),
        "pizza" => json!({ "item_id": "margherita-pizza", "quantity": 1,
            "modifiers": ["pizza-size-12in", "pizza-crust-thin"] }),
        _ => json!({ "item_id": "fountain-soda", "quantity": 2,
            "modifiers": ["drink-size-large", "soda-choice-cola"] }),
    };
    let mask = i % 7 + 1;
    let lines: Vec<Value> = STATIONS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, s)| line(s))
        .collect();
    json!({ "channel": "pos", "fulfillment": "dine_in", "table": "4", "lines": lines })
}

/// How busy the store is at a simulated hour (0..24): closed until 08:00,
/// peaks at lunch (12:00) and dinner (19:00).
fn busyness(hour: f64) -> f64 {
    if !(8.0..23.0).contains(&hour) {
        return 0.0;
    }
    let peak = |at: f64, width: f64| (-((hour - at) / width).powi(2)).exp();
    0.2 + peak(12.5, 1.2) + 1.3 * peak(19.0, 1.5)
}

/// The share of the day's orders placed by simulated hour `hour`.
fn share_by(hour: f64) -> f64 {
    let steps = 24 * 12;
    let total: f64 = (0..steps).map(|s| busyness(s as f64 / 12.0)).sum();
    let upto: f64 = (0..steps)
        .take_while(|s| (*s as f64 / 12.0) < hour)
        .map(|s| busyness(s as f64 / 12.0))
        .sum();
    upto / total
}

#[derive(Default)]
struct Counts {
    orders: AtomicU64,
    sign_ins: AtomicU64,
    replays: AtomicU64,
    resumes: AtomicU64,
    heartbeats: AtomicU64,
    failures: AtomicU64,
}

/// A clock that maps real time onto a simulated day.
#[derive(Clone, Copy)]
struct Day {
    start: Instant,
    length: Duration,
}

impl Day {
    fn hour(&self) -> f64 {
        24.0 * self.start.elapsed().as_secs_f64() / self.length.as_secs_f64()
    }
    fn over(&self) -> bool {
        self.start.elapsed() >= self.length
    }
}

async fn orders(http: reqwest::Client, base: String, day: Day, total: u64, counts: Arc<Counts>) {
    let url = format!("{base}/api/v1/orders");
    let mut token = login(&http, &base, "cashier", "3000").await.ok();
    let mut shift = 0u64;
    let mut placed = 0u64;
    while !day.over() {
        let hour = day.hour();
        // A shift change every simulated hour: sign in, sign the old session out, one wrong PIN.
        if hour as u64 > shift {
            shift = hour as u64;
            let _ = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"staff_id": "cashier", "pin": "0000"}))
                .send()
                .await;
            if let Ok(new) = login(&http, &base, "cashier", "3000").await {
                if let Some(old) = token.replace(new) {
                    let _ = http
                        .post(format!("{base}/api/v1/auth/logout"))
                        .bearer_auth(old)
                        .send()
                        .await;
                }
                counts.sign_ins.fetch_add(1, Ordering::Relaxed);
            }
        }
        let due = (share_by(hour) * total as f64) as u64;
        while placed < due.min(total) {
            let Some(t) = &token else { break };
            match post_created(
                &http,
                &url,
                t,
                &format!("soak-{placed}"),
                &order_body(placed),
            )
            .await
            {
                Ok(_) => counts.orders.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    eprintln!("order {placed}: {e}");
                    counts.failures.fetch_add(1, Ordering::Relaxed)
                }
            };
            placed += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One event-stream client: from 0 every time (`resume` false, a KDS reload)
/// or from its last cursor (a POS); stays `stay`, then disconnects.
async fn stream_client(
    http: reqwest::Client,
    base: String,
    day: Day,
    resume: bool,
    seed: u64,
    counts: Arc<Counts>,
) {
    let staff = if resume {
        ("cashier", "3000")
    } else {
        ("kitchen", "4000")
    };
    let Ok(token) = login(&http, &base, staff.0, staff.1).await else {
        counts.failures.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let ws_base = base.replacen("http", "ws", 1);
    let mut cursor = 0i64;
    let mut round = seed;
    while !day.over() {
        round = round
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let stay = Duration::from_millis(5_000 + (round >> 33) % 20_000);
        let from = if resume { cursor } else { 0 };
        let url = format!("{ws_base}/api/v1/events?cursor={from}&token={token}");
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
            counts.failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if resume {
            counts.resumes.fetch_add(1, Ordering::Relaxed);
            let _ = http
                .get(format!("{base}/api/v1/orders"))
                .bearer_auth(&token)
                .send()
                .await;
        } else {
            counts.replays.fetch_add(1, Ordering::Relaxed);
        }
        let until = Instant::now() + stay;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until.into(), ws.next()).await {
            if let Ok(text) = msg.to_text()
                && let Ok(v) = serde_json::from_str::<Value>(text)
                && let Some(c) = v["cursor"].as_i64()
            {
                cursor = cursor.max(c);
            }
        }
        let _ = ws.close(None).await;
    }
}

/// An MQTT KDS screen: heartbeats every second, a new connection every 30 s.
async fn device(
    host: String,
    port: u16,
    id: String,
    password: String,
    store: String,
    day: Day,
    counts: Arc<Counts>,
) {
    while !day.over() {
        let mut opts = MqttOptions::new(&id, &host, port);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_credentials(&id, &password);
        let (client, mut events) = AsyncClient::new(opts, 64);
        let driver = tokio::spawn(async move { while events.poll().await.is_ok() {} });
        let _ = client
            .subscribe(format!("store/{store}/broadcast/#"), QoS::AtMostOnce)
            .await;
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until && !day.over() {
            let topic = format!("store/{store}/devices/{id}/status");
            if client
                .publish(topic, QoS::AtMostOnce, false, "online")
                .await
                .is_ok()
            {
                counts.heartbeats.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let _ = client.disconnect().await;
        driver.abort();
    }
}

struct Sample {
    secs: f64,
    hour: f64,
    orders: u64,
    rss_kib: u64,
    /// The hub's, 0 while it is down or when there is none.
    hub_rss_kib: u64,
}

/// Draws the day as an SVG chart: node and hub RSS (MiB, left axis) and the
/// orders placed so far (right axis) over the simulated day, with the hub's
/// outage shaded. SVG, so its labels are real text any browser shows.
fn draw(path: &Path, samples: &[Sample], hub: bool) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let (w, h) = (860.0, 420.0);
    let (left, right, top, bottom) = (70.0, 80.0, 70.0, 60.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let mib = |k: u64| k as f64 / 1024.0;
    let max_mib = samples
        .iter()
        .map(|s| mib(s.rss_kib.max(s.hub_rss_kib)))
        .fold(10.0, f64::max);
    let max_mib = (max_mib / 10.0).ceil() * 10.0;
    let max_orders = samples.iter().map(|s| s.orders).max().unwrap_or(0).max(1) as f64;
    let max_t = samples.last().map_or(1.0, |s| s.secs).max(1.0);
    let x = |secs: f64| left + pw * secs / max_t;
    let y = |v: f64, max: f64| top + ph - ph * v / max;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="DejaVu Sans, sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="16" font-weight="bold">A day of service at one store node: memory and orders</text>
"##
    );
    // Real seconds at a simulated hour: the day runs at a steady pace until its last sample.
    let day_secs = samples
        .iter()
        .find(|s| s.hour >= 24.0)
        .map_or(max_t, |s| s.secs);
    let at = |hour: f64| day_secs * hour / 24.0;
    if hub {
        let (a, b) = (x(at(HUB_DOWN.0)), x(at(HUB_DOWN.1)));
        let _ = write!(
            svg,
            r##"<rect x="{a:.1}" y="{top}" width="{:.1}" height="{ph}" fill="#eeeeee"/>
<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#666">hub down</text>
"##,
            b - a,
            (a + b) / 2.0,
            top + 16.0
        );
    }
    // Axes, grid and labels.
    for i in 0..=5 {
        let v = max_mib * i as f64 / 5.0;
        let yy = y(v, max_mib);
        let o = max_orders * i as f64 / 5.0;
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#dddddd"/>
<text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0} MiB</text>
<text x="{:.1}" y="{:.1}">{o:.0}</text>
"##,
            left + pw,
            left - 6.0,
            yy + 4.0,
            left + pw + 6.0,
            yy + 4.0
        );
    }
    for hour in (0..=24).step_by(4) {
        let xx = x(at(hour as f64));
        let _ = writeln!(
            svg,
            r##"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{hour:02}:00</text>"##,
            top + ph + 18.0
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">time of day (simulated; the points after 24:00 are the quiet period)</text>
<text x="{:.1}" y="{:.1}" text-anchor="end">orders placed</text>
<line x1="{left}" x2="{left}" y1="{top}" y2="{:.1}" stroke="black"/>
<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/>
"##,
        left + pw / 2.0,
        h - 14.0,
        w - 4.0,
        top - 8.0,
        top + ph,
        left + pw,
        top + ph,
        top + ph
    );
    let line = |svg: &mut String, color: &str, value: &dyn Fn(&Sample) -> Option<f64>, max: f64| {
        let mut d = String::new();
        let mut pen_down = false;
        for s in samples {
            match value(s) {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        x(s.secs),
                        y(v, max)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = writeln!(
            svg,
            r##"<path d="{d}" fill="none" stroke="{color}" stroke-width="2.5"/>"##
        );
    };
    line(&mut svg, "#c0392b", &|s| Some(mib(s.rss_kib)), max_mib);
    if hub {
        line(
            &mut svg,
            "#27ae60",
            &|s| (s.hub_rss_kib > 0).then(|| mib(s.hub_rss_kib)),
            max_mib,
        );
    }
    line(&mut svg, "#2c3e91", &|s| Some(s.orders as f64), max_orders);
    let mut legend = vec![
        ("#c0392b", "store node memory (RSS)"),
        ("#2c3e91", "orders placed (right axis)"),
    ];
    if hub {
        legend.insert(1, ("#27ae60", "cloud hub memory (RSS)"));
    }
    for (i, (color, label)) in legend.iter().enumerate() {
        let lx = left + 10.0 + 230.0 * i as f64;
        let _ = write!(
            svg,
            r##"<line x1="{lx:.1}" x2="{:.1}" y1="44" y2="44" stroke="{color}" stroke-width="3"/>
<text x="{:.1}" y="48">{label}</text>
"##,
            lx + 20.0,
            lx + 26.0
        );
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.orders + 10 > domain::ticket::MAX_TICKET {
        bail!("--orders must stay below 9990 (ticket numbers wrap at S-9999)");
    }
    let scratch = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::tempdir_in(d)?
        }
        None => tempfile::tempdir()?,
    };
    let here = std::env::current_exe()?;
    let node_bin = args
        .node
        .clone()
        .unwrap_or_else(|| here.with_file_name("store-node"));
    let printer_bin = args
        .printer
        .clone()
        .unwrap_or_else(|| here.with_file_name("virtual-printer"));

    let hub = match args.no_hub {
        true => None,
        false => {
            let bin = args
                .hub
                .clone()
                .unwrap_or_else(|| here.with_file_name("cloud-hub"));
            Some(Hub::start(bin, scratch.path()).await?)
        }
    };
    let mut node_env = vec![("STORE_NODE__STORE__ID", SOAK_STORE.to_owned())];
    if let Some(h) = &hub {
        node_env.push((
            "STORE_NODE__HUB__URL",
            format!("ws://{}/api/v1/sync", h.addr),
        ));
        node_env.push(("STORE_NODE__HUB__TOKEN", h.node_token.clone()));
    }
    let node_env: Vec<(&str, &str)> = node_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    eprintln!("starting {} ...", node_bin.display());
    let node_dir = scratch.path().join("node");
    let (node, addrs) = start(
        &node_bin,
        &[
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--mqtt-bind",
            "127.0.0.1:0",
            "--data-dir",
        ],
        Some(&node_dir),
        &node_env,
        &["store-node listening on ", "store-node mqtt on "],
    )?;
    let (base, mqtt_addr) = (addrs[0].clone(), addrs[1].clone());
    let pid = node.id();
    let http = reqwest::Client::new();
    let store: Value = http
        .get(format!("{base}/api/v1/store"))
        .send()
        .await?
        .json()
        .await?;
    let store_id = store["id"].as_str().context("no store id")?.to_owned();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_fresh = memory_kib(pid, "VmRSS:").unwrap_or(0);
    eprintln!("fresh demo node: {} MiB", rss_fresh / 1024);

    let manager = login(&http, &base, "manager", "2000").await?;
    let mut printers = Vec::new();
    for station in STATIONS {
        let out = scratch.path().join(format!("printed-{station}"));
        let (p, addr) = start(
            &printer_bin,
            &["--tcp", "127.0.0.1:0", "--name", station, "--out"],
            Some(&out),
            &[],
            &["listening on "],
        )?;
        let port: u16 = addr[0]
            .rsplit_once(':')
            .context("printer address")?
            .1
            .parse()?;
        post_created(
            &http,
            &format!("{base}/api/v1/devices"),
            &manager,
            &format!("soak-printer-{station}"),
            &json!({ "id": format!("{station}-printer"), "kind": "kitchen_printer",
                "name": format!("Kitchen {station}"), "station": station,
                "transport": { "type": "tcp", "host": "127.0.0.1", "port": port } }),
        )
        .await?;
        printers.push(p);
    }

    let counts = Arc::new(Counts::default());
    let day = Day {
        start: Instant::now(),
        length: Duration::from_secs_f64(args.minutes * 60.0),
    };
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(orders(
        http.clone(),
        base.clone(),
        day,
        args.orders,
        counts.clone(),
    )));
    for i in 0..args.kds {
        tasks.push(tokio::spawn(stream_client(
            http.clone(),
            base.clone(),
            day,
            false,
            i as u64,
            counts.clone(),
        )));
    }
    for i in 0..args.pos {
        tasks.push(tokio::spawn(stream_client(
            http.clone(),
            base.clone(),
            day,
            true,
            100 + i as u64,
            counts.clone(),
        )));
    }
    match mqtt_addr.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 = port.parse()?;
            for i in 0..args.devices {
                let id = format!("soak-kds-{i}");
                let created = post_created(
                    &http,
                    &format!("{base}/api/v1/devices"),
                    &manager,
                    &format!("soak-device-{i}"),
                    &json!({ "id": id, "kind": "kds_screen", "name": format!("Screen {i}"),
                        "station": STATIONS[i % 3], "transport": { "type": "mqtt" } }),
                )
                .await?;
                let password = created["mqtt"]["password"]
                    .as_str()
                    .context("no MQTT password")?
                    .to_owned();
                tasks.push(tokio::spawn(device(
                    host.to_owned(),
                    port,
                    id,
                    password,
                    store_id.clone(),
                    day,
                    counts.clone(),
                )));
            }
        }
        None => bail!("the node's MQTT address {mqtt_addr:?} has no port"),
    }

    let hub_pid = hub.as_ref().map(|h| h.pid.clone());
    let hub_rss = || {
        hub_pid
            .as_ref()
            .map(|p| p.load(Ordering::Relaxed))
            .filter(|p| *p != 0)
            .and_then(|p| memory_kib(p as u32, "VmRSS:"))
            .unwrap_or(0)
    };
    let hub_task = hub.map(|h| tokio::spawn(h.outage(day)));
    let mut samples = vec![Sample {
        secs: 0.0,
        hour: 0.0,
        orders: 0,
        rss_kib: memory_kib(pid, "VmRSS:").unwrap_or(0),
        hub_rss_kib: hub_rss(),
    }];
    let mut tick = tokio::time::interval(Duration::from_secs(args.sample_secs));
    tick.tick().await;
    while !day.over() {
        tick.tick().await;
        let s = Sample {
            secs: day.start.elapsed().as_secs_f64(),
            hour: day.hour().min(24.0),
            orders: counts.orders.load(Ordering::Relaxed),
            rss_kib: memory_kib(pid, "VmRSS:").unwrap_or(0),
            hub_rss_kib: hub_rss(),
        };
        eprintln!(
            "{:5.0} s  {:5.1} h  {:5} orders  node {:6.1} MiB  hub {:6.1} MiB",
            s.secs,
            s.hour,
            s.orders,
            s.rss_kib as f64 / 1024.0,
            s.hub_rss_kib as f64 / 1024.0
        );
        samples.push(s);
    }
    for t in tasks {
        let _ = t.await;
    }
    let hub = match hub_task {
        Some(t) => Some(t.await??),
        None => None,
    };
    let caught_up = match &hub {
        Some(_) => Some(hub_caught_up(&http, &base, &manager).await?),
        None => None,
    };
    eprintln!("the day is over; {} s of quiet ...", args.idle_secs);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let idle = Sample {
        secs: day.start.elapsed().as_secs_f64(),
        hour: 24.0,
        orders: counts.orders.load(Ordering::Relaxed),
        rss_kib: memory_kib(pid, "VmRSS:").unwrap_or(0),
        hub_rss_kib: hub_rss(),
    };
    samples.push(idle);
    if let Some(chart) = &args.chart {
        draw(chart, &samples, hub.is_some())?;
    }

    let mib = |k: u64| k as f64 / 1024.0;
    println!("| real time | day time | orders | node RSS | hub RSS |");
    println!("|---:|---:|---:|---:|---:|");
    for s in &samples {
        let hh = s.hour.floor() as u64;
        let mm = ((s.hour - hh as f64) * 60.0) as u64;
        let hub = match (&hub, s.hub_rss_kib) {
            (None, _) => "no hub".to_owned(),
            (Some(_), 0) => "down".to_owned(),
            (Some(_), k) => format!("{:.1} MiB", mib(k)),
        };
        println!(
            "| {:.0} s | {hh:02}:{mm:02} | {} | {:.1} MiB | {hub} |",
            s.secs,
            s.orders,
            mib(s.rss_kib)
        );
    }
    println!();
    if let Some(secs) = caught_up {
        println!(
            "The hub was down from {:02}:{:02} to {:02}:{:02}; after the day it held every order the node took {secs:.1} s after the last one.",
            HUB_DOWN.0 as u64,
            (HUB_DOWN.0.fract() * 60.0) as u64,
            HUB_DOWN.1 as u64,
            (HUB_DOWN.1.fract() * 60.0) as u64,
        );
    }
    let c = &counts;
    println!(
        "Fresh demo node {:.1} MiB; after the day and {} s of quiet {:.1} MiB. {} orders, {} sign-ins \
         (plus one wrong PIN each), {} KDS replays from cursor 0, {} POS resumes, {} MQTT heartbeats, \
         {} failures.",
        mib(rss_fresh),
        args.idle_secs,
        mib(samples.last().map_or(0, |s| s.rss_kib)),
        c.orders.load(Ordering::Relaxed),
        c.sign_ins.load(Ordering::Relaxed),
        c.replays.load(Ordering::Relaxed),
        c.resumes.load(Ordering::Relaxed),
        c.heartbeats.load(Ordering::Relaxed),
        c.failures.load(Ordering::Relaxed),
    );
    drop(printers);
    drop(node);
    drop(hub);
    Ok(())
}

/// Waits until the node says the hub has acknowledged all its events; returns how long that took.
async fn hub_caught_up(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    loop {
        let status: Value = http
            .get(format!("{base}/api/v1/sync/status"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if status["connected"] == true && status["events_waiting"] == 0 {
            return Ok(started.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            bail!("the hub did not catch up within 5 minutes: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
