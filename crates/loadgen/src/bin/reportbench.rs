//! `reportbench`: the sales report's and the overview's latency (BENCHMARKS.md,
//! "Sales report").
//!
//! Starts the real `cloud-hub` binary (the one built next to this one, or
//! `--hub`) over a fresh SQLite file or PostgreSQL database (made and dropped
//! here), makes an organisation with `--stores` stores and its owner through
//! the API, then stops it and seeds `--orders` orders spread over the `--days`
//! days up to now in bulk SQL, straight into the projections the hub keeps at
//! ingest (`orders`, `order_lines`, `order_tenders`: what ingesting the facts
//! would have written; the ingest path itself is measured by the other benches,
//! and `cloud-hub/tests/sales.rs` checks that the ingest keeps the sums equal to
//! them). SQLite is seeded with rusqlite in one transaction, PostgreSQL with
//! `COPY` through `psql`, with progress on stdout. The hub's sums by local day
//! (migration 0011) are then made by the hub itself from those projections on
//! the first report (the backfill path), which is timed. Then, as the owner,
//! it times sequential requests of the overview, `GET /orgs/{org}/sales` for
//! one day and 30 days and `GET /stores/{id}/sales` for one and 30 days, after
//! a warm-up; and, as the same-run baseline, the SQL alone straight on the
//! database: the raw grouping over the projections that the report ran before
//! migration 0011, and the grouping over the sums it runs now, for the
//! organisation's 30 days. Prints p50, p99 and max per case.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use test_support::process::{Server, bin, hub_command, spawn};

const ADMIN: &str = "reportbench-admin-token-0123456789";
const PASSWORD: &str = "plum-kettle-73-orbit";
const DAY_MS: i64 = 86_400_000;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// The PostgreSQL server (trust auth); a database is made and dropped on it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pg: String,
    /// The hub binary (default: `cloud-hub` next to this binary).
    #[arg(long)]
    hub: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 50)]
    stores: usize,
    #[arg(long, default_value_t = 200_000)]
    orders: usize,
    /// The orders are spread evenly over this many days, ending now.
    #[arg(long, default_value_t = 180)]
    days: i64,
    /// Timed requests per case.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// The hub (`--hub`) predates migration 0011's sums: leave them out of the SQL baseline.
    #[arg(long)]
    before_sums: bool,
}

/// A small xorshift: the same data on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Order {
    id: String,
    store: String,
    channel: &'static str,
    status: &'static str,
    created_ms: i64,
    total: i64,
    tax: i64,
    discount: i64,
    refunded: i64,
    /// (item id, name, quantity, sales)
    lines: Vec<(String, String, i64, i64)>,
    tender: &'static str,
}

fn orders(args: &Args, stores: &[String], now_ms: i64) -> Vec<Order> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = now_ms - args.days * DAY_MS;
    let span = u64::try_from(args.days * DAY_MS).unwrap_or(1).max(1);
    (0..args.orders)
        .map(|i| {
            let created_ms = start + i64::try_from(rng.below(span)).unwrap_or(0);
            let channel = ["pos", "pos", "kiosk", "online"][rng.below(4) as usize];
            let status = if rng.below(100) < 3 {
                "cancelled"
            } else {
                "completed"
            };
            let lines: Vec<_> = (0..1 + rng.below(4))
                .map(|_| {
                    let item = rng.below(30);
                    let q = 1 + rng.below(3) as i64;
                    (
                        format!("item-{item:02}"),
                        format!("Item {item}"),
                        q,
                        q * (500 + 50 * item as i64),
                    )
                })
                .collect();
            let subtotal: i64 = lines.iter().map(|l| l.3).sum();
            let discount = if rng.below(20) == 0 { subtotal / 10 } else { 0 };
            let tax = (subtotal - discount) / 10;
            let total = subtotal - discount + tax;
            let tender = match channel {
                "online" => "online_card",
                _ if rng.below(2) == 0 => "cash",
                _ => "card",
            };
            Order {
                id: format!("bench-{i:07}"),
                store: stores[i % stores.len()].clone(),
                channel,
                status,
                created_ms,
                total,
                tax,
                discount,
                refunded: if rng.below(100) == 0 { total } else { 0 },
                lines,
                tender,
            }
        })
        .collect()
}

