//! The fake's in-memory Stripe account: Checkout Sessions, PaymentIntents, Charges, Refunds,
//! Events and balance transactions, with the transitions Stripe makes for manual capture.
//!
//! Everything here is synchronous and takes the time (`now`, Unix seconds) as an argument, so
//! the HTTP layer holds one `Mutex` around a [`Store`] for the length of a request and the
//! transitions can be tested without a socket. Each transition pushes the Events it causes onto
//! [`Store::outbox`]; the caller hands them to the webhook sender after unlocking.
//!
//! Objects are rendered with the fields Stripe sends, including every field that async-stripe
//! 1.0.0-rc.10 requires when it deserialises them (it refuses an object that lacks one).

use std::collections::{BTreeMap, HashMap};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::error::ApiError;

/// The Stripe API version the fake claims in Events and answers: the one async-stripe
/// 1.0.0-rc.10 was generated for (it warns on any other).
pub const API_VERSION: &str = "2026-09-30.endive";

/// A random Stripe-looking id: `prefix` then `len` alphanumerics.
pub fn new_id(prefix: &str, len: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

/// Stripe's card fee in the fake: 2.9 % (rounded half up) plus 30 minor units.
pub fn card_fee(amount: i64) -> i64 {
    (amount * 29 + 500) / 1000 + 30
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureMethod {
    Automatic,
    Manual,
}

impl CaptureMethod {
    fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LineItem {
    pub name: String,
    pub unit_amount: i64,
    pub quantity: i64,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    pub status: SessionStatus,
    pub line_items: Vec<LineItem>,
    pub currency: String,
    pub amount_total: i64,
    pub metadata: BTreeMap<String, String>,
    pub client_reference_id: Option<String>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub capture_method: CaptureMethod,
    pub pi_metadata: BTreeMap<String, String>,
    pub pi_description: Option<String>,
    pub payment_intent: Option<String>,
    pub hosted_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PiStatus {
    RequiresPaymentMethod,
    RequiresCapture,
    Succeeded,
    Canceled,
}

impl PiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PiStatus::RequiresPaymentMethod => "requires_payment_method",
            PiStatus::RequiresCapture => "requires_capture",
            PiStatus::Succeeded => "succeeded",
            PiStatus::Canceled => "canceled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct PaymentIntent {
    pub id: String,
    pub seq: u64,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub capture_method: CaptureMethod,
    pub status: PiStatus,
    pub amount_capturable: i64,
    pub amount_received: i64,
    /// What the card authorised (0 until paid); kept for the ledger.
    pub authorised: i64,
    pub latest_charge: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    pub last_payment_error: Option<Value>,
    pub checkout_session: String,
}

#[derive(Clone, Debug)]
pub struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub captured: bool,
    pub currency: String,
    pub payment_intent: String,
    pub metadata: BTreeMap<String, String>,
    pub balance_transaction: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub metadata: BTreeMap<String, String>,
    pub reason: Option<String>,
    pub balance_transaction: String,
}

#[derive(Clone, Debug)]
pub struct BalanceTransaction {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub fee: i64,
    pub currency: String,
    /// `charge` or `refund`: both the `type` and the `reporting_category`.
    pub kind: &'static str,
    pub source: String,
}

/// One page of a list: the objects and whether more follow.
pub struct Page {
    pub data: Vec<Value>,
    pub has_more: bool,
}

/// The account. Lists (`events`, `balance_transactions`) are kept oldest first.
#[derive(Default)]
pub struct Store {
    pub sessions: HashMap<String, Session>,
    pub intents: HashMap<String, PaymentIntent>,
    pub charges: HashMap<String, Charge>,
    pub refunds: HashMap<String, Refund>,
    pub events: Vec<Value>,
    pub balance_transactions: Vec<BalanceTransaction>,
    /// Events emitted since the caller last drained it.
    pub outbox: Vec<Value>,
    seq: u64,
}

fn meta_json(m: &BTreeMap<String, String>) -> Value {
    json!(m)
}

impl Session {
    pub fn json(&self) -> Value {
        let open = self.status == SessionStatus::Open;
        let complete = self.status == SessionStatus::Complete;
        json!({
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "created": self.created,
            "currency": self.currency,
            "custom_fields": [],
            "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "customer": null,
            "customer_details": if complete {
                json!({"email": self.customer_email, "name": null, "phone": null, "address": null, "tax_exempt": "none", "tax_ids": []})
            } else { Value::Null },
            "customer_email": self.customer_email,
            "expires_at": self.expires_at,
            "livemode": false,
            "metadata": meta_json(&self.metadata),
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_method_types": ["card"],
            // Manual capture: nothing is paid until the hub captures, so the session stays
            // `unpaid`; read the PaymentIntent's status, not this.
            "payment_status": if complete && self.capture_method == CaptureMethod::Automatic { "paid" } else { "unpaid" },
            "shipping_options": [],
            "status": self.status.as_str(),
            "success_url": self.success_url,
            "ui_mode": "hosted_page",
            "url": if open { Value::String(self.hosted_url.clone()) } else { Value::Null },
        })
    }
}

impl PaymentIntent {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method.as_str(),
            "client_secret": format!("{}_secret_fake", self.id),
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": null,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": false,
            "metadata": meta_json(&self.metadata),
            "payment_method": self.latest_charge.as_ref().map(|_| "pm_card_visa"),
            "payment_method_types": ["card"],
            "status": self.status.as_str(),
        })
    }
}

