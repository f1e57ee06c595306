//! The HTTP API's error type is shared with the hub (`api-kit`); what is the
//! node's own is how its errors become answers: database errors a logged,
//! generic 500 (or a 507 `disk_full` when the disk is full), and the services'
//! errors (`orders`, `menu`) the statuses and codes the API documents.

pub use api_kit::error::*;

use axum::http::StatusCode;
use domain::payment::PaymentError;

use drivers::terminal::TerminalError;

use crate::db::WriteError;
use crate::menu::EditError;
use crate::orders::{CorruptRecord, OrdersError};
use crate::printing::EnqueueError;
use crate::terminal::CardError;

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Sqlite(e) => ApiError::from(e),
            WriteError::WriterGone => ApiError::internal(e),
        }
    }
}

impl From<EnqueueError> for ApiError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::Storage(e) => ApiError::from(e),
            EnqueueError::Render(_) => ApiError::internal(e),
        }
    }
}

/// 500 `corrupt_record`: stored data this node cannot read. Logged with what is wrong.
impl From<CorruptRecord> for ApiError {
    fn from(e: CorruptRecord) -> Self {
        tracing::error!(table = e.table, id = %e.id, error = %e.what, "corrupt record");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_record",
            format!(
                "a stored {} record cannot be read; the request was not applied",
                e.table
            ),
        )
    }
}

impl From<OrdersError> for ApiError {
    fn from(e: OrdersError) -> Self {
        use OrdersError as E;
        match e {
            E::NotFound => ApiError::not_found("order"),
            // The codes are the domain's, so the hub answers a bad cart exactly as the node does.
            E::Draft(e) => ApiError::unprocessable(e.code(), e.to_string()),
            E::Transition(e) => ApiError::conflict("invalid_transition", e.to_string()),
            E::Closed(_) => ApiError::conflict("order_closed", e.to_string()),
            E::Payment(p) => match p {
                PaymentError::NothingDue => ApiError::conflict("already_paid", p.to_string()),
                PaymentError::Insufficient { .. } => {
                    ApiError::unprocessable("insufficient_tender", p.to_string())
                }
                PaymentError::BadAmount => ApiError::unprocessable("invalid_amount", p.to_string()),
            },
            E::UnknownStation(_) => ApiError::unprocessable("unknown_station", e.to_string()),
            E::RefundNeedsApproval => ApiError::new(
                StatusCode::FORBIDDEN,
                "manager_approval_required",
                e.to_string(),
            ),
            E::NotPaidOnline => ApiError::unprocessable("not_paid_online", e.to_string()),
            E::RefundExceedsPaid { .. } => {
                ApiError::unprocessable("refund_exceeds_paid", e.to_string())
            }
            E::Corrupt(c) => ApiError::from(c),
            E::Storage(e) => ApiError::from(e),
            E::Write(e) => ApiError::from(e),
            E::Print(e) => ApiError::from(e),
            E::Encode(_) => ApiError::internal(e),
        }
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        use domain::menu::MenuError as M;
        match e {
            EditError::NotFound => ApiError::not_found("menu"),
            EditError::Invalid(M::UnknownItem(_)) => ApiError::not_found("menu item"),
            EditError::Invalid(M::UnknownModifier(_)) => ApiError::not_found("modifier"),
            EditError::Invalid(other) => ApiError::unprocessable("invalid_menu", other.to_string()),
            EditError::Storage(e) => ApiError::from(e),
            EditError::Write(e) => ApiError::from(e),
            EditError::Document(_) | EditError::Encode(_) => ApiError::internal(e),
        }
    }
}

impl From<CardError> for ApiError {
    fn from(e: CardError) -> Self {
        match e {
            CardError::Order(e) => ApiError::from(e),
            CardError::NoTerminal => ApiError::unprocessable("no_card_terminal", e.to_string()),
            CardError::CurrencyUnsupported(_) => {
                ApiError::unprocessable("currency_unsupported", e.to_string())
            }
            CardError::TerminalBusy(_) => ApiError::conflict("terminal_busy", e.to_string()),
            CardError::Unsettled => ApiError::conflict("payment_unsettled", e.to_string()),
            CardError::Terminal(e) => terminal_error(e),
            CardError::Storage(e) => ApiError::from(e),
            CardError::Write(e) => ApiError::from(e),
            CardError::BadPassword | CardError::Internal(_) => ApiError::internal(e),
        }
    }
}

/// What the card terminal answered, as the API says it.
fn terminal_error(e: TerminalError) -> ApiError {
    use TerminalError::*;
    match e {
        Declined { code, message } => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
            format!(
                "the card was declined ({message}, code {code:#04x}): ask for another card or cash"
            ),
        ),
        Cancelled => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_cancelled",
            "the payment was cancelled at the terminal",
        ),
        Timeout => ApiError::conflict(
            "terminal_timeout",
            "the terminal did not finish in time; the payment was aborted: nothing was charged",
        ),
        Busy => ApiError::conflict(
            "terminal_busy",
            "the terminal is busy with another transaction: wait and try again",
        ),
        Protocol(m) => ApiError::conflict(
            "terminal_error",
            format!(
                "the terminal answered something we cannot read ({m}): check the terminal, then try again"
            ),
        ),
        Io(m) => ApiError::conflict(
            "terminal_unreachable",
            format!("cannot reach the card terminal ({m}): check its cable or network"),
        ),
    }
}
