//! Opening hours: when a store takes orders, in its own local time.
//!
//! A [`Schedule`] is a weekly pattern ([`WeeklyHours`]: per weekday zero or
//! more `open`–`close` ranges) plus dated exceptions ([`HoursException`]: a
//! holiday closed all day, or special ranges for that date). A range whose
//! `close` is not after its `open` runs overnight into the next day
//! (`22:00`–`02:00`); `00:00`–`24:00` is the whole day. A range belongs to the
//! day it *opens* on: an exception replaces the ranges that open on its date,
//! and the overnight tail of the day before still counts.
//!
//! Everything here is local wall-clock time (a [`Date`] and a [`LocalTime`]);
//! converting to and from an instant in the store's time zone is the server's
//! job. The rules: [`Schedule::new`] validates, [`Schedule::is_open`] and
//! [`Schedule::next_opening`] answer.

use std::fmt;

/// Minutes in a day.
const DAY: u16 = 24 * 60;
/// Minutes in a week.
const WEEK: u32 = 7 * DAY as u32;
/// Most ranges opening on one day.
pub const MAX_RANGES_PER_DAY: usize = 6;
/// Most dated exceptions a schedule keeps.
pub const MAX_EXCEPTIONS: usize = 400;
/// How far ahead [`Schedule::next_opening`] looks, in days.
pub const LOOKAHEAD_DAYS: u32 = 400;

/// Why hours are malformed. `code()` is the stable API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("{0:?} is not a time: write HH:MM, 00:00 to 23:59 (24:00 only as a closing time)")]
    BadTime(String),
    #[error("{0:?} is not a date: write YYYY-MM-DD")]
    BadDate(String),
    #[error("a range must not open and close at the same time ({0})")]
    EmptyRange(String),
    #[error("24:00 is only a closing time ({0})")]
    OpenAtMidnightEnd(String),
    #[error("ranges overlap on {0}")]
    Overlap(String),
    #[error("at most {MAX_RANGES_PER_DAY} ranges open on one day ({0})")]
    TooManyRanges(String),
    #[error("{0} has more than one exception")]
    DuplicateException(Date),
    #[error("{0} is closed all day, so it takes no ranges")]
    ClosedWithRanges(Date),
    #[error("an exception for {0} needs either `closed: true` or ranges")]
    EmptyException(Date),
    #[error("at most {MAX_EXCEPTIONS} dated exceptions")]
    TooManyExceptions,
}

impl HoursError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HoursError::BadTime(_) | HoursError::BadDate(_) => "invalid_hours",
            HoursError::EmptyRange(_) | HoursError::OpenAtMidnightEnd(_) => "invalid_hours",
            HoursError::Overlap(_) => "overlapping_hours",
            HoursError::TooManyRanges(_) | HoursError::TooManyExceptions => "too_many_hours",
            HoursError::DuplicateException(_)
            | HoursError::ClosedWithRanges(_)
            | HoursError::EmptyException(_) => "invalid_hours_exception",
        }
    }
}

/// A wall-clock time of day, to the minute: `00:00` to `23:59`, and `24:00`
/// (the end of the day, only as a closing time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    /// `24:00`.
    pub const END_OF_DAY: LocalTime = LocalTime(DAY);

    /// `hour:minute`; `None` out of range (`24:00` is allowed).
    pub fn new(hour: u8, minute: u8) -> Option<LocalTime> {
        let m = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && m <= DAY).then_some(LocalTime(m))
    }

    /// Minutes since midnight, 0 to 1440.
    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn hour(self) -> u8 {
        (self.0 / 60) as u8
    }

    pub fn minute(self) -> u8 {
        (self.0 % 60) as u8
    }

    /// `HH:MM`, exactly five characters.
    pub fn parse(s: &str) -> Result<LocalTime, HoursError> {
        let bad = || HoursError::BadTime(s.chars().take(20).collect());
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return Err(bad());
        }
        let two = |i: usize| -> Option<u8> {
            let (x, y) = (b[i], b[i + 1]);
            (x.is_ascii_digit() && y.is_ascii_digit()).then(|| (x - b'0') * 10 + (y - b'0'))
        };
        let (Some(h), Some(m)) = (two(0), two(3)) else {
            return Err(bad());
        };
        LocalTime::new(h, m).ok_or_else(bad)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl TryFrom<String> for LocalTime {
    type Error = HoursError;
    fn try_from(s: String) -> Result<Self, HoursError> {
        LocalTime::parse(&s)
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

impl serde::Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for LocalTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LocalTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// 0 for Monday to 6 for Sunday.
    pub fn index(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }
}

/// A calendar date (proleptic Gregorian), years 1 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(())
            .filter(|_| (1..=days_in_month(year, month)).contains(&day))
            .map(|_| Date { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// `YYYY-MM-DD`, exactly ten characters.
    pub fn parse(s: &str) -> Result<Date, HoursError> {
        let bad = || HoursError::BadDate(s.chars().take(20).collect());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            b[r].iter().try_fold(0u16, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
            })
        };
        let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
            return Err(bad());
        };
        Date::new(y, m as u8, d as u8).ok_or_else(bad)
    }

    /// Days since 1970-01-01 (negative before), by Howard Hinnant's `days_from_civil`.
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let m = i64::from(self.month);
        let d = i64::from(self.day);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01; `None` outside years 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        Date::new(u16::try_from(y).ok()?, m as u8, d as u8)
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday (index 3).
        let i = (self.days_since_epoch() + 3).rem_euclid(7);
        Weekday::ALL[i as usize]
    }

    /// The next day (`None` after 9999-12-31).
    pub fn succ(self) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch() + 1)
    }

    /// The day before (`None` before 0001-01-01).
    pub fn pred(self) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch() - 1)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One opening: from `open` to `close` on the day it belongs to, overnight when
