//! Web orders paid by card, on SQLite and PostgreSQL: a real hub, its real
//! Stripe adapter (async-stripe) talking to our fake Stripe over HTTP, the
//! fake's signed webhooks, and a test peer syncing as the store's node.
//!
//! - paid: the order waits unpaid (nothing at the store), is placed once the
//!   card is authorised, and is captured when the store accepts it;
//! - declined, then abandoned: the customer hears why, the store never sees it;
//! - the store cancels: the hold is released;
//! - the store never answers: released after the accept timeout, and the hub
//!   cancels the order at the store;
//! - webhooks that are unsigned, forged, stale or replayed change nothing;
//! - refunds, partial and full, from the hub and from the till (asked while
//!   offline, answered once it reconnects), never more than was captured; a
//!   captured order the store cancels is refunded once; a refund made at the
//!   processor is learnt from its event;
//! - the day's reconciliation agrees, then flags a planted difference (a refund
//!   made at the processor whose event was lost), in JSON and CSV.

mod common;

use std::time::Duration;

use common::{Backend, TestDb, both, code, eventually};
use domain::fact::Fact;
use domain::status::{OrderStatus, Transition};
use serde_json::{Value, json};

const STORE: &str = "s1";
const WHSEC: &str = "whsec_payments_test";

/// The hub, the fake Stripe, the store's node and a customer (`common::CardShop`).
type Setup = common::CardShop;

async fn setup(backend: Backend, accept_timeout: Duration) -> (TestDb, Setup) {
    common::CardShop::start(backend, WHSEC, |flow, _| {
        flow.accept_timeout = accept_timeout
    })
    .await
}

fn card_cart() -> Value {
    json!({ "lines": [
        { "item_id": "shoestring-fries", "quantity": 2 },
    ], "payment": "card" })
}

impl Setup {
    /// The fake's PaymentIntent of our order.
    fn intent(&self, order_id: &str) -> Option<Value> {
        self.intents(order_id).into_iter().next()
    }

    /// Hub-origin events the node has received.
    fn hub_events(&self) -> usize {
        self.node.log.events().filter(|e| e.origin == "hub").count()
    }

    /// The store's node moves the order on (`accept`, `cancel`), as its kitchen would.
    async fn at_the_store(&mut self, order_id: &str, t: Transition) {
        self.node.move_order(order_id, t).await;
    }
}

async fn a_card_order_is_placed_once_paid_and_captured_once_accepted(backend: Backend) {
    let (_db, mut t) = setup(backend, Duration::from_secs(600)).await;
    let (s, first) = t.place("card-1", &card_cart()).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["status"], "awaiting_payment", "{first}");
    assert_eq!(first["ticket"], Value::Null);
    assert_eq!(first["payment"]["state"], "awaiting_payment");
    let url = first["payment"]["checkout_url"].as_str().unwrap();
    assert!(url.starts_with(&t.stripe.url()), "{url}");
    let id = first["id"].as_str().unwrap().to_owned();
    // The customer follows it from the start: no ticket while it is unpaid.
    let mut tracker = common::track(&t.hub, &t.customer, &id).await;
    let status = common::next_status(&mut tracker).await;
    assert_eq!(
        (status["status"].as_str(), status["ticket"].as_str()),
        (Some("awaiting_payment"), Some("")),
        "{status}"
    );
    // Retried: the same order and the same checkout, not a second one.
    let (s, again) = t.place("card-1", &card_cart()).await;
    assert_eq!((s, &again["id"]), (201, &first["id"]));
    assert_eq!(
        t.stripe.ledger().as_array().unwrap().len(),
        0,
        "no payment yet"
    );
    assert_eq!(
        t.hub.event_count(STORE).await,
        0,
        "nothing reaches the store unpaid"
    );

    t.checkout(&first, "pay").await;
    eventually("the paid order to be placed", async || {
        t.order(&id).await["status"] == "placed"
    })
    .await;
    let placed = t.order(&id).await;
    assert_eq!(placed["ticket"], "W-0001", "{placed}");
    let status = common::next_status(&mut tracker).await;
    assert_eq!(
        (status["status"].as_str(), status["ticket"].as_str()),
        (Some("placed"), Some("W-0001")),
        "{status}"
    );
    assert_eq!(placed["payment"]["state"], "authorized", "{placed}");
    assert_eq!(t.intent(&id).unwrap()["status"], "requires_capture");
    t.node
        .pump_until("the order at the node", |p| {
            p.log.events().any(|e| e.origin == "hub")
        })
        .await;

    t.at_the_store(&id, Transition::Accept).await;
    eventually("the payment to be captured", async || {
        t.order(&id).await["payment"]["state"] == "captured"
    })
    .await;
    let pi = t.intent(&id).unwrap();
    let total = placed["totals"]["total"].as_i64().unwrap();
    assert_eq!(
        (pi["status"].as_str(), pi["captured"].as_i64()),
        (Some("succeeded"), Some(total)),
        "{pi}"
    );
    assert_eq!(t.order(&id).await["payment"]["captured"], total);
    assert_eq!(
        t.stripe.ledger().as_array().unwrap().len(),
        1,
        "one payment for one order"
    );
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(a_card_order_is_placed_once_paid_and_captured_once_accepted);

