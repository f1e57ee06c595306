//! The Stripe adapter: [`StripeGateway`] implements the payment port (`gateway.rs`) with
//! async-stripe 1.0.0-rc.10 (its hyper client over rustls/ring, and its typed requests for
//! checkout sessions, payment intents, refunds and balance transactions). No Stripe type leaves
//! this file: every answer is converted to the port's types here.
//!
//! - Every call that changes something is sent once with the caller's stored idempotency key
//!   (`RequestStrategy::Idempotent`), never async-stripe's `Retry` strategies (they make a
//!   random key per call, so a retry after a crash would pay twice). Retrying is the caller's
//!   job, with the same key, after an [`GatewayError::Unavailable`].
//! - Every request carries `StripeConfig::request_timeout` (the client's per-attempt timeout;
//!   one attempt per call).
//! - Errors: not reached, timed out, 5xx, 429 (and 409 `lock_timeout` /
//!   `idempotency_key_in_use`) are `Unavailable`; a 4xx with code
//!   `payment_intent_unexpected_state`, `charge_already_captured` or `charge_already_refunded`
//!   is `UnexpectedState`; any other 4xx is `Refused { code, message }`; an answer that does not
//!   decode is `Protocol`.
//! - `refunded` comes from the latest charge's `amount_refunded`: payment reads (and capture,
//!   cancel, search) ask Stripe to expand `latest_charge`, so it costs no second call; an
//!   answer that holds only the charge id gives `refunded` 0.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use ::stripe::{
    Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionPaymentIntentDataCaptureMethod,
    ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSession, CheckoutSessionMode, CheckoutSessionStatus};
use stripe_core::balance_transaction::ListBalanceTransaction;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CapturePaymentIntent, RetrievePaymentIntent, SearchPaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_core::{BalanceTransaction as StripeBalanceTransaction, PaymentIntent};
use stripe_types::{Currency, Expandable, RangeBoundsTs, RangeQueryTs};

use super::gateway::{
    BalanceTransaction, BoxFuture, Checkout, CheckoutRequest, CheckoutStatus, GatewayError,
    Payment, PaymentGateway, Refund,
};
use super::webhook::payment_status;

/// Stripe's page size limit for lists.
const PAGE: i64 = 100;

