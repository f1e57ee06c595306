//! Property tests for the rules every replica must agree on.

use domain::Ident;
use domain::menu::{Category, Item, LineRequest, Menu, Modifier, ModifierGroup, Station, TaxClass};
use domain::money::{Currency, TaxMode, TaxRate};
use domain::order::{Channel, DiscountKind, DiscountRequest, Fulfillment, OrderDraft, price_order};
use domain::status::{LifecycleEvent, OrderStatus, Progress, Transition, fold};
use proptest::prelude::*;

fn id(s: &str) -> Ident {
    Ident::parse(s).unwrap()
}

/// A menu with `n` items over two tax classes and one optional modifier group.
fn menu(mode: TaxMode, prices: &[i64], rates: (u32, u32)) -> Menu {
    Menu {
        currency: Currency::parse("EUR").unwrap(),
        tax_mode: mode,
        tax_classes: vec![
            TaxClass {
                id: id("a"),
                name: "A".into(),
                rate_bp: TaxRate::from_basis_points(rates.0).unwrap(),
            },
            TaxClass {
                id: id("b"),
                name: "B".into(),
                rate_bp: TaxRate::from_basis_points(rates.1).unwrap(),
            },
        ],
        stations: vec![Station {
            id: id("k"),
            name: "Kitchen".into(),
        }],
        categories: vec![Category {
            id: id("c"),
            name: "C".into(),
        }],
        modifier_groups: vec![ModifierGroup {
            id: id("extras"),
            name: "Extras".into(),
            min: 0,
            max: 2,
            modifiers: vec![
                Modifier {
                    id: id("m1"),
                    name: "M1".into(),
                    price_delta: 35,
                    sold_out: false,
                },
                Modifier {
                    id: id("m2"),
                    name: "M2".into(),
                    price_delta: 120,
                    sold_out: false,
                },
            ],
        }],
        items: prices
            .iter()
            .enumerate()
            .map(|(i, p)| Item {
                id: id(&format!("i{i}")),
                sku: id(&format!("sku{i}")),
                name: format!("Item {i}"),
                description: String::new(),
                category: id("c"),
                price: *p,
                tax_class: if i % 2 == 0 { id("a") } else { id("b") },
                station: id("k"),
                sold_out: false,
                modifier_groups: vec![id("extras")],
                image: None,
            })
            .collect(),
    }
}

