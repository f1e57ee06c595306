//! Chaos across processes: a real hub and three real store nodes (two of
//! `store-1`, one of `store-2`), each in its own network namespace, linked to
//! the hub only through this test's relays (`crates/relay`). For `CHAOS_SECS`
//! (default 100 s, so the test ends within about three minutes) the relays
//! black-hole, reset, cut and delay the links at random, and nodes and the
//! hub are killed with SIGKILL and restarted, while orders, status changes,
//! payments, menu edits (at the nodes and the hub) and web orders (at the hub)
//! flow on every side. Afterwards every link is healed and the test checks,
//! through each process's HTTP API:
//!
//! 1. every replica of a store holds the same orders, each with the same
//!    status and paid amount, and the same menu;
//! 2. every acknowledged order is there exactly once, with the status and the
//!    paid amount of its last acknowledged change, and nothing else is;
//! 3. every silent cut (a black hole longer than the detection bound,
//!    `CHAOS_DETECT_SECS`, default 30 s) showed as not connected within that
//!    bound at both ends: at the node (`GET /api/v1/sync/status`) and at the
//!    hub (`GET /api/v1/stores/{id}/nodes`).
//!
//! How the faults are modelled (the kernel has no `sch_netem` and there is no
//! packet filter): in user space, at the TCP level, by the relay. A black hole
//! keeps both sockets open and moves no byte; a reset ends the connections
//! with RST and refuses new ones; a cut resets the open connections once and
//! loses what the relay held (loss), so the node reconnects and resends what
//! the hub had not acknowledged (duplication at the sync layer, which must
//! append idempotently); delay holds every chunk in flight. Duplication at the
//! HTTP layer: every write is retried with its Idempotency-Key until it gets a
//! definitive answer (a process may die mid-request), and some acknowledged
//! orders are sent a second time on purpose; the answer must name the same order.
//!
//! The schedule (faults and operations) comes from one seeded RNG: the seed
//! and a replay command are printed at the start and in every failure. Real
//! processes keep their own timing, so a replay repeats the schedule, not
//! the exact interleaving. Where network namespaces cannot be made (no
//! `ip`, not root, a container without CAP_SYS_ADMIN) the test says why and
//! passes. The hub runs on SQLite: PostgreSQL listens on the host's loopback,
//! which a namespace cannot reach.
//!
//! Knobs (environment): `CHAOS_SEED`, `CHAOS_SECS`, `CHAOS_LINK_TIMEOUT_SECS`
//! (the servers' dead-link timeout, 10 s here against the 30 s default),
//! `CHAOS_DETECT_SECS` (the bound checked: the timeout plus 3 s for the test's
//! own polling), and `CHAOS_SERVER_ENV` (`NAME=value,...` given to the hub and
//! every node).

#[path = "../common/mod.rs"]
mod common;
mod netns;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ADMIN, Api, WAIT, hub_command, node_command, spawn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relay::{Link, Relay};
use reqwest::Method;
use serde_json::{Value, json};
use test_support::Server;
use tokio::time::{Instant, sleep};

/// Each server is alone in its namespace, so a fixed port is free and survives a restart.
const PORT: u16 = 8080;

/// The nodes: their store (slot `1 + index` in the fleet and in the namespaces; the hub is slot 0).
const NODE_STORES: [&str; 3] = ["store-1", "store-1", "store-2"];
const STORES: [&str; 2] = ["store-1", "store-2"];

/// Orders a store may get in one run: the order lists answer at most 500, and the
/// check reads each list whole.
const MAX_ORDERS_PER_STORE: usize = 450;

/// What a chaos episode holds a silent link beyond the detection bound, so a
/// node that notices just in time is seen doing so.
const DETECT_MARGIN: Duration = Duration::from_secs(3);

/// What the test orders: items with no required modifier choice, or with it given. None of them
/// is ever marked sold out (the menu edits touch [`EDITED_ITEMS`]).
const ORDERS: [(&str, &[&str]); 3] = [
    ("shoestring-fries", &[]),
    ("fountain-soda", &["drink-size-small", "soda-choice-cola"]),
    ("house-garden-salad", &["salad-dressing-ranch"]),
];
const EDITED_ITEMS: [&str; 6] = [
    "margherita-pizza",
    "pepperoni-pizza",
    "caesar-salad",
    "brownie-sundae",
    "iced-tea",
    "harbor-classic-burger",
];

struct Knobs {
    seed: u64,
    secs: u64,
    detect: Duration,
    /// The servers' dead-link timeout (`HUB_LINK_TIMEOUT_SECS`, `STORE_NODE__HUB__TIMEOUT_SECS`).
    link_timeout: u64,
    server_env: Vec<(String, String)>,
}