fn snapshot(o: &Order) -> String {
    json!({ "id": o.id, "status": o.status, "channel": o.channel, "created_ms": o.created_ms })
        .to_string()
}

fn seed_sqlite(path: &std::path::Path, orders: &[Order]) -> anyhow::Result<()> {
    let mut c = rusqlite::Connection::open(path)?;
    let tx = c.transaction()?;
    {
        let mut o_st = tx.prepare(
            "INSERT INTO orders (id, store_id, ticket, channel, status, status_rank, total, snapshot, \
             created_at, updated_at, created_ms, tax, discount, refunded, currency) \
             VALUES (?1, ?2, ?1, ?3, ?4, 4, ?5, ?6, ?7, ?7, ?7, ?8, ?9, ?10, 'USD')",
        )?;
        let mut l_st = tx.prepare(
            "INSERT INTO order_lines (order_id, line_no, store_id, item_id, name, quantity, sales, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut t_st = tx.prepare(
            "INSERT INTO order_tenders (order_id, payment_id, store_id, tender, amount, created_ms, counted) \
             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (i, o) in orders.iter().enumerate() {
            if i > 0 && i % 20_000 == 0 {
                println!("  seeding: {i} of {} orders", orders.len());
            }
            o_st.execute(rusqlite::params![
                o.id,
                o.store,
                o.channel,
                o.status,
                o.total,
                snapshot(o),
                o.created_ms,
                o.tax,
                o.discount,
                o.refunded
            ])?;
            let counted = o.status != "cancelled";
            if counted {
                for (n, (item, name, q, sales)) in o.lines.iter().enumerate() {
                    l_st.execute(rusqlite::params![
                        o.id,
                        n as i64,
                        o.store,
                        item,
                        name,
                        q,
                        sales,
                        o.created_ms
                    ])?;
                }
            }
            t_st.execute(rusqlite::params![
                o.id,
                o.store,
                o.tender,
                o.total,
                o.created_ms,
                i64::from(counted)
            ])?;
        }
    }
    tx.commit()?;
    c.execute_batch("ANALYZE")?;
    Ok(())
}

fn psql(url: &str, input: Option<&[u8]>, command: &str) -> anyhow::Result<()> {
    let mut child = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("psql")?;
    if let Some(bytes) = input {
        child.stdin.take().context("stdin")?.write_all(bytes)?;
    } else {
        drop(child.stdin.take());
    }
    if !child.wait()?.success() {
        bail!("psql failed: {command}");
    }
    Ok(())
}

fn seed_postgres(url: &str, orders: &[Order]) -> anyhow::Result<()> {
    let (mut o_csv, mut l_csv, mut t_csv) = (vec![], vec![], vec![]);
    {
        let mut o_w = csv::Writer::from_writer(&mut o_csv);
        let mut l_w = csv::Writer::from_writer(&mut l_csv);
        let mut t_w = csv::Writer::from_writer(&mut t_csv);
        for o in orders {
            let (t, ms) = (o.total.to_string(), o.created_ms.to_string());
            o_w.write_record([
                o.id.as_str(),
                &o.store,
                &o.id,
                o.channel,
                o.status,
                "4",
                &t,
                &snapshot(o),
                &ms,
                &ms,
                &ms,
                &o.tax.to_string(),
                &o.discount.to_string(),
                &o.refunded.to_string(),
                "USD",
            ])?;
            let counted = o.status != "cancelled";
            if counted {
                for (n, (item, name, q, sales)) in o.lines.iter().enumerate() {
                    l_w.write_record([
                        o.id.as_str(),
                        &n.to_string(),
                        &o.store,
                        item,
                        name,
                        &q.to_string(),
                        &sales.to_string(),
                        &ms,
                    ])?;
                }
            }
            t_w.write_record([
                o.id.as_str(),
                &o.id,
                &o.store,
                o.tender,
                &t,
                &ms,
                if counted { "1" } else { "0" },
            ])?;
        }
    }
    println!("  seeding: {} orders made, copying", orders.len());
    psql(
        url,
        Some(&o_csv),
        "\\copy orders (id, store_id, ticket, channel, status, status_rank, total, snapshot, created_at, updated_at, created_ms, tax, discount, refunded, currency) FROM STDIN WITH (FORMAT csv)",
    )?;
    println!("  seeding: orders copied, copying lines");
    psql(
        url,
        Some(&l_csv),
        "\\copy order_lines (order_id, line_no, store_id, item_id, name, quantity, sales, created_ms) FROM STDIN WITH (FORMAT csv)",
    )?;
    println!("  seeding: lines copied, copying tenders");
    psql(
        url,
        Some(&t_csv),
        "\\copy order_tenders (order_id, payment_id, store_id, tender, amount, created_ms, counted) FROM STDIN WITH (FORMAT csv)",
    )?;
    psql(url, None, "VACUUM ANALYZE")?;
    Ok(())
}

