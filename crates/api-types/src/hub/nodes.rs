//! Pairing codes and enrolled store nodes (`docs/enrollment.md`): an owner, manager or platform
//! admin makes a short code for a store; a new store node enrolls with it and its own Ed25519
//! key, then signs its sync connection with that key.

use serde::{Deserialize, Serialize};

/// Making a pairing code.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPairingCode {
    /// What the code is for, for people (up to 100 characters), e.g. "kitchen box".
    pub label: Option<String>,
}

/// A pairing code as made: the code itself is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingCodeIssued {
    /// The first 16 hex digits of the code's SHA-256; revoke by it.
    pub code_id: String,
    /// `XXXX-XXXX`: 8 characters of `23456789ABCDEFGHJKMNPQRSTUVWXYZ`.
    pub code: String,
    pub store_id: String,
    pub label: Option<String>,
    /// Unix ms; 10 minutes after it was made.
    pub expires_at_ms: i64,
    /// The account that made it.
    pub created_by: String,
}

/// A pairing code not used yet (never the code itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingCodeView {
    pub code_id: String,
    pub store_id: String,
    pub label: Option<String>,
    /// The account that made it.
    pub created_by: String,
    /// That account's name (its email when it has no name).
    pub created_by_name: String,
    /// Unix ms.
    pub created_at_ms: i64,
    /// Unix ms.
    pub expires_at_ms: i64,
    /// Whether `expires_at_ms` has passed (by the hub's clock).
    pub expired: bool,
    /// Unix ms; null while not revoked.
    pub revoked_at_ms: Option<i64>,
}

/// A store's unused pairing codes, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingCodeList {
    pub codes: Vec<PairingCodeView>,
    /// The hub's clock (Unix ms), so a screen counts down without trusting its own.
    pub now_ms: i64,
}

/// A store node enrolling with a pairing code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// As typed: case, spaces and dashes are ignored.
    pub code: String,
    /// The node's Ed25519 public key: base64url without padding (43 characters).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub public_key: String,
    /// Which box this is, for people (up to 100 characters), e.g. its hostname.
    pub label: Option<String>,
    /// The store this node already holds data for, if any: refused (409) when the code is for
    /// another store.
    pub store_id: Option<String>,
    /// base64url Ed25519 signature of `edge-enroll-v1\n{CODE}\n{public_key}`, with the code
    /// normalised (upper case, no dash).
    pub proof: String,
}

/// A node as enrolled: what it writes to `enrollment.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrolled {
    pub node_id: String,
    pub store_id: String,
    pub store_name: String,
    /// ISO 4217, e.g. "USD".
    pub currency: String,
    /// The letter of this node's ticket numbers (`S-0001`, `T-0001`, ...).
    pub ticket_prefix: String,
    /// Unix ms.
    pub enrolled_at_ms: i64,
}

/// An enrolled store node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeView {
    pub node_id: String,
    pub store_id: String,
    pub label: Option<String>,
    /// base64url Ed25519 public key.
    pub public_key: String,
    pub ticket_prefix: String,
    /// Unix ms.
    pub enrolled_at_ms: i64,
    /// The account that made the pairing code it enrolled with.
    pub enrolled_by: String,
    /// That account's name (its email when it has no name).
    pub enrolled_by_name: String,
    /// Whether its sync connection is open now.
    pub online: bool,
    /// Unix ms; null while not revoked.
    pub revoked_at_ms: Option<i64>,
}

/// A revoked node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeRevoked {
    pub node: NodeView,
    /// Its sync connections that were open and are now closed (4401).
    pub closed_connections: usize,
}
