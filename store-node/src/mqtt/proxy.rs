//! The public MQTT listeners: every device connection is proxied to the
//! internal broker, and the proxy enforces the rules rumqttd cannot (see the
//! `mqtt` module doc): the CONNECT check with a proper CONNACK refusal, the
//! per-device topic rules, the packet size, the keep-alive, and the takeover
//! of a device's older connection.
//!
//! Connections that have not sent CONNECT have a budget of their own
//! ([`super::pending`]); only checked sessions count against the connection
//! limit, so silent sockets cannot keep devices out.
//!
//! Client to broker, the proxy cuts the stream into packets and looks at each
//! one before forwarding its original bytes; broker to client it copies bytes.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::mqttbytes::Protocol;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;

use super::frame;
use super::pending::{Pending, Ticket};
use super::sessions::{OnlineGuard, Registration, Sessions};
use super::topics::{DeviceScope, NODE_CLIENT_ID, is_valid_device_id, is_valid_id};
use super::{DeviceDirectory, DeviceSignal};

/// Time a new connection has for its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a new connection has to send CONNECT and be answered.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle limit for a client that disables keep-alive (keep-alive 0).
pub const IDLE_WITHOUT_KEEP_ALIVE: Duration = Duration::from_secs(60);
/// Bytes read from a client at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Time given to a refusing CONNACK and the close that follows.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything a proxied connection needs.
pub(crate) struct Proxy {
    pub store: String,
    pub directory: Arc<dyn DeviceDirectory>,
    pub sessions: Arc<Sessions>,
    /// The internal broker's loopback address.
    pub broker: SocketAddr,
    /// Largest PUBLISH payload (and last-will message) a device may send.
    pub max_payload: usize,
    /// Largest remaining length of any packet: `max_payload` plus room for topic and headers.
    pub max_packet: usize,
    /// Bounds the number of sessions (connections whose CONNECT was accepted).
    pub connections: Arc<Semaphore>,
    /// Connections still to send CONNECT.
    pub pending: Arc<Pending>,
    /// PUBLISH packets per second one connection may send (0: no limit).
    pub max_publish_rate: u32,
}

/// A token bucket that paces one connection's PUBLISH packets. The proxy
/// stops reading from a device that goes faster, so TCP flow control slows it
/// down: nothing is dropped, and one chatty device cannot flood the broker's
/// queues and crowd out the other devices' heartbeats and bumps.
struct Pacer {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Pacer {
    fn new(per_second: u32) -> Option<Pacer> {
        (per_second > 0).then(|| Pacer {
            rate: f64::from(per_second),
            tokens: f64::from(per_second),
            at: Instant::now(),
        })
    }

    /// Waits until `n` more packets are within the rate (a burst of one second's worth is free).
    async fn take(&mut self, n: u32) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.rate);
        self.at = now;
        self.tokens -= f64::from(n);
        if self.tokens < 0.0 {
            let wait = std::time::Duration::from_secs_f64(-self.tokens / self.rate);
            tokio::time::sleep(wait).await;
        }
    }
}

/// Accepts connections on `listener` for ever, each in its own task.
pub(crate) async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, proxy: Arc<Proxy>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "MQTT accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let mut ticket = proxy.pending.admit(peer.ip(), CONNECT_TIMEOUT);
        // Small packets (a PINGRESP, a print job) must leave at once.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let proxy = proxy.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => proxy.session(stream, peer, ticket).await,
                Some(acceptor) => {
                    let handshake = timeout(
                        TLS_HANDSHAKE_TIMEOUT.min(ticket.window),
                        acceptor.accept(stream),
                    );
                    tokio::select! {
                        shaken = handshake => match shaken {
                            Ok(Ok(stream)) => proxy.session(stream, peer, ticket).await,
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        },
                        () = ticket.pushed_out() => {
                            tracing::debug!(%peer, "closed during its TLS handshake for newer connections");
                        }
                    }
                }
            }
        });
    }
}

