//! Giving back card payments of web orders, and telling the store's node.
//!
//! A refund is asked for by a manager at the hub ([`by_merchant`]), by a manager
//! at the store's till (a `refund.requested` fact that sync brings, however
//! late: the node may have been offline), or by the store ending a captured
//! order (the node's request, or the hub noticing the order ended: one refund
//! either way, id `{order}-cancel`). Each is written and its amount held
//! against the capture before the processor is asked (`db::refunds`), so no
//! two refunds of an order add up to more than was captured; the processor is
//! asked under the key `refund-{id}`, so a crash and a retry refund once.
//!
//! The outcome goes into the store's log, where the node hears it: a
//! `payment.refunded` fact (the order's `refunded` rises; its `refund.id` is
//! the request's) or `refund.declined` with the reason. The capture itself is
//! recorded the same way (`payment.recorded`, the order is paid), so the till
//! never asks a customer who paid online to pay again.

use domain::fact::{Fact, OrderFact, RefundDeclined, RefundRequest};
use serde_json::{Map, Value, json};

use super::gateway::GatewayError;
use crate::db::refunds::{Hold, NewRefund, RefundRow, RefundSource, RefundState, Refusal};
use crate::hub::Hub;

/// Why a merchant's refund was not made.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("{}", .0.message())]
    Refused(Refusal),
    #[error("no such order at this store")]
    NotFound,
    #[error("card payments are not set up on this hub")]
    NotConfigured,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A manager's refund from the hub: held, then asked of the processor at once.
/// When the processor does not answer it stays `pending` and the worker asks
/// again (same key); the answer says where it stands. A retry under the same
/// `key` returns the same refund.
pub async fn by_merchant(
    hub: &Hub,
    store_id: &str,
    order_id: &str,
    amount: Option<i64>,
    reason: Option<&str>,
    by: &str,
    key: &str,
) -> Result<RefundRow, RefundError> {
    if hub.payments.is_none() {
        return Err(RefundError::NotConfigured);
    }
    if hub.db.store_order(store_id, order_id).await?.is_none() {
        return Err(RefundError::NotFound);
    }
    let id = uuid::Uuid::now_v7().to_string();
    let hold = hub
        .db
        .refund_hold(&NewRefund {
            id: &id,
            order_id,
            store_id,
            amount,
            reason,
            requested_by: by,
            source: RefundSource::Hub,
            idempotency_key: Some(key),
            now: hub.now_ms(),
        })
        .await?;
    let row = match hold {
        Hold::Held(row) => row,
        Hold::Existing(row) => return Ok(row),
        Hold::Refused(r) => return Err(RefundError::Refused(r)),
    };
    carry_out(hub, row.clone()).await;
    Ok(hub.db.refund_by_id(&row.id).await?.unwrap_or(row))
}

