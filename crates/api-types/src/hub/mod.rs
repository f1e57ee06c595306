//! The hub's API (`cloud-hub`), by area. The merchant's order list takes
//! [`crate::orders::OrderFilter`], shared with the node.

pub mod auth;
pub mod catalog;
pub mod images;
pub mod members;
pub mod nodes;
pub mod online;
pub mod orders;
pub mod orgs;
pub mod overview;
pub mod platform;
pub mod reconciliation;
pub mod roster;
pub mod sales;
pub mod settings;
