//! The one binary envelope that carries everything between a store node and
//! the hub, whatever the transport (a WebSocket binary message each).
//!
//! ```text
//! "EDGS"  version:u8  kind:u8  length:u32 (big-endian)  payload[length]
//! ```
//! Kinds: 1 hello, 2 events, 3 ack, 4 doc (payload: doc kind byte, then an
//! automerge sync message), 5 error, 6 keys, 7 part, 8 ended sessions. Hello,
//! events, ack, error, keys and ended-sessions payloads are JSON. The decoder checks everything before it allocates or parses: magic,
//! a version it speaks, a known kind, a length that matches and stays under
//! [`MAX_FRAME`]. Anything else is a [`WireError`], never a panic.
//!
//! Size: a receiver accepts frames up to [`MAX_FRAME`] (16 MiB, the hub's
//! WebSocket message limit). Senders stay well below it: the session fills an
//! `Events` frame up to [`FRAME_BUDGET`] bytes, and a frame that is still over
//! the budget (one huge event, a large automerge sync message) goes out as
//! `Part` frames (payload: id:u32, index:u32, count:u32, a slice of the whole
//! frame's bytes; the id is a hash of the whole, checked when joined) to a peer
//! whose hello lists [`FEATURE_PARTS`]; the [`Assembler`] joins them, up to
//! [`MAX_ASSEMBLED`] bytes.

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
/// The peer joins [`Frame::Part`]s.
pub const FEATURE_PARTS: &str = "parts";
/// The peer accepts [`Frame::EndedSessions`].
pub const FEATURE_ENDED_SESSIONS: &str = "ended_sessions";
/// What this build announces in its hello.
pub const FEATURES: &[&str] = &[FEATURE_KEYS, FEATURE_PARTS, FEATURE_ENDED_SESSIONS];
/// Most sessions one [`Frame::EndedSessions`] names (a hub with more ended
/// in one access-token lifetime sends the latest).
pub const MAX_ENDED_SESSIONS: usize = 10_000;
/// Largest frame a sender builds on purpose: a quarter of [`MAX_FRAME`], so a
/// frame's JSON escaping or header never pushes it over what the peer accepts,
/// and one frame holds about 30 of the largest orders (130 KB each: 100 lines
/// with 200-character notes) or hundreds of ordinary ones.
pub const FRAME_BUDGET: usize = 4 * 1024 * 1024;
/// Largest frame joined from parts: bounds what one peer makes us buffer.
pub const MAX_ASSEMBLED: usize = 64 * 1024 * 1024;
const HEADER: usize = 10;
/// Id, index and count before a part's bytes.
const PART_HEADER: usize = 12;

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
    /// Hub to node, once the node's hello announced [`FEATURE_ENDED_SESSIONS`]:
    /// the hub sessions of this store's staff that ended (sign-out, password
    /// change, a stolen refresh token) recently enough that an access token of
    /// theirs may still be unexpired. The node refuses those tokens. Sent on
    /// connect and whenever the list changes; each time the whole list. Not
    /// part of the sync exchange itself.
    EndedSessions { sessions: Vec<EndedSession> },
    /// Part `index` (from 0) of `count` of one encoded frame that is over the
    /// sender's budget; sent only to a peer that announced [`FEATURE_PARTS`].
    /// `id` is the FNV-1a hash of the whole frame's bytes.
    Part {
        id: u32,
        index: u32,
        count: u32,
        bytes: Vec<u8>,
    },
}

/// One ended hub session: its id (the access tokens' `sid`) and when the last
/// of its access tokens expires (Unix seconds), after which it need not be kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndedSession {
    pub sid: String,
    pub until: u64,
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
    #[error("parts add up to more than {MAX_ASSEMBLED} bytes")]
    PartsTooLarge,
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
struct EndedBody {
    sessions: Vec<EndedSession>,
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
        Frame::EndedSessions { sessions } => (
            8,
            json(&EndedBody {
                sessions: sessions.clone(),
            }),
        ),
        Frame::Part {
            id,
            index,
            count,
            bytes,
        } => {
            let mut p = Vec::with_capacity(PART_HEADER + bytes.len());
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&index.to_be_bytes());
            p.extend_from_slice(&count.to_be_bytes());
            p.extend_from_slice(bytes);
            (7, p)
        }
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
    decode_unchecked_size(bytes)
}

