//! `store-node`: parse flags, set up logging, run. See `store-node --help`.
//!
//! Memory: the binary first starts itself again with glibc's malloc tuned for
//! Argon2's large blocks (`api_kit::malloc`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use domain::roles::Role;
use store_node::{Config, demo};

/// The restaurant's store node: orders, menu, staff sign-in and a live event
/// stream for POS, kiosk and kitchen displays on the LAN. Works offline.
///
/// Settings come in layers: built-in defaults, then the TOML file given with
/// --config, then environment variables named STORE_NODE__<SECTION>__<KEY>
/// (e.g. STORE_NODE__HTTP__BIND=0.0.0.0:8080, STORE_NODE__DATA_DIR=/var/lib/store,
/// STORE_NODE__SESSION_TTL_SECS=3600, STORE_NODE__LOG__FORMAT=pretty), then the
/// flags below.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// A TOML file with settings (same keys as the environment variables, e.g. `data_dir`, `[http] bind`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address and port for the LAN API (default 0.0.0.0:8080; port 0 picks a free port).
    #[arg(long, global = true, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// Address and port of the device MQTT broker (default 0.0.0.0:1883; port 0 picks a free
    /// port; "off" disables the broker).
    #[arg(long, global = true, value_name = "ADDR")]
    mqtt_bind: Option<String>,
    /// Directory of the SQLite database (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory with the built web apps (<DIR>/pos/dist, <DIR>/kds/dist, <DIR>/kiosk/dist); default ./apps.
    #[arg(long, global = true, value_name = "DIR")]
    web_dir: Option<PathBuf>,
    /// Load the demo menu and demo staff into an empty database and print how to sign in.
    #[arg(long)]
    demo: bool,
    /// Log format: json (default) or pretty.
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Allow a plain ws:// hub URL ([hub] url) to a host other than this machine. Without
    /// it the node refuses to start with one: the sync link carries the node token and the
    /// store's orders, unencrypted over ws://. Same as [hub] allow_insecure = true.
    #[arg(long, global = true)]
    allow_insecure_hub: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Add a staff member (or reset their PIN and role), e.g. the first owner at install time.
    AddStaff {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// owner, manager, cashier, kitchen or customer (a kiosk).
        #[arg(long)]
        role: String,
        /// 4 to 8 digits.
        #[arg(long)]
        pin: String,
    },
    /// Pair this node with its store at the hub, with a pairing code made in the dashboard
    /// (under Devices). Works on a fresh node and beside a running one, which picks the
    /// enrollment up within a few seconds (and starts again if it now serves another store).
    /// Tries again for up to 10 minutes while the hub cannot be reached.
    Enroll {
        /// The hub's address, e.g. https://hub.example.com.
        #[arg(long, value_name = "URL")]
        hub: String,
        /// The pairing code, e.g. K7QM-3XPD (case, spaces and dashes do not matter).
        #[arg(long)]
        code: String,
        /// A CA certificate (PEM) that signed the hub's certificate, for a private hub.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// How the hub lists this node (default: this machine's host name).
        #[arg(long)]
        label: Option<String>,
    },
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "pretty" {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

fn main() -> anyhow::Result<()> {
    api_kit::malloc::tune("store-node");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(b) = cli.bind {
        config.http.bind = b;
    }
    if let Some(m) = cli.mqtt_bind {
        if m == "off" {
            config.mqtt.enabled = false;
        } else {
            config.mqtt.bind = Some(m);
        }
    }
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    if let Some(d) = cli.web_dir {
        config.web_dir = d;
    }
    if cli.demo {
        config.demo = true;
    }
    if let Some(f) = cli.log_format {
        config.log.format = f;
    }
    if cli.allow_insecure_hub {
        config.enroll.allow_insecure = true;
        if let Some(hub) = config.hub.as_mut() {
            hub.allow_insecure = true;
        }
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", store_node::http::openapi::json());
            Ok(())
        }
        Command::AddStaff {
            id,
            name,
            role,
            pin,
        } => {
            let role =
                Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role {role:?}"))?;
            store_node::add_staff(&config, &id, &name, role, &pin).await?;
            println!("staff member {id} saved");
            Ok(())
        }
        Command::Enroll {
            hub,
            code,
            ca_file,
            label,
        } => enroll(&config, hub, &code, ca_file, label).await,
        Command::Serve => {
            init_logging(&config);
            let demo = config.demo;
            let running = store_node::run(config).await?;
            // One line a machine can read (the demo script and tests wait for it). Write errors
            // are ignored: a node must keep serving when nobody reads its stdout.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "store-node listening on http://{}", running.addr);
            if let Some(e) = &running.state.mqtt_error {
                let _ = writeln!(out, "store-node mqtt NOT listening: {e}");
            }
            if let Some(m) = &running.state.mqtt {
                if let Some(a) = m.plain_addr() {
                    let _ = writeln!(out, "store-node mqtt on {a}");
                }
                if let Some(a) = m.tls_addr() {
                    let _ = writeln!(out, "store-node mqtts on {a}");
                }
            }
            if demo {
                let _ = writeln!(out, "demo staff (id / PIN):");
                for (id, name, role, pin) in demo::STAFF {
                    let _ = writeln!(out, "  {id:<8} {pin}  {name} ({})", role.as_str());
                }
            }
            let _ = out.flush();
            drop(out);
            let shutdown = async {
                let ctrl_c = tokio::signal::ctrl_c();
                #[cfg(unix)]
                {
                    let mut term =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                            .expect("installing the SIGTERM handler");
                    tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
                }
                #[cfg(not(unix))]
                let _ = ctrl_c.await;
            };
            let result = tokio::select! {
                r = running.wait() => r,
                _ = shutdown => { tracing::info!("shutting down"); Ok(()) }
            };
            if let Err(e) = &result
                && let Some(changed) = e.downcast_ref::<store_node::StoreChanged>()
            {
                tracing::warn!(store = %changed.store, "exiting so that the service manager starts the node again for the enrolled store");
                std::process::exit(store_node::enroll::EXIT_STORE_CHANGED);
            }
            result
        }
    }
}

