//! A signed-in customer's profile (the seed's "user profiles" service): name,
//! phone, saved order notes and favourite items, kept at the hub so they follow
//! the customer from device to device.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::error::{ApiError, ApiResult, ReadErrors, WriteErrors};
use super::extract::JsonBody;
use crate::auth::CustomerUser;
use crate::hub::Hub;
pub use api_types::hub::online::{CustomerProfile, Favourite, ProfileUpdate};

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/api/v1/me/profile", get(get_profile).put(put_profile))
}

async fn view(hub: &Hub, user_id: &str) -> ApiResult<CustomerProfile> {
    let user = hub
        .db
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("bad_token", "this account no longer exists"))?;
    let p = hub.db.profile(user_id).await?;
    Ok(CustomerProfile {
        name: user.name,
        email: user.email,
        phone: p.phone,
        saved_notes: p.saved_notes,
        favourites: p.favourites,
    })
}

/// The signed-in customer's profile.
#[utoipa::path(get, path = "/api/v1/me/profile", operation_id = "hub_get_profile", tag = "customer",
    responses((status = 200, body = CustomerProfile), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_profile(
    customer: CustomerUser,
    State(hub): State<Arc<Hub>>,
) -> ApiResult<Json<CustomerProfile>> {
    Ok(Json(view(&hub, &customer.0.user_id).await?))
}

/// Change the profile: each field sent is replaced, the rest kept. 422
/// `invalid_profile` names the field that is not right.
#[utoipa::path(put, path = "/api/v1/me/profile", operation_id = "hub_put_profile", tag = "customer",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = ProfileUpdate,
    responses((status = 200, body = CustomerProfile), WriteErrors),
    security(("bearer" = [])))]
pub async fn put_profile(
    customer: CustomerUser,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<ProfileUpdate>,
) -> ApiResult<Json<CustomerProfile>> {
    let update = body.value.check().map_err(|(field, m)| {
        ApiError::unprocessable("invalid_profile", format!("{field}: {m}"))
    })?;
    let user_id = &customer.0.user_id;
    hub.db
        .update_profile(user_id, &update, hub.now_ms())
        .await?;
    Ok(Json(view(&hub, user_id).await?))
}
