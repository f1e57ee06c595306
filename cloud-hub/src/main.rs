//! `cloud-hub`: parse flags, set up logging, run (or run a maintenance
//! subcommand such as `add-admin`, or print the OpenAPI document with
//! `openapi`). See `cloud-hub --help`. Like the store node, it first starts
//! itself again with glibc's malloc tuned for Argon2 (`api_kit::malloc`).

use std::io::Write;
use std::net::SocketAddr;

use clap::{Parser, Subcommand};

/// The cloud hub: accounts, node enrollment, the sync endpoint store nodes
/// connect to, and the merchant's menu and order views.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "CLOUD_HUB_BIND", default_value = "0.0.0.0:9090")]
    bind: SocketAddr,

    /// Database: a SQLite file (`sqlite://PATH?mode=rwc`, created when missing)
    /// or PostgreSQL (`postgres://user:password@host:port/db`). Migrations run at start.
    #[arg(long, env = "DATABASE_URL", default_value = cloud_hub::DEFAULT_DATABASE_URL, global = true)]
    database_url: String,

    /// Bearer token of the platform: the admin API (stores, node tokens,
    /// organisations) and every store; required to serve, at least 16
    /// characters. Prefer the environment variable: flags show in the process list.
    #[arg(long, env = "HUB_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,

    /// Largest number of pooled database connections.
    #[arg(long, env = "HUB_DB_MAX_CONNECTIONS", default_value_t = 10)]
    db_max_connections: u32,

    /// The `iss` of the access tokens this hub signs (and requires).
    #[arg(long, env = "HUB_JWT_ISSUER", default_value = cloud_hub::auth::DEFAULT_ISSUER)]
    jwt_issuer: String,

    /// Access-token lifetime in seconds (at most 900).
    #[arg(long, env = "HUB_ACCESS_TTL_SECS", default_value_t = 900)]
    access_ttl_secs: u64,

    /// Take the client IP (for sign-in limits) from the last X-Forwarded-For
    /// entry. Only behind a proxy that sets it.
    #[arg(long, env = "HUB_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,

    /// Seconds a store's node may be unreachable before the hub pauses the
    /// store's online ordering (it resumes when the node reconnects).
    #[arg(long, env = "HUB_NODE_GRACE_SECS", default_value_t = cloud_hub::online::DEFAULT_NODE_GRACE_SECS)]
    node_grace_secs: u64,

    /// Seconds a store node's sync link or a customer's tracking socket may
    /// stay silent (no message, no pong to our pings) before the hub drops it;
    /// a node behind a dead link then counts as away (see --node-grace-secs).
    #[arg(long, env = "HUB_LINK_TIMEOUT_SECS", default_value_t = 30)]
    link_timeout_secs: u64,

    /// Stripe secret key (`sk_...`): turns on card payments for web orders. Prefer the
    /// environment variable. Without it, web orders are paid at pickup.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    stripe_secret_key: Option<String>,

    /// The webhook endpoint's signing secret (`whsec_...`); required with a secret key.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    stripe_webhook_secret: Option<String>,

    /// Where Stripe's API is (the default is Stripe's; tests and the demo use a local fake).
    #[arg(long, env = "STRIPE_API_BASE")]
    stripe_api_base: Option<String>,

    /// Where customers reach this hub's pages (the payment page sends them back there).
    #[arg(long, env = "HUB_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    public_url: String,

    /// Seconds a store has to accept a card-paid order before the hold is released and the
    /// order cancelled.
    #[arg(long, env = "HUB_ACCEPT_TIMEOUT_SECS", default_value_t = 600)]
    accept_timeout_secs: u64,

    /// The built customer app (`npm run build` makes `apps/customer/dist`), served at `/`
    /// with `index.html` for the app's own paths. Without an `index.html` there, the hub
    /// serves the API only.
    #[arg(long, env = "CLOUD_HUB_WEB_DIR", default_value = "apps/customer/dist")]
    web_dir: std::path::PathBuf,

    /// The built merchant dashboard (`apps/dashboard/dist`), served at `/dashboard/` with
    /// `index.html` for the app's own paths. Without an `index.html` there, nothing is.
    #[arg(
        long,
        env = "CLOUD_HUB_DASHBOARD_DIR",
        default_value = "apps/dashboard/dist"
    )]
    dashboard_dir: std::path::PathBuf,

    /// Serve HTTPS with this certificate chain (PEM; the server's certificate first).
    /// Reloaded on SIGHUP. Leave unset behind a proxy that terminates TLS.
    #[arg(long, env = "HUB_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "HUB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a platform admin account in the database and exit.
    AddAdmin {
        #[arg(long)]
        email: String,
        /// The password; prefer the environment variable (flags show in the process list).
        #[arg(long, env = "HUB_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "Platform admin")]
        name: String,
    },
    /// Print the OpenAPI document (what `cloud-hub/openapi.json` holds) and exit.
    Openapi,
    /// The keys that sign access tokens: list, rotate, retire. Running hubs
    /// pick changes up within a minute and pass them to their store nodes.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand, Debug)]
