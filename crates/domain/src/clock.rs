//! Time as the domain sees it: a `Clock` port, [`Millis`] (the one millisecond
//! timestamp both servers can share), the two clocks that implement the port
//! ([`SystemClock`] for the servers, [`ManualClock`] for tests that move time
//! by hand instead of sleeping), and a hybrid logical clock (HLC) that orders
//! events across replicas even when wall clocks drift.
//!
//! Reading the system clock is not IO in the sense of the domain's purity rule:
//! it needs nothing beyond `std`, and a server that wants another source passes
//! its own `Clock`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the servers read the time: `now` from whatever source they trust.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// A point in time: whole milliseconds since the Unix epoch, never negative.
///
/// The store node keeps these as `u64` and the hub as `i64` (SQLite and
/// PostgreSQL integers are signed); every `Millis` fits both, so both
/// conversions out are infallible and only the conversions in can fail
/// (`-1`, or a `u64` above `i64::MAX`). Serialised as the plain number.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Millis(i64);

/// A number of milliseconds that is not a [`Millis`]: negative, or above `i64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a time in milliseconds since 1970 (0 to {max})", max = i64::MAX)]
pub struct MillisOutOfRange(pub i128);

impl Millis {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Millis = Millis(0);
    /// The latest time a `Millis` holds (about 292 million years from now).
    pub const MAX: Millis = Millis(i64::MAX);

    /// `ms` milliseconds since the epoch.
    pub const fn new(ms: i64) -> Result<Millis, MillisOutOfRange> {
        if ms < 0 {
            Err(MillisOutOfRange(ms as i128))
        } else {
            Ok(Millis(ms))
        }
    }

    /// The time `t`, as the servers' `now_ms` read it: before the epoch is the
    /// epoch, beyond [`Millis::MAX`] is `MAX`.
    pub fn from_system_time(t: SystemTime) -> Millis {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(_) => Millis::EPOCH,
        }
    }

    /// As the hub stores it.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// As the store node stores it.
    pub const fn as_u64(self) -> u64 {
        self.0 as u64 // never negative
    }

    /// `d` later, or [`Millis::MAX`].
    pub fn saturating_add(self, d: Duration) -> Millis {
        let d = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Millis(self.0.saturating_add(d))
    }

    /// `d` earlier, or [`Millis::EPOCH`].
    pub fn saturating_sub(self, d: Duration) -> Millis {
        let d = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Millis(self.0.saturating_sub(d).max(0))
    }

    /// How long after `earlier` this is; zero when it is not after it.
    pub fn saturating_since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

impl TryFrom<i64> for Millis {
    type Error = MillisOutOfRange;
    fn try_from(ms: i64) -> Result<Millis, MillisOutOfRange> {
        Millis::new(ms)
    }
}

impl TryFrom<u64> for Millis {
    type Error = MillisOutOfRange;
    fn try_from(ms: u64) -> Result<Millis, MillisOutOfRange> {
        i64::try_from(ms)
            .map(Millis)
            .map_err(|_| MillisOutOfRange(i128::from(ms)))
    }
}

impl From<Millis> for i64 {
    fn from(t: Millis) -> i64 {
        t.as_i64()
    }
}

impl From<Millis> for u64 {
    fn from(t: Millis) -> u64 {
        t.as_u64()
    }
}

