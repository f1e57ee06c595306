//! The sales report's reads and the sums they read. The ingest keeps the
//! projections of migration 0010 (`orders`' money columns, `order_lines`,
//! `order_tenders`) and, in the same transaction, their sums by the store's
//! local day and hour (migration 0011: `sales_hours`, `sales_item_days`,
//! `sales_tender_days`), so a report over a month of 50 stores adds a few
//! thousand rows already summed instead of grouping every order and line of
//! the range per request (BENCHMARKS.md, "Sales report").
//!
//! The sums are exactly the report's old grouping: an order counts on the local
//! day and hour in which its 15-minute bucket of Unix time starts (every time
//! zone's offset is a multiple of 15 minutes, so that is the order's own local
//! hour), a line on its order's local day, a payment likewise. A store's sums
//! are kept in the time zone written in `sales_rollup_stores`; the readers pass
//! the store's time zone now ([`Db::sales_rollups_ready`]), and a store without
//! sums, or whose zone has changed, has them summed again from the projections
//! (the backfill). How one order's fact changes them: its sums before the fact,
//! its sums after, and the difference applied (`order_sums`, [`Rollup::minus`]).
//!
//! On PostgreSQL the writers of one store's sums take a transaction advisory
//! lock keyed by the store (shared while ingesting, exclusive while summing
//! again), so a rebuild never misses nor counts twice an order being ingested.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use sqlx::Row;

use super::{BeginWrite, Db};

/// Width of a time bucket, ms.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// The key of the advisory lock of a store's sums (PostgreSQL).
const LOCK_KEY: &str = "hashtextextended('sales_rollup:' || $1, 0)";

/// Rows per multi-row `INSERT` when summing a store again.
const CHUNK: usize = 400;

/// The local day (days from 0001-01-01) and hour in `tz` of the bucket of `created_ms`,
/// as the report has always grouped: the bucket's start (`created_ms / BUCKET_MS`,
/// truncated as SQL does) in the zone.
pub fn local_slot(tz: chrono_tz::Tz, created_ms: i64) -> Option<(i64, i64)> {
    let start = (created_ms / BUCKET_MS).checked_mul(BUCKET_MS)?;
    let t = tz.timestamp_millis_opt(start).earliest()?;
    Some((day_number(t.date_naive()), i64::from(t.hour())))
}

/// A local date as the sums store it.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

/// The date of a stored day number.
pub fn date_of(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day).ok()?)
}

/// The class of an order's status in `sales_hours`: `void` (cancelled, voided:
/// not counted), `refunded` (counted by the report, not by the overview's
/// sales), `sale` (everything else).
pub fn class_of(status: &str) -> &'static str {
    match status {
        "cancelled" | "voided" => "void",
        "refunded" => "refunded",
        _ => "sale",
    }
}

/// `(day, hour, channel, currency, class)`.
pub type HourKey = (i64, i64, String, String, String);
/// `(day, item_id, name)`.
pub type ItemKey = (i64, String, String);
/// `(day, tender)`.
pub type TenderKey = (i64, String);

/// Sums of one store, by key: `hours` are `[orders, total, tax, discount,
/// refunded]`, `items` `[lines, quantity, sales]`, `tenders` `[payments, amount]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    pub hours: BTreeMap<HourKey, [i64; 5]>,
    pub items: BTreeMap<ItemKey, [i64; 3]>,
    pub tenders: BTreeMap<TenderKey, [i64; 2]>,
}

fn add<K: Ord, const N: usize>(map: &mut BTreeMap<K, [i64; N]>, k: K, v: [i64; N]) {
    let e = map.entry(k).or_insert([0; N]);
    for (a, b) in e.iter_mut().zip(v) {
        *a = a.wrapping_add(b);
    }
}

