//! The admin API (stores, node tokens: platform admins, i.e. an admin account
//! or the admin token) and the merchant's store views (menu, orders, staff,
//! settings), each behind `StoreAccess<perm::X>`: a staff member of the
//! store's organisation whose role grants X, or a platform admin.
//!
//! Every handler carries its OpenAPI annotation (`super::openapi` assembles
//! the document); answers are typed, so the document says what comes back.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::menu::Menu;
use domain::order::Channel;
use domain::status::OrderStatus;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path, Query};
use crate::auth::{PlatformAdmin, StoreAccess, perm};
use crate::db::online::OrderQuery;
use crate::hub::{HUB_REPLICA, Hub, StoreError, StoreState, now_ms, token_hash};

pub(crate) fn check_id(id: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_id",
            "an id is 1 to 64 characters: letters, digits, '-' and '_'",
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

pub(crate) async fn open_store(hub: &Hub, id: &str) -> ApiResult<Arc<StoreState>> {
    match hub.store(id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(ApiError::not_found("store")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Changes one of a store's shared documents (created empty if missing), saves it and tells the
/// store's open sync connections to push it to the nodes. When `edit` fails nothing is saved now
/// (a partial change stays in memory and goes out with the next save, as automerge keeps it).
pub(crate) async fn edit_doc<T>(
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    /// 1 to 64 characters: letters, digits, `-` and `_`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    /// 1 to 100 characters.
    name: String,
    /// The organisation that owns the store. Absent (the body before
    /// organisations existed): the "default" organisation, made on first use.
    org_id: Option<String>,
}

/// The organisation stores go to when the request names none.
pub const DEFAULT_ORG: &str = "default";

/// A store as created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreCreated {
    pub id: String,
    pub name: String,
    pub org_id: String,
    /// Unix ms.
    pub created_at: i64,
}

/// `POST /api/v1/admin/stores {id, name, org_id?}` -> 201; 409 when the id is
/// taken; 422 `unknown_org` for an organisation that does not exist.
#[utoipa::path(post, path = "/api/v1/admin/stores", operation_id = "hub_create_store", tag = "platform",
    request_body = NewStore,
    responses((status = 201, body = StoreCreated), WriteErrors),
    security(("bearer" = [])))]
pub async fn create_store(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<NewStore>,
) -> ApiResult<(StatusCode, Json<StoreCreated>)> {
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
        Json(StoreCreated {
            name: body.name.trim().to_owned(),
            id: body.id,
            org_id,
            created_at: now,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Which node this is, for people (1 to 100 characters).
    label: String,
}

/// A node token, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeTokenIssued {
    /// The secret the node sends as `Authorization: Bearer` on `/api/v1/sync`.
    pub token: String,
    /// What the hub keeps; revoke by it.
    pub token_sha256: String,
    pub store_id: String,
    pub label: String,
    /// The letter of this node's ticket numbers (`S-0001`, `T-0001`, ...), one per node of the
    /// store in enrollment order. The token begins with it, so the node needs no setting.
    pub ticket_prefix: String,
}

/// `POST /api/v1/admin/stores/{id}/node-tokens {label}` -> 201 `{token, token_sha256, ...}`.
/// The token is shown once; the hub keeps only its SHA-256.
#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/node-tokens", operation_id = "hub_create_node_token", tag = "platform",
    params(("id" = String, Path, description = "Store id")),
    request_body = NewToken,
    responses((status = 201, body = NodeTokenIssued), WriteErrors),
    security(("bearer" = [])))]
pub async fn create_token(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<NodeTokenIssued>)> {
    issue_token(&hub, store_id, body.value).await
}

/// A store's owner enrols a node (an installer setting up the store's box):
/// `POST /api/v1/stores/{id}/node-tokens {label}` -> 201, the token shown once.
#[utoipa::path(post, path = "/api/v1/stores/{id}/node-tokens", operation_id = "hub_store_create_node_token", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the same token")),
    request_body = NewToken,
    responses((status = 201, body = NodeTokenIssued), WriteErrors),
    security(("bearer" = [])))]
