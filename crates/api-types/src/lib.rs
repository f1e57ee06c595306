//! The contract of the two servers' HTTP APIs: the request and response bodies
//! and query parameters that the store node (`node`) and the hub (`hub`)
//! read and write as JSON, plus what both share (`error`, `orders`).
//!
//! It depends on `domain` and `serde` only (`serde_json` for the few untyped
//! JSON fields, `uuid` for ids), so a CLI, a desktop shell or a test can
//! speak to the hub or a node without linking a server, a runtime or a
//! database (an architecture test in `tests/` checks it). With the feature
//! `openapi`, which the servers enable, the types also derive their OpenAPI
//! schemas (`utoipa`, a derive library that does no IO); the schema names are
//! the type names, as they were when the types lived in the servers.
//!
//! ```
//! use api_types::node::session::{LoginRequest, LoginResponse};
//! use api_types::orders::OrderFilter;
//!
//! // A client signs in at a node...
//! let login = LoginRequest { staff_id: "cashier".into(), pin: "3000".into(), ttl_secs: None };
//! let body = serde_json::to_string(&login).unwrap();
//! let back: LoginRequest = serde_json::from_str(&body).unwrap();
//! assert_eq!(back.staff_id, "cashier");
//! // The node's answer, as it sends it.
//! let answer = r#"{"token":"t0k","staff":{"id":"cashier","name":"Ana","role":"cashier"},"expires_ms":1700000000000}"#;
//! let session: LoginResponse = serde_json::from_str(answer).unwrap();
//! assert_eq!(session.staff.role, domain::roles::Role::Cashier);
//! assert_eq!(serde_json::to_string(&session).unwrap(), answer);
//!
//! // ...and asks for the orders placed at the counter, as the node and the hub check it.
//! let filter = OrderFilter { status: Some("placed,accepted".into()), limit: Some(20), ..Default::default() };
//! let checked = filter.check().unwrap();
//! assert_eq!((checked.statuses.len(), checked.limit), (2, 20));
//! ```
//!
//! What stays in the servers, and why:
//!
//! - Types that carry a server's internals: the hub's catalog `MenuView`
//!   (its conflicts are `sync::doc::Conflict`, the CRDT's), the node's
//!   `UnsettledCardPayments` and `terminal::CardAttempt` (the card terminal's
//!   journal), the node's devices (`devices::{Device, Transport, DeviceView,
//!   Health, ...}` and the bodies of `http::devices`: transports over serial
//!   ports and MQTT), print jobs (`printing::{PrintJob, JobKind, JobState}`),
//!   and `events::WireEvent` (borrowed from the event log as it is read).
//! - State a server module owns and also serves: the node's
//!   `sync_client::SyncHealth` (the sync client's link) and
//!   `docs::StoreSettings` (the settings document's entity). Plain data, but
//!   moving them means moving their owners' code; not done yet.
//! - The hub's `ops::{Health, Ready}` (probes for the platform, not clients).
//! - Database rows and the filters after checking (`ListFilter` in the node,
//!   `db::online::OrderQuery` in the hub): what a server reads, not what is sent.

pub mod error;
pub mod hub;
pub mod node;
pub mod orders;
