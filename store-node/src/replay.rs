//! The stored answers of idempotent writes (the `idempotency` table): the
//! answer is stored under its caller's key in the same transaction as the
//! write's effect, so a retry gets it back. The HTTP side (holding a key while
//! a request runs, replaying the answer) is `http::idempotency`; the card
//! terminal's crash recovery stores the answer of a request that the crash cut off.
//!
//! Answers are kept for [`KEEP_ANSWERS`] by the node's clock: far longer than
//! any till retries (minutes, or the length of an outage), so a late retry
//! still gets its order back; each new answer sweeps the expired ones in its
//! own transaction, so the table stays the size of six weeks of writes.

use std::time::Duration;

use rusqlite::OptionalExtension;

use domain::clock::Millis;

/// How long a stored answer is replayed; after that its key is free again.
pub const KEEP_ANSWERS: Duration = Duration::from_secs(45 * 24 * 3600);

/// An answer stored under a key: the hash of the request it answered, its HTTP status and body.
pub struct StoredAnswer {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

/// The answer stored under `principal`'s `key`, if any.
pub fn lookup(
    conn: &rusqlite::Connection,
    principal: &str,
    key: &str,
) -> rusqlite::Result<Option<StoredAnswer>> {
    conn.prepare_cached(
        "SELECT request_hash, status, body FROM idempotency WHERE principal = ?1 AND key = ?2",
    )?
    .query_row([principal, key], |r| {
        Ok(StoredAnswer {
            request_hash: r.get(0)?,
            status: r.get(1)?,
            body: r.get(2)?,
        })
    })
    .optional()
}

/// Stores the answer to a request under its key at `now`, in the caller's
/// transaction (with its effect), and deletes the answers that expired by `now`.
pub fn store(
    conn: &rusqlite::Connection,
    principal: &str,
    key: &str,
    request_hash: &str,
    status: u16,
    value: &serde_json::Value,
    now: Millis,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO idempotency (principal, key, request_hash, status, body, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(rusqlite::params![
        principal,
        key,
        request_hash,
        status,
        value.to_string(),
        now.as_i64()
    ])?;
    let expired_before = now.as_i64().saturating_sub(KEEP_ANSWERS.as_millis() as i64);
    conn.prepare_cached("DELETE FROM idempotency WHERE created_ms < ?1")?
        .execute([expired_before])?;
    Ok(())
}