/// What the detection bound allows beyond the servers' link timeout: the test reads each side's
/// view over HTTP every 250 ms, and a loaded machine answers late.
const DETECT_SLACK_SECS: u64 = 3;

/// The hub's node grace period in this test (see [`Knobs::from_env`]).
const HUB_GRACE_SECS: u64 = 6;

impl Knobs {
    fn from_env() -> Knobs {
        let num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        // Shorter than the 30 s default, so a two-minute run holds several long black holes;
        // the mechanism is the same at any timeout.
        let link_timeout = num("CHAOS_LINK_TIMEOUT_SECS").unwrap_or(10);
        let mut server_env = vec![
            ("HUB_LINK_TIMEOUT_SECS".to_owned(), link_timeout.to_string()),
            (
                "STORE_NODE__HUB__TIMEOUT_SECS".to_owned(),
                link_timeout.to_string(),
            ),
            // A killed hub leaves its presence rows behind, read as connected for three
            // heartbeats (a third of the grace each): with this grace they go stale within
            // 6 s of the kill, inside the detection bound, however soon after a restart a
            // link goes silent.
            ("HUB_NODE_GRACE_SECS".to_owned(), HUB_GRACE_SECS.to_string()),
        ];
        server_env.extend(
            std::env::var("CHAOS_SERVER_ENV")
                .unwrap_or_default()
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())),
        );
        Knobs {
            seed: num("CHAOS_SEED").unwrap_or_else(rand::random),
            secs: num("CHAOS_SECS").unwrap_or(100),
            detect: Duration::from_secs(
                num("CHAOS_DETECT_SECS").unwrap_or(link_timeout + DETECT_SLACK_SECS),
            ),
            link_timeout,
            server_env,
        }
    }

    fn replay(&self) -> String {
        format!(
            "seed {seed}; replay: CHAOS_SEED={seed} CHAOS_SECS={secs} CHAOS_LINK_TIMEOUT_SECS={t} CHAOS_DETECT_SECS={d} cargo test -p e2e-tests --test chaos -- --nocapture",
            seed = self.seed,
            secs = self.secs,
            t = self.link_timeout,
            d = self.detect.as_secs()
        )
    }
}

/// How to start one process of the fleet (again).
type Starter = Arc<dyn Fn() -> Command + Send + Sync>;

/// The hub (slot 0) and the nodes (slots 1..=3) as processes, and how to start each again.
#[derive(Default)]
struct Fleet {
    procs: Mutex<Vec<Option<Server>>>,
    commands: Mutex<Vec<Starter>>,
}

impl Fleet {
    /// Adds a process (not started yet); its slot.
    fn add(&self, command: Starter) -> usize {
        self.procs.lock().unwrap().push(None);
        let mut c = self.commands.lock().unwrap();
        c.push(command);
        c.len() - 1
    }

    /// Starts slot `i` and waits until it listens (blocking: run it off the runtime).
    fn start(&self, i: usize) {
        let command = self.commands.lock().unwrap()[i].clone();
        let p = spawn(command());
        self.procs.lock().unwrap()[i] = Some(p);
    }

    /// SIGKILL, then reaps it.
    fn kill(&self, i: usize) {
        let p = self.procs.lock().unwrap()[i].take();
        drop(p);
    }
}

/// Kills every process of the fleet when dropped, also on panic (declared after the namespaces,
/// so the processes are gone before their namespaces are removed).
struct FleetGuard(Arc<Fleet>);

impl Drop for FleetGuard {
    fn drop(&mut self) {
        let mut procs = self.0.procs.lock().unwrap_or_else(|e| e.into_inner());
        for p in procs.iter_mut() {
            p.take();
        }
    }
}

async fn start(fleet: &Arc<Fleet>, i: usize) {
    let f = fleet.clone();
    tokio::task::spawn_blocking(move || f.start(i))
        .await
        .expect("the process starts");
}

async fn kill(fleet: &Arc<Fleet>, i: usize) {
    let f = fleet.clone();
    tokio::task::spawn_blocking(move || f.kill(i))
        .await
        .expect("the process is killed");
}

/// What an acknowledged order must look like everywhere at the end.
#[derive(Debug, Clone)]
struct Expected {
    store: &'static str,
    status: String,
    paid: i64,
    total: i64,
}

#[derive(Default)]
struct Ledger {
    orders: HashMap<String, Expected>,
    /// Per node, the orders its kitchen moves along (web orders go to the first node).
    to_progress: [Vec<String>; 3],
    failures: Vec<String>,
    /// What happened, for the summary: e.g. "orders", "node kills", "black holes (checked)".
    counts: BTreeMap<&'static str, u64>,
}

