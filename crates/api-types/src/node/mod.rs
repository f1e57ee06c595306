//! The store node's API (`store-node`), by area.

pub mod menu;
pub mod orders;
pub mod session;
