//! The hub's database: SQLite (a file, the default) or PostgreSQL, chosen by
//! the URL. One method per query; the SQL is the same text on both where it
//! can be (`$1` parameters, `ON CONFLICT`, `CAST(.. AS TEXT)`), and the two
//! migration folders differ only in column types (UUID, BYTEA).
//!
//! This is the only module that talks SQL (the account tables' queries are in
//! its `accounts` part, staff management's in `members`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sync::doc::DocKind;
use sync::log::Event;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A store's version vector: per origin, the highest sequence number held.
/// Read at every sync step, so it walks the `(store_id, origin, seq)` index
/// origin by origin (a loose index scan: two index lookups per origin) instead
/// of `MAX(seq) ... GROUP BY origin`, which visits every event of the store:
/// about 95 ms at 300,000 events, against 0.05 ms (SQLite) and 1.2 ms
/// (PostgreSQL). Same text on both databases.
const VECTOR: &str = "WITH RECURSIVE o(origin) AS ( \
         SELECT MIN(origin) FROM events WHERE store_id = $1 \
         UNION ALL \
         SELECT (SELECT MIN(e.origin) FROM events e WHERE e.store_id = $1 AND e.origin > o.origin) \
         FROM o WHERE o.origin IS NOT NULL) \
     SELECT origin, (SELECT MAX(e.seq) FROM events e WHERE e.store_id = $1 AND e.origin = o.origin) AS seq \
     FROM o WHERE origin IS NOT NULL";

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool this is (the code is expanded
/// once per backend, so sqlx's generic types resolve in each arm).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`,
/// which takes the database's write lock at once and so waits its turn under
/// `busy_timeout`. A plain `BEGIN` takes the lock only at the first write;
/// when it has read first (an idempotency key, the next `seq`) and another
/// connection committed meanwhile, SQLite cannot upgrade the stale snapshot
/// and fails at once with `database is locked` (codes 5 and 517) whatever the
/// timeout: 112 and 163 of 200 web orders from 8 concurrent customers failed
/// so in two runs (`tests/online.rs::a_busy_lunch_places_every_order`). A
/// single write statement outside a transaction takes the lock as it starts,
/// so only these need it. PostgreSQL locks rows and needs nothing special.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Builds an [`Event`] from a row of `SELECT CAST(id AS TEXT) AS id, origin, seq, hlc, kind, subject, data`.
macro_rules! event_from_row {
    ($row:expr, $store:expr) => {{
        let row = $row;
        let id: String = row.try_get("id")?;
        let seq: i64 = row.try_get("seq")?;
        let data: String = row.try_get("data")?;
        Event {
            id: uuid::Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            store: $store.to_owned(),
            origin: row.try_get("origin")?,
            seq: u64::try_from(seq).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            hlc: row.try_get("hlc")?,
            kind: row.try_get("kind")?,
            subject: row.try_get("subject")?,
            data: serde_json::from_str(&data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        }
    }};
}

mod accounts;
pub mod images;
pub mod nodes;
pub mod online;
pub mod payments;
pub mod profiles;
pub mod refunds;
pub mod sales;
pub use accounts::{
    AcceptError, InvitationRow, KeyRow, MembershipRow, NewInvitation, RefreshRow, Reservation,
    SessionState, UserRow,
};
mod members;
pub use members::{InvitationWithdrawal, MemberChange, MemberRow, PendingInvitationRow};

/// Why appending a batch of events failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The event's id, or its (store, origin, seq), is already taken by another event.
    #[error("event {origin}#{seq} collides with one already stored")]
    Collision { origin: String, seq: u64 },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A store's document as stored: the snapshot and the chunks saved after it, in order.
#[derive(Debug, Default)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    pub chunks: Vec<Vec<u8>>,
    /// The highest chunk sequence number (0 when none).
    pub last_chunk: i64,
}

/// A node token's row.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub store_id: String,
    pub label: String,
    pub revoked: bool,
}

