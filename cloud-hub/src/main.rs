//! `cloud-hub`: parse flags, set up logging, run. See `cloud-hub --help`.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;

/// The cloud hub: node enrollment, the sync endpoint store nodes connect to,
/// and the merchant's menu and order views.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "CLOUD_HUB_BIND", default_value = "0.0.0.0:9090")]
    bind: SocketAddr,

    /// Database: a SQLite file (`sqlite://PATH?mode=rwc`, created when missing)
    /// or PostgreSQL (`postgres://user:password@host:port/db`). Migrations run at start.
    #[arg(long, env = "DATABASE_URL", default_value = cloud_hub::DEFAULT_DATABASE_URL)]
    database_url: String,

    /// Bearer token for the admin API (stores, node tokens, menus, orders);
    /// required, at least 16 characters. Prefer the environment variable: flags
    /// show in the process list.
    #[arg(long, env = "HUB_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "HUB_DB_MAX_CONNECTIONS", default_value_t = 10)]
    db_max_connections: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = cloud_hub::Config {
        bind: cli.bind,
        database_url: cli.database_url,
        admin_token: cli.admin_token,
        db_max_connections: cli.db_max_connections,
    };
    let running = cloud_hub::run(config).await?;
    let _ = writeln!(
        std::io::stdout(),
        "cloud-hub listening on http://{}",
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
