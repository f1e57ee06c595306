//! Enrolling this node at the hub with a pairing code (`docs/enrollment.md`), and the
//! identity it keeps afterwards: `<data_dir>/node-key.pk8` (its Ed25519 key, PKCS#8, mode
//! 0600) and `<data_dir>/enrollment.json` (which store it serves, at which hub, as which node).
//!
//! The order of the steps is what makes a power cut at any moment harmless:
//! 1. the key is made and written durably (temporary file, fsync, rename, fsync of the
//!    directory) before anything is sent, and every retry reuses it;
//! 2. the request goes out; the hub answers a repeat of the same key and code with the same
//!    enrollment (200), so an answer lost in a crash costs nothing and never counts twice;
//! 3. `enrollment.json` is written the same durable way;
//! 4. only then is the code file deleted (and its directory fsynced).
//!
//! A cut before 3 leaves the key and the code file: the next start enrolls again with them.
//! A cut after 3 leaves an enrolled node, and a leftover code file is deleted unused.
//!
//! Each step prints one line on stdout (`store-node enrollment: key written`, `request sent`,
//! `answer received`, `state written`, `code deleted`, then `store-node enrolled: ...`), which
//! the crash test kills the process right after, and an installer can follow.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use api_types::hub::nodes::{EnrollRequest, Enrolled};
use node_identity::{NodeKey, PairingCode};
use serde::{Deserialize, Serialize};

/// The node's private key, in the data directory.
pub const KEY_FILE: &str = "node-key.pk8";
/// The enrollment state, in the data directory.
pub const STATE_FILE: &str = "enrollment.json";
/// The exit status of a running node that was enrolled (by `store-node enroll` from another
/// process) for a store other than the one it was serving: its service manager starts it
/// again, and it then serves the new store. (EX_TEMPFAIL from sysexits.h.)
pub const EXIT_STORE_CHANGED: i32 = 75;
/// How often a node that is not enrolled looks for `enrollment.json` written by another process.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What the hub said when it enrolled this node; `<data_dir>/enrollment.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The hub's base URL (`https://hub.example.com`).
    pub hub_url: String,
    pub node_id: String,
    pub store_id: String,
    pub store_name: String,
    pub currency: String,
    pub ticket_prefix: String,
    pub enrolled_at_ms: i64,
    /// A CA certificate for a private hub, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Enrollment {
    /// The state in `data_dir`, or `None` when the node is not enrolled.
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<Enrollment>> {
        let path = data_dir.join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let e = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an enrollment state", path.display()))?;
        Ok(Some(e))
    }

    /// The hub's sync endpoint: `https://h` becomes `wss://h/api/v1/sync`, `http://h` `ws://h/...`.
    pub fn sync_url(&self) -> String {
        let base = self.hub_url.trim_end_matches('/');
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        format!("{ws}/api/v1/sync")
    }

    /// The letter of this node's ticket numbers.
    pub fn ticket_prefix(&self) -> char {
        self.ticket_prefix
            .chars()
            .next()
            .filter(char::is_ascii_alphabetic)
            .unwrap_or(domain::ticket::STORE_PREFIX)
    }

    /// The key this enrollment is signed with, from `data_dir`.
    pub fn key(data_dir: &Path) -> anyhow::Result<NodeKey> {
        let path = data_dir.join(KEY_FILE);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "the node is enrolled ({STATE_FILE}) but its key {} cannot be read",
                path.display()
            )
        })?;
        NodeKey::from_pkcs8(&bytes).with_context(|| format!("reading {}", path.display()))
    }
}

/// `enroll.toml`, the code an installer leaves for the node (the image's config partition).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeFile {
    /// The hub's base URL.
    pub hub: String,
    pub code: String,
    /// A CA certificate for a private hub; relative to the code file's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl CodeFile {
    /// The code file at `path`, or `None` when there is none.
    pub fn read(path: &Path) -> anyhow::Result<Option<CodeFile>> {
        if !path.exists() {
            return Ok(None);
        }
        use figment::providers::{Format, Toml};
        let mut f: CodeFile = figment::Figment::from(Toml::file_exact(path))
            .extract()
            .with_context(|| {
                format!(
                    "the code file {} is not readable as `hub = \"https://...\"` and `code = \"XXXX-XXXX\"`",
                    path.display()
                )
            })?;
        if let (Some(ca), Some(dir)) = (&f.ca_file, path.parent())
            && ca.is_relative()
        {
            f.ca_file = Some(dir.join(ca));
        }
        Ok(Some(f))
    }
}

/// One enrollment to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// The hub's base URL (`https://...`, or `http://` for development).
    pub hub: String,
    pub code: PairingCode,
    pub ca_file: Option<PathBuf>,
    /// How the hub lists this node (default: the machine's host name).
    pub label: String,
    /// The store whose data this node already holds: the hub refuses a code of another store.
    pub store_id: Option<String>,
}

/// Why an attempt did not enroll.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The hub said no for good (an invalid, malformed or other store's code, a bad proof):
    /// retrying with the same code cannot help.
    #[error("the hub refused the code ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The hub could not be reached or asked to wait: worth trying again.
    #[error("{why}")]
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Something on this machine (a file that cannot be written).
    #[error(transparent)]
    Local(#[from] anyhow::Error),
}

