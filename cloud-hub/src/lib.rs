//! The cloud hub: node enrollment and the sync endpoint, the merchant's
//! store management, and customer online ordering (paid at pickup: there are
//! no online payments yet). It serves health, accounts (customers, invited
//! staff, platform admins) with EdDSA access tokens and rotating refresh
//! tokens, organisations, invitations and members, the platform API (stores,
//! node tokens), the merchant's menu, order, staff and settings views (each
//! behind a role check), and `GET /api/v1/sync`, the WebSocket each store
//! node syncs over.
//!
//! Storage is SQLite (a file, the default) or PostgreSQL (`db`); each store's
//! shared documents live in memory once opened and are saved after every
//! change (`hub`); accounts, tokens and role checks are in `auth`; hashing and
//! sealing secrets in `crypto`, the wall clock in `time`; the HTTP surface
//! (one module per resource, with its OpenAPI document) is in `http`, the
//! Prometheus metrics in `metrics`.
//! Online ordering (customers browse, price and place pickup orders, which
//! travel to the store's nodes as hub-origin events; live status tracking;
//! pausing a store whose node is away; fan-out between replicas) is `online`
//! and `http::online`.

pub mod auth;
pub mod crypto;
pub mod db;
pub mod housekeeping;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod online;
pub mod payments;
pub mod time;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

pub use hub::Hub;

/// Everything `run` needs.
#[derive(Clone)]
pub struct Config {
    /// Address and port to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// `sqlite://path?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Bearer token of the admin API. At least 16 characters.
    pub admin_token: String,
    /// Largest number of pooled database connections.
    pub db_max_connections: u32,
    /// Accounts: token issuer and lifetimes, sign-in limits.
    pub auth: auth::AuthConfig,
    /// Seconds a store's node may be unreachable before the store stops taking online orders.
    pub node_grace_secs: u64,
    /// Seconds a sync or tracking WebSocket may stay silent (no message, no
    /// pong) before the hub closes it; it pings every third of that.
    pub link_timeout_secs: u64,
    /// Bytes of events one sync connection may hold back ahead of a gap, and
    /// all of them together; what does not fit is dropped and fetched again
    /// once the gap is filled.
    pub held_back_bytes_per_link: usize,
    pub held_back_bytes_total: usize,
    /// Where the hub reads the time: the system clock, or a `ManualClock` in tests.
    pub clock: time::SharedClock,
    /// Card payments through Stripe; `None`: web orders are paid at pickup only.
    pub payments: Option<CardPayments>,
    /// The built customer app (`index.html` and its assets), served at `/`;
    /// `None`, or a folder without `index.html`: the hub serves the API only.
    pub web_dir: Option<std::path::PathBuf>,
    /// The built merchant dashboard, served at `/dashboard/`; `None`, or a folder
    /// without `index.html`: nothing is served there.
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// Serve HTTPS with this certificate and key; `None`: plain HTTP (behind a
    /// proxy that terminates TLS, or on a developer's machine).
    pub tls: Option<tls::TlsFiles>,
}

/// How the hub takes card payments: the Stripe account and the flow's settings.
#[derive(Debug, Clone)]
pub struct CardPayments {
    pub stripe: payments::stripe::StripeConfig,
    /// The public URL, timeouts and worker pace (its `webhook_secret` is taken from `stripe`).
    pub flow: payments::PaymentsConfig,
}

/// Bytes of events all sync connections of one hub process may hold back
/// ahead of gaps: four connections' worth at the per-connection default
/// (`sync::session::MAX_PENDING_BYTES`, 16 MiB). An honest node's events
/// arrive in order and are never held, so only broken or hostile peers meet it.
pub const DEFAULT_HELD_BACK_TOTAL: usize = 4 * sync::session::MAX_PENDING_BYTES;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field("admin_token", &"<redacted>")
            .field("db_max_connections", &self.db_max_connections)
            .field("auth", &self.auth)
            .field("node_grace_secs", &self.node_grace_secs)
            .field("link_timeout_secs", &self.link_timeout_secs)
            .field("held_back_bytes_per_link", &self.held_back_bytes_per_link)
            .field("held_back_bytes_total", &self.held_back_bytes_total)
            .field("payments", &self.payments)
            .field("web_dir", &self.web_dir)
            .field("dashboard_dir", &self.dashboard_dir)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The URL without its password, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://hub.db?mode=rwc";
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

impl Config {
    /// A config with the defaults for everything but the admin token.
    pub fn new(bind: SocketAddr, admin_token: impl Into<String>) -> Config {
        Config {
            bind,
            database_url: DEFAULT_DATABASE_URL.into(),
            admin_token: admin_token.into(),
            db_max_connections: 10,
            auth: auth::AuthConfig::default(),
            node_grace_secs: online::DEFAULT_NODE_GRACE_SECS,
            link_timeout_secs: api_kit::liveness::DEFAULT_TIMEOUT.as_secs(),
            held_back_bytes_per_link: sync::session::MAX_PENDING_BYTES,
            held_back_bytes_total: DEFAULT_HELD_BACK_TOTAL,
            clock: time::system_clock(),
            payments: None,
            web_dir: None,
            dashboard_dir: None,
            tls: None,
        }
    }
}

/// A hub that is serving.
pub struct Running {
    pub addr: SocketAddr,
    /// `https` when the hub serves TLS itself, else `http`.
    pub scheme: &'static str,
    hub: Arc<Hub>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, closes every sync connection (1001), waits for them and the server, closes the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.hub.shutdown.send_replace(true);
        let r = (&mut self.task).await;
        let mut active = self.hub.active.subscribe();
        let _ = active.wait_for(|n| *n == 0).await;
        self.hub.db.close().await;
        r??;
        Ok(())
    }

    /// Serves until the server stops by itself.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }

    /// Serves until `signal` completes, then shuts down as [`Running::shutdown`] does.
    pub async fn serve_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::select! {
            r = &mut self.task => {
                self.hub.shutdown.send_replace(true);
                self.hub.db.close().await;
                r??;
                Ok(())
            }
            _ = signal => self.shutdown().await,
        }
    }

    /// The shared state (for tests and tools).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