/// Why a connection ends before it becomes a session.
struct Refusal {
    /// The CONNACK code to answer with, if any.
    answer: Option<ConnectReturnCode>,
    reason: String,
    /// Reported as a [`DeviceSignal::Violation`] (with the device, once authenticated).
    violation: Option<Option<String>>,
}

impl Refusal {
    fn answer(code: ConnectReturnCode, reason: impl Into<String>) -> Refusal {
        Refusal {
            answer: Some(code),
            reason: reason.into(),
            violation: None,
        }
    }
    fn quiet(reason: impl Into<String>) -> Refusal {
        Refusal {
            answer: None,
            reason: reason.into(),
            violation: None,
        }
    }
    fn violation(mut self, device: Option<&str>) -> Refusal {
        self.violation = Some(device.map(str::to_owned));
        self
    }
}

/// A connection the broker has accepted.
struct Established {
    /// Its place among the sessions.
    _permit: tokio::sync::OwnedSemaphorePermit,
    device: String,
    scope: DeviceScope,
    keep_alive: u16,
    /// When the CONNECT arrived.
    connect_at: Instant,
    broker: TcpStream,
    registration: Registration,
}

/// What an established session's packets are checked against.
struct SessionRules<'a> {
    device: &'a str,
    scope: &'a DeviceScope,
    /// Longest silence allowed between two packets.
    idle: Duration,
}

/// How a session ended.
enum End {
    DeviceDisconnected,
    DeviceClosed,
    DeviceIo(io::Error),
    Idle(Duration),
    Violation(String),
    BrokerClosed,
    BrokerIo(io::Error),
    /// Ended by the registry (takeover, or the node); already reported.
    Kicked(String),
}

impl End {
    fn reason(&self) -> String {
        match self {
            End::DeviceDisconnected => "the device disconnected".into(),
            End::DeviceClosed => "connection closed by the device".into(),
            End::DeviceIo(e) => format!("connection error: {e}"),
            End::Idle(limit) => format!("nothing received for {limit:?} (1.5 × keep-alive)"),
            End::Violation(reason) => format!("violation: {reason}"),
            End::BrokerClosed => "closed by the broker".into(),
            End::BrokerIo(e) => format!("broker connection error: {e}"),
            End::Kicked(reason) => reason.clone(),
        }
    }
}

/// What to do with one packet from a device.
enum Verdict {
    Forward,
    /// Forward it, then end the session (DISCONNECT).
    ForwardThenEnd(End),
    Refuse(String),
}

/// How long a client may stay silent: 1.5 × its keep-alive (MQTT 3.1.1 §3.1.2.10).
pub(crate) fn idle_limit(keep_alive: u16) -> Duration {
    if keep_alive == 0 {
        IDLE_WITHOUT_KEEP_ALIVE
    } else {
        Duration::from_millis(u64::from(keep_alive) * 1500)
    }
}

/// The keep-alive the broker is told: twice the client's (twice the idle cap
/// for 0), so that rumqttd's own idle timer never fires before the proxy's.
pub(crate) fn broker_keep_alive(client: u16) -> u16 {
    let base = match client {
        0 => u16::try_from(IDLE_WITHOUT_KEEP_ALIVE.as_secs()).unwrap_or(u16::MAX),
        n => n,
    };
    base.saturating_mul(2)
}

impl Proxy {
    async fn session<S>(self: Arc<Self>, client: S, peer: SocketAddr, ticket: Ticket)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let (mut client_rd, mut client_wr) = tokio::io::split(client);
        let mut inbuf = Vec::with_capacity(READ_CHUNK);
        let established = match self
            .handshake(&mut client_rd, &mut client_wr, &mut inbuf, ticket)
            .await
        {
            Ok(established) => established,
            Err(refusal) => return self.refuse(&mut client_wr, refusal, peer).await,
        };
        let Established {
            _permit,
            device,
            scope,
            keep_alive,
            connect_at,
            broker,
            mut registration,
        } = established;
        tracing::info!(%peer, %device, keep_alive, "MQTT device connected");
        let mut online = OnlineGuard {
            sessions: self.sessions.clone(),
            device: device.clone(),
            id: registration.id,
            reason: String::new(),
        };