enum KeysAction {
    /// Every key: id, created, retired, and which one signs.
    List,
    /// Add a key that signs from now on; the others still verify what they signed.
    Rotate,
    /// Stop accepting tokens signed with KID (not the newest key: rotate first).
    /// Wait at least 15 minutes after a rotation, so no live token is cut off.
    Retire { kid: String },
}

fn main() -> anyhow::Result<()> {
    // Before any thread starts: glibc's malloc tuned for Argon2's large blocks.
    api_kit::malloc::tune("cloud-hub");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        let _ = write!(std::io::stdout(), "{}", cloud_hub::http::openapi::json());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Some(Command::AddAdmin {
        email,
        password,
        name,
    }) = cli.command
    {
        let id = cloud_hub::add_admin(&cli.database_url, &email, &password, &name).await?;
        let _ = writeln!(std::io::stdout(), "platform admin {email} created ({id})");
        return Ok(());
    }
    if let Some(Command::Keys { action }) = cli.command {
        let action = match action {
            KeysAction::List => cloud_hub::KeysAction::List,
            KeysAction::Rotate => cloud_hub::KeysAction::Rotate,
            KeysAction::Retire { kid } => cloud_hub::KeysAction::Retire(kid),
        };
        let out = cloud_hub::keys_command(&cli.database_url, action).await?;
        let _ = write!(std::io::stdout(), "{out}");
        return Ok(());
    }
    let Some(admin_token) = cli.admin_token else {
        anyhow::bail!("the admin token is required (--admin-token / HUB_ADMIN_TOKEN)");
    };
    let config = cloud_hub::Config {
        bind: cli.bind,
        database_url: cli.database_url,
        admin_token,
        db_max_connections: cli.db_max_connections,
        auth: cloud_hub::auth::AuthConfig {
            issuer: cli.jwt_issuer,
            access_ttl_secs: cli.access_ttl_secs,
            trust_forwarded_for: cli.trust_forwarded_for,
            ..Default::default()
        },
        node_grace_secs: cli.node_grace_secs,
        link_timeout_secs: cli.link_timeout_secs,
        held_back_bytes_per_link: sync::session::MAX_PENDING_BYTES,
        held_back_bytes_total: cloud_hub::DEFAULT_HELD_BACK_TOTAL,
        clock: cloud_hub::time::system_clock(),
        payments: match (cli.stripe_secret_key, cli.stripe_webhook_secret) {
            (None, _) => None,
            (Some(_), None) => anyhow::bail!(
                "--stripe-webhook-secret (STRIPE_WEBHOOK_SECRET) is required with a Stripe secret key"
            ),
            (Some(secret_key), Some(webhook_secret)) => {
                let mut flow = cloud_hub::payments::PaymentsConfig::new(&cli.public_url, "");
                flow.accept_timeout =
                    std::time::Duration::from_secs(cli.accept_timeout_secs.max(1));
                Some(cloud_hub::CardPayments {
                    stripe: cloud_hub::payments::stripe::StripeConfig {
                        secret_key,
                        api_base: cli.stripe_api_base,
                        webhook_secret,
                        request_timeout: std::time::Duration::from_secs(10),
                    },
                    flow,
                })
            }
        },
        web_dir: Some(cli.web_dir),
        dashboard_dir: Some(cli.dashboard_dir),
        tls: match (cli.tls_cert, cli.tls_key) {
            (Some(cert), Some(key)) => Some(cloud_hub::tls::TlsFiles { cert, key }),
            _ => None,
        },
    };
    let running = cloud_hub::run(config).await?;
    let _ = writeln!(
        std::io::stdout(),
        "cloud-hub listening on {}://{}",
        running.scheme,
        running.addr
    );
    running.serve_until(stop_signal()).await
}

/// Ctrl-C, or SIGTERM (what service managers and containers send).
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} },
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("stopping: closing sync connections");
}
