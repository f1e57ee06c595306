//! The one binary envelope that carries everything between a store node and
//! the hub, whatever the transport (a WebSocket binary message each).
//!
//! ```text
//! "EDGS"  version:u8  kind:u8  length:u32 (big-endian)  payload[length]
//! ```
//! Kinds: 1 hello, 2 events, 3 ack, 4 doc (payload: doc kind byte, then an
//! automerge sync message), 5 error, 6 keys. Hello, events, ack, error and
//! keys payloads are JSON. The decoder checks everything before it allocates or parses: magic,
//! a version it speaks, a known kind, a length that matches and stays under
//! [`MAX_FRAME`]. Anything else is a [`WireError`], never a panic.

use crate::VersionVector;
use crate::doc::DocKind;
use crate::log::Event;

pub const MAGIC: [u8; 4] = *b"EDGS";
/// The protocol version this build speaks.
pub const VERSION: u8 = 1;
/// Largest frame accepted, header included.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The peer accepts [`Frame::Keys`].
pub const FEATURE_KEYS: &str = "keys";
/// What this build announces in its hello.
pub const FEATURES: &[&str] = &[FEATURE_KEYS];
const HEADER: usize = 10;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Frame {
    /// Sent first on every connection, and again to restart the exchange.
    Hello {
        store: String,
        replica: String,
        vector: VersionVector,
        /// What the sender understands beyond the base protocol ([`FEATURES`]
        /// in this build), so a newer peer sends only frames it can read.
        /// Absent on the wire when empty; older builds send none.
        features: Vec<String>,
    },
    /// A batch of events, in order per origin.
    Events { events: Vec<Event> },
    /// What the sender holds after applying.
    Ack { vector: VersionVector },
    /// An automerge sync message for one shared document.
    Doc { kind: DocKind, message: Vec<u8> },
    /// Why the sender is about to close.
    Error { code: String, message: String },
    /// Hub to node, once the node's hello announced [`FEATURE_KEYS`]: the
    /// issuer and public keys (a JWKS) of the hub's access tokens, so the node
    /// can accept hub-signed staff tokens while the hub is unreachable. Not
    /// part of the sync exchange itself.
    Keys {
        issuer: String,
        jwks: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame shorter than its header")]
    Truncated,
    #[error("not a sync frame (bad magic)")]
    BadMagic,
    #[error("protocol version {0} is not supported (this build speaks {VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame says {declared} payload bytes but has {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed payload: {0}")]
    Malformed(String),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct HelloBody {
    store: String,
    replica: String,
    vector: VersionVector,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    features: Vec<String>,
}
#[derive(serde::Serialize, serde::Deserialize)]
struct EventsBody {
    events: Vec<Event>,
}
#[derive(serde::Serialize, serde::Deserialize)]
struct AckBody {
    vector: VersionVector,
}
#[derive(serde::Serialize, serde::Deserialize)]
struct KeysBody {
    issuer: String,
    jwks: serde_json::Value,
}
#[derive(serde::Serialize, serde::Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

pub fn encode(frame: &Frame) -> Vec<u8> {
    let (kind, payload) = match frame {
        Frame::Hello {
            store,
            replica,
            vector,
            features,
        } => (
            1u8,
            json(&HelloBody {
                store: store.clone(),
                replica: replica.clone(),
                vector: vector.clone(),
                features: features.clone(),
            }),
        ),
        Frame::Events { events } => (
            2,
            json(&EventsBody {
                events: events.clone(),
            }),
        ),
        Frame::Ack { vector } => (
            3,
            json(&AckBody {
                vector: vector.clone(),
            }),
        ),
        Frame::Doc { kind, message } => {
            let mut p = Vec::with_capacity(message.len() + 1);
            p.push(kind.code());
            p.extend_from_slice(message);
            (4, p)
        }
        Frame::Error { code, message } => (
            5,
            json(&ErrorBody {
                code: code.clone(),
                message: message.clone(),
            }),
        ),
        Frame::Keys { issuer, jwks } => (
            6,
            json(&KeysBody {
                issuer: issuer.clone(),
                jwks: jwks.clone(),
            }),
        ),
    };
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

fn parse<T: serde::de::DeserializeOwned>(p: &[u8]) -> Result<T, WireError> {
    serde_json::from_slice(p).map_err(|e| WireError::Malformed(e.to_string()))
}

pub fn decode(bytes: &[u8]) -> Result<Frame, WireError> {
    if bytes.len() > MAX_FRAME {
        return Err(WireError::TooLarge(bytes.len()));
    }
    if bytes.len() < HEADER {
        return Err(WireError::Truncated);
    }
    if bytes[..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(WireError::UnsupportedVersion(bytes[4]));
    }
    let kind = bytes[5];
    let declared = u32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]) as usize;
    let payload = &bytes[HEADER..];
    if declared != payload.len() {
        return Err(WireError::LengthMismatch {
            declared,
            actual: payload.len(),
        });
    }
    match kind {
        1 => {
            let b: HelloBody = parse(payload)?;
            Ok(Frame::Hello {
                store: b.store,
                replica: b.replica,
                vector: b.vector,
                features: b.features,
            })
        }
        2 => Ok(Frame::Events {
            events: parse::<EventsBody>(payload)?.events,
        }),
        3 => Ok(Frame::Ack {
            vector: parse::<AckBody>(payload)?.vector,
        }),
        4 => {
            let (&code, message) = payload.split_first().ok_or(WireError::Truncated)?;
            let kind = DocKind::from_code(code)
                .ok_or_else(|| WireError::Malformed(format!("unknown document kind {code}")))?;
            Ok(Frame::Doc {
                kind,
                message: message.to_vec(),
            })
        }
        5 => {
            let b: ErrorBody = parse(payload)?;
            Ok(Frame::Error {
                code: b.code,
                message: b.message,
            })
        }
        6 => {
            let b: KeysBody = parse(payload)?;
            Ok(Frame::Keys {
                issuer: b.issuer,
                jwks: b.jwks,
            })
        }
        k => Err(WireError::UnknownKind(k)),
    }
}
