//! The device registry: which printers, card terminals, cash drawers, KDS
//! screens and kiosks this store has, how each is connected, its MQTT
//! credential (stored as a hash), and how it is doing right now.
//!
//! Registrations live in the `devices` table and change only through the
//! manager API (`http::devices`). Health is in memory: the print lanes report
//! what each printer's real-time status says, the MQTT broker reports who is
//! connected, and every change goes out as a `device.status` notice on the
//! event stream. The [`Registry`] also answers the broker's credential checks
//! (`mqtt::DeviceDirectory`) from an in-memory copy, so a CONNECT never waits
//! on the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use domain::Ident;
use domain::device::{DeviceKind, LinkKind};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use domain::clock::Millis;

/// How a device is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transport {
    /// A serial or USB-serial line, e.g. `/dev/ttyUSB0` at 19200 baud.
    Serial { path: String, baud: u32 },
    /// Raw TCP, e.g. a network printer on port 9100 or a ZVT terminal on 20007.
    Tcp { host: String, port: u16 },
    /// A character device such as `/dev/usb/lp0`, or a file under the node's print-file folder.
    File { path: String },
    /// A USB printer by vendor and product id (needs the node built with the `usb` feature).
    Usb { vendor_id: u16, product_id: u16 },
    /// The device connects to the node's MQTT broker with its own credentials.
    Mqtt,
    /// A cash drawer wired to a receipt printer's drawer port.
    ViaPrinter { printer_id: Ident },
}

impl Transport {
    pub fn link(&self) -> LinkKind {
        match self {
            Transport::Serial { .. } => LinkKind::Serial,
            Transport::Tcp { .. } => LinkKind::Tcp,
            Transport::File { .. } => LinkKind::File,
            Transport::Usb { .. } => LinkKind::Usb,
            Transport::Mqtt => LinkKind::Mqtt,
            Transport::ViaPrinter { .. } => LinkKind::ViaPrinter,
        }
    }

    /// The driver-level transport for byte-stream devices (printers, terminals).
    pub fn driver(&self) -> Option<drivers::transport::Transport> {
        use drivers::transport::Transport as T;
        Some(match self {
            Transport::Serial { path, baud } => T::Serial {
                path: path.clone(),
                baud: *baud,
            },
            Transport::Tcp { host, port } => T::Tcp {
                host: host.clone(),
                port: *port,
            },
            Transport::File { path } => T::File { path: path.clone() },
            Transport::Usb {
                vendor_id,
                product_id,
            } => T::Usb {
                vendor_id: *vendor_id,
                product_id: *product_id,
            },
            Transport::Mqtt | Transport::ViaPrinter { .. } => return None,
        })
    }

