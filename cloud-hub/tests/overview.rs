//! The merchant's overview and live event stream, and kitchen-aware online
//! ordering, over real HTTP and WebSockets on SQLite and PostgreSQL: a test node
//! (`Peer`, the real sync protocol) reports a printer out of paper, a manager's
//! socket hears of it within the deadline and the overview then says so; web
//! orders show in today's sales; the node's kitchen backlog makes the hub quote
//! later pickups and, past the store's threshold, pause online ordering
//! (`kitchen_busy`) until the kitchen catches up.

mod common;

use common::{Backend, Peer, TestDb, TestHub, WAIT, Ws, both, code, demo_menu, eventually, s};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "plum-kettle-73-orbit";
const STORE: &str = "s1";

/// An organisation with store s1 (demo menu, Berlin time) and its node token;
/// returns (org id, node token).
async fn org_store(hub: &TestHub, settings: Value) -> (String, String) {
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/orgs",
            Some(&json!({ "name": "Harbor Group", "owner_email": "owner@harbor.example" })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let org = s(&b, "id");
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": STORE, "name": "Harbor Street", "org_id": org })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let (st, b) = hub
        .call("PUT", &format!("/api/v1/stores/{STORE}/menu"), Some(&menu))
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = hub
        .call(
            "PUT",
            &format!("/api/v1/stores/{STORE}/settings"),
            Some(&settings),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    (org, hub.create_token(STORE, "till").await)
}

/// A staff account of `org` with `role` (organisation-wide); returns its access token.
async fn staff(hub: &TestHub, org: &str, role: &str, email: &str) -> String {
    let (st, b) = hub
        .call(
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": s(&b, "token"), "name": "Staff", "password": PASSWORD })),
        )
        .await;
    assert!((200..300).contains(&st), "{st} {b}");
    s(&b, "access_token")
}

async fn customer(hub: &TestHub, email: &str) -> String {
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": email, "password": PASSWORD, "name": "Robin" })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    s(&b, "access_token")
}

async fn place(hub: &TestHub, token: &str, key: &str) -> (u16, Value) {
    let cart = json!({ "lines": [{ "item_id": "shoestring-fries", "quantity": 2 }] });
    let (st, b, _) = hub
        .request(
            Some(token),
            "POST",
            &format!("/api/v1/stores/{STORE}/orders"),
            Some(&cart),
            &[("idempotency-key", key)],
        )
        .await;
    (st, b)
}

async fn overview(hub: &TestHub, token: &str, org: &str) -> Value {
    let (st, b) = hub
        .call_as(
            Some(token),
            "GET",
            &format!("/api/v1/orgs/{org}/overview"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    b
}

async fn events_socket(hub: &TestHub, token: &str, org: &str) -> Ws {
    let url = format!(
        "ws://{}/api/v1/orgs/{org}/events?access_token={token}",
        hub.running.addr
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads the socket until a `store_changed` for s1 names `what`; fails at the deadline.
async fn wait_change(ws: &mut Ws, what: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no store_changed naming {what} in time"))
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "store_changed"
                && v["store_id"] == STORE
                && v["what"].as_array().unwrap().iter().any(|w| w == what)
            {
                return v;
            }
        }
    }
}

/// Records a fact at the peer, sends it and waits until the hub holds it.
async fn report(node: &mut Peer, kind: &str, subject: Option<&str>, data: Value) {
    let (store, origin) = (node.store.clone(), node.origin.clone());
    let e = node.log.record(&store, &origin, kind, subject, data);
    node.flush().await;
    node.wait_acked(e.seq).await;
}

async fn overview_follows_the_store_live(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, node_token) = org_store(&hub, json!({ "timezone": "Europe/Berlin" })).await;
    let manager = staff(&hub, &org, "manager", "manager@harbor.example").await;
    let cashier = staff(&hub, &org, "cashier", "cashier@harbor.example").await;

    // Before the node ever connects: listed, not online, never seen, nothing sold.
    let b = overview(&hub, &manager, &org).await;
    let store = &b["stores"][0];
    assert_eq!(store["store_id"], STORE, "{b}");
    assert_eq!(store["name"], "Harbor Street");
    assert_eq!(store["timezone"], "Europe/Berlin");
    assert_eq!(store["node"]["online"], false);
    assert_eq!(store["ordering"]["reason"], "store_offline");
    assert_eq!(store["today"]["orders"], 0);
    assert!(store["kitchen"].is_null());

    // Cashiers and customers do not see the overview or its stream.
    let (st, b) = hub
        .call_as(
            Some(&cashier),
            "GET",
            &format!("/api/v1/orgs/{org}/overview"),
            None,
        )
        .await;
    assert_eq!((st, code(&b)), (403, "forbidden"), "{b}");
    let alice = customer(&hub, "alice@example.com").await;
    let (st, _) = hub
        .call_as(
            Some(&alice),
            "GET",
            &format!("/api/v1/orgs/{org}/overview"),
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, b) = hub
        .call_as(
            Some(&manager),
            "GET",
            &format!("/api/v1/orgs/{org}/events"),
            None,
        )
        .await;
    assert_eq!((st, code(&b)), (400, "websocket_required"), "{b}");

    let mut events = events_socket(&hub, &manager, &org).await;
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    wait_change(&mut events, "node").await;

    // The kitchen printer runs out of paper at the store.
    report(
        &mut node,
        domain::fact::kind::DEVICE_HEALTH,
        Some("kitchen-printer"),
        json!({ "id": "kitchen-printer", "kind": "printer", "name": "Kitchen printer",
                "health": { "state": "attention", "mqtt_connected": false,
                            "printer": { "paper_out": true, "paper_near_end": true, "cover_open": false, "error": false },
                            "last_error": "out of paper" } }),
    )
    .await;
    wait_change(&mut events, "devices").await;
    let b = overview(&hub, &manager, &org).await;
    let store = &b["stores"][0];
    assert_eq!(store["node"]["online"], true, "{b}");
    assert!(store["node"]["away_since_ms"].is_null());
    assert_eq!(store["ordering"]["accepting"], true, "{b}");
    let attention = &store["attention"][0];
    assert_eq!(
        (
            attention["device_id"].as_str(),
            attention["kind"].as_str(),
            attention["name"].as_str(),
            attention["problem"].as_str()
        ),
        (
            Some("kitchen-printer"),
            Some("printer"),
            Some("Kitchen printer"),
            Some("paper_out")
        ),
        "{b}"
    );
    assert!(attention["since_ms"].as_i64().unwrap() > 0);

    // A web order: the stream says so, and today's sales count it.
    let (st, order) = place(&hub, &alice, "k1").await;
    assert_eq!(st, 201, "{order}");
    wait_change(&mut events, "orders").await;
    let total = order["totals"]["total"].as_i64().unwrap();
    let b = overview(&hub, &manager, &org).await;
    let today = &b["stores"][0]["today"];
    assert_eq!(today["orders"], 1, "{b}");
    assert_eq!(today["sales"].as_i64(), Some(total));
    assert_eq!(today["average_ticket"].as_i64(), Some(total));
    assert!(b["stores"][0]["node"]["events_waiting"].as_u64().is_some());

    // Paper back in: the attention list empties.
    report(
        &mut node,
        domain::fact::kind::DEVICE_HEALTH,
        Some("kitchen-printer"),
        json!({ "id": "kitchen-printer", "kind": "printer", "name": "Kitchen printer",
                "health": { "state": "online", "printer": { "paper_out": false } } }),
    )
    .await;
    wait_change(&mut events, "devices").await;
    let b = overview(&hub, &manager, &org).await;
    assert_eq!(b["stores"][0]["attention"], json!([]), "{b}");

    // The node goes away: the stream hears it and the overview says since when.
    node.disconnect().await;
    wait_change(&mut events, "node").await;
    eventually("the node shown away", async || {
        let b = overview(&hub, &manager, &org).await;
        b["stores"][0]["node"]["online"] == false
            && b["stores"][0]["node"]["away_since_ms"].as_i64().is_some()
    })
    .await;
}
both!(overview_follows_the_store_live);

async fn pickup_times(hub: &TestHub) -> Value {
    let (st, b) = hub
        .call_as(
            None,
            "GET",
            &format!("/api/v1/public/stores/{STORE}/pickup-times"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    b
}

fn backlog(open_tickets: u32, oldest_age_secs: u32) -> Value {
    json!({
        "open_tickets": open_tickets, "oldest_age_secs": oldest_age_secs,
        "stations": [{ "station": "grill", "open_tickets": open_tickets, "oldest_age_secs": oldest_age_secs }],
        "at_ms": 1,
    })
}

async fn a_busy_kitchen_slows_then_pauses_online_ordering(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, node_token) = org_store(
        &hub,
        json!({ "pickup_lead_minutes": 10, "backlog_quote_per_ticket_minutes": 2,
                "backlog_slow_at": 2, "backlog_pause_at": 6 }),
    )
    .await;
    let manager = staff(&hub, &org, "manager", "manager@harbor.example").await;

    // Thresholds are checked, the field named.
    for (body, field) in [
        (json!({ "backlog_pause_at": 1001 }), "backlog_pause_at"),
        (
            json!({ "backlog_quote_per_ticket_minutes": 61 }),
            "backlog_quote_per_ticket_minutes",
        ),
        (json!({ "backlog_slow_at": 6 }), "backlog_pause_at"),
        (json!({ "backlog_slow_at": 1001 }), "backlog_slow_at"),
    ] {
        let (st, b) = hub
            .call_as(
                Some(&manager),
                "PUT",
                &format!("/api/v1/stores/{STORE}/settings"),
                Some(&body),
            )
            .await;
        assert_eq!(st, 422, "{body}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {b}"
        );
    }

    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    eventually("the store to take orders", async || {
        pickup_times(&hub).await["ordering"]["accepting"] == true
    })
    .await;
    assert_eq!(pickup_times(&hub).await["asap_minutes"], 10);

    // Four open tickets, two beyond the slow mark: two minutes each.
    report(
        &mut node,
        domain::fact::kind::KITCHEN_BACKLOG,
        None,
        backlog(4, 300),
    )
    .await;
    eventually("a later pickup quote", async || {
        pickup_times(&hub).await["asap_minutes"] == 14
    })
    .await;
    let times = pickup_times(&hub).await;
    assert_eq!(times["ordering"]["accepting"], true, "{times}");
    let first = times["slots"][0]["at_ms"].as_i64().unwrap();
    assert!(first >= chrono_now_ms() + 13 * 60_000, "{times}");
    let b = overview(&hub, &manager, &org).await;
    let kitchen = &b["stores"][0]["kitchen"];
    assert_eq!(
        (
            kitchen["open_tickets"].as_u64(),
            kitchen["extra_pickup_minutes"].as_u64(),
            kitchen["throttle"].as_str()
        ),
        (Some(4), Some(4), Some("slow")),
        "{b}"
    );
    assert_eq!(kitchen["stations"][0]["station"], "grill");

    // Seven: past the pause mark. Online ordering pauses and says why.
    report(
        &mut node,
        domain::fact::kind::KITCHEN_BACKLOG,
        None,
        backlog(7, 900),
    )
    .await;
    eventually("ordering paused for the kitchen", async || {
        pickup_times(&hub).await["ordering"]["reason"] == "kitchen_busy"
    })
    .await;
    let o = pickup_times(&hub).await["ordering"].clone();
    assert_eq!(o["accepting"], false);
    assert_eq!(
        o["message"],
        "The kitchen is very busy right now, so online ordering is paused for a few minutes."
    );
    let alice = customer(&hub, "alice@example.com").await;
    let (st, b) = place(&hub, &alice, "busy-1").await;
    assert_eq!((st, code(&b)), (409, "ordering_paused"), "{b}");
    assert_eq!(b["ordering"]["reason"], "kitchen_busy");
    let b = overview(&hub, &manager, &org).await;
    assert_eq!(b["stores"][0]["kitchen"]["throttle"], "paused", "{b}");
    assert_eq!(b["stores"][0]["ordering"]["reason"], "kitchen_busy");

    // The merchant turns pausing off (0: never): orders come in again, quoted later; then on again.
    for (pause, accepting) in [(0, true), (6, false)] {
        let (st, b) = hub
            .call_as(
                Some(&manager),
                "PUT",
                &format!("/api/v1/stores/{STORE}/settings"),
                Some(&json!({ "backlog_pause_at": pause })),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        eventually("ordering to follow the pause setting", async || {
            pickup_times(&hub).await["ordering"]["accepting"] == accepting
        })
        .await;
    }

    // The kitchen catches up: ordering resumes by itself, at the plain lead time.
    report(
        &mut node,
        domain::fact::kind::KITCHEN_BACKLOG,
        None,
        backlog(1, 60),
    )
    .await;
    eventually("ordering resumed", async || {
        pickup_times(&hub).await["ordering"]["accepting"] == true
    })
    .await;
    assert_eq!(pickup_times(&hub).await["asap_minutes"], 10);
    let (st, b) = place(&hub, &alice, "busy-2").await;
    assert_eq!(st, 201, "{b}");
}
both!(a_busy_kitchen_slows_then_pauses_online_ordering);

fn chrono_now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The node gone longer than the grace period stops online ordering with nobody
/// writing anything: the stream still says so when it happens.
async fn the_stream_tells_when_the_grace_period_runs_out(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start_with(&db, |c| c.node_grace_secs = 1).await;
    let (org, node_token) = org_store(&hub, json!({ "timezone": "Europe/Berlin" })).await;
    let manager = staff(&hub, &org, "manager", "manager@harbor.example").await;
    let mut events = events_socket(&hub, &manager, &org).await;
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    wait_change(&mut events, "node").await;
    let b = overview(&hub, &manager, &org).await;
    assert_eq!(b["stores"][0]["ordering"]["accepting"], true, "{b}");

    node.disconnect().await;
    let changed = wait_change(&mut events, "ordering").await;
    assert!(
        changed["what"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "node"),
        "{changed}"
    );
    let b = overview(&hub, &manager, &org).await;
    assert_eq!(b["stores"][0]["ordering"]["accepting"], false, "{b}");
    assert_eq!(b["stores"][0]["ordering"]["reason"], "store_offline", "{b}");
}
both!(the_stream_tells_when_the_grace_period_runs_out);

/// The merchant pauses online ordering for a while with a message: customers see
/// it and cannot order; it ends by itself (the stream says so then) or at once.
async fn a_pause_for_a_while_tells_customers_why_and_ends_by_itself(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, node_token) = org_store(&hub, json!({ "timezone": "Europe/Berlin" })).await;
    let manager = staff(&hub, &org, "manager", "manager@harbor.example").await;
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    eventually("the store to take orders", async || {
        pickup_times(&hub).await["ordering"]["accepting"] == true
    })
    .await;
    let put = async |body: Value| {
        hub.call_as(
            Some(&manager),
            "PUT",
            &format!("/api/v1/stores/{STORE}/settings"),
            Some(&body),
        )
        .await
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };

    // Refused: a time past, more than a week ahead, a message too long.
    for body in [
        json!({ "paused_until_ms": now() - 1000 }),
        json!({ "paused_until_ms": now() + 8 * 24 * 3_600_000 }),
        json!({ "paused_until_ms": now() + 60_000, "pause_message": "x".repeat(201) }),
    ] {
        let (st, b) = put(body.clone()).await;
        assert_eq!((st, code(&b)), (422, "invalid_settings"), "{body}: {b}");
    }

    // An hour's pause with a message: the customer is told, and cannot order.
    let (st, b) = put(json!({ "paused_until_ms": now() + 3_600_000,
                              "pause_message": "Our oven is being repaired." }))
    .await;
    assert_eq!(st, 200, "{b}");
    let o = pickup_times(&hub).await["ordering"].clone();
    assert_eq!(
        (o["accepting"].as_bool(), o["reason"].as_str()),
        (Some(false), Some("paused")),
        "{o}"
    );
    let message = o["message"].as_str().unwrap();
    assert!(
        message.starts_with("Our oven is being repaired. Online ordering starts again "),
        "{message}"
    );
    assert!(o["opens_at"].as_str().is_some(), "{o}");
    let alice = customer(&hub, "alice@example.com").await;
    let (st, b) = place(&hub, &alice, "paused-1").await;
    assert_eq!((st, code(&b)), (409, "ordering_paused"), "{b}");

    // Resumed at once (0).
    let (st, b) = put(json!({ "paused_until_ms": 0 })).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(pickup_times(&hub).await["ordering"]["accepting"], true);

    // A short pause ends by itself, and the merchant's stream hears it end.
    let mut events = events_socket(&hub, &manager, &org).await;
    let (st, b) = put(json!({ "paused_until_ms": now() + 3000, "pause_message": "" })).await;
    assert_eq!(st, 200, "{b}");
    let o = pickup_times(&hub).await["ordering"].clone();
    assert_eq!(o["reason"], "paused", "{o}");
    assert!(
        o["message"]
            .as_str()
            .unwrap()
            .starts_with("The store has paused online ordering."),
        "{o}"
    );
    wait_change(&mut events, "ordering").await;
    assert_eq!(pickup_times(&hub).await["ordering"]["accepting"], true);
    let (st, b) = place(&hub, &alice, "paused-2").await;
    assert_eq!(st, 201, "{b}");
}
both!(a_pause_for_a_while_tells_customers_why_and_ends_by_itself);
