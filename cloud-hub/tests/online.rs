//! Online ordering over real HTTP and WebSockets, on SQLite and PostgreSQL: a
//! customer browses a store, prices a cart, places a pickup order (idempotent),
//! sees only their own orders, and tracks one live; the order reaches a node
//! (a test peer syncing over the real socket) as a hub-origin event, and the
//! node's status change reaches the customer's tracking socket. A store whose
//! node is away longer than the grace period pauses ordering and resumes when
//! the node is back; closed hours and the merchant's switch pause it too.

mod common;

use common::{ADMIN, Backend, Peer, TestDb, TestHub, both, code, demo_menu, eventually};
use serde_json::{Value, json};

const PASSWORD: &str = "plum-kettle-73-orbit";
const STORE: &str = "s1";

/// A store with the demo menu (garlic knots sold out) and a node token.
async fn store_with_menu(hub: &TestHub) -> String {
    hub.create_store(STORE).await;
    let mut menu = serde_json::to_value(demo_menu()).unwrap();
    for item in menu["items"].as_array_mut().unwrap() {
        if item["id"] == "garlic-knots" {
            item["sold_out"] = json!(true);
        }
    }
    let (s, b) = hub
        .call("PUT", &format!("/api/v1/stores/{STORE}/menu"), Some(&menu))
        .await;
    assert_eq!(s, 200, "{b}");
    hub.create_token(STORE, "node-1").await
}

