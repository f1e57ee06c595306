//! Printing end to end: devices registered through the API, orders placed
//! through the API, and the bytes that arrive at virtual printers (TCP and
//! pseudo-terminals) decoded back into text.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use drivers::escpos_status::Status;
use drivers::printer_sim::{Job, SimOptions, VirtualPrinter};
use serde_json::{Value, json};

fn tcp_printer(name: &str) -> Arc<VirtualPrinter> {
    Arc::new(
        VirtualPrinter::tcp(
            "127.0.0.1:0",
            SimOptions {
                name: name.into(),
                ..Default::default()
            },
        )
        .expect("virtual printer listens"),
    )
}

fn pty_printer(name: &str) -> Arc<VirtualPrinter> {
    Arc::new(
        VirtualPrinter::pty(SimOptions {
            name: name.into(),
            ..Default::default()
        })
        .expect("virtual printer on a pty"),
    )
}

fn tcp(p: &VirtualPrinter) -> Value {
    let a = p.addr().unwrap();
    json!({ "type": "tcp", "host": a.ip().to_string(), "port": a.port() })
}

/// The next job the printer receives, within `secs`.
async fn job(p: &Arc<VirtualPrinter>, secs: u64) -> Option<Job> {
    let p = p.clone();
    tokio::task::spawn_blocking(move || p.wait_job(Duration::from_secs(secs)))
        .await
        .unwrap()
}

async fn register(node: &TestNode, token: &str, body: Value) -> Value {
    let key = format!("reg-{}", body["id"].as_str().unwrap());
    let (s, b) = node.post(token, "/api/v1/devices", Some(&key), &body).await;
    assert_eq!(s, 201, "{b}");
    b
}

/// Replaces what changes from run to run (the order id, "YYYY-MM-DD HH:MM" times) so the
/// decoded text can be snapshotted.
fn redact(text: &str, order: &Value) -> String {
    let t = text.replace(order["id"].as_str().unwrap(), "<order-id>");
    let b = t.as_bytes();
    let is_stamp = |w: &[u8]| {
        w.iter().enumerate().all(|(k, c)| match k {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
    };
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b.len() - i >= 16 && is_stamp(&b[i..i + 16]) {
            out.extend_from_slice(b"<time>");
            i += 16;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_order_prints_kitchen_tickets_per_station_and_a_paid_receipt_opens_the_drawer() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    let receipt = tcp_printer("receipt");
    let grill = pty_printer("grill");
    let bar = tcp_printer("bar");
    register(&node, &mgr, json!({"id": "front", "kind": "receipt_printer", "name": "Front counter", "transport": tcp(&receipt)})).await;
    register(&node, &mgr, json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill", "station": "grill",
        "transport": {"type": "serial", "path": grill.device_path().unwrap(), "baud": 19200}})).await;
    register(&node, &mgr, json!({"id": "bar-printer", "kind": "kitchen_printer", "name": "Bar", "station": "bar", "transport": tcp(&bar)})).await;
    register(&node, &mgr, json!({"id": "drawer", "kind": "cash_drawer", "name": "Till", "transport": {"type": "via_printer", "printer_id": "front"}})).await;

    let cashier = node.cashier().await;
    let order = node.place(&cashier, "print-1").await;
    let ticket = order["ticket"].as_str().unwrap();

    let g = job(&grill, 10).await.expect("the grill ticket prints");
    let b = job(&bar, 10).await.expect("the bar ticket prints");
    let gt = g.page.to_text();
    assert!(gt.contains(ticket), "{gt}");
    assert!(gt.contains("Harbor Classic Burger"), "{gt}");
    assert!(
        !gt.contains("Fountain"),
        "the grill gets only grill lines: {gt}"
    );
    assert!(b.page.to_text().contains("Fountain Soda"));
    insta::assert_snapshot!("kitchen_ticket_grill", redact(&gt, &order));
    // Nothing for the receipt printer before payment.
    assert!(job(&receipt, 0).await.is_none());

    let due = order["totals"]["total"].as_i64().unwrap();
    let (s, paid) = node
        .post(
            &cashier,
            &format!("/api/v1/orders/{}/payments", order["id"].as_str().unwrap()),
            Some("pay-1"),
            &json!({"method": "cash", "tendered": due + 500}),
        )
        .await;
    assert_eq!(s, 201, "{paid}");
    // The drawer kick goes to the receipt printer's drawer port first, then the receipt.
    let kick = job(&receipt, 10).await.expect("the drawer kick arrives");
    assert_eq!(kick.drawer_kicks, 1);
    assert_eq!(kick.raw, vec![0x1b, 0x70, 0x00, 0x19, 0xfa]);
    let r = job(&receipt, 10).await.expect("the receipt prints");
    let rt = r.page.to_text();
    assert!(rt.contains("TOTAL"), "{rt}");
    assert!(rt.contains("Change"), "{rt}");
    assert!(rt.contains("[QR"), "{rt}");
    insta::assert_snapshot!("receipt_cash", redact(&rt, &order));

    // The queue shows them printed once the last one's result is recorded.
    let jobs = eventually(|| async {
        let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=done").await;
        (jobs["jobs"].as_array().unwrap().len() == 4).then_some(jobs)
    })
    .await;
    let kinds: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["receipt", "drawer", "kitchen", "kitchen"],
        "newest first"
    );
}

