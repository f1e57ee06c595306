//! Order routes: parse the request, check who may do it, call the order
//! service (`crate::orders`) in an idempotent write, answer with its result.
//! Placing needs an `Idempotency-Key`; transitions, station bumps and
//! payments accept or need one too (ARCHITECTURE.md, invariant 6).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use domain::Ident;
use domain::order::{OrderDraft, PricedOrder};
use domain::payment::PaymentMethod;
use domain::roles::Permission;
use domain::status::Transition;
use serde::Serialize;

use super::error::{ApiError, ApiResult, ReadErrors, StorageErrors, WriteErrors};
use super::extract::{IdempotencyKey, JsonBody, Path, Query, parse_json};
use super::idempotency;
use crate::auth::{Auth, perm};
use crate::orders::{self, ListFilter, OrderView, OrdersError, PaymentResult, Tender};
use crate::state::AppState;
pub use api_types::node::orders::{
    OnlineRefundList, OnlineRefundRequest, OnlineRefundView, OrderList, PaymentRequest,
    TransitionBody,
};
pub use api_types::orders::OrderFilter;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/orders", post(create).get(list))
        .route("/api/v1/orders/quote", post(quote))
        .route("/api/v1/orders/{id}", get(get_one))
        .route("/api/v1/orders/{id}/payments", post(pay))
        .route(
            "/api/v1/orders/{id}/online-refunds",
            post(online_refund).get(online_refunds),
        )
        .route(
            "/api/v1/card-payments/unsettled",
            get(unsettled_card_payments),
        )
        .route(
            "/api/v1/orders/{id}/stations/{station}/done",
            post(station_done),
        )
        .route("/api/v1/orders/{id}/{transition}", post(transition))
}

/// Place an order.
///
/// The order is checked against the current menu and priced by the domain
/// rules; the response comes only after it is on disk. Send an
/// `Idempotency-Key`: a retry with the same key and body returns the same
/// order instead of placing a second one.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body = OrderDraft,
    params(("Idempotency-Key" = String, Header, description = "Unique per order attempt; reuse it on retry"),
           ("X-Manager-Approval" = Option<String>, Header, description = "A manager's session token, when a cashier gives a discount")),
    responses((status = 201, description = "Placed and durable", body = OrderView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::OrderCreate>,
    key: IdempotencyKey,
    headers: axum::http::HeaderMap,
    body: JsonBody<OrderDraft>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let draft = body.value;
    if !auth.session.role.may_place_on(draft.channel) {
        return Err(ApiError::forbidden(format!(
            "a {} may not place {} orders",
            auth.session.role.as_str(),
            draft.channel.as_str()
        )));
    }
    let approved_by = match &draft.discount {
        None => None,
        Some(_) => Some(discount_approver(&state, &auth, &headers).await?),
    };
    let menu = state.menu();
    let prefix = state.ticket_prefix;
    let staff = auth.session.staff_id.clone();
    let channel = draft.channel;
    // Priced inside the idempotent write: a retry of a placed order gets the stored
    // answer even if the menu changed since (an item sold out, a price edit).
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        body.hash,
        StatusCode::CREATED,
        move |ctx| {
            let now = ctx.now();
            let placed = orders::place_draft(
                ctx,
                &menu.menu,
                &draft,
                approved_by,
                Some(staff),
                prefix,
                now,
            )?;
            Ok(placed)
        },
    )
    .await?;
    if resp.status() == StatusCode::CREATED && !resp.headers().contains_key("idempotent-replayed") {
        metrics::counter!("store_orders_created_total", "channel" => channel.as_str()).increment(1);
    }
    Ok(resp)
}

/// Price an order without placing it: what it would cost now.
///
/// The till shows the exact amount due (tax included) before it places an
/// order to be paid in cash, so the order reaches the kitchen only once the
/// cashier has confirmed the cash taken. Nothing is stored; placing it later
/// prices it again (the menu may have changed meanwhile). A discount is priced
/// but not approved here.
#[utoipa::path(post, path = "/api/v1/orders/quote", tag = "orders",
    request_body = OrderDraft,
    responses((status = 200, description = "What the order would cost", body = PricedOrder), WriteErrors),
    security(("bearer" = [])))]
pub async fn quote(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::OrderCreate>,
    body: JsonBody<OrderDraft>,
) -> ApiResult<Json<PricedOrder>> {
    let draft = body.value;
    if !auth.session.role.may_place_on(draft.channel) {
        return Err(ApiError::forbidden(format!(
            "a {} may not place {} orders",
            auth.session.role.as_str(),
            draft.channel.as_str()
        )));
    }
    Ok(Json(orders::quote(&state.menu().menu, &draft)?))
}