impl Charge {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "balance_transaction": self.balance_transaction,
            "billing_details": {"address": null, "email": null, "name": null, "phone": null},
            "captured": self.captured,
            "created": self.created,
            "currency": self.currency,
            "disputed": false,
            "livemode": false,
            "metadata": meta_json(&self.metadata),
            "paid": true,
            "payment_intent": self.payment_intent,
            "refunded": self.captured && self.amount_refunded >= self.amount_captured,
            "status": "succeeded",
        })
    }
}

impl Refund {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "balance_transaction": self.balance_transaction,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "metadata": meta_json(&self.metadata),
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "status": "succeeded",
        })
    }
}

impl BalanceTransaction {
    pub fn json(&self) -> Value {
        let fee_details = if self.fee == 0 {
            json!([])
        } else {
            json!([{"amount": self.fee, "application": null, "currency": self.currency,
                    "description": "Stripe processing fees", "type": "stripe_fee"}])
        };
        json!({
            "id": self.id,
            "object": "balance_transaction",
            "amount": self.amount,
            "available_on": self.created,
            "balance_type": "payments",
            "created": self.created,
            "currency": self.currency,
            "description": null,
            "exchange_rate": null,
            "fee": self.fee,
            "fee_details": fee_details,
            "net": self.amount - self.fee,
            "reporting_category": self.kind,
            "source": self.source,
            "status": "available",
            "type": self.kind,
        })
    }
}

/// Newest first after `starting_after` (an id in `items`), at most `limit`.
pub fn page<T>(
    items: &[T],
    id: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
    keep: impl Fn(&T) -> bool,
    limit: usize,
    starting_after: Option<&str>,
) -> Result<Page, ApiError> {
    let newest_first: Vec<&T> = items.iter().rev().filter(|t| keep(t)).collect();
    let start = match starting_after {
        None => 0,
        Some(after) => {
            let at = newest_first
                .iter()
                .position(|t| id(t) == after)
                .ok_or_else(|| ApiError::not_found("object", after, "starting_after"))?;
            at + 1
        }
    };
    let rest = &newest_first[start.min(newest_first.len())..];
    Ok(Page {
        data: rest.iter().take(limit).map(|t| render(t)).collect(),
        has_more: rest.len() > limit,
    })
}

