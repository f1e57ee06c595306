//! A web order paid by card, from the customer's click to the money.
//!
//! 1. [`start`]: the order waits in `card_payments` (state `creating`, written
//!    before the processor is asked anything), then a hosted checkout is
//!    opened under the key `checkout-{order}` (state `open`). Nothing reaches
//!    the kitchen yet.
//! 2. [`authorized`]: the customer paid (webhook, or the worker reading the
//!    checkout): the order is placed as any web order (its `W-` ticket and
//!    `order.created` event, which syncs to the store's node and prints), then
//!    the payment moves to `authorized` with a deadline for the store.
//! 3. [`step`] (the worker, and after every webhook): an authorised payment is
//!    captured (`capture-{order}`) once the store accepted the order; released
//!    (`cancel-{order}`) when the store rejected or cancelled it, or had not
//!    accepted it by the deadline — then the hub also cancels the order, so the
//!    kitchen does not cook it. A checkout never paid expires (`expired`).
//!
//! Each step is guarded by the state it leaves and each call carries a key
//! derived from the order id, so running a step twice (a webhook and the worker,
//! two replicas, a crash and a restart) does it once.

use std::sync::Arc;

use domain::fact::{Fact, OrderChange};
use domain::order::PricedOrder;
use domain::status::{OrderStatus, Transition};
use serde_json::{Value, json};

use super::gateway::{Checkout, CheckoutLine, CheckoutRequest, CheckoutStatus, GatewayError};
use super::gateway::{Payment, PaymentStatus};
use super::webhook::{Event, EventKind};
use crate::db::payments::{CardMove, CardRow, CardState, NewCard};
use crate::hub::Hub;

/// Why a card order could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The processor did not answer: retry with the same Idempotency-Key.
    #[error("the payment provider is not reachable right now: {0}")]
    Unavailable(GatewayError),
    /// The processor refused the checkout.
    #[error("the payment provider refused the checkout: {0}")]
    Refused(GatewayError),
    /// This hub takes no card payments (no processor configured).
    #[error("card payments are not set up on this hub")]
    NotConfigured,
    /// The key was used for an order at another store.
    #[error("this Idempotency-Key was already used for an order at another store")]
    KeyReused,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

/// What the customer is shown on the payment page: one line per order line,
/// plus the tax when it is added on top; a single line for the total when
/// the lines do not add up to it (a discount).
pub fn checkout_lines(order: &PricedOrder) -> Vec<CheckoutLine> {
    let mut lines: Vec<CheckoutLine> = order
        .lines
        .iter()
        .map(|l| {
            let mods: Vec<&str> = l.modifiers.iter().map(|m| m.name.as_str()).collect();
            let name = if mods.is_empty() {
                l.name.clone()
            } else {
                format!("{} ({})", l.name, mods.join(", "))
            };
            CheckoutLine {
                name,
                unit_amount: l.unit_price,
                quantity: l.quantity,
            }
        })
        .collect();
    let sum: i64 = lines
        .iter()
        .map(|l| l.unit_amount * i64::from(l.quantity))
        .sum();
    let t = &order.totals;
    if t.tax > 0 && sum + t.tax == t.total {
        lines.push(CheckoutLine {
            name: "Tax".into(),
            unit_amount: t.tax,
            quantity: 1,
        });
    } else if sum != t.total {
        lines = vec![CheckoutLine {
            name: "Your order".into(),
            unit_amount: t.total,
            quantity: 1,
        }];
    }
    lines
}

