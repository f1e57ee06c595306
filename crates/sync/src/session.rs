//! One side of a sync connection between a store node and the hub, as a state
//! machine: frames in, frames out, no IO. Both sides run the same code.
//!
//! On connect each side calls [`Session::start`]: it announces its version
//! vector (`Hello`) and opens automerge sync for each shared document. A side
//! that learns the other's vector sends the events the other lacks, in batches,
//! in order; the receiver appends them (idempotently: an event already held is
//! checked to be the same event and skipped), holds back any that arrive ahead
//! of a gap and answers with an `Ack` of what it now holds. If a gap remains
//! it also sends a fresh `Hello`, which makes the sender resend from there: a
//! request for the missing range. Lost, duplicated and reordered frames are
//! therefore harmless; a reconnect simply starts over from the vectors.
//!
//! Frames are bounded by bytes, not only by count: an `Events` frame is filled
//! up to the session's frame budget ([`wire::FRAME_BUDGET`]), one call sends at
//! most [`FLUSH_FRAMES`] budgets before waiting for an ack, and
//! [`Session::encode`] cuts any frame still over the budget into parts for a
//! peer that joins them. So a day of the largest orders taken offline reaches
//! the peer in frames it accepts, however many there are.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::VersionVector;
use crate::doc::{DocError, DocKind, SharedDoc};
use crate::log::{Event, EventStore, LogError};
use crate::wire::{self, Frame, WireError};

/// Events per `Events` frame.
pub const BATCH: usize = 500;
/// Events sent per call before waiting for the peer's ack.
pub const MAX_EVENTS_PER_FLUSH: usize = 20_000;
/// Frame budgets of events sent per call before waiting for the peer's ack:
/// 16 MiB at the default budget, which keeps a link busy for a round trip
/// without holding a day's backlog in memory at once.
pub const FLUSH_FRAMES: usize = 4;
/// Bytes of an `Events` frame besides its events (header, `{"events":[]}`).
const EVENTS_OVERHEAD: usize = 32;
/// Events held back ahead of gaps per connection; more are dropped (and asked for again later).
pub const MAX_PENDING: usize = 100_000;
/// Bytes of events held back ahead of gaps per connection, unless set
/// ([`Session::with_held_budget`]): four frame budgets, room for what a peer
/// sends in one flush, while one connection cannot make a replica hold more.
pub const MAX_PENDING_BYTES: usize = 4 * wire::FRAME_BUDGET;

/// Bytes of events held back ahead of gaps that all sessions of one process
/// may use together: one peer (or many) sending far ahead of a gap cannot
/// exhaust a server's memory. Sessions take from it and give back when the gap
/// fills or the connection ends.
#[derive(Debug)]
pub struct HeldPool {
    limit: usize,
    used: AtomicUsize,
}

