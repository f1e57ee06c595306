//! Card payments at the counter through the store's card terminal.
//!
//! The node asks the terminal (ZVT over a serial line or TCP, see
//! `drivers::zvt`) for an amount and waits while the customer taps, inserts or
//! cancels. The terminal never hands us card data; the node stores only its
//! reference (terminal id, trace and receipt number) in the payment event.
//!
//! One payment at a time per terminal: a second request while one is running
//! is 409 `terminal_busy`. The request holds its `Idempotency-Key` for the
//! whole conversation, so a retried request while the customer is still at
//! the terminal is 409 `request_in_flight`, and a retry after approval gets
//! the stored payment back instead of charging twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use domain::Ident;
use domain::device::DeviceKind;
use drivers::terminal::{AuthorizeRequest, PaymentTerminal, TerminalError};
use serde::{Deserialize, Serialize};

use crate::devices::{self, Transport};
use crate::http::error::ApiError;
use crate::http::idempotency;
use crate::state::AppState;

/// Card terminal settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    /// How long a customer has at the terminal before the node gives up and aborts.
    pub timeout_secs: u64,
    /// The terminal's ZVT password, six digits (`000000` on most terminals).
    pub password: String,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        TerminalConfig {
            timeout_secs: 120,
            password: "000000".into(),
        }
    }
}

/// Terminals with a payment running now.
#[derive(Default)]
pub struct Busy(Mutex<HashSet<String>>);

struct Claim<'a>(&'a Busy, String);
impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.0.lock() {
            s.remove(&self.1);
        }
    }
}

fn password(cfg: &TerminalConfig) -> Result<[u8; 3], ApiError> {
    let d = cfg.password.as_bytes();
    if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
        return Err(ApiError::internal("terminal.password must be six digits"));
    }
    let bcd = |i: usize| ((d[i] - b'0') << 4) | (d[i + 1] - b'0');
    Ok([bcd(0), bcd(2), bcd(4)])
}

fn connect(t: &Transport, pw: [u8; 3]) -> Result<drivers::zvt::ZvtTerminal, TerminalError> {
    match t {
        Transport::Serial { path, baud } => drivers::zvt::ZvtTerminal::serial(path, *baud, pw),
        Transport::Tcp { host, port } => {
            drivers::zvt::ZvtTerminal::tcp(&format!("{host}:{port}"), pw)
        }
        _ => Err(TerminalError::Io(
            "a card terminal is connected over serial or TCP".into(),
        )),
    }
}

fn map_error(e: TerminalError) -> ApiError {
    use TerminalError::*;
    match e {
        Declined { code, message } => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
            format!(
                "the card was declined ({message}, code {code:#04x}): ask for another card or cash"
            ),
        ),
        Cancelled => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_cancelled",
            "the payment was cancelled at the terminal",
        ),
        Timeout => ApiError::conflict(
            "terminal_timeout",
            "the terminal did not finish in time; the payment was aborted: nothing was charged",
        ),
        Busy => ApiError::conflict(
            "terminal_busy",
            "the terminal is busy with another transaction: wait and try again",
        ),
        Protocol(m) => ApiError::conflict(
            "terminal_error",
            format!(
                "the terminal answered something we cannot read ({m}): check the terminal, then try again"
            ),
        ),
        Io(m) => ApiError::conflict(
            "terminal_unreachable",
            format!("cannot reach the card terminal ({m}): check its cable or network"),
        ),
    }
}

