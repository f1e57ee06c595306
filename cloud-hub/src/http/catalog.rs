//! A store's menu: the catalog document read as a `domain::menu::Menu` (with
//! its same-field conflicts and what breaks a menu rule after a merge),
//! replaced whole (`MenuEdit`), and sold-out toggles of one item or modifier
//! (`MenuSoldOut`: managers and owners). Every change is one edit of the
//! catalog document, saved and pushed to the store's nodes (`super::store_docs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use domain::menu::Menu;
use serde::Serialize;
use serde_json::json;
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path};
use super::store_docs::{edit_doc, open_store};
use crate::auth::{StoreAccess, perm};
use crate::hub::Hub;
pub use api_types::hub::catalog::{CatalogConflict, SoldOut};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/stores/{id}/menu", get(get_menu).put(put_menu))
        .route(
            "/api/v1/stores/{id}/menu/items/{item_id}/sold-out",
            put(item_sold_out),
        )
        .route(
            "/api/v1/stores/{id}/menu/modifiers/{modifier_id}/sold-out",
            put(modifier_sold_out),
        )
}

/// A store's menu as the catalog document holds it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MenuView {
    pub menu: Menu,
    /// Same-field conflicts of concurrent edits (the winner is what everyone sees).
    #[schema(value_type = Vec<CatalogConflict>)]
    pub conflicts: Vec<sync::doc::Conflict>,
    /// What breaks a menu rule after a merge; null when nothing does.
    pub problem: Option<String>,
}

fn menu_view(doc: &SharedDoc) -> ApiResult<Json<MenuView>> {
    if doc
        .root("currency")
        .map_err(|e| ApiError::conflict("catalog_unreadable", e.to_string()))?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_menu",
            "this store has no menu yet",
        ));
    }
    let menu = read_menu(doc).map_err(|e| {
        ApiError::conflict(
            "catalog_unreadable",
            format!("the merged catalog does not form a menu: {e}"),
        )
    })?;
    let conflicts = doc
        .conflicts()
        .map_err(|e| ApiError::conflict("catalog_unreadable", e.to_string()))?;
    let problem = menu.validate().err().map(|e| e.to_string());
    Ok(Json(MenuView {
        menu,
        conflicts,
        problem,
    }))
}

/// `GET /api/v1/stores/{id}/menu` -> `{menu, conflicts, problem}`: the catalog
/// document's projection, its same-field conflicts, and what breaks a menu
/// rule after a merge (null when nothing). 404 `no_menu` before the store has one.
#[utoipa::path(get, path = "/api/v1/stores/{id}/menu", operation_id = "hub_get_menu", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = MenuView), (status = 409, body = ErrorBody, description = "The merged catalog does not form a menu"), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_menu(
    _: StoreAccess<perm::MenuRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<MenuView>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    match g.docs.get(&DocKind::Catalog) {
        Some(doc) => menu_view(doc),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_menu",
            "this store has no menu yet",
        )),
    }
}

/// `PUT /api/v1/stores/{id}/menu` (a whole menu, validated): written into the
/// catalog document field by field, saved, and pushed to the store's nodes.
#[utoipa::path(put, path = "/api/v1/stores/{id}/menu", operation_id = "hub_put_menu", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = Menu,
    responses((status = 200, body = MenuView), WriteErrors),
    security(("bearer" = [])))]
pub async fn put_menu(
    _: StoreAccess<perm::MenuEdit>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    menu: JsonBody<Menu>,
) -> ApiResult<Json<MenuView>> {
    let menu = menu.value;
    menu.validate()
        .map_err(|e| ApiError::unprocessable("invalid_menu", e.to_string()))?;
    let view = edit_doc(&hub, &store_id, DocKind::Catalog, |doc| {
        write_menu(doc, &menu)
            .map_err(|e| ApiError::conflict("catalog_unreadable", e.to_string()))?;
        menu_view(doc)
    })
    .await?;
    tracing::info!(store = %store_id, "menu written");
    Ok(view)
}

/// Sets `sold_out` of one entity of the catalog's `collection`; 404 `no_menu`
/// before the store has a menu, 404 `unknown_item` / `unknown_modifier` for an
/// id the menu does not have.
async fn set_sold_out(
    hub: &Hub,
    store_id: &str,
    collection: &'static str,
    id: &str,
    sold_out: bool,
) -> ApiResult<Json<MenuView>> {
    let (code, what) = match collection {
        "items" => ("unknown_item", "item"),
        _ => ("unknown_modifier", "modifier"),
    };
    let view = edit_doc(hub, store_id, DocKind::Catalog, |doc: &mut SharedDoc| {
        let unreadable =
            |e: sync::doc::DocError| ApiError::conflict("catalog_unreadable", e.to_string());
        if doc.root("currency").map_err(unreadable)?.is_none() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_menu",
                "this store has no menu yet",
            ));
        }
        if !doc
            .put_field(collection, id, "sold_out", &json!(sold_out))
            .map_err(unreadable)?
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                code,
                format!("the menu has no {what} {id:?}"),
            ));
        }
        menu_view(doc)
    })
    .await?;
    tracing::info!(store = %store_id, %what, %id, sold_out, "sold-out toggled");
    Ok(view)
}

/// Mark a menu item sold out, or available again. The change syncs to the store's nodes.
#[utoipa::path(put, path = "/api/v1/stores/{id}/menu/items/{item_id}/sold-out", operation_id = "hub_item_sold_out", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("item_id" = String, Path, description = "Item id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = SoldOut,
    responses((status = 200, body = MenuView), WriteErrors),
    security(("bearer" = [])))]
pub async fn item_sold_out(
    _: StoreAccess<perm::MenuSoldOut>,
    State(hub): State<Arc<Hub>>,
    Path((store_id, item_id)): Path<(String, String)>,
    body: JsonBody<SoldOut>,
) -> ApiResult<Json<MenuView>> {
    set_sold_out(&hub, &store_id, "items", &item_id, body.value.sold_out).await
}

/// Mark a modifier sold out, or available again. The change syncs to the store's nodes.
#[utoipa::path(put, path = "/api/v1/stores/{id}/menu/modifiers/{modifier_id}/sold-out", operation_id = "hub_modifier_sold_out", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("modifier_id" = String, Path, description = "Modifier id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = SoldOut,
    responses((status = 200, body = MenuView), WriteErrors),
    security(("bearer" = [])))]
pub async fn modifier_sold_out(
    _: StoreAccess<perm::MenuSoldOut>,
    State(hub): State<Arc<Hub>>,
    Path((store_id, modifier_id)): Path<(String, String)>,
    body: JsonBody<SoldOut>,
) -> ApiResult<Json<MenuView>> {
    set_sold_out(
        &hub,
        &store_id,
        "modifiers",
        &modifier_id,
        body.value.sold_out,
    )
    .await
}
