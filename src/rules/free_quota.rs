//! Reconciliation of the API gateway free quota against the inventory
//! (docs/rules.md §4.1, revised).
//!
//! The job does not issue free quota: the platform issues it as free periodic packages (the
//! catalog's `[free_quota]`: product `apigw`, 12 cycles of 30 natural days from activation,
//! §3.1) and the inventory carries them. An account whose `accounts.apigw_activated_at` puts some
//! hour of the window inside its free-quota term, while no free package of that product owned by
//! the account (activated, valid for the whole hour) covers that hour, gets one
//! `free_quota_missing` finding: source table `accounts`, source id the account, dated at the
//! first such hour (inside the window, so each day's run reports it while the gap is in its
//! window).
//!
//! **Decision**: the term is the quota's own, `[activation, 00:00 UTC+8 of the day 12 × 30 days
//! after the activation day)` — what docs/rules.md calls "the 12 months" of the free quota.
//! Calendar months would outlast the 12 cycles by five or six days and flag every correctly issued
//! quota at its end. The hour holding the activation instant is not in the term (a package
//! effective mid-hour covers no part of that hour, §3.3.4).
//!
//! Invariants: at most one finding per account; an account without activation, or whose term
//! misses the window, gets none; nothing is drawn or billed here.

use crate::calendar::{
    day_start, format_local, hour_start, periodic_cycle_start, Ts, Window, HOUR,
};
use crate::catalog::Catalog;
use crate::input::{Account, Package, PackageSource, Violation};
use rustc_hash::FxHashMap;

/// The `free_quota_missing` findings of `accounts`, given their `packages`.
pub fn free_quota_missing(
    accounts: &[&Account],
    packages: &[Package],
    catalog: &Catalog,
    w: &Window,
) -> Vec<Violation> {
    let fq = &catalog.free_quota;
    // Per owner: the hours `[from, to)` each of its free packages covers whole.
    let mut covers: FxHashMap<&str, Vec<(Ts, Ts)>> = FxHashMap::default();
    for p in packages {
        if p.source == PackageSource::Free && p.activated && *p.product == *fq.product {
            let from = ceil_hour(p.effective_at);
            let to = hour_start(p.expires_at);
            if from < to {
                covers.entry(&p.owner_uin).or_default().push((from, to));
            }
        }
    }
    let mut out = Vec::new();
    for a in accounts {
        let Some(act) = a.apigw_activated_at else {
            continue;
        };
        let term_end = periodic_cycle_start(day_start(act), fq.cycle, i64::from(fq.cycles));
        let from = ceil_hour(act).max(w.start);
        let to = term_end.min(w.as_of);
        if from >= to {
            continue;
        }
        let mut spans = covers.remove(&*a.owner_uin).unwrap_or_default();
        if let Some(gap) = first_gap(&mut spans, from, to) {
            out.push(Violation::new(
                "accounts",
                &*a.owner_uin,
                "free_quota_missing",
                format!(
                    "API gateway activated {}: no free {} package covers the hour from {} \
                     (free quota until {})",
                    format_local(act),
                    fq.product,
                    format_local(gap),
                    format_local(term_end)
                ),
                Some(gap),
            ));
        }
    }
    out
}

/// The first hour of `[from, to)` (hour-aligned bounds) that no span covers.
fn first_gap(spans: &mut [(Ts, Ts)], from: Ts, to: Ts) -> Option<Ts> {
    spans.sort_unstable();
    let mut cur = from;
    for &(s, e) in spans.iter() {
        if s > cur {
            break;
        }
        cur = cur.max(e);
        if cur >= to {
            return None;
        }
    }
    (cur < to).then_some(cur)
}

