//! The print queue: kitchen tickets, receipts and drawer kicks as durable jobs.
//!
//! **Enqueue in the same transaction.** A job is rendered to ESC/POS bytes and
//! inserted into `print_jobs` inside the write that caused it (placing an
//! order, taking a payment), so an acknowledged order always has its tickets
//! on disk, and printing never blocks order taking: the request returns as
//! soon as the transaction commits.
//!
//! **One lane per printer.** Each active printer has a task (its *lane*) that
//! owns the line to it: it sends that printer's due jobs oldest first, checks
//! the printer's real-time status (`DLE EOT`) before each job and every few
//! seconds when idle, and reports health to the device registry. A lane is
//! woken after every commit (it listens to the event bus) and by reprints.
//!
//! **An attempt is written before it is sent.** A lane records the attempt
//! (count, next retry time) before it sends the job, and records the result
//! before it sends anything else, retrying that write until the database takes
//! it. So a job whose state cannot be written (a full disk) is not sent again
//! and again: it is not sent until the attempt can be recorded, and once it has
//! printed it is never sent again by the same lane. Database errors back off
//! from [`DB_RETRY_FIRST`] to [`DB_RETRY_MAX`] and are logged once per wait.
//!
//! **Retries and the dead-letter list.** A failed attempt (unreachable, timed
//! out, paper out, cover open) is retried with exponential backoff; after
//! [`PrintConfig::attempts`] failures the job is `dead` and waits for a
//! manager, who can reprint it on the same or a backup printer
//! (`http::devices`). Jobs survive restarts: a lane picks up every `queued` job
//! when the node starts. A job that was on the wire when the node died is sent
//! again (at least once across a crash: a duplicate ticket beats a lost one).
//! Over TCP a job counts as printed when the printer has answered a status
//! question sent after it on the same connection (`drivers::transport::send`),
//! not when it closes the connection, so a slow printer does not print twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::device::DeviceKind;
use drivers::render::{
    DocLine, DocPayment, KitchenDoc, KitchenItem, PaperWidth, ReceiptDoc, TaxLine,
};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::db::{WriteCtx, WriteError};
use crate::devices::{Device, HealthState, PrinterHealth};
use crate::orders::{OrderView, PaymentView};
use crate::state::AppState;

/// First wait after the database refused a lane's write (a full disk); doubles with each refusal.
const DB_RETRY_FIRST: Duration = Duration::from_millis(250);
/// Longest wait between a lane's write attempts while the database refuses them: space freed
/// shows within seconds (a lane also wakes when the disk probe succeeds), and a lane waiting
/// for space logs one line per wait, not megabytes.
const DB_RETRY_MAX: Duration = Duration::from_secs(5);

/// Print queue settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintConfig {
    /// Failed attempts before a job goes to the dead-letter list.
    pub attempts: u32,
    /// First retry delay; doubles with each failure.
    pub retry_base_ms: u64,
    /// How long one send may take before it counts as failed.
    pub send_timeout_ms: u64,
    /// How often an idle lane asks its printer for its status.
    pub status_poll_ms: u64,
    /// Where `file` printers may write (besides /dev/usb/lp*); default `<data_dir>/print-files`.
    pub file_dir: Option<std::path::PathBuf>,
}

impl Default for PrintConfig {
    fn default() -> Self {
        PrintConfig {
            attempts: 3,
            retry_base_ms: 2_000,
            send_timeout_ms: 10_000,
            status_poll_ms: 5_000,
            file_dir: None,
        }
    }
}

/// What a print job prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Receipt,
    Kitchen,
    Drawer,
    Test,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Receipt => "receipt",
            JobKind::Kitchen => "kitchen",
            JobKind::Drawer => "drawer",
            JobKind::Test => "test",
        }
    }
    fn parse(s: &str) -> JobKind {
        match s {
            "receipt" => JobKind::Receipt,
            "kitchen" => JobKind::Kitchen,
            "drawer" => JobKind::Drawer,
            _ => JobKind::Test,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its printer (maybe after a failed attempt).
    Queued,
    /// Printed.
    Done,
    /// Failed every attempt; a manager must reprint or discard it.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            _ => return None,
        })
    }
}

