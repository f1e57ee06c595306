//! The hub's shared state: the database, each store's shared documents (loaded
//! once, kept in memory, saved after every change), the per-store "flush now"
//! signal, the registry of open sync connections per node token, and online
//! ordering's live state (`crate::online`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use sha2::{Digest, Sha256};
use sync::VersionVector;
use sync::doc::{DocKind, SharedDoc};
use sync::log::{Event, EventStore, LogError};
use sync::session::Docs;
use tokio::runtime::Handle;
use tokio::sync::{Mutex, broadcast, oneshot, watch};

use crate::auth::{AuthConfig, AuthState};
use crate::crypto::Sealer;
use crate::db::{AppendError, Db};
use crate::online::Online;
use crate::time::SharedClock;

/// The hub's replica id in every store's sync sessions and its automerge actor.
pub const HUB_REPLICA: &str = "hub";
/// Incremental saves of a document kept before they are compacted into its snapshot.
pub const COMPACT_EVERY: u32 = 100;

/// Where a document stands in storage.
#[derive(Debug, Default, Clone, Copy)]
struct ChunkState {
    /// Sequence number of the last stored chunk.
    last: i64,
    /// Chunks stored since the snapshot.
    count: u32,
    /// A save failed after the document's save point moved: the next save must write a full snapshot.
    needs_snapshot: bool,
}

/// A store's shared documents, in memory, and how far each is saved.
#[derive(Debug)]
pub struct StoreDocs {
    pub docs: Docs,
    chunks: BTreeMap<DocKind, ChunkState>,
}

impl StoreDocs {
    /// Saves the changes of `kinds` since their last save: an incremental chunk,
    /// or a compacted snapshot every [`COMPACT_EVERY`] chunks.
    pub async fn save(
        &mut self,
        db: &Db,
        store_id: &str,
        kinds: &[DocKind],
    ) -> Result<(), sqlx::Error> {
        for &kind in kinds {
            let Some(doc) = self.docs.get_mut(&kind) else {
                continue;
            };
            let st = self.chunks.entry(kind).or_default();
            if st.needs_snapshot {
                db.compact_doc(store_id, kind, doc.compact()).await?;
                *st = ChunkState::default();
                continue;
            }
            let chunk = doc.save_incremental();
            if chunk.is_empty() {
                continue;
            }
            // From here the document's save point has moved: until a write succeeds, only a snapshot is complete.
            st.needs_snapshot = true;
            db.append_chunk(store_id, kind, st.last + 1, chunk).await?;
            st.last += 1;
            st.count += 1;
            st.needs_snapshot = false;
            if st.count >= COMPACT_EVERY {
                st.needs_snapshot = true;
                db.compact_doc(store_id, kind, doc.compact()).await?;
                *st = ChunkState::default();
            }
        }
        Ok(())
    }
}

/// One store's live state.
#[derive(Debug)]
pub struct StoreState {
    pub id: String,
    /// Held for every session step of every connection of this store, so
    /// appends and document changes of one store never interleave.
    pub docs: Mutex<StoreDocs>,
    /// "Something changed: flush." Carries the id of the connection that caused it (0: the API).
    pub flush: broadcast::Sender<u64>,
    /// The store as customers see it (profile and menu), read from the documents
    /// at the heads it carries; re-read only when those heads move.
    pub view: StdMutex<Option<Arc<crate::online::profile::StoreView>>>,
}

impl StoreState {
    /// Tells the store's open connections, except `from`, to flush.
    pub fn notify(&self, from: u64) {
        let _ = self.flush.send(from);
    }
}