/// What `POST /v1/checkout/sessions` was asked for, already checked.
pub struct NewSession {
    pub line_items: Vec<LineItem>,
    pub currency: String,
    pub metadata: BTreeMap<String, String>,
    pub client_reference_id: Option<String>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub expires_at: Option<i64>,
    pub capture_method: CaptureMethod,
    pub pi_metadata: BTreeMap<String, String>,
    pub pi_description: Option<String>,
}

impl Store {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Records an Event about `object` and queues it for delivery.
    pub fn emit(&mut self, now: i64, kind: &str, object: Value) {
        let event = json!({
            "id": new_id("evt_", 24),
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": {"object": object},
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": kind,
        });
        self.events.push(event.clone());
        self.outbox.push(event);
    }

    pub fn session(&self, id: &str) -> Result<&Session, ApiError> {
        self.sessions
            .get(id)
            .ok_or_else(|| ApiError::not_found("checkout.session", id, "session"))
    }

    pub fn intent(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.intents
            .get(id)
            .ok_or_else(|| ApiError::not_found("payment_intent", id, "intent"))
    }

    pub fn create_session(&mut self, now: i64, base_url: &str, new: NewSession) -> Session {
        let id = new_id("cs_test_", 58);
        let amount_total = new
            .line_items
            .iter()
            .map(|l| l.unit_amount * l.quantity)
            .sum();
        let session = Session {
            hosted_url: format!("{base_url}/checkout/{id}"),
            id: id.clone(),
            created: now,
            expires_at: new.expires_at.unwrap_or(now + 24 * 3600),
            status: SessionStatus::Open,
            line_items: new.line_items,
            currency: new.currency,
            amount_total,
            metadata: new.metadata,
            client_reference_id: new.client_reference_id,
            success_url: new.success_url,
            cancel_url: new.cancel_url,
            customer_email: new.customer_email,
            capture_method: new.capture_method,
            pi_metadata: new.pi_metadata,
            pi_description: new.pi_description,
            payment_intent: None,
        };
        self.sessions.insert(id, session.clone());
        session
    }

    /// The session's PaymentIntent, made on the first attempt to pay (as Stripe does).
    fn ensure_intent(&mut self, now: i64, session_id: &str) -> String {
        if let Some(pi) = &self.sessions[session_id].payment_intent {
            return pi.clone();
        }
        let seq = self.next_seq();
        let s = self.sessions.get_mut(session_id).expect("caller checked");
        let pi = PaymentIntent {
            id: new_id("pi_", 24),
            seq,
            created: now,
            amount: s.amount_total,
            currency: s.currency.clone(),
            capture_method: s.capture_method,
            status: PiStatus::RequiresPaymentMethod,
            amount_capturable: 0,
            amount_received: 0,
            authorised: 0,
            latest_charge: None,
            metadata: s.pi_metadata.clone(),
            description: s.pi_description.clone(),
            canceled_at: None,
            cancellation_reason: None,
            last_payment_error: None,
            checkout_session: s.id.clone(),
        };
        s.payment_intent = Some(pi.id.clone());
        let id = pi.id.clone();
        self.intents.insert(id.clone(), pi);
        id
    }

    fn open_session(&self, id: &str) -> Result<&Session, ApiError> {
        let s = self.session(id)?;
        if s.status != SessionStatus::Open {
            return Err(ApiError::invalid(
                Some("checkout_session_not_open"),
                format!(
                    "This Checkout Session is {} and can no longer be paid or expired.",
                    s.status.as_str()
                ),
                None,
            ));
        }
        Ok(s)
    }

