//! The store node: one binary per restaurant that takes, stores and broadcasts
//! orders on the LAN and keeps working with the internet down.
//!
//! `run` starts a node from a [`Config`] and returns a [`Running`] handle with
//! the bound address, so the tests start the real server on port 0 with their
//! own database. `main.rs` only parses flags, sets up logging and calls `run`.
//! (The load generator, `crates/loadgen`, starts the `store-node` binary as a
//! separate process; it does not link this crate.)
//!
//! Module map:
//! - services: `orders` (placing, transitions, payments, refunds, station
//!   done, the projection of orders that arrive by sync, the order views) and
//!   `menu` (the stored menu, its edits and the in-memory cache);
//! - the HTTP edge: `http` (the REST API and the event stream: thin handlers
//!   that parse, authorise, call a service and map its error) and `auth` (PIN
//!   sign-in, sessions, permission extractors). Only `http` and this file
//!   import `crate::http` (`tests/tests/architecture.rs`);
//! - storage: `db` (SQLite, the writer thread, group commit), `events` (the
//!   event log and its wire form), `replay` (stored answers of idempotent
//!   writes), `docs` (the shared automerge documents);
//! - devices: `devices` (the registry and health), `printing` (the durable
//!   print queue), `terminal` (card payments and their crash recovery), `mqtt`
//!   (the embedded broker), `device_bridge` (MQTT to domain events and back);
//! - the hub: `enroll` (pairing with a code, the node's key and enrollment
//!   state), `sync_client` (the sync link), `hub_keys` (the hub's token keys
//!   and ended sessions), `images` (the menu's pictures, fetched from the hub
//!   and kept on disk for the kiosk);
//! - `config` (layered settings), `state` (what the node's tasks share) and
//!   `demo` (demo menu and staff).

pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod device_bridge;
pub mod devices;
pub mod docs;
pub mod enroll;
pub mod events;
pub mod http;
pub mod hub_keys;
pub mod images;
pub mod kitchen_backlog;
pub mod menu;
pub mod mqtt;
pub mod orders;
pub mod printing;
pub mod replay;
pub mod state;
pub mod sync_client;
pub mod terminal;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::serve::ListenerExt;
use domain::clock::{Clock, SystemClock};
use domain::menu::Menu;
use domain::money::{Currency, TaxMode};
use domain::roles::{Pin, Role};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::{broadcast, oneshot};

pub use config::Config;
use db::Db;
use menu::{EditError, load_menu, store_menu};
use state::{AppState, MenuState};

/// A node that is serving.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    sync_task: Option<tokio::task::JoinHandle<()>>,
    /// Print lanes' waker and the MQTT bridge.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The store a node that was not enrolled got enrolled for, by another process, when
    /// it is not the store it serves ([`StoreChanged`]).
    store_changed: oneshot::Receiver<String>,
}

/// A running node was enrolled (by `store-node enroll` from another process) for a store
/// other than the one it serves: it must start again to serve that store
/// (`main` exits with [`enroll::EXIT_STORE_CHANGED`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "this node was enrolled for store {store}, not the store it was serving; it must start again to serve it"
)]
pub struct StoreChanged {
    pub store: String,
}

impl Running {
    /// Stops accepting requests, lets in-flight ones finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(t) = self.sync_task.take() {
            t.abort();
        }
        for t in self.background.drain(..) {
            t.abort();
        }
        self.state.lanes.stop_all();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }

    /// Waits until the server stops by itself (it normally does not), or until the node
    /// was enrolled for another store ([`StoreChanged`]).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        tokio::select! {
            r = &mut self.task => {
                r??;
                Ok(())
            }
            Ok(store) = &mut self.store_changed => Err(StoreChanged { store }.into()),
        }
    }
}