/// `POST /api/v1/orders/{id}/payments` with `"method": "card"`.
pub async fn pay_by_card(
    state: &Arc<AppState>,
    staff: &str,
    key: String,
    hash: String,
    order_id: uuid::Uuid,
    terminal_id: Option<Ident>,
) -> Result<Response, ApiError> {
    let _reservation = idempotency::reserve(state, staff, &key)?;
    if let Some(r) = idempotency::stored(state, staff, &key, &hash).await? {
        return Ok(r);
    }
    let oid = order_id.to_string();
    let wanted = terminal_id.map(|t| t.as_str().to_owned());
    let (order, terminal) = state
        .db
        .read(move |c| {
            let order = crate::http::orders::load_order(c, &oid)?;
            let terminals = devices::printers(c, DeviceKind::CardTerminal, None)?;
            let terminal = match wanted {
                Some(w) => terminals.into_iter().find(|t| t.id.as_str() == w),
                None => terminals.into_iter().next(),
            };
            Ok((order, terminal))
        })
        .await?;
    let order = order.ok_or_else(|| ApiError::not_found("order"))?;
    let terminal = terminal.ok_or_else(|| {
        ApiError::unprocessable(
            "no_card_terminal",
            "no card terminal is registered at this store: take cash, or register the terminal under Devices",
        )
    })?;
    if order.status.is_terminal() {
        return Err(ApiError::conflict(
            "order_closed",
            format!("the order is {}: nothing to pay", order.status),
        ));
    }
    let due = order.order.totals.total - order.paid;
    if due <= 0 {
        return Err(ApiError::conflict(
            "already_paid",
            "nothing is due on this order",
        ));
    }
    let currency = order.order.totals.currency;
    let numeric = currency.numeric().ok_or_else(|| {
        ApiError::unprocessable(
            "currency_unsupported",
            format!("the terminal cannot be asked for {currency}"),
        )
    })?;
    let tid = terminal.id.as_str().to_owned();
    {
        let mut busy = state.terminal_busy.0.lock().map_err(ApiError::internal)?;
        if !busy.insert(tid.clone()) {
            return Err(ApiError::conflict(
                "terminal_busy",
                format!("terminal {tid} is taking another payment: wait for it to finish"),
            ));
        }
    }
    let _claim = Claim(&state.terminal_busy, tid.clone());
    let pw = password(&state.config.terminal)?;
    let timeout = Duration::from_secs(state.config.terminal.timeout_secs.max(5));
    let transport = terminal.transport.clone();
    tracing::info!(order = %order_id, terminal = %tid, amount = due, "asking the card terminal for payment");
    let outcome = tokio::task::spawn_blocking(move || {
        let mut t = connect(&transport, pw)?;
        t.authorize(&AuthorizeRequest {
            amount: due,
            currency_numeric: numeric,
            timeout,
        })
    })
    .await
    .map_err(ApiError::internal)?;
    metrics::counter!("store_card_payments_total", "result" => match &outcome {
        Ok(_) => "approved",
        Err(TerminalError::Declined { .. }) => "declined",
        Err(TerminalError::Cancelled) => "cancelled",
        Err(_) => "failed",
    })
    .increment(1);
    let approval = match outcome {
        Ok(a) => {
            state.devices.update(&tid, |h| {
                h.state = crate::devices::HealthState::Online;
                h.last_error = None;
                h.last_seen_ms = Some(crate::db::now_ms());
            });
            a
        }
        Err(e) => {
            tracing::info!(order = %order_id, terminal = %tid, error = %e, "card payment not approved");
            // The terminal answered (a decline is a healthy terminal); silence or a dead line is not.
            if matches!(
                e,
                TerminalError::Declined { .. } | TerminalError::Cancelled | TerminalError::Busy
            ) {
                state.devices.update(&tid, |h| {
                    h.state = crate::devices::HealthState::Online;
                    h.last_error = None;
                    h.last_seen_ms = Some(crate::db::now_ms());
                });
            } else if matches!(e, TerminalError::Io(_) | TerminalError::Timeout) {
                let msg = e.to_string();
                state.devices.update(&tid, |h| {
                    h.state = crate::devices::HealthState::Offline;
                    h.last_error = Some(msg);
                });
            }
            return Err(map_error(e));
        }
    };
    if approval.amount != due {
        tracing::warn!(order = %order_id, asked = due, approved = approval.amount, "the terminal approved a different amount; recording what it approved");
    }
    let head = crate::printing::Letterhead::of(state);
    let by = staff.to_owned();
    let oid = order_id.to_string();
    let resp =
        idempotency::write_reserved(state, staff, key, hash, StatusCode::CREATED, move |ctx| {
            crate::http::orders::record_card_payment(
                ctx,
                &head,
                &oid,
                approval.amount,
                approval.reference,
                &by,
            )
        })
        .await?;
    state.lanes.kick();
    Ok(resp)
}
