//! `StripeGateway` against the local fake Stripe (`crates/fake-stripe`), through async-stripe's
//! real client: a checkout with manual capture paid, read, captured, refunded (partly, then too
//! much), another cancelled, found again by order id, the balance transactions listed, and
//! injected faults answered as `Unavailable` whose retry with the same idempotency key does the
//! work once.

use std::net::SocketAddr;
use std::time::Duration;

use cloud_hub::payments::gateway::{
    CheckoutLine, CheckoutRequest, CheckoutStatus, GatewayError, PaymentGateway, PaymentStatus,
};
use cloud_hub::payments::stripe::{StripeConfig, StripeGateway};
use cloud_hub::payments::webhook::{EventKind, parse};
use serde_json::{Value, json};

struct Fake {
    running: fake_stripe::Running,
    http: reqwest::Client,
    gateway: StripeGateway,
}

impl Fake {
    async fn start(timeout: Duration) -> Self {
        let config = fake_stripe::Config::default();
        let secret_key = config.secret_key.clone();
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let running = fake_stripe::start(config, bind).await.unwrap();
        let gateway = StripeGateway::new(&StripeConfig {
            secret_key,
            api_base: Some(running.url()),
            webhook_secret: "whsec_fake".into(),
            request_timeout: timeout,
        })
        .unwrap();
        Self {
            running,
            http: reqwest::Client::new(),
            gateway,
        }
    }

    fn control(&self, path: &str) -> String {
        format!("http://{}/_fake/{path}", self.running.addr)
    }

