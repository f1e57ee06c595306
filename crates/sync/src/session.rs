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

use std::collections::BTreeMap;

use crate::VersionVector;
use crate::doc::{DocError, DocKind, SharedDoc};
use crate::log::{Event, EventStore, LogError};
use crate::wire::Frame;

/// Events per `Events` frame.
pub const BATCH: usize = 500;
/// Events sent per call before waiting for the peer's ack.
pub const MAX_EVENTS_PER_FLUSH: usize = 20_000;
/// Events held back ahead of gaps before the peer is considered broken.
pub const MAX_PENDING: usize = 100_000;

/// The shared documents of one store.
pub type Docs = BTreeMap<DocKind, SharedDoc>;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the peer syncs store {theirs}, this connection is for store {ours}")]
    WrongStore { ours: String, theirs: String },
    #[error("event {0} belongs to another store")]
    ForeignEvent(uuid::Uuid),
    #[error("too many events held back behind a gap")]
    TooManyPending,
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Doc(#[from] DocError),
    #[error("the peer closed with {code}: {message}")]
    Remote { code: String, message: String },
}

impl SessionError {
    /// A stable code for the `Error` frame sent before closing.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::WrongStore { .. } => "wrong_store",
            SessionError::ForeignEvent(_) => "foreign_event",
            SessionError::TooManyPending => "too_many_pending",
            SessionError::Log(LogError::Forged { .. }) => "forged_event",
            SessionError::Log(_) => "storage",
            SessionError::Doc(_) => "bad_document",
            SessionError::Remote { .. } => "remote_error",
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
        }
    }

    /// The first frames of a (re)connection; forgets everything about the previous one.
    pub fn start(
        &mut self,
        log: &impl EventStore,
        docs: &mut Docs,
    ) -> Result<Vec<Frame>, SessionError> {
        self.remote = None;
        self.sent = VersionVector::new();
        self.pending.clear();
        self.doc_states.clear();
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
                features: _,
            } => {
                if store != self.store {
                    return Err(SessionError::WrongStore {
                        ours: self.store.clone(),
                        theirs: store,
                    });
                }
                self.peer = Some(replica);
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
                step.applied = self.apply(events, log)?;
                step.send.push(Frame::Ack {
                    vector: log.vector()?,
                });
                if !self.pending.is_empty() {
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
            Frame::Keys { .. } => {}
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
        for range in mine.missing_in(&self.sent) {
            let mut from = range.from;
            while from <= range.to && budget > 0 {
                let events = log.range(&range.origin, from, range.to, BATCH.min(budget))?;
                let Some(last) = events.last() else { break };
                from = last.seq + 1;
                budget -= events.len();
                self.sent.raise(&range.origin, last.seq);
                out.push(Frame::Events { events });
            }
        }
        Ok(out)
    }

    /// Appends what can be appended in order; holds back the rest.
    fn apply(
        &mut self,
        events: Vec<Event>,
        log: &mut impl EventStore,
    ) -> Result<Vec<Event>, SessionError> {
        let mut held = log.vector()?;
        for e in events {
            if e.seq == 0 {
                return Err(LogError::Forged {
                    origin: e.origin,
                    seq: 0,
                }
                .into());
            }
            if e.seq <= held.get(&e.origin) {
                let have = log.range(&e.origin, e.seq, e.seq, 1)?;
                if have.first().map(|h| h.id) != Some(e.id) {
                    return Err(LogError::Forged {
                        origin: e.origin,
                        seq: e.seq,
                    }
                    .into());
                }
                continue;
            }
            match self.pending.get(&(e.origin.clone(), e.seq)) {
                Some(p) if p.id != e.id => {
                    return Err(LogError::Forged {
                        origin: e.origin,
                        seq: e.seq,
                    }
                    .into());
                }
                Some(_) => {}
                None => {
                    self.pending.insert((e.origin.clone(), e.seq), e);
                }
            }
        }
        if self.pending.len() > MAX_PENDING {
            return Err(SessionError::TooManyPending);
        }
        let mut batch = vec![];
        let origins: Vec<String> = self.pending.keys().map(|(o, _)| o.clone()).collect();
        for origin in origins {
            while let Some(e) = self
                .pending
                .remove(&(origin.clone(), held.get(&origin) + 1))
            {
                held.apply(&origin, e.seq);
                batch.push(e);
            }
        }
        if !batch.is_empty() {
            log.append(&batch)?;
        }
        Ok(batch)
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
