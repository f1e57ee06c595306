//! A web order paid by card, across processes: a real `cloud-hub` with card
//! payments pointed at a real `fake-stripe` process (its webhooks signed and
//! delivered to the hub), a real `store-node` (the demo store, syncing with the
//! hub) and a real `virtual-printer` as the grill's kitchen printer.
//!
//! The customer signs up at the hub and orders by card: until the card is
//! authorised nothing reaches the store. The customer pays on the fake's hosted
//! page (its form posted as a browser would); the order then reaches the node
//! and its kitchen ticket prints; the kitchen accepts at the node and the hub
//! captures the payment; the kitchen readies it and the customer's tracking
//! socket hears `ready`; the till shows it paid. A manager at the till gives
//! part of it back (asked at the node, made by the hub, answered back through
//! sync), and again while the hub is down: the refund is made once it is back.
//! A cashier alone, or more than remains, is refused. Afterwards no file of the hub's or the node's data
//! (SQLite and its -wal/-shm, or a `pg_dump` of the hub's PostgreSQL database)
//! and no line either process logged (at debug level) holds a card number: a
//! Luhn-valid run of 13–19 digits. Runs against the hub's SQLite default and
//! PostgreSQL.
//!
//! Like the other cross-process tests it runs the binaries in the target
//! directory: `cargo test --workspace` builds them, or `cargo build -p cloud-hub
//! -p store-node -p fake-stripe -p drivers --bins`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ADMIN, Api, eventually, node_command, spawn, spawn_logged, until};
use serde_json::{Value, json};

const STORE: &str = "store-1";
const STRIPE_KEY: &str = "sk_test_e2e_online_payment";
const WEBHOOK_SECRET: &str = "whsec_e2e_online_payment";
/// Where the hub sends customers back after paying (its web shop; not served here).
const SHOP: &str = "http://shop.example";

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

// ---------------------------------------------------------------------------
// The card-number scan.

/// A Luhn-valid run of 13–19 digits, bare or typed in groups.
#[derive(Debug, Clone)]
struct CardLike {
    /// The digits, separators left out.
    digits: String,
    /// Byte offset of its first digit.
    at: usize,
    /// Up to 40 bytes either side, unprintable bytes as '.'.
    context: String,
    /// Why it is no card number, when the scan can tell.
    explained: Option<&'static str>,
}

/// How card numbers are typed in groups (Visa/Mastercard 16 and 19, Amex 15, Diners 14).
const GROUPINGS: &[&[usize]] = &[&[4, 4, 4, 4], &[4, 4, 4, 4, 3], &[4, 6, 5], &[4, 6, 4]];

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0');
            match (i % 2 == 1, v * 2) {
                (false, _) => v,
                (true, d) if d > 9 => d - 9,
                (true, d) => d,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The maximal runs of ASCII digits, as `[start, end)`.
fn digit_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    runs
}

fn context(b: &[u8], s: usize, e: usize) -> String {
    b[s.saturating_sub(40)..(e + 40).min(b.len())]
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Why the bare run `b[s..e]` is no card number, if the scan can tell: a time
/// in `window` in milliseconds, microseconds or nanoseconds since 1970
/// (leading zeros allowed: the HLC is `{ms:016}-{n:08}`), or digits inside a
/// run of 32 hex digits or more (a digest, a token, a simple UUID; SQLite packs
/// a row's text columns together, so letters may follow without a break).
fn explain(
    b: &[u8],
    s: usize,
    e: usize,
    window: &std::ops::RangeInclusive<u128>,
) -> Option<&'static str> {
    let v: u128 = std::str::from_utf8(&b[s..e]).ok()?.parse().ok()?;
    if [v, v / 1_000, v / 1_000_000]
        .iter()
        .any(|ms| window.contains(ms))
    {
        return Some("a time near the test's (ms, µs or ns since 1970)");
    }
    let start = b[..s]
        .iter()
        .rposition(|c| !c.is_ascii_hexdigit())
        .map_or(0, |p| p + 1);
    let end = b[e..]
        .iter()
        .position(|c| !c.is_ascii_hexdigit())
        .map_or(b.len(), |p| e + p);
    if end - start >= 32 {
        return Some("inside a hex string");
    }
    None
}

