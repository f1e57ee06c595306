//! Stripe's webhooks, in the hub's words: [`verify`] checks a `Stripe-Signature` header against
//! the raw body, and [`parse`] turns a verified body into an [`Event`] built from the port's
//! types (`gateway.rs`), so the order flow never sees Stripe's JSON.
//!
//! Verification is Stripe's scheme (docs.stripe.com/webhooks#verify-manually): the header is
//! `t=<unix seconds>,v1=<hex>,...` in any order (several `v1` while a secret is being rolled,
//! `v0` and unknown schemes ignored); the signature is HMAC-SHA256 over `"{t}.{body}"` keyed with
//! the whole `whsec_...` string; any matching `v1` is accepted, compared in constant time
//! (`ring::hmac::verify`); a `t` more than [`TOLERANCE_SECS`] from `now` is refused either way.
//! We do it ourselves rather than with `async-stripe-webhook` because that crate keeps only the
//! last `v1` of a header, and because it parses the whole event into its generated types.
//! `now` is a parameter: the hub's time is a port (`Hub::now_ms`).

use std::collections::HashMap;

use serde::Deserialize;

use super::gateway::{Checkout, CheckoutStatus, Payment, PaymentStatus};

/// The largest webhook body the hub reads; the HTTP handler refuses anything longer before it
/// calls [`verify`]. Stripe's events are a few KiB (a checkout session with its line items
/// expanded stays well under 64 KiB), so 256 KiB leaves room without inviting abuse.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// How far (either way) a signature's `t` may be from now: Stripe's libraries' default, 5 minutes.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a webhook was refused (answered with a 400 whose body carries [`WebhookError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no Stripe-Signature header")]
    MissingHeader,
    #[error("malformed webhook: {0}")]
    Malformed(String),
    #[error("no signature matches the payload")]
    NoMatchingSignature,
    #[error("the signature is {age_secs} s old (tolerance {TOLERANCE_SECS} s)")]
    Stale { age_secs: i64 },
}

impl WebhookError {
    /// A stable code for the 400 body.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader => "webhook_missing_signature",
            WebhookError::Malformed(_) => "webhook_malformed",
            WebhookError::NoMatchingSignature => "webhook_bad_signature",
            WebhookError::Stale { .. } => "webhook_stale_signature",
        }
    }
}

/// Checks a `Stripe-Signature` header against the raw body, keyed with the endpoint's whole
/// `whsec_...` secret, at `now_secs` (Unix seconds, from the hub's clock).
pub fn verify(
    header: &str,
    payload: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), WebhookError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::MissingHeader);
    }
    let mut t: Option<(&str, i64)> = None;
    let mut v1: Vec<&str> = Vec::new();
    for part in header.split(',') {
        let Some((scheme, value)) = part.trim().split_once('=') else {
            continue;
        };
        match scheme.trim() {
            "t" => {
                let value = value.trim();
                if t.is_some() {
                    return Err(WebhookError::Malformed("more than one t".into()));
                }
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(WebhookError::Malformed("t is not a Unix time".into()));
                }
                let secs = value
                    .parse::<i64>()
                    .map_err(|_| WebhookError::Malformed("t is out of range".into()))?;
                t = Some((value, secs));
            }
            "v1" => v1.push(value.trim()),
            _ => {}
        }
    }
    let Some((t_text, t_secs)) = t else {
        return Err(WebhookError::Malformed(
            "no t in the signature header".into(),
        ));
    };
    if v1.is_empty() {
        return Err(WebhookError::NoMatchingSignature);
    }

    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = Vec::with_capacity(t_text.len() + 1 + payload.len());
    signed.extend_from_slice(t_text.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(payload);
    let matched = v1.iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|tag| ring::hmac::verify(&key, &signed, &tag).is_ok())
    });
    if !matched {
        return Err(WebhookError::NoMatchingSignature);
    }

    let age_secs = now_secs.saturating_sub(t_secs);
    if age_secs.saturating_abs() > TOLERANCE_SECS {
        return Err(WebhookError::Stale { age_secs });
    }
    Ok(())
}

