//! A store's orders for its merchant: read from the hub's projection of the
//! store's order facts (`db::online`), never by replaying the log, with the
//! node's filters (status, channel, time, limit). Customers' own orders and
//! placing web orders are `super::online`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult, ReadErrors};
use super::extract::{Path, Query};
use crate::auth::{StoreAccess, perm};
use crate::db::online::OrderQuery;
use crate::hub::Hub;
pub use api_types::hub::orders::OrderList;
pub use api_types::orders::OrderFilter;

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/api/v1/stores/{id}/orders", get(get_orders))
}

/// 400 `invalid_query` for an unknown status or channel, a negative time or a limit outside 1 to 500
/// (`OrderFilter::check`: the rules of the node's order list too).
pub fn check(filter: &OrderFilter) -> ApiResult<OrderQuery> {
    let s = filter
        .check()
        .map_err(|m| ApiError::bad_request("invalid_query", m))?;
    Ok(OrderQuery {
        statuses: s.statuses,
        channels: s.channels,
        since_ms: s.since_ms,
        until_ms: s.until_ms,
        limit: usize::try_from(s.limit).unwrap_or(500),
    })
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
    let query = check(&filter)?;
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
        let ok = |f: OrderFilter| check(&f).map(|q| q.limit).map_err(|e| e.code);
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
            match check(&f) {
                Ok(q) => {
                    proptest::prop_assert!((1..=500).contains(&q.limit));
                }
                Err(e) => proptest::prop_assert_eq!(e.code, "invalid_query"),
            }
        }
    }
}
