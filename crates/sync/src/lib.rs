//! The store–hub sync protocol, sans-IO: values in, values out, no sockets and
//! no runtime. The servers own the connections and the storage.
//!
//! Two shapes of data, two mechanisms:
//! - **Shared documents** ([`doc`], [`catalog`]): automerge documents per store
//!   (catalog, settings, roster) that both sides edit and merge; [`conflicts`]
//!   lists the catalog fields both sides changed apart and settles one.
//! - **Facts** ([`log`]): an append-only event log. Every event has a UUIDv7 id,
//!   its origin replica and a dense per-origin sequence number; a
//!   [`VersionVector`] says how much of each origin a replica holds, so peers
//!   ship exactly the ranges the other side lacks, and applying is idempotent.
//!
//! [`wire`] is the one versioned binary envelope for both, and [`session`] the
//! state machine that a connection runs on each side. [`sim`] is a simulated
//! network (seeded RNG: drop, duplicate, reorder, partition, crash) used by the
//! property tests.

pub mod catalog;
pub mod conflicts;
pub mod doc;
pub mod log;
pub mod session;
pub mod sim;
pub mod wire;

mod vv;
pub use vv::{Applied, Range, VersionVector};