fn start_hub(program: &std::path::Path, url: &str) -> Server {
    let mut cmd = hub_command(program, url);
    cmd.env("HUB_ADMIN_TOKEN", ADMIN)
        .env("HUB_ACCESS_TTL_SECS", "7200")
        .env("CLOUD_HUB_WEB_DIR", "/nonexistent");
    spawn(cmd)
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {v}");
    }
    Ok(v)
}

fn day(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let program = args.hub.clone().unwrap_or_else(|| bin("cloud-hub"));
    let dir = tempfile::tempdir()?;
    let pg_name = format!("reportbench_{}", std::process::id());
    let url = match args.backend.as_str() {
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display()),
        "postgres" => {
            psql(
                &format!("{}/postgres", args.pg),
                None,
                &format!("CREATE DATABASE {pg_name}"),
            )?;
            format!("{}/{pg_name}", args.pg)
        }
        other => bail!("--backend is sqlite or postgres, not {other}"),
    };
    let result = run(&args, &program, &url, dir.path()).await;
    if args.backend == "postgres" {
        psql(
            &format!("{}/postgres", args.pg),
            None,
            &format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"),
        )?;
    }
    result
}

async fn run(
    args: &Args,
    program: &std::path::Path,
    url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let hub = start_hub(program, url);
    let org = call(
        &http,
        &hub.base,
        ADMIN,
        reqwest::Method::POST,
        "/api/v1/admin/orgs",
        Some(json!({ "name": "Bench", "owner_email": "owner@bench.example" })),
    )
    .await?;
    let org_id = org["id"].as_str().context("org id")?.to_owned();
    let stores: Vec<String> = (0..args.stores).map(|i| format!("bench-{i:02}")).collect();
    for s in &stores {
        call(
            &http,
            &hub.base,
            ADMIN,
            reqwest::Method::POST,
            "/api/v1/admin/stores",
            Some(json!({ "id": s, "name": s, "org_id": org_id })),
        )
        .await?;
    }
    let invitation = org["invitation"]["token"].as_str().context("invitation")?;
    let r = http
        .post(format!("{}/api/v1/auth/accept-invitation", hub.base))
        .json(&json!({ "token": invitation, "name": "Owner", "password": PASSWORD }))
        .send()
        .await?;
    let accepted: Value = r.json().await?;
    let owner = accepted["access_token"]
        .as_str()
        .context("owner token")?
        .to_owned();
    drop(hub);

    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let today_ms = now_ms - now_ms.rem_euclid(DAY_MS);
    let orders = orders(args, &stores, now_ms);
    let lines: usize = orders
        .iter()
        .filter(|o| o.status != "cancelled")
        .map(|o| o.lines.len())
        .sum();
    let t = Instant::now();
    if args.backend == "sqlite" {
        seed_sqlite(&dir.join("hub.db"), &orders)?;
    } else {
        seed_postgres(url, &orders)?;
    }
    println!(
        "seeded {} orders, {lines} lines, {} tenders over {} stores and {} days in {:.1} s ({})",
        orders.len(),
        orders.len(),
        args.stores,
        args.days,
        t.elapsed().as_secs_f64(),
        args.backend
    );

    let hub = start_hub(program, url);
    let yesterday = day(today_ms - DAY_MS);
    let month_ago = day(today_ms - 30 * DAY_MS);
    let today = day(today_ms);
    let cases = [
        ("overview", format!("/api/v1/orgs/{org_id}/overview")),
        (
            "org, today",
            format!("/api/v1/orgs/{org_id}/sales?from={today}&to={today}"),
        ),
        (
            "org, 1 day",
            format!("/api/v1/orgs/{org_id}/sales?from={yesterday}&to={yesterday}"),
        ),
        (
            "org, 30 days",
            format!("/api/v1/orgs/{org_id}/sales?from={month_ago}&to={yesterday}"),
        ),
        (
            "store, 1 day",
            format!(
                "/api/v1/stores/{}/sales?from={yesterday}&to={yesterday}",
                stores[0]
            ),
        ),
        (
            "store, 30 days",
            format!(
                "/api/v1/stores/{}/sales?from={month_ago}&to={yesterday}",
                stores[0]
            ),
        ),
        (
            "org, 30 days, csv",
            format!("/api/v1/orgs/{org_id}/sales?from={month_ago}&to={yesterday}&format=csv"),
        ),
    ];
    // Warm-up: the first report opens every store's documents and sums each
    // store's orders by local day (the backfill of migration 0011's sums).
    let warm = Instant::now();
    let first = call(
        &http,
        &hub.base,
        &owner,
        reqwest::Method::GET,
        &cases[3].1,
        None,
    )
    .await?;
    let first_ms = warm.elapsed().as_secs_f64() * 1000.0;
    // The sums were just written in bulk: give the planner their statistics
    // (and PostgreSQL its visibility map), as was done for the seeded projections
    // and as autovacuum would do.
    let t = Instant::now();
    if args.backend == "sqlite" {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        sqlx::raw_sql("ANALYZE").execute(&pool).await?;
        pool.close().await;
    } else {
        psql(url, None, "VACUUM ANALYZE")?;
    }
    println!(
        "analyzed after the first report in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "first org report (opens {} stores, sums their orders): {:.0} ms; 30 days: {} orders, gross {}",
        args.stores, first_ms, first["totals"]["orders"], first["totals"]["gross_sales"]
    );
    for (name, path) in &cases {
        for _ in 0..5 {
            http.get(format!("{}{path}", hub.base))
                .bearer_auth(&owner)
                .send()
                .await?
                .bytes()
                .await?;
        }
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..args.requests {
            let t = Instant::now();
            let r = http
                .get(format!("{}{path}", hub.base))
                .bearer_auth(&owner)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("{path}: {}", r.status());
            }
            r.bytes().await?;
            h.record(u64::try_from(t.elapsed().as_micros())?.max(1))?;
        }
        let ms = |v: u64| Duration::from_micros(v).as_secs_f64() * 1000.0;
        println!(
            "{:<20} {} requests: p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
            name,
            args.requests,
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
    }
    drop(hub);
    baseline(args, url, &stores, today_ms).await
}

