//! Card checkout while Stripe misbehaves, on SQLite and PostgreSQL: a real hub
//! (its Stripe adapter with a 1 s request timeout) against our fake Stripe with
//! faults injected (`/_fake/faults`), the customer on the hub's HTTP API and a
//! test peer syncing as the store's node.
//!
//! - Stripe answering 503, losing its answer (a 500 after doing the work),
//!   slower than the timeout before or after doing the work: the customer gets
//!   503 `payment_unavailable` and nothing reaches the store; the same request
//!   (same Idempotency-Key) once Stripe is back gives the order, the same one
//!   when asked again, and paying it makes one PaymentIntent, captured once;
//! - a checkout Stripe opened but the hub never heard of is found by the
//!   payments worker under its key: the customer sees its payment page without
//!   asking again, and asking again gives the same order and page;
//! - webhooks duplicated and reordered: placed once, captured once, and a
//!   decline that arrives after the payment tells the customer nothing.

mod common;

use std::time::Duration;

use common::{Backend, CardShop, TestDb, both, checkout_id, code, eventually};
use domain::status::Transition;
use serde_json::{Value, json};
use tokio::time::Instant;

const STORE: &str = common::CARD_STORE;
const WHSEC: &str = "whsec_faults_test";
/// The hub's limit on one Stripe request.
const STRIPE_TIMEOUT: Duration = Duration::from_secs(1);

type Setup = CardShop;

async fn setup(backend: Backend) -> (TestDb, Setup) {
    CardShop::start(backend, WHSEC, |flow, stripe| {
        // The worker asks again for a checkout whose creation is in doubt after this.
        flow.retry_after = Duration::from_millis(500);
        stripe.request_timeout = STRIPE_TIMEOUT;
    })
    .await
}

fn cart(quantity: u32) -> Value {
    json!({ "lines": [{ "item_id": "shoestring-fries", "quantity": quantity }], "payment": "card" })
}

impl Setup {
    async fn my_orders(&self) -> Vec<Value> {
        let (s, b) = self
            .hub
            .call_as(Some(&self.customer), "GET", "/api/v1/me/orders", None)
            .await;
        assert_eq!(s, 200, "{b}");
        b["orders"].as_array().unwrap().clone()
    }

    /// Pays the order, then [`Setup::capture_once`].
    async fn pay_and_capture_once(&mut self, order: &Value) {
        self.checkout(order, "pay").await;
        self.capture_once(order).await;
    }

    /// The paid order reaches the store, which accepts it, and it is captured:
    /// exactly once, one PaymentIntent, one `order.created` at the node.
    async fn capture_once(&mut self, order: &Value) {
        let id = order["id"].as_str().unwrap().to_owned();
        self.node
            .pump_until("the paid order at the node", |p| p.hub_creations(&id) == 1)
            .await;
        self.node.move_order(&id, Transition::Accept).await;
        eventually("the payment to be captured", async || {
            self.order(&id).await["payment"]["state"] == "captured"
        })
        .await;
        let o = self.order(&id).await;
        let total = o["totals"]["total"].as_i64().unwrap();
        assert_eq!(o["payment"]["captured"], total, "{o}");
        let pis = self.intents(&id);
        assert_eq!(pis.len(), 1, "one PaymentIntent for the order: {pis:?}");
        assert_eq!(
            (pis[0]["status"].as_str(), pis[0]["captured"].as_i64()),
            (Some("succeeded"), Some(total)),
            "{pis:?}"
        );
        assert_eq!(self.node.hub_creations(&id), 1, "placed at the store once");
        // The capture reaches the store as the order's payment.
        self.node
            .pump_until("the capture at the node", |p| {
                p.log.events().any(|e| {
                    e.origin == "hub"
                        && e.kind == "payment.recorded"
                        && e.subject.as_deref() == Some(id.as_str())
                })
            })
            .await;
    }
}

/// The customer's answer while Stripe is not answering well.
fn assert_unavailable(s: u16, b: &Value, what: &str) {
    assert_eq!(s, 503, "{what}: {b}");
    assert_eq!(code(b), "payment_unavailable", "{what}: {b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {b}"
    );
}

