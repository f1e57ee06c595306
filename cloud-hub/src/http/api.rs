//! The admin API (stores, node tokens: platform admins, i.e. an admin account
//! or the admin token) and the merchant's store views (menu, orders, staff,
//! settings), each behind `StoreAccess<perm::X>`: a staff member of the
//! store's organisation whose role grants X, or a platform admin.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::menu::Menu;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};
use sync::log::Event;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Path};
use crate::auth::{PlatformAdmin, StoreAccess, perm};
use crate::hub::{HUB_REPLICA, Hub, StoreError, StoreState, now_ms, token_hash};

fn check_id(id: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_id",
            "a store id is 1 to 64 characters: letters, digits, '-' and '_'",
        ))
    }
}

fn check_text(field: &str, v: &str) -> ApiResult<()> {
    let n = v.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(ApiError::unprocessable(
            "invalid_body",
            format!("{field} must be 1 to 100 characters"),
        ));
    }
    Ok(())
}

async fn open_store(hub: &Hub, id: &str) -> ApiResult<Arc<StoreState>> {
    match hub.store(id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(ApiError::not_found("store")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Changes one of a store's shared documents (created empty if missing), saves it and tells the
/// store's open sync connections to push it to the nodes. When `edit` fails nothing is saved now
/// (a partial change stays in memory and goes out with the next save, as automerge keeps it).
async fn edit_doc<T>(
    hub: &Hub,
    store_id: &str,
    kind: DocKind,
    edit: impl FnOnce(&mut SharedDoc) -> ApiResult<T>,
) -> ApiResult<T> {
    let store = open_store(hub, store_id).await?;
    let mut g = store.docs.lock().await;
    let doc = g
        .docs
        .entry(kind)
        .or_insert_with(|| SharedDoc::new(kind, HUB_REPLICA.as_bytes()));
    let out = edit(doc)?;
    g.save(&hub.db, store_id, &[kind]).await?;
    store.notify(0);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    id: String,
    name: String,
    /// The organisation that owns the store. Absent (the body before
    /// organisations existed): the "default" organisation, made on first use.
    org_id: Option<String>,
}

/// The organisation stores go to when the request names none.
pub const DEFAULT_ORG: &str = "default";

/// `POST /api/v1/admin/stores {id, name, org_id?}` -> 201; 409 when the id is
/// taken; 422 `unknown_org` for an organisation that does not exist.
pub async fn create_store(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<NewStore>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.value;
    check_id(&body.id)?;
    check_text("name", &body.name)?;
    let now = now_ms();
    let org_id = match body.org_id {
        Some(org) => {
            if hub.db.org_name(&org).await?.is_none() {
                return Err(ApiError::unprocessable(
                    "unknown_org",
                    format!("organisation {org} does not exist"),
                ));
            }
            org
        }
        None => {
            hub.db
                .create_org(DEFAULT_ORG, "Default organisation", now)
                .await?;
            DEFAULT_ORG.to_owned()
        }
    };
    if !hub
        .db
        .create_store(&body.id, body.name.trim(), Some(&org_id), now)
        .await?
    {
        return Err(ApiError::conflict(
            "store_exists",
            format!("store {} already exists", body.id),
        ));
    }
    tracing::info!(store = %body.id, "store created");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": body.id, "name": body.name.trim(), "org_id": org_id, "created_at": now }),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    label: String,
}

/// `POST /api/v1/admin/stores/{id}/node-tokens {label}` -> 201 `{token, token_sha256, ...}`.
/// The token is shown once; the hub keeps only its SHA-256.
pub async fn create_token(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.value;
    check_text("label", &body.label)?;
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    hub.db
        .insert_token(&hash, &store_id, body.label.trim(), now_ms())
        .await?;
    tracing::info!(store = %store_id, node = %body.label.trim(), "node token issued");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token,
            "token_sha256": hash,
            "store_id": store_id,
            "label": body.label.trim(),
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The token itself...
    token: Option<String>,
    /// ...or its SHA-256 (hex), as returned when it was issued.
    token_sha256: Option<String>,
}

/// `POST /api/v1/admin/stores/{id}/node-tokens/revoke {token | token_sha256}`:
/// the token stops working and its open sync connections close (4401).
pub async fn revoke_token(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<Revoke>,
) -> ApiResult<Json<Value>> {
    let body = body.value;
    let hash = match (body.token, body.token_sha256) {
        (Some(t), None) => token_hash(&t),
        (None, Some(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            h.to_ascii_lowercase()
        }
        (None, Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "token_sha256 is 64 hexadecimal characters",
            ));
        }
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "give exactly one of token and token_sha256",
            ));
        }
    };
    if !hub.db.revoke_token(&store_id, &hash, now_ms()).await? {
        return Err(ApiError::not_found("node token"));
    }
    let closed = hub.close_token(&hash);
    tracing::info!(store = %store_id, closed, "node token revoked");
    Ok(Json(
        json!({ "revoked": true, "closed_connections": closed }),
    ))
}

fn menu_view(doc: &SharedDoc) -> ApiResult<Json<Value>> {
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
    Ok(Json(
        json!({ "menu": menu, "conflicts": conflicts, "problem": problem }),
    ))
}

