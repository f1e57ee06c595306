//! SQLite storage: schema migrations, the single writer thread with group
//! commit, and a small pool of read-only connections.
//!
//! **Durability.** The database runs in WAL mode with `synchronous=FULL`, so a
//! committed transaction has been fsynced. A caller gets its answer only after
//! the transaction holding its write has committed: acknowledged means on disk.
//!
//! **Group commit.** Every write is a closure sent to one writer thread. The
//! thread takes all closures waiting (up to `max_batch`), runs each inside its
//! own SAVEPOINT of one `BEGIN IMMEDIATE` transaction, commits once (one
//! fsync), then publishes the batch's events and answers every caller. A
//! closure that fails is rolled back to its savepoint alone; the others commit.
//! So durable throughput is not capped at the disk's fsync rate.
//!
//! **A full disk.** A write that fails because the disk is full (SQLite's
//! `SQLITE_FULL`) keeps its error code up to the caller, so the API answers
//! 507 `disk_full` rather than a generic 500, and the writer remembers it:
//! [`Db::disk_full`] stays true (readiness fails) until a later commit
//! succeeds, which [`Db::probe_while_full`] tries every few seconds.
//!
//! **No blocking on the runtime.** The writer is a plain thread; reads run on
//! `spawn_blocking` with a pooled connection.
//!
//! **Time.** `Db` holds the node's clock (`SystemClock`, or a `ManualClock` in tests):
//! [`WriteCtx::now`] is what a transaction stamps on what it stores (the event log's
//! `created_ms` and hybrid logical clock, every row's `*_ms`), [`Db::now`] the same
//! clock outside a transaction.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::clock::{Clock, Hlc, Millis};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::events::StoredEvent;

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: event log, orders read model, menu document, staff, sessions, idempotency.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE event_log (
        pos        INTEGER PRIMARY KEY AUTOINCREMENT, -- local arrival order; the event stream cursor
        id         TEXT NOT NULL UNIQUE,              -- UUIDv7
        origin     TEXT NOT NULL,                     -- replica that created the event
        seq        INTEGER NOT NULL,                  -- dense per origin, from 1
        hlc        TEXT NOT NULL,                     -- hybrid logical clock, sortable text
        kind       TEXT NOT NULL,
        subject    TEXT,
        data       TEXT NOT NULL,                     -- JSON
        created_ms INTEGER NOT NULL,
        UNIQUE (origin, seq)
    ) STRICT;
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
    CREATE TABLE orders (
        id          TEXT PRIMARY KEY,
        ticket      TEXT NOT NULL,
        channel     TEXT NOT NULL,
        fulfillment TEXT NOT NULL,
        status      TEXT NOT NULL,
        total       INTEGER NOT NULL,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        created_by  TEXT,
        snapshot    TEXT NOT NULL                      -- the priced order, JSON, immutable
    ) STRICT;
    CREATE INDEX orders_by_time ON orders (created_ms);
    CREATE INDEX orders_by_status ON orders (status, created_ms);
    CREATE TABLE menu (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        doc        TEXT NOT NULL,
        version    INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE staff (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL,
        role     TEXT NOT NULL,
        pin_hash TEXT NOT NULL,
        active   INTEGER NOT NULL DEFAULT 1
    ) STRICT;
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        staff_id   TEXT NOT NULL REFERENCES staff (id),
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE idempotency (
        principal    TEXT NOT NULL,
        key          TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status       INTEGER NOT NULL,
        body         TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        PRIMARY KEY (principal, key)
    ) STRICT;
    "#,
    // 2: payments, what each order has been paid, and which kitchen stations have bumped it.
    r#"
    ALTER TABLE orders ADD COLUMN paid INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE orders ADD COLUMN stations_done TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE payments (
        id         TEXT PRIMARY KEY,
        order_id   TEXT NOT NULL REFERENCES orders (id),
        method     TEXT NOT NULL,
        amount     INTEGER NOT NULL,
        tendered   INTEGER NOT NULL,
        change     INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        created_by TEXT
    ) STRICT;
    CREATE INDEX payments_by_order ON payments (order_id);
    "#,
    // 3: the shared automerge documents (snapshot plus incremental chunks) and sync bookkeeping.
    r#"
    CREATE TABLE docs (
        kind       TEXT PRIMARY KEY,
        snapshot   BLOB NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE doc_chunks (
        kind  TEXT NOT NULL,
        seq   INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (kind, seq)
    ) STRICT;
    CREATE INDEX event_log_by_origin ON event_log (origin, seq);
    "#,
    // 4: devices (printers, terminals, drawers, screens), the print queue, and card payment references.
    r#"
    CREATE TABLE devices (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        name        TEXT NOT NULL,
        station     TEXT,                  -- kitchen printers and KDS screens
        transport   TEXT NOT NULL,         -- JSON, see devices::Transport
        secret_hash TEXT NOT NULL,         -- SHA-256 of the MQTT secret (random, high entropy)
        active      INTEGER NOT NULL DEFAULT 1,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE print_jobs (
        id              TEXT PRIMARY KEY,  -- UUIDv7: creation order
        device_id       TEXT NOT NULL,
        kind            TEXT NOT NULL,     -- receipt | kitchen | drawer | test
        order_id        TEXT,
        station         TEXT,
        label           TEXT NOT NULL,     -- what a manager sees: "Kitchen ticket S-0042 (grill)"
        payload         BLOB NOT NULL,     -- the rendered ESC/POS bytes
        state           TEXT NOT NULL,     -- queued | done | dead
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error      TEXT,
        created_ms      INTEGER NOT NULL,
        updated_ms      INTEGER NOT NULL,
        printed_ms      INTEGER
    ) STRICT;
    CREATE INDEX print_jobs_queue ON print_jobs (device_id, state, next_attempt_ms);
    CREATE INDEX print_jobs_by_state ON print_jobs (state, created_ms);
    ALTER TABLE payments ADD COLUMN reference TEXT;
    "#,
    // 5: card payments in flight, written before the terminal is asked: one approved at the
    //    terminal while the node crashed is found again with the terminal's last transaction.
    r#"
    CREATE TABLE card_attempts (
        id           TEXT PRIMARY KEY,     -- UUIDv7
        order_id     TEXT NOT NULL,
        device_id    TEXT NOT NULL,        -- the card terminal
        amount       INTEGER NOT NULL,     -- asked for, minor units
        staff_id     TEXT NOT NULL,        -- who asked, and under which Idempotency-Key
        idem_key     TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        state        TEXT NOT NULL,        -- asking | recorded | not_charged | unsettled
        reference    TEXT,                 -- the terminal's, once known
        note         TEXT,                 -- for the manager who settles it
        created_ms   INTEGER NOT NULL,
        updated_ms   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX card_attempts_by_state ON card_attempts (state, device_id);
    "#,
    // 6: money given back when a paid order is cancelled or voided, one row per payment (tender).
    r#"
    ALTER TABLE orders ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE refunds (
        id          TEXT PRIMARY KEY,
        order_id    TEXT NOT NULL REFERENCES orders (id),
        payment_id  TEXT NOT NULL REFERENCES payments (id),
        method      TEXT NOT NULL,        -- the payment's tender: cash | card
        amount      INTEGER NOT NULL,
        reference   TEXT,                 -- card: the payment's terminal reference, to refund there
        created_ms  INTEGER NOT NULL,
        created_by  TEXT,
        approved_by TEXT NOT NULL
    ) STRICT;
    CREATE INDEX refunds_by_order ON refunds (order_id);
    "#,
    // 7: stored idempotent answers expire (`replay::KEEP_ANSWERS`); found by age.
    r#"
    CREATE INDEX idempotency_by_time ON idempotency (created_ms);
    "#,
    // 8: refunds of online orders' card payments: asked here (`refund.requested`),
    // made by the hub, which holds the payment; its answer comes back by sync.
    r#"
    CREATE TABLE online_refunds (
        id           TEXT PRIMARY KEY,
        order_id     TEXT NOT NULL REFERENCES orders (id),
        amount       INTEGER,              -- asked; NULL: everything that remained
        refunded     INTEGER,              -- what the hub gave back
        reason       TEXT,
        requested_by TEXT NOT NULL,
        approved_by  TEXT,
        state        TEXT NOT NULL,        -- asked | refunded | declined
        problem      TEXT,
        created_ms   INTEGER NOT NULL,
        updated_ms   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX online_refunds_by_order ON online_refunds (order_id);
    "#,
];

fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if applied > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {applied} is newer than this binary ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

/// What a write closure may do besides SQL: append events to the log, read the node's clock.
pub struct WriteCtx<'a> {
    pub conn: &'a Connection,
    origin: &'a str,
    log: &'a mut LogCounters,
    clock: &'a dyn Clock,
    events: Vec<StoredEvent>,
}

/// The writer's in-memory counters of this replica's events (its hybrid logical
/// clock and sequence number), restored when a savepoint rolls back.
#[derive(Clone, Copy)]
struct LogCounters {
    hlc: Hlc,
    seq: u64,
}

impl WriteCtx<'_> {
    /// Appends one event of this replica to the log; published to subscribers after commit.
    pub fn append(
        &mut self,
        kind: &str,
        subject: Option<&str>,
        data: serde_json::Value,
    ) -> rusqlite::Result<StoredEvent> {
        let now = self.now().as_u64();
        self.log.hlc = self.log.hlc.tick(now);
        self.log.seq += 1;
        let id = uuid::Uuid::now_v7();
        let data_text = data.to_string();
        self.conn
            .prepare_cached(
                "INSERT INTO event_log (id, origin, seq, hlc, kind, subject, data, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id.to_string(),
                self.origin,
                self.log.seq as i64,
                self.log.hlc.encode(),
                kind,
                subject,
                data_text,
                now as i64
            ])?;
        let ev = StoredEvent {
            pos: self.conn.last_insert_rowid(),
            id,
            origin: self.origin.to_owned(),
            seq: self.log.seq,
            kind: kind.to_owned(),
            subject: subject.map(str::to_owned),
            data,
            created_ms: now,
        };
        self.events.push(ev.clone());
        Ok(ev)
    }

    /// Appends an event another replica created (received through sync); published after commit.
    pub fn append_remote(&mut self, e: &sync::log::Event) -> rusqlite::Result<()> {
        let now = self.now().as_u64();
        self.conn
            .prepare_cached(
                "INSERT INTO event_log (id, origin, seq, hlc, kind, subject, data, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                e.id.to_string(),
                e.origin,
                e.seq as i64,
                e.hlc,
                e.kind,
                e.subject,
                e.data.to_string(),
                now as i64
            ])?;
        self.events.push(StoredEvent {
            pos: self.conn.last_insert_rowid(),
            id: e.id,
            origin: e.origin.clone(),
            seq: e.seq,
            kind: e.kind.clone(),
            subject: e.subject.clone(),
            data: e.data.clone(),
            created_ms: now,
        });
        Ok(())
    }

    /// The node's time, for what this transaction stores or decides.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// This replica's origin id.
    pub fn origin(&self) -> &str {
        self.origin
    }

    /// Increments a named counter and returns its new value (ticket numbers).
    pub fn next_counter(&self, name: &str) -> rusqlite::Result<u64> {
        self.conn
            .prepare_cached(
                "INSERT INTO counters (name, value) VALUES (?1, 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1
                 RETURNING value",
            )?
            .query_row([name], |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
    }
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the writer thread has stopped")]
    WriterGone,
}

impl WriteError {
    /// The commit failed because the disk is full (`SQLITE_FULL`).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, WriteError::Sqlite(e) if is_disk_full(e))
    }
}