/// A Stripe event, in the hub's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_...`: Stripe may deliver one event more than once; handle each id once.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `checkout.session.completed`: the customer paid (authorised) on the hosted page.
    CheckoutCompleted(Checkout),
    /// `checkout.session.expired`.
    CheckoutExpired(Checkout),
    /// `payment_intent.amount_capturable_updated`: authorised, ours to capture.
    PaymentAuthorized(Payment),
    /// `payment_intent.succeeded`: captured.
    PaymentCaptured(Payment),
    /// `payment_intent.canceled`.
    PaymentCancelled(Payment),
    /// `payment_intent.payment_failed`, with the processor's reason.
    PaymentFailed {
        payment: Payment,
        message: Option<String>,
    },
    /// `charge.refunded`: `amount_refunded` is the charge's total refunded so far.
    ChargeRefunded {
        charge: String,
        payment: Option<String>,
        amount_refunded: i64,
        order_id: Option<String>,
    },
    /// Any other event type (not an error: Stripe adds types, endpoints may get more than asked).
    Other(String),
}

/// Reads a (verified) webhook body.
pub fn parse(payload: &[u8]) -> Result<Event, WebhookError> {
    let raw: RawEvent = serde_json::from_slice(payload)
        .map_err(|e| WebhookError::Malformed(format!("not a Stripe event: {e}")))?;
    if raw.object.as_deref().is_some_and(|o| o != "event") {
        return Err(WebhookError::Malformed("not a Stripe event".into()));
    }
    let kind = match raw.kind.as_str() {
        "checkout.session.completed" => {
            EventKind::CheckoutCompleted(object::<RawSession>(&raw)?.into())
        }
        "checkout.session.expired" => {
            EventKind::CheckoutExpired(object::<RawSession>(&raw)?.into())
        }
        "payment_intent.amount_capturable_updated" => {
            EventKind::PaymentAuthorized(object::<RawPaymentIntent>(&raw)?.into())
        }
        "payment_intent.succeeded" => {
            EventKind::PaymentCaptured(object::<RawPaymentIntent>(&raw)?.into())
        }
        "payment_intent.canceled" => {
            EventKind::PaymentCancelled(object::<RawPaymentIntent>(&raw)?.into())
        }
        "payment_intent.payment_failed" => {
            let pi: RawPaymentIntent = object(&raw)?;
            let message = pi
                .last_payment_error
                .as_ref()
                .and_then(|e| e.message.clone());
            EventKind::PaymentFailed {
                payment: pi.into(),
                message,
            }
        }
        "charge.refunded" => {
            let charge: RawCharge = object(&raw)?;
            EventKind::ChargeRefunded {
                charge: charge.id,
                payment: charge.payment_intent.map(IdOrObject::into_id),
                amount_refunded: charge.amount_refunded,
                order_id: charge.metadata.get("order_id").cloned(),
            }
        }
        other => EventKind::Other(other.to_owned()),
    };
    Ok(Event {
        id: raw.id,
        created: raw.created,
        kind,
    })
}

/// `data.object` as `T`.
fn object<T: serde::de::DeserializeOwned>(raw: &RawEvent) -> Result<T, WebhookError> {
    let data = raw
        .data
        .as_ref()
        .ok_or_else(|| WebhookError::Malformed(format!("{} without data.object", raw.kind)))?;
    T::deserialize(&data.object)
        .map_err(|e| WebhookError::Malformed(format!("{}: data.object: {e}", raw.kind)))
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    object: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: Option<RawData>,
}

#[derive(Deserialize)]
struct RawData {
    object: serde_json::Value,
}

/// An expandable field: an id, or the object (whose `id` we take).
#[derive(Deserialize)]
#[serde(untagged)]
enum IdOrObject {
    Id(String),
    Object { id: String },
}