impl HeldPool {
    pub fn new(limit: usize) -> Arc<HeldPool> {
        Arc::new(HeldPool {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Takes `n` bytes if they fit under the limit.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + n <= self.limit).then_some(u + n)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bytes held now, by every session together.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// What an event costs to hold: its encoded size (its JSON, as on the wire).
fn event_bytes(e: &Event) -> usize {
    serde_json::to_vec(e).map_or(0, |v| v.len())
}

/// The shared documents of one store.
pub type Docs = BTreeMap<DocKind, SharedDoc>;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the peer syncs store {theirs}, this connection is for store {ours}")]
    WrongStore { ours: String, theirs: String },
    #[error("event {0} belongs to another store")]
    ForeignEvent(uuid::Uuid),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Doc(#[from] DocError),
    #[error("the peer closed with {code}: {message}")]
    Remote { code: String, message: String },
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl SessionError {
    /// A stable code for the `Error` frame sent before closing.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::WrongStore { .. } => "wrong_store",
            SessionError::ForeignEvent(_) => "foreign_event",
            SessionError::Log(LogError::Forged { .. }) => "forged_event",
            SessionError::Log(_) => "storage",
            SessionError::Doc(_) => "bad_document",
            SessionError::Remote { .. } => "remote_error",
            SessionError::Wire(_) => "bad_frame",
        }
    }

    /// The frame that tells the peer why the connection ends.
    pub fn frame(&self) -> Frame {
        Frame::Error {
            code: self.code().into(),
            message: self.to_string(),
        }
    }
}

/// What handling one frame produced.
#[derive(Debug, Default)]
pub struct Step {
    /// Frames to send to the peer, in order.
    pub send: Vec<Frame>,
    /// Documents that changed: rebuild their projections.
    pub docs_changed: Vec<DocKind>,
    /// Events newly appended to the local log, in order.
    pub applied: Vec<Event>,
}

#[derive(Debug)]
pub struct Session {
    replica: String,
    store: String,
    peer: Option<String>,
    /// What the peer said it holds (hello, ack).
    remote: Option<VersionVector>,
    /// What has been sent to the peer on this connection (at least `remote`).
    sent: VersionVector,
    pending: BTreeMap<(String, u64), Event>,
    doc_states: BTreeMap<DocKind, automerge::sync::State>,
    /// Largest frame built on purpose ([`wire::FRAME_BUDGET`] unless set).
    budget: usize,
    /// Bytes of `pending`, its limit, and the budget shared with other connections (if any).
    pending_bytes: usize,
    max_pending_bytes: usize,
    pool: Option<Arc<HeldPool>>,
    /// What the peer's hello said it reads beyond the base protocol.
    peer_features: Vec<String>,
    parts: wire::Assembler,
}

impl Session {
    pub fn new(replica: &str, store: &str) -> Session {
        Session {
            replica: replica.into(),
            store: store.into(),
            peer: None,
            remote: None,
            sent: VersionVector::new(),
            pending: BTreeMap::new(),
            doc_states: BTreeMap::new(),
            budget: wire::FRAME_BUDGET,
            pending_bytes: 0,
            max_pending_bytes: MAX_PENDING_BYTES,
            pool: None,
            peer_features: vec![],
            parts: wire::Assembler::default(),
        }
    }

    /// The same session with a smaller frame budget (at most [`wire::FRAME_BUDGET`]):
    /// the simulator uses a tiny one so that every run splits frames.
    pub fn with_frame_budget(mut self, bytes: usize) -> Session {
        self.budget = bytes.min(wire::FRAME_BUDGET);
        self
    }

    /// The same session holding back at most `per_connection` bytes of events
    /// ahead of gaps, and taking them from `pool`, which other connections share.
    pub fn with_held_budget(mut self, per_connection: usize, pool: Arc<HeldPool>) -> Session {
        self.max_pending_bytes = per_connection;
        self.pool = Some(pool);
        self
    }

    /// Whether the peer's hello listed `feature` (one of [`wire::FEATURES`]).
    pub fn peer_reads(&self, feature: &str) -> bool {
        self.peer_features.iter().any(|f| f == feature)
    }

    /// The messages that carry `frame` to this peer: one, or its parts when it
    /// is over the frame budget and the peer joins parts.
    pub fn encode(&self, frame: &Frame) -> Vec<Vec<u8>> {
        wire::encode_within(frame, self.budget, self.peer_reads(wire::FEATURE_PARTS))
    }

    /// The first frames of a (re)connection; forgets everything about the previous one.
    pub fn start(
        &mut self,
        log: &impl EventStore,
        docs: &mut Docs,
    ) -> Result<Vec<Frame>, SessionError> {
        self.remote = None;
        self.sent = VersionVector::new();
        self.release_pending();
        self.doc_states.clear();
        self.peer_features.clear();
        self.parts = wire::Assembler::default();
        let mut out = vec![self.hello(log)?];
        out.extend(self.doc_messages(docs));
        Ok(out)
    }

    fn hello(&self, log: &impl EventStore) -> Result<Frame, SessionError> {
        Ok(Frame::Hello {
            store: self.store.clone(),
            replica: self.replica.clone(),
            vector: log.vector()?,
            features: crate::wire::FEATURES
                .iter()
                .map(|f| f.to_string())
                .collect(),
        })
    }

    /// The peer's replica id, once it said hello.
    pub fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }

    /// What the peer has acknowledged holding.
    pub fn acked(&self) -> Option<&VersionVector> {
        self.remote.as_ref()
    }

    /// Handles one frame from the peer.
    pub fn receive(
        &mut self,
        frame: Frame,
        log: &mut impl EventStore,
        docs: &mut Docs,
    ) -> Result<Step, SessionError> {
        let mut step = Step::default();
        match frame {
            Frame::Hello {
                store,
                replica,
                vector,
                features,
            } => {
                if store != self.store {
                    return Err(SessionError::WrongStore {
                        ours: self.store.clone(),
                        theirs: store,
                    });
                }
                self.peer = Some(replica);
                self.peer_features = features;
                self.sent = vector.clone();
                self.remote = Some(vector);
                step.send = self.events_to_send(log)?;
            }
            Frame::Events { events } => {
                if let Some(e) = events.iter().find(|e| e.store != self.store) {
                    return Err(SessionError::ForeignEvent(e.id));
                }
                // The peer holds what it sends (a gap-free prefix of each origin): never send it back.
                for e in &events {
                    self.sent.raise(&e.origin, e.seq);
                    self.remote
                        .get_or_insert_with(VersionVector::new)
                        .raise(&e.origin, e.seq);
                }
                let mut dropped = false;
                step.applied = self.apply(events, log, &mut dropped)?;
                step.send.push(Frame::Ack {
                    vector: log.vector()?,
                });
                if !self.pending.is_empty() || dropped {
                    step.send.push(self.hello(log)?);
                }
            }
            Frame::Ack { vector } => {
                let remote = self.remote.get_or_insert_with(VersionVector::new);
                remote.merge(&vector);
                self.sent.merge(&vector);
                step.send = self.events_to_send(log)?;
            }
            Frame::Doc { kind, message } => {
                let doc = docs
                    .entry(kind)
                    .or_insert_with(|| SharedDoc::new(kind, self.replica.as_bytes()));
                let state = self.doc_states.entry(kind).or_default();
                let before = doc.heads();
                doc.receive_sync_message(state, &message)?;
                if doc.heads() != before {
                    step.docs_changed.push(kind);
                }
                if let Some(reply) = doc.generate_sync_message(state) {
                    step.send.push(Frame::Doc {
                        kind,
                        message: reply,
                    });
                }
            }
            Frame::Error { code, message } => return Err(SessionError::Remote { code, message }),
            // For whoever drives the session (the node keeps them); nothing to sync.
            Frame::Keys { .. } | Frame::EndedSessions { .. } => {}
            Frame::Part {
                id,
                index,
                count,
                bytes,
            } => {
                if let Some(frame) = self.parts.push(id, index, count, &bytes)? {
                    return self.receive(frame, log, docs);
                }
            }
        }
        Ok(step)
    }

    /// Frames for whatever changed locally since the last call: new events, document edits.
    pub fn flush(
        &mut self,
        log: &impl EventStore,
        docs: &mut Docs,
    ) -> Result<Vec<Frame>, SessionError> {
        if self.remote.is_none() {
            return Ok(vec![]);
        }
        let mut out = self.events_to_send(log)?;
        out.extend(self.doc_messages(docs));
        Ok(out)
    }

    fn events_to_send(&mut self, log: &impl EventStore) -> Result<Vec<Frame>, SessionError> {
        let mine = log.vector()?;
        let mut out = vec![];
        let mut budget = MAX_EVENTS_PER_FLUSH;
        let mut bytes_left = self.budget.saturating_mul(FLUSH_FRAMES);
        'ranges: for range in mine.missing_in(&self.sent) {
            let mut from = range.from;
            while from <= range.to && budget > 0 {
                let events = log.range(&range.origin, from, range.to, BATCH.min(budget))?;
                if events.is_empty() {
                    break;
                }
                // Fill frames up to the budget; an event over it on its own goes alone
                // (and `encode` cuts that frame into parts).
                let mut frame: Vec<Event> = vec![];
                let mut size = EVENTS_OVERHEAD;
                for e in events {
                    let n = serde_json::to_vec(&e).map_or(0, |v| v.len()) + 1;
                    if !frame.is_empty() && size + n > self.budget {
                        out.push(Frame::Events {
                            events: std::mem::take(&mut frame),
                        });
                        size = EVENTS_OVERHEAD;
                    }
                    if bytes_left == 0 {
                        break;
                    }
                    bytes_left = bytes_left.saturating_sub(n);
                    size += n;
                    from = e.seq + 1;
                    budget -= 1;
                    self.sent.raise(&range.origin, e.seq);
                    frame.push(e);
                }
                if !frame.is_empty() {
                    out.push(Frame::Events { events: frame });
                }
                if bytes_left == 0 {
                    // The rest follows the peer's ack.
                    break 'ranges;
                }
            }
        }
        Ok(out)
    }

