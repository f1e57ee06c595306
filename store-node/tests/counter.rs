//! At the counter and in the kitchen: cash payments with change, discounts that
//! need a manager, per-station bumps, and the web apps the node serves.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn cash_payment_gives_change_and_is_idempotent() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let order = app.place(&cashier, "pay-1").await;
    let id = order["id"].as_str().unwrap();
    let total = order["totals"]["total"].as_i64().unwrap();
    let path = format!("/api/v1/orders/{id}/payments");

    let (s, b) = app
        .post(
            &cashier,
            &path,
            Some("cash-1"),
            &json!({"method": "cash", "tendered": total - 1}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("insufficient_tender"))
    );
    let (s, b) = app
        .post(&cashier, &path, Some("card-1"), &json!({"method": "card"}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("no_card_terminal"))
    );
    let (s, b) = app
        .post(
            &cashier,
            &path,
            None,
            &json!({"method": "cash", "tendered": 10_000}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("idempotency_key_required"))
    );

    let (s, paid) = app
        .post(
            &cashier,
            &path,
            Some("cash-2"),
            &json!({"method": "cash", "tendered": 10_000}),
        )
        .await;
    assert_eq!(s, 201, "{paid}");
    assert_eq!(paid["payment"]["amount"].as_i64(), Some(total));
    assert_eq!(paid["payment"]["change"].as_i64(), Some(10_000 - total));
    assert_eq!(paid["order"]["paid"].as_i64(), Some(total));
    // A retry returns the same payment; a new payment finds nothing due.
    let (s, again) = app
        .post(
            &cashier,
            &path,
            Some("cash-2"),
            &json!({"method": "cash", "tendered": 10_000}),
        )
        .await;
    assert_eq!((s, &again), (201, &paid));
    let (s, b) = app
        .post(
            &cashier,
            &path,
            Some("cash-3"),
            &json!({"method": "cash", "tendered": 10_000}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("already_paid"))
    );
    let (_, o) = app.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(o["paid"].as_i64(), Some(total));

    // The kitchen takes no money; a cancelled order cannot be paid.
    let kitchen = app.kitchen().await;
    let (s, _) = app
        .post(
            &kitchen,
            &path,
            Some("k-cash"),
            &json!({"method": "cash", "tendered": 10_000}),
        )
        .await;
    assert_eq!(s, 403);
    let other = app.place(&cashier, "pay-2").await;
    let oid = other["id"].as_str().unwrap();
    app.post(
        &cashier,
        &format!("/api/v1/orders/{oid}/cancel"),
        None,
        &json!({}),
    )
    .await;
    let (s, b) = app
        .post(
            &cashier,
            &format!("/api/v1/orders/{oid}/payments"),
            Some("cash-4"),
            &json!({"method": "cash", "tendered": 10_000}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("order_closed"))
    );
}

fn discounted(kind: &str, value: i64) -> Value {
    let mut o = burger_order();
    o["discount"] = json!({"kind": kind, "value": value, "reason": "regular customer"});
    o
}

#[tokio::test]
async fn a_cashier_discount_needs_a_manager_approval() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let (s, b) = app
        .post(
            &cashier,
            "/api/v1/orders",
            Some("d-1"),
            &discounted("percent", 1000),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")));

    // A manager signs in at the till for two minutes and approves.
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"staff_id": "manager", "pin": "2000", "ttl_secs": 120}))
        .send()
        .await
        .unwrap();
    let login: Value = r.json().await.unwrap();
    let left = login["expires_ms"].as_u64().unwrap() - app.node.state.now().as_u64();
    assert!(
        left <= 120_000,
        "approval session lasts at most what was asked"
    );
    let approval = login["token"].as_str().unwrap();
    let r = app
        .http
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&cashier)
        .header("Idempotency-Key", "d-2")
        .header("X-Manager-Approval", approval)
        .json(&discounted("percent", 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let o: Value = r.json().await.unwrap();
    let t = &o["totals"];
    let subtotal = t["subtotal"].as_i64().unwrap();
    assert_eq!(
        t["discount"].as_i64(),
        Some((subtotal + 5) / 10),
        "10 % of {subtotal}, rounded"
    );
    assert_eq!(o["discount"]["approved_by"], "manager");
    assert_eq!(o["created_by"], "cashier");
    assert_eq!(
        t["total"].as_i64().unwrap(),
        subtotal - t["discount"].as_i64().unwrap() + t["tax"].as_i64().unwrap()
    );

    // A kitchen token is no approval; a manager discounts without one; nonsense is 422.
    let kitchen = app.kitchen().await;
    let r = app
        .http
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&cashier)
        .header("Idempotency-Key", "d-3")
        .header("X-Manager-Approval", &kitchen)
        .json(&discounted("amount", 500))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let manager = app.manager().await;
    let (s, o) = app
        .post(
            &manager,
            "/api/v1/orders",
            Some("d-4"),
            &discounted("amount", 500),
        )
        .await;
    assert_eq!((s, o["totals"]["discount"].as_i64()), (201, Some(500)));
    let (s, b) = app
        .post(
            &manager,
            "/api/v1/orders",
            Some("d-5"),
            &discounted("percent", 10_001),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_discount"))
    );
}