/// `store-node enroll`: enrolls with the code given, then deletes a code file the node
/// would otherwise enroll with at its next start.
async fn enroll(
    config: &Config,
    hub: String,
    code: &str,
    ca_file: Option<PathBuf>,
    label: Option<String>,
) -> anyhow::Result<()> {
    use store_node::enroll::{self, Enrollment, Failure};
    if let Some(e) = Enrollment::load(&config.data_dir)? {
        anyhow::bail!(
            "this node is already enrolled: node {} of store {} ({}) at {}; nothing was changed",
            e.node_id,
            e.store_id,
            e.store_name,
            e.hub_url
        );
    }
    let code = node_identity::PairingCode::parse(code).map_err(|e| anyhow::anyhow!("{e}"))?;
    enroll::check_hub_url(&hub, config.enroll.allow_insecure).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(ca) = &ca_file
        && !ca.is_file()
    {
        anyhow::bail!("the CA file {} does not exist", ca.display());
    }
    let req = enroll::Request {
        hub: hub.trim_end_matches('/').to_owned(),
        code,
        ca_file: ca_file.map(|p| std::path::absolute(&p).unwrap_or(p)),
        label: label.unwrap_or_else(enroll::host_name),
        store_id: enroll::store_with_data(&config.data_dir, &config.store.id)?,
    };
    match enroll::enroll(&config.data_dir, &req, Some(CLI_PATIENCE)).await {
        Ok(e) => {
            if let Some(path) = &config.enroll.code_file {
                enroll::remove_code_file(path)?;
            }
            enroll::announce(&e);
            Ok(())
        }
        Err(Failure::Local(e)) => Err(e),
        Err(f @ Failure::Refused { .. }) => anyhow::bail!("not enrolled: {}", enroll::advice(&f)),
        Err(f) => anyhow::bail!(
            "not enrolled: {f}. Check the network and the hub's address, then run this again \
             (the code lasts 10 minutes from when it was made)"
        ),
    }
}

/// How long `store-node enroll` keeps trying while the hub cannot be reached: a code lasts
/// 10 minutes.
const CLI_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);