    /// Appends what can be appended in order; holds back what arrives ahead of
    /// a gap, as far as the held-back budgets allow. What does not fit is
    /// dropped, and `dropped` says so: the caller asks again (a hello) once the
    /// gap is filled, as for any lost frame.
    fn apply(
        &mut self,
        events: Vec<Event>,
        log: &mut impl EventStore,
        dropped: &mut bool,
    ) -> Result<Vec<Event>, SessionError> {
        let mut held = log.vector()?;
        let mut batch: Vec<Event> = vec![];
        for e in events {
            if e.seq == 0 {
                return Err(LogError::Forged {
                    origin: e.origin,
                    seq: 0,
                }
                .into());
            }
            if e.seq <= held.get(&e.origin) {
                // Held already (in the log, or earlier in this batch): it must be the same event.
                let same = match batch
                    .iter()
                    .find(|b| b.origin == e.origin && b.seq == e.seq)
                {
                    Some(b) => b.id == e.id,
                    None => {
                        let have = log.range(&e.origin, e.seq, e.seq, 1)?;
                        have.first().map(|h| h.id) == Some(e.id)
                    }
                };
                if !same {
                    return Err(LogError::Forged {
                        origin: e.origin,
                        seq: e.seq,
                    }
                    .into());
                }
                continue;
            }
            let key = (e.origin.clone(), e.seq);
            if let Some(p) = self.pending.get(&key) {
                if p.id != e.id {
                    return Err(LogError::Forged {
                        origin: e.origin,
                        seq: e.seq,
                    }
                    .into());
                }
                continue;
            }
            if e.seq == held.get(&e.origin) + 1 {
                // Next in line: appended, with whatever was held back right behind it.
                let origin = e.origin.clone();
                held.apply(&origin, e.seq);
                batch.push(e);
                while let Some(p) = self.unhold(&(origin.clone(), held.get(&origin) + 1)) {
                    held.apply(&origin, p.seq);
                    batch.push(p);
                }
            } else if !self.hold(key, e) {
                *dropped = true;
            }
        }
        if !batch.is_empty() {
            log.append(&batch)?;
        }
        Ok(batch)
    }

