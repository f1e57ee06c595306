//! A store's roster: the staff who sign in at its nodes with a PIN (kept as
//! an Argon2id hash in the roster document, which syncs to the nodes, so they
//! sign in with the hub unreachable). Owners (`StaffManage`) and platform
//! admins. Staff accounts at the hub are `super::members`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use sync::doc::DocKind;

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path, check_text, parse_id};
use super::store_docs::{edit_doc, open_store};
use crate::auth::{StoreAccess, perm};
use crate::hub::Hub;
pub use api_types::hub::roster::{Roster, RosterEntry, StaffInput, StaffSaved};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/stores/{id}/staff", get(get_staff))
        .route("/api/v1/stores/{id}/staff/{staff_id}", put(put_staff))
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
    let staff_id = parse_id(&staff_id)?;
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
        doc.put_entity("staff", staff_id.as_str(), &fields)
            .map_err(|e| ApiError::conflict("roster_unreadable", e.to_string()))
    })
    .await?;
    Ok(Json(StaffSaved {
        id: staff_id.to_string(),
        name: body.name.trim().to_owned(),
        role: role.as_str().to_owned(),
        active: body.active,
    }))
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
