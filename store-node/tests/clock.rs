//! Time-dependent behaviour of the node, driven by a `ManualClock` through the real
//! router instead of waiting: a session expires when the clock passes its expiry, the
//! PIN lockout ends a minute later on the clock, a failing printer is retried when its
//! backoff has elapsed on the clock (and not before), and a stored idempotent answer is
//! still replayed a month later and forgotten after its 45 days.
//!
//! The print lane still paces itself with real tokio timers (it re-reads the clock at
//! least every `status_poll_ms`, 500 ms in tests); what it decides — whether a job is
//! due — comes from the clock. So "not retried before the backoff" is checked over a
//! short real wait with the clock standing still, and "retried after" by stepping the
//! clock, never by waiting out the backoff itself (ten minutes here).

mod common;

use std::time::Duration;

use common::*;
use drivers::printer_sim::{SimOptions, VirtualPrinter};
use serde_json::{Value, json};
use test_support::Clock;

const MINUTE: Duration = Duration::from_secs(60);

/// Signs in (no assertion on the answer): its status and body.
async fn login(node: &TestNode, staff: &str, pin: &str) -> (u16, Value) {
    let r = node
        .http
        .post(node.url("/api/v1/auth/login"))
        .json(&json!({ "staff_id": staff, "pin": pin }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_session_stops_working_when_the_clock_passes_its_expiry() {
    let (node, clock) = TestNode::with_clock(|c| c.session_ttl_secs = 8 * 3600).await;
    let (s, login) = login(&node, "cashier", "3000").await;
    assert_eq!(s, 200, "{login}");
    let token = login["token"].as_str().unwrap();
    let expires = CLOCK_START_MS as u64 + 8 * 3600 * 1000;
    assert_eq!(
        login["expires_ms"], expires,
        "expiry = the clock's now + TTL"
    );

    // One millisecond before the expiry it still works ...
    clock.advance(Duration::from_secs(8 * 3600) - Duration::from_millis(1));
    let (s, b) = node.get(token, "/api/v1/menu").await;
    assert_eq!(s, 200, "{b}");
    // ... and at the expiry it does not, with no real time having passed.
    clock.advance(Duration::from_millis(1));
    assert_eq!(clock.now().as_u64(), expires);
    let (s, b) = node.get(token, "/api/v1/menu").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("session_expired")),
        "{b}"
    );
    // Signing in again gives a session that runs from the new time.
    let (s, again) = self::login(&node, "cashier", "3000").await;
    assert_eq!(s, 200);
    assert_eq!(again["expires_ms"], expires + 8 * 3600 * 1000);
}

#[tokio::test]
async fn the_pin_lockout_ends_a_minute_later_on_the_clock() {
    let (node, clock) = TestNode::with_clock(|_| {}).await;
    for pin in ["0001", "0002", "0003", "0004", "0005"] {
        let (s, _) = login(&node, "cashier", pin).await;
        assert_eq!(s, 401, "wrong PIN {pin}");
    }
    let (s, b) = login(&node, "cashier", "3000").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("too_many_attempts"))
    );

    // Locked for a minute of the node's time: a second short, still locked.
    clock.advance(MINUTE - Duration::from_secs(1));
    let (s, _) = login(&node, "cashier", "3000").await;
    assert_eq!(s, 429, "59 s after the fifth wrong PIN");
    // The minute is over: the right PIN signs in, without anyone waiting a minute.
    clock.advance(Duration::from_secs(1));
    let (s, b) = login(&node, "cashier", "3000").await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_failing_printer_is_retried_when_its_backoff_has_elapsed_on_the_clock() {
    let base = 10 * MINUTE;
    let (node, clock) = TestNode::with_clock(|c| {
        c.print.retry_base_ms = base.as_millis() as u64;
        c.print.attempts = 3;
    })
    .await;
    let mgr = node.manager().await;
    // An unplugged printer: nothing listens on its port, and it answers no status query
    // (an answer would make the lane retry at once, whatever the clock says).
    let gone = VirtualPrinter::tcp(
        "127.0.0.1:0",
        SimOptions {
            name: "gone".into(),
            ..Default::default()
        },
    )
    .expect("virtual printer listens");
    let port = gone.addr().unwrap().port();
    gone.set_accepting(false).unwrap();
    let (s, b) = node
        .post(
            &mgr,
            "/api/v1/devices",
            Some("reg-grill"),
            &json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill", "station": "grill",
                "transport": {"type": "tcp", "host": "127.0.0.1", "port": port}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let cashier = node.cashier().await;
    node.place(&cashier, "backoff-1").await;

    let queued = |attempts: u64| {
        let (node, mgr) = (&node, &mgr);
        move || async move {
            let (_, jobs) = node.get(mgr, "/api/v1/print-jobs?state=queued").await;
            let j = jobs["jobs"].get(0)?.clone();
            (j["attempts"] == attempts && j["last_error"].is_string()).then_some(j)
        }
    };
    let start = CLOCK_START_MS as u64;
    // The first attempt fails at once; the next is due one backoff later on the clock.
    let j = eventually(queued(1)).await;
    assert_eq!(j["next_attempt_ms"], start + base.as_millis() as u64, "{j}");
    assert_eq!(j["created_ms"], start, "{j}");

    // The clock stands still: however long the lane waits in real time, nothing is due.
    // (Three of its 500 ms polling rounds.)
    let still = || async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=queued").await;
        jobs["jobs"][0]["attempts"].clone()
    };
    assert_eq!(still().await, 1, "not retried while the clock stands still");
    clock.advance(base - Duration::from_secs(1));
    assert_eq!(
        still().await,
        1,
        "not retried a second before the backoff ends"
    );

    // The backoff has elapsed on the clock: the second attempt, and the next backoff doubles.
    let t = clock.advance(Duration::from_secs(1));
    let j = eventually(queued(2)).await;
    assert_eq!(
        j["next_attempt_ms"],
        t.as_u64() + 2 * base.as_millis() as u64,
        "{j}"
    );
    clock.advance(base);
    assert_eq!(
        still().await,
        2,
        "half of the doubled backoff is not enough"
    );

    // The rest of it: the third and last attempt leaves the job dead.
    clock.advance(base);
    let dead = eventually(|| async {
        let (_, jobs) = node.get(&mgr, "/api/v1/print-jobs?state=dead").await;
        jobs["jobs"].get(0).cloned()
    })
    .await;
    assert_eq!(dead["attempts"], 3, "{dead}");
}

