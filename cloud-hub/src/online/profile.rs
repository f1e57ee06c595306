//! A store as customers see it: its profile from the settings document, and
//! whether it takes online orders right now (and, if not, why, in words).
//!
//! The settings document's `store` entity (`domain::settings::StoreSettings`)
//! holds `name`, `address`, `timezone` (IANA), `hours`
//! (`domain::hours::WeeklyHours`), `hours_exceptions`, `pickup_lead_minutes`
//! and `online_ordering`. The hours
//! rules are the domain's; this module converts the current instant into the
//! store's local date and time (`chrono-tz`) and the next opening back into an
//! instant.

pub use api_types::hub::online::{Ordering, PauseReason};
use chrono::{Datelike, TimeZone, Timelike};
use domain::hours::{Date, HoursException, LocalTime, Schedule, WeeklyHours};
use domain::settings::StoreSettings;

/// A store as customers see it, read from its documents at `heads`
/// (settings, catalog); see `http::online::snapshot`.
#[derive(Debug)]
pub struct StoreView {
    pub heads: [Vec<automerge::ChangeHash>; 2],
    pub profile: Profile,
    /// `None`: the catalog does not form a menu (yet).
    pub menu: Option<std::sync::Arc<domain::menu::Menu>>,
}

/// A store's profile, read from its settings document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub name: Option<String>,
    pub address: Option<String>,
    /// IANA name; `None` (or unknown) is UTC.
    pub timezone: Option<String>,
    /// `None`: no hours set, so no hours restriction.
    pub schedule: Option<Schedule>,
    pub pickup_lead_minutes: Option<u32>,
    /// Absent in the document means on.
    pub online_ordering: bool,
    /// Customers may pay at pickup (absent in the document means yes).
    pub pay_at_pickup: bool,
    /// How the kitchen's backlog throttles online orders.
    pub backlog: BacklogRules,
    /// Paused by the merchant until this instant (Unix ms), with what customers are told.
    pub paused_until_ms: Option<i64>,
    pub pause_message: Option<String>,
}

/// The store's kitchen-backlog thresholds (`backlog_*` settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BacklogRules {
    /// Extra pickup minutes per open ticket beyond `slow_at`.
    pub per_ticket_minutes: u32,
    /// Open tickets from which the quote grows.
    pub slow_at: u32,
    /// Open tickets at which online ordering pauses; `None`: never.
    pub pause_at: Option<u32>,
}

/// Most minutes a backlog adds to the pickup quote.
pub const MAX_BACKLOG_EXTRA_MINUTES: u32 = 240;

impl BacklogRules {
    /// Minutes `open_tickets` add to the pickup quote.
    pub fn extra_minutes(&self, open_tickets: u32) -> u32 {
        open_tickets
            .saturating_sub(self.slow_at)
            .saturating_mul(self.per_ticket_minutes)
            .min(MAX_BACKLOG_EXTRA_MINUTES)
    }

    /// Whether `open_tickets` pause online ordering.
    pub fn pauses(&self, open_tickets: u32) -> bool {
        self.pause_at.is_some_and(|p| open_tickets >= p)
    }

    /// `paused`, `slow` or `None`: what the backlog does to online orders now.
    pub fn throttle(&self, open_tickets: u32) -> Option<&'static str> {
        if self.pauses(open_tickets) {
            Some("paused")
        } else if self.extra_minutes(open_tickets) > 0 {
            Some("slow")
        } else {
            None
        }
    }
}