#[tokio::test]
async fn a_printer_that_is_gone_is_retried_then_dead_lettered_then_reprinted_on_a_backup() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    // A printer that is unplugged: nothing listens on its port.
    let gone = tcp_printer("gone");
    let addr = gone.addr().unwrap();
    gone.set_accepting(false).unwrap();
    register(&node, &mgr, json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill", "station": "grill",
        "transport": {"type": "tcp", "host": "127.0.0.1", "port": addr.port()}})).await;
    let mut ws = connect_events(&node, &mgr, 0).await;
    until_caught_up(&mut ws).await;

    let cashier = node.cashier().await;
    let order = node.place(&cashier, "gone-1").await;
    // Three attempts, then the dead-letter list, announced on the event stream.
    let dead = loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "print.job" && m["data"]["state"] == "dead" {
            break m;
        }
    };
    let job_id = dead["data"]["id"].as_str().unwrap().to_owned();
    let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=dead").await;
    let j = &jobs["jobs"][0];
    assert_eq!(j["id"], job_id.as_str());
    assert_eq!(j["attempts"], 3);
    assert_eq!(j["order_id"], order["id"]);
    assert!(
        j["last_error"].as_str().unwrap().contains("refused")
            || j["last_error"].as_str().unwrap().contains("nreachable"),
        "{j}"
    );
    let (_, dev) = node.get(&mgr, "/api/v1/devices/grill-printer").await;
    assert_eq!(dev["dead_jobs"], 1, "{dev}");
    assert_eq!(dev["health"]["state"], "offline", "{dev}");
    // The log (and so the hub, through sync) learns the printer has a ticket that did not print.
    let logged = loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "device.health"
            && m["data"]["id"] == "grill-printer"
            && m["data"]["health"]["dead_jobs"] == 1
        {
            break m;
        }
    };
    assert_eq!(logged["data"]["health"]["state"], "offline", "{logged}");

    // A cashier may not reprint; a manager sends it to a backup printer.
    let backup = tcp_printer("backup");
    register(&node, &mgr, json!({"id": "backup", "kind": "receipt_printer", "name": "Backup", "transport": tcp(&backup)})).await;
    let (s, _) = node
        .post(
            &cashier,
            &format!("/api/v1/print-jobs/{job_id}/reprint"),
            Some("re-1"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, b) = node
        .post(
            &mgr,
            &format!("/api/v1/print-jobs/{job_id}/reprint"),
            Some("re-1"),
            &json!({"device_id": "backup"}),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let printed = job(&backup, 10)
        .await
        .expect("the backup prints the ticket");
    assert!(
        printed
            .page
            .to_text()
            .contains(order["ticket"].as_str().unwrap())
    );
    let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=dead").await;
    assert!(jobs["jobs"].as_array().unwrap().is_empty(), "{jobs}");
    // Sent again, the ticket no longer counts against the grill printer.
    loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "device.health"
            && m["data"]["id"] == "grill-printer"
            && m["data"]["health"]["dead_jobs"] == 0
        {
            break;
        }
    }
}

