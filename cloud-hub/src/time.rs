//! The wall clock as the hub stores it: Unix milliseconds, as `i64` (SQLite and
//! PostgreSQL integers are signed).
//!
//! Time is a port: everything that serves requests reads the [`Clock`] the hub
//! was given (`Hub::clock`, `AuthState`'s), so tests move it by hand with a
//! `ManualClock` instead of sleeping. Only the command-line tools that run
//! without a hub read [`system_now_ms`]; an architecture test keeps every other
//! module off `SystemTime`.

use std::sync::Arc;

pub use domain::clock::{Clock, ManualClock, Millis, SystemClock};

/// The clock a hub reads.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, shared.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// `clock`'s now, in Unix milliseconds.
pub fn ms(clock: &dyn Clock) -> i64 {
    clock.now().as_i64()
}

/// Now by the system clock, for the command-line tools that have no hub (`add-admin`, `keys`).
pub fn system_now_ms() -> i64 {
    SystemClock.now().as_i64()
}