/// The events of one store, as the sync session sees them. The session is
/// synchronous: it runs on a blocking thread, and each call here waits for
/// the database on the runtime `rt`.
pub struct HubLog<'a> {
    pub db: &'a Db,
    pub store: &'a str,
    pub rt: &'a Handle,
    /// Where order status changes are published (and whose replica id the `NOTIFY`s carry).
    pub online: &'a Online,
    /// When this step runs (Unix ms, by the hub's clock): the `received_at` of what it appends.
    pub now_ms: i64,
    /// The vector as first read in this step, raised by this step's appends: a
    /// step reads it twice (before applying, and for its ack). Appends by
    /// others meanwhile are missed, which only understates what the hub holds.
    pub vector: std::cell::RefCell<Option<VersionVector>>,
}

impl<'a> HubLog<'a> {
    pub fn new(
        db: &'a Db,
        store: &'a str,
        rt: &'a Handle,
        online: &'a Online,
        now_ms: i64,
    ) -> HubLog<'a> {
        HubLog {
            db,
            store,
            rt,
            online,
            now_ms,
            vector: Default::default(),
        }
    }
}

fn storage(e: impl std::fmt::Display) -> LogError {
    LogError::Storage(e.to_string())
}

impl EventStore for HubLog<'_> {
    fn vector(&self) -> Result<VersionVector, LogError> {
        if let Some(v) = &*self.vector.borrow() {
            return Ok(v.clone());
        }
        let rows = self
            .rt
            .block_on(self.db.vector(self.store))
            .map_err(storage)?;
        let mut v = VersionVector::new();
        for (origin, seq) in rows {
            v.raise(&origin, seq);
        }
        *self.vector.borrow_mut() = Some(v.clone());
        Ok(v)
    }

    fn range(
        &self,
        origin: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Event>, LogError> {
        if from > to || limit == 0 {
            return Ok(vec![]);
        }
        self.rt
            .block_on(self.db.range(self.store, origin, from, to, limit))
            .map_err(storage)
    }

    fn append(&mut self, events: &[Event]) -> Result<(), LogError> {
        if let Some(e) = events.iter().find(|e| e.store != self.store) {
            return Err(LogError::Storage(format!(
                "event {} belongs to another store",
                e.id
            )));
        }
        match self.rt.block_on(self.db.append_events_from(
            self.store,
            events,
            self.now_ms,
            &self.online.replica,
        )) {
            Ok(updates) => {
                if let Some(v) = self.vector.get_mut() {
                    for e in events {
                        v.raise(&e.origin, e.seq);
                    }
                }
                for u in updates {
                    self.online.publish(u);
                }
                self.online
                    .store_changed(self.store, crate::online::what_events_change(events));
                // A refund asked for at the till: the payments worker carries it out.
                if events
                    .iter()
                    .any(|e| e.kind == domain::fact::kind::REFUND_REQUESTED)
                {
                    self.online.order_changed.notify_one();
                }
                Ok(())
            }
            Err(AppendError::Collision { origin, seq }) => Err(LogError::Forged { origin, seq }),
            Err(AppendError::Sql(e)) => Err(storage(e)),
        }
    }
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store not found")]
    NotFound,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("stored {0} document is unreadable: {1}")]
    Corrupt(&'static str, sync::doc::DocError),
}

/// Open sync connections of one node token: connection id -> "close now".
type TokenConns = HashMap<u64, oneshot::Sender<()>>;

