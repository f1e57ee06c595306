//! The hub's HTTP surface, one module per resource, each owning its router
//! (merged here): health, readiness, metrics and the OpenAPI document (`ops`,
//! `openapi`), accounts (`auth`), platform admins, organisations and
//! invitations (`orgs`), members (`members`), stores and node tokens
//! (`platform`), a store's menu and sold-out toggles (`catalog`) and the
//! menu's conflicts of edits made apart (`menu_conflicts`), orders
//! (`orders`), PIN roster (`roster`) and settings (`settings`), online ordering
//! (`online`), menu pictures (`images`), and the sync socket (`node_sync`).
//! `store_docs` is how handlers reach a store's shared documents.
//! Every write goes through the `Idempotency-Key` layer (`idempotency`); every
//! request is counted and timed (`crate::metrics`). The built customer app,
//! when there is one, is served at `/` (`web_app`).

pub mod auth;
pub mod catalog;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod images;
pub mod members;
pub mod menu_conflicts;
pub mod node_sync;
pub mod nodes;
pub mod online;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod org_stores;
pub mod orgs;
pub mod overview;
pub mod payments;
pub mod platform;
pub mod profile;
pub mod push;
pub mod refunds;
pub mod roster;
pub mod sales;
pub mod settings;
pub mod store_docs;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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

/// The hub's JSON 404, for paths no route matches.
async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "route not found")
}

/// Serves the built customer app in `web_dir` at `/`: its files, and
/// `index.html` for any other path (the app's own routes, e.g. `/orders/{id}`);
/// and the merchant dashboard in `dashboard_dir` at `/dashboard/` the same way
/// (`/dashboard/stores/s1/menu` answers the dashboard's `index.html`).
/// `/api` and everything under it stays the API's: a path no route matches
/// answers the JSON 404, never an app's page. A folder without `index.html`
/// is left out; with neither, the router is unchanged (the API only, as in the tests).
fn web_app(
    router: Router<Arc<Hub>>,
    web_dir: Option<&std::path::Path>,
    dashboard_dir: Option<&std::path::Path>,
) -> Router<Arc<Hub>> {
    use axum::routing::any;
    let web = web_dir.filter(|d| d.join("index.html").is_file());
    let dashboard = dashboard_dir.filter(|d| d.join("index.html").is_file());
    if web.is_none() && dashboard.is_none() {
        return router.fallback(route_not_found);
    }
    let mut router = router
        .route("/api", any(route_not_found))
        .route("/api/{*rest}", any(route_not_found));
    if let Some(dir) = dashboard {
        router = router.nest_service("/dashboard", static_app(dir));
    }
    match web {
        Some(dir) => router.fallback_service(static_app(dir)),
        None => router.fallback(route_not_found),
    }
}

/// A built single-page app: its files, and its `index.html` for any other path.
fn static_app(
    dir: &std::path::Path,
) -> tower_http::set_header::SetResponseHeader<
    tower_http::services::ServeDir<tower_http::services::ServeFile>,
    axum::http::HeaderValue,
> {
    use axum::http::{HeaderValue, header};
    use tower_http::services::{ServeDir, ServeFile};
    use tower_http::set_header::SetResponseHeader;
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    // index.html must be revalidated so a rebuilt app is picked up; hashed assets may be cached.
    SetResponseHeader::if_not_present(
        files,
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    )
}

pub fn router(
    hub: Arc<Hub>,
    web_dir: Option<&std::path::Path>,
    dashboard_dir: Option<&std::path::Path>,
) -> Router {
    let api = Router::new()
        .merge(ops::router())
        .merge(node_sync::router())
        .merge(auth::router())
        .merge(orgs::router())
        .merge(org_stores::router())
        .merge(members::router())
        .merge(platform::router())
        .merge(nodes::router())
        .merge(catalog::router())
        .merge(menu_conflicts::router())
        .merge(images::router())
        .merge(orders::router())
        .merge(roster::router())
        .merge(settings::router())
        // Online ordering: the customer API, tracking sockets, node links.
        .merge(online::router())
        .merge(overview::router())
        .merge(profile::router())
        .merge(payments::router())
        .merge(refunds::router())
        .merge(refunds::reconciliation_router())
        .merge(sales::router());
    web_app(api, web_dir, dashboard_dir)
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
