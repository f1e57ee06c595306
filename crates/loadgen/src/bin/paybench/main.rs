//! `paybench`: the figures of card payments in BENCHMARKS.md (issue 13), measured
//! against the real release binaries: a `cloud-hub` (SQLite file, or a fresh
//! PostgreSQL database with `--database postgres`) with card payments pointed at a
//! release `fake-stripe` that adds `--latency-ms` to every API call, and a
//! `store-node` syncing with the hub as the store's node (the store takes online
//! orders only while its node is reachable).
//!
//! 1. Baseline, same run: `--clients` clients create Checkout Sessions at the fake
//!    directly (form-encoded `POST /v1/checkout/sessions`, each with its own
//!    Idempotency-Key, as Stripe's API takes them) for `--seconds`.
//! 2. Checkout creation: `--clients` signed-up customers place card orders
//!    (`POST /api/v1/stores/{id}/orders` with `payment: card`, each with its own
//!    Idempotency-Key) for `--seconds`; each answer must be the waiting order with
//!    its `checkout_url`.
//! 3. Webhooks: the first `--webhook-orders` of those orders are paid at the fake
//!    (its control endpoint; it sends no webhooks itself), the Events it recorded
//!    (`checkout.session.completed`, `payment_intent.amount_capturable_updated`)
//!    are read from its `GET /v1/events` and delivered to the hub's
//!    `POST /api/v1/payments/stripe/webhook` by `--clients` clients, each signed as
//!    Stripe signs (`fake_stripe::signature_header`); then every order must be
//!    placed and authorised at the hub; then every Event is delivered again (a
//!    redelivery, freshly signed), which the hub must answer as a duplicate.
//!
//! Progress goes to stderr; a markdown section to stdout. Exits non-zero when a
//! request failed or an order did not end where it should.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use loadgen::{BENCH_STORE, BenchHub, Phase, Until, closed_loop, histogram, json_req, ms};
use loadgen::{refused, uuid_like};
use serde_json::{Value, json};
use test_support::start;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Length of the baseline and the checkout phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients in every phase (in the checkout phase, one customer each).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Latency the fake adds to every API call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// How many of the checkout phase's orders are paid and have their webhooks delivered.
    #[arg(long, default_value_t = 2000)]
    webhook_orders: usize,
    #[command(flatten)]
    target: loadgen::HubTarget,
}

const SECRET_KEY: &str = "sk_test_paybench";
const WEBHOOK_SECRET: &str = "whsec_paybench";
const WEBHOOK: &str = "/api/v1/payments/stripe/webhook";

/// A card order the checkout phase created: its id, its checkout session, and the
/// client (= customer) that placed it.
#[derive(Clone, Debug)]
struct CardOrder {
    id: String,
    session: String,
    client: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = loadgen::bin_dir(args.target.bin_dir.as_deref())?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;