impl Profile {
    /// Reads the store's settings (fields that do not parse are ignored, with a warning:
    /// the document merges edits from several replicas and must never stop the store).
    /// Hours another replica wrote in a form this build would not write (kept
    /// untyped in `settings.other`) are read as they are.
    pub fn from_settings(store: &str, settings: &StoreSettings) -> Profile {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let untyped = |k: &str| settings.other.get(k).filter(|v| !v.is_null()).cloned();
        let weekly = match &settings.hours {
            Some(w) => Some(Ok(w.clone())),
            None => untyped("hours").map(serde_json::from_value::<WeeklyHours>),
        };
        let exceptions = match &settings.hours_exceptions {
            Some(x) => Ok(x.clone()),
            None => untyped("hours_exceptions")
                .map(serde_json::from_value::<Vec<HoursException>>)
                .unwrap_or(Ok(vec![])),
        };
        let schedule = match (weekly, exceptions) {
            (None, _) => None,
            (Some(Ok(w)), Ok(x)) => match Schedule::new(w, x) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(%store, error = %e, "the store's hours break a rule; ignoring them");
                    None
                }
            },
            (Some(Err(e)), _) | (_, Err(e)) => {
                tracing::warn!(%store, error = %e, "the store's hours are unreadable; ignoring them");
                None
            }
        };
        Profile {
            name: text(&settings.name),
            address: text(&settings.address),
            timezone: text(&settings.timezone),
            schedule,
            pickup_lead_minutes: settings.pickup_lead_minutes,
            online_ordering: settings.online_ordering.unwrap_or(true),
            pay_at_pickup: settings.pay_at_pickup.unwrap_or(true),
            backlog: BacklogRules {
                per_ticket_minutes: settings.backlog_quote_per_ticket_minutes.unwrap_or(0),
                slow_at: settings.backlog_slow_at.unwrap_or(0),
                pause_at: settings.backlog_pause_at.filter(|&p| p > 0),
            },
            paused_until_ms: settings.paused_until_ms.filter(|&t| t > 0),
            pause_message: text(&settings.pause_message),
        }
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }
}

/// Checks an IANA time zone name.
pub fn parse_timezone(name: &str) -> Option<chrono_tz::Tz> {
    name.parse().ok()
}

/// The store's local date and time at `now_ms` (Unix milliseconds).
pub fn local_now(tz: chrono_tz::Tz, now_ms: i64) -> Option<(Date, LocalTime)> {
    let local = chrono::Utc
        .timestamp_millis_opt(now_ms)
        .single()?
        .with_timezone(&tz);
    let date = Date::new(
        u16::try_from(local.year()).ok()?,
        u8::try_from(local.month()).ok()?,
        u8::try_from(local.day()).ok()?,
    )?;
    let time = LocalTime::new(
        u8::try_from(local.hour()).ok()?,
        u8::try_from(local.minute()).ok()?,
    )?;
    Some((date, time))
}

/// A local date and time in `tz` as an instant (RFC 3339 with the offset). A
/// time that does not exist (a daylight-saving gap) moves on by an hour; an
/// ambiguous one takes the earlier instant.
pub fn instant(tz: chrono_tz::Tz, date: Date, time: LocalTime) -> Option<String> {
    let naive = chrono::NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        u32::from(date.month()),
        u32::from(date.day()),
    )?
    .and_hms_opt(u32::from(time.hour()), u32::from(time.minute()), 0)?;
    let at = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(at.to_rfc3339())
}

/// The instant `at_ms` in `tz`, RFC 3339 with the offset.
pub fn instant_at(tz: chrono_tz::Tz, at_ms: i64) -> Option<String> {
    Some(
        chrono::Utc
            .timestamp_millis_opt(at_ms)
            .single()?
            .with_timezone(&tz)
            .to_rfc3339(),
    )
}

fn weekday_name(d: Date) -> &'static str {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ][usize::from(d.weekday().index())]
}

/// What the hub knows of the store's node right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeNow {
    /// Connected, or away no longer than the grace period.
    pub reachable: bool,
    /// Open kitchen tickets as the node last reported (0 before any report).
    pub open_tickets: u32,
}

impl NodeNow {
    pub fn reachable(reachable: bool) -> NodeNow {
        NodeNow {
            reachable,
            open_tickets: 0,
        }
    }
}

