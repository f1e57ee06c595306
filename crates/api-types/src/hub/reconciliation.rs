//! A store's card money for one day: what the hub's records say was captured
//! and refunded, against the balance transactions the card processor lists.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/stores/{id}/payments/reconciliation` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct ReconciliationQuery {
    /// The store's business day, `YYYY-MM-DD` in its time zone; today when left out.
    #[serde(default)]
    pub date: Option<String>,
    /// `json` (the default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
}

/// How one movement of money compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Both sides agree.
    Matched,
    /// Both sides have it, with different amounts.
    AmountDiffers,
    /// Our records have it; the processor lists no such movement.
    MissingAtProcessor,
    /// The processor lists it; our records of this store do not have it.
    UnknownToUs,
}

/// One capture or refund, ours beside the processor's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconciliationLine {
    /// `charge` or `refund`.
    pub kind: String,
    pub status: MatchStatus,
    /// The order, when known.
    pub order_id: Option<String>,
    pub ticket: Option<String>,
    /// Our amount, minor units (a refund is positive here).
    pub ours: Option<i64>,
    /// The processor's amount, minor units (a refund is negative, as the processor lists it).
    pub processor: Option<i64>,
    /// The processor's fee on it, minor units.
    pub fee: Option<i64>,
    /// The processor's charge or refund id (`ch_…`, `re_…`).
    pub processor_object: Option<String>,
    /// The processor's balance transaction (`txn_…`).
    pub balance_transaction: Option<String>,
    /// What to look at, in words.
    pub note: String,
}

/// The day's sums.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconciliationTotals {
    /// Captured by our records, minor units.
    pub captured: i64,
    /// Refunded by our records.
    pub refunded: i64,
    /// Charges the processor lists.
    pub processor_charged: i64,
    /// Refunds the processor lists (positive).
    pub processor_refunded: i64,
    /// The processor's fees.
    pub fees: i64,
    /// What the processor pays out for the day: charges less refunds less fees.
    pub net: i64,
    /// Lines that are not `matched`.
    pub differences: usize,
}

/// A store's card money for one day.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reconciliation {
    pub store_id: String,
    pub date: String,
    pub time_zone: String,
    pub currency: Option<String>,
    /// The day, Unix ms: `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    pub totals: ReconciliationTotals,
    /// Differences first, then by time.
    pub lines: Vec<ReconciliationLine>,
}