/// A new card order of `customer` at `store_id`: the payment row, then its
/// checkout. A retry under the same key finds the same order (and the same
/// checkout: the processor answers the stored key with the first one).
pub async fn start(
    hub: &Arc<Hub>,
    store_id: &str,
    customer_id: &str,
    customer_email: Option<String>,
    key: &str,
    order: &PricedOrder,
) -> Result<CardRow, StartError> {
    let payments = hub.payments.as_ref().ok_or(StartError::NotConfigured)?;
    let now = hub.now_ms();
    let order_id = uuid::Uuid::now_v7().to_string();
    let pending = serde_json::to_value(order).map_err(|e| StartError::Internal(e.to_string()))?;
    let row = hub
        .db
        .card_begin(&NewCard {
            order_id: &order_id,
            store_id,
            customer_id,
            idempotency_key: key,
            pending: &pending,
            amount: order.totals.total,
            currency: order.totals.currency.code(),
            expires_at: now + payments.config.checkout_ttl_ms(),
            now,
        })
        .await?;
    if row.store_id != store_id {
        return Err(StartError::KeyReused);
    }
    if row.state != CardState::Creating {
        return Ok(row);
    }
    open_checkout(hub, row, customer_email).await
}

/// Asks the processor for the checkout of a `creating` payment (again, after a
/// crash: the same key gets the same checkout) and records it.
async fn open_checkout(
    hub: &Hub,
    row: CardRow,
    customer_email: Option<String>,
) -> Result<CardRow, StartError> {
    let payments = hub.payments.as_ref().ok_or(StartError::NotConfigured)?;
    let order: PricedOrder = serde_json::from_value(row.pending.clone())
        .map_err(|e| StartError::Internal(format!("pending order {}: {e}", row.order_id)))?;
    let req = CheckoutRequest {
        order_id: row.order_id.clone(),
        store_id: row.store_id.clone(),
        lines: checkout_lines(&order),
        amount: row.amount,
        currency: row.currency.to_lowercase(),
        customer_email,
        success_url: payments.config.return_url(&row.order_id, "paid"),
        cancel_url: payments.config.return_url(&row.order_id, "cancelled"),
        // The row's, every time: a creation asked again must send the same
        // parameters under its key (`PaymentsConfig::checkout_ttl`).
        expires_at: row.expires_at / 1000,
    };
    let checkout = payments
        .gateway
        .create_checkout(&req, &format!("checkout-{}", row.order_id))
        .await
        .map_err(|e| match e {
            GatewayError::Unavailable(_) => StartError::Unavailable(e),
            other => StartError::Refused(other),
        })?;
    let url = checkout.url.clone().unwrap_or_default();
    hub.db
        .card_move(
            &row.order_id,
            &[CardState::Creating],
            CardState::Open,
            &CardMove {
                checkout: Some((&checkout.id, &url)),
                ..Default::default()
            },
            hub.now_ms(),
        )
        .await?;
    let row = hub
        .db
        .card_by_order(&row.order_id)
        .await?
        .ok_or_else(|| StartError::Internal("the card payment vanished".into()))?;
    // Paid already (a retry after the customer paid): take it from here.
    if checkout.status == CheckoutStatus::Complete
        && let Some(p) = &checkout.payment_intent
    {
        return Ok(authorized(hub, row, p).await?);
    }
    Ok(row)
}

/// [`open_checkout`] for a checkout whose first request died (a crash, a
/// timeout): the same request again, the customer's email included, because
/// the processor answers a stored key with other parameters by refusing it
/// (`idempotency_error`) instead of with the first checkout.
async fn open_checkout_again(hub: &Hub, row: CardRow) -> Result<CardRow, StartError> {
    let email = hub.db.user_by_id(&row.customer_id).await?.map(|u| u.email);
    open_checkout(hub, row, email).await
}

/// The customer paid: records the authorisation, then places the order. Only
/// the caller that moves the payment to `authorized` places it (a webhook, the
/// worker and a customer's page may all notice the payment at once); a crash
/// in between leaves an authorised payment without an order, which the
/// worker places ([`step`]).
pub async fn authorized(hub: &Hub, row: CardRow, payment_id: &str) -> Result<CardRow, sqlx::Error> {
    if !matches!(row.state, CardState::Creating | CardState::Open) {
        return Ok(row);
    }
    let now = hub.now_ms();
    let accept_by = now
        + hub
            .payments
            .as_ref()
            .map(|p| p.config.accept_timeout_ms())
            .unwrap_or(0);
    let won = hub
        .db
        .card_move(
            &row.order_id,
            &[CardState::Creating, CardState::Open],
            CardState::Authorized,
            &CardMove {
                payment_id: Some(payment_id),
                accept_by: Some(accept_by),
                ..Default::default()
            },
            now,
        )
        .await?;
    if won {
        place(hub, &row, payment_id).await?;
    }
    Ok(hub.db.card_by_order(&row.order_id).await?.unwrap_or(row))
}