struct Node {
    base: String,
    store: &'static str,
    cashier: String,
    manager: String,
}

struct Ctx {
    api: Api,
    hub: String,
    nodes: Vec<Node>,
    relays: Vec<Relay>,
    fleet: Arc<Fleet>,
    ledger: Mutex<Ledger>,
    stop: AtomicBool,
    knobs: Knobs,
}

impl Ctx {
    fn count(&self, what: &'static str) {
        *self.ledger.lock().unwrap().counts.entry(what).or_default() += 1;
    }

    /// How often `what` was counted so far.
    fn counted(&self, what: &'static str) -> u64 {
        self.ledger
            .lock()
            .unwrap()
            .counts
            .get(what)
            .copied()
            .unwrap_or(0)
    }

    fn fail(&self, what: String) {
        eprintln!("chaos failure: {what}");
        self.ledger.lock().unwrap().failures.push(what);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sends until the answer is definitive (below 500, with a body when 2xx): a process may be
    /// down or die mid-request. Writes carry their Idempotency-Key on every try, so a retry never
    /// doubles. Gives up after [`WAIT`] (a server that never comes back fails the test).
    async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self
                .api
                .try_call(method.clone(), url, token, body.clone(), key)
                .await
            {
                Ok((s, v)) if s < 500 && !(s < 300 && v.is_null()) => return (s, v),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "no answer from {method} {url} in {WAIT:?}; {}",
                self.knobs.replay()
            );
            // A retry interval, not synchronisation: the loop waits for an answer.
            sleep(Duration::from_millis(200)).await;
        }
    }
}

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn order_body(rng: &mut ChaCha8Rng) -> Value {
    let (item, mods) = ORDERS[rng.random_range(0..ORDERS.len())];
    json!({"channel": "pos", "fulfillment": "takeaway",
           "lines": [{"item_id": item, "quantity": rng.random_range(1..4), "modifiers": mods}]})
}

fn store_orders(ledger: &Ledger, store: &str) -> usize {
    ledger.orders.values().filter(|e| e.store == store).count()
}

/// A random pause between one client's operations (pacing, not synchronisation).
async fn pause(rng: &mut ChaCha8Rng, ms: std::ops::Range<u64>) {
    sleep(Duration::from_millis(rng.random_range(ms))).await;
}

/// A cashier at node `n`: orders with fresh keys; one in ten is sent again with its key.
async fn cashier(ctx: Arc<Ctx>, n: usize, mut rng: ChaCha8Rng) {
    let node = &ctx.nodes[n];
    let url = format!("{}/api/v1/orders", node.base);
    while !ctx.stopped() {
        pause(&mut rng, 500..1500).await;
        if store_orders(&ctx.ledger.lock().unwrap(), node.store) >= MAX_ORDERS_PER_STORE {
            continue;
        }
        let (k, body) = (key(), order_body(&mut rng));
        let (s, o) = ctx
            .send(
                Method::POST,
                &url,
                Some(&node.cashier),
                Some(body.clone()),
                Some(&k),
            )
            .await;
        if s != 201 {
            ctx.fail(format!("node {n} refused an order: {s} {o}"));
            continue;
        }
        let id = o["id"].as_str().unwrap_or_default().to_owned();
        {
            let mut l = ctx.ledger.lock().unwrap();
            l.orders.insert(
                id.clone(),
                Expected {
                    store: node.store,
                    status: o["status"].as_str().unwrap_or_default().to_owned(),
                    paid: o["paid"].as_i64().unwrap_or(0),
                    total: o["totals"]["total"].as_i64().unwrap_or(0),
                },
            );
            l.to_progress[n].push(id.clone());
            *l.counts.entry("orders at nodes").or_default() += 1;
        }
        if rng.random_bool(0.1) {
            let (s2, again) = ctx
                .send(
                    Method::POST,
                    &url,
                    Some(&node.cashier),
                    Some(body),
                    Some(&k),
                )
                .await;
            ctx.count("orders sent twice");
            if s2 != 201 || again["id"] != o["id"] {
                ctx.fail(format!(
                    "node {n}: the same Idempotency-Key gave {s2} {} after order {id}",
                    again["id"]
                ));
            }
        }
    }
}

/// The next step for an order: pay the balance sometimes, else the next transition.
fn next_step(e: &Expected, rng: &mut ChaCha8Rng) -> Option<&'static str> {
    let unpaid = e.paid < e.total;
    if unpaid && (e.status == "completed" || rng.random_bool(0.3)) {
        return Some("payments");
    }
    match e.status.as_str() {
        "placed" => Some("accept"),
        "accepted" => Some("start"),
        "in_preparation" => Some("ready"),
        "ready" => Some("complete"),
        _ => None,
    }
}