/// One Prometheus recorder per process (several nodes in one test process share it).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "http_request_duration_seconds".into(),
                    ),
                    &latency,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(
                            "store_db_commit_batch_size".into(),
                        ),
                        &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                    )
                })
                .expect("bucket lists are non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then our handle renders nothing, which is harmless.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Opens the database, seeds it if asked, binds the HTTP listener and starts serving,
/// reading the time from the machine's clock.
pub async fn run(config: Config) -> anyhow::Result<Running> {
    run_with_clock(config, Arc::new(SystemClock)).await
}

/// [`run`] with the node reading the time from `clock`: every "what time is it" the node
/// decides on or stores (sessions, the PIN lockout, idempotency keys, print backoff,
/// event and row timestamps) comes from it. Tests pass a `ManualClock` to step over
/// an expiry instead of waiting for it.
pub async fn run_with_clock(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let identity = enrollment_at_start(&mut config).await?;
    // A bad hub URL or CA file stops the start with the reason, before anything listens.
    let hub_tls =
        crate::tls::client_config(config.hub.as_ref().and_then(|h| h.ca_file.as_deref()))?;
    if let Some(hub) = &config.hub {
        hub.check().map_err(|e| anyhow::anyhow!(e))?;
    }
    let (bus, _) = broadcast::channel(4096);
    let db = Db::open(
        &config.data_dir,
        config.max_commit_batch.max(1),
        bus.clone(),
        clock.clone(),
    )
    .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
    let origin = db.origin.to_string();
    let docs = db
        .write(move |ctx| docs::load(ctx.conn, &origin))
        .await
        .context("loading the shared documents")?;
    let docs = Arc::new(std::sync::Mutex::new(docs));
    if config.demo {
        demo::seed(&db, &docs).await?;
    }
    let menu = ensure_menu(&db, &docs, &config).await?;
    let listener = tokio::net::TcpListener::bind(config.http.bind)
        .await
        .with_context(|| format!("binding {}", config.http.bind))?;
    let addr = listener.local_addr()?;
    let hub_url = config.hub.as_ref().map(|h| h.url.clone());
    let (notices, _) = broadcast::channel(1024);
    let devices = Arc::new(devices::Registry::new(notices.clone()));
    {
        let reg = devices.clone();
        db.read(move |c| reg.load_secrets(c))
            .await
            .context("loading device credentials")?;
    }
    // A broker that cannot start (its port taken, a bad certificate) must not stop the
    // kitchen: the node serves the POS and KDS without it and says why in /readyz.
    let mut mqtt_error = None;
    let mqtt = if config.mqtt.enabled {
        match mqtt::Mqtt::start(
            &config.mqtt,
            &config.store.id,
            Arc::new(devices::Directory(devices.clone())),
        )
        .await
        {
            Ok(m) => {
                tracing::info!(plain = ?m.plain_addr(), tls = ?m.tls_addr(), "MQTT broker listening");
                Some(Arc::new(m))
            }
            Err(e) => {
                let why = format!("{e:#}");
                tracing::error!(error = %why, "the MQTT broker did not start; devices on MQTT cannot connect");
                mqtt_error = Some(why);
                None
            }
        }
    } else {
        None
    };
    let hub_keys = db
        .read(hub_keys::HubKeys::load)
        .await
        .context("loading the hub's keys")?;
    let ticket_prefix = match &identity {
        Some(id) => id.enrollment.ticket_prefix(),
        None => config
            .hub
            .as_ref()
            .map_or(domain::ticket::STORE_PREFIX, |h| {
                domain::ticket::prefix_of_token(h.token.expose())
            }),
    };
    let state = Arc::new(AppState {
        hub_tls,
        clock,
        ticket_prefix,
        config,
        db,
        bus,
        menu: menu::Cache::new(menu),
        sessions: Default::default(),
        hub_keys,
        lockout: Default::default(),
        pin_checks: tokio::sync::Semaphore::new(auth::CONCURRENT_PIN_CHECKS),
        in_flight: Default::default(),
        metrics: metrics_handle(),
        ws_clients: Default::default(),
        sync: std::sync::Mutex::new(sync_client::SyncHealth::new(hub_url)),
        sync_changed: tokio::sync::watch::channel(0).0,
        docs,
        devices,
        lanes: Default::default(),
        mqtt,
        mqtt_error,
        terminal_busy: Default::default(),
        notices,
    });
    let (store_changed_tx, store_changed) = oneshot::channel();
    let sync_task = match identity {
        Some(id) => state
            .config
            .hub
            .clone()
            .map(|hub| sync_client::spawn_with(state.clone(), hub, id.credential())),
        None => sync_client::spawn(state.clone()),
    };
    let mut background = vec![printing::start(state.clone()).await?];
    if sync_task.is_none() {
        // Not enrolled and no hub: `store-node enroll` run by hand may enroll this node.
        background.push(tokio::spawn(watch_enrollment(
            state.clone(),
            store_changed_tx,
        )));
    }
    background.extend(device_bridge::spawn(state.clone()));
    // The kitchen's backlog, for the hub's online ordering.
    background.extend(kitchen_backlog::spawn(state.clone()));
    // The menu's pictures, fetched from the hub for the kiosk to show offline.
    background.extend(images::spawn(state.clone()));
    // Card payments a crash cut off: ask their terminals what became of them.
    background.push(tokio::spawn(terminal::recover(state.clone())));
    // A full disk: readiness and the print lanes recover when a probe write succeeds again.
    let probing = state.clone();
    background.push(tokio::spawn(async move {
        probing.db.probe_while_full(|| probing.lanes.kick()).await
    }));
    let app = http::router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    // Small writes (a WebSocket event, a short JSON answer) must leave at once, not wait
    // for Nagle's algorithm and the client's delayed ACK (up to 40 ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, "store node listening");
    Ok(Running {
        addr,
        state,
        shutdown: Some(tx),
        task,
        sync_task,
        background,
        store_changed,
    })
}

/// The node's enrollment, as the sync client uses it.
struct Identity {
    enrollment: enroll::Enrollment,
    key: Arc<node_identity::NodeKey>,
}

impl Identity {
    fn load(
        data_dir: &std::path::Path,
        enrollment: enroll::Enrollment,
    ) -> anyhow::Result<Identity> {
        let key = Arc::new(enroll::Enrollment::key(data_dir)?);
        Ok(Identity { enrollment, key })
    }

    fn credential(&self) -> sync_client::Credential {
        sync_client::Credential::Key {
            node_id: self.enrollment.node_id.clone(),
            key: self.key.clone(),
        }
    }
}

/// The hub link of an enrolled node: the `[hub]` settings (timeout, TLS) if any, with the
/// enrolled hub's sync URL.
fn enrolled_hub(config: &Config, e: &enroll::Enrollment) -> config::HubConfig {
    let mut hub = config
        .hub
        .clone()
        .unwrap_or_else(|| config::HubConfig::new(e.sync_url(), config::Secret::new("")));
    hub.url = e.sync_url();
    hub.allow_insecure |= config.enroll.allow_insecure;
    if e.ca_file.is_some() {
        hub.ca_file.clone_from(&e.ca_file);
    }
    hub
}

/// At start: an enrolled node takes its store and hub from `enrollment.json` (and deletes
/// a leftover code file unused); a node that is not enrolled enrolls from the code file
/// (`[enroll] code_file`), if there is one, before it serves, trying again while the hub
/// cannot be reached. A refused code is logged with what to do, and kept; the node then
/// serves on its own.
async fn enrollment_at_start(config: &mut Config) -> anyhow::Result<Option<Identity>> {
    let data_dir = config.data_dir.clone();
    let mut enrolled = enroll::Enrollment::load(&data_dir)?;
    if enrolled.is_none()
        && let Some(path) = config.enroll.code_file.clone()
    {
        enrolled = enroll_from_code_file(config, &path).await?;
    }
    let Some(e) = enrolled else {
        return Ok(None);
    };
    if let Some(path) = &config.enroll.code_file
        && path.exists()
    {
        tracing::info!(file = %path.display(), "this node is enrolled already: deleting the leftover code file unused");
        if let Err(err) = enroll::remove_code_file(path) {
            tracing::warn!(error = %format!("{err:#}"), "the leftover code file could not be deleted");
        }
    }
    let identity = Identity::load(&data_dir, e)?;
    let e = &identity.enrollment;
    config.store.id = e.store_id.clone();
    config.store.name = e.store_name.clone();
    config.store.currency = e.currency.clone();
    config.hub = Some(enrolled_hub(config, e));
    enroll::announce(e);
    Ok(Some(identity))
}

/// Enrolls with the code file at `path`, if it exists; `None` when it does not or the hub refused it.
async fn enroll_from_code_file(
    config: &Config,
    path: &std::path::Path,
) -> anyhow::Result<Option<enroll::Enrollment>> {
    let file = match enroll::CodeFile::read(path) {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "not enrolling: the code file cannot be read; fix it and start the node again");
            return Ok(None);
        }
    };
    let code = match node_identity::PairingCode::parse(&file.code) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "not enrolling: the code in the code file is not a pairing code; put the code shown in the dashboard there and start the node again");
            return Ok(None);
        }
    };
    if let Err(e) = enroll::check_hub_url(&file.hub, config.enroll.allow_insecure) {
        tracing::error!(file = %path.display(), error = %e, "not enrolling");
        return Ok(None);
    }
    let store_id = enroll::store_with_data(&config.data_dir, &config.store.id)?;
    let req = enroll::Request {
        hub: file.hub,
        code,
        ca_file: file.ca_file,
        label: enroll::host_name(),
        store_id,
    };
    tracing::info!(file = %path.display(), hub = %req.hub, "enrolling with the code file");
    match enroll::enroll(&config.data_dir, &req, None).await {
        Ok(e) => Ok(Some(e)),
        Err(enroll::Failure::Local(e)) => Err(e.context("enrolling")),
        Err(f) => {
            let advice = enroll::advice(&f);
            tracing::error!(file = %path.display(), error = %f, "NOT ENROLLED: {advice} The code file was kept.");
            println!("store-node NOT enrolled: {advice}");
            Ok(None)
        }
    }
}

