//! Delivers Events to the configured endpoint as Stripe does: a JSON POST signed with
//! `Stripe-Signature: t=<secs>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with the whole
//! `whsec_…` string, retried with exponential backoff (base delay configurable, so tests wait
//! milliseconds, not Stripe's hours) up to a number of attempts. Every attempt is recorded for
//! `GET /_fake/deliveries`.
//!
//! First attempts go out one at a time in the order the Events happened; a retry runs on its
//! own task, so one failing Event does not hold the others back (and may then arrive after
//! later ones, as with Stripe). The faults (`duplicate`, `drop`, `reorder`, `delay_ms`) bend
//! that on purpose.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

/// The `Stripe-Signature` header for `body` sent at `t` (Unix seconds).
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={t},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// Webhook faults, set with `POST /_fake/faults` under `"webhook"`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFaults {
    /// Deliver every Event twice.
    #[serde(default)]
    pub duplicate: bool,
    /// Lose the next `drop` Events outright (no attempt, no retry).
    #[serde(default)]
    pub drop: u32,
    /// Hold the next `reorder` Events, then deliver them newest first.
    #[serde(default)]
    pub reorder: u32,
    /// Wait this long before each attempt.
    #[serde(default)]
    pub delay_ms: u64,
}

/// One attempt to deliver an Event, or a dropped Event.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    /// `delivered`, `failed` or `dropped`.
    pub outcome: &'static str,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub url: Option<String>,
}

pub struct Hooks {
    pub url: Mutex<Option<String>>,
    pub secret: String,
    pub faults: Mutex<WebhookFaults>,
    pub deliveries: Mutex<Vec<Delivery>>,
    pub retry_base: Duration,
    pub max_attempts: u32,
    pub client: reqwest::Client,
}

impl Hooks {
    fn record(&self, d: Delivery) {
        self.deliveries.lock().expect("not poisoned").push(d);
    }
}

/// Sends the Events it receives until the channel closes.
pub async fn run(hooks: Arc<Hooks>, mut events: mpsc::UnboundedReceiver<Value>) {
    let mut held: Vec<Value> = vec![];
    while let Some(event) = events.recv().await {
        let (duplicate, batch) = {
            let mut f = hooks.faults.lock().expect("not poisoned");
            if f.drop > 0 {
                f.drop -= 1;
                hooks.record(Delivery {
                    event_id: event["id"].as_str().unwrap_or_default().into(),
                    event_type: event["type"].as_str().unwrap_or_default().into(),
                    attempt: 0,
                    outcome: "dropped",
                    status: None,
                    error: None,
                    url: None,
                });
                continue;
            }
            if f.reorder > 0 {
                held.push(event);
                if held.len() < f.reorder as usize {
                    continue;
                }
                f.reorder = 0;
                let mut batch = std::mem::take(&mut held);
                batch.reverse();
                (f.duplicate, batch)
            } else {
                // Events still held when the fault was cleared go out first, newest first.
                let mut batch = std::mem::take(&mut held);
                batch.reverse();
                batch.push(event);
                (f.duplicate, batch)
            }
        };
        for event in batch {
            for _ in 0..if duplicate { 2 } else { 1 } {
                if !attempt(&hooks, &event, 1).await {
                    let (hooks, event) = (hooks.clone(), event.clone());
                    tokio::spawn(async move { retry(&hooks, &event).await });
                }
            }
        }
    }
}

async fn retry(hooks: &Hooks, event: &Value) {
    for n in 2..=hooks.max_attempts {
        let backoff = hooks.retry_base * 2u32.saturating_pow(n - 2);
        tokio::time::sleep(backoff).await;
        if attempt(hooks, event, n).await {
            return;
        }
    }
}

/// One POST; true when it was delivered or there is no endpoint to deliver to.
async fn attempt(hooks: &Hooks, event: &Value, n: u32) -> bool {
    let Some(url) = hooks.url.lock().expect("not poisoned").clone() else {
        return true;
    };
    let delay = hooks.faults.lock().expect("not poisoned").delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let body = serde_json::to_vec(event).expect("an Event serialises");
    let t = crate::now();
    let sent = hooks
        .client
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "stripe-signature",
            signature_header(&hooks.secret, t, &body),
        )
        .body(body)
        .send()
        .await;
    let (status, error) = match sent {
        Ok(r) => (Some(r.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    hooks.record(Delivery {
        event_id: event["id"].as_str().unwrap_or_default().into(),
        event_type: event["type"].as_str().unwrap_or_default().into(),
        attempt: n,
        outcome: if ok { "delivered" } else { "failed" },
        status,
        error,
        url: Some(url),
    });
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_fixed_vector() {
        assert_eq!(
            signature_header(
                "whsec_test_secret",
                1_700_000_000,
                br#"{"id":"evt_1","type":"checkout.session.completed"}"#
            ),
            "t=1700000000,v1=a13d4b1f9003bc2fb6c06224e878b6056185eaa50d40e1e7dc05517f8af41d7b"
        );
    }
}