/// Places the order of an authorised card payment (once: a retry finds it by its key).
async fn place(hub: &Hub, row: &CardRow, payment_id: &str) -> Result<(), sqlx::Error> {
    let Ok(order_id) = uuid::Uuid::parse_str(&row.order_id) else {
        return Err(sqlx::Error::Decode(
            format!("card payment of a malformed order id {:?}", row.order_id).into(),
        ));
    };
    let order: PricedOrder = serde_json::from_value(row.pending.clone())
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let payment = json!({ "method": "card", "payment_id": payment_id });
    crate::online::place_order(
        hub,
        &row.store_id,
        &row.customer_id,
        &row.idempotency_key,
        order_id,
        &order,
        &payment,
    )
    .await?;
    Ok(())
}

/// Where the order of an authorised payment stands at the store.
enum StoreAnswer {
    /// Not accepted yet.
    Waiting,
    /// Accepted (or further: in preparation, ready, completed).
    Accepted,
    /// Cancelled, voided or refunded at the store.
    Cancelled,
}

fn store_answer(status: OrderStatus) -> StoreAnswer {
    match status {
        OrderStatus::Placed => StoreAnswer::Waiting,
        OrderStatus::Accepted
        | OrderStatus::InPreparation
        | OrderStatus::Ready
        | OrderStatus::Completed => StoreAnswer::Accepted,
        OrderStatus::Cancelled | OrderStatus::Voided | OrderStatus::Refunded => {
            StoreAnswer::Cancelled
        }
    }
}

/// Why a hold was released, in the customer's words.
const STORE_CANCELLED: &str = "The store cancelled the order.";
const NOT_ACCEPTED_IN_TIME: &str =
    "The store did not accept the order in time, so it was cancelled.";

/// Why a step did not finish (it is tried again on the next round).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Moves one payment on as far as it can go now. Safe to run any number of
/// times, concurrently and on several replicas.
pub async fn step(hub: &Hub, row: CardRow) -> Result<(), StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(());
    };
    let now = hub.now_ms();
    match row.state {
        CardState::Creating => {
            // The request that wrote it died before the checkout was recorded
            // (a crash, a timeout): ask again with the same key.
            if now - row.created_at >= payments.config.retry_after_ms() {
                if now >= row.expires_at {
                    expire(
                        hub,
                        &row,
                        "The payment page expired before the order was paid.",
                    )
                    .await?;
                } else if let Err(e) = open_checkout_again(hub, row).await {
                    tracing::warn!(error = %e, "could not open a checkout again");
                }
            }
        }
        CardState::Open => {
            if now >= row.expires_at {
                settle_open(hub, row).await?;
            }
        }
        CardState::Authorized => {
            let Some(payment_id) = row.payment_id.clone() else {
                return Ok(());
            };
            let Some(order) = hub
                .db
                .customer_order(&row.customer_id, &row.order_id)
                .await?
            else {
                // Authorised but not placed: a crash between the two (once the
                // one that authorised it has had time to place it itself).
                if now - row.updated_at >= payments.config.retry_after_ms() {
                    // The store's time to accept runs from now, when the order
                    // reaches it, not from the authorisation (set first: a crash
                    // before the order is placed only sets it again).
                    let accept_by = now + payments.config.accept_timeout_ms();
                    let extend = CardMove {
                        accept_by: Some(accept_by),
                        ..Default::default()
                    };
                    let to = CardState::Authorized;
                    hub.db
                        .card_move(&row.order_id, &[to], to, &extend, now)
                        .await?;
                    place(hub, &row, &payment_id).await?;
                }
                return Ok(());
            };
            match store_answer(order.view.status) {
                StoreAnswer::Accepted => capture(hub, &row, &payment_id).await?,
                StoreAnswer::Cancelled => {
                    release(hub, &row, &payment_id, STORE_CANCELLED).await?;
                }
                StoreAnswer::Waiting if row.accept_by.is_some_and(|t| now >= t) => {
                    // The order first: a released payment is final, so after a
                    // crash between the two nothing would cancel the order.
                    cancel_at_store(hub, &row).await?;
                    release(hub, &row, &payment_id, NOT_ACCEPTED_IN_TIME).await?;
                }
                StoreAnswer::Waiting => {}
            }
        }
        CardState::Captured | CardState::Cancelled | CardState::Expired => {}
    }
    Ok(())
}

