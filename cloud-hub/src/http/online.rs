//! The customer API (online ordering) and the merchant's view of a store's
//! node links.
//!
//! - `GET /api/v1/public/stores/{id}` and `.../menu`: a store's profile, its
//!   menu, and whether it takes orders now (`ordering`), without signing in;
//! - `POST /api/v1/public/stores/{id}/cart`: price a cart by the domain's rules
//!   (the node's rules: `domain::order::price_order`);
//! - `POST /api/v1/stores/{id}/orders`: a signed-in customer places a pickup
//!   order (`Idempotency-Key` required). It is written as a hub-origin
//!   `order.created` event into the store's log, which the sync sessions ship
//!   to the store's nodes; the kitchen there moves it along;
//! - `GET /api/v1/me/orders`, `/{id}`: the customer's own orders (another
//!   customer's order is a 404), and `/{id}/events`, a WebSocket that sends the
//!   current status at once and then every change (`?access_token=` for
//!   browsers, which cannot set headers on a WebSocket);
//! - `GET /api/v1/stores/{id}/nodes`: whether the store's nodes are connected,
//!   what waits for them, and their devices (`DeviceRead`).

use std::convert::Infallible;
use std::sync::Arc;

use api_kit::extract::IdempotencyKey;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::menu::Menu;
use domain::order::{Channel, Fulfillment, OrderDraft, PricedOrder, price_order};
use domain::settings::StoreSettings;
use serde_json::{Value, json};
use sync::catalog::read_menu;
use sync::doc::DocKind;
use tokio::sync::broadcast::error::RecvError;

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path, WebSocketUpgrade, bearer};
use super::push::{Ended, PushSocket};
use super::store_docs::open_store;
use crate::auth::{CustomerUser, StoreAccess, perm};
use crate::db::online::OrderRow;
use crate::db::payments::{CardRow, CardState};
use crate::hub::Hub;
use crate::online::profile::{
    NodeNow, Ordering, Profile, StoreView, asap_minutes, check_pickup, instant_at, local_now,
    ordering, pickup_slots,
};
use crate::online::{Signal, WebPayment, node_now, presence};
use crate::payments::flow::{self, StartError};
pub use api_types::hub::online::{
    CardPaymentState, Cart, CustomerOrder, CustomerOrders, CustomerStatus, NodeDevice, NodeLink,
    PaymentChoice, PickupSlot, PickupTimes, PricedCart, PublicMenu, PublicStore, PublicStores,
    StatusMessage, StoreNodes, TrackingParams,
};

/// Most orders `GET /api/v1/me/orders` returns.
const MY_ORDERS_LIMIT: i64 = 100;

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/public/stores/{id}", get(public_store))
        .route("/api/v1/public/stores", get(public_stores))
        .route("/api/v1/public/stores/{id}/menu", get(public_menu))
        .route("/api/v1/public/stores/{id}/cart", post(price_cart))
        .route("/api/v1/public/stores/{id}/pickup-times", get(pickup_times))
        .route("/api/v1/stores/{id}/orders", post(place_order))
        .route("/api/v1/stores/{id}/nodes", get(store_nodes))
        .route("/api/v1/me/orders", get(my_orders))
        .route("/api/v1/me/orders/{id}", get(my_order))
        .route("/api/v1/me/orders/{id}/events", get(track_order))
}

/// What a store's documents say now: its profile and (if it has one) its menu.
///
/// Reading the menu out of the catalog document costs milliseconds, so the
/// result is kept per store with the documents' heads and reused until they move.
pub(crate) async fn snapshot(hub: &Hub, store_id: &str) -> ApiResult<Arc<StoreView>> {
    let store = open_store(hub, store_id).await?;
    let mut g = store.docs.lock().await;
    let heads = [DocKind::Settings, DocKind::Catalog]
        .map(|k| g.docs.get_mut(&k).map(|d| d.heads()).unwrap_or_default());
    let cached = store.view.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(view) = cached.filter(|v| v.heads == heads) {
        return Ok(view);
    }
    let settings = g
        .docs
        .get(&DocKind::Settings)
        .and_then(|d| d.entities("settings").ok())
        .and_then(|mut e| e.remove("store"))
        .map(StoreSettings::from)
        .unwrap_or_default();
    let mut profile = Profile::from_settings(store_id, &settings);
    let menu = match g.docs.get(&DocKind::Catalog) {
        Some(doc) if doc.root("currency").ok().flatten().is_some() => read_menu(doc)
            .map_err(|e| {
                tracing::warn!(store = %store_id, error = %e, "the catalog does not form a menu");
            })
            .ok(),
        _ => None,
    };
    drop(g);
    if profile.name.is_none() {
        profile.name = hub.db.store_name(store_id).await?;
    }
    let view = Arc::new(StoreView {
        heads,
        profile,
        menu: menu.map(Arc::new),
    });
    *store.view.lock().unwrap_or_else(|p| p.into_inner()) = Some(view.clone());
    Ok(view)
}

