//! An order's lifecycle after it is placed: transitions (status only moves
//! forward, `OrderStatus::apply`), the refunds that ending a paid order
//! gives, and kitchen stations finishing their part.

use domain::clock::Millis;
use std::collections::{BTreeSet, HashSet};

use domain::Ident;
use domain::fact::{Fact, OrderChange, OrderFact, RefundRequest};
use domain::order::Channel;
use domain::payment::PaymentMethod;
use domain::status::Transition;
use serde_json::json;

use super::online_refunds;
use super::view::{append_fact, detail, method_str};
use super::{OrdersError, PaymentView, RefundView, load, payments_of};
use crate::db::WriteCtx;
use crate::printing::Letterhead;

/// What giving back a cancelled, voided or refunded order's payments needs.
pub struct Refund {
    /// The manager who approved it (the caller, or the `X-Manager-Approval` session); `None`
    /// when nobody who may refund did, so only an order with nothing paid may end.
    pub approved_by: Option<String>,
    /// For the receipt that goes with the cash.
    pub head: Letterhead,
}

/// Applies transition `t` to order `id` in the caller's transaction; with `refund`, gives back
/// what the order had paid (cancel, void, refund). Returns the order's view.
pub fn transition(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    t: Transition,
    by: &str,
    reason: Option<String>,
    refund: Option<Refund>,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let json = apply_transition(ctx, id, t, by, reason.clone(), now)?;
    match refund {
        Some(r) => refund_payments(ctx, id, by, r, reason, now),
        None => Ok(json),
    }
}

/// Validates and records one transition, in the caller's transaction.
fn apply_transition(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    t: Transition,
    by: &str,
    reason: Option<String>,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let now = now.as_u64();
    let mut view = load(ctx.conn, id)?.ok_or(OrdersError::NotFound)?;
    let from = view.status;
    let to = from.apply(t)?;
    let now = now.max(view.updated_ms);
    ctx.conn
        .prepare_cached("UPDATE orders SET status = ?1, updated_ms = ?2 WHERE id = ?3")?
        .execute(rusqlite::params![to.as_str(), now as i64, id])?;
    view.status = to;
    view.updated_ms = now;
    let fact = Fact::OrderChanged(OrderChange {
        transition: Some(t),
        station_done: None,
        order: view.to_fact()?,
        detail: detail([
            ("from", json!(from)),
            ("to", json!(to)),
            ("by", json!(by)),
            ("reason", json!(reason)),
        ]),
    });
    append_fact(ctx, id, &fact)?;
    Ok(serde_json::to_value(&view)?)
}

