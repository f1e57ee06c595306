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
//!
//! **A crash mid-payment.** Before the terminal is asked, the attempt is
//! written (`card_attempts`, state `asking`); the approved payment is recorded
//! in the same transaction that settles the attempt. An attempt still
//! `asking` when the node starts was cut off by a crash: the node asks the
//! terminal for its last transaction (ZVT Repeat Receipt, 06 20) at start-up
//! and every [`RECOVERY_EVERY`] until the terminal answers. An approved one
//! that matches (amount, a reference not yet recorded) is recorded once,
//! under the attempt's Idempotency-Key, so the till's retry gets it; none, or
//! a failed one, means nothing was charged; anything else is left
//! `unsettled` for a manager (`GET /api/v1/card-payments/unsettled`). While an
//! order has an open attempt, a new card payment for it is refused (409
//! `payment_unsettled`): it could charge the customer twice.

use domain::clock::Millis;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::Ident;
use domain::device::DeviceKind;
use domain::money::Currency;
use domain::payment::PaymentError;
use drivers::terminal::{AuthorizeRequest, PaymentTerminal, TerminalError};
use serde::{Deserialize, Serialize};

use crate::db::{WriteCtx, WriteError};
use crate::devices::{self, Transport};
use crate::orders::{self, OrdersError, Tender};
use crate::printing::Letterhead;
use crate::state::AppState;

/// Why a card payment was not taken (or an attempt not settled). `http::error` maps
/// each case to the answer the API documents.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The order is missing, closed or has nothing due.
    #[error(transparent)]
    Order(#[from] OrdersError),
    #[error(
        "no card terminal is registered at this store: take cash, or register the terminal under Devices"
    )]
    NoTerminal,
    #[error("the terminal cannot be asked for {0}")]
    CurrencyUnsupported(Currency),
    #[error("terminal {0} is taking another payment: wait for it to finish")]
    TerminalBusy(String),
    #[error(
        "an earlier card payment for this order may have been charged and is not settled yet: \
         a manager must check it (unsettled card payments) before the card is asked again"
    )]
    Unsettled,
    /// What the terminal answered, or why it could not be asked.
    #[error(transparent)]
    Terminal(TerminalError),
    #[error("terminal.password must be six digits")]
    BadPassword,
    #[error(transparent)]
    Storage(#[from] rusqlite::Error),
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A poisoned lock or a blocking task that did not finish.
    #[error("{0}")]
    Internal(String),
}

/// A payment the terminal approved, to be recorded ([`record_charged`]).
#[derive(Debug)]
pub struct Charged {
    /// The `card_attempts` row it settles.
    attempt: String,
    amount: i64,
    reference: String,
}

/// How often attempts cut off by a crash are retried while their terminal does
/// not answer: soon enough that the till sees the payment within a minute of
/// the terminal coming back, rarely enough not to disturb it.
pub const RECOVERY_EVERY: Duration = Duration::from_secs(30);

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

/// A terminal held for one payment (or one recovery question); released when dropped.
pub struct Claim<'a>(&'a Busy, String);
impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.0.lock() {
            s.remove(&self.1);
        }
    }
}

