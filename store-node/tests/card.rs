//! Card payments through the API, against the ZVT terminal simulator on a
//! pseudo-terminal: approve, decline, cancel at the terminal, busy, silence
//! and garbage on the line.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use drivers::printer_sim::{SimOptions, VirtualPrinter};
use drivers::zvt::sim::{Scenario, TerminalSim};
use serde_json::{Value, json};

async fn setup(scenario: Scenario) -> (TestNode, TerminalSim, String) {
    let node = spawn_with(|c| c.terminal.timeout_secs = 5).await;
    let sim = TerminalSim::pty(scenario).expect("terminal simulator on a pty");
    let mgr = node.manager().await;
    let (s, b) = node
        .post(
            &mgr,
            "/api/v1/devices",
            Some("reg-t1"),
            &json!({
                "id": "t1", "kind": "card_terminal", "name": "Counter terminal",
                "transport": {"type": "serial", "path": sim.device_path().unwrap(), "baud": 9600}
            }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let cashier = node.cashier().await;
    (node, sim, cashier)
}

async fn pay_card(node: &TestNode, token: &str, order: &Value, key: &str) -> (u16, Value) {
    node.post(
        token,
        &format!("/api/v1/orders/{}/payments", order["id"].as_str().unwrap()),
        Some(key),
        &json!({"method": "card"}),
    )
    .await
}

#[tokio::test]
async fn an_approved_card_payment_records_the_terminal_reference_and_prints_it() {
    let (node, sim, cashier) = setup(Scenario::Approve).await;
    let mgr = node.manager().await;
    let receipt = Arc::new(VirtualPrinter::tcp("127.0.0.1:0", SimOptions::default()).unwrap());
    let a = receipt.addr().unwrap();
    let (s, _) = node
        .post(
            &mgr,
            "/api/v1/devices",
            Some("reg-r"),
            &json!({"id": "front", "kind": "receipt_printer", "name": "Front",
            "transport": {"type": "tcp", "host": a.ip().to_string(), "port": a.port()}}),
        )
        .await;
    assert_eq!(s, 201);
    let order = node.place(&cashier, "card-1").await;
    let (s, b) = pay_card(&node, &cashier, &order, "pay-card-1").await;
    assert_eq!(s, 201, "{b}");
    let p = &b["payment"];
    assert_eq!(p["method"], "card");
    assert_eq!(p["amount"], order["totals"]["total"]);
    assert_eq!(b["order"]["paid"], order["totals"]["total"]);
    let reference = p["reference"].as_str().unwrap();
    assert!(
        reference.contains("52500038"),
        "the terminal id is in the reference: {reference}"
    );
    // No card number anywhere in what we store or answer.
    let txs = sim.transactions();
    assert_eq!(txs.len(), 1);
    assert!(!b.to_string().contains("672"), "no PAN digits in {b}");
    // A retry with the same key is the same payment, not a second charge.
    let (s, again) = pay_card(&node, &cashier, &order, "pay-card-1").await;
    assert_eq!(s, 201);
    assert_eq!(again, b);
    assert_eq!(sim.transactions().len(), 1);
    // The receipt shows the card payment and its reference, and no drawer kick.
    let r = tokio::task::spawn_blocking(move || receipt.wait_job(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the receipt prints");
    assert_eq!(r.drawer_kicks, 0);
    let text = r.page.to_text();
    assert!(text.contains("Card"), "{text}");
    // Paying again: nothing is due.
    let (s, b) = pay_card(&node, &cashier, &order, "pay-card-2").await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["code"], "already_paid");
}

#[tokio::test]
async fn declined_cancelled_busy_silent_and_garbled_terminals_are_clear_errors() {
    let (node, sim, cashier) = setup(Scenario::Approve).await;
    let cases = [
        (Scenario::Decline { code: 0x05 }, 402, "card_declined"),
        (Scenario::CancelledByCustomer, 402, "payment_cancelled"),
        (Scenario::Busy, 409, "terminal_busy"),
        (Scenario::Timeout, 409, "terminal_timeout"),
        (Scenario::Garbage, 409, "terminal_error"),
    ];
    for (i, (scenario, status, code)) in cases.into_iter().enumerate() {
        sim.set_scenario(scenario);
        let order = node.place(&cashier, &format!("bad-card-{i}")).await;
        let (s, b) = pay_card(&node, &cashier, &order, &format!("bad-pay-{i}")).await;
        assert_eq!(
            (s, b["error"]["code"].as_str().unwrap()),
            (status, code),
            "{b}"
        );
        // Nothing was recorded as paid.
        let (_, o) = node
            .get(
                &cashier,
                &format!("/api/v1/orders/{}", order["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(o["paid"], 0);
    }
    // Cash still works, and the terminal recovers for the next customer.
    sim.set_scenario(Scenario::Approve);
    let order = node.place(&cashier, "after").await;
    let (s, b) = pay_card(&node, &cashier, &order, "after-pay").await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn a_store_without_a_terminal_says_so() {
    let node = spawn_app().await;
    let cashier = node.cashier().await;
    let order = node.place(&cashier, "no-term").await;
    let (s, b) = pay_card(&node, &cashier, &order, "no-term-pay").await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["code"], "no_card_terminal");
}