pub struct Hub {
    pub db: Db,
    admin_hash: [u8; 32],
    /// Accounts: token keys, limits, settings.
    pub auth: AuthState,
    /// Seals stored idempotent answers (keys derived from the admin token).
    pub sealer: Sealer,
    stores: Mutex<HashMap<String, Arc<StoreState>>>,
    conns: StdMutex<HashMap<String, TokenConns>>,
    next_conn: AtomicU64,
    /// Set once when the hub shuts down: open connections close.
    pub shutdown: watch::Sender<bool>,
    /// Number of sync connection tasks alive; shutdown waits for 0.
    pub active: watch::Sender<usize>,
    /// Online ordering: status fan-out, node presence, the grace period (`run` sets it from the config).
    pub online: Online,
    /// How long a sync or tracking WebSocket may stay silent before it is dropped (`api_kit::liveness`).
    pub link_timeout: std::time::Duration,
    /// Events held back ahead of gaps: the bytes every sync connection of this
    /// process may hold together, and what one may hold (`run` sets both).
    pub held_back: Arc<sync::session::HeldPool>,
    pub held_back_per_link: usize,
    /// Where every request, session and sweep reads the time (a `ManualClock` in tests).
    pub clock: SharedClock,
    /// Card payments, when a processor is configured (`run` sets it from the config).
    pub payments: Option<crate::payments::Payments>,
    /// Pairing-code guessing limits and the nonces of signed node sync headers.
    pub enroll_guard: crate::http::nodes::EnrollGuard,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("db", &self.db.backend())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Runs `work` now and then every `period` until the hub shuts down (a
    /// late tick waits rather than bunching up).
    pub async fn every<F: Future<Output = ()>>(
        &self,
        period: std::time::Duration,
        mut work: impl FnMut() -> F,
    ) {
        let mut shutdown = self.shutdown.subscribe();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
            }
            work().await;
        }
    }

    /// A hub over `db` reading `clock`; its signing keys are loaded by
    /// `auth.load_keys` (as `run` does).
    pub fn new(db: Db, admin_token: &str, auth: AuthConfig, clock: SharedClock) -> Hub {
        Hub {
            db,
            admin_hash: Sha256::digest(admin_token.as_bytes()).into(),
            auth: AuthState::new(auth, clock.clone()),
            sealer: Sealer::from_secret(admin_token),
            stores: Mutex::new(HashMap::new()),
            conns: StdMutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            shutdown: watch::Sender::new(false),
            active: watch::Sender::new(0),
            online: Online::default(),
            link_timeout: api_kit::liveness::DEFAULT_TIMEOUT,
            held_back: sync::session::HeldPool::new(crate::DEFAULT_HELD_BACK_TOTAL),
            held_back_per_link: sync::session::MAX_PENDING_BYTES,
            clock,
            payments: None,
            enroll_guard: Default::default(),
        }
    }

    /// Now, in Unix milliseconds, by the hub's clock.
    pub fn now_ms(&self) -> i64 {
        crate::time::ms(&*self.clock)
    }

    /// Tells a store's open sync connections on this replica to flush (when the store is open here).
    pub async fn wake(&self, id: &str) {
        if let Some(s) = self.stores.lock().await.get(id) {
            s.notify(0);
        }
    }

    /// Tells every open store's sync connections on this replica to flush.
    pub async fn wake_all(&self) {
        for s in self.stores.lock().await.values() {
            s.notify(0);
        }
    }

    /// Whether `token` is the admin token. Both sides are hashed first and the
    /// digests compared without an early exit, so timing tells nothing.
    pub fn is_admin(&self, token: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        given
            .iter()
            .zip(self.admin_hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// A store's live state, loading its documents on first use.
    pub async fn store(&self, id: &str) -> Result<Arc<StoreState>, StoreError> {
        let mut stores = self.stores.lock().await;
        if let Some(s) = stores.get(id) {
            return Ok(s.clone());
        }
        if !self.db.store_exists(id).await? {
            return Err(StoreError::NotFound);
        }
        let mut docs = Docs::new();
        let mut chunks = BTreeMap::new();
        for kind in DocKind::ALL {
            let stored = self.db.load_doc(id, kind).await?;
            let doc = if stored.snapshot.is_none() && stored.chunks.is_empty() {
                SharedDoc::new(kind, HUB_REPLICA.as_bytes())
            } else {
                SharedDoc::load(
                    kind,
                    HUB_REPLICA.as_bytes(),
                    stored.snapshot.as_deref().unwrap_or_default(),
                    &stored.chunks,
                )
                .map_err(|e| StoreError::Corrupt(kind.as_str(), e))?
            };
            docs.insert(kind, doc);
            chunks.insert(
                kind,
                ChunkState {
                    last: stored.last_chunk,
                    count: u32::try_from(stored.chunks.len()).unwrap_or(u32::MAX),
                    needs_snapshot: false,
                },
            );
        }
        let state = Arc::new(StoreState {
            id: id.to_owned(),
            docs: Mutex::new(StoreDocs { docs, chunks }),
            flush: broadcast::channel(16).0,
            view: StdMutex::new(None),
        });
        stores.insert(id.to_owned(), state.clone());
        Ok(state)
    }

    /// Registers a sync connection of a token; the receiver fires when the token is revoked.
    pub fn register(self: &Arc<Self>, hash: &str) -> (ConnGuard, oneshot::Receiver<()>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(hash.to_owned())
            .or_default()
            .insert(id, tx);
        self.active.send_modify(|n| *n += 1);
        (
            ConnGuard {
                hub: self.clone(),
                hash: hash.to_owned(),
                id,
            },
            rx,
        )
    }

    /// Closes every open connection of a token; returns how many there were.
    pub fn close_token(&self, hash: &str) -> usize {
        let conns = self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash)
            .unwrap_or_default();
        let n = conns.len();
        for (_, tx) in conns {
            let _ = tx.send(());
        }
        n
    }

    /// Tells the other replicas that a node credential (`key`, as registered) of
    /// `store` was revoked, so their links of it close too. The revocation itself
    /// is already in the database, which every replica reads before accepting a
    /// link, so a lost notice only lets an open link live until it reconnects.
    pub async fn announce_revocation(&self, store: &str, key: &str) {
        if let Err(e) = self
            .db
            .announce_revocation(&self.online.replica, store, key)
            .await
        {
            tracing::warn!(error = %e, store, "revocation not announced to other replicas");
        }
    }
}

