//! A menu field changed at both ends of a cut link, settled by the merchant: a
//! real hub and a real store node as processes, the node reaching the hub
//! through a relay this test resets. While the link is down the node's manager
//! sets the fries to 4.75 and the merchant, at the hub, to 5.25. Once the link
//! is back the hub lists both prices (the hub's and the store's), both ends
//! show the same one of them, the merchant keeps the other, and the node's
//! menu sells the fries at the kept price with nothing left to choose at the
//! hub. Runs against the hub's SQLite default and against PostgreSQL.

mod common;

use common::{ADMIN, Api, eventually, hub_command, node_command, spawn};
use relay::{Link, Relay};
use reqwest::Method;
use serde_json::{Value, json};

const FRIES: &str = "shoestring-fries";

fn price(menu: &Value) -> Option<i64> {
    menu["items"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == FRIES)?["price"]
        .as_i64()
}

async fn scenario(database_url: String) {
    let api = Api {
        http: reqwest::Client::new(),
    };
    let hub = spawn(hub_command(&database_url));
    let token = common::enroll_store(&api, &hub.base, "store-1", "Quay Street Kitchen").await;
    let hub_addr = hub.base.trim_start_matches("http://").parse().unwrap();
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), hub_addr)
        .await
        .unwrap();
    let dir = test_support::temp_dir();
    let node = spawn(node_command(
        dir.path(),
        "store-1",
        &format!("http://{}", relay.addr()),
        &token,
    ));
    let manager = api.login(&node.base, "manager", "2000").await;
    let hub_menu = format!("{}/api/v1/stores/store-1/menu", hub.base);
    let conflicts = format!("{hub_menu}/conflicts");
    let node_status = format!("{}/api/v1/sync/status", node.base);
    eventually("the node's menu at the hub", async || {
        price(&api.get(&hub_menu, ADMIN).await["menu"]) == Some(450)
    })
    .await;

    // The link goes down.
    relay.set(Link::Reset);
    eventually("the node to notice the cut", async || {
        api.get(&node_status, &manager).await["connected"] == false
    })
    .await;
    // At the store: 4.75.
    let menu = api
        .get(&format!("{}/api/v1/menu", node.base), &manager)
        .await;
    let mut fries = menu["menu"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == FRIES)
        .unwrap()
        .clone();
    fries["price"] = json!(475);
    let (s, b) = api
        .call(
            Method::PUT,
            &format!("{}/api/v1/menu/items/{FRIES}", node.base),
            Some(&manager),
            Some(fries),
            Some(&uuid::Uuid::now_v7().to_string()),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // At the hub: 5.25.
    let mut menu = api.get(&hub_menu, ADMIN).await["menu"].clone();
    for item in menu["items"].as_array_mut().unwrap() {
        if item["id"] == FRIES {
            item["price"] = json!(525);
        }
    }
    let (s, b) = api
        .call(Method::PUT, &hub_menu, Some(ADMIN), Some(menu), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(api.get(&conflicts, ADMIN).await["conflicts"], json!([]));

    // The link is back: both prices are listed, with where each was set.
    relay.set(Link::Open);
    let mut listed = Value::Null;
    eventually("the hub to list the conflict", async || {
        listed = api.get(&conflicts, ADMIN).await;
        listed["conflicts"].as_array().is_some_and(|c| c.len() == 1)
    })
    .await;
    let c = &listed["conflicts"][0];
    assert_eq!(
        (&c["item_id"], &c["field"]),
        (&json!(FRIES), &json!("price"))
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
    let shown = c["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["shown"] == true)
        .unwrap()["value"]
        .as_i64()
        .unwrap();
    eventually("the node to show the same price as the hub", async || {
        price(
            &api.get(&format!("{}/api/v1/menu", node.base), &manager)
                .await["menu"],
        ) == Some(shown)
    })
    .await;

    // The merchant keeps the price nobody sees now.
    let kept = if shown == 475 { 525 } else { 475 };
    let (s, b) = api
        .call(
            Method::POST,
            &format!("{conflicts}/resolve"),
            Some(ADMIN),
            Some(json!({ "item_id": FRIES, "field": "price", "value": kept })),
            Some(&uuid::Uuid::now_v7().to_string()),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["conflicts"], json!([]));
    eventually("the node's menu to have the kept price", async || {
        price(
            &api.get(&format!("{}/api/v1/menu", node.base), &manager)
                .await["menu"],
        ) == Some(kept)
    })
    .await;
    assert_eq!(price(&api.get(&hub_menu, ADMIN).await["menu"]), Some(kept));
    assert_eq!(api.get(&conflicts, ADMIN).await["conflicts"], json!([]));
    drop(node);
    drop(hub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_changed_at_both_ends_of_a_cut_is_settled_by_the_merchant_on_sqlite() {
    let dir = test_support::temp_dir();
    scenario(common::sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_changed_at_both_ends_of_a_cut_is_settled_by_the_merchant_on_postgres() {
    let db = common::PgDatabase::create();
    scenario(db.url.clone()).await;
}
