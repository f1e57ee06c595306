//! The hub's Prometheus metrics, served at `GET /metrics`:
//!
//! - `http_requests_total{method,route,status}` and
//!   `http_request_duration_seconds{method,route,status}` (a histogram): every
//!   request, labelled by its route template (`/api/v1/stores/{id}/menu`, or
//!   `unmatched`), so the label set stays small whatever the paths;
//! - `hub_logins_total{outcome}`: sign-ins at `/api/v1/auth/login` by outcome
//!   (`success`, `invalid_credentials`, `throttled`, `rejected` for a malformed
//!   request, `error`);
//! - `hub_sync_connections_open`: the store nodes' open sync WebSockets;
//! - `hub_sync_held_back_bytes`: events held back ahead of gaps by every sync
//!   connection together (bounded by `Config::held_back_bytes_total`).
//!
//! The recorder is the hub's own (one per process), not the global one: a
//! process that also runs a store node (the end-to-end tests do) keeps the two
//! servers' metrics apart. Histogram samples are folded into their buckets at
//! every scrape and every 1024 requests, so memory stays bounded without one.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::hub::Hub;

/// Upper bounds (s) of the request-latency histogram.
const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Requests between two foldings of histogram samples.
const UPKEEP_EVERY: u64 = 1024;

/// The hub's recorder and the handle that renders it.
pub struct HubMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: AtomicU64,
}

impl std::fmt::Debug for HubMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HubMetrics")
    }
}

/// The process's hub metrics.
pub fn hub_metrics() -> &'static HubMetrics {
    static METRICS: OnceLock<HubMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        // Fails only for an empty bucket list; then latency is a summary instead.
        let builder = match builder.set_buckets_for_metric(
            Matcher::Full("http_request_duration_seconds".into()),
            &LATENCY_BUCKETS,
        ) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        HubMetrics {
            recorder,
            handle,
            requests: AtomicU64::new(0),
        }
    })
}

/// How a sign-in ended, from its answer's status.
pub fn login_outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "success",
        401 => "invalid_credentials",
        429 => "throttled",
        400..=499 => "rejected",
        _ => "error",
    }
}

impl HubMetrics {
    /// Records one answered request.
    pub fn request(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let labels = [
            ("method", method.as_str().to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("http_requests_total", &labels).increment(1);
            metrics::histogram!("http_request_duration_seconds", &labels)
                .record(took.as_secs_f64());
            if route == "/api/v1/auth/login" && method == Method::POST {
                metrics::counter!("hub_logins_total", "outcome" => login_outcome(status))
                    .increment(1);
            }
        });
        if self.requests.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
            self.handle.run_upkeep();
        }
    }

    /// The Prometheus text, with the gauges read from `hub` first.
    pub fn render(&self, hub: &Hub) -> String {
        let open = *hub.active.borrow();
        let held = hub.held_back.used();
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!("hub_sync_connections_open").set(open as f64);
            metrics::gauge!("hub_sync_held_back_bytes").set(held as f64);
        });
        self.handle.render()
    }
}

/// The layer that records every request (`axum::middleware::from_fn`).
pub async fn record(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let response = next.run(req).await;
    hub_metrics().request(&method, &route, response.status(), start.elapsed());
    response
}

/// `GET /metrics`.
pub async fn metrics_text(State(hub): State<std::sync::Arc<Hub>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        hub_metrics().render(&hub),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_outcomes_follow_the_status() {
        assert_eq!(login_outcome(StatusCode::OK), "success");
        assert_eq!(
            login_outcome(StatusCode::UNAUTHORIZED),
            "invalid_credentials"
        );
        assert_eq!(login_outcome(StatusCode::TOO_MANY_REQUESTS), "throttled");
        assert_eq!(login_outcome(StatusCode::UNPROCESSABLE_ENTITY), "rejected");
        assert_eq!(login_outcome(StatusCode::INTERNAL_SERVER_ERROR), "error");
    }

    #[test]
    fn requests_are_counted_by_route_template() {
        let m = hub_metrics();
        m.request(
            &Method::GET,
            "/api/v1/stores/{id}/menu",
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.request(
            &Method::POST,
            "/api/v1/auth/login",
            StatusCode::TOO_MANY_REQUESTS,
            Duration::from_millis(1),
        );
        let text = m.handle.render();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/api/v1/stores/{id}/menu",status="200"}"#
            ),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains(r#"hub_logins_total{outcome="throttled"}"#),
            "{text}"
        );
    }
}