/// Whether the store takes orders now.
async fn ordering_now(hub: &Hub, store_id: &str, profile: &Profile) -> ApiResult<Ordering> {
    Ok(ordering_and_node(hub, store_id, profile).await?.0)
}

/// Whether the store takes orders now, and its node as that answer saw it.
async fn ordering_and_node(
    hub: &Hub,
    store_id: &str,
    profile: &Profile,
) -> ApiResult<(Ordering, NodeNow)> {
    let (node, _, _) = node_now(hub, store_id).await?;
    Ok((ordering(profile, node, hub.now_ms()), node))
}

fn public_view(id: &str, p: &Profile, ordering: Ordering) -> PublicStore {
    PublicStore {
        id: id.to_owned(),
        name: p.name.clone(),
        address: p.address.clone(),
        timezone: p.tz().name().to_owned(),
        hours: p.schedule.as_ref().map(|s| s.weekly().clone()),
        hours_exceptions: p
            .schedule
            .as_ref()
            .map(|s| s.exceptions().to_vec())
            .unwrap_or_default(),
        pickup_lead_minutes: p.pickup_lead_minutes,
        ordering,
    }
}

/// Most stores the public list shows.
const PUBLIC_STORES_LIMIT: i64 = 500;

/// The stores that take online orders (online ordering on, a menu published),
/// by name: each with its address, hours and whether it takes orders now (open,
/// closed until when, or paused and why). For finding a store.
#[utoipa::path(get, path = "/api/v1/public/stores", operation_id = "hub_public_stores", tag = "customer",
    responses((status = 200, body = PublicStores)))]
pub async fn public_stores(State(hub): State<Arc<Hub>>) -> ApiResult<Json<PublicStores>> {
    let mut stores = vec![];
    for id in hub.db.store_ids(PUBLIC_STORES_LIMIT).await? {
        let snap = snapshot(&hub, &id).await?;
        if !snap.profile.online_ordering || snap.menu.is_none() {
            continue;
        }
        let ordering = ordering_now(&hub, &id, &snap.profile).await?;
        stores.push(public_view(&id, &snap.profile, ordering));
    }
    stores.sort_by(|a, b| {
        let name = |s: &PublicStore| {
            s.name
                .clone()
                .unwrap_or_else(|| s.id.clone())
                .to_lowercase()
        };
        name(a).cmp(&name(b)).then(a.id.cmp(&b.id))
    });
    Ok(Json(PublicStores { stores }))
}

