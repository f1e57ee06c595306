//! `fake-stripe`: the fake Stripe as a process, for the demo and for tests that run binaries.
//! Prints `fake-stripe listening on http://…` once it accepts connections; stops on Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// A local fake of Stripe's API (checkout, manual capture, refunds, signed webhooks).
#[derive(Parser, Debug)]
#[command(name = "fake-stripe", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FAKE_STRIPE_BIND", default_value = "127.0.0.1:12111")]
    bind: SocketAddr,
    /// The secret key clients must present.
    #[arg(long, env = "FAKE_STRIPE_SECRET_KEY", default_value = "sk_test_fake")]
    secret_key: String,
    /// Where to POST Events (none: Events are only listed).
    #[arg(long, env = "FAKE_STRIPE_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// The `whsec_…` signing secret.
    #[arg(long, env = "FAKE_STRIPE_WEBHOOK_SECRET", default_value = "whsec_fake")]
    webhook_secret: String,
    /// Latency added to every API call, in milliseconds.
    #[arg(long, env = "FAKE_STRIPE_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// The first webhook retry's delay, in milliseconds (then doubling).
    #[arg(long, default_value_t = 1000)]
    webhook_retry_base_ms: u64,
    /// Webhook attempts per Event.
    #[arg(long, default_value_t = 5)]
    max_webhook_attempts: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let config = fake_stripe::Config {
        secret_key: args.secret_key,
        webhook_url: args.webhook_url,
        webhook_secret: args.webhook_secret,
        latency: Duration::from_millis(args.latency_ms),
        webhook_retry_base: Duration::from_millis(args.webhook_retry_base_ms),
        max_webhook_attempts: args.max_webhook_attempts,
        ..fake_stripe::Config::default()
    };
    let running = fake_stripe::start(config, args.bind).await?;
    println!("fake-stripe listening on http://{}", running.addr);
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
