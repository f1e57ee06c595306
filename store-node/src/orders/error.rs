//! Why an order operation did not happen. `http::error` maps each case to the
//! status and code the API has always answered with (checked by
//! `store-node/tests/api.rs` and the committed `openapi.json`).

use domain::Ident;
use domain::payment::PaymentError;
use domain::status::{OrderStatus, TransitionError};

use crate::db::WriteError;
use crate::printing::EnqueueError;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("order not found")]
    NotFound,
    /// The draft breaks a menu or order rule (unknown item, sold out, modifiers...).
    #[error(transparent)]
    Draft(#[from] domain::order::OrderError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A cancelled, voided or completed order takes no payment.
    #[error("the order is {0}: nothing to pay")]
    Closed(OrderStatus),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error("this order has nothing for station {0}")]
    UnknownStation(Ident),
    /// Money is due back and no manager approved giving it.
    #[error(
        "this order is paid: cancelling it gives the money back, which needs a manager's approval (manager PIN)"
    )]
    RefundNeedsApproval,
    /// A refund of an online payment on an order this node does not know to be paid online.
    #[error(
        "this order was not paid online (or the hub has not said so yet), so there is no online payment to give back"
    )]
    NotPaidOnline,
    /// More than what remains of the online payment (paid, less given back, less open requests).
    #[error("only {remaining} (minor units) of this order's online payment is left to give back")]
    RefundExceedsPaid { remaining: i64 },
    /// A stored order or payment this node cannot read: bad data, never hidden behind a default.
    #[error(transparent)]
    Corrupt(#[from] CorruptRecord),
    #[error(transparent)]
    Storage(#[from] rusqlite::Error),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Print(#[from] EnqueueError),
    #[error("encoding an order: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A row of `orders` or `payments` that does not hold what this node wrote there.
#[derive(Debug, thiserror::Error)]
#[error("{table} row {id:?} is corrupt: {what}")]
pub struct CorruptRecord {
    pub table: &'static str,
    pub id: String,
    pub what: String,
}

impl CorruptRecord {
    pub(crate) fn new(table: &'static str, id: &str, what: impl std::fmt::Display) -> Self {
        CorruptRecord {
            table,
            id: id.to_owned(),
            what: what.to_string(),
        }
    }
}