#[tokio::test]
async fn the_order_is_ready_when_every_station_has_bumped() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;
    let mut ws = connect_events(&app, &kitchen, 0).await;
    until_caught_up(&mut ws).await;
    // A burger (grill) and a soda (bar).
    let order = app.place(&cashier, "st-1").await;
    let id = order["id"].as_str().unwrap();
    next_json(&mut ws).await; // order.created

    let (s, b) = app
        .post(
            &kitchen,
            &format!("/api/v1/orders/{id}/stations/pizza/done"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("unknown_station"))
    );
    let (s, o) = app
        .post(
            &kitchen,
            &format!("/api/v1/orders/{id}/stations/grill/done"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(o["stations_done"], json!(["grill"]));
    assert_eq!(o["status"], "placed");
    let ev = next_json(&mut ws).await;
    assert_eq!(
        (ev["type"].as_str(), ev["data"]["station_done"].as_str()),
        (Some("order.changed"), Some("grill"))
    );
    // Bumping again changes nothing and emits nothing.
    let (s, again) = app
        .post(
            &kitchen,
            &format!("/api/v1/orders/{id}/stations/grill/done"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!((s, &again["stations_done"]), (200, &json!(["grill"])));

    let (s, o) = app
        .post(
            &kitchen,
            &format!("/api/v1/orders/{id}/stations/bar/done"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!((s, o["status"].as_str()), (200, Some("ready")));
    let ev = next_json(&mut ws).await;
    assert_eq!(ev["data"]["station_done"], "bar");
    let ev = next_json(&mut ws).await;
    assert_eq!(
        (ev["data"]["to"].as_str(), ev["data"]["by"].as_str()),
        (Some("ready"), Some("kitchen"))
    );
}

#[tokio::test]
async fn serves_built_apps_and_says_when_one_is_missing() {
    let web = tempfile::tempdir().unwrap();
    let dist = web.path().join("pos/dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>POS</title>").unwrap();
    std::fs::write(dist.join("assets/app.js"), "console.log(1)").unwrap();
    let dir = web.path().to_path_buf();
    let app = spawn_with(move |c| c.web_dir = dir).await;
    let get = |p: &str| app.http.get(app.url(p)).send();
    let r = get("/pos/").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert!(r.text().await.unwrap().contains("<title>POS"));
    assert_eq!(
        get("/pos/assets/app.js")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "console.log(1)"
    );
    // A client-side route gets the app's index.
    assert!(
        get("/pos/orders/open")
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("<title>POS")
    );
    let r = get("/kds/").await.unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("npm run build")
    );
}

/// A manager signs in at the till for a short approval session; returns its token.
async fn manager_approval(app: &TestNode) -> String {
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"staff_id": "manager", "pin": "2000", "ttl_secs": 120}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A cashier may cancel an unpaid order, but not a paid one on their own: that
/// gives the money back, so a manager approves it (PIN at the till), and the
/// refund is recorded by tender, with the drawer opening for the cash.
#[tokio::test]
async fn cancelling_a_paid_order_needs_a_manager_and_records_the_refund() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;

    let unpaid = app.place(&cashier, "unpaid").await;
    let (s, b) = app
        .post(
            &cashier,
            &format!("/api/v1/orders/{}/cancel", unpaid["id"].as_str().unwrap()),
            None,
            &json!({}),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("cancelled")), "{b}");

    let order = app.place(&cashier, "paid").await;
    let id = order["id"].as_str().unwrap();
    let total = order["totals"]["total"].as_i64().unwrap();
    let (s, b) = app
        .post(
            &cashier,
            &format!("/api/v1/orders/{id}/payments"),
            Some("cash"),
            &json!({"method": "cash", "tendered": total}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut ws = connect_events(&app, &kitchen, 0).await;
    let (_, head) = until_caught_up(&mut ws).await;

    let cancel = format!("/api/v1/orders/{id}/cancel");
    let (s, b) = app.post(&cashier, &cancel, None, &json!({})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("manager_approval_required")),
        "{b}"
    );
    let (_, still) = app.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(
        (&still["status"], still["refunded"].as_i64()),
        (&order["status"], Some(0)),
        "refused: nothing changed"
    );
    // Another cashier's session is no approval.
    let r = app
        .http
        .post(app.url(&cancel))
        .bearer_auth(&cashier)
        .header("X-Manager-Approval", &cashier)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let approval = manager_approval(&app).await;
    let r = app
        .http
        .post(app.url(&cancel))
        .bearer_auth(&cashier)
        .header("X-Manager-Approval", &approval)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(
        (
            done["status"].as_str(),
            done["paid"].as_i64(),
            done["refunded"].as_i64()
        ),
        (Some("cancelled"), Some(total), Some(total)),
        "{done}"
    );

    // On the stream: the cancel, then one refund per tender, approved by the manager.
    let changed = next_json(&mut ws).await;
    assert_eq!(
        (changed["type"].as_str(), changed["cursor"].as_i64()),
        (Some("order.changed"), Some(head + 1))
    );
    let refund = next_json(&mut ws).await;
    assert_eq!(refund["type"], "payment.refunded", "{refund}");
    let r = &refund["data"]["refund"];
    assert_eq!(
        (
            r["method"].as_str(),
            r["amount"].as_i64(),
            r["approved_by"].as_str(),
            r["created_by"].as_str()
        ),
        (Some("cash"), Some(total), Some("manager"), Some("cashier"))
    );
    assert_eq!(refund["data"]["order"]["refunded"].as_i64(), Some(total));

    // A retry gives nothing back twice.
    let (s, b) = app.post(&approval, &cancel, None, &json!({})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
}
