//! A full disk at the node, on a small tmpfs the test mounts (we run as root
//! in CI; without the right to mount, the test says why and passes as skipped).
//!
//! What must hold while the disk is full: every write answers 507 `disk_full`
//! (not a generic 500), `/readyz` is not 200, reads still work, and the print
//! lane, which cannot record its attempts, sends no ticket twice (it once
//! printed one ticket thousands of times). When space returns: readiness
//! recovers by itself, every ticket prints exactly once, and the data is all
//! there after a restart.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use drivers::printer_sim::{SimOptions, VirtualPrinter};
use serde_json::{Value, json};

/// Room for the node's database with a few orders; small so that filling it is quick.
const FS_SIZE: &str = "8m";

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// None (with the reason printed) where mounting is not permitted.
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FS_SIZE}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem has no block left.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0xA5u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Whatever part of a block is left.
        while f.write(&[0xA5]).is_ok_and(|n| n == 1) {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a file still open somewhere must not leave the mount behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn readyz(node: &TestNode) -> (u16, Value) {
    let r = node.http.get(node.url("/readyz")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Tickets the printer has received so far, without waiting.
fn drain(p: &VirtualPrinter, tickets: &[String], printed: &mut Vec<String>) {
    while let Some(j) = p.wait_job(Duration::ZERO) {
        let text = j.page.to_text();
        let t = tickets
            .iter()
            .find(|t| text.contains(t.as_str()))
            .unwrap_or_else(|| panic!("a ticket of ours: {text}"));
        printed.push(t.clone());
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_507_prints_each_ticket_once_and_recovers() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let data = disk.path().join("node");
    let grill = Arc::new(
        VirtualPrinter::tcp(
            "127.0.0.1:0",
            SimOptions {
                name: "grill".into(),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let port = grill.addr().unwrap().port();
    // Unplugged while the orders come in, so their tickets are still queued when the disk fills.
    grill.set_accepting(false).unwrap();
    let tweak = |c: &mut store_node::Config| {
        // Never dead-lettered here, and due again soon after each failure.
        c.print.attempts = 1_000;
        c.print.retry_base_ms = 100;
    };
    let node = start_in(&data, tweak).await;
    let mgr = node.manager().await;
    let cashier = node.cashier().await;
    let (s, b) = node
        .post(&mgr, "/api/v1/devices", Some("reg-grill"), &json!({"id": "grill-printer", "kind": "kitchen_printer",
            "name": "Grill", "station": "grill", "transport": {"type": "tcp", "host": "127.0.0.1", "port": port}}))
        .await;
    assert_eq!(s, 201, "{b}");
    let mut tickets = vec![];
    for i in 0..3 {
        let o = node.place(&cashier, &format!("before-full-{i}")).await;
        tickets.push(o["ticket"].as_str().unwrap().to_owned());
    }

    let filler = disk.fill();
    grill.set_accepting(true).unwrap();
    // Writes are refused as such; the first commits may still find room in SQLite's files.
    let mut refused = None;
    for i in 0..200 {
        let (s, b) = node
            .post(
                &cashier,
                "/api/v1/orders",
                Some(&format!("full-{i}")),
                &burger_order(),
            )
            .await;
        match s {
            201 => tickets.push(b["ticket"].as_str().unwrap().to_owned()),
            507 => {
                refused = Some(b);
                break;
            }
            _ => panic!("a write on a full disk answered {s}: {b}"),
        }
    }
    let refused = refused.expect("a write is refused within 200 orders");
    assert_eq!(refused["error"]["code"], "disk_full", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{refused}"
    );
    let (s, body) = readyz(&node).await;
    assert_eq!(s, 503, "not ready while no write can succeed: {body}");
    assert_eq!(body["disk_full"], true, "{body}");
    // Reads still work.
    let (s, orders) = node.get(&cashier, "/api/v1/orders").await;
    assert_eq!(s, 200, "{orders}");

    // The printer is back and its lane sees it; still nothing can be recorded.
    eventually(|| async {
        let (_, d) = node.get(&mgr, "/api/v1/devices/grill-printer").await;
        (d["health"]["state"] == "online").then_some(())
    })
    .await;
    let mut printed = vec![];
    for i in 0..5 {
        let (s, b) = node
            .post(
                &cashier,
                "/api/v1/orders",
                Some(&format!("still-full-{i}")),
                &burger_order(),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (507, Some("disk_full")),
            "{b}"
        );
        drain(&grill, &tickets, &mut printed);
    }
    let mut once = printed.clone();
    once.sort();
    once.dedup();
    assert_eq!(
        once.len(),
        printed.len(),
        "a ticket printed twice while the disk was full: {printed:?}"
    );

    // Space returns: readiness recovers without any client write, then every ticket prints once.
    std::fs::remove_file(filler).unwrap();
    eventually(|| async { (readyz(&node).await.0 == 200).then_some(()) }).await;
    eventually(|| async {
        let (_, jobs) = node
            .get(&mgr, "/api/v1/print-jobs?state=done&limit=500")
            .await;
        (jobs["jobs"].as_array().unwrap().len() == tickets.len()).then_some(())
    })
    .await;
    drain(&grill, &tickets, &mut printed);
    printed.sort();
    let mut want = tickets.clone();
    want.sort();
    assert_eq!(printed, want, "each ticket printed exactly once");
    let o = node.place(&cashier, "after-full").await;
    tickets.push(o["ticket"].as_str().unwrap().to_owned());

    // And everything acknowledged is there after a restart.
    node.node.shutdown().await.unwrap();
    let node = start_in(&data, tweak).await;
    let mgr = node.manager().await;
    let (_, orders) = node.get(&mgr, "/api/v1/orders?limit=500").await;
    let mut stored: Vec<String> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["ticket"].as_str().unwrap().to_owned())
        .collect();
    stored.sort();
    tickets.sort();
    assert_eq!(stored, tickets);
    node.node.shutdown().await.unwrap();
}
