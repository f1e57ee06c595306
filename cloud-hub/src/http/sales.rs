//! The merchant's sales report (`Permission::ReportsView`: owners, managers,
//! platform admins; a cashier gets 403): a store's, or every store of an
//! organisation's, orders over a range of days in each store's time zone, in
//! totals and breakdowns by day, hour, item, category, channel and tender. What
//! counts is said in `api_types::hub::sales`. Read from the projections the
//! ingest keeps in the same transaction as the orders (`db::sales`), never by
//! replaying the log: three grouped queries over the sums kept at ingest by each
//! store's local day and hour (`sales_hours`, `sales_item_days`,
//! `sales_tender_days`, migration 0011), run at once. JSON, or `format=csv` in long form
//! (`dimension,key,label,orders,quantity,sales,currency`), one row per total and
//! per breakdown row, which a spreadsheet opens and pivots as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use super::error::{ApiError, ApiResult, ReadErrors};
use super::extract::{Path, Query};
use crate::auth::{OrgAccess, StoreAccess, perm};
use crate::db::sales::{date_of, day_number};
use crate::hub::Hub;
use crate::payments::reconcile;
use api_kit::ErrorBody;
pub use api_types::hub::sales::{OrgSalesQuery, SalesQuery, SalesReport, SalesRow, SalesTotals};

/// The longest range a report covers, in days.
pub const MAX_DAYS: i64 = 366;

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/stores/{id}/sales", get(store_sales))
        .route("/api/v1/orgs/{org_id}/sales", get(org_sales))
}

/// A store's sales over `from`..=`to` (days in its time zone; today when left
/// out, at most 366 days). 422 `invalid_range` for a day that is not
/// `YYYY-MM-DD`, `to` before `from` or a longer range; 422 `mixed_currencies`
/// never for one store (its menu has one currency). `format=csv` for a spreadsheet.
#[utoipa::path(get, path = "/api/v1/stores/{id}/sales", operation_id = "hub_store_sales", tag = "merchant",
    params(("id" = String, Path, description = "Store id"), SalesQuery),
    responses((status = 200, body = SalesReport, description = "JSON, or CSV (text/csv) with `format=csv`"),
        (status = 422, body = ErrorBody, description = "`invalid_range`: a day that is not YYYY-MM-DD, `to` before `from`, or more than 366 days"),
        ReadErrors),
    security(("bearer" = [])))]
pub async fn store_sales(
    _: StoreAccess<perm::ReportsView>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    Query(q): Query<SalesQuery>,
) -> ApiResult<Response> {
    let csv = is_csv(q.format.as_deref())?;
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    let report = report(&hub, None, vec![store_id], q.from, q.to).await?;
    answer(report, csv)
}

/// The sales of every store of an organisation (an organisation-wide owner or
/// manager, or a platform admin), or of one of them (`store`), each store's days
/// in its own time zone. As the store's report; 422 `mixed_currencies` when the
/// stores sell in more than one currency (ask for one store at a time then).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/sales", operation_id = "hub_org_sales", tag = "merchant",
    params(("org_id" = String, Path, description = "Organisation id"), OrgSalesQuery),
    responses((status = 200, body = SalesReport, description = "JSON, or CSV (text/csv) with `format=csv`"),
        (status = 422, body = ErrorBody, description = "`invalid_range` (as for a store), `mixed_currencies`"),
        ReadErrors),
    security(("bearer" = [])))]
pub async fn org_sales(
    access: OrgAccess<perm::ReportsView>,
    State(hub): State<Arc<Hub>>,
    Query(q): Query<OrgSalesQuery>,
) -> ApiResult<Response> {
    let csv = is_csv(q.format.as_deref())?;
    let mut stores = hub.db.org_store_ids(&access.org_id).await?;
    if let Some(one) = &q.store {
        if !stores.contains(one) {
            return Err(ApiError::not_found("store"));
        }
        stores = vec![one.clone()];
    }
    let report = report(&hub, Some(access.org_id), stores, q.from, q.to).await?;
    answer(report, csv)
}

fn is_csv(format: Option<&str>) -> ApiResult<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "`format` is json or csv",
        )),
    }
}

fn invalid_range(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid_range", message)
}