/// Every Luhn-valid run of 13–19 digits in `b`: maximal runs of digits (not
/// part of a longer run), and groups joined by one space or one dash as card
/// numbers are typed (`4242 4242 4242 4242`, `3782-822463-10005`). Bare runs
/// that [`explain`] accounts for come with the reason.
fn card_like(b: &[u8], window: &std::ops::RangeInclusive<u128>) -> Vec<CardLike> {
    let runs = digit_runs(b);
    let mut found = vec![];
    let mut hit = |s: usize, e: usize, digits: Vec<u8>, explained| {
        found.push(CardLike {
            digits: String::from_utf8(digits).unwrap(),
            at: s,
            context: context(b, s, e),
            explained,
        })
    };
    for &(s, e) in &runs {
        if (13..=19).contains(&(e - s)) && luhn(&b[s..e]) {
            hit(s, e, b[s..e].to_vec(), explain(b, s, e, window));
        }
    }
    for sep in [b' ', b'-'] {
        let mut i = 0;
        while i < runs.len() {
            let mut j = i + 1;
            while j < runs.len() && runs[j].0 == runs[j - 1].1 + 1 && b[runs[j - 1].1] == sep {
                j += 1;
            }
            let chain = &runs[i..j];
            for k in 0..chain.len() {
                for g in GROUPINGS {
                    let Some(w) = chain.get(k..k + g.len()) else {
                        continue;
                    };
                    if w.iter().zip(g.iter()).all(|(r, n)| r.1 - r.0 == *n) {
                        let digits: Vec<u8> =
                            w.iter().flat_map(|r| b[r.0..r.1].iter().copied()).collect();
                        if luhn(&digits) {
                            hit(w[0].0, w[w.len() - 1].1, digits, None);
                        }
                    }
                }
            }
            i = j;
        }
    }
    found
}

/// [`card_like`] over every file under each of `paths` (a file or a directory).
fn scan(paths: &[&Path], window: &std::ops::RangeInclusive<u128>) -> Vec<(PathBuf, CardLike)> {
    let mut todo: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
    let (mut files, mut bytes_read) = (0, 0);
    let mut found = vec![];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        files += 1;
        bytes_read += bytes.len();
        found.extend(
            card_like(&bytes, window)
                .into_iter()
                .map(|c| (p.clone(), c)),
        );
    }
    assert!(files > 0, "nothing to scan under {paths:?}");
    eprintln!("card-number scan: {files} files, {bytes_read} bytes under {paths:?}");
    found
}

/// The unexplained card-like runs under `paths`, one line each; prints how many
/// were explained, and why, with a few examples.
fn unexplained(paths: &[&Path], window: &std::ops::RangeInclusive<u128>) -> Vec<String> {
    let found = scan(paths, window);
    let (explained, unexplained): (Vec<_>, Vec<_>) =
        found.iter().partition(|(_, c)| c.explained.is_some());
    let mut why = std::collections::BTreeMap::<&str, usize>::new();
    for (_, c) in &explained {
        *why.entry(c.explained.unwrap()).or_default() += 1;
    }
    eprintln!("card-number scan: {} explained {why:?}", explained.len());
    for (p, c) in explained.iter().take(5) {
        eprintln!(
            "  e.g. {} @{} {}: {:?}",
            p.display(),
            c.at,
            c.digits,
            c.context
        );
    }
    unexplained
        .iter()
        .map(|(p, c)| format!("{} @{}: {} in {:?}", p.display(), c.at, c.digits, c.context))
        .collect()
}

