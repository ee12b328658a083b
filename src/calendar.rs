//! Calendar logic in the billing time zone, UTC+8 (docs/rules.md §1, §3.1, §3.5, §8).
//!
//! Instants are `i64` microseconds since the Unix epoch (UTC), as Parquet stores them; every
//! calendar notion — hour of day, day, month, cycle and slice boundaries, idle windows, the
//! three-month window — is evaluated on the UTC+8 wall clock. UTC+8 has no DST, so a local
//! wall-clock time maps to exactly one instant.
//!
//! Invariants: cycle `k` of a periodic package starts at `anchor + k × length` (for `1mo`, the
//! anchor's day of month `k` months later, clamped to month end, always computed from the anchor,
//! never chained); the last cycle ends at `expires_at`. Natural-day cycles (free quota,
//! docs/rules.md §3.1 revised) are the same cycles anchored at 00:00 of the anchor's day, the first
//! one starting at the anchor itself.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use std::fmt;

/// An instant: microseconds since the Unix epoch, UTC.
pub type Ts = i64;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub const DAY: i64 = 24 * HOUR;
/// Offset of the billing time zone.
pub const OFFSET: i64 = 8 * HOUR;
/// The earliest instant an input may hold: 0001-01-01 00:00:00 UTC.
pub const MIN_TS: Ts = -62_135_596_800 * MICROS_PER_SECOND;
/// The latest instant an input may hold: 9999-12-31 23:59:59.999999 UTC. Inside these bounds
/// every calendar step (UTC+8 offset, days, months, terms of up to 1200 months) stays within
/// what the calendar can represent.
pub const MAX_TS: Ts = 253_402_300_800 * MICROS_PER_SECOND - 1;

/// The UTC+8 wall-clock time of an instant.
pub fn local(ts: Ts) -> NaiveDateTime {
    let l = ts + OFFSET;
    let secs = l.div_euclid(MICROS_PER_SECOND);
    let micros = l.rem_euclid(MICROS_PER_SECOND);
    chrono::DateTime::from_timestamp(secs, (micros * 1000) as u32)
        .expect("instant within chrono's range")
        .naive_utc()
}

/// The instant of a UTC+8 wall-clock time.
pub fn from_local(dt: NaiveDateTime) -> Ts {
    dt.and_utc().timestamp_micros() - OFFSET
}

