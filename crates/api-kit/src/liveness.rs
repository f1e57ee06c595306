//! Noticing a silent peer on a long-lived connection (the node-hub sync link,
//! the KDS event stream, customers' tracking sockets).
//!
//! A peer that vanishes without a FIN or RST (a frozen process, a NAT or relay
//! that drops traffic, a laptop lid closed) leaves a socket that looks open
//! forever: reads wait, writes fill buffers. So each side pings every third of
//! its timeout (a live WebSocket peer answers a ping with a pong, and browsers
//! do so on their own) and gives the connection up once nothing at all has
//! arrived for the whole timeout. Writes get the same bound, so a full send
//! buffer cannot hold a task past it either.

use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The bound used unless configured: a dead link is noticed within 30 s
/// (ARCHITECTURE.md, "Sync, end to end"), while a live one is pinged every 10 s,
/// often enough for NATs and proxies that drop idle TCP after 30–60 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`Liveness::tick`] says to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick {
    /// Send a ping now.
    Ping,
    /// Nothing arrived for the whole timeout: close the connection.
    Silent,
}

/// The clock of one connection: when the peer was last heard from, and when to ping.
#[derive(Debug)]
pub struct Liveness {
    timeout: Duration,
    heard: Instant,
    ping: Interval,
}

impl Liveness {
    /// Starts counting now; the first ping goes out after a third of `timeout`.
    pub fn new(timeout: Duration) -> Liveness {
        let every = (timeout / 3).max(Duration::from_millis(10));
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Liveness {
            timeout,
            heard: Instant::now(),
            ping,
        }
    }

    /// The bound: how long the peer may stay silent, and how long one write may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The peer sent something (any message, a pong included).
    pub fn heard(&mut self) {
        self.heard = Instant::now();
    }

    /// When the peer will have been silent for the whole timeout, unless heard from before:
    /// the deadline of [`Liveness::tick`]'s `Silent` and of every write.
    pub fn silent_at(&self) -> Instant {
        self.heard + self.timeout
    }

    /// Waits until it is time to ping or to give up. Cancel-safe: use it as a `select!` arm.
    pub async fn tick(&mut self) -> Tick {
        tokio::select! {
            _ = tokio::time::sleep_until(self.silent_at()) => Tick::Silent,
            _ = self.ping.tick() => Tick::Ping,
        }
    }

    /// Runs one write, which must finish before the peer has been silent for the whole
    /// timeout; `Err` when it did not. The deadline is the silence deadline, not a fresh
    /// timeout per write: a write that blocks on a dead link (its buffers full of what we
    /// sent after it died) would otherwise push the detection a whole timeout further.
    pub async fn write<T>(&self, send: impl Future<Output = T>) -> Result<T, Elapsed> {
        tokio::time::timeout_at(self.silent_at(), send)
            .await
            .map_err(|_| Elapsed(self.timeout))
    }
}

/// A write that did not finish within the timeout: the peer stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the peer took no data for {:?}", self.0)
    }
}

impl std::error::Error for Elapsed {}
