//! Online ordering across processes: a real `cloud-hub` and a real
//! `store-node` (the demo store, syncing with the hub). A customer signs up at
//! the hub and orders online; the order reaches the node and shows on its
//! event stream (as the kitchen screen sees it) with channel `online` and a
//! `W-` ticket; the kitchen accepts, starts and readies it through the node's
//! API; the customer's tracking WebSocket at the hub receives `ready`. Runs
//! against the hub's SQLite default and against PostgreSQL.

mod common;

use common::{Api, hub_command, node_command, spawn, until};

use serde_json::json;

const STORE: &str = "store-1";

async fn scenario(database_url: String) {
    let api = Api {
        http: reqwest::Client::new(),
    };
    let hub = spawn(hub_command(&database_url));
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let token = common::enroll_store(&api, &hub.base, STORE, "Harbor Street Kitchen").await;

    // The demo node syncs its menu up to the hub.
    let dir = test_support::temp_dir();
    let node = spawn(node_command(dir.path(), STORE, &hub.base, &token));

    common::until_accepting_online_orders(&api, &hub.base, STORE).await;

    // The kitchen screen: signed in at the node, subscribed to its event stream.
    let (s, login) = api
        .call(
            post.clone(),
            &format!("{}/api/v1/auth/login", node.base),
            None,
            Some(json!({"staff_id": "kitchen", "pin": "4000"})),
            None,
        )
        .await;
    assert_eq!(s, 200, "{login}");
    let kitchen = login["token"].as_str().unwrap().to_owned();
    let node_ws = node.base.replacen("http://", "ws://", 1);
    let (mut kds, _) =
        tokio_tungstenite::connect_async(format!("{node_ws}/api/v1/events?token={kitchen}"))
            .await
            .unwrap();

    // A customer signs up at the hub and orders a pickup.
    let customer = common::sign_up(&api, &hub.base, "robin@example.com", "Robin").await;
    let (s, order) = api
        .call(
            post.clone(),
            &format!("{}/api/v1/stores/{STORE}/orders", hub.base),
            Some(&customer),
            Some(json!({"lines": [
                {"item_id": "shoestring-fries", "quantity": 2},
                {"item_id": "house-garden-salad", "quantity": 1, "modifiers": ["salad-dressing-ranch"]}
            ], "note": "no onions"})),
            Some("robin-order-1"),
        )
        .await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    assert!(
        order["ticket"].as_str().unwrap().starts_with("W-"),
        "{order}"
    );

    // The customer tracks it at the hub.
    let (mut tracker, first) = common::track_order(&hub.base, &id, &customer).await;
    assert_eq!(first["status"], "placed");

    // The order shows on the node's event stream as an online order with a web ticket.
    let created = until(&mut kds, "the web order on the node's stream", |e| {
        e["type"] == "order.created" && e["data"]["order"]["id"] == id.as_str()
    })
    .await;
    let shown = &created["data"]["order"];
    assert_eq!(shown["channel"], "online");
    assert_eq!(shown["fulfillment"], "pickup");
    assert_eq!(shown["ticket"], order["ticket"]);
    assert_eq!(shown["note"], "no onions");
    let (s, at_node) = api
        .call(
            get.clone(),
            &format!("{}/api/v1/orders/{id}", node.base),
            Some(&kitchen),
            None,
            None,
        )
        .await;
    assert_eq!(
        (s, at_node["status"].as_str()),
        (200, Some("placed")),
        "{at_node}"
    );

    // The kitchen accepts, starts and readies it at the node.
    for (step, want) in [
        ("accept", "accepted"),
        ("start", "in_preparation"),
        ("ready", "ready"),
    ] {
        let (s, b) = api
            .call(
                post.clone(),
                &format!("{}/api/v1/orders/{id}/{step}", node.base),
                Some(&kitchen),
                None,
                Some(&format!("{id}-{step}")),
            )
            .await;
        assert_eq!((s, b["status"].as_str()), (200, Some(want)), "{step}: {b}");
    }

    // The customer's socket hears "ready" (accepted and in preparation may come first).
    until(&mut tracker, "ready on the customer's socket", |m| {
        m["status"] == "ready"
    })
    .await;
    let (s, mine) = api
        .call(
            get.clone(),
            &format!("{}/api/v1/me/orders/{id}", hub.base),
            Some(&customer),
            None,
            None,
        )
        .await;
    assert_eq!((s, mine["status"].as_str()), (200, Some("ready")), "{mine}");
    drop(kds);
    drop(tracker);
    drop(node);
    drop(hub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_order_reaches_the_kitchen_and_ready_reaches_the_customer_on_sqlite() {
    let dir = test_support::temp_dir();
    scenario(common::sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_order_reaches_the_kitchen_and_ready_reaches_the_customer_on_postgres() {
    let db = common::PgDatabase::create();
    scenario(db.url.clone()).await;
}
