//! The restaurant domain: money and taxes, the menu and how an order line is
//! checked against it, orders and their lifecycle, ticket numbers, events and
//! hybrid logical clocks, the facts that cross the wire (`fact`: event kinds,
//! their payloads and the `Order` they fold into), staff roles and
//! permissions, the device registry's rules, a store's opening hours and its
//! settings (`settings`: the settings document's `store` entity, typed).
//!
//! This crate is pure: it does no IO and knows nothing about SQLite, HTTP,
//! MQTT or a runtime. Servers (the store node, the cloud hub) hold the state
//! and call these rules; every decision about what is legal lives here so the
//! node and the hub decide the same way.

pub mod clock;
pub mod device;
pub mod fact;
pub mod hours;
pub mod menu;
pub mod money;
pub mod order;
pub mod payment;
pub mod roles;
pub mod settings;
pub mod status;
pub mod ticket;

mod ident;
pub use ident::{Ident, IdentError};