/// A store's public profile and whether it takes online orders now (and if not, why).
#[utoipa::path(get, path = "/api/v1/public/stores/{id}", operation_id = "hub_public_store", tag = "customer",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = PublicStore), (status = 404, body = ErrorBody)))]
pub async fn public_store(
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<PublicStore>> {
    let snap = snapshot(&hub, &store_id).await?;
    let ordering = ordering_now(&hub, &store_id, &snap.profile).await?;
    Ok(Json(public_view(&store_id, &snap.profile, ordering)))
}

/// A store's menu (sold-out items and modifiers are marked) and whether it takes orders now.
#[utoipa::path(get, path = "/api/v1/public/stores/{id}/menu", operation_id = "hub_public_menu", tag = "customer",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = PublicMenu), (status = 404, body = ErrorBody, description = "No such store, or it has no menu yet (`no_menu`)")))]
pub async fn public_menu(
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<PublicMenu>> {
    let snap = snapshot(&hub, &store_id).await?;
    let menu = snap.menu.clone().ok_or_else(no_menu)?;
    let ordering = ordering_now(&hub, &store_id, &snap.profile).await?;
    Ok(Json(PublicMenu {
        store_id,
        menu,
        ordering,
    }))
}

/// When a customer may pick up an order placed now: as soon as possible (the
/// store's lead time), or one of the times on offer (every 15 minutes while the
/// store is open, up to 12 hours ahead), in the store's time zone.
#[utoipa::path(get, path = "/api/v1/public/stores/{id}/pickup-times", operation_id = "hub_pickup_times", tag = "customer",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = PickupTimes), (status = 404, body = ErrorBody)))]
pub async fn pickup_times(
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<PickupTimes>> {
    let snap = snapshot(&hub, &store_id).await?;
    let (ordering, node) = ordering_and_node(&hub, &store_id, &snap.profile).await?;
    let now = hub.now_ms();
    let tz = snap.profile.tz();
    let slots = if ordering.accepting {
        pickup_slots(&snap.profile, now, node.open_tickets)
            .into_iter()
            .filter_map(|at_ms| {
                Some(PickupSlot {
                    at_ms,
                    at: instant_at(tz, at_ms)?,
                })
            })
            .collect()
    } else {
        vec![]
    };
    Ok(Json(PickupTimes {
        asap_minutes: asap_minutes(&snap.profile, node.open_tickets),
        today: local_now(tz, now)
            .map(|(d, _)| d.to_string())
            .unwrap_or_default(),
        slots,
        ordering,
    }))
}

fn no_menu() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_menu",
        "this store has no menu yet",
    )
}

/// A cart as the pickup order it asks for.
fn draft(cart: Cart, default_name: Option<String>) -> OrderDraft {
    OrderDraft {
        channel: Channel::Online,
        fulfillment: Fulfillment::Pickup,
        lines: cart.lines,
        note: cart.note,
        customer_name: cart
            .customer_name
            .filter(|n| !n.trim().is_empty())
            .or(default_name),
        table: None,
        discount: None,
    }
}

fn price(menu: &Menu, draft: &OrderDraft) -> ApiResult<PricedOrder> {
    price_order(menu, draft).map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))
}

/// Price a cart by the store's menu, as an order would be (no sign-in; nothing is stored).
#[utoipa::path(post, path = "/api/v1/public/stores/{id}/cart", operation_id = "hub_price_cart", tag = "customer",
    params(("id" = String, Path, description = "Store id")),
    request_body = Cart,
    responses((status = 200, body = PricedCart),
        (status = 400, body = ErrorBody, description = "The body is not JSON (`malformed_json`)"),
        (status = 413, body = ErrorBody, description = "The body is too large"),
        (status = 415, body = ErrorBody, description = "The body is not `application/json`"),
        (status = 404, body = ErrorBody, description = "No such store, or no menu"),
        (status = 422, body = ErrorBody, description = "A line breaks a rule: unknown_item, sold_out, invalid_quantity, unknown_modifier, invalid_modifiers, note_too_long, empty_order, ...")))]
pub async fn price_cart(
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    cart: JsonBody<Cart>,
) -> ApiResult<Json<PricedCart>> {
    let snap = snapshot(&hub, &store_id).await?;
    let menu = snap.menu.clone().ok_or_else(no_menu)?;
    let order = price(&menu, &draft(cart.value, None))?;
    let ordering = ordering_now(&hub, &store_id, &snap.profile).await?;
    Ok(Json(PricedCart { order, ordering }))
}

/// A placed order as its customer sees it (`card`: its card payment, when paid by card).
fn customer_view(row: &OrderRow, card: Option<&CardRow>) -> ApiResult<CustomerOrder> {
    let order: PricedOrder = row
        .view
        .priced()
        .map_err(|e| ApiError::internal(format!("order {}: {e}", row.id)))?;
    Ok(CustomerOrder {
        id: row.id.clone(),
        store_id: row.store_id.clone(),
        ticket: Some(row.ticket.clone()),
        status: row.view.status.into(),
        order,
        paid: row.view.progress().paid,
        payment: card.map_or(WebPayment::PayAtPickup, card_payment),
        created_ms: row.created_at,
        updated_ms: row.updated_at,
    })
}

