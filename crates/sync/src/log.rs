//! The event log: facts (an order placed, a status change, a payment) that
//! replicas exchange, never edit. Each event has a UUIDv7 `id`, the `store` it
//! belongs to, its `origin` replica and a dense per-origin `seq` from 1.
//!
//! Replicas hold, per origin, a gap-free prefix `1..=n` (their
//! [`VersionVector`]); the session appends incoming events in order and holds
//! back any that arrive ahead of a gap. Storage is a port, [`EventStore`]: the
//! servers implement it over SQLite or PostgreSQL, tests use [`MemoryLog`].

use std::collections::BTreeMap;

use crate::VersionVector;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: uuid::Uuid,
    pub store: String,
    pub origin: String,
    pub seq: u64,
    /// Hybrid logical clock time, sortable text.
    pub hlc: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub data: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("event {origin}#{seq} differs from the one already held: a forged or corrupt event")]
    Forged { origin: String, seq: u64 },
    #[error("event storage failed: {0}")]
    Storage(String),
}

/// Where a replica keeps its events.
pub trait EventStore {
    /// How much of each origin is held.
    fn vector(&self) -> Result<VersionVector, LogError>;
    /// Events of `origin` with `from <= seq <= to`, in order, at most `limit`.
    fn range(&self, origin: &str, from: u64, to: u64, limit: usize)
    -> Result<Vec<Event>, LogError>;
    /// Appends events, each the next of its origin, in one durable step.
    fn append(&mut self, events: &[Event]) -> Result<(), LogError>;
}

/// An in-memory event store, for tests and the simulated network.
#[derive(Debug, Default, Clone)]
pub struct MemoryLog {
    events: BTreeMap<(String, u64), Event>,
    vector: VersionVector,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a new local event of `origin`.
    pub fn record(
        &mut self,
        store: &str,
        origin: &str,
        kind: &str,
        subject: Option<&str>,
        data: serde_json::Value,
    ) -> Event {
        let seq = self.vector.get(origin) + 1;
        let e = Event {
            id: uuid::Uuid::now_v7(),
            store: store.into(),
            origin: origin.into(),
            seq,
            hlc: format!("{seq:016}"),
            kind: kind.into(),
            subject: subject.map(str::to_owned),
            data,
        };
        self.vector.apply(origin, seq);
        self.events.insert((origin.into(), seq), e.clone());
        e
    }

    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.values()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

impl EventStore for MemoryLog {
    fn vector(&self) -> Result<VersionVector, LogError> {
        Ok(self.vector.clone())
    }

    fn range(
        &self,
        origin: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Event>, LogError> {
        if from > to {
            return Ok(vec![]);
        }
        Ok(self
            .events
            .range((origin.to_owned(), from)..=(origin.to_owned(), to))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    fn append(&mut self, events: &[Event]) -> Result<(), LogError> {
        for e in events {
            if self.vector.apply(&e.origin, e.seq) != crate::Applied::Advanced {
                return Err(LogError::Storage(format!(
                    "{}#{} is not the next event of its origin",
                    e.origin, e.seq
                )));
            }
            self.events.insert((e.origin.clone(), e.seq), e.clone());
        }
        Ok(())
    }
}
