//! The store node's API (`store-node`), by area.

pub mod events;
pub mod menu;
pub mod orders;
pub mod session;
pub mod store;
