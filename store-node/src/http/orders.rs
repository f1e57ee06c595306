//! Orders: create (priced against the menu, idempotent), list, get, and the
//! lifecycle transitions. Each write stores the event and the read model row
//! in one transaction.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use domain::Ident;
use domain::order::{Channel, OrderDraft, PricedOrder, price_order};
use domain::payment::{PaymentError, PaymentMethod, settle_cash};
use domain::roles::Permission;
use domain::status::{OrderStatus, Progress, Transition};
use domain::ticket::TicketNumber;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ReadErrors, StorageErrors, WriteErrors};
use super::extract::{IdempotencyKey, JsonBody, Path, Query, parse_json};
use super::idempotency;
use crate::auth::{Auth, perm};
use crate::db::{WriteCtx, now_ms};
use crate::events::kind;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/orders", post(create).get(list))
        .route("/api/v1/orders/quote", post(quote))
        .route("/api/v1/orders/{id}", get(get_one))
        .route("/api/v1/orders/{id}/payments", post(pay))
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

/// An order as the API shows it: the snapshot taken when it was placed, plus its current status.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: uuid::Uuid,
    /// What the kitchen calls out: `S-0457`.
    #[schema(example = "S-0457")]
    pub ticket: String,
    pub status: OrderStatus,
    #[serde(flatten)]
    pub order: PricedOrder,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// Staff id of who placed it.
    pub created_by: Option<String>,
    /// Paid so far, minor units; the balance due is `totals.total - paid`.
    pub paid: i64,
    /// Given back so far, minor units: what was paid for an order later cancelled or voided.
    #[serde(default)]
    pub refunded: i64,
    /// Kitchen stations that have finished their part; when every station of the order is done it is ready.
    pub stations_done: Vec<Ident>,
}

fn view_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(OrderView, String)> {
    let snapshot: String = r.get("snapshot")?;
    let status: String = r.get("status")?;
    let id: String = r.get("id")?;
    let order: PricedOrder = serde_json::from_str(&snapshot).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok((
        OrderView {
            id: id.parse().unwrap_or_default(),
            ticket: r.get("ticket")?,
            status: OrderStatus::parse(&status).unwrap_or(OrderStatus::Placed),
            order,
            created_ms: r.get::<_, i64>("created_ms")? as u64,
            updated_ms: r.get::<_, i64>("updated_ms")? as u64,
            created_by: r.get("created_by")?,
            paid: r.get("paid")?,
            refunded: r.get("refunded")?,
            stations_done: serde_json::from_str(&r.get::<_, String>("stations_done")?)
                .unwrap_or_default(),
        },
        status,
    ))
}

const SELECT_ORDER: &str = "SELECT id, ticket, status, snapshot, created_ms, updated_ms, created_by, paid, refunded, stations_done FROM orders";

