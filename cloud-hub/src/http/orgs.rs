//! Platform administration and organisations: creating platform admins and
//! organisations (each with its first owner's invitation), inviting staff and
//! withdrawing an invitation nobody accepted yet (an organisation-wide owner,
//! or a platform admin: `OrgAccess<StaffManage>`; an accepted one is 409
//! `invitation_used`). Members, once they accepted, are `super::members`.
//!
//! Who may invite whom: a platform admin anyone; an owner any staff role; a
//! manager cashiers and kitchen staff. An organisation-wide membership may
//! invite to the organisation or any of its stores; a store's membership only
//! to that store. A caller with no membership in the organisation gets 404,
//! as if it did not exist.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use domain::roles::Role;
use serde_json::{Value, json};

use super::auth::new_user_error;
use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path};
use crate::auth::extract::{Authenticated, Caller, Kind, PlatformAdmin};
use crate::auth::{self, OrgAccess, new_secret, normalize_email, normalize_name, perm};
use crate::crypto::token_hash;
use crate::db::{InvitationWithdrawal, NewInvitation};
use crate::hub::Hub;
pub use api_types::hub::orgs::{NewAdmin, NewInvite, NewOrg};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/admin/admins", post(create_admin))
        .route("/api/v1/admin/orgs", post(create_org))
        .route("/api/v1/orgs/{org_id}/invitations", post(create_invitation))
        .route(
            "/api/v1/orgs/{org_id}/invitations/{invitation_id}",
            delete(withdraw_invitation),
        )
}

/// Whether `inviter` may hand out `invited`.
pub fn may_invite(inviter: Role, invited: Role) -> bool {
    match inviter {
        Role::Owner | Role::Admin => true,
        Role::Manager => matches!(invited, Role::Cashier | Role::Kitchen),
        Role::Cashier | Role::Kitchen | Role::Customer => false,
    }
}

/// A staff role an invitation can carry.
pub(crate) fn staff_role(s: &str) -> ApiResult<Role> {
    Role::parse(s)
        .filter(|r| {
            matches!(
                r,
                Role::Owner | Role::Manager | Role::Cashier | Role::Kitchen
            )
        })
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_role", "role is owner, manager, cashier or kitchen")
        })
}

/// `POST /api/v1/admin/admins {email, password, name?}` -> 201: a platform admin account.
#[utoipa::path(post, path = "/api/v1/admin/admins", operation_id = "hub_create_admin", tag = "platform",
    request_body = NewAdmin,
    responses((status = 201, body = Object, description = "{id, email, name, kind}"), WriteErrors),
    security(("bearer" = [])))]
pub async fn create_admin(
    _: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<NewAdmin>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.value;
    let name = body.name.unwrap_or_else(|| "Platform admin".into());
    let user = auth::create_user(
        &hub.db,
        &body.email,
        &body.password,
        &name,
        Kind::Admin,
        hub.now_ms(),
    )
    .await
    .map_err(new_user_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": user.id, "email": user.email, "name": user.name, "kind": user.kind })),
    ))
}

/// Makes an invitation; returns its JSON (with the token, shown only here).
async fn invite(
    hub: &Hub,
    org_id: &str,
    store_id: Option<&str>,
    role: Role,
    email: &str,
    invited_by: Option<&str>,
) -> ApiResult<Value> {
    let token = new_secret();
    let id = uuid::Uuid::now_v7().to_string();
    let now = hub.now_ms();
    let ttl =
        i64::try_from(hub.auth.config.invitation_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl);
    hub.db
        .insert_invitation(&NewInvitation {
            id: &id,
            token_hash: &token_hash(&token),
            org_id,
            store_id,
            role: role.as_str(),
            email,
            invited_by,
            now,
            expires_at,
        })
        .await?;
    tracing::info!(org = %org_id, role = role.as_str(), invitation = %id, "invitation created");
    Ok(json!({
        "id": id,
        "token": token,
        "org_id": org_id,
        "store_id": store_id,
        "role": role.as_str(),
        "email": email,
        "expires_at": expires_at,
    }))
}

/// `POST /api/v1/admin/orgs {name, owner_email}` -> 201 `{id, name, invitation: {token, ...}}`.
#[utoipa::path(post, path = "/api/v1/admin/orgs", operation_id = "hub_create_org", tag = "platform",
    request_body = NewOrg,
    responses((status = 201, body = Object, description = "{id, name, invitation: {id, token, org_id, store_id, role, email, expires_at}}"), WriteErrors),
    security(("bearer" = [])))]
