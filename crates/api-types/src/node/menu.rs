//! The menu: read by every signed-in client, edited by managers.

use domain::menu::Menu;
use serde::{Deserialize, Serialize};

// The menu as the API shows it. (No doc comment: it would change the OpenAPI schema.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuView {
    /// Increases with every edit.
    pub version: i64,
    pub menu: Menu,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SoldOut {
    pub sold_out: bool,
}
