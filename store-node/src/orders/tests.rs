//! The order service without HTTP: a database in a temporary directory, the
//! demo menu, and the service functions called inside writer transactions.

use domain::Ident;
use domain::order::OrderDraft;
use domain::payment::PaymentError;
use domain::status::{OrderStatus, Transition};
use serde_json::{Value, json};

/// A time of `n` ms since the epoch.
fn ms(n: i64) -> domain::clock::Millis {
    domain::clock::Millis::new(n).unwrap()
}

use super::*;
use crate::db::Db;
use crate::printing::Letterhead;

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let (bus, _) = tokio::sync::broadcast::channel(64);
    // The services take `now` from the caller (1_000, 2_000, ... below); the writer's
    // own stamps (the event log) come from this clock, which stands at the first of them.
    let clock = domain::clock::ManualClock::new(domain::clock::Millis::new(1_000).unwrap());
    let db = Db::open(dir.path(), 1, bus, std::sync::Arc::new(clock)).unwrap();
    (dir, db)
}

fn draft() -> OrderDraft {
    serde_json::from_value(json!({
        "channel": "pos",
        "fulfillment": "dine_in",
        "lines": [{ "item_id": "fountain-soda", "quantity": 2,
                    "modifiers": ["drink-size-large", "soda-choice-cola"] }]
    }))
    .unwrap()
}

fn head() -> Letterhead {
    Letterhead {
        name: "Test".into(),
        lines: vec![],
    }
}

async fn placed(db: &Db) -> (String, i64) {
    let menu = crate::demo::menu();
    let order = db
        .write(move |ctx| {
            place_draft(
                ctx,
                &menu,
                &draft(),
                None,
                Some("cashier".into()),
                'S',
                ms(1_000),
            )
        })
        .await
        .unwrap();
    assert_eq!(order["ticket"], "S-0001");
    assert_eq!(order["created_ms"], 1_000);
    let id = order["id"].as_str().unwrap().to_owned();
    (id, order["totals"]["total"].as_i64().unwrap())
}

async fn pay(db: &Db, id: &str, tender: Tender) -> Result<Value, OrdersError> {
    let id = id.to_owned();
    db.write(move |ctx| record_payment(ctx, &head(), &id, tender, "cashier", ms(2_000)))
        .await
}

async fn cancel(db: &Db, id: &str, approved_by: Option<&str>) -> Result<Value, OrdersError> {
    let (id, approved_by) = (id.to_owned(), approved_by.map(str::to_owned));
    db.write(move |ctx| {
        let refund = Refund {
            approved_by,
            head: head(),
        };
        transition(
            ctx,
            &id,
            Transition::Cancel,
            "cashier",
            None,
            Some(refund),
            ms(3_000),
        )
    })
    .await
}

