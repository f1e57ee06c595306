//! The menu: categories, items, modifier groups and modifiers, kitchen
//! stations and tax classes, and the rules an order line must meet.
//!
//! A `Menu` is a plain value. `Menu::validate` checks it is internally
//! consistent (every reference resolves, every modifier group's min/max is
//! satisfiable); `Menu::price_line` checks one requested order line against it
//! and returns the line priced and taxed. Prices are integer minor units in
//! the menu's currency.

use std::collections::{BTreeMap, BTreeSet};

use crate::Ident;
use crate::money::{Currency, Money, MoneyError, TaxMode, TaxRate, tax_on};

/// Most units of one item on one line: more is a typo, not an order.
pub const MAX_QUANTITY: u32 = 99;
/// Longest free-text note on a line or an order.
pub const MAX_NOTE_CHARS: usize = 200;
/// Highest price of one item or modifier, in minor units (100,000.00).
pub const MAX_PRICE_MINOR: i64 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaxClass {
    pub id: Ident,
    pub name: String,
    /// Rate in basis points (825 = 8.25 %).
    #[cfg_attr(feature = "openapi", schema(value_type = u32, maximum = 10_000))]
    pub rate_bp: TaxRate,
}

/// A kitchen station: where an item is prepared and its ticket printed/shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Station {
    pub id: Ident,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: Ident,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Modifier {
    pub id: Ident,
    pub name: String,
    /// Added to the item's unit price, minor units (may be 0, never negative).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000_000))]
    pub price_delta: i64,
    #[serde(default)]
    pub sold_out: bool,
}

/// A set of choices on an item: "Size" (pick exactly 1), "Extras" (0 to 3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModifierGroup {
    pub id: Ident,
    pub name: String,
    /// Fewest choices; a group with `min >= 1` is required.
    pub min: u32,
    /// Most choices.
    pub max: u32,
    pub modifiers: Vec<Modifier>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: Ident,
    pub sku: Ident,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: Ident,
    /// Unit price in minor units, as shown on the menu (tax included when the menu's tax mode is inclusive).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000_000))]
    pub price: i64,
    pub tax_class: Ident,
    pub station: Ident,
    #[serde(default)]
    pub sold_out: bool,
    /// Modifier groups offered on this item, in display order.
    #[serde(default)]
    pub modifier_groups: Vec<Ident>,
    /// Optional picture for kiosks (a path or URL served to browsers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Menu {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    pub tax_classes: Vec<TaxClass>,
    pub stations: Vec<Station>,
    pub categories: Vec<Category>,
    pub modifier_groups: Vec<ModifierGroup>,
    pub items: Vec<Item>,
}

/// Why a menu (or an edit of it) is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MenuError {
    #[error("duplicate {kind} id {id}")]
    Duplicate { kind: &'static str, id: Ident },
    #[error("item {item} refers to unknown {kind} {id}")]
    UnknownRef {
        item: Ident,
        kind: &'static str,
        id: Ident,
    },
    #[error("modifier group {0}: min must be <= max and max <= number of modifiers (and >= 1)")]
    BadBounds(Ident),
    #[error("{0}: price out of range (0 to {MAX_PRICE_MINOR} minor units)")]
    BadPrice(Ident),
    #[error("{0}: name must be 1 to 100 characters")]
    BadName(Ident),
    #[error("unknown item {0}")]
    UnknownItem(Ident),
    #[error("unknown modifier {0}")]
    UnknownModifier(Ident),
}

/// One line as a client asks for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub item_id: Ident,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 99))]
    pub quantity: u32,
    /// Chosen modifier ids; each at most once.
    #[serde(default)]
    pub modifiers: Vec<Ident>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub note: Option<String>,
}

/// A chosen modifier as priced at order time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricedModifier {
    pub id: Ident,
    pub group: Ident,
    pub name: String,
    pub price_delta: i64,
}

/// An order line with everything frozen at order time: later menu edits do not change it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricedLine {
    pub item_id: Ident,
    pub sku: Ident,
    pub name: String,
    pub station: Ident,
    pub quantity: u32,
    pub modifiers: Vec<PricedModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Item price plus modifier deltas, minor units.
    pub unit_price: i64,
    /// `unit_price * quantity`, minor units, as menu prices are shown.
    pub line_total: i64,
    /// This line's share of the order discount, minor units (0 without a discount).
    #[serde(default)]
    pub discount: i64,
    pub tax_class: Ident,
    pub tax_rate_bp: TaxRate,
    /// Tax contained in (inclusive) or added to (exclusive) `line_total - discount`.
    pub tax: i64,
}

