//! Paying for web orders by card.
//!
//! - `gateway`: the port (what the hub asks of a card processor) and its types;
//! - `stripe`: the Stripe adapter (`StripeGateway`), the only place Stripe's types appear;
//! - `webhook`: Stripe's webhook signatures checked and its events read into the port's types;
//! - `flow`: a card order from checkout to capture or release (see its docs);
//! - `refunds`: full and partial refunds from the hub and from store nodes,
//!   never more than was captured, and their outcome in the store's log;
//! - `reconcile`: a store's day of card money against the processor's balance transactions;
//! - `worker`: each replica's loop that moves payments on (capture once the
//!   store accepted, release on rejection or timeout, expire unpaid checkouts)
//!   and, at start, finds out from the processor what a crash left unfinished.

pub mod flow;
pub mod gateway;
pub mod reconcile;
pub mod refunds;
pub mod stripe;
pub mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use gateway::PaymentGateway;

/// How the hub takes card payments.
#[derive(Clone)]
pub struct PaymentsConfig {
    /// Where customers reach the hub's web pages (`https://order.example.com`):
    /// the payment page sends them back to `{public_url}/orders/{id}?payment=paid|cancelled`.
    pub public_url: String,
    /// The webhook signing secret (`whsec_...`).
    pub webhook_secret: String,
    /// How long a customer has to pay before the checkout expires, from the order's start. Stripe
    /// wants 30 minutes to 24 hours from the checkout's creation, and a creation asked again
    /// (after a 5xx, a timeout, a crash) sends the same expiry: what is above 30 minutes is how
    /// long asking again still works.
    pub checkout_ttl: Duration,
    /// How long the store has to accept an authorised order before the hold is released.
    pub accept_timeout: Duration,
    /// How often the worker looks at payments in progress (it also wakes on every order change).
    pub tick: Duration,
    /// How old a checkout creation must be before the worker asks again (its request died).
    pub retry_after: Duration,
}

impl std::fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentsConfig")
            .field("public_url", &self.public_url)
            .field("webhook_secret", &"[redacted]")
            .field("checkout_ttl", &self.checkout_ttl)
            .field("accept_timeout", &self.accept_timeout)
            .field("tick", &self.tick)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl PaymentsConfig {
    pub fn new(public_url: impl Into<String>, webhook_secret: impl Into<String>) -> Self {
        PaymentsConfig {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            webhook_secret: webhook_secret.into(),
            checkout_ttl: Duration::from_secs(60 * 60),
            accept_timeout: Duration::from_secs(10 * 60),
            tick: Duration::from_secs(5),
            retry_after: Duration::from_secs(10),
        }
    }

    fn ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn checkout_ttl_ms(&self) -> i64 {
        Self::ms(self.checkout_ttl)
    }

    pub fn accept_timeout_ms(&self) -> i64 {
        Self::ms(self.accept_timeout)
    }

    pub fn retry_after_ms(&self) -> i64 {
        Self::ms(self.retry_after)
    }

    /// Where the payment page sends the customer back (`outcome`: paid or cancelled).
    pub fn return_url(&self, order_id: &str, outcome: &str) -> String {
        format!("{}/orders/{order_id}?payment={outcome}", self.public_url)
    }
}

/// A hub's card payments: the processor and the settings.
#[derive(Debug)]
pub struct Payments {
    pub gateway: Arc<dyn PaymentGateway>,
    pub config: PaymentsConfig,
    /// Wakes the worker (an order changed, a webhook arrived).
    pub wake: tokio::sync::Notify,
}

impl Payments {
    pub fn new(gateway: Arc<dyn PaymentGateway>, config: PaymentsConfig) -> Payments {
        Payments {
            gateway,
            config,
            wake: tokio::sync::Notify::new(),
        }
    }
}
