//! The merchant's sales report: a store's, or an organisation's, orders over a
//! range of days in the store's time zone, in totals and breakdowns.
//!
//! What counts: every order the hub's projection holds whose view says when it
//! was created (`created_ms`) within the range (from the first instant of
//! `from` to the last of `to`, each store in its own time zone), whatever its
//! status except cancelled and voided. A refunded order counts with its sale,
//! and what was given back counts in `refunds`. Web orders waiting for their
//! card to be authorised are not orders yet and do not count.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/stores/{id}/sales` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct SalesQuery {
    /// First day, `YYYY-MM-DD` in the store's time zone; today when left out.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`; `from` when left out. At most 366 days in all.
    #[serde(default)]
    pub to: Option<String>,
    /// `json` (the default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /api/v1/orgs/{org_id}/sales` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct OrgSalesQuery {
    /// First day, `YYYY-MM-DD` in each store's time zone; today when left out.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`; `from` when left out. At most 366 days in all.
    #[serde(default)]
    pub to: Option<String>,
    /// `json` (the default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
    /// Only this store of the organisation (404 for a store not in it).
    #[serde(default)]
    pub store: Option<String>,
}

/// The report's totals. Money in minor units of `SalesReport::currency`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesTotals {
    /// Orders counted (see the module: not cancelled or voided).
    pub orders: i64,
    /// Sum of the orders' totals: what the customers were asked to pay, after
    /// discounts, tax included.
    pub gross_sales: i64,
    /// Sum of the orders' tax (inside `gross_sales`).
    pub tax: i64,
    /// Sum of the order discounts (already taken off `gross_sales`).
    pub discounts: i64,
    /// Given back on these orders so far (card refunds, refunds at the till).
    pub refunds: i64,
    /// `gross_sales - refunds`.
    pub net_sales: i64,
    /// `gross_sales / orders`, rounded to the nearest minor unit (0 without orders).
    pub average_ticket: i64,
}

/// One row of a breakdown. Which fields mean something depends on the breakdown:
/// `orders` (orders, or payments for `by_tender`), `quantity` (items, for
/// `by_item` and `by_category`), `sales` (see each breakdown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesRow {
    /// The day (`YYYY-MM-DD`), hour (`00`..`23`), item id, category id, channel or tender.
    pub key: String,
    /// What people read: an item's or a category's name (empty otherwise).
    pub label: String,
    pub orders: i64,
    pub quantity: i64,
    pub sales: i64,
}

/// `GET /api/v1/stores/{id}/sales` and `GET /api/v1/orgs/{org_id}/sales`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesReport {
    /// The organisation, for an organisation's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The stores whose orders are in it.
    pub stores: Vec<String>,
    /// First and last day, inclusive.
    pub from: String,
    pub to: String,
    /// The stores' time zones (IANA names), the days and hours are theirs.
    pub time_zones: Vec<String>,
    /// ISO 4217; empty when no order counted.
    pub currency: String,
    pub totals: SalesTotals,
    /// Per day: orders and `sales` = gross sales; days without orders left out.
    pub by_day: Vec<SalesRow>,
    /// Per hour of the day (local), over all days: orders and gross sales.
    pub by_hour: Vec<SalesRow>,
    /// Per item: orders with it, quantity, `sales` = line totals less their share of
    /// the order discount (tax included where prices include it, excluded otherwise).
    pub by_item: Vec<SalesRow>,
    /// Per category of the store's current menu (`key` empty for items no longer on
    /// it): as `by_item`.
    pub by_category: Vec<SalesRow>,
    /// Per channel (`pos`: the counter, `kiosk`, `online`): orders and gross sales.
    pub by_channel: Vec<SalesRow>,
    /// Per tender (`cash`, `card`: at the till, `online_card`, `other`), from the
    /// payment facts of the orders counted: `orders` = payments, `sales` = amount taken.
    pub by_tender: Vec<SalesRow>,
}