/// The kitchen and the till at node `n`: moves its orders along and takes cash.
async fn kitchen(ctx: Arc<Ctx>, n: usize, mut rng: ChaCha8Rng) {
    let node = &ctx.nodes[n];
    while !ctx.stopped() {
        pause(&mut rng, 300..900).await;
        let pick = {
            let l = ctx.ledger.lock().unwrap();
            let list = &l.to_progress[n];
            if list.is_empty() {
                continue;
            }
            let id = list[rng.random_range(0..list.len())].clone();
            let e = l.orders[&id].clone();
            (id, e)
        };
        let (id, e) = pick;
        let Some(step) = next_step(&e, &mut rng) else {
            ctx.ledger.lock().unwrap().to_progress[n].retain(|o| *o != id);
            continue;
        };
        let body = (step == "payments").then(|| json!({"method": "cash", "tendered": e.total}));
        let url = format!("{}/api/v1/orders/{id}/{step}", node.base);
        let (s, r) = ctx
            .send(Method::POST, &url, Some(&node.manager), body, Some(&key()))
            .await;
        let order = if step == "payments" { &r["order"] } else { &r };
        match s {
            200 | 201 => {
                let mut l = ctx.ledger.lock().unwrap();
                let x = l.orders.get_mut(&id).expect("a known order");
                x.status = order["status"].as_str().unwrap_or_default().to_owned();
                x.paid = order["paid"].as_i64().unwrap_or(0);
                *l.counts
                    .entry(if step == "payments" {
                        "payments"
                    } else {
                        "status changes"
                    })
                    .or_default() += 1;
            }
            // A web order that has not reached this node yet.
            404 => ctx.count("steps on orders not here yet"),
            _ => ctx.fail(format!("node {n}: {step} on {id} ({e:?}) answered {s} {r}")),
        }
    }
}

/// Menu edits: sold-out toggles by the managers at the nodes, price changes at the hub.
async fn menu_editor(ctx: Arc<Ctx>, mut rng: ChaCha8Rng) {
    while !ctx.stopped() {
        pause(&mut rng, 800..2000).await;
        let item = EDITED_ITEMS[rng.random_range(0..EDITED_ITEMS.len())];
        if rng.random_bool(0.6) {
            let n = rng.random_range(0..ctx.nodes.len());
            let node = &ctx.nodes[n];
            let url = format!("{}/api/v1/menu/items/{item}/sold-out", node.base);
            let body = json!({"sold_out": rng.random_bool(0.5)});
            let (s, r) = ctx
                .send(
                    Method::POST,
                    &url,
                    Some(&node.manager),
                    Some(body),
                    Some(&key()),
                )
                .await;
            if s == 200 {
                ctx.count("menu edits at nodes");
            } else {
                ctx.fail(format!("node {n}: sold-out toggle answered {s} {r}"));
            }
        } else {
            let store = STORES[rng.random_range(0..STORES.len())];
            let url = format!("{}/api/v1/stores/{store}/menu", ctx.hub);
            let (_, m) = ctx.send(Method::GET, &url, Some(ADMIN), None, None).await;
            let mut menu = m["menu"].clone();
            let price = rng.random_range(100..2000);
            if let Some(items) = menu["items"].as_array_mut() {
                for i in items.iter_mut().filter(|i| i["id"] == item) {
                    i["price"] = json!(price);
                }
            }
            let (s, r) = ctx
                .send(Method::PUT, &url, Some(ADMIN), Some(menu), Some(&key()))
                .await;
            if s == 200 {
                ctx.count("menu edits at the hub");
            } else {
                ctx.fail(format!("hub: menu edit of {store} answered {s} {r}"));
            }
        }
    }
}