/// The days asked for: `from` (today when absent) to `to` (`from` when absent), at most [`MAX_DAYS`].
pub fn days(
    from: Option<&str>,
    to: Option<&str>,
    today: NaiveDate,
) -> ApiResult<(NaiveDate, NaiveDate)> {
    let day = |name: &str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            invalid_range(format!(
                "`{name}` is a day as YYYY-MM-DD, e.g. 2026-12-07, not {:?}",
                s.chars().take(40).collect::<String>()
            ))
        })
    };
    let from = from.map(|s| day("from", s)).transpose()?.unwrap_or(today);
    let to = to.map(|s| day("to", s)).transpose()?.unwrap_or(from);
    if to < from {
        return Err(invalid_range("`to` is before `from`"));
    }
    let n = (to - from).num_days() + 1;
    if n > MAX_DAYS {
        return Err(invalid_range(format!(
            "a report covers at most {MAX_DAYS} days; this range has {n}"
        )));
    }
    Ok((from, to))
}

/// What a store's documents add to the report: its time zone and which category each item is in.
struct StoreInfo {
    tz: chrono_tz::Tz,
    /// Item id -> (category id, category name).
    categories: BTreeMap<String, (String, String)>,
}

/// At start, in the background: sums the sales of every store with orders and no
/// sums yet (orders from before migration 0011), one store at a time, so the first report or overview after
/// an upgrade finds them ready instead of summing 200,000 orders while a merchant
/// waits. A store a request reaches first is summed by that request (the same
/// work, safely repeated). Progress goes to the log.
pub async fn ready_sums_at_start(hub: Arc<Hub>) {
    let stores = match hub.db.stores_without_sums().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the stores to sum their sales");
            return;
        }
    };
    let mut shutdown = hub.shutdown.subscribe();
    for (i, store) in stores.iter().enumerate() {
        if *shutdown.borrow_and_update() {
            return;
        }
        let tz = match super::online::snapshot(&hub, store).await {
            Ok(snap) => snap.profile.tz(),
            Err(e) => {
                tracing::warn!(%store, error = ?e, "could not read a store to sum its sales");
                continue;
            }
        };
        if let Err(e) = hub.db.sales_rollups_ready(&[(store.clone(), tz)]).await {
            tracing::warn!(%store, error = %e, "could not sum a store's sales");
        }
        if (i + 1) % 10 == 0 {
            tracing::debug!(
                done = i + 1,
                of = stores.len(),
                "stores' sales sums checked"
            );
        }
    }
}

async fn store_info(hub: &Hub, store_id: &str) -> ApiResult<StoreInfo> {
    let snap = super::online::snapshot(hub, store_id).await?;
    let mut categories = BTreeMap::new();
    if let Some(menu) = &snap.menu {
        let names: BTreeMap<&str, &str> = menu
            .categories
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .collect();
        for i in &menu.items {
            let cat = i.category.as_str();
            let name = names.get(cat).copied().unwrap_or(cat);
            categories.insert(i.id.to_string(), (cat.to_owned(), name.to_owned()));
        }
    }
    Ok(StoreInfo {
        tz: snap.profile.tz(),
        categories,
    })
}

/// A breakdown being summed, by key.
#[derive(Default)]
struct Rows(BTreeMap<String, SalesRow>);

impl Rows {
    fn add(&mut self, key: &str, label: &str, orders: i64, quantity: i64, sales: i64) {
        let r = self.0.entry(key.to_owned()).or_insert_with(|| SalesRow {
            key: key.to_owned(),
            label: label.to_owned(),
            ..SalesRow::default()
        });
        r.orders = r.orders.saturating_add(orders);
        r.quantity = r.quantity.saturating_add(quantity);
        r.sales = r.sales.saturating_add(sales);
    }

    /// By key.
    fn by_key(self) -> Vec<SalesRow> {
        self.0.into_values().collect()
    }

    /// Best sellers first, then by key.
    fn by_sales(self) -> Vec<SalesRow> {
        let mut v: Vec<SalesRow> = self.0.into_values().collect();
        v.sort_by(|a, b| b.sales.cmp(&a.sales).then_with(|| a.key.cmp(&b.key)));
        v
    }
}

