//! The card-terminal port: what the store node asks of a payment terminal,
//! independent of the protocol that reaches it. [`crate::zvt`] implements it
//! for ZVT terminals (serial and TCP) and ships a simulator speaking the same
//! bytes.
//!
//! Card data never crosses this boundary: an [`Approval`] carries the
//! terminal's references (terminal id, trace number, receipt number) and at
//! most a brand name, never a card number, track data or expiry date.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A card terminal the node can ask for a payment.
pub trait PaymentTerminal: Send {
    /// Asks the customer to pay `amount` minor units (EUR cents etc.) at the
    /// terminal and waits for the outcome.
    fn authorize(&mut self, request: &AuthorizeRequest) -> Result<Approval, TerminalError>;
    /// Cancels a payment in progress (ZVT Abort 06 B0), best effort.
    fn abort(&mut self) -> Result<(), TerminalError>;
    /// The last payment the terminal stored (ZVT Repeat Receipt 06 20):
    /// `Some` if it was approved, `None` if the terminal has none or its last
    /// one failed. For a payment whose answer was lost (the node crashed).
    fn last_transaction(&mut self) -> Result<Option<Approval>, TerminalError>;
}

/// One payment to authorise at the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// Minor units (cents). ZVT carries amounts as 6 BCD bytes, so the valid
    /// range is `1..=999_999_999_999`; anything else is refused before a byte
    /// is sent.
    pub amount: i64,
    /// ISO 4217 numeric currency code: 978 EUR, 840 USD, 756 CHF.
    pub currency_numeric: u16,
    /// Overall deadline for the customer to finish at the terminal.
    pub timeout: Duration,
}

/// A payment the terminal approved. Holds references only, never card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Amount the terminal booked, in minor units.
    pub amount: i64,
    /// Terminal id (ZVT BMP 0x29), eight digits.
    pub terminal_id: String,
    /// Trace number of the booking (ZVT BMP 0x0B).
    pub trace: u32,
    /// Receipt number (ZVT BMP 0x87), if the terminal sent one.
    pub receipt_no: Option<u32>,
    /// Authorisation attribute / code (ZVT BMP 0x3B), if present.
    pub auth_code: Option<String>,
    /// Card brand (ZVT BMP 0x8B card name, else the 0x8A card-type table),
    /// never the card number.
    pub card_type: Option<String>,
    /// What the node stores to find the booking again, e.g.
    /// `"TID 52500038 trace 000123 receipt 0042"`.
    pub reference: String,
}

/// Why a payment did not go through.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The terminal or the card issuer refused; `code` is the ZVT result code
    /// (BMP 0x27 / Abort 06 1E) and `message` the specification's text for it.
    #[error("declined by the terminal (result code 0x{code:02X}: {message})")]
    Declined { code: u8, message: String },
    /// The customer pressed cancel, or the terminal timed the customer out
    /// (ZVT result code 0x6C).
    #[error("the payment was cancelled at the terminal")]
    Cancelled,
    /// No final answer within the request's timeout, or no answer at all.
    #[error("the terminal gave no final answer in time")]
    Timeout,
    /// The terminal is busy with something else (negative acknowledgement).
    #[error("the terminal is busy")]
    Busy,
    /// Bytes that are not the protocol: garbage, bad CRCs after retries,
    /// an unexpected message, or a request that cannot be encoded.
    #[error("terminal protocol error: {0}")]
    Protocol(String),
    /// The connection failed: port vanished, connection refused or reset.
    #[error("terminal connection failed: {0}")]
    Io(String),
}