fn password(cfg: &TerminalConfig) -> Result<[u8; 3], CardError> {
    let d = cfg.password.as_bytes();
    if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
        return Err(CardError::BadPassword);
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

/// Asks the card terminal (`terminal_id`, or the store's first) for the balance of order
/// `order_id` and waits for the customer. The caller holds the request's `key` (with its
/// `hash`), which the attempt keeps so crash recovery can store the answer under it; it
/// then records the approved payment with [`record_charged`] while it still holds the
/// returned [`Claim`]: until the payment is recorded its attempt is open, and crash
/// recovery must not ask the terminal about it meanwhile.
pub async fn charge<'a>(
    state: &'a Arc<AppState>,
    staff: &str,
    key: &str,
    hash: &str,
    order_id: uuid::Uuid,
    terminal_id: Option<Ident>,
) -> Result<(Charged, Claim<'a>), CardError> {
    let oid = order_id.to_string();
    let wanted = terminal_id.map(|t| t.as_str().to_owned());
    let (order, terminal) = state
        .db
        .read(move |c| {
            let order = orders::load(c, &oid);
            let terminals = devices::printers(c, DeviceKind::CardTerminal, None)?;
            let terminal = match wanted {
                Some(w) => terminals.into_iter().find(|t| t.id.as_str() == w),
                None => terminals.into_iter().next(),
            };
            Ok((order, terminal))
        })
        .await?;
    let order = order?.ok_or(OrdersError::NotFound)?;
    let terminal = terminal.ok_or(CardError::NoTerminal)?;
    if order.status.is_terminal() {
        return Err(OrdersError::Closed(order.status).into());
    }
    let due = order.order.totals.total - order.paid;
    if due <= 0 {
        return Err(OrdersError::Payment(PaymentError::NothingDue).into());
    }
    let currency = order.order.totals.currency;
    let numeric = currency
        .numeric()
        .ok_or(CardError::CurrencyUnsupported(currency))?;
    let tid = terminal.id.as_str().to_owned();
    {
        let mut busy = state.terminal_busy.0.lock().map_err(poisoned)?;
        if !busy.insert(tid.clone()) {
            return Err(CardError::TerminalBusy(tid));
        }
    }
    let claim = Claim(&state.terminal_busy, tid.clone());
    let pw = password(&state.config.terminal)?;
    let attempt = open_attempt(state, &order_id.to_string(), &tid, due, staff, key, hash).await?;
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
    .map_err(|e| CardError::Internal(e.to_string()))?;
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
                h.last_seen_ms = Some(state.now().as_u64());
            });
            a
        }
        Err(e) => {
            tracing::info!(order = %order_id, terminal = %tid, error = %e, "card payment not approved");
            // Best effort: an attempt left open is settled by asking the terminal later.
            settle_attempt(state, &attempt, "not_charged", None, Some(e.to_string())).await;
            // The terminal answered (a decline is a healthy terminal); silence or a dead line is not.
            if matches!(
                e,
                TerminalError::Declined { .. } | TerminalError::Cancelled | TerminalError::Busy
            ) {
                state.devices.update(&tid, |h| {
                    h.state = crate::devices::HealthState::Online;
                    h.last_error = None;
                    h.last_seen_ms = Some(state.now().as_u64());
                });
            } else if matches!(e, TerminalError::Io(_) | TerminalError::Timeout) {
                let msg = e.to_string();
                state.devices.update(&tid, |h| {
                    h.state = crate::devices::HealthState::Offline;
                    h.last_error = Some(msg);
                });
            }
            return Err(CardError::Terminal(e));
        }
    };
    if approval.amount != due {
        tracing::warn!(order = %order_id, asked = due, approved = approval.amount, "the terminal approved a different amount; recording what it approved");
    }
    let charged = Charged {
        attempt,
        amount: approval.amount,
        reference: approval.reference,
    };
    Ok((charged, claim))
}

/// Records an approved card payment of order `order_id` and settles its attempt, in the
/// caller's transaction. Returns the payment and the order after it.
pub fn record_charged(
    ctx: &mut WriteCtx<'_>,
    head: &Letterhead,
    order_id: &str,
    charged: Charged,
    by: &str,
    now: Millis,
) -> Result<serde_json::Value, OrdersError> {
    mark_attempt(
        ctx,
        &charged.attempt,
        "recorded",
        Some(&charged.reference),
        None,
    )?;
    let tender = Tender::Card {
        amount: charged.amount,
        reference: charged.reference,
    };
    orders::record_payment(ctx, head, order_id, tender, by, now)
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> CardError {
    CardError::Internal(e.to_string())
}

/// A card payment the node asked a terminal for and has not settled: the
/// terminal may have charged the card (state `asking`: the node was cut off;
/// `unsettled`: the terminal's answer did not settle it).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardAttempt {
    pub id: String,
    pub order_id: String,
    /// The card terminal's device id.
    pub device_id: String,
    /// Asked for, minor units.
    pub amount: i64,
    /// `asking` (the node is still finding out) or `unsettled` (a manager must check the terminal's journal).
    pub state: String,
    /// The terminal's reference of a payment that may be this one.
    pub reference: Option<String>,
    /// What the node knows, for the manager.
    pub note: Option<String>,
    pub staff_id: String,
    pub created_ms: u64,
    /// The request's Idempotency-Key and hash, to store the recovered answer under.
    #[serde(skip)]
    idem_key: String,
    #[serde(skip)]
    request_hash: String,
}