/// Who approves a discount: the signed-in staff member if their role may discount, otherwise the
/// manager whose session token is in `X-Manager-Approval`.
async fn discount_approver<P>(
    state: &AppState,
    auth: &Auth<P>,
    headers: &axum::http::HeaderMap,
) -> ApiResult<String> {
    let needed = || {
        ApiError::forbidden(
            "a discount needs a manager's approval: have a manager sign in to approve it",
        )
    };
    match approver(state, auth, headers, Permission::OrderDiscount).await {
        Ok(Some(staff_id)) => Ok(staff_id),
        _ => Err(needed()),
    }
}

/// Who may give money back when a paid order is cancelled or voided (`Permission::OrderRefund`):
/// the signed-in staff member if their role may refund, otherwise the manager whose session token
/// is in `X-Manager-Approval`; `None` when neither (then only an unpaid order may be cancelled).
async fn refund_approver<P>(
    state: &AppState,
    auth: &Auth<P>,
    headers: &axum::http::HeaderMap,
) -> ApiResult<Option<String>> {
    approver(state, auth, headers, Permission::OrderRefund)
        .await
        .map_err(|_| refund_needs_approval())
}

/// 403 `manager_approval_required`: the order is paid, so ending it gives money back.
fn refund_needs_approval() -> ApiError {
    OrdersError::RefundNeedsApproval.into()
}

/// The staff member who grants `needed`: the caller if their role has it, else the
/// holder of the session in `X-Manager-Approval` (`None` without that header; an
/// error when its session is unknown, expired or lacks the permission).
async fn approver<P>(
    state: &AppState,
    auth: &Auth<P>,
    headers: &axum::http::HeaderMap,
    needed: Permission,
) -> ApiResult<Option<String>> {
    if auth.session.role.can(needed) {
        return Ok(Some(auth.session.staff_id.clone()));
    }
    let Some(token) = headers.get("x-manager-approval") else {
        return Ok(None);
    };
    let no = || ApiError::forbidden("the approval is not a manager's current session");
    let token = token.to_str().map_err(|_| no())?;
    let approver = crate::auth::session_for(state, token)
        .await
        .map_err(|_| no())?;
    if !approver.role.can(needed) {
        return Err(no());
    }
    Ok(Some(approver.staff_id))
}

/// List orders, newest first, filtered by status, channel and time.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrderFilter),
    responses((status = 200, body = OrderList), ReadErrors),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::OrderRead>,
    Query(p): Query<OrderFilter>,
) -> ApiResult<Json<OrderList>> {
    let s = p
        .check()
        .map_err(|m| ApiError::bad_request("invalid_query", m))?;
    let filter = ListFilter {
        statuses: s.statuses,
        channels: s.channels,
        since_ms: s.since_ms,
        until_ms: s.until_ms,
        limit: s.limit,
    };
    let orders = orders::list(&state.db, filter).await?;
    Ok(Json(OrderList { orders }))
}

/// One order.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    responses((status = 200, body = OrderView), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::OrderRead>,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<OrderView>> {
    Ok(Json(orders::get(&state.db, id).await?))
}

fn parse_transition(s: &str) -> Option<Transition> {
    Transition::ALL.into_iter().find(|t| t.as_str() == s)
}

/// Move an order through its lifecycle: `accept`, `start`, `ready`, `complete`, `cancel`, `void`, `refund`.
///
/// Status only moves forward; an illegal move is 409 `invalid_transition`.
/// Kitchen staff may progress orders; cancel needs a cashier, void and refund a manager.
/// Cancelling or voiding an order that was paid gives the money back, one
/// refund per payment (`payment.refunded` events; cash opens the drawer, card
/// is noted for a refund at the terminal): that needs a manager, signed in or
/// approving with their session in `X-Manager-Approval`; otherwise 403
/// `manager_approval_required`.
#[utoipa::path(post, path = "/api/v1/orders/{id}/{transition}", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id"),
           ("transition" = String, Path, description = "accept | start | ready | complete | cancel | void | refund"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
           ("X-Manager-Approval" = Option<String>, Header, description = "A manager's session token, when a cashier cancels a paid order")),
    request_body(content = Option<TransitionBody>, description = "Optional; `reason` is required for void and refund"),
    responses((status = 200, body = OrderView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn transition(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::OrderRead>,
    key: IdempotencyKey,
    Path((id, t)): Path<(uuid::Uuid, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let t = parse_transition(&t).ok_or_else(|| ApiError::not_found("transition"))?;
    auth.require(t.permission())?;
    let tb: TransitionBody = if body.is_empty() {
        TransitionBody::default()
    } else {
        let json = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        parse_json::<Option<TransitionBody>>(&body)?.unwrap_or_default()
    };
    let reason = tb
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(ApiError::unprocessable(
            "reason_too_long",
            "reason must be at most 200 characters",
        ));
    }
    if matches!(t, Transition::Void | Transition::Refund) && reason.is_none() {
        return Err(ApiError::unprocessable(
            "reason_required",
            format!("say why: a {t} needs a reason"),
        ));
    }
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            [id.as_bytes().as_slice(), t.as_str().as_bytes(), &body].concat(),
        ))
    };
    let by = auth.session.staff_id.clone();
    // Ending a paid order gives the money back: that needs a manager, checked in the write
    // (where whether it is paid is known).
    let refund = match t {
        Transition::Cancel | Transition::Void | Transition::Refund => Some(orders::Refund {
            approved_by: refund_approver(&state, &auth, &headers).await?,
            head: crate::printing::Letterhead::of(&state),
        }),
        _ => None,
    };
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        key.0,
        hash,
        StatusCode::OK,
        move |ctx| {
            let now = ctx.now();
            let id = id.to_string();
            Ok(orders::transition(ctx, &id, t, &by, reason, refund, now)?)
        },
    )
    .await?;
    state.lanes.kick();
    Ok(resp)
}

