//! For tests: a TCP relay between a client and a server that can **freeze**.
//!
//! A link that dies without a FIN or RST (a NAT that forgot the connection, a
//! network that drops everything, a frozen peer) is what keep-alive logic must
//! catch, and a plain proxy that drops connections cannot show it. While frozen,
//! this relay keeps every socket open and reads what both sides send, but
//! delivers nothing (the bytes are thrown away, so neither side's writes
//! block and nothing arrives late after a thaw); connections accepted while
//! frozen are held the same way. Thawing lets new connections through again;
//! frozen ones stay dead until a side closes them. The relay counts server
//! sides that closed, so a test can see that a server gave up on a dead client.
//!
//! The node-hub sync link, the hub's customer tracking sockets and the node's
//! event stream are tested through it (store-node, cloud-hub and e2e tests).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay listening on a loopback port, forwarding to one target address.
pub struct Relay {
    pub port: u16,
    frozen: watch::Sender<bool>,
    server_closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens on `127.0.0.1:0` and forwards every connection to `target` (`host:port`).
    pub async fn start(target: impl Into<String>) -> Relay {
        let target = target.into();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("has an address").port();
        let frozen = watch::Sender::new(false);
        let server_closed = Arc::new(AtomicUsize::new(0));
        let (f, closed) = (frozen.clone(), server_closed.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let frozen = f.subscribe();
                if *frozen.borrow() {
                    // Accepted and held: the client's handshake never gets an answer.
                    tokio::spawn(hold(client));
                    continue;
                }
                let (target, closed) = (target.clone(), closed.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::spawn(pump(cr, sw, frozen.clone(), None));
                    pump(sr, cw, frozen, Some(closed)).await;
                });
            }
        });
        Relay {
            port,
            frozen,
            server_closed,
            task,
        }
    }

    /// `host:port` of the relay.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// From now on nothing is delivered in either direction; every socket stays open.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// New connections go through again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// How many server sides closed their end (EOF or error) while this relay held the connection.
    pub fn server_closed(&self) -> usize {
        self.server_closed.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` until `from` ends, then closes `to`, and counts the
/// end in `ended` (if given). Once the relay freezes (even for a moment), this
/// connection is dead for good: what is read is discarded and `to` is held
/// open, never closed (a dead link tells the other side nothing).
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
    ended: Option<Arc<AtomicUsize>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut dead = false;
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = frozen.wait_for(|f| *f), if !dead => {
                dead = true;
                continue;
            }
        };
        if !dead && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    if let Some(ended) = ended {
        ended.fetch_add(1, Ordering::SeqCst);
    }
    if dead {
        let _keep_open = to;
        std::future::pending::<()>().await;
    }
}

/// Holds a connection accepted while frozen: reads and discards, never answers, never closes.
async fn hold(mut client: TcpStream) {
    let mut buf = vec![0u8; 4 * 1024];
    while let Ok(n) = client.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    std::future::pending::<()>().await;
}