    /// Holds back `e` if both budgets (this connection's, and the shared one)
    /// have room for it; false when it was dropped instead.
    fn hold(&mut self, key: (String, u64), e: Event) -> bool {
        let size = event_bytes(&e);
        if self.pending.len() >= MAX_PENDING || self.pending_bytes + size > self.max_pending_bytes {
            return false;
        }
        if let Some(pool) = &self.pool
            && !pool.take(size)
        {
            return false;
        }
        self.pending_bytes += size;
        self.pending.insert(key, e);
        true
    }

    fn unhold(&mut self, key: &(String, u64)) -> Option<Event> {
        let e = self.pending.remove(key)?;
        let size = event_bytes(&e);
        self.pending_bytes -= size;
        if let Some(pool) = &self.pool {
            pool.give_back(size);
        }
        Some(e)
    }

    /// Lets go of everything held back (a new connection starts over).
    fn release_pending(&mut self) {
        if let Some(pool) = &self.pool {
            pool.give_back(self.pending_bytes);
        }
        self.pending_bytes = 0;
        self.pending.clear();
    }

    /// Bytes of events held back ahead of gaps on this connection.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn doc_messages(&mut self, docs: &mut Docs) -> Vec<Frame> {
        let mut out = vec![];
        for (kind, doc) in docs.iter_mut() {
            let state = self.doc_states.entry(*kind).or_default();
            if let Some(message) = doc.generate_sync_message(state) {
                out.push(Frame::Doc {
                    kind: *kind,
                    message,
                });
            }
        }
        out
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.release_pending();
    }
}
