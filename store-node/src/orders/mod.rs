//! The order service: placing orders, moving them through their lifecycle,
//! recording payments and refunds, kitchen stations finishing their part, and
//! projecting orders that other replicas made (received through sync).
//!
//! Every write here runs in the caller's writer transaction (`WriteCtx`): the
//! read-model row, the print jobs it causes and its event change together
//! (ARCHITECTURE.md, invariants 5 and 12). Functions take what they need (the
//! transaction, the letterhead for receipts, the time) rather than the node's
//! whole state, and answer with [`OrdersError`], which `http::error` turns into
//! the API's answers. The writes return the order (or payment) as the JSON the
//! event carries, so the handler answers with exactly what was logged.
//!
//! Who may do what (roles, manager approval) is the caller's business: the
//! HTTP handlers, the KDS bridge and the card terminal decide that first.

mod error;
mod lifecycle;
pub mod online_refunds;
mod payments;
mod place;
mod projection;
mod view;

pub use error::{CorruptRecord, OrdersError};
pub use lifecycle::{Refund, mark_station_done, transition};
pub use payments::{Tender, record_payment};
pub use place::{place, place_draft, quote};
pub use projection::project_remote;
pub use view::{
    ListFilter, OrderView, PaymentResult, PaymentView, RefundView, get, list, load, payments_of,
};

#[cfg(test)]
mod tests;
