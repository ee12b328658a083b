//! Package inventory view as of the run's as-of moment (docs/rules.md §3.2, §3.7, §7).
//!
//! Status precedence: `inactive` → `refunded` (refund instant ≤ T) → `expired` (expires_at ≤ T)
//! → `exhausted` (total remaining 0, or periodic with its last cycle at 0) → `valid`.
//! `invalid_at` is the earliest of exhaustion, expiry and refund, for packages no longer usable.
//! Packages valid at any time in `[window start, as-of)` are listed.
//! §3.7 (revised): more than the catalog's limit of valid quality traffic packages (`qtp`; the
//! catalog's `package_limits` may name quality products only) per account and region gives one
//! `too_many_packages` exception per account and region (the inventory is still billed).
//! §3.3.2 (revised): a quality traffic package of region `*` is a `qtp_all_region` row exception
//! (table `packages`, dated at its `effective_at`); deduction never draws on it.
//!
//! Invariants: a status is read from the package and its state after the sweep only (nothing is
//! drawn here); `invalid_at` is set exactly when the status is `refunded`, `expired` or
//! `exhausted`; a periodic package's `total_remaining` is its current cycle's remaining plus a
//! full capacity per cycle still to come.

use super::deduction::{cycle_at, cycle_count, PackageState};
use crate::calendar::{Cycle, Ts, Window};
use crate::catalog::Catalog;
use crate::input::{Package, PackageKind, Violation};
use crate::model::PackageStatus;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The inventory row of package `p` in state `st` (after the sweep) as of `w.as_of`.
pub fn status_of(p: &Package, st: &PackageState, w: &Window) -> PackageStatus {
    let t = w.as_of;
    let cycle = cycle_at(p, t);
    let c = capacity_as_of(p, st, cycle, t);
    let (status, invalid_at) = status_as_of(p, st, t);
    PackageStatus {
        package_id: p.package_id,
        package_name: p.package_name,
        owner_uin: p.owner_uin,
        product: p.product,
        sub_product: p.sub_product,
        region: p.region,
        kind: p.kind,
        status,
        unit: p.unit,
        capacity: p.capacity,
        cycle: p.cycle,
        price_paid: p.price_paid,
        total_remaining: c.total_remaining,
        cycle_remaining: c.cycle_remaining,
        cycle_start: cycle.map(|c| c.start),
        cycle_end: cycle.map(|c| c.end),
        cycles_total: c.cycles_total,
        cycles_remaining: c.cycles_remaining,
        effective_at: p.effective_at,
        expires_at: p.expires_at,
        invalid_at,
    }
}

/// What is left of a package as of T.
struct CapacityAsOf {
    total_remaining: Option<Decimal>,
    cycle_remaining: Option<Decimal>,
    cycles_total: Option<i64>,
    cycles_remaining: Option<i64>,
}

/// The capacity left of `p` as of `t`, whose current cycle/slice is `cycle`: the cycle's
/// remaining is the swept one if the sweep reached it, a full one otherwise; a periodic
/// package's total adds the full cycles still to come.
fn capacity_as_of(p: &Package, st: &PackageState, cycle: Option<Cycle>, t: Ts) -> CapacityAsOf {
    let cycle_remaining = match (p.kind, cycle) {
        (PackageKind::Periodic | PackageKind::Sliced, Some(c)) => {
            if st.cycle_index == Some(c.index) {
                st.remaining
            } else {
                p.capacity
            }
        }
        _ => None,
    };
    // The cycles the sweep draws in (natural days for free quota, §3.1).
    let (cycles_total, cycles_remaining) = match cycle_count(p) {
        Some(total) => {
            let remaining = if t < p.effective_at {
                total
            } else {
                cycle.map_or(0, |c| total - c.index)
            };
            (Some(total), Some(remaining))
        }
        _ => (None, None),
    };
    let total_remaining = match p.kind {
        PackageKind::Total => Some(st.remaining.or(p.capacity).unwrap_or_default()),
        PackageKind::Periodic => {
            let cap = p.capacity.unwrap_or_default();
            let future = cycles_remaining.unwrap_or(0) - i64::from(cycle.is_some());
            Some(cycle_remaining.unwrap_or_default() + cap * Decimal::from(future.max(0)))
        }
        _ => None,
    };
    CapacityAsOf {
        total_remaining,
        cycle_remaining,
        cycles_total,
        cycles_remaining,
    }
}