#[tokio::test]
async fn paper_out_is_reported_and_the_ticket_prints_after_a_reprint() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    let grill = tcp_printer("grill");
    grill.set_status(Status {
        online: true,
        paper_out: true,
        ..Status::default()
    });
    // Subscribe first: the printer's lane may report paper out as soon as it is registered.
    let mut ws = connect_events(&node, &mgr, 0).await;
    until_caught_up(&mut ws).await;
    register(&node, &mgr, json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill", "station": "grill", "transport": tcp(&grill)})).await;
    let cashier = node.cashier().await;
    node.place(&cashier, "paper-1").await;
    let mut saw_attention = false;
    let dead = loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "device.status" && m["data"]["health"]["state"] == "attention" {
            assert_eq!(m["data"]["health"]["printer"]["paper_out"], true, "{m}");
            saw_attention = true;
        }
        if m["type"] == "print.job" && m["data"]["state"] == "dead" {
            break m;
        }
    };
    assert!(saw_attention, "paper out was announced");
    assert_eq!(dead["data"]["error"], "out of paper");
    // Paper in, reprint on the same printer.
    grill.set_status(Status {
        online: true,
        ..Status::default()
    });
    let id = dead["data"]["id"].as_str().unwrap();
    let (s, _) = node
        .post(
            &mgr,
            &format!("/api/v1/print-jobs/{id}/reprint"),
            Some("re-paper"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202);
    assert!(job(&grill, 10).await.is_some());
}

