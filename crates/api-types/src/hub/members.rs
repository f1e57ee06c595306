//! A store's members and pending invitations, and role changes.

use serde::{Deserialize, Serialize};

/// A staff account's membership.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// owner, manager, cashier or kitchen.
    pub role: String,
    /// The one store the membership is for; null: every store of the organisation.
    pub store_id: Option<String>,
    /// When it began (Unix ms).
    pub since: i64,
}

/// An invitation nobody accepted yet (its token is shown only when it is made).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub role: String,
    pub store_id: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
}

/// Who works at a store, and who is invited to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreMembers {
    /// The store's organisation (null for a store made before organisations).
    pub org_id: Option<String>,
    pub members: Vec<Member>,
    pub invitations: Vec<PendingInvitation>,
}

/// The new role of one of a member's memberships.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    /// owner, manager, cashier or kitchen.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(owner|manager|cashier|kitchen)$")
    )]
    pub role: String,
    /// Which membership: the one for this store; absent: the organisation-wide one.
    pub store_id: Option<String>,
}

/// A membership as changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipChanged {
    pub org_id: String,
    pub user_id: String,
    pub store_id: Option<String>,
    pub role: String,
}
