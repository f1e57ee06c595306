//! The platform's stores and the node tokens that enroll a store's nodes.
//!
//! Platform admins (an admin account or the admin token) create stores and
//! issue and revoke node tokens (`/api/v1/admin/...`); a store's owners do the
//! same for their own store (`/api/v1/stores/{id}/node-tokens...`,
//! `StoreAccess<perm::NodeEnroll>`: an installer setting up the store's box).
//! A node token is shown once; the hub keeps only its SHA-256.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rand::RngCore;

use super::error::{ApiError, ApiResult, WriteErrors};
use super::extract::{JsonBody, Path, check_text, parse_id};
use crate::auth::{PlatformAdmin, StoreAccess, perm};
use crate::crypto::token_hash;
use crate::hub::Hub;
pub use api_types::hub::platform::{
    NewStore, NewToken, NodeTokenIssued, Revoke, StoreCreated, TokenRevoked,
};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/admin/stores", post(create_store))
        .route("/api/v1/admin/stores/{id}/node-tokens", post(create_token))
        .route(
            "/api/v1/admin/stores/{id}/node-tokens/revoke",
            post(revoke_token),
        )
        .route("/api/v1/stores/{id}/node-tokens", post(store_create_token))
        .route(
            "/api/v1/stores/{id}/node-tokens/revoke",
            post(store_revoke_token),
        )
}

/// The organisation stores go to when the request names none.
pub const DEFAULT_ORG: &str = "default";

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
    parse_id(&body.id)?;
    check_text("name", &body.name)?;
    let now = hub.now_ms();
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
        .insert_token(&hash, &store_id, body.label.trim(), hub.now_ms())
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
    if !hub.db.revoke_token(store_id, &hash, hub.now_ms()).await? {
        return Err(ApiError::not_found("node token"));
    }
    let closed = hub.close_token(&hash);
    hub.announce_revocation(store_id, &hash).await;
    tracing::info!(store = %store_id, closed, "node token revoked");
    Ok(Json(TokenRevoked {
        revoked: true,
        closed_connections: closed,
    }))
}
