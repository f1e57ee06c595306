//! The hub's HTTP surface: health, readiness, metrics and the OpenAPI document
//! (`ops`, `openapi`), accounts (`auth`), platform administration and
//! organisations (`orgs`), the admin and store API (`api`), the merchant's
//! sold-out toggles and staff management (`merchant`), and the sync socket.
//! Every write goes through the `Idempotency-Key` layer (`idempotency`); every
//! request is counted and timed (`crate::metrics`).

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod merchant;
pub mod node_sync;
pub mod online;
pub mod openapi;
pub mod ops;
pub mod orgs;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use crate::hub::Hub;
use error::ApiError;

/// Largest JSON body the API accepts (a menu is the largest).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on the hub; the request was not applied",
    )
    .into_response()
}

pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/openapi.json", get(ops::openapi_json))
        .route("/api/v1/sync", get(node_sync::sync_socket))
        .route("/.well-known/jwks.json", get(auth::jwks))
        .route("/api/v1/auth/jwks", get(ops::jwks_api))
        .route("/api/v1/auth/signup", post(auth::signup))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route("/api/v1/auth/me", get(auth::me))
        .route(
            "/api/v1/auth/accept-invitation",
            post(auth::accept_invitation),
        )
        .route("/api/v1/admin/admins", post(orgs::create_admin))
        .route("/api/v1/admin/orgs", post(orgs::create_org))
        .route(
            "/api/v1/orgs/{org_id}/invitations",
            post(orgs::create_invitation),
        )
        .route(
            "/api/v1/orgs/{org_id}/invitations/{invitation_id}",
            delete(merchant::withdraw_invitation),
        )
        .route(
            "/api/v1/orgs/{org_id}/members/{user_id}",
            put(merchant::set_member_role).delete(merchant::remove_member),
        )
        .route("/api/v1/admin/stores", post(api::create_store))
        .route(
            "/api/v1/admin/stores/{id}/node-tokens",
            post(api::create_token),
        )
        .route(
            "/api/v1/admin/stores/{id}/node-tokens/revoke",
            post(api::revoke_token),
        )
        .route(
            "/api/v1/stores/{id}/node-tokens",
            post(api::store_create_token),
        )
        .route(
            "/api/v1/stores/{id}/node-tokens/revoke",
            post(api::store_revoke_token),
        )
        .route(
            "/api/v1/stores/{id}/menu",
            get(api::get_menu).put(api::put_menu),
        )
        .route(
            "/api/v1/stores/{id}/menu/items/{item_id}/sold-out",
            put(merchant::item_sold_out),
        )
        .route(
            "/api/v1/stores/{id}/menu/modifiers/{modifier_id}/sold-out",
            put(merchant::modifier_sold_out),
        )
        .route("/api/v1/stores/{id}/orders", get(api::get_orders))
        .route("/api/v1/stores/{id}/members", get(merchant::list_members))
        .route("/api/v1/stores/{id}/staff", get(api::get_staff))
        .route("/api/v1/stores/{id}/staff/{staff_id}", put(api::put_staff))
        .route(
            "/api/v1/stores/{id}/settings",
            get(api::get_settings).put(api::put_settings),
        )
        // Online ordering: the customer API, tracking sockets, node links.
        .merge(online::router())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "route not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        // Outside the panic catcher, so a panicking write still releases its key.
        .layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            idempotency::idempotency,
        ))
        // Outermost: counts every answer, replays and rejections included.
        .layer(axum::middleware::from_fn(crate::metrics::record))
        .with_state(hub)
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// The account endpoints' annotations, assembled (the hub's full OpenAPI document is a later step).
    #[derive(OpenApi)]
    #[openapi(paths(
        super::auth::signup,
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::auth::change_password,
        super::auth::me,
        super::auth::jwks,
        super::auth::accept_invitation,
        super::orgs::create_admin,
        super::orgs::create_org,
        super::orgs::create_invitation,
    ))]
    struct AccountsDoc;

    #[test]
    fn account_operations_have_unique_ids_and_schemas() {
        let doc = serde_json::to_value(AccountsDoc::openapi()).unwrap();
        let mut ids: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|ops| ops.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!((n, ids.len()), (11, 11));
        for schema in [
            "TokenPair",
            "SignupBody",
            "LoginBody",
            "NewInvite",
            "ErrorBody",
        ] {
            assert!(
                doc["components"]["schemas"].get(schema).is_some(),
                "{schema} is in the document"
            );
        }
    }
}
