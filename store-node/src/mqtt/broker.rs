//! The embedded rumqttd broker: started on its own threads with one MQTT 3.1.1
//! server on a loopback port that only the proxy connects to, plus the node's
//! in-process link (`store-node`) through which the node publishes and hears
//! device status messages.
//!
//! rumqttd has no shutdown call: its threads live as long as the process.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rumqttd::local::LinkError;
use rumqttd::protocol::{Packet, Publish};
use rumqttd::{Broker, Config, ConnectionSettings, Notification, RouterConfig, ServerSettings};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::DeviceDirectory;
use super::sessions::Sessions;
use super::topics::{NODE_CLIENT_ID, STATUS_SUBTOPIC, device_topic, is_valid_device_id};

/// How long the broker may take to start listening.
const READY_DEADLINE: Duration = Duration::from_secs(10);
/// How long rumqttd waits for a CONNECT on a fresh internal connection.
const INTERNAL_CONNECT_TIMEOUT_MS: u16 = 10_000;
/// Requests queued for the link thread before `publish` waits.
const PUBLISH_QUEUE: usize = 1024;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("finding a free loopback port: {0}")]
    Port(#[source] std::io::Error),
    #[error("starting a broker thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the node's broker link: {0}")]
    Link(#[source] Box<LinkError>),
    #[error("the broker did not listen on {addr} within {READY_DEADLINE:?}: {source}")]
    NotReady {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the broker's link thread stopped")]
    LinkGone,
}

impl From<LinkError> for BrokerError {
    fn from(e: LinkError) -> Self {
        // Boxed: rumqttd's error holds a whole router event (~800 bytes).
        BrokerError::Link(Box::new(e))
    }
}

/// What the broker needs from the module's config.
pub(crate) struct BrokerSettings {
    pub store: String,
    /// Largest remaining length of a packet, in bytes.
    pub max_packet: usize,
}

/// A running broker as the rest of the module sees it.
pub(crate) struct BrokerHandle {
    /// The loopback address the proxy forwards to.
    pub addr: SocketAddr,
    publish_tx: mpsc::Sender<PublishRequest>,
    listen_task: JoinHandle<()>,
}

struct PublishRequest {
    topic: String,
    payload: Vec<u8>,
    retain: bool,
    done: oneshot::Sender<Result<(), BrokerError>>,
}

impl BrokerHandle {
    /// Publishes through the node's link.
    pub async fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), BrokerError> {
        let (done, result) = oneshot::channel();
        let request = PublishRequest {
            topic,
            payload,
            retain,
            done,
        };
        self.publish_tx
            .send(request)
            .await
            .map_err(|_| BrokerError::LinkGone)?;
        result.await.map_err(|_| BrokerError::LinkGone)??;
        Ok(())
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        // The link thread ends when `publish_tx` drops; the broker itself cannot be stopped.
        self.listen_task.abort();
    }
}

/// Starts rumqttd on a free loopback port and joins it through the node's link.
pub(crate) async fn start(
    settings: BrokerSettings,
    directory: Arc<dyn DeviceDirectory>,
    sessions: Arc<Sessions>,
) -> Result<BrokerHandle, BrokerError> {
    let addr = free_loopback_port()?;
    let config = rumqttd_config(addr, settings.max_packet, directory);

    // `Broker::new` starts the router thread and `link` waits for its answer:
    // both block, so they run off the async runtime.
    let (link_tx, mut link_rx) = tokio::task::spawn_blocking(move || {
        let mut broker = Broker::new(config);
        let link = broker.link(NODE_CLIENT_ID)?;
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                // Returns only when every server thread has ended (e.g. the port was taken).
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "the MQTT broker stopped");
                }
            })
            .map_err(BrokerError::Thread)?;
        Ok::<_, BrokerError>(link)
    })
    .await
    .map_err(|e| BrokerError::Thread(std::io::Error::other(e)))??;

    wait_until_listening(addr).await?;

    // The link's sending side blocks when the router's queue is full, so it
    // lives on its own thread and serves publish requests in order.
    let filter = format!("store/{}/devices/+/#", settings.store);
    let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
    let (subscribed_tx, subscribed) = oneshot::channel();
    std::thread::Builder::new()
        .name("mqtt-node-link".into())
        .spawn(move || link_thread(link_tx, filter, subscribed_tx, publish_rx))
        .map_err(BrokerError::Thread)?;
    subscribed.await.map_err(|_| BrokerError::LinkGone)??;

    let store = settings.store;
    let listen_task = tokio::spawn(async move {
        loop {
            match link_rx.next().await {
                Ok(Some(Notification::Forward(forward))) => {
                    let Ok(topic) = std::str::from_utf8(&forward.publish.topic) else {
                        continue;
                    };
                    if let Some((device, STATUS_SUBTOPIC)) = device_topic(&store, topic) {
                        sessions.touch(device);
                    }
                }
                // The router paused this link because its queue was full: ask for more.
                Ok(Some(Notification::Unschedule)) => {
                    if link_rx.wake().await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "the node's MQTT link closed");
                    break;
                }
            }
        }
    });

    Ok(BrokerHandle {
        addr,
        publish_tx,
        listen_task,
    })
}