/// While the node is not enrolled: looks for `enrollment.json` written by `store-node enroll`
/// from another process every [`enroll::POLL_INTERVAL`]. Enrolled for the store it serves,
/// the node starts syncing; for another store it asks `main` to exit ([`StoreChanged`]).
async fn watch_enrollment(state: Arc<AppState>, store_changed: oneshot::Sender<String>) {
    let data_dir = state.config.data_dir.clone();
    let e = loop {
        tokio::time::sleep(enroll::POLL_INTERVAL).await;
        match enroll::Enrollment::load(&data_dir) {
            Ok(Some(e)) => break e,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "the enrollment state cannot be read yet");
            }
        }
    };
    if e.store_id != state.config.store.id {
        tracing::warn!(enrolled = %e.store_id, serving = %state.config.store.id, "enrolled for another store than this node was serving: stopping so that it starts again for that store");
        println!(
            "store-node enrolled for store {} (was serving {}): restarting for it",
            e.store_id, state.config.store.id
        );
        let _ = store_changed.send(e.store_id.clone());
        return;
    }
    let identity = match Identity::load(&data_dir, e) {
        Ok(i) => i,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "enrolled, but the key cannot be read: not syncing");
            return;
        }
    };
    if let Some(path) = &state.config.enroll.code_file
        && path.exists()
        && let Err(err) = enroll::remove_code_file(path)
    {
        tracing::warn!(error = %format!("{err:#}"), "the leftover code file could not be deleted");
    }
    enroll::announce(&identity.enrollment);
    let hub = enrolled_hub(&state.config, &identity.enrollment);
    if let Err(err) = hub.check() {
        tracing::error!(error = %err, "enrolled, but the hub's address is refused: not syncing");
        return;
    }
    sync_client::run_link(state, hub, identity.credential()).await;
}

