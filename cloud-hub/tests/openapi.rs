//! The hub's contract as outside clients see it: the committed OpenAPI
//! document matches the code, operation ids are unique (and `hub_`-prefixed),
//! the served document is the committed one and lists every route the router
//! answers, and `/metrics` reports requests, sign-ins and sync connections.

mod common;

use std::collections::HashSet;

use common::{Backend, TestDb, TestHub, ws_connect};
use serde_json::{Value, json};

/// The committed OpenAPI document must match the code. Regenerate with
/// `cargo run -p cloud-hub -- openapi > cloud-hub/openapi.json`.
#[test]
fn committed_openapi_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .unwrap_or_default();
    let generated = cloud_hub::http::openapi::json();
    assert!(
        committed == generated,
        "cloud-hub/openapi.json is stale: run `cargo run -p cloud-hub -- openapi > cloud-hub/openapi.json`"
    );
}

/// Generated clients key operations by id: two handlers with one id silently get each other's types.
#[test]
fn operation_ids_are_unique() {
    let doc: Value = serde_json::from_str(&cloud_hub::http::openapi::json()).unwrap();
    let mut seen = HashSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.starts_with("hub_"),
                "{id} ({method} {path}) lacks the hub_ prefix"
            );
            assert!(
                seen.insert(id.to_owned()),
                "operationId {id} is used twice ({method} {path})"
            );
        }
    }
}

/// Every operation that needs a token says so, and every error answer has the error body.
#[test]
fn operations_declare_security_and_error_bodies() {
    let doc: Value = serde_json::from_str(&cloud_hub::http::openapi::json()).unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let public: HashSet<&str> = [
        "hub_healthz",
        "hub_readyz",
        "hub_metrics",
        "hub_openapi",
        "hub_jwks",
        "hub_jwks_api",
        "hub_signup",
        "hub_login",
        "hub_refresh",
        // Online ordering: the list of stores, a store's profile, menu and cart pricing need no sign-in.
        "hub_public_stores",
        "hub_public_store",
        "hub_public_menu",
        "hub_price_cart",
        "hub_pickup_times",
        // Menu pictures: the customer app's and the store nodes' `<img>`s send no token.
        "hub_get_image",
        // Stripe signs its webhook deliveries instead.
        "hub_stripe_webhook",
        // A store node enrolls with a pairing code and a proof by its key.
        "hub_enroll_node",
    ]
    .into();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            assert_eq!(secured, !public.contains(id), "{method} {path} ({id})");
            for (status, r) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

async fn served_document_and_metrics(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (st, served) = hub.call_as(None, "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(st, 200);
    let committed: Value = serde_json::from_str(&cloud_hub::http::openapi::json()).unwrap();
    assert_eq!(served, committed);

    // Every documented route is routed: a request without a token never falls through to "route not found".
    for (path, ops) in committed["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ops.as_object().unwrap().keys() {
            let r = hub
                .http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", hub.base),
                )
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert!(
                !text.contains("route not found") && st != 405,
                "{method} {path}: {st} {text}"
            );
        }
    }

    // Sign-ins by outcome, requests by route template, open sync connections.
    let (st, _) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(&json!({ "email": "nobody@example.com", "password": "plum-kettle-73-orbit" })),
        )
        .await;
    assert_eq!(st, 401);
    hub.create_store("s1").await;
    let token = hub.create_token("s1", "till").await;
    let ws = ws_connect(&hub.ws_url(), Some(&token)).await.unwrap();
    let (st, _) = hub.call("GET", "/api/v1/stores/s1/orders", None).await;
    assert_eq!(st, 200);
    let text = hub
        .http
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        r#"http_requests_total{method="GET",route="/api/v1/stores/{id}/orders",status="200"}"#,
        r#"http_requests_total{method="POST",route="/api/v1/admin/stores",status="201"}"#,
        "http_request_duration_seconds_bucket{",
        r#"hub_logins_total{outcome="invalid_credentials"}"#,
    ] {
        assert!(text.contains(want), "{want} in:\n{text}");
    }
    let open = text
        .lines()
        .find_map(|l| l.strip_prefix("hub_sync_connections_open "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert_eq!(open, Some(1.0), "{text}");
    drop(ws);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_and_metrics_sqlite() {
    served_document_and_metrics(Backend::Sqlite).await
}

/// Found by schemathesis: a malformed `Idempotency-Key` was judged before the
/// route and the token. Now a method the route does not take is 405 and a
/// protected route without a token is 401, as without the header; a public
/// route, or a caller with a valid token, gets 400 `invalid_idempotency_key`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_idempotency_keys_come_after_routing_and_authentication() {
    let db = TestDb::new(Backend::Sqlite).await;
    let hub = TestHub::start(&db).await;
    hub.create_store("s1").await;
    let bad = [("idempotency-key", "")];
    let settings = json!({ "pickup_lead_minutes": 5 });
    // (Idempotency-Key, method, path, body, expected status, expected code)
    type Case<'a> = (
        Option<&'a str>,
        &'a str,
        &'a str,
        Option<&'a Value>,
        u16,
        &'a str,
    );
    let cases: [Case<'_>; 5] = [
        (
            None,
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&settings),
            401,
            "unauthenticated",
        ),
        (
            Some("not-a-token"),
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&settings),
            401,
            "bad_token",
        ),
        (
            Some(common::ADMIN),
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&settings),
            400,
            "invalid_idempotency_key",
        ),
        (
            None,
            "POST",
            "/api/v1/stores/s1/settings",
            Some(&settings),
            405,
            "method_not_allowed",
        ),
        (
            None,
            "POST",
            "/api/v1/auth/login",
            Some(&json!({})),
            400,
            "invalid_idempotency_key",
        ),
    ];
    for (token, method, path, body, status, code) in cases {
        let (st, b, _) = hub.request(token, method, path, body, &bad).await;
        assert_eq!(
            (st, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path} with {token:?}"
        );
    }
    hub.stop().await;
}
