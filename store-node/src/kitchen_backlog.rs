//! The kitchen's backlog, reported to the hub through sync: a `kitchen.backlog`
//! fact (`domain::fact::KitchenBacklog`: open tickets and the oldest one's age,
//! per station) appended to the log, which the sync client ships like any event.
//! The hub quotes later pickups and pauses online ordering from it.
//!
//! Measured from the node's open orders (placed, accepted, in preparation: the
//! kitchen has not finished them) whenever an order event is committed, and
//! every [`MIN_SPACING`] while tickets are open (they age). A fact is appended
//! only when the backlog differs meaningfully from the last one reported
//! (`KitchenBacklog::differs_from`: a ticket more or less, or a minute's age),
//! and at most once per [`MIN_SPACING`], so a rush of orders costs one event
//! per 10 s, not one per order. One is always reported at start-up, so a hub
//! that last heard of a full kitchen before a restart hears it is empty now.

use std::sync::Arc;
use std::time::Duration;

use domain::fact::{KitchenBacklog, kind};
use domain::status::OrderStatus;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::orders::{ListFilter, OrdersError};
use crate::state::AppState;

/// Least time between two reports.
pub const MIN_SPACING: Duration = Duration::from_secs(10);
/// Most open orders read to measure the backlog.
const MAX_OPEN: u32 = 5_000;

/// The kitchen's backlog now, from the open orders.
pub async fn measure(state: &AppState) -> Result<KitchenBacklog, OrdersError> {
    let open = crate::orders::list(
        &state.db,
        ListFilter {
            statuses: vec![
                OrderStatus::Placed,
                OrderStatus::Accepted,
                OrderStatus::InPreparation,
            ],
            channels: vec![],
            since_ms: 0,
            until_ms: i64::MAX,
            limit: MAX_OPEN,
        },
    )
    .await?;
    let tickets = open.into_iter().map(|o| {
        let mut stations: Vec<String> = o
            .order
            .lines
            .iter()
            .filter(|l| !o.stations_done.contains(&l.station))
            .map(|l| l.station.to_string())
            .collect();
        stations.sort();
        stations.dedup();
        (o.created_ms, stations)
    });
    Ok(KitchenBacklog::measure(tickets, state.now().as_u64()))
}

/// Starts the reporter when the node syncs with a hub (nobody else reads the
/// fact); it ends when the event bus closes (the node stops).
pub fn spawn(state: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    state.config.hub.as_ref()?;
    Some(tokio::spawn(run(state)))
}

async fn run(state: Arc<AppState>) {
    let mut bus = state.bus.subscribe();
    let mut last: Option<KitchenBacklog> = None;
    // When the next report may go out, and whether something may have changed.
    let mut next_at = Instant::now();
    let mut dirty = true;
    loop {
        if dirty {
            tokio::select! {
                _ = tokio::time::sleep_until(next_at) => {}
                closed = drain(&mut bus) => if closed { return },
            }
            // Whatever arrived while waiting is in this measurement.
            while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                bus.try_recv()
            {}
            match measure(&state).await {
                Ok(now) => {
                    if last.as_ref().is_none_or(|l| now.differs_from(l)) {
                        match report(&state, &now).await {
                            Ok(()) => {
                                tracing::debug!(
                                    open = now.open_tickets,
                                    oldest = now.oldest_age_secs,
                                    "kitchen backlog reported"
                                );
                                last = Some(now);
                                next_at = Instant::now() + MIN_SPACING;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "could not log the kitchen backlog");
                                next_at = Instant::now() + MIN_SPACING;
                                continue;
                            }
                        }
                    }
                    dirty = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not measure the kitchen backlog");
                    next_at = Instant::now() + MIN_SPACING;
                    continue;
                }
            }
        }
        // Wait for an order event, or for open tickets to age.
        let ticking = last.as_ref().is_some_and(|l| l.open_tickets > 0);
        tokio::select! {
            ev = bus.recv() => match ev {
                Ok(e) if e.kind == kind::ORDER_CREATED || e.kind == kind::ORDER_CHANGED => dirty = true,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => dirty = true,
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(MIN_SPACING), if ticking => dirty = true,
        }
    }
}

/// Reads the bus until it closes (true); never returns otherwise. Keeps the
/// receiver from lagging while a report waits for its spacing.
async fn drain(
    bus: &mut tokio::sync::broadcast::Receiver<Arc<crate::events::StoredEvent>>,
) -> bool {
    loop {
        if let Err(RecvError::Closed) = bus.recv().await {
            return true;
        }
    }
}

async fn report(state: &AppState, backlog: &KitchenBacklog) -> Result<(), crate::db::WriteError> {
    let data = serde_json::to_value(backlog).map_err(|e| {
        crate::db::WriteError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    })?;
    state
        .db
        .write(move |ctx| -> Result<(), crate::db::WriteError> {
            ctx.append(kind::KITCHEN_BACKLOG, None, data)?;
            Ok(())
        })
        .await
}
