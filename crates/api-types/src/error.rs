//! The one error body of both APIs: `{"error":{"code":"...","message":"..."}}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_body`, `unknown_item`, `forbidden`, ...
    #[cfg_attr(feature = "openapi", schema(example = "invalid_transition"))]
    pub code: String,
    /// For people.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "cannot accept an order that is completed")
    )]
    pub message: String,
}
