//! The live event stream (a WebSocket).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct StreamParams {
    /// Resume after this cursor (the `cursor` of the last event you processed).
    pub cursor: Option<i64>,
    /// The log that cursor is from (`log` of the last `caught_up` or `reset`); another log's cursor gets a `reset`.
    pub log: Option<String>,
    /// The session token, for browsers that cannot set `Authorization` on a WebSocket.
    pub token: Option<String>,
}