    /// Checks addresses: serial paths under `/dev`, files only where a printer or
    /// the node's print-file folder is (a manager must not be able to write over
    /// the node's own database through a "printer").
    pub fn check(&self, file_dir: &std::path::Path) -> Result<(), String> {
        if let Some(t) = self.driver() {
            t.validate().map_err(|e| e.to_string())?;
        }
        match self {
            Transport::Serial { path, .. } => {
                let ok = ["/dev/tty", "/dev/pts/", "/dev/serial/", "/dev/rfcomm"]
                    .iter()
                    .any(|p| path.starts_with(p))
                    && !path.contains("..");
                if !ok {
                    return Err(format!(
                        "serial path {path:?} must be a serial device under /dev (tty*, pts/*, serial/*)"
                    ));
                }
            }
            Transport::File { path } => {
                let p = std::path::Path::new(path);
                let device = ["/dev/usb/lp", "/dev/lp"]
                    .iter()
                    .any(|d| path.starts_with(d));
                let in_dir = p.is_absolute()
                    && p.starts_with(file_dir)
                    && !p.components().any(|c| c == std::path::Component::ParentDir);
                if !(device || in_dir) || path.contains("..") {
                    return Err(format!(
                        "file path {path:?} must be a printer device (/dev/usb/lp*, /dev/lp*) or a file under {}",
                        file_dir.display()
                    ));
                }
            }
            Transport::Tcp { host, .. }
                if host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/') =>
            {
                return Err(format!("{host:?} is not a host name or address"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// A registered device as stored.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    #[schema(value_type = String, example = "grill-printer")]
    pub id: Ident,
    pub kind: DeviceKind,
    pub name: String,
    /// The kitchen station a kitchen printer or KDS screen serves.
    #[schema(value_type = Option<String>, example = "grill")]
    pub station: Option<Ident>,
    pub transport: Transport,
    /// False once removed: it no longer prints or connects; its history stays.
    pub active: bool,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// How a device is doing now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Health {
    /// `online`, `offline`, `attention` (reachable but needs a person: paper, cover) or `unknown` (not heard from yet).
    pub state: HealthState,
    /// Connected to the node's MQTT broker now.
    pub mqtt_connected: bool,
    /// When the node last heard from it (a reply, a heartbeat, a finished job), Unix ms.
    pub last_seen_ms: Option<u64>,
    /// What the printer's real-time status said last.
    pub printer: Option<PrinterHealth>,
    /// The last problem, in words.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    #[default]
    Unknown,
    Online,
    Attention,
    Offline,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PrinterHealth {
    pub paper_out: bool,
    pub paper_near_end: bool,
    pub cover_open: bool,
    /// The printer reports an error (cutter, mechanism, overheated head).
    pub error: bool,
}

impl PrinterHealth {
    pub fn from_status(s: &drivers::escpos_status::Status) -> Self {
        PrinterHealth {
            paper_out: s.paper_out,
            paper_near_end: s.paper_near_end,
            cover_open: s.cover_open,
            error: s.error || s.mechanical_error || s.cutter_error || s.unrecoverable_error,
        }
    }

    /// What stops it printing, if anything.
    pub fn blocker(&self) -> Option<&'static str> {
        if self.paper_out {
            Some("out of paper")
        } else if self.cover_open {
            Some("cover open")
        } else if self.error {
            Some("printer error")
        } else {
            None
        }
    }
}

/// A device with its health and queue, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: Device,
    pub health: Health,
    /// Print jobs waiting for this printer.
    pub queued_jobs: u32,
    /// Print jobs that failed three times and wait for a manager.
    pub dead_jobs: u32,
}

/// The registry's in-memory side: credential hashes for the broker and live health.
#[derive(Default)]
pub struct Registry {
    /// id -> SHA-256 hex of the MQTT secret, active devices only.
    secrets: RwLock<HashMap<String, String>>,
    health: Mutex<HashMap<String, Health>>,
    /// Device status notices for event streams.
    pub changes: Option<tokio::sync::broadcast::Sender<serde_json::Value>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

/// A new random MQTT secret: 24 random bytes, hex.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The stored form of a secret. The secret is 192 random bits, so a fast hash
/// is enough (no password stretching needed, and CONNECT stays cheap).
pub fn hash_secret(secret: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(secret))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Registry {
    pub fn new(changes: tokio::sync::broadcast::Sender<serde_json::Value>) -> Self {
        Registry {
            changes: Some(changes),
            ..Default::default()
        }
    }

    /// Reloads the credential hashes from the database (after any registry write).
    pub fn load_secrets(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare("SELECT id, secret_hash FROM devices WHERE active = 1")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        *self.secrets.write().unwrap_or_else(|p| p.into_inner()) = rows;
        Ok(())
    }

    /// True when `secret` is the current MQTT secret of active device `id`.
    pub fn verify(&self, id: &str, secret: &[u8]) -> bool {
        let secrets = self.secrets.read().unwrap_or_else(|p| p.into_inner());
        secrets
            .get(id)
            .is_some_and(|h| constant_time_eq(h.as_bytes(), hash_secret(secret).as_bytes()))
    }

    pub fn health(&self, id: &str) -> Health {
        self.health
            .lock()
            .map(|m| m.get(id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Changes one device's health; announces it when anything a person would see changed.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Health)) {
        let Ok(mut map) = self.health.lock() else {
            return;
        };
        let h = map.entry(id.to_owned()).or_default();
        let before = h.clone();
        f(h);
        let changed = {
            let mut a = before.clone();
            let mut b = h.clone();
            a.last_seen_ms = None;
            b.last_seen_ms = None;
            a != b
        };
        let now = h.clone();
        drop(map);
        if changed {
            if let Some(tx) = &self.changes {
                let _ = tx.send(serde_json::json!({
                    "type": crate::events::kind::DEVICE_STATUS,
                    "data": { "id": id, "health": now },
                }));
            }
            tracing::info!(device = id, state = ?now.state, error = ?now.last_error, "device health changed");
        }
    }

    /// Marks a device as heard from at `now` (the node's clock).
    pub fn seen(&self, id: &str, now: Millis) {
        self.update(id, |h| h.last_seen_ms = Some(now.as_u64()));
    }
}

pub(crate) fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    let conv = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            Box::<dyn std::error::Error + Send + Sync>::from(e),
        )
    };
    let id: String = r.get("id")?;
    let kind: String = r.get("kind")?;
    let station: Option<String> = r.get("station")?;
    let transport: String = r.get("transport")?;
    Ok(Device {
        id: Ident::parse(&id).map_err(|e| conv(0, e.to_string()))?,
        kind: DeviceKind::parse(&kind).ok_or_else(|| conv(1, format!("kind {kind}")))?,
        name: r.get("name")?,
        station: station.and_then(|s| Ident::parse(&s).ok()),
        transport: serde_json::from_str(&transport).map_err(|e| conv(4, e.to_string()))?,
        active: r.get::<_, i64>("active")? != 0,
        created_ms: r.get::<_, i64>("created_ms")? as u64,
        updated_ms: r.get::<_, i64>("updated_ms")? as u64,
    })
}

const SELECT_DEVICE: &str =
    "SELECT id, kind, name, station, transport, active, created_ms, updated_ms FROM devices";

pub fn load(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Device>> {
    conn.prepare_cached(&format!("{SELECT_DEVICE} WHERE id = ?1"))?
        .query_row([id], device_from_row)
        .optional()
}

/// All devices, active first, then by id.
pub fn list(conn: &rusqlite::Connection, include_removed: bool) -> rusqlite::Result<Vec<Device>> {
    let sql = if include_removed {
        format!("{SELECT_DEVICE} ORDER BY active DESC, id")
    } else {
        format!("{SELECT_DEVICE} WHERE active = 1 ORDER BY id")
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map([], device_from_row)?.collect()
}

/// Active printers of `kind`, for `station` when given, oldest registration first.
pub fn printers(
    conn: &rusqlite::Connection,
    kind: DeviceKind,
    station: Option<&str>,
) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_DEVICE} WHERE active = 1 AND kind = ?1 AND (?2 IS NULL OR station = ?2) ORDER BY created_ms, id"
    ))?;
    stmt.query_map(rusqlite::params![kind.as_str(), station], device_from_row)?
        .collect()
}

/// Queue counts per device: (queued, dead).
pub fn queue_counts(conn: &rusqlite::Connection) -> rusqlite::Result<HashMap<String, (u32, u32)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device_id, SUM(state = 'queued'), SUM(state = 'dead') FROM print_jobs
         WHERE state != 'done' GROUP BY device_id",
    )?;
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (r.get::<_, i64>(1)? as u32, r.get::<_, i64>(2)? as u32),
        ))
    })?
    .collect()
}

/// Adapts the registry to the broker's credential check.
pub struct Directory(pub Arc<Registry>);

impl crate::mqtt::DeviceDirectory for Directory {
    fn verify(&self, username: &str, password: &[u8]) -> Option<String> {
        self.0
            .verify(username, password)
            .then(|| username.to_owned())
    }
}