    eprintln!(
        "starting fake-stripe ({} ms per API call) ...",
        args.latency_ms
    );
    let mut fake_cmd = Command::new(bin_dir.join("fake-stripe"));
    fake_cmd
        .args(["--bind", "127.0.0.1:0", "--latency-ms"])
        .arg(args.latency_ms.to_string())
        .env("FAKE_STRIPE_SECRET_KEY", SECRET_KEY)
        .env("FAKE_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env_remove("FAKE_STRIPE_WEBHOOK_URL")
        .stderr(Stdio::null());
    let (fake_proc, fake_addr) = start(fake_cmd, &["fake-stripe listening on "])?;
    let fake = fake_addr[0].trim_end_matches('/').to_owned();

    let bench = BenchHub::start(
        &http,
        &bin_dir,
        &args.target.database,
        "paybench",
        |cmd, scratch| {
            cmd.env("STRIPE_SECRET_KEY", SECRET_KEY)
                .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
                .env("STRIPE_API_BASE", &fake)
                .env("HUB_PUBLIC_URL", "http://shop.bench.example")
                .stderr(std::fs::File::create(scratch.join("hub.log"))?);
            Ok(())
        },
    )
    .await?;
    let hub = bench.hub.clone();
    let hub_pid = bench.hub_proc.id();
    eprintln!("{} customers sign up ...", args.clients);
    let mut tokens = vec![];
    for c in 0..args.clients {
        tokens.push(loadgen::signup(&http, &hub, c).await?);
    }
    let tokens = Arc::new(tokens);

    let mut out = format!(
        "#### Card payments on {}, fake Stripe at {} ms per call, {} clients\n\n| measurement | value |\n|---|---|\n",
        bench.backend, args.latency_ms, args.clients
    );
    let mut failures = 0;

    // 1. The fake alone.
    eprintln!(
        "phase 1: baseline, {} clients create Checkout Sessions at the fake for {} s ...",
        args.clients, args.seconds
    );
    let fake_cpu = loadgen::cpu_seconds(fake_proc.id());
    let base = closed_loop(
        "sessions at the fake",
        args.clients,
        Until::Seconds(args.seconds),
        {
            let (http, url) = (http.clone(), format!("{fake}/v1/checkout/sessions"));
            move |_, n| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let r = http
                        .post(&url)
                        .bearer_auth(SECRET_KEY)
                        .header("idempotency-key", uuid_like())
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(session_form(n))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let s = r.status().as_u16();
                    let b: Value = r.json().await.unwrap_or(Value::Null);
                    if s == 200 && b["url"].is_string() {
                        Ok(())
                    } else {
                        Err(refused(s, &b))
                    }
                }
            }
        },
    )
    .await;
    let fake_cpu = cpu_per_op(fake_cpu, loadgen::cpu_seconds(fake_proc.id()), base.ok);
    failures += base.failed();
    out.push_str(&phase_row(
        &format!(
            "baseline, same run: the fake alone, `POST /v1/checkout/sessions` (form-encoded, Idempotency-Key), {} clients",
            args.clients
        ),
        &base,
        "sessions/s",
    ));

    // 2. Card orders at the hub.
    eprintln!(
        "phase 2: {} customers place card orders at the hub for {} s ...",
        args.clients, args.seconds
    );
    let orders: Arc<Mutex<Vec<CardOrder>>> = Arc::default();
    let cpu = (
        loadgen::cpu_seconds(hub_pid),
        loadgen::cpu_seconds(fake_proc.id()),
    );
    let checkout = closed_loop(
        "card orders",
        args.clients,
        Until::Seconds(args.seconds),
        {
            let (http, tokens, orders) = (http.clone(), tokens.clone(), orders.clone());
            let url = format!("{hub}/api/v1/stores/{BENCH_STORE}/orders");
            move |c, _| {
                let (http, url, orders) = (http.clone(), url.clone(), orders.clone());
                let token = tokens[c].clone();
                async move {
                    let (s, b) = json_req(
                        http.post(&url)
                            .bearer_auth(token)
                            .header("idempotency-key", uuid_like())
                            .json(&json!({
                                "lines": [{"item_id": "shoestring-fries", "quantity": 2, "modifiers": []}],
                                "payment": "card",
                            })),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    let session = b["payment"]["checkout_url"]
                        .as_str()
                        .and_then(|u| u.rsplit('/').next());
                    match (s, b["status"].as_str(), session, b["id"].as_str()) {
                        (201, Some("awaiting_payment"), Some(session), Some(id)) => {
                            let order = CardOrder {
                                id: id.to_owned(),
                                session: session.to_owned(),
                                client: c,
                            };
                            orders.lock().map_err(|e| e.to_string())?.push(order);
                            Ok(())
                        }
                        (201, status, _, _) => Err(format!("201 but {status:?} without a checkout")),
                        _ => Err(refused(s, &b)),
                    }
                }
            }
        },
    )
    .await;
    let hub_cpu_per = cpu_per_op(cpu.0, loadgen::cpu_seconds(hub_pid), checkout.ok);
    let fake_cpu_per = cpu_per_op(cpu.1, loadgen::cpu_seconds(fake_proc.id()), checkout.ok);
    failures += checkout.failed();
    out.push_str(&phase_row(
        &format!(
            "**checkout creation**: card orders (`POST /stores/{{id}}/orders`, `payment: card`) answered 201 with their `checkout_url`, {} customers",
            args.clients
        ),
        &checkout,
        "orders/s",
    ));
    out.push_str(&format!(
        "| CPU per checkout: hub / fake (same run; fake alone in the baseline) | {hub_cpu_per} / {fake_cpu_per} µs (fake alone: {fake_cpu} µs per session) |\n"
    ));

    // 3. Webhooks of the first orders.
    let orders: Vec<CardOrder> = orders
        .lock()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .iter()
        .take(args.webhook_orders)
        .cloned()
        .collect();
    anyhow::ensure!(!orders.is_empty(), "no card order was created");
    eprintln!("phase 3: paying {} orders at the fake ...", orders.len());
    let orders = Arc::new(orders);
    let paid = closed_loop(
        "paid at the fake",
        args.clients,
        Until::Count(orders.len() as u64),
        {
            let (http, orders, fake) = (http.clone(), orders.clone(), fake.clone());
            move |_, n| {
                let url = format!("{fake}/_fake/checkout/{}/pay", orders[n as usize].session);
                let http = http.clone();
                async move {
                    let (s, b) = json_req(http.post(url)).await.map_err(|e| e.to_string())?;
                    if s == 200 {
                        Ok(())
                    } else {
                        Err(refused(s, &b))
                    }
                }
            }
        },
    )
    .await;
    anyhow::ensure!(
        paid.failed() == 0,
        "paying at the fake: {}",
        paid.errors_text()
    );
    let events = Arc::new(fake_events(&http, &fake).await?);
    let by_kind = events
        .iter()
        .fold(BTreeMap::<String, u64>::new(), |mut m, e| {
            *m.entry(event_type(e)).or_default() += 1;
            m
        });
    eprintln!(
        "  {} events at the fake: {by_kind:?}; delivering them to the hub ...",
        events.len()
    );
    let (first, first_kinds) = deliver(&http, &hub, &events, args.clients, false).await;
    failures += first.failed();
    out.push_str(&phase_row(
        &format!(
            "**webhooks**, first delivery: {} signed events of {} paid orders (each order's two events in the order the fake recorded them, so they may race), {} clients",
            events.len(),
            orders.len(),
            args.clients
        ),
        &first,
        "events/s",
    ));
    for (kind, h) in &first_kinds {
        out.push_str(&format!(
            "| — `{kind}`, first delivery ({}) | p50 {} / p99 **{}** / max {} ms |\n",
            h.len(),
            ms(h, 0.5),
            ms(h, 0.99),
            ms(h, 1.0)
        ));
    }

    eprintln!("  checking that every paid order was placed ...");
    let (placed, wrong) = check_placed(&http, &hub, &orders, &tokens).await?;
    out.push_str(&format!(
        "| paid orders placed (`W-` ticket) with their payment authorised, read back as their customers | {placed} of {} |\n",
        orders.len()
    ));
    if placed != orders.len() {
        failures += 1;
        eprintln!("  not placed: {wrong:?}");
    }

    eprintln!("  delivering every event again (redeliveries) ...");
    let (again, _) = deliver(&http, &hub, &events, args.clients, true).await;
    failures += again.failed();
    out.push_str(&phase_row(
        &format!(
            "**webhooks**, redelivery: the same {} events again, freshly signed, each answered as a duplicate",
            events.len()
        ),
        &again,
        "events/s",
    ));
    out.push_str(&hub_log_row(&bench.scratch.path().join("hub.log")));
    println!("{out}");
    if failures > 0 {
        bail!("{failures} requests or checks failed (see the table)");
    }
    Ok(())
}

