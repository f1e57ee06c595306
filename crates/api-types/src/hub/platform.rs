//! The platform operator's routes: stores and their nodes' tokens.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    /// 1 to 64 characters: letters, digits, `-` and `_`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
    pub id: String,
    /// 1 to 100 characters.
    pub name: String,
    /// The organisation that owns the store. Absent (the body before
    /// organisations existed): the "default" organisation, made on first use.
    pub org_id: Option<String>,
}

/// A store as created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreCreated {
    pub id: String,
    pub name: String,
    pub org_id: String,
    /// Unix ms.
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Which node this is, for people (1 to 100 characters).
    pub label: String,
}

/// A node token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeTokenIssued {
    /// The secret the node sends as `Authorization: Bearer` on `/api/v1/sync`.
    pub token: String,
    /// What the hub keeps; revoke by it.
    pub token_sha256: String,
    pub store_id: String,
    pub label: String,
    /// The letter of this node's ticket numbers (`S-0001`, `T-0001`, ...), one per node of the
    /// store in enrollment order. The token begins with it, so the node needs no setting.
    pub ticket_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The token itself...
    pub token: Option<String>,
    /// ...or its SHA-256 (hex), as returned when it was issued.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub token_sha256: Option<String>,
}

/// A revoked node token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRevoked {
    /// Always true.
    pub revoked: bool,
    /// Sync connections of that token that were open and are now closed (4401).
    pub closed_connections: usize,
}