/// Whether the store takes online orders at `now_ms`, given its node. Disabled
/// wins over closed, closed over offline (a store that closes at night and
/// switches its node off is "closed", with its opening time), offline over a
/// busy kitchen (`kitchen_busy` from `backlog_pause_at` open tickets on,
/// until the kitchen catches up).
pub fn ordering(profile: &Profile, node: NodeNow, now_ms: i64) -> Ordering {
    let node_reachable = node.reachable;
    let paused = |reason, message: String, opens_at| Ordering {
        accepting: false,
        reason: Some(reason),
        message,
        opens_at,
    };
    if !profile.online_ordering {
        return paused(
            PauseReason::Disabled,
            "This store is not taking online orders at the moment.".into(),
            None,
        );
    }
    if let Some(until) = profile.paused_until_ms.filter(|&u| u > now_ms) {
        let tz = profile.tz();
        let at = match (local_now(tz, now_ms), local_now(tz, until)) {
            (Some((today, _)), Some((d, t))) if d == today => format!("at {t}"),
            (Some((today, _)), Some((d, t))) if Some(d) == today.succ() => {
                format!("tomorrow at {t}")
            }
            (_, Some((d, t))) => format!("{} at {t}", weekday_name(d)),
            _ => "soon".into(),
        };
        let message = match &profile.pause_message {
            Some(m) => format!("{} Online ordering starts again {at}.", m.trim_end()),
            None => format!("The store has paused online ordering. It starts again {at}."),
        };
        return paused(PauseReason::Paused, message, instant_at(tz, until));
    }
    if let Some(schedule) = &profile.schedule {
        let tz = profile.tz();
        if let Some((date, time)) = local_now(tz, now_ms)
            && !schedule.is_open(date, time)
        {
            let next = schedule.next_opening(date, time);
            let message = match next {
                Some((d, t)) if d == date => {
                    format!("The store is closed now. It opens today at {t}.")
                }
                Some((d, t)) if Some(d) == date.succ() => {
                    format!("The store is closed now. It opens tomorrow at {t}.")
                }
                Some((d, t)) => format!(
                    "The store is closed now. It opens {} {} at {t}.",
                    weekday_name(d),
                    d
                ),
                None => "The store is closed and has no opening hours coming up.".into(),
            };
            return paused(
                PauseReason::Closed,
                message,
                next.and_then(|(d, t)| instant(tz, d, t)),
            );
        }
    }
    if !node_reachable {
        return paused(
            PauseReason::StoreOffline,
            "We can't reach the store right now, so online ordering is paused. Please try again in a few minutes.".into(),
            None,
        );
    }
    if profile.backlog.pauses(node.open_tickets) {
        return paused(
            PauseReason::KitchenBusy,
            "The kitchen is very busy right now, so online ordering is paused for a few minutes."
                .into(),
            None,
        );
    }
    Ordering {
        accepting: true,
        reason: None,
        message: "Open for online orders.".into(),
        opens_at: None,
    }
}

/// Minutes between the pickup times on offer.
pub const SLOT_MINUTES: i64 = 15;
/// How far ahead a customer may choose a pickup time, in hours.
pub const PICKUP_HORIZON_HOURS: i64 = 12;
const MINUTE_MS: i64 = 60_000;

/// Whether the store is open at the instant `at_ms` (no hours set: always).
fn open_at(profile: &Profile, at_ms: i64) -> bool {
    match &profile.schedule {
        None => true,
        Some(schedule) => {
            local_now(profile.tz(), at_ms).is_some_and(|(date, time)| schedule.is_open(date, time))
        }
    }
}

/// Minutes from an order placed now to its earliest pickup: the lead time plus
/// what `open_tickets` in the kitchen add.
pub fn asap_minutes(profile: &Profile, open_tickets: u32) -> u32 {
    profile
        .pickup_lead_minutes
        .unwrap_or(0)
        .saturating_add(profile.backlog.extra_minutes(open_tickets))
}

