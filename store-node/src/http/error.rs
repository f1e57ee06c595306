//! The HTTP API's error type is shared with the hub (`api-kit`); what is the
//! node's own is how its database errors become a logged, generic 500.

pub use api_kit::error::*;

use crate::db::WriteError;

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        ApiError::internal(e)
    }
}
