//! The payment port: what the hub asks of a card processor, in the hub's own
//! words. The Stripe adapter (`payments::stripe`) implements it; nothing else
//! in the hub sees a Stripe type.
//!
//! Every call that changes something takes an idempotency key that the caller
//! derived from its own ids and stored before the call (`checkout-{order}`,
//! `capture-{order}`, `cancel-{order}`, `refund-{refund}`), so a retry after a
//! timeout or a crash asks for the same thing again and the processor answers
//! with the first result instead of doing it twice.

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so the port can be held as `Arc<dyn PaymentGateway>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One line the customer sees on the hosted payment page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLine {
    pub name: String,
    /// Minor units (cents), tax included where the store's prices include it.
    pub unit_amount: i64,
    pub quantity: u32,
}

/// A hosted checkout for one order, authorised now and captured later (manual capture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our order id: stored with the payment as metadata, so the processor's
    /// objects lead back to the order (and a crashed hub finds them again).
    pub order_id: String,
    pub store_id: String,
    /// What the page lists; their sum is `amount`.
    pub lines: Vec<CheckoutLine>,
    /// The order's total, minor units.
    pub amount: i64,
    /// ISO 4217, lower case (`usd`).
    pub currency: String,
    pub customer_email: Option<String>,
    /// Where the page sends the customer after paying (may contain `{CHECKOUT_SESSION_ID}`).
    pub success_url: String,
    /// Where the page sends the customer who cancels.
    pub cancel_url: String,
    /// When the checkout expires if not paid (Unix seconds).
    pub expires_at: i64,
}

/// Where a checkout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutStatus {
    /// Waiting for the customer.
    Open,
    /// Paid (authorised): the payment is on `payment_intent`.
    Complete,
    /// Expired or was expired: nothing was authorised.
    Expired,
}

/// A checkout as the processor holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub id: String,
    /// The hosted page (only while open).
    pub url: Option<String>,
    pub status: CheckoutStatus,
    /// The authorised payment, once complete.
    pub payment_intent: Option<String>,
    /// Our order id, from the metadata.
    pub order_id: Option<String>,
}

/// Where a payment (Stripe: PaymentIntent) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Not authorised (yet): the customer has not paid, or the card was declined.
    AwaitingPayment,
    /// Authorised for `capturable`: ours to capture or cancel.
    Authorized,
    /// Captured (`captured`).
    Captured,
    /// Cancelled: the hold is released, nothing was charged.
    Cancelled,
    /// Anything else the processor reports (processing, needs action ...).
    Other(String),
}

/// A payment as the processor holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub status: PaymentStatus,
    /// What the customer was asked for, minor units.
    pub amount: i64,
    /// Authorised and not yet captured.
    pub capturable: i64,
    /// Captured.
    pub captured: i64,
    /// Refunded of what was captured.
    pub refunded: i64,
    /// The charge that holds the money, once captured (reconciliation matches it).
    pub charge: Option<String>,
    /// Our order id, from the metadata.
    pub order_id: Option<String>,
}

/// A refund as the processor holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    /// `succeeded`, `pending`, `failed` or `canceled`.
    pub status: String,
    pub payment: String,
}

/// One movement of money on the merchant's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceTransaction {
    pub id: String,
    /// `charge`, `refund`, or another of the processor's kinds.
    pub kind: String,
    /// Signed, minor units (a refund is negative).
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    /// Unix seconds.
    pub created: i64,
    /// The charge or refund it moved money for.
    pub source: Option<String>,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Not reached, timed out, or a 5xx / 429: the same call (same key) may be retried.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The object is not in a state that allows this (captured already, cancelled ...).
    #[error("the payment is not in a state that allows this: {0}")]
    UnexpectedState(String),
    /// Refused for another reason (a 4xx): retrying the same call will not help.
    #[error("the payment provider refused: {code}: {message}")]
    Refused { code: String, message: String },
    /// The answer could not be read.
    #[error("unreadable answer from the payment provider: {0}")]
    Protocol(String),
}

/// The card processor, as the hub uses it.
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// Opens a hosted checkout whose payment is authorised only (manual capture).
    fn create_checkout<'a>(
        &'a self,
        req: &'a CheckoutRequest,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Checkout, GatewayError>>;
    /// Reads a checkout.
    fn checkout<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Checkout, GatewayError>>;
    /// Ends an open checkout now (nothing can be paid on it afterwards).
    fn expire_checkout<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Checkout, GatewayError>>;
    /// Reads a payment.
    fn payment<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Payment, GatewayError>>;
    /// Every payment made for our order `order_id` (found by its metadata).
    fn payments_for_order<'a>(
        &'a self,
        order_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Payment>, GatewayError>>;
    /// Captures an authorised payment (all of it when `amount` is `None`).
    fn capture<'a>(
        &'a self,
        id: &'a str,
        amount: Option<i64>,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Payment, GatewayError>>;
    /// Releases an authorised payment's hold.
    fn cancel<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Payment, GatewayError>>;
    /// Refunds `amount` of a captured payment; `refund_id` (ours) goes into the metadata.
    fn refund<'a>(
        &'a self,
        payment: &'a str,
        amount: i64,
        refund_id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Refund, GatewayError>>;
    /// The balance transactions created in `[from, to)` (Unix seconds), oldest first.
    fn balance_transactions<'a>(
        &'a self,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<BalanceTransaction>, GatewayError>>;
}
