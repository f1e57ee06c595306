//! Menu routes: read by every signed-in client, edited by managers. The
//! handlers parse and authorise; the menu service (`crate::menu`) checks each
//! edit with the domain rules, bumps the version and appends `menu.changed` in
//! the same transaction.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use domain::Ident;
use domain::menu::{Item, Menu};

use super::error::{ApiError, ApiResult, ReadErrors, StorageErrors, WriteErrors};
use super::extract::{IdempotencyKey, JsonBody, Path};
use super::idempotency;
use crate::auth::{Auth, perm};
use crate::menu::{self, EditError, MenuView};
use crate::state::AppState;
pub use api_types::node::menu::SoldOut;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/menu", get(read).put(replace))
        .route("/api/v1/menu/items/{id}", put(upsert_item))
        .route("/api/v1/menu/items/{id}/sold-out", post(item_sold_out))
        .route(
            "/api/v1/menu/modifiers/{id}/sold-out",
            post(modifier_sold_out),
        )
}

/// Applies `edit` to the stored menu in one write; updates the cache after commit.
async fn edit(
    state: &Arc<AppState>,
    principal: &str,
    key: Option<String>,
    hash: String,
    change: serde_json::Value,
    edit: impl FnOnce(&mut Menu) -> Result<(), domain::menu::MenuError> + Send + 'static,
) -> ApiResult<Response> {
    let docs = state.docs.clone();
    let resp = idempotency::write(state, principal, key, hash, StatusCode::OK, move |ctx| {
        let now = ctx.now();
        let view = menu::edit(ctx, &docs, change, edit, now)?;
        serde_json::to_value(view).map_err(ApiError::internal)
    })
    .await?;
    menu::refresh(&state.db, &state.menu).await?;
    Ok(resp)
}

/// The current menu (staff, kiosks).
#[utoipa::path(get, path = "/api/v1/menu", tag = "menu",
    responses((status = 200, body = MenuView), ReadErrors),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::MenuRead>,
) -> ApiResult<Json<MenuView>> {
    Ok(Json(menu::current(&state.db, &state.menu).await?))
}

/// Replace the whole menu (import). Managers.
#[utoipa::path(put, path = "/api/v1/menu", tag = "menu", request_body = Menu,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = MenuView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::MenuEdit>,
    key: IdempotencyKey,
    body: JsonBody<Menu>,
) -> ApiResult<Response> {
    let menu = body.value;
    menu.validate().map_err(EditError::from)?;
    let docs = state.docs.clone();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        key.0,
        body.hash,
        StatusCode::OK,
        move |ctx| {
            let now = ctx.now();
            let view = menu::replace(ctx, &docs, menu, now)?;
            serde_json::to_value(view).map_err(ApiError::internal)
        },
    )
    .await?;
    menu::refresh(&state.db, &state.menu).await?;
    Ok(resp)
}

/// Add or replace one item. Managers.
#[utoipa::path(put, path = "/api/v1/menu/items/{id}", tag = "menu", request_body = Item,
    params(("id" = String, Path, description = "Item id; must equal the body's id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = MenuView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn upsert_item(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::MenuEdit>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
    body: JsonBody<Item>,
) -> ApiResult<Response> {
    let item = body.value;
    if item.id != id {
        return Err(ApiError::unprocessable(
            "id_mismatch",
            "the item id in the path and the body differ",
        ));
    }
    let change = serde_json::json!({ "item_upserted": id });
    edit(
        &state,
        &auth.session.staff_id,
        key.0,
        body.hash,
        change,
        move |m| m.upsert_item(item),
    )
    .await
}

/// Mark an item sold out, or available again. Managers.
#[utoipa::path(post, path = "/api/v1/menu/items/{id}/sold-out", tag = "menu", request_body = SoldOut,
    params(("id" = String, Path, description = "Item id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = MenuView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn item_sold_out(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::MenuSoldOut>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
    body: JsonBody<SoldOut>,
) -> ApiResult<Response> {
    let flag = body.value.sold_out;
    let change = serde_json::json!({ "item_sold_out": id, "sold_out": flag });
    edit(
        &state,
        &auth.session.staff_id,
        key.0,
        body.hash,
        change,
        move |m| m.set_item_sold_out(&id, flag).map(|_| ()),
    )
    .await
}

/// Mark a modifier sold out, or available again. Managers.
#[utoipa::path(post, path = "/api/v1/menu/modifiers/{id}/sold-out", tag = "menu", request_body = SoldOut,
    params(("id" = String, Path, description = "Modifier id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = MenuView), WriteErrors, StorageErrors),
    security(("bearer" = [])))]
pub async fn modifier_sold_out(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::MenuSoldOut>,
    key: IdempotencyKey,
    Path(id): Path<Ident>,
    body: JsonBody<SoldOut>,
) -> ApiResult<Response> {
    let flag = body.value.sold_out;
    let change = serde_json::json!({ "modifier_sold_out": id, "sold_out": flag });
    edit(
        &state,
        &auth.session.staff_id,
        key.0,
        body.hash,
        change,
        move |m| m.set_modifier_sold_out(&id, flag).map(|_| ()),
    )
    .await
}