/// An open checkout past its time: paid after all (a lost webhook), or expired.
async fn settle_open(hub: &Hub, row: CardRow) -> Result<(), StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(());
    };
    let Some(checkout_id) = row.checkout_id.clone() else {
        return Ok(());
    };
    let checkout = payments.gateway.checkout(&checkout_id).await?;
    match checkout.status {
        CheckoutStatus::Complete => {
            if let Some(p) = &checkout.payment_intent {
                authorized(hub, row, p).await?;
            }
        }
        CheckoutStatus::Open => {
            let expired = payments
                .gateway
                .expire_checkout(&checkout_id, &format!("expire-{}", row.order_id))
                .await;
            match expired {
                Ok(c) if c.status == CheckoutStatus::Complete => {
                    if let Some(p) = &c.payment_intent {
                        authorized(hub, row, p).await?;
                    }
                }
                Ok(_) => {
                    expire(
                        hub,
                        &row,
                        "The payment page expired before the order was paid.",
                    )
                    .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        CheckoutStatus::Expired => {
            expire(
                hub,
                &row,
                "The payment page expired before the order was paid.",
            )
            .await?;
        }
    }
    Ok(())
}

async fn expire(hub: &Hub, row: &CardRow, why: &str) -> Result<(), sqlx::Error> {
    let moved = hub
        .db
        .card_move(
            &row.order_id,
            &[CardState::Creating, CardState::Open],
            CardState::Expired,
            &CardMove {
                problem: Some(why),
                ..Default::default()
            },
            hub.now_ms(),
        )
        .await?;
    if moved {
        // A customer tracking the unpaid order hears that it expired.
        hub.online.publish(crate::db::online::OrderUpdate {
            store: row.store_id.clone(),
            order: row.order_id.clone(),
            status: "payment_expired".into(),
            rank: UNPLACED_EXPIRED_RANK,
        });
    }
    Ok(())
}

/// Where an unplaced card order stands among order statuses for its trackers:
/// below every status of a placed order, expiry above waiting for payment.
pub const UNPLACED_AWAITING_RANK: i64 = -2;
pub const UNPLACED_EXPIRED_RANK: i64 = -1;

async fn capture(hub: &Hub, row: &CardRow, payment_id: &str) -> Result<(), StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(());
    };
    let key = format!("capture-{}", row.order_id);
    let p = match payments.gateway.capture(payment_id, None, &key).await {
        Ok(p) => p,
        // Captured or cancelled already (by us, earlier, under a key the
        // processor no longer remembers): adopt what it says.
        Err(GatewayError::UnexpectedState(_)) => payments.gateway.payment(payment_id).await?,
        Err(e) => return Err(e.into()),
    };
    adopt(hub, row, &p).await?;
    Ok(())
}

async fn release(hub: &Hub, row: &CardRow, payment_id: &str, why: &str) -> Result<(), StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(());
    };
    let key = format!("cancel-{}", row.order_id);
    let p = match payments.gateway.cancel(payment_id, &key).await {
        Ok(p) => p,
        Err(GatewayError::UnexpectedState(_)) => payments.gateway.payment(payment_id).await?,
        Err(e) => return Err(e.into()),
    };
    if p.status == PaymentStatus::Cancelled {
        hub.db
            .card_move(
                &row.order_id,
                &[CardState::Authorized],
                CardState::Cancelled,
                &CardMove {
                    problem: Some(why),
                    ..Default::default()
                },
                hub.now_ms(),
            )
            .await?;
        tracing::info!(order = %row.order_id, why, "card hold released");
    } else {
        adopt(hub, row, &p).await?;
    }
    Ok(())
}

