//! Two hub replicas on one PostgreSQL database serve the same customers: a
//! node syncs with replica A while a customer orders and tracks on replica B.
//! The order placed on B reaches the node's session on A (B's transaction
//! `NOTIFY`s the store, A's listener wakes its session), and the node's status
//! change, received by A, reaches the tracking socket on B (A's transaction
//! `NOTIFY`s the status, B's listener republishes it).

mod common;

use common::{Backend, Peer, TestDb, TestHub, WAIT, demo_menu, eventually};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const STORE: &str = "s1";

async fn next_status(ws: &mut common::Ws) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a status message in time")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_orders_and_status() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = TestHub::start(&db).await;
    let b = TestHub::start(&db).await;
    a.create_store(STORE).await;
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let (s, body) = a
        .call("PUT", &format!("/api/v1/stores/{STORE}/menu"), Some(&menu))
        .await;
    assert_eq!(s, 200, "{body}");
    let token = a.create_token(STORE, "node-1").await;

    // The node syncs with replica A; replica B learns it is there from the database.
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&a.ws_url(), &token).await.unwrap();
    eventually("replica B to see the store taking orders", async || {
        let (_, s) = b
            .call_as(None, "GET", &format!("/api/v1/public/stores/{STORE}"), None)
            .await;
        s["ordering"]["accepting"] == true
    })
    .await;

    // A customer signs up on A and orders on B (the signing keys are shared).
    let (s, session) = a
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": "cy@example.com", "password": "plum-kettle-73-orbit", "name": "Cy" })),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    let customer = session["access_token"].as_str().unwrap().to_owned();
    let cart = json!({ "lines": [{ "item_id": "shoestring-fries", "quantity": 1 }] });
    let (s, order, _) = b
        .request(
            Some(&customer),
            "POST",
            &format!("/api/v1/stores/{STORE}/orders"),
            Some(&cart),
            &[("idempotency-key", "cy-1")],
        )
        .await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();

    // Placed on B, it reaches the node's session on A.
    node.pump_until("the order placed on replica B at the node", |p| {
        p.log.events().any(|e| e.origin == "hub")
    })
    .await;
    let view = node.log.events().find(|e| e.origin == "hub").unwrap().data["order"].clone();
    assert_eq!(view["ticket"], "W-0001");

    // The customer tracks on B; the node's "ready", received by A, reaches B's socket.
    let url = format!(
        "ws://{}/api/v1/me/orders/{id}/events?access_token={customer}",
        b.running.addr
    );
    let mut tracker = tokio_tungstenite::connect_async(url).await.unwrap().0;
    assert_eq!(next_status(&mut tracker).await["status"], "placed");
    let mut ready = view.clone();
    ready["status"] = json!("ready");
    node.log.record(
        STORE,
        "node-a",
        "order.changed",
        Some(&id),
        json!({ "transition": "ready", "order": ready }),
    );
    node.flush().await;
    let got = next_status(&mut tracker).await;
    assert_eq!(got["status"], "ready", "{got}");

    // A second web order on A: tickets and the hub's sequence stay dense across replicas.
    let (s, second, _) = a
        .request(
            Some(&customer),
            "POST",
            &format!("/api/v1/stores/{STORE}/orders"),
            Some(&cart),
            &[("idempotency-key", "cy-2")],
        )
        .await;
    assert_eq!((s, second["ticket"].as_str()), (201, Some("W-0002")));
    node.pump_until("both web orders at the node, in order", |p| {
        let seqs: Vec<u64> = p
            .log
            .events()
            .filter(|e| e.origin == "hub")
            .map(|e| e.seq)
            .collect();
        seqs == [1, 2]
    })
    .await;

    // Concurrent orders on both replicas: every one gets its own ticket and the next seq.
    let mut tasks = vec![];
    for i in 0..8 {
        let (base, http) = if i % 2 == 0 {
            (a.base.clone(), a.http.clone())
        } else {
            (b.base.clone(), b.http.clone())
        };
        let (customer, cart) = (customer.clone(), cart.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/stores/{STORE}/orders"))
                .bearer_auth(customer)
                .header("idempotency-key", format!("burst-{i}"))
                .json(&cart)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            r.json::<Value>().await.unwrap()["ticket"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    let mut tickets = vec![];
    for t in tasks {
        tickets.push(t.await.unwrap());
    }
    tickets.sort();
    tickets.dedup();
    assert_eq!(tickets.len(), 8, "{tickets:?}");
    node.pump_until("every web order at the node", |p| {
        p.log
            .events()
            .filter(|e| e.origin == "hub")
            .map(|e| e.seq)
            .collect::<Vec<_>>()
            == (1..=10).collect::<Vec<u64>>()
    })
    .await;

    node.disconnect().await;
    drop(tracker);
    b.stop().await;
    a.stop().await;
}

/// Reads a merchant event stream until a `store_changed` names the node.
async fn next_node_change(ws: &mut common::Ws) -> Value {
    loop {
        let m = next_status(ws).await;
        if m["type"] == "store_changed"
            && m["store_id"] == STORE
            && m["what"].as_array().unwrap().iter().any(|w| w == "node")
        {
            return m;
        }
    }
}

/// A merchant watching on replica B sees the store's node come and go at replica A
/// (A announces the link with `NOTIFY`; nothing is appended to the store's log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_coming_and_going_at_one_replica_shows_on_anothers_merchant_stream() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = TestHub::start(&db).await;
    let b = TestHub::start(&db).await;
    a.create_store(STORE).await;
    let token = a.create_token(STORE, "node-1").await;
    let url = format!(
        "ws://{}/api/v1/orgs/default/events?access_token={}",
        b.running.addr,
        common::ADMIN
    );
    let mut events = tokio_tungstenite::connect_async(url).await.unwrap().0;

    let mut node = Peer::new(STORE, "node-a");
    node.connect(&a.ws_url(), &token).await.unwrap();
    next_node_change(&mut events).await;
    let (_, o) = b.call("GET", "/api/v1/orgs/default/overview", None).await;
    assert_eq!(o["stores"][0]["node"]["online"], true, "{o}");

    node.disconnect().await;
    next_node_change(&mut events).await;
    eventually("replica B to show the node away", async || {
        let (_, o) = b.call("GET", "/api/v1/orgs/default/overview", None).await;
        o["stores"][0]["node"]["online"] == false
    })
    .await;
}

/// A node token revoked at replica B closes the node's link held by replica A at once
/// (B announces the revocation with `NOTIFY`), not only at A's next reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_revoked_at_one_replica_cuts_the_link_held_by_another() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = TestHub::start(&db).await;
    let b = TestHub::start(&db).await;
    a.create_store(STORE).await;
    let token = a.create_token(STORE, "node-1").await;
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&a.ws_url(), &token).await.unwrap();
    node.pump_until("the hub's hello", |p| p.session.acked().is_some())
        .await;

    let (st, r) = b
        .call(
            "POST",
            &format!("/api/v1/admin/stores/{STORE}/node-tokens/revoke"),
            Some(&serde_json::json!({ "token": token })),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["closed_connections"], 0, "B held no link of it: {r}");
    let (close, reason) = node.wait_closed().await.unwrap();
    assert_eq!(close, 4401, "{reason}");
    b.stop().await;
    a.stop().await;
}