/// How the hub reaches Stripe. The secrets never print (`Debug` redacts them).
#[derive(Clone)]
pub struct StripeConfig {
    /// `sk_live_...` / `sk_test_...` (or a restricted `rk_...` key).
    pub secret_key: String,
    /// Where the API is; `None` is `https://api.stripe.com/`. Tests and the demo point it at the
    /// local fake, e.g. `http://127.0.0.1:12111`.
    pub api_base: Option<String>,
    /// The webhook endpoint's `whsec_...` secret (all of it), for `webhook::verify`.
    pub webhook_secret: String,
    /// The longest one request may take before it counts as `Unavailable`.
    pub request_timeout: Duration,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[redacted]")
            .field("api_base", &self.api_base)
            .field("webhook_secret", &"[redacted]")
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// The configuration could not make a client (a key or URL that is not a valid header or URI).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Stripe configuration: {0}")]
pub struct StripeConfigError(String);

/// The payment port over Stripe's API.
pub struct StripeGateway {
    client: Client,
    api_base: String,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl StripeGateway {
    pub fn new(config: &StripeConfig) -> Result<Self, StripeConfigError> {
        let mut builder = ClientBuilder::new(config.secret_key.clone())
            .request_strategy(RequestStrategy::Once)
            .timeout(config.request_timeout);
        let api_base = match &config.api_base {
            // async-stripe appends `v1/...` to the base as written.
            Some(base) => {
                let base = format!("{}/", base.trim_end_matches('/'));
                builder = builder.url(base.clone());
                base
            }
            None => "https://api.stripe.com/".to_owned(),
        };
        let client = builder
            .build()
            .map_err(|e| StripeConfigError(e.to_string()))?;
        Ok(Self { client, api_base })
    }
}

/// Sends a typed request once, with the idempotency key when there is one, and converts
/// the error. (A macro: the output's `miniserde::Deserialize` bound is not nameable without
/// depending on miniserde.)
macro_rules! send {
    ($self:ident, $req:expr, $key:expr) => {{
        let strategy = strategy($key)?;
        $req.customize()
            .request_strategy(strategy)
            .send(&$self.client)
            .await
            .map_err(from_stripe)
    }};
}

fn strategy(key: Option<&str>) -> Result<RequestStrategy, GatewayError> {
    match key {
        None => Ok(RequestStrategy::Once),
        Some(key) => IdempotencyKey::new(key)
            .map(RequestStrategy::Idempotent)
            .map_err(|e| GatewayError::Refused {
                code: "idempotency_key_invalid".into(),
                message: e.to_string(),
            }),
    }
}

/// The codes Stripe answers when an object is not in a state that allows the call.
const UNEXPECTED_STATE: [&str; 3] = [
    "payment_intent_unexpected_state",
    "charge_already_captured",
    "charge_already_refunded",
];

/// The 409 codes that say "try again" (a concurrent request holds the object or the key).
const CONFLICT_RETRY: [&str; 2] = ["lock_timeout", "idempotency_key_in_use"];

fn from_stripe(e: StripeError) -> GatewayError {
    match e {
        StripeError::Stripe(err, status) => {
            let code = err.code.as_ref().map(|c| c.as_str().to_owned());
            let message = err.message.clone().unwrap_or_default();
            let code_is = |set: &[&str]| code.as_deref().is_some_and(|c| set.contains(&c));
            if status == 429 || status >= 500 || (status == 409 && code_is(&CONFLICT_RETRY)) {
                GatewayError::Unavailable(format!("{status}: {message}"))
            } else if code_is(&UNEXPECTED_STATE) {
                GatewayError::UnexpectedState(message)
            } else {
                GatewayError::Refused {
                    code: code.unwrap_or_else(|| err.type_.as_str().to_owned()),
                    message,
                }
            }
        }
        // async-stripe's words for an error status whose body is not Stripe's error JSON (the
        // status is lost): a proxy's 502 page, typically. Treated as retryable.
        StripeError::JSONDeserialize(m) if m == "error deserializing Stripe error" => {
            GatewayError::Unavailable("an error status with an unreadable body".into())
        }
        StripeError::JSONDeserialize(m) => GatewayError::Protocol(m),
        StripeError::ClientError(m) => GatewayError::Unavailable(m),
        StripeError::Timeout => GatewayError::Unavailable("timed out".into()),
        StripeError::ConfigError(m) => GatewayError::Protocol(m),
    }
}

fn checkout_from(s: CheckoutSession) -> Result<Checkout, GatewayError> {
    let status = match &s.status {
        Some(CheckoutSessionStatus::Open) => CheckoutStatus::Open,
        Some(CheckoutSessionStatus::Complete) => CheckoutStatus::Complete,
        Some(CheckoutSessionStatus::Expired) => CheckoutStatus::Expired,
        other => {
            return Err(GatewayError::Protocol(format!(
                "checkout session {} has status {other:?}",
                s.id.as_str()
            )));
        }
    };
    let order_id = s
        .metadata
        .as_ref()
        .and_then(|m| m.get("order_id").cloned())
        .or(s.client_reference_id);
    Ok(Checkout {
        id: s.id.as_str().to_owned(),
        url: s.url,
        status,
        payment_intent: s.payment_intent.map(|pi| pi.id().as_str().to_owned()),
        order_id,
    })
}

fn payment_from(pi: PaymentIntent) -> Payment {
    let (charge, refunded) = match pi.latest_charge {
        None => (None, 0),
        Some(Expandable::Id(id)) => (Some(id.as_str().to_owned()), 0),
        Some(Expandable::Object(ch)) => (Some(ch.id.as_str().to_owned()), ch.amount_refunded),
    };
    Payment {
        id: pi.id.as_str().to_owned(),
        status: payment_status(pi.status.as_str()),
        amount: pi.amount,
        capturable: pi.amount_capturable,
        captured: pi.amount_received,
        refunded,
        charge,
        order_id: pi.metadata.get("order_id").cloned(),
    }
}

fn balance_transaction_from(t: StripeBalanceTransaction) -> BalanceTransaction {
    BalanceTransaction {
        id: t.id.as_str().to_owned(),
        kind: t.type_.as_str().to_owned(),
        amount: t.amount,
        fee: t.fee,
        net: t.net,
        created: t.created,
        source: t.source.map(|s| s.id().as_str().to_owned()),
    }
}

fn metadata(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The expansion that makes a payment tell what was refunded.
fn expand_charge() -> Vec<String> {
    vec!["latest_charge".to_owned()]
}

impl StripeGateway {
    async fn create_checkout_inner(
        &self,
        req: &CheckoutRequest,
        key: &str,
    ) -> Result<Checkout, GatewayError> {
        let lines_total = req.lines.iter().try_fold(0i64, |sum, l| {
            l.unit_amount
                .checked_mul(i64::from(l.quantity))
                .and_then(|x| sum.checked_add(x))
        });
        if lines_total != Some(req.amount) {
            // The customer would be asked for the lines' sum, not the order's total.
            return Err(GatewayError::Refused {
                code: "amount_mismatch".into(),
                message: format!(
                    "the lines add up to {lines_total:?}, the order to {}",
                    req.amount
                ),
            });
        }
        let currency: Currency = match req.currency.parse() {
            Ok(c) => c,
            Err(never) => match never {},
        };
        let line_items: Vec<_> = req
            .lines
            .iter()
            .map(|l| {
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
                price.unit_amount = Some(l.unit_amount);
                price.product_data = Some(ProductData::new(l.name.clone()));
                let mut item = CreateCheckoutSessionLineItems::new();
                item.price_data = Some(price);
                item.quantity = Some(u64::from(l.quantity));
                item
            })
            .collect();
        let meta = metadata(&[("order_id", &req.order_id), ("store_id", &req.store_id)]);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.capture_method = Some(CreateCheckoutSessionPaymentIntentDataCaptureMethod::Manual);
        intent.metadata = Some(meta.clone());
        let mut create = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(line_items)
            .payment_intent_data(intent)
            .metadata(meta)
            .client_reference_id(req.order_id.clone())
            .success_url(req.success_url.clone())
            .cancel_url(req.cancel_url.clone())
            .expires_at(req.expires_at);
        if let Some(email) = &req.customer_email {
            create = create.customer_email(email.clone());
        }
        checkout_from(send!(self, create, Some(key))?)
    }

    async fn balance_transactions_inner(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<BalanceTransaction>, GatewayError> {
        let created = RangeQueryTs::Bounds(RangeBoundsTs {
            gte: Some(from),
            lt: Some(to),
            ..RangeBoundsTs::default()
        });
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut list = ListBalanceTransaction::new().created(created).limit(PAGE);
            if let Some(id) = &after {
                list = list.starting_after(id.clone());
            }
            let page = send!(self, list, None)?;
            after = page.data.last().map(|t| t.id.as_str().to_owned());
            all.extend(page.data.into_iter().map(balance_transaction_from));
            if !page.has_more {
                break;
            }
            if after.is_none() {
                return Err(GatewayError::Protocol(
                    "balance transactions: has_more on an empty page".into(),
                ));
            }
        }
        // Stripe lists newest first; the port wants oldest first.
        all.reverse();
        all.sort_by_key(|t| t.created);
        Ok(all)
    }
}

impl PaymentGateway for StripeGateway {
    fn create_checkout<'a>(
        &'a self,
        req: &'a CheckoutRequest,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Checkout, GatewayError>> {
        Box::pin(self.create_checkout_inner(req, idempotency_key))
    }

    fn checkout<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Checkout, GatewayError>> {
        Box::pin(async move {
            let session = send!(self, RetrieveCheckoutSession::new(id), None)?;
            checkout_from(session)
        })
    }

    fn expire_checkout<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Checkout, GatewayError>> {
        Box::pin(async move {
            let session = send!(self, ExpireCheckoutSession::new(id), Some(idempotency_key))?;
            checkout_from(session)
        })
    }

    fn payment<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Payment, GatewayError>> {
        Box::pin(async move {
            let req = RetrievePaymentIntent::new(id).expand(expand_charge());
            Ok(payment_from(send!(self, req, None)?))
        })
    }

    fn payments_for_order<'a>(
        &'a self,
        order_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Payment>, GatewayError>> {
        Box::pin(async move {
            // Stripe's search query language: a quoted value, `'` and `\` escaped. Stripe's
            // search index trails writes (under a minute, Stripe says): a payment made seconds
            // ago may be missing, so recovery should not conclude "never paid" from one look.
            let quoted = order_id.replace('\\', "\\\\").replace('\'', "\\'");
            let query = format!("metadata['order_id']:'{quoted}'");
            let req = SearchPaymentIntent::new(query)
                .limit(PAGE)
                .expand(vec!["data.latest_charge".to_owned()]);
            let found = send!(self, req, None)?;
            // One order has one or two payments (a retried checkout), never a page of them.
            Ok(found.data.into_iter().map(payment_from).collect())
        })
    }

    fn capture<'a>(
        &'a self,
        id: &'a str,
        amount: Option<i64>,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Payment, GatewayError>> {
        Box::pin(async move {
            let mut req = CapturePaymentIntent::new(id).expand(expand_charge());
            if let Some(amount) = amount {
                req = req.amount_to_capture(amount);
            }
            Ok(payment_from(send!(self, req, Some(idempotency_key))?))
        })
    }

    fn cancel<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Payment, GatewayError>> {
        Box::pin(async move {
            let req = CancelPaymentIntent::new(id).expand(expand_charge());
            Ok(payment_from(send!(self, req, Some(idempotency_key))?))
        })
    }

    fn refund<'a>(
        &'a self,
        payment: &'a str,
        amount: i64,
        refund_id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Refund, GatewayError>> {
        Box::pin(async move {
            let req = CreateRefund::new()
                .payment_intent(payment)
                .amount(amount)
                .metadata(metadata(&[("refund_id", refund_id)]));
            let r = send!(self, req, Some(idempotency_key))?;
            Ok(Refund {
                id: r.id.as_str().to_owned(),
                amount: r.amount,
                status: r.status.unwrap_or_default(),
                payment: r
                    .payment_intent
                    .map(|pi| pi.id().as_str().to_owned())
                    .unwrap_or_else(|| payment.to_owned()),
            })
        })
    }

    fn balance_transactions<'a>(
        &'a self,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<BalanceTransaction>, GatewayError>> {
        Box::pin(self.balance_transactions_inner(from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StripeConfig {
        StripeConfig {
            secret_key: "sk_test_SECRETKEY123".into(),
            api_base: Some("http://127.0.0.1:9".into()),
            webhook_secret: "whsec_WEBHOOKSECRET456".into(),
            request_timeout: Duration::from_millis(500),
        }
    }

    #[test]
    fn debug_redacts_both_secrets() {
        let c = config();
        let shown = format!("{c:?}");
        assert!(!shown.contains("SECRETKEY123"), "{shown}");
        assert!(!shown.contains("WEBHOOKSECRET456"), "{shown}");
        let gw = format!("{:?}", StripeGateway::new(&c).unwrap());
        assert!(!gw.contains("SECRETKEY123"), "{gw}");
    }

    #[test]
    fn base_url_gets_its_slash() {
        let gw = StripeGateway::new(&config()).unwrap();
        assert_eq!(gw.api_base, "http://127.0.0.1:9/");
    }

    #[tokio::test]
    async fn nothing_listening_is_unavailable() {
        // A port that was just free: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let gw = StripeGateway::new(&StripeConfig {
            api_base: Some(format!("http://127.0.0.1:{port}")),
            ..config()
        })
        .unwrap();
        let err = gw.payment("pi_1").await.unwrap_err();
        assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn lines_must_add_up_to_the_amount() {
        let gw = StripeGateway::new(&config()).unwrap();
        let req = CheckoutRequest {
            order_id: "o1".into(),
            store_id: "s1".into(),
            lines: vec![super::super::gateway::CheckoutLine {
                name: "Soup".into(),
                unit_amount: 500,
                quantity: 2,
            }],
            amount: 1100,
            currency: "usd".into(),
            customer_email: None,
            success_url: "https://example.test/ok".into(),
            cancel_url: "https://example.test/cancel".into(),
            expires_at: 1_700_000_000,
        };
        let err = gw.create_checkout(&req, "checkout-o1").await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Refused { code, .. } if code == "amount_mismatch"),
            "{err:?}"
        );
    }
}
