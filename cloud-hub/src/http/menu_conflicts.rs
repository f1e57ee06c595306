//! The menu's same-field conflicts as the merchant settles them: a field of an
//! item that the hub and the store's node both changed while they were apart
//! (`sync::conflicts`), listed with each value and where it was written, and
//! one choice applied to the hub's catalog document, from where it syncs to
//! the nodes like any edit (`MenuEdit`: managers and owners).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value as JsonValue;
use sync::conflicts::{FieldConflict, Place, ResolveError, catalog_conflicts, resolve};
use sync::doc::{DocError, DocKind, SharedDoc};

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path};
use super::store_docs::{edit_doc, open_store};
use crate::auth::{StoreAccess, perm};
use crate::hub::Hub;
pub use api_types::hub::catalog::{
    ConflictPlace, MenuConflict, MenuConflictValue, MenuConflicts, ResolveMenuConflict,
};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/stores/{id}/menu/conflicts", get(list_conflicts))
        .route(
            "/api/v1/stores/{id}/menu/conflicts/resolve",
            post(resolve_conflict),
        )
}

fn unreadable(e: DocError) -> ApiError {
    ApiError::conflict("catalog_unreadable", e.to_string())
}

fn no_menu() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_menu",
        "this store has no menu yet",
    )
}

/// The menu's currency; 404 `no_menu` before the store has a menu.
fn currency(doc: &SharedDoc) -> ApiResult<String> {
    match doc.root("currency").map_err(unreadable)? {
        Some(JsonValue::String(c)) => Ok(c),
        Some(other) => Ok(other.to_string()),
        None => Err(no_menu()),
    }
}

/// The name of the entity `id` of `collection`, if it has one.
fn name_of(doc: &SharedDoc, collection: &str, id: &JsonValue) -> Option<String> {
    let id = id.as_str()?;
    let entities = doc.entities(collection).ok()?;
    entities.get(id)?.get("name")?.as_str().map(str::to_owned)
}

/// For a field naming other parts of the menu, their names.
fn label(doc: &SharedDoc, field: &str, value: &JsonValue) -> Option<String> {
    let collection = match field {
        "tax_class" => "tax_classes",
        "station" => "stations",
        "category" => "categories",
        "modifier_groups" => {
            let names: Vec<String> = value
                .as_array()?
                .iter()
                .map(|g| {
                    name_of(doc, "modifier_groups", g).unwrap_or_else(|| "another group".into())
                })
                .collect();
            return Some(if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            });
        }
        _ => return None,
    };
    name_of(doc, collection, value)
}

fn place(p: Place) -> ConflictPlace {
    match p {
        Place::Hub => ConflictPlace::Hub,
        Place::Store => ConflictPlace::Store,
        Place::Unknown => ConflictPlace::Unknown,
    }
}

fn view(doc: &SharedDoc, c: FieldConflict) -> MenuConflict {
    let item_name = doc
        .entities("items")
        .ok()
        .and_then(|items| {
            items
                .get(&c.id)
                .and_then(|f| f.get("name"))
                .and_then(|n| n.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| c.id.clone());
    MenuConflict {
        values: c
            .values
            .into_iter()
            .map(|v| MenuConflictValue {
                label: label(doc, &c.field, &v.value),
                from: v.from.into_iter().map(place).collect(),
                shown: v.shown,
                value: v.value,
            })
            .collect(),
        item_id: c.id,
        item_name,
        field: c.field,
    }
}

/// The catalog's open conflicts of item fields.
fn conflicts_of(doc: &SharedDoc) -> ApiResult<MenuConflicts> {
    let currency = currency(doc)?;
    let conflicts = catalog_conflicts(doc)
        .map_err(unreadable)?
        .into_iter()
        .filter(|c| c.collection == "items")
        .map(|c| view(doc, c))
        .collect();
    Ok(MenuConflicts {
        currency,
        conflicts,
    })
}

/// `GET /api/v1/stores/{id}/menu/conflicts`: each item field that the hub and
/// the store changed while apart, with every value, where it was written and
/// which one everyone sees now. Empty when there is nothing to choose.
#[utoipa::path(get, path = "/api/v1/stores/{id}/menu/conflicts", operation_id = "hub_menu_conflicts", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = MenuConflicts), (status = 409, body = ErrorBody, description = "The catalog cannot be read"), ReadErrors),
    security(("bearer" = [])))]
pub async fn list_conflicts(
    _: StoreAccess<perm::MenuEdit>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<MenuConflicts>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    let doc = g.docs.get(&DocKind::Catalog).ok_or_else(no_menu)?;
    Ok(Json(conflicts_of(doc)?))
}

/// `POST /api/v1/stores/{id}/menu/conflicts/resolve` `{item_id, field, value}`:
/// keeps `value` (one of the conflict's values) for the item's field. It replaces
/// every value of the conflict in the hub's catalog document, which syncs to the
/// store's nodes; answers the conflicts left. 404 `unknown_item` for an item the
/// menu does not have, 404 `unknown_conflict` when that field has no conflict
/// (settled already), 422 `not_a_conflicting_value` for any other value.
#[utoipa::path(post, path = "/api/v1/stores/{id}/menu/conflicts/resolve", operation_id = "hub_resolve_menu_conflict", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = ResolveMenuConflict,
    responses((status = 200, body = MenuConflicts), WriteErrors),
    security(("bearer" = [])))]
pub async fn resolve_conflict(
    _: StoreAccess<perm::MenuEdit>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<ResolveMenuConflict>,
) -> ApiResult<Json<MenuConflicts>> {
    let ResolveMenuConflict {
        item_id,
        field,
        value,
    } = body.value;
    let left = edit_doc(&hub, &store_id, DocKind::Catalog, |doc| {
        currency(doc)?;
        if !doc
            .entities("items")
            .map_err(unreadable)?
            .contains_key(&item_id)
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_item",
                format!("the menu has no item {item_id:?}"),
            ));
        }
        match resolve(doc, "items", &item_id, &field, &value) {
            Ok(()) => {}
            Err(ResolveError::NoConflict { .. }) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_conflict",
                    format!("{field:?} of {item_id:?} has no conflicting values (it may have been settled already)"),
                ));
            }
            Err(ResolveError::NotOffered) => {
                return Err(ApiError::unprocessable(
                    "not_a_conflicting_value",
                    "choose one of the values the conflict lists",
                ));
            }
            Err(ResolveError::Doc(e)) => return Err(unreadable(e)),
        }
        conflicts_of(doc)
    })
    .await?;
    tracing::info!(store = %store_id, item = %item_id, %field, "menu conflict resolved");
    Ok(Json(left))
}
