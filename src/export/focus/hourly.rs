//! The amortization of unlimited resource packages, which have no capacity to price a unit of:
//! the package is measured in hours of cover, and its price is spread over the hours of its
//! validity term (`docs/focus.md` § "Amortization of resource packages").
//!
//! - **Term**: the clock hours (UTC+8 hours are UTC hours) from the hour of `effective_at` to
//!   `expires_at`, `H` of them ([`Term`]); the first and the last may be partial and count whole.
//! - **Hour shares**: hour `k` (0-based) carries `F(k + 1) − F(k)`, where
//!   `F(k) = round(price × k / H)` at the money scale (8), half away from zero, computed on
//!   integers ([`Term::cumulative`]): the shares of any run of hours sum to a difference of `F`,
//!   so the whole term's shares sum to the price exactly, and none is negative.
//! - **Draws**: an hour's share goes to the package's draws in that hour, in proportion to what
//!   each took, by the same cumulative rounding over the draws ordered by `(usage_id,
//!   draw_seq)` ([`split`]): they sum to the share exactly. Each draw also uses its part of the
//!   hour (`CommitmentDiscountQuantity`, scale 9, the parts of an hour summing to 1).
//! - **Unused**: the shares of the hours inside the output's window and before its as-of moment
//!   that no draw took anything in, one row per month. At a refund the hours that start at or
//!   after it lapse at the refund, as a capacity package's unconsumed cycles do: their shares
//!   are one `Unused` amount in the refund's hour, so the `Used` and `Unused` rows of a package
//!   whose term lies in the output add up to its price, exactly; the refund stays its `Credit`
//!   row. Hours before the window are in no row (their draws are not in the output).
//!
//! Invariants: every unlimited package is measured in `Hours` (its purchase: the term's hours;
//! a draw: its part of its hour; an Unused row: the hours left); a draw outside the hours it
//! is amortized over (outside the term, after a refund) carries 0; memory holds one amount per
//! draw on an unlimited package, and the Unused rows.

use super::packages::{read_columns, Package};
use crate::calendar::{hour_start, Month, Ts, HOUR};
use crate::error::Result;
use crate::money::{self, MONEY_SCALE, QTY_SCALE};
use crate::output::read;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The FOCUS unit an unlimited package is measured in.
pub const HOURS: &str = "Hours";

/// What a draw on an unlimited package carries: its share of the package's price and the part
/// of its hour it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub effective: Decimal,
    pub hours: Decimal,
}

/// The hours of a package's term that no draw used, within one month (or lapsed at a refund):
/// the period from the first such hour's start to the last one's end, how many, their shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lapse {
    pub month: Month,
    pub start: Ts,
    pub end: Ts,
    pub hours: Decimal,
    pub effective: Decimal,
}

/// The amortization of every unlimited package of an output.
#[derive(Debug, Default)]
pub struct Hourly {
    /// `(usage_id, draw_seq)` → the draw's part.
    pub draws: HashMap<(String, i64), Part>,
    /// `package_id` → its Unused stretches, in month order.
    pub lapses: HashMap<String, Vec<Lapse>>,
}

/// Whether `p` is amortized by the hour: it has no capacity to price a unit of.
pub fn is_hourly(p: &Package) -> bool {
    p.kind == "unlimited"
}

/// The hours of a package's validity term and the price spread over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The start of the term's first hour.
    pub first: Ts,
    /// `H`: the number of hours, ≥ 1.
    pub hours: i64,
    /// The price's mantissa at the money scale.
    price: i128,
}

impl Term {
    /// The term of `p`; `None` for an empty validity.
    pub fn of(p: &Package) -> Option<Term> {
        Term::new(p.effective_at, p.expires_at, p.price)
    }