/// A print job as the API shows it (without its bytes).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PrintJob {
    pub id: uuid::Uuid,
    pub device_id: String,
    pub kind: JobKind,
    pub order_id: Option<String>,
    pub station: Option<String>,
    /// What it is, for people: "Kitchen ticket S-0042 (grill)".
    pub label: String,
    pub state: JobState,
    pub attempts: u32,
    /// When the next attempt is due (queued jobs), Unix ms.
    pub next_attempt_ms: u64,
    pub last_error: Option<String>,
    pub created_ms: u64,
    pub printed_ms: Option<u64>,
}

const SELECT_JOB: &str = "SELECT id, device_id, kind, order_id, station, label, state, attempts, next_attempt_ms, last_error, created_ms, printed_ms FROM print_jobs";

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PrintJob> {
    let id: String = r.get("id")?;
    Ok(PrintJob {
        id: id.parse().unwrap_or_default(),
        device_id: r.get("device_id")?,
        kind: JobKind::parse(&r.get::<_, String>("kind")?),
        order_id: r.get("order_id")?,
        station: r.get("station")?,
        label: r.get("label")?,
        state: JobState::parse(&r.get::<_, String>("state")?).unwrap_or(JobState::Queued),
        attempts: r.get::<_, i64>("attempts")? as u32,
        next_attempt_ms: r.get::<_, i64>("next_attempt_ms")? as u64,
        last_error: r.get("last_error")?,
        created_ms: r.get::<_, i64>("created_ms")? as u64,
        printed_ms: r.get::<_, Option<i64>>("printed_ms")?.map(|v| v as u64),
    })
}

pub fn load_job(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<PrintJob>> {
    conn.prepare_cached(&format!("{SELECT_JOB} WHERE id = ?1"))?
        .query_row([id], job_from_row)
        .optional()
}

/// Jobs in `state` (or all), newest first.
pub fn list_jobs(
    conn: &rusqlite::Connection,
    state: Option<JobState>,
    limit: u32,
) -> rusqlite::Result<Vec<PrintJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_JOB} WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
    ))?;
    stmt.query_map(
        rusqlite::params![state.map(JobState::as_str), limit],
        job_from_row,
    )?
    .collect()
}

/// A job to insert.
pub struct NewJob<'a> {
    pub device_id: &'a str,
    pub kind: JobKind,
    pub order_id: Option<&'a str>,
    pub station: Option<&'a str>,
    pub label: String,
    pub payload: Vec<u8>,
}

/// Inserts a queued job in the caller's transaction, due at once; returns its id.
pub fn insert_job(ctx: &WriteCtx<'_>, job: NewJob<'_>) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now().as_i64();
    ctx.conn.prepare_cached(
        "INSERT INTO print_jobs (id, device_id, kind, order_id, station, label, payload, state, attempts, next_attempt_ms, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?8, ?8)",
    )?
    .execute(rusqlite::params![
        id,
        job.device_id,
        job.kind.as_str(),
        job.order_id,
        job.station,
        job.label,
        job.payload,
        now
    ])?;
    Ok(id)
}

/// The store's name and receipt lines, and the paper width.
pub struct Letterhead {
    pub name: String,
    pub lines: Vec<String>,
}

impl Letterhead {
    pub fn of(state: &AppState) -> Letterhead {
        let settings = state
            .docs
            .lock()
            .map(|d| crate::docs::settings_of(&d))
            .unwrap_or_default();
        Letterhead {
            name: settings
                .name
                .unwrap_or_else(|| state.config.store.name.clone()),
            lines: state.config.store.receipt_lines.clone(),
        }
    }
}

fn local_time(ms: u64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Where an order came from, as the kitchen says it.
fn channel_words(c: domain::order::Channel) -> &'static str {
    match c {
        domain::order::Channel::Pos => "Counter",
        domain::order::Channel::Kiosk => "Kiosk",
        domain::order::Channel::Online => "Online",
    }
}