    async fn pay(&self, session: &str) {
        let r = self
            .http
            .post(self.control(&format!("checkout/{session}/pay")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn fault(&self, faults: Value) {
        let r = self
            .http
            .post(self.control("faults"))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    /// Every Event the fake made (`GET /v1/events`, one page, newest first), as raw JSON.
    async fn events(&self) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}v1/events?limit=100", self.running.url()))
            .bearer_auth(fake_stripe::Config::default().secret_key)
            .send()
            .await
            .unwrap();
        let list: Value = r.json().await.unwrap();
        list["data"].as_array().cloned().unwrap_or_default()
    }

    /// `GET /_fake/ledger`: every PaymentIntent with its amounts and metadata.
    async fn ledger(&self) -> Vec<Value> {
        let r = self.http.get(self.control("ledger")).send().await.unwrap();
        r.json::<Vec<Value>>().await.unwrap()
    }
}

fn order(id: &str) -> CheckoutRequest {
    CheckoutRequest {
        order_id: id.into(),
        store_id: "st_7".into(),
        lines: vec![
            CheckoutLine {
                name: "Pizza Margherita".into(),
                unit_amount: 1250,
                quantity: 2,
            },
            CheckoutLine {
                name: "Lemonade".into(),
                unit_amount: 300,
                quantity: 1,
            },
        ],
        amount: 2800,
        currency: "usd".into(),
        customer_email: Some("ada@example.com".into()),
        success_url: "https://shop.example/ok?s={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://shop.example/cancel".into(),
        expires_at: fake_stripe::now() + 1800 + 60, // at least 30 minutes when the fake receives it
    }
}

fn now() -> i64 {
    fake_stripe::now()
}

#[tokio::test]
async fn checkout_authorise_capture_refund_cancel_and_reconcile() {
    let fake = Fake::start(Duration::from_secs(10)).await;
    let gw = &fake.gateway;
    let from = now();

    // A checkout for order 1.
    let created = gw
        .create_checkout(&order("ord_1"), "checkout-ord_1")
        .await
        .unwrap();
    assert_eq!(created.status, CheckoutStatus::Open);
    assert!(created.url.is_some());
    assert_eq!(created.order_id.as_deref(), Some("ord_1"));
    assert_eq!(created.payment_intent, None);

    // The customer pays on the hosted page: authorised only.
    fake.pay(&created.id).await;
    let session = gw.checkout(&created.id).await.unwrap();
    assert_eq!(session.status, CheckoutStatus::Complete);
    let pi = session.payment_intent.clone().expect("a payment once paid");

    // The metadata and manual capture reached Stripe's side.
    let ledger = fake.ledger().await;
    let row = ledger
        .iter()
        .find(|r| r["payment_intent"] == pi.as_str())
        .expect("the payment in the ledger");
    assert_eq!(row["checkout_session"], created.id.as_str());
    assert_eq!(row["status"], "requires_capture");
    assert_eq!(row["amount"], 2800);
    assert_eq!(row["captured"], 0);
    assert_eq!(row["metadata"]["order_id"], "ord_1");
    assert_eq!(row["metadata"]["store_id"], "st_7");

    let payment = gw.payment(&pi).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Authorized);
    assert_eq!(
        (payment.amount, payment.capturable, payment.captured),
        (2800, 2800, 0)
    );
    assert_eq!(payment.order_id.as_deref(), Some("ord_1"));

    // Capture all of it; the same key again answers the same (no second capture).
    let captured = gw.capture(&pi, None, "capture-ord_1").await.unwrap();
    assert_eq!(captured.status, PaymentStatus::Captured);
    assert_eq!((captured.captured, captured.capturable), (2800, 0));
    assert!(captured.charge.is_some());
    let again = gw.capture(&pi, None, "capture-ord_1").await.unwrap();
    assert_eq!(again, captured);
    // Capturing again under another key: the payment is no longer capturable.
    let err = gw.capture(&pi, None, "capture-ord_1-b").await.unwrap_err();
    assert!(matches!(err, GatewayError::UnexpectedState(_)), "{err:?}");

    // Refund part of it, then more than is left.
    let refund = gw.refund(&pi, 500, "ref_1", "refund-ref_1").await.unwrap();
    assert_eq!(refund.amount, 500);
    assert_eq!(refund.payment, pi);
    assert_eq!(refund.status, "succeeded");
    // `refunded` comes from the latest charge, expanded in the same call.
    let read = gw.payment(&pi).await.unwrap();
    assert_eq!((read.captured, read.refunded), (2800, 500));
    assert_eq!(read.charge, captured.charge);
    let err = gw
        .refund(&pi, 5000, "ref_2", "refund-ref_2")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GatewayError::Refused { .. } | GatewayError::UnexpectedState(_)
        ),
        "{err:?}"
    );

    // Order 2 is paid, then cancelled: the hold is released.
    let second = gw
        .create_checkout(&order("ord_2"), "checkout-ord_2")
        .await
        .unwrap();
    fake.pay(&second.id).await;
    let pi2 = gw
        .checkout(&second.id)
        .await
        .unwrap()
        .payment_intent
        .unwrap();
    let cancelled = gw.cancel(&pi2, "cancel-ord_2").await.unwrap();
    assert_eq!(cancelled.status, PaymentStatus::Cancelled);
    assert_eq!(cancelled.order_id.as_deref(), Some("ord_2"));
    let err = gw.capture(&pi2, None, "capture-ord_2").await.unwrap_err();
    assert!(matches!(err, GatewayError::UnexpectedState(_)), "{err:?}");

    // Found again by our order id (a hub that crashed between Stripe's answer and its commit).
    let found = gw.payments_for_order("ord_1").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, pi);
    assert_eq!(found[0].status, PaymentStatus::Captured);
    assert_eq!(found[0].refunded, 500);
    let found = gw.payments_for_order("ord_2").await.unwrap();
    assert_eq!(found.iter().map(|p| &p.id).collect::<Vec<_>>(), [&pi2]);
    assert!(gw.payments_for_order("ord_none").await.unwrap().is_empty());

    // Reconciliation: the charge, then the refund, oldest first.
    let txns = gw.balance_transactions(from, now() + 5).await.unwrap();
    let kinds: Vec<(&str, i64)> = txns.iter().map(|t| (t.kind.as_str(), t.amount)).collect();
    assert_eq!(kinds, [("charge", 2800), ("refund", -500)], "{txns:?}");
    assert_eq!(txns[0].source, captured.charge);
    assert!(txns.iter().all(|t| t.net == t.amount - t.fee));
    // Outside the window: nothing.
    assert!(
        gw.balance_transactions(from - 100, from - 50)
            .await
            .unwrap()
            .is_empty()
    );

    // Expiring an open checkout.
    let third = gw
        .create_checkout(&order("ord_3"), "checkout-ord_3")
        .await
        .unwrap();
    let expired = gw.expire_checkout(&third.id, "expire-ord_3").await.unwrap();
    assert_eq!(expired.status, CheckoutStatus::Expired);

    // The Events the fake made for all this read as the hub's events (oldest first).
    let events: Vec<EventKind> = fake
        .events()
        .await
        .iter()
        .rev()
        .map(|e| parse(&serde_json::to_vec(e).unwrap()).unwrap().kind)
        .collect();
    let ord_1: Vec<&EventKind> = events
        .iter()
        .filter(|k| match k {
            EventKind::CheckoutCompleted(c) | EventKind::CheckoutExpired(c) => {
                c.order_id.as_deref() == Some("ord_1")
            }
            EventKind::PaymentAuthorized(p)
            | EventKind::PaymentCaptured(p)
            | EventKind::PaymentCancelled(p) => p.id == pi,
            EventKind::ChargeRefunded { payment, .. } => payment.as_deref() == Some(pi.as_str()),
            _ => false,
        })
        .collect();
    assert!(
        matches!(
            ord_1.as_slice(),
            [
                EventKind::CheckoutCompleted(c),
                EventKind::PaymentAuthorized(a),
                EventKind::PaymentCaptured(p),
                EventKind::ChargeRefunded { amount_refunded: 500, order_id, .. },
            ] if c.payment_intent.as_deref() == Some(pi.as_str())
                && a.capturable == 2800
                && p.captured == 2800
                && order_id.as_deref() == Some("ord_1")
        ),
        "{ord_1:#?}"
    );
    assert!(events.iter().any(
        |k| matches!(k, EventKind::PaymentCancelled(p) if p.id == pi2 && p.order_id.as_deref() == Some("ord_2"))
    ));
    assert!(events.iter().any(
        |k| matches!(k, EventKind::CheckoutExpired(c) if c.id == third.id && c.status == CheckoutStatus::Expired)
    ));

    // Unknown ids are refused, not retried.
    let err = gw.payment("pi_nope").await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::Refused { code, .. } if code == "resource_missing"),
        "{err:?}"
    );

    fake.running.shutdown().await;
}