async fn a_declined_then_abandoned_checkout_never_reaches_the_store(backend: Backend) {
    let (_db, t) = setup(backend, Duration::from_secs(600)).await;
    let (s, order) = t.place("card-2", &card_cart()).await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let mut tracker = common::track(&t.hub, &t.customer, &id).await;
    assert_eq!(
        common::next_status(&mut tracker).await["status"],
        "awaiting_payment"
    );
    t.checkout(&order, "decline").await;
    eventually("the decline to be told", async || {
        t.order(&id).await["payment"]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("declined"))
    })
    .await;
    assert_eq!(
        t.order(&id).await["status"],
        "awaiting_payment",
        "may try again"
    );
    t.checkout(&order, "expire").await;
    eventually("the checkout to expire", async || {
        t.order(&id).await["status"] == "payment_expired"
    })
    .await;
    let expired = t.order(&id).await;
    assert_eq!(expired["payment"]["state"], "expired", "{expired}");
    assert_eq!(
        common::next_status(&mut tracker).await["status"],
        "payment_expired"
    );
    assert!(
        expired["payment"].get("checkout_url").is_none(),
        "{expired}"
    );
    assert_eq!(t.hub_events(), 0);
    assert_eq!(t.hub.event_count(STORE).await, 0, "the store never saw it");
    let (s, list) = t
        .hub
        .call_as(Some(&t.customer), "GET", "/api/v1/me/orders", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["orders"][0]["status"], "payment_expired", "{list}");
    t.hub.stop().await;
}
both!(a_declined_then_abandoned_checkout_never_reaches_the_store);

/// A card declined on the payment page, then another that pays: the order is
/// placed once, and the old decline is no longer told to the customer.
async fn a_card_paid_after_a_decline_leaves_the_decline_behind(backend: Backend) {
    let (_db, t) = setup(backend, Duration::from_secs(600)).await;
    let (s, order) = t.place("card-retry", &card_cart()).await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    t.checkout(&order, "decline").await;
    eventually("the decline to be told", async || {
        t.order(&id).await["payment"]["problem"] == "Your card was declined."
    })
    .await;
    t.checkout(&order, "pay").await;
    eventually("the order to be placed", async || {
        t.order(&id).await["status"] == "placed"
    })
    .await;
    let paid = t.order(&id).await;
    assert_eq!(paid["payment"]["state"], "authorized", "{paid}");
    assert_eq!(paid["payment"]["problem"], Value::Null, "{paid}");
    t.hub.stop().await;
}
both!(a_card_paid_after_a_decline_leaves_the_decline_behind);

