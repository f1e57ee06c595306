//! What the store node's and the hub's HTTP APIs share, so both answer the
//! same way: one error type (`{"error":{"code","message"}}`, a 4xx with a
//! stable code for client mistakes, a logged generic 500 otherwise) and the
//! extractors that turn bad input into those errors instead of axum's plain
//! text; `liveness`, how a long-lived WebSocket notices a silent peer; and
//! `malloc`, the allocator settings both binaries start with; `picture`, how
//! both answer for a menu picture. Servers depend on this crate; it depends on no server.

pub mod error;
pub mod extract;
#[cfg(feature = "https-client")]
pub mod https;
pub mod liveness;
pub mod malloc;
pub mod picture;

pub use error::{ApiError, ApiResult, ErrorBody, ErrorDetail, ReadErrors, WriteErrors};
