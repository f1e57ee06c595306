//! `devicebench`: the device figures of BENCHMARKS.md ("Devices"), measured
//! against the real release `store-node`, started as its own process with the
//! demo menu, next to same-run baselines.
//!
//! 1. **Order to kitchen ticket.** Three virtual ESC/POS network printers
//!    (grill, pizza, bar) run in this process and are registered as the
//!    stations' kitchen printers. Orders with lines for one to three stations
//!    are placed on an open-loop schedule (`--rate` per second for
//!    `--seconds`, each sent on time whether or not earlier ones were
//!    answered). For every order: from its HTTP 201 (committed and fsynced)
//!    and from sending its request, to the last byte of its last kitchen
//!    ticket at the printers (matched by the ticket number on the decoded
//!    page). Baselines: the HTTP acknowledgement itself, a ticket's bytes sent
//!    straight to a virtual printer over TCP, the `DLE EOT` status query the
//!    print lane makes before each job, and both together through the same
//!    driver calls the lane uses.
//! 2. **MQTT broker throughput.** One rumqttc client subscribes to a subtree
//!    and publishes 64-byte messages into it (each message crosses the broker
//!    once; publisher and subscriber share the connection), at QoS 0 and
//!    QoS 1: through the node's broker (its per-device credential and ACL
//!    proxy in front of rumqttd, as a registered device in its own subtree)
//!    and through the machine's mosquitto, in the same run. A burst measures
//!    throughput; a paced run measures one-way latency without queueing.
//!    Each payload carries its sequence number and send time.
//!
//! Progress goes to stderr; a markdown section ready for BENCHMARKS.md goes to
//! stdout. Exits non-zero when a ticket or a message went missing.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use drivers::printer_sim::{Job, SimOptions, VirtualPrinter};
use drivers::transport::{self, Transport};
use hdrhistogram::Histogram;
use loadgen::{cpu_seconds, login, memory_kib, post_created};
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Packet, QoS, SubscribeReasonCode};
use serde_json::{Value, json};
use test_support::{Proc, node_command, start};
use tokio::sync::mpsc;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The store-node binary (default: next to this one).
    #[arg(long)]
    node: Option<PathBuf>,
    /// Length of the order phase.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Orders per second in the order phase (open loop).
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// Messages of each QoS 0 burst.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Messages of each QoS 1 burst (default: a fifth of --messages).
    #[arg(long)]
    qos1_messages: Option<u64>,
    /// Messages per second of the paced latency runs (2 s each).
    #[arg(long, default_value_t = 1000)]
    paced_rate: u64,
    /// The mosquitto to compare with (anonymous access).
    #[arg(long, default_value = "127.0.0.1:1883")]
    mosquitto: String,
    /// Where the node's database goes (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The node's per-device PUBLISH pacing (`mqtt.max_publish_rate`); 0, the default here, turns
    /// it off so the broker is compared with mosquitto as it is. The node's own default is 1000/s.
    #[arg(long, default_value_t = 0)]
    publish_rate: u32,
}

/// Latencies are recorded in microseconds, up to a minute.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_micros().clamp(1, 60_000_000) as u64);
}

/// A quantile in milliseconds.
fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn max_ms(h: &Histogram<u64>) -> f64 {
    h.max() as f64 / 1000.0
}

// ------------------------------------------------------------------ node

/// A running node: its process, HTTP base URL and MQTT address.
struct Node {
    process: Proc,
    base: String,
    mqtt: String,
}

fn start_node(bin: &Path, dir: &Path, publish_rate: u32) -> anyhow::Result<Node> {
    let mut cmd = node_command(bin, dir);
    cmd.env(
        "STORE_NODE__MQTT__MAX_PUBLISH_RATE",
        publish_rate.to_string(),
    );
    let (process, found) = start(cmd, &["store-node listening on ", "store-node mqtt on "])?;
    let [base, mqtt] = <[String; 2]>::try_from(found).expect("one line per marker");
    Ok(Node {
        process,
        base,
        mqtt,
    })
}

