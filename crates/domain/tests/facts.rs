//! The facts on the wire: they read back in the form the node writes, a fact
//! that does not parse is an error, and the order they describe is the same
//! for every arrival order, with duplicates and with facts of unknown kinds.

use domain::fact::{Fact, Order, OrderView, kind};
use domain::status::OrderStatus;
use proptest::prelude::*;
use serde_json::{Value, json};

/// An order view as `store-node` writes it (`http::orders::OrderView`).
fn node_view(status: &str, paid: i64, stations: &[&str], updated_ms: u64) -> Value {
    json!({
        "id": "0193a6f2-5c1e-7cc4-9a5e-2b8f7d3c1a01", "ticket": "S-0042", "status": status,
        "channel": "pos", "fulfillment": "dine_in",
        "lines": [{ "item_id": "burger", "name": "Burger", "quantity": 2, "unit_price": 950,
                    "modifiers": [], "line_total": 1900, "tax_class": "food", "tax": 133,
                    "discount": 0, "station": "grill" }],
        "table": "12",
        "totals": { "currency": "EUR", "tax_mode": "inclusive", "subtotal": 1900, "discount": 0, "tax": 133, "total": 1900 },
        "created_ms": 1_700_000_000_000u64, "updated_ms": updated_ms, "created_by": "staff-1",
        "paid": paid, "refunded": 0, "stations_done": stations,
    })
}

/// Every kind of fact the node records, with its data as the node writes it.
fn node_facts() -> Vec<(&'static str, Value)> {
    let placed = node_view("placed", 0, &[], 1);
    let accepted = node_view("accepted", 0, &[], 2);
    let done = node_view("accepted", 0, &["grill"], 3);
    let paid = node_view("accepted", 1900, &["grill"], 4);
    let cancelled = node_view("cancelled", 1900, &["grill"], 5);
    vec![
        (kind::ORDER_CREATED, json!({ "order": placed })),
        (
            kind::ORDER_CHANGED,
            json!({ "transition": "accept", "from": "placed", "to": "accepted", "by": "staff-1", "reason": null, "order": accepted }),
        ),
        (
            kind::ORDER_CHANGED,
            json!({ "station_done": "grill", "by": "staff-2", "order": done }),
        ),
        (
            kind::PAYMENT_RECORDED,
            json!({ "payment": { "id": "p1", "order_id": "o", "method": "cash", "amount": 1900, "tendered": 2000,
                                  "change": 100, "created_ms": 4, "created_by": "staff-1", "reference": null },
                    "order": paid }),
        ),
        (
            kind::PAYMENT_REFUNDED,
            json!({ "refund": { "id": "r1", "payment_id": "p1", "method": "cash", "amount": 1900, "approved_by": "m" },
                    "order": cancelled }),
        ),
        (
            kind::MENU_CHANGED,
            json!({ "version": 3, "change": { "item": "burger", "sold_out": true } }),
        ),
        (
            kind::DEVICE_HEALTH,
            json!({ "id": "printer-1", "kind": "printer", "name": "Kitchen", "station": "grill", "active": true,
                    "health": { "state": "online" } }),
        ),
        (
            kind::REFUND_REQUESTED,
            json!({ "id": "o-cancel", "order_id": "o", "reason": "wrong order", "by": "staff-1",
                    "approved_by": "m", "at_ms": 9 }),
        ),
        (
            kind::REFUND_REQUESTED,
            json!({ "id": "r2", "order_id": "o", "amount": 250, "by": "m", "at_ms": 10 }),
        ),
        (
            kind::REFUND_DECLINED,
            json!({ "id": "r2", "order_id": "o", "reason": "only 100 is left to give back", "at_ms": 11 }),
        ),
        ("stock.changed", json!({ "sku": "bun", "level": 12 })),
    ]
}

#[test]
fn every_fact_the_node_writes_reads_back_unchanged() {
    for (k, data) in node_facts() {
        let fact = Fact::decode(k, &data).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(fact.kind(), k);
        assert_eq!(fact.data().unwrap(), data, "{k}");
    }
    let other = Fact::decode("stock.changed", &json!({ "sku": "bun" })).unwrap();
    assert!(matches!(other, Fact::Other { .. }));
    assert_eq!(other.order(), None);
}

#[test]
fn a_web_order_view_is_the_one_the_hub_wrote() {
    // What the hub's `order.created` carried before the view moved here.
    let priced: domain::order::PricedOrder = serde_json::from_value(json!({
        "channel": "online", "fulfillment": "pickup", "lines": [], "customer_name": "Ada",
        "totals": { "currency": "EUR", "tax_mode": "inclusive", "subtotal": 0, "discount": 0, "tax": 0, "total": 0 },
    }))
    .unwrap();
    let id = uuid::Uuid::now_v7();
    let view = OrderView::placed(id, "W-0001".into(), &priced, 1234).unwrap();
    let mut want = serde_json::to_value(&priced).unwrap();
    for (k, v) in [
        ("id", json!(id)),
        ("ticket", json!("W-0001")),
        ("status", json!("placed")),
        ("created_ms", json!(1234)),
        ("updated_ms", json!(1234)),
        ("created_by", Value::Null),
        ("paid", json!(0)),
        ("stations_done", json!([])),
    ] {
        want[k] = v;
    }
    assert_eq!(view.to_json().unwrap(), want);
    assert_eq!(view.priced().unwrap(), priced);
}