fn link_thread(
    mut link_tx: rumqttd::local::LinkTx,
    filter: String,
    subscribed: oneshot::Sender<Result<(), BrokerError>>,
    mut requests: mpsc::Receiver<PublishRequest>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = subscribed.send(Err(BrokerError::Thread(e)));
            return;
        }
    };
    let result = link_tx.subscribe(filter).map(|_| ()).map_err(Into::into);
    let failed = result.is_err();
    let _ = subscribed.send(result);
    if failed {
        return;
    }
    runtime.block_on(async move {
        while let Some(req) = requests.recv().await {
            let publish = Publish::new(req.topic.into_bytes(), req.payload, req.retain);
            // `send` pushes to the link's buffer and blocks this thread while the router's queue is full.
            let result = link_tx
                .send(Packet::Publish(publish, None))
                .await
                .map(|_| ())
                .map_err(BrokerError::from);
            let _ = req.done.send(result);
        }
    });
}

/// A loopback port that was free a moment ago (rumqttd binds by address, not by
/// socket). Should another local process take it in between, rumqttd fails to
/// bind and the readiness probe may reach that process instead: a local
/// process on the store node is trusted anyway.
fn free_loopback_port() -> Result<SocketAddr, BrokerError> {
    let listener =
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(BrokerError::Port)?;
    listener.local_addr().map_err(BrokerError::Port)
}

/// Polls until something accepts connections on `addr`, or the deadline passes.
async fn wait_until_listening(addr: SocketAddr) -> Result<(), BrokerError> {
    let deadline = tokio::time::Instant::now() + READY_DEADLINE;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            // rumqttd logs this probe as a connection that sent no CONNECT.
            Ok(_) => return Ok(()),
            Err(source) if tokio::time::Instant::now() >= deadline => {
                return Err(BrokerError::NotReady { addr, source });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn rumqttd_config(
    addr: SocketAddr,
    max_packet: usize,
    directory: Arc<dyn DeviceDirectory>,
) -> Config {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: INTERNAL_CONNECT_TIMEOUT_MS,
        max_payload_size: max_packet,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    // Defence in depth: the proxy has checked the same already.
    connections.set_auth_handler(
        move |client_id: String, username: String, password: String| {
            let directory = directory.clone();
            async move {
                if client_id != username || !is_valid_device_id(&username) {
                    return false;
                }
                let user = username.clone();
                // The directory may be slow (a database, a password hash); keep it off rumqttd's I/O thread.
                let verified = tokio::task::spawn_blocking(move || {
                    directory.verify(&user, password.as_bytes())
                })
                .await;
                matches!(verified, Ok(Some(id)) if id == username)
            }
        },
    );
    let server = ServerSettings {
        name: "store-node-internal".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    Config {
        router: RouterConfig {
            max_connections: 1024,
            max_outgoing_packet_count: 200,
            // A filter's log keeps up to count × size bytes (16 MiB by default) for subscribers
            // that lag behind; beyond that rumqttd skips them ahead (the proxy paces devices so
            // one burst does not get there).
            max_segment_size: (4 * max_packet).max(1 << 20),
            max_segment_count: 16,
            ..Default::default()
        },
        v4: Some([("internal".to_owned(), server)].into_iter().collect()),
        ..Default::default()
    }
}
