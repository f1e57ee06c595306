//! Refunds of online orders' card payments, asked for at the till.
//!
//! The hub holds an online order's card payment, so the node cannot give it
//! back itself: it records a `refund.requested` fact, which sync carries to the
//! hub whenever the node is connected (at once, or after an outage). The hub
//! checks it (never more than was captured), makes it, and answers with
//! `payment.refunded` (the order's `refunded` rises; `refund.id` is the
//! request's) or `refund.declined`; [`project_answer`] shows that here.
//! Ending a paid online order (cancel, void, refund) asks for everything that
//! remains under [`RefundRequest::on_cancel_id`], the id the hub uses when it
//! notices the order ended, so the two are one refund.

use domain::clock::Millis;
use domain::fact::{Fact, RefundRequest};
use domain::order::Channel;
use rusqlite::OptionalExtension;

use super::view::append_fact;
use super::{OrdersError, load};
use crate::db::WriteCtx;
pub use api_types::node::orders::{OnlineRefundStatus, OnlineRefundView};

/// A refund to ask the hub for.
pub struct Ask {
    /// The request's id (a new UUID, or the on-cancel id).
    pub id: String,
    /// `None`: everything not given back yet.
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub by: String,
    pub approved_by: Option<String>,
}

/// What of an online order's payment may still be asked back: paid, less given
/// back, less what open requests ask (one asking for "everything" leaves nothing).
fn remaining(
    ctx: &WriteCtx<'_>,
    order_id: &str,
    paid: i64,
    refunded: i64,
) -> Result<i64, OrdersError> {
    let (asked, all): (i64, i64) = ctx.conn.query_row(
        "SELECT COALESCE(SUM(amount), 0), COUNT(*) - COUNT(amount) FROM online_refunds
         WHERE order_id = ?1 AND state = 'asked'",
        [order_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(if all > 0 { 0 } else { paid - refunded - asked })
}

/// Records a request to give back (part of) online order `order_id`'s card
/// payment, in the caller's transaction, and its `refund.requested` fact. An
/// id asked for already answers as it stands.
pub fn request(
    ctx: &mut WriteCtx<'_>,
    order_id: &str,
    ask: Ask,
    now: Millis,
) -> Result<OnlineRefundView, OrdersError> {
    if let Some(existing) = find(ctx.conn, &ask.id)? {
        return Ok(existing);
    }
    let view = load(ctx.conn, order_id)?.ok_or(OrdersError::NotFound)?;
    if view.order.channel != Channel::Online || view.paid <= 0 {
        return Err(OrdersError::NotPaidOnline);
    }
    let left = remaining(ctx, order_id, view.paid, view.refunded)?;
    let fits = match ask.amount {
        Some(a) => a > 0 && a <= left,
        None => left > 0,
    };
    if !fits {
        return Err(OrdersError::RefundExceedsPaid {
            remaining: left.max(0),
        });
    }
    let at_ms = now.as_u64();
    ctx.conn
        .prepare_cached(
            "INSERT INTO online_refunds (id, order_id, amount, reason, requested_by, approved_by, state, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'asked', ?7, ?7)",
        )?
        .execute(rusqlite::params![
            ask.id,
            order_id,
            ask.amount,
            ask.reason,
            ask.by,
            ask.approved_by,
            at_ms as i64
        ])?;
    let fact = Fact::RefundRequested(RefundRequest {
        id: ask.id.clone(),
        order_id: order_id.to_owned(),
        amount: ask.amount,
        reason: ask.reason,
        by: ask.by,
        approved_by: ask.approved_by,
        at_ms,
    });
    append_fact(ctx, order_id, &fact)?;
    find(ctx.conn, &ask.id)?.ok_or(OrdersError::NotFound)
}

const SELECT: &str = "SELECT id, order_id, amount, refunded, reason, requested_by, approved_by, state, problem, created_ms, updated_ms FROM online_refunds";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<(OnlineRefundView, String)> {
    let state: String = r.get("state")?;
    let order_id: String = r.get("order_id")?;
    let view = OnlineRefundView {
        id: r.get("id")?,
        order_id: uuid::Uuid::nil(),
        amount: r.get("amount")?,
        refunded: r.get("refunded")?,
        reason: r.get("reason")?,
        status: match state.as_str() {
            "refunded" => OnlineRefundStatus::Refunded,
            "declined" => OnlineRefundStatus::Declined,
            _ => OnlineRefundStatus::Asked,
        },
        requested_by: r.get("requested_by")?,
        approved_by: r.get("approved_by")?,
        problem: r.get("problem")?,
        created_ms: r.get::<_, i64>("created_ms")? as u64,
        updated_ms: r.get::<_, i64>("updated_ms")? as u64,
    };
    Ok((view, order_id))
}

fn checked(
    (mut view, order_id): (OnlineRefundView, String),
) -> Result<OnlineRefundView, OrdersError> {
    view.order_id = order_id.parse().map_err(|e| {
        super::CorruptRecord::new(
            "online_refunds",
            &view.id,
            format!("order id is not a UUID: {e}"),
        )
    })?;
    Ok(view)
}

fn find(conn: &rusqlite::Connection, id: &str) -> Result<Option<OnlineRefundView>, OrdersError> {
    conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], read)
        .optional()?
        .map(checked)
        .transpose()
}

/// An order's online refunds, oldest first.
pub fn of_order(
    conn: &rusqlite::Connection,
    order_id: &str,
) -> Result<Vec<OnlineRefundView>, OrdersError> {
    let rows = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE order_id = ?1 ORDER BY created_ms, id"
        ))?
        .query_map([order_id], read)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(checked).collect()
}

/// The hub's answer to a refund, received through sync (after the order's own
/// projection): a card refund it made (`payment.refunded` marked `online`:
/// this node's request, or one a merchant made at the hub, shown too) or a
/// declined request.
pub fn project_answer(ctx: &WriteCtx<'_>, fact: &Fact) -> Result<(), OrdersError> {
    match fact {
        Fact::PaymentRefunded(f) => {
            let Some(refund) = f.detail.get("refund") else {
                return Ok(());
            };
            if refund.get("online").and_then(|v| v.as_bool()) != Some(true) {
                return Ok(());
            }
            let (Some(id), Some(amount)) = (
                refund.get("id").and_then(|v| v.as_str()),
                refund.get("amount").and_then(|v| v.as_i64()),
            ) else {
                return Ok(());
            };
            let at = refund
                .get("created_ms")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            let by = refund
                .get("created_by")
                .and_then(|v| v.as_str())
                .unwrap_or("hub");
            let reason = refund.get("reason").and_then(|v| v.as_str());
            ctx.conn.execute(
                "INSERT INTO online_refunds (id, order_id, amount, refunded, reason, requested_by, state, created_ms, updated_ms)
                 SELECT ?1, ?2, ?3, ?3, ?4, ?5, 'refunded', ?6, ?6 WHERE EXISTS (SELECT 1 FROM orders WHERE id = ?2)
                 ON CONFLICT (id) DO UPDATE SET state = 'refunded', refunded = excluded.refunded,
                     problem = NULL, updated_ms = excluded.updated_ms",
                rusqlite::params![id, f.order.id, amount, reason, by, at],
            )?;
        }
        Fact::RefundDeclined(d) => {
            ctx.conn.execute(
                "UPDATE online_refunds SET state = 'declined', problem = ?1, updated_ms = ?2
                 WHERE id = ?3 AND state = 'asked'",
                rusqlite::params![d.reason, d.at_ms as i64, d.id],
            )?;
        }
        _ => {}
    }
    Ok(())
}
