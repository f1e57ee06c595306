//! Configuration in layers: built-in defaults, then an optional TOML file,
//! then environment variables `STORE_NODE__SECTION__KEY` (for example
//! `STORE_NODE__HTTP__BIND=0.0.0.0:8080`), then command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database lives.
    pub data_dir: PathBuf,
    pub store: StoreConfig,
    pub http: HttpConfig,
    /// How long a staff session lasts.
    pub session_ttl_secs: u64,
    /// Load the demo menu and demo staff into an empty database.
    pub demo: bool,
    pub log: LogConfig,
    /// Most writes committed in one transaction (group commit).
    pub max_commit_batch: usize,
    /// Where the built web apps are: `<web_dir>/{pos,kds,kiosk}/dist`, served at `/pos`, `/kds`, `/kiosk`.
    pub web_dir: PathBuf,
    /// The cloud hub to sync with; without it the node runs on its own.
    #[serde(default)]
    pub hub: Option<HubConfig>,
    /// The embedded MQTT broker devices connect to.
    #[serde(default)]
    pub mqtt: crate::mqtt::MqttConfig,
    /// The print queue: retries and timeouts.
    #[serde(default)]
    pub print: crate::printing::PrintConfig,
    /// The card terminal: customer timeout and password.
    #[serde(default)]
    pub terminal: crate::terminal::TerminalConfig,
    /// Enrolling at the hub with a pairing code (`docs/enrollment.md`).
    #[serde(default)]
    pub enroll: EnrollConfig,
}

/// Where the node finds a pairing code left for it (the image's config partition).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollConfig {
    /// An `enroll.toml` (`hub`, `code`, optional `ca_file`): while the node is not
    /// enrolled it enrolls from it at start, and deletes it once enrolled. The image
    /// sets `/var/lib/store-node-config/enroll.toml`.
    #[serde(default)]
    pub code_file: Option<PathBuf>,
    /// Allow an `http://` hub beyond this machine for enrolling and syncing (development
    /// only: the code and the store's orders would cross the network unencrypted). Set by
    /// `--allow-insecure-hub` too.
    #[serde(default)]
    pub allow_insecure: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// The hub's sync endpoint, e.g. `wss://hub.example.com/api/v1/sync`.
    pub url: String,
    /// This node's credential from enrollment. Never logged.
    pub token: Secret,
    /// Seconds the link may stay silent (no frame, no pong to our pings, which go
    /// out every third of this) before the node drops it and reconnects.
    #[serde(default = "default_link_timeout_secs")]
    pub timeout_secs: u64,
    /// Allow a plain `ws://` URL to a host that is not this machine. The link
    /// carries the node token and the store's orders unencrypted across every
    /// network in between, so the node refuses it unless this is set.
    #[serde(default)]
    pub allow_insecure: bool,
    /// A PEM file of CA certificates the node trusts for the hub besides the
    /// web's public roots: for a hub with a private certificate authority.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_link_timeout_secs() -> u64 {
    api_kit::liveness::DEFAULT_TIMEOUT.as_secs()
}

impl HubConfig {
    /// A hub at `url` with the node's `token`; the other settings at their defaults.
    pub fn new(url: impl Into<String>, token: Secret) -> HubConfig {
        HubConfig {
            url: url.into(),
            token,
            timeout_secs: default_link_timeout_secs(),
            allow_insecure: false,
            ca_file: None,
        }
    }

    /// How long the link may stay silent ([`HubConfig::timeout_secs`]).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.max(1))
    }

    /// Refuses a URL the node cannot or should not use: anything but `wss://`
    /// or `ws://`, and plain `ws://` to anything but a loopback address without
    /// `allow_insecure` (development, or a TLS tunnel on this machine).
    pub fn check(&self) -> Result<(), String> {
        let uri: axum::http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("the hub URL {:?} is not a URL: {e}", self.url))?;
        let host = uri
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        match uri.scheme_str() {
            Some("wss") => Ok(()),
            Some("ws") if self.allow_insecure || is_loopback(host) => Ok(()),
            Some("ws") => Err(format!(
                "the hub URL {} is plain ws:// to {host}, which would send the node's credentials \
                 and the store's orders unencrypted; use wss:// (TLS), or allow it explicitly with \
                 --allow-insecure-hub ([hub] allow_insecure = true, STORE_NODE__HUB__ALLOW_INSECURE=true)",
                self.url
            )),
            _ => Err(format!(
                "the hub URL {:?} must start with wss:// (or ws:// for development)",
                self.url
            )),
        }
    }
}

/// `localhost` or a loopback IP (127.0.0.0/8, ::1): traffic that never leaves the machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A secret that prints as `***`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The store's id at the hub (from enrollment); events and documents carry it.
    pub id: String,
    pub name: String,
    /// ISO 4217 code used for a new, empty menu.
    pub currency: String,
    /// Printed under the store's name on receipts: address, phone, tax number.
    #[serde(default)]
    pub receipt_lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port for the LAN API; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Largest request body accepted.
    pub body_limit_bytes: usize,
    /// Seconds an event-stream client may stay silent (no message, no pong to
    /// the pings sent every third of this) before the node closes its socket.
    #[serde(default = "default_link_timeout_secs")]
    pub ws_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (one object a line, for machines) or `pretty` (for people).
    pub format: String,
    /// A tracing filter, e.g. `info` or `store_node=debug,tower_http=info`. rumqttd's own
    /// logs are off by default (it logs every ordinary disconnect as an error); the node's
    /// MQTT proxy logs connections, refusals and rule violations itself.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            store: StoreConfig {
                id: "store-1".into(),
                name: "My Restaurant".into(),
                currency: "USD".into(),
                receipt_lines: vec![],
            },
            http: HttpConfig {
                bind: "0.0.0.0:8080".parse().expect("valid default address"),
                body_limit_bytes: 256 * 1024,
                ws_timeout_secs: default_link_timeout_secs(),
            },
            session_ttl_secs: 12 * 3600,
            demo: false,
            log: LogConfig {
                format: "json".into(),
                level: "info,rumqttd=off".into(),
            },
            max_commit_batch: 512,
            web_dir: PathBuf::from("apps"),
            hub: None,
            mqtt: Default::default(),
            print: Default::default(),
            terminal: Default::default(),
            enroll: Default::default(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (if given), then `STORE_NODE__*` environment variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig.merge(Env::prefixed("STORE_NODE__").split("__"))
            .extract()
            .map_err(Box::new)
    }
}