    /// The customer pays with a card that authorises (the hosted page's Pay button).
    pub fn pay(&mut self, now: i64, session_id: &str) -> Result<Session, ApiError> {
        self.open_session(session_id)?;
        let pi_id = self.ensure_intent(now, session_id);
        let charge_id = new_id("ch_", 24);
        let pi = self.intents.get_mut(&pi_id).expect("just made");
        pi.authorised = pi.amount;
        pi.last_payment_error = None;
        pi.latest_charge = Some(charge_id.clone());
        let charge = Charge {
            id: charge_id.clone(),
            created: now,
            amount: pi.amount,
            amount_captured: 0,
            amount_refunded: 0,
            captured: false,
            currency: pi.currency.clone(),
            payment_intent: pi.id.clone(),
            metadata: pi.metadata.clone(),
            balance_transaction: None,
        };
        let manual = pi.capture_method == CaptureMethod::Manual;
        if manual {
            pi.status = PiStatus::RequiresCapture;
            pi.amount_capturable = pi.amount;
        }
        let amount = pi.amount;
        self.charges.insert(charge_id, charge);
        if !manual {
            self.capture_unchecked(now, &pi_id, amount);
        }
        let s = self.sessions.get_mut(session_id).expect("checked");
        s.status = SessionStatus::Complete;
        let session = s.clone();
        let pi_json = self.intents[&pi_id].json();
        self.emit(now, "checkout.session.completed", session.json());
        if manual {
            self.emit(now, "payment_intent.amount_capturable_updated", pi_json);
        }
        Ok(session)
    }

    /// The customer tries a card that is declined; the session stays open.
    pub fn decline(&mut self, now: i64, session_id: &str) -> Result<PaymentIntent, ApiError> {
        self.open_session(session_id)?;
        let pi_id = self.ensure_intent(now, session_id);
        let pi = self.intents.get_mut(&pi_id).expect("just made");
        pi.last_payment_error = Some(json!({
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        }));
        let pi = pi.clone();
        self.emit(now, "payment_intent.payment_failed", pi.json());
        Ok(pi)
    }

    /// Expires an open session (the API call, the control endpoint or its `expires_at`);
    /// a PaymentIntent it had made for failed attempts is cancelled with it.
    pub fn expire(&mut self, now: i64, session_id: &str) -> Result<Session, ApiError> {
        self.open_session(session_id)?;
        let s = self.sessions.get_mut(session_id).expect("checked");
        s.status = SessionStatus::Expired;
        let session = s.clone();
        if let Some(pi) = session
            .payment_intent
            .as_ref()
            .and_then(|id| self.intents.get_mut(id))
        {
            pi.status = PiStatus::Canceled;
            pi.canceled_at = Some(now);
            pi.cancellation_reason = Some("abandoned".into());
            let pi = pi.json();
            self.emit(now, "payment_intent.canceled", pi);
        }
        self.emit(now, "checkout.session.expired", session.json());
        Ok(session)
    }

    /// Expires every open session whose `expires_at` has passed.
    pub fn expire_due(&mut self, now: i64) {
        let mut due: Vec<(i64, String)> = self
            .sessions
            .values()
            .filter(|s| s.status == SessionStatus::Open && s.expires_at <= now)
            .map(|s| (s.expires_at, s.id.clone()))
            .collect();
        due.sort();
        for (_, id) in due {
            let _ = self.expire(now, &id);
        }
    }

