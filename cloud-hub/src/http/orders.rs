//! A store's orders for its merchant: read from the hub's projection of the
//! store's order facts (`db::online`), never by replaying the log, with the
//! node's filters (status, channel, time, limit). Customers' own orders and
//! placing web orders are `super::online`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::order::Channel;
use domain::status::OrderStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult, ReadErrors};
use super::extract::{Path, Query};
use crate::auth::{StoreAccess, perm};
use crate::db::online::OrderQuery;
use crate::hub::Hub;

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/api/v1/stores/{id}/orders", get(get_orders))
}

/// The filters of `GET /api/v1/stores/{id}/orders` (those of the node's order list).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// Comma-separated statuses, e.g. `placed,accepted`.
    pub status: Option<String>,
    /// Comma-separated channels: `pos`, `kiosk`, `online`.
    pub channel: Option<String>,
    /// Only orders created at or after this time (Unix ms).
    #[param(minimum = 0)]
    pub since_ms: Option<i64>,
    /// Only orders created before this time (Unix ms).
    #[param(minimum = 0)]
    pub until_ms: Option<i64>,
    /// At most this many: the newest (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn parse_list<T>(
    s: Option<&str>,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> ApiResult<Vec<T>> {
    let Some(s) = s else { return Ok(vec![]) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            parse(p).ok_or_else(|| {
                ApiError::bad_request("invalid_query", format!("unknown {what} {p:?}"))
            })
        })
        .collect()
}

impl OrderFilter {
    /// 400 `invalid_query` for an unknown status or channel, a negative time or a limit outside 1 to 500.
    pub fn check(&self) -> ApiResult<OrderQuery> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit must be between 1 and 500",
            ));
        }
        let since_ms = self.since_ms.unwrap_or(0);
        let until_ms = self.until_ms.unwrap_or(i64::MAX);
        if since_ms < 0 || until_ms < 0 {
            return Err(ApiError::bad_request(
                "invalid_query",
                "since_ms and until_ms are Unix times in ms, not negative",
            ));
        }
        Ok(OrderQuery {
            statuses: parse_list(self.status.as_deref(), "status", OrderStatus::parse)?,
            channels: parse_list(self.channel.as_deref(), "channel", Channel::parse)?,
            since_ms,
            until_ms,
            limit: usize::try_from(limit).unwrap_or(500),
        })
    }
}

/// A store's orders, as its nodes recorded them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    /// Oldest first; each as the node describes it (`id`, `ticket`, `status`, `channel`, `lines`, `totals`, `created_ms`, ...).
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<Value>,
    /// How many events of the store the hub holds.
    pub events: usize,
}

/// `GET /api/v1/stores/{id}/orders?status=&channel=&since_ms=&until_ms=&limit=` -> `{orders, events}`:
/// the orders the synced events describe, oldest first, filtered; `limit` keeps the newest.
#[utoipa::path(get, path = "/api/v1/stores/{id}/orders", operation_id = "hub_list_orders", tag = "merchant",
    params(("id" = String, Path, description = "Store id"), OrderFilter),
    responses((status = 200, body = OrderList), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_orders(
    _: StoreAccess<perm::OrderRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    Query(filter): Query<OrderFilter>,
) -> ApiResult<Json<OrderList>> {
    let query = filter.check()?;
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    // Read from the hub's projection of the store's order facts (`db::online`), not by replaying its log.
    hub.db
        .replay_orders_once(&store_id, hub.now_ms(), &hub.online.replica)
        .await?;
    let orders = hub.db.store_orders(&store_id, &query).await?;
    let events = hub.db.event_count(&store_id).await?;
    Ok(Json(OrderList {
        orders,
        events: usize::try_from(events).map_err(ApiError::internal)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_filters_check_their_input() {
        let ok = |f: OrderFilter| f.check().map(|q| q.limit).map_err(|e| e.code);
        assert_eq!(ok(OrderFilter::default()), Ok(100));
        for limit in [0, 501] {
            let f = OrderFilter {
                limit: Some(limit),
                ..Default::default()
            };
            assert_eq!(ok(f), Err("invalid_query"));
        }
        let f = OrderFilter {
            status: Some("placed, eaten".into()),
            ..Default::default()
        };
        assert_eq!(ok(f), Err("invalid_query"));
        let f = OrderFilter {
            channel: Some("fax".into()),
            ..Default::default()
        };
        assert_eq!(ok(f), Err("invalid_query"));
        let f = OrderFilter {
            since_ms: Some(-1),
            ..Default::default()
        };
        assert_eq!(ok(f), Err("invalid_query"));
    }

    proptest::proptest! {
        /// Query strings are outside bytes: any filter text is either refused
        /// with `invalid_query` or gives a query whose limit is in range.
        #[test]
        fn any_filter_text_is_checked_without_panicking(
            status in proptest::option::of("\\PC{0,40}"),
            channel in proptest::option::of("[a-z, ]{0,20}"),
            since in proptest::option::of(proptest::num::i64::ANY),
            until in proptest::option::of(proptest::num::i64::ANY),
            limit in proptest::option::of(proptest::num::u32::ANY),
        ) {
            let f = OrderFilter { status, channel, since_ms: since, until_ms: until, limit };
            match f.check() {
                Ok(q) => {
                    proptest::prop_assert!((1..=500).contains(&q.limit));
                }
                Err(e) => proptest::prop_assert_eq!(e.code, "invalid_query"),
            }
        }
    }
}
