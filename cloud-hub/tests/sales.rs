//! The merchant's sales report over real HTTP on both databases: orders of
//! every channel and tender arrive from a test node over the sync socket and
//! from online ordering; the report's totals equal the orders placed, cancelled
//! and voided orders are left out, the CSV has the JSON's numbers, days and
//! hours are the store's, and only owners and managers of the store's
//! organisation read it (a cashier 403, another organisation's owner 404).

mod common;

use chrono::TimeZone;
use common::{Backend, Peer, TestDb, TestHub, both, code, demo_menu, eventually, s};
use serde_json::{Value, json};

const GOOD: &str = "plum-kettle-73-orbit";
const TZ: chrono_tz::Tz = chrono_tz::America::New_York;
/// The node's orders are of this day (New York), the web order of today.
const DAY: &str = "2026-03-10";

async fn accept(hub: &TestHub, token: &str) -> String {
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": token, "name": "Staff", "password": GOOD })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    s(&b, "access_token")
}

/// An organisation with its owner signed in: (org id, owner's token).
async fn org_with_owner(hub: &TestHub, name: &str, owner: &str) -> (String, String) {
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/orgs",
            Some(&json!({ "name": name, "owner_email": owner })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    (
        s(&b, "id"),
        accept(hub, &s(&b["invitation"], "token")).await,
    )
}

async fn staff(hub: &TestHub, owner: &str, org: &str, email: &str, role: &str) -> String {
    let (st, b) = hub
        .call_as(
            Some(owner),
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    accept(hub, &s(&b, "token")).await
}

/// Unix ms of `hh:mm` on [`DAY`] in New York.
fn at(h: u32, m: u32) -> u64 {
    let d = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
    let t = TZ
        .from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap())
        .unwrap();
    u64::try_from(t.timestamp_millis()).unwrap()
}

/// A node's order view: `lines` are (item, quantity, unit price); tax 10 %, exclusive.
fn view(id: &str, channel: &str, created: u64, lines: &[(&str, i64, i64)], discount: i64) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(item, q, p)| {
            json!({ "item_id": item, "sku": item, "name": format!("The {item}"), "station": "grill",
                    "quantity": q, "modifiers": [], "unit_price": p, "line_total": q * p,
                    "discount": 0, "tax_class": "food", "tax_rate_bp": 1000, "tax": q * p / 10 })
        })
        .collect();
    let subtotal: i64 = lines
        .iter()
        .map(|l| l["line_total"].as_i64().unwrap())
        .sum();
    let tax = (subtotal - discount) / 10;
    json!({ "id": id, "ticket": id, "status": "placed", "channel": channel, "created_ms": created,
            "updated_ms": created, "paid": 0, "fulfillment": "takeaway", "lines": lines,
            "totals": { "currency": "USD", "tax_mode": "exclusive", "subtotal": subtotal,
                        "discount": discount, "tax": tax, "total": subtotal - discount + tax } })
}

fn total(v: &Value) -> i64 {
    v["totals"]["total"].as_i64().unwrap()
}

/// Records `order.created`, and a payment of the whole total by `method` (if any).
fn record(peer: &mut Peer, order: &Value, method: Option<&str>) {
    let id = s(order, "id");
    peer.log.record(
        "s1",
        "node-1",
        "order.created",
        Some(&id),
        json!({ "order": order }),
    );
    if let Some(m) = method {
        let mut paid = order.clone();
        paid["paid"] = json!(total(order));
        let payment = json!({ "id": format!("pay-{id}"), "order_id": id, "method": m,
                              "amount": total(order), "tendered": total(order), "change": 0 });
        peer.log.record(
            "s1",
            "node-1",
            "payment.recorded",
            Some(&id),
            json!({ "order": paid, "payment": payment }),
        );
    }
}

/// The row of a breakdown with this key.
fn row<'a>(report: &'a Value, breakdown: &str, key: &str) -> &'a Value {
    report[breakdown]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {breakdown}: {}", report[breakdown]))
}

fn n(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"))
}

async fn sales(hub: &TestHub, token: &str, path: &str) -> Value {
    let (st, b) = hub.call_as(Some(token), "GET", path, None).await;
    assert_eq!(st, 200, "{path}: {b}");
    b
}

