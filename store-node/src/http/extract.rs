//! The request extractors are shared with the hub (`api-kit`).

pub use api_kit::extract::*;