/// `12:30`: a pickup time on a kitchen ticket (the node's local time, as the printed times are).
fn local_clock_time(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

fn modifiers(l: &domain::menu::PricedLine) -> Vec<String> {
    l.modifiers.iter().map(|m| m.name.clone()).collect()
}

/// The kitchen tickets of an order, one per station that has lines on it.
pub fn kitchen_docs(order: &OrderView, reprint: bool) -> Vec<KitchenDoc> {
    let mut by_station: BTreeMap<&str, Vec<KitchenItem>> = BTreeMap::new();
    for l in &order.order.lines {
        by_station
            .entry(l.station.as_str())
            .or_default()
            .push(KitchenItem {
                qty: l.quantity,
                name: l.name.clone(),
                modifiers: modifiers(l),
                note: l.note.clone(),
            });
    }
    let mut note = order.order.note.clone();
    if let Some(t) = &order.order.table {
        note = Some(match note {
            Some(n) => format!("Table {t}. {n}"),
            None => format!("Table {t}"),
        });
    }
    by_station
        .into_iter()
        .map(|(station, items)| KitchenDoc {
            station: station.to_owned(),
            ticket: order.ticket.clone(),
            channel: channel_words(order.order.channel).to_owned(),
            placed_at: local_time(order.created_ms),
            items,
            order_note: note.clone(),
            reprint,
            pickup_at: order.order.pickup_at.map(local_clock_time),
        })
        .collect()
}

/// A customer receipt for an order and its payments so far.
pub fn receipt_doc(head: &Letterhead, order: &OrderView, payments: &[PaymentView]) -> ReceiptDoc {
    let t = &order.order.totals;
    let mut taxes: BTreeMap<u32, i64> = BTreeMap::new();
    for l in &order.order.lines {
        *taxes.entry(l.tax_rate_bp.basis_points()).or_default() += l.tax;
    }
    let inclusive = matches!(t.tax_mode, domain::money::TaxMode::Inclusive);
    ReceiptDoc {
        store_name: head.name.clone(),
        store_lines: head.lines.clone(),
        ticket: order.ticket.clone(),
        order_id: order.id.to_string(),
        channel: order.order.channel.as_str().to_owned(),
        placed_at: local_time(order.created_ms),
        currency: t.currency.code().to_owned(),
        lines: order
            .order
            .lines
            .iter()
            .map(|l| DocLine {
                qty: l.quantity,
                name: l.name.clone(),
                modifiers: modifiers(l),
                note: l.note.clone(),
                amount: l.line_total,
            })
            .collect(),
        subtotal: t.subtotal,
        discount: t.discount,
        taxes: taxes
            .into_iter()
            .filter(|(_, amount)| *amount != 0)
            .map(|(bp, amount)| TaxLine {
                label: format!(
                    "{}Tax {}.{:02}%",
                    if inclusive { "incl. " } else { "" },
                    bp / 100,
                    bp % 100
                ),
                amount,
            })
            .collect(),
        total: t.total,
        payments: payments
            .iter()
            .map(|p| DocPayment {
                method: match p.method {
                    domain::payment::PaymentMethod::Cash => "cash".into(),
                    domain::payment::PaymentMethod::Card => "card".into(),
                },
                amount: p.amount,
                tendered: (p.method == domain::payment::PaymentMethod::Cash).then_some(p.tendered),
                change: (p.method == domain::payment::PaymentMethod::Cash).then_some(p.change),
                reference: p.reference.clone(),
            })
            .collect(),
        footer: Some("Thank you!".into()),
    }
}

/// Why a print job could not be queued with the write that causes it.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error(transparent)]
    Storage(#[from] rusqlite::Error),
    #[error("rendering a print job: {0}")]
    Render(String),
}

fn render_err(e: impl std::fmt::Display) -> EnqueueError {
    EnqueueError::Render(e.to_string())
}

/// Queues the kitchen tickets of a new order on each station's kitchen printer.
/// A station without a kitchen printer is left to its KDS screen.
pub fn enqueue_kitchen(ctx: &WriteCtx<'_>, order: &OrderView) -> Result<usize, EnqueueError> {
    let mut n = 0;
    // Tickets print the station's name ("Pizza Oven"); printers are found by its id.
    let menu = crate::menu::load_menu(ctx.conn).ok().flatten();
    for mut doc in kitchen_docs(order, false) {
        let station = doc.station.clone();
        if let Some(s) = menu
            .as_ref()
            .and_then(|m| m.menu.stations.iter().find(|s| s.id.as_str() == station))
        {
            doc.station = s.name.clone();
        }
        let printers =
            crate::devices::printers(ctx.conn, DeviceKind::KitchenPrinter, Some(&station))?;
        let Some(printer) = printers.first() else {
            continue;
        };
        let bytes = drivers::render::render_kitchen(&doc, PaperWidth::Mm80).map_err(render_err)?;
        insert_job(
            ctx,
            NewJob {
                device_id: printer.id.as_str(),
                kind: JobKind::Kitchen,
                order_id: Some(&order.id.to_string()),
                station: Some(&station),
                label: format!("Kitchen ticket {} ({})", order.ticket, doc.station),
                payload: bytes,
            },
        )?;
        n += 1;
    }
    Ok(n)
}

/// The receipt printer (the first registered) and, when asked, a drawer kick on it.
pub fn enqueue_receipt(
    ctx: &WriteCtx<'_>,
    head: &Letterhead,
    order: &OrderView,
    payments: &[PaymentView],
    kick_drawer: bool,
) -> Result<Option<String>, EnqueueError> {
    let printers = crate::devices::printers(ctx.conn, DeviceKind::ReceiptPrinter, None)?;
    let Some(printer) = printers.first() else {
        return Ok(None);
    };
    let order_id = order.id.to_string();
    if kick_drawer {
        // The drawer opens first, while the receipt prints.
        let drawers = crate::devices::printers(ctx.conn, DeviceKind::CashDrawer, None)?;
        let target = drawers
            .iter()
            .find_map(|d| match &d.transport {
                crate::devices::Transport::ViaPrinter { printer_id } => {
                    Some(printer_id.as_str().to_owned())
                }
                crate::devices::Transport::Serial { .. } => Some(d.id.as_str().to_owned()),
                _ => None,
            })
            .unwrap_or_else(|| printer.id.as_str().to_owned());
        insert_job(
            ctx,
            NewJob {
                device_id: &target,
                kind: JobKind::Drawer,
                order_id: Some(&order_id),
                station: None,
                label: format!("Open cash drawer ({})", order.ticket),
                payload: drivers::render::drawer_kick(),
            },
        )?;
    }
    let doc = receipt_doc(head, order, payments);
    let bytes = drivers::render::render_receipt(&doc, PaperWidth::Mm80).map_err(render_err)?;
    let id = insert_job(
        ctx,
        NewJob {
            device_id: printer.id.as_str(),
            kind: JobKind::Receipt,
            order_id: Some(&order_id),
            station: None,
            label: format!("Receipt {}", order.ticket),
            payload: bytes,
        },
    )?;
    Ok(Some(id))
}

/// The queue's runtime side: one lane task per printer.
#[derive(Default)]
pub struct Lanes {
    lanes: Mutex<HashMap<String, Lane>>,
}

struct Lane {
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
    device: Device,
}

impl Lanes {
    /// Wakes every lane: new jobs may be due.
    pub fn kick(&self) {
        if let Ok(lanes) = self.lanes.lock() {
            for l in lanes.values() {
                l.wake.notify_one();
            }
        }
    }

    /// Starts, restarts (transport changed) or stops the lane of each device to match the registry.
    pub fn sync(&self, state: &Arc<AppState>, devices: &[Device]) {
        let Ok(mut lanes) = self.lanes.lock() else {
            return;
        };
        let wanted: HashMap<&str, &Device> = devices
            .iter()
            // Printers, and cash drawers on their own serial line; never a card terminal's port.
            .filter(|d| {
                d.active
                    && d.transport.driver().is_some()
                    && (d.kind.is_printer() || d.kind == DeviceKind::CashDrawer)
            })
            .map(|d| (d.id.as_str(), d))
            .collect();
        lanes.retain(|id, lane| {
            let keep = wanted.get(id.as_str()).is_some_and(|d| {
                d.transport == lane.device.transport && d.kind == lane.device.kind
            });
            if !keep {
                lane.task.abort();
            }
            keep
        });
        for (id, d) in wanted {
            if lanes.contains_key(id) {
                continue;
            }
            let wake = Arc::new(Notify::new());
            let task = tokio::spawn(run_lane(state.clone(), (*d).clone(), wake.clone()));
            lanes.insert(
                id.to_owned(),
                Lane {
                    wake,
                    task,
                    device: (*d).clone(),
                },
            );
        }
    }

    pub fn stop_all(&self) {
        if let Ok(mut lanes) = self.lanes.lock() {
            for (_, l) in lanes.drain() {
                l.task.abort();
            }
        }
    }
}

/// Starts the lanes of every registered printer and wakes them after each commit.
pub async fn start(state: Arc<AppState>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    // After a restart, jobs waiting out a retry delay are tried at once: restarts often follow a fix.
    // Not fatal (a full disk refuses it): the jobs then wait out their delay.
    let resumed = state
        .db
        .write(|ctx| -> Result<usize, WriteError> {
            Ok(ctx.conn.execute(
                "UPDATE print_jobs SET next_attempt_ms = ?1 WHERE state = 'queued' AND next_attempt_ms > ?1",
                [ctx.now().as_i64()],
            )?)
        })
        .await;
    if let Err(e) = resumed {
        tracing::warn!(error = %e, "could not make waiting print jobs due now");
    }
    let devices = state.db.read(|c| crate::devices::list(c, false)).await?;
    state.lanes.sync(&state, &devices);
    let mut bus = state.bus.subscribe();
    let s = state.clone();
    Ok(tokio::spawn(async move {
        loop {
            match bus.recv().await {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => s.lanes.kick(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }))
}

/// The next queued job of one printer.
struct Due {
    id: String,
    due_ms: u64,
    attempts: u32,
    payload: Vec<u8>,
    label: String,
}

fn next_job(conn: &rusqlite::Connection, device: &str) -> rusqlite::Result<Option<Due>> {
    conn.prepare_cached(
        "SELECT id, next_attempt_ms, attempts, payload, label FROM print_jobs
         WHERE device_id = ?1 AND state = 'queued' ORDER BY next_attempt_ms, id LIMIT 1",
    )?
    .query_row([device], |r| {
        Ok(Due {
            id: r.get(0)?,
            due_ms: r.get::<_, i64>(1)? as u64,
            attempts: r.get::<_, i64>(2)? as u32,
            payload: r.get(3)?,
            label: r.get(4)?,
        })
    })
    .optional()
}

/// Sends one job: checks the printer's status first where the line supports it.
fn attempt(
    t: &drivers::transport::Transport,
    bytes: &[u8],
    timeout: Duration,
) -> (Result<(), String>, Option<PrinterHealth>) {
    use drivers::transport::{TransportError, query_status, send};
    let health = match query_status(t, Duration::from_millis(1500).min(timeout)) {
        Ok(s) => {
            let h = PrinterHealth::from_status(&s);
            if let Some(why) = h.blocker() {
                return (Err(why.to_owned()), Some(h));
            }
            if !s.online {
                return (Err("printer offline".to_owned()), Some(h));
            }
            Some(h)
        }
        // Not every line or printer answers status queries: then just print.
        Err(TransportError::Unsupported(_))
        | Err(TransportError::Timeout)
        | Err(TransportError::BadReply(_)) => None,
        Err(e) => return (Err(e.to_string()), None),
    };
    (send(t, bytes, timeout).map_err(|e| e.to_string()), health)
}

async fn run_lane(state: Arc<AppState>, device: Device, wake: Arc<Notify>) {
    let Some(transport) = device.transport.driver() else {
        return;
    };
    let id = device.id.as_str().to_owned();
    let cfg = state.config.print.clone();
    let timeout = Duration::from_millis(cfg.send_timeout_ms.max(100));
    let poll = Duration::from_millis(cfg.status_poll_ms.max(200));
    let mut last_poll = tokio::time::Instant::now() - poll;
    let mut db_wait = DbBackoff::default();
    loop {
        let dev = id.clone();
        let next = match state.db.read(move |c| next_job(c, &dev)).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(device = %id, error = %e, "print lane cannot read its queue");
                None
            }
        };
        let now = state.now().as_u64();
        match next {
            Some(job) if job.due_ms <= now => {
                let outcome = Outcome::new(&state.config.print, job.attempts);
                // The attempt is on disk before a byte is sent, or nothing is sent.
                match claim(&state, &job.id, now + outcome.backoff_ms).await {
                    Ok(true) => db_wait.reset(),
                    // Reprinted, discarded or already done meanwhile.
                    Ok(false) => continue,
                    Err(e) => {
                        poll_if_due(&state, &id, &transport, timeout, poll, &mut last_poll).await;
                        db_wait.wait(&id, &e, &wake).await;
                        continue;
                    }
                }
                let t = transport.clone();
                let payload = job.payload;
                let (result, health) =
                    tokio::task::spawn_blocking(move || attempt(&t, &payload, timeout))
                        .await
                        .unwrap_or_else(|e| (Err(format!("print task failed: {e}")), None));
                last_poll = tokio::time::Instant::now();
                let after = outcome.after(&result);
                report_health(&state, &id, &result, health);
                // A printed job left `queued` would print again: nothing else is sent until its
                // result is written.
                while let Err(e) = record(&state, &job.id, after, &result).await {
                    poll_if_due(&state, &id, &transport, timeout, poll, &mut last_poll).await;
                    db_wait.wait(&id, &e, &wake).await;
                }
                db_wait.reset();
                announce(
                    &state,
                    &id,
                    &job.id,
                    &job.label,
                    job.attempts,
                    after,
                    &result,
                    outcome.backoff_ms,
                );
                continue;
            }
            Some(job) => {
                // Waiting out a retry delay: when the printer answers again, retry at once.
                if last_poll.elapsed() >= poll {
                    last_poll = tokio::time::Instant::now();
                    if poll_status(&state, &id, &transport, timeout).await {
                        retry_now(&state, &id).await;
                        continue;
                    }
                }
                let wait = Duration::from_millis(job.due_ms - now).min(poll);
                let _ = tokio::time::timeout(wait, wake.notified()).await;
            }
            None => {
                if last_poll.elapsed() >= poll {
                    poll_status(&state, &id, &transport, timeout).await;
                    last_poll = tokio::time::Instant::now();
                }
                let _ = tokio::time::timeout(poll, wake.notified()).await;
            }
        }
    }
}

/// While a lane waits for the database, nothing is sent, but the printer's health is still
/// news for the manager: asks for it every `poll`.
async fn poll_if_due(
    state: &AppState,
    id: &str,
    transport: &drivers::transport::Transport,
    timeout: Duration,
    poll: Duration,
    last_poll: &mut tokio::time::Instant,
) {
    if last_poll.elapsed() >= poll {
        *last_poll = tokio::time::Instant::now();
        poll_status(state, id, transport, timeout).await;
    }
}

/// How long a lane waits before its next write after the database refused one.
#[derive(Default)]
struct DbBackoff {
    next: Option<Duration>,
}

impl DbBackoff {
    /// Logs the refusal and waits (or until the lane is woken: a commit or the disk probe
    /// succeeded, so there may be room again).
    async fn wait(&mut self, device: &str, e: &WriteError, wake: &Notify) {
        let wait = self.next.unwrap_or(DB_RETRY_FIRST);
        self.next = Some((wait * 2).min(DB_RETRY_MAX));
        tracing::error!(device, error = %e, disk_full = e.is_disk_full(), retry_in_ms = wait.as_millis() as u64,
            "print lane cannot write its queue; nothing is sent until it can");
        let _ = tokio::time::timeout(wait, wake.notified()).await;
    }

    fn reset(&mut self) {
        self.next = None;
    }
}

/// What an attempt leads to, decided before it is made.
#[derive(Clone, Copy)]
struct Outcome {
    /// Delay before the next attempt if this one fails.
    backoff_ms: u64,
    /// This is the last attempt allowed.
    last: bool,
}

impl Outcome {
    fn new(cfg: &PrintConfig, attempts_before: u32) -> Outcome {
        Outcome {
            backoff_ms: cfg
                .retry_base_ms
                .saturating_mul(1u64 << attempts_before.min(16)),
            last: attempts_before + 1 >= cfg.attempts.max(1),
        }
    }

    fn after(self, result: &Result<(), String>) -> JobState {
        match result {
            Ok(()) => JobState::Done,
            Err(_) if self.last => JobState::Dead,
            Err(_) => JobState::Queued,
        }
    }
}

/// Counts the attempt and moves the job's next try past this one's backoff; false when
/// the job is no longer queued.
async fn claim(state: &AppState, job_id: &str, retry_at_ms: u64) -> Result<bool, WriteError> {
    let job = job_id.to_owned();
    state
        .db
        .write(move |ctx| -> Result<bool, WriteError> {
            let n = ctx.conn.execute(
                "UPDATE print_jobs SET attempts = attempts + 1, next_attempt_ms = ?1, updated_ms = ?2
                 WHERE id = ?3 AND state = 'queued'",
                rusqlite::params![retry_at_ms as i64, ctx.now().as_i64(), job],
            )?;
            Ok(n == 1)
        })
        .await
}

/// Makes a printer's waiting jobs due now.
async fn retry_now(state: &AppState, device: &str) {
    let device = device.to_owned();
    let r = state
        .db
        .write(move |ctx| -> Result<usize, WriteError> {
            Ok(ctx.conn.execute(
                "UPDATE print_jobs SET next_attempt_ms = ?1 WHERE device_id = ?2 AND state = 'queued' AND next_attempt_ms > ?1",
                rusqlite::params![ctx.now().as_i64(), device],
            )?)
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "could not reschedule print jobs");
    }
}

/// Asks the printer for its status and records it; true when it answered and can print.
async fn poll_status(
    state: &AppState,
    id: &str,
    transport: &drivers::transport::Transport,
    timeout: Duration,
) -> bool {
    use drivers::transport::{TransportError, query_status};
    let t = transport.clone();
    let r = tokio::task::spawn_blocking(move || {
        query_status(&t, Duration::from_millis(1500).min(timeout))
    })
    .await;
    match r {
        Ok(Ok(s)) => {
            let h = PrinterHealth::from_status(&s);
            let ready = s.online && h.blocker().is_none();
            state.devices.update(id, |health| {
                health.printer = Some(h);
                health.last_seen_ms = Some(state.now().as_u64());
                match h.blocker() {
                    Some(why) => {
                        health.state = HealthState::Attention;
                        health.last_error = Some(why.to_owned());
                    }
                    None if !s.online => {
                        health.state = HealthState::Attention;
                        health.last_error = Some("printer offline".into());
                    }
                    None => {
                        health.state = HealthState::Online;
                        health.last_error = None;
                    }
                }
            });
            ready
        }
        // The line works but the printer does not report status: nothing to learn.
        Ok(Err(TransportError::Unsupported(_))) => false,
        Ok(Err(e)) => {
            state.devices.update(id, |health| {
                health.state = HealthState::Offline;
                health.last_error = Some(e.to_string());
            });
            false
        }
        Err(_) => false,
    }
}

/// Writes the result of a claimed attempt.
async fn record(
    state: &AppState,
    job_id: &str,
    after: JobState,
    result: &Result<(), String>,
) -> Result<(), WriteError> {
    let job = job_id.to_owned();
    let err = result.as_ref().err().cloned();
    state
        .db
        .write(move |ctx| -> Result<(), WriteError> {
            let now = ctx.now().as_i64();
            ctx.conn.execute(
                "UPDATE print_jobs SET state = ?1, last_error = ?2, updated_ms = ?3,
                        printed_ms = CASE WHEN ?1 = 'done' THEN ?3 ELSE printed_ms END
                 WHERE id = ?4 AND state = 'queued'",
                rusqlite::params![after.as_str(), err, now, job],
            )?;
            Ok(())
        })
        .await
}

/// The printer's health as the attempt showed it.
fn report_health(
    state: &AppState,
    device: &str,
    result: &Result<(), String>,
    health: Option<PrinterHealth>,
) {
    metrics::counter!("store_print_attempts_total", "result" => if result.is_ok() { "ok" } else { "failed" }).increment(1);
    state.devices.update(device, |h| {
        if let Some(p) = health {
            h.printer = Some(p);
        }
        match result {
            Ok(()) => {
                h.state = HealthState::Online;
                h.last_error = None;
                h.last_seen_ms = Some(state.now().as_u64());
            }
            Err(e) => {
                h.state = if health.is_some() {
                    HealthState::Attention
                } else {
                    HealthState::Offline
                };
                h.last_error = Some(e.clone());
            }
        }
    });
}

/// Tells event streams (and the log) what became of a recorded attempt.
#[allow(clippy::too_many_arguments)]
fn announce(
    state: &AppState,
    device: &str,
    job_id: &str,
    label: &str,
    attempts_before: u32,
    after: JobState,
    result: &Result<(), String>,
    backoff_ms: u64,
) {
    let error = result.as_ref().err();
    match after {
        JobState::Dead => {
            tracing::warn!(job = job_id, device, label, error = ?error, "print job failed every attempt: dead-letter list");
            let _ = state.notices.send(serde_json::json!({
                "type": "print.job",
                "data": { "id": job_id, "device_id": device, "label": label, "state": "dead", "error": error },
            }));
        }
        JobState::Queued => {
            tracing::info!(job = job_id, device, attempt = attempts_before + 1, retry_in_ms = backoff_ms, error = ?error, "print attempt failed, will retry");
        }
        JobState::Done => {
            let _ = state.notices.send(serde_json::json!({
                "type": "print.job",
                "data": { "id": job_id, "device_id": device, "label": label, "state": "done" },
            }));
        }
    }
}