/// A card payment as its customer sees it.
fn card_payment(card: &CardRow) -> WebPayment {
    let state = match card.state {
        CardState::Creating | CardState::Open => CardPaymentState::AwaitingPayment,
        CardState::Authorized => CardPaymentState::Authorized,
        CardState::Captured => CardPaymentState::Captured,
        CardState::Cancelled => CardPaymentState::Released,
        CardState::Expired => CardPaymentState::Expired,
    };
    WebPayment::Card {
        state,
        checkout_url: (state == CardPaymentState::AwaitingPayment)
            .then(|| card.checkout_url.clone())
            .flatten(),
        problem: card.problem.clone(),
        captured: card.captured,
        refunded: card.refunded,
    }
}

/// A card order not placed at the store (yet, or ever: its payment page expired).
fn unplaced_view(card: &CardRow) -> ApiResult<CustomerOrder> {
    let order: PricedOrder = serde_json::from_value(card.pending.clone())
        .map_err(|e| ApiError::internal(format!("pending order {}: {e}", card.order_id)))?;
    let status = match card.state {
        // Authorised but not at the store yet (moments, or a crash the worker
        // is recovering from): still on its way, its payment says authorised.
        CardState::Creating | CardState::Open | CardState::Authorized => {
            CustomerStatus::AwaitingPayment
        }
        _ => CustomerStatus::PaymentExpired,
    };
    Ok(CustomerOrder {
        id: card.order_id.clone(),
        store_id: card.store_id.clone(),
        ticket: None,
        status,
        order,
        paid: 0,
        payment: card_payment(card),
        created_ms: card.created_at,
        updated_ms: card.updated_at,
    })
}

/// The card payment of a placed order, when it was paid by card.
async fn card_of(hub: &Hub, row: &OrderRow) -> ApiResult<Option<CardRow>> {
    let by_card = row
        .payment
        .as_ref()
        .and_then(|p| p.get("method"))
        .and_then(|m| m.as_str())
        == Some("card");
    if !by_card {
        return Ok(None);
    }
    Ok(hub.db.card_by_order(&row.id).await?)
}

/// The 409 a paused store answers, with the `ordering` block beside the error.
fn paused(o: &Ordering) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({
            "error": { "code": "ordering_paused", "message": o.message },
            "ordering": o,
        })),
    )
        .into_response()
}

/// Place a pickup order (signed-in customers). Priced by the domain's rules
/// against the store's menu, numbered `W-nnnn`, and sent to the store's nodes
/// through sync; paid at pickup for now. `Idempotency-Key` is required: a retry
/// returns the same order. 409 `ordering_paused` (with `ordering`) while the
/// store is not taking orders.
#[utoipa::path(post, path = "/api/v1/stores/{id}/orders", operation_id = "hub_place_order", tag = "customer",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = String, Header, description = "Unique per order attempt; reuse it on retry")),
    request_body = Cart,
    responses((status = 201, body = CustomerOrder), WriteErrors),
    security(("bearer" = [])))]
pub async fn place_order(
    customer: CustomerUser,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    key: IdempotencyKey,
    cart: JsonBody<Cart>,
) -> ApiResult<Response> {
    let key = key.required()?;
    let user = customer.0.user_id;
    let snap = snapshot(&hub, &store_id).await?;
    let (ordering, node) = ordering_and_node(&hub, &store_id, &snap.profile).await?;
    if !ordering.accepting {
        return Ok(paused(&ordering));
    }
    let menu = snap.menu.clone().ok_or_else(no_menu)?;
    let account = hub.db.user_by_id(&user).await?;
    let choice = cart.value.payment.unwrap_or(if snap.profile.pay_at_pickup {
        PaymentChoice::PayAtPickup
    } else {
        PaymentChoice::Card
    });
    let pickup_at = cart.value.pickup_at;
    if let Some(at) = pickup_at {
        check_pickup(&snap.profile, hub.now_ms(), node.open_tickets, at)
            .map_err(|e| ApiError::unprocessable("pickup_time_unavailable", e.to_string()))?;
    }
    let draft = draft(cart.value, account.as_ref().map(|u| u.name.clone()));
    let mut priced = price(&menu, &draft)?;
    priced.pickup_at = pickup_at;
    match choice {
        PaymentChoice::PayAtPickup if !snap.profile.pay_at_pickup => {
            return Err(ApiError::unprocessable(
                "pay_at_pickup_not_offered",
                "this store takes online orders paid by card only: choose card",
            ));
        }
        PaymentChoice::Card => {
            return place_card_order(
                &hub,
                &store_id,
                &user,
                account.map(|u| u.email),
                &key,
                &priced,
            )
            .await;
        }
        PaymentChoice::PayAtPickup => {}
    }
    let payment = serde_json::to_value(WebPayment::PayAtPickup).map_err(ApiError::internal)?;
    let order_id = uuid::Uuid::now_v7();
    let row = crate::online::place_order(&hub, &store_id, &user, &key, order_id, &priced, &payment)
        .await?;
    if row.store_id != store_id {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for an order at another store",
        ));
    }
    Ok((StatusCode::CREATED, Json(customer_view(&row, None)?)).into_response())
}

