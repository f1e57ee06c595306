//! The WebSocket event stream: live delivery, resume from a cursor, no gaps, no doubles.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn live_events_then_resume_from_cursor_without_gaps_or_doubles() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;

    let mut ws = connect_events(&app, &kitchen, 0).await;
    let (backlog, head) = until_caught_up(&mut ws).await;
    // A fresh demo node has the menu it was seeded with.
    assert!(backlog.iter().all(|e| e["type"] == "menu.changed"));
    assert_eq!(
        backlog.last().map(|e| e["cursor"].as_i64().unwrap()),
        Some(head)
    );

    let order = app.place(&cashier, "ev-1").await;
    let ev = next_json(&mut ws).await;
    assert_eq!(ev["type"], "order.created");
    assert_eq!(ev["data"]["order"]["id"], order["id"]);
    assert_eq!(ev["cursor"].as_i64().unwrap(), head + 1);
    let id = order["id"].as_str().unwrap();
    app.post(
        &kitchen,
        &format!("/api/v1/orders/{id}/accept"),
        None,
        &json!({}),
    )
    .await;
    let ev = next_json(&mut ws).await;
    assert_eq!(
        (ev["type"].as_str(), ev["data"]["to"].as_str()),
        (Some("order.changed"), Some("accepted"))
    );
    let last_seen = ev["cursor"].as_i64().unwrap();
    ws.close(None).await.unwrap();

    // While the KDS is disconnected, three more orders come in.
    let mut missed = vec![];
    for i in 0..3 {
        missed.push(app.place(&cashier, &format!("ev-missed-{i}")).await["id"].clone());
    }
    let mut ws = connect_events(&app, &kitchen, last_seen).await;
    let (replayed, _) = until_caught_up(&mut ws).await;
    let ids: Vec<_> = replayed
        .iter()
        .map(|e| e["data"]["order"]["id"].clone())
        .collect();
    assert_eq!(ids, missed, "exactly the missed orders, in order");
    let cursors: Vec<i64> = replayed
        .iter()
        .map(|e| e["cursor"].as_i64().unwrap())
        .collect();
    assert_eq!(cursors, vec![last_seen + 1, last_seen + 2, last_seen + 3]);

    // And live again after the replay, with the next cursor.
    app.place(&cashier, "ev-after").await;
    let ev = next_json(&mut ws).await;
    assert_eq!(ev["cursor"].as_i64().unwrap(), last_seen + 4);
}

