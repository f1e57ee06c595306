//! `cloud-hub`: parse flags, set up logging, run. See `cloud-hub --help`.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;

/// The cloud hub: online ordering, merchant dashboard, node enrollment and
/// sync. In this release it only reports its health.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "CLOUD_HUB_BIND", default_value = "0.0.0.0:9090")]
    bind: SocketAddr,
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
    let running = cloud_hub::run(cli.bind).await?;
    let _ = writeln!(
        std::io::stdout(),
        "cloud-hub listening on http://{}",
        running.addr
    );
    tokio::select! {
        r = running.wait() => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