#[tokio::test]
async fn cash_and_card_take_one_path_and_a_paid_order_ends_with_a_refund() {
    let (_dir, db) = open();
    let (id, total) = placed(&db).await;

    let short = pay(&db, &id, Tender::Cash { tendered: 1 }).await;
    assert!(
        matches!(
            short,
            Err(OrdersError::Payment(PaymentError::Insufficient { .. }))
        ),
        "{short:?}"
    );
    let paid = pay(
        &db,
        &id,
        Tender::Cash {
            tendered: total + 500,
        },
    )
    .await
    .unwrap();
    assert_eq!(paid["payment"]["method"], "cash");
    assert_eq!(paid["payment"]["change"], 500);
    assert_eq!(paid["order"]["paid"], total);
    let nothing_due = pay(&db, &id, Tender::Cash { tendered: 100 }).await;
    assert!(matches!(
        nothing_due,
        Err(OrdersError::Payment(PaymentError::NothingDue))
    ));

    // Ending a paid order gives money back: without a manager nothing changes (the savepoint rolls back).
    let refused = cancel(&db, &id, None).await;
    assert!(
        matches!(refused, Err(OrdersError::RefundNeedsApproval)),
        "{refused:?}"
    );
    let order = get(&db, id.parse().unwrap()).await.unwrap();
    assert_eq!((order.status, order.refunded), (OrderStatus::Placed, 0));
    let ended = cancel(&db, &id, Some("manager")).await.unwrap();
    assert_eq!(ended["status"], "cancelled");
    assert_eq!(ended["refunded"], total);
    let again = cancel(&db, &id, Some("manager")).await;
    assert!(
        matches!(again, Err(OrdersError::Transition(_))),
        "{again:?}"
    );

    // A closed order takes no cash; a card the terminal already charged is still recorded.
    let closed = pay(&db, &id, Tender::Cash { tendered: 100 }).await;
    assert!(matches!(
        closed,
        Err(OrdersError::Closed(OrderStatus::Cancelled))
    ));
    let card = Tender::Card {
        amount: 100,
        reference: "T1/000001/0001".into(),
    };
    let card = pay(&db, &id, card).await.unwrap();
    assert_eq!(card["payment"]["method"], "card");
    assert_eq!(card["payment"]["reference"], "T1/000001/0001");
    assert_eq!(card["order"]["paid"], total + 100);
    let payments = db
        .read(move |c| Ok(payments_of(c, &id)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payments.len(), 2);
}

#[tokio::test]
async fn a_station_the_order_lacks_is_refused() {
    let (_dir, db) = open();
    let (id, _) = placed(&db).await;
    let station = Ident::parse("nowhere").unwrap();
    let r = db
        .write(move |ctx| mark_station_done(ctx, &id, &station, "kitchen", ms(2_000)))
        .await;
    assert!(matches!(r, Err(OrdersError::UnknownStation(_))), "{r:?}");
    let missing = db
        .write(move |ctx| {
            let station = Ident::parse("bar").unwrap();
            mark_station_done(
                ctx,
                &uuid::Uuid::nil().to_string(),
                &station,
                "kitchen",
                ms(2_000),
            )
        })
        .await;
    assert!(matches!(missing, Err(OrdersError::NotFound)), "{missing:?}");
}

#[tokio::test]
async fn a_corrupt_row_is_an_error_never_a_default() {
    let (_dir, db) = open();
    let (id, _) = placed(&db).await;
    let filter = ListFilter {
        statuses: vec![],
        channels: vec![],
        since_ms: 0,
        until_ms: i64::MAX,
        limit: 10,
    };
    assert_eq!(list(&db, filter.clone()).await.unwrap().len(), 1);
    for (column, value) in [
        ("status", "misplaced"),
        ("snapshot", "{"),
        ("stations_done", "nope"),
        ("id", "not-a-uuid"),
    ] {
        let sql = format!("UPDATE orders SET {column} = ?1");
        db.write(move |ctx| -> Result<usize, crate::db::WriteError> {
            Ok(ctx.conn.execute(&sql, [value])?)
        })
        .await
        .unwrap();
        let listed = list(&db, filter.clone()).await;
        assert!(
            matches!(&listed, Err(OrdersError::Corrupt(c)) if c.table == "orders"),
            "{column}: {listed:?}"
        );
        let restore = "UPDATE orders SET status = 'placed', \
             snapshot = (SELECT json_extract(data, '$.order') FROM event_log), \
             stations_done = '[]', id = ?1";
        let original = id.clone();
        db.write(move |ctx| -> Result<usize, crate::db::WriteError> {
            Ok(ctx.conn.execute(restore, [original])?)
        })
        .await
        .unwrap();
    }
    assert_eq!(list(&db, filter).await.unwrap().len(), 1);
}

/// The order facts this node records are built through `domain::fact`; their `data`, as the
/// log stores it, is byte for byte what the node's own views write (the form every log since
/// the first sync holds), and `Fact::decode` then `Fact::data` gives it back.
#[tokio::test]
async fn order_facts_are_the_node_views_byte_for_byte() {
    let (_dir, db) = open();
    let (id, total) = placed(&db).await;
    pay(&db, &id, Tender::Cash { tendered: total })
        .await
        .unwrap();
    cancel(&db, &id, Some("manager")).await.unwrap();
    // A second order, whose one station finishing makes it ready.
    let menu = crate::demo::menu();
    db.write(move |ctx| {
        let order = place_draft(ctx, &menu, &draft(), None, None, 'S', ms(3_000))?;
        let id = order["id"].as_str().unwrap().to_owned();
        let station: Ident = serde_json::from_value(order["lines"][0]["station"].clone())?;
        mark_station_done(ctx, &id, &station, "kitchen", ms(4_000))
    })
    .await
    .unwrap();

    let events: Vec<(String, String)> = db
        .read(|c| {
            c.prepare("SELECT kind, data FROM event_log ORDER BY pos")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "order.created",
            "payment.recorded",
            "order.changed",
            "payment.refunded",
            "order.created",
            "order.changed",
            "order.changed"
        ]
    );
    for (kind, text) in &events {
        let data: Value = serde_json::from_str(text).unwrap();
        let order: OrderView = serde_json::from_value(data["order"].clone()).unwrap();
        let node_form = match kind.as_str() {
            "order.created" => json!({ "order": order }),
            "payment.recorded" => serde_json::to_value(PaymentResult {
                payment: serde_json::from_value(data["payment"].clone()).unwrap(),
                order,
            })
            .unwrap(),
            "payment.refunded" => {
                let refund: RefundView = serde_json::from_value(data["refund"].clone()).unwrap();
                json!({ "refund": refund, "order": order })
            }
            _ if data.get("station_done").is_some() => json!({
                "station_done": data["station_done"], "by": data["by"], "order": order,
            }),
            _ => {
                let t: Transition = serde_json::from_value(data["transition"].clone()).unwrap();
                json!({
                    "transition": t, "from": data["from"], "to": data["to"],
                    "by": data["by"], "reason": data["reason"], "order": order,
                })
            }
        };
        assert_eq!(text, &node_form.to_string(), "{kind}");
        let fact = domain::fact::Fact::decode(kind, &data).unwrap();
        assert_eq!(&fact.data().unwrap().to_string(), text, "{kind}");
    }
}

fn remote(kind: &str, data: Value) -> sync::log::Event {
    sync::log::Event {
        id: uuid::Uuid::now_v7(),
        store: "s".into(),
        origin: "other".into(),
        seq: 1,
        hlc: "0".into(),
        kind: kind.into(),
        subject: None,
        data,
    }
}

/// Another replica's view of an order is joined by `domain::fact::Order`: status and paid
/// never go back, given back and last change only rise, stations done are a union (the stored
/// ones keep their order); a fact that does not parse changes nothing.
#[tokio::test]
async fn a_remote_view_is_joined_never_lowering_the_order() {
    let (_dir, db) = open();
    let (id, _) = placed(&db).await;
    let at = id.clone();
    let mine = db
        .write(move |ctx| {
            transition(
                ctx,
                &at,
                Transition::Accept,
                "cashier",
                None,
                None,
                ms(2_000),
            )
        })
        .await
        .unwrap();
    // An older view of the order, but with a station done and a later change elsewhere.
    let mut theirs = mine.clone();
    theirs["status"] = json!("placed");
    theirs["stations_done"] = json!(["grill"]);
    theirs["updated_ms"] = json!(9_000);
    theirs["refunded"] = json!(0);
    let changed = remote(
        "order.changed",
        json!({ "station_done": "grill", "order": theirs }),
    );
    let unreadable = remote(
        "order.changed",
        json!({ "order": { "id": id, "status": 7 } }),
    );
    let not_a_node_view = remote(
        "order.created",
        json!({ "order": { "id": id, "status": "voided" } }),
    );
    db.write(move |ctx| -> Result<(), OrdersError> {
        project_remote(ctx, &unreadable)?;
        project_remote(ctx, &not_a_node_view)?;
        project_remote(ctx, &changed)
    })
    .await
    .unwrap();
    let order = get(&db, id.parse().unwrap()).await.unwrap();
    assert_eq!(order.status, OrderStatus::Accepted);
    assert_eq!(order.updated_ms, 9_000);
    assert_eq!(order.stations_done, [Ident::parse("grill").unwrap()]);
    assert_eq!(order.refunded, 0);
}
