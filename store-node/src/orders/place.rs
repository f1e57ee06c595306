//! Placing an order: priced against the menu by the domain rules, numbered
//! with this node's ticket letter, stored with its kitchen tickets and its
//! `order.created` event.

use domain::clock::Millis;
use domain::fact::{Fact, OrderFact};
use domain::menu::Menu;
use domain::order::{OrderDraft, PricedOrder, price_order};
use domain::status::OrderStatus;
use domain::ticket::TicketNumber;

use super::view::append_fact;
use super::{OrderView, OrdersError};
use crate::db::WriteCtx;

/// What `draft` would cost now; nothing is stored. A discount is priced but not approved.
pub fn quote(menu: &Menu, draft: &OrderDraft) -> Result<PricedOrder, OrdersError> {
    Ok(price_order(menu, draft)?)
}

/// Prices `draft` against `menu` and places it, in the caller's transaction.
/// `discount_approved_by` is who approved its discount, when it has one.
pub fn place_draft(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    draft: &OrderDraft,
    discount_approved_by: Option<String>,
    created_by: Option<String>,
    prefix: char,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let mut priced = price_order(menu, draft)?;
    if let Some(d) = priced.discount.as_mut() {
        d.approved_by = discount_approved_by;
    }
    place(ctx, priced, created_by, prefix, now)
}

/// Records a priced order: ticket number (with this node's `prefix`), read model row, kitchen
/// tickets and `order.created` event, in the caller's transaction. Returns the order's view.
pub fn place(
    ctx: &mut WriteCtx<'_>,
    order: PricedOrder,
    created_by: Option<String>,
    prefix: char,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    let now = now.as_u64();
    let seq = ctx.next_counter(&format!("ticket:{prefix}"))?;
    let view = OrderView {
        id: uuid::Uuid::now_v7(),
        ticket: TicketNumber::nth(prefix, seq).to_string(),
        status: OrderStatus::Placed,
        order,
        created_ms: now,
        updated_ms: now,
        created_by,
        paid: 0,
        refunded: 0,
        stations_done: vec![],
    };
    let snapshot = serde_json::to_string(&view.order)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO orders (id, ticket, channel, fulfillment, status, total, created_ms, updated_ms, created_by, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(rusqlite::params![
            view.id.to_string(),
            view.ticket,
            view.order.channel.as_str(),
            fulfillment(&view),
            view.status.as_str(),
            view.order.totals.total,
            now as i64,
            now as i64,
            view.created_by,
            snapshot
        ])?;
    crate::printing::enqueue_kitchen(ctx, &view)?;
    let fact = Fact::OrderCreated(OrderFact {
        order: view.to_fact()?,
        detail: serde_json::Map::new(),
    });
    append_fact(ctx, &view.id.to_string(), &fact)?;
    Ok(serde_json::to_value(&view)?)
}

/// The `fulfillment` column: the fulfillment's name as it serializes.
pub(super) fn fulfillment(view: &OrderView) -> Option<String> {
    serde_json::to_value(view.order.fulfillment)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}
