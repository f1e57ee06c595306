//! The store's MQTT service for LAN devices (printers, KDS screens, kiosks,
//! card terminals): an embedded rumqttd broker behind a proxy of our own that
//! authenticates each device and keeps it inside its own topics.
//!
//! # Shape
//!
//! ```text
//! device ──TCP 1883 / TLS 8883──▶ proxy (tokio, per connection) ──TCP 127.0.0.1:<free port>──▶ rumqttd
//!                                                                    node ◀── in-process link ──┘
//! ```
//!
//! * **rumqttd** runs on its own threads (its `start()` blocks and it has no
//!   shutdown call) with one MQTT 3.1.1 server on a loopback port that only
//!   the proxy uses. The node joins it through an in-process link
//!   (`store-node`) subscribed to `store/{store}/devices/+/#`; the node
//!   publishes anywhere through it ([`Mqtt::publish`]).
//! * **The proxy** owns the public listeners (plain TCP, and TLS with
//!   tokio-rustls when configured). It forwards every packet of a device in
//!   its original bytes, but looks at each one first; broker-to-device bytes
//!   are copied as they are.
//!
//! # Topics
//!
//! `store/{store}/devices/{device}/...` is a device's own subtree: it may
//! publish there (at least one level below the device) and subscribe there.
//! `store/{store}/broadcast/...` is the node speaking to all devices: devices
//! may subscribe there but not publish. `.../status` under a device is its
//! heartbeat and last-will topic. Ids are `[A-Za-z0-9_-]{1,64}`, so an id can
//! never smuggle `/`, `+` or `#` into a topic (see [`topics`]).
//!
//! # Who enforces what, and why
//!
//! rumqttd cannot refuse bad credentials with a CONNACK code (it drops the
//! connection), has no per-client topic rules, and does not tell us exactly
//! when a device comes and goes. So:
//!
//! | rule | where | how |
//! |---|---|---|
//! | credentials | proxy **and** rumqttd | the proxy asks the [`DeviceDirectory`] and answers a refusal itself: CONNACK 4 (bad user name or password) when they are missing or malformed, 2 (identifier rejected) when the client id is not the user name, 5 (not authorised) when the directory says no. rumqttd's `external_auth` asks the same directory again (defence in depth), so a connection that bypassed the proxy would still need valid credentials. |
//! | protocol | proxy | MQTT 3.1.1 only; another version gets CONNACK 1. |
//! | client id = user name = device id | proxy (and rumqttd's auth hook) | |
//! | publish topics | proxy | own subtree only; anything else closes the connection (3.1.1 has no per-publish refusal) and signals a [`DeviceSignal::Violation`]. The last will's topic follows the same rule, checked at CONNECT (CONNACK 5). |
//! | subscribe filters | proxy | own subtree or broadcast, wildcards only below those prefixes; anything else closes the connection (a SUBACK failure code would let a client probe). |
//! | packet size | proxy **and** rumqttd | the proxy refuses a payload over `max_payload` (and any packet over `max_payload` + [`PACKET_HEADROOM`], as soon as its header arrives); rumqttd's `max_payload_size` is set to the same packet bound. |
//! | publish rate | proxy | `max_publish_rate` PUBLISH packets a second per connection (burst: one second's worth); a faster device is slowed by not reading its socket (TCP flow control), nothing is dropped. Without it one device's burst overruns rumqttd's per-subscription log (16 segments) and other devices' messages are skipped. |
//! | idle clients | proxy | closed after 1.5 × the client's keep-alive without a packet, counted from CONNECT (MQTT 3.1.1 §3.1.2.10); keep-alive 0 means [`IDLE_WITHOUT_KEEP_ALIVE`]. The proxy rewrites the two keep-alive bytes of each CONNECT to twice the client's value (twice that limit for 0) before rumqttd sees it: rumqttd refuses keep-alive 0 outright, and its own idle timer must not beat the proxy's (it would close the connection without the proxy knowing why). These two bytes are the only ones the proxy ever changes. |
//! | takeover | proxy + rumqttd | a new connection of a connected device takes over (MQTT semantics): rumqttd drops its old connection, the proxy ends the old session and reports it disconnected before the new one connects. Handshakes of one device are serialised, so both agree on which connection is the newest. |
//! | presence | proxy | a device is online from the broker's successful CONNACK until its proxied connection ends for any reason (DISCONNECT, FIN, RST, idle, violation, takeover, [`Mqtt::disconnect`]). |
//! | last seen | link + proxy | updated at connect and disconnect, and whenever the link sees a message on a device's `status` topic (heartbeats, and its last will when rumqttd publishes it). |
//!
//! [`DeviceSignal::Message`] comes from the proxy, not from the link: a
//! message forwarded by rumqttd does not say who published it, and rumqttd
//! has no "no local" option, so the node's own publishes into a device's
//! subtree would come back looking like the device's. The proxy knows exactly
//! which device sent what.
//!
//! The node publishes at QoS 0 into the broker (rumqttd's link API offers no
//! other), which loses nothing in-process; rumqttd delivers each message at the
//! QoS of the receiving subscription, so a device that subscribes with QoS 1
//! gets QoS 1 delivery. Nothing is persisted: retained messages and sessions
//! live in memory until the process ends.