#[test]
fn a_fact_that_does_not_parse_is_an_error() {
    let bad = [
        (kind::ORDER_CREATED, json!({})),
        (kind::ORDER_CREATED, json!({ "order": null })),
        (kind::ORDER_CREATED, json!({ "order": { "id": "o1" } })),
        (
            kind::ORDER_CREATED,
            json!({ "order": { "id": "o1", "status": "eaten" } }),
        ),
        (
            kind::ORDER_CHANGED,
            json!({ "transition": "teleport", "order": { "id": "o1", "status": "placed" } }),
        ),
        (
            kind::PAYMENT_RECORDED,
            json!({ "order": { "id": "o1", "status": "placed", "paid": "lots" } }),
        ),
        (
            kind::ORDER_CHANGED,
            json!({ "order": { "id": "o1", "status": "placed", "stations_done": ["no spaces"] } }),
        ),
        (kind::MENU_CHANGED, json!([1, 2])),
        (kind::DEVICE_HEALTH, json!("printer")),
        (
            kind::REFUND_REQUESTED,
            json!({ "id": "r", "order_id": "o", "amount": "all", "by": "m", "at_ms": 1 }),
        ),
        (kind::REFUND_DECLINED, json!({ "id": "r", "order_id": "o" })),
    ];
    for (k, data) in bad {
        let e = Fact::decode(k, &data).expect_err(&data.to_string());
        assert_eq!(e.kind, k);
    }
}

#[test]
fn an_order_takes_the_furthest_status_the_most_paid_and_every_station() {
    let facts: Vec<Fact> = node_facts()
        .into_iter()
        .map(|(k, d)| Fact::decode(k, &d).unwrap())
        .collect();
    let order = Order::fold(&facts).unwrap();
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(order.progress().paid, 1900);
    assert_eq!(order.view().updated_ms, Some(5));
    // A view from before the payment, arriving late, moves nothing back.
    let mut late = order.clone();
    let old = Fact::decode(
        kind::ORDER_CHANGED,
        &json!({ "order": node_view("placed", 0, &[], 1) }),
    )
    .unwrap();
    assert!(!late.apply(&old));
    assert_eq!(late, order);
}

const STATUSES: [&str; 8] = [
    "placed",
    "accepted",
    "in_preparation",
    "ready",
    "completed",
    "cancelled",
    "voided",
    "refunded",
];

/// A view of order `o1` as some replica recorded it: any progress, and
/// (rarely, as for a forged or corrupted fact) a different snapshot.
fn view() -> impl Strategy<Value = Value> {
    (
        0..STATUSES.len(),
        proptest::option::of(0i64..3000),
        proptest::option::of(0i64..3000),
        proptest::option::of(0u64..50),
        proptest::option::of(proptest::sample::subsequence(vec!["bar", "cold", "grill"], 0..=3)),
        prop_oneof![4 => Just("S-0001"), 1 => Just("S-0002")],
        prop_oneof![4 => Just(None), 1 => Just(Some("extra"))],
    )
        .prop_map(|(s, paid, refunded, updated, stations, ticket, note)| {
            let mut v = json!({ "id": "o1", "ticket": ticket, "status": STATUSES[s], "channel": "pos",
                                "created_ms": 10, "totals": { "total": 1500 } });
            for (k, x) in [
                ("paid", paid.map(Value::from)),
                ("refunded", refunded.map(Value::from)),
                ("updated_ms", updated.map(Value::from)),
                ("stations_done", stations.map(|s| json!(s))),
                ("note", note.map(Value::from)),
            ] {
                if let Some(x) = x {
                    v[k] = x;
                }
            }
            v
        })
}

fn fact() -> impl Strategy<Value = Fact> {
    (0..4usize, view()).prop_map(|(k, v)| {
        let (k, data) = match k {
            0 => (kind::ORDER_CREATED, json!({ "order": v })),
            1 => (
                kind::ORDER_CHANGED,
                json!({ "transition": "ready", "by": "s", "order": v }),
            ),
            2 => (
                kind::PAYMENT_RECORDED,
                json!({ "payment": { "amount": 1 }, "order": v }),
            ),
            _ => (
                kind::PAYMENT_REFUNDED,
                json!({ "refund": { "amount": 1 }, "order": v }),
            ),
        };
        Fact::decode(k, &data).unwrap()
    })
}