/// Midnight (UTC+8) starting the given local date.
pub fn day_start_of_date(d: NaiveDate) -> Ts {
    from_local(d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// Start of the UTC+8 day containing `ts`.
pub fn day_start(ts: Ts) -> Ts {
    (ts + OFFSET).div_euclid(DAY) * DAY - OFFSET
}

/// Start of the hour containing `ts` (hours are aligned in UTC and UTC+8 alike).
pub fn hour_start(ts: Ts) -> Ts {
    ts.div_euclid(HOUR) * HOUR
}

/// Hour of day (0–23) in UTC+8.
pub fn local_hour(ts: Ts) -> u32 {
    local(ts).hour()
}

/// The UTC+8 date of an instant.
pub fn local_date(ts: Ts) -> NaiveDate {
    local(ts).date()
}

/// Adds `n` months to a local time, clamping the day to the target month's last day.
pub fn add_months_clamped(dt: NaiveDateTime, n: i32) -> NaiveDateTime {
    let total = dt.year() * 12 + dt.month0() as i32 + n;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let last = last_day_of_month(y, m0 + 1);
    let day = dt.day().min(last);
    NaiveDate::from_ymd_opt(y, m0 + 1, day)
        .expect("clamped date exists")
        .and_time(dt.time())
}

fn last_day_of_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .expect("valid month")
        .pred_opt()
        .expect("has a previous day")
        .day()
}

/// A natural month in UTC+8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// The UTC+8 month of an instant. Called for every usage row, line and detail (pricing's
    /// counters, bills, the writer's partitions), so it is computed from the day number with
    /// integer arithmetic (Howard Hinnant's `civil_from_days`) instead of building a `chrono`
    /// date; tests check it against `chrono`, on month edges and on random instants.
    pub fn of(ts: Ts) -> Month {
        // Days since 0000-03-01 (proleptic Gregorian): years then start in March, so a leap
        // day is a year's last day.
        let z = (ts + OFFSET).div_euclid(DAY) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097; // [0, 146096]
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
        let mp = (5 * doy + 2) / 153; // [0, 11], March first
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Month {
            year: year as i32,
            month: month as u32,
        }
    }

    pub fn start(self) -> Ts {
        day_start_of_date(NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month"))
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Exclusive end instant (start of the next month).
    pub fn end(self) -> Ts {
        self.next().start()
    }

    /// Months from `self` to `last`, both included.
    pub fn through(self, last: Month) -> Vec<Month> {
        let mut out = Vec::new();
        let mut m = self;
        while m <= last {
            out.push(m);
            m = m.next();
        }
        out
    }

    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (1..=12).contains(&month).then_some(Month { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Formats an instant as UTC+8 wall-clock text, e.g. `2024-03-01 08:00:00+08:00`.
pub fn format_local(ts: Ts) -> String {
    format!("{}+08:00", local(ts).format("%Y-%m-%d %H:%M:%S"))
}

/// The run's time frame (docs/rules.md §8): as-of moment `D 00:00 UTC+8` and the window
/// `[D − 3 months, D)`, the subtraction clamped to month end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub as_of_date: NaiveDate,
    /// The as-of moment: nothing at or after it is used.
    pub as_of: Ts,
    /// Inclusive start of the detail window.
    pub start: Ts,
}

impl Window {
    pub fn new(as_of_date: NaiveDate) -> Window {
        let as_of_dt = as_of_date.and_hms_opt(0, 0, 0).expect("midnight exists");
        let start_dt = add_months_clamped(as_of_dt, -3);
        Window {
            as_of_date,
            as_of: from_local(as_of_dt),
            start: from_local(start_dt),
        }
    }

    pub fn contains(&self, ts: Ts) -> bool {
        self.start <= ts && ts < self.as_of
    }

    /// Natural months that overlap the window, oldest first.
    pub fn months(&self) -> Vec<Month> {
        Month::of(self.start).through(Month::of(self.as_of - 1))
    }

    /// A month's bill is complete when the month ends at or before the as-of moment.
    pub fn month_complete(&self, m: Month) -> bool {
        m.end() <= self.as_of
    }
}

/// Cycle lengths of periodic packages and slice lengths of sliced packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CycleLen {
    Hour,
    Day,
    Days30,
    Month,
}

impl CycleLen {
    pub fn parse(s: &str) -> Option<CycleLen> {
        Some(match s {
            "1h" => CycleLen::Hour,
            "1d" => CycleLen::Day,
            "30d" => CycleLen::Days30,
            "1mo" => CycleLen::Month,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CycleLen::Hour => "1h",
            CycleLen::Day => "1d",
            CycleLen::Days30 => "30d",
            CycleLen::Month => "1mo",
        }
    }

    fn fixed(self) -> Option<i64> {
        match self {
            CycleLen::Hour => Some(HOUR),
            CycleLen::Day => Some(DAY),
            CycleLen::Days30 => Some(30 * DAY),
            CycleLen::Month => None,
        }
    }
}

/// One cycle (periodic) or slice (sliced) of a package: `[start, end)`, number `index` from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    pub index: i64,
    pub start: Ts,
    pub end: Ts,
}

/// Start of cycle `k` of a periodic package anchored at `anchor` (not clipped to expiry).
pub fn periodic_cycle_start(anchor: Ts, len: CycleLen, k: i64) -> Ts {
    match len.fixed() {
        Some(l) => anchor + k * l,
        None => from_local(add_months_clamped(local(anchor), k as i32)),
    }
}

/// The cycle of a periodic package `[anchor, expires)` that contains `t`, if any.
pub fn periodic_cycle(anchor: Ts, expires: Ts, len: CycleLen, t: Ts) -> Option<Cycle> {
    if t < anchor || t >= expires {
        return None;
    }
    let k = match len.fixed() {
        Some(l) => (t - anchor) / l,
        None => {
            let (a, b) = (local(anchor), local(t));
            let mut k = ((b.year() - a.year()) * 12 + b.month() as i32 - a.month() as i32) as i64;
            while k > 0 && periodic_cycle_start(anchor, len, k) > t {
                k -= 1;
            }
            while periodic_cycle_start(anchor, len, k + 1) <= t {
                k += 1;
            }
            k
        }
    };
    let start = periodic_cycle_start(anchor, len, k);
    let end = periodic_cycle_start(anchor, len, k + 1).min(expires);
    Some(Cycle {
        index: k,
        start,
        end,
    })
}

/// Number of cycles of a periodic package: cycles whose start is before `expires`.
pub fn periodic_cycle_count(anchor: Ts, expires: Ts, len: CycleLen) -> i64 {
    if expires <= anchor {
        return 0;
    }
    periodic_cycle(anchor, expires, len, expires - 1).map_or(0, |c| c.index + 1)
}

/// docs/rules.md §3.1 (revised): the cycle containing `t` of a package `[effective, expires)` whose
/// `len` cycles count natural days (free quota): the first runs from `effective` to 00:00
/// UTC+8 of the day `len` after `effective`'s day, each later one `len` from 00:00.
pub fn natural_day_cycle(effective: Ts, expires: Ts, len: CycleLen, t: Ts) -> Option<Cycle> {
    if t < effective {
        return None;
    }
    let c = periodic_cycle(day_start(effective), expires, len, t)?;
    Some(Cycle {
        start: c.start.max(effective),
        ..c
    })
}

/// Number of cycles of [`natural_day_cycle`]: cycles whose start is before `expires`.
pub fn natural_day_cycle_count(effective: Ts, expires: Ts, len: CycleLen) -> i64 {
    if expires <= effective {
        return 0;
    }
    periodic_cycle_count(day_start(effective), expires, len)
}

/// The natural UTC+8 hour or day slice of a sliced package `[effective, expires)` containing `t`;
/// the first and last slices are clipped to validity.
pub fn natural_slice(effective: Ts, expires: Ts, len: CycleLen, t: Ts) -> Option<Cycle> {
    if t < effective || t >= expires {
        return None;
    }
    let (floor, step) = match len {
        CycleLen::Hour => (hour_start(t), HOUR),
        _ => (day_start(t), DAY),
    };
    let first = match len {
        CycleLen::Hour => hour_start(effective),
        _ => day_start(effective),
    };
    Some(Cycle {
        index: (floor - first) / step,
        start: floor.max(effective),
        end: (floor + step).min(expires),
    })
}

/// An idle window of UTC+8 hours `[from, to)`, possibly wrapping midnight (docs/rules.md §3.5):
/// `from` in 0..24, `to` in 1..=24 (`[0, 24)` is the whole day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleWindow {
    pub from: u32,
    pub to: u32,
}

impl IdleWindow {
    /// Whether the hour starting at `hour_start` is idle.
    pub fn contains(&self, hour_start: Ts) -> bool {
        let h = local_hour(hour_start);
        if self.from <= self.to {
            self.from <= h && h < self.to
        } else {
            h >= self.from || h < self.to
        }
    }
}

/// Parses `YYYY-MM-DD`, years 1 to 9999 (the instants inputs may hold, see [`MAX_TS`]):
/// chrono's `%Y` also takes signed and five-digit years, whose windows and months would leave
/// the calendar's range.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&d.year()))
}

/// Parses a local UTC+8 time written as `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (catalog dates).
pub fn parse_local(s: &str) -> Option<Ts> {
    let s = s.trim();
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(from_local(dt));
    }
    parse_date(s).map(day_start_of_date)
}

