//! Shared state of one running node: its clock, the database handle, the event
//! bus, the cached menu, live sessions and bookkeeping for in-flight requests.

use std::collections::HashSet;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use domain::clock::{Clock, Millis};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::db::Db;
use crate::events::StoredEvent;

pub use crate::menu::MenuState;

pub struct AppState {
    pub config: Config,
    /// Where the node reads the time: `SystemClock` in production, a `ManualClock` in
    /// tests. The same clock as `db`'s, which stamps what the writer stores.
    pub clock: Arc<dyn Clock>,
    /// The letter of this node's tickets: from its hub token (`domain::ticket::prefix_of_token`), else `S`.
    pub ticket_prefix: char,
    pub db: Db,
    pub bus: broadcast::Sender<Arc<StoredEvent>>,
    /// Read-mostly copy of the stored menu; replaced after each committed edit.
    pub menu: crate::menu::Cache,
    pub sessions: crate::auth::SessionCache,
    /// The hub's token keys, for staff signed in at the hub.
    pub hub_keys: crate::hub_keys::HubKeys,
    pub lockout: crate::auth::Lockout,
    /// Admits [`crate::auth::CONCURRENT_PIN_CHECKS`] Argon2 checks at a time.
    pub pin_checks: tokio::sync::Semaphore,
    /// (principal, idempotency key) of writes still running: a concurrent duplicate gets 409.
    pub in_flight: Mutex<HashSet<(String, String)>>,
    pub metrics: PrometheusHandle,
    pub ws_clients: AtomicI64,
    /// The shared documents (catalog, settings, roster); changed only inside writer transactions.
    pub docs: Arc<Mutex<sync::session::Docs>>,
    /// How the link to the hub is doing.
    pub sync: Mutex<crate::sync_client::SyncHealth>,
    /// Bumped whenever `sync` changes, so event streams can tell their clients.
    pub sync_changed: tokio::sync::watch::Sender<u64>,
    /// Registered devices' credentials and live health.
    pub devices: Arc<crate::devices::Registry>,
    /// One print lane per printer.
    pub lanes: crate::printing::Lanes,
    /// The embedded MQTT broker, when enabled.
    pub mqtt: Option<Arc<crate::mqtt::Mqtt>>,
    /// Why the broker is not running, when it is enabled but failed to start.
    pub mqtt_error: Option<String>,
    /// Card terminals with a payment in progress.
    pub terminal_busy: crate::terminal::Busy,
    /// Notices for event streams that are not facts: device health, print jobs.
    pub notices: broadcast::Sender<serde_json::Value>,
    /// TLS for everything that goes to the hub: the web's roots plus `[hub] ca_file`.
    pub hub_tls: Arc<rustls::ClientConfig>,
}

impl AppState {
    /// The node's time (see [`AppState::clock`]).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    pub fn menu(&self) -> Arc<MenuState> {
        self.menu.get()
    }

    /// Installs a newer menu; an older version arriving late is ignored.
    pub fn set_menu(&self, next: MenuState) {
        self.menu.set(next)
    }
}
