//! Each replica's payments worker: at start, and then on every wake (an order
//! changed, a webhook arrived) and every `tick`, it moves every payment in
//! progress on as far as it can (`flow::step`), and every refund
//! (`refunds::round`: requests synced from nodes, refunds the processor has
//! not confirmed, outcomes and captures not yet in the stores' logs). Steps are idempotent, so
//! replicas need no coordination.
//!
//! Crash recovery is the first round: a checkout whose creation was never
//! recorded is asked for again under its stored key (the processor answers with
//! the first one), an open checkout is read (paid while the hub was down: the
//! order is placed), an authorised payment is captured or released by the
//! store's answer.

use std::sync::Arc;

use super::{flow, refunds};
use crate::hub::Hub;

/// Runs until the hub shuts down (does nothing without payments configured).
pub async fn run(hub: Arc<Hub>) {
    let Some(payments) = hub.payments.as_ref() else {
        return;
    };
    recover(&hub).await;
    let mut shutdown = hub.shutdown.subscribe();
    let mut tick = tokio::time::interval(payments.config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = payments.wake.notified() => {}
            _ = hub.online.order_changed.notified() => {}
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
        }
        round(&hub).await;
    }
}

/// One pass over every payment in progress, then over refunds (`refunds::round`).
pub async fn round(hub: &Hub) {
    match hub.db.cards_in_progress().await {
        Ok(rows) => {
            for row in rows {
                let order = row.order_id.clone();
                if let Err(e) = flow::step(hub, row).await {
                    tracing::warn!(%order, error = %e, "a payment step failed; it is tried again");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the payments in progress"),
    }
    refunds::round(hub).await;
}

/// After a start: asks the processor about every open checkout (a webhook may
/// have been missed while the hub was down), then runs a round.
pub async fn recover(hub: &Hub) {
    match hub.db.cards_in_progress().await {
        Ok(rows) => {
            for row in rows {
                let order = row.order_id.clone();
                if let Err(e) = flow::recover(hub, row).await {
                    tracing::warn!(%order, error = %e, "could not recover a payment; it is tried again");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the payments in progress"),
    }
    round(hub).await;
}
