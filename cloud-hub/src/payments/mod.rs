//! Paying for web orders by card.
//!
//! - `gateway`: the port (what the hub asks of a card processor) and its types.
//! - `stripe`: the Stripe adapter (`StripeGateway`), the only place Stripe's types appear.
//! - `webhook`: Stripe's webhook signatures checked and its events read into the port's types.
pub mod gateway;
pub mod stripe;
pub mod webhook;