type Completion = Box<dyn FnOnce(Result<(), Arc<rusqlite::Error>>) + Send>;
/// A write job: runs inside a savepoint, returns whether it succeeded and how to answer after commit.
type Job = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (bool, Completion) + Send>;

/// The handle to the database: send writes to the writer thread, run reads on the pool.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<PathBuf>,
    pub origin: Arc<str>,
    /// The last commit failed because the disk is full (cleared by the next one that succeeds).
    disk_full: Arc<AtomicBool>,
    /// This database's event log, as the event stream names it (see [`log_id`]).
    pub log_id: Arc<str>,
    /// Where the node reads the time (see [`Db::now`]).
    clock: Arc<dyn Clock>,
}

/// The identity of this database's event log: a random id made when the
/// database is created (or first opened by a build that has one) and kept in
/// `meta`. Stream cursors are positions in one log; a client that connects
/// with a cursor of another log (the node was replaced, or its database
/// restored from a backup or started afresh, at the same address) is told to
/// start over instead of skipping the new log's first events.
fn log_id(conn: &Connection) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('log_id', ?1) ON CONFLICT (key) DO NOTHING",
        [&id],
    )?;
    conn.query_row("SELECT value FROM meta WHERE key = 'log_id'", [], |r| {
        r.get(0)
    })
}

