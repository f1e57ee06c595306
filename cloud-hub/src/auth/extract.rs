//! Authentication and authorisation as request extractors, so a handler states
//! what it needs in its signature:
//!
//! - [`Signed`]: any valid access token of a live session;
//! - [`CustomerUser`]: a signed-in customer account;
//! - [`PlatformAdmin`]: a platform admin account, or the hub's admin token;
//! - [`StoreAccess<P>`]: the store in the path (`{id}` or `{store_id}`) is one
//!   the caller may act on with permission `P` (a marker from [`perm`]): a
//!   staff member whose membership (organisation-wide or for that store) has a
//!   role granting `P`, or a platform admin;
//! - [`OrgAccess<P>`]: the organisation in the path (`{org_id}`) is one whose
//!   staff the caller may manage with permission `P`: an organisation-wide
//!   membership whose role grants `P` (a membership for one store is not
//!   enough), or a platform admin.
//!
//! Answers: 401 for a missing, malformed, expired or revoked token; 403 for a
//! signed-in caller without the right; 404 `not_found` for a store (or an
//! organisation) of another tenant, exactly as for one that does not exist, so
//! ids do not leak.

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use domain::roles::{Permission, Role};

use super::jwt::TokenError;
use crate::http::error::ApiError;
use crate::http::extract::bearer;
use crate::hub::Hub;

/// What an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    Staff,
    Admin,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "customer" => Some(Kind::Customer),
            "staff" => Some(Kind::Staff),
            "admin" => Some(Kind::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Staff => "staff",
            Kind::Admin => "admin",
        }
    }
}

/// A signed-in user (a valid access token of a live session).
#[derive(Debug, Clone)]
pub struct Signed {
    pub user_id: String,
    pub kind: Kind,
    /// The session (refresh-token family) the token was issued in.
    pub sid: String,
    /// When the token was issued (seconds).
    pub iat: u64,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The hub's admin token (the bootstrap and platform credential).
    AdminToken,
    User(Signed),
}

impl Caller {
    pub fn is_platform_admin(&self) -> bool {
        match self {
            Caller::AdminToken => true,
            Caller::User(u) => u.kind == Kind::Admin,
        }
    }

    /// The key an `Idempotency-Key` is scoped to.
    pub fn principal(&self) -> String {
        match self {
            Caller::AdminToken => "admin-token".into(),
            Caller::User(u) => format!("user:{}", u.user_id),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Caller::AdminToken => None,
            Caller::User(u) => Some(&u.user_id),
        }
    }
}

fn token_error(e: &TokenError) -> ApiError {
    ApiError::unauthorized(e.code(), e.to_string())
}

/// Checks only the token itself (admin token, or signature and claims), no database.
pub async fn caller_from_token(hub: &Hub, token: &str) -> Result<Caller, TokenError> {
    if hub.is_admin(token) {
        return Ok(Caller::AdminToken);
    }
    let claims = hub.auth.verify(&hub.db, token).await?;
    let kind = Kind::parse(&claims.kind)
        .ok_or_else(|| TokenError::Invalid("unknown account kind".into()))?;
    Ok(Caller::User(Signed {
        user_id: claims.sub,
        kind,
        sid: claims.sid,
        iat: claims.iat,
    }))
}

