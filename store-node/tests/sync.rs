//! The node's sync client against a hub that speaks the real protocol
//! (`sync::session::Session` over an in-memory log, behind a WebSocket): orders
//! reach the hub, a menu edit at the hub reaches the node's menu API, the node
//! keeps taking orders while the hub is down and catches up when it returns.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use domain::menu::Menu;
use store_node::config::{HubConfig, Secret};
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};
use sync::log::{EventStore, MemoryLog};
use sync::session::{Docs, Session};
use sync::wire;
use tokio::sync::Notify;

#[derive(Clone)]
struct FakeHub {
    log: Arc<Mutex<MemoryLog>>,
    docs: Arc<Mutex<Docs>>,
    changed: Arc<Notify>,
    received: Arc<Notify>,
    /// Set to true to drop every open connection (the hub "goes away").
    down: Arc<tokio::sync::watch::Sender<bool>>,
}

impl FakeHub {
    fn new() -> FakeHub {
        let docs = DocKind::ALL
            .into_iter()
            .map(|k| (k, SharedDoc::new(k, b"hub")))
            .collect();
        FakeHub {
            log: Default::default(),
            docs: Arc::new(Mutex::new(docs)),
            changed: Arc::new(Notify::new()),
            received: Arc::new(Notify::new()),
            down: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

async fn upgrade(State(hub): State<FakeHub>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer node-secret") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ws.on_upgrade(move |socket| serve(hub, socket))
}

async fn serve(hub: FakeHub, mut socket: WebSocket) {
    let mut down = hub.down.subscribe();
    let mut session = Session::new("hub", "store-1");
    let start = {
        let log = hub.log.lock().unwrap();
        session.start(&*log, &mut hub.docs.lock().unwrap()).unwrap()
    };
    for f in start {
        if socket
            .send(Message::Binary(wire::encode(&f).into()))
            .await
            .is_err()
        {
            return;
        }
    }
    loop {
        let frames = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    let frame = wire::decode(&b).unwrap();
                    let step = session.receive(frame, &mut *hub.log.lock().unwrap(), &mut hub.docs.lock().unwrap()).unwrap();
                    hub.received.notify_waiters();
                    step.send
                }
                Some(Ok(_)) => continue,
                _ => return,
            },
            _ = hub.changed.notified() => session.flush(&*hub.log.lock().unwrap(), &mut hub.docs.lock().unwrap()).unwrap(),
            _ = down.wait_for(|d| *d) => return,
        };
        for f in frames {
            if socket
                .send(Message::Binary(wire::encode(&f).into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Starts the fake hub on `port` (0 = any); returns its port and a handle to stop it.
async fn start_hub(hub: FakeHub, port: u16) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/api/v1/sync", get(upgrade))
        .with_state(hub);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (port, task)
}

/// Waits (with a deadline) until `check` holds, re-checking whenever the hub receives something.
async fn until(hub: &FakeHub, what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        let _ = tokio::time::timeout(
            left.min(Duration::from_millis(200)),
            hub.received.notified(),
        )
        .await;
    }
}

/// Reads the stream until a `sync.status` notice whose data passes `check`.
async fn next_notice(ws: &mut Ws, check: impl Fn(&serde_json::Value) -> bool) {
    loop {
        let m = next_json(ws).await;
        if m["type"] == "sync.status" {
            assert!(m.get("cursor").is_none(), "a notice has no cursor");
            if check(&m["data"]) {
                return;
            }
        }
    }
}

fn hub_orders(hub: &FakeHub) -> usize {
    hub.log
        .lock()
        .unwrap()
        .events()
        .filter(|e| e.kind == "order.created")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reach_the_hub_and_menu_edits_reach_the_node_offline_and_back() {
    let hub = FakeHub::new();
    let (port, hub_task) = start_hub(hub.clone(), 0).await;
    let app = spawn_with(move |c| {
        c.hub = Some(HubConfig::new(
            format!("ws://127.0.0.1:{port}/api/v1/sync"),
            Secret::new("node-secret"),
        ));
    })
    .await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;
    let mut stream = connect_events(&app, &kitchen, 0).await;

    // The node's demo menu reaches the hub's catalog, and its orders reach the hub's log.
    until(&hub, "the node's menu at the hub", || {
        read_menu(&hub.docs.lock().unwrap()[&DocKind::Catalog]).is_ok_and(|m| m.items.len() == 49)
    })
    .await;
    app.place(&cashier, "s-1").await;
    until(&hub, "the first order at the hub", || hub_orders(&hub) == 1).await;
    let (_, status) = app.get(&cashier, "/api/v1/sync/status").await;
    assert_eq!(status["connected"], true, "{status}");
    // Screens hear about the link on the event stream, as notices without a cursor.
    next_notice(&mut stream, |d| d["connected"] == true).await;

    // The merchant changes a price at the hub; the node's menu API shows it.
    {
        let mut docs = hub.docs.lock().unwrap();
        let doc = docs.get_mut(&DocKind::Catalog).unwrap();
        let mut menu: Menu = read_menu(doc).unwrap();
        menu.items
            .iter_mut()
            .find(|i| i.id.as_str() == "fountain-soda")
            .unwrap()
            .price = 333;
        write_menu(doc, &menu).unwrap();
    }
    hub.changed.notify_waiters();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = app.get(&cashier, "/api/v1/menu").await;
        let price = m["menu"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "fountain-soda")
            .unwrap()["price"]
            .clone();
        if price == 333 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub's price never reached the node"
        );
        hub.changed.notify_waiters();
        tokio::task::yield_now().await;
    }

    // The hub goes away: the node keeps taking orders and says so.
    hub_task.abort();
    let _ = hub_task.await;
    hub.down.send_replace(true);
    next_notice(&mut stream, |d| d["connected"] == false).await;
    for i in 0..5 {
        app.place(&cashier, &format!("offline-{i}")).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, s) = app.get(&cashier, "/api/v1/sync/status").await;
        if s["connected"] == false && s["events_waiting"].as_u64().unwrap_or(0) >= 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sync status never showed the hub as down: {s}"
        );
        tokio::task::yield_now().await;
    }

