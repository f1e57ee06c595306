//! Card payments of web orders (migration 0006): the row written before the
//! card processor is asked anything, the moves of its state (each guarded by
//! the state it leaves, so a retried or reordered step changes nothing), and
//! the webhook events already handled.

use serde_json::Value;
use sqlx::Row;

use super::Db;

/// Where a card payment stands (the `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    /// No checkout yet, or its creation is in doubt (asked again with the same key).
    Creating,
    /// The customer is on the payment page.
    Open,
    /// Held; the order is at the store.
    Authorized,
    /// Captured: the store accepted.
    Captured,
    /// The hold was released; nothing was charged.
    Cancelled,
    /// Never paid (abandoned, expired).
    Expired,
}

impl CardState {
    pub const fn as_str(self) -> &'static str {
        match self {
            CardState::Creating => "creating",
            CardState::Open => "open",
            CardState::Authorized => "authorized",
            CardState::Captured => "captured",
            CardState::Cancelled => "cancelled",
            CardState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<CardState> {
        Some(match s {
            "creating" => CardState::Creating,
            "open" => CardState::Open,
            "authorized" => CardState::Authorized,
            "captured" => CardState::Captured,
            "cancelled" => CardState::Cancelled,
            "expired" => CardState::Expired,
            _ => return None,
        })
    }

    /// Nothing more happens to the payment by itself (refunds aside).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            CardState::Captured | CardState::Cancelled | CardState::Expired
        )
    }
}

/// A card payment row.
#[derive(Debug, Clone)]
pub struct CardRow {
    pub order_id: String,
    pub store_id: String,
    pub customer_id: String,
    pub idempotency_key: String,
    /// The priced order waiting for authorisation (`PricedOrder` JSON).
    pub pending: Value,
    pub amount: i64,
    pub currency: String,
    pub state: CardState,
    pub checkout_id: Option<String>,
    pub checkout_url: Option<String>,
    /// When the checkout expires unpaid (Unix ms).
    pub expires_at: i64,
    pub payment_id: Option<String>,
    pub charge_id: Option<String>,
    pub captured: i64,
    /// When it was captured (Unix ms).
    pub captured_at: Option<i64>,
    pub refunded: i64,
    /// Authorised: released unless the store accepts by then (Unix ms).
    pub accept_by: Option<i64>,
    /// Why it was declined, cancelled or expired, in the customer's words.
    pub problem: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A card payment to start.
#[derive(Debug)]
pub struct NewCard<'a> {
    pub order_id: &'a str,
    pub store_id: &'a str,
    pub customer_id: &'a str,
    pub idempotency_key: &'a str,
    pub pending: &'a Value,
    pub amount: i64,
    pub currency: &'a str,
    pub expires_at: i64,
    pub now: i64,
}

/// The columns every read selects (a macro, so queries stay literal strings).
macro_rules! card_columns {
    () => {
        "order_id, store_id, customer_id, idempotency_key, pending, amount, currency, state, \
         checkout_id, checkout_url, expires_at, payment_id, charge_id, captured, captured_at, refunded, accept_by, \
         problem, created_at, updated_at"
    };
}

fn card_row<R>(r: &R) -> Result<CardRow, sqlx::Error>
where
    R: Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get("state")?;
    let pending: String = r.try_get("pending")?;
    Ok(CardRow {
        order_id: r.try_get("order_id")?,
        store_id: r.try_get("store_id")?,
        customer_id: r.try_get("customer_id")?,
        idempotency_key: r.try_get("idempotency_key")?,
        pending: serde_json::from_str(&pending).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        amount: r.try_get("amount")?,
        currency: r.try_get("currency")?,
        state: CardState::parse(&state).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown card payment state {state:?}").into())
        })?,
        checkout_id: r.try_get("checkout_id")?,
        checkout_url: r.try_get("checkout_url")?,
        expires_at: r.try_get("expires_at")?,
        payment_id: r.try_get("payment_id")?,
        charge_id: r.try_get("charge_id")?,
        captured: r.try_get("captured")?,
        captured_at: r.try_get("captured_at")?,
        refunded: r.try_get("refunded")?,
        accept_by: r.try_get("accept_by")?,
        problem: r.try_get("problem")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A state move: from any of `from` to `to`, setting the given columns.
#[derive(Debug, Default)]
pub struct CardMove<'a> {
    pub checkout: Option<(&'a str, &'a str)>,
    pub payment_id: Option<&'a str>,
    pub charge_id: Option<&'a str>,
    pub captured: Option<i64>,
    pub accept_by: Option<i64>,
    pub problem: Option<&'a str>,
}