/// A card order: waits for its payment (the answer's `payment.checkout_url`)
/// before it goes to the store.
async fn place_card_order(
    hub: &Arc<Hub>,
    store_id: &str,
    customer: &str,
    email: Option<String>,
    key: &str,
    priced: &PricedOrder,
) -> ApiResult<Response> {
    if hub.payments.is_none() {
        return Err(ApiError::unprocessable(
            "card_payments_unavailable",
            "this store does not take card payments online: choose to pay at pickup",
        ));
    }
    let card = match flow::start(hub, store_id, customer, email, key, priced).await {
        Ok(card) => card,
        Err(StartError::Unavailable(e)) => {
            tracing::warn!(store = %store_id, error = %e, "card checkout not opened");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "payment_unavailable",
                "the card payment service is not answering; nothing was charged. Try again in a moment (with the same Idempotency-Key)",
            ));
        }
        Err(StartError::Refused(e)) => {
            tracing::warn!(store = %store_id, error = %e, "card checkout refused");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "payment_refused",
                "the card payment service refused to open a payment for this order; nothing was charged",
            ));
        }
        Err(StartError::KeyReused) => {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for an order at another store",
            ));
        }
        Err(StartError::NotConfigured) => {
            return Err(ApiError::unprocessable(
                "card_payments_unavailable",
                "this store does not take card payments online: choose to pay at pickup",
            ));
        }
        Err(e @ (StartError::Db(_) | StartError::Internal(_))) => {
            return Err(ApiError::internal(e));
        }
    };
    let view = match hub.db.customer_order(customer, &card.order_id).await? {
        Some(row) => customer_view(&row, Some(&card))?,
        None => unplaced_view(&card)?,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The signed-in customer's orders, newest first.
#[utoipa::path(get, path = "/api/v1/me/orders", operation_id = "hub_my_orders", tag = "customer",
    responses((status = 200, body = CustomerOrders), ReadErrors),
    security(("bearer" = [])))]
pub async fn my_orders(
    customer: CustomerUser,
    State(hub): State<Arc<Hub>>,
) -> ApiResult<Json<CustomerOrders>> {
    let rows = hub
        .db
        .customer_orders(&customer.0.user_id, MY_ORDERS_LIMIT)
        .await?;
    let mut orders: Vec<CustomerOrder> = Vec::with_capacity(rows.len());
    for row in &rows {
        orders.push(customer_view(row, card_of(&hub, row).await?.as_ref())?);
    }
    // Card orders not (yet) at the store, newest first among the rest.
    let unplaced = hub
        .db
        .customer_unplaced_cards(&customer.0.user_id, MY_ORDERS_LIMIT)
        .await?;
    for card in &unplaced {
        orders.push(unplaced_view(card)?);
    }
    orders.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
    orders.truncate(usize::try_from(MY_ORDERS_LIMIT).unwrap_or(100));
    Ok(Json(CustomerOrders { orders }))
}

/// One of the signed-in customer's orders (another customer's order is a 404).
#[utoipa::path(get, path = "/api/v1/me/orders/{id}", operation_id = "hub_my_order", tag = "customer",
    params(("id" = String, Path, description = "Order id")),
    responses((status = 200, body = CustomerOrder), ReadErrors),
    security(("bearer" = [])))]