    /// The hours from the one of `start` to `end`, over which `price` (≥ 0) is spread.
    pub fn new(start: Ts, end: Ts, price: Decimal) -> Option<Term> {
        let first = hour_start(start);
        let hours = (end - first + HOUR - 1).div_euclid(HOUR);
        (end > start && hours > 0).then(|| Term {
            first,
            hours,
            price: money::to_mantissa(price.max(Decimal::ZERO), MONEY_SCALE),
        })
    }

    /// `F(k)`: the shares of hours `0..k`, `round(price × k / H)` at scale 8, exact. No
    /// overflow: a price has at most 28 digits (below 10^28 at scale 8) and a term fewer than
    /// 10^8 hours, so `2 × price × k` stays below 10^37.
    pub fn cumulative(&self, k: i64) -> Decimal {
        let (k, h) = (i128::from(k.clamp(0, self.hours)), i128::from(self.hours));
        let m = (2 * self.price * k + h) / (2 * h);
        money::from_mantissa(m, MONEY_SCALE).unwrap_or(Decimal::ZERO)
    }

    /// The share of hour `k`.
    pub fn share(&self, k: i64) -> Decimal {
        self.cumulative(k + 1) - self.cumulative(k)
    }

    /// The start of hour `k`.
    pub fn start_of(&self, k: i64) -> Ts {
        self.first + k * HOUR
    }

    /// The hour `t` falls in, if inside the term.
    pub fn hour_of(&self, t: Ts) -> Option<i64> {
        let k = (t - self.first).div_euclid(HOUR);
        (0..self.hours).contains(&k).then_some(k)
    }

    /// How many hours of the term start before `t`.
    pub fn hours_before(&self, t: Ts) -> i64 {
        (t - self.first + HOUR - 1)
            .div_euclid(HOUR)
            .clamp(0, self.hours)
    }
}

/// `total` split in proportion to `weights` (negative ones count as 0) at `scale`: part `i` is
/// `round(total × W_i / W) − round(total × W_(i−1) / W)` over the cumulative weights `W_i`, so
/// the parts sum to `total` exactly (for `total` ≥ 0 at a scale ≤ `scale`) and none is negative.
/// All zeros when the weights sum to 0.
pub fn split(total: Decimal, weights: &[Decimal], scale: u32) -> Vec<Decimal> {
    let weights: Vec<Decimal> = weights.iter().map(|w| (*w).max(Decimal::ZERO)).collect();
    let sum: Decimal = weights.iter().sum();
    if sum.is_zero() {
        return vec![Decimal::ZERO; weights.len()];
    }
    let mut out = Vec::with_capacity(weights.len());
    let (mut before, mut cum) = (Decimal::ZERO, Decimal::ZERO);
    for (i, w) in weights.iter().enumerate() {
        cum += w;
        let upto = if i + 1 == weights.len() {
            total
        } else {
            // The product alone overflows only for values far beyond any price; the ratio
            // first is then as monotone, if less exact.
            let exact = total.checked_mul(cum).and_then(|x| x.checked_div(sum));
            let x = exact.unwrap_or_else(|| total * (cum / sum));
            let x = x.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
            x.clamp(before, total.max(before))
        };
        out.push(upto - before);
        before = upto;
    }
    out
}

/// A draw on an unlimited package: its key and what it took, in the package's unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Taken {
    usage_id: String,
    seq: i64,
    taken: Decimal,
}

/// Every unlimited package's amortization, from the draws of `deduction_details` in `dir` and
/// the packages `by_id` (prices with their renewals), for the window `[window_start, as_of)`.
pub fn load(
    dir: &Path,
    by_id: &HashMap<String, Package>,
    window_start: Ts,
    as_of: Ts,
) -> Result<Hourly> {
    let mut out = Hourly::default();
    if !by_id.values().any(is_hourly) {
        return Ok(out);
    }
    let mut ids: Vec<&String> = by_id.keys().filter(|id| is_hourly(&by_id[*id])).collect();
    ids.sort();
    let mut by_hour = draws_by_hour(dir, by_id)?;
    for id in ids {
        let p = &by_id[id];
        let hours = by_hour.remove(id).unwrap_or_default();
        let Some(term) = Term::of(p) else {
            // An empty term amortizes nothing: its draws are in `Hours` too, at 0.
            out.draws.extend(nothing(hours));
            continue;
        };
        let amortized = amortize(p, &term, hours, window_start, as_of);
        out.draws.extend(amortized.draws);
        if p.price > Decimal::ZERO && !amortized.lapses.is_empty() {
            out.lapses.insert(id.clone(), amortized.lapses);
        }
    }
    Ok(out)
}