/// A customer ordering online at the hub for store-1. While store-1's nodes have been away
/// longer than the hub's grace period the hub refuses (409), which is correct and counted.
async fn customer(ctx: Arc<Ctx>, mut rng: ChaCha8Rng) {
    let who =
        json!({"email": "chaos@example.com", "password": "plum-kettle-73-orbit", "name": "Chaos"});
    let (s, r) = ctx
        .send(
            Method::POST,
            &format!("{}/api/v1/auth/signup", ctx.hub),
            None,
            Some(who.clone()),
            None,
        )
        .await;
    assert_eq!(s, 201, "signup: {r}");
    let mut token = r["access_token"].as_str().unwrap_or_default().to_owned();
    let url = format!("{}/api/v1/stores/store-1/orders", ctx.hub);
    while !ctx.stopped() {
        pause(&mut rng, 1500..3500).await;
        if store_orders(&ctx.ledger.lock().unwrap(), "store-1") >= MAX_ORDERS_PER_STORE {
            continue;
        }
        let body =
            json!({"lines": [{"item_id": "shoestring-fries", "quantity": rng.random_range(1..3)}]});
        let k = key();
        let (mut s, mut o) = ctx
            .send(
                Method::POST,
                &url,
                Some(&token),
                Some(body.clone()),
                Some(&k),
            )
            .await;
        if s == 401 {
            // The access token lasts 15 minutes; a long run signs in again.
            let login = json!({"email": who["email"], "password": who["password"]});
            let (_, r) = ctx
                .send(
                    Method::POST,
                    &format!("{}/api/v1/auth/login", ctx.hub),
                    None,
                    Some(login),
                    None,
                )
                .await;
            token = r["access_token"].as_str().unwrap_or_default().to_owned();
            (s, o) = ctx
                .send(Method::POST, &url, Some(&token), Some(body), Some(&k))
                .await;
        }
        match s {
            201 => {
                let id = o["id"].as_str().unwrap_or_default().to_owned();
                let mut l = ctx.ledger.lock().unwrap();
                l.orders.insert(
                    id.clone(),
                    Expected {
                        store: "store-1",
                        status: "placed".into(),
                        paid: 0,
                        total: o["totals"]["total"].as_i64().unwrap_or(0),
                    },
                );
                l.to_progress[0].push(id);
                *l.counts.entry("web orders").or_default() += 1;
            }
            409 | 422 => ctx.count("web orders refused (store away or closed)"),
            _ => ctx.fail(format!("hub: web order answered {s} {o}")),
        }
    }
}

async fn connected(ctx: &Ctx, n: usize) -> bool {
    let node = &ctx.nodes[n];
    let url = format!("{}/api/v1/sync/status", node.base);
    ctx.send(Method::GET, &url, Some(&node.cashier), None, None)
        .await
        .1["connected"]
        == true
}

/// Whether the hub shows node `n`'s link as connected (`GET /api/v1/stores/{id}/nodes`, by the
/// label its token was issued with).
async fn hub_sees(ctx: &Ctx, n: usize) -> bool {
    let url = format!("{}/api/v1/stores/{}/nodes", ctx.hub, ctx.nodes[n].store);
    let (_, b) = ctx.send(Method::GET, &url, Some(ADMIN), None, None).await;
    b["nodes"].as_array().is_some_and(|nodes| {
        nodes
            .iter()
            .any(|x| x["label"] == format!("node-{n}").as_str() && x["connected"] == true)
    })
}

/// Whether one side (`"node"` or `"hub"`) shows node `n`'s link as connected, asked once;
/// `None` when that side did not answer (it is being restarted).
async fn side_connected(ctx: &Ctx, n: usize, side: &str) -> Option<bool> {
    let node = &ctx.nodes[n];
    if side == "node" {
        let url = format!("{}/api/v1/sync/status", node.base);
        let (s, b) = ctx
            .api
            .try_call(Method::GET, &url, Some(&node.cashier), None, None)
            .await
            .ok()?;
        return (s == 200).then(|| b["connected"] == true);
    }
    let url = format!("{}/api/v1/stores/{}/nodes", ctx.hub, node.store);
    let (s, b) = ctx
        .api
        .try_call(Method::GET, &url, Some(ADMIN), None, None)
        .await
        .ok()?;
    (s == 200).then(|| {
        b["nodes"].as_array().is_some_and(|nodes| {
            nodes
                .iter()
                .any(|x| x["label"] == format!("node-{n}").as_str() && x["connected"] == true)
        })
    })
}

