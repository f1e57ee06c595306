//! The REST API driven over real HTTP against a node on port 0.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn order_round_trip_through_the_kitchen() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;

    let order = app.place(&cashier, "round-trip-1").await;
    assert_eq!(order["status"], "placed");
    assert_eq!(order["ticket"], "S-0001");
    assert_eq!(order["lines"][0]["unit_price"], 1195 + 200);
    // Subtotal, tax and total follow the domain rule (exclusive tax, per-line rounding).
    let t = &order["totals"];
    let lines = order["lines"].as_array().unwrap();
    let sum: i64 = lines
        .iter()
        .map(|l| l["line_total"].as_i64().unwrap())
        .sum();
    let tax: i64 = lines.iter().map(|l| l["tax"].as_i64().unwrap()).sum();
    assert_eq!(t["subtotal"].as_i64().unwrap(), sum);
    assert_eq!(t["total"].as_i64().unwrap(), sum + tax);

    let id = order["id"].as_str().unwrap();
    for (step, status) in [
        ("accept", "accepted"),
        ("start", "in_preparation"),
        ("ready", "ready"),
    ] {
        let (s, b) = app
            .post(
                &kitchen,
                &format!("/api/v1/orders/{id}/{step}"),
                None,
                &json!({}),
            )
            .await;
        assert_eq!(s, 200, "{step}: {b}");
        assert_eq!(b["status"], status);
    }
    let (s, b) = app
        .post(
            &cashier,
            &format!("/api/v1/orders/{id}/complete"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("completed")));

    // Status only moves forward.
    let (s, b) = app
        .post(
            &kitchen,
            &format!("/api/v1/orders/{id}/accept"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(b["error"]["code"], "invalid_transition");

    let (s, b) = app.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("completed")));
    let (_, list) = app
        .get(&cashier, "/api/v1/orders?status=completed&channel=pos")
        .await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
    let (_, list) = app.get(&cashier, "/api/v1/orders?status=placed").await;
    assert!(list["orders"].as_array().unwrap().is_empty());
    let future = order["created_ms"].as_u64().unwrap() + 1;
    let (_, list) = app
        .get(&cashier, &format!("/api/v1/orders?since_ms={future}"))
        .await;
    assert!(list["orders"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn roles_are_enforced_on_every_route() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;
    let manager = app.manager().await;
    let kiosk = app.login("kiosk", "5000").await;

    // No token, a made-up token.
    let r = app
        .http
        .get(app.url("/api/v1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, b) = app.get("not-a-token", "/api/v1/orders").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    // The kitchen sees orders but cannot place, cancel or void them, nor edit the menu.
    let (s, _) = app
        .post(&kitchen, "/api/v1/orders", Some("k-1"), &burger_order())
        .await;
    assert_eq!(s, 403);
    let order = app.place(&cashier, "roles-1").await;
    let id = order["id"].as_str().unwrap();
    let (s, _) = app
        .post(
            &kitchen,
            &format!("/api/v1/orders/{id}/cancel"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(s, 403);
    // A cashier cannot void (a manager's correction) nor toggle sold-out.
    let (s, _) = app
        .post(
            &cashier,
            &format!("/api/v1/orders/{id}/void"),
            None,
            &json!({"reason": "test"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .post(
            &cashier,
            "/api/v1/menu/items/fountain-soda/sold-out",
            None,
            &json!({"sold_out": true}),
        )
        .await;
    assert_eq!(s, 403);
    // A kiosk (customer role) orders on the kiosk channel only and cannot list orders.
    let mut kiosk_order = burger_order();
    let (s, _) = app
        .post(&kiosk, "/api/v1/orders", Some("kiosk-1"), &kiosk_order)
        .await;
    assert_eq!(s, 403);
    kiosk_order["channel"] = json!("kiosk");
    let (s, b) = app
        .post(&kiosk, "/api/v1/orders", Some("kiosk-2"), &kiosk_order)
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = app.get(&kiosk, "/api/v1/orders").await;
    assert_eq!(s, 403);
    // Nobody at the store places online orders directly: they come from the hub.
    kiosk_order["channel"] = json!("online");
    let (s, _) = app
        .post(&cashier, "/api/v1/orders", Some("online-1"), &kiosk_order)
        .await;
    assert_eq!(s, 403);

    // A manager voids, with a reason.
    let (s, b) = app
        .post(
            &manager,
            &format!("/api/v1/orders/{id}/void"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("reason_required"))
    );
    let (s, b) = app
        .post(
            &manager,
            &format!("/api/v1/orders/{id}/void"),
            None,
            &json!({"reason": "rang up twice"}),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("voided")));

    // After sign-out the token is dead.
    let (s, _) = app
        .post(&cashier, "/api/v1/auth/logout", None, &json!({}))
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&cashier, "/api/v1/orders").await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn sign_in_rejects_wrong_pins_and_locks_out_guessing() {
    let app = spawn_app().await;
    for pin in ["0000", "1", "abcd", "99999999"] {
        let r = app
            .http
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"staff_id": "cashier", "pin": pin}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"staff_id": "cashier", "pin": "1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Sixth try, even with the right PIN: locked for a minute.
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"staff_id": "cashier", "pin": "3000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "too_many_attempts");
    // Others are not affected.
    app.manager().await;
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"staff_id": "nobody", "pin": "3000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Forty wrong PINs at once (eight per staff member) must not all be checked:
/// each attempt is counted before its hash runs, so no more than five per
/// staff member get an answer about their PIN and the rest are refused at once.
#[tokio::test]
async fn parallel_wrong_pins_are_locked_out() {
    let app = spawn_app().await;
    let ids = ["owner", "manager", "cashier", "kitchen", "kiosk"];
    let node = &app;
    let tries = ids.iter().flat_map(|id| {
        (0..8).map(move |n| {
            let req = node
                .http
                .post(node.url("/api/v1/auth/login"))
                .json(&json!({"staff_id": id, "pin": format!("98{n:02}")}));
            async move { (*id, req.send().await.unwrap().status().as_u16()) }
        })
    });
    let answers = futures_util::future::join_all(tries).await;
    for id in ids {
        let mine: Vec<u16> = answers
            .iter()
            .filter(|(who, _)| *who == id)
            .map(|(_, s)| *s)
            .collect();
        let checked = mine.iter().filter(|s| **s == 401).count();
        let refused = mine.iter().filter(|s| **s == 429).count();
        assert_eq!((checked, refused), (5, 3), "{id}: {mine:?}");
    }
    // And the right PIN is refused too until the lockout ends.
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"staff_id": "cashier", "pin": "3000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let app = spawn_with(|c| c.session_ttl_secs = 0).await;
    let token = app.cashier().await;
    let (s, b) = app.get(&token, "/api/v1/menu").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
}

#[tokio::test]
async fn idempotent_retries_never_make_a_second_order() {
    let app = spawn_app().await;
    let token = app.cashier().await;
    let first = app.place(&token, "retry-1").await;

    // Same key, same body: the same answer, marked as a replay, and no second order.
    let r = app
        .http
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "retry-1")
        .json(&burger_order())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, first);
    let (_, list) = app.get(&token, "/api/v1/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);

    // Same key, a different (valid) body: 422.
    let mut other = burger_order();
    other["table"] = json!("7");
    let (s, b) = app
        .post(&token, "/api/v1/orders", Some("retry-1"), &other)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // A retry still gets its order after the item sold out in between.
    let manager = app.manager().await;
    let (s, _) = app
        .post(
            &manager,
            "/api/v1/menu/items/harbor-classic-burger/sold-out",
            None,
            &json!({"sold_out": true}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .post(&token, "/api/v1/orders", Some("retry-1"), &burger_order())
        .await;
    assert_eq!((s, &b), (201, &first));
    let (s, b) = app
        .post(&token, "/api/v1/orders", Some("retry-2"), &burger_order())
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("sold_out")));

    // No key: refused, so a blind retry cannot double an order.
    let (s, b) = app
        .post(&token, "/api/v1/orders", None, &burger_order())
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("idempotency_key_required"))
    );
}

#[tokio::test]
async fn a_duplicate_arriving_while_the_first_is_in_flight_gets_409() {
    let app = spawn_app().await;
    let token = app.cashier().await;
    // Hold the writer (as a slow disk would) so the first request stays in flight.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let db = app.node.state.db.clone();
    let blocker = tokio::spawn(async move {
        db.write(move |_| -> Result<(), store_node::db::WriteError> {
            let _ = hold.recv();
            Ok(())
        })
        .await
    });
    let first = {
        let (http, url, token) = (app.http.clone(), app.url("/api/v1/orders"), token.clone());
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "dup-1")
                .json(&burger_order())
                .send()
                .await
                .unwrap()
        })
    };
    // Wait (with a deadline) until the first request is registered as in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !app
        .node
        .state
        .in_flight
        .lock()
        .unwrap()
        .iter()
        .any(|(_, k)| k == "dup-1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "first request never got in flight"
        );
        tokio::task::yield_now().await;
    }
    let (s, b) = app
        .post(&token, "/api/v1/orders", Some("dup-1"), &burger_order())
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("request_in_flight"))
    );
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    assert_eq!(first.await.unwrap().status(), 201);
    let (_, list) = app.get(&token, "/api/v1/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_stores_nothing() {
    let app = spawn_with(|c| c.http.body_limit_bytes = 16 * 1024).await;
    let token = app.cashier().await;
    let with_line =
        |line: Value| json!({"channel": "pos", "fulfillment": "takeaway", "lines": [line]});
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            with_line(json!({"item_id": "no-such-item", "quantity": 1})),
            422,
            "unknown_item",
        ),
        (
            with_line(
                json!({"item_id": "fountain-soda", "quantity": 0, "modifiers": ["drink-size-small", "soda-choice-cola"]}),
            ),
            422,
            "invalid_quantity",
        ),
        (
            with_line(json!({"item_id": "fountain-soda", "quantity": -3})),
            422,
            "invalid_body",
        ),
        (
            with_line(
                json!({"item_id": "fountain-soda", "quantity": 100000, "modifiers": ["drink-size-small", "soda-choice-cola"]}),
            ),
            422,
            "invalid_quantity",
        ),
        (
            with_line(json!({"item_id": "fountain-soda", "quantity": 1e30})),
            422,
            "invalid_body",
        ),
        (
            with_line(
                json!({"item_id": "harbor-classic-burger", "quantity": 1, "modifiers": ["burger-bun-brioche"]}),
            ),
            422,
            "invalid_modifiers",
        ),
        (
            with_line(
                json!({"item_id": "harbor-classic-burger", "quantity": 1, "modifiers": ["burger-doneness-rare", "burger-doneness-medium", "burger-bun-brioche"]}),
            ),
            422,
            "invalid_modifiers",
        ),
        (
            with_line(
                json!({"item_id": "harbor-classic-burger", "quantity": 1, "modifiers": ["burger-doneness-rare", "burger-bun-brioche", "pizza-size-small"]}),
            ),
            422,
            "unknown_modifier",
        ),
        (
            with_line(
                json!({"item_id": "harbor-classic-burger", "quantity": 1, "modifiers": ["burger-doneness-rare", "burger-bun-brioche", "burger-addons-avocado"]}),
            ),
            422,
            "sold_out",
        ),
        (
            with_line(json!({"item_id": "autumn-harvest-pizza", "quantity": 1})),
            422,
            "sold_out",
        ),
        (
            with_line(json!({"item_id": "Bad Id!", "quantity": 1})),
            422,
            "invalid_body",
        ),
        (
            json!({"channel": "pos", "fulfillment": "takeaway", "lines": []}),
            422,
            "empty_order",
        ),
        (
            json!({"channel": "pos", "fulfillment": "takeaway", "lines": [], "extra": true}),
            422,
            "invalid_body",
        ),
        (
            json!({"channel": "drive_thru", "fulfillment": "takeaway", "lines": []}),
            422,
            "invalid_body",
        ),
        (json!([1, 2, 3]), 422, "invalid_body"),
        (json!(null), 422, "invalid_body"),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (s, b) = app
            .post(&token, "/api/v1/orders", Some(&format!("bad-{i}")), &body)
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "case {i}: {body} -> {b}"
        );
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let raw = |body: &'static str, ct: &'static str| {
        app.http
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "raw")
            .header("content-type", ct)
            .body(body)
    };
    for (req, status, code) in [
        (
            raw("{\"channel\":", "application/json"),
            400,
            "malformed_json",
        ),
        (raw("{}", "text/plain"), 415, "unsupported_media_type"),
        (raw("", "application/json"), 400, "malformed_json"),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], code);
    }
    let big = json!({"channel": "pos", "fulfillment": "takeaway", "lines": [], "note": "x".repeat(20_000)});
    let (s, b) = app.post(&token, "/api/v1/orders", Some("big"), &big).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (s, b) = app
        .post(
            &token,
            "/api/v1/orders",
            Some(&"k".repeat(300)),
            &burger_order(),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    let (s, b) = app.get(&token, "/api/v1/orders/not-a-uuid").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_path"))
    );
    let (s, _) = app
        .get(&token, &format!("/api/v1/orders/{}", uuid::Uuid::nil()))
        .await;
    assert_eq!(s, 404);
    let (s, _) = app.get(&token, "/api/v1/orders?limit=0").await;
    assert_eq!(s, 400);
    let (s, _) = app.get(&token, "/api/v1/orders?status=eaten").await;
    assert_eq!(s, 400);
    for q in [
        "since_ms=yesterday",
        "since_ms=-1",
        "until_ms=9223372036854775808",
    ] {
        let (s, _) = app.get(&token, &format!("/api/v1/orders?{q}")).await;
        assert_eq!(s, 400, "{q}");
    }

    // Nothing of the above was stored.
    let (_, list) = app.get(&token, "/api/v1/orders").await;
    assert!(list["orders"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn managers_edit_the_menu_and_orders_follow_it() {
    let app = spawn_app().await;
    let manager = app.manager().await;
    let cashier = app.cashier().await;
    let (_, menu) = app.get(&cashier, "/api/v1/menu").await;
    let v0 = menu["version"].as_i64().unwrap();
    let mut soda = menu["menu"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "fountain-soda")
        .unwrap()
        .clone();
    soda["price"] = json!(349);
    let r = app
        .http
        .put(app.url("/api/v1/menu/items/fountain-soda"))
        .bearer_auth(&manager)
        .json(&soda)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["version"].as_i64().unwrap(), v0 + 1);
    let order = app.place(&cashier, "after-edit").await;
    assert_eq!(order["lines"][1]["unit_price"], 349 + 100);

    // An edit that breaks the menu is refused whole.
    soda["station"] = json!("no-such-station");
    let r = app
        .http
        .put(app.url("/api/v1/menu/items/fountain-soda"))
        .bearer_auth(&manager)
        .json(&soda)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let (s, _) = app
        .post(
            &manager,
            "/api/v1/menu/items/ghost/sold-out",
            None,
            &json!({"sold_out": true}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, b) = app
        .post(
            &manager,
            "/api/v1/menu/modifiers/burger-addons-avocado/sold-out",
            None,
            &json!({"sold_out": false}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, menu) = app.get(&cashier, "/api/v1/menu").await;
    assert_eq!(menu["version"].as_i64().unwrap(), v0 + 2);
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    let token = app.cashier().await;
    app.place(&token, "m-1").await;
    for path in ["/healthz", "/readyz"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("store_orders_created_total"), "{metrics}");
    assert!(
        metrics.contains("http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("store_ws_clients_connected"));
    let r = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let served: Value = r.json().await.unwrap();
    assert_eq!(
        served["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    assert!(served["paths"]["/api/v1/orders"]["post"].is_object());
}

/// The committed OpenAPI document must match the code. Regenerate with
/// `cargo run -p store-node -- openapi > store-node/openapi.json`.
#[test]
fn committed_openapi_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .unwrap_or_default();
    let generated = store_node::http::openapi::json();
    assert!(
        committed == generated,
        "store-node/openapi.json is stale: run `cargo run -p store-node -- openapi > store-node/openapi.json`"
    );
}

/// Generated clients key operations by id: two handlers with one id silently get each other's types.
#[test]
fn operation_ids_are_unique() {
    let doc: Value = serde_json::from_str(&store_node::http::openapi::json()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    seen.insert(id.to_owned()),
                    "operationId {id} is used twice ({method} {path})"
                );
            }
        }
    }
}

/// A stored order this node cannot read is an error with its own code, not a nil id or a
/// `placed` order: the list, the order and a transition on it all answer 500 `corrupt_record`.
#[tokio::test]
async fn a_corrupt_order_row_is_a_500_not_a_default() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let order = app.place(&cashier, "corrupt-1").await;
    let id = order["id"].as_str().unwrap().to_owned();
    let db = app.node.state.config.data_dir.join("store.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute(
        "UPDATE orders SET status = 'misplaced' WHERE id = ?1",
        [&id],
    )
    .unwrap();

    let (s, b) = app.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (500, Some("corrupt_record")),
        "{b}"
    );
    let (s, b) = app.get(&cashier, "/api/v1/orders").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (500, Some("corrupt_record")),
        "{b}"
    );
    let (s, b) = app
        .post(
            &cashier,
            &format!("/api/v1/orders/{id}/cancel"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (500, Some("corrupt_record")),
        "{b}"
    );

    // A good id back, and the order reads again.
    conn.execute("UPDATE orders SET status = 'placed' WHERE id = ?1", [&id])
        .unwrap();
    let (s, b) = app.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("placed")), "{b}");
}