fn load(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<OrderView>> {
    conn.prepare_cached(&format!("{SELECT_ORDER} WHERE id = ?1"))?
        .query_row([id], view_from_row)
        .optional()
        .map(|o| o.map(|(v, _)| v))
}

/// One order as the API shows it.
pub fn load_order(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<OrderView>> {
    load(conn, id)
}

/// The payments of an order, oldest first.
pub fn payments_of(
    conn: &rusqlite::Connection,
    order_id: &str,
) -> rusqlite::Result<Vec<PaymentView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, order_id, method, amount, tendered, change, created_ms, created_by, reference
         FROM payments WHERE order_id = ?1 ORDER BY created_ms, id",
    )?;
    stmt.query_map([order_id], |r| {
        let id: String = r.get(0)?;
        let order: String = r.get(1)?;
        let method: String = r.get(2)?;
        Ok(PaymentView {
            id: id.parse().unwrap_or_default(),
            order_id: order.parse().unwrap_or_default(),
            method: if method == "card" {
                PaymentMethod::Card
            } else {
                PaymentMethod::Cash
            },
            amount: r.get(3)?,
            tendered: r.get(4)?,
            change: r.get(5)?,
            created_ms: r.get::<_, i64>(6)? as u64,
            created_by: r.get(7)?,
            reference: r.get(8)?,
        })
    })?
    .collect()
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

fn map_order_error(e: domain::order::OrderError) -> ApiError {
    // The codes are the domain's, so the hub answers a bad cart exactly as the node does.
    ApiError::unprocessable(e.code(), e.to_string())
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
            let mut priced = price_order(&menu.menu, &draft).map_err(map_order_error)?;
            if let Some(d) = priced.discount.as_mut() {
                d.approved_by = approved_by;
            }
            place(ctx, priced, Some(staff), prefix)
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
    price_order(&state.menu().menu, &draft)
        .map(Json)
        .map_err(map_order_error)
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
    ApiError::new(
        StatusCode::FORBIDDEN,
        "manager_approval_required",
        "this order is paid: cancelling it gives the money back, which needs a manager's approval (manager PIN)",
    )
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

/// Records a priced order: ticket number (with this node's `prefix`), read model row and
/// `order.created` event, in the caller's transaction.
pub fn place(
    ctx: &mut WriteCtx<'_>,
    order: PricedOrder,
    created_by: Option<String>,
    prefix: char,
) -> Result<serde_json::Value, ApiError> {
    let seq = ctx.next_counter(&format!("ticket:{prefix}"))?;
    let now = now_ms();
    let view = OrderView {
        id: uuid::Uuid::now_v7(),
        ticket: TicketNumber::nth(prefix, seq).to_string(),
        status: OrderStatus::Placed,
        order,
        created_ms: now,
        updated_ms: now,
        created_by,
        paid: 0,
        refunded: 0,
        stations_done: vec![],
    };
    let snapshot = serde_json::to_string(&view.order).map_err(ApiError::internal)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO orders (id, ticket, channel, fulfillment, status, total, created_ms, updated_ms, created_by, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(rusqlite::params![
            view.id.to_string(),
            view.ticket,
            view.order.channel.as_str(),
            serde_json::to_value(view.order.fulfillment).ok().and_then(|v| v.as_str().map(str::to_owned)),
            view.status.as_str(),
            view.order.totals.total,
            now as i64,
            now as i64,
            view.created_by,
            snapshot
        ])?;
    crate::printing::enqueue_kitchen(ctx.conn, &view)?;
    let json = to_json(&view)?;
    let id = view.id.to_string();
    ctx.append(
        kind::ORDER_CREATED,
        Some(&id),
        serde_json::json!({ "order": json }),
    )?;
    Ok(json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
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
    /// At most this many, newest first (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderView>,
}

fn parse_list<T>(
    s: &Option<String>,
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

/// List orders, newest first, filtered by status, channel and time.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(ListParams),
    responses((status = 200, body = OrderList), ReadErrors),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::OrderRead>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<OrderList>> {
    let statuses = parse_list(&p.status, "status", OrderStatus::parse)?;
    let channels = parse_list(&p.channel, "channel", Channel::parse)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 500",
        ));
    }
    let since = p.since_ms.unwrap_or(0);
    let until = p.until_ms.unwrap_or(i64::MAX);
    if since < 0 || until < 0 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "since_ms and until_ms are Unix times in ms, not negative",
        ));
    }
    let orders = state
        .db
        .read(move |c| {
            let mut sql = format!("{SELECT_ORDER} WHERE created_ms >= ?1 AND created_ms < ?2");
            let mut args: Vec<String> = vec![];
            if !statuses.is_empty() {
                sql += &format!(" AND status IN ({})", vec!["?"; statuses.len()].join(","));
                args.extend(statuses.iter().map(|s| s.as_str().to_owned()));
            }
            if !channels.is_empty() {
                sql += &format!(" AND channel IN ({})", vec!["?"; channels.len()].join(","));
                args.extend(channels.iter().map(|s| s.as_str().to_owned()));
            }
            sql += " ORDER BY created_ms DESC, id DESC LIMIT ?";
            let mut stmt = c.prepare(&sql)?;
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&since, &until];
            params.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
            params.push(&limit);
            let rows = stmt.query_map(params.as_slice(), view_from_row)?;
            rows.map(|r| r.map(|(v, _)| v))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
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
    let id = id.to_string();
    state
        .db
        .read(move |c| load(c, &id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("order"))
}

/// Why an order was cancelled, voided or refunded.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// Required for `void` and `refund`; at most 200 characters.
    pub reason: Option<String>,
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
        Transition::Cancel | Transition::Void | Transition::Refund => Some(Refund {
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
            let json = apply_transition(ctx, &id.to_string(), t, &by, reason)?;
            match refund {
                Some(r) => refund_payments(ctx, &id.to_string(), &by, r),
                None => Ok(json),
            }
        },
    )
    .await?;
    state.lanes.kick();
    Ok(resp)
}

/// What giving back a cancelled, voided or refunded order's payments needs.
struct Refund {
    /// The manager who approved it (the caller, or the `X-Manager-Approval` session).
    approved_by: Option<String>,
    /// For the receipt that goes with the cash.
    head: crate::printing::Letterhead,
}