#[tokio::test]
async fn a_burst_reaches_every_subscriber_exactly_once_in_order() {
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;
    let mut a = connect_events(&app, &kitchen, 0).await;
    let (_, head) = until_caught_up(&mut a).await;
    let mut b = connect_events(&app, &kitchen, head).await;
    until_caught_up(&mut b).await;

    let n = 200;
    let mut tasks = vec![];
    for i in 0..n {
        let (http, url, token) = (app.http.clone(), app.url("/api/v1/orders"), cashier.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", format!("burst-{i}"))
                .json(&burger_order())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for ws in [&mut a, &mut b] {
        for expected in head + 1..=head + n {
            let ev = next_json(ws).await;
            assert_eq!(ev["cursor"].as_i64().unwrap(), expected);
        }
    }
}

#[tokio::test]
async fn the_stream_needs_a_session_with_permission() {
    let app = spawn_app().await;
    let err = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/events", app.node.addr))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let kiosk = app.login("kiosk", "5000").await;
    let err = tokio_tungstenite::connect_async(app.ws_url(&kiosk, 0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
}

/// The first message of a stream that a node sends when the cursor is not from its log.
async fn expect_reset(ws: &mut Ws) -> String {
    let m = next_json(ws).await;
    assert_eq!(
        (m["type"].as_str(), m["cursor"].as_i64()),
        (Some("reset"), Some(0)),
        "{m}"
    );
    m["log"].as_str().unwrap().to_owned()
}

/// A KDS that knew a node whose database was replaced (a fresh node at the same
/// address) holds a cursor beyond the new log's end, or from another log. It is
/// told to reset and replays the new log, and the new orders reach it live;
/// before, it skipped every event up to its old cursor while showing "live".
#[tokio::test]
async fn a_cursor_from_a_replaced_database_is_reset() {
    let old = spawn_app().await;
    let cashier = old.cashier().await;
    let kitchen = old.kitchen().await;
    let mut ws = connect_events(&old, &kitchen, 0).await;
    let (_, fresh_head) = until_caught_up(&mut ws).await;
    for i in 0..5 {
        old.place(&cashier, &format!("old-{i}")).await;
    }
    let mut old_cursor = 0;
    while old_cursor < fresh_head + 5 {
        old_cursor = next_json(&mut ws).await["cursor"]
            .as_i64()
            .unwrap_or(old_cursor);
    }
    drop(ws);
    let mut ws = connect_events(&old, &kitchen, old_cursor).await;
    let caught_up = next_json(&mut ws).await;
    assert_eq!(caught_up["type"], "caught_up", "{caught_up}");
    let old_log = caught_up["log"].as_str().unwrap().to_owned();
    drop(ws);

    // The replacement: a fresh database, so its log ends where the old one began.
    let new = spawn_app().await;
    let cashier = new.cashier().await;
    let kitchen = new.kitchen().await;
    // An older client sends no log: its cursor is beyond the end.
    let mut ws = connect_events(&new, &kitchen, old_cursor).await;
    let new_log = expect_reset(&mut ws).await;
    assert_ne!(new_log, old_log);
    let (replayed, head) = until_caught_up(&mut ws).await;
    assert_eq!(head, fresh_head, "the whole new log is replayed");
    assert_eq!(
        replayed.first().map(|e| e["cursor"].as_i64()),
        Some(Some(1))
    );
    let order = new.place(&cashier, "new-0").await;
    let ev = next_json(&mut ws).await;
    assert_eq!(
        (
            ev["type"].as_str(),
            ev["cursor"].as_i64(),
            &ev["data"]["order"]["id"]
        ),
        (Some("order.created"), Some(head + 1), &order["id"]),
        "the new order arrives live though its cursor is below the old one"
    );
    drop(ws);

    // A cursor within the new log's range, but of the old log: reset too.
    let url = format!("{}&log={old_log}", new.ws_url(&kitchen, 2));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(expect_reset(&mut ws).await, new_log);
    let (replayed, _) = until_caught_up(&mut ws).await;
    assert_eq!(replayed.len() as i64, head + 1);
    drop(ws);

    // The new log's own cursor resumes as before (no reset), and `caught_up` names the log.
    let url = format!("{}&log={new_log}", new.ws_url(&kitchen, head));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (resumed, _) = until_caught_up(&mut ws).await;
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["cursor"].as_i64(), Some(head + 1));
    drop(ws);
    let url = format!("{}&log={new_log}", new.ws_url(&kitchen, head + 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let caught_up = next_json(&mut ws).await;
    assert_eq!(
        (caught_up["type"].as_str(), caught_up["log"].as_str()),
        (Some("caught_up"), Some(new_log.as_str()))
    );
}

#[tokio::test]
async fn the_stream_without_an_upgrade_is_a_json_400() {
    let app = spawn_app().await;
    let kitchen = app.kitchen().await;
    let r = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&kitchen)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "websocket_required", "{b}");
    // Who may not subscribe hears that first.
    let r = app
        .http
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A screen that vanishes without closing (its network goes dead, the socket
/// stays open) does not hold its stream forever: the node pings, hears no pong
/// within `ws_timeout_secs`, and closes the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_dropped() {
    let app = spawn_with(|c| c.http.ws_timeout_secs = 1).await;
    let kitchen = app.kitchen().await;
    let relay = relay::Relay::start(
        ([127, 0, 0, 1], 0).into(),
        app.node.addr.to_string().parse().expect("an address"),
    )
    .await
    .expect("the relay starts");
    let url = app
        .ws_url(&kitchen, 0)
        .replace(&app.node.addr.to_string(), &relay.addr().to_string());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    until_caught_up(&mut ws).await;

    relay.set(relay::Link::BlackHole);
    eventually(|| async { (relay.target_ended() == 1).then_some(()) }).await;
    // A live client on the same node keeps its stream (it answers the pings).
    let mut live = connect_events(&app, &kitchen, 0).await;
    until_caught_up(&mut live).await;
    app.place(&app.cashier().await, "after").await;
    assert_eq!(next_json(&mut live).await["type"], "order.created");
}