pub async fn my_order(
    customer: CustomerUser,
    State(hub): State<Arc<Hub>>,
    Path(order_id): Path<String>,
) -> ApiResult<Json<CustomerOrder>> {
    let user = &customer.0.user_id;
    if let Some(row) = hub.db.customer_order(user, &order_id).await? {
        let card = card_of(&hub, &row).await?;
        return Ok(Json(customer_view(&row, card.as_ref())?));
    }
    let card = hub
        .db
        .card_by_order(&order_id)
        .await?
        .filter(|c| c.customer_id == *user)
        .ok_or_else(|| ApiError::not_found("order"))?;
    // Back from the payment page before the processor's webhook: ask it now.
    let card = match flow::refresh(&hub, card.clone()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(order = %order_id, error = %e, "could not ask about a checkout");
            card
        }
    };
    if let Some(row) = hub.db.customer_order(user, &order_id).await? {
        return Ok(Json(customer_view(&row, Some(&card))?));
    }
    Ok(Json(unplaced_view(&card)?))
}

/// A customer, authenticated by the `Authorization` header or, for browsers'
/// WebSockets, by `?access_token=`.
pub struct TrackingCustomer(pub CustomerUser);

impl FromRequestParts<Arc<Hub>> for TrackingCustomer {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        if bearer(&parts.headers).is_none() {
            let q =
                Query::<std::collections::HashMap<String, String>>::from_request_parts(parts, hub)
                    .await
                    .map(|q| q.0)
                    .unwrap_or_default();
            if let Some(token) = q.get("access_token") {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    ApiError::unauthorized("bad_token", "the access token is malformed")
                })?;
                parts.headers.insert(header::AUTHORIZATION, value);
            }
        }
        CustomerUser::from_request_parts(parts, hub)
            .await
            .map(TrackingCustomer)
    }
}

/// Live tracking of one of the customer's orders (WebSocket). The current status
/// comes at once, then every change, as `StatusMessage` JSON text messages. A
/// card order not paid yet is tracked too: `awaiting_payment` (no ticket yet),
/// then `placed` with its ticket once the payment is confirmed, or
/// `payment_expired`.
#[utoipa::path(get, path = "/api/v1/me/orders/{id}/events", operation_id = "hub_track_order", tag = "customer",
    params(("id" = String, Path, description = "Order id"), TrackingParams),
    responses((status = 101, description = "Switching to WebSocket; each message is a StatusMessage", body = StatusMessage), ReadErrors),
    security(("bearer" = [])))]
