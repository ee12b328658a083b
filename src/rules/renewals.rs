//! Renewal of packages (docs/rules.md §3.8): a `renew` event that targets a package extends its
//! `expires_at` by `months` natural months (same day, clamped to the month's end, UTC+8:
//! `calendar::add_months_clamped`) and charges the event's `price_paid` as a `purchase` line at
//! the event instant. Deduction, refunds and the package status then read the package as
//! renewed: the periodic cycles and the slices of the added months are full ones, because a
//! package's cycles and slices are derived from its validity (`calendar::periodic_cycle`,
//! `natural_slice`).
//!
//! A package's renewals are applied in the order `(at, event_id)`, each on the expiry the
//! earlier ones left. Refused, as `events` row exceptions that change nothing:
//! - `renew_not_allowed`: a total-decrementing package;
//! - `missing_value`: a renewal without `months` or without `price_paid` (never read as a
//!   default; `months` outside 1..=1200 and a negative `price_paid` are refused on loading);
//! - `renew_after_expiry`: at or after the package's expiry (as extended by the earlier
//!   renewals) or its refund instant;
//! - `value_out_of_range`: a renewal that would end past the year 9999.
//!
//! An applied automatic renewal (`events.auto = true`) is checked against the ledger by
//! [`without_funds`] (called by the account timeline): when the balance just before its line
//! was below its price, it is still applied as recorded and reported (`auto_renew_without_funds`).
//!
//! **Decisions:** a renewal's line id is `p:<package_id>:r:<event_id>` (the package's own
//! purchase is `p:<package_id>`); a renewal of price 0 charges no line, as a free package does
//! (`rules::purchases`), and needs no funds. The package's order among eligible packages (§3.4)
//! reads the renewed expiry for every hour, as does its status.
//!
//! Invariants: only events before the as-of moment count; an event is applied or refused, never
//! both, and a refused one changes no package and charges nothing; a package's expiry only
//! grows; each applied renewal with `price_paid > 0` gives exactly one line, of amount
//! `price_paid` at scale 8.

use crate::calendar::{add_months_clamped, from_local, local, Ts, MAX_TS};
use crate::input::{Event, EventKind, Package, PackageKind, Violation};
use crate::model::{BillLine, ChargeKind};
use crate::name::Name;
use crate::rules::ledger::{Ledger, Source};
use crate::rules::purchases;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// One applied renewal.
#[derive(Debug, Clone, PartialEq)]
pub struct Renewal {
    pub event_id: Name,
    /// Index of the renewed package in the slice given to [`renew`].
    pub package_index: usize,
    pub package_id: Name,
    pub owner_uin: Name,
    pub at: Ts,
    pub months: i64,
    pub price_paid: Decimal,
    pub auto: bool,
    /// The purchase line's id; `None` for a renewal of price 0.
    pub line_id: Option<String>,
    /// The expiry before and after this renewal.
    pub expires_before: Ts,
    pub expires_after: Ts,
}

/// What the renewals of a set of packages do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Renewed {
    /// Applied renewals, by package then in the order applied.
    pub applied: Vec<Renewal>,
    /// One `purchase` line per applied renewal of price > 0.
    pub lines: Vec<BillLine>,
    /// Refused renewals.
    pub violations: Vec<Violation>,
}

impl Renewed {
    /// `packages` (the slice given to [`renew`]) with the renewed expiries.
    pub fn apply(&self, packages: &mut [Package]) {
        for r in &self.applied {
            let p = &mut packages[r.package_index];
            p.renewals.push((r.at, r.expires_before));
            p.expires_at = r.expires_after;
        }
    }

    /// Whether an applied renewal lies at or after its package's refund instant `refund_at`
    /// (per package): the refund instants the renewals were decided with did not hold them.
    pub fn refused_by(&self, refund_at: &[Option<Ts>]) -> bool {
        (self.applied.iter()).any(|r| refund_at[r.package_index].is_some_and(|x| r.at >= x))
    }
}