/// `GET /api/v1/stores/{id}/menu` -> `{menu, conflicts, problem}`: the catalog
/// document's projection, its same-field conflicts, and what breaks a menu
/// rule after a merge (null when nothing). 404 `no_menu` before the store has one.
pub async fn get_menu(
    _: StoreAccess<perm::MenuRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
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
pub async fn put_menu(
    _: StoreAccess<perm::MenuEdit>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    menu: JsonBody<Menu>,
) -> ApiResult<Json<Value>> {
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

/// The orders the synced events describe: each `order.created` event's
/// `data.order`, replaced by the `data.order` of later events of the same
/// subject (`order.changed`, `payment.recorded`), in (origin, seq) order.
pub fn project_orders(events: &[Event]) -> Vec<Value> {
    let mut orders: Vec<Value> = vec![];
    let mut index: HashMap<&str, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == "order.created") {
        let (Some(subject), Some(order)) = (e.subject.as_deref(), e.data.get("order")) else {
            continue;
        };
        if order.is_object() && !index.contains_key(subject) {
            index.insert(subject, orders.len());
            orders.push(order.clone());
        }
    }
    let updates = events
        .iter()
        .filter(|e| e.kind == "order.changed" || e.kind == "payment.recorded");
    for e in updates {
        let (Some(subject), Some(order)) = (e.subject.as_deref(), e.data.get("order")) else {
            continue;
        };
        if let (Some(&i), true) = (index.get(subject), order.is_object()) {
            orders[i] = order.clone();
        }
    }
    orders
}

/// `GET /api/v1/stores/{id}/orders` -> `{orders, events}`.
pub async fn get_orders(
    _: StoreAccess<perm::OrderRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    let events = hub.db.events(&store_id).await?;
    Ok(Json(
        json!({ "orders": project_orders(&events), "events": events.len() }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub name: String,
    /// owner, manager, cashier, kitchen, or customer (a kiosk's account).
    pub role: String,
    /// 4 to 8 digits; only its Argon2id hash is kept, and synced to the store's nodes.
    pub pin: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// Add a staff member to a store, or change one (name, role, PIN, active). They can sign in at the
/// store's nodes once the roster has synced, with the hub unreachable or not.
pub async fn put_staff(
    _: StoreAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path((store_id, staff_id)): Path<(String, String)>,
    body: JsonBody<StaffInput>,
) -> ApiResult<Json<Value>> {
    let body = body.value;
    check_id(&staff_id)?;
    check_text("name", &body.name)?;
    let role = domain::roles::Role::parse(&body.role)
        .filter(|r| *r != domain::roles::Role::Admin)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_role",
                "role is owner, manager, cashier, kitchen or customer",
            )
        })?;
    let pin = domain::roles::Pin::parse(&body.pin)
        .map_err(|e| ApiError::unprocessable("invalid_pin", e.to_string()))?;
    // Argon2 is deliberately slow: hash off the async runtime.
    let pin_hash = tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt =
            SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
        argon2::Argon2::default()
            .hash_password(pin.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let fields = json!({ "name": body.name.trim(), "role": role.as_str(), "pin_hash": pin_hash, "active": body.active });
    let Value::Object(fields) = fields else {
        return Err(ApiError::internal("roster entry is not an object"));
    };
    edit_doc(&hub, &store_id, DocKind::Roster, |doc| {
        doc.put_entity("staff", &staff_id, &fields)
            .map_err(|e| ApiError::conflict("roster_unreadable", e.to_string()))
    })
    .await?;
    Ok(Json(
        json!({ "id": staff_id, "name": body.name.trim(), "role": role.as_str(), "active": body.active }),
    ))
}

/// A store's staff as the roster document holds them (no PIN hashes).
pub async fn get_staff(
    _: StoreAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    let mut staff = vec![];
    if let Some(doc) = g.docs.get(&DocKind::Roster) {
        for (id, f) in doc
            .entities("staff")
            .map_err(|e| ApiError::conflict("roster_unreadable", e.to_string()))?
        {
            staff.push(json!({ "id": id, "name": f.get("name"), "role": f.get("role"), "active": f.get("active") }));
        }
    }
    Ok(Json(json!({ "staff": staff })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub name: Option<String>,
    pub pickup_lead_minutes: Option<u32>,
    pub online_ordering: Option<bool>,
}

fn settings_view(doc: Option<&SharedDoc>) -> ApiResult<Value> {
    let store = doc
        .map(|d| d.entities("settings"))
        .transpose()
        .map_err(|e| ApiError::conflict("settings_unreadable", e.to_string()))?
        .and_then(|mut e| e.remove("store"))
        .unwrap_or_default();
    Ok(Value::Object(store))
}

/// Change a store's settings (the fields sent); they sync to the store's nodes.
/// Owners only: the domain has no settings permission of its own yet, and
/// `StaffManage` is the one only owners (and platform admins) hold.
pub async fn put_settings(
    _: StoreAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<SettingsInput>,
) -> ApiResult<Json<Value>> {
    let body = body.value;
    if let Some(n) = &body.name {
        check_text("name", n)?;
    }
    if body.pickup_lead_minutes.is_some_and(|m| m > 24 * 60) {
        return Err(ApiError::unprocessable(
            "invalid_settings",
            "pickup_lead_minutes is at most 1440",
        ));
    }
    let current = edit_doc(&hub, &store_id, DocKind::Settings, |doc| {
        let mut current = settings_view(Some(doc))?;
        if let Some(n) = body.name {
            current["name"] = json!(n.trim());
        }
        if let Some(m) = body.pickup_lead_minutes {
            current["pickup_lead_minutes"] = json!(m);
        }
        if let Some(o) = body.online_ordering {
            current["online_ordering"] = json!(o);
        }
        let Value::Object(fields) = &current else {
            return Err(ApiError::internal("settings are not an object"));
        };
        doc.put_entity("settings", "store", fields)
            .map_err(|e| ApiError::conflict("settings_unreadable", e.to_string()))?;
        Ok(current)
    })
    .await?;
    Ok(Json(current))
}

/// A store's settings.
pub async fn get_settings(
    _: StoreAccess<perm::MenuRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    Ok(Json(settings_view(g.docs.get(&DocKind::Settings))?))
}