    // The hub comes back on the same port: the node reconnects by itself and catches up.
    hub.down.send_replace(false);
    let (_, _hub_task) = start_hub(hub.clone(), port).await;
    until(&hub, "the offline orders at the hub", || {
        hub_orders(&hub) == 6
    })
    .await;
    let ids: Vec<uuid::Uuid> = hub.log.lock().unwrap().events().map(|e| e.id).collect();
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "no event twice at the hub");
    let v = hub.log.lock().unwrap().vector().unwrap();
    let node_origin = app.node.state.db.origin.to_string();
    let (_, list) = app.get(&cashier, "/api/v1/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 6);
    assert!(v.get(&node_origin) > 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, s) = app.get(&cashier, "/api/v1/sync/status").await;
        if s["connected"] == true && s["events_waiting"] == 0 {
            assert!(s["last_success_ms"].as_u64().is_some());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never caught up: {s}"
        );
        tokio::task::yield_now().await;
    }

    // An order taken at the hub (a web order, its own origin) shows up at the node.
    let mut web = app.place(&cashier, "template").await;
    let web_id = uuid::Uuid::now_v7().to_string();
    web["id"] = serde_json::json!(web_id);
    web["ticket"] = serde_json::json!("W-0001");
    web["channel"] = serde_json::json!("online");
    hub.log.lock().unwrap().record(
        "store-1",
        "hub",
        "order.created",
        Some(&web_id),
        serde_json::json!({ "order": web }),
    );
    hub.changed.notify_waiters();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, o) = app.get(&cashier, &format!("/api/v1/orders/{web_id}")).await;
        if s == 200 {
            assert_eq!(
                (o["ticket"].as_str(), o["status"].as_str()),
                (Some("W-0001"), Some("placed"))
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub's order never reached the node"
        );
        hub.changed.notify_waiters();
        tokio::task::yield_now().await;
    }
}

/// A link that dies without closing (the relay between node and hub stops
/// moving bytes, both sockets stay open): the node notices within its link
/// timeout, says it is disconnected, and reconnects once traffic flows again;
/// orders taken meanwhile reach the hub then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_link_is_noticed_and_replaced() {
    let hub = FakeHub::new();
    let (port, _hub_task) = start_hub(hub.clone(), 0).await;
    let relay = relay::Relay::start(
        ([127, 0, 0, 1], 0).into(),
        format!("127.0.0.1:{port}").parse().expect("an address"),
    )
    .await
    .expect("the relay starts");
    let url = format!("ws://{}/api/v1/sync", relay.addr());
    let app = spawn_with(move |c| {
        let mut hub = HubConfig::new(url, Secret::new("node-secret"));
        hub.timeout_secs = 1;
        c.hub = Some(hub);
    })
    .await;
    let cashier = app.cashier().await;
    let connected = async |want: bool| {
        eventually(|| async {
            let (_, s) = app.get(&cashier, "/api/v1/sync/status").await;
            (s["connected"] == want).then_some(s)
        })
        .await
    };
    connected(true).await;
    app.place(&cashier, "before").await;
    until(&hub, "the first order at the hub", || hub_orders(&hub) == 1).await;

    relay.set(relay::Link::BlackHole);
    app.place(&cashier, "during").await;
    let s = connected(false).await;
    assert!(
        s["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("nothing heard from the hub"),
        "{s}"
    );

    relay.set(relay::Link::Open);
    connected(true).await;
    until(&hub, "the order taken while the link was dead", || {
        hub_orders(&hub) == 2
    })
    .await;
}

