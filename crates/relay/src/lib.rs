//! A TCP relay that stands in for the network between a store node and the
//! hub in the cross-process tests and benchmarks: it forwards every
//! connection it accepts to a target, counts the bytes it moves each way, and
//! can be told to impair the link the way a real one fails.
//!
//! The machines these tests run on have no `sch_netem` and no packet filter,
//! so the faults are made here, in user space, at the TCP level:
//!
//! - [`Link::BlackHole`]: sockets stay open and no byte moves (a cable pulled
//!   somewhere upstream, a NAT that forgot the flow). Neither end sees a close;
//!   only a liveness check can notice. Bytes already read are held and move
//!   on when the link opens again, as TCP's retransmissions would deliver them.
//! - [`Link::Reset`]: open connections are reset (RST) and new ones refused.
//! - [`Relay::cut`]: open connections are reset once and the bytes the relay
//!   holds are lost; the peers reconnect and must resend what was not
//!   acknowledged. This is how loss and duplication show at the application:
//!   TCP itself never loses or doubles a byte inside one connection.
//! - [`Relay::set_delay`]: every chunk is held for the delay before it moves
//!   on (latency, not a bandwidth limit: chunks overlap in flight).
//!
//! The relay never picks an address: it listens where it is told and connects
//! to its target, so a test decides which addresses carry traffic.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the link does with the bytes offered to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Bytes move (after the delay, if one is set).
    Open,
    /// Connections stay open (new ones are accepted) but no byte moves.
    BlackHole,
    /// Open connections are reset and new ones are reset at once.
    Reset,
}

/// Bytes moved through the relay so far, each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bytes {
    /// From the connecting side (e.g. a node) to the target (e.g. the hub).
    pub up: u64,
    /// From the target back to the connecting side.
    pub down: u64,
}

struct Control {
    link: watch::Sender<Link>,
    /// Bumped to reset every open connection.
    generation: watch::Sender<u64>,
    delay: Mutex<Duration>,
    target: Mutex<SocketAddr>,
    up: AtomicU64,
    down: AtomicU64,
    accepted: AtomicU64,
    /// Connections whose target side ended (closed or failed) while the relay held them.
    target_ended: AtomicU64,
}

/// A running relay; dropping it stops it and resets its connections.
pub struct Relay {
    addr: SocketAddr,
    ctl: Arc<Control>,
    accept: tokio::task::JoinHandle<()>,
}

/// How much one read takes from a socket: a few TCP segments, so a delayed link
/// holds many small chunks in flight rather than one large one.
const CHUNK: usize = 16 * 1024;

/// Chunks held per direction before the relay stops reading (the sender then
/// sees TCP back-pressure, as behind a slow link): 64 × 16 KiB = 1 MiB.
const IN_FLIGHT: usize = 64;