/// Sums the report of `stores` over the days asked for.
async fn report(
    hub: &Hub,
    org_id: Option<String>,
    stores: Vec<String>,
    from: Option<String>,
    to: Option<String>,
) -> ApiResult<SalesReport> {
    // Stores whose log predates the projection are projected once more first (as the order list does).
    for s in hub.db.pending_replays(&stores).await? {
        hub.db
            .replay_orders_once(&s, hub.now_ms(), &hub.online.replica)
            .await?;
    }
    let mut infos = Vec::with_capacity(stores.len());
    for s in &stores {
        infos.push(store_info(hub, s).await?);
    }
    // "Today" is the first store's (UTC for an organisation without stores).
    let tz0 = infos.first().map(|i| i.tz).unwrap_or(chrono_tz::UTC);
    let today = NaiveDate::parse_from_str(&reconcile::today(hub.now_ms(), tz0), "%Y-%m-%d")
        .map_err(ApiError::internal)?;
    let (from, to) = days(from.as_deref(), to.as_deref(), today)?;
    let (from_s, to_s) = (from.to_string(), to.to_string());

    // Stores by time zone: one set of queries per zone, with that zone's bounds.
    let mut zones: BTreeMap<&str, (chrono_tz::Tz, Vec<String>)> = BTreeMap::new();
    for (s, i) in stores.iter().zip(&infos) {
        zones
            .entry(i.tz.name())
            .or_insert_with(|| (i.tz, vec![]))
            .1
            .push(s.clone());
    }
    let categories: BTreeMap<&str, &StoreInfo> =
        stores.iter().map(String::as_str).zip(&infos).collect();

    let mut t = SalesTotals::default();
    let (mut by_day, mut by_hour, mut by_item, mut by_category, mut by_channel, mut by_tender) = (
        Rows::default(),
        Rows::default(),
        Rows::default(),
        Rows::default(),
        Rows::default(),
        Rows::default(),
    );
    let mut currencies = BTreeSet::new();
    for (tz, _) in zones.values() {
        let start = reconcile::day_bounds(&from_s, *tz).map(|b| b.0);
        let end = reconcile::day_bounds(&to_s, *tz).map(|b| b.1);
        if start.is_none() || end.is_none() {
            return Err(invalid_range(
                "the range has no instant in the store's time zone",
            ));
        }
    }
    // The sums kept at ingest are by each store's local day: one set of
    // queries for every store, whatever its zone, once each store's sums are
    // kept in its zone now.
    let zoned: Vec<(String, chrono_tz::Tz)> = stores
        .iter()
        .zip(&infos)
        .map(|(s, i)| (s.clone(), i.tz))
        .collect();
    hub.db.sales_rollups_ready(&zoned).await?;
    let (first, last) = (day_number(from), day_number(to));
    // Three independent reads: at once, each on its own connection.
    let (sums, items, tenders) = if stores.is_empty() {
        (vec![], vec![], vec![])
    } else {
        tokio::try_join!(
            hub.db.sales_orders(&stores, first, last),
            hub.db.sales_items(&stores, first, last),
            hub.db.sales_tenders(&stores, first, last),
        )?
    };
    for o in sums {
        let Some(date) = date_of(o.day) else {
            continue;
        };
        if !o.currency.is_empty() {
            currencies.insert(o.currency.clone());
        }
        t.orders = t.orders.saturating_add(o.orders);
        t.gross_sales = t.gross_sales.saturating_add(o.total);
        t.tax = t.tax.saturating_add(o.tax);
        t.discounts = t.discounts.saturating_add(o.discount);
        t.refunds = t.refunds.saturating_add(o.refunded);
        by_day.add(
            &date.format("%Y-%m-%d").to_string(),
            "",
            o.orders,
            0,
            o.total,
        );
        by_hour.add(&format!("{:02}", o.hour), "", o.orders, 0, o.total);
        by_channel.add(&o.channel, "", o.orders, 0, o.total);
    }
    for i in items {
        by_item.add(&i.item_id, &i.name, i.lines, i.quantity, i.sales);
        let (cat, name) = categories
            .get(i.store_id.as_str())
            .and_then(|s| s.categories.get(&i.item_id))
            .map(|(c, n)| (c.as_str(), n.as_str()))
            .unwrap_or(("", "(not on the menu)"));
        by_category.add(cat, name, i.lines, i.quantity, i.sales);
    }
    for p in tenders {
        by_tender.add(&p.tender, "", p.payments, 0, p.amount);
    }
    if currencies.len() > 1 {
        return Err(ApiError::unprocessable(
            "mixed_currencies",
            format!(
                "these stores sell in {}: ask for one store at a time (`store=`)",
                currencies.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    t.net_sales = t.gross_sales.saturating_sub(t.refunds);
    t.average_ticket = average(t.gross_sales, t.orders);
    Ok(SalesReport {
        org_id,
        stores,
        from: from_s,
        to: to_s,
        time_zones: zones.keys().map(|z| (*z).to_owned()).collect(),
        currency: currencies.into_iter().next().unwrap_or_default(),
        totals: t,
        by_day: by_day.by_key(),
        by_hour: by_hour.by_key(),
        by_item: by_item.by_sales(),
        by_category: by_category.by_sales(),
        by_channel: by_channel.by_key(),
        by_tender: by_tender.by_key(),
    })
}

/// `sum / n` rounded half away from zero; 0 when `n` is 0.
pub fn average(sum: i64, n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    let (sum, n) = (i128::from(sum), i128::from(n));
    let q = (sum.abs() * 2 + n) / (2 * n);
    i64::try_from(if sum < 0 { -q } else { q }).unwrap_or(0)
}

fn answer(report: SalesReport, csv: bool) -> ApiResult<Response> {
    if !csv {
        return Ok(Json(report).into_response());
    }
    let body = report_csv(&report).map_err(ApiError::internal)?;
    let who = report
        .org_id
        .clone()
        .unwrap_or_else(|| report.stores.join("-"));
    let file = format!(
        "attachment; filename=\"sales-{who}-{}-{}.csv\"",
        report.from, report.to
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}

/// Long form: `dimension,key,label,orders,quantity,sales,currency`; the totals
/// first (`dimension` = `total`, the figure in `orders` for the count and in
/// `sales` for money), then every breakdown row (`day`, `hour`, `item`,
/// `category`, `channel`, `tender`) with the JSON's numbers.
pub fn report_csv(r: &SalesReport) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record([
        "dimension",
        "key",
        "label",
        "orders",
        "quantity",
        "sales",
        "currency",
    ])?;
    let t = &r.totals;
    w.write_record(["total", "orders", "", &t.orders.to_string(), "", "", ""])?;
    for (k, v) in [
        ("gross_sales", t.gross_sales),
        ("tax", t.tax),
        ("discounts", t.discounts),
        ("refunds", t.refunds),
        ("net_sales", t.net_sales),
        ("average_ticket", t.average_ticket),
    ] {
        w.write_record(["total", k, "", "", "", &v.to_string(), &r.currency])?;
    }
    for (dimension, rows) in [
        ("day", &r.by_day),
        ("hour", &r.by_hour),
        ("item", &r.by_item),
        ("category", &r.by_category),
        ("channel", &r.by_channel),
        ("tender", &r.by_tender),
    ] {
        for row in rows {
            w.write_record([
                dimension,
                &row.key,
                &row.label,
                &row.orders.to_string(),
                &row.quantity.to_string(),
                &row.sales.to_string(),
                &r.currency,
            ])?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ranges_are_checked() {
        let today = d("2026-12-07");
        let ok = |f: Option<&str>, t: Option<&str>| days(f, t, today).map_err(|e| e.code);
        assert_eq!(ok(None, None), Ok((today, today)));
        assert_eq!(
            ok(Some("2026-01-01"), Some("2026-12-31")),
            Ok((d("2026-01-01"), d("2026-12-31")))
        );
        assert_eq!(
            ok(Some("2024-01-01"), Some("2024-12-31")),
            Ok((d("2024-01-01"), d("2024-12-31"))),
            "a leap year is 366 days"
        );
        assert_eq!(
            ok(Some("2024-01-01"), Some("2025-01-01")),
            Err("invalid_range")
        );
        assert_eq!(
            ok(Some("2026-12-08"), Some("2026-12-07")),
            Err("invalid_range")
        );
        assert_eq!(ok(Some("2026-13-01"), None), Err("invalid_range"));
        assert_eq!(ok(Some("yesterday"), None), Err("invalid_range"));
    }

    #[test]
    fn averages_round_to_the_nearest_minor_unit() {
        assert_eq!(average(10, 3), 3);
        assert_eq!(average(11, 2), 6);
        assert_eq!(average(5, 0), 0);
        assert_eq!(average(i64::MAX, 1), i64::MAX);
    }

    proptest::proptest! {
        /// Query strings are outside bytes: any text is a range or 422 `invalid_range`, never a panic.
        #[test]
        fn any_range_text_is_checked(from in proptest::option::of("\\PC{0,20}"), to in proptest::option::of("[0-9-]{0,12}")) {
            match days(from.as_deref(), to.as_deref(), d("2026-12-07")) {
                Ok((f, t)) => proptest::prop_assert!(f <= t && (t - f).num_days() < MAX_DAYS),
                Err(e) => proptest::prop_assert_eq!(e.code, "invalid_range"),
            }
        }
    }
}