/// Facts no order reads: kinds of a later build, menu edits, device reports, another order.
fn unread_fact() -> impl Strategy<Value = Fact> {
    prop_oneof![
        Just((
            "stock.changed",
            json!({ "sku": "bun", "level": 3, "order": { "id": "o1", "status": "refunded" } })
        )),
        Just((
            "order.split",
            json!({ "order": { "id": "o1", "status": "voided" } })
        )),
        Just((kind::MENU_CHANGED, json!({ "version": 2 }))),
        Just((
            kind::DEVICE_HEALTH,
            json!({ "id": "kds-1", "health": { "state": "offline" } })
        )),
        Just((
            kind::ORDER_CHANGED,
            json!({ "order": { "id": "o2", "status": "voided", "paid": 99 } })
        )),
    ]
    .prop_map(|(k, d)| Fact::decode(k, &d).unwrap())
}

proptest! {
    #[test]
    fn facts_read_back_as_they_were_written(f in fact()) {
        let data = f.data().unwrap();
        let again = Fact::decode(f.kind(), &data).unwrap();
        prop_assert_eq!(again.data().unwrap(), data);
        prop_assert_eq!(again, f);
    }

    #[test]
    fn any_arrival_order_gives_the_same_order(
        (facts, shuffled) in prop::collection::vec(fact(), 1..12)
            .prop_flat_map(|f| (Just(f.clone()), Just(f).prop_shuffle()))
    ) {
        prop_assert_eq!(Order::fold(&facts), Order::fold(&shuffled));
    }

    #[test]
    fn duplicates_change_nothing(
        facts in prop::collection::vec(fact(), 1..10),
        again in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let once = Order::fold(&facts).unwrap();
        let mut twice = once.clone();
        for i in again {
            prop_assert!(!twice.apply(i.get(&facts)), "a fact applied twice changed the order");
        }
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn facts_no_order_reads_are_ignored(
        facts in prop::collection::vec(fact(), 1..10),
        unread in prop::collection::vec((unread_fact(), any::<prop::sample::Index>()), 0..6),
    ) {
        let mut mixed = facts.clone();
        // After the first fact, which names the order the fold is about.
        for (u, at) in unread {
            let i = 1 + at.index(mixed.len());
            mixed.insert(i, u);
        }
        prop_assert_eq!(Order::fold(&mixed), Order::fold(&facts));
    }

    #[test]
    fn status_and_paid_never_fall(facts in prop::collection::vec(fact(), 1..12)) {
        let mut order: Option<Order> = None;
        for f in &facts {
            let seen = f.order().unwrap();
            let before = order.as_ref().map(Order::progress);
            match &mut order {
                Some(o) => { o.apply(f); }
                None => order = Order::from_fact(f),
            }
            let now = order.as_ref().unwrap().progress();
            prop_assert!(now.status.rank() >= seen.status.rank());
            prop_assert!(now.paid >= seen.paid.unwrap_or(0));
            if let Some(b) = before {
                prop_assert!(now.status.rank() >= b.status.rank() && now.paid >= b.paid);
            }
        }
    }
}

#[test]
fn kitchen_backlog_measures_open_tickets_per_station_and_round_trips() {
    use domain::fact::{Fact, KitchenBacklog, kind};
    let now = 1_000_000;
    let b = KitchenBacklog::measure(
        [
            (now - 300_000, vec!["grill".to_owned(), "fryer".to_owned()]),
            (now - 60_000, vec!["grill".to_owned()]),
            // Every station done but not marked ready yet: still an open ticket.
            (now - 10_000, vec![]),
        ],
        now,
    );
    assert_eq!((b.open_tickets, b.oldest_age_secs), (3, 300));
    let grill = b.stations.iter().find(|s| s.station == "grill").unwrap();
    assert_eq!((grill.open_tickets, grill.oldest_age_secs), (2, 300));
    assert_eq!(b.stations.len(), 2);
    // A ticket more or a minute older is worth a fact; a few seconds are not.
    let mut later = b.clone();
    later.oldest_age_secs += 5;
    assert!(!later.differs_from(&b));
    later.oldest_age_secs += 60;
    assert!(later.differs_from(&b));
    // The wire form reads back as the same fact.
    let fact = Fact::decode(kind::KITCHEN_BACKLOG, &serde_json::to_value(&b).unwrap()).unwrap();
    assert_eq!(fact, Fact::KitchenBacklog(b.clone()));
    assert_eq!(fact.data().unwrap(), serde_json::to_value(&b).unwrap());
    // A backlog with a field this build does not know still reads.
    let mut extra = serde_json::to_value(&b).unwrap();
    extra["future"] = serde_json::json!(1);
    let read = Fact::decode(kind::KITCHEN_BACKLOG, &extra).unwrap();
    assert_eq!(read.data().unwrap(), extra);
}