/// Pay an order's balance at the counter: cash with change due, or card through the terminal.
///
/// Cash records the payment, opens the drawer and prints the receipt. Card
/// asks the store's card terminal for the balance and waits for the customer
/// (up to the terminal timeout); the node stores only the terminal's
/// reference. A declined or cancelled card is 402 (`card_declined`,
/// `payment_cancelled`), a busy, silent or unreachable terminal 409
/// (`terminal_busy`, `terminal_timeout`, `terminal_unreachable`), and an order
/// with a card payment the node lost to a restart and has not settled yet 409
/// (`payment_unsettled`).
#[utoipa::path(post, path = "/api/v1/orders/{id}/payments", tag = "orders", request_body = PaymentRequest,
    params(("id" = uuid::Uuid, Path, description = "Order id"),
           ("Idempotency-Key" = String, Header, description = "Unique per payment attempt; reuse it on retry")),
    responses((status = 201, body = PaymentResult), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn pay(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::PaymentTake>,
    key: IdempotencyKey,
    Path(id): Path<uuid::Uuid>,
    body: JsonBody<PaymentRequest>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let req = body.value;
    if req.method == PaymentMethod::Card {
        return pay_by_card(
            &state,
            &auth.session.staff_id,
            key,
            body.hash,
            id,
            req.terminal_id,
        )
        .await;
    }
    let Some(tendered) = req.tendered else {
        return Err(ApiError::unprocessable(
            "tendered_required",
            "say how much cash was handed over: `tendered`",
        ));
    };
    let by = auth.session.staff_id.clone();
    let head = crate::printing::Letterhead::of(&state);
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        body.hash,
        StatusCode::CREATED,
        move |ctx| {
            let now = ctx.now();
            let tender = Tender::Cash { tendered };
            let id = id.to_string();
            Ok(orders::record_payment(ctx, &head, &id, tender, &by, now)?)
        },
    )
    .await?;
    state.lanes.kick();
    Ok(resp)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnsettledCardPayments {
    pub attempts: Vec<crate::terminal::CardAttempt>,
}

/// Card payments the terminal may have charged that the node has not recorded
/// (managers): cut off by a restart and not yet answered by the terminal
/// (`asking`), or answered in a way only the terminal's journal can settle
/// (`unsettled`).
#[utoipa::path(get, path = "/api/v1/card-payments/unsettled", operation_id = "unsettled_card_payments", tag = "orders",
    responses((status = 200, body = UnsettledCardPayments), ReadErrors),
    security(("bearer" = [])))]
pub async fn unsettled_card_payments(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::OrderRefund>,
) -> ApiResult<Json<UnsettledCardPayments>> {
    let attempts = state.db.read(crate::terminal::unsettled).await?;
    Ok(Json(UnsettledCardPayments { attempts }))
}

/// A kitchen station has finished its part of the order (a KDS bump at that station).
///
/// When every station with lines on the order is done, the order becomes
/// `ready` in the same write. Bumping a station twice changes nothing.
#[utoipa::path(post, path = "/api/v1/orders/{id}/stations/{station}/done", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id"), ("station" = String, Path, description = "Station id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = OrderView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn station_done(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::OrderProgress>,
    key: IdempotencyKey,
    Path((id, station)): Path<(uuid::Uuid, Ident)>,
) -> ApiResult<Response> {
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("station-done {id} {station}")))
    };
    let by = auth.session.staff_id.clone();
    idempotency::write(
        &state,
        &auth.session.staff_id,
        key.0,
        hash,
        StatusCode::OK,
        move |ctx| {
            let now = ctx.now();
            let id = id.to_string();
            Ok(orders::mark_station_done(ctx, &id, &station, &by, now)?)
        },
    )
    .await
}

