//! Recording a payment: cash at the counter and an approved card payment take
//! one path (the payment row, the order's amount paid, the receipt and the
//! `payment.recorded` event); they differ only in what the tender brings.

use domain::clock::Millis;
use domain::fact::{Fact, OrderFact};
use domain::payment::{PaymentMethod, settle_cash};

use super::view::{append_fact, detail, method_str};
use super::{OrdersError, PaymentResult, PaymentView, load, payments_of};
use crate::db::WriteCtx;
use crate::printing::Letterhead;

/// What the customer paid with.
#[derive(Debug, Clone)]
pub enum Tender {
    /// Cash handed over, minor units: settles the balance due, with change.
    /// A closed order, nothing due or too little are refused.
    Cash { tendered: i64 },
    /// A payment the card terminal approved: recorded as approved (the card is
    /// charged already), with the terminal's reference.
    Card { amount: i64, reference: String },
}

/// Records a payment of order `order_id` with its receipt (and, for cash, the drawer kick),
/// in the caller's transaction. Returns the payment and the order after it.
pub fn record_payment(
    ctx: &mut WriteCtx<'_>,
    head: &Letterhead,
    order_id: &str,
    tender: Tender,
    by: &str,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let now = now.as_u64();
    let mut view = load(ctx.conn, order_id)?.ok_or(OrdersError::NotFound)?;
    let payment = PaymentView {
        id: uuid::Uuid::now_v7(),
        order_id: view.id,
        method: PaymentMethod::Cash,
        amount: 0,
        tendered: 0,
        change: 0,
        created_ms: now,
        created_by: Some(by.to_owned()),
        reference: None,
    };
    let payment = match tender {
        Tender::Cash { tendered } => {
            if view.status.is_terminal() {
                return Err(OrdersError::Closed(view.status));
            }
            let s = settle_cash(view.order.totals.total - view.paid, tendered)?;
            PaymentView {
                amount: s.amount,
                tendered: s.tendered,
                change: s.change,
                ..payment
            }
        }
        Tender::Card { amount, reference } => PaymentView {
            method: PaymentMethod::Card,
            amount,
            tendered: amount,
            reference: Some(reference),
            ..payment
        },
    };
    ctx.conn.execute(
        "INSERT INTO payments (id, order_id, method, amount, tendered, change, created_ms, created_by, reference)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            payment.id.to_string(),
            order_id,
            method_str(payment.method),
            payment.amount,
            payment.tendered,
            payment.change,
            now as i64,
            payment.created_by,
            payment.reference
        ],
    )?;
    view.paid += payment.amount;
    view.updated_ms = now.max(view.updated_ms);
    ctx.conn.execute(
        "UPDATE orders SET paid = ?1, updated_ms = ?2 WHERE id = ?3",
        rusqlite::params![view.paid, view.updated_ms as i64, order_id],
    )?;
    // The receipt prints once this commits; for cash the drawer opens first.
    let payments = payments_of(ctx.conn, order_id)?;
    let cash = payment.method == PaymentMethod::Cash;
    crate::printing::enqueue_receipt(ctx, head, &view, &payments, cash)?;
    let fact = Fact::PaymentRecorded(OrderFact {
        order: view.to_fact()?,
        detail: detail([("payment", serde_json::to_value(&payment)?)]),
    });
    append_fact(ctx, order_id, &fact)?;
    Ok(serde_json::to_value(&PaymentResult {
        payment,
        order: view,
    })?)
}
