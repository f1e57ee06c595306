//! Device drivers: ESC/POS printers, card terminals, cash drawers, and
//! simulators that speak the same bytes. What exists so far is the parser of
//! a printer's real-time status reply; printing and transports come with the
//! devices issue.

pub mod escpos_status;