/// A table row for a closed-loop phase: rate, latency, failures.
fn phase_row(what: &str, p: &Phase, unit: &str) -> String {
    format!(
        "| {what} | {} in {:.1} s: **{:.0} {unit}**, p50 {} / p99 **{}** / max {} ms; failed: {} |\n",
        p.ok,
        p.elapsed.as_secs_f64(),
        p.rate(),
        ms(&p.latency, 0.5),
        ms(&p.latency, 0.99),
        ms(&p.latency, 1.0),
        p.errors_text()
    )
}

/// CPU microseconds per operation between two samples, or `?`.
fn cpu_per_op(before: Option<f64>, after: Option<f64>, ops: u64) -> String {
    match (before, after) {
        (Some(b), Some(a)) if ops > 0 => format!("{:.0}", (a - b) * 1e6 / ops as f64),
        _ => "?".into(),
    }
}

/// A Checkout Session as the hub's adapter asks for one (one order of two fries with
/// tax on top, manual capture, metadata naming the order), form-encoded as Stripe's API
/// takes it.
fn session_form(n: u64) -> String {
    let order = format!("bench-order-{}-{n}", std::process::id());
    let expires = (fake_stripe::now() + 3600).to_string();
    let pairs = [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "450"),
        (
            "line_items[0][price_data][product_data][name]",
            "Shoestring Fries",
        ),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][currency]", "usd"),
        ("line_items[1][price_data][unit_amount]", "72"),
        ("line_items[1][price_data][product_data][name]", "Tax"),
        ("line_items[1][quantity]", "1"),
        ("payment_intent_data[capture_method]", "manual"),
        ("payment_intent_data[metadata][order_id]", &order),
        ("payment_intent_data[metadata][store_id]", BENCH_STORE),
        ("metadata[order_id]", &order),
        ("metadata[store_id]", BENCH_STORE),
        ("client_reference_id", &order),
        (
            "success_url",
            "http://shop.bench.example/orders/x?payment=paid",
        ),
        (
            "cancel_url",
            "http://shop.bench.example/orders/x?payment=cancelled",
        ),
        ("expires_at", &expires),
    ];
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn event_type(e: &Value) -> String {
    e["type"].as_str().unwrap_or("?").to_owned()
}