/// A registered connection; unregisters when dropped.
pub struct ConnGuard {
    hub: Arc<Hub>,
    hash: String,
    pub id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        {
            let mut conns = self.hub.conns.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = conns.get_mut(&self.hash) {
                m.remove(&self.id);
                if m.is_empty() {
                    conns.remove(&self.hash);
                }
            }
        }
        self.hub.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn documents_compact_every_hundred_chunks_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        assert!(
            db.create_store("s1", "Store", None, crate::time::system_now_ms())
                .await
                .unwrap()
        );
        let hub = Hub::new(
            db.clone(),
            "admin-token-for-tests",
            AuthConfig::default(),
            crate::time::system_clock(),
        );
        let store = hub.store("s1").await.unwrap();
        let kind = DocKind::Settings;
        for i in 0..150 {
            let mut g = store.docs.lock().await;
            let doc = g.docs.get_mut(&kind).unwrap();
            doc.put_root("n", &serde_json::json!(i)).unwrap();
            g.save(&db, "s1", &[kind]).await.unwrap();
        }
        // 100 chunks were folded into the snapshot; 50 remain.
        assert_eq!(db.chunk_count("s1", kind).await.unwrap(), 50);
        let hub2 = Hub::new(
            db.clone(),
            "admin-token-for-tests",
            AuthConfig::default(),
            crate::time::system_clock(),
        );
        let store2 = hub2.store("s1").await.unwrap();
        let g = store2.docs.lock().await;
        assert_eq!(
            g.docs[&kind].root("n").unwrap(),
            Some(serde_json::json!(149))
        );
        db.close().await;
    }

    #[tokio::test]
    async fn admin_token_compares_whole() {
        let db = Db::Sqlite(sqlx::sqlite::SqlitePool::connect_lazy("sqlite::memory:").unwrap());
        let hub = Hub::new(
            db,
            "secret-admin-token",
            AuthConfig::default(),
            crate::time::system_clock(),
        );
        assert!(hub.is_admin("secret-admin-token"));
        assert!(!hub.is_admin("secret-admin-toke"));
        assert!(!hub.is_admin(""));
    }
}
