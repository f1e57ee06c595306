//! Settling an order's bill at the counter. Cash is tendered and change given;
//! card payments arrive with the card-terminal driver. Amounts are minor units.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
}

/// A cash payment that settles what is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CashSettlement {
    /// What the payment covers: the balance due.
    pub amount: i64,
    pub tendered: i64,
    pub change: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("nothing is due on this order")]
    NothingDue,
    #[error("{tendered} tendered is less than the {due} due")]
    Insufficient { due: i64, tendered: i64 },
    #[error("the amount tendered must be positive and at most 100,000.00")]
    BadAmount,
}

/// Most cash one payment may tender, in minor units.
pub const MAX_TENDER: i64 = 10_000_000;

/// Settles the balance `due` with `tendered` cash: change is the difference.
pub fn settle_cash(due: i64, tendered: i64) -> Result<CashSettlement, PaymentError> {
    if !(1..=MAX_TENDER).contains(&tendered) {
        return Err(PaymentError::BadAmount);
    }
    if due <= 0 {
        return Err(PaymentError::NothingDue);
    }
    if tendered < due {
        return Err(PaymentError::Insufficient { due, tendered });
    }
    Ok(CashSettlement {
        amount: due,
        tendered,
        change: tendered - due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_is_tendered_minus_due() {
        assert_eq!(settle_cash(1835, 2000).unwrap().change, 165);
        assert_eq!(settle_cash(1835, 1835).unwrap().change, 0);
        assert!(matches!(
            settle_cash(1835, 1000),
            Err(PaymentError::Insufficient { .. })
        ));
        assert_eq!(settle_cash(0, 1000), Err(PaymentError::NothingDue));
        assert_eq!(settle_cash(10, -5), Err(PaymentError::BadAmount));
    }
}
