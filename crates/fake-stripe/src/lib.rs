//! A local fake of the part of Stripe the hub uses, for tests and the demo (Stripe itself is not
//! reachable from our machines). It speaks Stripe's encoding (bracketed form bodies in, JSON
//! objects out, Stripe's error shape), keeps an in-memory account behind one `Mutex`, serves a
//! hosted checkout page, signs and retries webhooks, and can be told to fail on purpose.
//!
//! Routes:
//! - `/v1/…`: the API (`api.rs`): checkout sessions (create, retrieve, expire), payment
//!   intents (retrieve, capture, cancel, search by metadata), refunds, events, balance
//!   transactions. Bearer-key auth and `Idempotency-Key`s as Stripe.
//! - `/checkout/{id}`: the hosted page (`page.rs`).
//! - `/_fake/…`: test control, no auth: `checkout/{id}/pay|decline|expire`, `faults` (POST a
//!   JSON [`Faults`], DELETE to clear), `deliveries`, `ledger`, `webhook-endpoint`.
//!
//! Left out on purpose: customers, prices and products as objects, other payment methods,
//! disputes, partial-capture refund of the remainder, Connect, pagination of search results.

mod api;
mod error;
mod model;
mod page;
mod webhook;

pub use api::ApiFault;
pub use webhook::{Delivery, WebhookFaults, signature_header};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api::ApiState;
use crate::model::Store;
use crate::webhook::Hooks;

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// How to run the fake.
#[derive(Clone, Debug)]
pub struct Config {
    /// The key clients must send as `Authorization: Bearer …`.
    pub secret_key: String,
    /// Where Events are POSTed; none delivers nothing (Events are still listed).
    pub webhook_url: Option<String>,
    /// The `whsec_…` string that keys the signatures (all of it, prefix included).
    pub webhook_secret: String,
    /// Added to every API call (benchmarks).
    pub latency: Duration,
    /// The first retry waits this long, each next one twice as long.
    pub webhook_retry_base: Duration,
    /// Attempts per Event, the first included.
    pub max_webhook_attempts: u32,
    /// How long one webhook attempt may take before it counts as failed.
    pub webhook_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            secret_key: "sk_test_fake".into(),
            webhook_url: None,
            webhook_secret: "whsec_fake".into(),
            latency: Duration::ZERO,
            webhook_retry_base: Duration::from_secs(1),
            max_webhook_attempts: 5,
            webhook_timeout: Duration::from_secs(5),
        }
    }
}

/// The body of `POST /_fake/faults`; every part optional. API faults add to those already set.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    #[serde(default)]
    pub api: Vec<ApiFault>,
    pub latency_ms: Option<u64>,
    pub webhook: Option<WebhookFaults>,
}

struct Inner {
    pub secret_key: String,
    pub base_url: String,
    pub default_latency: Duration,
    pub store: Mutex<Store>,
    pub api: Mutex<ApiState>,
    pub hooks: Arc<Hooks>,
    pub events: mpsc::UnboundedSender<Value>,
}

/// The shared state of a running fake.
#[derive(Clone)]
struct App(Arc<Inner>);

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// Runs `f` on the account (after expiring what is due), then sends the Events it caused.
    pub(crate) fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        self.with_both(|store, _| f(store))
    }

    pub(crate) fn with_both<T>(&self, f: impl FnOnce(&mut Store, &mut ApiState) -> T) -> T {
        let (out, events) = {
            let mut store = self.store.lock().expect("not poisoned");
            let mut api = self.api.lock().expect("not poisoned");
            store.expire_due(now());
            let out = f(&mut store, &mut api);
            (out, std::mem::take(&mut store.outbox))
        };
        for e in events {
            let _ = self.events.send(e);
        }
        out
    }
}

/// A running fake; [`Running::shutdown`] stops it.
pub struct Running {
    pub addr: SocketAddr,
    app: App,
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
}

impl Running {
    /// The API base for clients, with a trailing slash (`http://127.0.0.1:12111/`).
    pub fn url(&self) -> String {
        format!("{}/", self.app.base_url)
    }

    /// Points webhooks somewhere else (or nowhere).
    pub fn set_webhook_url(&self, url: Option<String>) {
        *self.app.hooks.url.lock().expect("not poisoned") = url;
    }