/// Authenticates the request: 401 unless it carries the admin token or a
/// valid access token whose session is live and that predates no password change.
pub async fn authenticate(parts: &Parts, hub: &Hub) -> Result<Caller, ApiError> {
    let Some(token) = bearer(&parts.headers) else {
        return Err(ApiError::unauthorized(
            "unauthenticated",
            "sign in first: send Authorization: Bearer <access token>",
        ));
    };
    let caller = caller_from_token(hub, token)
        .await
        .map_err(|e| token_error(&e))?;
    let Caller::User(signed) = &caller else {
        return Ok(caller);
    };
    let state = hub
        .db
        .session_state(&signed.user_id, &signed.sid)
        .await?
        .ok_or_else(|| ApiError::unauthorized("bad_token", "this account no longer exists"))?;
    let changed_s = u64::try_from(state.password_changed_at / 1000).unwrap_or(0);
    if !state.live || signed.iat < changed_s {
        return Err(ApiError::unauthorized(
            "token_revoked",
            "this session has ended (signed out, or the password changed): sign in again",
        ));
    }
    if Kind::parse(&state.kind) != Some(signed.kind) {
        return Err(ApiError::unauthorized(
            "token_revoked",
            "this account changed: sign in again",
        ));
    }
    Ok(caller)
}

impl FromRequestParts<Arc<Hub>> for Signed {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        match authenticate(parts, hub).await? {
            Caller::User(u) => Ok(u),
            Caller::AdminToken => Err(ApiError::forbidden(
                "the admin token is a platform credential, not an account: sign in as a user",
            )),
        }
    }
}

/// A signed-in customer.
#[derive(Debug, Clone)]
pub struct CustomerUser(pub Signed);

impl FromRequestParts<Arc<Hub>> for CustomerUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let signed = Signed::from_request_parts(parts, hub).await?;
        if signed.kind == Kind::Customer {
            Ok(CustomerUser(signed))
        } else {
            Err(ApiError::forbidden("this is for customer accounts"))
        }
    }
}

/// A platform admin: an admin account, or the admin token.
#[derive(Debug, Clone)]
pub struct PlatformAdmin(pub Caller);

impl FromRequestParts<Arc<Hub>> for PlatformAdmin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let caller = authenticate(parts, hub).await?;
        if caller.is_platform_admin() {
            Ok(PlatformAdmin(caller))
        } else {
            Err(ApiError::forbidden("only platform admins may do this"))
        }
    }
}

/// A permission a handler needs, as a type.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// Permission marker types for [`StoreAccess`] (the store node's `Auth<perm::X>` pattern).
pub mod perm {
    use super::{Need, Permission};
    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl Need for $name { const PERMISSION: Permission = Permission::$name; }
        )*};
    }
    markers!(
        MenuRead,
        MenuEdit,
        MenuSoldOut,
        OrderCreate,
        OrderRead,
        OrderProgress,
        OrderCancel,
        OrderVoid,
        OrderRefund,
        OrderDiscount,
        PaymentTake,
        StaffManage,
        EventsSubscribe,
        DeviceRead,
        DeviceManage,
        SettingsManage,
        NodeEnroll,
        ReportsView,
    );
}

/// The caller may act on the store in the path with permission `P`.
#[derive(Debug)]
pub struct StoreAccess<P> {
    pub store_id: String,
    pub caller: Caller,
    /// The caller's strongest role there that grants `P` (None for platform admins).
    pub role: Option<Role>,
    _need: PhantomData<P>,
}

/// The store id in the request path (`{store_id}` or `{id}`).
async fn store_id_of(parts: &mut Parts, hub: &Arc<Hub>) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, hub)
        .await
        .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
    let id = params
        .iter()
        .find(|(k, _)| *k == "store_id")
        .or_else(|| params.iter().find(|(k, _)| *k == "id"))
        .map(|(_, v)| v.to_owned());
    id.ok_or_else(|| ApiError::internal("StoreAccess on a route without {id} or {store_id}"))
}

/// The roles a user holds for a store of an organisation (organisation-wide ones included).
pub async fn store_roles(
    hub: &Hub,
    user_id: &str,
    org_id: &str,
    store_id: &str,
) -> Result<Vec<Role>, ApiError> {
    Ok(hub
        .db
        .org_roles(user_id, org_id)
        .await?
        .into_iter()
        .filter(|(store, _)| store.as_deref().is_none_or(|s| s == store_id))
        .filter_map(|(_, role)| Role::parse(&role))
        .collect())
}

