//! A WebSocket the hub pushes messages down (customers' order tracking, the
//! merchant's event stream): the client only listens, so what the server must
//! do is the same for every such socket. It pings the client and gives the
//! socket up when nothing came back for the link timeout (`api_kit::liveness`:
//! a half-open socket is not kept), closes it with 1001 when the hub shuts
//! down, notices the client leaving, and bounds every write by the same
//! deadline. What to push, and when, is the caller's.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::watch;

use api_kit::liveness::{Liveness, Tick};

use crate::hub::Hub;

/// Why a push socket ended, for the debug log.
pub type Ended = &'static str;

pub struct PushSocket {
    socket: WebSocket,
    live: Liveness,
    shutdown: watch::Receiver<bool>,
}

impl PushSocket {
    pub fn new(hub: &Hub, socket: WebSocket) -> PushSocket {
        PushSocket {
            socket,
            live: Liveness::new(hub.link_timeout),
            shutdown: hub.shutdown.subscribe(),
        }
    }

    /// Sends `v` as one JSON text message; `Err` when the client cannot take it in time.
    pub async fn send_json(&mut self, v: &impl serde::Serialize) -> Result<(), Ended> {
        let text = serde_json::to_string(v).map_err(|_| "message not serialisable")?;
        match self
            .live
            .write(self.socket.send(Message::Text(text.into())))
            .await
        {
            Ok(Ok(())) => Ok(()),
            _ => Err("send failed"),
        }
    }

    /// Waits for `source` (cancel-safe, e.g. a broadcast receiver's `recv`) while
    /// keeping the socket alive; `Err` when the socket ended first: the client left
    /// or went silent, or the hub is shutting down (the client is told, 1001).
    pub async fn next<T>(&mut self, source: impl Future<Output = T>) -> Result<T, Ended> {
        tokio::pin!(source);
        loop {
            tokio::select! {
                _ = async { drop(self.shutdown.wait_for(|s| *s).await) } => {
                    let close = CloseFrame { code: 1001, reason: "hub shutting down".into() };
                    let _ = self.live.write(self.socket.send(Message::Close(Some(close)))).await;
                    return Err("hub shutting down");
                }
                msg = self.socket.recv() => match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Err("client left"),
                    Some(Ok(_)) => self.live.heard(),
                },
                tick = self.live.tick() => match tick {
                    Tick::Ping => {
                        let ping = self.socket.send(Message::Ping(Vec::new().into()));
                        if !matches!(self.live.write(ping).await, Ok(Ok(()))) {
                            return Err("ping failed");
                        }
                    }
                    Tick::Silent => return Err("client silent"),
                },
                item = &mut source => return Ok(item),
            }
        }
    }
}