fn to_i64(n: u64) -> Result<i64, sqlx::Error> {
    i64::try_from(n).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

impl Db {
    /// Opens (creating when the URL allows) and migrates the database at `url`:
    /// PostgreSQL for `postgres://` / `postgresql://`, SQLite otherwise.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Db::Postgres(pool)
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            Db::Sqlite(pool)
        };
        Ok(db)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    /// Creates a store of an organisation; false when one with this id exists.
    pub async fn create_store(
        &self,
        id: &str,
        name: &str,
        org_id: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = on_pool!(self, pool => sqlx::query(
            "INSERT INTO stores (id, name, org_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_owned())
        .bind(name.to_owned())
        .bind(org_id.map(str::to_owned))
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Every store's id, in order (at most `limit`).
    pub async fn store_ids(&self, limit: i64) -> Result<Vec<String>, sqlx::Error> {
        on_pool!(self, pool => sqlx::query_scalar("SELECT id FROM stores ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await)
    }

    pub async fn store_exists(&self, id: &str) -> Result<bool, sqlx::Error> {
        let row = on_pool!(self, pool => sqlx::query("SELECT 1 FROM stores WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
            .is_some());
        Ok(row)
    }

    /// Node tokens ever issued for a store (revoked ones too): the next node's number.
    pub async fn count_tokens(&self, store_id: &str) -> Result<usize, sqlx::Error> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM node_tokens WHERE store_id = $1")
            .bind(store_id.to_owned())
            .fetch_one(pool)
            .await?);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub async fn insert_token(
        &self,
        hash: &str,
        store_id: &str,
        label: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO node_tokens (token_hash, store_id, node_label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash.to_owned())
        .bind(store_id.to_owned())
        .bind(label.to_owned())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn token(&self, hash: &str) -> Result<Option<TokenRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT store_id, node_label, revoked_at FROM node_tokens WHERE token_hash = $1",
            )
            .bind(hash.to_owned())
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(TokenRow {
                    store_id: row.try_get("store_id")?,
                    label: row.try_get("node_label")?,
                    revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                })),
            }
        })
    }

    /// Marks a token of `store_id` revoked (keeping the first revocation time); false when there is no such token.
    pub async fn revoke_token(
        &self,
        store_id: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE node_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE store_id = $1 AND token_hash = $2",
        )
        .bind(store_id.to_owned())
        .bind(hash.to_owned())
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Inserts a batch of events of one store in one transaction: all or none.
    pub async fn append_events(
        &self,
        store_id: &str,
        events: &[Event],
        now: i64,
    ) -> Result<(), AppendError> {
        self.append_events_from(store_id, events, now, "")
            .await
            .map(|_| ())
    }

    /// Inserts a batch of events of one store in one transaction: all or none.
    /// The order and device projections (`online`) are updated in the same
    /// transaction, and on PostgreSQL the other replicas are notified (as
    /// replica `from`) when it commits. Returns the orders whose status rose.
    pub async fn append_events_from(
        &self,
        store_id: &str,
        events: &[Event],
        now: i64,
        from: &str,
    ) -> Result<Vec<online::OrderUpdate>, AppendError> {
        const INSERT: &str = "INSERT INTO events (id, store_id, origin, seq, hlc, kind, subject, data, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        macro_rules! insert_all {
            ($pool:expr, $id:expr, $project:path) => {{
                let mut tx = $pool.begin_write().await?;
                for e in events {
                    let data = serde_json::to_string(&e.data)
                        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
                    let r = sqlx::query(INSERT)
                        .bind($id(e))
                        .bind(store_id.to_owned())
                        .bind(e.origin.clone())
                        .bind(to_i64(e.seq)?)
                        .bind(e.hlc.clone())
                        .bind(e.kind.clone())
                        .bind(e.subject.clone())
                        .bind(data)
                        .bind(now)
                        .execute(&mut *tx)
                        .await;
                    match r {
                        Ok(_) => {}
                        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                            return Err(AppendError::Collision {
                                origin: e.origin.clone(),
                                seq: e.seq,
                            });
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
                let updates = $project(&mut tx, store_id, events, now, from).await?;
                tx.commit().await?;
                updates
            }};
        }
        let updates = match self {
            Db::Sqlite(pool) => insert_all!(
                pool,
                |e: &Event| e.id.to_string(),
                online::sqlite_tx::project
            ),
            Db::Postgres(pool) => insert_all!(pool, |e: &Event| e.id, online::pg_tx::project),
        };
        Ok(updates)
    }

    /// Per origin, the highest sequence number held for the store (see [`VECTOR`]).
    pub async fn vector(&self, store_id: &str) -> Result<Vec<(String, u64)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(VECTOR)
            .bind(store_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let seq: i64 = row.try_get("seq")?;
                    Ok((
                        row.try_get::<String, _>("origin")?,
                        u64::try_from(seq).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    ))
                })
                .collect()
        })
    }

    /// Events of `origin` with `from <= seq <= to`, by seq, at most `limit`.
    pub async fn range(
        &self,
        store_id: &str,
        origin: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Event>, sqlx::Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT CAST(id AS TEXT) AS id, origin, seq, hlc, kind, subject, data FROM events \
                 WHERE store_id = $1 AND origin = $2 AND seq >= $3 AND seq <= $4 ORDER BY seq LIMIT $5",
            )
            .bind(store_id.to_owned())
            .bind(origin.to_owned())
            .bind(to_i64(from)?)
            .bind(to_i64(to)?)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|row| Ok(event_from_row!(row, store_id))).collect()
        })
    }

    /// Every event of the store, by (origin, seq).
    pub async fn events(&self, store_id: &str) -> Result<Vec<Event>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT CAST(id AS TEXT) AS id, origin, seq, hlc, kind, subject, data FROM events \
                 WHERE store_id = $1 ORDER BY origin, seq",
            )
            .bind(store_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter().map(|row| Ok(event_from_row!(row, store_id))).collect()
        })
    }

    /// A store's document: snapshot (if any) and chunks in order.
    pub async fn load_doc(&self, store_id: &str, kind: DocKind) -> Result<StoredDoc, sqlx::Error> {
        on_pool!(self, pool => {
            let snapshot = sqlx::query("SELECT snapshot FROM docs WHERE store_id = $1 AND kind = $2")
                .bind(store_id.to_owned())
                .bind(kind.as_str())
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get::<Vec<u8>, _>("snapshot"))
                .transpose()?;
            let rows = sqlx::query(
                "SELECT seq, bytes FROM doc_chunks WHERE store_id = $1 AND kind = $2 ORDER BY seq",
            )
            .bind(store_id.to_owned())
            .bind(kind.as_str())
            .fetch_all(pool)
            .await?;
            let mut doc = StoredDoc { snapshot, ..StoredDoc::default() };
            for row in &rows {
                doc.last_chunk = row.try_get("seq")?;
                doc.chunks.push(row.try_get("bytes")?);
            }
            Ok(doc)
        })
    }

    pub async fn append_chunk(
        &self,
        store_id: &str,
        kind: DocKind,
        seq: i64,
        bytes: Vec<u8>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO doc_chunks (store_id, kind, seq, bytes) VALUES ($1, $2, $3, $4)",
        )
        .bind(store_id.to_owned())
        .bind(kind.as_str())
        .bind(seq)
        .bind(bytes)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Replaces a document's snapshot and drops its chunks, in one transaction.
    pub async fn compact_doc(
        &self,
        store_id: &str,
        kind: DocKind,
        snapshot: Vec<u8>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO docs (store_id, kind, snapshot) VALUES ($1, $2, $3) \
                 ON CONFLICT (store_id, kind) DO UPDATE SET snapshot = excluded.snapshot",
            )
            .bind(store_id.to_owned())
            .bind(kind.as_str())
            .bind(snapshot)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM doc_chunks WHERE store_id = $1 AND kind = $2")
                .bind(store_id.to_owned())
                .bind(kind.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// How many chunks a document has (for tests and diagnostics).
    pub async fn chunk_count(&self, store_id: &str, kind: DocKind) -> Result<i64, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM doc_chunks WHERE store_id = $1 AND kind = $2")
                .bind(store_id.to_owned())
                .bind(kind.as_str())
                .fetch_one(pool)
                .await?;
            row.try_get::<i64, _>("n")
        })
    }
}