/// A card payment: the key is held for the whole conversation with the terminal, so a retry
/// while the customer is still at the terminal is 409 `request_in_flight`, and one after
/// approval gets the stored payment instead of charging twice (`crate::terminal`).
async fn pay_by_card(
    state: &Arc<AppState>,
    staff: &str,
    key: String,
    hash: String,
    order_id: uuid::Uuid,
    terminal_id: Option<Ident>,
) -> ApiResult<Response> {
    let _reservation = idempotency::reserve(state, staff, &key)?;
    if let Some(r) = idempotency::stored(state, staff, &key, &hash).await? {
        return Ok(r);
    }
    // The terminal stays claimed until the payment is recorded.
    let (charged, _claim) =
        crate::terminal::charge(state, staff, &key, &hash, order_id, terminal_id).await?;
    let head = crate::printing::Letterhead::of(state);
    let by = staff.to_owned();
    let resp =
        idempotency::write_reserved(state, staff, key, hash, StatusCode::CREATED, move |ctx| {
            let now = ctx.now();
            let id = order_id.to_string();
            Ok(crate::terminal::record_charged(
                ctx, &head, &id, charged, &by, now,
            )?)
        })
        .await?;
    state.lanes.kick();
    Ok(resp)
}

/// Give back an online order's card payment, or part of it (managers, or a
/// cashier with a manager's session in `X-Manager-Approval`).
///
/// The hub holds the payment: the node records the request (202, status
/// `asked`) and sync carries it to the hub, at once or when the connection is
/// back; the hub's answer (`refunded`, or `declined` with the reason) comes
/// back the same way and shows in `GET .../online-refunds`. 422
/// `not_paid_online` for an order not known to be paid online, 422
/// `refund_exceeds_paid` above what remains (paid, less given back, less
/// requests not answered yet). `Idempotency-Key` required.
#[utoipa::path(post, path = "/api/v1/orders/{id}/online-refunds", tag = "orders",
    request_body = OnlineRefundRequest,
    params(("id" = uuid::Uuid, Path, description = "Order id"),
           ("Idempotency-Key" = String, Header, description = "Unique per refund; reuse it on retry"),
           ("X-Manager-Approval" = Option<String>, Header, description = "A manager's session token, when a cashier asks")),
    responses((status = 202, body = OnlineRefundView, description = "Asked; the hub answers through sync"), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn online_refund(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::OrderRead>,
    key: IdempotencyKey,
    Path(id): Path<uuid::Uuid>,
    headers: axum::http::HeaderMap,
    body: JsonBody<OnlineRefundRequest>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let approved_by = refund_approver(&state, &auth, &headers)
        .await?
        .ok_or_else(refund_needs_approval)?;
    let req = body.value;
    let reason = req.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "say why, in 1 to 200 characters: `reason`",
        ));
    }
    if req.amount.is_some_and(|a| !(1..=10_000_000).contains(&a)) {
        return Err(ApiError::unprocessable(
            "invalid_amount",
            "`amount` is in minor units (cents), from 1 to 10000000; leave it out to give back all that remains",
        ));
    }
    let by = auth.session.staff_id.clone();
    idempotency::write(
        &state,
        &auth.session.staff_id,
        Some(key),
        body.hash,
        StatusCode::ACCEPTED,
        move |ctx| {
            let now = ctx.now();
            let ask = orders::online_refunds::Ask {
                id: uuid::Uuid::now_v7().to_string(),
                amount: req.amount,
                reason: Some(reason),
                by,
                approved_by: Some(approved_by),
            };
            let view = orders::online_refunds::request(ctx, &id.to_string(), ask, now)?;
            serde_json::to_value(view).map_err(ApiError::internal)
        },
    )
    .await
}

/// An online order's refunds, oldest first: asked here or made at the hub, with the hub's answer.
#[utoipa::path(get, path = "/api/v1/orders/{id}/online-refunds", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    responses((status = 200, body = OnlineRefundList), ReadErrors),
    security(("bearer" = [])))]
pub async fn online_refunds(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::OrderRead>,
    Path(id): Path<uuid::Uuid>,
) -> ApiResult<Json<OnlineRefundList>> {
    orders::get(&state.db, id).await?;
    let id = id.to_string();
    let refunds = state
        .db
        .read(move |c| Ok(orders::online_refunds::of_order(c, &id)))
        .await??;
    Ok(Json(OnlineRefundList { refunds }))
}