/// The first hour start at or after `t`.
fn ceil_hour(t: Ts) -> Ts {
    hour_start(t + HOUR - 1)
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use crate::calendar::{parse_date, CycleLen};
    use crate::input::PackageKind;
    use crate::money::Unit;
    use crate::rules::deduction::tests::{catalog, package, t};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn account(act: Option<&str>) -> Account {
        Account {
            owner_uin: "acct-1".into(),
            opening_balance: Decimal::ZERO,
            opening_at: t("2024-01-01"),
            apigw_activated_at: act.map(t),
        }
    }

    /// A free `apigw` calls package as the platform issues it, effective `eff`.
    fn free(eff: &str, exp: &str) -> Package {
        let mut p = package(
            "F",
            PackageKind::Periodic,
            Some(dec!(1000000)),
            Unit::Call,
            eff,
            exp,
        );
        p.source = PackageSource::Free;
        p.product = "apigw".into();
        p.region = "*".into();
        p.cycle = Some(CycleLen::Days30);
        p
    }

    fn findings(a: &Account, pkgs: &[Package], as_of: &str) -> Vec<(String, Option<Ts>)> {
        let w = Window::new(parse_date(as_of).unwrap());
        free_quota_missing(&[a], pkgs, &catalog(), &w)
            .into_iter()
            .map(|v| {
                (
                    format!("{}|{}|{}", v.source_table, v.source_id, v.rule),
                    v.at,
                )
            })
            .collect()
    }

    const FOUND: &str = "accounts|acct-1|free_quota_missing";

    /// §4.1 (revised): activated inside the window's year, no free package → one finding per
    /// account, at the first uncovered hour (here the window's first hour).
    #[test]
    fn revised_4_1_free_quota_missing_once_per_account() {
        let a = account(Some("2024-01-10 17:13:14"));
        assert_eq!(
            findings(&a, &[], "2024-06-01"),
            vec![(FOUND.into(), Some(t("2024-03-01")))]
        );
        // Issued as the rules say: [activation, 00:00 of the day 360 days after) is covered.
        let issued = free("2024-01-10 17:13:14", "2025-01-04");
        assert!(findings(&a, &[issued.clone()], "2024-06-01").is_empty());
        // A quota that stops early leaves a gap: reported at its first hour.
        let short = free("2024-01-10 17:13:14", "2024-04-20 10:00:00");
        assert_eq!(
            findings(&a, &[short.clone()], "2024-06-01"),
            vec![(FOUND.into(), Some(t("2024-04-20 10:00:00")))]
        );
        // Two packages end to end cover the term.
        let rest = free("2024-04-20 10:00:00", "2025-01-04");
        assert!(findings(&a, &[rest.clone(), short], "2024-06-01").is_empty());
        // Not the account's, not free, not activated, another product: no cover.
        for change in [
            (|p: &mut Package| p.owner_uin = "acct-2".into()) as fn(&mut Package),
            |p| p.source = PackageSource::Purchased,
            |p| p.activated = false,
            |p| p.product = "tp".into(),
        ] {
            let mut p = issued.clone();
            change(&mut p);
            assert_eq!(findings(&a, &[p], "2024-06-01").len(), 1);
        }
    }

    /// The term is 12 natural-day cycles of 30 days: an account activated long enough ago, or
    /// never, or after the window, gets no finding; one whose term ends inside the window is
    /// checked up to the term's end only.
    #[test]
    fn revised_4_1_free_quota_missing_only_inside_the_free_quota_term() {
        assert!(findings(&account(None), &[], "2024-06-01").is_empty());
        // Term of 2023-03-01 17:00 ends 2024-02-24 00:00, before the window [03-01, 06-01).
        assert!(findings(&account(Some("2023-03-01 17:00:00")), &[], "2024-06-01").is_empty());
        // Activated at or after the as-of moment: no hour of the window is in the term.
        assert!(findings(&account(Some("2024-06-01")), &[], "2024-06-01").is_empty());
        // Activated 2023-03-20 10:30: the term ends 2024-03-14 00:00; the quota issued until
        // 2024-03-10 leaves 03-10 to 03-14 uncovered.
        let a = account(Some("2023-03-20 10:30:00"));
        let p = free("2023-03-20 10:30:00", "2024-03-10");
        assert_eq!(
            findings(&a, &[p], "2024-06-01"),
            vec![(FOUND.into(), Some(t("2024-03-10")))]
        );
        let p = free("2023-03-20 10:30:00", "2024-03-14");
        assert!(findings(&a, &[p], "2024-06-01").is_empty());
        // Activated mid-hour inside the window: the term starts at the next hour.
        let a = account(Some("2024-05-10 08:20:00"));
        let p = free("2024-05-10 08:20:00", "2025-05-05");
        assert!(findings(&a, &[p], "2024-06-01").is_empty());
        assert_eq!(
            findings(&a, &[], "2024-06-01"),
            vec![(FOUND.into(), Some(t("2024-05-10 09:00:00")))]
        );
    }
}