/// Many network printers close their side late, or only after the host: their answer to a
/// status question after the job is what shows they took it, and the ticket prints once.
#[tokio::test]
async fn a_printer_that_is_slow_to_close_prints_each_ticket_once() {
    // Slower to close than a send may take, so waiting for the close would fail every attempt.
    let node = spawn_app().await;
    let close_delay = Duration::from_millis(node.node.state.config.print.send_timeout_ms * 3);
    let grill = Arc::new(
        VirtualPrinter::tcp(
            "127.0.0.1:0",
            SimOptions {
                name: "grill".into(),
                close_delay,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let mgr = node.manager().await;
    register(&node, &mgr, json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill", "station": "grill", "transport": tcp(&grill)})).await;
    let cashier = node.cashier().await;
    let order = node.place(&cashier, "slow-close-1").await;
    let jobs = eventually(|| async {
        let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs").await;
        (jobs["jobs"][0]["state"] != "queued").then_some(jobs)
    })
    .await;
    let j = &jobs["jobs"][0];
    assert_eq!(
        (&j["state"], &j["attempts"]),
        (&json!("done"), &json!(1)),
        "{j}"
    );
    let printed = job(&grill, 0).await.expect("the ticket printed");
    assert!(
        printed
            .page
            .to_text()
            .contains(order["ticket"].as_str().unwrap())
    );
    assert!(job(&grill, 0).await.is_none(), "printed once");
}

#[tokio::test]
async fn queued_jobs_survive_a_node_restart() {
    let dir = tempfile::tempdir().unwrap();
    let grill = tcp_printer("grill");
    let port = grill.addr().unwrap().port();
    grill.set_accepting(false).unwrap();
    let tickets: Vec<String> = {
        let node = start_in(dir.path(), |c| c.print.retry_base_ms = 60_000).await;
        let mgr = node.manager().await;
        register(&node, &mgr, json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill", "station": "grill",
            "transport": {"type": "tcp", "host": "127.0.0.1", "port": port}})).await;
        let cashier = node.cashier().await;
        let mut t = vec![];
        for i in 0..5 {
            let o = node.place(&cashier, &format!("restart-{i}")).await;
            t.push(o["ticket"].as_str().unwrap().to_owned());
        }
        let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=queued").await;
        assert_eq!(jobs["jobs"].as_array().unwrap().len(), 5, "{jobs}");
        node.node.shutdown().await.unwrap();
        t
    };
    // The printer is back; a new node process on the same database prints every ticket once.
    grill.set_accepting(true).unwrap();
    // A loaded machine may take seconds to answer: the production send timeout, not the tests'
    // short one, so that a slow answer is not taken for a failure and printed again.
    let node = start_in(dir.path(), |c| {
        c.print.send_timeout_ms = store_node::printing::PrintConfig::default().send_timeout_ms
    })
    .await;
    let mut printed = vec![];
    for _ in 0..5 {
        let j = job(&grill, 15)
            .await
            .expect("a queued ticket prints after the restart");
        let text = j.page.to_text();
        let t = tickets
            .iter()
            .find(|t| text.contains(t.as_str()))
            .expect("one of ours")
            .clone();
        printed.push(t);
    }
    printed.sort();
    let mut want = tickets.clone();
    want.sort();
    assert_eq!(printed, want);
    let mgr = node.manager().await;
    let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=queued").await;
    assert!(jobs["jobs"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn registrations_are_checked() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    let cashier = node.cashier().await;
    let printer = json!({"id": "p1", "kind": "receipt_printer", "name": "Front", "transport": {"type": "tcp", "host": "127.0.0.1", "port": 9100}});
    let (s, b) = node
        .post(&cashier, "/api/v1/devices", Some("c1"), &printer)
        .await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = node.post(&mgr, "/api/v1/devices", None, &printer).await;
    assert_eq!(s, 400, "an Idempotency-Key is required: {b}");
    for (body, code) in [
        (
            json!({"id": "k", "kind": "kitchen_printer", "name": "K", "transport": {"type": "tcp", "host": "h", "port": 9100}}),
            "invalid_device",
        ),
        (
            json!({"id": "k", "kind": "kitchen_printer", "name": "K", "station": "sushi", "transport": {"type": "tcp", "host": "h", "port": 9100}}),
            "unknown_station",
        ),
        (
            json!({"id": "k", "kind": "receipt_printer", "name": "K", "transport": {"type": "file", "path": "/etc/passwd"}}),
            "invalid_transport",
        ),
        (
            json!({"id": "k", "kind": "receipt_printer", "name": "K", "transport": {"type": "serial", "path": "/tmp/x", "baud": 9600}}),
            "invalid_transport",
        ),
        (
            json!({"id": "k", "kind": "receipt_printer", "name": "K", "transport": {"type": "serial", "path": "/dev/ttyS0", "baud": 0}}),
            "invalid_transport",
        ),
        (
            json!({"id": "k", "kind": "receipt_printer", "name": "K", "transport": {"type": "tcp", "host": "h", "port": 0}}),
            "invalid_transport",
        ),
        (
            json!({"id": "k.1", "kind": "kiosk", "name": "K", "transport": {"type": "mqtt"}}),
            "invalid_device_id",
        ),
        (
            json!({"id": "k", "kind": "kiosk", "name": "K", "transport": {"type": "tcp", "host": "h", "port": 1}}),
            "invalid_device",
        ),
        (
            json!({"id": "d", "kind": "cash_drawer", "name": "D", "transport": {"type": "via_printer", "printer_id": "nope"}}),
            "unknown_printer",
        ),
    ] {
        let key = format!("bad-{}", uuid::Uuid::now_v7());
        let (s, b) = node.post(&mgr, "/api/v1/devices", Some(&key), &body).await;
        assert_eq!(s, 422, "{body} -> {b}");
        assert_eq!(b["error"]["code"], code, "{body} -> {b}");
    }
    let (s, b) = node
        .post(&mgr, "/api/v1/devices", Some("ok-1"), &printer)
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(b["mqtt"]["password"].as_str().unwrap().len() >= 32);
    // A retry returns the same answer; a second registration under the same id is a conflict.
    let (s, again) = node
        .post(&mgr, "/api/v1/devices", Some("ok-1"), &printer)
        .await;
    assert_eq!((s, &again), (201, &b));
    let (s, b) = node
        .post(&mgr, "/api/v1/devices", Some("ok-2"), &printer)
        .await;
    assert_eq!(s, 409, "{b}");
    // Removing it keeps it listed only when asked.
    let r = node
        .http
        .delete(node.url("/api/v1/devices/p1"))
        .bearer_auth(&mgr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = node.get(&mgr, "/api/v1/devices").await;
    assert!(list["devices"].as_array().unwrap().is_empty());
    let (_, list) = node.get(&mgr, "/api/v1/devices?include_removed=true").await;
    assert_eq!(list["devices"][0]["active"], false);
}