/// A silent cut longer than the detection bound: both ends, the node
/// (`/api/v1/sync/status`) and the hub (`/api/v1/stores/{id}/nodes`), must show the link
/// as not connected within it.
async fn long_black_hole(ctx: &Ctx, n: usize) {
    let relay = &ctx.relays[n];
    let bound = ctx.knobs.detect;
    // Only a live link going silent tests detection; give a reconnecting node a moment.
    let ready = Instant::now() + Duration::from_secs(20);
    while !(connected(ctx, n).await && hub_sees(ctx, n).await) {
        if Instant::now() > ready {
            ctx.count("black holes (not checked: link not up)");
            return;
        }
        sleep(Duration::from_millis(250)).await;
    }
    let hub_kills = ctx.counted("hub kills");
    relay.set(Link::BlackHole);
    let cut = Instant::now();
    // Each side is watched on its own, asked once per look: a look that waited for an
    // answer from a hub being restarted would make the other side's time late too.
    let watch = async |side: &str| {
        while cut.elapsed() < bound + DETECT_MARGIN {
            if side_connected(ctx, n, side).await == Some(false) {
                return Some(cut.elapsed());
            }
            sleep(Duration::from_millis(250)).await;
        }
        None
    };
    let (node_saw, hub_saw) = tokio::join!(watch("node"), watch("hub"));
    relay.set(Link::Open);
    ctx.count("long black holes");
    let mut sides = vec![("the node", node_saw)];
    if ctx.counted("hub kills") == hub_kills {
        sides.push(("the hub", hub_saw));
    } else {
        // The hub died meanwhile: the link went with it, and what the restarted hub shows
        // follows the dead replica's presence rows until they go stale (three heartbeats),
        // not the silence this episode measures.
        ctx.count("long black holes (hub side not checked: the hub was killed meanwhile)");
    }
    for (side, saw) in sides {
        match saw {
            Some(t) if t <= bound => {
                eprintln!(
                    "node {n}: {side} noticed the silent link after {:.1} s",
                    t.as_secs_f64()
                );
            }
            Some(t) => ctx.fail(format!(
                "node {n}: {side} noticed a silent link after {:.1} s, beyond the bound of {} s",
                t.as_secs_f64(),
                bound.as_secs()
            )),
            None => ctx.fail(format!(
                "node {n}: {side} still showed a silent link as connected after {} s (bound {} s)",
                (bound + DETECT_MARGIN).as_secs(),
                bound.as_secs()
            )),
        }
    }
}

/// The faults on node `n` and its link, one episode after another until `end`. One black hole
/// longer than the detection bound happens at a random moment when the run is long enough.
async fn node_chaos(ctx: Arc<Ctx>, n: usize, mut rng: ChaCha8Rng, end: Instant) {
    let relay = &ctx.relays[n];
    let long = ctx.knobs.detect + DETECT_MARGIN + Duration::from_secs(5);
    let total = end.saturating_duration_since(Instant::now());
    let mut long_at = (total > long).then(|| {
        Instant::now()
            + Duration::from_millis(rng.random_range(0..=(total - long).as_millis() as u64))
    });
    while Instant::now() < end {
        if long_at.is_some_and(|t| Instant::now() >= t) {
            long_at = None;
            long_black_hole(&ctx, n).await;
            continue;
        }
        let secs = |rng: &mut ChaCha8Rng, r: std::ops::Range<u64>| {
            Duration::from_millis(rng.random_range(r.start * 1000..r.end * 1000))
        };
        match rng.random_range(0..100) {
            0..30 => sleep(secs(&mut rng, 2..6)).await,
            30..45 => {
                ctx.count("short black holes");
                relay.set(Link::BlackHole);
                sleep(secs(&mut rng, 1..8)).await;
                relay.set(Link::Open);
            }
            45..55 => {
                ctx.count("resets");
                relay.set(Link::Reset);
                sleep(secs(&mut rng, 1..6)).await;
                relay.set(Link::Open);
            }
            55..70 => {
                ctx.count("cuts mid-stream");
                relay.cut();
                sleep(secs(&mut rng, 1..3)).await;
            }
            70..85 => {
                ctx.count("delays");
                relay.set_delay(Duration::from_millis(rng.random_range(20..800)));
                sleep(secs(&mut rng, 3..10)).await;
                relay.set_delay(Duration::ZERO);
            }
            _ => {
                ctx.count("node kills");
                kill(&ctx.fleet, 1 + n).await;
                sleep(secs(&mut rng, 1..4)).await;
                start(&ctx.fleet, 1 + n).await;
            }
        }
    }
}

/// The hub is killed with SIGKILL now and then and restarted on the same database.
async fn hub_chaos(ctx: Arc<Ctx>, mut rng: ChaCha8Rng, end: Instant) {
    loop {
        let calm = Duration::from_millis(rng.random_range(15_000..40_000));
        if Instant::now() + calm >= end {
            return;
        }
        sleep(calm).await;
        ctx.count("hub kills");
        kill(&ctx.fleet, 0).await;
        sleep(Duration::from_millis(rng.random_range(500..5000))).await;
        start(&ctx.fleet, 0).await;
    }
}

/// Orders as id → (status, paid), and whether an id was listed twice.
fn orders_of(list: &Value) -> (OrderMap, usize) {
    let all = list["orders"].as_array().cloned().unwrap_or_default();
    let map: BTreeMap<_, _> = all
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap_or_default().to_owned(),
                (
                    o["status"].as_str().unwrap_or_default().to_owned(),
                    o["paid"].as_i64().unwrap_or(0),
                ),
            )
        })
        .collect();
    let doubled = all.len() - map.len();
    (map, doubled)
}