mod broker;
mod frame;
mod pending;
mod proxy;
mod sessions;
mod tls;
pub mod topics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};
use tokio::task::JoinHandle;

pub use proxy::IDLE_WITHOUT_KEEP_ALIVE;
use sessions::Sessions;

/// Room above `max_payload` for a packet's topic, packet id and headers.
pub const PACKET_HEADROOM: usize = 1024;
/// The largest `max_payload` accepted in the configuration.
pub const MAX_PAYLOAD_LIMIT: usize = 16 * 1024 * 1024;
/// Most device sessions open at once (CONNECT accepted; connections still to send
/// CONNECT have their own budget, see `pending`).
const MAX_CONNECTIONS: usize = 1000;

/// Who may connect: the device registry answers for each CONNECT.
pub trait DeviceDirectory: Send + Sync + 'static {
    /// The device id when `password` is the current MQTT secret of device `username`; None otherwise.
    fn verify(&self, username: &str, password: &[u8]) -> Option<String>;
}

/// The `[mqtt]` settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Whether to run the MQTT service at all.
    pub enabled: bool,
    /// Address of the plain-TCP listener, e.g. `0.0.0.0:1883`; none for TLS only.
    pub bind: Option<String>,
    /// The TLS listener, if any.
    pub tls: Option<TlsListener>,
    /// Largest PUBLISH payload (and last-will message) a device may send, in bytes.
    pub max_payload: usize,
    /// PUBLISH packets per second one device connection may send; faster devices are slowed
    /// down (the proxy stops reading), never dropped. 0 for no limit.
    pub max_publish_rate: u32,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            enabled: true,
            bind: Some("0.0.0.0:1883".into()),
            tls: None,
            max_payload: 64 * 1024,
            max_publish_rate: 1000,
        }
    }
}

/// A TLS listener: address and PEM files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListener {
    /// Address of the TLS listener, default `0.0.0.0:8883`.
    #[serde(default = "default_tls_bind")]
    pub bind: String,
    /// The server certificate chain (PEM), leaf first.
    pub cert_path: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

fn default_tls_bind() -> String {
    "0.0.0.0:8883".into()
}

/// Something that happened to a device, as [`Mqtt::signals`] reports it.
#[derive(Debug, Clone)]
pub enum DeviceSignal {
    /// The broker accepted the device's connection.
    Connected { device: String },
    /// The device's connection ended (`reason` says how).
    Disconnected { device: String, reason: String },
    /// The device published to `store/S/devices/D/{subtopic}`.
    Message {
        device: String,
        subtopic: String,
        payload: Vec<u8>,
    },
    /// A connection broke a rule and was closed; `device` once it had authenticated.
    Violation {
        device: Option<String>,
        peer: SocketAddr,
        reason: String,
    },
}

/// Why the MQTT service could not start or publish.
#[derive(Debug, Error)]
pub enum MqttError {
    #[error("invalid store id {0:?}: expected 1 to 64 of A-Z a-z 0-9 _ -")]
    InvalidStoreId(String),
    #[error("mqtt.max_payload must be between 1 and {MAX_PAYLOAD_LIMIT} bytes, not {0}")]
    MaxPayload(usize),
    #[error("binding the MQTT listener {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    #[error(transparent)]
    Broker(#[from] broker::BrokerError),
    #[error("MQTT is disabled in the configuration")]
    Disabled,
    #[error("cannot publish to {topic:?}: {source}")]
    Topic {
        topic: String,
        #[source]
        source: topics::TopicError,
    },
    #[error("payload of {len} bytes exceeds mqtt.max_payload ({max})")]
    PayloadTooLarge { len: usize, max: usize },
}

/// The running MQTT service. Clones share it; dropping the last clone stops
/// the listeners and ends every device session (rumqttd's threads stay: it
/// cannot be stopped).
#[derive(Clone)]
pub struct Mqtt {
    inner: Arc<Inner>,
}

struct Inner {
    store: String,
    max_payload: usize,
    plain_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
    sessions: Arc<Sessions>,
    /// None when disabled.
    broker: Option<broker::BrokerHandle>,
    listeners: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
        self.sessions.kick_all("the node is shutting down");
    }
}