#[tokio::test]
async fn balance_transactions_page_until_done_oldest_first() {
    let fake = Fake::start(Duration::from_secs(10)).await;
    let gw = &fake.gateway;
    let from = now();
    // 34 orders captured and refunded twice each: 102 transactions, more than Stripe's page
    // of 100, so the list is read in two pages (`starting_after`, until `has_more` is false).
    const ORDERS: usize = 34;
    let mut expected = Vec::new();
    for i in 0..ORDERS {
        let id = format!("ord_p{i}");
        let c = gw
            .create_checkout(&order(&id), &format!("checkout-{id}"))
            .await
            .unwrap();
        fake.pay(&c.id).await;
        let pi = gw.checkout(&c.id).await.unwrap().payment_intent.unwrap();
        gw.capture(&pi, None, &format!("capture-{id}"))
            .await
            .unwrap();
        expected.push(("charge".to_owned(), 2800));
        for r in 0..2 {
            gw.refund(&pi, 100, &format!("r{i}{r}"), &format!("refund-r{i}{r}"))
                .await
                .unwrap();
            expected.push(("refund".to_owned(), -100));
        }
    }
    let txns = gw.balance_transactions(from, now() + 5).await.unwrap();
    let got: Vec<(String, i64)> = txns.iter().map(|t| (t.kind.clone(), t.amount)).collect();
    assert_eq!(got.len(), 3 * ORDERS);
    assert_eq!(got, expected);
    let mut ids: Vec<&str> = txns.iter().map(|t| t.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3 * ORDERS, "no transaction twice");
    fake.running.shutdown().await;
}

#[tokio::test]
async fn faults_are_unavailable_and_the_same_key_does_the_work_once() {
    let fake = Fake::start(Duration::from_secs(10)).await;
    let gw = &fake.gateway;

    // A 500 before anything ran: Unavailable, then the same key succeeds.
    fake.fault(
        json!({"api": [{"method": "POST", "path_prefix": "/v1/checkout/sessions", "status": 500}]}),
    )
    .await;
    let err = gw
        .create_checkout(&order("ord_f"), "checkout-ord_f")
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
    let created = gw
        .create_checkout(&order("ord_f"), "checkout-ord_f")
        .await
        .unwrap();
    let replay = gw
        .create_checkout(&order("ord_f"), "checkout-ord_f")
        .await
        .unwrap();
    assert_eq!(replay.id, created.id, "one checkout for one key");
    fake.pay(&created.id).await;
    let pi = gw
        .checkout(&created.id)
        .await
        .unwrap()
        .payment_intent
        .unwrap();
    gw.capture(&pi, None, "capture-ord_f").await.unwrap();
    assert_eq!(gw.payments_for_order("ord_f").await.unwrap().len(), 1);

    // A lost answer (the refund was made, the answer is a 500): the retry with the same key
    // gets the first refund back instead of refunding twice.
    fake.fault(json!({"api": [{"method": "POST", "path_prefix": "/v1/refunds", "status": 500, "after_commit": true}]}))
        .await;
    let err = gw
        .refund(&pi, 700, "ref_f", "refund-ref_f")
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
    let refund = gw.refund(&pi, 700, "ref_f", "refund-ref_f").await.unwrap();
    assert_eq!(refund.amount, 700);
    let ledger = fake.ledger().await;
    let row = ledger
        .iter()
        .find(|r| r["payment_intent"] == pi.as_str())
        .unwrap();
    assert_eq!(row["refunded"], 700, "refunded once: {row}");

    // The same key with other parameters is refused (a bug of ours, not a retry).
    let err = gw
        .refund(&pi, 800, "ref_f", "refund-ref_f")
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Refused { .. }), "{err:?}");

    // 429 and 503 are Unavailable too.
    for status in [429, 503] {
        fake.fault(json!({"api": [{"path_prefix": "/v1/payment_intents", "status": status}]}))
            .await;
        let err = gw.payment(&pi).await.unwrap_err();
        assert!(
            matches!(err, GatewayError::Unavailable(_)),
            "{status}: {err:?}"
        );
    }
    fake.running.shutdown().await;
}

#[tokio::test]
async fn a_slow_answer_times_out_as_unavailable() {
    let fake = Fake::start(Duration::from_millis(300)).await;
    let gw = &fake.gateway;
    fake.fault(json!({"api": [{"path_prefix": "/v1/payment_intents", "delay_ms": 2000}]}))
        .await;
    let started = std::time::Instant::now();
    let err = gw.payment("pi_whatever").await.unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    fake.running.shutdown().await;
}