/// The pid of the local mosquitto, if its pid file says.
fn mosquitto_pid() -> Option<u32> {
    std::fs::read_to_string("/run/mosquitto/mosquitto.pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

// ------------------------------------------------------------------ http

/// Registers a device; returns its MQTT password.
async fn register(
    http: &reqwest::Client,
    base: &str,
    manager: &str,
    device: Value,
) -> anyhow::Result<String> {
    let id = device["id"].as_str().unwrap_or("device").to_owned();
    let r = post_created(
        http,
        &format!("{base}/api/v1/devices"),
        manager,
        &format!("devicebench-register-{id}"),
        &device,
    )
    .await?;
    Ok(r["mqtt"]["password"]
        .as_str()
        .context("no MQTT password in the registration")?
        .to_owned())
}

// --------------------------------------------------- order -> kitchen ticket

/// The demo menu's stations, one kitchen printer each.
const STATIONS: [&str; 3] = ["grill", "pizza", "bar"];

/// A typical line of the station's, with its modifiers.
fn line_for(station: &str) -> Value {
    match station {
        "grill" => json!({ "item_id": "harbor-classic-burger", "quantity": 2,
            "modifiers": ["burger-doneness-medium", "burger-bun-brioche", "burger-addons-bacon"] }),
        "pizza" => json!({ "item_id": "margherita-pizza", "quantity": 1,
            "modifiers": ["pizza-size-12in", "pizza-crust-thin"] }),
        _ => json!({ "item_id": "fountain-soda", "quantity": 2,
            "modifiers": ["drink-size-large", "soda-choice-cola"] }),
    }
}

/// The stations of the `i`-th order: the seven non-empty subsets of the three
/// stations in turn (three with one station, three with two, one with all).
fn stations_of(i: u64) -> Vec<&'static str> {
    let mask = i % 7 + 1;
    STATIONS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, s)| *s)
        .collect()
}

fn order_body(stations: &[&str]) -> Value {
    json!({
        "channel": "pos", "fulfillment": "dine_in", "table": "4",
        "lines": stations.iter().map(|s| line_for(s)).collect::<Vec<_>>(),
    })
}

/// An order the node acknowledged.
struct Placed {
    ticket: String,
    stations: Vec<&'static str>,
    sent: Instant,
    ack: Instant,
}

async fn place(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    stations: Vec<&'static str>,
) -> anyhow::Result<Placed> {
    let body = order_body(&stations);
    let sent = Instant::now();
    let o = post_created(http, &format!("{base}/api/v1/orders"), token, key, &body).await?;
    let ack = Instant::now();
    Ok(Placed {
        ticket: o["ticket"].as_str().context("no ticket number")?.to_owned(),
        stations,
        sent,
        ack,
    })
}

/// The store ticket number (`S-0042`) printed on a page, if any.
fn ticket_on(text: &str) -> Option<String> {
    text.match_indices("S-").find_map(|(at, _)| {
        let digits = text.get(at + 2..at + 6)?;
        let boundary = !text
            .get(..at)?
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let after = text.get(at + 6..)?.chars().next();
        (boundary
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !after.is_some_and(|c| c.is_ascii_digit()))
        .then(|| format!("S-{digits}"))
    })
}