    /// Every PaymentIntent with its amounts, as `GET /_fake/ledger` gives it.
    pub fn ledger(&self) -> Value {
        self.app.store.lock().expect("not poisoned").ledger()
    }

    /// Stops serving and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(&self.server) {
            t.abort();
        }
    }
}

/// Binds `bind` (port 0 for any) and serves the fake until [`Running::shutdown`].
pub async fn start(config: Config, bind: SocketAddr) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = reqwest::Client::builder()
        .timeout(config.webhook_timeout)
        .build()
        .map_err(std::io::Error::other)?;
    let hooks = Arc::new(Hooks {
        url: Mutex::new(config.webhook_url),
        secret: config.webhook_secret,
        faults: Mutex::new(WebhookFaults::default()),
        deliveries: Mutex::new(vec![]),
        retry_base: config.webhook_retry_base,
        max_attempts: config.max_webhook_attempts.max(1),
        client,
    });
    let (events, rx) = mpsc::unbounded_channel();
    let app = App(Arc::new(Inner {
        secret_key: config.secret_key,
        base_url: format!("http://{addr}"),
        default_latency: config.latency,
        store: Mutex::new(Store::default()),
        api: Mutex::new(ApiState {
            latency: config.latency,
            ..ApiState::default()
        }),
        hooks: hooks.clone(),
        events,
    }));
    let sender = tokio::spawn(webhook::run(hooks, rx));
    let ticker = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                app.with_store(|_| ());
            }
        })
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let router = router(app.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        app,
        stop: Some(stop),
        tasks: vec![sender, ticker],
        server: Some(server),
    })
}

fn router(app: App) -> Router {
    Router::new()
        .route("/v1/{*rest}", any(api::v1))
        .route("/checkout/{id}", get(page::show))
        .route("/checkout/{id}/pay", post(page::pay))
        .route("/checkout/{id}/decline", post(page::decline))
        .route("/checkout/{id}/cancel", post(page::cancel))
        .route("/_fake/checkout/{id}/{action}", post(control_checkout))
        .route("/_fake/faults", post(set_faults).delete(clear_faults))
        .route("/_fake/deliveries", get(deliveries))
        .route("/_fake/ledger", get(ledger))
        .route("/_fake/webhook-endpoint", post(set_endpoint))
        .with_state(app)
}

fn answer(r: Result<Value, error::ApiError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status, Json(e.body())).into_response(),
    }
}

/// `pay` (the session's object), `decline` (the PaymentIntent's), `expire` (the session's).
async fn control_checkout(
    State(app): State<App>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let t = now();
    answer(app.with_store(|st| match action.as_str() {
        "pay" => st.pay(t, &id).map(|s| s.json()),
        "decline" => st.decline(t, &id).map(|p| p.json()),
        "expire" => st.expire(t, &id).map(|s| s.json()),
        other => Err(error::ApiError::unknown_url("POST", other)),
    }))
}

async fn set_faults(State(app): State<App>, Json(f): Json<Faults>) -> StatusCode {
    let mut api = app.api.lock().expect("not poisoned");
    api.faults.extend(f.api);
    if let Some(ms) = f.latency_ms {
        api.latency = Duration::from_millis(ms);
    }
    if let Some(w) = f.webhook {
        *app.hooks.faults.lock().expect("not poisoned") = w;
    }
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(app): State<App>) -> StatusCode {
    let mut api = app.api.lock().expect("not poisoned");
    api.faults.clear();
    api.latency = app.default_latency;
    *app.hooks.faults.lock().expect("not poisoned") = WebhookFaults::default();
    StatusCode::NO_CONTENT
}

async fn deliveries(State(app): State<App>) -> Json<Value> {
    Json(json!(*app.hooks.deliveries.lock().expect("not poisoned")))
}

async fn ledger(State(app): State<App>) -> Json<Value> {
    Json(app.store.lock().expect("not poisoned").ledger())
}

#[derive(Deserialize)]
struct Endpoint {
    url: Option<String>,
}

async fn set_endpoint(State(app): State<App>, Json(e): Json<Endpoint>) -> StatusCode {
    *app.hooks.url.lock().expect("not poisoned") = e.url;
    StatusCode::NO_CONTENT
}