/// The sync link carries the node token and the store's orders: a plain
/// `ws://` URL is refused at start-up unless it stays on this machine or is
/// explicitly allowed (`--allow-insecure-hub`, `[hub] allow_insecure`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_ws_hub_off_this_machine_is_refused_unless_allowed() {
    let bin = env!("CARGO_BIN_EXE_store-node");
    let help = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--allow-insecure-hub"));

    let dir = tempfile::tempdir().unwrap();
    let start = |url: &str, allow: bool| {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["--bind", "127.0.0.1:0", "--mqtt-bind", "off", "--data-dir"])
            .arg(dir.path())
            .env("STORE_NODE__HUB__URL", url)
            .env("STORE_NODE__HUB__TOKEN", "node-secret");
        if allow {
            cmd.arg("--allow-insecure-hub");
        }
        cmd
    };
    for url in [
        "ws://hub.example.com/api/v1/sync",
        "ws://192.0.2.10:9090/api/v1/sync",
        "http://127.0.0.1:9090/api/v1/sync",
    ] {
        let out = start(url, false).output().unwrap();
        assert!(!out.status.success(), "{url} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hub URL"), "{url}: {err}");
    }
    let err = String::from_utf8_lossy(
        &start("ws://192.0.2.10/api/v1/sync", false)
            .output()
            .unwrap()
            .stderr,
    )
    .to_string();
    assert!(
        err.contains("--allow-insecure-hub") && err.contains("unencrypted"),
        "{err}"
    );

    // Loopback and an explicit allowance start (the link itself may then fail).
    for (url, allow) in [
        ("ws://127.0.0.1:9/api/v1/sync", false),
        ("ws://[::1]:9/api/v1/sync", false),
        ("ws://localhost:9/api/v1/sync", false),
        ("ws://192.0.2.10:9/api/v1/sync", true),
        ("wss://hub.example.com:9/api/v1/sync", false),
    ] {
        let d = tempfile::tempdir().unwrap();
        let mut c = common::config(d.path());
        let mut hub = HubConfig::new(url, Secret::new("node-secret"));
        hub.allow_insecure = allow;
        c.hub = Some(hub);
        let node = store_node::run(c).await;
        assert!(node.is_ok(), "{url}: {:?}", node.err());
    }
}

/// Two nodes of one store number their tickets apart: the letter comes with
/// the hub token (`T...` for the store's second node), a token without one
/// (or no hub at all) keeps `S-0001`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_of_a_store_numbers_its_own_tickets() {
    for (token, want) in [
        ("T2c9d0a41f1e7b5c3", "T-0001"),
        ("0f2c9d0a41f1e7b5c3", "S-0001"),
    ] {
        let app = spawn_with(move |c| {
            c.hub = Some(HubConfig::new(
                "ws://127.0.0.1:9/api/v1/sync",
                Secret::new(token),
            ));
        })
        .await;
        let cashier = app.cashier().await;
        assert_eq!(app.place(&cashier, "first").await["ticket"], want);
    }
    let app = spawn_app().await;
    let cashier = app.cashier().await;
    assert_eq!(app.place(&cashier, "first").await["ticket"], "S-0001");
}

/// The last `kitchen.backlog` the hub holds from the node.
fn last_backlog(hub: &FakeHub) -> Option<domain::fact::KitchenBacklog> {
    let log = hub.log.lock().unwrap();
    let e = log
        .events()
        .filter(|e| e.kind == domain::fact::kind::KITCHEN_BACKLOG)
        .max_by_key(|e| e.seq)?;
    Some(serde_json::from_value(e.data.clone()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kitchen_backlog_reaches_the_hub_as_tickets_open_and_close() {
    let hub = FakeHub::new();
    let (port, _hub_task) = start_hub(hub.clone(), 0).await;
    let app = spawn_with(move |c| {
        c.hub = Some(HubConfig::new(
            format!("ws://127.0.0.1:{port}/api/v1/sync"),
            Secret::new("node-secret"),
        ));
    })
    .await;
    let cashier = app.cashier().await;
    let kitchen = app.kitchen().await;
    // At start-up the node says its kitchen is empty (a hub may remember it full).
    until(&hub, "an empty kitchen reported", || {
        last_backlog(&hub).is_some_and(|b| b.open_tickets == 0)
    })
    .await;

    // Two tickets open: reported (after at most the spacing), per station too.
    let first = app.place(&cashier, "kb-1").await;
    app.place(&cashier, "kb-2").await;
    until(&hub, "two open tickets reported", || {
        last_backlog(&hub).is_some_and(|b| b.open_tickets == 2)
    })
    .await;
    let b = last_backlog(&hub).unwrap();
    assert!(!b.stations.is_empty(), "{b:?}");
    assert!(b.stations.iter().all(|s| s.open_tickets <= 2), "{b:?}");

    // The kitchen finishes one: reported again.
    let id = first["id"].as_str().unwrap();
    for step in ["accept", "start", "ready"] {
        let (s, b) = app
            .post(
                &kitchen,
                &format!("/api/v1/orders/{id}/{step}"),
                None,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200, "{step}: {b}");
    }
    until(&hub, "one open ticket reported", || {
        last_backlog(&hub).is_some_and(|b| b.open_tickets == 1)
    })
    .await;
    // Reports are coalesced: fewer than the five order events that changed the backlog.
    let reports = hub
        .log
        .lock()
        .unwrap()
        .events()
        .filter(|e| e.kind == domain::fact::kind::KITCHEN_BACKLOG)
        .count();
    assert!(reports <= 4, "{reports} reports");
}