type OrderMap = BTreeMap<String, (String, i64)>;

/// How `got` (one replica's orders of `store`) differs from the ledger's `expected`, if it does.
fn compare(who: &str, store: &str, expected: &OrderMap, got: &OrderMap) -> Option<String> {
    let lost: Vec<_> = expected
        .keys()
        .filter(|id| !got.contains_key(*id))
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|id| !expected.contains_key(*id))
        .collect();
    let wrong: Vec<_> = expected
        .iter()
        .filter_map(|(id, e)| got.get(id).filter(|g| *g != e).map(|g| (id, e, g)))
        .collect();
    (!lost.is_empty() || !extra.is_empty() || !wrong.is_empty()).then(|| {
        format!(
            "{who} ({store}): {} orders missing {:?}, {} unknown {:?}, {} with another status or paid amount (id, expected, held) {:?}",
            lost.len(),
            &lost[..lost.len().min(3)],
            extra.len(),
            &extra[..extra.len().min(3)],
            wrong.len(),
            &wrong[..wrong.len().min(3)]
        )
    })
}

/// What differs between the replicas of each store and the ledger, or None when all agree.
async fn differences(ctx: &Ctx) -> Option<String> {
    let mut out = vec![];
    for store in STORES {
        let hub = ctx
            .send(
                Method::GET,
                &format!("{}/api/v1/stores/{store}/orders?limit=500", ctx.hub),
                Some(ADMIN),
                None,
                None,
            )
            .await
            .1;
        let (hub_orders, doubled) = orders_of(&hub);
        if doubled > 0 {
            out.push(format!("hub: {doubled} orders of {store} listed twice"));
        }
        let expected: OrderMap = ctx
            .ledger
            .lock()
            .unwrap()
            .orders
            .iter()
            .filter(|(_, e)| e.store == store)
            .map(|(id, e)| (id.clone(), (e.status.clone(), e.paid)))
            .collect();
        out.extend(compare("hub", store, &expected, &hub_orders));
        let hub_menu = ctx
            .send(
                Method::GET,
                &format!("{}/api/v1/stores/{store}/menu", ctx.hub),
                Some(ADMIN),
                None,
                None,
            )
            .await
            .1["menu"]
            .clone();
        for (n, node) in ctx
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, x)| x.store == store)
        {
            let list = ctx
                .send(
                    Method::GET,
                    &format!("{}/api/v1/orders?limit=500", node.base),
                    Some(&node.cashier),
                    None,
                    None,
                )
                .await
                .1;
            let (mine, doubled) = orders_of(&list);
            if doubled > 0 {
                out.push(format!("node {n}: {doubled} orders listed twice"));
            }
            out.extend(compare(&format!("node {n}"), store, &expected, &mine));
            let menu = ctx
                .send(
                    Method::GET,
                    &format!("{}/api/v1/menu", node.base),
                    Some(&node.cashier),
                    None,
                    None,
                )
                .await
                .1["menu"]
                .clone();
            if menu != hub_menu {
                out.push(format!(
                    "node {n}: its menu differs from the hub's menu of {store}"
                ));
            }
        }
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_and_three_nodes_converge_under_chaos() {
    let knobs = Knobs::from_env();
    println!(
        "chaos: {} s, detection bound {} s, {}",
        knobs.secs,
        knobs.detect.as_secs(),
        knobs.replay()
    );
    let ns = match netns::Namespaces::create(1 + NODE_STORES.len()) {
        Ok(ns) => Arc::new(ns),
        Err(why) => {
            println!("skipped: network namespaces are not available here: {why}");
            return;
        }
    };
    let dir = test_support::temp_dir();
    let hub = format!("http://{}:{PORT}", ns.inside(0));
    let api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap(),
    };
    let server_env = knobs.server_env.clone();
    let with_env = move |mut c: Command| {
        for (k, v) in &server_env {
            c.env(k, v);
        }
        c
    };

    // The hub first: the nodes' commands need their tokens from it.
    let fleet = Arc::new(Fleet::default());
    let guard = FleetGuard(fleet.clone());
    let hub_db = common::sqlite_url(dir.path());
    let bind = format!("{}:{PORT}", ns.inside(0));
    let hub_slot = fleet.add(Arc::new({
        let (ns, env) = (ns.clone(), with_env.clone());
        move || ns.command(0, &env(hub_command(&hub_db)), &bind)
    }));
    start(&fleet, hub_slot).await;
    for store in STORES {
        let (s, b) = api
            .call(
                Method::POST,
                &format!("{hub}/api/v1/admin/stores"),
                Some(ADMIN),
                Some(json!({"id": store, "name": format!("Chaos Kitchen {store}")})),
                None,
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut relays = vec![];
    let node_dirs: Vec<_> = NODE_STORES
        .iter()
        .map(|_| test_support::temp_dir())
        .collect();
    for (n, store) in NODE_STORES.iter().enumerate() {
        let (s, t) = api
            .call(
                Method::POST,
                &format!("{hub}/api/v1/admin/stores/{store}/node-tokens"),
                Some(ADMIN),
                Some(json!({"label": format!("node-{n}")})),
                None,
            )
            .await;
        assert_eq!(s, 201, "{t}");
        let token = t["token"].as_str().unwrap().to_owned();
        // The node's only way out: the relay on the test's end of its veth pair.
        let relay = Relay::start((ns.outside(1 + n), 0).into(), (ns.inside(0), PORT).into())
            .await
            .unwrap();
        let via = format!("http://{}", relay.addr());
        relays.push(relay);
        let (ns, env) = (ns.clone(), with_env.clone());
        let data = node_dirs[n].path().to_owned();
        let bind = format!("{}:{PORT}", ns.inside(1 + n));
        let slot = fleet.add(Arc::new(move || {
            let mut node = node_command(&data, store, &via, &token);
            // The link crosses the test's own namespaces (10.200.x.x), not loopback: plain ws:// is
            // refused there unless allowed, as on a real LAN.
            node.env("STORE_NODE__HUB__ALLOW_INSECURE", "true");
            ns.command(1 + n, &env(node), &bind)
        }));
        assert_eq!(slot, 1 + n);
    }
    let mut nodes = vec![];
    for (n, store) in NODE_STORES.into_iter().enumerate() {
        start(&fleet, 1 + n).await;
        let base = format!("http://{}:{PORT}", ns.inside(1 + n));
        nodes.push(Node {
            cashier: api.login(&base, "cashier", "3000").await,
            manager: api.login(&base, "manager", "2000").await,
            base,
            store,
        });
    }
    let ctx = Arc::new(Ctx {
        api,
        hub: hub.clone(),
        nodes,
        relays,
        fleet,
        ledger: Mutex::default(),
        stop: AtomicBool::new(false),
        knobs,
    });
    for n in 0..ctx.nodes.len() {
        common::eventually("the node connected to the hub", async || {
            connected(&ctx, n).await
        })
        .await;
    }
    common::eventually("store-1 to take web orders", async || {
        let (s, m) = ctx
            .api
            .call(
                Method::GET,
                &format!("{hub}/api/v1/public/stores/store-1/menu"),
                None,
                None,
                None,
            )
            .await;
        s == 200 && m["ordering"]["accepting"] == true
    })
    .await;

    // Chaos: every task has its own RNG drawn from the seed.
    let mut seeds = ChaCha8Rng::seed_from_u64(ctx.knobs.seed);
    let mut rng = || ChaCha8Rng::seed_from_u64(seeds.random());
    let end = Instant::now() + Duration::from_secs(ctx.knobs.secs);
    let mut clients = vec![];
    for n in 0..ctx.nodes.len() {
        clients.push(tokio::spawn(cashier(ctx.clone(), n, rng())));
        clients.push(tokio::spawn(kitchen(ctx.clone(), n, rng())));
    }
    clients.push(tokio::spawn(menu_editor(ctx.clone(), rng())));
    clients.push(tokio::spawn(customer(ctx.clone(), rng())));
    let mut faults = vec![tokio::spawn(hub_chaos(ctx.clone(), rng(), end))];
    for n in 0..ctx.nodes.len() {
        faults.push(tokio::spawn(node_chaos(ctx.clone(), n, rng(), end)));
    }
    for f in faults {
        f.await.expect("a chaos task panicked");
    }
    // Heal: every link open, every process up; the clients finish what they started.
    for r in &ctx.relays {
        r.set(Link::Open);
        r.set_delay(Duration::ZERO);
    }
    ctx.stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.expect("a client task panicked");
    }

    let deadline = Instant::now() + WAIT;
    let mut last = differences(&ctx).await;
    while let Some(d) = &last {
        assert!(
            Instant::now() < deadline,
            "no convergence within {WAIT:?} after the links healed:\n{d}\n{}",
            ctx.knobs.replay()
        );
        sleep(Duration::from_millis(500)).await;
        last = differences(&ctx).await;
    }
    let l = ctx.ledger.lock().unwrap();
    println!("chaos summary: {:?}", l.counts);
    assert!(
        l.failures.is_empty(),
        "{} failures during the run:\n{}\n{}",
        l.failures.len(),
        l.failures.join("\n"),
        ctx.knobs.replay()
    );
    drop(l);
    drop(guard);
    drop(ns);
}