impl IdOrObject {
    fn into_id(self) -> String {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct RawSession {
    id: String,
    url: Option<String>,
    status: RawSessionStatus,
    payment_intent: Option<IdOrObject>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
    client_reference_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawSessionStatus {
    Open,
    Complete,
    Expired,
}

impl From<RawSession> for Checkout {
    fn from(s: RawSession) -> Self {
        let order_id = s
            .metadata
            .as_ref()
            .and_then(|m| m.get("order_id").cloned())
            .or(s.client_reference_id);
        Checkout {
            id: s.id,
            url: s.url,
            status: match s.status {
                RawSessionStatus::Open => CheckoutStatus::Open,
                RawSessionStatus::Complete => CheckoutStatus::Complete,
                RawSessionStatus::Expired => CheckoutStatus::Expired,
            },
            payment_intent: s.payment_intent.map(IdOrObject::into_id),
            order_id,
        }
    }
}

#[derive(Deserialize)]
struct RawPaymentIntent {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    amount_capturable: i64,
    #[serde(default)]
    amount_received: i64,
    latest_charge: Option<RawChargeRef>,
    #[serde(default)]
    metadata: HashMap<String, String>,
    last_payment_error: Option<RawPaymentError>,
}

/// `latest_charge`: an id, or the expanded charge (which tells what was refunded).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawChargeRef {
    Id(String),
    Object {
        id: String,
        #[serde(default)]
        amount_refunded: i64,
    },
}

#[derive(Deserialize)]
struct RawPaymentError {
    message: Option<String>,
}

impl From<RawPaymentIntent> for Payment {
    fn from(pi: RawPaymentIntent) -> Self {
        let (charge, refunded) = match pi.latest_charge {
            None => (None, 0),
            Some(RawChargeRef::Id(id)) => (Some(id), 0),
            Some(RawChargeRef::Object {
                id,
                amount_refunded,
            }) => (Some(id), amount_refunded),
        };
        Payment {
            status: payment_status(&pi.status),
            id: pi.id,
            amount: pi.amount,
            capturable: pi.amount_capturable,
            captured: pi.amount_received,
            refunded,
            charge,
            order_id: pi.metadata.get("order_id").cloned(),
        }
    }
}

#[derive(Deserialize)]
struct RawCharge {
    id: String,
    #[serde(default)]
    amount_refunded: i64,
    payment_intent: Option<IdOrObject>,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

/// A PaymentIntent's `status` in the port's words (shared with the adapter, `stripe.rs`).
pub(crate) fn payment_status(status: &str) -> PaymentStatus {
    match status {
        "requires_capture" => PaymentStatus::Authorized,
        "succeeded" => PaymentStatus::Captured,
        "canceled" => PaymentStatus::Cancelled,
        "requires_payment_method" | "requires_confirmation" | "requires_action" => {
            PaymentStatus::AwaitingPayment
        }
        other => PaymentStatus::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(payload: &[u8], secret: &str, t: i64) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let mut msg = format!("{t}.").into_bytes();
        msg.extend_from_slice(payload);
        hex::encode(ring::hmac::sign(&key, &msg).as_ref())
    }

    #[test]
    fn codes_are_distinct() {
        let codes = [
            WebhookError::MissingHeader.code(),
            WebhookError::Malformed(String::new()).code(),
            WebhookError::NoMatchingSignature.code(),
            WebhookError::Stale { age_secs: 0 }.code(),
        ];
        for (i, a) in codes.iter().enumerate() {
            for b in &codes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn whitespace_and_order_do_not_matter() {
        let p = br#"{"id":"evt_1"}"#;
        let header = format!(" v0=abc , v1={} ,t=100", sign(p, "whsec_x", 100));
        assert_eq!(verify(&header, p, "whsec_x", 100), Ok(()));
    }

    #[test]
    fn header_without_v1_is_refused() {
        assert_eq!(
            verify("t=100,v0=abc", b"{}", "whsec_x", 100),
            Err(WebhookError::NoMatchingSignature)
        );
        assert_eq!(
            verify("   ", b"{}", "whsec_x", 100),
            Err(WebhookError::MissingHeader)
        );
    }

    #[test]
    fn status_mapping() {
        assert_eq!(
            payment_status("requires_capture"),
            PaymentStatus::Authorized
        );
        assert_eq!(payment_status("succeeded"), PaymentStatus::Captured);
        assert_eq!(payment_status("canceled"), PaymentStatus::Cancelled);
        assert_eq!(
            payment_status("requires_action"),
            PaymentStatus::AwaitingPayment
        );
        assert_eq!(
            payment_status("processing"),
            PaymentStatus::Other("processing".into())
        );
    }
}