/// The draws on each unlimited package, by the hour of the term they fall in (`None`: outside
/// the term), each hour's in `(usage_id, draw_seq)` order.
type ByHour = BTreeMap<Option<i64>, Vec<Taken>>;

fn draws_by_hour(dir: &Path, by_id: &HashMap<String, Package>) -> Result<HashMap<String, ByHour>> {
    let terms: HashMap<&str, Term> = (by_id.iter())
        .filter(|(_, p)| is_hourly(p))
        .filter_map(|(id, p)| Some((id.as_str(), Term::of(p)?)))
        .collect();
    let mut out: HashMap<String, ByHour> = HashMap::new();
    let columns = [
        "package_id",
        "usage_id",
        "draw_seq",
        "usage_start",
        "deducted",
    ];
    for f in read::table_files(dir, "deduction_details")?.unwrap_or_default() {
        let dd = read_columns(&f.path, &columns)?;
        let (ids, usage) = (
            read::strings(&dd, "package_id")?,
            read::strings(&dd, "usage_id")?,
        );
        let (seqs, starts) = (
            read::ints(&dd, "draw_seq")?,
            read::instants(&dd, "usage_start")?,
        );
        let deducted = read::decimals(&dd, "deducted")?;
        for i in 0..dd.height() {
            let (Some(id), Some(usage_id)) = (&ids[i], &usage[i]) else {
                continue;
            };
            if !by_id.get(id).is_some_and(is_hourly) {
                continue;
            }
            let hour = terms
                .get(id.as_str())
                .zip(starts[i])
                .and_then(|(t, s)| t.hour_of(s));
            out.entry(id.clone())
                .or_default()
                .entry(hour)
                .or_default()
                .push(Taken {
                    usage_id: usage_id.clone(),
                    // As the draw's row is keyed (`d:<usage_id>:<draw_seq>`).
                    seq: seqs[i].unwrap_or(i as i64),
                    taken: deducted[i].unwrap_or(Decimal::ZERO),
                });
        }
    }
    for hours in out.values_mut().flat_map(|h| h.values_mut()) {
        hours.sort();
    }
    Ok(out)
}

/// One package's draws' parts and Unused stretches.
#[derive(Debug, Default)]
struct Amortized {
    draws: Vec<((String, i64), Part)>,
    lapses: Vec<Lapse>,
}

/// Amortizes package `p` over `term`, its draws `by_hour`, for the window `[window_start,
/// as_of)`: the hours `lo..hi` (in the window, before the as-of moment and the refund) go to
/// their draws or are Unused; at a refund, the hours from it on lapse at once.
fn amortize(p: &Package, term: &Term, by_hour: ByHour, window_start: Ts, as_of: Ts) -> Amortized {
    let refund = (p.status == "refunded").then_some(p.invalid_at).flatten();
    let lo = term.hours_before(window_start);
    let until = refund.map_or(as_of, |r| r.min(as_of));
    let hi = term.hours_before(until).max(lo);
    let mut out = Amortized::default();
    let mut used: Vec<i64> = Vec::new();
    for (hour, draws) in by_hour {
        let in_range = hour.filter(|k| (lo..hi).contains(k));
        let weights: Vec<Decimal> = draws.iter().map(|d| d.taken).collect();
        let share = in_range.map_or(Decimal::ZERO, |k| term.share(k));
        let costs = split(share, &weights, MONEY_SCALE);
        let hours = split(Decimal::ONE, &weights, QTY_SCALE);
        if in_range.is_some() && weights.iter().any(|w| *w > Decimal::ZERO) {
            used.extend(in_range);
        }
        for ((d, effective), hours) in draws.into_iter().zip(costs).zip(hours) {
            let hours = if in_range.is_some() {
                hours
            } else {
                Decimal::ZERO
            };
            out.draws
                .push(((d.usage_id, d.seq), Part { effective, hours }));
        }
    }
    out.lapses = unused_by_month(p, term, lo, hi, &used);
    if let Some(r) = refund.filter(|r| *r > window_start) {
        let after = term.hours_before(r).max(hi);
        add_lapse(&mut out.lapses, refund_lapse(term, r.min(as_of), after));
    }
    out
}

