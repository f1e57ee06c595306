//! Refunds of card payments (migration 0007): a refund is written, and its
//! amount held against what was captured, before the processor is asked; the
//! hold is taken with the payment's row locked, so two refunds of one order
//! (two managers, the hub and a node, two replicas) never add up to more than
//! was captured.

use sqlx::Row;

use super::payments::CardState;
use super::{BeginWrite, Db};
use crate::payments::reconcile::{OurCapture, OurRefund};

/// Where a refund stands (the `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundState {
    /// Asked for at a store node; not checked yet.
    Requested,
    /// Checked and held; the processor has not confirmed it yet.
    Pending,
    Succeeded,
    Declined,
}

impl RefundState {
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundState::Requested => "requested",
            RefundState::Pending => "pending",
            RefundState::Succeeded => "succeeded",
            RefundState::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<RefundState> {
        Some(match s {
            "requested" => RefundState::Requested,
            "pending" => RefundState::Pending,
            "succeeded" => RefundState::Succeeded,
            "declined" => RefundState::Declined,
            _ => return None,
        })
    }
}

/// Who asked for a refund (the `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundSource {
    /// A manager through the hub's merchant API.
    Hub,
    /// A manager at the store's till (a synced `refund.requested` fact).
    Node,
    /// The store ended a captured order: everything that remains goes back.
    StoreCancel,
    /// Made at the processor, outside us (its `charge.refunded` event).
    Processor,
}

impl RefundSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundSource::Hub => "hub",
            RefundSource::Node => "node",
            RefundSource::StoreCancel => "store_cancel",
            RefundSource::Processor => "processor",
        }
    }
}

/// A refund row.
#[derive(Debug, Clone)]
pub struct RefundRow {
    pub id: String,
    pub order_id: String,
    pub store_id: String,
    /// Minor units; `None` only while a node's "everything that remains" is unchecked.
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub requested_by: String,
    pub source: String,
    pub state: RefundState,
    /// The processor's refund id.
    pub processor_ref: Option<String>,
    /// Why it was declined, in staff's words.
    pub problem: Option<String>,
    /// Its outcome is in the store's log.
    pub recorded: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A refund to write.
#[derive(Debug)]
pub struct NewRefund<'a> {
    pub id: &'a str,
    pub order_id: &'a str,
    pub store_id: &'a str,
    /// `None`: everything not given back yet.
    pub amount: Option<i64>,
    pub reason: Option<&'a str>,
    pub requested_by: &'a str,
    pub source: RefundSource,
    pub idempotency_key: Option<&'a str>,
    pub now: i64,
}

/// Why a refund cannot be held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The order was not paid by card online (pay at pickup, a counter order, unknown).
    NotPaidByCard,
    /// Paid by card, but nothing captured (still held, released, never paid).
    NotCaptured(CardState),
    /// More than what remains of the capture (`remaining` may be 0).
    Exceeds { remaining: i64 },
}

impl Refusal {
    /// In staff's words (a declined request from a node shows this).
    pub fn message(&self) -> String {
        match self {
            Refusal::NotPaidByCard => "This order was not paid by card online.".into(),
            Refusal::NotCaptured(_) => {
                "Nothing has been charged for this order yet, so there is nothing to give back."
                    .into()
            }
            Refusal::Exceeds { remaining: 0 } => {
                "Everything paid for this order has already been given back.".into()
            }
            Refusal::Exceeds { remaining } => format!(
                "Only {} (minor units) of this order's payment is left to give back.",
                remaining
            ),
        }
    }
}

/// What holding a refund did.
#[derive(Debug)]
pub enum Hold {
    /// Written (or checked) and held: ask the processor.
    Held(RefundRow),
    /// A refund with this id or key exists already: as it stands.
    Existing(RefundRow),
    Refused(Refusal),
}

macro_rules! refund_columns {
    () => {
        "id, order_id, store_id, amount, reason, requested_by, source, state, processor_ref, problem, \
         recorded, created_at, updated_at"
    };
}