async fn the_hold_is_released_when_the_store_cancels(backend: Backend) {
    let (_db, mut t) = setup(backend, Duration::from_secs(600)).await;
    let (_, first) = t.place("card-3", &card_cart()).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    t.checkout(&first, "pay").await;
    t.node
        .pump_until("the first order at the node", |p| {
            p.log.events().any(|e| e.origin == "hub")
        })
        .await;
    t.at_the_store(&first_id, Transition::Cancel).await;
    eventually("the hold to be released", async || {
        t.order(&first_id).await["payment"]["state"] == "released"
    })
    .await;
    assert_eq!(t.intent(&first_id).unwrap()["status"], "canceled");
    assert_eq!(
        t.order(&first_id).await["payment"]["problem"],
        "The store cancelled the order."
    );

    assert_eq!(
        t.intent(&first_id).unwrap()["captured"],
        0,
        "nothing was charged"
    );
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(the_hold_is_released_when_the_store_cancels);

async fn an_order_the_store_never_accepts_is_cancelled_and_released(backend: Backend) {
    let (_db, mut t) = setup(backend, Duration::from_secs(2)).await;
    // Nobody at the store answers within the 2 s given: released, and cancelled at the store.
    let (_, second) = t.place("card-4", &card_cart()).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    t.checkout(&second, "pay").await;
    eventually("the unanswered order to be cancelled", async || {
        let o = t.order(&second_id).await;
        o["status"] == "cancelled" && o["payment"]["state"] == "released"
    })
    .await;
    assert_eq!(t.intent(&second_id).unwrap()["status"], "canceled");
    t.node
        .pump_until("the hub's cancellation at the node", |p| {
            p.log.events().any(|e| {
                e.origin == "hub"
                    && e.subject.as_deref() == Some(second_id.as_str())
                    && Fact::decode(&e.kind, &e.data)
                        .ok()
                        .and_then(|f| f.order().map(|o| o.status))
                        == Some(OrderStatus::Cancelled)
            })
        })
        .await;
    assert!(
        t.stripe
            .ledger()
            .as_array()
            .unwrap()
            .iter()
            .all(|pi| pi["captured"] == 0),
        "nothing was charged"
    );
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(an_order_the_store_never_accepts_is_cancelled_and_released);

fn sign(payload: &str, secret: &str, t: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(tag.as_ref()))
}

async fn forged_stale_and_replayed_webhooks_change_nothing(backend: Backend) {
    let (_db, t) = setup(backend, Duration::from_secs(600)).await;
    let (_, order) = t.place("card-5", &card_cart()).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let url = format!("{}/api/v1/payments/stripe/webhook", t.hub.base);
    let checkout = order["payment"]["checkout_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // A "completed" event for our checkout that Stripe never sent.
    let event = json!({
        "id": "evt_forged_1", "object": "event", "type": "checkout.session.completed",
        "created": 1_700_000_000, "livemode": false,
        "data": { "object": {
            "id": checkout, "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "payment_intent": "pi_forged",
            "metadata": { "order_id": id }, "url": null,
        } },
    })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let post = |sig: Option<String>, body: String| {
        let req = t
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        let req = match sig {
            Some(s) => req.header("stripe-signature", s),
            None => req,
        };
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let cases = [
        (None, "missing"),
        (
            Some(sign(&event, "whsec_someone_else", now)),
            "wrong secret",
        ),
        (Some(sign(&event, WHSEC, now - 301)), "301 s old"),
        (Some("t=abc,v1=zz".to_owned()), "garbage"),
    ];
    for (sig, what) in cases {
        let (s, b) = post(sig, event.clone()).await;
        assert_eq!(s, 400, "{what}: {b}");
        assert!(!code(&b).is_empty(), "{what}: {b}");
    }
    let (s, _) = post(Some(sign(&event, WHSEC, now)), "x".repeat(300 * 1024)).await;
    assert_eq!(s, 413, "a huge body");
    assert_eq!(
        t.order(&id).await["status"],
        "awaiting_payment",
        "nothing changed"
    );

    // An unknown event type, properly signed: taken, ignored; sent again: a duplicate.
    let unknown = json!({ "id": "evt_unknown_1", "object": "event", "type": "customer.created",
        "created": now, "data": { "object": { "id": "cus_1", "object": "customer" } } })
    .to_string();
    let (s, b) = post(Some(sign(&unknown, WHSEC, now)), unknown.clone()).await;
    assert_eq!((s, &b["duplicate"]), (200, &json!(false)), "{b}");
    let (s, b) = post(Some(sign(&unknown, WHSEC, now)), unknown.clone()).await;
    assert_eq!((s, &b["duplicate"]), (200, &json!(true)), "{b}");
    assert_eq!(t.hub.event_count(STORE).await, 0);
    t.hub.stop().await;
}
both!(forged_stale_and_replayed_webhooks_change_nothing);

impl Setup {
    /// A manager's refund at the hub (the admin token passes every store's checks).
    async fn refund(&self, order_id: &str, key: &str, body: Value) -> (u16, Value) {
        let (s, b, _) = self
            .hub
            .request(
                Some(common::ADMIN),
                "POST",
                &format!("/api/v1/stores/{STORE}/orders/{order_id}/refunds"),
                Some(&body),
                &[("idempotency-key", key)],
            )
            .await;
        (s, b)
    }

    /// A card order paid, accepted at the store and captured: its id and total.
    async fn captured_order(&mut self, key: &str) -> (String, i64) {
        let (s, order) = self.place(key, &card_cart()).await;
        assert_eq!(s, 201, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        self.checkout(&order, "pay").await;
        self.node
            .pump_until("the order at the node", |p| {
                p.log
                    .events()
                    .any(|e| e.origin == "hub" && e.subject.as_deref() == Some(id.as_str()))
            })
            .await;
        self.at_the_store(&id, Transition::Accept).await;
        eventually("the payment to be captured", async || {
            self.order(&id).await["payment"]["state"] == "captured"
        })
        .await;
        let total = self.order(&id).await["totals"]["total"].as_i64().unwrap();
        (id, total)
    }

    /// A refund made at the processor itself (as in its dashboard), not through the hub.
    async fn refund_at_processor(&self, order_id: &str, amount: i64) -> Value {
        let pi = self.intent(order_id).unwrap()["payment_intent"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = self
            .http
            .post(format!("{}v1/refunds", self.stripe.url()))
            .bearer_auth("sk_test_fake")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("payment_intent={pi}&amount={amount}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.unwrap()
    }

    /// The node records a fact about `order_id` as the till would, while connected or not.
    fn node_records(&mut self, order_id: &str, fact: &Fact) {
        let (store, origin) = (self.node.store.clone(), self.node.origin.clone());
        self.node.log.record(
            &store,
            &origin,
            fact.kind(),
            Some(order_id),
            fact.data().unwrap(),
        );
    }

    /// The hub's facts about `order_id` the node has received, decoded.
    fn hub_facts(&self, order_id: &str) -> Vec<Fact> {
        self.node
            .log
            .events()
            .filter(|e| e.origin == "hub" && e.subject.as_deref() == Some(order_id))
            .map(|e| Fact::decode(&e.kind, &e.data).unwrap())
            .collect()
    }
}

fn refund_ask(id: &str, order_id: &str, amount: Option<i64>) -> Fact {
    Fact::RefundRequested(domain::fact::RefundRequest {
        id: id.into(),
        order_id: order_id.into(),
        amount,
        reason: Some("cold fries".into()),
        by: "staff-1".into(),
        approved_by: Some("manager-1".into()),
        at_ms: 1,
    })
}

async fn refunds_from_the_hub_and_the_till_never_exceed_the_capture(backend: Backend) {
    let (_db, mut t) = setup(backend, Duration::from_secs(600)).await;
    let (id, total) = t.captured_order("card-r1").await;
    // The capture reaches the till as a payment: the customer is not asked to pay again.
    t.node
        .pump_until("the capture at the node", |p| {
            p.log.events().any(|e| {
                e.origin == "hub"
                    && e.kind == "payment.recorded"
                    && Fact::decode(&e.kind, &e.data)
                        .ok()
                        .and_then(|f| f.order().and_then(|o| o.paid))
                        == Some(total)
            })
        })
        .await;

    // A partial refund from the hub; retried with its key: the same refund, once.
    let (s, first) = t
        .refund(
            &id,
            "refund-1",
            json!({ "amount": 100, "reason": "cold fries" }),
        )
        .await;
    assert_eq!((s, &first["status"]), (201, &json!("refunded")), "{first}");
    let (s, again) = t
        .refund(
            &id,
            "refund-1",
            json!({ "amount": 100, "reason": "cold fries" }),
        )
        .await;
    assert_eq!((s, &again["id"]), (201, &first["id"]), "{again}");
    assert_eq!(t.intent(&id).unwrap()["refunded"], 100);
    // More than remains, and nonsense: refused with a code, nothing given back.
    let (s, b) = t
        .refund(
            &id,
            "refund-2",
            json!({ "amount": total, "reason": "all of it" }),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "refund_exceeds_captured"), "{b}");
    for (body, want) in [
        (json!({ "amount": 0, "reason": "zero" }), "invalid_amount"),
        (json!({ "amount": 5, "reason": "  " }), "invalid_reason"),
    ] {
        let (s, b) = t.refund(&id, "refund-bad", body).await;
        assert_eq!((s, code(&b)), (422, want), "{b}");
    }
    let (s, b) = t
        .refund(
            &id,
            "refund-3",
            json!({ "amount": 5, "reason": "a second small one" }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b, _) = t
        .hub
        .request(
            Some(common::ADMIN),
            "POST",
            &format!("/api/v1/stores/{STORE}/orders/{id}/refunds"),
            Some(&json!({ "amount": 5, "reason": "no key" })),
            &[],
        )
        .await;
    assert_eq!(s, 400, "an Idempotency-Key is required: {b}");
    assert_eq!(t.intent(&id).unwrap()["refunded"], 105);

    // The till asks while offline: one request that fits, one that does not.
    t.node.disconnect().await;
    t.node_records(&id, &refund_ask("till-1", &id, Some(200)));
    t.node_records(&id, &refund_ask("till-2", &id, Some(total)));
    let token = t.hub.create_token(STORE, "node-1b").await;
    t.node.connect(&t.hub.ws_url(), &token).await.unwrap();
    t.node.flush().await;
    t.node
        .pump_until("the hub's answers at the till", |p| {
            let facts: Vec<Fact> = p
                .log
                .events()
                .filter(|e| e.origin == "hub")
                .filter_map(|e| Fact::decode(&e.kind, &e.data).ok())
                .collect();
            let refunded = facts.iter().any(
                |f| matches!(f, Fact::PaymentRefunded(r) if r.detail["refund"]["id"] == "till-1"),
            );
            let declined = facts
                .iter()
                .any(|f| matches!(f, Fact::RefundDeclined(d) if d.id == "till-2"));
            refunded && declined
        })
        .await;
    assert_eq!(t.intent(&id).unwrap()["refunded"], 305);
    let facts = t.hub_facts(&id);
    let last_refunded = facts
        .iter()
        .filter_map(|f| match f {
            Fact::PaymentRefunded(r) => r.order.refunded,
            _ => None,
        })
        .max();
    assert_eq!(
        last_refunded,
        Some(305),
        "the till sees what was given back"
    );

    // The rest, then nothing left.
    let (s, b) = t
        .refund(&id, "refund-4", json!({ "reason": "the rest" }))
        .await;
    assert_eq!((s, &b["amount"]), (201, &json!(total - 305)), "{b}");
    let (s, b) = t.refund(&id, "refund-5", json!({ "reason": "more" })).await;
    assert_eq!((s, code(&b)), (422, "refund_exceeds_captured"), "{b}");
    let (s, list) = t
        .hub
        .call(
            "GET",
            &format!("/api/v1/stores/{STORE}/orders/{id}/refunds"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(
        (list["captured"].as_i64(), list["refunded"].as_i64()),
        (Some(total), Some(total))
    );
    let states: Vec<&str> = list["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["refunded", "refunded", "refunded", "declined", "refunded"],
        "{list}"
    );
    assert_eq!(t.intent(&id).unwrap()["refunded"], total);
    assert_eq!(t.order(&id).await["payment"]["refunded"], total);

    // An order paid at pickup has no card payment to give back; an unknown order is 404.
    let (s, pickup) = t
        .place(
            "pickup-r1",
            &json!({ "lines": [{ "item_id": "shoestring-fries", "quantity": 1 }], "payment": "pay_at_pickup" }),
        )
        .await;
    assert_eq!(s, 201, "{pickup}");
    let pickup_id = pickup["id"].as_str().unwrap();
    let (s, b) = t
        .refund(pickup_id, "refund-6", json!({ "reason": "nope" }))
        .await;
    assert_eq!((s, code(&b)), (422, "not_paid_by_card"), "{b}");
    let (s, b) = t
        .refund(
            "00000000-0000-7000-8000-00000000abcd",
            "refund-7",
            json!({ "reason": "nope" }),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "unknown_order"), "{b}");
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(refunds_from_the_hub_and_the_till_never_exceed_the_capture);

async fn a_captured_order_the_store_cancels_is_refunded_once(backend: Backend) {
    let (_db, mut t) = setup(backend, Duration::from_secs(600)).await;
    let (id, total) = t.captured_order("card-r2").await;
    // The till ends it and asks for everything back under the on-cancel id; the
    // hub notices the cancellation by itself too: one refund.
    t.node_records(
        &id,
        &refund_ask(&domain::fact::RefundRequest::on_cancel_id(&id), &id, None),
    );
    t.at_the_store(&id, Transition::Cancel).await;
    eventually("the cancelled order to be refunded", async || {
        t.order(&id).await["payment"]["refunded"] == total
    })
    .await;
    assert_eq!(t.intent(&id).unwrap()["refunded"], total);
    let (_, list) = t
        .hub
        .call(
            "GET",
            &format!("/api/v1/stores/{STORE}/orders/{id}/refunds"),
            None,
        )
        .await;
    assert_eq!(list["refunds"].as_array().unwrap().len(), 1, "{list}");

    // A refund made at the processor itself (its dashboard), learnt from its
    // `charge.refunded` event, is recorded too.
    let (id2, total2) = t.captured_order("card-r3").await;
    t.refund_at_processor(&id2, 50).await;
    eventually("the outside refund to be recorded", async || {
        t.order(&id2).await["payment"]["refunded"] == 50
    })
    .await;
    let (s, b) = t
        .refund(&id2, "refund-8", json!({ "reason": "the rest" }))
        .await;
    assert_eq!((s, &b["amount"]), (201, &json!(total2 - 50)), "{b}");
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(a_captured_order_the_store_cancels_is_refunded_once);

async fn the_days_reconciliation_flags_a_planted_difference(backend: Backend) {
    let (_db, mut t) = setup(backend, Duration::from_secs(600)).await;
    let (a, total_a) = t.captured_order("card-rec-1").await;
    let (b, total_b) = t.captured_order("card-rec-2").await;
    let (s, r) = t
        .refund(
            &a,
            "rec-refund-1",
            json!({ "amount": 120, "reason": "missing sauce" }),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let report = |format: &'static str| {
        let hub = &t.hub;
        async move {
            let (s, body, _) = hub
                .request(
                    Some(common::ADMIN),
                    "GET",
                    &format!("/api/v1/stores/{STORE}/payments/reconciliation{format}"),
                    None,
                    &[],
                )
                .await;
            (s, body)
        }
    };
    let (s, clean) = report("").await;
    assert_eq!(s, 200, "{clean}");
    let totals = &clean["totals"];
    assert_eq!(totals["differences"], 0, "{clean}");
    assert_eq!(totals["captured"], total_a + total_b, "{clean}");
    assert_eq!(totals["processor_charged"], total_a + total_b, "{clean}");
    assert_eq!(
        (
            totals["refunded"].as_i64(),
            totals["processor_refunded"].as_i64()
        ),
        (Some(120), Some(120))
    );
    assert_eq!(clean["lines"].as_array().unwrap().len(), 3, "{clean}");

    // Planted: a refund made at the processor whose event never arrives.
    let r = t
        .http
        .post(format!("{}_fake/faults", t.stripe.url()))
        .json(&json!({ "webhook": { "drop": 1 } }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let planted = t.refund_at_processor(&b, 75).await;
    let planted_id = planted["id"].as_str().unwrap().to_owned();
    let (s, found) = report("?format=json").await;
    assert_eq!(s, 200);
    assert_eq!(found["totals"]["differences"], 1, "{found}");
    let line = &found["lines"][0];
    assert_eq!(
        (
            line["status"].as_str(),
            line["processor_object"].as_str(),
            line["processor"].as_i64()
        ),
        (Some("unknown_to_us"), Some(planted_id.as_str()), Some(-75)),
        "{found}"
    );
    let today = found["date"].as_str().unwrap().to_owned();
    let r = t
        .http
        .get(format!(
            "{}/api/v1/stores/{STORE}/payments/reconciliation?date={today}&format=csv",
            t.hub.base
        ))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("date,kind,status,order_id"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains("unknown_to_us") && l.contains(&planted_id)),
        "{csv}"
    );
    for (q, want) in [
        ("?date=2026-02-30", "invalid_date"),
        ("?format=xml", "invalid_query"),
    ] {
        let (s, b) = report(q).await;
        assert_eq!((s, code(&b)), (400, want), "{q}: {b}");
    }
    t.node.disconnect().await;
    t.hub.stop().await;
}
both!(the_days_reconciliation_flags_a_planted_difference);