async fn a_checkout_stripe_fails_is_retried_into_one_order(backend: Backend) {
    let (_db, mut t) = setup(backend).await;
    let sessions = "/v1/checkout/sessions";
    let cases = [
        (
            "Stripe answers 503",
            json!({ "api": [{ "method": "POST", "path_prefix": sessions, "status": 503, "times": 1000 }] }),
        ),
        (
            "Stripe opens the checkout and loses the answer (500)",
            json!({ "api": [{ "method": "POST", "path_prefix": sessions, "after_commit": true, "times": 1000 }] }),
        ),
        (
            "Stripe is slower than the timeout before it works",
            json!({ "latency_ms": 1500 }),
        ),
        (
            "Stripe opens the checkout, then answers after the timeout",
            json!({ "api": [{ "method": "POST", "path_prefix": sessions, "delay_ms": 1500, "times": 1000 }] }),
        ),
    ];
    for (n, (what, fault)) in cases.iter().enumerate() {
        let key = format!("faulty-{n}");
        let body = cart(u32::try_from(n).unwrap() + 1);
        t.faults(Some(fault)).await;
        let began = Instant::now();
        let (s, b) = t.place(&key, &body).await;
        assert_unavailable(s, &b, what);
        assert!(
            began.elapsed() < STRIPE_TIMEOUT * 3,
            "{what}: the customer waited {:?}",
            began.elapsed()
        );
        // Still failing: the same again, and nothing reaches the store.
        let (s, b) = t.place(&key, &body).await;
        assert_unavailable(s, &b, what);
        // Each order before: its creation, acceptance and payment.
        assert_eq!(
            t.hub.event_count(STORE).await,
            3 * n as u64,
            "{what}: nothing reached the store"
        );
        t.faults(None).await;
        let (s, placed) = t.place(&key, &body).await;
        assert_eq!(s, 201, "{what}: {placed}");
        assert_eq!(placed["status"], "awaiting_payment", "{what}: {placed}");
        let (s, again) = t.place(&key, &body).await;
        assert_eq!((s, &again["id"]), (201, &placed["id"]), "{what}: {again}");
        assert_eq!(
            checkout_id(&again),
            checkout_id(&placed),
            "{what}: one checkout"
        );
        assert_eq!(
            t.my_orders().await.len(),
            n + 1,
            "{what}: the failed attempts left no other order"
        );
        t.pay_and_capture_once(&placed).await;
    }
    assert_eq!(t.node.hub_orders().len(), cases.len(), "one order per case");
    assert_eq!(
        t.stripe.ledger().as_array().unwrap().len(),
        cases.len(),
        "one PaymentIntent per order"
    );
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(a_checkout_stripe_fails_is_retried_into_one_order);

async fn the_worker_finds_a_checkout_the_customer_never_got(backend: Backend) {
    let (_db, mut t) = setup(backend).await;
    t.faults(Some(&json!({ "api": [{
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "delay_ms": 1500, "times": 1,
    }] })))
    .await;
    let (s, b) = t.place("late-answer", &cart(2)).await;
    assert_unavailable(s, &b, "a late answer");
    // The customer does not ask again: their order shows its payment page once
    // the worker has asked Stripe again under the same key.
    let mut mine = vec![];
    eventually("the order's payment page", async || {
        mine = t.my_orders().await;
        mine.len() == 1 && mine[0]["payment"]["checkout_url"].is_string()
    })
    .await;
    let found = mine[0].clone();
    assert_eq!(found["status"], "awaiting_payment", "{found}");
    let (s, placed) = t.place("late-answer", &cart(2)).await;
    assert_eq!(s, 201, "{placed}");
    assert_eq!(placed["id"], found["id"], "the same order");
    assert_eq!(
        checkout_id(&placed),
        checkout_id(&found),
        "the same checkout"
    );
    assert_eq!(
        t.hub.event_count(STORE).await,
        0,
        "nothing at the store unpaid"
    );
    t.pay_and_capture_once(&placed).await;
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(the_worker_finds_a_checkout_the_customer_never_got);

async fn duplicated_and_reordered_webhooks_capture_once(backend: Backend) {
    let (_db, mut t) = setup(backend).await;
    let (s, order) = t.place("hooks-1", &cart(3)).await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    // Every event twice; the next three (the decline, the completed checkout,
    // the authorised payment) held, then sent newest first.
    t.faults(Some(
        &json!({ "webhook": { "duplicate": true, "reorder": 3 } }),
    ))
    .await;
    t.checkout(&order, "decline").await;
    t.checkout(&order, "pay").await;
    t.node
        .pump_until("the paid order at the node", |p| p.hub_creations(&id) == 1)
        .await;
    let deliveries = async |t: &Setup| -> Vec<Value> {
        let r = t
            .http
            .get(format!("{}_fake/deliveries", t.stripe.url()))
            .send()
            .await
            .unwrap();
        r.json::<Vec<Value>>().await.unwrap()
    };
    eventually("every event delivered twice", async || {
        let d = deliveries(&t).await;
        [
            "payment_intent.payment_failed",
            "checkout.session.completed",
            "payment_intent.amount_capturable_updated",
        ]
        .iter()
        .all(|kind| {
            d.iter()
                .filter(|x| x["event_type"] == *kind && x["outcome"] == "delivered")
                .count()
                == 2
        })
    })
    .await;
    let d = deliveries(&t).await;
    let order_of: Vec<&str> = d
        .iter()
        .map(|x| x["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        order_of.first().copied(),
        Some("payment_intent.amount_capturable_updated"),
        "reordered: the newest first ({order_of:?})"
    );
    let paid = t.order(&id).await;
    assert_eq!(paid["status"], "placed", "{paid}");
    assert_eq!(paid["payment"]["state"], "authorized", "{paid}");
    assert_eq!(
        paid["payment"]["problem"],
        Value::Null,
        "a decline older than the payment tells the paying customer nothing"
    );
    t.capture_once(&order).await;
    eventually("the capture's event delivered twice", async || {
        deliveries(&t)
            .await
            .iter()
            .filter(|x| {
                x["event_type"] == "payment_intent.succeeded" && x["outcome"] == "delivered"
            })
            .count()
            == 2
    })
    .await;
    let o = t.order(&id).await;
    assert_eq!(
        (o["status"].as_str(), o["payment"]["state"].as_str()),
        (Some("accepted"), Some("captured")),
        "{o}"
    );
    assert_eq!(
        t.hub.event_count(STORE).await,
        3,
        "the order's creation, its acceptance and its payment, nothing more"
    );
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(duplicated_and_reordered_webhooks_capture_once);
