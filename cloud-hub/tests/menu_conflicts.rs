//! The menu's conflicts at the hub: the merchant and a store node change the
//! same price (and a station) while the node is away; once it syncs again the hub lists both
//! values with where each was written, refuses a choice that is not one of
//! them, and a choice made at the hub ends the conflict at the hub and, by
//! sync, at the node, which keeps the chosen price.

mod common;

use common::{Backend, Peer, TestDb, TestHub, WAIT, both, code, demo_menu};
use serde_json::{Value, json};
use sync::catalog::read_menu;
use sync::conflicts::catalog_conflicts;
use sync::doc::DocKind;
use tokio::time::Instant;

const CONFLICTS: &str = "/api/v1/stores/s1/menu/conflicts";
const RESOLVE: &str = "/api/v1/stores/s1/menu/conflicts/resolve";

fn price_of(menu: &Value, item: &str) -> Option<i64> {
    menu["items"].as_array()?.iter().find(|i| i["id"] == item)?["price"].as_i64()
}

async fn a_price_changed_at_both_ends_is_listed_and_settled_by_a_choice(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    hub.create_store("s1").await;
    hub.create_store("s2").await;
    let token = hub.create_token("s1", "till 1").await;

    // Before a store has a menu there is nothing to list.
    let (s, b) = hub
        .call("GET", "/api/v1/stores/s2/menu/conflicts", None)
        .await;
    assert_eq!((s, code(&b)), (404, "no_menu"), "{b}");

    // The node holds the hub's menu.
    let mut peer = Peer::new("s1", "node-0190c0ffee0000000000000000000001");
    peer.connect(&hub.ws_url(), &token).await.unwrap();
    peer.pump_until("the hub's hello", |p| p.session.acked().is_some())
        .await;
    let menu = demo_menu();
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/menu",
            Some(&serde_json::to_value(&menu).unwrap()),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    peer.pump_until("the menu reaches the node", |p| {
        p.docs
            .get(&DocKind::Catalog)
            .and_then(|d| read_menu(d).ok())
            .as_ref()
            == Some(&menu)
    })
    .await;
    let (s, b) = hub.call("GET", CONFLICTS, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({ "currency": "USD", "conflicts": [] }));

    // Apart: the merchant sets the fries to 5.25 at the hub, the store's manager to 4.75.
    peer.disconnect().await;
    let mut at_hub = menu.clone();
    at_hub
        .items
        .iter_mut()
        .find(|i| i.id.as_str() == "shoestring-fries")
        .unwrap()
        .price = 525;
    // And the soda's station: the pizza oven at the hub, the grill at the store.
    at_hub
        .items
        .iter_mut()
        .find(|i| i.id.as_str() == "fountain-soda")
        .unwrap()
        .station = domain::Ident::parse("pizza").unwrap();
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/menu",
            Some(&serde_json::to_value(&at_hub).unwrap()),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        peer.catalog()
            .put_field("items", "shoestring-fries", "price", &json!(475))
            .unwrap()
    );
    assert!(
        peer.catalog()
            .put_field("items", "fountain-soda", "station", &json!("grill"))
            .unwrap()
    );

    // Together again: both values are listed once the node's edit has merged.
    peer.connect(&hub.ws_url(), &token).await.unwrap();
    let deadline = Instant::now() + WAIT;
    let listed = loop {
        let (s, b) = hub.call("GET", CONFLICTS, None).await;
        assert_eq!(s, 200, "{b}");
        if b["conflicts"].as_array().unwrap().len() == 2 {
            break b;
        }
        assert!(peer.step(deadline).await, "hub closed: {:?}", peer.closed);
    };
    let conflicts = listed["conflicts"].as_array().unwrap();
    let station = conflicts
        .iter()
        .find(|c| c["field"] == "station")
        .expect("the station's conflict");
    assert_eq!(station["item_name"], "Fountain Soda");
    let mut labels: Vec<(&Value, &Value, &Value)> = station["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (&v["value"], &v["label"], &v["from"]))
        .collect();
    labels.sort_by_key(|(v, ..)| v.as_str());
    assert_eq!(
        labels,
        vec![
            (&json!("grill"), &json!("Grill"), &json!(["store"])),
            (&json!("pizza"), &json!("Pizza Oven"), &json!(["hub"])),
        ],
        "ids come with the names people know"
    );
    let c = conflicts
        .iter()
        .find(|c| c["field"] == "price")
        .expect("the price's conflict");
    assert_eq!(
        (&c["item_id"], &c["item_name"], &c["field"]),
        (
            &json!("shoestring-fries"),
            &json!("Shoestring Fries"),
            &json!("price")
        )
    );
    let mut values: Vec<(i64, Value)> = c["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["value"].as_i64().unwrap(), v["from"].clone()))
        .collect();
    values.sort_by_key(|(p, _)| *p);
    assert_eq!(
        values,
        vec![(475, json!(["store"])), (525, json!(["hub"]))],
        "{listed}"
    );
    assert_eq!(
        c["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["shown"] == true)
            .count(),
        1
    );
    // The menu view reports it too.
    let (_, b) = hub.call("GET", "/api/v1/stores/s1/menu", None).await;
    let paths: Vec<&Value> = b["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["path"])
        .collect();
    assert!(
        paths.contains(&&json!("items/shoestring-fries/price")),
        "{b}"
    );

    // Choices the hub refuses, each a 4xx with a JSON error.
    for (body, status, want) in [
        (
            json!({ "item_id": "shoestring-fries", "field": "price", "value": 500 }),
            422,
            "not_a_conflicting_value",
        ),
        (
            json!({ "item_id": "shoestring-fries", "field": "price", "value": "4.75" }),
            422,
            "not_a_conflicting_value",
        ),
        (
            json!({ "item_id": "shoestring-fries", "field": "name", "value": "Fries" }),
            404,
            "unknown_conflict",
        ),
        (
            json!({ "item_id": "no-such-item", "field": "price", "value": 475 }),
            404,
            "unknown_item",
        ),
    ] {
        let (s, b) = hub.call("POST", RESOLVE, Some(&body)).await;
        assert_eq!((s, code(&b)), (status, want), "{body} -> {b}");
    }
    let (s, b) = hub
        .call(
            "POST",
            RESOLVE,
            Some(&json!({ "item_id": "shoestring-fries" })),
        )
        .await;
    assert!((400..500).contains(&s), "{s} {b}");
    assert!(b["error"]["code"].is_string(), "{b}");
    let (s, b) = hub
        .call(
            "POST",
            "/api/v1/stores/s2/menu/conflicts/resolve",
            Some(&json!({ "item_id": "shoestring-fries", "field": "price", "value": 475 })),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "no_menu"), "{b}");

    // The merchant keeps the store's 4.75; a retry with the same key gets the same answer.
    let choice = json!({ "item_id": "shoestring-fries", "field": "price", "value": 475 });
    let key = [("idempotency-key", "keep-store-price-1")];
    let (s, first, _) = hub
        .request(Some(common::ADMIN), "POST", RESOLVE, Some(&choice), &key)
        .await;
    assert_eq!(s, 200, "{first}");
    let left: Vec<&Value> = first["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["field"])
        .collect();
    assert_eq!(left, [&json!("station")], "{first}");
    let (s, again, headers) = hub
        .request(Some(common::ADMIN), "POST", RESOLVE, Some(&choice), &key)
        .await;
    assert_eq!((s, &again), (200, &first));
    assert_eq!(headers["idempotent-replayed"], "true");
    // Without the key, the conflict is gone: nothing left to settle.
    let (s, b) = hub.call("POST", RESOLVE, Some(&choice)).await;
    assert_eq!((s, code(&b)), (404, "unknown_conflict"), "{b}");

    // The soda goes to the grill, as the store had it.
    let (s, b) = hub
        .call(
            "POST",
            RESOLVE,
            Some(&json!({ "item_id": "fountain-soda", "field": "station", "value": "grill" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({ "currency": "USD", "conflicts": [] }));

    let (s, b) = hub.call("GET", "/api/v1/stores/s1/menu", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(price_of(&b["menu"], "shoestring-fries"), Some(475));
    assert_eq!(b["conflicts"], json!([]));

    // The choice syncs to the node: no conflict there either, and the chosen price.
    peer.pump_until("the choice reaches the node", |p| {
        let doc = p.docs.get(&DocKind::Catalog).unwrap();
        catalog_conflicts(doc).unwrap().is_empty()
            && read_menu(doc)
                .unwrap()
                .items
                .iter()
                .any(|i| i.id.as_str() == "shoestring-fries" && i.price == 475)
            && read_menu(doc)
                .unwrap()
                .items
                .iter()
                .any(|i| i.id.as_str() == "fountain-soda" && i.station.as_str() == "grill")
    })
    .await;

    peer.disconnect().await;
    hub.stop().await;
}
both!(a_price_changed_at_both_ends_is_listed_and_settled_by_a_choice);