        let (mut broker_rd, broker_wr) = broker.into_split();
        let rules = SessionRules {
            device: &device,
            scope: &scope,
            idle: idle_limit(keep_alive),
        };
        let end = {
            let upstream = self.upstream(&mut client_rd, broker_wr, inbuf, connect_at, &rules);
            let downstream = tokio::io::copy(&mut broker_rd, &mut client_wr);
            tokio::select! {
                end = upstream => end,
                copied = downstream => match copied {
                    Ok(_) => End::BrokerClosed,
                    Err(e) => End::BrokerIo(e),
                },
                kicked = &mut registration.kicked => {
                    End::Kicked(kicked.unwrap_or_else(|_| "ended by the node".into()))
                }
            }
        };

        if let End::Violation(reason) = &end {
            tracing::warn!(%peer, %device, %reason, "MQTT rule violation: connection closed");
            self.sessions.emit(DeviceSignal::Violation {
                device: Some(device.clone()),
                peer,
                reason: reason.clone(),
            });
        }
        online.reason = end.reason();
        tracing::info!(%peer, %device, reason = %online.reason, "MQTT device disconnected");
        // Reported now, not after the close below, which may wait on a stuck client.
        drop(online);
        // A clean close (TLS close_notify, then FIN); the broker side closes on drop.
        let _ = timeout(CLOSE_TIMEOUT, client_wr.shutdown()).await;
    }

    /// Reads and checks CONNECT, verifies the credentials, and lets the broker answer.
    async fn handshake<R, W>(
        &self,
        client_rd: &mut R,
        client_wr: &mut W,
        inbuf: &mut Vec<u8>,
        mut ticket: Ticket,
    ) -> Result<Established, Refusal>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let deadline = Instant::now() + ticket.window;
        let (len, packet) = loop {
            match frame::next_packet(inbuf, self.max_packet) {
                Ok(Some(found)) => break found,
                Ok(None) => {}
                Err(e) => return Err(refuse_bad_connect(inbuf, e)),
            }
            inbuf.reserve(READ_CHUNK);
            let read = tokio::select! {
                read = timeout_at(deadline, client_rd.read_buf(inbuf)) => read,
                () = ticket.pushed_out() => {
                    return Err(Refusal::quiet("no CONNECT yet; closed for newer connections"));
                }
            };
            match read {
                Err(_) => return Err(Refusal::quiet("no CONNECT in time")),
                Ok(Ok(0)) => return Err(Refusal::quiet("closed before CONNECT")),
                Ok(Err(e)) => return Err(Refusal::quiet(format!("connection error: {e}"))),
                Ok(Ok(_)) => {}
            }
        };
        // The keep-alive counts from the last packet received: this CONNECT.
        let connect_at = Instant::now();
        // No longer pending: what it does from here is checked.
        drop(ticket);
        let Packet::Connect(connect) = packet else {
            return Err(Refusal::quiet("the first packet is not CONNECT").violation(None));
        };
        if connect.protocol != Protocol::V4 {
            return Err(Refusal::answer(
                ConnectReturnCode::RefusedProtocolVersion,
                "only MQTT 3.1.1 is supported",
            ));
        }
        let (device, password) = credentials(&connect)?;
        let scope = DeviceScope::new(&self.store, &device).ok_or_else(|| {
            Refusal::answer(ConnectReturnCode::BadUserNamePassword, "invalid device id")
        })?;

        let directory = self.directory.clone();
        let user = device.clone();
        // The directory may be slow (a database, a password hash).
        let verified =
            tokio::task::spawn_blocking(move || directory.verify(&user, password.as_bytes())).await;
        if !matches!(&verified, Ok(Some(id)) if *id == device) {
            return Err(Refusal::answer(
                ConnectReturnCode::NotAuthorized,
                format!("bad credentials for device {device:?}"),
            )
            .violation(None));
        }
        let permit = self
            .connections
            .clone()
            .try_acquire_owned()
            .map_err(|_| unavailable("too many device connections"))?;

        if let Some(will) = &connect.last_will {
            let refused = match scope.check_publish(&will.topic) {
                Err(e) => Some(format!("last will on {:?}: {e}", will.topic)),
                Ok(_) if will.message.len() > self.max_payload => Some(format!(
                    "last will of {} bytes exceeds {}",
                    will.message.len(),
                    self.max_payload
                )),
                Ok(_) => None,
            };
            if let Some(reason) = refused {
                return Err(Refusal::answer(ConnectReturnCode::NotAuthorized, reason)
                    .violation(Some(&device)));
            }
        }

        // From here until the broker's CONNACK is registered, no other
        // connection of this device may pass: the broker and the registry then
        // agree on which connection is the device's newest.
        let turn = self.sessions.handshake_lock(&device);
        let _turn = timeout_at(deadline, turn.lock())
            .await
            .map_err(|_| unavailable("another connection of the device is connecting"))?;

        let mut broker = timeout_at(deadline, TcpStream::connect(self.broker))
            .await
            .map_err(|_| unavailable("broker connection timed out"))?
            .map_err(|e| unavailable(format!("broker connection failed: {e}")))?;
        if let Err(e) = broker.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        // The proxy enforces the keep-alive; rumqttd's own timer (which also
        // refuses 0) gets a longer one and only backs it up.
        if let Some(connect_bytes) = inbuf.get_mut(..len) {
            frame::set_keep_alive(connect_bytes, broker_keep_alive(connect.keep_alive));
        }
        timeout_at(
            deadline,
            broker.write_all(inbuf.get(..len).unwrap_or_default()),
        )
        .await
        .map_err(|_| unavailable("broker write timed out"))?
        .map_err(|e| unavailable(format!("broker write failed: {e}")))?;
        inbuf.drain(..len.min(inbuf.len()));

        // The broker's answer: a CONNACK, or a dropped connection when its own
        // credential check failed (rumqttd sends no CONNACK then).
        let mut answer = Vec::with_capacity(64);
        let connack = loop {
            match frame::next_packet(&answer, self.max_packet) {
                Ok(Some((_, Packet::ConnAck(ack)))) => break ack,
                Ok(Some((_, other))) => {
                    return Err(unavailable(format!("the broker answered {other:?}")));
                }
                Ok(None) => {}
                Err(e) => return Err(unavailable(format!("the broker answered: {e}"))),
            }
            match timeout_at(deadline, broker.read_buf(&mut answer)).await {
                Err(_) => return Err(unavailable("the broker did not answer CONNECT")),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    return Err(Refusal::answer(
                        ConnectReturnCode::NotAuthorized,
                        format!("the broker refused device {device:?}"),
                    ));
                }
                Ok(Ok(_)) => {}
            }
        };
        // Forward the broker's bytes as they are (the CONNACK and anything after it).
        let forward = async {
            client_wr.write_all(&answer).await?;
            client_wr.flush().await
        };
        timeout_at(deadline, forward)
            .await
            .map_err(|_| Refusal::quiet("CONNACK write timed out"))?
            .map_err(|e| Refusal::quiet(format!("connection error: {e}")))?;
        if connack.code != ConnectReturnCode::Success {
            return Err(Refusal::quiet(format!(
                "the broker refused device {device:?}: {:?}",
                connack.code
            )));
        }
        let registration = self.sessions.register(&device);
        Ok(Established {
            _permit: permit,
            device,
            scope,
            keep_alive: connect.keep_alive,
            connect_at,
            broker,
            registration,
        })
    }

    /// Answers a refused connection (if it gets an answer) and closes it.
    async fn refuse<W: AsyncWrite + Unpin>(
        &self,
        client_wr: &mut W,
        refusal: Refusal,
        peer: SocketAddr,
    ) {
        let Refusal {
            answer,
            reason,
            violation,
        } = refusal;
        match &violation {
            Some(device) => {
                tracing::warn!(%peer, ?device, %reason, "MQTT connection refused");
                self.sessions.emit(DeviceSignal::Violation {
                    device: device.clone(),
                    peer,
                    reason,
                });
            }
            None if answer.is_some() => tracing::info!(%peer, %reason, "MQTT connection refused"),
            None => tracing::debug!(%peer, %reason, "MQTT connection closed"),
        }
        let _ = timeout(CLOSE_TIMEOUT, async {
            if let Some(code) = answer {
                client_wr.write_all(&frame::connack(code)).await?;
            }
            client_wr.shutdown().await
        })
        .await;
    }

    /// Client to broker: checks each packet and forwards the accepted ones'
    /// bytes, until the client stops, goes idle or breaks a rule.
    async fn upstream<R: AsyncRead + Unpin>(
        &self,
        client_rd: &mut R,
        mut broker_wr: OwnedWriteHalf,
        mut inbuf: Vec<u8>,
        mut last_packet: Instant,
        rules: &SessionRules<'_>,
    ) -> End {
        let mut pacer = Pacer::new(self.max_publish_rate);
        loop {
            // Whole, accepted packets at the start of `inbuf`.
            let mut ready = 0;
            let mut publishes = 0u32;
            let mut stop = None;
            while stop.is_none() {
                let rest = inbuf.get(ready..).unwrap_or_default();
                match frame::next_packet(rest, self.max_packet) {
                    Ok(None) => break,
                    Ok(Some((len, packet))) => {
                        last_packet = Instant::now();
                        if matches!(packet, Packet::Publish(_)) {
                            publishes += 1;
                        }
                        match self.inspect(packet, rules) {
                            Verdict::Forward => ready += len,
                            Verdict::ForwardThenEnd(end) => {
                                ready += len;
                                stop = Some(end);
                            }
                            Verdict::Refuse(reason) => stop = Some(End::Violation(reason)),
                        }
                    }
                    Err(e) => stop = Some(End::Violation(e.to_string())),
                }
            }
            if publishes > 0
                && let Some(p) = pacer.as_mut()
            {
                p.take(publishes).await;
                // Time spent waiting on our own pacing is not the device being idle.
                last_packet = last_packet.max(Instant::now());
            }
            if ready > 0 {
                let accepted = inbuf.get(..ready).unwrap_or_default();
                if let Err(e) = broker_wr.write_all(accepted).await {
                    return End::BrokerIo(e);
                }
                inbuf.drain(..ready.min(inbuf.len()));
            }
            if let Some(end) = stop {
                return end;
            }
            if inbuf.capacity() - inbuf.len() < READ_CHUNK / 4 {
                inbuf.reserve(READ_CHUNK);
            }
            match timeout_at(last_packet + rules.idle, client_rd.read_buf(&mut inbuf)).await {
                Err(_) => return End::Idle(rules.idle),
                Ok(Ok(0)) => return End::DeviceClosed,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return End::DeviceIo(e),
            }
        }
    }

    /// The rules for one packet of an established session.
    fn inspect(&self, packet: Packet, rules: &SessionRules<'_>) -> Verdict {
        match packet {
            Packet::Publish(publish) => {
                let subtopic = match rules.scope.check_publish(&publish.topic) {
                    Ok(subtopic) => subtopic,
                    Err(e) => {
                        return Verdict::Refuse(format!("PUBLISH to {:?}: {e}", publish.topic));
                    }
                };
                if publish.payload.len() > self.max_payload {
                    return Verdict::Refuse(format!(
                        "PUBLISH of {} bytes exceeds {}",
                        publish.payload.len(),
                        self.max_payload
                    ));
                }
                if self.sessions.has_listeners() {
                    self.sessions.emit(DeviceSignal::Message {
                        device: rules.device.to_owned(),
                        subtopic: subtopic.to_owned(),
                        payload: publish.payload.to_vec(),
                    });
                }
                Verdict::Forward
            }
            Packet::Subscribe(subscribe) => {
                for filter in &subscribe.filters {
                    if let Err(e) = rules.scope.check_subscribe(&filter.path) {
                        return Verdict::Refuse(format!("SUBSCRIBE to {:?}: {e}", filter.path));
                    }
                }
                Verdict::Forward
            }
            Packet::Unsubscribe(_)
            | Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubRel(_)
            | Packet::PubComp(_)
            | Packet::PingReq => Verdict::Forward,
            Packet::Disconnect => Verdict::ForwardThenEnd(End::DeviceDisconnected),
            Packet::Connect(_) => Verdict::Refuse("a second CONNECT".into()),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Verdict::Refuse("a server-to-client packet from the client".into())
            }
        }
    }
}

