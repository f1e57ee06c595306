//! Who works at a store or an organisation, as hub accounts (the PIN roster
//! of the store's nodes is `super::roster`):
//!
//! - `GET /api/v1/stores/{id}/members`: the memberships of the store's
//!   organisation that cover the store (organisation-wide or for that store)
//!   and the pending invitations that would (`StaffManage`: owners);
//! - `PUT /api/v1/orgs/{org_id}/members/{user_id}` (change the role of one
//!   membership) and `DELETE` the same (remove the member from the
//!   organisation and end all their sessions): an organisation-wide owner, or
//!   a platform admin (`OrgAccess<StaffManage>`). An organisation never loses
//!   its last organisation-wide owner (409 `last_owner`).
//!
//! Invitations are made and withdrawn in `super::orgs`. Every handler names
//! what it needs in its signature (`StoreAccess<perm::X>` or
//! `OrgAccess<perm::X>`); the access-matrix test checks each against one policy table.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path};
use super::orgs::staff_role;
use crate::auth::{OrgAccess, StoreAccess, perm};
use crate::db::MemberChange;
use crate::hub::Hub;
pub use api_types::hub::members::{
    Member, MemberRole, MembershipChanged, PendingInvitation, StoreMembers,
};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/stores/{id}/members", get(list_members))
        .route(
            "/api/v1/orgs/{org_id}/members/{user_id}",
            put(set_member_role).delete(remove_member),
        )
}

/// The staff accounts that may work at a store (organisation-wide memberships
/// and the store's own) and the pending invitations that cover it.
#[utoipa::path(get, path = "/api/v1/stores/{id}/members", operation_id = "hub_list_store_members", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = StoreMembers), ReadErrors),
    security(("bearer" = [])))]
pub async fn list_members(
    access: StoreAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
) -> ApiResult<Json<StoreMembers>> {
    let store_id = access.store_id;
    let Some(org_id) = hub
        .db
        .store_org(&store_id)
        .await?
        .ok_or_else(|| ApiError::not_found("store"))?
    else {
        return Ok(Json(StoreMembers {
            org_id: None,
            members: vec![],
            invitations: vec![],
        }));
    };
    let members = hub
        .db
        .store_members(&org_id, &store_id)
        .await?
        .into_iter()
        .map(|m| Member {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: m.role,
            store_id: m.store_id,
            since: m.created_at,
        })
        .collect();
    let invitations = hub
        .db
        .store_invitations(&org_id, &store_id, hub.now_ms())
        .await?
        .into_iter()
        .map(|i| PendingInvitation {
            id: i.id,
            email: i.email,
            role: i.role,
            store_id: i.store_id,
            created_at: i.created_at,
            expires_at: i.expires_at,
        })
        .collect();
    Ok(Json(StoreMembers {
        org_id: Some(org_id),
        members,
        invitations,
    }))
}

/// Change the role of a member's membership (organisation-wide, or for the
/// store named). Owners only; the last organisation-wide owner cannot be demoted.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/members/{user_id}", operation_id = "hub_set_member_role", tag = "organisations",
    params(("org_id" = String, Path, description = "Organisation id"),
           ("user_id" = String, Path, description = "The member's account id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = MemberRole,
    responses((status = 200, body = MembershipChanged), WriteErrors),
    security(("bearer" = [])))]
pub async fn set_member_role(
    access: OrgAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path((_org_id, user_id)): Path<(String, String)>,
    body: JsonBody<MemberRole>,
) -> ApiResult<Json<MembershipChanged>> {
    let body = body.value;
    let role = staff_role(&body.role)?;
    let org_id = access.org_id;
    // A store of another organisation (or none at all) holds no membership here.
    if let Some(store) = &body.store_id
        && !hub.db.store_in_org(store, &org_id).await?
    {
        return Err(ApiError::not_found("membership"));
    }
    match hub
        .db
        .set_member_role(&org_id, &user_id, body.store_id.as_deref(), role.as_str())
        .await?
    {
        MemberChange::Done => {}
        MemberChange::NotFound => return Err(ApiError::not_found("membership")),
        MemberChange::LastOwner => return Err(last_owner()),
    }
    tracing::info!(org = %org_id, user = %user_id, role = role.as_str(), "member role changed");
    Ok(Json(MembershipChanged {
        org_id,
        user_id,
        store_id: body.store_id,
        role: role.as_str().to_owned(),
    }))
}

fn last_owner() -> ApiError {
    ApiError::conflict(
        "last_owner",
        "an organisation keeps at least one organisation-wide owner: make someone else owner first",
    )
}

/// Remove a member from the organisation (every membership they hold in it)
/// and end all their sessions. Owners only; not the last organisation-wide owner.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/members/{user_id}", operation_id = "hub_remove_member", tag = "organisations",
    params(("org_id" = String, Path, description = "Organisation id"),
           ("user_id" = String, Path, description = "The member's account id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 204, description = "Removed; their sessions are over"), (status = 409, body = ErrorBody, description = "`last_owner`, or the same Idempotency-Key still in flight"),
        (status = 422, body = ErrorBody, description = "`idempotency_key_reused`"), ReadErrors),
    security(("bearer" = [])))]
pub async fn remove_member(
    access: OrgAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path((_org_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    match hub
        .db
        .remove_member(&access.org_id, &user_id, hub.now_ms())
        .await?
    {
        MemberChange::Done => {
            hub.auth.sessions_ended();
            tracing::info!(org = %access.org_id, user = %user_id, "member removed; sessions ended");
            Ok(StatusCode::NO_CONTENT)
        }
        MemberChange::NotFound => Err(ApiError::not_found("member")),
        MemberChange::LastOwner => Err(last_owner()),
    }
}