#[tokio::test]
async fn a_stored_idempotent_answer_is_replayed_a_month_later() {
    let (node, clock) = TestNode::with_clock(|_| {}).await;
    let token = node.cashier().await;
    let first = node.place(&token, "month-1").await;
    assert_eq!(
        first["created_ms"], CLOCK_START_MS,
        "stamped with the clock's time"
    );

    // Thirty days on the clock: the node keeps stored answers for 45, so a till's late
    // retry still gets its order back, not a second one.
    clock.advance(30 * 24 * 60 * MINUTE);
    let (s, b) = node.get(&token, "/api/v1/menu").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
    let token = node.cashier().await;
    let r = node
        .http
        .post(node.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "month-1")
        .json(&burger_order())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, first);
    // The key is still bound to its request: another body under it is refused.
    let mut other = burger_order();
    other["table"] = json!("7");
    let (s, b) = node
        .post(&token, "/api/v1/orders", Some("month-1"), &other)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let (_, list) = node.get(&token, "/api/v1/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stored_idempotent_answer_expires_after_45_days() {
    let (node, clock) = TestNode::with_clock(|_| {}).await;
    let token = node.cashier().await;
    node.place(&token, "old-key").await;

    // Past the 45 days, the next stored answer sweeps the old one: its key is free again.
    clock.advance(Duration::from_secs(45 * 24 * 3600) + MINUTE);
    let token = node.cashier().await;
    node.place(&token, "new-key").await;
    let mut other = burger_order();
    other["table"] = json!("7");
    let r = node
        .http
        .post(node.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "old-key")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "an expired key is a new request");
    assert!(r.headers().get("idempotent-replayed").is_none());
    let (_, list) = node.get(&token, "/api/v1/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 3);
}

/// Every "what time is it" of the node goes through its clock: no source file but the
/// listed ones reads the wall clock itself. (`Instant` is allowed: it measures how
/// long something took or paces work, it does not say what time it is.)
#[test]
fn the_node_reads_the_wall_clock_only_through_its_clock() {
    // File, and why it may read the wall clock.
    let allowed: &[(&str, &str)] = &[(
        "mqtt/sessions.rs",
        "when an MQTT session last sent a packet: broker bookkeeping, neither stored nor decided on",
    )];
    let mut forbidden = test_support::WALL_CLOCK_READS.to_vec();
    forbidden.push("now_ms()");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (scanned, offenders) = test_support::wall_clock_reads(&src, &forbidden, |file, code| {
        // `lib.rs` chooses the production clock.
        allowed.iter().any(|(f, _)| *f == file)
            || (file == "lib.rs" && code.contains("SystemClock"))
    });
    assert!(scanned > 20, "the scan sees the node's sources ({scanned})");
    assert!(
        offenders.is_empty(),
        "read the time through the node's clock (AppState::now, Db::now, WriteCtx::now):\n{}",
        offenders.join("\n")
    );
}