pub async fn store_create_token(
    access: StoreAccess<perm::NodeEnroll>,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<NodeTokenIssued>)> {
    issue_token(&hub, access.store_id, body.value).await
}

async fn issue_token(
    hub: &Hub,
    store_id: String,
    body: NewToken,
) -> ApiResult<(StatusCode, Json<NodeTokenIssued>)> {
    check_text("label", &body.label)?;
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    // The node's ticket letter, then 63 random hex digits (252 bits). Two
    // enrollments racing for one store may get the same letter: tickets then
    // overlap as before, and order ids still never collide.
    let prefix = domain::ticket::node_prefix(hub.db.count_tokens(&store_id).await?);
    let token = format!("{prefix}{}", &hex::encode(bytes)[1..]);
    let hash = token_hash(&token);
    hub.db
        .insert_token(&hash, &store_id, body.label.trim(), now_ms())
        .await?;
    tracing::info!(store = %store_id, node = %body.label.trim(), "node token issued");
    Ok((
        StatusCode::CREATED,
        Json(NodeTokenIssued {
            token,
            token_sha256: hash,
            store_id,
            label: body.label.trim().to_owned(),
            ticket_prefix: prefix.to_string(),
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The token itself...
    token: Option<String>,
    /// ...or its SHA-256 (hex), as returned when it was issued.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    token_sha256: Option<String>,
}

/// A revoked node token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenRevoked {
    /// Always true.
    pub revoked: bool,
    /// Sync connections of that token that were open and are now closed (4401).
    pub closed_connections: usize,
}

/// `POST /api/v1/admin/stores/{id}/node-tokens/revoke {token | token_sha256}`:
/// the token stops working and its open sync connections close (4401).
#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/node-tokens/revoke", operation_id = "hub_revoke_node_token", tag = "platform",
    params(("id" = String, Path, description = "Store id")),
    request_body = Revoke,
    responses((status = 200, body = TokenRevoked), WriteErrors),
    security(("bearer" = [])))]
pub async fn revoke_token(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<Revoke>,
) -> ApiResult<Json<TokenRevoked>> {
    revoke(&hub, &store_id, body.value).await
}

/// A store's owner revokes one of its node tokens (a lost or replaced box):
/// it stops working and its open sync connections close (4401).
#[utoipa::path(post, path = "/api/v1/stores/{id}/node-tokens/revoke", operation_id = "hub_store_revoke_node_token", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = Revoke,
    responses((status = 200, body = TokenRevoked), WriteErrors),
    security(("bearer" = [])))]
pub async fn store_revoke_token(
    access: StoreAccess<perm::NodeEnroll>,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<Revoke>,
) -> ApiResult<Json<TokenRevoked>> {
    revoke(&hub, &access.store_id, body.value).await
}

async fn revoke(hub: &Hub, store_id: &str, body: Revoke) -> ApiResult<Json<TokenRevoked>> {
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
    if !hub.db.revoke_token(store_id, &hash, now_ms()).await? {
        return Err(ApiError::not_found("node token"));
    }
    let closed = hub.close_token(&hash);
    tracing::info!(store = %store_id, closed, "node token revoked");
    Ok(Json(TokenRevoked {
        revoked: true,
        closed_connections: closed,
    }))
}

/// Two replicas' concurrent values of one catalog field.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogConflict {
    /// `collection/id/field`, or `field` for a root field.
    pub path: String,
    /// The value every replica shows.
    pub winner: Value,
    /// The values concurrent edits wrote that lost.
    pub others: Vec<Value>,
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