/// Waits for `expected` jobs per printer (station), until `deadline`; then
/// gives late duplicates `grace` to show up.
fn collect_jobs(
    printers: &[(&'static str, Arc<VirtualPrinter>)],
    expected: &HashMap<&'static str, usize>,
    deadline: Instant,
    grace: Duration,
) -> Vec<(&'static str, Job)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = printers
            .iter()
            .map(|(station, printer)| {
                let want = expected.get(station).copied().unwrap_or(0);
                scope.spawn(move || {
                    let mut jobs = Vec::new();
                    while jobs.len() < want {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match printer.wait_job(left) {
                            Some(job) => jobs.push((*station, job)),
                            None => break,
                        }
                    }
                    while let Some(job) = printer.wait_job(grace) {
                        jobs.push((*station, job));
                    }
                    jobs
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// What the order phase measured.
struct Tickets {
    orders: usize,
    expected: usize,
    printed: usize,
    missing: usize,
    /// Tickets printed more than once, or for no order of this run.
    extra: usize,
    /// Orders whose last ticket was printed before their HTTP answer arrived (counted as 0).
    early: usize,
    ack_to_last: Histogram<u64>,
    ack_to_first: Histogram<u64>,
    sent_to_last: Histogram<u64>,
    http: Histogram<u64>,
    /// The bytes of one printed ticket, as the node sent them.
    sample: Vec<u8>,
}

async fn order_phase(
    http: &reqwest::Client,
    base: &str,
    cashier: &str,
    printers: &[(&'static str, Arc<VirtualPrinter>)],
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Tickets> {
    let total = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tick.tick().await;
        let (http, base, token) = (http.clone(), base.to_owned(), cashier.to_owned());
        tasks.push(tokio::spawn(async move {
            place(
                &http,
                &base,
                &token,
                &format!("devicebench-{i}"),
                stations_of(i),
            )
            .await
        }));
        if i % rate == 0 && i > 0 {
            eprintln!("  {:>3} s  {i:>6} orders sent", i / rate);
        }
    }
    let mut placed = Vec::with_capacity(tasks.len());
    for t in tasks {
        placed.push(t.await??);
    }
    let mut expected: HashMap<&'static str, usize> = HashMap::new();
    for p in &placed {
        for s in &p.stations {
            *expected.entry(s).or_default() += 1;
        }
    }
    eprintln!("  every order acknowledged; waiting for the last tickets ...");
    let waited = {
        let printers = printers.to_vec();
        let expected = expected.clone();
        tokio::task::spawn_blocking(move || {
            collect_jobs(
                &printers,
                &expected,
                Instant::now() + Duration::from_secs(30),
                Duration::from_millis(500),
            )
        })
        .await?
    };

    // (ticket, station) -> when its last byte arrived, for the first copy; later copies are extra.
    let mut printed: HashMap<(String, &'static str), Instant> = HashMap::new();
    let mut extra = 0;
    let mut sample = Vec::new();
    for (station, job) in waited {
        let Some(ticket) = ticket_on(&job.page.to_text()) else {
            extra += 1;
            continue;
        };
        if sample.is_empty() {
            sample = job.raw.clone();
        }
        if printed.insert((ticket, station), job.received_at).is_some() {
            extra += 1;
        }
    }
    let mut t = Tickets {
        orders: placed.len(),
        expected: expected.values().sum(),
        printed: 0,
        missing: 0,
        extra,
        early: 0,
        ack_to_last: histogram(),
        ack_to_first: histogram(),
        sent_to_last: histogram(),
        http: histogram(),
        sample,
    };
    for p in &placed {
        record(&mut t.http, p.ack.duration_since(p.sent));
        let mut at: Vec<Instant> = Vec::new();
        for s in &p.stations {
            match printed.remove(&(p.ticket.clone(), *s)) {
                Some(when) => at.push(when),
                None => t.missing += 1,
            }
        }
        t.printed += at.len();
        if at.len() < p.stations.len() {
            continue;
        }
        let (Some(first), Some(last)) = (at.iter().min(), at.iter().max()) else {
            continue;
        };
        if *last < p.ack {
            t.early += 1;
        }
        record(&mut t.ack_to_last, last.saturating_duration_since(p.ack));
        record(&mut t.ack_to_first, first.saturating_duration_since(p.ack));
        record(&mut t.sent_to_last, last.duration_since(p.sent));
    }
    // Whatever is left was printed for no order of this phase.
    t.extra += printed.len();
    Ok(t)
}

/// What the device-I/O baselines measured, each until the last byte reached the printer.
struct Raw {
    tcp: Histogram<u64>,
    status: Histogram<u64>,
    status_and_send: Histogram<u64>,
}

/// Sends `bytes` to a fresh virtual printer `n` times each way, one at a time.
fn device_baselines(bytes: &[u8], n: usize) -> anyhow::Result<Raw> {
    let printer = VirtualPrinter::tcp(
        "127.0.0.1:0",
        SimOptions {
            name: "baseline".into(),
            ..SimOptions::default()
        },
    )?;
    let addr = printer.addr().context("the printer has no address")?;
    let line = Transport::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
    };
    let wait = |start: Instant| -> anyhow::Result<Duration> {
        let job = printer
            .wait_job(Duration::from_secs(5))
            .context("the baseline printer printed nothing")?;
        Ok(job.received_at.saturating_duration_since(start))
    };
    let mut raw = Raw {
        tcp: histogram(),
        status: histogram(),
        status_and_send: histogram(),
    };
    for _ in 0..n {
        // Raw TCP: connect, write, close.
        let start = Instant::now();
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(bytes)?;
        drop(stream);
        record(&mut raw.tcp, wait(start)?);

        // The status query alone (four DLE EOT round trips on their own connection).
        let start = Instant::now();
        transport::query_status(&line, Duration::from_millis(1500))?;
        record(&mut raw.status, start.elapsed());

        // What the print lane does per job: status query, then send and wait for the close.
        let start = Instant::now();
        transport::query_status(&line, Duration::from_millis(1500))?;
        transport::send(&line, bytes, Duration::from_secs(10))?;
        record(&mut raw.status_and_send, wait(start)?);
    }
    printer.stop();
    Ok(raw)
}

// ------------------------------------------------------------------ mqtt

const PAYLOAD: usize = 64;

/// Where and as whom one MQTT client connects, and the topics it uses.
#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    client_id: String,
    credentials: Option<(String, String)>,
    /// Published to.
    topic: String,
    /// Subscribed to; covers `topic`.
    filter: String,
}

/// One MQTT run: how many arrived and how fast.
struct Flow {
    sent: u64,
    received: u64,
    duplicates: u64,
    /// From the first publish call to the last arrival.
    elapsed: Duration,
    latency: Histogram<u64>,
    /// CPU seconds the broker process spent, when it could be read.
    broker_cpu: Option<f64>,
}

impl Flow {
    fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What the event-loop task hands the collector.
enum Incoming {
    SubAck(bool),
    /// Arrival time, sequence number, send time (ns since the bench's epoch).
    Message(Instant, u64, u64),
    Failed(String),
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// Publishes `n` messages (paced at `pace` per second, or as fast as the
/// client takes them) into `target.topic` and receives them on the same
/// connection's subscription.
async fn mqtt_flow(
    target: &Target,
    qos: QoS,
    n: u64,
    pace: Option<u64>,
    epoch: Instant,
    broker_pid: Option<u32>,
) -> anyhow::Result<Flow> {
    let mut opts = MqttOptions::new(&target.client_id, &target.host, target.port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(true);
    opts.set_inflight(100);
    if let Some((user, password)) = &target.credentials {
        opts.set_credentials(user, password);
    }
    let (client, mut events) = AsyncClient::new(opts, 1024);
    // Without TCP_NODELAY the client's own Nagle delay (a PUBACK held behind
    // an unacknowledged PUBLISH) would dominate QoS 1 latency on both brokers.
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    events.set_network_options(network);
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The event loop runs in its own task (it must keep polling to send, too)
    // and timestamps each message as soon as it is decoded.
    let driver = tokio::spawn(async move {
        loop {
            let incoming = match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = Instant::now();
                    match (u64_at(&p.payload, 0), u64_at(&p.payload, 8)) {
                        (Some(seq), Some(sent)) => Incoming::Message(at, seq, sent),
                        _ => continue,
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => Incoming::SubAck(
                    ack.return_codes
                        .iter()
                        .all(|c| matches!(c, SubscribeReasonCode::Success(_))),
                ),
                Ok(_) => continue,
                Err(e) => Incoming::Failed(e.to_string()),
            };
            let failed = matches!(incoming, Incoming::Failed(_));
            if tx.send(incoming).is_err() || failed {
                return;
            }
        }
    });
    client.subscribe(&target.filter, qos).await?;
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(Incoming::SubAck(true))) => {}
        Ok(Some(Incoming::SubAck(false))) => bail!("the broker refused the subscription"),
        Ok(Some(Incoming::Failed(e))) => bail!("MQTT connection failed: {e}"),
        Ok(Some(Incoming::Message(..))) => bail!("a message arrived before the SUBACK"),
        Ok(None) | Err(_) => bail!("no SUBACK within 10 s"),
    }

    let cpu_before = broker_pid.and_then(cpu_seconds);
    let start = Instant::now();
    let publisher = {
        let (client, topic) = (client.clone(), target.topic.clone());
        tokio::spawn(async move {
            let mut tick = pace.map(|p| {
                let mut t = tokio::time::interval(Duration::from_nanos(1_000_000_000 / p.max(1)));
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            for seq in 0..n {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                let mut payload = vec![0x2au8; PAYLOAD];
                let sent = epoch.elapsed().as_nanos() as u64;
                payload[..8].copy_from_slice(&seq.to_le_bytes());
                payload[8..16].copy_from_slice(&sent.to_le_bytes());
                client.publish(&topic, qos, false, payload).await?;
            }
            anyhow::Ok(())
        })
    };

    let mut seen = vec![false; n as usize];
    let (mut received, mut duplicates) = (0u64, 0u64);
    let mut latency = histogram();
    let mut last = start;
    let mut failure = None;
    let give_up = start + Duration::from_secs(120);
    // After the publisher is done, this much silence means the rest is lost.
    let quiet = Duration::from_secs(3);
    let mut next_report = start + Duration::from_secs(1);
    while received < n && Instant::now() < give_up {
        let idle_limit = if publisher.is_finished() {
            quiet
        } else {
            Duration::from_millis(200)
        };
        match tokio::time::timeout(idle_limit, rx.recv()).await {
            Ok(Some(Incoming::Message(at, seq, sent))) => {
                let Some(slot) = seen.get_mut(seq as usize) else {
                    continue;
                };
                if *slot {
                    duplicates += 1;
                    continue;
                }
                *slot = true;
                received += 1;
                last = at;
                let sent_at = epoch + Duration::from_nanos(sent);
                record(&mut latency, at.saturating_duration_since(sent_at));
            }
            Ok(Some(Incoming::Failed(e))) => {
                failure = Some(e);
                break;
            }
            Ok(Some(Incoming::SubAck(_))) => {}
            Ok(None) => break,
            Err(_) if publisher.is_finished() => break,
            Err(_) => {}
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(1);
            eprintln!(
                "    {:>4.0} s  {received:>7} of {n} received",
                start.elapsed().as_secs_f64()
            );
        }
    }
    let cpu_after = broker_pid.and_then(cpu_seconds);
    let published = if publisher.is_finished() {
        publisher.await?
    } else {
        publisher.abort();
        Err(anyhow::anyhow!("the publisher had not finished"))
    };
    let _ = client.disconnect().await;
    // Let the DISCONNECT go out before the event loop stops.
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    if let Some(e) = failure {
        bail!("MQTT connection failed during the run: {e}");
    }
    published?;
    Ok(Flow {
        sent: n,
        received,
        duplicates,
        elapsed: last.saturating_duration_since(start),
        latency,
        broker_cpu: cpu_before.zip(cpu_after).map(|(a, b)| b - a),
    })
}

/// The four runs of one broker, or why it could not be measured.
struct BrokerRuns {
    name: &'static str,
    runs: Vec<(QoS, Flow, Flow)>,
}

async fn broker_runs(
    name: &'static str,
    target: &Target,
    bursts: &[(QoS, u64)],
    paced_rate: u64,
    epoch: Instant,
    pid: Option<u32>,
) -> anyhow::Result<BrokerRuns> {
    eprintln!("  {name}: warm-up, 1000 messages at QoS 0");
    mqtt_flow(target, QoS::AtMostOnce, 1000, None, epoch, None).await?;
    let mut runs = Vec::new();
    for &(qos, n) in bursts {
        eprintln!("  {name}: burst of {n} messages at QoS {}", qos as u8);
        let burst = mqtt_flow(target, qos, n, None, epoch, pid).await?;
        let paced_n = paced_rate * 2;
        eprintln!(
            "  {name}: {paced_n} messages paced at {paced_rate}/s, QoS {}",
            qos as u8
        );
        let paced = mqtt_flow(target, qos, paced_n, Some(paced_rate), epoch, None).await?;
        runs.push((qos, burst, paced));
    }
    Ok(BrokerRuns { name, runs })
}

// ------------------------------------------------------------------ main

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    // Ticket numbers wrap after S-9999: more orders could not be told apart.
    if args.rate * args.seconds + 10 > domain::ticket::MAX_TICKET {
        bail!("--rate × --seconds must stay below 9990 orders (ticket numbers wrap at S-9999)");
    }
    let qos1_messages = args.qos1_messages.unwrap_or(args.messages / 5);
    let scratch = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::tempdir_in(d)?
        }
        None => tempfile::tempdir()?,
    };
    let bin = match &args.node {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.with_file_name("store-node"),
    };

    eprintln!("starting {} ...", bin.display());
    let node = start_node(&bin, &scratch.path().join("node"), args.publish_rate)?;
    let pid = node.process.id();
    let base = node.base.clone();
    let http = reqwest::Client::builder().build()?;
    let manager = login(&http, &base, "manager", "2000").await?;
    let cashier = login(&http, &base, "cashier", "3000").await?;
    let store: Value = http
        .get(format!("{base}/api/v1/store"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let store_id = store["id"].as_str().context("no store id")?.to_owned();
    let rss_start = memory_kib(pid, "VmRSS:");

    // ---- benchmark 1
    eprintln!("tickets: starting three virtual printers and registering them ...");
    let mut printers = Vec::new();
    for station in STATIONS {
        let printer = Arc::new(VirtualPrinter::tcp(
            "127.0.0.1:0",
            SimOptions {
                name: format!("kitchen-{station}"),
                ..SimOptions::default()
            },
        )?);
        let port = printer.addr().context("the printer has no address")?.port();
        register(
            &http,
            &base,
            &manager,
            json!({ "id": format!("{station}-printer"), "kind": "kitchen_printer",
                "name": format!("Kitchen {station}"), "station": station,
                "transport": { "type": "tcp", "host": "127.0.0.1", "port": port } }),
        )
        .await?;
        printers.push((station, printer));
    }
    eprintln!("tickets: warm-up, 10 orders for every station ...");
    let mut warm = Vec::new();
    for i in 0..10 {
        warm.push(
            place(
                &http,
                &base,
                &cashier,
                &format!("devicebench-warm-{i}"),
                STATIONS.to_vec(),
            )
            .await?,
        );
    }
    let all: HashMap<&'static str, usize> = STATIONS.iter().map(|s| (*s, warm.len())).collect();
    let got = {
        let printers = printers.clone();
        tokio::task::spawn_blocking(move || {
            collect_jobs(
                &printers,
                &all,
                Instant::now() + Duration::from_secs(30),
                Duration::from_millis(200),
            )
        })
        .await?
    };
    if got.len() != warm.len() * STATIONS.len() {
        bail!(
            "warm-up: {} of {} tickets printed",
            got.len(),
            warm.len() * STATIONS.len()
        );
    }
    eprintln!(
        "tickets: {} orders/s for {} s (open loop) ...",
        args.rate, args.seconds
    );
    let tickets = order_phase(&http, &base, &cashier, &printers, args.rate, args.seconds).await?;
    let rss_after_orders = memory_kib(pid, "VmRSS:");
    eprintln!(
        "tickets: baselines, a {}-byte ticket straight to a virtual printer, 200 times ...",
        tickets.sample.len()
    );
    let sample = tickets.sample.clone();
    let raw = tokio::task::spawn_blocking(move || device_baselines(&sample, 200)).await??;

    // ---- benchmark 2
    eprintln!("mqtt: registering a device for the node's broker ...");
    let device = "bench-kds";
    let password = register(
        &http,
        &base,
        &manager,
        json!({ "id": device, "kind": "kds_screen", "name": "Bench KDS",
            "station": "grill", "transport": { "type": "mqtt" } }),
    )
    .await?;
    let (node_host, node_port) = node
        .mqtt
        .rsplit_once(':')
        .context("the node's MQTT address has no port")?;
    let node_target = Target {
        host: node_host.to_owned(),
        port: node_port.parse()?,
        client_id: device.to_owned(),
        credentials: Some((device.to_owned(), password)),
        topic: format!("store/{store_id}/devices/{device}/bench"),
        filter: format!("store/{store_id}/devices/{device}/#"),
    };
    let (mosq_host, mosq_port) = args
        .mosquitto
        .rsplit_once(':')
        .context("--mosquitto needs host:port")?;
    let me = std::process::id();
    let mosq_target = Target {
        host: mosq_host.to_owned(),
        port: mosq_port.parse()?,
        client_id: format!("devicebench-{me}"),
        credentials: None,
        topic: format!("devicebench/{me}/bench"),
        filter: format!("devicebench/{me}/#"),
    };
    let bursts = [
        (QoS::AtMostOnce, args.messages),
        (QoS::AtLeastOnce, qos1_messages),
    ];
    let epoch = Instant::now();
    let node_cpu_before = cpu_seconds(pid);
    let node_runs = broker_runs(
        "store node",
        &node_target,
        &bursts,
        args.paced_rate,
        epoch,
        Some(pid),
    )
    .await?;
    let node_cpu_after = cpu_seconds(pid);
    let mosq_runs = broker_runs(
        "mosquitto",
        &mosq_target,
        &bursts,
        args.paced_rate,
        epoch,
        mosquitto_pid(),
    )
    .await;
    let rss_end = memory_kib(pid, "VmRSS:");
    let hwm = memory_kib(pid, "VmHWM:");

    // ---- report
    let t = &tickets;
    println!("#### Order committed -> kitchen ticket printed");
    println!();
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| orders at {}/s for {} s (open loop), 1 to 3 stations each | {} orders, {} tickets ({:.2} per order) |",
        args.rate,
        args.seconds,
        t.orders,
        t.expected,
        t.expected as f64 / t.orders.max(1) as f64
    );
    println!(
        "| tickets printed / missing / extra (duplicates or unknown) | {} / **{}** / {} |",
        t.printed, t.missing, t.extra
    );
    let row = |label: &str, h: &Histogram<u64>| {
        println!(
            "| {label} p50 / p90 / p99 / max | {:.2} / {:.2} / **{:.2}** / {:.2} ms |",
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            max_ms(h)
        );
    };
    row(
        "HTTP 201 -> last byte of the order's last ticket",
        &t.ack_to_last,
    );
    row(
        "HTTP 201 -> last byte of the order's first ticket",
        &t.ack_to_first,
    );
    row(
        "request sent -> last byte of the order's last ticket",
        &t.sent_to_last,
    );
    println!(
        "| orders whose last ticket was printed before their 201 arrived (counted as 0) | {} of {} |",
        t.early,
        t.ack_to_last.len()
    );
    let pair = |label: &str, h: &Histogram<u64>| {
        println!(
            "| baseline: {label} p50 / p99 | {:.2} / {:.2} ms |",
            ms(h, 0.5),
            ms(h, 0.99)
        );
    };
    println!(
        "| baseline: HTTP request sent -> 201 (same orders) p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        ms(&t.http, 0.5),
        ms(&t.http, 0.99),
        max_ms(&t.http)
    );
    pair(
        &format!(
            "raw TCP: connect, write a {}-byte ticket, close -> last byte (200 times)",
            t.sample.len()
        ),
        &raw.tcp,
    );
    pair(
        "`DLE EOT` 1-4 status query on its own connection (the lane's check before each job)",
        &raw.status,
    );
    pair(
        "status query + send through `drivers::transport` (the lane's device I/O per job) -> last byte",
        &raw.status_and_send,
    );
    println!();

    println!(
        "#### MQTT: publish -> receive, one client subscribed to the subtree it publishes into"
    );
    println!();
    println!(
        "| broker | QoS | burst: received / sent | burst: msgs/s | burst latency p50 / p99 | broker CPU per msg sent | paced {}/s: latency p50 / p99 / max |",
        args.paced_rate
    );
    println!("|---|---|---|---|---|---|---|");
    let mut lost = 0;
    let mut print_runs = |r: &BrokerRuns| {
        for (qos, burst, paced) in &r.runs {
            lost += (burst.sent - burst.received) + (paced.sent - paced.received);
            let cpu = burst
                .broker_cpu
                .map(|c| format!("{:.1} µs", c / burst.sent.max(1) as f64 * 1e6))
                .unwrap_or_else(|| "n/a".into());
            let dup = if burst.duplicates + paced.duplicates > 0 {
                format!(" ({} duplicates)", burst.duplicates + paced.duplicates)
            } else {
                String::new()
            };
            println!(
                "| {} | {} | {} / {}{dup} | **{:.0}** | {:.2} / {:.2} ms | {cpu} | {:.3} / **{:.3}** / {:.3} ms |",
                r.name,
                *qos as u8,
                burst.received,
                burst.sent,
                burst.rate(),
                ms(&burst.latency, 0.5),
                ms(&burst.latency, 0.99),
                ms(&paced.latency, 0.5),
                ms(&paced.latency, 0.99),
                max_ms(&paced.latency)
            );
        }
    };
    print_runs(&node_runs);
    match &mosq_runs {
        Ok(r) => print_runs(r),
        Err(e) => println!(
            "| mosquitto ({}) | - | not measured: {e} | | | | |",
            args.mosquitto
        ),
    }
    println!();
    let kib = |v: Option<u64>| {
        v.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "Store node memory (VmRSS): {} after start and registration, {} after the order phase, {} after the MQTT runs (peak VmHWM {}).",
        kib(rss_start),
        kib(rss_after_orders),
        kib(rss_end),
        kib(hwm)
    );
    if let (Some(a), Some(b)) = (node_cpu_before, node_cpu_after) {
        println!(
            "Store node CPU over all its MQTT runs (warm-up included): {:.2} s.",
            b - a
        );
    }
    let mut failures = Vec::new();
    if t.missing > 0 {
        failures.push(format!("{} kitchen tickets never printed", t.missing));
    }
    if lost > 0 {
        failures.push(format!("{lost} MQTT messages never arrived"));
    }
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    println!("**Lost: {}.**", failures.join(", "));
    eprintln!("devicebench: {}", failures.join(", "));
    Ok(ExitCode::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_ticket_number_on_a_page() {
        assert_eq!(
            ticket_on("[6x6] **S-0042**\nTable 4"),
            Some("S-0042".into())
        );
        assert_eq!(ticket_on("BUS-0042 S-12345 S-0007"), Some("S-0007".into()));
        assert_eq!(ticket_on("no number S- here S-12"), None);
        assert_eq!(ticket_on("ends with S-004"), None);
    }

    #[test]
    fn every_order_has_one_to_three_stations() {
        let counts: Vec<usize> = (0..7).map(|i| stations_of(i).len()).collect();
        assert_eq!(counts.iter().sum::<usize>(), 12);
        assert!(counts.iter().all(|c| (1..=3).contains(c)));
    }
}
