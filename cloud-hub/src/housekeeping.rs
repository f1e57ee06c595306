//! Deletes rows that only ever expire, on every replica, at start and then
//! every [`EVERY`]:
//!
//! - refresh tokens past their expiry (the session is over either way);
//! - invitations never accepted, a week after they expired (until then a late
//!   click still hears "expired" rather than "unknown");
//! - stored idempotent answers older than a day.
//!
//! The deletes are idempotent, so replicas need no coordination: two sweeping
//! at once delete the same rows once.

use std::sync::Arc;
use std::time::Duration;

use crate::hub::Hub;

/// How often a replica sweeps.
pub const EVERY: Duration = Duration::from_secs(3600);
/// How long an unaccepted invitation is kept after it expired.
pub const KEEP_EXPIRED_INVITATIONS_MS: i64 = 7 * 24 * 3600 * 1000;
/// How long an idempotent answer is kept (a client retries within minutes).
pub const KEEP_ANSWERS_MS: i64 = 24 * 3600 * 1000;

/// Rows one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub refresh_tokens: u64,
    pub invitations: u64,
    pub idempotent_answers: u64,
}

/// One sweep as of `now` (Unix ms).
pub async fn sweep(hub: &Hub, now: i64) -> Result<Swept, sqlx::Error> {
    Ok(Swept {
        refresh_tokens: hub.db.purge_refresh_tokens(now).await?,
        invitations: hub
            .db
            .purge_invitations(now - KEEP_EXPIRED_INVITATIONS_MS)
            .await?,
        idempotent_answers: hub.db.idem_purge(now - KEEP_ANSWERS_MS).await?,
    })
}

/// Sweeps now and every [`EVERY`] until the hub shuts down.
pub async fn run(hub: Arc<Hub>) {
    hub.every(EVERY, || sweep_logged(&hub)).await;
}

async fn sweep_logged(hub: &Hub) {
    match sweep(hub, hub.now_ms()).await {
        Ok(s) if s != Swept::default() => tracing::info!(
            refresh_tokens = s.refresh_tokens,
            invitations = s.invitations,
            idempotent_answers = s.idempotent_answers,
            "deleted expired rows"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not delete expired rows"),
    }
}
