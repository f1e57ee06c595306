//! The admin and store API answers bad input with a 4xx JSON error, never a
//! 5xx, on both databases.

mod common;

use common::{ADMIN, Backend, TestDb, TestHub, both, code, demo_menu};
use serde_json::{Value, json};

async fn raw(hub: &TestHub, method: &str, path: &str, ct: &str, body: Vec<u8>) -> (u16, Value) {
    let r = hub
        .http
        .request(method.parse().unwrap(), format!("{}{path}", hub.base))
        .bearer_auth(ADMIN)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

async fn admin_api_refuses_bad_input(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let store = json!({ "id": "s1", "name": "Main St" });

    // Authentication.
    let (s, b) = hub
        .call_as(None, "POST", "/api/v1/admin/stores", Some(&store))
        .await;
    assert_eq!((s, code(&b)), (401, "unauthenticated"));
    let (s, b) = hub
        .call_as(Some("wrong"), "POST", "/api/v1/admin/stores", Some(&store))
        .await;
    assert_eq!((s, code(&b)), (401, "bad_token"));
    let (s, _) = hub
        .call_as(Some("wrong"), "GET", "/api/v1/stores/s1/menu", None)
        .await;
    assert_eq!(s, 401);

    // Stores.
    let (s, b) = hub.call("POST", "/api/v1/admin/stores", Some(&store)).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = hub.call("POST", "/api/v1/admin/stores", Some(&store)).await;
    assert_eq!((s, code(&b)), (409, "store_exists"));
    for (body, want) in [
        (json!({ "id": "a b", "name": "x" }), "invalid_id"),
        (json!({ "id": "", "name": "x" }), "invalid_id"),
        (json!({ "id": "s2", "name": "" }), "invalid_body"),
        (
            json!({ "id": "s2", "name": "x", "extra": 1 }),
            "invalid_body",
        ),
        (json!({ "id": "s2" }), "invalid_body"),
        (json!([1, 2]), "invalid_body"),
    ] {
        let (s, b) = hub.call("POST", "/api/v1/admin/stores", Some(&body)).await;
        assert_eq!((s, code(&b)), (422, want), "{body}");
    }
    let (s, b) = raw(
        &hub,
        "POST",
        "/api/v1/admin/stores",
        "application/json",
        b"{nope".to_vec(),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "malformed_json"));
    let (s, b) = raw(
        &hub,
        "POST",
        "/api/v1/admin/stores",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!((s, code(&b)), (415, "unsupported_media_type"));
    // Too large: the hub answers before reading the rest, so it also closes
    // the connection and says so; a client that reused it would lose its
    // next request.
    let r = hub
        .http
        .post(format!("{}/api/v1/admin/stores", hub.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.headers()["connection"], "close");
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "payload_too_large");

    // Node tokens.
    let (s, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores/nope/node-tokens",
            Some(&json!({ "label": "till" })),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "not_found"));
    let (s, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores/s1/node-tokens",
            Some(&json!({ "label": "till", "store": "s2" })),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_body"));
    let (s, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores/s1/node-tokens",
            Some(&json!({ "label": "till" })),
        )
        .await;
    assert_eq!(s, 201);
    let token = b["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(b["token_sha256"].as_str().unwrap().len(), 64);
    assert_ne!(b["token_sha256"], b["token"]);
    // The store's first node keeps `S` tickets; the next one gets its own letter, in its token.
    assert_eq!((&token[..1], b["ticket_prefix"].as_str()), ("S", Some("S")));
    let (s, second) = hub
        .call(
            "POST",
            "/api/v1/admin/stores/s1/node-tokens",
            Some(&json!({ "label": "kitchen box" })),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(second["ticket_prefix"], "T");
    assert!(second["token"].as_str().unwrap().starts_with('T'));
    for body in [
        json!({}),
        json!({ "token": "a", "token_sha256": "b" }),
        json!({ "token_sha256": "xyz" }),
    ] {
        let (s, b) = hub
            .call(
                "POST",
                "/api/v1/admin/stores/s1/node-tokens/revoke",
                Some(&body),
            )
            .await;
        assert_eq!((s, code(&b)), (422, "invalid_body"), "{body}");
    }
    let (s, _) = hub
        .call(
            "POST",
            "/api/v1/admin/stores/s1/node-tokens/revoke",
            Some(&json!({ "token": "unknown" })),
        )
        .await;
    assert_eq!(s, 404);

    // Menus.
    let (s, b) = hub.call("GET", "/api/v1/stores/nope/menu", None).await;
    assert_eq!((s, code(&b)), (404, "not_found"));
    let (s, b) = hub.call("GET", "/api/v1/stores/s1/menu", None).await;
    assert_eq!((s, code(&b)), (404, "no_menu"));
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let (s, _) = hub
        .call("PUT", "/api/v1/stores/nope/menu", Some(&menu))
        .await;
    assert_eq!(s, 404);
    let mut dup = menu.clone();
    let first = dup["items"][0].clone();
    dup["items"].as_array_mut().unwrap().push(first);
    let (s, b) = hub.call("PUT", "/api/v1/stores/s1/menu", Some(&dup)).await;
    assert_eq!((s, code(&b)), (422, "invalid_menu"), "{b}");
    let mut unknown = menu.clone();
    unknown["items"][0]["colour"] = json!("red");
    let (s, b) = hub
        .call("PUT", "/api/v1/stores/s1/menu", Some(&unknown))
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_body"));
    let (s, b) = hub.call("GET", "/api/v1/stores/s1/menu", None).await;
    assert_eq!(
        (s, code(&b)),
        (404, "no_menu"),
        "a refused menu wrote nothing"
    );
    let (s, _) = hub.call("PUT", "/api/v1/stores/s1/menu", Some(&menu)).await;
    assert_eq!(s, 200);
    let (s, b) = hub.call("GET", "/api/v1/stores/s1/menu", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["menu"], menu);

    // Orders, routes, methods.
    let (s, b) = hub.call("GET", "/api/v1/stores/nope/orders", None).await;
    assert_eq!((s, code(&b)), (404, "not_found"));
    let (s, b) = hub.call("GET", "/api/v1/stores/s1/orders", None).await;
    assert_eq!((s, b), (200, json!({ "orders": [], "events": 0 })));
    let (s, b) = hub.call("DELETE", "/api/v1/stores/s1/menu", None).await;
    assert_eq!((s, code(&b)), (405, "method_not_allowed"));
    let (s, b) = hub.call("GET", "/api/v1/nothing", None).await;
    assert_eq!((s, code(&b)), (404, "not_found"));
    // Staff (the roster) and settings.
    for (body, want) in [
        (
            json!({ "name": "Sam", "role": "admin", "pin": "1234" }),
            "invalid_role",
        ),
        (
            json!({ "name": "Sam", "role": "chef", "pin": "1234" }),
            "invalid_role",
        ),
        (
            json!({ "name": "Sam", "role": "cashier", "pin": "12" }),
            "invalid_pin",
        ),
        (
            json!({ "name": "Sam", "role": "cashier", "pin": "12ab" }),
            "invalid_pin",
        ),
        (json!({ "name": "Sam", "role": "cashier" }), "invalid_body"),
        (
            json!({ "name": "Sam", "role": "cashier", "pin": "1234", "x": 1 }),
            "invalid_body",
        ),
    ] {
        let (s, b) = hub
            .call("PUT", "/api/v1/stores/s1/staff/sam", Some(&body))
            .await;
        assert_eq!((s, code(&b)), (422, want), "{body}");
    }
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/staff/a%20b",
            Some(&json!({ "name": "Sam", "role": "cashier", "pin": "1234" })),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_id"));
    let (s, b) = hub.call("GET", "/api/v1/stores/s1/staff", None).await;
    assert_eq!(
        (s, b),
        (200, json!({ "staff": [] })),
        "refused staff wrote nothing"
    );
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/staff/sam",
            Some(&json!({ "name": "Sam", "role": "cashier", "pin": "1234" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = hub.call("GET", "/api/v1/stores/s1/staff", None).await;
    assert_eq!(b["staff"][0]["id"], "sam");
    assert!(
        b["staff"][0].get("pin_hash").is_none(),
        "no PIN hash leaves the hub's API"
    );
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&json!({ "pickup_lead_minutes": 5000 })),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_settings"));
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&json!({ "colour": "red" })),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_body"));
    let (s, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&json!({ "name": "Main Street", "online_ordering": true })),
        )
        .await;
    assert_eq!((s, b["name"].as_str()), (200, Some("Main Street")));
    let (_, b) = hub.call("GET", "/api/v1/stores/s1/settings", None).await;
    assert_eq!(b, json!({ "name": "Main Street", "online_ordering": true }));
    let (s, _) = hub.call("GET", "/api/v1/stores/nope/settings", None).await;
    assert_eq!(s, 404);

    // The sync endpoint with a valid token but no upgrade.
    let (s, b) = hub.call_as(Some(token), "GET", "/api/v1/sync", None).await;
    assert_eq!((s, code(&b)), (400, "websocket_required"));

    hub.stop().await;
}
both!(admin_api_refuses_bad_input);