/// The machine's wall clock: what the servers read today through their own `now_ms`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::from_system_time(SystemTime::now())
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`], [`ManualClock::set`]),
/// so a test of expiry or timeouts steps over an hour without waiting for it. Safe to
/// share between threads (`Arc<ManualClock>`); every reader sees each change at once.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Millis) -> ManualClock {
        ManualClock {
            ms: AtomicI64::new(start.as_i64()),
        }
    }

    /// Moves the clock `d` forward (stopping at [`Millis::MAX`]); the new time.
    pub fn advance(&self, d: Duration) -> Millis {
        let d = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let before = self
            .ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ms| {
                Some(ms.saturating_add(d))
            })
            .unwrap_or_else(|ms| ms); // the closure always returns Some
        Millis(before.saturating_add(d))
    }

    /// Shows `t` from now on, also when that is earlier: a test may turn the clock back,
    /// as a machine's clock can be turned back.
    pub fn set(&self, t: Millis) {
        self.ms.store(t.as_i64(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.ms.load(Ordering::SeqCst))
    }
}

/// A hybrid logical clock reading: wall time in ms plus a counter that breaks ties.
///
/// Readings are totally ordered and `tick`/`observe` never go backwards, even
/// if the machine's wall clock does.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Hlc {
    pub wall_ms: u64,
    pub logical: u32,
}

impl Hlc {
    /// The next reading for a local event.
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.wall_ms {
            Hlc {
                wall_ms: now_ms,
                logical: 0,
            }
        } else {
            self.bump()
        }
    }

    /// The next reading after receiving an event stamped `remote`.
    pub fn observe(self, remote: Hlc, now_ms: u64) -> Hlc {
        let wall = now_ms.max(self.wall_ms).max(remote.wall_ms);
        if wall == now_ms && now_ms > self.wall_ms && now_ms > remote.wall_ms {
            return Hlc {
                wall_ms: wall,
                logical: 0,
            };
        }
        self.max(remote).with_wall(wall).bump()
    }

    fn with_wall(self, wall_ms: u64) -> Hlc {
        if wall_ms > self.wall_ms {
            Hlc {
                wall_ms,
                logical: 0,
            }
        } else {
            self
        }
    }

    fn bump(self) -> Hlc {
        match self.logical.checked_add(1) {
            Some(l) => Hlc {
                wall_ms: self.wall_ms,
                logical: l,
            },
            None => Hlc {
                wall_ms: self.wall_ms + 1,
                logical: 0,
            },
        }
    }

    /// A sortable single-string form: `0001732590000000-00000003`.
    pub fn encode(&self) -> String {
        format!("{:016}-{:08}", self.wall_ms, self.logical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards_when_the_wall_clock_does() {
        let a = Hlc::default().tick(1000);
        let b = a.tick(900);
        assert!(b > a);
        let c = b.observe(
            Hlc {
                wall_ms: 5000,
                logical: 7,
            },
            1000,
        );
        assert!(
            c > Hlc {
                wall_ms: 5000,
                logical: 7
            }
        );
        assert!(c.encode() > b.encode());
    }

    #[test]
    fn millis_fits_both_servers_representations() {
        let t = Millis::new(1_733_500_000_123).unwrap();
        assert_eq!(t.as_i64(), 1_733_500_000_123);
        assert_eq!(t.as_u64(), 1_733_500_000_123);
        assert_eq!(Millis::try_from(t.as_u64()), Ok(t));
        assert_eq!(Millis::try_from(t.as_i64()), Ok(t));
        assert_eq!(i64::from(Millis::MAX), i64::MAX);
        assert_eq!(u64::from(Millis::MAX), i64::MAX as u64);
        assert_eq!(Millis::new(-1), Err(MillisOutOfRange(-1)));
        assert_eq!(
            Millis::try_from(i64::MAX as u64 + 1),
            Err(MillisOutOfRange(i128::from(i64::MAX as u64 + 1)))
        );
        assert_eq!(Millis::try_from(u64::MAX).map(Millis::as_u64).ok(), None);
        assert_eq!(Millis::default(), Millis::EPOCH);
    }

    #[test]
    fn millis_arithmetic_saturates_at_both_ends() {
        let t = Millis::new(10_000).unwrap();
        assert_eq!(t.saturating_add(Duration::from_secs(2)).as_i64(), 12_000);
        assert_eq!(t.saturating_sub(Duration::from_millis(500)).as_i64(), 9_500);
        assert_eq!(t.saturating_sub(Duration::from_secs(60)), Millis::EPOCH);
        assert_eq!(
            Millis::MAX.saturating_add(Duration::from_millis(1)),
            Millis::MAX
        );
        assert_eq!(t.saturating_add(Duration::MAX), Millis::MAX);
        let later = t.saturating_add(Duration::from_millis(1_500));
        assert_eq!(later.saturating_since(t), Duration::from_millis(1_500));
        assert_eq!(t.saturating_since(later), Duration::ZERO);
        assert!(t < later);
    }

    #[test]
    fn millis_serialises_as_a_number_and_refuses_negative_ones() {
        let t = Millis::new(1_733_500_000_123).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "1733500000123");
        assert_eq!(serde_json::from_str::<Millis>("1733500000123").unwrap(), t);
        assert!(serde_json::from_str::<Millis>("-5").is_err());
        assert!(serde_json::from_str::<Millis>("1.5").is_err());
    }

    #[test]
    fn millis_from_system_time_clamps_like_the_servers_now_ms() {
        assert_eq!(Millis::from_system_time(UNIX_EPOCH), Millis::EPOCH);
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(Millis::from_system_time(before), Millis::EPOCH);
        let t = UNIX_EPOCH + Duration::from_millis(1_733_500_000_123);
        assert_eq!(Millis::from_system_time(t).as_u64(), 1_733_500_000_123);
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let lo = Millis::from_system_time(SystemTime::now());
        let now = SystemClock.now();
        let hi = Millis::from_system_time(SystemTime::now());
        assert!(lo <= now && now <= hi, "{lo:?} <= {now:?} <= {hi:?}");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Millis::new(1_000_000).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now(), start, "reading does not move it");
        let t = clock.advance(Duration::from_secs(90));
        assert_eq!(t.as_i64(), 1_090_000);
        assert_eq!(clock.now(), t);
        clock.set(Millis::new(5).unwrap());
        assert_eq!(clock.now().as_i64(), 5, "set may turn it back");
        clock.set(Millis::MAX);
        assert_eq!(clock.advance(Duration::from_secs(1)), Millis::MAX);
        // Usable wherever the port is.
        let port: &dyn Clock = &clock;
        assert_eq!(port.now(), Millis::MAX);
    }

    #[test]
    fn a_manual_clock_shared_between_threads_loses_no_step() {
        let clock = std::sync::Arc::new(ManualClock::new(Millis::EPOCH));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || {
                    let mut last = clock.now();
                    for _ in 0..1_000 {
                        let t = clock.advance(Duration::from_millis(1));
                        assert!(t > last, "each advance returns a later time");
                        last = t;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(clock.now().as_i64(), 8_000);
    }
}