#[test]
fn the_scan_finds_a_planted_card_number_and_ignores_other_long_digit_runs() {
    let start = now_ms();
    let window = start - 60_000..=start + 60_000;
    // A time during the test that passes Luhn, as ms, µs, ns and the HLC's form.
    let ms = (start - start % 10..start - start % 10 + 10)
        .find(|t| luhn(t.to_string().as_bytes()))
        .unwrap();
    let us = (ms * 1000..ms * 1000 + 10)
        .find(|t| luhn(t.to_string().as_bytes()))
        .unwrap();
    let ns = (ms * 1_000_000..ms * 1_000_000 + 10)
        .find(|t| luhn(t.to_string().as_bytes()))
        .unwrap();
    let hlc = format!("{ms:016}-00000003");
    assert!(luhn(format!("{ms:016}").as_bytes()));
    let clean = format!(
        "{{\"created_ms\":{ms},\"hlc\":\"{hlc}\",\"us\":{us},\"ns\":{ns},\
         \"id\":\"01936b2a-1234-7123-8123-123456789012\",\
         \"hash\":\"ab4242424242424242cdef0123456789abcdef0123456789abkitchen\",\
         \"not_luhn\":4242424242424241,\"too_long\":42424242424242424242,\
         \"too_short\":424242424242,\"date\":\"2026-12-07 02:12:58\"}}\n"
    );
    let dir = test_support::temp_dir();
    std::fs::write(dir.path().join("clean.log"), &clean).unwrap();
    let found = scan(&[dir.path()], &window);
    assert_eq!(
        found.len(),
        5,
        "ms, µs, ns, the HLC and the hex: {found:#?}"
    );
    assert!(
        found.iter().all(|(_, c)| c.explained.is_some()),
        "{found:#?}"
    );
    assert_eq!(unexplained(&[dir.path()], &window), Vec::<String>::new());

    for planted in [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "3782 822463 10005",
        "card=4000056655665556;",
        "2026-12-07 02:12:58.123 4242 4242 4242 4242 ok",
    ] {
        std::fs::write(
            dir.path().join("planted.log"),
            format!("{clean}paid with {planted}\n"),
        )
        .unwrap();
        let found = scan(&[dir.path()], &window);
        let bad: Vec<_> = found
            .iter()
            .filter(|(_, c)| c.explained.is_none())
            .collect();
        assert_eq!(bad.len(), 1, "{planted}: {found:#?}");
        assert!(bad[0].0.ends_with("planted.log"));
        let digits: String = planted.chars().filter(char::is_ascii_digit).collect();
        assert!(
            digits.ends_with(&bad[0].1.digits),
            "{planted}: {:?}",
            bad[0].1
        );
        assert_eq!(unexplained(&[dir.path()], &window).len(), 1, "{planted}");
    }
}

// ---------------------------------------------------------------------------
// The scenario.