/// The earliest pickup for an order placed at `now_ms` with `open_tickets` in
/// the kitchen: now plus [`asap_minutes`].
pub fn earliest_pickup(profile: &Profile, now_ms: i64, open_tickets: u32) -> i64 {
    now_ms + i64::from(asap_minutes(profile, open_tickets)) * MINUTE_MS
}

/// The pickup times on offer at `now_ms`: every [`SLOT_MINUTES`] on the clock
/// (tz offsets are whole quarter hours, so UTC's quarter hours are the store's),
/// from the earliest pickup rounded up, to [`PICKUP_HORIZON_HOURS`] ahead, at
/// which the store is open.
pub fn pickup_slots(profile: &Profile, now_ms: i64, open_tickets: u32) -> Vec<i64> {
    let step = SLOT_MINUTES * MINUTE_MS;
    let earliest = earliest_pickup(profile, now_ms, open_tickets);
    let first = (earliest + step - 1).div_euclid(step) * step;
    let last = now_ms + PICKUP_HORIZON_HOURS * 60 * MINUTE_MS;
    (0..)
        .map(|i| first + i * step)
        .take_while(|&at| at <= last)
        .filter(|&at| open_at(profile, at))
        .collect()
}

/// Why a chosen pickup time cannot be taken; the message names times in the store's zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PickupRefused(pub String);

/// `12:35` in the store's time zone.
fn clock(profile: &Profile, at_ms: i64) -> String {
    local_now(profile.tz(), at_ms).map_or_else(|| "?".into(), |(_, t)| t.to_string())
}