impl Relay {
    /// Listens on `listen` (port 0 picks a free one) and forwards to `target`.
    pub async fn start(listen: SocketAddr, target: SocketAddr) -> io::Result<Relay> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let ctl = Arc::new(Control {
            link: watch::channel(Link::Open).0,
            generation: watch::channel(0).0,
            delay: Mutex::new(Duration::ZERO),
            target: Mutex::new(target),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            target_ended: AtomicU64::new(0),
        });
        let c = ctl.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                c.accepted.fetch_add(1, Ordering::Relaxed);
                if *c.link.borrow() == Link::Reset {
                    let _ = inbound.set_zero_linger();
                    continue;
                }
                tokio::spawn(relay_one(inbound, c.clone()));
            }
        });
        Ok(Relay { addr, ctl, accept })
    }

    /// Where the relay listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets what the link does; [`Link::Reset`] also resets the open connections.
    pub fn set(&self, link: Link) {
        self.ctl.link.send_replace(link);
        if link == Link::Reset {
            self.cut();
        }
    }

    /// What the link does now.
    pub fn link(&self) -> Link {
        *self.ctl.link.borrow()
    }

    /// Holds every chunk for `delay` before it moves on (chunks already held keep their time).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.ctl.delay) = delay;
    }

    /// Resets every open connection now; what the relay held for them is lost.
    pub fn cut(&self) {
        self.ctl.generation.send_modify(|g| *g += 1);
    }

    /// Connects new connections to `target` from now on (a restarted server on a new port).
    pub fn set_target(&self, target: SocketAddr) {
        *lock(&self.ctl.target) = target;
    }

    /// Bytes delivered so far, each way.
    pub fn bytes(&self) -> Bytes {
        Bytes {
            up: self.ctl.up.load(Ordering::Relaxed),
            down: self.ctl.down.load(Ordering::Relaxed),
        }
    }

    /// Connections whose target side ended (closed or failed) so far, counted even while
    /// the link is a black hole and the close cannot reach the other side: how a test sees
    /// that a server dropped a silent peer.
    pub fn target_ended(&self) -> u64 {
        self.ctl.target_ended.load(Ordering::Relaxed)
    }

    /// Connections accepted so far (refused ones included).
    pub fn connections(&self) -> u64 {
        self.ctl.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

fn lock<T: Copy>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The values are plain copies: a panic elsewhere cannot leave them half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn relay_one(mut inbound: TcpStream, ctl: Arc<Control>) {
    let mut reset = ctl.generation.subscribe();
    let target = *lock(&ctl.target);
    let outbound = tokio::select! {
        o = TcpStream::connect(target) => o,
        _ = reset.changed() => Err(io::ErrorKind::ConnectionAborted.into()),
    };
    let Ok(mut outbound) = outbound else {
        // The target is down (or the link was cut meanwhile): the caller sees a reset, as from a
        // closed port.
        let _ = inbound.set_zero_linger();
        return;
    };
    let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
    let failed = {
        let (in_r, in_w) = inbound.split();
        let (out_r, out_w) = outbound.split();
        let up = pump(in_r, out_w, &ctl, &ctl.up, None);
        let down = pump(out_r, in_w, &ctl, &ctl.down, Some(&ctl.target_ended));
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                ok = &mut up, if !up_done => if ok { up_done = true } else { break true },
                ok = &mut down, if !down_done => if ok { down_done = true } else { break true },
                _ = reset.changed() => break true,
            }
            if up_done && down_done {
                break false;
            }
        }
    };
    if failed {
        // Both peers see a reset, as when a middlebox drops the flow, not a polite close.
        let _ = (inbound.set_zero_linger(), outbound.set_zero_linger());
    }
}

/// Moves bytes from `r` to `w` through a delay line, holding them while the link is a black hole.
/// True when `r` ended cleanly and everything read was delivered; false on an error either side.
async fn pump(
    mut r: impl AsyncRead + Unpin,
    mut w: impl AsyncWrite + Unpin,
    ctl: &Control,
    count: &AtomicU64,
    ended: Option<&AtomicU64>,
) -> bool {
    let end = |clean| {
        if let Some(ended) = ended {
            ended.fetch_add(1, Ordering::Relaxed);
        }
        clean
    };
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let read = async move {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match r.read(&mut buf).await {
                Ok(0) => return end(true),
                Ok(n) => n,
                Err(_) => return end(false),
            };
            buf.truncate(n);
            let due = Instant::now() + *lock(&ctl.delay);
            if tx.send((due, buf)).await.is_err() {
                return false;
            }
        }
    };
    let write = async {
        let mut link = ctl.link.subscribe();
        while let Some((due, buf)) = rx.recv().await {
            if link.wait_for(|l| *l == Link::Open).await.is_err() {
                return false;
            }
            tokio::time::sleep_until(due).await;
            if w.write_all(&buf).await.is_err() {
                return false;
            }
            count.fetch_add(buf.len() as u64, Ordering::Relaxed);
        }
        w.shutdown().await.is_ok()
    };
    tokio::pin!(write);
    tokio::select! {
        clean = read => clean && write.await,
        // The writer ends before the reader only when it failed.
        _ = &mut write => false,
    }
}
