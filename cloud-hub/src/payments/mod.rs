//! Paying for web orders by card.
//!
//! - `gateway`: the port (what the hub asks of a card processor) and its types.
pub mod gateway;
