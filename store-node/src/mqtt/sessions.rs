//! Who is connected now: one live proxy session per device, the device's
//! last sign of life, and the [`DeviceSignal`] stream that reports changes.
//!
//! Every change of presence happens under one lock and its signal is sent
//! under that lock too, so a consumer that replays the signals in order ends
//! in the same state as [`Sessions::online`]. A session that is taken over (or
//! kicked by the node) is reported `Disconnected` at that moment and ends
//! quietly later; a session that ends by itself reports `Disconnected` only if
//! it is still the device's current one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::{broadcast, oneshot};

use super::DeviceSignal;

/// How many signals a slow subscriber may fall behind before it misses some.
const SIGNAL_CAPACITY: usize = 1024;

pub(crate) struct Sessions {
    signals: broadcast::Sender<DeviceSignal>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    live: HashMap<String, Live>,
    last_seen: HashMap<String, SystemTime>,
    next_id: u64,
    /// One lock per device that has connected, held from forwarding its
    /// CONNECT to the broker until the broker's CONNACK is registered here,
    /// so the broker and this registry agree on which session is the newest.
    handshakes: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

struct Live {
    id: u64,
    /// Tells the session to end, with the reason.
    kick: oneshot::Sender<String>,
}

/// A session that the registry knows as its device's current one.
pub(crate) struct Registration {
    pub id: u64,
    /// Fires when the session must end (taken over, or kicked by the node).
    pub kicked: oneshot::Receiver<String>,
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions {
            signals: broadcast::channel(SIGNAL_CAPACITY).0,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere: every update is a single map operation.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DeviceSignal> {
        self.signals.subscribe()
    }

    /// Sends a signal; nobody listening is fine.
    pub fn emit(&self, signal: DeviceSignal) {
        let _ = self.signals.send(signal);
    }

    /// True when someone listens to signals (to skip copying message payloads otherwise).
    pub fn has_listeners(&self) -> bool {
        self.signals.receiver_count() > 0
    }

    /// The lock serialising `device`'s connection handshakes.
    pub fn handshake_lock(&self, device: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.lock()
            .handshakes
            .entry(device.to_owned())
            .or_default()
            .clone()
    }

    /// Makes a new session the device's current one; an older session is told
    /// to end and reported disconnected first.
    pub fn register(&self, device: &str) -> Registration {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        let (kick, kicked) = oneshot::channel();
        if let Some(old) = state.live.insert(device.to_owned(), Live { id, kick }) {
            let reason = "taken over by a new connection".to_owned();
            let _ = old.kick.send(reason.clone());
            self.emit(DeviceSignal::Disconnected {
                device: device.to_owned(),
                reason,
            });
        }
        state.last_seen.insert(device.to_owned(), SystemTime::now());
        self.emit(DeviceSignal::Connected {
            device: device.to_owned(),
        });
        Registration { id, kicked }
    }

    /// A session ended by itself; reported only if it was still current.
    pub fn end(&self, device: &str, id: u64, reason: &str) {
        let mut state = self.lock();
        if state.live.get(device).is_some_and(|l| l.id == id) {
            state.live.remove(device);
            state.last_seen.insert(device.to_owned(), SystemTime::now());
            self.emit(DeviceSignal::Disconnected {
                device: device.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }

    /// Ends the device's current session, if any. Returns whether there was one.
    pub fn kick(&self, device: &str, reason: &str) -> bool {
        let mut state = self.lock();
        let Some(live) = state.live.remove(device) else {
            return false;
        };
        let _ = live.kick.send(reason.to_owned());
        state.last_seen.insert(device.to_owned(), SystemTime::now());
        self.emit(DeviceSignal::Disconnected {
            device: device.to_owned(),
            reason: reason.to_owned(),
        });
        true
    }

    /// Ends every session.
    pub fn kick_all(&self, reason: &str) {
        let devices: Vec<String> = self.lock().live.keys().cloned().collect();
        for device in devices {
            self.kick(&device, reason);
        }
    }

    /// Device ids with a live session, sorted.
    pub fn online(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().live.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Records a sign of life (a status message).
    pub fn touch(&self, device: &str) {
        self.lock()
            .last_seen
            .insert(device.to_owned(), SystemTime::now());
    }

    pub fn last_seen(&self, device: &str) -> Option<SystemTime> {
        self.lock().last_seen.get(device).copied()
    }
}

/// Ends a registered session in the registry when dropped, whatever ended it
/// (including the task being cancelled).
pub(crate) struct OnlineGuard {
    pub sessions: Arc<Sessions>,
    pub device: String,
    pub id: u64,
    /// Why the session ended; set before the guard drops.
    pub reason: String,
}

impl Drop for OnlineGuard {
    fn drop(&mut self) {
        self.sessions.end(&self.device, self.id, &self.reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(rx: &mut broadcast::Receiver<DeviceSignal>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(s) = rx.try_recv() {
            out.push(match s {
                DeviceSignal::Connected { device } => format!("+{device}"),
                DeviceSignal::Disconnected { device, reason } => format!("-{device} {reason}"),
                other => format!("{other:?}"),
            });
        }
        out
    }

    #[test]
    fn takeover_reports_in_order_and_old_session_ends_quietly() {
        let s = Sessions::new();
        let mut rx = s.subscribe();
        let mut first = s.register("p1");
        let second = s.register("p1");
        assert_eq!(
            first.kicked.try_recv().ok().as_deref(),
            Some("taken over by a new connection")
        );
        s.end("p1", first.id, "closed by the client");
        assert_eq!(s.online(), vec!["p1".to_owned()]);
        s.end("p1", second.id, "closed by the client");
        assert!(s.online().is_empty());
        assert_eq!(
            drain(&mut rx),
            vec![
                "+p1",
                "-p1 taken over by a new connection",
                "+p1",
                "-p1 closed by the client"
            ]
        );
    }

    #[test]
    fn kick_and_guard() {
        let s = Arc::new(Sessions::new());
        let mut rx = s.subscribe();
        let mut reg = s.register("k1");
        let guard = OnlineGuard {
            sessions: s.clone(),
            device: "k1".into(),
            id: reg.id,
            reason: "x".into(),
        };
        assert!(s.kick("k1", "credentials rotated"));
        assert!(!s.kick("k1", "again"));
        assert_eq!(
            reg.kicked.try_recv().ok().as_deref(),
            Some("credentials rotated")
        );
        drop(guard);
        assert_eq!(drain(&mut rx), vec!["+k1", "-k1 credentials rotated"]);
        assert!(s.last_seen("k1").is_some());
        assert!(s.last_seen("nope").is_none());
    }
}
