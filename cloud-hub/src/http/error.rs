//! The hub's HTTP errors: the shared error type (`api-kit`), so the hub and the
//! store node answer alike, `{"error":{"code","message"}}`.

pub use api_kit::error::*;
