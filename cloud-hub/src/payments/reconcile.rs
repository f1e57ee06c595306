//! Reconciliation: a store's card money for one day, our records against the
//! processor's balance transactions. [`reconcile`] is the matching, without
//! IO; [`day`] gathers both sides for it.
//!
//! Movements match by the processor's object: a capture by its charge id, a
//! refund by its refund id. Both sides are read with an hour's margin around
//! the day, so a capture committed at 23:59:59 and listed by the processor
//! at 00:00:01 still matches; only movements inside the day are reported.
//! A processor movement that none of this store's records explain, and that is
//! no other store's, is `unknown_to_us`: money moved that the hub did not
//! record (a refund in the processor's dashboard whose event was lost, say).

use chrono::{NaiveDate, TimeZone};

use super::gateway::{BalanceTransaction, GatewayError};
use crate::hub::Hub;
pub use api_types::hub::reconciliation::{
    MatchStatus, Reconciliation, ReconciliationLine, ReconciliationTotals,
};

/// A capture in our records.
#[derive(Debug, Clone)]
pub struct OurCapture {
    pub order_id: String,
    pub ticket: Option<String>,
    pub charge_id: Option<String>,
    pub amount: i64,
    /// Unix ms.
    pub at_ms: i64,
}

/// A refund in our records.
#[derive(Debug, Clone)]
pub struct OurRefund {
    pub order_id: String,
    pub ticket: Option<String>,
    /// The processor's refund id.
    pub processor_ref: Option<String>,
    pub amount: i64,
    /// Unix ms.
    pub at_ms: i64,
}

/// The margin each side is read with around the day.
pub const MARGIN_MS: i64 = 60 * 60 * 1000;

/// Matches one day's movements. `ours_elsewhere(object)` says whether a
/// processor object belongs to another store's records (it is left out).
pub fn reconcile(
    (from_ms, to_ms): (i64, i64),
    captures: &[OurCapture],
    refunds: &[OurRefund],
    processor: &[BalanceTransaction],
    ours_elsewhere: impl Fn(&str) -> bool,
) -> (Vec<ReconciliationLine>, ReconciliationTotals) {
    let in_day = |ms: i64| ms >= from_ms && ms < to_ms;
    let by_source = |source: &str| {
        processor
            .iter()
            .find(|t| t.source.as_deref() == Some(source))
    };
    let mut lines = vec![];
    let mut explained: Vec<&str> = vec![];
    let mut totals = ReconciliationTotals::default();
    let mut compare = |kind: &str,
                       order_id: &str,
                       ticket: &Option<String>,
                       object: &Option<String>,
                       ours: i64,
                       sign: i64| {
        let txn = object.as_deref().and_then(by_source);
        if let Some(t) = txn {
            explained.push(&t.id);
        }
        let (status, note) = match txn {
            None => (
                MatchStatus::MissingAtProcessor,
                format!("The processor lists no {kind} for this order's payment."),
            ),
            Some(t) if t.amount == sign * ours => (MatchStatus::Matched, String::new()),
            Some(t) => (
                MatchStatus::AmountDiffers,
                format!(
                    "Our records say {ours}, the processor {}.",
                    (sign * t.amount)
                ),
            ),
        };
        lines.push(ReconciliationLine {
            kind: kind.to_owned(),
            status,
            order_id: Some(order_id.to_owned()),
            ticket: ticket.clone(),
            ours: Some(ours),
            processor: txn.map(|t| t.amount),
            fee: txn.map(|t| t.fee),
            processor_object: object.clone(),
            balance_transaction: txn.map(|t| t.id.clone()),
            note,
        });
    };
    for c in captures.iter().filter(|c| in_day(c.at_ms)) {
        totals.captured += c.amount;
        compare("charge", &c.order_id, &c.ticket, &c.charge_id, c.amount, 1);
    }
    for r in refunds.iter().filter(|r| in_day(r.at_ms)) {
        totals.refunded += r.amount;
        compare(
            "refund",
            &r.order_id,
            &r.ticket,
            &r.processor_ref,
            r.amount,
            -1,
        );
    }
    // Explained by a movement of ours just outside the day: not a difference.
    for c in captures.iter().filter(|c| !in_day(c.at_ms)) {
        if let Some(t) = c.charge_id.as_deref().and_then(by_source) {
            explained.push(&t.id);
        }
    }
    for r in refunds.iter().filter(|r| !in_day(r.at_ms)) {
        if let Some(t) = r.processor_ref.as_deref().and_then(by_source) {
            explained.push(&t.id);
        }
    }
    for t in processor {
        let mine = !t.source.as_deref().is_some_and(&ours_elsewhere);
        if !mine || !in_day(t.created * 1000) {
            continue;
        }
        match t.kind.as_str() {
            "charge" | "payment" => totals.processor_charged += t.amount,
            "refund" | "payment_refund" => totals.processor_refunded -= t.amount,
            _ => {}
        }
        totals.fees += t.fee;
        totals.net += t.net;
        if explained.contains(&t.id.as_str()) {
            continue;
        }
        lines.push(ReconciliationLine {
            kind: t.kind.clone(),
            status: MatchStatus::UnknownToUs,
            order_id: None,
            ticket: None,
            ours: None,
            processor: Some(t.amount),
            fee: Some(t.fee),
            processor_object: t.source.clone(),
            balance_transaction: Some(t.id.clone()),
            note: "The processor moved this money; no order of this store records it.".into(),
        });
    }
    totals.differences = lines
        .iter()
        .filter(|l| l.status != MatchStatus::Matched)
        .count();
    lines.sort_by_key(|l| l.status == MatchStatus::Matched);
    (lines, totals)
}

