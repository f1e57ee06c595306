//! The HTTP API under `/api/v1`. Each module owns its router; this one merges
//! them and wraps them in the layers every request goes through: a body size
//! limit, panic catching, request metrics and tracing, and JSON answers for
//! unknown routes and methods.

pub mod devices;
pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod images;
pub mod menu;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod session;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use error::ApiError;

/// The store's web apps, each served from `<web_dir>/<name>/dist` at `/<name>/`.
pub const APPS: [&str; 3] = ["pos", "kds", "kiosk"];

/// Serves a built single-page app: its files, and `index.html` for any other path under it
/// (client-side routes). An app that is not built answers a JSON 404 saying how to build it.
fn web_app(
    router: Router<Arc<AppState>>,
    web_dir: &std::path::Path,
    name: &'static str,
) -> Router<Arc<AppState>> {
    use tower_http::services::{ServeDir, ServeFile};
    use tower_http::set_header::SetResponseHeaderLayer;
    let dist = web_dir.join(name).join("dist");
    let index = dist.join("index.html");
    if !index.is_file() {
        let missing = move || async move {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "app_not_built",
                format!(
                    "the {name} app is not built (looked for {}): run `npm ci && npm run build`",
                    index.display()
                ),
            )
        };
        return router
            .route(&format!("/{name}"), get(missing.clone()))
            .route(&format!("/{name}/"), get(missing.clone()))
            .route(&format!("/{name}/{{*rest}}"), get(missing));
    }
    // index.html must be revalidated so a rebuilt app is picked up; hashed assets may be cached.
    let service = ServeDir::new(&dist).fallback(ServeFile::new(&index));
    router.nest_service(
        &format!("/{name}"),
        tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::if_not_present(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-cache"),
            ))
            .service(service),
    )
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.http.body_limit_bytes;
    let mut apps = Router::new().route(
        "/",
        get(|| async { axum::response::Redirect::temporary("/pos/") }),
    );
    for name in APPS {
        apps = web_app(apps, &state.config.web_dir, name);
    }
    Router::new()
        .merge(session::router())
        .merge(menu::router())
        .merge(images::router())
        .merge(orders::router())
        .merge(devices::router())
        .merge(events::router())
        .merge(ops::router())
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    openapi::json(),
                )
            }),
        )
        .merge(apps)
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        .with_state(state)
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => resp.status().as_u16().to_string()
    )
    .record(start.elapsed().as_secs_f64());
    resp
}