/// Where the hub keeps its data: an SQLite file's directory, or a PostgreSQL database.
enum HubData<'a> {
    Dir(&'a Path),
    Postgres(&'a str),
}

impl HubData<'_> {
    /// What to scan of the hub's data: its SQLite directory, or a dump of its
    /// PostgreSQL database (every row of every table, as text, binary columns
    /// as their bytes) written into `into`.
    fn scannable(&self, into: &Path) -> PathBuf {
        match self {
            HubData::Dir(dir) => dir.to_path_buf(),
            HubData::Postgres(url) => {
                let out = Command::new("pg_dump")
                    .args(["--data-only", "--dbname", url])
                    .output()
                    .expect("pg_dump runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let path = into.join("hub.pg_dump.sql");
                std::fs::write(&path, unhex_bytea(&out.stdout)).unwrap();
                path
            }
        }
    }
}

/// A `pg_dump` with every bytea value (COPY text shows it as `\\x` and hex)
/// turned back into its bytes, so the scan reads binary columns as it reads
/// SQLite's files: hex would make long digit runs of anything.
fn unhex_bytea(dump: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(dump.len());
    let mut i = 0;
    while i < dump.len() {
        if dump[i..].starts_with(b"\\\\x") {
            i += 3;
            while let (Some(hi), Some(lo)) = (
                dump.get(i).copied().and_then(hex),
                dump.get(i + 1).copied().and_then(hex),
            ) {
                out.push(hi << 4 | lo);
                i += 2;
            }
        } else {
            out.push(dump[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn bytea_in_a_dump_is_read_as_its_bytes() {
    assert_eq!(
        unhex_bytea(b"1\t\\\\x34323432ff\tkeep \\\\ and \\x41\n"),
        b"1\t4242\xff\tkeep \\\\ and \\x41\n"
    );
}

/// The whole scenario, on the hub's database at `database_url`.
async fn scenario(database_url: String, hub_data: HubData<'_>) {
    let started = now_ms();
    let api = Api {
        http: reqwest::Client::new(),
    };
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let logs = test_support::temp_dir();

    // Fake Stripe, and the hub taking card payments through it.
    let mut fake = Command::new(test_support::bin("fake-stripe"));
    fake.args(["--bind", "127.0.0.1:0", "--secret-key", STRIPE_KEY])
        .args([
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--webhook-retry-base-ms",
            "100",
        ]);
    let stripe = spawn(fake);
    let hub_on = |bind: &str| {
        // `hub_command` with a chosen address: the restarted hub comes back where the node looks for it.
        let mut hub = Command::new(test_support::bin("cloud-hub"));
        hub.args(["--bind", bind, "--database-url", &database_url])
            .env("HUB_ADMIN_TOKEN", ADMIN)
            .env("STRIPE_SECRET_KEY", STRIPE_KEY)
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("STRIPE_API_BASE", format!("{}/", stripe.base))
            .env("HUB_PUBLIC_URL", SHOP)
            // The test reads the customer's socket only now and then: a loaded machine
            // must not make it look silent (30 s by default).
            .env("HUB_LINK_TIMEOUT_SECS", "120")
            .env("RUST_LOG", "debug");
        hub
    };
    let mut hub = spawn_logged(hub_on("127.0.0.1:0"), logs.path(), "hub");
    let hub_base = hub.base().to_owned();
    let (s, b) = api
        .call(
            post.clone(),
            &format!("{}/_fake/webhook-endpoint", stripe.base),
            None,
            Some(json!({"url": format!("{hub_base}/api/v1/payments/stripe/webhook")})),
            None,
        )
        .await;
    assert_eq!(s, 204, "{b}");
    let ledger = async || -> Value {
        let r = api
            .http
            .get(format!("{}/_fake/ledger", stripe.base))
            .send()
            .await;
        r.unwrap().json().await.unwrap()
    };

    // The store, and its demo node syncing with the hub.
    let token = common::enroll_store(&api, &hub_base, STORE, "Harbor Street Kitchen").await;
    let node_dir = test_support::temp_dir();
    let mut node = node_command(node_dir.path(), STORE, &hub_base, &token);
    node.env("STORE_NODE__HTTP__WS_TIMEOUT_SECS", "120")
        .env("RUST_LOG", "debug");
    let mut node = spawn_logged(node, logs.path(), "node");
    let node_base = node.base().to_owned();
    common::until_accepting_online_orders(&api, &hub_base, STORE).await;

    // The grill's kitchen printer: a virtual printer on TCP, registered at the node.
    let printed = test_support::temp_dir();
    let mut printer = Command::new(test_support::bin("virtual-printer"));
    printer
        .args(["--tcp", "127.0.0.1:0", "--name", "grill"])
        .arg("--out")
        .arg(printed.path());
    let printer = spawn(printer);
    let (host, port) = printer.base.rsplit_once(':').unwrap();
    let manager = api.login(&node_base, "manager", "2000").await;
    let (s, b) = api
        .call(
            post.clone(),
            &format!("{node_base}/api/v1/devices"),
            Some(&manager),
            Some(
                json!({"id": "grill-printer", "kind": "kitchen_printer", "name": "Grill",
                "station": "grill",
                "transport": {"type": "tcp", "host": host, "port": port.parse::<u16>().unwrap()}}),
            ),
            Some("register-grill-printer"),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // The kitchen screen: signed in at the node, on its event stream.
    let kitchen = api.login(&node_base, "kitchen", "4000").await;
    let node_ws = node_base.replacen("http://", "ws://", 1);
    let (mut kds, _) =
        tokio_tungstenite::connect_async(format!("{node_ws}/api/v1/events?token={kitchen}"))
            .await
            .unwrap();

    // A customer signs up at the hub and orders a pickup, paying by card.
    let customer = common::sign_up(&api, &hub_base, "robin@example.com", "Robin").await;
    let (s, order) = api
        .call(
            post.clone(),
            &format!("{hub_base}/api/v1/stores/{STORE}/orders"),
            Some(&customer),
            Some(json!({"lines": [
                {"item_id": "shoestring-fries", "quantity": 2},
                {"item_id": "harbor-classic-burger", "quantity": 1, "modifiers": ["burger-doneness-medium", "burger-bun-brioche"]}
            ], "note": "extra napkins", "payment": "card"})),
            Some("robin-card-order-1"),
        )
        .await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "awaiting_payment", "{order}");
    assert_eq!(order["ticket"], Value::Null, "{order}");
    assert_eq!(order["payment"]["state"], "awaiting_payment", "{order}");
    let checkout = order["payment"]["checkout_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(checkout.starts_with(&stripe.base), "{checkout}");
    let total = order["totals"]["total"].as_i64().unwrap();

    // Unpaid, nothing reaches the store: the store's log at the hub (the only
    // thing sync carries to the node) holds no order, the node does not know it,
    // and Stripe holds no payment.
    let at_hub = api
        .get(&format!("{hub_base}/api/v1/stores/{STORE}/orders"), ADMIN)
        .await;
    assert_eq!(at_hub["orders"], json!([]), "{at_hub}");
    let (s, b) = api
        .call(
            get.clone(),
            &format!("{node_base}/api/v1/orders/{id}"),
            Some(&kitchen),
            None,
            None,
        )
        .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(ledger().await, json!([]));

    // The customer pays on the fake's hosted page, as a browser: load the page,
    // post its "Pay" form, be sent back to the shop. (The form has buttons only,
    // no card fields: no card number is typed anywhere in this test.)
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(&checkout).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let action = html
        .split("<form ")
        .find(|f| f.contains(">Pay</button>"))
        .and_then(|f| f.split("action=\"").nth(1))
        .and_then(|a| a.split('"').next())
        .unwrap_or_else(|| panic!("no Pay form on the page: {html}"))
        .to_owned();
    let paid = browser
        .post(format!("{}{action}", stripe.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"].to_str().unwrap(),
        format!("{SHOP}/orders/{id}?payment=paid")
    );

    // Authorised: the order reaches the node as an online order with a web ticket.
    let created = until(&mut kds, "the paid web order on the node's stream", |e| {
        e["type"] == "order.created" && e["data"]["order"]["id"] == id.as_str()
    })
    .await;
    let shown = &created["data"]["order"];
    assert_eq!(shown["channel"], "online", "{shown}");
    let ticket = shown["ticket"].as_str().unwrap().to_owned();
    assert!(ticket.starts_with("W-"), "{shown}");
    let mine = api
        .get(&format!("{hub_base}/api/v1/me/orders/{id}"), &customer)
        .await;
    assert_eq!(mine["ticket"], ticket.as_str(), "{mine}");
    assert_eq!(mine["payment"]["state"], "authorized", "{mine}");
    // The customer tracks it at the hub. (Only now: the tracking socket of an
    // unpaid card order is a 404, though `GET /me/orders/{id}` shows it.)
    let (mut tracker, first) = common::track_order(&hub_base, &id, &customer).await;
    assert_eq!(first["status"], "placed", "{first}");

    let intent = ledger().await[0].clone();
    assert_eq!(intent["metadata"]["order_id"], id.as_str(), "{intent}");
    assert_eq!(intent["status"], "requires_capture", "{intent}");

    // Its kitchen ticket prints on the grill printer: the job is done at the
    // node, and the printer received the ticket.
    eventually("the kitchen ticket's job to be done", async || {
        let jobs = api
            .get(
                &format!("{node_base}/api/v1/print-jobs?state=done"),
                &manager,
            )
            .await;
        jobs["jobs"].as_array().is_some_and(|j| {
            j.iter()
                .any(|j| j["order_id"] == id.as_str() && j["kind"] == "kitchen")
        })
    })
    .await;
    eventually("the printer to have printed the ticket", async || {
        printed_text(printed.path()).contains(&ticket)
    })
    .await;
    let text = printed_text(printed.path());
    for want in [
        "2 x Shoestring Fries",
        "1 x Harbor Classic Burger",
        "Medium",
        "extra napkins",
    ] {
        assert!(text.contains(want), "{want:?} not printed:\n{text}");
    }

    // The kitchen accepts at the node: the hub captures the payment.
    let step = async |step: &str, want: &str| {
        let (s, b) = api
            .call(
                post.clone(),
                &format!("{node_base}/api/v1/orders/{id}/{step}"),
                Some(&kitchen),
                None,
                Some(&format!("{id}-{step}")),
            )
            .await;
        assert_eq!((s, b["status"].as_str()), (200, Some(want)), "{step}: {b}");
    };
    step("accept", "accepted").await;
    eventually("the hub to capture the payment", async || {
        api.get(&format!("{hub_base}/api/v1/me/orders/{id}"), &customer)
            .await["payment"]["state"]
            == "captured"
    })
    .await;
    let mine = api
        .get(&format!("{hub_base}/api/v1/me/orders/{id}"), &customer)
        .await;
    assert_eq!(mine["payment"]["captured"], total, "{mine}");
    let payments = ledger().await;
    assert_eq!(
        payments.as_array().unwrap().len(),
        1,
        "one payment: {payments}"
    );
    assert_eq!(
        (
            payments[0]["status"].as_str(),
            payments[0]["captured"].as_i64()
        ),
        (Some("succeeded"), Some(total)),
        "{payments}"
    );

    // The kitchen readies it; the customer's socket hears "ready".
    step("start", "in_preparation").await;
    step("ready", "ready").await;
    until(&mut tracker, "ready on the customer's socket", |m| {
        m["status"] == "ready"
    })
    .await;

    // The POS view of the order at the node (judged by the caller).
    let cashier = api.login(&node_base, "cashier", "3000").await;
    let pos_view = async || {
        api.get(&format!("{node_base}/api/v1/orders/{id}"), &cashier)
            .await
    };
    // The capture reaches the till as a payment: nobody asks the customer to pay again.
    eventually("the POS to show the order paid", async || {
        pos_view().await["paid"].as_i64() == Some(total)
    })
    .await;
    let pos = pos_view().await;
    assert_eq!(pos["status"], "ready", "{pos}");

    // A manager at the till gives part of it back: asked at the node, made by
    // the hub, the answer back at the till.
    let refunds_url = format!("{node_base}/api/v1/orders/{id}/online-refunds");
    let ask = async |amount: i64, key: &str| {
        api.call(
            post.clone(),
            &refunds_url,
            Some(&manager),
            Some(json!({ "amount": amount, "reason": "cold fries" })),
            Some(key),
        )
        .await
    };
    let refunded_at_till = async |request: &str| {
        let list = api.get(&refunds_url, &manager).await;
        list["refunds"].as_array().is_some_and(|r| {
            r.iter()
                .any(|r| r["id"] == request && r["status"] == "refunded")
        })
    };
    let (s, first) = ask(100, "till-refund-1").await;
    assert_eq!(
        (s, first["status"].as_str()),
        (202, Some("asked")),
        "{first}"
    );
    let first_id = first["id"].as_str().unwrap().to_owned();
    eventually("the hub's refund back at the till", async || {
        refunded_at_till(&first_id).await
    })
    .await;
    assert_eq!(ledger().await[0]["refunded"], 100);
    let (s, b) = api
        .call(
            post.clone(),
            &refunds_url,
            Some(&cashier),
            Some(json!({ "amount": 5, "reason": "a cashier alone" })),
            Some("till-refund-cashier"),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("manager_approval_required")),
        "{b}"
    );
    let (s, b) = ask(total, "till-refund-too-much").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("refund_exceeds_paid")),
        "{b}"
    );

    // The hub is away when the manager asks again: the till takes the request,
    // and the refund is made once the hub is back.
    hub.stop();
    let (s, second) = ask(50, "till-refund-2").await;
    assert_eq!(
        (s, second["status"].as_str()),
        (202, Some("asked")),
        "{second}"
    );
    let second_id = second["id"].as_str().unwrap().to_owned();
    let bind = hub_base.trim_start_matches("http://").to_owned();
    hub = spawn_logged(hub_on(&bind), logs.path(), "hub-again");
    eventually(
        "the refund asked while the hub was away to be made",
        async || refunded_at_till(&second_id).await,
    )
    .await;
    assert_eq!(ledger().await[0]["refunded"], 150);
    let pos = pos_view().await;
    assert_eq!(pos["refunded"].as_i64(), Some(150), "{pos}");

    // No card number in any file of the hub's or the node's data, nor in their logs.
    drop((kds, tracker));
    node.stop();
    hub.stop();
    for log in ["hub.stderr", "node.stderr"] {
        let len = std::fs::metadata(logs.path().join(log)).unwrap().len();
        assert!(len > 10_000, "{log} holds the debug log ({len} bytes)");
    }
    let dump = test_support::temp_dir();
    let hub_data = hub_data.scannable(dump.path());
    // Times a year either way: expiry times (refresh tokens, sessions, stored
    // answers) lie ahead. No card brand issues numbers that read as such a time
    // (13 digits 15…-19… are no card's, nor 16 or 19 digits starting 15 to 19).
    const YEAR_MS: u128 = 366 * 24 * 3600 * 1000;
    let window = started - YEAR_MS..=now_ms() + YEAR_MS;
    let found = unexplained(&[&hub_data, node_dir.path(), logs.path()], &window);
    assert!(
        found.is_empty(),
        "card-number-like digits (Luhn-valid, 13-19 digits) found:\n{}",
        found.join("\n")
    );

    drop(printer);
    drop(stripe);
}

/// Every job the virtual printer wrote out, as text.
fn printed_text(dir: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            text.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_order_is_paid_printed_captured_and_leaves_no_card_number_on_sqlite() {
    let dir = test_support::temp_dir();
    scenario(common::sqlite_url(dir.path()), HubData::Dir(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_order_is_paid_printed_captured_and_leaves_no_card_number_on_postgres() {
    let db = common::PgDatabase::create();
    scenario(db.url.clone(), HubData::Postgres(&db.url)).await;
}