/// Signs a customer up; returns the access token.
async fn customer(hub: &TestHub, email: &str) -> String {
    let (s, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": email, "password": PASSWORD, "name": "Robin" })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["access_token"].as_str().unwrap().to_owned()
}

async fn ordering(hub: &TestHub) -> Value {
    let (s, b) = hub
        .call_as(None, "GET", &format!("/api/v1/public/stores/{STORE}"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["ordering"].clone()
}

fn cart() -> Value {
    json!({ "lines": [
        { "item_id": "shoestring-fries", "quantity": 2 },
        { "item_id": "house-garden-salad", "quantity": 1, "modifiers": ["salad-dressing-ranch"] },
    ], "note": "extra napkins" })
}

async fn place(hub: &TestHub, token: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let (s, b, _) = hub
        .request(
            Some(token),
            "POST",
            &format!("/api/v1/stores/{STORE}/orders"),
            Some(body),
            &headers,
        )
        .await;
    (s, b)
}

use common::{next_status, track};

async fn customers_browse_price_order_and_track(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start_with(&db, |c| c.node_grace_secs = 2).await;
    let node_token = store_with_menu(&hub).await;
    let (s, b) = hub
        .call(
            "PUT",
            &format!("/api/v1/stores/{STORE}/settings"),
            Some(&json!({ "name": "Harbor Street Kitchen", "address": "1 Harbor St", "timezone": "Europe/Berlin", "pickup_lead_minutes": 15 })),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // No node has ever connected: the store is offline, and says so.
    let o = ordering(&hub).await;
    assert_eq!(
        (o["accepting"].as_bool(), o["reason"].as_str()),
        (Some(false), Some("store_offline")),
        "{o}"
    );
    let alice = customer(&hub, "alice@example.com").await;
    let (s, b) = place(&hub, &alice, Some("k0"), &cart()).await;
    assert_eq!((s, code(&b)), (409, "ordering_paused"), "{b}");
    assert_eq!(b["ordering"]["reason"], "store_offline");

    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    eventually("the store to take orders", async || {
        ordering(&hub).await["accepting"] == true
    })
    .await;

    // Browse: profile and menu, sold-out items marked.
    let (s, store) = hub
        .call_as(None, "GET", &format!("/api/v1/public/stores/{STORE}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(store["name"], "Harbor Street Kitchen");
    assert_eq!(store["address"], "1 Harbor St");
    assert_eq!(store["timezone"], "Europe/Berlin");
    assert_eq!(store["pickup_lead_minutes"], 15);
    assert!(store["ordering"]["reason"].is_null());
    let (s, menu) = hub
        .call_as(
            None,
            "GET",
            &format!("/api/v1/public/stores/{STORE}/menu"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{menu}");
    let knots = menu["menu"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "garlic-knots")
        .unwrap();
    assert_eq!(knots["sold_out"], true);
    assert_eq!(menu["ordering"]["accepting"], true);
    let (s, _) = hub
        .call_as(None, "GET", "/api/v1/public/stores/nope/menu", None)
        .await;
    assert_eq!(s, 404);

    // Price a cart without signing in: the domain's rules and error codes.
    let (s, priced) = hub
        .call_as(
            None,
            "POST",
            &format!("/api/v1/public/stores/{STORE}/cart"),
            Some(&cart()),
        )
        .await;
    assert_eq!(s, 200, "{priced}");
    assert_eq!(priced["order"]["totals"]["subtotal"], 2 * 450 + 950);
    assert_eq!(priced["order"]["channel"], "online");
    assert_eq!(priced["order"]["fulfillment"], "pickup");
    for (body, want) in [
        (
            json!({ "lines": [{ "item_id": "garlic-knots", "quantity": 1 }] }),
            "sold_out",
        ),
        (
            json!({ "lines": [{ "item_id": "no-such-thing", "quantity": 1 }] }),
            "unknown_item",
        ),
        (
            json!({ "lines": [{ "item_id": "house-garden-salad", "quantity": 1 }] }),
            "invalid_modifiers",
        ),
        (json!({ "lines": [] }), "empty_order"),
        (
            json!({ "lines": [{ "item_id": "shoestring-fries", "quantity": 0 }] }),
            "invalid_quantity",
        ),
    ] {
        let (s, b) = hub
            .call_as(
                None,
                "POST",
                &format!("/api/v1/public/stores/{STORE}/cart"),
                Some(&body),
            )
            .await;
        assert_eq!((s, code(&b)), (422, want), "{body} -> {b}");
    }

    // Place: the key is required; a retry is the same order; the key with another body is refused.
    let (s, b) = place(&hub, &alice, None, &cart()).await;
    assert_eq!((s, code(&b)), (400, "idempotency_key_required"));
    let (s, order) = place(&hub, &alice, Some("order-1"), &cart()).await;
    assert_eq!(s, 201, "{order}");
    assert_eq!(order["ticket"], "W-0001");
    assert_eq!(order["status"], "placed");
    assert_eq!(order["channel"], "online");
    assert_eq!(order["payment"], json!({ "method": "pay_at_pickup" }));
    assert_eq!(
        order["customer_name"], "Robin",
        "the account's name by default"
    );
    assert_eq!(order["totals"], priced["order"]["totals"]);
    let id = order["id"].as_str().unwrap().to_owned();
    let (s, again) = place(&hub, &alice, Some("order-1"), &cart()).await;
    assert_eq!((s, again["id"].as_str()), (201, Some(id.as_str())));
    let mut other = cart();
    other["note"] = json!("no napkins");
    let (s, b) = place(&hub, &alice, Some("order-1"), &other).await;
    assert_eq!((s, code(&b)), (422, "idempotency_key_reused"));

    // The order reaches the node as a hub-origin event carrying the node's order view.
    node.pump_until("the web order at the node", |p| {
        p.log.events().any(|e| e.origin == "hub")
    })
    .await;
    let created = node
        .log
        .events()
        .find(|e| e.origin == "hub")
        .unwrap()
        .clone();
    assert_eq!(
        (
            created.kind.as_str(),
            created.seq,
            created.subject.as_deref()
        ),
        ("order.created", 1, Some(id.as_str()))
    );
    let view = created.data["order"].clone();
    assert_eq!(
        (
            view["ticket"].as_str(),
            view["channel"].as_str(),
            view["fulfillment"].as_str()
        ),
        (Some("W-0001"), Some("online"), Some("pickup"))
    );
    assert_eq!(
        (
            view["paid"].as_i64(),
            view["stations_done"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    assert_eq!(created.data["payment"]["method"], "pay_at_pickup");

    // Own orders only.
    let bob = customer(&hub, "bob@example.com").await;
    let (s, _) = hub
        .call_as(Some(&bob), "GET", &format!("/api/v1/me/orders/{id}"), None)
        .await;
    assert_eq!(s, 404, "another customer's order does not exist for bob");
    let (s, b) = hub
        .call_as(Some(&bob), "GET", "/api/v1/me/orders", None)
        .await;
    assert_eq!((s, b["orders"].as_array().map(Vec::len)), (200, Some(0)));
    let (s, b) = hub
        .call_as(Some(&alice), "GET", "/api/v1/me/orders", None)
        .await;
    assert_eq!((s, b["orders"][0]["id"].as_str()), (200, Some(id.as_str())));
    let (s, _) = hub
        .call_as(Some(ADMIN), "GET", "/api/v1/me/orders", None)
        .await;
    assert_eq!(s, 403, "the admin token is not a customer");
    let bob_url = format!(
        "ws://{}/api/v1/me/orders/{id}/events?access_token={bob}",
        hub.running.addr
    );
    match tokio_tungstenite::connect_async(bob_url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 404),
        other => panic!("bob may not track alice's order: {other:?}"),
    }

    // The tracking socket answers a plain GET with the JSON error.
    let (s, b) = hub
        .call_as(
            Some(&alice),
            "GET",
            &format!("/api/v1/me/orders/{id}/events"),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (400, "websocket_required"), "{b}");

    // Live tracking: the current status at once, then the kitchen's change made at the node.
    let mut tracker = track(&hub, &alice, &id).await;
    let first = next_status(&mut tracker).await;
    assert_eq!(
        (
            first["type"].as_str(),
            first["status"].as_str(),
            first["ticket"].as_str()
        ),
        (Some("status"), Some("placed"), Some("W-0001"))
    );
    let mut ready = view.clone();
    ready["status"] = json!("ready");
    ready["updated_ms"] = json!(view["updated_ms"].as_i64().unwrap() + 1);
    node.log.record(
        STORE,
        "node-a",
        "order.changed",
        Some(&id),
        json!({ "transition": "ready", "from": "placed", "to": "ready", "order": ready }),
    );
    node.log.record(STORE, "node-a", "device.health", Some("printer-1"),
        json!({ "id": "printer-1", "kind": "printer", "name": "Kitchen printer", "health": { "state": "online" } }));
    node.flush().await;
    let next = next_status(&mut tracker).await;
    assert_eq!(next["status"], "ready", "{next}");
    let (_, b) = hub
        .call_as(
            Some(&alice),
            "GET",
            &format!("/api/v1/me/orders/{id}"),
            None,
        )
        .await;
    assert_eq!(b["status"], "ready");
    // An older view arriving late never moves the status back.
    node.log.record(
        STORE,
        "node-a",
        "order.changed",
        Some(&id),
        json!({ "order": view }),
    );
    node.flush().await;
    node.wait_acked(3).await;
    let (_, b) = hub
        .call_as(
            Some(&alice),
            "GET",
            &format!("/api/v1/me/orders/{id}"),
            None,
        )
        .await;
    assert_eq!(b["status"], "ready");

    // The merchant sees the node connected, nothing waiting, and its devices.
    eventually("the node's link and devices at the hub", async || {
        let (s, b) = hub
            .call("GET", &format!("/api/v1/stores/{STORE}/nodes"), None)
            .await;
        assert_eq!(s, 200, "{b}");
        b["connected"] == true
            && b["nodes"][0]["connected"] == true
            && b["nodes"][0]["events_waiting"] == 0
            && b["devices"][0]["id"] == "printer-1"
    })
    .await;
    let (s, _) = hub
        .call_as(
            Some(&alice),
            "GET",
            &format!("/api/v1/stores/{STORE}/nodes"),
            None,
        )
        .await;
    assert_eq!(s, 404, "customers do not see a store's nodes");

    // The node goes away: after the grace period ordering pauses, and resumes when it is back.
    node.disconnect().await;
    eventually("ordering to pause with the node away", async || {
        ordering(&hub).await["reason"] == "store_offline"
    })
    .await;
    let o = ordering(&hub).await;
    assert!(
        o["message"]
            .as_str()
            .unwrap()
            .contains("can't reach the store"),
        "{o}"
    );
    let (s, b) = place(&hub, &alice, Some("order-2"), &cart()).await;
    assert_eq!(
        (s, code(&b), b["ordering"]["reason"].as_str()),
        (409, "ordering_paused", Some("store_offline"))
    );
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    eventually("ordering to resume with the node back", async || {
        ordering(&hub).await["accepting"] == true
    })
    .await;
    let (s, second) = place(&hub, &alice, Some("order-2"), &cart()).await;
    assert_eq!((s, second["ticket"].as_str()), (201, Some("W-0002")));
    node.pump_until("the second web order at the node", |p| {
        p.log.events().filter(|e| e.origin == "hub").count() == 2
    })
    .await;
    node.disconnect().await;
    drop(tracker);
    hub.stop().await;
}
both!(customers_browse_price_order_and_track);

/// Weekly hours for every day: open `from`..`to`.
fn every_day(from: &str, to: &str) -> Value {
    let r = json!([{ "open": from, "close": to }]);
    json!({ "mon": r, "tue": r, "wed": r, "thu": r, "fri": r, "sat": r, "sun": r })
}

async fn closed_hours_and_the_merchants_switch(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    store_with_menu(&hub).await;
    let settings = format!("/api/v1/stores/{STORE}/settings");

    // Bad hours and time zones are refused by the domain's rules.
    for (body, want) in [
        (json!({ "timezone": "Mars/Olympus" }), "invalid_timezone"),
        (
            json!({ "hours": { "mon": [{ "open": "10:00", "close": "14:00" }, { "open": "13:00", "close": "15:00" }] } }),
            "overlapping_hours",
        ),
        (
            json!({ "hours": { "mon": [{ "open": "10:00", "close": "10:00" }] } }),
            "invalid_hours",
        ),
        (
            json!({ "hours": { "mon": [{ "open": "25:00", "close": "10:00" }] } }),
            "invalid_body",
        ),
        (
            json!({ "hours_exceptions": [{ "date": "2026-12-25", "closed": true, "ranges": [{ "open": "10:00", "close": "11:00" }] }] }),
            "invalid_hours_exception",
        ),
        (json!({ "address": "" }), "invalid_settings"),
    ] {
        let (s, b) = hub.call("PUT", &settings, Some(&body)).await;
        assert_eq!((s, code(&b)), (422, want), "{body} -> {b}");
    }

    // Open every day from six hours from now (UTC) for an hour: closed now, opening later.
    let now_min = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60)
        % 1440;
    let hhmm = |m: u64| format!("{:02}:{:02}", (m % 1440) / 60, m % 60);
    let (open, close) = (hhmm(now_min + 360), hhmm(now_min + 420));
    let (s, b) = hub
        .call(
            "PUT",
            &settings,
            Some(
                &json!({ "timezone": "UTC", "hours": every_day(&open, &close),
            "hours_exceptions": [{ "date": "2030-01-01", "closed": true }] }),
            ),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["hours"]["mon"][0]["open"],
        open.as_str(),
        "nested settings round-trip: {b}"
    );
    let o = ordering(&hub).await;
    assert_eq!(o["reason"], "closed", "closed wins over offline: {o}");
    let opens_at = o["opens_at"].as_str().unwrap();
    assert!(
        opens_at.ends_with("+00:00") && opens_at.contains(&format!("T{open}:00")),
        "{opens_at}"
    );
    let (_, store) = hub
        .call_as(None, "GET", &format!("/api/v1/public/stores/{STORE}"), None)
        .await;
    assert_eq!(store["hours_exceptions"][0]["date"], "2030-01-01");
    let alice = customer(&hub, "alice@example.com").await;
    let (s, b) = place(&hub, &alice, Some("k1"), &cart()).await;
    assert_eq!(
        (s, code(&b), b["ordering"]["reason"].as_str()),
        (409, "ordering_paused", Some("closed"))
    );

    // The merchant switches online ordering off: disabled, whatever the hours.
    let (s, _) = hub
        .call(
            "PUT",
            &settings,
            Some(&json!({ "online_ordering": false, "hours": every_day("00:00", "24:00") })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(ordering(&hub).await["reason"], "disabled");
    // Back on, open all day, but no node has connected: offline.
    let (s, _) = hub
        .call("PUT", &settings, Some(&json!({ "online_ordering": true })))
        .await;
    assert_eq!(s, 200);
    assert_eq!(ordering(&hub).await["reason"], "store_offline");
    hub.stop().await;
}
both!(closed_hours_and_the_merchants_switch);

/// Finding a store: the public list shows the stores that take online orders
/// (a menu published, online ordering on), by name, each with its state now.
async fn customers_find_the_stores_that_take_online_orders(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let list = async || {
        let (s, b) = hub
            .call_as(None, "GET", "/api/v1/public/stores", None)
            .await;
        assert_eq!(s, 200, "{b}");
        b["stores"].as_array().unwrap().clone()
    };
    assert!(list().await.is_empty(), "no stores yet");
    store_with_menu(&hub).await;
    // A store without a menu, and one whose merchant switched online ordering off.
    hub.create_store("no-menu").await;
    hub.create_store("switched-off").await;
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let (s, _) = hub
        .call("PUT", "/api/v1/stores/switched-off/menu", Some(&menu))
        .await;
    assert_eq!(s, 200);
    let (s, _) = hub
        .call(
            "PUT",
            "/api/v1/stores/switched-off/settings",
            Some(&json!({ "online_ordering": false })),
        )
        .await;
    assert_eq!(s, 200);
    let stores = list().await;
    let ids: Vec<&str> = stores.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [STORE], "{stores:?}");
    // Its state now: no node has connected, so it is paused, and says why.
    let ordering = &stores[0]["ordering"];
    assert_eq!(
        (ordering["accepting"].as_bool(), ordering["reason"].as_str()),
        (Some(false), Some("store_offline")),
        "{ordering}"
    );
    assert!(!ordering["message"].as_str().unwrap().is_empty());
    assert_eq!(stores[0]["name"], format!("Store {STORE}"));
    hub.stop().await;
}
both!(customers_find_the_stores_that_take_online_orders);

/// Customers at once (a busy lunch): more than the pool's five connections.
const CUSTOMERS: usize = 8;
/// Orders each customer places, one after another: 200 in all.
const ORDERS_EACH: usize = 25;

/// Eight customers sign up and place orders at the same moment; every order is
/// placed (201), each once, with its own ticket. On SQLite a plain `BEGIN`
/// that reads the idempotency key before its first write failed over half of
/// them with `database is locked`.
async fn a_busy_lunch_places_every_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let node_token = store_with_menu(&hub).await;
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    eventually("the store to take orders", async || {
        ordering(&hub).await["accepting"] == true
    })
    .await;

    let mut customers = tokio::task::JoinSet::new();
    for c in 0..CUSTOMERS {
        let (http, base) = (hub.http.clone(), hub.base.clone());
        customers.spawn(async move {
            let signup = http
                .post(format!("{base}/api/v1/auth/signup"))
                .json(&json!({ "email": format!("c{c}@example.com"), "password": PASSWORD, "name": "Robin" }))
                .send()
                .await
                .unwrap();
            assert_eq!(signup.status(), 201, "{}", signup.text().await.unwrap());
            let token = common::s(&signup.json::<Value>().await.unwrap(), "access_token");
            let mut placed = vec![];
            for n in 0..ORDERS_EACH {
                let r = http
                    .post(format!("{base}/api/v1/stores/{STORE}/orders"))
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("c{c}-{n}"))
                    .json(&cart())
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                placed.push((status, r.json::<Value>().await.unwrap()));
            }
            placed
        });
    }
    let mut tickets = std::collections::BTreeSet::new();
    let mut refused = vec![];
    while let Some(placed) = customers.join_next().await {
        for (status, body) in placed.unwrap() {
            if status == 201 {
                tickets.insert(common::s(&body, "ticket"));
            } else {
                refused.push((status, body));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "{} of {} orders refused, the first: {:?}",
        refused.len(),
        CUSTOMERS * ORDERS_EACH,
        refused.first()
    );
    assert_eq!(tickets.len(), CUSTOMERS * ORDERS_EACH, "one ticket each");
    node.pump_until("every web order at the node", |p| {
        p.log.events().filter(|e| e.origin == "hub").count() == CUSTOMERS * ORDERS_EACH
    })
    .await;
    node.disconnect().await;
    hub.stop().await;
}
both!(a_busy_lunch_places_every_order);

/// A node link that dies without closing (the relay between node and hub stops
/// moving bytes, both sockets stay open) is dropped within the link timeout,
/// so after the grace period the store pauses online ordering exactly as for a
/// closed connection; a customer's tracking socket behind the same dead link is
/// dropped too, instead of piling up.
async fn a_silently_dead_link_pauses_ordering(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start_with(&db, |c| {
        c.node_grace_secs = 1;
        c.link_timeout_secs = 3;
    })
    .await;
    let node_token = store_with_menu(&hub).await;
    // Signed up first: the peer below reads (and so answers pings) only when pumped.
    let alice = customer(&hub, "alice@example.com").await;
    let relay = relay::Relay::start(
        ([127, 0, 0, 1], 0).into(),
        hub.running.addr.to_string().parse().expect("an address"),
    )
    .await
    .expect("the relay starts");
    let mut node = Peer::new(STORE, "node-a");
    node.connect(&format!("ws://{}/api/v1/sync", relay.addr()), &node_token)
        .await
        .unwrap();
    eventually("the store to take orders", async || {
        ordering(&hub).await["accepting"] == true
    })
    .await;
    let (s, order) = place(&hub, &alice, Some("k1"), &cart()).await;
    assert_eq!(s, 201, "{order}");
    // The node is alive: it reads (and so answers the hub's pings) while the order arrives.
    node.pump_until("the web order at the node", |p| {
        p.log.events().any(|e| e.origin == "hub")
    })
    .await;
    let url = format!(
        "ws://{}/api/v1/me/orders/{}/events?access_token={alice}",
        relay.addr(),
        order["id"].as_str().unwrap()
    );
    let (mut tracker, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(next_status(&mut tracker).await["status"], "placed");

    relay.set(relay::Link::BlackHole);
    eventually("ordering to pause behind the dead link", async || {
        ordering(&hub).await["reason"] == "store_offline"
    })
    .await;
    let (s, b) = place(&hub, &alice, Some("k2"), &cart()).await;
    assert_eq!(
        (s, code(&b), b["ordering"]["reason"].as_str()),
        (409, "ordering_paused", Some("store_offline")),
        "{b}"
    );
    eventually("the hub to drop both dead sockets", async || {
        relay.target_ended() == 2
    })
    .await;
    hub.stop().await;
}
both!(a_silently_dead_link_pauses_ordering);

/// A customer's profile: defaults, a change kept (and the name on the account),
/// bad values refused with the field named, another customer's untouched.
async fn customers_keep_a_profile(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let alice = customer(&hub, "alice@example.com").await;
    let bob = customer(&hub, "bob@example.com").await;
    let get = async |token: &str| {
        let (s, b) = hub
            .call_as(Some(token), "GET", "/api/v1/me/profile", None)
            .await;
        assert_eq!(s, 200, "{b}");
        b
    };
    let put = async |token: &str, body: Value| {
        hub.call_as(Some(token), "PUT", "/api/v1/me/profile", Some(&body))
            .await
    };
    let fresh = get(&alice).await;
    assert_eq!(
        fresh,
        json!({ "name": "Robin", "email": "alice@example.com", "phone": null,
                "saved_notes": [], "favourites": [] })
    );
    let (s, b) = put(
        &alice,
        json!({ "name": " Alice Liddell ", "phone": "+44 20 7946 0000",
                "saved_notes": ["no onions", "  ", "ring the bell"],
                "favourites": [{ "store_id": "s1", "item_id": "shoestring-fries" }] }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"], "Alice Liddell");
    assert_eq!(b["saved_notes"], json!(["no onions", "ring the bell"]));
    // Only what is sent changes.
    let (s, b) = put(&alice, json!({ "phone": "" })).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["phone"].is_null(), b["name"].as_str()),
        (true, Some("Alice Liddell"))
    );
    assert_eq!(
        get(&alice).await["favourites"][0]["item_id"],
        "shoestring-fries"
    );
    let (_, me) = hub
        .call_as(Some(&alice), "GET", "/api/v1/auth/me", None)
        .await;
    assert_eq!(me["name"], "Alice Liddell", "the account's name too");
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "phone": "call me maybe" }), "phone"),
        (json!({ "saved_notes": vec!["x"; 11] }), "saved_notes"),
        (
            json!({ "favourites": [{ "store_id": "s 1", "item_id": "x" }] }),
            "favourites",
        ),
    ] {
        let (s, b) = put(&alice, body).await;
        assert_eq!((s, code(&b)), (422, "invalid_profile"), "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().starts_with(field),
            "{b}"
        );
    }
    let (s, b) = put(&alice, json!({ "nickname": "Al" })).await;
    assert_eq!(
        (s, code(&b)),
        (422, "invalid_body"),
        "an unknown field: {b}"
    );
    assert_eq!(
        get(&bob).await["saved_notes"],
        json!([]),
        "bob's is his own"
    );
    let (s, _) = hub.call_as(None, "GET", "/api/v1/me/profile", None).await;
    assert_eq!(s, 401);
    hub.stop().await;
}
both!(customers_keep_a_profile);

/// Ordering ahead: the store offers pickup times within its hours and lead
/// time, placing checks the one chosen, and it travels with the order to the node.
async fn customers_choose_a_pickup_time(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let node_token = store_with_menu(&hub).await;
    let (s, b) = hub
        .call(
            "PUT",
            &format!("/api/v1/stores/{STORE}/settings"),
            Some(&json!({ "timezone": "UTC", "pickup_lead_minutes": 20, "hours": every_day("00:00", "24:00") })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let times = async || {
        let (s, b) = hub
            .call_as(
                None,
                "GET",
                &format!("/api/v1/public/stores/{STORE}/pickup-times"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b
    };
    // Not taking orders (no node yet): no times on offer, and why.
    let t = times().await;
    assert_eq!(t["slots"], json!([]), "{t}");
    assert_eq!(t["ordering"]["reason"], "store_offline");

    let mut node = Peer::new(STORE, "node-a");
    node.connect(&hub.ws_url(), &node_token).await.unwrap();
    eventually("the store to take orders", async || {
        ordering(&hub).await["accepting"] == true
    })
    .await;
    let t = times().await;
    assert_eq!(t["asap_minutes"], 20);
    let slots = t["slots"].as_array().unwrap();
    // Open all day: every quarter hour from 20 minutes from now to 12 hours ahead
    // (46 when now+20 min rounds up by more than the 12 h mark leaves, e.g. at hh:41).
    assert!((46..=48).contains(&slots.len()), "{t}");
    let first = slots[0]["at_ms"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        first >= now + 19 * 60_000 && first <= now + 36 * 60_000,
        "{t}"
    );
    assert_eq!(first % (15 * 60_000), 0);
    assert!(slots[0]["at"].as_str().unwrap().ends_with("+00:00"));

    // Too soon, too far ahead, not a number: refused with words; nothing placed.
    let alice = customer(&hub, "alice@example.com").await;
    for (at, why) in [
        (json!(now + 60_000), "too soon"),
        (json!(now + 13 * 3_600_000), "12 hours ahead"),
    ] {
        let mut body = cart();
        body["pickup_at"] = at;
        let (s, b) = place(
            &hub,
            &alice,
            Some(&format!("k-{}", why.replace(' ', "-"))),
            &body,
        )
        .await;
        assert_eq!((s, code(&b)), (422, "pickup_time_unavailable"), "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains(why), "{b}");
    }
    let mut body = cart();
    body["pickup_at"] = json!("soon");
    let (s, b) = place(&hub, &alice, Some("k-text"), &body).await;
    assert_eq!(s, 422, "{b}");

    // A slot on offer: the order carries it, to the customer and to the node.
    let chosen = slots[3]["at_ms"].as_i64().unwrap();
    let mut body = cart();
    body["pickup_at"] = json!(chosen);
    let (s, order) = place(&hub, &alice, Some("ahead"), &body).await;
    assert_eq!(s, 201, "{order}");
    assert_eq!(order["pickup_at"], chosen);
    let id = order["id"].as_str().unwrap().to_owned();
    let (_, mine) = hub
        .call_as(
            Some(&alice),
            "GET",
            &format!("/api/v1/me/orders/{id}"),
            None,
        )
        .await;
    assert_eq!(mine["pickup_at"], chosen);
    node.pump_until("the order at the node", |p| {
        p.log.events().any(|e| e.origin == "hub")
    })
    .await;
    let created = node.log.events().find(|e| e.origin == "hub").unwrap();
    assert_eq!(created.data["order"]["pickup_at"], chosen);
    // As soon as possible: no pickup time at all.
    let (s, asap) = place(&hub, &alice, Some("asap"), &cart()).await;
    assert_eq!(s, 201, "{asap}");
    assert!(asap.get("pickup_at").is_none(), "{asap}");
    hub.stop().await;
}
both!(customers_choose_a_pickup_time);