async fn csv_of(hub: &TestHub, token: &str, path: &str) -> Vec<Vec<String>> {
    let r = hub
        .http
        .get(format!("{}{path}", hub.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn sales_report(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, owner) = org_with_owner(&hub, "Harbor", "owner@a.example").await;
    let manager = staff(&hub, &owner, &org, "m@a.example", "manager").await;
    let cashier = staff(&hub, &owner, &org, "c@a.example", "cashier").await;
    let (org_b, owner_b) = org_with_owner(&hub, "Other", "owner@b.example").await;
    for (id, o) in [("s1", &org), ("s2", &org), ("b1", &org_b)] {
        let (st, b) = hub
            .call(
                "POST",
                "/api/v1/admin/stores",
                Some(&json!({ "id": id, "name": id, "org_id": o })),
            )
            .await;
        assert_eq!(st, 201, "{b}");
    }
    let (st, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/menu",
            Some(&serde_json::to_value(demo_menu()).unwrap()),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = hub
        .call(
            "PUT",
            "/api/v1/stores/s1/settings",
            Some(&json!({ "timezone": "America/New_York" })),
        )
        .await;
    assert_eq!(st, 200, "{b}");

    // The node's day: counter and kiosk orders paid in cash and by card, one
    // discounted, one cancelled (left out), one refunded in part (counted, with its refund).
    let burger = "harbor-classic-burger";
    let pizza = "margherita-pizza";
    let o1 = view("o1", "pos", at(12, 5), &[(burger, 2, 1195)], 0);
    let o2 = view(
        "o2",
        "kiosk",
        at(12, 40),
        &[(burger, 1, 1195), (pizza, 1, 1395)],
        200,
    );
    let o3 = view("o3", "pos", at(13, 10), &[(pizza, 3, 1395)], 0);
    let o4 = view("o4", "pos", at(18, 55), &[(pizza, 1, 1395)], 0);
    let gone = view("o5", "kiosk", at(13, 30), &[(burger, 5, 1195)], 0);
    let token = hub.create_token("s1", "node-1").await;
    let mut peer = Peer::new("s1", "node-1");
    record(&mut peer, &o1, Some("cash"));
    record(&mut peer, &o2, Some("card"));
    record(&mut peer, &o3, Some("card"));
    record(&mut peer, &o4, None);
    record(&mut peer, &gone, Some("cash"));
    let mut cancelled = gone.clone();
    cancelled["status"] = json!("cancelled");
    peer.log.record(
        "s1",
        "node-1",
        "order.changed",
        Some("o5"),
        json!({ "transition": "cancel", "order": cancelled }),
    );
    let mut refunded = o3.clone();
    refunded["status"] = json!("completed");
    refunded["paid"] = json!(total(&o3));
    refunded["refunded"] = json!(300);
    peer.log.record(
        "s1",
        "node-1",
        "order.changed",
        Some("o3"),
        json!({ "transition": "complete", "order": refunded }),
    );
    peer.connect(&hub.ws_url(), &token).await.unwrap();
    peer.wait_acked(11).await;

    let report = sales(
        &hub,
        &owner,
        &format!("/api/v1/stores/s1/sales?from={DAY}&to={DAY}"),
    )
    .await;
    let counted = [&o1, &o2, &o3, &o4];
    let gross: i64 = counted.iter().map(|o| total(o)).sum();
    let t = &report["totals"];
    assert_eq!(n(t, "orders"), 4, "{report}");
    assert_eq!(n(t, "gross_sales"), gross);
    assert_eq!(
        n(t, "tax"),
        counted.iter().map(|o| n(&o["totals"], "tax")).sum::<i64>()
    );
    assert_eq!(n(t, "discounts"), 200);
    assert_eq!(n(t, "refunds"), 300);
    assert_eq!(n(t, "net_sales"), gross - 300);
    assert_eq!(n(t, "average_ticket"), (gross + 2) / 4);
    assert_eq!(report["currency"], "USD");
    assert_eq!(report["time_zones"], json!(["America/New_York"]));
    assert_eq!(report["by_day"].as_array().unwrap().len(), 1);
    assert_eq!(n(row(&report, "by_day", DAY), "sales"), gross);
    // Hours are New York's.
    assert_eq!(n(row(&report, "by_hour", "12"), "orders"), 2);
    assert_eq!(
        n(row(&report, "by_hour", "12"), "sales"),
        total(&o1) + total(&o2)
    );
    assert_eq!(n(row(&report, "by_hour", "13"), "sales"), total(&o3));
    assert_eq!(n(row(&report, "by_hour", "18"), "sales"), total(&o4));
    assert_eq!(n(row(&report, "by_channel", "pos"), "orders"), 3);
    assert_eq!(n(row(&report, "by_channel", "kiosk"), "sales"), total(&o2));
    // Tenders from the payment facts; the cancelled order's cash is not a sale.
    assert_eq!(n(row(&report, "by_tender", "cash"), "sales"), total(&o1));
    assert_eq!(n(row(&report, "by_tender", "card"), "orders"), 2);
    assert_eq!(
        n(row(&report, "by_tender", "card"), "sales"),
        total(&o2) + total(&o3)
    );
    let b = row(&report, "by_item", burger);
    assert_eq!((n(b, "quantity"), n(b, "sales")), (3, 3 * 1195));
    assert_eq!(b["label"], format!("The {burger}"));
    let p = row(&report, "by_item", pizza);
    assert_eq!((n(p, "quantity"), n(p, "sales")), (5, 5 * 1395));
    let c = row(&report, "by_category", "burgers");
    assert_eq!(
        (c["label"].as_str(), n(c, "quantity")),
        (Some("Burgers"), 3)
    );
    assert_eq!(n(row(&report, "by_category", "pizza"), "sales"), 5 * 1395);

    // The CSV has the same numbers.
    let rows = csv_of(
        &hub,
        &manager,
        &format!("/api/v1/stores/s1/sales?from={DAY}&format=csv"),
    )
    .await;
    let cell = |dim: &str, key: &str, col: usize| -> i64 {
        rows.iter()
            .find(|r| r[0] == dim && r[1] == key)
            .unwrap_or_else(|| panic!("no {dim},{key} in {rows:?}"))[col]
            .parse()
            .unwrap()
    };
    assert_eq!(cell("total", "orders", 3), 4);
    for k in [
        "gross_sales",
        "tax",
        "discounts",
        "refunds",
        "net_sales",
        "average_ticket",
    ] {
        assert_eq!(cell("total", k, 5), n(t, k), "{k}");
    }
    for (dim, breakdown) in [
        ("day", "by_day"),
        ("hour", "by_hour"),
        ("item", "by_item"),
        ("category", "by_category"),
        ("channel", "by_channel"),
        ("tender", "by_tender"),
    ] {
        let json_rows = report[breakdown].as_array().unwrap();
        assert_eq!(
            rows.iter().filter(|r| r[0] == dim).count(),
            json_rows.len(),
            "{dim}"
        );
        for r in json_rows {
            let key = s(r, "key");
            assert_eq!(cell(dim, &key, 3), n(r, "orders"), "{dim} {key}");
            assert_eq!(cell(dim, &key, 4), n(r, "quantity"), "{dim} {key}");
            assert_eq!(cell(dim, &key, 5), n(r, "sales"), "{dim} {key}");
        }
    }

    // A web order today, paid at pickup: today's report is that order alone.
    eventually("the store to take orders", async || {
        let (_, b) = hub
            .call_as(None, "GET", "/api/v1/public/stores/s1", None)
            .await;
        b["ordering"]["accepting"] == true
    })
    .await;
    let (st, signup) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": "robin@example.com", "password": GOOD, "name": "Robin" })),
        )
        .await;
    assert_eq!(st, 201, "{signup}");
    let customer = s(&signup, "access_token");
    let (st, placed, _) = hub
        .request(
            Some(&customer),
            "POST",
            "/api/v1/stores/s1/orders",
            Some(&json!({ "lines": [{ "item_id": "shoestring-fries", "quantity": 2 }] })),
            &[("idempotency-key", "web-1")],
        )
        .await;
    assert_eq!(st, 201, "{placed}");
    let today = sales(&hub, &owner, "/api/v1/stores/s1/sales").await;
    let listed = hub.orders("s1").await;
    let web = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["channel"] == "online")
        .unwrap()
        .clone();
    assert_eq!(n(&today["totals"], "orders"), 1, "{today}");
    assert_eq!(n(&today["totals"], "gross_sales"), total(&web));
    assert_eq!(n(row(&today, "by_channel", "online"), "sales"), total(&web));
    assert_eq!(n(row(&today, "by_item", "shoestring-fries"), "quantity"), 2);

    // The organisation's report over both days: the sum of every order listed
    // that is not cancelled or voided.
    let listed_sum: i64 = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !["cancelled", "voided"].contains(&o["status"].as_str().unwrap()))
        .map(total)
        .sum();
    let to = s(&today, "to");
    for token in [&owner, &manager] {
        let all = sales(
            &hub,
            token,
            &format!("/api/v1/orgs/{org}/sales?from={DAY}&to={to}"),
        )
        .await;
        assert_eq!(n(&all["totals"], "orders"), 5, "{all}");
        assert_eq!(n(&all["totals"], "gross_sales"), listed_sum);
        assert_eq!(all["stores"], json!(["s1", "s2"]));
        assert_eq!(
            all["by_day"].as_array().unwrap().len(),
            if to == DAY { 1 } else { 2 }
        );
    }
    let one = sales(
        &hub,
        &owner,
        &format!("/api/v1/orgs/{org}/sales?from={DAY}&store=s2"),
    )
    .await;
    assert_eq!(
        (n(&one["totals"], "orders"), one["stores"].clone()),
        (0, json!(["s2"]))
    );

    // Who may read it.
    for (who, path, want) in [
        (&cashier, "/api/v1/stores/s1/sales".to_owned(), 403),
        (&cashier, format!("/api/v1/orgs/{org}/sales"), 403),
        (&owner_b, "/api/v1/stores/s1/sales".to_owned(), 404),
        (&owner_b, format!("/api/v1/orgs/{org}/sales"), 404),
        (&customer, "/api/v1/stores/s1/sales".to_owned(), 404),
        (&owner, format!("/api/v1/orgs/{org}/sales?store=b1"), 404),
        (&owner, "/api/v1/stores/s1/sales?format=xml".to_owned(), 400),
    ] {
        let (st, b) = hub.call_as(Some(who), "GET", &path, None).await;
        assert_eq!(st, want, "{path}: {b}");
        assert!(
            !code(&b).is_empty() && b["error"]["message"].is_string(),
            "{b}"
        );
    }
    let (st, _) = hub
        .call_as(None, "GET", "/api/v1/stores/s1/sales", None)
        .await;
    assert_eq!(st, 401);

    // Bad ranges: 422 invalid_range with a message.
    for q in [
        "from=2026-02-30",
        "from=yesterday",
        "from=2026-03-10&to=2026-03-09",
        "from=2025-01-01&to=2026-01-02",
        "to=12/07/2026",
        "from=%00",
    ] {
        for path in [
            format!("/api/v1/stores/s1/sales?{q}"),
            format!("/api/v1/orgs/{org}/sales?{q}"),
        ] {
            let (st, b) = hub.call_as(Some(&owner), "GET", &path, None).await;
            assert_eq!((st, code(&b)), (422, "invalid_range"), "{path}: {b}");
            assert!(
                b["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }
    // 366 days is the most.
    sales(
        &hub,
        &owner,
        "/api/v1/stores/s1/sales?from=2024-01-01&to=2024-12-31",
    )
    .await;

    // The one-time backfill of migration 0010 gives the same report from what
    // an older hub held (the orders' views and the payment facts of the log).
    raw_sql(
        &db,
        backend,
        "DELETE FROM order_lines; DELETE FROM order_tenders; \
        UPDATE orders SET tax = 0, discount = 0, refunded = 0, currency = ''",
    )
    .await;
    let emptied = sales(&hub, &owner, &format!("/api/v1/stores/s1/sales?from={DAY}")).await;
    assert_eq!(n(&emptied["totals"], "tax"), 0);
    assert!(emptied["by_item"].as_array().unwrap().is_empty());
    let migration = match backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0010_sales.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0010_sales.sql"),
    };
    let backfill = &migration[migration.find("-- One-time backfill").unwrap()..];
    raw_sql(&db, backend, backfill).await;
    let again = sales(&hub, &owner, &format!("/api/v1/stores/s1/sales?from={DAY}")).await;
    assert_eq!(again, report);

    peer.disconnect().await;
    hub.stop().await;
}
both!(sales_report);

/// Runs `sql` on the test's database directly, as an older hub would have left it.
async fn raw_sql(db: &TestDb, backend: Backend, sql: &str) {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// A small xorshift: the same cases on every run, the seed in every failure.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len() as u64) as usize]
    }
}

/// Random order facts of one seed: orders of every channel over three days,
/// changed, paid, cancelled, voided, refunded, seen again from another
/// replica with other lines and another time, some delivered twice.
fn random_facts(rng: &mut Rng, seed: u64, orders: usize) -> Vec<(String, String, Value)> {
    let items = [
        "harbor-classic-burger",
        "margherita-pizza",
        "fries",
        "lemonade",
    ];
    let mut facts = vec![];
    for i in 0..orders {
        let id = format!("r{seed}-{i}");
        let channel = rng.pick(&["pos", "kiosk", "online"]);
        let when = |rng: &mut Rng| at(0, 0) + rng.below(3 * 86_400_000);
        let lines = |rng: &mut Rng| {
            (0..rng.below(4))
                .map(|_| {
                    (
                        rng.pick(&items),
                        1 + rng.below(3) as i64,
                        250 + 50 * rng.below(20) as i64,
                    )
                })
                .collect::<Vec<_>>()
        };
        let created = when(rng);
        let first = lines(rng);
        let mut v = view(&id, channel, created, &first, 50 * rng.below(3) as i64);
        facts.push((
            id.clone(),
            "order.created".to_owned(),
            json!({ "order": v }),
        ));
        for _ in 0..rng.below(5) {
            match rng.below(5) {
                0 | 1 => {
                    v["status"] = json!(rng.pick(&[
                        "accepted",
                        "in_preparation",
                        "ready",
                        "completed",
                        "cancelled",
                        "voided",
                        "refunded"
                    ]));
                    facts.push((
                        id.clone(),
                        "order.changed".to_owned(),
                        json!({ "order": v }),
                    ));
                }
                2 => {
                    let amount = total(&v);
                    v["paid"] = json!(amount);
                    let method = rng.pick(&["cash", "card", "online"]);
                    let payment = if method == "online" {
                        json!({ "id": format!("pay-{id}-{}", rng.below(3)), "order_id": id, "method": "card", "online": true, "amount": amount })
                    } else {
                        json!({ "id": format!("pay-{id}-{}", rng.below(3)), "order_id": id, "method": method, "amount": amount })
                    };
                    facts.push((
                        id.clone(),
                        "payment.recorded".to_owned(),
                        json!({ "order": v, "payment": payment }),
                    ));
                }
                3 => {
                    v["refunded"] = json!(1 + rng.below(500) as i64);
                    facts.push((
                        id.clone(),
                        "order.changed".to_owned(),
                        json!({ "order": v }),
                    ));
                }
                _ => {
                    // Another replica's view: other lines and time (the join keeps one of them).
                    let mut other = view(&id, channel, when(rng), &lines(rng), 0);
                    other["status"] = v["status"].clone();
                    facts.push((
                        id.clone(),
                        "order.changed".to_owned(),
                        json!({ "order": other }),
                    ));
                }
            }
        }
    }
    // Interleaved orders, some facts twice.
    let mut mixed = vec![];
    while !facts.is_empty() {
        let f = facts.remove(rng.below(facts.len().min(6) as u64) as usize);
        if rng.below(8) == 0 {
            mixed.push(f.clone());
        }
        mixed.push(f);
    }
    mixed
}

/// The sums kept at ingest (migration 0011) stay equal to the sums of the
/// projections after every batch of random order facts, and after the store's
/// time zone changes (they are summed again in the new one).
async fn sums_equal_the_projections(backend: Backend) {
    let tdb = TestDb::new(backend).await;
    let db = cloud_hub::db::Db::connect(&tdb.url, 4).await.unwrap();
    db.create_store("r1", "r1", None, 0).await.unwrap();
    // Summed (none yet) and kept from here on, in a zone 5:45 from UTC.
    db.sales_rollups_ready(&[("r1".to_owned(), chrono_tz::Asia::Kathmandu)])
        .await
        .unwrap();
    let mut seq = 0u64;
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        if seed == 4 {
            // The owner moves the store to New York: the next reader sums again.
            db.sales_rollups_ready(&[("r1".to_owned(), TZ)])
                .await
                .unwrap();
        }
        let mut facts = random_facts(&mut rng, seed, 20).into_iter().peekable();
        while facts.peek().is_some() {
            let batch: Vec<sync::log::Event> = facts
                .by_ref()
                .take(1 + rng.below(8) as usize)
                .map(|(subject, kind, data)| {
                    seq += 1;
                    sync::log::Event {
                        id: uuid::Uuid::now_v7(),
                        store: "r1".to_owned(),
                        origin: "node-1".to_owned(),
                        seq,
                        hlc: format!("{seq:016}"),
                        kind,
                        subject: Some(subject),
                        data,
                    }
                })
                .collect();
            db.append_events_from("r1", &batch, 1, "").await.unwrap();
            let (held, again) = db
                .sales_rollup_check("r1")
                .await
                .unwrap()
                .expect("the store's sums are kept");
            assert_eq!(held, again, "seed {seed}, after seq {seq}");
        }
    }
    let (held, _) = db.sales_rollup_check("r1").await.unwrap().unwrap();
    assert!(
        held.hours.keys().any(|k| k.4 == "void") && held.hours.keys().any(|k| k.4 == "sale"),
        "the cases cover counted and cancelled orders: {held:?}"
    );
    assert!(!held.items.is_empty() && !held.tenders.is_empty());
    db.close().await;
}
both!(sums_equal_the_projections);
