//! Orders made by another replica (the hub's web orders, the store's other
//! nodes), received through sync, projected into this node's read model.

use domain::order::Channel;
use domain::status::Progress;

use super::place::fulfillment;
use super::{OrderView, OrdersError, load};
use crate::db::WriteCtx;

/// Projects an order event made by another replica into the read model, in the sync's transaction.
///
/// Every order event carries the order's full view after it happened; the
/// projection inserts a new order, and otherwise joins the views' progress
/// (`Progress::join`: status and amount paid only rise) and never lowers
/// what was given back. An event whose order this node cannot read is logged
/// and skipped (the event itself is kept in the log); a stored order this node
/// cannot read is an error, and the sync step fails with it.
pub fn project_remote(ctx: &WriteCtx<'_>, e: &sync::log::Event) -> Result<(), OrdersError> {
    let conn = ctx.conn;
    let Some(order) = e.data.get("order") else {
        return Ok(());
    };
    let Ok(view) = serde_json::from_value::<OrderView>(order.clone()) else {
        tracing::warn!(event = %e.id, "an order event from {} has an unreadable order", e.origin);
        return Ok(());
    };
    let id = view.id.to_string();
    let current = load(conn, &id)?;
    let stations = serde_json::to_string(&view.stations_done)?;
    match current {
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
                    stations,
                    view.refunded
                ],
            )?;
        }
        Some(cur) => {
            let progress = Progress {
                status: cur.status,
                paid: cur.paid,
            }
            .join(Progress {
                status: view.status,
                paid: view.paid,
            });
            let stations = if view.stations_done.len() > cur.stations_done.len() {
                stations
            } else {
                serde_json::to_string(&cur.stations_done)?
            };
            conn.execute(
                "UPDATE orders SET status = ?1, paid = ?2, stations_done = ?3, updated_ms = MAX(updated_ms, ?4), refunded = MAX(refunded, ?6) WHERE id = ?5",
                rusqlite::params![progress.status.as_str(), progress.paid, stations, view.updated_ms as i64, id, view.refunded],
            )?;
        }
    }
    Ok(())
}