/// Whether a database error says the disk is full.
pub fn is_disk_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// How often a node whose disk filled up tries a small write to learn that space is back:
/// often enough that readiness recovers within seconds, rarely enough to cost nothing.
const DISK_PROBE_EVERY: Duration = Duration::from_secs(2);

impl Db {
    /// Opens (creating if needed) the database in `dir`, migrates it and starts the writer
    /// thread, which stamps events and rows with `clock`'s time.
    pub fn open(
        dir: &Path,
        max_batch: usize,
        events: broadcast::Sender<Arc<StoredEvent>>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Db> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("store.db");
        let mut conn = open(&path, false)?;
        migrate(&mut conn)?;
        let origin: String = match conn
            .query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })
            .optional()?
        {
            Some(o) => o,
            None => {
                let o = format!("node-{}", uuid::Uuid::now_v7().simple());
                conn.execute("INSERT INTO meta (key, value) VALUES ('origin', ?1)", [&o])?;
                o
            }
        };
        let log_id = log_id(&conn)?;
        let (seq, hlc): (i64, Option<String>) = conn.query_row(
            "SELECT COALESCE(MAX(seq), 0), MAX(hlc) FROM event_log WHERE origin = ?1",
            [&origin],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let hlc = hlc.and_then(|h| parse_hlc(&h)).unwrap_or_default();
        let log = LogCounters {
            hlc,
            seq: seq as u64,
        };
        let (tx, rx) = mpsc::channel::<Job>(8192);
        let origin_for_thread = origin.clone();
        let disk_full = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            origin: origin_for_thread,
            max_batch,
            bus: events,
            disk_full: disk_full.clone(),
            clock: clock.clone(),
        };
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || writer.run(conn, rx, log))?;
        let readers = (0..4)
            .map(|_| open(&path, true))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Db {
            jobs: tx,
            readers: Arc::new(Mutex::new(readers)),
            path: Arc::new(path),
            origin: origin.into(),
            disk_full,
            log_id: log_id.into(),
            clock,
        })
    }

    /// The node's time: the clock the node was started with (`SystemClock` in
    /// production, a `ManualClock` in tests that move time by hand).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The node's clock itself, for parts that keep it (the PIN lockout, device health).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// True while the last commit failed because the disk is full: no write can succeed.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// While the disk is full, tries a one-row write every [`DISK_PROBE_EVERY`], so
    /// readiness recovers when space returns even if no client writes; `recovered`
    /// runs after each full-to-free change. Ends when the writer stops.
    pub async fn probe_while_full(&self, recovered: impl Fn()) {
        let mut tick = tokio::time::interval(DISK_PROBE_EVERY);
        while self.writer_alive() {
            tick.tick().await;
            if !self.disk_full() {
                continue;
            }
            let probed = self
                .write(|ctx| -> Result<(), WriteError> {
                    ctx.conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('disk_probe_ms', ?1)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [ctx.now().as_u64().to_string()],
                    )?;
                    Ok(())
                })
                .await;
            if probed.is_ok() {
                tracing::info!("the disk has room again; writes succeed");
                recovered();
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the next group-commit transaction; resolves after that transaction is durable.
    ///
    /// An `Err` from `f` rolls back only `f`'s own changes and events.
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut WriteCtx<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |ctx| match f(ctx) {
            Ok(v) => {
                let done: Completion = Box::new(move |committed| {
                    let _ = reply.send(match committed {
                        Ok(()) => Ok(v),
                        Err(e) => Err(E::from(WriteError::Sqlite(clone_err(&e)))),
                    });
                });
                (true, done)
            }
            Err(e) => {
                let done: Completion = Box::new(move |_| {
                    let _ = reply.send(Err(e));
                });
                (false, done)
            }
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| E::from(WriteError::WriterGone))?;
        answer.await.map_err(|_| E::from(WriteError::WriterGone))?
    }

    /// Runs a read on a pooled read-only connection, off the async runtime.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().map(|mut v| v.pop()).ok().flatten();
            let conn = match conn {
                Some(c) => c,
                None => open(&path, true)?,
            };
            let out = f(&conn);
            if let Ok(mut v) = readers.lock()
                && v.len() < 8
            {
                v.push(conn);
            }
            out
        })
        .await
        .map_err(|e| rusqlite::Error::InvalidParameterName(format!("read task failed: {e}")))?
    }

    /// True while the writer thread accepts work.
    pub fn writer_alive(&self) -> bool {
        !self.jobs.is_closed()
    }
}

