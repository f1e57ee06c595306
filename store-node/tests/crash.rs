//! Crash safety: clients post orders while the node is killed with SIGKILL,
//! again and again. After every restart each order that was acknowledged (2xx)
//! is present exactly once, and SQLite's integrity check passes.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::burger_order;
use serde_json::{Value, json};
use test_support::{Server, node_command, spawn};

/// The demo node on the database in `dir`, as a process of its own (so SIGKILL is a crash).
fn start(dir: &Path) -> Server {
    spawn(node_command(
        Path::new(env!("CARGO_BIN_EXE_store-node")),
        dir,
    ))
}

fn integrity_ok(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("store.db")).unwrap();
    let r: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(r, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_repeated_sigkill() {
    let dir = test_support::temp_dir();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // key -> order id, for every 2xx.
    let acked: Arc<Mutex<HashMap<String, String>>> = Default::default();
    let ack_signal = Arc::new(tokio::sync::Notify::new());
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 60;
    const CLIENTS: usize = 8;

    for round in 0..ROUNDS {
        let mut node = start(dir.path());
        let login: Value = http
            .post(format!("{}/api/v1/auth/login", node.base))
            .json(&json!({"staff_id": "cashier", "pin": "3000"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().unwrap().to_owned();

        // Everything acknowledged before is still there, exactly once.
        let known: Vec<(String, String)> = acked
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, id) in &known {
            let r = http
                .get(format!("{}/api/v1/orders/{id}", node.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                200,
                "acknowledged order {id} ({key}) lost after a crash"
            );
            // A retry of an acknowledged request returns the same order, never a second one.
            let r = http
                .post(format!("{}/api/v1/orders", node.base))
                .bearer_auth(&token)
                .header("Idempotency-Key", key)
                .json(&burger_order())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let b: Value = r.json().await.unwrap();
            assert_eq!(
                b["id"].as_str(),
                Some(id.as_str()),
                "retry of {key} made a different order"
            );
        }

        // A burst from several clients; kill the node once enough of this round are acknowledged.
        let target = known.len() + PER_ROUND;
        let mut clients = vec![];
        for c in 0..CLIENTS {
            let (http, base, token, acked) = (
                http.clone(),
                node.base.clone(),
                token.clone(),
                acked.clone(),
            );
            let ack_signal = ack_signal.clone();
            clients.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("crash-r{round}-c{c}-{i}");
                    let r = http
                        .post(format!("{base}/api/v1/orders"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&burger_order())
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let b: Value = r.json().await.unwrap_or(Value::Null);
                            if let Some(id) = b["id"].as_str() {
                                acked.lock().unwrap().insert(key, id.to_owned());
                                ack_signal.notify_one();
                            }
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => return, // the node is gone
                    }
                }
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < target {
            let left = deadline.saturating_duration_since(Instant::now());
            let woke = tokio::time::timeout(left, ack_signal.notified()).await;
            assert!(woke.is_ok(), "round {round}: node stopped acknowledging");
        }
        node.proc.kill(); // SIGKILL, mid-burst
        for c in clients {
            c.await.unwrap();
        }
        integrity_ok(dir.path());
    }

    // Final check straight from the file: one order and one idempotency record per acknowledged key.
    let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
    let acked = acked.lock().unwrap();
    assert!(acked.len() >= ROUNDS * PER_ROUND);
    for (key, id) in acked.iter() {
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM orders WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "order {id}");
        let body: String = conn
            .query_row("SELECT body FROM idempotency WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(body.contains(id.as_str()));
    }
    let orders: i64 = conn
        .query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))
        .unwrap();
    let keys: i64 = conn
        .query_row("SELECT COUNT(*) FROM idempotency", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        orders, keys,
        "every stored order has exactly one idempotency record: no duplicates"
    );
    let events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM event_log WHERE kind = 'order.created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        events, orders,
        "each order has exactly one order.created event"
    );
}

/// Signs in to a node started with `start`.
async fn login(http: &reqwest::Client, node: &Server, staff: &str, pin: &str) -> String {
    let r: Value = http
        .post(format!("{}/api/v1/auth/login", node.base))
        .json(&json!({"staff_id": staff, "pin": pin}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_owned()
}

/// A card approved at the terminal while the node dies before recording it:
/// after the restart the node asks the terminal for its last transaction
/// (ZVT Repeat Receipt) and records the payment exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_approved_while_the_node_was_killed_is_recorded_once_after_restart() {
    use drivers::zvt::sim::{Scenario, SimOutcome, TerminalSim};
    let dir = test_support::temp_dir();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Approves, then never sends Completion: the node is still waiting when it is killed.
    let sim = Arc::new(TerminalSim::pty(Scenario::ApproveWithoutCompletion).unwrap());
    let mut node = start(dir.path());
    let mgr = login(&http, &node, "manager", "2000").await;
    let r = http
        .post(format!("{}/api/v1/devices", node.base))
        .bearer_auth(&mgr)
        .header("Idempotency-Key", "reg-t1")
        .json(
            &json!({"id": "t1", "kind": "card_terminal", "name": "Counter terminal",
            "transport": {"type": "serial", "path": sim.device_path().unwrap(), "baud": 9600}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cashier = login(&http, &node, "cashier", "3000").await;
    let order: Value = http
        .post(format!("{}/api/v1/orders", node.base))
        .bearer_auth(&cashier)
        .header("Idempotency-Key", "card-crash-order")
        .json(&burger_order())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    let total = order["totals"]["total"].as_i64().unwrap();
    let pay = {
        let (http, url, token) = (
            http.clone(),
            format!("{}/api/v1/orders/{id}/payments", node.base),
            cashier.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "card-crash-pay")
                .json(&json!({"method": "card"}))
                .send()
                .await
        })
    };
    // The terminal approves; the node has not heard the end of it.
    let approved = {
        let sim = sim.clone();
        tokio::task::spawn_blocking(move || {
            sim.wait_for(Duration::from_secs(20), |t| {
                t.iter()
                    .any(|t| matches!(t.outcome, SimOutcome::Approved { .. }))
            })
        })
        .await
        .unwrap()
    };
    assert_eq!(approved.len(), 1, "{approved:?}");
    node.proc.kill(); // SIGKILL
    assert!(pay.await.unwrap().is_err(), "the till never got an answer");

    let mut node = start(dir.path());
    let cashier = login(&http, &node, "cashier", "3000").await;
    let paid = common::eventually(|| async {
        let o: Value = http
            .get(format!("{}/api/v1/orders/{id}", node.base))
            .bearer_auth(&cashier)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (o["paid"].as_i64() == Some(total)).then_some(o)
    })
    .await;
    assert_eq!(paid["paid"], total);
    // The till retries its request: it gets the recovered payment, and the card is not asked again.
    let r = http
        .post(format!("{}/api/v1/orders/{id}/payments", node.base))
        .bearer_auth(&cashier)
        .header("Idempotency-Key", "card-crash-pay")
        .json(&json!({"method": "card"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["payment"]["reference"]
            .as_str()
            .is_some_and(|r| r.contains("52500038")),
        "{b}"
    );
    assert_eq!(sim.transactions().len(), 1, "the card was charged once");
    let mgr = login(&http, &node, "manager", "2000").await;
    let open: Value = http
        .get(format!("{}/api/v1/card-payments/unsettled", node.base))
        .bearer_auth(&mgr)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(open["attempts"], json!([]), "{open}");
    node.proc.kill();

    // Another restart records nothing more: exactly one payment, one event.
    let mut node = start(dir.path());
    let cashier = login(&http, &node, "cashier", "3000").await;
    let o: Value = http
        .get(format!("{}/api/v1/orders/{id}", node.base))
        .bearer_auth(&cashier)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(o["paid"], total);
    node.proc.kill();
    let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
    let payments: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM payments WHERE order_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(payments, 1);
    let events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM event_log WHERE kind = 'payment.recorded' AND subject = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 1);
}