/// The parts of draws outside any term: nothing of the price, no hour.
fn nothing(by_hour: ByHour) -> impl Iterator<Item = ((String, i64), Part)> {
    let zero = Part {
        effective: Decimal::ZERO,
        hours: Decimal::ZERO,
    };
    (by_hour.into_values().flatten()).map(move |d| ((d.usage_id, d.seq), zero))
}

/// The hours `lo..hi` of `term` not in `used` (ascending), one stretch per month they start in;
/// a stretch's period is cut to the validity (to the refund, if any).
fn unused_by_month(p: &Package, term: &Term, lo: i64, hi: i64, used: &[i64]) -> Vec<Lapse> {
    let mut out = Vec::new();
    if lo >= hi {
        return out;
    }
    let refund = (p.status == "refunded").then_some(p.invalid_at).flatten();
    let valid_until = refund.unwrap_or(p.expires_at).min(p.expires_at);
    let mut m = Month::of(term.start_of(lo));
    while term.hours_before(m.start()) < hi {
        let a = term.hours_before(m.start()).max(lo);
        let b = term.hours_before(m.end()).min(hi);
        let drawn: Vec<i64> = used
            .iter()
            .copied()
            .filter(|k| (a..b).contains(k))
            .collect();
        let free = (b - a) - drawn.len() as i64;
        if free > 0 {
            let free_at = |k: &i64| drawn.binary_search(k).is_err();
            let first = (a..b).find(free_at).unwrap_or(a);
            let last = (a..b).rev().find(free_at).unwrap_or(b - 1);
            let drawn_shares: Decimal = drawn.iter().map(|k| term.share(*k)).sum();
            out.push(Lapse {
                month: m,
                start: term.start_of(first).max(p.effective_at),
                end: (term.start_of(last) + HOUR).min(valid_until),
                hours: Decimal::from(free),
                effective: term.cumulative(b) - term.cumulative(a) - drawn_shares,
            });
        }
        m = m.next();
    }
    out
}

/// The hours `after..H` lapsed at the refund `r`, in the refund's hour (ending at `r`).
fn refund_lapse(term: &Term, r: Ts, after: i64) -> Option<Lapse> {
    let hours = term.hours - after;
    let start = if r.rem_euclid(HOUR) == 0 {
        r - HOUR
    } else {
        hour_start(r)
    };
    (hours > 0).then(|| Lapse {
        month: Month::of(r - 1),
        start,
        end: r,
        hours: Decimal::from(hours),
        effective: term.cumulative(term.hours) - term.cumulative(after),
    })
}