/// Every Event the fake recorded, oldest first (its list is newest first, 100 a page).
async fn fake_events(http: &reqwest::Client, fake: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = vec![];
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{fake}/v1/events?limit=100");
        if let Some(id) = &after {
            url.push_str(&format!("&starting_after={id}"));
        }
        let (s, page) = json_req(http.get(url).bearer_auth(SECRET_KEY)).await?;
        anyhow::ensure!(s == 200, "listing events: {s} {page}");
        let data = page["data"].as_array().context("events")?;
        after = data
            .last()
            .and_then(|e| e["id"].as_str())
            .map(str::to_owned);
        all.extend(data.iter().cloned());
        if page["has_more"] != true || after.is_none() {
            break;
        }
    }
    all.reverse();
    Ok(all)
}

/// Delivers every event once, signed as Stripe signs it at the moment it is sent, by
/// `clients` clients; each answer must be 200 with `duplicate` as expected. The phase,
/// and the latency of the deliveries by event type.
async fn deliver(
    http: &reqwest::Client,
    hub: &str,
    events: &Arc<Vec<Value>>,
    clients: usize,
    duplicate: bool,
) -> (Phase, BTreeMap<String, Histogram<u64>>) {
    let kinds: Arc<Mutex<BTreeMap<String, Histogram<u64>>>> = Arc::default();
    let label = if duplicate {
        "redeliveries"
    } else {
        "webhooks"
    };
    let phase = closed_loop(label, clients, Until::Count(events.len() as u64), {
        let (http, events, kinds) = (http.clone(), events.clone(), kinds.clone());
        let url = format!("{hub}{WEBHOOK}");
        move |_, n| {
            let (http, url, kinds) = (http.clone(), url.clone(), kinds.clone());
            let event = &events[n as usize];
            let kind = event_type(event);
            let body = serde_json::to_vec(event).unwrap_or_default();
            async move {
                let t = std::time::Instant::now();
                let signature =
                    fake_stripe::signature_header(WEBHOOK_SECRET, fake_stripe::now(), &body);
                let (s, b) = json_req(
                    http.post(url)
                        .header("content-type", "application/json; charset=utf-8")
                        .header("stripe-signature", signature)
                        .body(body),
                )
                .await
                .map_err(|e| e.to_string())?;
                if s != 200 {
                    return Err(refused(s, &b));
                }
                if b["duplicate"] != duplicate {
                    return Err(format!("200 with duplicate {}", b["duplicate"]));
                }
                let micros = t.elapsed().as_micros().max(1) as u64;
                let mut kinds = kinds.lock().map_err(|e| e.to_string())?;
                let _ = kinds.entry(kind).or_insert_with(histogram).record(micros);
                Ok(())
            }
        }
    })
    .await;
    let kinds = std::mem::take(&mut *kinds.lock().unwrap_or_else(|e| e.into_inner()));
    (phase, kinds)
}

/// How many of `orders` their customers now see placed (a ticket) with the payment
/// authorised; the ids and states of the others (at most ten).
async fn check_placed(
    http: &reqwest::Client,
    hub: &str,
    orders: &[CardOrder],
    tokens: &[String],
) -> anyhow::Result<(usize, Vec<String>)> {
    let mut placed = 0;
    let mut wrong = vec![];
    for o in orders {
        let (s, b) = json_req(
            http.get(format!("{hub}/api/v1/me/orders/{}", o.id))
                .bearer_auth(&tokens[o.client]),
        )
        .await?;
        let ok = s == 200
            && b["status"] == "placed"
            && b["ticket"].as_str().is_some_and(|t| t.starts_with("W-"))
            && b["payment"]["state"] == "authorized";
        if ok {
            placed += 1;
        } else if wrong.len() < 10 {
            wrong.push(format!(
                "{}: {s} {} / {}",
                o.id, b["status"], b["payment"]["state"]
            ));
        }
    }
    Ok((placed, wrong))
}

/// The hub's warnings and errors during the run (it logs at `warn`), counted by
/// message.
fn hub_log_row(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let level = v["level"].as_str().unwrap_or("?");
        let msg = v["fields"]["message"].as_str().unwrap_or(line);
        *by.entry(format!("{level} {msg}")).or_default() += 1;
    }
    let text = if by.is_empty() {
        "none".to_owned()
    } else {
        by.iter()
            .map(|(m, n)| format!("{n} × {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!("| hub log lines at warn and above during the run | {text} |\n")
}
