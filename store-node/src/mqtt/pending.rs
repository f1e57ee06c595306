//! Connections that have not sent their CONNECT yet ("pending"): a budget of
//! their own, per peer address and in total, so silent sockets cannot lock
//! devices out.
//!
//! A TCP connection costs its opener nothing, and until CONNECT the proxy
//! knows nothing about it. When pending and authenticated connections shared
//! one limit, 1,000 silent sockets from one LAN host held every slot for the
//! 10 s CONNECT window and a registered KDS screen got no CONNACK; a host
//! reopening them every 10 s kept every screen off. So:
//!
//! - sessions (CONNECT checked) do not count here; they have their own limit;
//! - one peer address has at most [`PER_PEER`] pending connections: a new one
//!   over that closes that peer's oldest (a real device sends CONNECT within
//!   milliseconds of connecting, so it is never the oldest for long, and a
//!   flood from one host only pushes out its own sockets, also when the
//!   device shares the host's address);
//! - all peers together have at most [`MAX`]: a new one over that closes the
//!   oldest anywhere;
//! - under pressure (over half of [`MAX`] pending) a new connection has
//!   [`PRESSED_WINDOW`] instead of the usual window to send CONNECT.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// Pending connections one peer address may hold: more than a device needs
/// for a burst of reconnects (one at a time, each CONNECTing at once), small
/// enough that one host takes only a sliver of [`MAX`].
pub(crate) const PER_PEER: usize = 16;
/// Pending connections in all: enough for every device of a store reconnecting
/// at once after a power cut (a large store has a few dozen), and far from
/// the file-descriptor limit.
pub(crate) const MAX: usize = 256;
/// Time to send CONNECT for a connection that arrives under pressure: a LAN
/// device connects and sends CONNECT in milliseconds, TLS included.
pub(crate) const PRESSED_WINDOW: Duration = Duration::from_secs(2);

/// The pending connections of one listener (plain and TLS share it).
pub(crate) struct Pending {
    state: Mutex<State>,
    per_peer: usize,
    max: usize,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Oldest first; each entry's sender closes it when dropped.
    all: BTreeMap<u64, (IpAddr, oneshot::Sender<()>)>,
    by_peer: HashMap<IpAddr, BTreeSet<u64>>,
}

impl State {
    fn remove(&mut self, id: u64) {
        if let Some((peer, _closer)) = self.all.remove(&id)
            && let Some(ids) = self.by_peer.get_mut(&peer)
        {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_peer.remove(&peer);
            }
        }
    }
}

/// One pending connection's place; it leaves the budget when dropped (after
/// its CONNECT arrived, or when it closed).
pub(crate) struct Ticket {
    pending: Arc<Pending>,
    id: u64,
    closed: oneshot::Receiver<()>,
    /// Time it has to send CONNECT.
    pub window: Duration,
}

impl Ticket {
    /// Resolves when this connection was pushed out to make room for newer ones.
    pub async fn pushed_out(&mut self) {
        let _ = (&mut self.closed).await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.pending.lock().remove(self.id);
    }
}

impl Pending {
    pub(crate) fn new() -> Arc<Pending> {
        Arc::new(Pending {
            state: Mutex::new(State::default()),
            per_peer: PER_PEER,
            max: MAX,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a new connection from `peer`, pushing out older ones
    /// as needed; `window` is the usual time to send CONNECT.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr, window: Duration) -> Ticket {
        let mut s = self.lock();
        let mut pushed = 0u64;
        while s.by_peer.get(&peer).map_or(0, BTreeSet::len) >= self.per_peer {
            let Some(oldest) = s.by_peer.get(&peer).and_then(|ids| ids.first().copied()) else {
                break;
            };
            s.remove(oldest);
            pushed += 1;
        }
        while s.all.len() >= self.max {
            let Some(oldest) = s.all.keys().next().copied() else {
                break;
            };
            s.remove(oldest);
            pushed += 1;
        }
        if pushed > 0 {
            metrics::counter!("store_mqtt_pending_pushed_out_total").increment(pushed);
            tracing::debug!(%peer, pushed, "MQTT connections without CONNECT closed for newer ones");
        }
        let window = if s.all.len() >= self.max / 2 {
            window.min(PRESSED_WINDOW)
        } else {
            window
        };
        let id = s.next_id;
        s.next_id += 1;
        let (closer, closed) = oneshot::channel();
        s.all.insert(id, (peer, closer));
        s.by_peer.entry(peer).or_default().insert(id);
        drop(s);
        Ticket {
            pending: self.clone(),
            id,
            closed,
            window,
        }
    }

    /// Connections waiting for their CONNECT now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().all.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Ticket {
        fn is_pushed_out(&mut self) -> bool {
            !matches!(
                self.closed.try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            )
        }
    }

    const WINDOW: Duration = Duration::from_secs(10);

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn one_peer_pushes_out_only_its_own_oldest() {
        let p = Pending::new();
        let mut other = p.admit(ip(2), WINDOW);
        let mut flood: Vec<Ticket> = (0..PER_PEER).map(|_| p.admit(ip(1), WINDOW)).collect();
        let newest = p.admit(ip(1), WINDOW);
        assert!(flood[0].is_pushed_out(), "the oldest went");
        assert!(!flood[1].is_pushed_out());
        assert!(!other.is_pushed_out(), "another peer's stays");
        assert_eq!(p.len(), PER_PEER + 1);
        drop(newest);
        drop(flood);
        drop(other);
        assert_eq!(p.len(), 0, "a dropped ticket frees its place");
    }

    #[test]
    fn the_total_is_bounded_and_pressure_shortens_the_window() {
        let p = Pending::new();
        let mut tickets: Vec<Ticket> = (0..MAX)
            .map(|i| p.admit(ip((i % 250) as u8), WINDOW))
            .collect();
        assert_eq!(tickets[0].window, WINDOW);
        assert_eq!(tickets[MAX - 1].window, PRESSED_WINDOW);
        let newest = p.admit(IpAddr::from([10, 0, 1, 1]), WINDOW);
        assert!(tickets[0].is_pushed_out());
        assert_eq!(p.len(), MAX);
        assert_eq!(newest.window, PRESSED_WINDOW);
    }
}