/// Adds `lapse` to the stretch of its month, if any (one Unused row per package and month).
fn add_lapse(lapses: &mut Vec<Lapse>, lapse: Option<Lapse>) {
    let Some(l) = lapse else { return };
    match lapses.iter_mut().find(|x| x.month == l.month) {
        Some(x) => {
            x.start = x.start.min(l.start);
            x.end = x.end.max(l.end);
            x.hours += l.hours;
            x.effective += l.effective;
        }
        None => {
            lapses.push(l);
            lapses.sort_by_key(|x| x.month);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use proptest::prelude::*;
    use std::str::FromStr;
    use std::sync::OnceLock;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn t(s: &str) -> Ts {
        parse_local(s).unwrap()
    }

    /// An unlimited package of `price` valid `[from, to)` (UTC+8), expired.
    fn unlimited(price: &str, from: &str, to: &str) -> Package {
        Package {
            id: "U".into(),
            name: "unlimited calls".into(),
            owner: "a".into(),
            product: "apigw".into(),
            sub_product: "calls-pack".into(),
            region: None,
            kind: "unlimited".into(),
            status: "expired".into(),
            unit: "call".into(),
            capacity: None,
            cycle: None,
            effective_at: t(from),
            expires_at: t(to),
            invalid_at: Some(t(to)),
            price: d(price),
            total_remaining: None,
            rate_once: OnceLock::new(),
        }
    }

    /// Draws `(usage_id, UTC+8 hour start, taken)` by the hour of `term` they fall in.
    fn by_hour(term: &Term, draws: &[(&str, &str, &str)]) -> ByHour {
        let mut out = ByHour::new();
        for (i, (usage_id, at, taken)) in draws.iter().enumerate() {
            out.entry(term.hour_of(t(at))).or_default().push(Taken {
                usage_id: usage_id.to_string(),
                seq: i as i64,
                taken: d(taken),
            });
        }
        out
    }

    /// [`amortize`] of `draws` in an output whose window is April and May 2024.
    fn amortize_april_and_may(p: &Package, term: &Term, draws: &[(&str, &str, &str)]) -> Amortized {
        let hours = by_hour(term, draws);
        amortize(p, term, hours, t("2024-04-01"), t("2024-06-01"))
    }

    fn parts(a: &Amortized) -> Vec<(&str, Decimal, Decimal)> {
        let mut v: Vec<_> = (a.draws.iter())
            .map(|((u, _), p)| (u.as_str(), p.effective, p.hours))
            .collect();
        v.sort();
        v
    }

    fn total(a: &Amortized) -> Decimal {
        let used: Decimal = a.draws.iter().map(|(_, p)| p.effective).sum();
        used + a.lapses.iter().map(|l| l.effective).sum::<Decimal>()
    }

    #[test]
    fn ten_yuan_over_three_hours_is_shared_to_the_last_unit_of_the_scale() {
        let term = Term::new(t("2024-05-01 07:00:00"), t("2024-05-01 10:00:00"), d("10")).unwrap();
        assert_eq!(term.hours, 3);
        let shares: Vec<Decimal> = (0..3).map(|k| term.share(k)).collect();
        // F = 0, 3.33333333, 6.66666667, 10.
        assert_eq!(shares, [d("3.33333333"), d("3.33333334"), d("3.33333333")]);
        assert_eq!(shares.iter().sum::<Decimal>(), d("10"));
    }

    #[test]
    fn a_term_starting_inside_an_hour_counts_that_hour_whole() {
        let term = Term::new(t("2024-05-01 07:20:00"), t("2024-05-01 09:20:00"), d("3")).unwrap();
        assert_eq!((term.first, term.hours), (t("2024-05-01 07:00:00"), 3));
        assert_eq!(term.hour_of(t("2024-05-01 09:00:00")), Some(2));
        assert_eq!(term.hour_of(t("2024-05-01 10:00:00")), None);
        assert_eq!(
            Term::new(t("2024-05-01 07:00:00"), t("2024-05-01 07:00:00"), d("3")),
            None
        );
    }

    #[test]
    fn an_hours_share_is_split_by_what_each_draw_took_exactly() {
        // 3.33333334 × 1/3 = 1.11111111(3) → 1.11111111; the rest to the second draw.
        assert_eq!(
            split(d("3.33333334"), &[d("1"), d("2")], MONEY_SCALE),
            [d("1.11111111"), d("2.22222223")]
        );
        assert_eq!(
            split(Decimal::ONE, &[d("1"), d("2")], QTY_SCALE),
            [d("0.333333333"), d("0.666666667")]
        );
        // Nothing taken: nothing to split by.
        assert_eq!(split(d("5"), &[d("0"), d("0")], 8), [d("0"), d("0")]);
    }

    /// 10 CNY over 07:00–10:00: hour 07 has two draws (1 and 2 calls), hour 08 none, hour 09
    /// one; hour 08's share is the May Unused stretch.
    #[test]
    fn each_hours_share_goes_to_its_draws_and_an_hour_without_draws_is_unused() {
        let p = unlimited("10", "2024-05-01 07:00:00", "2024-05-01 10:00:00");
        let term = Term::of(&p).unwrap();
        let draws = [
            ("u1", "2024-05-01 07:00:00", "1"),
            ("u2", "2024-05-01 07:00:00", "2"),
            ("u3", "2024-05-01 09:00:00", "5"),
        ];
        let a = amortize_april_and_may(&p, &term, &draws);
        assert_eq!(
            parts(&a),
            [
                ("u1", d("1.11111111"), d("0.333333333")),
                ("u2", d("2.22222222"), d("0.666666667")),
                ("u3", d("3.33333333"), d("1")),
            ]
        );
        assert_eq!(
            a.lapses,
            [Lapse {
                month: Month::of(t("2024-05-01")),
                start: t("2024-05-01 08:00:00"),
                end: t("2024-05-01 09:00:00"),
                hours: d("1"),
                effective: d("3.33333334"),
            }]
        );
        assert_eq!(total(&a), p.price);
    }

    /// 4.80 CNY over 48 hours (0.10 an hour), refunded at 05:30 on the first day, one draw at
    /// 01:00: hours 00 and 02–05 (cut at the refund) are unused, hours 06–47 lapse at the
    /// refund, one May row.
    #[test]
    fn at_a_refund_the_hours_still_to_come_lapse_at_once() {
        let mut p = unlimited("4.80", "2024-05-02 00:00:00", "2024-05-04 00:00:00");
        p.status = "refunded".into();
        p.invalid_at = Some(t("2024-05-02 05:30:00"));
        let term = Term::of(&p).unwrap();
        let draws = [("u1", "2024-05-02 01:00:00", "7")];
        let a = amortize_april_and_may(&p, &term, &draws);
        assert_eq!(parts(&a), [("u1", d("0.1"), d("1"))]);
        assert_eq!(
            a.lapses,
            [Lapse {
                month: Month::of(t("2024-05-02")),
                start: t("2024-05-02 00:00:00"),
                end: t("2024-05-02 05:30:00"),
                hours: d("47"),
                effective: d("4.70"),
            }]
        );
        assert_eq!(total(&a), p.price);
    }

    /// 1 CNY over 22:00 May 31 – 02:00 June 1: no draws, one Unused stretch a month.
    #[test]
    fn unused_hours_are_one_row_per_month() {
        let p = unlimited("1", "2024-05-31 22:00:00", "2024-06-01 02:00:00");
        let term = Term::of(&p).unwrap();
        let a = amortize(&p, &term, ByHour::new(), t("2024-04-01"), t("2024-07-01"));
        let got: Vec<_> = (a.lapses.iter())
            .map(|l| (l.month.to_string(), l.start, l.end, l.hours, l.effective))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2024-05".into(),
                    t("2024-05-31 22:00:00"),
                    t("2024-06-01"),
                    d("2"),
                    d("0.5")
                ),
                (
                    "2024-06".into(),
                    t("2024-06-01"),
                    t("2024-06-01 02:00:00"),
                    d("2"),
                    d("0.5")
                ),
            ]
        );
    }

    /// The same term seen by an output whose window starts at midnight June 1 and ends at
    /// 01:00: the hours before the window and from the as-of moment on are in no row.
    #[test]
    fn hours_outside_the_window_are_in_no_row() {
        let p = unlimited("1", "2024-05-31 22:00:00", "2024-06-01 02:00:00");
        let term = Term::of(&p).unwrap();
        let as_of = t("2024-06-01 01:00:00");
        let a = amortize(&p, &term, ByHour::new(), t("2024-06-01"), as_of);
        let got: Vec<_> = a
            .lapses
            .iter()
            .map(|l| (l.start, l.end, l.hours, l.effective))
            .collect();
        assert_eq!(got, [(t("2024-06-01"), as_of, d("1"), d("0.25"))]);
    }

    /// A draw outside the term (an hour after expiry) carries nothing, and takes no hour.
    #[test]
    fn a_draw_outside_the_term_carries_nothing() {
        let p = unlimited("2", "2024-05-01 07:00:00", "2024-05-01 09:00:00");
        let term = Term::of(&p).unwrap();
        let draws = [("u1", "2024-05-01 09:00:00", "3")];
        let a = amortize_april_and_may(&p, &term, &draws);
        assert_eq!(parts(&a), [("u1", d("0"), d("0"))]);
        assert_eq!(a.lapses.iter().map(|l| l.hours).sum::<Decimal>(), d("2"));
        assert_eq!(total(&a), p.price);
    }

    /// A package whose term is empty (it expires as it takes effect) has no `Term`: its draws
    /// still get a part, 0 of the price and 0 hours, so they are measured in `Hours` like every
    /// unlimited package's rather than in the metered unit.
    #[test]
    fn draws_on_an_empty_term_carry_nothing_in_hours() {
        let p = unlimited("2", "2024-05-01 07:00:00", "2024-05-01 07:00:00");
        assert_eq!(Term::of(&p), None);
        let mut hours = ByHour::new();
        for (i, u) in ["u1", "u2"].into_iter().enumerate() {
            hours.entry(None).or_default().push(Taken {
                usage_id: u.to_string(),
                seq: i as i64,
                taken: d("1"),
            });
        }
        let got: Vec<_> = nothing(hours).collect();
        let zero = Part {
            effective: d("0"),
            hours: d("0"),
        };
        assert_eq!(
            got,
            [(("u1".to_string(), 0), zero), (("u2".to_string(), 1), zero)]
        );
    }

    proptest! {
        /// For any price, term and pattern of draws (some taking nothing), the hour shares sum
        /// to the price exactly, none negative; each hour's draws sum to its share; the parts
        /// of an hour sum to 1; Used plus Unused is the price, exactly.
        #[test]
        fn shares_and_parts_sum_to_the_price_exactly_and_none_is_negative(
            cents in 0i64..100_000_000_000_000,
            hours in 1i64..800,
            draws in proptest::collection::vec((0i64..800, 0u32..4, 0i64..10_000_000), 0..60),
        ) {
            let price = Decimal::new(cents, 8);
            let mut p = unlimited("0", "2024-05-01 07:00:00", "2024-05-01 08:00:00");
            p.price = price;
            p.expires_at = p.effective_at + hours * HOUR;
            let term = Term::of(&p).unwrap();
            let shares: Vec<Decimal> = (0..hours).map(|k| term.share(k)).collect();
            prop_assert_eq!(shares.iter().sum::<Decimal>(), price);
            prop_assert!(shares.iter().all(|s| *s >= Decimal::ZERO));
            let mut hour = ByHour::new();
            let mut drawn: BTreeMap<i64, Vec<(String, Decimal)>> = BTreeMap::new();
            for (i, (k, zeros, taken)) in draws.iter().enumerate() {
                let taken = if *zeros == 0 { Decimal::ZERO } else { Decimal::new(*taken, 3) };
                let usage_id = format!("u{i:03}");
                drawn.entry(k % hours).or_default().push((usage_id.clone(), taken));
                hour.entry(Some(k % hours)).or_default().push(Taken { usage_id, seq: 0, taken });
            }
            let a = amortize(&p, &term, hour, p.effective_at, p.expires_at + HOUR);
            prop_assert!(a.draws.iter().all(|(_, x)| x.effective >= Decimal::ZERO));
            prop_assert!(a.lapses.iter().all(|l| l.effective >= Decimal::ZERO));
            prop_assert_eq!(total(&a), price);
            let by_key: HashMap<&str, Part> =
                a.draws.iter().map(|((u, _), x)| (u.as_str(), *x)).collect();
            for (k, taken) in &drawn {
                let got: Vec<Part> = taken.iter().map(|(u, _)| by_key[u.as_str()]).collect();
                let effective: Decimal = got.iter().map(|x| x.effective).sum();
                let used: Decimal = got.iter().map(|x| x.hours).sum();
                if taken.iter().any(|(_, w)| *w > Decimal::ZERO) {
                    prop_assert_eq!(effective, term.share(*k));
                    prop_assert_eq!(used, Decimal::ONE);
                } else {
                    prop_assert_eq!(effective, Decimal::ZERO);
                }
            }
        }

        /// With the output's window starting at any hour of the term and a refund at any
        /// moment (or none), the Used and Unused amounts are the shares of the term's hours
        /// from the window's first on, exactly (the hours before the window are in an earlier
        /// output); a refund before the window leaves nothing in this one. None is negative.
        #[test]
        fn used_and_unused_are_the_shares_from_the_window_on_whatever_the_refund(
            cents in 0i64..10_000_000_000_000,
            hours in 1i64..300,
            window in 0i64..300,
            refund in proptest::option::of((0i64..300, 0i64..60)),
            draws in proptest::collection::vec((0i64..300, 1i64..1_000_000), 0..40),
        ) {
            let price = Decimal::new(cents, 8);
            let mut p = unlimited("0", "2024-05-01 07:00:00", "2024-05-01 08:00:00");
            p.price = price;
            p.expires_at = p.effective_at + hours * HOUR;
            if let Some((h, minutes)) = refund {
                p.status = "refunded".into();
                p.invalid_at = Some(p.effective_at + (h % hours) * HOUR + minutes * 60);
            }
            let term = Term::of(&p).unwrap();
            let lo = window % hours;
            let window_start = p.effective_at + lo * HOUR;
            let mut by_hour = ByHour::new();
            for (i, (k, taken)) in draws.iter().enumerate() {
                by_hour.entry(Some(k % hours)).or_default().push(Taken {
                    usage_id: format!("u{i:03}"),
                    seq: 0,
                    taken: Decimal::new(*taken, 3),
                });
            }
            let a = amortize(&p, &term, by_hour, window_start, p.expires_at + HOUR);
            prop_assert!(a.draws.iter().all(|(_, x)| x.effective >= Decimal::ZERO));
            prop_assert!(a.lapses.iter().all(|l| l.effective >= Decimal::ZERO));
            let refunded_before = p.status == "refunded" && p.invalid_at <= Some(window_start);
            let expected = if refunded_before {
                Decimal::ZERO
            } else {
                (lo..hours).map(|k| term.share(k)).sum()
            };
            prop_assert_eq!(total(&a), expected);
        }

        /// `split` gives non-negative parts that sum to the total exactly.
        #[test]
        fn a_split_sums_to_its_total(
            cents in 0i64..1_000_000_000_000,
            weights in proptest::collection::vec(0i64..1_000_000_000, 1..30),
        ) {
            let total = Decimal::new(cents, 8);
            let w: Vec<Decimal> = weights.iter().map(|x| Decimal::new(*x, 9)).collect();
            let parts = split(total, &w, MONEY_SCALE);
            prop_assert!(parts.iter().all(|x| *x >= Decimal::ZERO));
            if w.iter().any(|x| !x.is_zero()) {
                prop_assert_eq!(parts.iter().sum::<Decimal>(), total);
            }
        }
    }
}