pub(crate) fn menu_view(doc: &SharedDoc) -> ApiResult<Json<MenuView>> {
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

/// The filters of `GET /api/v1/stores/{id}/orders` (those of the node's order list).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
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
    /// At most this many: the newest (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn parse_list<T>(
    s: Option<&str>,
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

impl OrderFilter {
    /// 400 `invalid_query` for an unknown status or channel, a negative time or a limit outside 1 to 500.
    pub fn check(&self) -> ApiResult<OrderQuery> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit must be between 1 and 500",
            ));
        }
        let since_ms = self.since_ms.unwrap_or(0);
        let until_ms = self.until_ms.unwrap_or(i64::MAX);
        if since_ms < 0 || until_ms < 0 {
            return Err(ApiError::bad_request(
                "invalid_query",
                "since_ms and until_ms are Unix times in ms, not negative",
            ));
        }
        Ok(OrderQuery {
            statuses: parse_list(self.status.as_deref(), "status", OrderStatus::parse)?,
            channels: parse_list(self.channel.as_deref(), "channel", Channel::parse)?,
            since_ms,
            until_ms,
            limit: usize::try_from(limit).unwrap_or(500),
        })
    }
}

/// A store's orders, as its nodes recorded them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    /// Oldest first; each as the node describes it (`id`, `ticket`, `status`, `channel`, `lines`, `totals`, `created_ms`, ...).
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<Value>,
    /// How many events of the store the hub holds.
    pub events: usize,
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
    let query = filter.check()?;
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    // Read from the hub's projection of the store's order facts (`db::online`), not by replaying its log.
    hub.db
        .replay_orders_once(&store_id, now_ms(), &hub.online.replica)
        .await?;
    let orders = hub.db.store_orders(&store_id, &query).await?;
    let events = hub.db.event_count(&store_id).await?;
    Ok(Json(OrderList {
        orders,
        events: usize::try_from(events).map_err(ApiError::internal)?,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub name: String,
    /// owner, manager, cashier, kitchen, or customer (a kiosk's account).
    #[schema(pattern = "^(owner|manager|cashier|kitchen|customer)$")]
    pub role: String,
    /// 4 to 8 digits; only its Argon2id hash is kept, and synced to the store's nodes.
    #[schema(pattern = "^[0-9]{4,8}$")]
    pub pin: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// A roster entry as saved (never the PIN or its hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffSaved {
    pub id: String,
    pub name: String,
    pub role: String,
    pub active: bool,
}

/// Add a staff member to a store, or change one (name, role, PIN, active). They can sign in at the
/// store's nodes once the roster has synced, with the hub unreachable or not.
#[utoipa::path(put, path = "/api/v1/stores/{id}/staff/{staff_id}", operation_id = "hub_put_roster_staff", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("staff_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "The staff member's id at the store's nodes (1 to 64: letters, digits, '-', '_')"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = StaffInput,
    responses((status = 200, body = StaffSaved), WriteErrors),
    security(("bearer" = [])))]
pub async fn put_staff(
    _: StoreAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path((store_id, staff_id)): Path<(String, String)>,
    body: JsonBody<StaffInput>,
) -> ApiResult<Json<StaffSaved>> {
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
    // Argon2 is deliberately slow: hash off the async runtime, a few at a time.
    let pin_hash = crate::auth::bounded_hashing(move || {
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
    Ok(Json(StaffSaved {
        id: staff_id,
        name: body.name.trim().to_owned(),
        role: role.as_str().to_owned(),
        active: body.active,
    }))
}

/// One entry of a store's roster; a field a node wrote with another type reads as null.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RosterEntry {
    pub id: String,
    pub name: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
}

/// A store's roster (the staff who sign in at its nodes with a PIN).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Roster {
    pub staff: Vec<RosterEntry>,
}