/// Why a requested line cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("unknown item {0}")]
    UnknownItem(Ident),
    #[error("{0} is sold out")]
    SoldOut(Ident),
    #[error("quantity must be between 1 and {MAX_QUANTITY}, got {0}")]
    BadQuantity(u32),
    #[error("modifier {modifier} is not offered on {item}")]
    UnknownModifier { item: Ident, modifier: Ident },
    #[error("modifier {0} was chosen more than once")]
    DuplicateModifier(Ident),
    #[error("{group}: choose between {min} and {max}, got {got}")]
    GroupBounds {
        group: Ident,
        min: u32,
        max: u32,
        got: u32,
    },
    #[error("note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

pub fn check_note(note: &Option<String>) -> Result<(), LineError> {
    match note {
        Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(LineError::NoteTooLong),
        _ => Ok(()),
    }
}

fn check_name(id: &Ident, name: &str) -> Result<(), MenuError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(MenuError::BadName(id.clone()));
    }
    Ok(())
}

fn unique<'a>(
    kind: &'static str,
    ids: impl Iterator<Item = &'a Ident>,
) -> Result<BTreeSet<&'a Ident>, MenuError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(MenuError::Duplicate {
                kind,
                id: id.clone(),
            });
        }
    }
    Ok(seen)
}

impl Menu {
    /// Checks that every id is unique, every reference resolves, prices and
    /// names are sane and every modifier group can be satisfied.
    pub fn validate(&self) -> Result<(), MenuError> {
        let taxes = unique("tax class", self.tax_classes.iter().map(|t| &t.id))?;
        let stations = unique("station", self.stations.iter().map(|s| &s.id))?;
        let cats = unique("category", self.categories.iter().map(|c| &c.id))?;
        let groups = unique("modifier group", self.modifier_groups.iter().map(|g| &g.id))?;
        unique(
            "modifier",
            self.modifier_groups
                .iter()
                .flat_map(|g| g.modifiers.iter().map(|m| &m.id)),
        )?;
        unique("item", self.items.iter().map(|i| &i.id))?;
        unique("sku", self.items.iter().map(|i| &i.sku))?;
        for g in &self.modifier_groups {
            check_name(&g.id, &g.name)?;
            let n = g.modifiers.len() as u32;
            if g.max == 0 || g.min > g.max || g.max > n {
                return Err(MenuError::BadBounds(g.id.clone()));
            }
            for m in &g.modifiers {
                check_name(&m.id, &m.name)?;
                if !(0..=MAX_PRICE_MINOR).contains(&m.price_delta) {
                    return Err(MenuError::BadPrice(m.id.clone()));
                }
            }
        }
        for i in &self.items {
            check_name(&i.id, &i.name)?;
            if !(0..=MAX_PRICE_MINOR).contains(&i.price) {
                return Err(MenuError::BadPrice(i.id.clone()));
            }
            let refs: [(&'static str, &Ident, &BTreeSet<&Ident>); 3] = [
                ("category", &i.category, &cats),
                ("tax class", &i.tax_class, &taxes),
                ("station", &i.station, &stations),
            ];
            for (kind, id, set) in refs {
                if !set.contains(id) {
                    return Err(MenuError::UnknownRef {
                        item: i.id.clone(),
                        kind,
                        id: id.clone(),
                    });
                }
            }
            for g in &i.modifier_groups {
                if !groups.contains(g) {
                    return Err(MenuError::UnknownRef {
                        item: i.id.clone(),
                        kind: "modifier group",
                        id: g.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn item(&self, id: &Ident) -> Option<&Item> {
        self.items.iter().find(|i| &i.id == id)
    }

    fn group(&self, id: &Ident) -> Option<&ModifierGroup> {
        self.modifier_groups.iter().find(|g| &g.id == id)
    }

    pub fn tax_rate(&self, class: &Ident) -> TaxRate {
        self.tax_classes
            .iter()
            .find(|t| &t.id == class)
            .map(|t| t.rate_bp)
            // validate() guarantees the class exists; zero is the safe reading otherwise.
            .unwrap_or(TaxRate::from_basis_points(0).expect("0 is a valid rate"))
    }

    /// Checks one requested line against the menu and prices it.
    pub fn price_line(&self, req: &LineRequest) -> Result<PricedLine, LineError> {
        let item = self
            .item(&req.item_id)
            .ok_or_else(|| LineError::UnknownItem(req.item_id.clone()))?;
        if item.sold_out {
            return Err(LineError::SoldOut(item.id.clone()));
        }
        if req.quantity == 0 || req.quantity > MAX_QUANTITY {
            return Err(LineError::BadQuantity(req.quantity));
        }
        check_note(&req.note)?;

        // Resolve each chosen modifier to the item's group that offers it.
        let mut chosen: BTreeMap<&Ident, u32> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut modifiers = Vec::with_capacity(req.modifiers.len());
        for mid in &req.modifiers {
            if !seen.insert(mid) {
                return Err(LineError::DuplicateModifier(mid.clone()));
            }
            let found = item.modifier_groups.iter().find_map(|gid| {
                let g = self.group(gid)?;
                g.modifiers.iter().find(|m| &m.id == mid).map(|m| (g, m))
            });
            let (g, m) = found.ok_or_else(|| LineError::UnknownModifier {
                item: item.id.clone(),
                modifier: mid.clone(),
            })?;
            if m.sold_out {
                return Err(LineError::SoldOut(m.id.clone()));
            }
            *chosen.entry(&g.id).or_default() += 1;
            modifiers.push(PricedModifier {
                id: m.id.clone(),
                group: g.id.clone(),
                name: m.name.clone(),
                price_delta: m.price_delta,
            });
        }
        for gid in &item.modifier_groups {
            if let Some(g) = self.group(gid) {
                let got = chosen.get(gid).copied().unwrap_or(0);
                if got < g.min || got > g.max {
                    return Err(LineError::GroupBounds {
                        group: g.id.clone(),
                        min: g.min,
                        max: g.max,
                        got,
                    });
                }
            }
        }

        let mut unit = Money::new(item.price, self.currency);
        for m in &modifiers {
            unit = unit.checked_add(Money::new(m.price_delta, self.currency))?;
        }
        let line_total = unit.checked_mul(i64::from(req.quantity))?;
        let rate = self.tax_rate(&item.tax_class);
        let tax = tax_on(line_total, rate, self.tax_mode);
        Ok(PricedLine {
            item_id: item.id.clone(),
            sku: item.sku.clone(),
            name: item.name.clone(),
            station: item.station.clone(),
            quantity: req.quantity,
            modifiers,
            note: req.note.clone().filter(|n| !n.trim().is_empty()),
            unit_price: unit.minor(),
            line_total: line_total.minor(),
            discount: 0,
            tax_class: item.tax_class.clone(),
            tax_rate_bp: rate,
            tax: tax.minor(),
        })
    }

    /// Adds an item or replaces the one with the same id; the menu stays valid or nothing changes.
    pub fn upsert_item(&mut self, item: Item) -> Result<(), MenuError> {
        let mut next = self.clone();
        match next.items.iter_mut().find(|i| i.id == item.id) {
            Some(slot) => *slot = item,
            None => next.items.push(item),
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Marks an item sold out (or back); returns whether anything changed.
    pub fn set_item_sold_out(&mut self, id: &Ident, sold_out: bool) -> Result<bool, MenuError> {
        let item = self
            .items
            .iter_mut()
            .find(|i| &i.id == id)
            .ok_or_else(|| MenuError::UnknownItem(id.clone()))?;
        let changed = item.sold_out != sold_out;
        item.sold_out = sold_out;
        Ok(changed)
    }

    /// Marks a modifier sold out (or back); returns whether anything changed.
    pub fn set_modifier_sold_out(&mut self, id: &Ident, sold_out: bool) -> Result<bool, MenuError> {
        let m = self
            .modifier_groups
            .iter_mut()
            .flat_map(|g| g.modifiers.iter_mut())
            .find(|m| &m.id == id)
            .ok_or_else(|| MenuError::UnknownModifier(id.clone()))?;
        let changed = m.sold_out != sold_out;
        m.sold_out = sold_out;
        Ok(changed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn id(s: &str) -> Ident {
        Ident::parse(s).unwrap()
    }

    /// A two-item menu used by the tests in this crate.
    pub(crate) fn sample(mode: TaxMode) -> Menu {
        Menu {
            currency: Currency::parse("USD").unwrap(),
            tax_mode: mode,
            tax_classes: vec![
                TaxClass {
                    id: id("food"),
                    name: "Food".into(),
                    rate_bp: TaxRate::from_basis_points(825).unwrap(),
                },
                TaxClass {
                    id: id("drink"),
                    name: "Drinks".into(),
                    rate_bp: TaxRate::from_basis_points(1000).unwrap(),
                },
            ],
            stations: vec![
                Station {
                    id: id("grill"),
                    name: "Grill".into(),
                },
                Station {
                    id: id("bar"),
                    name: "Bar".into(),
                },
            ],
            categories: vec![Category {
                id: id("mains"),
                name: "Mains".into(),
            }],
            modifier_groups: vec![
                ModifierGroup {
                    id: id("doneness"),
                    name: "Doneness".into(),
                    min: 1,
                    max: 1,
                    modifiers: vec![
                        Modifier {
                            id: id("rare"),
                            name: "Rare".into(),
                            price_delta: 0,
                            sold_out: false,
                        },
                        Modifier {
                            id: id("well"),
                            name: "Well done".into(),
                            price_delta: 0,
                            sold_out: false,
                        },
                    ],
                },
                ModifierGroup {
                    id: id("extras"),
                    name: "Extras".into(),
                    min: 0,
                    max: 2,
                    modifiers: vec![
                        Modifier {
                            id: id("bacon"),
                            name: "Bacon".into(),
                            price_delta: 150,
                            sold_out: false,
                        },
                        Modifier {
                            id: id("cheese"),
                            name: "Cheese".into(),
                            price_delta: 75,
                            sold_out: false,
                        },
                        Modifier {
                            id: id("egg"),
                            name: "Egg".into(),
                            price_delta: 100,
                            sold_out: true,
                        },
                    ],
                },
            ],
            items: vec![
                Item {
                    id: id("burger"),
                    sku: id("B-001"),
                    name: "Burger".into(),
                    description: String::new(),
                    category: id("mains"),
                    price: 1099,
                    tax_class: id("food"),
                    station: id("grill"),
                    sold_out: false,
                    modifier_groups: vec![id("doneness"), id("extras")],
                    image: None,
                },
                Item {
                    id: id("cola"),
                    sku: id("D-001"),
                    name: "Cola".into(),
                    description: String::new(),
                    category: id("mains"),
                    price: 299,
                    tax_class: id("drink"),
                    station: id("bar"),
                    sold_out: false,
                    modifier_groups: vec![],
                    image: None,
                },
            ],
        }
    }

    fn line(item: &str, q: u32, mods: &[&str]) -> LineRequest {
        LineRequest {
            item_id: id(item),
            quantity: q,
            modifiers: mods.iter().map(|m| id(m)).collect(),
            note: None,
        }
    }

    #[test]
    fn sample_menu_is_valid() {
        sample(TaxMode::Exclusive).validate().unwrap();
    }

    #[test]
    fn prices_a_line_with_modifiers() {
        let m = sample(TaxMode::Exclusive);
        let l = m
            .price_line(&line("burger", 2, &["rare", "bacon"]))
            .unwrap();
        assert_eq!(l.unit_price, 1249);
        assert_eq!(l.line_total, 2498);
        assert_eq!(l.tax, 206); // 2498 * 8.25 % = 206.085
        assert_eq!(l.station.as_str(), "grill");
    }

    #[test]
    fn enforces_modifier_rules() {
        let m = sample(TaxMode::Exclusive);
        assert!(matches!(
            m.price_line(&line("burger", 1, &[])),
            Err(LineError::GroupBounds { got: 0, .. })
        ));
        assert!(matches!(
            m.price_line(&line("burger", 1, &["rare", "well"])),
            Err(LineError::GroupBounds { got: 2, .. })
        ));
        assert!(matches!(
            m.price_line(&line("burger", 1, &["rare", "bacon", "bacon"])),
            Err(LineError::DuplicateModifier(_))
        ));
        assert!(matches!(
            m.price_line(&line("burger", 1, &["rare", "egg"])),
            Err(LineError::SoldOut(_))
        ));
        assert!(matches!(
            m.price_line(&line("cola", 1, &["rare"])),
            Err(LineError::UnknownModifier { .. })
        ));
        assert!(matches!(
            m.price_line(&line("cola", 0, &[])),
            Err(LineError::BadQuantity(0))
        ));
        assert!(matches!(
            m.price_line(&line("cola", 100, &[])),
            Err(LineError::BadQuantity(100))
        ));
        assert!(matches!(
            m.price_line(&line("nope", 1, &[])),
            Err(LineError::UnknownItem(_))
        ));
    }

    #[test]
    fn rejects_inconsistent_menus() {
        let mut m = sample(TaxMode::Exclusive);
        m.items[1].station = id("pizza-oven");
        assert!(matches!(m.validate(), Err(MenuError::UnknownRef { .. })));
        let mut m = sample(TaxMode::Exclusive);
        m.modifier_groups[0].min = 3;
        assert!(matches!(m.validate(), Err(MenuError::BadBounds(_))));
        let mut m = sample(TaxMode::Exclusive);
        let dup = m.items[0].clone();
        assert!(matches!(
            m.upsert_item(Item { id: id("x"), ..dup }),
            Err(MenuError::Duplicate { .. })
        ));
    }
}
