//! The card payment flow under SIGKILL, on SQLite and PostgreSQL: the real
//! `cloud-hub` binary, run as a child process against our fake Stripe (in this
//! process, its webhooks sent to the hub and retried while the hub is down),
//! with a test peer syncing as the store's node.
//!
//! Customers open 30 card checkouts and pay, decline, let expire or abandon
//! them on the fake's control endpoints; the store accepts, cancels or ignores
//! the paid orders (the hub then releases the hold at the accept timeout);
//! meanwhile the hub is killed with SIGKILL at random moments (every Stripe
//! call does its work and then answers late, so kills land between a call and
//! the hub's commit; some kills follow a capture or cancellation at once) and
//! restarted on the same database. Then, once the hub is left running:
//!
//! - each order went where its customer and store took it (captured when
//!   accepted, released when cancelled or ignored, expired, still awaiting);
//! - at most one PaymentIntent per order at the fake, none left authorised;
//! - money is captured only for an order the store accepted, and the fake's
//!   captured amount per order is the hub's (`card_payments`, as the customer
//!   API shows it) and the order's total;
//! - only paid orders reached the store, each once; a released one is
//!   cancelled there.
//!
//! The run is seeded (`PAYMENTS_CRASH_SEED` replays one); the seed, the kills
//! and the tail of the hub's log print when it fails.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ADMIN, Backend, Peer, TestDb, both, demo_menu, s, wait_until};
use domain::status::{OrderStatus, Transition};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::time::Instant;

const STORE: &str = "s1";
const WHSEC: &str = "whsec_crash_test";
const STRIPE_KEY: &str = "sk_test_crash";
const PASSWORD: &str = "plum-kettle-73-orbit";
const ORDERS: usize = 30;
const CUSTOMERS: usize = 4;
/// The store's time to accept; the node answers within moments, kills included.
const ACCEPT_TIMEOUT_SECS: u64 = 12;
/// How late every Stripe answer comes (after the work is done): the window a kill lands in.
const STRIPE_DELAY_MS: u64 = 250;
/// The longest the whole run may take to reach its final state.
const RUN: Duration = Duration::from_secs(55);

/// What the customer does on the payment page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnPage {
    Pays,
    DeclinedThenPays,
    DeclinedThenExpires,
    Expires,
    Abandons,
}

impl OnPage {
    fn paid(self) -> bool {
        matches!(self, OnPage::Pays | OnPage::DeclinedThenPays)
    }
}

/// What the store does with a paid order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Accepts,
    Cancels,
    Ignores,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    pays: OnPage,
    store: Store,
    quantity: u32,
}

fn plan(rng: &mut StdRng) -> Plan {
    let pays = match rng.random_range(0..100) {
        0..60 => OnPage::Pays,
        60..70 => OnPage::DeclinedThenPays,
        70..78 => OnPage::DeclinedThenExpires,
        78..88 => OnPage::Expires,
        _ => OnPage::Abandons,
    };
    let store = match rng.random_range(0..4) {
        0 | 1 => Store::Accepts,
        2 => Store::Cancels,
        _ => Store::Ignores,
    };
    Plan {
        pays,
        store,
        quantity: rng.random_range(1..=3),
    }
}

/// An order a customer placed: whose, and what happens to it.
#[derive(Debug, Clone)]
struct Placed {
    customer: usize,
    plan: Plan,
}

type Orders = Arc<Mutex<BTreeMap<String, Placed>>>;

/// The hub as a child process on a fixed port, killed and started again.
struct HubProcess {
    args: Vec<String>,
    base: String,
    log: PathBuf,
    child: Option<Child>,
    http: reqwest::Client,
}

impl HubProcess {
    async fn start(&mut self) {
        assert!(self.child.is_none(), "the hub is running already");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloud-hub"))
            .args(&self.args)
            .env("HUB_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + common::WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the hub exited at start ({status}):\n{}", self.log_tail(30));
            }
            let up = self.http.get(format!("{}/healthz", self.base)).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "the hub did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child = Some(child);
    }

    /// SIGKILL, then waits for the process to be gone.
    async fn kill(&mut self) {
        let mut child = self.child.take().expect("a running hub");
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }

    fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Prints what replays a failed run.