/// §3.2: the status of `p` as of `t` (in precedence order), and for a package no longer usable
/// the earliest of its exhaustion, refund and expiry.
fn status_as_of(p: &Package, st: &PackageState, t: Ts) -> (&'static str, Option<Ts>) {
    let refund = st.refund_at.filter(|r| *r < t);
    let exhausted = st.exhausted_at.filter(|e| *e <= t);
    let status = if !p.activated {
        "inactive"
    } else if refund.is_some() {
        "refunded"
    } else if p.expires_at <= t {
        "expired"
    } else if exhausted.is_some() {
        "exhausted"
    } else {
        "valid"
    };
    let invalid_at = match status {
        "valid" | "inactive" => None,
        _ => [
            exhausted,
            refund,
            (p.expires_at <= t).then_some(p.expires_at),
        ]
        .into_iter()
        .flatten()
        .min(),
    };
    (status, invalid_at)
}

/// The inventory view: packages usable at some time in the window.
pub fn snapshot(packages: &[Package], states: &[PackageState], w: &Window) -> Vec<PackageStatus> {
    packages
        .iter()
        .zip(states)
        .filter_map(|(p, st)| {
            let s = status_of(p, st, w);
            let end = s.invalid_at.unwrap_or(p.expires_at).min(p.expires_at);
            (p.effective_at < w.as_of && end > w.start).then_some(s)
        })
        .collect()
}

/// §3.3.2 (revised): quality traffic packages of region `*`, one finding each; they cover
/// nothing (`deduction::order::eligible`) but stay in the inventory view.
pub fn qtp_all_region(packages: &[Package], catalog: &Catalog) -> Vec<Violation> {
    packages
        .iter()
        .filter(|p| &*p.region == "*" && catalog.quality_package_products.contains(&*p.product))
        .map(|p| {
            Violation::new(
                "packages",
                &*p.package_id,
                "qtp_all_region",
                format!(
                    "quality traffic package ({}) of region `*`: a quality package belongs to \
                     one region, so it covers nothing",
                    p.product
                ),
                Some(p.effective_at),
            )
        })
        .collect()
}

