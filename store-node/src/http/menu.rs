//! The menu: read by every signed-in client, edited by managers. The menu is
//! stored as one JSON document with a version; every edit is validated by the
//! domain rules, bumps the version and appends a `menu.changed` event in the
//! same transaction.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use domain::Ident;
use domain::menu::{Item, Menu};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ReadErrors, StorageErrors, WriteErrors};
use super::extract::{IdempotencyKey, JsonBody, Path};
use super::idempotency;
use crate::auth::{Auth, perm};
use crate::db::{WriteCtx, now_ms};
use crate::events::kind;
use crate::state::{AppState, MenuState};

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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MenuView {
    /// Increases with every edit.
    pub version: i64,
    pub menu: Menu,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SoldOut {
    pub sold_out: bool,
}

/// Loads the stored menu in a write transaction (authoritative, unlike the cache).
pub fn load_menu(conn: &rusqlite::Connection) -> rusqlite::Result<Option<MenuState>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT doc, version FROM menu WHERE id = 1", [], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })
    .optional()?
    .map(|(doc, version)| {
        serde_json::from_str::<Menu>(&doc)
            .map(|menu| MenuState { menu, version })
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    })
    .transpose()
}

/// A local menu change: into the catalog document (the source of truth), then its projection.
pub fn store_menu(
    ctx: &mut WriteCtx<'_>,
    docs: &std::sync::Mutex<sync::session::Docs>,
    menu: Menu,
    change: serde_json::Value,
) -> Result<MenuState, ApiError> {
    crate::docs::set_menu(ctx.conn, docs, &menu).map_err(ApiError::internal)?;
    store_projection(ctx, menu, change)
}

/// Stores `menu` as the next version of the projection and appends `menu.changed`; returns the new state.
pub fn store_projection(
    ctx: &mut WriteCtx<'_>,
    menu: Menu,
    change: serde_json::Value,
) -> Result<MenuState, ApiError> {
    let version: i64 =
        ctx.conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM menu", [], |r| {
                r.get::<_, i64>(0)
            })?
            + 1;
    let doc = serde_json::to_string(&menu).map_err(ApiError::internal)?;
    ctx.conn.execute(
        "INSERT INTO menu (id, doc, version, updated_ms) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated_ms = excluded.updated_ms",
        rusqlite::params![doc, version, now_ms() as i64],
    )?;
    ctx.append(
        kind::MENU_CHANGED,
        None,
        serde_json::json!({ "version": version, "change": change }),
    )?;
    Ok(MenuState { menu, version })
}

fn menu_error(e: domain::menu::MenuError) -> ApiError {
    use domain::menu::MenuError as E;
    match e {
        E::UnknownItem(_) => ApiError::not_found("menu item"),
        E::UnknownModifier(_) => ApiError::not_found("modifier"),
        other => ApiError::unprocessable("invalid_menu", other.to_string()),
    }
}

/// Applies `edit` to the stored menu in one write; updates the cache after commit.
async fn edit(
    state: &Arc<AppState>,
    principal: &str,
    key: Option<String>,
    hash: String,
    change: serde_json::Value,
    edit: impl FnOnce(&mut Menu) -> Result<(), ApiError> + Send + 'static,
) -> ApiResult<Response> {
    let docs = state.docs.clone();
    let resp = idempotency::write(state, principal, key, hash, StatusCode::OK, move |ctx| {
        let mut current = load_menu(ctx.conn)?
            .map(|m| m.menu)
            .ok_or_else(|| ApiError::not_found("menu"))?;
        edit(&mut current)?;
        let next = store_menu(ctx, &docs, current, change)?;
        serde_json::to_value(MenuView {
            version: next.version,
            menu: next.menu,
        })
        .map_err(ApiError::internal)
    })
    .await?;
    refresh_cache(state).await?;
    Ok(resp)
}

/// Re-reads the stored menu into the cache.
pub async fn refresh_cache(state: &Arc<AppState>) -> ApiResult<()> {
    if let Some(m) = state.db.read(load_menu).await? {
        state.set_menu(m);
    }
    Ok(())
}

/// The current menu (staff, kiosks).
#[utoipa::path(get, path = "/api/v1/menu", tag = "menu",
    responses((status = 200, body = MenuView), ReadErrors),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<Arc<AppState>>,
    _auth: Auth<perm::MenuRead>,
) -> ApiResult<Json<MenuView>> {
    // From the database, not the cache: `menu.changed` is published at commit, before the
    // cache is refreshed, and a client that saw the event must get at least that version.
    let m = state
        .db
        .read(load_menu)
        .await?
        .ok_or_else(|| ApiError::not_found("menu"))?;
    state.set_menu(m.clone());
    Ok(Json(MenuView {
        version: m.version,
        menu: m.menu,
    }))
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
    menu.validate().map_err(menu_error)?;
    let docs = state.docs.clone();
    let resp = idempotency::write(
        &state,
        &auth.session.staff_id,
        key.0,
        body.hash,
        StatusCode::OK,
        move |ctx| {
            let next = store_menu(ctx, &docs, menu, serde_json::json!({ "replaced": true }))?;
            serde_json::to_value(MenuView {
                version: next.version,
                menu: next.menu,
            })
            .map_err(ApiError::internal)
        },
    )
    .await?;
    refresh_cache(&state).await?;
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
        move |m| m.upsert_item(item).map_err(menu_error),
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
        move |m| {
            m.set_item_sold_out(&id, flag)
                .map(|_| ())
                .map_err(menu_error)
        },
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
        move |m| {
            m.set_modifier_sold_out(&id, flag)
                .map(|_| ())
                .map_err(menu_error)
        },
    )
    .await
}