impl Mqtt {
    /// Starts the broker and the listeners. With `enabled = false` it returns
    /// a service that listens nowhere and refuses to publish.
    pub async fn start(
        cfg: &MqttConfig,
        store_id: &str,
        directory: Arc<dyn DeviceDirectory>,
    ) -> anyhow::Result<Mqtt> {
        Ok(Self::start_inner(cfg, store_id, directory).await?)
    }

    async fn start_inner(
        cfg: &MqttConfig,
        store_id: &str,
        directory: Arc<dyn DeviceDirectory>,
    ) -> Result<Mqtt, MqttError> {
        if !topics::is_valid_id(store_id) {
            return Err(MqttError::InvalidStoreId(store_id.to_owned()));
        }
        let sessions = Arc::new(Sessions::new());
        let mut inner = Inner {
            store: store_id.to_owned(),
            max_payload: cfg.max_payload,
            plain_addr: None,
            tls_addr: None,
            sessions: sessions.clone(),
            broker: None,
            listeners: Vec::new(),
        };
        if !cfg.enabled {
            return Ok(Mqtt {
                inner: Arc::new(inner),
            });
        }
        if cfg.max_payload == 0 || cfg.max_payload > MAX_PAYLOAD_LIMIT {
            return Err(MqttError::MaxPayload(cfg.max_payload));
        }
        let max_packet = cfg.max_payload + PACKET_HEADROOM;

        // Everything that can fail on bad settings comes before the broker,
        // which cannot be stopped once started.
        let plain = match &cfg.bind {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let tls = match &cfg.tls {
            Some(t) => Some((
                bind(&t.bind).await?,
                tls::acceptor(&t.cert_path, &t.key_path)?,
            )),
            None => None,
        };

        let settings = broker::BrokerSettings {
            store: store_id.to_owned(),
            max_packet,
        };
        let broker = broker::start(settings, directory.clone(), sessions.clone()).await?;
        let proxy = Arc::new(proxy::Proxy {
            store: store_id.to_owned(),
            directory,
            sessions,
            broker: broker.addr,
            max_payload: cfg.max_payload,
            max_packet,
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            pending: pending::Pending::new(),
            max_publish_rate: cfg.max_publish_rate,
        });
        inner.broker = Some(broker);
        if let Some((listener, addr)) = plain {
            inner.plain_addr = Some(addr);
            tracing::info!(%addr, "MQTT listening");
            inner
                .listeners
                .push(tokio::spawn(proxy::serve(listener, None, proxy.clone())));
        }
        if let Some(((listener, addr), acceptor)) = tls {
            inner.tls_addr = Some(addr);
            tracing::info!(%addr, "MQTT over TLS listening");
            inner
                .listeners
                .push(tokio::spawn(proxy::serve(listener, Some(acceptor), proxy)));
        }
        Ok(Mqtt {
            inner: Arc::new(inner),
        })
    }

    /// The bound address of the plain listener.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.inner.plain_addr
    }

    /// The bound address of the TLS listener.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.inner.tls_addr
    }

    /// Device events from now on. A receiver that falls more than 1024 signals behind loses the oldest.
    pub fn signals(&self) -> broadcast::Receiver<DeviceSignal> {
        self.inner.sessions.subscribe()
    }

    /// Ids of the devices connected now, sorted.
    pub fn online(&self) -> Vec<String> {
        self.inner.sessions.online()
    }

    /// When the device last connected, disconnected or sent a status message
    /// (since the process started).
    pub fn last_seen(&self, device_id: &str) -> Option<SystemTime> {
        self.inner.sessions.last_seen(device_id)
    }

    /// Publishes through the node's link. The topic must be a valid topic name
    /// and not a device's `status` topic (those are the devices' own).
    pub async fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) -> anyhow::Result<()> {
        let inner = &self.inner;
        let broker = inner.broker.as_ref().ok_or(MqttError::Disabled)?;
        topics::check_node_publish(&inner.store, topic).map_err(|source| MqttError::Topic {
            topic: topic.to_owned(),
            source,
        })?;
        if payload.len() > inner.max_payload {
            return Err(MqttError::PayloadTooLarge {
                len: payload.len(),
                max: inner.max_payload,
            }
            .into());
        }
        broker
            .publish(topic.to_owned(), payload, retain)
            .await
            .map_err(MqttError::from)?;
        Ok(())
    }

    /// Ends the device's connection now (e.g. its credentials were rotated or
    /// it was removed); it may connect again with valid credentials.
    pub fn disconnect(&self, device_id: &str) {
        self.inner
            .sessions
            .kick(device_id, "disconnected by the node");
    }
}

async fn bind(addr: &str) -> Result<(TcpListener, SocketAddr), MqttError> {
    let bind_error = |source| MqttError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}