/// `ts` plus whole days.
pub fn plus_days(ts: Ts, days: i64) -> Ts {
    ts + Duration::days(days)
        .num_microseconds()
        .expect("small duration")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Month::of` the way `chrono` gives it.
    fn month_by_chrono(ts: Ts) -> Month {
        let d = local(ts);
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    #[test]
    fn month_of_agrees_with_chrono_at_month_edges() {
        // The last microsecond of each month and the first of the next, in UTC+8, over leap
        // and common years, century years (1900, 2100 not leap; 2000 leap) and before 1970.
        for year in [1899, 1900, 1969, 1970, 1999, 2000, 2023, 2024, 2099, 2100] {
            for month in 1..=12 {
                let m = Month { year, month };
                let start = m.start();
                assert_eq!(Month::of(start), m, "{m} starts at {start}");
                assert_eq!(Month::of(start - 1), month_by_chrono(start - 1));
                assert_ne!(Month::of(start - 1), m);
                assert_eq!(Month::of(m.end() - 1), m);
            }
        }
        // The UTC+8 offset: 2024-02-29 16:00 UTC is already March 1 in UTC+8.
        assert_eq!(
            Month::of(t("2024-03-01 00:00:00")),
            Month {
                year: 2024,
                month: 3
            }
        );
        assert_eq!(Month::of(0), month_by_chrono(0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn month_of_agrees_with_chrono(ts in -62_000_000_000_000_000i64..250_000_000_000_000_000) {
            proptest::prop_assert_eq!(Month::of(ts), month_by_chrono(ts));
        }
    }

    fn t(s: &str) -> Ts {
        parse_local(s).unwrap()
    }

    #[test]
    fn months_and_days_are_utc8() {
        // 2024-02-29 16:00 UTC is 2024-03-01 00:00 UTC+8.
        let ts = t("2024-03-01 00:00:00");
        assert_eq!(Month::of(ts).to_string(), "2024-03");
        assert_eq!(Month::of(ts - 1).to_string(), "2024-02");
        assert_eq!(day_start(ts + 5 * HOUR), ts);
        assert_eq!(local_hour(ts + 7 * HOUR), 7);
        assert_eq!(
            Month::parse("2024-12").unwrap().next().to_string(),
            "2025-01"
        );
    }

    #[test]
    fn window_clamps_to_month_end() {
        let w = Window::new(parse_date("2024-05-31").unwrap());
        assert_eq!(w.start, t("2024-02-29"));
        let w = Window::new(parse_date("2023-05-31").unwrap());
        assert_eq!(w.start, t("2023-02-28"));
        let months: Vec<String> = w.months().iter().map(|m| m.to_string()).collect();
        assert_eq!(months, ["2023-02", "2023-03", "2023-04", "2023-05"]);
        assert!(w.month_complete(Month::parse("2023-04").unwrap()));
        assert!(!w.month_complete(Month::parse("2023-05").unwrap()));
        assert!(w.contains(t("2023-02-28")));
        assert!(!w.contains(t("2023-05-31")));
    }

    /// docs/rules.md §9.9 (revised): activated 2019-11-10 17:13:14 → the first cycle to 2019-12-10
    /// 00:00:00, the second to 2020-01-09 00:00:00; the 2019-12-10 00:00 hour is in the second.
    #[test]
    fn example_9_free_quota_cycles_count_natural_days() {
        let a = t("2019-11-10 17:13:14");
        let exp = t("2020-11-04"); // 00:00 of the day 12 × 30 days after 2019-11-10
        let at = |s: &str| natural_day_cycle(a, exp, CycleLen::Days30, t(s)).unwrap();
        let c = at("2019-11-10 17:13:14");
        assert_eq!((c.index, c.start, c.end), (0, a, t("2019-12-10")));
        let c = at("2019-12-09 23:00:00");
        assert_eq!((c.index, c.start, c.end), (0, a, t("2019-12-10")));
        let c = at("2019-12-10 00:00:00");
        assert_eq!(
            (c.index, c.start, c.end),
            (1, t("2019-12-10"), t("2020-01-09"))
        );
        let c = at("2020-01-09 00:00:00");
        assert_eq!(
            (c.index, c.start, c.end),
            (2, t("2020-01-09"), t("2020-02-08"))
        );
        let c = at("2020-11-03 23:00:00");
        assert_eq!((c.index, c.start, c.end), (11, t("2020-10-05"), exp));
        assert_eq!(natural_day_cycle(a, exp, CycleLen::Days30, a - 1), None);
        assert_eq!(natural_day_cycle(a, exp, CycleLen::Days30, exp), None);
        assert_eq!(natural_day_cycle_count(a, exp, CycleLen::Days30), 12);
        // Anchored at 00:00, natural-day cycles are the plain ones.
        let m = t("2019-11-10");
        for h in [0, 5, 24 * 30, 24 * 31] {
            let x = m + h * HOUR;
            assert_eq!(
                natural_day_cycle(m, exp, CycleLen::Days30, x),
                periodic_cycle(m, exp, CycleLen::Days30, x)
            );
        }
    }

    #[test]
    fn plain_30_day_cycles_start_at_the_anchor() {
        let a = t("2019-11-10 17:13:14");
        let exp = periodic_cycle_start(a, CycleLen::Days30, 12);
        let c = periodic_cycle(a, exp, CycleLen::Days30, t("2019-11-20 00:00:00")).unwrap();
        assert_eq!((c.index, c.start, c.end), (0, a, t("2019-12-10 17:13:14")));
        // An hour belongs to the cycle containing its start.
        let c = periodic_cycle(a, exp, CycleLen::Days30, t("2019-12-10 17:00:00")).unwrap();
        assert_eq!(c.index, 0);
        let c = periodic_cycle(a, exp, CycleLen::Days30, t("2019-12-10 18:00:00")).unwrap();
        assert_eq!(c.index, 1);
        assert_eq!(periodic_cycle_count(a, exp, CycleLen::Days30), 12);
    }

    #[test]
    fn monthly_cycles_clamp_from_the_anchor() {
        let a = t("2024-01-31 10:00:00");
        let exp = t("2024-12-31 10:00:00");
        let c = periodic_cycle(a, exp, CycleLen::Month, t("2024-03-01 00:00:00")).unwrap();
        assert_eq!(
            (c.index, c.start, c.end),
            (1, t("2024-02-29 10:00:00"), t("2024-03-31 10:00:00"))
        );
        let c = periodic_cycle(a, exp, CycleLen::Month, t("2024-04-30 09:00:00")).unwrap();
        assert_eq!((c.index, c.start), (2, t("2024-03-31 10:00:00")));
        // The last cycle ends at expiry and is still a cycle.
        let exp2 = t("2024-03-15 00:00:00");
        let c = periodic_cycle(a, exp2, CycleLen::Month, t("2024-03-10 00:00:00")).unwrap();
        assert_eq!((c.index, c.end), (1, exp2));
        assert_eq!(periodic_cycle_count(a, exp2, CycleLen::Month), 2);
    }

    #[test]
    fn slices_are_natural_and_clipped() {
        let eff = t("2024-01-01 10:30:00");
        let exp = t("2024-01-03 06:00:00");
        let s = natural_slice(eff, exp, CycleLen::Day, t("2024-01-01 12:00:00")).unwrap();
        assert_eq!(
            (s.index, s.start, s.end),
            (0, eff, t("2024-01-02 00:00:00"))
        );
        let s = natural_slice(eff, exp, CycleLen::Day, t("2024-01-03 05:00:00")).unwrap();
        assert_eq!(
            (s.index, s.start, s.end),
            (2, t("2024-01-03 00:00:00"), exp)
        );
        let s = natural_slice(eff, exp, CycleLen::Hour, t("2024-01-01 11:00:00")).unwrap();
        assert_eq!(
            (s.index, s.start, s.end),
            (1, t("2024-01-01 11:00:00"), t("2024-01-01 12:00:00"))
        );
        assert!(natural_slice(eff, exp, CycleLen::Hour, exp).is_none());
    }

    #[test]
    fn dates_are_years_1_to_9999() {
        assert!(parse_date("2024-06-01").is_some());
        assert!(parse_date("0001-01-01").is_some() && parse_date("9999-12-31").is_some());
        for bad in [
            "0000-01-01",
            "+10000-01-01",
            "-262143-01-01",
            "+262142-12-31",
            "2024-13-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn idle_windows_wrap_midnight() {
        let w = IdleWindow { from: 23, to: 7 };
        assert!(w.contains(t("2024-01-01 23:00:00")));
        assert!(w.contains(t("2024-01-02 06:00:00")));
        assert!(!w.contains(t("2024-01-02 07:00:00")));
        let w = IdleWindow { from: 0, to: 8 };
        assert!(w.contains(t("2024-01-01 00:00:00")));
        assert!(!w.contains(t("2024-01-01 08:00:00")));
        // Up to midnight, and the whole day.
        let w = IdleWindow { from: 23, to: 24 };
        assert!(w.contains(t("2024-01-01 23:00:00")));
        assert!(!w.contains(t("2024-01-01 00:00:00")));
        let w = IdleWindow { from: 0, to: 24 };
        assert!((0..24).all(|h| w.contains(t("2024-01-01 00:00:00") + h * HOUR)));
    }
}