impl<P: Need> FromRequestParts<Arc<Hub>> for StoreAccess<P> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let store_id = store_id_of(parts, hub).await?;
        let caller = authenticate(parts, hub).await?;
        let org = hub
            .db
            .store_org(&store_id)
            .await?
            .ok_or_else(|| ApiError::not_found("store"))?;
        let done = |role| StoreAccess {
            store_id: store_id.clone(),
            caller: caller.clone(),
            role,
            _need: PhantomData,
        };
        if caller.is_platform_admin() {
            return Ok(done(None));
        }
        let (Some(user), Some(org)) = (caller.user_id(), org) else {
            return Err(ApiError::not_found("store"));
        };
        let roles = store_roles(hub, user, &org, &store_id).await?;
        if roles.is_empty() {
            return Err(ApiError::not_found("store"));
        }
        match roles.iter().find(|r| r.can(P::PERMISSION)) {
            Some(r) => Ok(done(Some(*r))),
            None => Err(ApiError::forbidden(format!(
                "a {} may not do this ({:?} is needed)",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
                P::PERMISSION
            ))),
        }
    }
}

/// The caller may manage the organisation in the path (`{org_id}`) with permission `P`.
#[derive(Debug)]
pub struct OrgAccess<P> {
    pub org_id: String,
    pub caller: Caller,
    /// The caller's organisation-wide role that grants `P` (None for platform admins).
    pub role: Option<Role>,
    _need: PhantomData<P>,
}

impl<P: Need> FromRequestParts<Arc<Hub>> for OrgAccess<P> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, hub)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
        let org_id = params
            .iter()
            .find(|(k, _)| *k == "org_id")
            .map(|(_, v)| v.to_owned())
            .ok_or_else(|| ApiError::internal("OrgAccess on a route without {org_id}"))?;
        let caller = authenticate(parts, hub).await?;
        if hub.db.org_name(&org_id).await?.is_none() {
            return Err(ApiError::not_found("organisation"));
        }
        let done = |role| OrgAccess {
            org_id: org_id.clone(),
            caller: caller.clone(),
            role,
            _need: PhantomData,
        };
        if caller.is_platform_admin() {
            return Ok(done(None));
        }
        let Some(user) = caller.user_id() else {
            return Err(ApiError::not_found("organisation"));
        };
        let memberships = hub.db.org_roles(user, &org_id).await?;
        if memberships.is_empty() {
            return Err(ApiError::not_found("organisation"));
        }
        let org_wide = memberships
            .iter()
            .filter(|(store, _)| store.is_none())
            .filter_map(|(_, role)| Role::parse(role))
            .find(|r| r.can(P::PERMISSION));
        match org_wide {
            Some(r) => Ok(done(Some(r))),
            None => Err(ApiError::forbidden(format!(
                "this needs an organisation-wide role with {:?}",
                P::PERMISSION
            ))),
        }
    }
}

/// The client's address: the TCP peer, or (when configured behind a proxy) the
/// last `X-Forwarded-For` entry, which that proxy appended.
pub fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return ip;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The client's IP address, as an extractor.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<Arc<Hub>> for ClientIp {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(
            parts,
            hub.auth.config.trust_forwarded_for,
        )))
    }
}

/// The caller when the request carries a bearer token, `None` when it carries none;
/// an invalid token is still a 401.
#[derive(Debug, Clone)]
pub struct MaybeSigned(pub Option<Signed>);

impl FromRequestParts<Arc<Hub>> for MaybeSigned {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        if bearer(&parts.headers).is_none() {
            return Ok(MaybeSigned(None));
        }
        Signed::from_request_parts(parts, hub)
            .await
            .map(|s| MaybeSigned(Some(s)))
    }
}

/// Any authenticated caller: a signed-in user or the admin token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<Arc<Hub>> for Authenticated {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        authenticate(parts, hub).await.map(Authenticated)
    }
}