/// Writes the attempt before the terminal is asked; refuses a second payment while one is open.
async fn open_attempt(
    state: &AppState,
    order_id: &str,
    device: &str,
    amount: i64,
    staff: &str,
    key: &str,
    hash: &str,
) -> Result<String, CardError> {
    let id = uuid::Uuid::now_v7().to_string();
    let row = (
        id.clone(),
        order_id.to_owned(),
        device.to_owned(),
        staff.to_owned(),
        key.to_owned(),
        hash.to_owned(),
    );
    state
        .db
        .write(move |ctx| -> Result<(), CardError> {
            let (id, order, device, staff, key, hash) = row;
            let open: i64 = ctx.conn.query_row(
                "SELECT COUNT(*) FROM card_attempts WHERE order_id = ?1 AND state IN ('asking', 'unsettled')",
                [&order],
                |r| r.get(0),
            )?;
            if open > 0 {
                return Err(CardError::Unsettled);
            }
            let now = ctx.now().as_i64();
            ctx.conn.execute(
                "INSERT INTO card_attempts (id, order_id, device_id, amount, staff_id, idem_key, request_hash, state, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'asking', ?8, ?8)",
                rusqlite::params![id, order, device, amount, staff, key, hash, now],
            )?;
            Ok(())
        })
        .await?;
    Ok(id)
}

/// Moves an open attempt to `to`; false when it was settled already.
fn mark_attempt(
    ctx: &WriteCtx<'_>,
    id: &str,
    to: &str,
    reference: Option<&str>,
    note: Option<&str>,
) -> rusqlite::Result<bool> {
    let n = ctx.conn.execute(
        "UPDATE card_attempts SET state = ?1, reference = COALESCE(?2, reference), note = COALESCE(?3, note), updated_ms = ?4
         WHERE id = ?5 AND state IN ('asking', 'unsettled')",
        rusqlite::params![to, reference, note, ctx.now().as_i64(), id],
    )?;
    Ok(n == 1)
}

/// Best effort: an attempt left open is settled later by asking the terminal.
async fn settle_attempt(
    state: &AppState,
    id: &str,
    to: &'static str,
    reference: Option<String>,
    note: Option<String>,
) {
    let id = id.to_owned();
    let written = state
        .db
        .write(move |ctx| -> Result<bool, WriteError> {
            Ok(mark_attempt(
                ctx,
                &id,
                to,
                reference.as_deref(),
                note.as_deref(),
            )?)
        })
        .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not settle a card attempt; the terminal will be asked again");
    }
}

/// Card payments that may have been charged and are not recorded, oldest first.
pub fn unsettled(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<CardAttempt>> {
    conn.prepare_cached(
        "SELECT id, order_id, device_id, amount, state, reference, note, staff_id, created_ms, idem_key, request_hash
         FROM card_attempts WHERE state IN ('asking', 'unsettled') ORDER BY id",
    )?
    .query_map([], |r| {
        Ok(CardAttempt {
            id: r.get(0)?,
            order_id: r.get(1)?,
            device_id: r.get(2)?,
            amount: r.get(3)?,
            state: r.get(4)?,
            reference: r.get(5)?,
            note: r.get(6)?,
            staff_id: r.get(7)?,
            created_ms: r.get::<_, i64>(8)? as u64,
            idem_key: r.get(9)?,
            request_hash: r.get(10)?,
        })
    })?
    .collect()
}

/// Asks each terminal with attempts cut off by a crash for its last
/// transaction: at start-up, then every [`RECOVERY_EVERY`] while any is open.
pub async fn recover(state: Arc<AppState>) {
    loop {
        let open = match recover_once(&state).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "checking card payments cut off by a crash");
                true
            }
        };
        if !open {
            return;
        }
        tokio::time::sleep(RECOVERY_EVERY).await;
    }
}