pub async fn track_order(
    customer: TrackingCustomer,
    State(hub): State<Arc<Hub>>,
    Path(order_id): Path<String>,
    ws: Result<WebSocketUpgrade, ApiError>,
) -> Response {
    let user = customer.0.0.user_id;
    // Subscribe before reading, so no change slips between the read and the stream.
    let signals = hub.online.subscribe(&order_id);
    let tracked = match hub.db.customer_order(&user, &order_id).await {
        Ok(Some(row)) => Tracked {
            ticket: row.ticket,
            status: row.status,
            rank: row.rank,
        },
        // A card order not placed yet (the customer is back from the payment
        // page before the payment was confirmed), or expired unpaid.
        Ok(None) => match hub.db.card_by_order(&order_id).await {
            // (Authorised but not placed: on its way to the store, the worker places it.)
            Ok(Some(card)) if card.customer_id == user => {
                let expired = card.state == CardState::Expired;
                Tracked {
                    ticket: String::new(),
                    status: if expired {
                        "payment_expired"
                    } else {
                        "awaiting_payment"
                    }
                    .into(),
                    rank: if expired {
                        flow::UNPLACED_EXPIRED_RANK
                    } else {
                        flow::UNPLACED_AWAITING_RANK
                    },
                }
            }
            Ok(_) => return ApiError::not_found("order").into_response(),
            Err(e) => return ApiError::internal(e).into_response(),
        },
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let ws = match ws {
        Ok(WebSocketUpgrade(ws)) => ws,
        Err(e) => return e.into_response(),
    };
    // A tracker receives a few short messages in its life: small buffers keep 10,000 of them
    // cheap (tungstenite's defaults reserve 128 KiB to write and 128 KiB to read per socket).
    let ws = ws.write_buffer_size(4 * 1024).read_buffer_size(4 * 1024);
    ws.on_upgrade(move |socket| async move {
        let Err(why) = track(
            &hub,
            PushSocket::new(&hub, socket),
            &user,
            &order_id,
            tracked,
            signals,
        )
        .await;
        tracing::debug!(order = %order_id, reason = %why, "tracking socket closed");
    })
}

/// What a tracker last told its customer of the order.
struct Tracked {
    /// Empty until a card order is placed.
    ticket: String,
    status: String,
    rank: i64,
}

fn status(hub: &Hub, order_id: &str, now: &Tracked) -> StatusMessage {
    StatusMessage {
        kind: "status".into(),
        order_id: order_id.to_owned(),
        ticket: now.ticket.clone(),
        status: now.status.clone(),
        at_ms: hub.now_ms(),
    }
}

/// Streams one order's status until the client leaves, goes silent, or the hub
/// shuts down.
async fn track(
    hub: &Hub,
    mut socket: PushSocket,
    user: &str,
    order_id: &str,
    mut now: Tracked,
    mut signals: tokio::sync::broadcast::Receiver<Signal>,
) -> Result<Infallible, Ended> {
    socket.send_json(&status(hub, order_id, &now)).await?;
    loop {
        match socket.next(signals.recv()).await? {
            Ok(Signal::Order(u)) if u.order == order_id && u.rank > now.rank => {
                now.rank = u.rank;
                now.status = u.status;
            }
            Ok(Signal::Order(_)) => continue,
            Ok(Signal::Resync) | Err(RecvError::Lagged(_)) => {
                // Something may have been missed: read the order again.
                match hub.db.customer_order(user, order_id).await {
                    Ok(Some(row)) if row.rank > now.rank => {
                        now.rank = row.rank;
                        now.status = row.status;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(order = %order_id, error = %e, "could not re-read a tracked order");
                        continue;
                    }
                }
            }
            Err(RecvError::Closed) => return Err("hub closed"),
        }
        if now.ticket.is_empty() && now.rank >= 0 {
            // A card order just placed: it has its ticket now.
            if let Ok(Some(row)) = hub.db.customer_order(user, order_id).await {
                now.ticket = row.ticket;
            }
        }
        socket.send_json(&status(hub, order_id, &now)).await?;
    }
}

/// Whether a store's nodes are connected (to any hub replica), what waits for them, and their devices.
#[utoipa::path(get, path = "/api/v1/stores/{id}/nodes", operation_id = "hub_store_nodes", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = StoreNodes), ReadErrors),
    security(("bearer" = [])))]
pub async fn store_nodes(
    _: StoreAccess<perm::DeviceRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<StoreNodes>> {
    let snap = snapshot(&hub, &store_id).await?;
    let (node, link, _) = node_now(&hub, &store_id).await?;
    let vector = hub.db.vector(&store_id).await?;
    let links = presence::token_links(&hub, &store_id).await?;
    let nodes = hub
        .db
        .store_tokens(&store_id)
        .await?
        .into_iter()
        .map(|(hash, label, revoked)| {
            let state = links.get(&hash).cloned().unwrap_or_else(|| {
                let local = hub.online.presence.local(&hash);
                presence::LinkState {
                    connected: local,
                    last_seen_ms: local.then(|| hub.now_ms()),
                    acked: Value::Null,
                }
            });
            let waiting = vector
                .iter()
                .map(|(origin, seq)| {
                    let acked = state.acked.get(origin).and_then(Value::as_u64).unwrap_or(0);
                    seq.saturating_sub(acked)
                })
                .sum();
            NodeLink {
                label,
                token_sha256_prefix: hash.chars().take(12).collect(),
                token_sha256: hash.clone(),
                revoked,
                connected: state.connected,
                last_seen_ms: state.last_seen_ms,
                events_waiting: waiting,
            }
        })
        .collect();
    let devices = hub
        .db
        .store_devices(&store_id)
        .await?
        .into_iter()
        .map(|d| NodeDevice {
            id: d.id,
            kind: d.kind,
            name: d.name,
            health: d.health,
            updated_ms: d.updated_at,
        })
        .collect();
    let enrolled = super::nodes::store_node_views(&hub, &store_id).await?;
    Ok(Json(StoreNodes {
        store_id,
        connected: link.connected,
        last_seen_ms: link.last_seen_ms,
        grace_secs: hub.online.grace.as_secs(),
        ordering: ordering(&snap.profile, node, hub.now_ms()),
        nodes,
        enrolled,
        devices,
    }))
}
