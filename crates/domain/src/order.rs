//! Orders as clients request them (`OrderDraft`) and as the store records them
//! (`PricedOrder`): every line checked against the menu and priced, totals
//! computed by one rule.
//!
//! Totals: `subtotal` is the sum of line totals at menu prices; `discount` is
//! the order discount, shared out over the lines in proportion to their totals
//! (largest remainder, so the shares add up exactly); each line's tax is
//! computed on its discounted amount and `tax` is their sum;
//! `total = subtotal - discount + tax` when taxes are exclusive and
//! `total = subtotal - discount` when menu prices include tax.

use crate::menu::{LineError, LineRequest, MAX_NOTE_CHARS, Menu, PricedLine, check_note};
use crate::money::{Currency, Money, MoneyError, TaxMode, tax_on};

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
    /// A discount on the whole order; staff without the discount permission need a manager's approval.
    #[serde(default)]
    pub discount: Option<DiscountRequest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    /// `value` is in basis points of the subtotal (1000 = 10 %).
    Percent,
    /// `value` is an amount in minor units (capped at the subtotal).
    Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiscountRequest {
    pub kind: DiscountKind,
    /// For `percent`: basis points of the subtotal (1000 = 10 %, at most 10000).
    /// For `amount`: minor units (cents).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10_000_000))]
    pub value: i64,
    /// Why ("staff meal", "late order"); required.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

/// The discount as applied to an order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppliedDiscount {
    pub kind: DiscountKind,
    pub value: i64,
    pub reason: String,
    /// Minor units taken off the subtotal.
    pub amount: i64,
    /// Staff id of the manager who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    /// Sum of line totals at menu prices, minor units.
    pub subtotal: i64,
    /// Order discount, minor units (0 without one).
    #[serde(default)]
    pub discount: i64,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<AppliedDiscount>,
    pub totals: Totals,
    /// When the customer collects an order placed ahead (Unix ms); none: as soon as
    /// possible. Set by the server that checked it against the store's hours (the hub,
    /// for online orders), never by pricing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_at: Option<i64>,
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
    #[error(
        "a discount is 0.01 % to 100 % or a positive amount, with a reason of at most 200 characters"
    )]
    BadDiscount,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl OrderError {
    /// The stable API error code for this rejection (the same on the store node and the hub).
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::Line { source, .. } => match source {
                LineError::UnknownItem(_) => "unknown_item",
                LineError::SoldOut(_) => "sold_out",
                LineError::BadQuantity(_) => "invalid_quantity",
                LineError::UnknownModifier { .. } => "unknown_modifier",
                LineError::DuplicateModifier(_) | LineError::GroupBounds { .. } => {
                    "invalid_modifiers"
                }
                LineError::NoteTooLong => "note_too_long",
                LineError::Money(_) => "amount_out_of_range",
            },
            OrderError::NoLines => "empty_order",
            OrderError::TooManyLines => "too_many_lines",
            OrderError::NoteTooLong => "note_too_long",
            OrderError::LabelTooLong => "label_too_long",
            OrderError::BadDiscount => "invalid_discount",
            OrderError::Money(_) => "amount_out_of_range",
        }
    }
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
    let mut lines = lines;
    let discount = match &draft.discount {
        None => None,
        Some(d) => Some(apply_discount(menu, &mut lines, d)?),
    };
    let totals = totals(menu.currency, menu.tax_mode, &lines)?;
    Ok(PricedOrder {
        channel: draft.channel,
        fulfillment: draft.fulfillment,
        lines,
        note: draft.note.clone().filter(|n| !n.trim().is_empty()),
        customer_name: label(&draft.customer_name)?,
        table: label(&draft.table)?,
        discount,
        totals,
        pickup_at: None,
    })
}

/// Takes the discount off the lines in proportion to their totals and re-taxes them.
fn apply_discount(
    menu: &Menu,
    lines: &mut [PricedLine],
    d: &DiscountRequest,
) -> Result<AppliedDiscount, OrderError> {
    let reason = d.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_NOTE_CHARS || d.value <= 0 {
        return Err(OrderError::BadDiscount);
    }
    let subtotal: i128 = lines.iter().map(|l| i128::from(l.line_total)).sum();
    let amount: i128 = match d.kind {
        DiscountKind::Percent if d.value > 10_000 => return Err(OrderError::BadDiscount),
        // Half away from zero, like taxes; amounts are never negative here.
        DiscountKind::Percent => (subtotal * i128::from(d.value) + 5_000) / 10_000,
        DiscountKind::Amount => i128::from(d.value).min(subtotal),
    };
    if subtotal > 0 {
        // Largest remainder: floor shares, then one more unit to the largest remainders (ties: earlier line).
        let mut shares: Vec<(usize, i128, i128)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let exact = amount * i128::from(l.line_total);
                (i, exact / subtotal, exact % subtotal)
            })
            .collect();
        let mut left = amount - shares.iter().map(|s| s.1).sum::<i128>();
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|&a, &b| shares[b].2.cmp(&shares[a].2).then(a.cmp(&b)));
        for i in order {
            if left == 0 {
                break;
            }
            shares[i].1 += 1;
            left -= 1;
        }
        for (i, share, _) in shares {
            let l = &mut lines[i];
            l.discount = share as i64;
            let net = Money::new(l.line_total - l.discount, menu.currency);
            l.tax = tax_on(net, menu.tax_rate(&l.tax_class), menu.tax_mode).minor();
        }
    }
    Ok(AppliedDiscount {
        kind: d.kind,
        value: d.value,
        reason: reason.to_owned(),
        amount: amount as i64,
        approved_by: None,
    })
}

/// Totals of priced lines by the module's rule.
pub fn totals(
    currency: Currency,
    mode: TaxMode,
    lines: &[PricedLine],
) -> Result<Totals, MoneyError> {
    let mut subtotal = Money::zero(currency);
    let mut discount = Money::zero(currency);
    let mut tax = Money::zero(currency);
    for l in lines {
        subtotal = subtotal.checked_add(Money::new(l.line_total, currency))?;
        discount = discount.checked_add(Money::new(l.discount, currency))?;
        tax = tax.checked_add(Money::new(l.tax, currency))?;
    }
    let net = subtotal.checked_add(Money::new(-discount.minor(), currency))?;
    let total = match mode {
        TaxMode::Exclusive => net.checked_add(tax)?,
        TaxMode::Inclusive => net,
    };
    Ok(Totals {
        currency,
        tax_mode: mode,
        subtotal: subtotal.minor(),
        discount: discount.minor(),
        tax: tax.minor(),
        total: total.minor(),
    })
}
