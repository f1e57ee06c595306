//! The fake Stripe through the real client (async-stripe 1.0.0-rc.10, the version the hub
//! pins): if these pass, the hub's requests encode as the fake expects and the fake's objects
//! decode as the client expects. Webhooks go to a small receiver here that checks each
//! signature with its own HMAC-SHA256 (over `sha2`, not the fake's `ring` code). Waits have
//! deadlines; nothing sleeps to synchronise.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionPaymentIntentDataCaptureMethod,
    ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_core::balance_transaction::ListBalanceTransaction;
use stripe_core::event::ListEvent;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, CapturePaymentIntent,
    RetrievePaymentIntent, SearchPaymentIntent,
};
use stripe_core::refund::{CreateRefund, RetrieveRefund};
use stripe_types::{Currency, RangeBoundsTs, RangeQueryTs};

const KEY: &str = "sk_test_fake_key_1234";
const WHSEC: &str = "whsec_test_secret";
const DEADLINE: Duration = Duration::from_secs(10);

struct Fake {
    running: fake_stripe::Running,
    client: Client,
    http: reqwest::Client,
}

impl Fake {
    async fn start(webhook_url: Option<String>) -> Self {
        let config = fake_stripe::Config {
            secret_key: KEY.into(),
            webhook_url,
            webhook_secret: WHSEC.into(),
            webhook_retry_base: Duration::from_millis(20),
            max_webhook_attempts: 4,
            ..fake_stripe::Config::default()
        };
        let running = fake_stripe::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = ClientBuilder::new(KEY).url(running.url()).build().unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            running,
            client,
            http,
        }
    }

    fn at(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr)
    }

    async fn control(&self, path: &str) -> Value {
        let r = self.http.post(self.at(path)).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.at(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A `/v1` GET without the client, for fields the client keeps as opaque JSON.
    async fn api_get(&self, path: &str) -> Value {
        self.http
            .get(self.at(path))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn faults(&self, body: Value) {
        let r = self
            .http
            .post(self.at("/_fake/faults"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
}

fn order_session(order_id: &str) -> CreateCheckoutSession {
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(Currency::EUR);
    price.unit_amount = Some(1250);
    price.product_data = Some(ProductData::new("Margherita"));
    let mut pizza = CreateCheckoutSessionLineItems::new();
    pizza.price_data = Some(price);
    pizza.quantity = Some(2);
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(Currency::EUR);
    price.unit_amount = Some(350);
    price.product_data = Some(ProductData::new("Lemonade <cold>"));
    let mut drink = CreateCheckoutSessionLineItems::new();
    drink.price_data = Some(price);
    drink.quantity = Some(1);
    let mut pi_data = CreateCheckoutSessionPaymentIntentData::new();
    pi_data.capture_method = Some(CreateCheckoutSessionPaymentIntentDataCaptureMethod::Manual);
    pi_data.metadata = Some(HashMap::from([("order_id".into(), order_id.into())]));
    CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Payment)
        .line_items(vec![pizza, drink])
        .payment_intent_data(pi_data)
        .metadata(HashMap::from([(
            "order_id".to_string(),
            order_id.to_string(),
        )]))
        .client_reference_id(order_id)
        .success_url("http://shop.test/paid?session={CHECKOUT_SESSION_ID}")
        .cancel_url("http://shop.test/cancelled")
        .customer_email("guest@example.com")
}

fn key(k: &str) -> RequestStrategy {
    RequestStrategy::Idempotent(IdempotencyKey::new(k).unwrap())
}

/// The Stripe error's status, type and code.
fn stripe_err(e: StripeError) -> (u16, String, Option<String>) {
    match e {
        StripeError::Stripe(e, status) => (
            status,
            e.type_.as_str().to_owned(),
            e.code.as_ref().map(|c| c.as_str().to_owned()),
        ),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}

/// Polls `f` until it gives `Some`, for at most [`DEADLINE`].
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn checkout_capture_and_refunds_through_the_real_client() {
    let fake = Fake::start(None).await;
    let session = order_session("order-1").send(&fake.client).await.unwrap();
    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(session.status.as_ref().unwrap().as_str(), "open");
    assert_eq!(session.payment_status.as_str(), "unpaid");
    assert_eq!(session.amount_total, Some(2850));
    assert_eq!(session.currency, Some(Currency::EUR));
    assert!(session.payment_intent.is_none());
    assert_eq!(session.metadata.as_ref().unwrap()["order_id"], "order-1");
    assert_eq!(session.client_reference_id.as_deref(), Some("order-1"));
    let url = session.url.clone().unwrap();
    assert_eq!(url, fake.at(&format!("/checkout/{}", session.id.as_str())));
    assert!(session.expires_at > session.created);

    fake.control(&format!("/_fake/checkout/{}/pay", session.id.as_str()))
        .await;
    let session = RetrieveCheckoutSession::new(session.id.clone())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(session.status.as_ref().unwrap().as_str(), "complete");
    let pi_id = session.payment_intent.as_ref().unwrap().id().clone();
    let pi = RetrievePaymentIntent::new(pi_id.clone())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(pi.status.as_str(), "requires_capture");
    assert_eq!((pi.amount, pi.amount_capturable), (2850, 2850));
    assert_eq!(pi.metadata["order_id"], "order-1");

    let pi = CapturePaymentIntent::new(pi_id.clone())
        .customize()
        .request_strategy(key("capture-1"))
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(pi.status.as_str(), "succeeded");
    assert_eq!((pi.amount_received, pi.amount_capturable), (2850, 0));
    assert!(pi.latest_charge.is_some());

    let partial = CreateRefund::new()
        .payment_intent(pi_id.as_str())
        .amount(850)
        .metadata(HashMap::from([(
            "reason".to_string(),
            "cold pizza".to_string(),
        )]))
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(partial.amount, 850);
    let too_much = CreateRefund::new()
        .payment_intent(pi_id.as_str())
        .amount(2001)
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(
        stripe_err(too_much),
        (
            400,
            "invalid_request_error".into(),
            Some("amount_too_large".into())
        )
    );
    let rest = CreateRefund::new()
        .payment_intent(pi_id.as_str())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(rest.amount, 2000);
    let again = CreateRefund::new()
        .payment_intent(pi_id.as_str())
        .amount(1)
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(
        stripe_err(again).2.as_deref(),
        Some("charge_already_refunded")
    );
    let got = RetrieveRefund::new(partial.id.clone())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(got.metadata.unwrap()["reason"], "cold pizza");

    // A succeeded intent cannot be cancelled.
    let err = CancelPaymentIntent::new(pi_id.clone())
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(
        stripe_err(err).2.as_deref(),
        Some("payment_intent_unexpected_state")
    );

    // Balance transactions: newest first, one per capture and refund.
    let since = session.created;
    let txns = ListBalanceTransaction::new()
        .created(RangeQueryTs::Bounds(RangeBoundsTs {
            gte: Some(since),
            lt: Some(since + 3600),
            ..RangeBoundsTs::default()
        }))
        .send(&fake.client)
        .await
        .unwrap();
    let seen: Vec<(String, i64, i64, i64)> = txns
        .data
        .iter()
        .map(|t| (t.type_.as_str().to_owned(), t.amount, t.fee, t.net))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("refund".into(), -2000, 0, -2000),
            ("refund".into(), -850, 0, -850),
            ("charge".into(), 2850, 83 + 30, 2850 - 113),
        ]
    );
    assert_eq!(txns.data[2].reporting_category, "charge");
    let charge_id = pi.latest_charge.as_ref().unwrap().id().as_str().to_owned();
    assert_eq!(
        txns.data[2].source.as_ref().unwrap().id().as_str(),
        charge_id
    );
    assert_eq!(
        txns.data[0].source.as_ref().unwrap().id().as_str(),
        rest.id.as_str()
    );
    let page = ListBalanceTransaction::new()
        .limit(1)
        .starting_after(txns.data[0].id.as_str())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(page.data[0].id, txns.data[1].id);
    assert!(page.has_more);
    let later = ListBalanceTransaction::new()
        .created(RangeQueryTs::Bounds(RangeBoundsTs {
            gte: Some(since + 3600),
            ..RangeBoundsTs::default()
        }))
        .send(&fake.client)
        .await
        .unwrap();
    assert!(later.data.is_empty());

    // Events: the charge refunded twice, newest first.
    let refunded = ListEvent::new()
        .type_("charge.refunded")
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(refunded.data.len(), 2);
    let raw = fake
        .api_get("/v1/events?type=charge.refunded&limit=1")
        .await;
    assert_eq!(raw["data"][0]["data"]["object"]["amount_refunded"], 2850);
    assert_eq!(raw["data"][0]["id"], refunded.data[0].id.as_str());
    assert_eq!(raw["has_more"], true);

    let ledger = fake.get_json("/_fake/ledger").await;
    assert_eq!(
        ledger,
        json!([{
            "payment_intent": pi_id.as_str(), "checkout_session": session.id.as_str(),
            "status": "succeeded", "currency": "eur", "amount": 2850, "authorised": 2850,
            "captured": 2850, "refunded": 2850, "metadata": {"order_id": "order-1"},
        }])
    );
    fake.running.shutdown().await;
}

#[tokio::test]
async fn idempotency_replays_and_refuses_other_parameters() {
    let fake = Fake::start(None).await;
    let first = order_session("order-2")
        .customize()
        .request_strategy(key("create-order-2"))
        .send(&fake.client)
        .await
        .unwrap();
    let again = order_session("order-2")
        .customize()
        .request_strategy(key("create-order-2"))
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(first.id, again.id);

    // The replay says so in a header (the client does not show headers: ask directly).
    let form = "mode=payment&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=100&line_items[0][price_data][product_data][name]=Tea&line_items[0][quantity]=1&success_url=http://x/ok";
    let raw = |body: &'static str| {
        fake.http
            .post(fake.at("/v1/checkout/sessions"))
            .bearer_auth(KEY)
            .header("idempotency-key", "raw-1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let a = raw(form).await.unwrap();
    assert!(a.headers().get("idempotent-replayed").is_none());
    let a: Value = a.json().await.unwrap();
    let b = raw(form).await.unwrap();
    assert_eq!(b.headers()["idempotent-replayed"], "true");
    let b: Value = b.json().await.unwrap();
    assert_eq!(a, b);
    // Percent-encoded brackets (as curl sends them) decode the same way.
    let encoded = raw("mode=payment&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=eur&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=100&line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Tea&line_items%5B0%5D%5Bquantity%5D=1&success_url=http%3A%2F%2Fx%2Fok").await.unwrap();
    assert_eq!(encoded.headers()["idempotent-replayed"], "true");

    let conflict = order_session("order-3")
        .customize()
        .request_strategy(key("create-order-2"))
        .send(&fake.client)
        .await
        .unwrap_err();
    let (status, type_, _) = stripe_err(conflict);
    assert_eq!((status, type_.as_str()), (400, "idempotency_error"));
    fake.running.shutdown().await;
}

#[tokio::test]
async fn cancel_search_expire_and_auth() {
    let fake = Fake::start(None).await;
    let s = order_session("order-4").send(&fake.client).await.unwrap();
    let paid = fake
        .control(&format!("/_fake/checkout/{}/pay", s.id.as_str()))
        .await;
    let pi_id = paid["payment_intent"].as_str().unwrap().to_owned();

    let found = SearchPaymentIntent::new("metadata['order_id']:'order-4'")
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(found.data.len(), 1);
    assert_eq!(found.data[0].id.as_str(), pi_id);
    let none = SearchPaymentIntent::new("metadata[\"order_id\"]:\"order-404\"")
        .send(&fake.client)
        .await
        .unwrap();
    assert!(none.data.is_empty());

    let canceled = CancelPaymentIntent::new(pi_id.as_str())
        .cancellation_reason(CancelPaymentIntentCancellationReason::Abandoned)
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(canceled.status.as_str(), "canceled");
    assert_eq!(
        canceled.cancellation_reason.as_ref().unwrap().as_str(),
        "abandoned"
    );
    let err = CapturePaymentIntent::new(pi_id.as_str())
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(
        stripe_err(err),
        (
            400,
            "invalid_request_error".into(),
            Some("payment_intent_unexpected_state".into())
        )
    );

    // Expiry through the API and through the control endpoint.
    let s1 = order_session("order-5").send(&fake.client).await.unwrap();
    let expired = ExpireCheckoutSession::new(s1.id.clone())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(expired.status.as_ref().unwrap().as_str(), "expired");
    assert!(expired.url.is_none());
    let page = fake
        .http
        .get(fake.at(&format!("/checkout/{}", s1.id.as_str())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("has expired") && !page.contains("<button"));
    let s2 = order_session("order-6").send(&fake.client).await.unwrap();
    fake.control(&format!("/_fake/checkout/{}/expire", s2.id.as_str()))
        .await;
    let events = ListEvent::new()
        .type_("checkout.session.expired")
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(events.data.len(), 2);
    let raw = fake
        .api_get("/v1/events?type=checkout.session.expired")
        .await;
    let ids: Vec<&str> = raw["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["object"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![s2.id.as_str(), s1.id.as_str()]);

    let missing = RetrievePaymentIntent::new("pi_nope")
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(
        stripe_err(missing),
        (
            404,
            "invalid_request_error".into(),
            Some("resource_missing".into())
        )
    );
    let endpoint = fake
        .http
        .post(fake.at("/_fake/webhook-endpoint"))
        .json(&json!({"url": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), StatusCode::NO_CONTENT);
    let stranger = ClientBuilder::new("sk_test_wrong")
        .url(fake.running.url())
        .build()
        .unwrap();
    let err = RetrievePaymentIntent::new(pi_id.as_str())
        .send(&stranger)
        .await
        .unwrap_err();
    assert_eq!(stripe_err(err).0, 401);
    fake.running.shutdown().await;
}

#[tokio::test]
async fn a_failed_create_retried_with_its_key_makes_one_session_and_one_intent() {
    let fake = Fake::start(None).await;
    fake.faults(json!({"api": [{"method": "POST", "path_prefix": "/v1/checkout/sessions", "times": 1, "status": 500}]}))
        .await;
    let err = order_session("order-7")
        .customize()
        .request_strategy(key("order-7"))
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(stripe_err(err).0, 500);
    let s = order_session("order-7")
        .customize()
        .request_strategy(key("order-7"))
        .send(&fake.client)
        .await
        .unwrap();
    fake.control(&format!("/_fake/checkout/{}/pay", s.id.as_str()))
        .await;

    // A lost response: the capture happens, the answer is a 500; the retry replays it.
    fake.faults(json!({"api": [{"path_prefix": "/v1/payment_intents/", "after_commit": true}]}))
        .await;
    let found = SearchPaymentIntent::new("metadata['order_id']:'order-7'")
        .send(&fake.client)
        .await;
    // The search itself met the fault (its prefix matches): it ran and answered 500.
    assert_eq!(stripe_err(found.unwrap_err()).0, 500);
    let found = SearchPaymentIntent::new("metadata['order_id']:'order-7'")
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(found.data.len(), 1, "one PaymentIntent for the order");
    let pi_id = found.data[0].id.clone();
    fake.faults(json!({"api": [{"method": "POST", "path_prefix": "/v1/payment_intents/", "after_commit": true}]}))
        .await;
    let lost = CapturePaymentIntent::new(pi_id.clone())
        .customize()
        .request_strategy(key("capture-7"))
        .send(&fake.client)
        .await
        .unwrap_err();
    assert_eq!(stripe_err(lost).0, 500);
    let pi = CapturePaymentIntent::new(pi_id.clone())
        .customize()
        .request_strategy(key("capture-7"))
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(pi.status.as_str(), "succeeded");
    let ledger = fake.get_json("/_fake/ledger").await;
    assert_eq!(ledger.as_array().unwrap().len(), 1);
    assert_eq!(ledger[0]["captured"], 2850);
    let txns = ListBalanceTransaction::new()
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(txns.data.len(), 1, "captured once");

    // A delay the client gives up on.
    let r = reqwest::Client::new();
    let del = r.delete(fake.at("/_fake/faults")).send().await.unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    fake.faults(json!({"api": [{"method": "GET", "path_prefix": "/v1/payment_intents/", "delay_ms": 2000}]}))
        .await;
    let slow = ClientBuilder::new(KEY)
        .url(fake.running.url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let timed_out = RetrievePaymentIntent::new(pi_id.clone()).send(&slow).await;
    assert!(timed_out.is_err());
    fake.running.shutdown().await;
}

#[tokio::test]
async fn the_hosted_page_pays_declines_and_cancels() {
    let fake = Fake::start(None).await;
    let s = order_session("order-8").send(&fake.client).await.unwrap();
    let url = s.url.clone().unwrap();
    let page = fake.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for needle in [
        "Margherita",
        "Lemonade &lt;cold&gt;",
        "28.50 EUR",
        ">Pay</button>",
        ">Pay with a declining card</button>",
        ">Cancel</button>",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }

    let declined = fake
        .http
        .post(format!("{url}/decline"))
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), StatusCode::OK);
    assert!(
        declined
            .text()
            .await
            .unwrap()
            .contains("Your card was declined.")
    );
    let failed = ListEvent::new()
        .type_("payment_intent.payment_failed")
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(failed.data.len(), 1);

    let paid = fake.http.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        paid.headers()["location"],
        format!("http://shop.test/paid?session={}", s.id.as_str()).as_str()
    );
    let after = fake.http.get(&url).send().await.unwrap().text().await;
    assert!(after.unwrap().contains("complete"));
    // `expand[]=payment_intent` gives the object in place of its id.
    let pi = RetrieveCheckoutSession::new(s.id.clone())
        .expand(vec!["payment_intent".to_string()])
        .send(&fake.client)
        .await
        .unwrap()
        .payment_intent
        .unwrap();
    let stripe_types::Expandable::Object(pi) = pi else {
        panic!("payment_intent was not expanded");
    };
    assert_eq!(pi.status.as_str(), "requires_capture");
    assert!(pi.last_payment_error.is_none(), "the decline is behind it");

    let other = order_session("order-9").send(&fake.client).await.unwrap();
    let other_url = other.url.unwrap();
    let cancelled = fake
        .http
        .post(format!("{other_url}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        cancelled.headers()["location"],
        "http://shop.test/cancelled"
    );
    let still = RetrieveCheckoutSession::new(other.id.clone())
        .send(&fake.client)
        .await
        .unwrap();
    assert_eq!(still.status.unwrap().as_str(), "open");
    fake.running.shutdown().await;
}

/// HMAC-SHA256 written out (RFC 2104), independent of the fake's `ring` code.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(k.map(|b| b ^ 0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(k.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn signature_ok(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = vec![];
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let want: String = hmac_sha256(WHSEC.as_bytes(), &signed)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    v1.contains(&want)
}

#[test]
fn the_test_hmac_matches_the_fixed_vector() {
    let body = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    assert!(signature_ok(
        "t=1700000000,v1=a13d4b1f9003bc2fb6c06224e878b6056185eaa50d40e1e7dc05517f8af41d7b",
        body
    ));
    assert!(!signature_ok("t=1700000001,v1=a13d4b1f", body));
}

#[derive(Default)]
struct Received {
    /// (event type, event id, signature valid by our HMAC and accepted by async-stripe-webhook)
    events: Vec<(String, String, bool)>,
    /// Requests still to refuse with a 500.
    refuse: u32,
}

async fn receiver(state: Arc<Mutex<Received>>) -> SocketAddr {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let sig = headers
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                // Our own HMAC, then the hub's way: async-stripe-webhook checks the
                // signature and the timestamp and decodes `data.object` as its typed object.
                let text = std::str::from_utf8(&body).unwrap();
                let typed =
                    stripe_webhook::Webhook::construct_event(text, sig, WHSEC).is_ok_and(|e| {
                        !matches!(e.data.object, stripe_webhook::EventObject::Unknown(_))
                    });
                let ok = signature_ok(sig, &body) && typed;
                let event: Value = serde_json::from_slice(&body).unwrap();
                let mut st = state.lock().unwrap();
                if st.refuse > 0 {
                    st.refuse -= 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                st.events.push((
                    event["type"].as_str().unwrap().to_owned(),
                    event["id"].as_str().unwrap().to_owned(),
                    ok,
                ));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_can_be_bent() {
    let got = Arc::new(Mutex::new(Received {
        refuse: 1,
        ..Received::default()
    }));
    let hook = receiver(got.clone()).await;
    // The endpoint is set after start, as the hub's port may only be known then.
    let fake = Fake::start(None).await;
    fake.running
        .set_webhook_url(Some(format!("http://{hook}/hook")));

    let s = order_session("order-10").send(&fake.client).await.unwrap();
    fake.control(&format!("/_fake/checkout/{}/pay", s.id.as_str()))
        .await;
    let want = [
        "checkout.session.completed",
        "payment_intent.amount_capturable_updated",
    ];
    let seen = eventually("the two payment events", || {
        let got = got.clone();
        async move {
            let st = got.lock().unwrap();
            (st.events.len() >= 2).then(|| st.events.clone())
        }
    })
    .await;
    let mut types: Vec<&str> = seen.iter().map(|(t, _, _)| t.as_str()).collect();
    types.sort();
    assert_eq!(types, want);
    assert!(seen.iter().all(|(_, _, ok)| *ok), "every signature holds");

    // The first attempt was refused with a 500 and retried.
    let deliveries = fake.get_json("/_fake/deliveries").await;
    let attempts: Vec<(String, u64, String)> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["event_type"].as_str().unwrap().to_owned(),
                d["attempt"].as_u64().unwrap(),
                d["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(attempts.contains(&("checkout.session.completed".into(), 1, "failed".into())));
    assert!(attempts.contains(&("checkout.session.completed".into(), 2, "delivered".into())));

    // Faults: drop the next event, then deliver each of the rest twice.
    fake.faults(json!({"webhook": {"drop": 1, "duplicate": true}}))
        .await;
    let pi = RetrieveCheckoutSession::new(s.id.clone())
        .send(&fake.client)
        .await
        .unwrap()
        .payment_intent
        .unwrap();
    CapturePaymentIntent::new(pi.id().clone())
        .send(&fake.client)
        .await
        .unwrap();
    CreateRefund::new()
        .payment_intent(pi.id().as_str())
        .amount(100)
        .send(&fake.client)
        .await
        .unwrap();
    let refunded = eventually("charge.refunded twice", || {
        let got = got.clone();
        async move {
            let st = got.lock().unwrap();
            let n = st
                .events
                .iter()
                .filter(|(t, _, _)| t == "charge.refunded")
                .count();
            (n >= 2).then_some(st.events.clone())
        }
    })
    .await;
    assert!(
        !refunded
            .iter()
            .any(|(t, _, _)| t == "payment_intent.succeeded"),
        "the dropped event never came"
    );
    let dropped = fake.get_json("/_fake/deliveries").await;
    assert!(
        dropped
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["outcome"] == "dropped" && d["event_type"] == "payment_intent.succeeded")
    );
    assert!(refunded.iter().all(|(_, _, ok)| *ok));

    // Reorder: two events held and delivered newest first.
    let del = fake
        .http
        .delete(fake.at("/_fake/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    fake.faults(json!({"webhook": {"reorder": 2}})).await;
    got.lock().unwrap().events.clear();
    let s2 = order_session("order-11").send(&fake.client).await.unwrap();
    fake.control(&format!("/_fake/checkout/{}/pay", s2.id.as_str()))
        .await;
    let order = eventually("the reordered pair", || {
        let got = got.clone();
        async move {
            let st = got.lock().unwrap();
            (st.events.len() >= 2).then(|| st.events.clone())
        }
    })
    .await;
    assert_eq!(
        order.iter().map(|(t, _, _)| t.as_str()).collect::<Vec<_>>(),
        [
            "payment_intent.amount_capturable_updated",
            "checkout.session.completed"
        ]
    );
    fake.running.shutdown().await;
}