fn minus<K: Ord + Clone, const N: usize>(
    a: &BTreeMap<K, [i64; N]>,
    b: &BTreeMap<K, [i64; N]>,
) -> BTreeMap<K, [i64; N]> {
    let mut out = a.clone();
    for (k, v) in b {
        add(&mut out, k.clone(), v.map(i64::wrapping_neg));
    }
    out.retain(|_, v| v.iter().any(|x| *x != 0));
    out
}

impl Rollup {
    /// Orders of one bucket (`created_ms` any instant in it): `[orders, total, tax, discount, refunded]`.
    pub fn add_orders(
        &mut self,
        tz: chrono_tz::Tz,
        created_ms: i64,
        channel: &str,
        currency: &str,
        status: &str,
        v: [i64; 5],
    ) {
        if let Some((day, hour)) = local_slot(tz, created_ms) {
            add(
                &mut self.hours,
                (
                    day,
                    hour,
                    channel.to_owned(),
                    currency.to_owned(),
                    class_of(status).to_owned(),
                ),
                v,
            );
        }
    }

    /// Lines of one item: `[lines, quantity, sales]`.
    pub fn add_lines(
        &mut self,
        tz: chrono_tz::Tz,
        created_ms: i64,
        item_id: &str,
        name: &str,
        v: [i64; 3],
    ) {
        if let Some((day, _)) = local_slot(tz, created_ms) {
            add(
                &mut self.items,
                (day, item_id.to_owned(), name.to_owned()),
                v,
            );
        }
    }

    /// Counted payments of one tender: `[payments, amount]`.
    pub fn add_tenders(&mut self, tz: chrono_tz::Tz, created_ms: i64, tender: &str, v: [i64; 2]) {
        if let Some((day, _)) = local_slot(tz, created_ms) {
            add(&mut self.tenders, (day, tender.to_owned()), v);
        }
    }