/// Times a query `n` times; prints p50, p99, max.
macro_rules! time_sql {
    ($pool:expr, $name:expr, $sql:expr, $binds:expr, $n:expr) => {{
        let mut h = Histogram::<u64>::new(3)?;
        let mut rows = 0;
        for i in 0..$n + 5 {
            let t = Instant::now();
            let mut q = sqlx::query(sqlx::AssertSqlSafe($sql.clone()));
            for b in $binds {
                q = match b {
                    Bind::I(v) => q.bind(*v),
                    Bind::S(v) => q.bind(v.clone()),
                };
            }
            rows = q.fetch_all($pool).await?.len();
            if i >= 5 {
                h.record(u64::try_from(t.elapsed().as_micros())?.max(1))?;
            }
        }
        let ms = |v: u64| Duration::from_micros(v).as_secs_f64() * 1000.0;
        println!(
            "  {:<44} {} runs: p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  ({rows} rows)",
            $name,
            $n,
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
    }};
}

enum Bind {
    I(i64),
    S(String),
}

/// The same-run baseline: the organisation's 30 days (the stores' zone is UTC)
/// as SQL alone on the database the hub just served from, with the hub stopped.
async fn baseline(args: &Args, url: &str, stores: &[String], today_ms: i64) -> anyhow::Result<()> {
    let (from_ms, to_ms) = (today_ms - 30 * DAY_MS, today_ms);
    // Days from 0001-01-01 of 1970-01-01 is 719,163.
    let (from_day, to_day) = (
        719_163 + (today_ms - 30 * DAY_MS) / DAY_MS,
        719_163 + today_ms / DAY_MS - 1,
    );
    let list = |skip: usize| {
        (0..stores.len())
            .map(|i| format!("${}", skip + i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let raw = [
        (
            "raw orders by 15-min bucket (before 0011)",
            format!(
                "SELECT created_ms / 900000 AS bucket, channel, currency, COUNT(*) AS n, \
                 CAST(SUM(total) AS BIGINT) AS total, CAST(SUM(tax) AS BIGINT) AS tax, \
                 CAST(SUM(discount) AS BIGINT) AS discount, CAST(SUM(refunded) AS BIGINT) AS refunded \
                 FROM orders WHERE store_id IN ({}) AND created_ms >= $1 AND created_ms < $2 \
                 AND status NOT IN ('cancelled', 'voided') GROUP BY 1, 2, 3",
                list(2)
            ),
        ),
        (
            "raw lines by store and item (before 0011)",
            format!(
                "SELECT store_id, item_id, MAX(name) AS name, COUNT(*) AS n, \
                 CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(sales) AS BIGINT) AS sales \
                 FROM order_lines WHERE store_id IN ({}) AND created_ms >= $1 AND created_ms < $2 \
                 GROUP BY store_id, item_id",
                list(2)
            ),
        ),
        (
            "raw tenders (before 0011)",
            format!(
                "SELECT tender, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS amount \
                 FROM order_tenders WHERE store_id IN ({}) AND created_ms >= $1 AND created_ms < $2 \
                 AND counted = 1 GROUP BY tender",
                list(2)
            ),
        ),
    ];
    let sums = [
        (
            "sums by local day and hour (now)",
            format!(
                "SELECT day, hour, channel, currency, CAST(SUM(orders) AS BIGINT) AS n, \
                 CAST(SUM(total) AS BIGINT) AS total, CAST(SUM(tax) AS BIGINT) AS tax, \
                 CAST(SUM(discount) AS BIGINT) AS discount, CAST(SUM(refunded) AS BIGINT) AS refunded \
                 FROM sales_hours WHERE store_id IN ({}) AND day >= $1 AND day <= $2 \
                 AND class <> 'void' AND orders > 0 GROUP BY day, hour, channel, currency",
                list(2)
            ),
        ),
        (
            "sums of items by local day (now)",
            format!(
                "SELECT store_id, item_id, MAX(name) AS name, CAST(SUM(lines) AS BIGINT) AS n, \
                 CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(sales) AS BIGINT) AS sales \
                 FROM sales_item_days WHERE store_id IN ({}) AND day >= $1 AND day <= $2 AND lines > 0 \
                 GROUP BY store_id, item_id",
                list(2)
            ),
        ),
        (
            "sums of tenders by local day (now)",
            format!(
                "SELECT tender, CAST(SUM(payments) AS BIGINT) AS n, CAST(SUM(amount) AS BIGINT) AS amount \
                 FROM sales_tender_days WHERE store_id IN ({}) AND day >= $1 AND day <= $2 AND payments > 0 \
                 GROUP BY tender",
                list(2)
            ),
        ),
    ];
    let mut raw_binds = vec![Bind::I(from_ms), Bind::I(to_ms)];
    let mut sum_binds = vec![Bind::I(from_day), Bind::I(to_day)];
    for s in stores {
        raw_binds.push(Bind::S(s.clone()));
        sum_binds.push(Bind::S(s.clone()));
    }
    let n = args.requests;
    println!("baseline: the organisation's 30 days as SQL alone on the database, hub stopped");
    if args.backend == "sqlite" {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        for (name, sql) in &raw {
            time_sql!(&pool, name, sql, &raw_binds, n);
        }
        for (name, sql) in sums.iter().filter(|_| !args.before_sums) {
            time_sql!(&pool, name, sql, &sum_binds, n);
        }
        pool.close().await;
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        for (name, sql) in &raw {
            time_sql!(&pool, name, sql, &raw_binds, n);
        }
        for (name, sql) in sums.iter().filter(|_| !args.before_sums) {
            time_sql!(&pool, name, sql, &sum_binds, n);
        }
        pool.close().await;
    }
    Ok(())
}
