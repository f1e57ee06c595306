//! Orders as clients request them (`OrderDraft`) and as the store records them
//! (`PricedOrder`): every line checked against the menu and priced, totals
//! computed by one rule.
//!
//! Totals: `subtotal` is the sum of line totals at menu prices; `tax` is the sum
//! of per-line taxes; `total = subtotal + tax` when taxes are exclusive and
//! `total = subtotal` when menu prices include tax.

use crate::menu::{LineError, LineRequest, MAX_NOTE_CHARS, Menu, PricedLine, check_note};
use crate::money::{Currency, Money, MoneyError, TaxMode};

/// Most lines on one order.
pub const MAX_LINES: usize = 100;
/// Longest customer name or table label.
pub const MAX_LABEL_CHARS: usize = 60;

/// Where an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Pos,
    Kiosk,
    Online,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Pos => "pos",
            Channel::Kiosk => "kiosk",
            Channel::Online => "online",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pos" => Some(Channel::Pos),
            "kiosk" => Some(Channel::Kiosk),
            "online" => Some(Channel::Online),
            _ => None,
        }
    }
}

/// How the customer gets the food.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Fulfillment {
    DineIn,
    Takeaway,
    Pickup,
}

/// An order as a POS, kiosk or the hub asks for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderDraft {
    pub channel: Channel,
    pub fulfillment: Fulfillment,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub note: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 60))]
    pub customer_name: Option<String>,
    /// Table label for dine-in ("12", "Patio 3").
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 60))]
    pub table: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    /// Sum of line totals at menu prices, minor units.
    pub subtotal: i64,
    /// Sum of line taxes, minor units.
    pub tax: i64,
    /// What the customer pays, minor units.
    pub total: i64,
}

/// The immutable snapshot recorded when an order is placed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricedOrder {
    pub channel: Channel,
    pub fulfillment: Fulfillment,
    pub lines: Vec<PricedLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("an order needs at least one line")]
    NoLines,
    #[error("an order may have at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("line {index}: {source}")]
    Line { index: usize, source: LineError },
    #[error("note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error("customer name and table must be at most {MAX_LABEL_CHARS} characters")]
    LabelTooLong,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

fn label(s: &Option<String>) -> Result<Option<String>, OrderError> {
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > MAX_LABEL_CHARS => Err(OrderError::LabelTooLong),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// Checks a draft against the menu and prices it. Nothing about the draft is trusted.
pub fn price_order(menu: &Menu, draft: &OrderDraft) -> Result<PricedOrder, OrderError> {
    if draft.lines.is_empty() {
        return Err(OrderError::NoLines);
    }
    if draft.lines.len() > MAX_LINES {
        return Err(OrderError::TooManyLines);
    }
    check_note(&draft.note).map_err(|_| OrderError::NoteTooLong)?;
    let lines = draft
        .lines
        .iter()
        .enumerate()
        .map(|(index, l)| {
            menu.price_line(l)
                .map_err(|source| OrderError::Line { index, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let totals = totals(menu.currency, menu.tax_mode, &lines)?;
    Ok(PricedOrder {
        channel: draft.channel,
        fulfillment: draft.fulfillment,
        lines,
        note: draft.note.clone().filter(|n| !n.trim().is_empty()),
        customer_name: label(&draft.customer_name)?,
        table: label(&draft.table)?,
        totals,
    })
}

/// Totals of priced lines by the module's rule.
pub fn totals(
    currency: Currency,
    mode: TaxMode,
    lines: &[PricedLine],
) -> Result<Totals, MoneyError> {
    let mut subtotal = Money::zero(currency);
    let mut tax = Money::zero(currency);
    for l in lines {
        subtotal = subtotal.checked_add(Money::new(l.line_total, currency))?;
        tax = tax.checked_add(Money::new(l.tax, currency))?;
    }
    let total = match mode {
        TaxMode::Exclusive => subtotal.checked_add(tax)?,
        TaxMode::Inclusive => subtotal,
    };
    Ok(Totals {
        currency,
        tax_mode: mode,
        subtotal: subtotal.minor(),
        tax: tax.minor(),
        total: total.minor(),
    })
}