    /// `self - before`, without the keys that do not change.
    pub fn minus(&self, before: &Rollup) -> Rollup {
        Rollup {
            hours: minus(&self.hours, &before.hours),
            items: minus(&self.items, &before.items),
            tenders: minus(&self.tenders, &before.tenders),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.items.is_empty() && self.tenders.is_empty()
    }
}

/// `SELECT`s that read the projections of one store for [`Rollup`] (one
/// order's, with `AND order_id = $2`, or the whole store's, grouped by bucket).
const ORDERS_OF_STORE: &str = "SELECT created_ms, channel, currency, status, COUNT(*) AS n, \
     CAST(SUM(total) AS BIGINT) AS total, CAST(SUM(tax) AS BIGINT) AS tax, \
     CAST(SUM(discount) AS BIGINT) AS discount, CAST(SUM(refunded) AS BIGINT) AS refunded \
     FROM (SELECT (created_ms / 900000) * 900000 AS created_ms, channel, currency, status, total, tax, discount, refunded \
           FROM orders WHERE store_id = $1 AND created_ms IS NOT NULL) o \
     GROUP BY created_ms, channel, currency, status";
const LINES_OF_STORE: &str = "SELECT created_ms, item_id, name, COUNT(*) AS n, \
     CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(sales) AS BIGINT) AS sales \
     FROM (SELECT (created_ms / 900000) * 900000 AS created_ms, item_id, name, quantity, sales \
           FROM order_lines WHERE store_id = $1) l \
     GROUP BY created_ms, item_id, name";
const TENDERS_OF_STORE: &str = "SELECT created_ms, tender, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS amount \
     FROM (SELECT (created_ms / 900000) * 900000 AS created_ms, tender, amount \
           FROM order_tenders WHERE store_id = $1 AND counted = 1 AND created_ms IS NOT NULL) t \
     GROUP BY created_ms, tender";
const ORDERS_OF_ORDER: &str = "SELECT created_ms, channel, currency, status, CAST(1 AS BIGINT) AS n, total, tax, discount, refunded \
     FROM orders WHERE store_id = $1 AND id = $2 AND created_ms IS NOT NULL";
const LINES_OF_ORDER: &str = "SELECT created_ms, item_id, name, CAST(1 AS BIGINT) AS n, quantity, sales \
     FROM order_lines WHERE store_id = $1 AND order_id = $2";
const TENDERS_OF_ORDER: &str = "SELECT created_ms, tender, CAST(1 AS BIGINT) AS n, amount \
     FROM order_tenders WHERE store_id = $1 AND order_id = $2 AND counted = 1 AND created_ms IS NOT NULL";

/// `(v1, v2, ...), (...)`: `rows` tuples of `width` placeholders.
fn values(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (0..width)
                .map(|c| format!("${}", r * width + c + 1))
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The store-side operations inside a transaction, once per backend.
macro_rules! rollup_ops {
    ($module:ident, $db:ty, $is_pg:expr) => {
        pub(crate) mod $module {
            use super::*;

            type Tx<'t> = sqlx::Transaction<'t, $db>;
            const IS_PG: bool = $is_pg;

            /// The zone the store's sums are kept in; `None` when it has none yet
            /// (then the ingest leaves them to the first reader). On PostgreSQL
            /// takes the store's lock, shared, until the transaction ends: call it
            /// before locking any row.
            pub async fn rollup_tz(tx: &mut Tx<'_>, store_id: &str) -> Result<Option<chrono_tz::Tz>, sqlx::Error> {
                if IS_PG {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_xact_lock_shared({LOCK_KEY})")))
                        .bind(store_id.to_owned())
                        .execute(&mut **tx)
                        .await?;
                }
                let tz: Option<String> = sqlx::query_scalar("SELECT tz FROM sales_rollup_stores WHERE store_id = $1")
                    .bind(store_id.to_owned())
                    .fetch_optional(&mut **tx)
                    .await?;
                Ok(tz.and_then(|t| t.parse().ok()))
            }

            /// Marks the transaction's next writes to the projections as the
            /// ingest's (`on`), which keeps the sums itself, or no longer
            /// (migration 0011's triggers forget the store's sums otherwise).
            pub async fn writer(tx: &mut Tx<'_>, on: bool) -> Result<(), sqlx::Error> {
                if IS_PG {
                    sqlx::query("SELECT set_config('hub.sales_writer', $1, true)")
                        .bind(if on { "on" } else { "off" })
                        .execute(&mut **tx)
                        .await?;
                } else if on {
                    sqlx::query("INSERT INTO sales_writer (n) VALUES (1)").execute(&mut **tx).await?;
                } else {
                    sqlx::query("DELETE FROM sales_writer").execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Reads projection rows (`ORDERS_*`, `LINES_*`, `TENDERS_*` queries) into sums.
            async fn read(
                tx: &mut Tx<'_>,
                tz: chrono_tz::Tz,
                queries: [&'static str; 3],
                store_id: &str,
                order_id: Option<&str>,
            ) -> Result<Rollup, sqlx::Error> {
                let mut r = Rollup::default();
                let bind = |sql: &'static str| {
                    let q = sqlx::query(sql).bind(store_id.to_owned());
                    match order_id {
                        Some(o) => q.bind(o.to_owned()),
                        None => q,
                    }
                };
                for row in bind(queries[0]).fetch_all(&mut **tx).await? {
                    r.add_orders(
                        tz,
                        row.try_get("created_ms")?,
                        &row.try_get::<String, _>("channel")?,
                        &row.try_get::<String, _>("currency")?,
                        &row.try_get::<String, _>("status")?,
                        [
                            row.try_get::<i64, _>("n")?,
                            row.try_get("total")?,
                            row.try_get("tax")?,
                            row.try_get("discount")?,
                            row.try_get("refunded")?,
                        ],
                    );
                }
                for row in bind(queries[1]).fetch_all(&mut **tx).await? {
                    r.add_lines(
                        tz,
                        row.try_get("created_ms")?,
                        &row.try_get::<String, _>("item_id")?,
                        &row.try_get::<String, _>("name")?,
                        [row.try_get::<i64, _>("n")?, row.try_get("quantity")?, row.try_get("sales")?],
                    );
                }
                for row in bind(queries[2]).fetch_all(&mut **tx).await? {
                    r.add_tenders(
                        tz,
                        row.try_get("created_ms")?,
                        &row.try_get::<String, _>("tender")?,
                        [row.try_get::<i64, _>("n")?, row.try_get("amount")?],
                    );
                }
                Ok(r)
            }

            /// One order's part of its store's sums, as the projections hold it now.
            pub async fn order_sums(
                tx: &mut Tx<'_>,
                tz: chrono_tz::Tz,
                store_id: &str,
                order_id: &str,
            ) -> Result<Rollup, sqlx::Error> {
                read(tx, tz, [ORDERS_OF_ORDER, LINES_OF_ORDER, TENDERS_OF_ORDER], store_id, Some(order_id)).await
            }

            /// Adds `delta` to the store's sums; a row whose count falls to 0 goes.
            pub async fn apply(tx: &mut Tx<'_>, store_id: &str, delta: &Rollup) -> Result<(), sqlx::Error> {
                for ((day, hour, channel, currency, class), v) in &delta.hours {
                    sqlx::query(
                        "INSERT INTO sales_hours (store_id, day, hour, channel, currency, class, orders, total, tax, discount, refunded) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (store_id, day, hour, channel, currency, class) DO UPDATE SET \
                         orders = sales_hours.orders + excluded.orders, total = sales_hours.total + excluded.total, \
                         tax = sales_hours.tax + excluded.tax, discount = sales_hours.discount + excluded.discount, \
                         refunded = sales_hours.refunded + excluded.refunded",
                    )
                    .bind(store_id.to_owned()).bind(*day).bind(*hour).bind(channel.clone()).bind(currency.clone()).bind(class.clone())
                    .bind(v[0]).bind(v[1]).bind(v[2]).bind(v[3]).bind(v[4])
                    .execute(&mut **tx)
                    .await?;
                    if v[0] < 0 {
                        sqlx::query(
                            "DELETE FROM sales_hours WHERE store_id = $1 AND day = $2 AND hour = $3 AND channel = $4 \
                             AND currency = $5 AND class = $6 AND orders = 0",
                        )
                        .bind(store_id.to_owned()).bind(*day).bind(*hour).bind(channel.clone()).bind(currency.clone()).bind(class.clone())
                        .execute(&mut **tx)
                        .await?;
                    }
                }
                for ((day, item, name), v) in &delta.items {
                    sqlx::query(
                        "INSERT INTO sales_item_days (store_id, day, item_id, name, lines, quantity, sales) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (store_id, day, item_id, name) DO UPDATE SET \
                         lines = sales_item_days.lines + excluded.lines, quantity = sales_item_days.quantity + excluded.quantity, \
                         sales = sales_item_days.sales + excluded.sales",
                    )
                    .bind(store_id.to_owned()).bind(*day).bind(item.clone()).bind(name.clone())
                    .bind(v[0]).bind(v[1]).bind(v[2])
                    .execute(&mut **tx)
                    .await?;
                    if v[0] < 0 {
                        sqlx::query(
                            "DELETE FROM sales_item_days WHERE store_id = $1 AND day = $2 AND item_id = $3 AND name = $4 AND lines = 0",
                        )
                        .bind(store_id.to_owned()).bind(*day).bind(item.clone()).bind(name.clone())
                        .execute(&mut **tx)
                        .await?;
                    }
                }
                for ((day, tender), v) in &delta.tenders {
                    sqlx::query(
                        "INSERT INTO sales_tender_days (store_id, day, tender, payments, amount) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (store_id, day, tender) DO UPDATE SET \
                         payments = sales_tender_days.payments + excluded.payments, amount = sales_tender_days.amount + excluded.amount",
                    )
                    .bind(store_id.to_owned()).bind(*day).bind(tender.clone())
                    .bind(v[0]).bind(v[1])
                    .execute(&mut **tx)
                    .await?;
                    if v[0] < 0 {
                        sqlx::query(
                            "DELETE FROM sales_tender_days WHERE store_id = $1 AND day = $2 AND tender = $3 AND payments = 0",
                        )
                        .bind(store_id.to_owned()).bind(*day).bind(tender.clone())
                        .execute(&mut **tx)
                        .await?;
                    }
                }
                Ok(())
            }

            /// Sums the store's sums again from the projections in `tz` (unless another
            /// caller just did), replacing what it had. Returns whether it summed.
            pub async fn rebuild(tx: &mut Tx<'_>, store_id: &str, tz: chrono_tz::Tz) -> Result<bool, sqlx::Error> {
                if IS_PG {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT pg_advisory_xact_lock({LOCK_KEY})")))
                        .bind(store_id.to_owned())
                        .execute(&mut **tx)
                        .await?;
                }
                let held: Option<String> = sqlx::query_scalar("SELECT tz FROM sales_rollup_stores WHERE store_id = $1")
                    .bind(store_id.to_owned())
                    .fetch_optional(&mut **tx)
                    .await?;
                if held.as_deref() == Some(tz.name()) {
                    return Ok(false);
                }
                for table in ["sales_hours", "sales_item_days", "sales_tender_days"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE store_id = $1")))
                        .bind(store_id.to_owned())
                        .execute(&mut **tx)
                        .await?;
                }
                let r = read(tx, tz, [ORDERS_OF_STORE, LINES_OF_STORE, TENDERS_OF_STORE], store_id, None).await?;
                let hours: Vec<_> = r.hours.iter().collect();
                for chunk in hours.chunks(CHUNK) {
                    let sql = format!(
                        "INSERT INTO sales_hours (store_id, day, hour, channel, currency, class, orders, total, tax, discount, refunded) VALUES {}",
                        values(chunk.len(), 11)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for ((day, hour, channel, currency, class), v) in chunk {
                        q = q.bind(store_id.to_owned()).bind(*day).bind(*hour).bind(channel.clone()).bind(currency.clone()).bind(class.clone())
                            .bind(v[0]).bind(v[1]).bind(v[2]).bind(v[3]).bind(v[4]);
                    }
                    q.execute(&mut **tx).await?;
                }
                let items: Vec<_> = r.items.iter().collect();
                for chunk in items.chunks(CHUNK) {
                    let sql = format!(
                        "INSERT INTO sales_item_days (store_id, day, item_id, name, lines, quantity, sales) VALUES {}",
                        values(chunk.len(), 7)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for ((day, item, name), v) in chunk {
                        q = q.bind(store_id.to_owned()).bind(*day).bind(item.clone()).bind(name.clone())
                            .bind(v[0]).bind(v[1]).bind(v[2]);
                    }
                    q.execute(&mut **tx).await?;
                }
                let tenders: Vec<_> = r.tenders.iter().collect();
                for chunk in tenders.chunks(CHUNK) {
                    let sql = format!(
                        "INSERT INTO sales_tender_days (store_id, day, tender, payments, amount) VALUES {}",
                        values(chunk.len(), 5)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for ((day, tender), v) in chunk {
                        q = q.bind(store_id.to_owned()).bind(*day).bind(tender.clone()).bind(v[0]).bind(v[1]);
                    }
                    q.execute(&mut **tx).await?;
                }
                sqlx::query(
                    "INSERT INTO sales_rollup_stores (store_id, tz) VALUES ($1, $2) \
                     ON CONFLICT (store_id) DO UPDATE SET tz = excluded.tz",
                )
                .bind(store_id.to_owned())
                .bind(tz.name())
                .execute(&mut **tx)
                .await?;
                Ok(true)
            }

            /// The store's sums as the tables hold them (tests compare them with [`rebuild`]'s).
            pub async fn held(tx: &mut Tx<'_>, store_id: &str) -> Result<Rollup, sqlx::Error> {
                let mut r = Rollup::default();
                for row in sqlx::query("SELECT day, hour, channel, currency, class, orders, total, tax, discount, refunded FROM sales_hours WHERE store_id = $1")
                    .bind(store_id.to_owned()).fetch_all(&mut **tx).await?
                {
                    r.hours.insert(
                        (row.try_get("day")?, row.try_get("hour")?, row.try_get("channel")?, row.try_get("currency")?, row.try_get("class")?),
                        [row.try_get("orders")?, row.try_get("total")?, row.try_get("tax")?, row.try_get("discount")?, row.try_get("refunded")?],
                    );
                }
                for row in sqlx::query("SELECT day, item_id, name, lines, quantity, sales FROM sales_item_days WHERE store_id = $1")
                    .bind(store_id.to_owned()).fetch_all(&mut **tx).await?
                {
                    r.items.insert(
                        (row.try_get("day")?, row.try_get("item_id")?, row.try_get("name")?),
                        [row.try_get("lines")?, row.try_get("quantity")?, row.try_get("sales")?],
                    );
                }
                for row in sqlx::query("SELECT day, tender, payments, amount FROM sales_tender_days WHERE store_id = $1")
                    .bind(store_id.to_owned()).fetch_all(&mut **tx).await?
                {
                    r.tenders.insert((row.try_get("day")?, row.try_get("tender")?), [row.try_get("payments")?, row.try_get("amount")?]);
                }
                Ok(r)
            }
        }
    };
}
rollup_ops!(sqlite_tx, sqlx::Sqlite, false);
rollup_ops!(pg_tx, sqlx::Postgres, true);

/// The counted orders of one local hour, channel and currency (all stores asked for).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderSums {
    /// Local day (see [`day_number`]).
    pub day: i64,
    pub hour: i64,
    pub channel: String,
    pub currency: String,
    #[sqlx(rename = "n")]
    pub orders: i64,
    pub total: i64,
    pub tax: i64,
    pub discount: i64,
    pub refunded: i64,
}

/// The counted lines of one item at one store.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ItemSums {
    pub store_id: String,
    pub item_id: String,
    pub name: String,
    #[sqlx(rename = "n")]
    pub lines: i64,
    pub quantity: i64,
    pub sales: i64,
}

/// The payments of counted orders, per tender.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TenderSums {
    pub tender: String,
    #[sqlx(rename = "n")]
    pub payments: i64,
    pub amount: i64,
}

/// `$2, $3, ...`: one placeholder per store, after `skip` others.
fn marks(skip: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", skip + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    /// Stores with orders whose sales are not summed yet (orders from before migration
    /// 0011, or sums marked stale): what the hub sums at start.
    pub async fn stores_without_sums(&self) -> Result<Vec<String>, sqlx::Error> {
        on_pool!(self, pool => sqlx::query_scalar(
            "SELECT DISTINCT store_id FROM orders \
             WHERE store_id NOT IN (SELECT store_id FROM sales_rollup_stores) ORDER BY store_id",
        )
        .fetch_all(pool)
        .await)
    }

    /// Makes sure each store's sums are kept in its time zone now: a store
    /// without sums (orders from before migration 0011), or whose zone has
    /// changed, has them summed again from the projections, each in its own
    /// write transaction. One read when nothing is to be done.
    pub async fn sales_rollups_ready(
        &self,
        stores: &[(String, chrono_tz::Tz)],
    ) -> Result<(), sqlx::Error> {
        if stores.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT store_id, tz FROM sales_rollup_stores WHERE store_id IN ({})",
            marks(0, stores.len())
        );
        let held: BTreeMap<String, String> = on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (s, _) in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("store_id")?, r.try_get("tz")?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        for (store, tz) in stores {
            if held.get(store).map(String::as_str) == Some(tz.name()) {
                continue;
            }
            let t = std::time::Instant::now();
            let summed = match self {
                Db::Sqlite(pool) => {
                    let mut tx = pool.begin_write().await?;
                    let n = sqlite_tx::rebuild(&mut tx, store, *tz).await?;
                    tx.commit().await?;
                    n
                }
                Db::Postgres(pool) => {
                    let mut tx = pool.begin_write().await?;
                    let n = pg_tx::rebuild(&mut tx, store, *tz).await?;
                    tx.commit().await?;
                    n
                }
            };
            if summed {
                tracing::info!(store = %store, tz = %tz.name(), ms = t.elapsed().as_millis() as u64,
                    "the store's sales sums were summed from its orders");
            }
        }
        Ok(())
    }

    /// Counted orders (not cancelled or voided) of local days `from_day..=to_day`
    /// at `stores`, per local day, hour, channel and currency.
    pub async fn sales_orders(
        &self,
        stores: &[String],
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<OrderSums>, sqlx::Error> {
        self.over_days(
            "SELECT day, hour, channel, currency, CAST(SUM(orders) AS BIGINT) AS n, \
             CAST(SUM(total) AS BIGINT) AS total, CAST(SUM(tax) AS BIGINT) AS tax, \
             CAST(SUM(discount) AS BIGINT) AS discount, CAST(SUM(refunded) AS BIGINT) AS refunded \
             FROM sales_hours WHERE store_id IN ({}) AND day >= $1 AND day <= $2 \
             AND class <> 'void' AND orders > 0 GROUP BY day, hour, channel, currency",
            stores,
            from_day,
            to_day,
        )
        .await
    }

    /// The lines of counted orders of local days `from_day..=to_day` at `stores`, per store and item.
    pub async fn sales_items(
        &self,
        stores: &[String],
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<ItemSums>, sqlx::Error> {
        self.over_days(
            "SELECT store_id, item_id, MAX(name) AS name, CAST(SUM(lines) AS BIGINT) AS n, \
             CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(sales) AS BIGINT) AS sales \
             FROM sales_item_days WHERE store_id IN ({}) AND day >= $1 AND day <= $2 AND lines > 0 \
             GROUP BY store_id, item_id",
            stores,
            from_day,
            to_day,
        )
        .await
    }

    /// The payments of counted orders of local days `from_day..=to_day` at `stores`, per tender.
    pub async fn sales_tenders(
        &self,
        stores: &[String],
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<TenderSums>, sqlx::Error> {
        self.over_days(
            "SELECT tender, CAST(SUM(payments) AS BIGINT) AS n, CAST(SUM(amount) AS BIGINT) AS amount \
             FROM sales_tender_days WHERE store_id IN ({}) AND day >= $1 AND day <= $2 AND payments > 0 \
             GROUP BY tender",
            stores,
            from_day,
            to_day,
        )
        .await
    }

    /// Runs `sql` over local days `$1..=$2` at `stores`, whose placeholders stand
    /// for its `{}`, reading each row as a `T`.
    async fn over_days<T>(
        &self,
        sql: &str,
        stores: &[String],
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let sql = sql.replace("{}", &marks(2, stores.len()));
        on_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(from_day)
                .bind(to_day);
            for s in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool).await
        })
    }

    /// One store's orders of one local day by class ([`class_of`]): `(class, orders, total)`.
    pub async fn day_classes(
        &self,
        store_id: &str,
        day: i64,
    ) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT class, CAST(SUM(orders) AS BIGINT) AS n, CAST(SUM(total) AS BIGINT) AS total \
                 FROM sales_hours WHERE store_id = $1 AND day = $2 AND orders > 0 GROUP BY class",
            )
            .bind(store_id.to_owned())
            .bind(day)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("class")?, r.try_get("n")?, r.try_get("total")?)))
                .collect()
        })
    }

    /// A store's sums as held, and as summed again from its projections in the
    /// zone they are kept in (`None` when it has none yet); nothing is changed.
    /// For tests: the two are equal after any ingest.
    pub async fn sales_rollup_check(
        &self,
        store_id: &str,
    ) -> Result<Option<(Rollup, Rollup)>, sqlx::Error> {
        macro_rules! check {
            ($pool:expr, $m:ident) => {{
                let mut tx = $pool.begin_write().await?;
                let Some(tz) = $m::rollup_tz(&mut tx, store_id).await? else {
                    return Ok(None);
                };
                let held = $m::held(&mut tx, store_id).await?;
                // Summed again inside the transaction, then rolled back.
                sqlx::query("DELETE FROM sales_rollup_stores WHERE store_id = $1")
                    .bind(store_id.to_owned())
                    .execute(&mut *tx)
                    .await?;
                $m::rebuild(&mut tx, store_id, tz).await?;
                let again = $m::held(&mut tx, store_id).await?;
                tx.rollback().await?;
                Ok(Some((held, again)))
            }};
        }
        match self {
            Db::Sqlite(pool) => check!(pool, sqlite_tx),
            Db::Postgres(pool) => check!(pool, pg_tx),
        }
    }

    /// Which of `stores` still wait for their log to be projected once more
    /// (`order_replays`, migration 0005): one query for a whole organisation.
    pub async fn pending_replays(&self, stores: &[String]) -> Result<Vec<String>, sqlx::Error> {
        if stores.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT store_id FROM order_replays WHERE store_id IN ({})",
            marks(0, stores.len())
        );
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for s in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get("store_id"))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_placeholder_per_store_after_the_window() {
        assert_eq!(super::marks(2, 3), "$3, $4, $5");
        assert_eq!(super::marks(0, 2), "$1, $2");
        assert_eq!(super::values(2, 2), "($1, $2), ($3, $4)");
    }

    #[test]
    fn an_order_counts_in_the_local_hour_of_its_bucket() {
        let ny = chrono_tz::America::New_York;
        // 2026-03-10 13:07 New York (EDT, UTC-4) = 17:07 UTC.
        let t = ny
            .with_ymd_and_hms(2026, 3, 10, 13, 7, 0)
            .unwrap()
            .timestamp_millis();
        let day = day_number(NaiveDate::from_ymd_opt(2026, 3, 10).unwrap());
        assert_eq!(local_slot(ny, t), Some((day, 13)));
        assert_eq!(date_of(day), NaiveDate::from_ymd_opt(2026, 3, 10));
        // Kathmandu is UTC+5:45: 23:50 local is still that day.
        let ktm = chrono_tz::Asia::Kathmandu;
        let t = ktm
            .with_ymd_and_hms(2026, 3, 10, 23, 50, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(local_slot(ktm, t), Some((day, 23)));
    }

    #[test]
    fn a_change_is_the_difference_of_the_sums() {
        let tz = chrono_tz::UTC;
        let mut before = Rollup::default();
        before.add_orders(tz, 0, "pos", "USD", "placed", [1, 100, 10, 0, 0]);
        let mut after = Rollup::default();
        after.add_orders(tz, 0, "pos", "USD", "completed", [1, 100, 10, 0, 0]);
        assert!(
            after.minus(&before).is_empty(),
            "placed and completed are both sales"
        );
        let mut void = Rollup::default();
        void.add_orders(tz, 0, "pos", "USD", "cancelled", [1, 100, 10, 0, 0]);
        let d = void.minus(&before);
        assert_eq!(d.hours.len(), 2);
        assert_eq!(
            d.hours.values().map(|v| v[0]).sum::<i64>(),
            0,
            "one order moves"
        );
    }
}