    pub fn capture(
        &mut self,
        now: i64,
        pi_id: &str,
        amount_to_capture: Option<i64>,
    ) -> Result<PaymentIntent, ApiError> {
        let pi = self.intent(pi_id)?;
        if pi.status != PiStatus::RequiresCapture {
            return Err(ApiError::unexpected_state(
                format!(
                    "This PaymentIntent could not be captured because it has a status of {}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        let amount = amount_to_capture.unwrap_or(pi.amount_capturable);
        if amount <= 0 || amount > pi.amount_capturable {
            return Err(ApiError::invalid(
                Some("amount_too_large"),
                format!(
                    "The amount to capture ({amount}) must be positive and at most the capturable amount ({}).",
                    pi.amount_capturable
                ),
                Some("amount_to_capture"),
            ));
        }
        self.capture_unchecked(now, pi_id, amount);
        let pi = self.intents[pi_id].clone();
        self.emit(now, "payment_intent.succeeded", pi.json());
        Ok(pi)
    }

    /// Captures `amount` of an authorised intent: the charge, its balance transaction.
    fn capture_unchecked(&mut self, now: i64, pi_id: &str, amount: i64) {
        let pi = self.intents.get_mut(pi_id).expect("caller checked");
        pi.status = PiStatus::Succeeded;
        pi.amount_capturable = 0;
        pi.amount_received = amount;
        let charge_id = pi
            .latest_charge
            .clone()
            .expect("an authorised intent has a charge");
        let currency = pi.currency.clone();
        let txn = BalanceTransaction {
            id: new_id("txn_", 24),
            created: now,
            amount,
            fee: card_fee(amount),
            currency,
            kind: "charge",
            source: charge_id.clone(),
        };
        let charge = self.charges.get_mut(&charge_id).expect("exists");
        charge.captured = true;
        charge.amount_captured = amount;
        charge.balance_transaction = Some(txn.id.clone());
        self.balance_transactions.push(txn);
    }

    pub fn cancel(
        &mut self,
        now: i64,
        pi_id: &str,
        reason: Option<String>,
    ) -> Result<PaymentIntent, ApiError> {
        let pi = self.intent(pi_id)?;
        if matches!(pi.status, PiStatus::Succeeded | PiStatus::Canceled) {
            return Err(ApiError::unexpected_state(
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        let session_id = pi.checkout_session.clone();
        let pi = self.intents.get_mut(pi_id).expect("checked");
        pi.status = PiStatus::Canceled;
        pi.amount_capturable = 0;
        pi.canceled_at = Some(now);
        pi.cancellation_reason = reason.or(Some("requested_by_customer".into()));
        let pi = pi.clone();
        // Stripe expires an open session whose PaymentIntent is cancelled.
        if self.sessions[&session_id].status == SessionStatus::Open {
            let s = self.sessions.get_mut(&session_id).expect("exists");
            s.status = SessionStatus::Expired;
            let s = s.json();
            self.emit(now, "checkout.session.expired", s);
        }
        self.emit(now, "payment_intent.canceled", pi.json());
        Ok(pi)
    }

    pub fn refund(
        &mut self,
        now: i64,
        pi_id: &str,
        amount: Option<i64>,
        metadata: BTreeMap<String, String>,
        reason: Option<String>,
    ) -> Result<Refund, ApiError> {
        let pi = self
            .intents
            .get(pi_id)
            .ok_or_else(|| ApiError::not_found("payment_intent", pi_id, "payment_intent"))?;
        if pi.status != PiStatus::Succeeded {
            return Err(ApiError::unexpected_state(
                format!(
                    "This PaymentIntent has a status of {} and has no captured charge to refund.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        let charge_id = pi.latest_charge.clone().expect("succeeded has a charge");
        let charge = &self.charges[&charge_id];
        let left = charge.amount_captured - charge.amount_refunded;
        if left <= 0 {
            return Err(ApiError::invalid(
                Some("charge_already_refunded"),
                format!("Charge {charge_id} has already been refunded."),
                None,
            ));
        }
        let amount = amount.unwrap_or(left);
        if amount <= 0 {
            return Err(ApiError::invalid(
                Some("parameter_invalid_integer"),
                "Invalid positive integer".into(),
                Some("amount"),
            ));
        }
        if amount > left {
            return Err(ApiError::invalid(
                Some("amount_too_large"),
                format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
                ),
                Some("amount"),
            ));
        }
        let txn = BalanceTransaction {
            id: new_id("txn_", 24),
            created: now,
            amount: -amount,
            fee: 0,
            currency: charge.currency.clone(),
            kind: "refund",
            source: String::new(),
        };
        let refund = Refund {
            id: new_id("re_", 24),
            created: now,
            amount,
            currency: charge.currency.clone(),
            charge: charge_id.clone(),
            payment_intent: pi_id.to_owned(),
            metadata,
            reason,
            balance_transaction: txn.id.clone(),
        };
        self.balance_transactions.push(BalanceTransaction {
            source: refund.id.clone(),
            ..txn
        });
        self.refunds.insert(refund.id.clone(), refund.clone());
        let charge = self.charges.get_mut(&charge_id).expect("exists");
        charge.amount_refunded += amount;
        let charge = charge.json();
        self.emit(now, "charge.refunded", charge);
        Ok(refund)
    }

    /// PaymentIntents oldest first.
    pub fn intents_in_order(&self) -> Vec<&PaymentIntent> {
        let mut all: Vec<&PaymentIntent> = self.intents.values().collect();
        all.sort_by_key(|p| p.seq);
        all
    }

    /// What the crash test compares with the hub's records.
    pub fn ledger(&self) -> Value {
        let rows: Vec<Value> = self
            .intents_in_order()
            .into_iter()
            .map(|pi| {
                let charge = pi.latest_charge.as_ref().map(|c| &self.charges[c]);
                json!({
                    "payment_intent": pi.id,
                    "checkout_session": pi.checkout_session,
                    "status": pi.status.as_str(),
                    "currency": pi.currency,
                    "amount": pi.amount,
                    "authorised": pi.authorised,
                    "captured": charge.map_or(0, |c| c.amount_captured),
                    "refunded": charge.map_or(0, |c| c.amount_refunded),
                    "metadata": meta_json(&pi.metadata),
                })
            })
            .collect();
        Value::Array(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_session(store: &mut Store) -> Session {
        store.create_session(
            1_700_000_000,
            "http://fake",
            NewSession {
                line_items: vec![LineItem {
                    name: "Pizza".into(),
                    unit_amount: 1250,
                    quantity: 2,
                }],
                currency: "eur".into(),
                metadata: BTreeMap::new(),
                client_reference_id: None,
                success_url: "http://shop/ok".into(),
                cancel_url: None,
                customer_email: None,
                expires_at: None,
                capture_method: CaptureMethod::Manual,
                pi_metadata: BTreeMap::new(),
                pi_description: None,
            },
        )
    }

    #[test]
    fn fee_is_2_9_percent_plus_30() {
        assert_eq!(card_fee(2500), 73 + 30);
        assert_eq!(card_fee(1000), 29 + 30);
    }

    #[test]
    fn manual_capture_then_refunds_move_the_charge() {
        let mut st = Store::default();
        let s = new_session(&mut st);
        assert_eq!(s.amount_total, 2500);
        let s = st.pay(1, &s.id).unwrap();
        let pi = s.payment_intent.unwrap();
        assert_eq!(st.intents[&pi].status, PiStatus::RequiresCapture);
        assert_eq!(st.intents[&pi].amount_capturable, 2500);
        st.capture(2, &pi, None).unwrap();
        st.refund(3, &pi, Some(500), BTreeMap::new(), None).unwrap();
        let err = st
            .refund(3, &pi, Some(2001), BTreeMap::new(), None)
            .unwrap_err();
        assert_eq!(err.code, Some("amount_too_large"));
        st.refund(4, &pi, None, BTreeMap::new(), None).unwrap();
        let err = st.refund(5, &pi, None, BTreeMap::new(), None).unwrap_err();
        assert_eq!(err.code, Some("charge_already_refunded"));
        let ch = &st.charges[st.intents[&pi].latest_charge.as_ref().unwrap()];
        assert_eq!((ch.amount_captured, ch.amount_refunded), (2500, 2500));
        assert_eq!(ch.json()["refunded"], true);
        let err = st.cancel(6, &pi, None).unwrap_err();
        assert_eq!(err.code, Some("payment_intent_unexpected_state"));
    }

    #[test]
    fn a_session_past_its_expiry_expires() {
        let mut st = Store::default();
        let s = new_session(&mut st);
        st.expire_due(s.expires_at - 1);
        assert_eq!(st.sessions[&s.id].status, SessionStatus::Open);
        st.expire_due(s.expires_at);
        assert_eq!(st.sessions[&s.id].status, SessionStatus::Expired);
        assert_eq!(
            st.events.last().unwrap()["type"],
            "checkout.session.expired"
        );
    }
}