/// Refuses a hub URL the node should not enroll with: anything but `https://`, except
/// `http://` to this machine, or anywhere when `allow_insecure` (development).
pub fn check_hub_url(hub: &str, allow_insecure: bool) -> Result<(), String> {
    let uri: axum::http::Uri = hub
        .parse()
        .map_err(|e| format!("the hub URL {hub:?} is not a URL: {e}"))?;
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback || allow_insecure => Ok(()),
        Some("http") => Err(format!(
            "the hub URL {hub} is plain http://, which would send the pairing code and then the \
             store's orders unencrypted; use https:// (or --allow-insecure-hub for development)"
        )),
        _ => Err(format!(
            "the hub URL {hub:?} must start with https:// (e.g. https://hub.example.com)"
        )),
    }
}

/// One line of progress on stdout (and in the log): what the crash test and installers follow.
pub fn progress(step: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "store-node enrollment: {step}");
    let _ = out.flush();
    tracing::info!(step, "enrollment");
}

/// The machine's host name, for the label the hub shows.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "store-node".into())
}

/// The node's key: the one written before (by an interrupted enrollment), else a new one,
/// written durably before it is returned.
pub fn key_for_enrolling(data_dir: &Path) -> anyhow::Result<NodeKey> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            return NodeKey::from_pkcs8(&bytes)
                .with_context(|| format!("the key file {} is damaged", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = NodeKey::generate().context("making the node's key")?;
    write_durably(&path, key.pkcs8(), 0o600)?;
    progress("key written");
    Ok(key)
}

/// Writes `bytes` to `path` so that after a crash it is either the old file or the whole new
/// one: a temporary file beside it, fsync, rename over, fsync of the directory.
pub fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("a file name")?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    #[cfg(unix)]
    {
        // A leftover temporary file from a crash keeps its old mode: set it again.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir)
}

/// fsync of a directory, so a rename or a deletion in it survives a power cut.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the directory {}", dir.display()))
}

/// Deletes the code file once the node is enrolled (and fsyncs its directory). A file
/// already gone is fine.
pub fn remove_code_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("deleting {}", path.display())),
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    progress("code deleted");
    Ok(())
}

/// The store whose data the database in `data_dir` holds, if any: `configured_store` when
/// it holds any event but the empty menu every node writes at its first start. Read-only,
/// so it works beside a running node.
pub fn store_with_data(data_dir: &Path, configured_store: &str) -> anyhow::Result<Option<String>> {
    let path = data_dir.join("store.db");
    if !path.exists() {
        return Ok(None);
    }
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_log')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(None);
    }
    let held: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM event_log WHERE NOT (kind = 'menu.changed' \
             AND json_extract(data, '$.change.created') IS 1))",
        [],
        |r| r.get(0),
    )?;
    Ok(held.then(|| configured_store.to_owned()))
}

/// An HTTP(S) client for the hub: the bundled web roots, plus `ca_file` for a private hub.
fn client(ca_file: Option<&Path>) -> anyhow::Result<api_kit::https::HttpsClient> {
    let tls = crate::tls::client_config(ca_file).context("the hub's TLS settings")?;
    Ok(crate::tls::hub_http(
        &tls,
        Duration::from_secs(30),
        64 * 1024,
    ))
}

