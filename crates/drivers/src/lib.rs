//! Device drivers: ESC/POS printers, card terminals, cash drawers, and
//! simulators that speak the same bytes. Everything here is blocking,
//! synchronous IO over a transport (serial line, TCP, file, USB); the store
//! node runs it on its own threads, never on the async runtime.
//!
//! - [`escpos_status`]: real-time status replies (`DLE EOT n`).
//! - [`render`]: customer receipts, kitchen tickets and the drawer kick as ESC/POS bytes.
//! - [`transport`]: where the bytes go (serial, TCP 9100, file, USB).
//! - [`escpos_decode`], [`receipt_png`], [`printer_sim`]: the virtual printer that reads those bytes back.
//! - [`terminal`], [`zvt`]: card payments through a terminal that never hands us card data.

pub mod escpos_decode;
pub mod escpos_status;
pub mod printer_sim;
pub mod receipt_png;
pub mod render;
pub mod terminal;
pub mod transport;
pub mod zvt;