/// The renewals among `events` (before `as_of`) of `packages`, whose refund instants are
/// `refund_at` (per package): which apply, their purchase lines, and the refused ones.
pub fn renew(
    packages: &[Package],
    events: &[Event],
    refund_at: &[Option<Ts>],
    as_of: Ts,
) -> Renewed {
    let index: FxHashMap<&str, usize> = (packages.iter().enumerate())
        .map(|(i, p)| (&*p.package_id, i))
        .collect();
    let mut evs: Vec<(usize, &Event)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Renew && e.at < as_of)
        .filter_map(|e| index.get(&*e.target_id).map(|&i| (i, e)))
        .collect();
    evs.sort_by(|(i, a), (j, b)| (i, a.at, &a.event_id).cmp(&(j, b.at, &b.event_id)));
    let mut out = Renewed::default();
    let mut expires: FxHashMap<usize, Ts> = FxHashMap::default();
    for (i, e) in evs {
        let p = &packages[i];
        let current = *expires.get(&i).unwrap_or(&p.expires_at);
        match renewal(p, i, e, current, refund_at[i]) {
            Ok(r) => {
                expires.insert(i, r.expires_after);
                if let Some(id) = &r.line_id {
                    out.lines
                        .push(purchases::purchase_line(p, id.clone(), r.at, r.price_paid));
                }
                out.applied.push(r);
            }
            Err((rule, detail)) => (out.violations).push(Violation::new(
                "events",
                &*e.event_id,
                rule,
                detail,
                Some(e.at),
            )),
        }
    }
    out
}

/// Renewal `e` of package `p` (index `i`), whose expiry is `current` and refund instant
/// `refund`: applied, or the rule and detail of its refusal.
fn renewal(
    p: &Package,
    i: usize,
    e: &Event,
    current: Ts,
    refund: Option<Ts>,
) -> Result<Renewal, (&'static str, String)> {
    let id = &p.package_id;
    if p.kind == PackageKind::Total {
        let why = "total-decrementing packages cannot be renewed";
        return Err((
            "renew_not_allowed",
            format!("renewal of package {id}: {why}"),
        ));
    }
    let (Some(months), Some(price)) = (e.months, e.price_paid) else {
        let what = if e.months.is_none() {
            "months"
        } else {
            "price_paid"
        };
        return Err((
            "missing_value",
            format!("renewal of package {id} without {what}"),
        ));
    };
    if refund.is_some_and(|r| e.at >= r) {
        let why = "at or after its refund";
        return Err((
            "renew_after_expiry",
            format!("renewal of package {id} {why}"),
        ));
    }
    if e.at >= current {
        let why = format!(
            "at or after its expiry {}",
            crate::calendar::format_local(current)
        );
        return Err((
            "renew_after_expiry",
            format!("renewal of package {id} {why}"),
        ));
    }
    let after = from_local(add_months_clamped(local(current), months as i32));
    if after > MAX_TS {
        let why = "would end past the year 9999";
        return Err((
            "value_out_of_range",
            format!("renewal of package {id} {why}"),
        ));
    }
    Ok(Renewal {
        event_id: e.event_id,
        package_index: i,
        package_id: p.package_id,
        owner_uin: p.owner_uin,
        at: e.at,
        months,
        price_paid: price,
        auto: e.auto == Some(true),
        line_id: (price > Decimal::ZERO).then(|| format!("p:{id}:r:{}", e.event_id)),
        expires_before: current,
        expires_after: after,
    })
}