/// The stored menu, or a new empty one in the configured currency; the catalog document follows it.
async fn ensure_menu(
    db: &Db,
    docs: &Arc<std::sync::Mutex<sync::session::Docs>>,
    config: &Config,
) -> anyhow::Result<MenuState> {
    let currency = Currency::parse(&config.store.currency)?;
    let docs = docs.clone();
    db.write(move |ctx| -> Result<MenuState, EditError> {
        if let Some(m) = load_menu(ctx.conn)? {
            // A node from before the catalog document: the document starts from the stored menu.
            let has_doc = docs
                .lock()
                .map(|d| docs::menu_of(&d).is_some())
                .unwrap_or(true);
            if !has_doc {
                let now = ctx.now();
                docs::set_menu(ctx.conn, &docs, &m.menu, now).map_err(EditError::Document)?;
            }
            return Ok(m);
        }
        let empty = Menu {
            currency,
            tax_mode: TaxMode::Exclusive,
            tax_classes: vec![],
            stations: vec![],
            categories: vec![],
            modifier_groups: vec![],
            items: vec![],
        };
        let now = ctx.now();
        store_menu(
            ctx,
            &docs,
            empty,
            serde_json::json!({ "created": true }),
            now,
        )
    })
    .await
    .context("loading the menu")
}

/// Adds (or replaces the PIN and role of) a staff member: how an installer creates the first owner.
pub async fn add_staff(
    config: &Config,
    id: &str,
    name: &str,
    role: Role,
    pin: &str,
) -> anyhow::Result<()> {
    domain::Ident::parse(id).context("staff id")?;
    let pin = Pin::parse(pin).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = tokio::task::spawn_blocking(move || auth::hash_pin(&pin)).await??;
    let (bus, _) = broadcast::channel(1);
    let db = Db::open(&config.data_dir, 1, bus, Arc::new(SystemClock))?;
    let (id, name) = (id.to_owned(), name.to_owned());
    db.write(move |ctx| -> anyhow::Result<()> {
        ctx.conn.execute(
            "INSERT INTO staff (id, name, role, pin_hash) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, pin_hash = excluded.pin_hash, active = 1",
            rusqlite::params![id, name, role.as_str(), hash],
        )?;
        // Into the roster document too, so the hub and the store's other nodes learn of them.
        let origin = ctx.origin().to_owned();
        let docs = std::sync::Mutex::new(docs::load(ctx.conn, &origin)?);
        let entry = docs::RosterEntry { name, role: role.as_str().into(), pin_hash: hash, active: true };
        docs::set_staff(ctx.conn, &docs, &id, &entry, ctx.now())?;
        Ok(())
    })
    .await
}