/// `close` is not after `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// `HH:MM`, 00:00 to 23:59.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "11:00"))]
    pub open: LocalTime,
    /// `HH:MM`, 00:00 to 24:00; at or before `open` means the next day.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "22:00"))]
    pub close: LocalTime,
}

impl TimeRange {
    /// Minutes from the start of its day: `[start, end)`, `end` past 1440 when overnight.
    fn span(self) -> (u16, u16) {
        let (o, c) = (self.open.minutes(), self.close.minutes());
        if c > o { (o, c) } else { (o, c + DAY) }
    }

    fn check(self, day: &str) -> Result<(), HoursError> {
        if self.open == LocalTime::END_OF_DAY {
            return Err(HoursError::OpenAtMidnightEnd(day.into()));
        }
        if self.open == self.close {
            return Err(HoursError::EmptyRange(format!(
                "{day} {}-{}",
                self.open, self.close
            )));
        }
        Ok(())
    }
}

/// The weekly pattern: for each weekday, the ranges that open on it (none: closed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<TimeRange>,
}

impl WeeklyHours {
    pub fn day(&self, d: Weekday) -> &[TimeRange] {
        match d {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    /// Every range is well formed, at most [`MAX_RANGES_PER_DAY`] a day, and
    /// no two overlap anywhere in the week (overnight ones included, Sunday
    /// night running into Monday too).
    pub fn validate(&self) -> Result<(), HoursError> {
        let mut spans: Vec<(u32, u32, Weekday)> = vec![];
        for d in Weekday::ALL {
            let ranges = self.day(d);
            if ranges.len() > MAX_RANGES_PER_DAY {
                return Err(HoursError::TooManyRanges(d.as_str().into()));
            }
            for r in ranges {
                r.check(d.as_str())?;
                let (s, e) = r.span();
                let base = u32::from(d.index()) * u32::from(DAY);
                spans.push((base + u32::from(s), base + u32::from(e), d));
            }
        }
        let overlaps = |a: (u32, u32), b: (u32, u32)| a.0 < b.1 && b.0 < a.1;
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                let clash = [0, WEEK]
                    .iter()
                    .any(|&shift| overlaps((a.0, a.1), (b.0 + shift, b.1 + shift)))
                    || overlaps((a.0 + WEEK, a.1 + WEEK), (b.0, b.1));
                if clash {
                    return Err(HoursError::Overlap(format!(
                        "{} and {}",
                        a.2.as_str(),
                        b.2.as_str()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A date with hours of its own: closed all day, or these ranges instead of the weekday's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HoursException {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2026-12-25"))]
    pub date: Date,
    /// Closed all day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
    /// Special hours for this date (replacing the weekday's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<TimeRange>,
}

/// A store's validated hours: the weekly pattern and the dated exceptions (sorted by date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    weekly: WeeklyHours,
    exceptions: Vec<HoursException>,
}

impl Schedule {
    /// Validates and builds a schedule.
    pub fn new(
        weekly: WeeklyHours,
        mut exceptions: Vec<HoursException>,
    ) -> Result<Schedule, HoursError> {
        weekly.validate()?;
        if exceptions.len() > MAX_EXCEPTIONS {
            return Err(HoursError::TooManyExceptions);
        }
        exceptions.sort_by_key(|e| e.date);
        for (i, e) in exceptions.iter().enumerate() {
            if i > 0 && exceptions[i - 1].date == e.date {
                return Err(HoursError::DuplicateException(e.date));
            }
            match (e.closed, e.ranges.is_empty()) {
                (true, false) => return Err(HoursError::ClosedWithRanges(e.date)),
                (false, true) => return Err(HoursError::EmptyException(e.date)),
                _ => {}
            }
            if e.ranges.len() > MAX_RANGES_PER_DAY {
                return Err(HoursError::TooManyRanges(e.date.to_string()));
            }
            let label = e.date.to_string();
            for (j, a) in e.ranges.iter().enumerate() {
                a.check(&label)?;
                for b in &e.ranges[j + 1..] {
                    let (a, b) = (a.span(), b.span());
                    if a.0 < b.1 && b.0 < a.1 {
                        return Err(HoursError::Overlap(label));
                    }
                }
            }
        }
        Ok(Schedule { weekly, exceptions })
    }

    pub fn weekly(&self) -> &WeeklyHours {
        &self.weekly
    }

    pub fn exceptions(&self) -> &[HoursException] {
        &self.exceptions
    }

    /// The ranges that open on `date`: its exception's, else its weekday's.
    pub fn ranges_on(&self, date: Date) -> &[TimeRange] {
        match self.exceptions.binary_search_by_key(&date, |e| e.date) {
            Ok(i) => &self.exceptions[i].ranges,
            Err(_) => self.weekly.day(date.weekday()),
        }
    }

    /// Whether the store is open at this local moment (a range includes its
    /// opening minute and excludes its closing one).
    pub fn is_open(&self, date: Date, time: LocalTime) -> bool {
        let t = time.minutes().min(DAY - 1);
        if self.ranges_on(date).iter().any(|r| {
            let (s, e) = r.span();
            s <= t && t < e
        }) {
            return true;
        }
        // The overnight tail of a range that opened the day before.
        date.pred().is_some_and(|prev| {
            self.ranges_on(prev).iter().any(|r| {
                let (_, e) = r.span();
                e > DAY && t + DAY < e
            })
        })
    }

    /// The start of the first range that opens strictly after this moment,
    /// looking [`LOOKAHEAD_DAYS`] ahead; `None` when nothing opens in that time.
    pub fn next_opening(&self, date: Date, time: LocalTime) -> Option<(Date, LocalTime)> {
        let mut day = date;
        for i in 0..=LOOKAHEAD_DAYS {
            let first = self
                .ranges_on(day)
                .iter()
                .map(|r| r.open)
                .filter(|o| i > 0 || *o > time)
                .min();
            if let Some(o) = first {
                return Some((day, o));
            }
            day = day.succ()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> LocalTime {
        LocalTime::parse(s).unwrap()
    }
    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }
    fn r(o: &str, c: &str) -> TimeRange {
        TimeRange {
            open: t(o),
            close: t(c),
        }
    }

    fn sample() -> Schedule {
        let weekly = WeeklyHours {
            mon: vec![r("11:00", "14:00"), r("17:00", "22:00")],
            fri: vec![r("11:00", "02:00")],
            sat: vec![r("12:00", "02:00")],
            ..WeeklyHours::default()
        };
        let exceptions = vec![
            HoursException {
                date: d("2026-12-25"),
                closed: true,
                ranges: vec![],
            },
            HoursException {
                date: d("2026-12-24"),
                closed: false,
                ranges: vec![r("10:00", "15:00")],
            },
        ];
        Schedule::new(weekly, exceptions).unwrap()
    }

    #[test]
    fn parses_times_and_dates() {
        assert_eq!(t("09:05").minutes(), 545);
        assert_eq!(t("24:00"), LocalTime::END_OF_DAY);
        for bad in ["9:05", "24:01", "12:60", "ab:cd", "12-00", "", "12:000"] {
            assert!(LocalTime::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "0000-01-01",
            "2026-1-01",
            "2026/01/01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("1970-01-01").weekday(), Weekday::Thu);
        assert_eq!(d("2026-11-27").weekday(), Weekday::Fri);
    }

    #[test]
    fn weekly_hours_with_overnight_ranges_and_exceptions() {
        let s = sample();
        // Monday 2026-11-23: lunch and dinner.
        let mon = d("2026-11-23");
        assert!(s.is_open(mon, t("11:00")));
        assert!(!s.is_open(mon, t("14:00")), "the closing minute is closed");
        assert!(!s.is_open(mon, t("15:30")));
        assert_eq!(s.next_opening(mon, t("15:30")), Some((mon, t("17:00"))));
        // Friday runs past midnight into Saturday.
        let fri = d("2026-11-27");
        let sat = d("2026-11-28");
        assert!(s.is_open(fri, t("23:59")));
        assert!(s.is_open(sat, t("01:59")));
        assert!(!s.is_open(sat, t("02:00")));
        assert_eq!(s.next_opening(sat, t("02:00")), Some((sat, t("12:00"))));
        // Sunday night into Monday morning: closed; opens Monday 11:00.
        let sun = d("2026-11-29");
        assert!(s.is_open(sun, t("01:00")), "Saturday's overnight tail");
        assert!(!s.is_open(sun, t("12:00")));
        assert_eq!(
            s.next_opening(sun, t("12:00")),
            Some((d("2026-11-30"), t("11:00")))
        );
        // Christmas Eve (a Thursday) has special hours; Christmas (Friday) is closed.
        assert!(s.is_open(d("2026-12-24"), t("10:00")));
        assert!(!s.is_open(d("2026-12-25"), t("12:00")));
        assert_eq!(
            s.next_opening(d("2026-12-24"), t("16:00")),
            Some((d("2026-12-26"), t("12:00")))
        );
    }

    #[test]
    fn rejects_bad_schedules() {
        let overlap = WeeklyHours {
            mon: vec![r("11:00", "14:00"), r("13:00", "15:00")],
            ..WeeklyHours::default()
        };
        assert_eq!(overlap.validate().unwrap_err().code(), "overlapping_hours");
        let overnight_clash = WeeklyHours {
            sun: vec![r("20:00", "03:00")],
            mon: vec![r("02:00", "05:00")],
            ..WeeklyHours::default()
        };
        assert!(matches!(
            overnight_clash.validate(),
            Err(HoursError::Overlap(_))
        ));
        let empty = WeeklyHours {
            tue: vec![r("10:00", "10:00")],
            ..WeeklyHours::default()
        };
        assert!(matches!(empty.validate(), Err(HoursError::EmptyRange(_))));
        let from_end = WeeklyHours {
            tue: vec![r("24:00", "02:00")],
            ..WeeklyHours::default()
        };
        assert!(from_end.validate().is_err());
        let all_day = WeeklyHours {
            wed: vec![r("00:00", "24:00")],
            ..WeeklyHours::default()
        };
        assert!(all_day.validate().is_ok());
        let e = |closed, ranges| HoursException {
            date: d("2026-01-01"),
            closed,
            ranges,
        };
        assert!(matches!(
            Schedule::new(
                WeeklyHours::default(),
                vec![e(true, vec![r("10:00", "11:00")])]
            ),
            Err(HoursError::ClosedWithRanges(_))
        ));
        assert!(matches!(
            Schedule::new(WeeklyHours::default(), vec![e(false, vec![])]),
            Err(HoursError::EmptyException(_))
        ));
        assert!(matches!(
            Schedule::new(
                WeeklyHours::default(),
                vec![e(true, vec![]), e(true, vec![])]
            ),
            Err(HoursError::DuplicateException(_))
        ));
    }

    #[test]
    fn json_shape() {
        let w: WeeklyHours = serde_json::from_str(
            r#"{"mon":[{"open":"11:00","close":"22:00"}],"fri":[{"open":"11:00","close":"02:00"}]}"#,
        )
        .unwrap();
        assert_eq!(w.fri, vec![r("11:00", "02:00")]);
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"mon":[{"open":"11:00","close":"22:00"}],"fri":[{"open":"11:00","close":"02:00"}]}"#
        );
        assert!(
            serde_json::from_str::<WeeklyHours>(r#"{"mon":[{"open":"25:00","close":"02:00"}]}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<WeeklyHours>(r#"{"monday":[]}"#).is_err());
        let x: Vec<HoursException> =
            serde_json::from_str(r#"[{"date":"2026-12-25","closed":true}]"#).unwrap();
        assert!(x[0].closed);
    }

    /// A range of 1 to 600 minutes from any opening minute (overnight when it passes midnight).
    fn arb_range() -> impl Strategy<Value = TimeRange> {
        (0u16..DAY, 1u16..=600).prop_map(|(o, len)| {
            let end = o + len;
            let close = if end == DAY { DAY } else { end % DAY };
            TimeRange {
                open: LocalTime(o),
                close: LocalTime(close),
            }
        })
    }

    /// A valid week: candidate ranges kept only when they clash with none kept before.
    fn arb_weekly() -> impl Strategy<Value = WeeklyHours> {
        proptest::collection::vec((0usize..7, arb_range()), 0..12).prop_map(|cands| {
            let mut w = WeeklyHours::default();
            for (day, r) in cands {
                let mut next = w.clone();
                let slot = match Weekday::ALL[day] {
                    Weekday::Mon => &mut next.mon,
                    Weekday::Tue => &mut next.tue,
                    Weekday::Wed => &mut next.wed,
                    Weekday::Thu => &mut next.thu,
                    Weekday::Fri => &mut next.fri,
                    Weekday::Sat => &mut next.sat,
                    Weekday::Sun => &mut next.sun,
                };
                slot.push(r);
                if next.validate().is_ok() {
                    w = next;
                }
            }
            w
        })
    }

    fn arb_date() -> impl Strategy<Value = Date> {
        (1i64..2_900_000).prop_map(|n| Date::from_days_since_epoch(n - 700_000).unwrap())
    }

    /// The moment `minutes` after (date, time).
    fn plus(date: Date, time: LocalTime, minutes: u32) -> (Date, LocalTime) {
        let total = u32::from(time.minutes()) + minutes;
        let days = i64::from(total / u32::from(DAY));
        let date = Date::from_days_since_epoch(date.days_since_epoch() + days).unwrap();
        (date, LocalTime((total % u32::from(DAY)) as u16))
    }

    proptest! {
        #[test]
        fn time_and_date_parsers_never_panic_and_round_trip(s in "\\PC{0,12}", n in 0u16..DAY, days in -719_000i64..2_900_000) {
            if let Ok(t) = LocalTime::parse(&s) {
                prop_assert_eq!(LocalTime::parse(&t.to_string()), Ok(t));
            }
            if let Ok(d) = Date::parse(&s) {
                prop_assert_eq!(Date::parse(&d.to_string()), Ok(d));
            }
            let t = LocalTime(n);
            prop_assert_eq!(LocalTime::parse(&t.to_string()), Ok(t));
            if let Some(d) = Date::from_days_since_epoch(days) {
                prop_assert_eq!(d.days_since_epoch(), days);
                prop_assert_eq!(Date::parse(&d.to_string()), Ok(d));
                if let Some(next) = d.succ() {
                    prop_assert_eq!(next.pred(), Some(d));
                    prop_assert_eq!((next.weekday().index() + 7 - d.weekday().index()) % 7, 1);
                }
            }
        }

        #[test]
        fn hours_json_never_panics(s in "\\PC{0,200}") {
            if let Ok(w) = serde_json::from_str::<WeeklyHours>(&s) {
                let _ = w.validate();
            }
            let _ = serde_json::from_str::<Vec<HoursException>>(&s);
        }

        #[test]
        fn a_weekly_schedule_repeats_every_week(w in arb_weekly(), date in arb_date(), m in 0u16..DAY) {
            let s = Schedule::new(w, vec![]).unwrap();
            let later = Date::from_days_since_epoch(date.days_since_epoch() + 7);
            prop_assume!(later.is_some() && date.pred().is_some());
            prop_assert_eq!(s.is_open(date, LocalTime(m)), s.is_open(later.unwrap(), LocalTime(m)));
            for r in s.ranges_on(date) {
                prop_assert!(s.is_open(date, r.open), "open at its opening minute");
            }
        }

        #[test]
        fn next_opening_is_the_first_open_minute_after_a_closed_one(
            w in arb_weekly(),
            closed_day in 0u8..7,
            date in arb_date(),
            m in 0u16..DAY,
        ) {
            let exceptions = vec![HoursException {
                date: Date::from_days_since_epoch(date.days_since_epoch() + i64::from(closed_day)).unwrap(),
                closed: true,
                ranges: vec![],
            }];
            let s = Schedule::new(w, exceptions).unwrap();
            let now = LocalTime(m);
            prop_assume!(!s.is_open(date, now));
            if let Some((od, ot)) = s.next_opening(date, now) {
                prop_assert!(s.is_open(od, ot));
                let gap = (od.days_since_epoch() - date.days_since_epoch()) * i64::from(DAY)
                    + i64::from(ot.minutes()) - i64::from(m);
                prop_assert!(gap > 0);
                // Closed at every minute in between (checked up to three days).
                for k in 1..gap.min(3 * i64::from(DAY)) {
                    let (d, t) = plus(date, now, k as u32);
                    prop_assert!(!s.is_open(d, t), "open at {} {} before the next opening {} {}", d, t, od, ot);
                }
            } else {
                // Nothing opens: the week has no ranges at all.
                prop_assert!(Weekday::ALL.iter().all(|d| s.weekly().day(*d).is_empty()));
            }
        }
    }
}