impl Db {
    /// Starts a card payment, or finds the one this customer started under this
    /// key (a retry): the row as it stands.
    pub async fn card_begin(&self, c: &NewCard<'_>) -> Result<CardRow, sqlx::Error> {
        let sql = "INSERT INTO card_payments (order_id, store_id, customer_id, idempotency_key, pending, amount, \
                   currency, state, expires_at, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, 'creating', $8, $9, $9) \
                   ON CONFLICT (customer_id, idempotency_key) DO NOTHING";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(c.order_id.to_owned())
                .bind(c.store_id.to_owned())
                .bind(c.customer_id.to_owned())
                .bind(c.idempotency_key.to_owned())
                .bind(c.pending.to_string())
                .bind(c.amount)
                .bind(c.currency.to_owned())
                .bind(c.expires_at)
                .bind(c.now)
                .execute(pool)
                .await?;
            let row = sqlx::query(concat!("SELECT ", card_columns!(), " FROM card_payments WHERE customer_id = $1 AND idempotency_key = $2"))
            .bind(c.customer_id.to_owned())
            .bind(c.idempotency_key.to_owned())
            .fetch_one(pool)
            .await?;
            card_row(&row)
        })
    }

    /// The card payment of an order.
    pub async fn card_by_order(&self, order_id: &str) -> Result<Option<CardRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(concat!("SELECT ", card_columns!(), " FROM card_payments WHERE order_id = $1"))
                .bind(order_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(card_row).transpose()
        })
    }

    /// The card payment a checkout belongs to.
    pub async fn card_by_checkout(
        &self,
        checkout_id: &str,
    ) -> Result<Option<CardRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(concat!("SELECT ", card_columns!(), " FROM card_payments WHERE checkout_id = $1"))
                .bind(checkout_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(card_row).transpose()
        })
    }

    /// The card payment a processor payment belongs to.
    pub async fn card_by_payment(&self, payment_id: &str) -> Result<Option<CardRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(concat!("SELECT ", card_columns!(), " FROM card_payments WHERE payment_id = $1"))
                .bind(payment_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(card_row).transpose()
        })
    }

    /// A customer's card payments whose order is not placed (awaiting payment, authorised
    /// and on its way, or expired unpaid), newest first, at most `limit`.
    pub async fn customer_unplaced_cards(
        &self,
        customer_id: &str,
        limit: i64,
    ) -> Result<Vec<CardRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(concat!("SELECT ", card_columns!(), " FROM card_payments WHERE customer_id = $1 \
                 AND (state IN ('creating', 'open', 'expired') \
                      OR (state = 'authorized' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = card_payments.order_id))) \
                 ORDER BY created_at DESC LIMIT $2"))
            .bind(customer_id.to_owned())
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(card_row).collect()
        })
    }

    /// Every card payment that is not final yet (for the payments worker).
    pub async fn cards_in_progress(&self) -> Result<Vec<CardRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(concat!("SELECT ", card_columns!(), " FROM card_payments WHERE state IN ('creating', 'open', 'authorized') \
                 ORDER BY updated_at"))
            .fetch_all(pool)
            .await?;
            rows.iter().map(card_row).collect()
        })
    }

    /// Moves a card payment from any state of `from` to `to`; false when it was
    /// in none of them (someone else moved it first, or it is a replay).
    pub async fn card_move(
        &self,
        order_id: &str,
        from: &[CardState],
        to: CardState,
        m: &CardMove<'_>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let states = from
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        // Only the fixed state names are formatted in; every value is bound. A card
        // authorised after a decline on the same page leaves the decline behind.
        let sql = format!(
            "UPDATE card_payments SET state = $1, updated_at = $2, \
             checkout_id = COALESCE($3, checkout_id), checkout_url = COALESCE($4, checkout_url), \
             payment_id = COALESCE($5, payment_id), charge_id = COALESCE($6, charge_id), \
             captured = COALESCE($7, captured), \
             captured_at = CASE WHEN $1 = 'captured' THEN $2 ELSE captured_at END, accept_by = COALESCE($8, accept_by), \
             problem = CASE WHEN $1 = 'authorized' THEN $9 ELSE COALESCE($9, problem) END \
             WHERE order_id = $10 AND state IN ({states})"
        );
        let n = on_pool!(self, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now)
            .bind(m.checkout.map(|(id, _)| id.to_owned()))
            .bind(m.checkout.map(|(_, url)| url.to_owned()))
            .bind(m.payment_id.map(str::to_owned))
            .bind(m.charge_id.map(str::to_owned))
            .bind(m.captured)
            .bind(m.accept_by)
            .bind(m.problem.map(str::to_owned))
            .bind(order_id.to_owned())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Records the last problem of a payment that stays where it is (a declined card: the customer may try again).
    pub async fn card_problem(
        &self,
        order_id: &str,
        problem: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE card_payments SET problem = $1, updated_at = $2 WHERE order_id = $3",
        )
        .bind(problem.to_owned())
        .bind(now)
        .bind(order_id.to_owned())
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// Whether the webhook event `id` was handled already.
    pub async fn payment_event_seen(&self, id: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM payment_events WHERE id = $1",
        )
        .bind(id.to_owned())
        .fetch_one(pool)
        .await?);
        Ok(n > 0)
    }

    /// Records that the webhook event `id` was handled.
    pub async fn payment_event_done(
        &self,
        id: &str,
        kind: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO payment_events (id, kind, received_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_owned())
        .bind(kind.to_owned())
        .bind(now)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }
}