/// One attempt: sends the request signed with `key`, and on the hub's yes writes
/// `enrollment.json` durably. Does not delete the code file (the caller does, after).
pub async fn attempt(
    http: &api_kit::https::HttpsClient,
    data_dir: &Path,
    req: &Request,
    key: &NodeKey,
) -> Result<Enrollment, Failure> {
    let url = format!("{}/api/v1/nodes/enroll", req.hub.trim_end_matches('/'));
    let body = EnrollRequest {
        code: req.code.as_str().to_owned(),
        public_key: key.public_key().to_base64(),
        label: Some(req.label.clone()),
        store_id: req.store_id.clone(),
        proof: key.sign_enrollment(&req.code),
    };
    progress("request sent");
    // No Idempotency-Key: the request is idempotent by itself (the same key with the same
    // code gets the same node, 200), and a key's claim at the hub outlives a request cut off
    // by a power cut for a minute (409 `request_in_flight`), which would only delay the retry.
    let r = http
        .post_json(&url, &[], &body)
        .await
        .map_err(|e| Failure::Retry {
            why: format!("the hub at {} cannot be reached: {e}", req.hub),
            after: None,
        })?;
    let status = r.status.as_u16();
    // A 429 says when to come back; otherwise the backoff applies.
    let retry_after = r.retry_after();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    progress("answer received");
    if status == 200 || status == 201 {
        let a: Enrolled = serde_json::from_str(&text).map_err(|e| Failure::Retry {
            why: format!("the hub's answer is not an enrollment ({e}): {text}"),
            after: None,
        })?;
        let e = Enrollment {
            hub_url: req.hub.trim_end_matches('/').to_owned(),
            node_id: a.node_id,
            store_id: a.store_id,
            store_name: a.store_name,
            currency: a.currency,
            ticket_prefix: a.ticket_prefix,
            enrolled_at_ms: a.enrolled_at_ms,
            ca_file: req.ca_file.clone(),
        };
        let json = serde_json::to_vec_pretty(&e).context("encoding the enrollment")?;
        write_durably(&data_dir.join(STATE_FILE), &json, 0o600)?;
        progress("state written");
        return Ok(e);
    }
    let err: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let code = err["error"]["code"].as_str().unwrap_or("").to_owned();
    let message = err["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(200).collect());
    // A request of ours the hub is still working on (the process before a crash sent it
    // with the same Idempotency-Key): its answer will be ready for a retry.
    if status == 429 || status == 408 || status >= 500 || code == "request_in_flight" {
        return Err(Failure::Retry {
            why: format!("the hub answered {status} {code}: {message}"),
            after: retry_after,
        });
    }
    Err(Failure::Refused {
        status,
        code,
        message,
    })
}

/// Enrolls, trying again with backoff (1 s doubling to 60 s, with jitter) while the hub
/// cannot be reached, for at most `give_up_after` (forever when `None`). Returns on the
/// hub's yes or a definitive refusal. The key is made (or the earlier one taken) first.
pub async fn enroll(
    data_dir: &Path,
    req: &Request,
    give_up_after: Option<Duration>,
) -> Result<Enrollment, Failure> {
    let key = key_for_enrolling(data_dir)?;
    // One client (CA file read, roots loaded) for every retry.
    let http = client(req.ca_file.as_deref())?;
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_secs(1);
    loop {
        // `store-node enroll` run by hand meanwhile (it shares the key file) may have finished.
        if let Some(e) = Enrollment::load(data_dir)? {
            return Ok(e);
        }
        match attempt(&http, data_dir, req, &key).await {
            Err(Failure::Retry { why, after }) => {
                let pause = after
                    .unwrap_or_else(|| wait.mul_f64(0.5 + rand::random::<f64>() / 2.0))
                    .max(Duration::from_millis(200));
                if give_up_after.is_some_and(|g| started.elapsed() + pause > g) {
                    return Err(Failure::Retry { why, after });
                }
                tracing::warn!(error = %why, retry_in_s = pause.as_secs_f64(), "enrollment: not done yet; trying again");
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "store-node enrollment: not done yet ({why}); trying again in {:.0} s",
                    pause.as_secs_f64().ceil()
                );
                drop(out);
                tokio::time::sleep(pause).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
            other => return other,
        }
    }
}

/// What an installer should do after a refusal.
pub fn advice(f: &Failure) -> String {
    match f {
        Failure::Refused { code, message, .. } => match code.as_str() {
            "invalid_code" | "bad_code" => format!(
                "{message} Put a new code in the code file (or run `store-node enroll --hub URL --code CODE`)."
            ),
            "wrong_store" => format!(
                "{message} This server already holds another store's orders: use a code made for that store."
            ),
            _ => message.clone(),
        },
        other => other.to_string(),
    }
}

/// Logs and prints that the node is enrolled.
pub fn announce(e: &Enrollment) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "store-node enrolled: node {} of store {} ({}) at {}",
        e.node_id, e.store_id, e.store_name, e.hub_url
    );
    let _ = out.flush();
    tracing::info!(node_id = %e.node_id, store_id = %e.store_id, hub = %e.hub_url, "enrolled at the hub");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_url_follows_the_hub_url() {
        let mut e = Enrollment {
            hub_url: "https://hub.example.com/".into(),
            node_id: "n".into(),
            store_id: "s".into(),
            store_name: "S".into(),
            currency: "USD".into(),
            ticket_prefix: "B".into(),
            enrolled_at_ms: 0,
            ca_file: None,
        };
        assert_eq!(e.sync_url(), "wss://hub.example.com/api/v1/sync");
        e.hub_url = "http://127.0.0.1:9".into();
        assert_eq!(e.sync_url(), "ws://127.0.0.1:9/api/v1/sync");
        assert_eq!(e.ticket_prefix(), 'B');
    }

    #[test]
    fn a_durable_write_replaces_the_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_durably(&p, b"one", 0o600).unwrap();
        write_durably(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_key_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = key_for_enrolling(dir.path()).unwrap();
        let b = key_for_enrolling(dir.path()).unwrap();
        assert_eq!(a.public_key(), b.public_key());
    }

    #[test]
    fn a_code_file_names_a_ca_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("enroll.toml");
        assert!(CodeFile::read(&p).unwrap().is_none());
        std::fs::write(
            &p,
            "hub = \"https://h\"\ncode = \"K7QM-3XPD\"\nca_file = \"ca.pem\"\n",
        )
        .unwrap();
        let f = CodeFile::read(&p).unwrap().unwrap();
        assert_eq!(f.hub, "https://h");
        assert_eq!(f.code, "K7QM-3XPD");
        assert_eq!(f.ca_file.unwrap(), dir.path().join("ca.pem"));
    }
}