fn unavailable(reason: impl Into<String>) -> Refusal {
    Refusal::answer(ConnectReturnCode::ServiceUnavailable, reason)
}

/// A first packet that does not decode: a CONNECT of another MQTT version gets
/// "unacceptable protocol version"; anything else is closed without a word.
fn refuse_bad_connect(inbuf: &[u8], error: frame::FrameError) -> Refusal {
    let is_connect = inbuf.first().is_some_and(|b| b >> 4 == 1);
    match frame::protocol_of(inbuf) {
        Some((name, level)) if is_connect && (name, level) != (&b"MQTT"[..], 4) => Refusal::answer(
            ConnectReturnCode::RefusedProtocolVersion,
            format!("protocol level {level}: only MQTT 3.1.1 is supported"),
        ),
        _ => Refusal::quiet(format!("bad first packet: {error}")).violation(None),
    }
}

/// The device id and password a CONNECT presents, or the CONNACK refusing it:
/// "bad user name or password" when they are missing or malformed,
/// "identifier rejected" when the client id is not the user name.
fn credentials(connect: &Connect) -> Result<(String, String), Refusal> {
    let Some(login) = connect
        .login
        .as_ref()
        .filter(|l| !l.username.is_empty() && !l.password.is_empty())
    else {
        return Err(Refusal::answer(
            ConnectReturnCode::BadUserNamePassword,
            "no user name or password",
        ));
    };
    if !is_valid_id(&login.username) {
        return Err(Refusal::answer(
            ConnectReturnCode::BadUserNamePassword,
            "the user name is not a valid device id",
        ));
    }
    if !is_valid_device_id(&login.username) {
        return Err(Refusal::answer(
            ConnectReturnCode::BadClientId,
            format!("{NODE_CLIENT_ID:?} is the node's own client id"),
        ));
    }
    if connect.client_id != login.username {
        return Err(Refusal::answer(
            ConnectReturnCode::BadClientId,
            format!(
                "client id {:?} is not the user name {:?}",
                connect.client_id, login.username
            ),
        ));
    }
    Ok((login.username.clone(), login.password.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_limits() {
        assert_eq!(idle_limit(0), IDLE_WITHOUT_KEEP_ALIVE);
        assert_eq!(idle_limit(1), Duration::from_millis(1500));
        assert_eq!(idle_limit(60), Duration::from_secs(90));
        assert_eq!(idle_limit(u16::MAX), Duration::from_millis(65535 * 1500));
        assert_eq!(broker_keep_alive(0), 120);
        assert_eq!(broker_keep_alive(1), 2);
        assert_eq!(broker_keep_alive(60), 120);
        assert_eq!(broker_keep_alive(u16::MAX), u16::MAX);
    }

    #[test]
    fn credential_rules() {
        let mut c = Connect::new("p1");
        assert_eq!(
            credentials(&c).err().and_then(|r| r.answer),
            Some(ConnectReturnCode::BadUserNamePassword)
        );
        c.set_login("p1", "");
        assert_eq!(
            credentials(&c).err().and_then(|r| r.answer),
            Some(ConnectReturnCode::BadUserNamePassword)
        );
        c.set_login("p/1", "pw");
        assert_eq!(
            credentials(&c).err().and_then(|r| r.answer),
            Some(ConnectReturnCode::BadUserNamePassword)
        );
        c.set_login("p2", "pw");
        assert_eq!(
            credentials(&c).err().and_then(|r| r.answer),
            Some(ConnectReturnCode::BadClientId)
        );
        c.set_login("p1", "pw");
        assert_eq!(credentials(&c).ok(), Some(("p1".into(), "pw".into())));
        let mut node = Connect::new(NODE_CLIENT_ID);
        node.set_login(NODE_CLIENT_ID, "pw");
        assert_eq!(
            credentials(&node).err().and_then(|r| r.answer),
            Some(ConnectReturnCode::BadClientId)
        );
    }
}
