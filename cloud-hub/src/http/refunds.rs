//! Card money for merchants: refunds of online orders paid by card, and the
//! day's reconciliation against the processor (`payments::reconcile`).
//!
//! Refunds of online orders paid by card, for the store's managers and owners
//! (`Permission::OrderRefund`; a cashier gets 403). Never more than was
//! captured: a refund over what remains is 422 `refund_exceeds_captured`, one
//! on an order that was not paid by card online 422 `not_paid_by_card`, one on
//! a payment not captured yet 422 `not_captured`. `Idempotency-Key` is
//! required: a retry returns the same refund. The processor is asked at once;
//! when it does not answer the refund stays `pending` (202) and is asked again
//! by the payments worker under the same key.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::error::{ApiError, ApiResult, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path};
use crate::auth::{StoreAccess, perm};
use crate::db::refunds::{RefundRow, RefundState, Refusal};
use crate::hub::Hub;
use crate::payments::reconcile;
use crate::payments::refunds::{self, RefundError};
use api_kit::extract::IdempotencyKey;
pub use api_types::hub::orders::{RefundBody, RefundList, RefundStatus, RefundView};
pub use api_types::hub::reconciliation::{Reconciliation, ReconciliationQuery};

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route(
        "/api/v1/stores/{id}/orders/{order}/refunds",
        post(create).get(list),
    )
}

fn view(r: RefundRow) -> RefundView {
    RefundView {
        status: match r.state {
            RefundState::Requested => RefundStatus::Requested,
            RefundState::Pending => RefundStatus::Pending,
            RefundState::Succeeded => RefundStatus::Refunded,
            RefundState::Declined => RefundStatus::Declined,
        },
        id: r.id,
        order_id: r.order_id,
        amount: r.amount,
        reason: r.reason,
        requested_by: r.requested_by,
        source: r.source,
        problem: r.problem,
        created_ms: r.created_at,
        updated_ms: r.updated_at,
    }
}

/// Give back an online order's card payment, or part of it (managers, owners).
///
/// 201 when the processor confirmed it, 202 while it is `pending` (the processor
/// did not answer; it is asked again). 422 `refund_exceeds_captured` (with what
/// remains in the message), `not_paid_by_card`, `not_captured`; 404
/// `unknown_order` for an order the store does not have; 404 `payments_not_configured` on a hub
/// without card payments.
#[utoipa::path(post, path = "/api/v1/stores/{id}/orders/{order}/refunds", operation_id = "hub_refund_order", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("order" = String, Path, description = "Order id"),
           ("Idempotency-Key" = String, Header, description = "Unique per refund; reuse it on retry")),
    request_body = RefundBody,
    responses((status = 201, body = RefundView, description = "Refunded"),
              (status = 202, body = RefundView, description = "Accepted; the processor has not confirmed it yet"),
              WriteErrors),
    security(("bearer" = [])))]
pub async fn create(
    access: StoreAccess<perm::OrderRefund>,
    State(hub): State<Arc<Hub>>,
    Path((store_id, order_id)): Path<(String, String)>,
    key: IdempotencyKey,
    body: JsonBody<RefundBody>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let body = body.value;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "say why, in 1 to 200 characters: `reason`",
        ));
    }
    if let Some(a) = body.amount
        && !(1..=10_000_000).contains(&a)
    {
        return Err(ApiError::unprocessable(
            "invalid_amount",
            "`amount` is in minor units (cents), from 1 to 10000000; leave it out to give back all that remains",
        ));
    }
    let by = access.caller.principal();
    let row = refunds::by_merchant(
        &hub,
        &store_id,
        &order_id,
        body.amount,
        Some(reason),
        &by,
        &key,
    )
    .await
    .map_err(refund_error)?;
    let status = match row.state {
        RefundState::Succeeded => StatusCode::CREATED,
        RefundState::Declined => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "refund_declined",
                row.problem
                    .unwrap_or_else(|| "the payment processor declined the refund".into()),
            ));
        }
        RefundState::Pending | RefundState::Requested => StatusCode::ACCEPTED,
    };
    Ok((status, Json(view(row))).into_response())
}

/// 404 `unknown_order`: the store (which the caller may see) has no such order.
fn unknown_order() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_order",
        "this store has no order with that id",
    )
}

fn refund_error(e: RefundError) -> ApiError {
    match e {
        RefundError::Refused(r) => {
            let code = match r {
                Refusal::NotPaidByCard => "not_paid_by_card",
                Refusal::NotCaptured(_) => "not_captured",
                Refusal::Exceeds { .. } => "refund_exceeds_captured",
            };
            ApiError::unprocessable(code, r.message())
        }
        RefundError::NotFound => unknown_order(),
        RefundError::NotConfigured => ApiError::new(
            StatusCode::NOT_FOUND,
            "payments_not_configured",
            "card payments are not set up on this hub",
        ),
        RefundError::Db(e) => e.into(),
    }
}

