//! The hub's request extractors: the shared ones (`api-kit`: JSON body, path,
//! query, bearer token, WebSocket upgrade, all answering bad input with the JSON error). Who the caller
//! is and what they may do is decided by the extractors in `crate::auth::extract`.

pub use api_kit::extract::{JsonBody, Path, Query, WebSocketUpgrade, bearer, parse_json};