/// One pass of the worker over refunds: requests from nodes checked, held
/// refunds asked of the processor, outcomes and captures recorded in the
/// stores' logs, and captured orders the store has ended refunded.
pub async fn round(hub: &Hub) {
    if let Err(e) = refund_ended_orders(hub).await {
        tracing::warn!(error = %e, "could not look for ended orders to refund");
    }
    match hub.db.refunds_in_progress().await {
        Ok(rows) => {
            for row in rows {
                carry_out(hub, row).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the refunds in progress"),
    }
    if let Err(e) = record_captures(hub).await {
        tracing::warn!(error = %e, "could not record captures in the stores' logs");
    }
}

/// Moves one refund on as far as it goes now; failures are logged and tried again next round.
async fn carry_out(hub: &Hub, row: RefundRow) {
    let id = row.id.clone();
    if let Err(e) = step(hub, row).await {
        tracing::warn!(refund = %id, error = %e, "a refund step failed; it is tried again");
    }
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

async fn step(hub: &Hub, mut row: RefundRow) -> Result<(), StepError> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok(());
    };
    if row.state == RefundState::Requested {
        match hub.db.refund_check(&row.id, hub.now_ms()).await? {
            Some(Ok(held)) => row = held,
            Some(Err(refusal)) => {
                tracing::info!(refund = %row.id, order = %row.order_id, why = %refusal.message(), "refund request declined");
                row = reread(hub, row).await?;
            }
            None => row = reread(hub, row).await?,
        }
    }
    if row.state == RefundState::Pending {
        let card = hub.db.card_by_order(&row.order_id).await?;
        let (Some(payment_id), Some(amount)) = (card.and_then(|c| c.payment_id), row.amount) else {
            return Ok(());
        };
        let key = format!("refund-{}", row.id);
        match payments
            .gateway
            .refund(&payment_id, amount, &row.id, &key)
            .await
        {
            Ok(r) if r.status == "failed" || r.status == "canceled" => {
                let why = format!("The payment processor did not give it back ({}).", r.status);
                hub.db.refund_declined(&row.id, &why, hub.now_ms()).await?;
            }
            Ok(r) => {
                if hub
                    .db
                    .refund_succeeded(&row.id, &r.id, hub.now_ms())
                    .await?
                {
                    tracing::info!(refund = %row.id, order = %row.order_id, amount, "card refund made");
                }
            }
            Err(GatewayError::Unavailable(e)) => {
                tracing::warn!(refund = %row.id, error = %e, "the processor did not answer a refund; asked again later");
                return Ok(());
            }
            Err(e) => {
                let why = format!("The payment processor refused the refund: {e}");
                hub.db.refund_declined(&row.id, &why, hub.now_ms()).await?;
            }
        }
        row = reread(hub, row).await?;
    }
    if !row.recorded && matches!(row.state, RefundState::Succeeded | RefundState::Declined) {
        record(hub, &row).await?;
    }
    Ok(())
}

async fn reread(hub: &Hub, row: RefundRow) -> Result<RefundRow, sqlx::Error> {
    Ok(hub.db.refund_by_id(&row.id).await?.unwrap_or(row))
}

/// Puts a refund's outcome in the store's log: `payment.refunded` with the
/// order's new `refunded`, or `refund.declined`. Twice is harmless (the
/// order's `refunded` is the total, and only rises).
async fn record(hub: &Hub, row: &RefundRow) -> Result<(), sqlx::Error> {
    let now = hub.now_ms();
    let at_ms = u64::try_from(now).unwrap_or(0);
    let fact = match row.state {
        RefundState::Succeeded => {
            let Some(card) = hub.db.card_by_order(&row.order_id).await? else {
                return Ok(());
            };
            let Some(order) = hub.db.store_order(&row.store_id, &row.order_id).await? else {
                return Ok(());
            };
            let mut view = order.view;
            view.refunded = Some(view.refunded.unwrap_or(0).max(card.refunded));
            view.updated_ms = Some(view.updated_ms.unwrap_or(0).max(at_ms));
            let refund = json!({
                "id": row.id,
                "order_id": row.order_id,
                "method": "card",
                "online": true,
                "amount": row.amount,
                "reference": row.processor_ref,
                "reason": row.reason,
                "created_ms": at_ms,
                "created_by": row.requested_by,
            });
            Fact::PaymentRefunded(OrderFact {
                order: view,
                detail: Map::from_iter([("refund".to_owned(), refund)]),
            })
        }
        RefundState::Declined => Fact::RefundDeclined(RefundDeclined {
            id: row.id.clone(),
            order_id: row.order_id.clone(),
            reason: row
                .problem
                .clone()
                .unwrap_or_else(|| "The refund was declined.".to_owned()),
            at_ms,
        }),
        RefundState::Requested | RefundState::Pending => return Ok(()),
    };
    append(hub, &row.store_id, &row.order_id, &fact).await?;
    hub.db.refund_recorded(&row.id).await
}

/// Appends a hub fact about an order to its store's log and tells the store's connections.
async fn append(hub: &Hub, store_id: &str, order_id: &str, fact: &Fact) -> Result<(), sqlx::Error> {
    let (_, updates) = hub
        .db
        .append_hub_fact(store_id, order_id, fact, hub.now_ms(), &hub.online.replica)
        .await?;
    for u in updates {
        hub.online.publish(u);
    }
    hub.wake(store_id).await;
    Ok(())
}

/// Records each capture not yet in its store's log as a `payment.recorded` fact: the order is paid.
async fn record_captures(hub: &Hub) -> Result<(), sqlx::Error> {
    for (order_id, store_id, _customer) in hub.db.captures_unrecorded().await? {
        let (Some(card), Some(order)) = (
            hub.db.card_by_order(&order_id).await?,
            hub.db.store_order(&store_id, &order_id).await?,
        ) else {
            continue;
        };
        let at_ms = u64::try_from(hub.now_ms()).unwrap_or(0);
        let mut view = order.view;
        view.paid = Some(view.paid.unwrap_or(0).max(card.captured));
        view.updated_ms = Some(view.updated_ms.unwrap_or(0).max(at_ms));
        let payment = json!({
            "id": card.payment_id,
            "order_id": order_id,
            "method": "card",
            "amount": card.captured,
            "reference": card.charge_id,
            "online": true,
            "created_ms": card.captured_at.unwrap_or(card.updated_at),
            "created_by": Value::Null,
        });
        let fact = Fact::PaymentRecorded(OrderFact {
            order: view,
            detail: Map::from_iter([("payment".to_owned(), payment)]),
        });
        append(hub, &store_id, &order_id, &fact).await?;
        hub.db.capture_recorded(&order_id).await?;
    }
    Ok(())
}

/// A captured order the store has since cancelled, voided or refunded gives
/// everything that remains back (the node that ended it asks the same, under
/// the same id: whichever comes first makes the one refund).
async fn refund_ended_orders(hub: &Hub) -> Result<(), sqlx::Error> {
    for (order_id, store_id) in hub.db.captured_but_ended().await? {
        let id = RefundRequest::on_cancel_id(&order_id);
        let hold = hub
            .db
            .refund_hold(&NewRefund {
                id: &id,
                order_id: &order_id,
                store_id: &store_id,
                amount: None,
                reason: Some("The store cancelled the order."),
                requested_by: "store",
                source: RefundSource::StoreCancel,
                idempotency_key: None,
                now: hub.now_ms(),
            })
            .await?;
        if let Hold::Held(row) = hold {
            carry_out(hub, row).await;
        }
    }
    Ok(())
}

/// The processor says `total` of an order's charge was refunded (`charge.refunded`):
/// what is more than every refund we made or hold was made outside us, and is recorded.
pub async fn refunded_at_processor(
    hub: &Hub,
    order_id: &str,
    total: i64,
) -> Result<(), sqlx::Error> {
    if let Some(row) = hub.db.refund_outside(order_id, total, hub.now_ms()).await? {
        tracing::info!(order = %order_id, amount = ?row.amount, "a refund made at the processor was recorded");
        record(hub, &row).await?;
    }
    Ok(())
}