pub async fn create_org(
    PlatformAdmin(caller): PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<NewOrg>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.value;
    let name = normalize_name(&body.name).ok_or_else(|| {
        ApiError::unprocessable("invalid_body", "name must be 1 to 100 characters")
    })?;
    let email = normalize_email(&body.owner_email).ok_or_else(|| {
        ApiError::unprocessable("invalid_email", "owner_email is not an email address")
    })?;
    let id = uuid::Uuid::now_v7().to_string();
    hub.db.create_org(&id, &name, hub.now_ms()).await?;
    let invitation = invite(&hub, &id, None, Role::Owner, &email, caller.user_id()).await?;
    tracing::info!(org = %id, "organisation created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "name": name, "invitation": invitation })),
    ))
}

/// `POST /api/v1/orgs/{org_id}/invitations {email, role, store_id?}` -> 201
/// with the invitation's token (shown once). Owners invite any staff role,
/// managers cashiers and kitchen staff.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/invitations", operation_id = "hub_create_invitation", tag = "organisations",
    params(("org_id" = String, Path, description = "Organisation id")),
    request_body = NewInvite,
    responses((status = 201, body = Object, description = "{id, token, org_id, store_id, role, email, expires_at}; the token is shown only here"), WriteErrors),
    security(("bearer" = [])))]
pub async fn create_invitation(
    Authenticated(caller): Authenticated,
    State(hub): State<Arc<Hub>>,
    Path(org_id): Path<String>,
    body: JsonBody<NewInvite>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.value;
    if hub.db.org_name(&org_id).await?.is_none() {
        return Err(ApiError::not_found("organisation"));
    }
    let store_id = body.store_id.as_deref();
    if let Caller::User(user) = &caller
        && !caller.is_platform_admin()
    {
        let roles = hub.db.org_roles(&user.user_id, &org_id).await?;
        if roles.is_empty() {
            return Err(ApiError::not_found("organisation"));
        }
        let role = staff_role(&body.role)?;
        let allowed = roles.iter().any(|(scope, held)| {
            let covers = match scope {
                None => true,
                Some(s) => store_id == Some(s.as_str()),
            };
            covers && Role::parse(held).is_some_and(|h| may_invite(h, role))
        });
        if !allowed {
            return Err(ApiError::forbidden(format!(
                "your role here may not invite a {}{}",
                role.as_str(),
                if store_id.is_none() {
                    " to the whole organisation"
                } else {
                    ""
                }
            )));
        }
    }
    let role = staff_role(&body.role)?;
    let email = normalize_email(&body.email)
        .ok_or_else(|| ApiError::unprocessable("invalid_email", "email is not an email address"))?;
    if let Some(s) = store_id
        && !hub.db.store_in_org(s, &org_id).await?
    {
        return Err(ApiError::not_found("store"));
    }
    let invitation = invite(&hub, &org_id, store_id, role, &email, caller.user_id()).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Withdraw an invitation nobody accepted yet: its token stops working. Owners only.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/invitations/{invitation_id}", operation_id = "hub_withdraw_invitation", tag = "organisations",
    params(("org_id" = String, Path, description = "Organisation id"),
           ("invitation_id" = String, Path, description = "The invitation's id (not its token)"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 204, description = "Withdrawn"), (status = 409, body = ErrorBody, description = "`invitation_used`: it was accepted; remove the member instead"),
        (status = 422, body = ErrorBody, description = "`idempotency_key_reused`"), ReadErrors),
    security(("bearer" = [])))]
pub async fn withdraw_invitation(
    access: OrgAccess<perm::StaffManage>,
    State(hub): State<Arc<Hub>>,
    Path((_org_id, invitation_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    match hub
        .db
        .withdraw_invitation(&access.org_id, &invitation_id)
        .await?
    {
        InvitationWithdrawal::Withdrawn => {
            tracing::info!(org = %access.org_id, invitation = %invitation_id, "invitation withdrawn");
            Ok(StatusCode::NO_CONTENT)
        }
        InvitationWithdrawal::NotFound => Err(ApiError::not_found("invitation")),
        InvitationWithdrawal::Accepted => Err(ApiError::conflict(
            "invitation_used",
            "this invitation was already accepted: remove the member instead",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_invite_only_counter_and_kitchen_staff() {
        assert!(may_invite(Role::Owner, Role::Owner));
        assert!(may_invite(Role::Manager, Role::Cashier));
        assert!(may_invite(Role::Manager, Role::Kitchen));
        assert!(!may_invite(Role::Manager, Role::Manager));
        assert!(!may_invite(Role::Manager, Role::Owner));
        assert!(!may_invite(Role::Cashier, Role::Kitchen));
        assert!(!may_invite(Role::Kitchen, Role::Kitchen));
    }
}