/// `auto_renew_without_funds` for each automatic renewal of `renewals` (one account's) that
/// charged a line the ledger holds and whose price exceeds the balance just before that line
/// (the running balance in the ledger's tie order).
pub fn without_funds(ledger: &Ledger, renewals: &[&Renewal]) -> Vec<Violation> {
    let auto: FxHashMap<&str, &Renewal> = (renewals.iter())
        .filter(|r| r.auto)
        .filter_map(|r| r.line_id.as_deref().map(|id| (id, *r)))
        .collect();
    if auto.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (entry, after) in ledger.in_tie_order() {
        if entry.source != Source::Line(ChargeKind::Purchase) {
            continue;
        }
        let Some(r) = auto.get(entry.id) else {
            continue;
        };
        let before = after - entry.amount;
        if before < r.price_paid {
            out.push(Violation::new(
                "events",
                &*r.event_id,
                "auto_renew_without_funds",
                format!(
                    "automatic renewal of package {} for {} applied as recorded, though the \
                     balance before it was {before}",
                    r.package_id, r.price_paid
                ),
                Some(r.at),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CycleLen, Window};
    use crate::input::Account;
    use crate::money::Unit;
    use crate::rules::deduction::tests::{deduct, draws, package, t, usage};
    use crate::rules::ledger::tests::{account, payment};
    use rust_decimal_macros::dec;

    fn ev(id: &str, target: &str, at: &str, months: Option<i64>, price: Option<Decimal>) -> Event {
        Event {
            event_id: id.into(),
            kind: EventKind::Renew,
            target_id: target.into(),
            at: t(at),
            new_plan: None,
            months,
            price_paid: price,
            auto: None,
        }
    }

    /// A monthly periodic package of 10 GB per cycle, `[2024-01-15, 2024-03-15)`: 2 cycles.
    fn monthly() -> Package {
        let mut p = package(
            "P",
            PackageKind::Periodic,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-15",
            "2024-03-15",
        );
        p.cycle = Some(CycleLen::Month);
        p
    }

    fn renewed(packages: &[Package], events: &[Event], as_of: &str) -> (Renewed, Vec<Package>) {
        let refunds: Vec<Option<Ts>> = packages.iter().map(|p| p.refunded_at).collect();
        let r = renew(packages, events, &refunds, t(as_of));
        let mut after = packages.to_vec();
        r.apply(&mut after);
        (r, after)
    }

    fn rules(r: &Renewed) -> Vec<(&str, &str)> {
        (r.violations.iter())
            .map(|v| (v.source_id.as_str(), v.rule.as_str()))
            .collect()
    }

    #[test]
    fn revised_3_8_renewal_extends_expiry_and_charges_a_purchase_line() {
        let e = ev("e1", "P", "2024-03-01 09:30:00", Some(2), Some(dec!(29.9)));
        let (r, after) = renewed(&[monthly()], &[e], "2024-06-01");
        assert!(r.violations.is_empty());
        assert_eq!(after[0].expires_at, t("2024-05-15"));
        let a = &r.applied[0];
        assert_eq!(
            (a.expires_before, a.expires_after, a.months, a.auto),
            (t("2024-03-15"), t("2024-05-15"), 2, false)
        );
        assert_eq!(r.lines.len(), 1);
        let l = &r.lines[0];
        assert_eq!(l.line_id.as_str(), "p:P:r:e1");
        assert_eq!(a.line_id.as_deref(), Some("p:P:r:e1"));
        assert_eq!(l.charge_kind, ChargeKind::Purchase);
        assert_eq!(
            (
                l.owner_uin.as_str(),
                l.region.as_str(),
                l.instance_id.as_str()
            ),
            ("acct-1", "ap-guangzhou", "P")
        );
        assert_eq!(
            (
                l.product.as_str(),
                l.sub_product.as_str(),
                l.billing_item.as_str()
            ),
            ("tp", "full-time", "package")
        );
        let at = t("2024-03-01 09:30:00");
        assert_eq!((l.charge_start, l.charge_end, l.charged_at), (at, at, at));
        assert_eq!(
            (l.billable_quantity, l.unit.as_str(), l.unit_price, l.amount),
            (dec!(1), "each", dec!(29.9), dec!(29.90000000))
        );
    }

    /// Same day of the month, clamped to the month's end; a second renewal extends the expiry
    /// the first one left (31 Jan → 29 Feb → 29 Mar).
    #[test]
    fn revised_3_8_renewal_months_are_natural_and_clamped_to_month_end() {
        let mut p = monthly();
        p.expires_at = t("2024-01-31 12:00:00");
        let events = [
            ev("e2", "P", "2024-02-20", Some(1), Some(dec!(1))),
            ev("e1", "P", "2024-01-20", Some(1), Some(dec!(1))),
        ];
        let (r, after) = renewed(&[p], &events, "2024-06-01");
        let steps: Vec<_> = (r.applied.iter())
            .map(|a| (a.event_id.as_str(), a.expires_before, a.expires_after))
            .collect();
        assert_eq!(
            steps,
            [
                ("e1", t("2024-01-31 12:00:00"), t("2024-02-29 12:00:00")),
                ("e2", t("2024-02-29 12:00:00"), t("2024-03-29 12:00:00")),
            ]
        );
        assert_eq!(after[0].expires_at, t("2024-03-29 12:00:00"));
    }

    /// The added months are cycles at full capacity: an hour after the old expiry draws from a
    /// new cycle that starts with the whole 10 GB, and the status counts 4 cycles.
    #[test]
    fn revised_3_8_renewal_adds_periodic_cycles_at_full_capacity() {
        let e = ev("e1", "P", "2024-03-01", Some(2), Some(dec!(20)));
        let (_, after) = renewed(&[monthly()], &[e], "2024-06-01");
        let rows = [usage("u1", "2024-04-20 10:00:00", dec!(3), Unit::GB)];
        let d = deduct(&rows, &after);
        assert_eq!(
            draws(&d),
            [(
                "P".to_string(),
                Some(dec!(10)),
                dec!(3),
                Some(dec!(7)),
                dec!(3)
            )]
        );
        assert_eq!(
            (d.details[0].cycle_start, d.details[0].cycle_end),
            (Some(t("2024-04-15")), Some(t("2024-05-15")))
        );
        // Without the renewal the hour is past the expiry: nothing covered.
        assert!(deduct(&rows, &[monthly()]).details.is_empty());
        let w = Window::new(crate::calendar::parse_date("2024-05-01").unwrap());
        let s = crate::rules::packages::status_of(&after[0], &d.states[0], &w);
        assert_eq!(
            (s.status, s.expires_at, s.cycles_total, s.cycles_remaining),
            ("valid", t("2024-05-15"), Some(4), Some(1))
        );
        assert_eq!(s.total_remaining, Some(dec!(7)));
    }

    /// Regression (draw order before a renewal): P expires 03-15 and is renewed on 03-01 to
    /// 05-15; Q, of the same class, expires 04-01. An hour settled before the renewal draws on
    /// P first (the earlier expiry then); an hour after it draws on Q first.
    #[test]
    fn renewal_does_not_reorder_hours_settled_before_it() {
        let e = ev("e1", "P", "2024-03-01", Some(2), Some(dec!(20)));
        let q = package(
            "Q",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-15",
            "2024-04-01",
        );
        let (_, after) = renewed(&[monthly(), q], &[e], "2024-06-01");
        assert_eq!(after[0].renewals, [(t("2024-03-01"), t("2024-03-15"))]);
        let rows = [
            usage("u1", "2024-02-20 10:00:00", dec!(1), Unit::GB),
            usage("u2", "2024-03-05 10:00:00", dec!(1), Unit::GB),
        ];
        let firsts: Vec<String> = (deduct(&rows, &after).details.iter())
            .map(|x| format!("{}:{}", x.usage_id, x.package_id))
            .collect();
        assert_eq!(firsts, ["u1:P", "u2:Q"]);
    }

    /// Daily slices: a day after the old expiry is a full slice.
    #[test]
    fn revised_3_8_renewal_adds_slices_at_full_capacity() {
        let mut p = monthly();
        p.kind = PackageKind::Sliced;
        p.cycle = Some(CycleLen::Day);
        p.capacity = Some(dec!(2));
        let e = ev("e1", "P", "2024-03-14 23:00:00", Some(1), Some(dec!(5)));
        let (_, after) = renewed(&[p], &[e], "2024-06-01");
        let rows = [usage("u1", "2024-04-10 08:00:00", dec!(3), Unit::GB)];
        let d = deduct(&rows, &after);
        assert_eq!(
            draws(&d),
            [(
                "P".to_string(),
                Some(dec!(2)),
                dec!(2),
                Some(dec!(0)),
                dec!(2)
            )]
        );
        assert_eq!(
            (d.details[0].cycle_start, d.details[0].cycle_end),
            (Some(t("2024-04-10")), Some(t("2024-04-11")))
        );
    }

    #[test]
    fn revised_3_8_total_packages_cannot_be_renewed() {
        let total = package(
            "T",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-15",
            "2024-03-15",
        );
        let e = ev("e1", "T", "2024-02-01", Some(1), Some(dec!(9)));
        let (r, after) = renewed(std::slice::from_ref(&total), &[e], "2024-06-01");
        assert_eq!(rules(&r), [("e1", "renew_not_allowed")]);
        assert_eq!(r.violations[0].source_table.as_str(), "events");
        assert_eq!(r.violations[0].at, Some(t("2024-02-01")));
        assert!(r.applied.is_empty() && r.lines.is_empty());
        assert_eq!(after, [total]);
    }

    /// At the expiry (exact instant), after it, and at or after the refund: refused, nothing
    /// changes. A renewal before the expiry extended by an earlier one is applied.
    #[test]
    fn revised_3_8_renewal_at_or_after_expiry_or_refund_is_refused() {
        let mut refunded = monthly();
        refunded.package_id = "R".into();
        refunded.refunded_at = Some(t("2024-02-01"));
        let events = [
            ev("at-expiry", "P", "2024-03-15", Some(1), Some(dec!(1))),
            ev("after-expiry", "P", "2024-04-01", Some(1), Some(dec!(1))),
            ev("at-refund", "R", "2024-02-01", Some(1), Some(dec!(1))),
            ev("before-refund", "R", "2024-01-31", Some(1), Some(dec!(1))),
        ];
        let (r, after) = renewed(&[monthly(), refunded.clone()], &events, "2024-06-01");
        assert_eq!(
            rules(&r),
            [
                ("at-expiry", "renew_after_expiry"),
                ("after-expiry", "renew_after_expiry"),
                ("at-refund", "renew_after_expiry"),
            ]
        );
        assert_eq!(after[0].expires_at, t("2024-03-15"));
        assert_eq!(after[1].expires_at, t("2024-04-15"));
        let ids: Vec<_> = r.lines.iter().map(|l| l.line_id.as_str()).collect();
        assert_eq!(ids, ["p:R:r:before-refund"]);
        // Chained: the second renewal lies after the original expiry but before the renewed one.
        let chained = [
            ev("first", "P", "2024-03-01", Some(1), Some(dec!(1))),
            ev("second", "P", "2024-04-01", Some(1), Some(dec!(1))),
        ];
        let (r, after) = renewed(&[monthly()], &chained, "2024-06-01");
        assert!(r.violations.is_empty());
        assert_eq!(after[0].expires_at, t("2024-05-15"));
    }

    #[test]
    fn revised_3_8_renewal_without_months_or_price_is_a_row_exception() {
        let events = [
            ev("no-months", "P", "2024-02-01", None, Some(dec!(1))),
            ev("no-price", "P", "2024-02-02", Some(1), None),
        ];
        let (r, after) = renewed(&[monthly()], &events, "2024-06-01");
        assert_eq!(
            rules(&r),
            [
                ("no-months", "missing_value"),
                ("no-price", "missing_value")
            ]
        );
        assert!(r.violations[0].detail.contains("without months"));
        assert!(r.violations[1].detail.contains("without price_paid"));
        assert_eq!(after, [monthly()]);
        assert!(r.lines.is_empty());
    }

    /// A renewal at or after the as-of moment is not seen; a renewal of price 0 extends the
    /// package and charges nothing; renewals of subscriptions (unknown targets here) are left
    /// to `rules::subscriptions`.
    #[test]
    fn revised_3_8_renewals_count_before_the_as_of_moment_only() {
        let events = [
            ev("late", "P", "2024-03-01", Some(1), Some(dec!(1))),
            ev("sub", "S", "2024-02-01", Some(1), Some(dec!(1))),
        ];
        let (r, after) = renewed(&[monthly()], &events, "2024-03-01");
        assert_eq!(r, Renewed::default());
        assert_eq!(after, [monthly()]);
        let free = [ev("free", "P", "2024-02-01", Some(1), Some(dec!(0)))];
        let (r, after) = renewed(&[monthly()], &free, "2024-03-01");
        assert_eq!(after[0].expires_at, t("2024-04-15"));
        assert!(r.lines.is_empty() && r.applied[0].line_id.is_none());
    }

    #[test]
    fn revised_3_8_refused_by_a_refund_the_sweep_decided() {
        let e = ev("e1", "P", "2024-03-01", Some(1), Some(dec!(1)));
        let (r, _) = renewed(&[monthly()], &[e], "2024-06-01");
        assert!(!r.refused_by(&[None]));
        assert!(!r.refused_by(&[Some(t("2024-03-01 00:00:01"))]));
        assert!(r.refused_by(&[Some(t("2024-03-01"))]));
    }

    fn ledger<'a>(
        acct: &'a Account,
        pays: &[&'a crate::input::Payment],
        lines: &'a [BillLine],
    ) -> Ledger<'a> {
        let lines: Vec<&BillLine> = lines.iter().collect();
        Ledger::new("acct-1".into(), Some(acct), pays, &lines, t("2024-06-01"))
    }

    /// The balance just before the renewal's line decides: 10 CNY for a 29.9 renewal is short
    /// (reported, and still charged); 50 CNY suffices; a manual renewal is never reported.
    #[test]
    fn revised_3_8_auto_renew_without_funds_is_reported_and_applied() {
        let mut auto = ev(
            "auto",
            "P",
            "2024-03-01 09:30:00",
            Some(1),
            Some(dec!(29.9)),
        );
        auto.auto = Some(true);
        let manual = ev("manual", "P", "2024-03-02", Some(1), Some(dec!(29.9)));
        let (r, _) = renewed(&[monthly()], &[auto, manual], "2024-06-01");
        assert_eq!(r.lines.len(), 2, "applied as recorded");
        let acct = account("10", "2024-01-01");
        let renewals: Vec<&Renewal> = r.applied.iter().collect();
        let found = without_funds(&ledger(&acct, &[], &r.lines), &renewals);
        let v: Vec<_> = (found.iter())
            .map(|v| {
                (
                    v.source_table.as_str(),
                    v.source_id.as_str(),
                    v.rule.as_str(),
                    v.at,
                )
            })
            .collect();
        assert_eq!(
            v,
            [(
                "events",
                "auto",
                "auto_renew_without_funds",
                Some(t("2024-03-01 09:30:00"))
            )]
        );
        assert!(found[0].detail.contains("balance before it was 10"));
        // A top-up at the same instant comes first in the tie order: 10 + 40 = 50 suffices.
        let top_up = payment("pay-1", "2024-03-01 09:30:00", "40");
        assert!(without_funds(&ledger(&acct, &[&top_up], &r.lines), &renewals).is_empty());
    }
}