/// Opens and migrates the database, binds `config.bind` and serves.
pub async fn run(config: Config) -> anyhow::Result<Running> {
    if config.admin_token.trim().chars().count() < MIN_ADMIN_TOKEN_CHARS {
        anyhow::bail!(
            "the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} characters (--admin-token / HUB_ADMIN_TOKEN)"
        );
    }
    let db = db::Db::connect(&config.database_url, config.db_max_connections.max(1)).await?;
    let mut hub = Hub::new(
        db,
        config.admin_token.trim(),
        config.auth.clone(),
        config.clock.clone(),
    );
    hub.online = online::Online::new(std::time::Duration::from_secs(config.node_grace_secs));
    hub.link_timeout = std::time::Duration::from_secs(config.link_timeout_secs.max(1));
    hub.held_back = sync::session::HeldPool::new(config.held_back_bytes_total);
    hub.held_back_per_link = config.held_back_bytes_per_link;
    if let Some(p) = &config.payments {
        let gateway = payments::stripe::StripeGateway::new(&p.stripe)?;
        let mut flow = p.flow.clone();
        flow.webhook_secret = p.stripe.webhook_secret.clone();
        hub.payments = Some(payments::Payments::new(Arc::new(gateway), flow));
    }
    let hub = Arc::new(hub);
    hub.auth.load_keys(&hub.db).await?;
    online::spawn_tasks(&hub);
    tokio::spawn(housekeeping::run(hub.clone()));
    tokio::spawn(auth::reload_keys_periodically(hub.clone()));
    tokio::spawn(payments::worker::run(hub.clone()));
    tokio::spawn(http::sales::ready_sums_at_start(hub.clone()));
    // A bad certificate or key stops the start here, before anything listens.
    let tls = match &config.tls {
        Some(files) => Some((files.clone(), files.server_config()?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    // The peer address feeds the per-IP sign-in limits.
    let app = http::router(
        hub.clone(),
        config.web_dir.as_deref(),
        config.dashboard_dir.as_deref(),
    )
    .into_make_service_with_connect_info::<SocketAddr>();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = match tls {
        None => {
            tls::reload_on_sighup(None);
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
            })
        }
        Some((files, server_config)) => {
            let live = axum_server::tls_rustls::RustlsConfig::from_config(server_config);
            tls::reload_on_sighup(Some((files, live.clone())));
            let handle = axum_server::Handle::new();
            let server =
                axum_server::from_tcp_rustls(listener.into_std()?, live)?.handle(handle.clone());
            tokio::spawn(async move {
                tokio::spawn(async move {
                    let _ = rx.await;
                    handle.graceful_shutdown(None);
                });
                server.serve(app).await
            })
        }
    };
    tracing::info!(%addr, scheme, database = hub.db.backend(), "cloud hub listening");
    Ok(Running {
        addr,
        scheme,
        hub,
        shutdown: Some(tx),
        task,
    })
}

/// Creates a platform admin account in the database at `database_url`
/// (migrating it first); returns the new user's id. For `cloud-hub add-admin`.
pub async fn add_admin(
    database_url: &str,
    email: &str,
    password: &str,
    name: &str,
) -> anyhow::Result<String> {
    let db = db::Db::connect(database_url, 1).await?;
    let r = auth::create_user(
        &db,
        email,
        password,
        name,
        auth::extract::Kind::Admin,
        time::system_now_ms(),
    )
    .await;
    db.close().await;
    Ok(r?.id)
}

/// What `cloud-hub keys` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysAction {
    List,
    Rotate,
    Retire(String),
}

/// Runs `cloud-hub keys ...` against the database; returns what to print.
pub async fn keys_command(database_url: &str, action: KeysAction) -> anyhow::Result<String> {
    let db = db::Db::connect(database_url, 1).await?;
    let out = match action {
        KeysAction::List => {
            let keys = db.signing_key_list().await?;
            let signer = auth::signer(
                keys.iter()
                    .filter(|(_, _, retired)| retired.is_none())
                    .map(|(kid, created, _)| (kid.as_str(), *created)),
            );
            let when = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| ms.to_string())
            };
            let mut out = format!("{:<33} {:<24} state\n", "kid", "created");
            for (kid, created, retired) in &keys {
                let state = match retired {
                    Some(at) => format!("retired {}", when(*at)),
                    None if signer == Some(kid.as_str()) => "signs and verifies".into(),
                    None => "verifies".into(),
                };
                out.push_str(&format!("{kid:<33} {:<24} {state}\n", when(*created)));
            }
            out
        }
        KeysAction::Rotate => {
            let kid = auth::rotate_signing_key(&db, time::system_now_ms()).await?;
            format!(
                "new signing key {kid}; running hubs sign with it within a minute.\n\
                 Retire the old key after 15 minutes or more: cloud-hub keys retire <kid>\n"
            )
        }
        KeysAction::Retire(kid) => {
            auth::retire_signing_key(&db, &kid, time::system_now_ms()).await?;
            format!("key {kid} retired: tokens it signed are refused within a minute\n")
        }
    };
    db.close().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_database_password() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            super::redact_url("sqlite://hub.db?mode=rwc"),
            "sqlite://hub.db?mode=rwc"
        );
    }
}