/// The day `date` (`YYYY-MM-DD`) in `tz`, as Unix ms `[from, to)`; `None` for a date that does not parse.
pub fn day_bounds(date: &str, tz: chrono_tz::Tz) -> Option<(i64, i64)> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let start = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0)?;
        // A day that starts in a DST gap starts at the first instant after it.
        tz.from_local_datetime(&midnight)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.timestamp_millis())
    };
    Some((start(d)?, start(d.succ_opt()?)?))
}

/// The day it is at `now_ms` in `tz`, as `YYYY-MM-DD`.
pub fn today(now_ms: i64, tz: chrono_tz::Tz) -> String {
    tz.timestamp_millis_opt(now_ms)
        .earliest()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

/// Why a day could not be reconciled.
#[derive(Debug, thiserror::Error)]
pub enum DayError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Gathers both sides of store `store_id`'s day `[from, to)` and matches them.
pub async fn day(
    hub: &Hub,
    store_id: &str,
    (from, to): (i64, i64),
) -> Result<
    (
        Vec<ReconciliationLine>,
        ReconciliationTotals,
        Option<String>,
    ),
    DayError,
> {
    let Some(payments) = hub.payments.as_ref() else {
        return Ok((vec![], ReconciliationTotals::default(), None));
    };
    let (wide_from, wide_to) = (from - MARGIN_MS, to + MARGIN_MS);
    let captures = hub
        .db
        .store_captures_between(store_id, wide_from, wide_to)
        .await?;
    let refunds = hub
        .db
        .store_refund_moves_between(store_id, wide_from, wide_to)
        .await?;
    let processor = payments
        .gateway
        .balance_transactions(wide_from.div_euclid(1000), wide_to.div_euclid(1000) + 1)
        .await?;
    let mut elsewhere = std::collections::HashSet::new();
    for t in &processor {
        if let Some(s) = t.source.as_deref()
            && hub
                .db
                .processor_object_store(s)
                .await?
                .is_some_and(|st| st != store_id)
        {
            elsewhere.insert(s.to_owned());
        }
    }
    let currency = captures.first().map(|c| c.1.clone());
    let captures: Vec<OurCapture> = captures.into_iter().map(|c| c.0).collect();
    let (lines, totals) = reconcile((from, to), &captures, &refunds, &processor, |s| {
        elsewhere.contains(s)
    });
    Ok((lines, totals, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(id: &str, kind: &str, amount: i64, source: &str, created: i64) -> BalanceTransaction {
        BalanceTransaction {
            id: id.into(),
            kind: kind.into(),
            amount,
            fee: if amount > 0 { 30 } else { 0 },
            net: amount - if amount > 0 { 30 } else { 0 },
            created,
            source: Some(source.into()),
        }
    }

    #[test]
    fn a_planted_difference_of_each_kind_is_found() {
        let day = (1_000_000_000, 1_086_400_000);
        let at = 1_000_500_000;
        let captures = vec![
            OurCapture {
                order_id: "o1".into(),
                ticket: Some("W-0001".into()),
                charge_id: Some("ch_1".into()),
                amount: 1000,
                at_ms: at,
            },
            OurCapture {
                order_id: "o2".into(),
                ticket: None,
                charge_id: Some("ch_2".into()),
                amount: 700,
                at_ms: at,
            },
            OurCapture {
                order_id: "o3".into(),
                ticket: None,
                charge_id: Some("ch_3".into()),
                amount: 500,
                at_ms: at,
            },
            // Captured just before the day; the processor listed it inside: explained.
            OurCapture {
                order_id: "o4".into(),
                ticket: None,
                charge_id: Some("ch_4".into()),
                amount: 400,
                at_ms: day.0 - 1,
            },
        ];
        let refunds = vec![OurRefund {
            order_id: "o1".into(),
            ticket: None,
            processor_ref: Some("re_1".into()),
            amount: 250,
            at_ms: at,
        }];
        let processor = vec![
            txn("txn_1", "charge", 1000, "ch_1", at / 1000),
            txn("txn_2", "charge", 690, "ch_2", at / 1000),
            txn("txn_r1", "refund", -250, "re_1", at / 1000),
            txn("txn_4", "charge", 400, "ch_4", day.0 / 1000),
            txn("txn_x", "refund", -80, "re_x", at / 1000),
            txn("txn_other", "charge", 999, "ch_other_store", at / 1000),
        ];
        let (lines, totals) = reconcile(day, &captures, &refunds, &processor, |s| {
            s == "ch_other_store"
        });
        let by = |obj: &str| {
            lines
                .iter()
                .find(|l| l.processor_object.as_deref() == Some(obj))
                .unwrap()
                .status
        };
        assert_eq!(by("ch_1"), MatchStatus::Matched);
        assert_eq!(by("re_1"), MatchStatus::Matched);
        assert_eq!(by("ch_2"), MatchStatus::AmountDiffers);
        assert_eq!(by("ch_3"), MatchStatus::MissingAtProcessor);
        assert_eq!(by("re_x"), MatchStatus::UnknownToUs);
        assert!(
            lines
                .iter()
                .all(|l| l.processor_object.as_deref() != Some("ch_other_store"))
        );
        assert!(
            lines
                .iter()
                .all(|l| l.processor_object.as_deref() != Some("ch_4"))
        );
        assert_eq!(totals.differences, 3);
        assert_eq!((totals.captured, totals.refunded), (2200, 250));
        assert_eq!(
            (totals.processor_charged, totals.processor_refunded),
            (2090, 330)
        );
        assert_ne!(lines[0].status, MatchStatus::Matched, "differences first");
    }

    #[test]
    fn a_day_is_the_stores_local_day() {
        let (from, to) = day_bounds("2026-03-08", chrono_tz::America::New_York).unwrap();
        assert_eq!(
            to - from,
            23 * 3600 * 1000,
            "the spring-forward day is 23 hours"
        );
        let (from, _) = day_bounds("2026-12-07", chrono_tz::UTC).unwrap();
        assert_eq!(from, 1_796_601_600_000);
        assert!(day_bounds("2026-13-01", chrono_tz::UTC).is_none());
        assert!(day_bounds("yesterday", chrono_tz::UTC).is_none());
    }
}
