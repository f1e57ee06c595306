//! Organisations: the first admin, new organisations, invitations.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub name: String,
    /// Who is invited as the organisation's first owner.
    pub owner_email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub email: String,
    /// owner, manager, cashier or kitchen.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(owner|manager|cashier|kitchen)$")
    )]
    pub role: String,
    /// One store of the organisation; absent: all its stores.
    pub store_id: Option<String>,
}