/// Records what the processor says of an authorised payment.
async fn adopt(hub: &Hub, row: &CardRow, p: &Payment) -> Result<(), sqlx::Error> {
    let now = hub.now_ms();
    match p.status {
        PaymentStatus::Captured => {
            let moved = hub
                .db
                .card_move(
                    &row.order_id,
                    &[CardState::Authorized],
                    CardState::Captured,
                    &CardMove {
                        captured: Some(p.captured),
                        charge_id: p.charge.as_deref(),
                        ..Default::default()
                    },
                    now,
                )
                .await?;
            if moved {
                tracing::info!(order = %row.order_id, amount = p.captured, "card payment captured");
            }
        }
        PaymentStatus::Cancelled => {
            // The processor's event may arrive before the release that caused
            // it is recorded: say why as the release would have.
            let why = match hub
                .db
                .customer_order(&row.customer_id, &row.order_id)
                .await?
                .map(|o| store_answer(o.view.status))
            {
                // Past the deadline the hub cancels the order itself, then releases.
                Some(StoreAnswer::Cancelled | StoreAnswer::Waiting)
                    if row.accept_by.is_some_and(|t| now >= t) =>
                {
                    NOT_ACCEPTED_IN_TIME
                }
                Some(StoreAnswer::Cancelled) => STORE_CANCELLED,
                _ => "The payment was cancelled.",
            };
            hub.db
                // Only a hold is released: a payment cancelled before it was
                // authorised (a checkout that expired after a decline) is the
                // checkout's expiry, which says so itself.
                .card_move(
                    &row.order_id,
                    &[CardState::Authorized],
                    CardState::Cancelled,
                    &CardMove {
                        problem: Some(why),
                        ..Default::default()
                    },
                    now,
                )
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The hub cancels an order the store never accepted, so the kitchen does not cook it unpaid.
async fn cancel_at_store(hub: &Hub, row: &CardRow) -> Result<(), sqlx::Error> {
    let Some(order) = hub
        .db
        .customer_order(&row.customer_id, &row.order_id)
        .await?
    else {
        return Ok(());
    };
    let mut view = order.view.clone();
    if view.status.apply(Transition::Cancel).is_err() {
        return Ok(());
    }
    view.status = OrderStatus::Cancelled;
    let now = hub.now_ms();
    view.updated_ms = Some(u64::try_from(now).unwrap_or(0));
    let mut detail = serde_json::Map::new();
    detail.insert("by".into(), Value::from("hub"));
    detail.insert(
        "reason".into(),
        Value::from("the store did not accept the order in time; the card payment was released"),
    );
    let fact = Fact::OrderChanged(OrderChange {
        transition: Some(Transition::Cancel),
        station_done: None,
        order: view,
        detail,
    });
    let (_, updates) = hub
        .db
        .append_hub_fact(
            &row.store_id,
            &row.order_id,
            &fact,
            now,
            &hub.online.replica,
        )
        .await?;
    for u in updates {
        hub.online.publish(u);
    }
    hub.wake(&row.store_id).await;
    Ok(())
}

/// Handles one verified webhook event. Idempotent: a replay, a duplicate or an
/// event out of order changes nothing that the state machine has passed.
pub async fn handle_event(hub: &Hub, event: &Event) -> Result<(), StepError> {
    match &event.kind {
        EventKind::CheckoutCompleted(c) => {
            if let (Some(row), Some(p)) = (row_of_checkout(hub, c).await?, &c.payment_intent) {
                authorized(hub, row, p).await?;
            }
        }
        EventKind::CheckoutExpired(c) => {
            if let Some(row) = row_of_checkout(hub, c).await? {
                expire(
                    hub,
                    &row,
                    "The payment page expired before the order was paid.",
                )
                .await?;
            }
        }
        EventKind::PaymentAuthorized(p) => {
            if let Some(row) = row_of_payment(hub, p).await?
                && matches!(row.state, CardState::Creating | CardState::Open)
            {
                authorized(hub, row, &p.id).await?;
            }
        }
        EventKind::PaymentCaptured(p) | EventKind::PaymentCancelled(p) => {
            if let Some(row) = row_of_payment(hub, p).await? {
                adopt(hub, &row, p).await?;
            }
        }
        EventKind::PaymentFailed { payment, message } => {
            if let Some(row) = row_of_payment(hub, payment).await?
                && matches!(row.state, CardState::Creating | CardState::Open)
            {
                // The processor's message is written for the card holder ("Your card has insufficient funds.").
                let why = message
                    .clone()
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| "The card was declined.".to_owned());
                hub.db
                    .card_problem(&row.order_id, &why, hub.now_ms())
                    .await?;
            }
        }
        EventKind::ChargeRefunded {
            payment,
            amount_refunded,
            order_id,
            ..
        } => {
            let row = match payment {
                Some(p) => hub.db.card_by_payment(p).await?,
                None => None,
            };
            let order = row.map(|r| r.order_id).or_else(|| order_id.clone());
            if let Some(order) = order {
                super::refunds::refunded_at_processor(hub, &order, *amount_refunded).await?;
            }
        }
        EventKind::Other(_) => {}
    }
    // Whatever changed, the worker may have a next step to take.
    if let Some(p) = hub.payments.as_ref() {
        p.wake.notify_one();
    }
    Ok(())
}

async fn row_of_checkout(hub: &Hub, c: &Checkout) -> Result<Option<CardRow>, sqlx::Error> {
    if let Some(row) = hub.db.card_by_checkout(&c.id).await? {
        return Ok(Some(row));
    }
    // The checkout's creation was never recorded (a crash): its metadata names the order.
    match &c.order_id {
        Some(o) => hub.db.card_by_order(o).await,
        None => Ok(None),
    }
}

async fn row_of_payment(hub: &Hub, p: &Payment) -> Result<Option<CardRow>, sqlx::Error> {
    if let Some(row) = hub.db.card_by_payment(&p.id).await? {
        return Ok(Some(row));
    }
    match &p.order_id {
        Some(o) => hub.db.card_by_order(o).await,
        None => Ok(None),
    }
}

/// What a restarted hub does first with a payment in progress: a checkout whose
/// creation was not recorded is asked for again (same key, same checkout); an
/// open one is read, in case it was paid while no webhook could arrive.
pub async fn recover(hub: &Hub, row: CardRow) -> Result<(), StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(());
    };
    match row.state {
        CardState::Creating if hub.now_ms() < row.expires_at => {
            if let Err(e) = open_checkout_again(hub, row).await {
                tracing::warn!(error = %e, "could not open a checkout again");
            }
        }
        CardState::Open => {
            if let Some(id) = row.checkout_id.clone() {
                let c = payments.gateway.checkout(&id).await?;
                if c.status == CheckoutStatus::Complete
                    && let Some(p) = &c.payment_intent
                {
                    authorized(hub, row, p).await?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A card payment as the processor holds it now, when it may have moved
/// without the hub hearing of it yet (the customer is back from the payment
/// page before the webhook): an open checkout that was paid is taken as paid.
pub async fn refresh(hub: &Hub, row: CardRow) -> Result<CardRow, StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(row);
    };
    if row.state != CardState::Open {
        return Ok(row);
    }
    let Some(id) = row.checkout_id.clone() else {
        return Ok(row);
    };
    let c = payments.gateway.checkout(&id).await?;
    match (c.status, &c.payment_intent) {
        (CheckoutStatus::Complete, Some(p)) => Ok(authorized(hub, row, p).await?),
        (CheckoutStatus::Expired, _) => {
            expire(
                hub,
                &row,
                "The payment page expired before the order was paid.",
            )
            .await?;
            Ok(hub.db.card_by_order(&row.order_id).await?.unwrap_or(row))
        }
        _ => Ok(row),
    }
}
