//! The HTTP API's error type is shared with the hub (`api-kit`); what is the
//! node's own is how its database errors become a logged, generic 500, or a
//! 507 `disk_full` when the disk is full.

pub use api_kit::error::*;

use crate::db::WriteError;

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Sqlite(e) => ApiError::from(e),
            WriteError::WriterGone => ApiError::internal(e),
        }
    }
}