/// A store's staff as the roster document holds them (no PIN hashes).
#[utoipa::path(get, path = "/api/v1/stores/{id}/staff", operation_id = "hub_get_roster", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = Roster), (status = 409, body = ErrorBody, description = "The roster document is unreadable"), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_staff(
    _: StoreAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Roster>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    let mut staff = vec![];
    if let Some(doc) = g.docs.get(&DocKind::Roster) {
        for (id, f) in doc
            .entities("staff")
            .map_err(|e| ApiError::conflict("roster_unreadable", e.to_string()))?
        {
            let text = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
            staff.push(RosterEntry {
                id,
                name: text("name"),
                role: text("role"),
                active: f.get("active").and_then(Value::as_bool),
            });
        }
    }
    Ok(Json(Roster { staff }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// 0 to 1440.
    #[schema(maximum = 1440)]
    pub pickup_lead_minutes: Option<u32>,
    pub online_ordering: Option<bool>,
    /// The store's address as customers see it, 1 to 200 characters.
    pub address: Option<String>,
    /// IANA time zone of the opening hours (`Europe/Berlin`); UTC when never set.
    pub timezone: Option<String>,
    /// Weekly opening hours: per weekday (`mon`..`sun`) the `{open, close}` ranges
    /// (`HH:MM`; a close at or before the open runs overnight). A day left out is closed.
    pub hours: Option<domain::hours::WeeklyHours>,
    /// Dated exceptions: `{date, closed: true}` or `{date, ranges: [...]}`; replaces the list.
    pub hours_exceptions: Option<Vec<domain::hours::HoursException>>,
}

/// Checks the customer-facing settings by the domain's hours rules (422 when broken).
fn check_profile(body: &SettingsInput) -> ApiResult<()> {
    if let Some(a) = &body.address {
        let n = a.trim().chars().count();
        if n == 0 || n > 200 || a.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "invalid_settings",
                "address must be 1 to 200 characters",
            ));
        }
    }
    if let Some(tz) = &body.timezone
        && crate::online::profile::parse_timezone(tz.trim()).is_none()
    {
        return Err(ApiError::unprocessable(
            "invalid_timezone",
            format!(
                "{:?} is not an IANA time zone (e.g. Europe/Berlin)",
                tz.chars().take(60).collect::<String>()
            ),
        ));
    }
    let hours_error =
        |e: domain::hours::HoursError| ApiError::unprocessable(e.code(), e.to_string());
    if let Some(w) = &body.hours {
        w.validate().map_err(hours_error)?;
    }
    if let Some(x) = &body.hours_exceptions {
        domain::hours::Schedule::new(domain::hours::WeeklyHours::default(), x.clone())
            .map_err(hours_error)?;
    }
    Ok(())
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
/// Owners and managers (`SettingsManage`), and platform admins.
#[utoipa::path(put, path = "/api/v1/stores/{id}/settings", operation_id = "hub_put_settings", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = SettingsInput,
    responses((status = 200, body = Object, description = "Every setting of the store (name, pickup_lead_minutes, online_ordering, ...)"), WriteErrors),
    security(("bearer" = [])))]
pub async fn put_settings(
    _: StoreAccess<perm::SettingsManage>,
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
    check_profile(&body)?;
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
        if let Some(a) = body.address {
            current["address"] = json!(a.trim());
        }
        if let Some(tz) = body.timezone {
            current["timezone"] = json!(tz.trim());
        }
        if let Some(h) = body.hours {
            current["hours"] = serde_json::to_value(h).map_err(ApiError::internal)?;
        }
        if let Some(x) = body.hours_exceptions {
            current["hours_exceptions"] = serde_json::to_value(x).map_err(ApiError::internal)?;
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
#[utoipa::path(get, path = "/api/v1/stores/{id}/settings", operation_id = "hub_get_settings", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = Object, description = "Every setting of the store (name, pickup_lead_minutes, online_ordering, ...)"), (status = 409, body = ErrorBody, description = "The settings document is unreadable"), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_settings(
    _: StoreAccess<perm::MenuRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    Ok(Json(settings_view(g.docs.get(&DocKind::Settings))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_filters_check_their_input() {
        let ok = |f: OrderFilter| f.check().map(|q| q.limit).map_err(|e| e.code);
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
            match f.check() {
                Ok(q) => {
                    proptest::prop_assert!((1..=500).contains(&q.limit));
                }
                Err(e) => proptest::prop_assert_eq!(e.code, "invalid_query"),
            }
        }
    }
}