struct OnFailure {
    seed: u64,
    backend: Backend,
    log: PathBuf,
    kills: Arc<Mutex<Vec<String>>>,
}

impl Drop for OnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        } else {
            let text = std::fs::read_to_string(&self.log)
                .unwrap_or_else(|e| format!("({}: {e})", self.log.display()));
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "payments crash test failed on {:?}: rerun with PAYMENTS_CRASH_SEED={}\nkills: {:#?}\nthe hub's log ({}), last lines:\n{}",
                self.backend,
                self.seed,
                self.kills.lock().unwrap(),
                self.log.display(),
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
        }
    }
}

/// The hub's HTTP API as a client that rides out the hub's deaths.
#[derive(Clone)]
struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// One attempt: status and JSON body (Null when none), or Err when the hub was not there.
    async fn send(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let bytes = r.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A read, tried until the hub answers it with a 200 (before `deadline`).
    async fn read(&self, token: &str, path: &str, deadline: Instant) -> Value {
        loop {
            match self.send(Some(token), "GET", path, None, None).await {
                Ok((200, b)) => return b,
                Ok((s, b)) if s < 500 => panic!("GET {path}: {s} {b}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "GET {path}: the hub never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One customer: places its orders one after another and pays (or not) on the fake's page.
struct Customer {
    n: usize,
    token: String,
    api: Client,
    stripe: String,
    plans: Vec<Plan>,
    orders: Orders,
    deadline: Instant,
    /// Orders whose request the hub died under (no answer), over all customers.
    lost: Arc<AtomicUsize>,
}

impl Customer {
    async fn run(self) {
        let mut known: HashSet<String> = HashSet::new();
        let fake = reqwest::Client::new();
        for (i, plan) in self.plans.iter().enumerate() {
            let id = self
                .place(&format!("c{}-o{i}", self.n), plan, &mut known)
                .await;
            self.orders.lock().unwrap().insert(
                id.clone(),
                Placed {
                    customer: self.n,
                    plan: *plan,
                },
            );
            let checkout = self.checkout_of(&id).await;
            let steps: &[&str] = match plan.pays {
                OnPage::Pays => &["pay"],
                OnPage::DeclinedThenPays => &["decline", "pay"],
                OnPage::DeclinedThenExpires => &["decline", "expire"],
                OnPage::Expires => &["expire"],
                OnPage::Abandons => &[],
            };
            for step in steps {
                let r = fake
                    .post(format!("{}_fake/checkout/{checkout}/{step}", self.stripe))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{step} {checkout}: {}", r.status());
            }
        }
    }

    /// Places one card order; when the hub dies under the request, finds the
    /// order it may have started (the customer's list) or asks again.
    async fn place(&self, key: &str, plan: &Plan, known: &mut HashSet<String>) -> String {
        let cart = json!({ "lines": [
            { "item_id": "shoestring-fries", "quantity": plan.quantity },
        ], "payment": "card" });
        let path = format!("/api/v1/stores/{STORE}/orders");
        let mut key = key.to_owned();
        let mut lost = false;
        for attempt in 1.. {
            assert!(Instant::now() < self.deadline, "order {key} never placed");
            match self
                .api
                .send(Some(&self.token), "POST", &path, Some(&cart), Some(&key))
                .await
            {
                Ok((201, b)) => {
                    let id = s(&b, "id");
                    known.insert(id.clone());
                    return id;
                }
                // The claim of a request the hub died in: a new order under a new key
                // (the list showed nothing it started).
                Ok((409, b)) if common::code(&b) == "request_in_flight" => {
                    key = format!("{key}-{attempt}");
                }
                Ok((s, b)) if s < 500 => panic!("placing {key}: {s} {b}"),
                _ => {
                    if !lost {
                        lost = true;
                        self.lost.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
            // After a 409: the order may exist already (started before the kill).
            let list = self
                .api
                .read(&self.token, "/api/v1/me/orders", self.deadline)
                .await;
            if let Some(id) = list["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| s(o, "id"))
                .find(|id| !known.contains(id))
            {
                known.insert(id.clone());
                return id;
            }
        }
        unreachable!()
    }

    /// The order's checkout (its payment page), once the hub has one.
    async fn checkout_of(&self, id: &str) -> String {
        loop {
            let o = self
                .api
                .read(
                    &self.token,
                    &format!("/api/v1/me/orders/{id}"),
                    self.deadline,
                )
                .await;
            if let Some(url) = o["payment"]["checkout_url"].as_str() {
                return url.rsplit('/').next().unwrap().to_owned();
            }
            assert!(
                Instant::now() < self.deadline,
                "order {id} never got a payment page: {o}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The store's node: syncs whenever the hub is up, and answers each paid order as planned.
async fn node(
    mut peer: Peer,
    ws_url: String,
    token: String,
    orders: Orders,
    mut stop: watch::Receiver<bool>,
) -> Peer {
    let mut answered: HashSet<String> = HashSet::new();
    let far = Instant::now() + Duration::from_secs(600);
    loop {
        if *stop.borrow() {
            return peer;
        }
        if !peer.try_connect(&ws_url, &token).await {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        loop {
            let alive = tokio::select! {
                _ = stop.changed() => None,
                alive = peer.step(far) => Some(alive),
            };
            match alive {
                None => return peer,
                Some(false) => break,
                Some(true) => {}
            }
            for id in peer.hub_orders() {
                if answered.contains(&id) {
                    continue;
                }
                answered.insert(id.clone());
                let plan = orders.lock().unwrap().get(&id).map(|p| p.plan);
                match plan.map(|p| p.store) {
                    Some(Store::Accepts) => peer.move_order(&id, Transition::Accept).await,
                    Some(Store::Cancels) => peer.move_order(&id, Transition::Cancel).await,
                    // Ignored; or not ours: the final checks catch it.
                    Some(Store::Ignores) | None => {}
                }
            }
        }
        peer.ws = None;
    }
}

/// Kills the hub at random moments until told to stop, and leaves it running.
async fn killer(
    mut hub: HubProcess,
    stripe: Arc<fake_stripe::Running>,
    seed: u64,
    kills: Arc<Mutex<Vec<String>>>,
    stop: watch::Receiver<bool>,
) -> HubProcess {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6b69_6c6c);
    let started = Instant::now();
    while !*stop.borrow() {
        let wait = Duration::from_millis(rng.random_range(600..2500));
        let after_stripe = rng.random_bool(0.4);
        let why = if after_stripe {
            // Right after a capture or a cancellation at Stripe, before the hub hears back.
            let settled = |l: &Value| {
                l.as_array()
                    .unwrap()
                    .iter()
                    .filter(|pi| pi["status"] == "succeeded" || pi["status"] == "canceled")
                    .count()
            };
            let before = settled(&stripe.ledger());
            let until = Instant::now() + wait;
            while Instant::now() < until && settled(&stripe.ledger()) == before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if settled(&stripe.ledger()) > before {
                "right after a capture/cancel at Stripe"
            } else {
                "at random (no Stripe move came)"
            }
        } else {
            tokio::time::sleep(wait).await;
            "at random"
        };
        if *stop.borrow() {
            break;
        }
        hub.kill().await;
        kills
            .lock()
            .unwrap()
            .push(format!("{:>6} ms: {why}", started.elapsed().as_millis()));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        hub.start().await;
    }
    hub
}

async fn card_payments_survive_sigkill(backend: Backend) {
    let seed = std::env::var("PAYMENTS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("payments crash test on {backend:?}: PAYMENTS_CRASH_SEED={seed}");
    let begun = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let db = TestDb::new(backend).await;
    // The hub's log: kept when the test fails, removed when it passes.
    let log = std::env::temp_dir().join(format!("payments-crash-{backend:?}-{seed}.log"));
    let kills = Arc::new(Mutex::new(vec![]));
    let _report = OnFailure {
        seed,
        backend,
        log: log.clone(),
        kills: kills.clone(),
    };

    let stripe = Arc::new(
        fake_stripe::start(
            fake_stripe::Config {
                secret_key: STRIPE_KEY.into(),
                webhook_secret: WHSEC.into(),
                webhook_retry_base: Duration::from_millis(100),
                max_webhook_attempts: 9,
                ..Default::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = HubProcess {
        args: [
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &db.url,
            "--db-max-connections",
            "5",
            "--stripe-secret-key",
            STRIPE_KEY,
            "--stripe-webhook-secret",
            WHSEC,
            "--stripe-api-base",
            &stripe.url(),
            "--public-url",
            "http://shop.example",
            "--accept-timeout-secs",
            &ACCEPT_TIMEOUT_SECS.to_string(),
        ]
        .map(str::to_owned)
        .to_vec(),
        base: base.clone(),
        log: log.clone(),
        child: None,
        http: reqwest::Client::new(),
    };
    hub.start().await;
    stripe.set_webhook_url(Some(format!("{base}/api/v1/payments/stripe/webhook")));
    let api = Client {
        base: base.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap(),
    };

    // The store, its menu and its node; the customers.
    let admin = |method: &str, path: &str, body: Value| {
        let api = api.clone();
        let (method, path) = (method.to_owned(), path.to_owned());
        async move {
            let (s, b) = api
                .send(Some(ADMIN), &method, &path, Some(&body), None)
                .await
                .unwrap();
            assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
            b
        }
    };
    admin(
        "POST",
        "/api/v1/admin/stores",
        json!({ "id": STORE, "name": "Store s1" }),
    )
    .await;
    admin(
        "PUT",
        &format!("/api/v1/stores/{STORE}/menu"),
        serde_json::to_value(demo_menu()).unwrap(),
    )
    .await;
    let node_token = s(
        &admin(
            "POST",
            &format!("/api/v1/admin/stores/{STORE}/node-tokens"),
            json!({ "label": "node-1" }),
        )
        .await,
        "token",
    );
    let ws_url = format!("ws://127.0.0.1:{port}/api/v1/sync");
    let mut peer = Peer::new(STORE, "node-1");
    assert!(peer.try_connect(&ws_url, &node_token).await);
    peer.pump_until("the catalog at the node", |p| {
        p.docs.contains_key(&sync::doc::DocKind::Catalog)
    })
    .await;
    let mut tokens = vec![];
    for n in 0..CUSTOMERS {
        let (status, b) = api
            .send(
                None,
                "POST",
                "/api/v1/auth/signup",
                Some(&json!({ "email": format!("customer{n}@example.com"), "password": PASSWORD, "name": format!("Customer {n}") })),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{b}");
        tokens.push(s(&b, "access_token"));
    }

    // The run: customers and the store at work, the hub killed under them.
    let orders: Orders = Arc::default();
    let lost = Arc::new(AtomicUsize::new(0));
    let plans: Vec<Plan> = (0..ORDERS).map(|_| plan(&mut rng)).collect();
    let deadline = Instant::now() + RUN;
    let faults = json!({ "api": [{ "path_prefix": "/v1/", "delay_ms": STRIPE_DELAY_MS, "times": 1_000_000 }] });
    let fake = reqwest::Client::new();
    let r = fake
        .post(format!("{}_fake/faults", stripe.url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (stop_node, node_stop) = watch::channel(false);
    let (stop_killing, killing_stop) = watch::channel(false);
    let node_task = tokio::spawn(node(
        peer,
        ws_url.clone(),
        node_token.clone(),
        orders.clone(),
        node_stop,
    ));
    let killer_task = tokio::spawn(killer(
        hub,
        stripe.clone(),
        seed,
        kills.clone(),
        killing_stop,
    ));
    let customers: Vec<_> = (0..CUSTOMERS)
        .map(|n| {
            let customer = Customer {
                n,
                token: tokens[n].clone(),
                api: api.clone(),
                stripe: stripe.url(),
                plans: plans.iter().skip(n).step_by(CUSTOMERS).copied().collect(),
                orders: orders.clone(),
                deadline,
                lost: lost.clone(),
            };
            tokio::spawn(customer.run())
        })
        .collect();
    for c in customers {
        c.await.unwrap();
    }
    // A kill or two more while the last paid orders reach the store.
    let kills_then = kills.lock().unwrap().len();
    assert!(
        wait_until(deadline, async || {
            let n = kills.lock().unwrap().len();
            n > kills_then + 1 && n >= 4
        })
        .await,
        "the hub was not killed enough"
    );
    stop_killing.send(true).unwrap();
    let mut hub = killer_task.await.unwrap();
    let r = fake
        .delete(format!("{}_fake/faults", stripe.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    // The final state: every order where its customer and store took it.
    let placed = orders.lock().unwrap().clone();
    assert_eq!(placed.len(), ORDERS, "every planned order was placed once");
    let mut hub_view = HashMap::new();
    let settled = wait_until(deadline, async || {
        hub_view = views(&api, &placed, &tokens, deadline).await;
        placed
            .iter()
            .all(|(id, p)| state(&hub_view[id]) == expected(p))
    })
    .await;
    if !settled {
        let wrong: Vec<String> = placed
            .iter()
            .filter(|(id, p)| state(&hub_view[*id]) != expected(p))
            .map(|(id, p)| {
                let o = &hub_view[id];
                format!(
                    "{id} {:?}: expected {:?}, got {:?} {}",
                    p.plan,
                    expected(p),
                    state(o),
                    o["payment"]
                )
            })
            .collect();
        panic!("orders not where they should be:\n{}", wrong.join("\n"));
    }

    // The fake's ledger against the hub's payments.
    let ledger = stripe.ledger();
    let mut intents: HashMap<String, Vec<&Value>> = HashMap::new();
    for pi in ledger.as_array().unwrap() {
        let order = pi["metadata"]["order_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a PaymentIntent without an order: {pi}"));
        intents.entry(order.to_owned()).or_default().push(pi);
    }
    for (order, pis) in &intents {
        assert!(
            placed.contains_key(order),
            "a PaymentIntent for an order no customer placed: {pis:?}"
        );
        assert_eq!(pis.len(), 1, "one PaymentIntent per order: {pis:?}");
    }
    for (id, p) in &placed {
        let o = &hub_view[id];
        let pi = intents.get(id).map(|v| v[0]);
        let status = pi.map(|pi| pi["status"].as_str().unwrap());
        let captured = pi.map_or(0, |pi| pi["captured"].as_i64().unwrap());
        let total = o["totals"]["total"].as_i64().unwrap();
        assert_eq!(
            o["payment"]["captured"].as_i64(),
            Some(captured),
            "{id}: the hub's captured amount is Stripe's ({pi:?})"
        );
        match expected(p).1 {
            "captured" => {
                assert_eq!(status, Some("succeeded"), "{id}");
                assert_eq!(captured, total, "{id}: the order's total, captured once");
            }
            "released" => {
                assert_eq!(status, Some("canceled"), "{id}: the hold released");
                assert_eq!(captured, 0, "{id}: nothing charged");
            }
            // Never authorised: no PaymentIntent, or one that failed and went with its checkout.
            "expired" => assert!(
                pi.is_none_or(|pi| pi["authorised"] == 0 && pi["status"] == "canceled"),
                "{id}: {pi:?}"
            ),
            _ => assert!(
                pi.is_none_or(|pi| pi["authorised"] == 0 && pi["captured"] == 0),
                "{id}: {pi:?}"
            ),
        }
    }
    assert!(
        ledger
            .as_array()
            .unwrap()
            .iter()
            .all(|pi| pi["status"] != "requires_capture"),
        "no card is left on hold: {ledger}"
    );

    // The store: paid orders only, each once; a released one cancelled there.
    let (status, store) = api
        .send(
            Some(ADMIN),
            "GET",
            &format!("/api/v1/stores/{STORE}/orders"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{store}");
    let at_store: HashMap<String, String> = store["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (s(o, "id"), s(o, "status")))
        .collect();
    let paid: HashSet<&String> = placed
        .iter()
        .filter(|(_, p)| p.plan.pays.paid())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        at_store.keys().collect::<HashSet<_>>(),
        paid,
        "exactly the paid orders reached the store"
    );
    for id in &paid {
        assert_eq!(
            Some(at_store[*id].as_str()),
            Some(expected(&placed[*id]).0),
            "{id} at the store"
        );
    }
    stop_node.send(true).unwrap();
    let mut peer = node_task.await.unwrap();
    // The node, synced afresh: each paid order once, a released one cancelled.
    peer.disconnect().await;
    peer.ws = None;
    assert!(peer.try_connect(&ws_url, &node_token).await);
    // Accepted there and never cancelled; cancelled there by the store, or by
    // the hub when the store ignored it.
    let at_node = |p: &Peer, id: &String| {
        let held = p.order_statuses(id);
        let has = |origin: Option<&str>, s: OrderStatus| {
            held.iter()
                .any(|(o, h)| *h == s && origin.is_none_or(|origin| o == origin))
        };
        let ok = match placed[id].plan.store {
            Store::Accepts => {
                has(None, OrderStatus::Accepted) && !has(None, OrderStatus::Cancelled)
            }
            Store::Cancels => has(None, OrderStatus::Cancelled),
            Store::Ignores => has(Some("hub"), OrderStatus::Cancelled),
        };
        ok.then_some(()).ok_or(placed[id].plan.store)
    };
    let until = Instant::now() + common::WAIT;
    while !paid.iter().all(|id| at_node(&peer, id).is_ok()) {
        let stepped = tokio::time::timeout_at(until, peer.step(until + common::WAIT)).await;
        if stepped.is_err() || stepped == Ok(false) {
            let wrong: Vec<String> = paid
                .iter()
                .filter_map(|id| {
                    let store = at_node(&peer, id).err()?;
                    Some(format!(
                        "{id}: the store {store:?}, the node holds {:?}",
                        peer.order_statuses(id)
                    ))
                })
                .collect();
            panic!(
                "the node's orders are not where the hub's are:\n{}",
                wrong.join("\n")
            );
        }
    }
    for id in placed.keys() {
        let want = usize::from(paid.contains(&id));
        assert_eq!(
            peer.hub_creations(id),
            want,
            "{id}: placed at the store once if paid"
        );
    }
    peer.disconnect().await;
    hub.kill().await;
    let (kills, kills_after_stripe) = {
        let k = kills.lock().unwrap();
        let after = k.iter().filter(|w| w.contains("right after")).count();
        (k.len(), after)
    };
    eprintln!(
        "payments crash test on {backend:?}: {ORDERS} orders, {kills} kills ({} right after a Stripe move), {} orders whose request got no answer, {:.1} s",
        kills_after_stripe,
        lost.load(Ordering::Relaxed),
        begun.elapsed().as_secs_f64()
    );
    assert!(kills >= 3, "the hub was killed only {kills} times");
}
both!(card_payments_survive_sigkill);

/// Where an order should end: its status and its payment's state, as its customer sees them.
fn expected(p: &Placed) -> (&'static str, &'static str) {
    match (p.plan.pays, p.plan.store) {
        (OnPage::Pays | OnPage::DeclinedThenPays, Store::Accepts) => ("accepted", "captured"),
        (OnPage::Pays | OnPage::DeclinedThenPays, _) => ("cancelled", "released"),
        (OnPage::DeclinedThenExpires | OnPage::Expires, _) => ("payment_expired", "expired"),
        (OnPage::Abandons, _) => ("awaiting_payment", "awaiting_payment"),
    }
}

/// An order's status and its payment's state, from the customer's view of it.
fn state(o: &Value) -> (&str, &str) {
    (
        o["status"].as_str().unwrap_or("?"),
        o["payment"]["state"].as_str().unwrap_or("?"),
    )
}

/// Every order as its customer sees it now.
async fn views(
    api: &Client,
    placed: &BTreeMap<String, Placed>,
    tokens: &[String],
    deadline: Instant,
) -> HashMap<String, Value> {
    let mut all = HashMap::new();
    for (id, p) in placed {
        let path = format!("/api/v1/me/orders/{id}");
        all.insert(
            id.clone(),
            api.read(&tokens[p.customer], &path, deadline).await,
        );
    }
    all
}