/// One round; true while attempts remain to ask about.
async fn recover_once(state: &Arc<AppState>) -> Result<bool, CardError> {
    let (attempts, terminals) = state
        .db
        .read(|c| {
            let all = unsettled(c)?;
            let terminals = devices::printers(c, DeviceKind::CardTerminal, None)?;
            Ok((all, terminals))
        })
        .await?;
    let mut remaining = false;
    let mut by_terminal: std::collections::BTreeMap<String, Vec<CardAttempt>> = Default::default();
    for a in attempts.into_iter().filter(|a| a.state == "asking") {
        by_terminal.entry(a.device_id.clone()).or_default().push(a);
    }
    for (tid, mut asking) in by_terminal {
        let Some(terminal) = terminals.iter().find(|t| t.id.as_str() == tid) else {
            for a in asking {
                let note = "the card terminal was removed before the node learnt the outcome: check its journal";
                settle_attempt(state, &a.id, "unsettled", None, Some(note.into())).await;
            }
            continue;
        };
        // A payment being taken on the terminal right now is not disturbed: next round.
        {
            let mut busy = state.terminal_busy.0.lock().map_err(poisoned)?;
            if !busy.insert(tid.clone()) {
                remaining = true;
                continue;
            }
        }
        let _claim = Claim(&state.terminal_busy, tid.clone());
        let pw = password(&state.config.terminal)?;
        let transport = terminal.transport.clone();
        let last = tokio::task::spawn_blocking(move || connect(&transport, pw)?.last_transaction())
            .await
            .map_err(|e| CardError::Internal(e.to_string()))?;
        let last = match last {
            Ok(last) => last,
            Err(e) => {
                tracing::warn!(terminal = %tid, error = %e, "cannot ask the card terminal for its last transaction; will retry");
                remaining = true;
                continue;
            }
        };
        // Only the newest attempt can be the terminal's last transaction; older ones need the journal.
        let Some(newest) = asking.pop() else { continue };
        for a in asking {
            let note = "a later payment followed on the terminal: check its journal";
            settle_attempt(state, &a.id, "unsettled", None, Some(note.into())).await;
        }
        settle_from_terminal(state, newest, last).await?;
    }
    Ok(remaining)
}

/// Records, clears or reports one attempt from the terminal's last transaction.
async fn settle_from_terminal(
    state: &Arc<AppState>,
    attempt: CardAttempt,
    last: Option<drivers::terminal::Approval>,
) -> Result<(), CardError> {
    let head = Letterhead::of(state);
    let a = attempt.clone();
    let outcome = state
        .db
        .write(move |ctx| -> Result<&'static str, CardError> {
            let Some(approval) = last else {
                let note = "the terminal has no approved payment to repeat";
                mark_attempt(ctx, &a.id, "not_charged", None, Some(note))?;
                return Ok("not charged");
            };
            let recorded: bool = ctx.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM payments WHERE reference = ?1)",
                [&approval.reference],
                |r| r.get(0),
            )?;
            if recorded {
                let note = "the terminal's last payment is recorded already";
                mark_attempt(ctx, &a.id, "not_charged", None, Some(note))?;
                return Ok("not charged");
            }
            let order = orders::load(ctx.conn, &a.order_id)?;
            let due = order.map_or(0, |o| o.order.totals.total - o.paid);
            if approval.amount != a.amount || approval.amount > due {
                let note = format!(
                    "the terminal's last payment ({}, {} minor units) does not match this one ({} asked, {} due): check its journal",
                    approval.reference, approval.amount, a.amount, due
                );
                mark_attempt(ctx, &a.id, "unsettled", Some(&approval.reference), Some(&note))?;
                return Ok("unsettled");
            }
            let note = "recovered from the terminal's last transaction after a restart";
            if !mark_attempt(ctx, &a.id, "recorded", Some(&approval.reference), Some(note))? {
                return Ok("settled already");
            }
            let tender = Tender::Card { amount: approval.amount, reference: approval.reference };
            let now = ctx.now();
            let value = orders::record_payment(ctx, &head, &a.order_id, tender, &a.staff_id, now)?;
            // The till's retry with the same key gets this payment back (201, as it would have).
            crate::replay::store(ctx.conn, &a.staff_id, &a.idem_key, &a.request_hash, 201, &value, now)?;
            Ok("recorded")
        })
        .await?;
    tracing::warn!(attempt = %attempt.id, order = %attempt.order_id, outcome, "a card payment cut off by a restart was settled from the terminal's last transaction");
    state.lanes.kick();
    Ok(())
}