/// A payment given back, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    /// The payment given back.
    pub payment_id: uuid::Uuid,
    /// The payment's tender: cash comes out of the drawer; card is refunded at the terminal.
    pub method: PaymentMethod,
    /// Minor units.
    pub amount: i64,
    /// Card: the payment's terminal reference, to find it for the refund at the terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub created_ms: u64,
    pub created_by: Option<String>,
    pub approved_by: String,
}

/// Gives back what an order that has just been cancelled, voided or refunded had paid, in the caller's
/// transaction: one refund per payment, so each tender is returned the way it came (a
/// `payment.refunded` event each: cash from the drawer, which opens with a receipt; card to be
/// refunded at the terminal). The day's payments less its refunds is then what the drawer and
/// the card batch hold. 403 `manager_approval_required` when money is due back and no manager
/// approved. Returns the order.
fn refund_payments(
    ctx: &mut WriteCtx<'_>,
    order_id: &str,
    by: &str,
    refund: Refund,
) -> Result<serde_json::Value, ApiError> {
    let mut view = load(ctx.conn, order_id)?.ok_or_else(|| ApiError::not_found("order"))?;
    let payments = payments_of(ctx.conn, order_id)?;
    let given_back: std::collections::HashSet<String> = ctx
        .conn
        .prepare_cached("SELECT payment_id FROM refunds WHERE order_id = ?1")?
        .query_map([order_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let due: Vec<&PaymentView> = payments
        .iter()
        .filter(|p| p.amount > 0 && !given_back.contains(&p.id.to_string()))
        .collect();
    if due.is_empty() {
        return to_json(&view);
    }
    let approved_by = refund.approved_by.ok_or_else(refund_needs_approval)?;
    let mut cash = false;
    for p in due {
        let now = now_ms().max(view.updated_ms);
        let r = RefundView {
            id: uuid::Uuid::now_v7(),
            order_id: view.id,
            payment_id: p.id,
            method: p.method,
            amount: p.amount,
            reference: p.reference.clone(),
            created_ms: now,
            created_by: Some(by.to_owned()),
            approved_by: approved_by.clone(),
        };
        ctx.conn
            .prepare_cached(
                "INSERT INTO refunds (id, order_id, payment_id, method, amount, reference, created_ms, created_by, approved_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(rusqlite::params![
                r.id.to_string(),
                order_id,
                p.id.to_string(),
                if p.method == PaymentMethod::Card { "card" } else { "cash" },
                r.amount,
                r.reference,
                now as i64,
                r.created_by,
                r.approved_by
            ])?;
        cash |= p.method == PaymentMethod::Cash;
        view.refunded += r.amount;
        view.updated_ms = now;
        ctx.conn
            .prepare_cached("UPDATE orders SET refunded = ?1, updated_ms = ?2 WHERE id = ?3")?
            .execute(rusqlite::params![view.refunded, now as i64, order_id])?;
        let json = serde_json::json!({ "refund": to_json(&r)?, "order": to_json(&view)? });
        ctx.append(kind::PAYMENT_REFUNDED, Some(order_id), json)?;
    }
    if cash {
        // The drawer opens for the cash to go back, with a receipt showing the order's end.
        crate::printing::enqueue_receipt(ctx.conn, &refund.head, &view, &payments, true)?;
    }
    to_json(&view)
}

/// Validates and records one transition, in the caller's transaction.
pub fn apply_transition(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    t: Transition,
    by: &str,
    reason: Option<String>,
) -> Result<serde_json::Value, ApiError> {
    let mut view = load(ctx.conn, id)?.ok_or_else(|| ApiError::not_found("order"))?;
    let from = view.status;
    let to = from
        .apply(t)
        .map_err(|e| ApiError::conflict("invalid_transition", e.to_string()))?;
    let now = now_ms().max(view.updated_ms);
    ctx.conn
        .prepare_cached("UPDATE orders SET status = ?1, updated_ms = ?2 WHERE id = ?3")?
        .execute(rusqlite::params![to.as_str(), now as i64, id])?;
    view.status = to;
    view.updated_ms = now;
    let json = to_json(&view)?;
    ctx.append(
        kind::ORDER_CHANGED,
        Some(id),
        serde_json::json!({
            "transition": t, "from": from, "to": to, "by": by, "reason": reason, "order": json,
        }),
    )?;
    Ok(json)
}

/// A payment as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub method: PaymentMethod,
    /// Applied to the order, minor units.
    pub amount: i64,
    /// Cash handed over, minor units.
    pub tendered: i64,
    /// Change to give back, minor units.
    pub change: i64,
    pub created_ms: u64,
    pub created_by: Option<String>,
    /// Card payments: the terminal's reference (terminal id, trace and receipt number). Never card data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub method: PaymentMethod,
    /// Cash: the amount handed over, minor units; at least the balance due. Not used for card.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub tendered: Option<i64>,
    /// Card: the terminal to use; the store's first card terminal when absent.
    #[schema(value_type = Option<String>)]
    pub terminal_id: Option<Ident>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentResult {
    pub payment: PaymentView,
    pub order: OrderView,
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
        return crate::terminal::pay_by_card(
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
    let resp = idempotency::write(&state, &auth.session.staff_id, Some(key), body.hash, StatusCode::CREATED, move |ctx| {
        let id = id.to_string();
        let mut view = load(ctx.conn, &id)?.ok_or_else(|| ApiError::not_found("order"))?;
        if view.status.is_terminal() {
            return Err(ApiError::conflict("order_closed", format!("the order is {}: nothing to pay", view.status)));
        }
        let due = view.order.totals.total - view.paid;
        let s = settle_cash(due, tendered).map_err(|e| match e {
            PaymentError::NothingDue => ApiError::conflict("already_paid", e.to_string()),
            PaymentError::Insufficient { .. } => ApiError::unprocessable("insufficient_tender", e.to_string()),
            PaymentError::BadAmount => ApiError::unprocessable("invalid_amount", e.to_string()),
        })?;
        let now = now_ms();
        let payment = PaymentView {
            id: uuid::Uuid::now_v7(),
            order_id: view.id,
            method: req.method,
            amount: s.amount,
            tendered: s.tendered,
            change: s.change,
            created_ms: now,
            created_by: Some(by),
            reference: None,
        };
        ctx.conn.execute(
            "INSERT INTO payments (id, order_id, method, amount, tendered, change, created_ms, created_by)
             VALUES (?1, ?2, 'cash', ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![payment.id.to_string(), id, s.amount, s.tendered, s.change, now as i64, payment.created_by],
        )?;
        view.paid += s.amount;
        view.updated_ms = now.max(view.updated_ms);
        ctx.conn.execute(
            "UPDATE orders SET paid = ?1, updated_ms = ?2 WHERE id = ?3",
            rusqlite::params![view.paid, view.updated_ms as i64, id],
        )?;
        // The drawer opens and the receipt prints once this commits.
        let payments = payments_of(ctx.conn, &id)?;
        crate::printing::enqueue_receipt(ctx.conn, &head, &view, &payments, true)?;
        let result = to_json(&PaymentResult { payment, order: view })?;
        ctx.append(kind::PAYMENT_RECORDED, Some(&id), result.clone())?;
        Ok(result)
    })
    .await?;
    state.lanes.kick();
    Ok(resp)
}

/// Records an approved card payment (from the terminal) with its receipt, in the caller's transaction.
pub fn record_card_payment(
    ctx: &mut WriteCtx<'_>,
    head: &crate::printing::Letterhead,
    order_id: &str,
    amount: i64,
    reference: String,
    by: &str,
) -> Result<serde_json::Value, ApiError> {
    let mut view = load(ctx.conn, order_id)?.ok_or_else(|| ApiError::not_found("order"))?;
    let now = now_ms();
    let payment = PaymentView {
        id: uuid::Uuid::now_v7(),
        order_id: view.id,
        method: PaymentMethod::Card,
        amount,
        tendered: amount,
        change: 0,
        created_ms: now,
        created_by: Some(by.to_owned()),
        reference: Some(reference),
    };
    ctx.conn.execute(
        "INSERT INTO payments (id, order_id, method, amount, tendered, change, created_ms, created_by, reference)
         VALUES (?1, ?2, 'card', ?3, ?3, 0, ?4, ?5, ?6)",
        rusqlite::params![payment.id.to_string(), order_id, amount, now as i64, payment.created_by, payment.reference],
    )?;
    view.paid += amount;
    view.updated_ms = now.max(view.updated_ms);
    ctx.conn.execute(
        "UPDATE orders SET paid = ?1, updated_ms = ?2 WHERE id = ?3",
        rusqlite::params![view.paid, view.updated_ms as i64, order_id],
    )?;
    let payments = payments_of(ctx.conn, order_id)?;
    crate::printing::enqueue_receipt(ctx.conn, head, &view, &payments, false)?;
    let result = to_json(&PaymentResult {
        payment,
        order: view,
    })?;
    ctx.append(kind::PAYMENT_RECORDED, Some(order_id), result.clone())?;
    Ok(result)
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
        move |ctx| mark_station_done(ctx, &id.to_string(), &station, &by),
    )
    .await
}

/// Records that `station` finished its part of order `id`; the order becomes
/// ready when every station is done. In the caller's transaction.
pub fn mark_station_done(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    station: &Ident,
    by: &str,
) -> Result<serde_json::Value, ApiError> {
    let mut view = load(ctx.conn, id)?.ok_or_else(|| ApiError::not_found("order"))?;
    let stations: std::collections::BTreeSet<&Ident> =
        view.order.lines.iter().map(|l| &l.station).collect();
    if !stations.contains(station) {
        return Err(ApiError::unprocessable(
            "unknown_station",
            format!("this order has nothing for station {station}"),
        ));
    }
    if view.stations_done.contains(station) || !view.status.is_open() {
        return to_json(&view);
    }
    view.stations_done.push(station.clone());
    let all_done = stations.iter().all(|s| view.stations_done.contains(s));
    let now = now_ms().max(view.updated_ms);
    ctx.conn.execute(
        "UPDATE orders SET stations_done = ?1, updated_ms = ?2 WHERE id = ?3",
        rusqlite::params![
            serde_json::to_string(&view.stations_done).map_err(ApiError::internal)?,
            now as i64,
            id
        ],
    )?;
    view.updated_ms = now;
    let json = to_json(&view)?;
    ctx.append(
        kind::ORDER_CHANGED,
        Some(id),
        serde_json::json!({ "station_done": station, "by": by, "order": json }),
    )?;
    if all_done && view.status.apply(Transition::Ready).is_ok() {
        return apply_transition(ctx, id, Transition::Ready, by, None);
    }
    Ok(json)
}

/// Projects an order event made by another replica (received through sync) into the read model.
///
/// Every order event carries the order's full view after it happened; the
/// projection inserts a new order, and otherwise joins the views' progress
/// (`Progress::join`: status and amount paid only rise) and never lowers
/// what was given back.
pub fn project_remote(conn: &rusqlite::Connection, e: &sync::log::Event) -> rusqlite::Result<()> {
    let Some(order) = e.data.get("order") else {
        return Ok(());
    };
    let Ok(view) = serde_json::from_value::<OrderView>(order.clone()) else {
        tracing::warn!(event = %e.id, "an order event from {} has an unreadable order", e.origin);
        return Ok(());
    };
    let id = view.id.to_string();
    let current = load(conn, &id)?;
    let snapshot = serde_json::to_string(&view.order).unwrap_or_default();
    let stations = serde_json::to_string(&view.stations_done).unwrap_or_else(|_| "[]".into());
    match current {
        None => {
            // Online orders print in this store's kitchen; another node's counter orders print at that node.
            if view.order.channel == Channel::Online
                && let Err(e) = crate::printing::enqueue_kitchen(conn, &view)
            {
                tracing::error!(order = %id, error = %e.message, "could not queue the kitchen tickets of an online order");
            }
            conn.execute(
                "INSERT INTO orders (id, ticket, channel, fulfillment, status, total, created_ms, updated_ms, created_by, snapshot, paid, stations_done, refunded)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                rusqlite::params![
                    id,
                    view.ticket,
                    view.order.channel.as_str(),
                    serde_json::to_value(view.order.fulfillment).ok().and_then(|v| v.as_str().map(str::to_owned)),
                    view.status.as_str(),
                    view.order.totals.total,
                    view.created_ms as i64,
                    view.updated_ms as i64,
                    view.created_by,
                    snapshot,
                    view.paid,
                    stations,
                    view.refunded
                ],
            )?;
        }
        Some(cur) => {
            let progress = Progress {
                status: cur.status,
                paid: cur.paid,
            }
            .join(Progress {
                status: view.status,
                paid: view.paid,
            });
            let stations = if view.stations_done.len() > cur.stations_done.len() {
                stations
            } else {
                serde_json::to_string(&cur.stations_done).unwrap_or_else(|_| "[]".into())
            };
            conn.execute(
                "UPDATE orders SET status = ?1, paid = ?2, stations_done = ?3, updated_ms = MAX(updated_ms, ?4), refunded = MAX(refunded, ?6) WHERE id = ?5",
                rusqlite::params![progress.status.as_str(), progress.paid, stations, view.updated_ms as i64, id, view.refunded],
            )?;
        }
    }
    Ok(())
}
