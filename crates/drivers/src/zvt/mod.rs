//! ZVT, the German/European public protocol between a cash register (ECR)
//! and a card payment terminal (PT): a driver for the ECR side and a
//! simulator of the PT side that speaks the same bytes.
//!
//! Layers, bottom up:
//! - [`frame`]: serial framing `DLE STX … DLE ETX CRC`, line `ACK`/`NAK`.
//! - `link` (internal): one APDU out, one APDU in, over serial (framed, with
//!   repetition) or TCP (bare APDUs, port 20007).
//! - [`apdu`]: APDUs, bitmaps (BMPs), TLV; **card data is dropped here**, in
//!   [`apdu::BmpIter`], before any other code sees it.
//! - [`spec`]: the specification's tables (commands, BMP formats, result
//!   codes, intermediate status texts, card types).
//! - [`ecr`]: [`ZvtTerminal`], the [`crate::terminal::PaymentTerminal`] for
//!   the node; its module docs walk through one payment.
//! - [`sim`]: [`TerminalSim`], the simulated terminal (also `zvt-sim` binary).
//!
//! The driver never keeps, logs or returns card data: PAN, track data,
//! expiry, CVV, chip data, free-text and TLV fields are skipped by length
//! while parsing; APDUs print only their control field and length; text
//! fields it does keep (card name, authorisation code) are refused if they
//! hold a run of ten or more digits.

pub mod apdu;
pub mod ecr;
pub mod frame;
mod link;
pub mod sim;
pub mod spec;

pub use ecr::{ZvtConfig, ZvtTerminal};
pub use sim::{Scenario, SimOutcome, SimTransaction, TerminalSim};