/// An order's refunds, oldest first, with what its card payment captured and gave back.
#[utoipa::path(get, path = "/api/v1/stores/{id}/orders/{order}/refunds", operation_id = "hub_list_refunds", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("order" = String, Path, description = "Order id")),
    responses((status = 200, body = RefundList), ReadErrors),
    security(("bearer" = [])))]
pub async fn list(
    _: StoreAccess<perm::OrderRead>,
    State(hub): State<Arc<Hub>>,
    Path((store_id, order_id)): Path<(String, String)>,
) -> ApiResult<Json<RefundList>> {
    if hub.db.store_order(&store_id, &order_id).await?.is_none() {
        return Err(unknown_order());
    }
    let card = hub.db.card_by_order(&order_id).await?;
    let refunds = hub.db.refunds_of_order(&order_id).await?;
    Ok(Json(RefundList {
        refunds: refunds.into_iter().map(view).collect(),
        captured: card.as_ref().map_or(0, |c| c.captured),
        refunded: card.as_ref().map_or(0, |c| c.refunded),
    }))
}

/// `GET /api/v1/stores/{id}/payments/reconciliation`.
pub fn reconciliation_router() -> Router<Arc<Hub>> {
    Router::new().route(
        "/api/v1/stores/{id}/payments/reconciliation",
        axum::routing::get(reconciliation),
    )
}

/// A store's card money for one day (managers, owners): what our orders say was
/// captured and refunded against the processor's balance transactions, each
/// difference flagged with the order and the processor's object. `format=csv`
/// for a spreadsheet. 400 `invalid_date` for a date that is not `YYYY-MM-DD`;
/// 503 `payment_unavailable` while the processor does not answer.
#[utoipa::path(get, path = "/api/v1/stores/{id}/payments/reconciliation", operation_id = "hub_reconciliation", tag = "merchant",
    params(("id" = String, Path, description = "Store id"), ReconciliationQuery),
    responses((status = 200, body = Reconciliation, description = "JSON, or CSV (text/csv) with `format=csv`"), ReadErrors),
    security(("bearer" = [])))]
pub async fn reconciliation(
    _: StoreAccess<perm::OrderRefund>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    super::extract::Query(q): super::extract::Query<ReconciliationQuery>,
) -> ApiResult<Response> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "`format` is json or csv",
            ));
        }
    };
    let snap = super::online::snapshot(&hub, &store_id).await?;
    let tz = snap.profile.tz();
    let date = match q.date {
        Some(d) => d,
        None => reconcile::today(hub.now_ms(), tz),
    };
    let bounds = reconcile::day_bounds(&date, tz).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_date",
            "`date` is a day as YYYY-MM-DD, e.g. 2026-12-07",
        )
    })?;
    let (lines, totals, currency) =
        reconcile::day(&hub, &store_id, bounds)
            .await
            .map_err(|e| match e {
                reconcile::DayError::Gateway(e) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payment_unavailable",
                    format!("the payment processor's records cannot be read right now: {e}"),
                ),
                reconcile::DayError::Db(e) => e.into(),
            })?;
    let report = Reconciliation {
        store_id,
        date,
        time_zone: tz.name().to_owned(),
        currency,
        from_ms: bounds.0,
        to_ms: bounds.1,
        totals,
        lines,
    };
    if !csv {
        return Ok(Json(report).into_response());
    }
    let body = report_csv(&report).map_err(ApiError::internal)?;
    let file = format!(
        "attachment; filename=\"reconciliation-{}-{}.csv\"",
        report.store_id, report.date
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

/// One row per line, then the totals as a last row.
fn report_csv(r: &Reconciliation) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record([
        "date",
        "kind",
        "status",
        "order_id",
        "ticket",
        "ours",
        "processor",
        "fee",
        "processor_object",
        "balance_transaction",
        "note",
    ])?;
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for l in &r.lines {
        let status = serde_json::to_value(l.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        w.write_record([
            r.date.as_str(),
            &l.kind,
            &status,
            l.order_id.as_deref().unwrap_or(""),
            l.ticket.as_deref().unwrap_or(""),
            &opt(l.ours),
            &opt(l.processor),
            &opt(l.fee),
            l.processor_object.as_deref().unwrap_or(""),
            l.balance_transaction.as_deref().unwrap_or(""),
            &l.note,
        ])?;
    }
    let t = &r.totals;
    w.write_record([
        r.date.as_str(),
        "total",
        &format!("{} differences", t.differences),
        "",
        "",
        &(t.captured - t.refunded).to_string(),
        &(t.processor_charged - t.processor_refunded).to_string(),
        &t.fees.to_string(),
        "",
        "",
        &format!("net paid out {}", t.net),
    ])?;
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