/// Checks a pickup time chosen at `now_ms`: not before the earliest pickup, at
/// most [`PICKUP_HORIZON_HOURS`] ahead, and while the store is open.
pub fn check_pickup(
    profile: &Profile,
    now_ms: i64,
    open_tickets: u32,
    at_ms: i64,
) -> Result<(), PickupRefused> {
    let earliest = earliest_pickup(profile, now_ms, open_tickets);
    // A minute's grace: a slot on the page when the earliest passed it a moment ago.
    if at_ms < earliest - MINUTE_MS {
        return Err(PickupRefused(format!(
            "that pickup time is too soon now: the earliest is {}",
            clock(profile, earliest)
        )));
    }
    if at_ms > now_ms + PICKUP_HORIZON_HOURS * 60 * MINUTE_MS {
        return Err(PickupRefused(format!(
            "orders can be placed at most {PICKUP_HORIZON_HOURS} hours ahead"
        )));
    }
    if !open_at(profile, at_ms) {
        return Err(PickupRefused(format!(
            "the store is closed at {}: choose a time within its opening hours",
            clock(profile, at_ms)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn profile(v: Value) -> Profile {
        Profile::from_settings("s1", &serde_json::from_value(v).unwrap())
    }

    /// 2026-11-27 (a Friday) at `hh:mm` UTC, in ms.
    fn friday_utc(hh: i64, mm: i64) -> i64 {
        (Date::parse("2026-11-27").unwrap().days_since_epoch() * 86_400 + hh * 3600 + mm * 60)
            * 1000
    }

    #[test]
    fn reasons_in_order() {
        let p = profile(json!({
            "timezone": "Europe/Berlin",
            "hours": { "fri": [{ "open": "11:00", "close": "22:00" }] },
        }));
        // 10:30 UTC is 11:30 in Berlin (UTC+1 in November).
        assert!(ordering(&p, NodeNow::reachable(true), friday_utc(10, 30)).accepting);
        let off = ordering(&p, NodeNow::reachable(false), friday_utc(10, 30));
        assert_eq!(off.reason, Some(PauseReason::StoreOffline));
        // 09:30 UTC is 10:30 local: closed, opens at 11:00 local.
        let closed = ordering(&p, NodeNow::reachable(false), friday_utc(9, 30));
        assert_eq!(closed.reason, Some(PauseReason::Closed));
        assert_eq!(
            closed.opens_at.as_deref(),
            Some("2026-11-27T11:00:00+01:00")
        );
        assert!(
            closed.message.contains("today at 11:00"),
            "{}",
            closed.message
        );
        // After closing, the next opening is a week later.
        let late = ordering(&p, NodeNow::reachable(true), friday_utc(21, 30));
        assert_eq!(late.opens_at.as_deref(), Some("2026-12-04T11:00:00+01:00"));
        let mut disabled = p.clone();
        disabled.online_ordering = false;
        assert_eq!(
            ordering(&disabled, NodeNow::reachable(true), friday_utc(10, 30)).reason,
            Some(PauseReason::Disabled)
        );
    }

    #[test]
    fn a_merchants_pause_ends_by_itself_and_tells_customers_when() {
        // Friday 10:30 UTC is 11:30 in Berlin; paused until 12:15 local with a message.
        let now = friday_utc(10, 30);
        let until = friday_utc(11, 15);
        let p = profile(json!({
            "timezone": "Europe/Berlin", "paused_until_ms": until,
            "pause_message": "Short of staff for lunch. ",
        }));
        let o = ordering(&p, NodeNow::reachable(true), now);
        assert_eq!(o.reason, Some(PauseReason::Paused));
        assert_eq!(
            o.message,
            "Short of staff for lunch. Online ordering starts again at 12:15."
        );
        assert_eq!(o.opens_at.as_deref(), Some("2026-11-27T12:15:00+01:00"));
        // Over at that instant; a pause past midnight says tomorrow; no message, a plain sentence.
        assert!(ordering(&p, NodeNow::reachable(true), until).accepting);
        let overnight =
            profile(json!({ "timezone": "Europe/Berlin", "paused_until_ms": friday_utc(23, 30) }));
        assert_eq!(
            ordering(&overnight, NodeNow::reachable(true), now).message,
            "The store has paused online ordering. It starts again tomorrow at 00:30."
        );
        // Switched off wins over a pause; 0 is no pause.
        let mut off = p.clone();
        off.online_ordering = false;
        assert_eq!(
            ordering(&off, NodeNow::reachable(true), now).reason,
            Some(PauseReason::Disabled)
        );
        let resumed = profile(json!({ "paused_until_ms": 0 }));
        assert!(ordering(&resumed, NodeNow::reachable(true), now).accepting);
    }

    #[test]
    fn no_hours_means_no_restriction_and_bad_hours_are_ignored() {
        let p = profile(json!({ "name": " Harbor ", "online_ordering": true }));
        assert_eq!(p.name.as_deref(), Some("Harbor"));
        assert!(ordering(&p, NodeNow::reachable(true), 0).accepting);
        let bad = profile(json!({ "hours": { "mon": [{ "open": "11:00", "close": "11:00" }] } }));
        assert!(bad.schedule.is_none());
        assert_eq!(bad.tz(), chrono_tz::UTC);
    }

    #[test]
    fn pickup_slots_keep_to_the_hours_and_the_lead_time() {
        // Berlin, Friday 11:00-14:00 and 17:00-22:00 local (UTC+1), 20 minutes' lead.
        let p = profile(json!({
            "timezone": "Europe/Berlin",
            "pickup_lead_minutes": 20,
            "hours": { "fri": [{ "open": "11:00", "close": "14:00" }, { "open": "17:00", "close": "22:00" }] },
        }));
        // 12:07 local: the earliest is 12:27, so the first slot is 12:30; none between 14:00 and 17:00.
        let now = friday_utc(11, 7);
        let slots = pickup_slots(&p, now, 0);
        let local: Vec<String> = slots.iter().map(|&ms| clock(&p, ms)).collect();
        assert_eq!(local.first().map(String::as_str), Some("12:30"));
        assert!(local.contains(&"13:45".to_owned()) && !local.contains(&"14:00".to_owned()));
        assert!(local.contains(&"17:00".to_owned()) && local.contains(&"21:45".to_owned()));
        assert_eq!(local.last().map(String::as_str), Some("21:45"));
        assert!(check_pickup(&p, now, 0, slots[0]).is_ok());
        // Too soon, closed in the afternoon, beyond the horizon.
        let too_soon = check_pickup(&p, now, 0, now + 5 * 60_000).unwrap_err();
        assert!(too_soon.0.contains("earliest is 12:27"), "{too_soon}");
        let closed = check_pickup(&p, now, 0, friday_utc(14, 0)).unwrap_err();
        assert!(closed.0.contains("closed at 15:00"), "{closed}");
        assert!(check_pickup(&p, now, 0, now + 13 * 3_600_000).is_err());
    }

    proptest::proptest! {
        /// Every slot offered is accepted when placed at once, lies on the quarter
        /// hour within the lead time and the horizon, and they rise.
        #[test]
        fn every_slot_offered_is_accepted(
            now in 1_700_000_000_000i64..1_900_000_000_000,
            lead in proptest::option::of(0u32..180),
            open in 0u8..24, len in 1u8..24,
        ) {
            let close = (open + len) % 24;
            let range = json!({ "open": format!("{open:02}:00"), "close": format!("{close:02}:00") });
            let p = profile(json!({
                "timezone": "America/New_York",
                "pickup_lead_minutes": lead,
                "hours": { "mon": [range], "wed": [range], "fri": [range], "sat": [range] },
            }));
            let slots = pickup_slots(&p, now, 0);
            for w in slots.windows(2) {
                proptest::prop_assert!(w[0] < w[1]);
            }
            for &at in &slots {
                proptest::prop_assert_eq!(at % (15 * 60_000), 0);
                proptest::prop_assert!(at >= earliest_pickup(&p, now, 0));
                proptest::prop_assert!(check_pickup(&p, now, 0, at).is_ok());
            }
        }
    }

    #[test]
    fn a_busy_kitchen_quotes_later_then_pauses_after_the_other_reasons() {
        let p = profile(json!({
            "pickup_lead_minutes": 15,
            "backlog_quote_per_ticket_minutes": 2, "backlog_slow_at": 4, "backlog_pause_at": 10,
        }));
        let at = |open_tickets| NodeNow {
            reachable: true,
            open_tickets,
        };
        assert_eq!(asap_minutes(&p, 4), 15);
        assert_eq!(asap_minutes(&p, 7), 21);
        assert!(ordering(&p, at(9), 0).accepting);
        let busy = ordering(&p, at(10), 0);
        assert_eq!(busy.reason, Some(PauseReason::KitchenBusy));
        assert!(
            busy.message.contains("kitchen is very busy"),
            "{}",
            busy.message
        );
        // An unreachable node is the reason, not its last backlog.
        let off = ordering(
            &p,
            NodeNow {
                reachable: false,
                open_tickets: 50,
            },
            0,
        );
        assert_eq!(off.reason, Some(PauseReason::StoreOffline));
        assert_eq!(p.backlog.throttle(3), None);
        assert_eq!(p.backlog.throttle(5), Some("slow"));
        assert_eq!(p.backlog.throttle(12), Some("paused"));
        // The quote is bounded however long the queue.
        assert_eq!(asap_minutes(&p, u32::MAX), 15 + MAX_BACKLOG_EXTRA_MINUTES);
        // No thresholds: the backlog changes nothing.
        let plain = profile(json!({}));
        assert!(ordering(&plain, at(500), 0).accepting);
        assert_eq!(asap_minutes(&plain, 500), 0);
    }

    #[test]
    fn daylight_saving_gap_moves_on() {
        let tz = parse_timezone("Europe/Berlin").unwrap();
        // 2026-03-29 02:30 does not exist in Berlin.
        let d = Date::parse("2026-03-29").unwrap();
        let t = LocalTime::parse("02:30").unwrap();
        assert_eq!(
            instant(tz, d, t).as_deref(),
            Some("2026-03-29T03:30:00+02:00")
        );
        assert!(parse_timezone("Mars/Olympus").is_none());
    }
}