/// A copy of a commit error for each caller of the batch, keeping SQLite's
/// error code (a full disk must reach the API as such).
fn clone_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => rusqlite::Error::SqliteFailure(
            *code,
            Some(format!(
                "commit failed: {}",
                msg.as_deref().unwrap_or("no message")
            )),
        ),
        _ => rusqlite::Error::InvalidParameterName(format!("commit failed: {e}")),
    }
}

fn parse_hlc(s: &str) -> Option<Hlc> {
    let (w, l) = s.split_once('-')?;
    Some(Hlc {
        wall_ms: w.parse().ok()?,
        logical: l.parse().ok()?,
    })
}

/// What the writer thread needs besides its connection and queue.
struct Writer {
    origin: String,
    max_batch: usize,
    bus: broadcast::Sender<Arc<StoredEvent>>,
    disk_full: Arc<AtomicBool>,
    clock: Arc<dyn Clock>,
}

impl Writer {
    fn run(self, mut conn: Connection, mut rx: mpsc::Receiver<Job>, mut log: LogCounters) {
        let Writer {
            origin,
            max_batch,
            bus,
            disk_full,
            clock,
        } = self;
        let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let size = batch.len();
            let before = log;
            let mut completions = Vec::with_capacity(size);
            let mut events = Vec::new();
            let mut any_ok = false;
            let result = (|| -> rusqlite::Result<()> {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for job in batch.drain(..) {
                    tx.execute_batch("SAVEPOINT job")?;
                    let saved = log;
                    let mut ctx = WriteCtx {
                        conn: &tx,
                        origin: &origin,
                        log: &mut log,
                        clock: &*clock,
                        events: Vec::new(),
                    };
                    let (ok, done) = job(&mut ctx);
                    let job_events = std::mem::take(&mut ctx.events);
                    if ok {
                        any_ok = true;
                        tx.execute_batch("RELEASE job")?;
                        events.extend(job_events);
                    } else {
                        tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
                        log = saved;
                    }
                    completions.push(done);
                }
                tx.commit()
            })();
            metrics::histogram!("store_db_commit_batch_size").record(size as f64);
            match result {
                Ok(()) => {
                    // Only a commit that wrote something shows there is room again.
                    if any_ok && disk_full.swap(false, Ordering::Relaxed) {
                        tracing::info!("a write succeeded again after the disk was full");
                    }
                    for ev in events {
                        // No subscribers is fine: the log is the source of truth.
                        let _ = bus.send(Arc::new(ev));
                    }
                    for done in completions {
                        done(Ok(()));
                    }
                }
                Err(e) => {
                    if is_disk_full(&e) {
                        disk_full.store(true, Ordering::Relaxed);
                    }
                    tracing::error!(error = %e, batch = size, "group commit failed; batch rolled back");
                    log = before;
                    batch.clear();
                    let e = Arc::new(e);
                    for done in completions {
                        done(Err(e.clone()));
                    }
                }
            }
        }
        tracing::info!("writer thread stopped");
    }
}