/// Gives back what an order that has just been cancelled, voided or refunded had paid, in the caller's
/// transaction: one refund per payment, so each tender is returned the way it came (a
/// `payment.refunded` event each: cash from the drawer, which opens with a receipt; card to be
/// refunded at the terminal). The day's payments less its refunds is then what the drawer and
/// the card batch hold. [`OrdersError::RefundNeedsApproval`] when money is due back and no manager
/// approved. Returns the order.
fn refund_payments(
    ctx: &mut WriteCtx<'_>,
    order_id: &str,
    by: &str,
    refund: Refund,
    reason: Option<String>,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let at = now;
    let now = now.as_u64();
    let mut view = load(ctx.conn, order_id)?.ok_or(OrdersError::NotFound)?;
    let payments = payments_of(ctx.conn, order_id)?;
    let given_back: HashSet<String> = ctx
        .conn
        .prepare_cached("SELECT payment_id FROM refunds WHERE order_id = ?1")?
        .query_map([order_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let due: Vec<&PaymentView> = payments
        .iter()
        .filter(|p| p.amount > 0 && !given_back.contains(&p.id.to_string()))
        .collect();
    // An online order paid by card: the hub holds the payment and is asked for it back.
    let online_due = view.order.channel == Channel::Online && view.paid > view.refunded;
    if due.is_empty() && !online_due {
        return Ok(serde_json::to_value(&view)?);
    }
    let approved_by = refund.approved_by.ok_or(OrdersError::RefundNeedsApproval)?;
    if online_due {
        let ask = online_refunds::Ask {
            id: RefundRequest::on_cancel_id(order_id),
            amount: None,
            reason: reason.or_else(|| Some("The order was cancelled at the store.".to_owned())),
            by: by.to_owned(),
            approved_by: Some(approved_by.clone()),
        };
        match online_refunds::request(ctx, order_id, ask, at) {
            // Asked for already, in full: nothing more to ask.
            Ok(_) | Err(OrdersError::RefundExceedsPaid { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let mut cash = false;
    for p in due {
        let now = now.max(view.updated_ms);
        let r = RefundView {
            id: uuid::Uuid::now_v7(),
            order_id: view.id,
            payment_id: p.id,
            method: p.method,
            amount: p.amount,
            reference: p.reference.clone(),
            created_ms: now,
            created_by: Some(by.to_owned()),
            approved_by: approved_by.clone(),
        };
        ctx.conn
            .prepare_cached(
                "INSERT INTO refunds (id, order_id, payment_id, method, amount, reference, created_ms, created_by, approved_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(rusqlite::params![
                r.id.to_string(),
                order_id,
                p.id.to_string(),
                method_str(p.method),
                r.amount,
                r.reference,
                now as i64,
                r.created_by,
                r.approved_by
            ])?;
        cash |= p.method == PaymentMethod::Cash;
        view.refunded += r.amount;
        view.updated_ms = now;
        ctx.conn
            .prepare_cached("UPDATE orders SET refunded = ?1, updated_ms = ?2 WHERE id = ?3")?
            .execute(rusqlite::params![view.refunded, now as i64, order_id])?;
        let fact = Fact::PaymentRefunded(OrderFact {
            order: view.to_fact()?,
            detail: detail([("refund", serde_json::to_value(&r)?)]),
        });
        append_fact(ctx, order_id, &fact)?;
    }
    if cash {
        // The drawer opens for the cash to go back, with a receipt showing the order's end.
        crate::printing::enqueue_receipt(ctx, &refund.head, &view, &payments, true)?;
    }
    Ok(serde_json::to_value(&view)?)
}

/// Records that `station` finished its part of order `id`; the order becomes
/// ready when every station is done. Bumping a station twice changes nothing.
/// In the caller's transaction; returns the order's view.
pub fn mark_station_done(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    station: &Ident,
    by: &str,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let at = now;
    let now = now.as_u64();
    let mut view = load(ctx.conn, id)?.ok_or(OrdersError::NotFound)?;
    let stations: BTreeSet<&Ident> = view.order.lines.iter().map(|l| &l.station).collect();
    if !stations.contains(station) {
        return Err(OrdersError::UnknownStation(station.clone()));
    }
    if view.stations_done.contains(station) || !view.status.is_open() {
        return Ok(serde_json::to_value(&view)?);
    }
    view.stations_done.push(station.clone());
    let all_done = stations.iter().all(|s| view.stations_done.contains(s));
    let now = now.max(view.updated_ms);
    ctx.conn.execute(
        "UPDATE orders SET stations_done = ?1, updated_ms = ?2 WHERE id = ?3",
        rusqlite::params![serde_json::to_string(&view.stations_done)?, now as i64, id],
    )?;
    view.updated_ms = now;
    let fact = Fact::OrderChanged(OrderChange {
        transition: None,
        station_done: Some(station.clone()),
        order: view.to_fact()?,
        detail: detail([("by", json!(by))]),
    });
    append_fact(ctx, id, &fact)?;
    let json = serde_json::to_value(&view)?;
    if all_done && view.status.apply(Transition::Ready).is_ok() {
        return apply_transition(ctx, id, Transition::Ready, by, None, at);
    }
    Ok(json)
}