fn refund_row<R>(r: &R) -> Result<RefundRow, sqlx::Error>
where
    R: Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> bool: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get("state")?;
    Ok(RefundRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        store_id: r.try_get("store_id")?,
        amount: r.try_get("amount")?,
        reason: r.try_get("reason")?,
        requested_by: r.try_get("requested_by")?,
        source: r.try_get("source")?,
        state: RefundState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown refund state {state:?}").into()))?,
        processor_ref: r.try_get("processor_ref")?,
        problem: r.try_get("problem")?,
        recorded: r.try_get("recorded")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inside a write transaction: locks the order's card payment and says how much
/// of it may still be given back, or why nothing may.
macro_rules! remaining_in {
    ($tx:expr, $order:expr, $store:expr) => {{
        // The lock: SQLite's write transaction holds it already; on PostgreSQL
        // this row lock makes a second hold of the same order wait for the first.
        sqlx::query("UPDATE card_payments SET updated_at = updated_at WHERE order_id = $1")
            .bind($order.to_owned())
            .execute(&mut *$tx)
            .await?;
        let card = sqlx::query(
            "SELECT state, captured FROM card_payments WHERE order_id = $1 AND store_id = $2",
        )
        .bind($order.to_owned())
        .bind($store.to_owned())
        .fetch_optional(&mut *$tx)
        .await?;
        match card {
            None => Err(Refusal::NotPaidByCard),
            Some(card) => {
                let state: String = card.try_get("state")?;
                let captured: i64 = card.try_get("captured")?;
                match CardState::parse(&state) {
                    Some(CardState::Captured) => {
                        let held: i64 = sqlx::query_scalar(
                            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM card_refunds \
                             WHERE order_id = $1 AND state IN ('pending', 'succeeded')",
                        )
                        .bind($order.to_owned())
                        .fetch_one(&mut *$tx)
                        .await?;
                        Ok(captured - held)
                    }
                    Some(s) => Err(Refusal::NotCaptured(s)),
                    None => Err(Refusal::NotPaidByCard),
                }
            }
        }
    }};
}

/// The amount a refund asking for `asked` (`None`: all) may hold, of `remaining`.
fn to_hold(asked: Option<i64>, remaining: Result<i64, Refusal>) -> Result<i64, Refusal> {
    let remaining = remaining?;
    let amount = asked.unwrap_or(remaining);
    if amount <= 0 || amount > remaining {
        return Err(Refusal::Exceeds { remaining });
    }
    Ok(amount)
}

impl Db {
    /// Writes a refund and holds its amount (`pending`), or finds the refund of
    /// this id or of this order and key (a retry), or says why it may not be.
    /// Nothing is written when it is refused.
    pub async fn refund_hold(&self, r: &NewRefund<'_>) -> Result<Hold, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let existing = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds \
                 WHERE id = $1 OR (order_id = $2 AND idempotency_key = $3)"))
                .bind(r.id.to_owned())
                .bind(r.order_id.to_owned())
                .bind(r.idempotency_key.map(str::to_owned))
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                return Ok(Hold::Existing(refund_row(&row)?));
            }
            let amount = match to_hold(r.amount, remaining_in!(tx, r.order_id, r.store_id)) {
                Ok(a) => a,
                Err(refusal) => return Ok(Hold::Refused(refusal)),
            };
            sqlx::query("INSERT INTO card_refunds (id, order_id, store_id, amount, reason, requested_by, source, \
                 idempotency_key, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)")
                .bind(r.id.to_owned())
                .bind(r.order_id.to_owned())
                .bind(r.store_id.to_owned())
                .bind(amount)
                .bind(r.reason.map(str::to_owned))
                .bind(r.requested_by.to_owned())
                .bind(r.source.as_str())
                .bind(r.idempotency_key.map(str::to_owned))
                .bind(r.now)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds WHERE id = $1"))
                .bind(r.id.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Hold::Held(refund_row(&row)?))
        })
    }

    /// Checks a `requested` refund (from a node): held (`pending`, its amount
    /// set) or `declined` with the reason. `None` when it is not `requested`.
    pub async fn refund_check(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<Result<RefundRow, Refusal>>, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds WHERE id = $1 AND state = 'requested'"))
                .bind(id.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let row = refund_row(&row)?;
            let checked = to_hold(row.amount, remaining_in!(tx, row.order_id, row.store_id));
            match &checked {
                Ok(amount) => {
                    sqlx::query("UPDATE card_refunds SET state = 'pending', amount = $1, updated_at = $2 WHERE id = $3")
                        .bind(*amount)
                        .bind(now)
                        .bind(id.to_owned())
                        .execute(&mut *tx)
                        .await?;
                }
                Err(refusal) => {
                    sqlx::query("UPDATE card_refunds SET state = 'declined', problem = $1, updated_at = $2 WHERE id = $3")
                        .bind(refusal.message())
                        .bind(now)
                        .bind(id.to_owned())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let after = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds WHERE id = $1"))
                .bind(id.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            let after = refund_row(&after)?;
            Ok(Some(checked.map(|_| after)))
        })
    }

    /// A pending refund the processor confirmed: `succeeded`, and added to the
    /// payment's `refunded`, once (false when it was not pending).
    pub async fn refund_succeeded(
        &self,
        id: &str,
        processor_ref: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let moved = sqlx::query("UPDATE card_refunds SET state = 'succeeded', processor_ref = $1, updated_at = $2 \
                 WHERE id = $3 AND state = 'pending'")
                .bind(processor_ref.to_owned())
                .bind(now)
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if moved {
                sqlx::query("UPDATE card_payments SET refunded = refunded + \
                     (SELECT amount FROM card_refunds WHERE id = $1), updated_at = $2 \
                     WHERE order_id = (SELECT order_id FROM card_refunds WHERE id = $1)")
                    .bind(id.to_owned())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(moved)
        })
    }

    /// A requested or pending refund the processor (or the check) refused: `declined`, its hold let go.
    pub async fn refund_declined(
        &self,
        id: &str,
        problem: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE card_refunds SET state = 'declined', problem = $1, updated_at = $2 \
             WHERE id = $3 AND state IN ('requested', 'pending')",
        )
        .bind(problem.to_owned())
        .bind(now)
        .bind(id.to_owned())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Its outcome is now in the store's log.
    pub async fn refund_recorded(&self, id: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("UPDATE card_refunds SET recorded = TRUE WHERE id = $1")
            .bind(id.to_owned())
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    pub async fn refund_by_id(&self, id: &str) -> Result<Option<RefundRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds WHERE id = $1"))
                .bind(id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(refund_row).transpose()
        })
    }

    /// An order's refunds, oldest first.
    pub async fn refunds_of_order(&self, order_id: &str) -> Result<Vec<RefundRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds WHERE order_id = $1 ORDER BY created_at, id"))
                .bind(order_id.to_owned())
                .fetch_all(pool)
                .await?;
            rows.iter().map(refund_row).collect()
        })
    }

    /// Refunds with something left to do: check, ask the processor, or record the outcome.
    pub async fn refunds_in_progress(&self) -> Result<Vec<RefundRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds \
                 WHERE state IN ('requested', 'pending') OR recorded = FALSE ORDER BY created_at, id"))
                .fetch_all(pool)
                .await?;
            rows.iter().map(refund_row).collect()
        })
    }

    /// Captured card payments whose order the store has since ended
    /// (cancelled, voided, refunded), with something left to give back and no
    /// refund for the ending yet: (order, store).
    pub async fn captured_but_ended(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.order_id, c.store_id FROM card_payments c JOIN orders o ON o.id = c.order_id \
                 WHERE c.state = 'captured' AND o.status IN ('cancelled', 'voided', 'refunded') \
                 AND NOT EXISTS (SELECT 1 FROM card_refunds r WHERE r.id = c.order_id || '-cancel') \
                 AND c.captured > (SELECT COALESCE(SUM(r.amount), 0) FROM card_refunds r \
                     WHERE r.order_id = c.order_id AND r.state IN ('pending', 'succeeded'))",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("order_id")?, r.try_get("store_id")?)))
                .collect()
        })
    }

    /// A refund the processor made outside us (`charge.refunded` says more was
    /// refunded than every refund we hold): recorded as succeeded, once per total.
    pub async fn refund_outside(
        &self,
        order_id: &str,
        processor_total: i64,
        now: i64,
    ) -> Result<Option<RefundRow>, sqlx::Error> {
        let id = format!("{order_id}-processor-{processor_total}");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let card = sqlx::query("SELECT store_id FROM card_payments WHERE order_id = $1")
                .bind(order_id.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(card) = card else { return Ok(None) };
            let store_id: String = card.try_get("store_id")?;
            let held: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM card_refunds \
                 WHERE order_id = $1 AND state IN ('pending', 'succeeded')",
            )
            .bind(order_id.to_owned())
            .fetch_one(&mut *tx)
            .await?;
            let extra = processor_total - held;
            if extra <= 0 {
                return Ok(None);
            }
            let inserted = sqlx::query("INSERT INTO card_refunds (id, order_id, store_id, amount, reason, requested_by, \
                 source, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'Refunded at the payment processor', 'processor', 'processor', 'succeeded', $5, $5) \
                 ON CONFLICT (id) DO NOTHING")
                .bind(id.clone())
                .bind(order_id.to_owned())
                .bind(store_id)
                .bind(extra)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if inserted {
                sqlx::query("UPDATE card_payments SET refunded = refunded + $1, updated_at = $2 WHERE order_id = $3")
                    .bind(extra)
                    .bind(now)
                    .bind(order_id.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            let row = sqlx::query(concat!("SELECT ", refund_columns!(), " FROM card_refunds WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(inserted.then(|| refund_row(&row)).transpose()?)
        })
    }
}

impl Db {
    /// Captured card payments whose capture is not in the store's log yet: (order, store, customer).
    pub async fn captures_unrecorded(&self) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT order_id, store_id, customer_id FROM card_payments \
                 WHERE state = 'captured' AND paid_recorded = FALSE ORDER BY updated_at",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("order_id")?, r.try_get("store_id")?, r.try_get("customer_id")?)))
                .collect()
        })
    }

    /// The capture of `order_id` is in the store's log.
    pub async fn capture_recorded(&self, order_id: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("UPDATE card_payments SET paid_recorded = TRUE WHERE order_id = $1")
            .bind(order_id.to_owned())
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }
}