/// §3.7: too many valid quality traffic packages per account and region at the as-of moment.
pub fn limit_violations(status: &[PackageStatus], catalog: &Catalog, w: &Window) -> Vec<Violation> {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in status {
        if s.status == "valid" && catalog.limit_traffic_products.contains(&*s.product) {
            *counts.entry((&s.owner_uin, &s.region)).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > catalog.max_valid_traffic_packages)
        .map(|((owner, region), n)| {
            Violation::new(
                "packages",
                format!("{owner}/{region}"),
                "too_many_packages",
                format!(
                    "{n} valid quality traffic packages in {region} (limit {})",
                    catalog.max_valid_traffic_packages
                ),
                Some(w.as_of),
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use crate::calendar::{parse_date, CycleLen};
    use crate::money::Unit;
    use crate::rules::deduction::tests::{catalog, deduct, package, t, usage};
    use rust_decimal_macros::dec;

    fn window(d: &str) -> Window {
        Window::new(parse_date(d).unwrap())
    }

    /// §3.3.2 (revised): one `qtp_all_region` finding per quality package of region `*`.
    #[test]
    fn revised_3_3_2_qtp_all_region_is_a_row_exception() {
        let mut q = package(
            "Q",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        q.product = "qtp".into();
        let mut all = q.clone();
        all.package_id = "Q-all".into();
        all.region = "*".into();
        let mut shared_all = all.clone();
        shared_all.package_id = "T-all".into();
        shared_all.product = "tp".into();
        let v = qtp_all_region(&[q, all, shared_all], &catalog());
        let got: Vec<_> = v
            .iter()
            .map(|v| (&*v.source_table, v.source_id.as_str(), &*v.rule, v.at))
            .collect();
        assert_eq!(
            got,
            [("packages", "Q-all", "qtp_all_region", Some(t("2024-01-01")))]
        );
    }

    #[test]
    fn status_precedence_and_invalid_at() {
        let w = window("2024-06-01");
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        let d = deduct(
            &[usage("u", "2024-05-01 10:00:00", dec!(1), Unit::GB)],
            &[p.clone()],
        );
        let s = status_of(&p, &d.states[0], &w);
        assert_eq!(
            (s.status, s.total_remaining, s.invalid_at),
            ("exhausted", Some(dec!(0)), Some(t("2024-05-01 11:00:00")))
        );
        let mut r = p.clone();
        r.refunded_at = Some(t("2024-05-20"));
        let d = deduct(
            &[usage("u", "2024-05-01 10:00:00", dec!(1), Unit::GB)],
            &[r.clone()],
        );
        // Refunded outranks exhausted; invalid_at is the earliest instant.
        let s = status_of(&r, &d.states[0], &w);
        assert_eq!(
            (s.status, s.invalid_at),
            ("refunded", Some(t("2024-05-01 11:00:00")))
        );
        let mut e = p.clone();
        e.expires_at = t("2024-05-15");
        let s = status_of(&e, &PackageState::default(), &w);
        assert_eq!(
            (s.status, s.invalid_at, s.total_remaining),
            ("expired", Some(t("2024-05-15")), Some(dec!(1)))
        );
        let mut i = p.clone();
        i.activated = false;
        assert_eq!(
            status_of(&i, &PackageState::default(), &w).status,
            "inactive"
        );
        assert_eq!(status_of(&p, &PackageState::default(), &w).status, "valid");
    }

    /// §7: a package is listed when the time it was usable (`effective_at` to the earliest of
    /// exhaustion, refund and expiry) meets the window `[as-of − 3 months, as-of)`.
    #[test]
    fn the_snapshot_lists_packages_usable_at_some_time_in_the_window() {
        let w = window("2024-06-01");
        let total = |id: &str, from: &str, to: &str| {
            package(id, PackageKind::Total, Some(dec!(1)), Unit::GB, from, to)
        };
        let expired_before = total("expired-before", "2024-01-01", "2024-03-01");
        let expired_inside = total("expired-inside", "2024-01-01", "2024-03-01 00:00:01");
        let starts_at_as_of = total("starts-at-as-of", "2024-06-01", "2024-12-01");
        let starts_inside = total("starts-inside", "2024-05-31 23:00:00", "2024-12-01");
        let used_up_before = total("used-up-before", "2024-01-01", "2024-12-01");
        let used_up_inside = total("used-up-inside", "2024-01-01", "2024-12-01");
        let mut refunded_before = total("refunded-before", "2024-01-01", "2024-12-01");
        refunded_before.refunded_at = Some(t("2024-02-29 23:59:59"));
        let mut refunded_inside = total("refunded-inside", "2024-01-01", "2024-12-01");
        refunded_inside.refunded_at = Some(t("2024-03-02"));
        // Never activated, its validity meeting the window: listed, as `inactive`.
        let mut inactive = total("inactive", "2024-01-01", "2024-12-01");
        inactive.activated = false;
        let packages = [
            expired_before,
            expired_inside,
            starts_at_as_of,
            starts_inside,
            used_up_before,
            used_up_inside,
            refunded_before,
            refunded_inside,
            inactive,
        ];
        let rows = [
            usage("u1", "2024-02-29 22:00:00", dec!(1), Unit::GB),
            usage("u2", "2024-03-01 00:00:00", dec!(1), Unit::GB),
        ];
        let mut states: Vec<PackageState> = packages
            .iter()
            .map(|p| PackageState {
                refund_at: p.refunded_at,
                ..PackageState::default()
            })
            .collect();
        // Each used-up package alone draws its row: u1 ends on 02-29 23:00, u2 on 03-01 01:00.
        states[4] = deduct(&rows[..1], &packages[4..5]).states[0].clone();
        states[5] = deduct(&rows[1..], &packages[5..6]).states[0].clone();
        assert_eq!(states[4].exhausted_at, Some(t("2024-02-29 23:00:00")));
        let listed: Vec<(&str, &str)> = snapshot(&packages, &states, &w)
            .iter()
            .map(|s| (s.package_id.as_str(), s.status))
            .collect();
        assert_eq!(
            listed,
            [
                ("expired-inside", "expired"),
                ("starts-inside", "valid"),
                ("used-up-inside", "exhausted"),
                ("refunded-inside", "refunded"),
                ("inactive", "inactive"),
            ]
        );
    }

    /// §3.1 / §9.9 (revised): the status of a free quota counts the natural-day cycles the sweep
    /// draws in — as of 2019-12-11 the second cycle [12-10 00:00, 01-09 00:00), 11 of 12 left.
    #[test]
    fn example_9_free_quota_status_counts_natural_day_cycles() {
        let mut p = package(
            "F",
            PackageKind::Periodic,
            Some(dec!(1)),
            Unit::GB,
            "2019-11-10 17:13:14",
            "2020-11-04",
        );
        p.source = crate::input::PackageSource::Free;
        p.cycle = Some(CycleLen::Days30);
        let d = deduct(
            &[usage("u", "2019-12-10 00:00:00", dec!(0.25), Unit::GB)],
            &[p.clone()],
        );
        let s = status_of(&p, &d.states[0], &window("2019-12-11"));
        assert_eq!(
            (s.cycle_start, s.cycle_end),
            (Some(t("2019-12-10")), Some(t("2020-01-09")))
        );
        assert_eq!((s.cycles_total, s.cycles_remaining), (Some(12), Some(11)));
        assert_eq!(s.cycle_remaining, Some(dec!(0.75)));
        assert_eq!(s.total_remaining, Some(dec!(10.75)));
        // As of 2019-12-10 00:00 the second cycle has just begun (the first is over).
        let s = status_of(&p, &PackageState::default(), &window("2019-12-10"));
        assert_eq!(
            (s.cycle_start, s.cycles_remaining, s.total_remaining),
            (Some(t("2019-12-10")), Some(11), Some(dec!(11)))
        );
    }

    #[test]
    fn periodic_status_reports_current_cycle_and_cycles_left() {
        let mut p = package(
            "P",
            PackageKind::Periodic,
            Some(dec!(2)),
            Unit::GB,
            "2024-05-01",
            "2024-06-05",
        );
        p.cycle = Some(CycleLen::Days30);
        let d = deduct(
            &[usage("u", "2024-05-31 10:00:00", dec!(0.5), Unit::GB)],
            &[p.clone()],
        );
        let s = status_of(&p, &d.states[0], &window("2024-06-01"));
        assert_eq!(s.status, "valid");
        assert_eq!((s.cycles_total, s.cycles_remaining), (Some(2), Some(1)));
        assert_eq!(
            (s.cycle_start, s.cycle_end),
            (Some(t("2024-05-31")), Some(t("2024-06-05")))
        );
        assert_eq!(s.cycle_remaining, Some(dec!(1.5)));
        assert_eq!(s.total_remaining, Some(dec!(1.5)));
    }

    /// Capacity 0: nothing left from the start. A total package is exhausted from its
    /// `effective_at`; a periodic one once its last cycle starts (before that, cycles are left).
    #[test]
    fn packages_of_capacity_zero_are_exhausted_once_no_cycle_is_left() {
        let total = package(
            "T",
            PackageKind::Total,
            Some(dec!(0)),
            Unit::GB,
            "2024-05-01",
            "2024-07-01",
        );
        let mut periodic = package(
            "P",
            PackageKind::Periodic,
            Some(dec!(0)),
            Unit::GB,
            "2024-05-01",
            "2024-06-05",
        );
        periodic.cycle = Some(CycleLen::Days30);
        let row = usage("u", "2024-05-02 10:00:00", dec!(1), Unit::GB);
        let d = deduct(&[row], &[total.clone(), periodic.clone()]);
        assert!(d.details.is_empty());
        assert_eq!(d.covered, vec![dec!(0)]);
        let s = status_of(&total, &d.states[0], &window("2024-06-01"));
        assert_eq!(
            (s.status, s.total_remaining, s.invalid_at),
            ("exhausted", Some(dec!(0)), Some(t("2024-05-01")))
        );
        // Periodic: the last cycle is [05-31, 06-05).
        let s = status_of(&periodic, &d.states[1], &window("2024-05-20"));
        assert_eq!((s.status, s.invalid_at), ("valid", None));
        let s = status_of(&periodic, &d.states[1], &window("2024-06-01"));
        assert_eq!(
            (s.status, s.total_remaining, s.invalid_at),
            ("exhausted", Some(dec!(0)), Some(t("2024-05-31")))
        );
    }

    /// §3.7 (revised): more than 20 valid quality traffic packages per account and region; shared
    /// traffic packages (`tp`) do not count.
    #[test]
    fn revised_3_7_too_many_quality_packages_per_account_region() {
        let w = window("2024-06-01");
        let pkgs: Vec<_> = (0..21)
            .map(|i| {
                let mut p = package(
                    &format!("P{i:02}"),
                    PackageKind::Total,
                    Some(dec!(1)),
                    Unit::GB,
                    "2024-01-01",
                    "2024-07-01",
                );
                p.product = "qtp".into();
                p
            })
            .collect();
        let states = vec![PackageState::default(); pkgs.len()];
        let snap = snapshot(&pkgs, &states, &w);
        let v = limit_violations(&snap, &catalog(), &w);
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].rule.as_str(), v[0].source_id.as_str()),
            ("too_many_packages", "acct-1/ap-guangzhou")
        );
        assert!(limit_violations(&snap[..20], &catalog(), &w).is_empty());
        // Only packages valid at the as-of moment count, per account and region, of the
        // traffic products: each change below leaves 20 that count.
        let changed = |change: &dyn Fn(&mut Package)| {
            let mut p = pkgs.clone();
            change(&mut p[0]);
            limit_violations(&snapshot(&p, &states, &w), &catalog(), &w)
        };
        assert!(changed(&|p| p.expires_at = t("2024-05-01")).is_empty());
        assert!(changed(&|p| p.activated = false).is_empty());
        assert!(changed(&|p| p.region = "ap-hongkong".into()).is_empty());
        assert!(changed(&|p| p.owner_uin = "acct-2".into()).is_empty());
        assert!(changed(&|p| p.product = "apigw".into()).is_empty());
        assert!(changed(&|p| p.product = "tp".into()).is_empty());
        let shared: Vec<_> = pkgs
            .iter()
            .cloned()
            .map(|mut p| {
                p.product = "tp".into();
                p
            })
            .collect();
        assert!(limit_violations(&snapshot(&shared, &states, &w), &catalog(), &w).is_empty());
        // Exhausted or refunded, as the sweep left the package's state.
        for state in [
            PackageState {
                exhausted_at: Some(t("2024-05-01")),
                ..PackageState::default()
            },
            PackageState {
                refund_at: Some(t("2024-05-01")),
                ..PackageState::default()
            },
        ] {
            let mut s = states.clone();
            s[0] = state;
            assert!(limit_violations(&snapshot(&pkgs, &s, &w), &catalog(), &w).is_empty());
        }
    }
}
