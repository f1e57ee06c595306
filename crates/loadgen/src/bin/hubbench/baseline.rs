//! The fan-out baseline: the least a process can do to deliver the same
//! status changes to the same sockets on this machine.
//!
//! `hubbench --baseline-server` runs a bare tokio-tungstenite server (in its
//! own process, like the hub): a socket's first message `join N` puts it in
//! group N; a message `fire N` on any socket sends one small JSON text message
//! to every socket of group N through a per-group broadcast channel (what the
//! hub's trackers use). No HTTP, no authentication, no database, no sync.
//! [`measure`] opens the sockets, fires the groups at the pace the kitchen's
//! readies had, and times each delivery from its `fire`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Runs the server until killed; prints `baseline listening on ws://ADDR`.
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("baseline listening on ws://{}", listener.local_addr()?);
    let groups: Arc<std::sync::Mutex<Vec<broadcast::Sender<Arc<str>>>>> = Arc::default();
    loop {
        let (tcp, _) = listener.accept().await?;
        let groups = groups.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            // The hub's tracking sockets' buffer sizes (tungstenite reserves 128 KiB each by default).
            let config = WebSocketConfig::default()
                .read_buffer_size(4 * 1024)
                .write_buffer_size(4 * 1024);
            let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await
            else {
                return;
            };
            let group = |n: usize| {
                let mut g = groups.lock().unwrap_or_else(|p| p.into_inner());
                while g.len() <= n {
                    g.push(broadcast::channel(16).0);
                }
                g[n].clone()
            };
            let mut joined: Option<broadcast::Receiver<Arc<str>>> = None;
            loop {
                tokio::select! {
                    m = ws.next() => {
                        let Some(Ok(Message::Text(t))) = m else { return };
                        let mut words = t.split_whitespace();
                        let (verb, n) = (words.next(), words.next().and_then(|n| n.parse::<usize>().ok()));
                        match (verb, n) {
                            (Some("join"), Some(n)) if n < 100_000 => {
                                joined = Some(group(n).subscribe());
                                if ws.send(Message::Text("joined".into())).await.is_err() {
                                    return;
                                }
                            }
                            (Some("fire"), Some(n)) if n < 100_000 => {
                                let text: Arc<str> = format!(
                                    "{{\"type\":\"status\",\"group\":{n},\"status\":\"ready\",\"at_ms\":{}}}",
                                    super::unix_ms()
                                ).into();
                                let _ = group(n).send(text);
                            }
                            _ => return,
                        }
                    }
                    s = async { joined.as_mut().expect("guarded").recv().await }, if joined.is_some() => {
                        let Ok(text) = s else { return };
                        if ws.send(Message::Text(text.as_ref().into())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Opens `sockets` sockets in `groups` groups, fires group i at `offsets[i]`
/// after the start, and returns the delay from each fire to each delivery.
pub async fn measure(
    url: &str,
    sockets: usize,
    offsets: &[Duration],
) -> anyhow::Result<Histogram<u64>> {
    let groups = offsets.len();
    let joined = super::Tally::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let mut tasks = vec![];
    for s in 0..sockets {
        let (url, joined, done) = (url.to_owned(), joined.clone(), done_tx.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
            let g = s % groups;
            ws.send(Message::Text(format!("join {g}").into())).await?;
            while let Some(m) = ws.next().await {
                let Message::Text(t) = m? else { continue };
                if t.as_str() == "joined" {
                    joined.add();
                } else {
                    let _ = done.send((g, Instant::now()));
                    return Ok(());
                }
            }
            anyhow::bail!("socket {s} closed early")
        }));
    }
    drop(done_tx);
    joined
        .reach(
            sockets as u64,
            Duration::from_secs(120),
            "joined the baseline",
        )
        .await?;
    let (mut ctl, _) = tokio_tungstenite::connect_async(url).await?;
    let start = Instant::now();
    let mut fired = vec![];
    for (g, offset) in offsets.iter().enumerate() {
        // Pacing the load like the kitchen's readies (not synchronisation).
        tokio::time::sleep_until((start + *offset).into()).await;
        fired.push(Instant::now());
        ctl.send(Message::Text(format!("fire {g}").into())).await?;
    }
    let mut h = super::histogram();
    for _ in 0..sockets {
        let (g, at) = tokio::time::timeout(Duration::from_secs(60), done_rx.recv())
            .await
            .context("baseline delivery timed out")?
            .context("baseline sockets ended early")?;
        h.record(at.saturating_duration_since(fired[g]).as_micros().max(1) as u64)?;
    }
    for t in tasks {
        t.await??;
    }
    Ok(h)
}