/// Reconciliation's reads (`payments::reconcile`).
impl Db {
    /// A store's captures in `[from, to)` (Unix ms), with their currency.
    pub async fn store_captures_between(
        &self,
        store_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(OurCapture, String)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.order_id, o.ticket, c.charge_id, c.captured, c.captured_at, c.currency \
                 FROM card_payments c LEFT JOIN orders o ON o.id = c.order_id \
                 WHERE c.store_id = $1 AND c.captured_at >= $2 AND c.captured_at < $3 ORDER BY c.captured_at",
            )
            .bind(store_id.to_owned())
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        OurCapture {
                            order_id: r.try_get("order_id")?,
                            ticket: r.try_get("ticket")?,
                            charge_id: r.try_get("charge_id")?,
                            amount: r.try_get("captured")?,
                            at_ms: r.try_get("captured_at")?,
                        },
                        r.try_get("currency")?,
                    ))
                })
                .collect()
        })
    }

    /// A store's refunds that succeeded in `[from, to)` (Unix ms).
    pub async fn store_refund_moves_between(
        &self,
        store_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<OurRefund>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT r.order_id, o.ticket, r.processor_ref, r.amount, r.updated_at \
                 FROM card_refunds r LEFT JOIN orders o ON o.id = r.order_id \
                 WHERE r.store_id = $1 AND r.state = 'succeeded' AND r.updated_at >= $2 AND r.updated_at < $3 \
                 ORDER BY r.updated_at",
            )
            .bind(store_id.to_owned())
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(OurRefund {
                        order_id: r.try_get("order_id")?,
                        ticket: r.try_get("ticket")?,
                        processor_ref: r.try_get("processor_ref")?,
                        amount: r.try_get::<Option<i64>, _>("amount")?.unwrap_or(0),
                        at_ms: r.try_get("updated_at")?,
                    })
                })
                .collect()
        })
    }

    /// The store whose records hold processor object `id` (a charge or a refund), if any.
    pub async fn processor_object_store(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, pool => sqlx::query_scalar(
            "SELECT store_id FROM card_payments WHERE charge_id = $1 \
             UNION ALL SELECT store_id FROM card_refunds WHERE processor_ref = $1 LIMIT 1",
        )
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await)
    }
}
