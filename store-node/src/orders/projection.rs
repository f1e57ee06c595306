//! Orders made by another replica (the hub's web orders, the store's other
//! nodes), received through sync, projected into this node's read model.
//!
//! Facts are read and folded by the domain's order contract, the rule the hub
//! and the simulator use too: `domain::fact::Fact::decode`, then
//! `domain::fact::Order::join` of the stored order with the fact's view
//! (status and amount paid only rise, by `Progress::join`; amount given back
//! and last change only rise; the stations done are a union).

use domain::fact::{Fact, Order};
use domain::order::Channel;

use super::place::fulfillment;
use super::{OrderView, OrdersError, load};
use crate::db::WriteCtx;

/// Projects an order event made by another replica into the read model, in the sync's transaction.
///
/// Every order fact carries the order's full view after it happened; the
/// projection inserts an order it has not seen as that view, and otherwise
/// joins the stored order with it (`domain::fact::Order::join`) and stores the
/// joined progress: status, paid, given back, last change and stations done.
/// The stored list of stations done keeps its order, stations newly done are
/// added after it. A fact that does not parse, or whose order this node
/// cannot read, is logged and skipped (the event itself is kept in the log);
/// a stored order this node cannot read is an error, and the sync step fails
/// with it.
pub fn project_remote(ctx: &WriteCtx<'_>, e: &sync::log::Event) -> Result<(), OrdersError> {
    let conn = ctx.conn;
    let fact = match Fact::decode(&e.kind, &e.data) {
        Ok(fact) => fact,
        Err(err) => {
            tracing::warn!(event = %e.id, error = %err, "a fact from {} does not parse", e.origin);
            return Ok(());
        }
    };
    let Some(theirs) = fact.order() else {
        // The hub's answer to a refund asked for here.
        return super::online_refunds::project_answer(ctx, &fact);
    };
    let view = match OrderView::from_fact(theirs) {
        Ok(view) => view,
        Err(err) => {
            tracing::warn!(event = %e.id, error = %err, "an order event from {} has an unreadable order", e.origin);
            return Ok(());
        }
    };
    let id = view.id.to_string();
    match load(conn, &id)? {
        None => {
            // Online orders print in this store's kitchen; another node's counter orders print at that node.
            if view.order.channel == Channel::Online
                && let Err(e) = crate::printing::enqueue_kitchen(ctx, &view)
            {
                tracing::error!(order = %id, error = %e, "could not queue the kitchen tickets of an online order");
            }
            conn.execute(
                "INSERT INTO orders (id, ticket, channel, fulfillment, status, total, created_ms, updated_ms, created_by, snapshot, paid, stations_done, refunded)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                rusqlite::params![
                    id,
                    view.ticket,
                    view.order.channel.as_str(),
                    fulfillment(&view),
                    view.status.as_str(),
                    view.order.totals.total,
                    view.created_ms as i64,
                    view.updated_ms as i64,
                    view.created_by,
                    serde_json::to_string(&view.order)?,
                    view.paid,
                    serde_json::to_string(&view.stations_done)?,
                    view.refunded
                ],
            )?;
        }
        Some(cur) => {
            let mut order = Order::new(cur.to_fact()?);
            if !order.join(theirs) {
                return Ok(());
            }
            let joined = order.view();
            let progress = joined.progress();
            let mut stations = cur.stations_done.clone();
            for s in joined.stations_done.iter().flatten() {
                if !stations.contains(s) {
                    stations.push(s.clone());
                }
            }
            conn.execute(
                "UPDATE orders SET status = ?1, paid = ?2, stations_done = ?3, updated_ms = ?4, refunded = ?5 WHERE id = ?6",
                rusqlite::params![
                    progress.status.as_str(),
                    progress.paid,
                    serde_json::to_string(&stations)?,
                    joined.updated_ms.unwrap_or(cur.updated_ms) as i64,
                    joined.refunded.unwrap_or(cur.refunded),
                    id
                ],
            )?;
        }
    }
    super::online_refunds::project_answer(ctx, &fact)
}
