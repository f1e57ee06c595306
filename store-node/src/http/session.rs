//! Staff sign-in endpoints: who can sign in here, PIN sign-in, sign-out, and "who am I".

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::roles::Role;

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors};
use super::extract::JsonBody;
use crate::auth::{self, Auth, perm};
use crate::state::AppState;
pub use api_types::node::session::{LoginRequest, LoginResponse, StaffList, StaffView};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/auth/staff", get(staff_list))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}

/// The longest session a sign-in may ask for (the node's own limit may be shorter).
const MAX_TTL_SECS: u32 = 30 * 24 * 3600;

/// Staff who can sign in at this store (names for the sign-in screen; no secrets).
#[utoipa::path(get, path = "/api/v1/auth/staff", tag = "auth", responses((status = 200, body = StaffList)))]
pub async fn staff_list(State(state): State<Arc<AppState>>) -> ApiResult<Json<StaffList>> {
    let staff = state
        .db
        .read(|c| {
            let mut s =
                c.prepare("SELECT id, name, role FROM staff WHERE active = 1 ORDER BY name")?;
            let rows = s.query_map([], |r| {
                let role: String = r.get(2)?;
                Ok(StaffView {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: Role::parse(&role).unwrap_or(Role::Cashier),
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(StaffList { staff }))
}

/// Sign in with a staff id and PIN.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 401, description = "Unknown staff or wrong PIN", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, description = "Too many wrong PINs", body = ErrorBody)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    body: JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let b = body.value;
    if b.ttl_secs.is_some_and(|t| t == 0 || t > MAX_TTL_SECS) {
        return Err(ApiError::unprocessable(
            "invalid_ttl",
            "ttl_secs is 1 second to 30 days",
        ));
    }
    let (token, s) = auth::sign_in(&state, &b.staff_id, &b.pin, b.ttl_secs.map(u64::from)).await?;
    Ok(Json(LoginResponse {
        token,
        staff: StaffView {
            id: s.staff_id,
            name: s.name,
            role: s.role,
        },
        expires_ms: s.expires_ms,
    }))
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out"), ReadErrors), security(("bearer" = [])))]
pub async fn logout(
    State(state): State<Arc<AppState>>,
    auth: Auth<perm::MenuRead>,
) -> ApiResult<StatusCode> {
    auth::sign_out(&state, &auth.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in staff member.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = StaffView), ReadErrors), security(("bearer" = [])))]
pub async fn me(auth: Auth<perm::MenuRead>) -> Json<StaffView> {
    let s = auth.session;
    Json(StaffView {
        id: s.staff_id,
        name: s.name,
        role: s.role,
    })
}