fn transition() -> impl Strategy<Value = Transition> {
    prop::sample::select(Transition::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Totals equal the sum of lines and taxes, whatever the prices, rates, quantities and tax mode.
    #[test]
    fn totals_equal_sum_of_lines_and_taxes(
        prices in prop::collection::vec(0i64..=500_000, 1..8),
        rates in (0u32..=3000, 0u32..=3000),
        inclusive in any::<bool>(),
        picks in prop::collection::vec((0usize..8, 1u32..=99, 0u8..4), 1..20),
        discount in prop::option::of((any::<bool>(), 1i64..=20_000_000)),
    ) {
        let mode = if inclusive { TaxMode::Inclusive } else { TaxMode::Exclusive };
        let m = menu(mode, &prices, rates);
        m.validate().unwrap();
        let lines: Vec<LineRequest> = picks.iter().map(|(i, q, mods)| LineRequest {
            item_id: id(&format!("i{}", i % prices.len())),
            quantity: *q,
            modifiers: match mods { 0 => vec![], 1 => vec![id("m1")], 2 => vec![id("m2")], _ => vec![id("m1"), id("m2")] },
            note: None,
        }).collect();
        let discount = discount.map(|(percent, v)| DiscountRequest {
            kind: if percent { DiscountKind::Percent } else { DiscountKind::Amount },
            value: if percent { v % 10_000 + 1 } else { v },
            reason: "test".into(),
        });
        let draft = OrderDraft { channel: Channel::Pos, fulfillment: Fulfillment::DineIn, lines, note: None, customer_name: None, table: None, discount };
        let o = price_order(&m, &draft).unwrap();
        let sum_lines: i64 = o.lines.iter().map(|l| l.line_total).sum();
        let sum_tax: i64 = o.lines.iter().map(|l| l.tax).sum();
        let sum_discount: i64 = o.lines.iter().map(|l| l.discount).sum();
        prop_assert_eq!(o.totals.subtotal, sum_lines);
        prop_assert_eq!(o.totals.tax, sum_tax);
        prop_assert_eq!(o.totals.discount, sum_discount);
        prop_assert_eq!(o.discount.as_ref().map_or(0, |d| d.amount), sum_discount, "line shares add up to the discount");
        prop_assert!(sum_discount >= 0 && sum_discount <= sum_lines);
        let net = sum_lines - sum_discount;
        let expected_total = if inclusive { net } else { net + sum_tax };
        prop_assert_eq!(o.totals.total, expected_total);
        prop_assert!(o.totals.total >= 0);
        for l in &o.lines {
            prop_assert_eq!(l.line_total, l.unit_price * i64::from(l.quantity));
            prop_assert!(l.discount >= 0 && l.discount <= l.line_total);
            prop_assert!(l.tax >= 0 && l.tax <= l.line_total - l.discount);
        }
    }

    /// The strict machine never moves a status backwards, whatever is asked of it.
    #[test]
    fn no_sequence_moves_status_backwards(ts in prop::collection::vec(transition(), 0..30)) {
        let mut s = OrderStatus::Placed;
        for t in ts {
            match s.apply(t) {
                Ok(next) => { prop_assert!(next.rank() > s.rank(), "{s} -> {next}"); s = next; }
                Err(e) => prop_assert_eq!(e.from, s),
            }
        }
    }

    /// The events of any legal history fold to the same status in every arrival order,
    /// and that status is the one the strict machine reached.
    #[test]
    fn any_permutation_folds_to_the_same_status(
        ts in prop::collection::vec(transition(), 0..30),
        shuffle in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let mut s = OrderStatus::Placed;
        let mut events = vec![LifecycleEvent::Placed];
        for t in ts {
            if let Ok(next) = s.apply(t) { events.push(LifecycleEvent::Moved(t)); s = next; }
        }
        // A deterministic permutation from the seed (Fisher-Yates with an LCG).
        let mut permuted = events.clone();
        let mut x = seed | 1;
        for i in (1..permuted.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = ((x >> 33) as usize + shuffle.index(i + 1)) % (i + 1);
            permuted.swap(i, j);
        }
        prop_assert_eq!(fold(events.iter().copied()), Some(s));
        prop_assert_eq!(fold(permuted.iter().copied()), Some(s));
        // Every prefix of an arrival order folds to a status no higher than the final one:
        // a replica's view only ever moves forward.
        let mut last = OrderStatus::Placed;
        for k in 1..=permuted.len() {
            let f = fold(permuted[..k].iter().copied()).unwrap();
            prop_assert!(f.rank() >= last.rank());
            last = f;
        }
    }

    /// Replicas' views of an order join to the same progress in any arrival
    /// order, and the join is never below either view.
    #[test]
    fn progress_joins_in_any_order(views in prop::collection::vec(
        (prop::sample::select(OrderStatus::ALL.to_vec()), 0..10_000i64), 1..6),
    ) {
        let views: Vec<Progress> = views.into_iter().map(|(status, paid)| Progress { status, paid }).collect();
        let joined = views.iter().copied().reduce(Progress::join).unwrap();
        let reversed = views.iter().rev().copied().reduce(Progress::join).unwrap();
        prop_assert_eq!(joined, reversed);
        prop_assert_eq!(joined.join(joined), joined);
        for v in &views {
            prop_assert_eq!(v.join(joined), joined);
            prop_assert!(joined.status.rank() >= v.status.rank() && joined.paid >= v.paid);
        }
    }
}