fn decode_unchecked_size(bytes: &[u8]) -> Result<Frame, WireError> {
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
        7 => {
            if payload.len() < PART_HEADER {
                return Err(WireError::Truncated);
            }
            let word = |i: usize| {
                u32::from_be_bytes([payload[i], payload[i + 1], payload[i + 2], payload[i + 3]])
            };
            let (id, index, count) = (word(0), word(4), word(8));
            if count < 2 || index >= count {
                return Err(WireError::Malformed(format!("part {index} of {count}")));
            }
            Ok(Frame::Part {
                id,
                index,
                count,
                bytes: payload[PART_HEADER..].to_vec(),
            })
        }
        8 => {
            let sessions = parse::<EndedBody>(payload)?.sessions;
            if sessions.len() > MAX_ENDED_SESSIONS {
                return Err(WireError::Malformed(format!(
                    "{} ended sessions, more than {MAX_ENDED_SESSIONS}",
                    sessions.len()
                )));
            }
            Ok(Frame::EndedSessions { sessions })
        }
        k => Err(WireError::UnknownKind(k)),
    }
}

/// The messages that carry `frame`: its encoding, or, when that is over
/// `budget` and the peer joins parts (or it is over [`MAX_FRAME`], which no
/// peer would take whole), `Part` frames of at most `budget` bytes each.
pub fn encode_within(frame: &Frame, budget: usize, peer_joins_parts: bool) -> Vec<Vec<u8>> {
    let whole = encode(frame);
    let budget = budget.clamp(HEADER + PART_HEADER + 1, FRAME_BUDGET);
    if whole.len() <= budget || !(peer_joins_parts || whole.len() > MAX_FRAME) {
        return vec![whole];
    }
    let slice = budget - HEADER - PART_HEADER;
    let count = whole.len().div_ceil(slice);
    let id = fnv1a(&whole);
    whole
        .chunks(slice)
        .enumerate()
        .map(|(index, bytes)| {
            encode(&Frame::Part {
                id,
                index: index as u32,
                count: count as u32,
                bytes: bytes.to_vec(),
            })
        })
        .collect()
}

/// 32-bit FNV-1a: tells the parts of one frame from another's, and a joined
/// frame from a mix-up. Not a defence against a forger (the peer could send
/// any frame whole anyway).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h: u32, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Joins [`Frame::Part`]s back into the frame they carry. Parts of one frame
/// arrive in order on one connection; anything else (a part out of order or of
/// another frame, a join whose hash is not its id) drops what was being
/// joined, exactly as a lost frame would be: the protocol resends what the
/// peer still lacks.
#[derive(Debug, Default)]
pub struct Assembler {
    bytes: Vec<u8>,
    id: u32,
    next: u32,
    count: u32,
}

impl Assembler {
    /// Takes one part; returns the frame once its last part arrived. Fails only
    /// when the parts add up to more than [`MAX_ASSEMBLED`] or the joined frame
    /// does not decode.
    pub fn push(
        &mut self,
        id: u32,
        index: u32,
        count: u32,
        bytes: &[u8],
    ) -> Result<Option<Frame>, WireError> {
        if index == 0 || index != self.next || count != self.count || id != self.id {
            self.bytes.clear();
            self.next = 0;
            self.count = count;
            self.id = id;
            if index != 0 {
                return Ok(None);
            }
        }
        if self.bytes.len() + bytes.len() > MAX_ASSEMBLED {
            self.bytes = Vec::new();
            self.next = 0;
            return Err(WireError::PartsTooLarge);
        }
        self.bytes.extend_from_slice(bytes);
        self.next += 1;
        if self.next < self.count {
            return Ok(None);
        }
        let whole = std::mem::take(&mut self.bytes);
        self.next = 0;
        if fnv1a(&whole) != id {
            return Ok(None);
        }
        match decode_unchecked_size(&whole)? {
            Frame::Part { .. } => Err(WireError::Malformed("a part inside parts".into())),
            f => Ok(Some(f)),
        }
    }

    /// Bytes held while joining a frame.
    pub fn held(&self) -> usize {
        self.bytes.len()
    }
}
