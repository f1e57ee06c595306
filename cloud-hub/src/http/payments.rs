//! The card processor's side of payments: Stripe's webhook.
//!
//! A delivery is verified first (`Stripe-Signature`, the hub's clock, 300 s
//! tolerance: `payments::webhook::verify`); a forged, stale or unreadable one is
//! a 400 and changes nothing. A verified event is handled once by its id
//! (`payment_events`): a replay answers 200 and does nothing. Handling moves
//! the order's payment on (`payments::flow::handle_event`), whatever order the
//! events arrive in. When the hub cannot finish (its database, or the processor
//! it asks back, is unavailable) it answers 503, and Stripe delivers again.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;

use super::error::ApiError;
use crate::hub::Hub;
use crate::payments::flow::{self, StepError};
use crate::payments::gateway::GatewayError;
use crate::payments::webhook::{self, MAX_WEBHOOK_BYTES};

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/api/v1/payments/stripe/webhook", post(stripe_webhook))
}

/// What the hub answers a webhook delivery it took.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookAck {
    /// Always true.
    pub received: bool,
    /// The event was handled before (a redelivery): nothing changed.
    pub duplicate: bool,
}

/// Stripe's webhook (events about checkouts, payments and refunds). Needs a
/// valid `Stripe-Signature`; no bearer token and no `Idempotency-Key` (events
/// carry their own id).
#[utoipa::path(post, path = "/api/v1/payments/stripe/webhook", operation_id = "hub_stripe_webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<HMAC-SHA256 hex>")),
    request_body(content = String, content_type = "application/json", description = "A Stripe event, as Stripe signed it"),
    responses(
        (status = 200, body = WebhookAck),
        (status = 400, body = api_kit::ErrorBody, description = "Unsigned, forged, stale or unreadable: nothing changed"),
        (status = 404, body = api_kit::ErrorBody, description = "Card payments are not set up on this hub"),
        (status = 413, body = api_kit::ErrorBody),
        (status = 503, body = api_kit::ErrorBody, description = "Not handled now; deliver again"),
    ))]
pub async fn stripe_webhook(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // An unsigned delivery is refused as such, whether or not payments are set up.
    let Some(signature) = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    else {
        return ApiError::bad_request(
            "missing_signature",
            "a webhook delivery needs its Stripe-Signature header",
        )
        .into_response();
    };
    let Some(payments) = hub.payments.as_ref() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "payments_not_configured",
            "card payments are not set up on this hub",
        )
        .into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_WEBHOOK_BYTES).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a webhook body is at most {MAX_WEBHOOK_BYTES} bytes"),
        )
        .into_response();
    };
    let now_secs = hub.now_ms() / 1000;
    if let Err(e) = webhook::verify(signature, &body, &payments.config.webhook_secret, now_secs) {
        tracing::warn!(error = %e, "webhook refused");
        return ApiError::bad_request(e.code(), e.to_string()).into_response();
    }
    let event = match webhook::parse(&body) {
        Ok(e) => e,
        Err(e) => return ApiError::bad_request(e.code(), e.to_string()).into_response(),
    };
    match hub.db.payment_event_seen(&event.id).await {
        Ok(true) => {
            return axum::Json(WebhookAck {
                received: true,
                duplicate: true,
            })
            .into_response();
        }
        Ok(false) => {}
        Err(e) => return unavailable(e.to_string()),
    }
    if let Err(e) = flow::handle_event(&hub, &event).await {
        tracing::warn!(event = %event.id, error = %e, "webhook not handled now; Stripe delivers it again");
        return match e {
            StepError::Gateway(GatewayError::Refused { .. } | GatewayError::Protocol(_)) => {
                // Asking again will not help: take it, and let the worker and the
                // next event settle the payment.
                ack_done(&hub, &event).await
            }
            other => unavailable(other.to_string()),
        };
    }
    ack_done(&hub, &event).await
}

async fn ack_done(hub: &Hub, event: &webhook::Event) -> Response {
    if let Err(e) = hub
        .db
        .payment_event_done(&event.id, kind_name(&event.kind), hub.now_ms())
        .await
    {
        return unavailable(e.to_string());
    }
    axum::Json(WebhookAck {
        received: true,
        duplicate: false,
    })
    .into_response()
}

fn unavailable(why: String) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the event was not handled now ({why}); deliver it again"),
    )
    .into_response()
}

/// The event's kind as recorded with its id.
fn kind_name(kind: &webhook::EventKind) -> &str {
    use webhook::EventKind as K;
    match kind {
        K::CheckoutCompleted(_) => "checkout.session.completed",
        K::CheckoutExpired(_) => "checkout.session.expired",
        K::PaymentAuthorized(_) => "payment_intent.amount_capturable_updated",
        K::PaymentCaptured(_) => "payment_intent.succeeded",
        K::PaymentCancelled(_) => "payment_intent.canceled",
        K::PaymentFailed { .. } => "payment_intent.payment_failed",
        K::ChargeRefunded { .. } => "charge.refunded",
        K::Other(t) => t,
    }
}
