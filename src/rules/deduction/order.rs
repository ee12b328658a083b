//! Which packages a usage row draws on, and in what order (docs/rules.md §3.3–3.5).
//!
//! Eligible (§3.3): the package's scope lists the row's product and billing item; it is the
//! row's account's or shared with it; its region is the row's or `*`; it is activated, valid for
//! the whole hour (`effective_at ≤ usage_start`, `usage_end ≤ expires_at`) and not refunded
//! before the hour's end; an idle-only package only in the idle window of the row's region (§3.5,
//! the catalog's table); a
//! quality-traffic package only for accelerated traffic to the mainland from its origin regions,
//! and never when its region is `*` (§3.3.2, revised: such a package is a `qtp_all_region`
//! finding, `rules::packages`); and its unit can measure the row's (otherwise one
//! `incompatible_unit` finding per package and unit, and the package is skipped).
//!
//! Order (§3.4, revised): class 0 free quota, 1 quality traffic packages (eligible only for the
//! accelerated traffic they cover, so drawn right after free quota and before every shared
//! traffic package), 2 idle-only packages, 3 the rest; within a class the earliest expiry, then
//! the least remaining in base units (unlimited counting as infinite), then the earliest
//! `effective_at`, then `package_id`.
//!
//! Invariants: the order is total over a pool's packages (the package id breaks every tie), so
//! the draws do not depend on the input order of packages.

use super::PackageState;
use crate::calendar::Ts;
use crate::catalog::Catalog;
use crate::input::{Package, PackageSource, Usage, Violation};
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// An eligible package of a row with the sort key of §3.4.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate<'a> {
    class: u8,
    expires_at: Ts,
    /// Remaining for the row's hour in base units; `None` = unlimited.
    remaining: Option<Decimal>,
    effective_at: Ts,
    package_id: &'a str,
    /// The local package (index into the pool's packages).
    pub(super) local: usize,
    /// The scope's coefficient for the row's billing item.
    pub(super) coefficient: Decimal,
}

impl<'a> Candidate<'a> {
    /// Package `p` (local number `local`) with `remaining` base units left for the row's hour
    /// (`None` = unlimited), drawn with the scope's `coefficient`.
    /// `quality`: whether `p` is a quality traffic package (§3.4.2). Its expiry is the one in
    /// force at `at`, the row's settlement: a later renewal does not reorder earlier hours.
    pub(super) fn new(
        p: &'a Package,
        local: usize,
        coefficient: Decimal,
        remaining: Option<Decimal>,
        quality: bool,
        at: Ts,
    ) -> Candidate<'a> {
        Candidate {
            class: class(p, quality),
            expires_at: p.expires_as_of(at),
            remaining,
            effective_at: p.effective_at,
            package_id: &p.package_id,
            local,
            coefficient,
        }
    }

    /// §3.4's order; unlimited remaining sorts after every number.
    pub(super) fn cmp_draw_order(&self, o: &Candidate) -> Ordering {
        let rem = |r: &Option<Decimal>| (r.is_none(), r.unwrap_or_default());
        (
            self.class,
            self.expires_at,
            rem(&self.remaining),
            self.effective_at,
            self.package_id,
        )
            .cmp(&(
                o.class,
                o.expires_at,
                rem(&o.remaining),
                o.effective_at,
                o.package_id,
            ))
    }
}

/// Order class of §3.4 (revised): 0 free quota, 1 quality traffic packages (`quality`: the
/// package's product is one of the catalog's quality package products; eligibility keeps them
/// to the accelerated traffic they cover), 2 idle-only, 3 the rest.
pub(super) fn class(p: &Package, quality: bool) -> u8 {
    if p.source == PackageSource::Free {
        0
    } else if quality {
        1
    } else if p.idle_only {
        2
    } else {
        3
    }
}

/// Is `p` eligible for `u` (docs/rules.md §3.3), apart from scope, unit and remaining capacity?
/// `quality` tells whether `p`'s product is a quality-traffic package product.
pub(super) fn eligible(
    p: &Package,
    st: &PackageState,
    u: &Usage,
    catalog: &Catalog,
    quality: bool,
) -> bool {
    let owner_ok = p.owner_uin == u.owner_uin || p.share_uins.contains(&u.owner_uin);
    let region_ok = &*p.region == "*" || p.region == u.region;
    let time_ok = p.effective_at <= u.usage_start
        && u.usage_end <= p.expires_at
        && p.activated
        && st.refund_at.is_none_or(|r| r >= u.usage_end);
    let idle_ok = !p.idle_only || catalog.idle_window(&u.region).contains(u.usage_start);
    // §3.3.2 (revised): a quality package always belongs to one region; `*` covers nothing.
    let quality_ok = !quality
        || (&*p.region != "*"
            && u.direction.as_str() == catalog.quality_direction
            && catalog.quality_origin_regions.contains(&*u.region)
            && u.accelerated);
    owner_ok && region_ok && time_ok && idle_ok && quality_ok
}

/// The finding of a package whose unit cannot measure the row's.
pub(super) fn incompatible_unit(p: &Package, u: &Usage) -> Violation {
    Violation::new(
        "package_scope",
        format!("{}/{}/{}", p.package_id, u.product, u.billing_item),
        "incompatible_unit",
        format!(
            "package unit {} cannot cover usage in {} (first: usage {})",
            p.unit, u.unit, u.usage_id
        ),
        Some(u.usage_start),
    )
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::super::tests::*;
    use crate::calendar::HOUR;
    use crate::input::{Direction, Package, PackageKind, PackageSource, Usage};
    use crate::money::Unit;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    #[test]
    fn example_8_earliest_expiry_first_then_least_remaining() {
        // A expires 07-01 with 3 GB, B expires 06-01 with 5 GB; 6 GB takes 5 from B, 1 from A.
        let a = package(
            "A",
            PackageKind::Total,
            Some(dec!(3)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        let b = package(
            "B",
            PackageKind::Total,
            Some(dec!(5)),
            Unit::GB,
            "2024-01-01",
            "2024-06-01",
        );
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(6), Unit::GB)],
            &[a.clone(), b],
        );
        assert_eq!(
            draws(&d),
            vec![
                ("B".into(), Some(dec!(5)), dec!(5), Some(dec!(0)), dec!(5)),
                ("A".into(), Some(dec!(3)), dec!(1), Some(dec!(2)), dec!(1)),
            ]
        );
        assert_eq!(d.covered, vec![dec!(6)]);
        // Equal expiry: the package with less remaining goes first.
        let c = package(
            "C",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(2), Unit::GB)],
            &[a, c],
        );
        assert_eq!(
            draws(&d),
            vec![
                ("C".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("A".into(), Some(dec!(3)), dec!(1), Some(dec!(2)), dec!(1)),
            ]
        );
    }

    #[test]
    fn least_remaining_compares_base_units_then_effective_then_id() {
        // 1000 MB < 1 GB in bytes, although 1000 > 1 as numbers.
        let a = package(
            "A",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        let b = package(
            "B",
            PackageKind::Total,
            Some(dec!(1000)),
            Unit::MB,
            "2024-01-01",
            "2024-07-01",
        );
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::MB)],
            &[a.clone(), b],
        );
        assert_eq!(
            draws(&d),
            vec![(
                "B".into(),
                Some(dec!(1000)),
                dec!(1),
                Some(dec!(999)),
                dec!(1)
            )]
        );
        let mut c = a.clone();
        c.package_id = "C".into();
        c.effective_at = t("2023-12-01");
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::MB)],
            &[a.clone(), c],
        );
        assert_eq!(d.details[0].package_id.as_ref(), "C");
        let mut z = a.clone();
        z.package_id = "0".into();
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::MB)],
            &[a, z],
        );
        assert_eq!(d.details[0].package_id.as_ref(), "0");
    }

    #[test]
    fn free_quota_first_then_idle_then_others() {
        let mut free = package(
            "F",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        free.source = PackageSource::Free;
        let mut idle = package(
            "I",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        idle.idle_only = true;
        let other = package(
            "O",
            PackageKind::Total,
            Some(dec!(5)),
            Unit::GB,
            "2024-01-01",
            "2024-06-01",
        );
        // 03:00 UTC+8 in Guangzhou is idle (0–8).
        let d = deduct(
            &[usage("u1", "2024-05-01 03:00:00", dec!(3), Unit::GB)],
            &[other.clone(), idle.clone(), free.clone()],
        );
        assert_eq!(
            draws(&d),
            vec![
                ("F".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("I".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("O".into(), Some(dec!(5)), dec!(1), Some(dec!(4)), dec!(1)),
            ]
        );
        // 10:00 is not idle: the idle-only package is not eligible.
        let d = deduct(
            &[usage("u2", "2024-05-01 10:00:00", dec!(3), Unit::GB)],
            &[other, idle, free],
        );
        assert_eq!(
            draws(&d),
            vec![
                ("F".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("O".into(), Some(dec!(5)), dec!(2), Some(dec!(3)), dec!(2)),
            ]
        );
    }

    #[test]
    fn idle_window_is_the_usage_regions_even_for_all_region_packages() {
        let mut idle = package(
            "I",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        idle.idle_only = true;
        idle.region = "*".into();
        let mut u = usage("u1", "2024-05-01 03:00:00", dec!(1), Unit::GB);
        u.region = "ap-tokyo".into(); // Tokyo idle 23–7
        assert_eq!(deduct(&[u.clone()], &[idle.clone()]).details.len(), 1);
        u.region = "na-ashburn".into(); // Virginia idle 12–20
        assert_eq!(deduct(&[u.clone()], &[idle.clone()]).details.len(), 0);
        u.usage_start = t("2024-05-01 12:00:00");
        u.usage_end = u.usage_start + HOUR;
        assert_eq!(deduct(&[u], &[idle]).details.len(), 1);
    }

    #[test]
    fn eligibility_owner_share_region_scope_time_activation_refund() {
        let base = package(
            "P",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-05-01 10:00:00",
            "2024-05-02",
        );
        let u = usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::GB);
        assert_eq!(deduct(&[u.clone()], &[base.clone()]).details.len(), 1);
        let mut other_owner = u.clone();
        other_owner.owner_uin = "acct-2".into();
        assert_eq!(
            deduct(&[other_owner.clone()], &[base.clone()])
                .details
                .len(),
            0
        );
        let mut shared = base.clone();
        shared.share_uins = vec!["acct-2".into()];
        assert_eq!(deduct(&[other_owner], &[shared]).details.len(), 1);
        let mut other_region = u.clone();
        other_region.region = "ap-shanghai".into();
        assert_eq!(
            deduct(&[other_region.clone()], &[base.clone()])
                .details
                .len(),
            0
        );
        let mut all = base.clone();
        all.region = "*".into();
        assert_eq!(deduct(&[other_region], &[all]).details.len(), 1);
        let mut other_item = u.clone();
        other_item.billing_item = "calls".into();
        assert_eq!(deduct(&[other_item], &[base.clone()]).details.len(), 0);
        // Valid for the whole hour only.
        let mut late = base.clone();
        late.effective_at = t("2024-05-01 10:30:00");
        assert_eq!(deduct(&[u.clone()], &[late]).details.len(), 0);
        let mut early_exp = base.clone();
        early_exp.expires_at = t("2024-05-01 10:59:59");
        assert_eq!(deduct(&[u.clone()], &[early_exp]).details.len(), 0);
        let mut exact_exp = base.clone();
        exact_exp.expires_at = t("2024-05-01 11:00:00");
        assert_eq!(deduct(&[u.clone()], &[exact_exp]).details.len(), 1);
        let mut inactive = base.clone();
        inactive.activated = false;
        assert_eq!(deduct(&[u.clone()], &[inactive]).details.len(), 0);
        // Refunded before usage_end: not eligible; refunded exactly at usage_end: eligible.
        let mut refunded = base.clone();
        refunded.refunded_at = Some(t("2024-05-01 10:30:00"));
        assert_eq!(deduct(&[u.clone()], &[refunded]).details.len(), 0);
        let mut refunded_at_end = base;
        refunded_at_end.refunded_at = Some(t("2024-05-01 11:00:00"));
        assert_eq!(deduct(&[u], &[refunded_at_end]).details.len(), 1);
    }

    /// A quality package of Hong Kong.
    fn qtp(id: &str, cap: Decimal, exp: &str) -> Package {
        let mut q = package(
            id,
            PackageKind::Total,
            Some(cap),
            Unit::GB,
            "2024-01-01",
            exp,
        );
        q.product = "qtp".into();
        q.region = "ap-hongkong".into();
        q
    }

    /// Accelerated traffic from Hong Kong to the mainland.
    fn quality_row(id: &str, start: &str, gb: Decimal) -> Usage {
        let mut u = usage(id, start, gb, Unit::GB);
        u.region = "ap-hongkong".into();
        u.direction = Direction::ToMainland;
        u.accelerated = true;
        u
    }

    #[test]
    fn quality_packages_need_to_mainland_from_hk_or_sg_accelerated() {
        let q = qtp("Q", dec!(10), "2025-01-01");
        let u = quality_row("u1", "2024-05-01 10:00:00", dec!(1));
        assert_eq!(deduct(&[u.clone()], &[q.clone()]).details.len(), 1);
        let mut v = u.clone();
        v.accelerated = false;
        assert_eq!(deduct(&[v], &[q.clone()]).details.len(), 0);
        let mut v = u.clone();
        v.direction = Direction::Outbound;
        assert_eq!(deduct(&[v], &[q.clone()]).details.len(), 0);
        let mut v = u;
        v.region = "ap-tokyo".into();
        let mut tokyo = q;
        tokyo.region = "ap-tokyo".into();
        assert_eq!(deduct(&[v], &[tokyo]).details.len(), 0);
    }

    /// §3.3.2 (revised): a quality package of region `*` covers nothing, even the accelerated
    /// traffic it would cover with a region; a shared traffic package of `*` still covers it.
    #[test]
    fn revised_3_3_2_qtp_all_region_covers_nothing() {
        let mut q = qtp("Q", dec!(10), "2025-01-01");
        q.region = "*".into();
        let u = quality_row("u1", "2024-05-01 10:00:00", dec!(1));
        let d = deduct(&[u.clone()], &[q]);
        assert!(d.details.is_empty());
        assert_eq!(d.covered, vec![dec!(0)]);
        let mut tp = package(
            "T",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        tp.region = "*".into();
        assert_eq!(
            draws(&deduct(&[u], &[tp])),
            vec![("T".into(), Some(dec!(10)), dec!(1), Some(dec!(9)), dec!(1))]
        );
    }

    /// §3.4.2 (revised): for accelerated traffic, quality packages come right after free quota
    /// and before every other non-free package — idle-only and earlier-expiring shared traffic
    /// packages included; what they cannot cover falls back to those, in their order.
    #[test]
    fn revised_3_4_2_qtp_drawn_after_free_quota_before_idle_and_shared_packages() {
        let mut free = package(
            "F",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-06-01",
        );
        free.source = PackageSource::Free;
        free.region = "*".into();
        let mut idle = package(
            "I",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2024-05-10",
        );
        idle.idle_only = true;
        idle.region = "ap-hongkong".into();
        let mut shared = package(
            "S",
            PackageKind::Total,
            Some(dec!(5)),
            Unit::GB,
            "2024-01-01",
            "2024-05-05",
        );
        shared.region = "ap-hongkong".into();
        let q = qtp("Q", dec!(2), "2025-01-01");
        let pkgs = [shared, idle, q, free];
        // 03:00 is idle in Hong Kong; 5 GB: 1 free, 2 quality, 1 idle-only, 1 shared.
        let u = quality_row("u1", "2024-05-01 03:00:00", dec!(5));
        assert_eq!(
            draws(&deduct(&[u.clone()], &pkgs)),
            vec![
                ("F".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("Q".into(), Some(dec!(2)), dec!(2), Some(dec!(0)), dec!(2)),
                ("I".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("S".into(), Some(dec!(5)), dec!(1), Some(dec!(4)), dec!(1)),
            ]
        );
        // Not accelerated: the quality package is not eligible; the shared ones keep their order.
        let mut plain = u;
        plain.accelerated = false;
        assert_eq!(
            draws(&deduct(&[plain], &pkgs)),
            vec![
                ("F".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("I".into(), Some(dec!(1)), dec!(1), Some(dec!(0)), dec!(1)),
                ("S".into(), Some(dec!(5)), dec!(3), Some(dec!(2)), dec!(3)),
            ]
        );
    }

    /// §3.4: in the "least remaining" tie-break an unlimited package counts as infinite, so a
    /// total package of the same expiry is drawn first, and the unlimited one covers the rest.
    #[test]
    fn unlimited_counts_as_infinite_remaining() {
        let unlimited = package(
            "A-unlimited",
            PackageKind::Unlimited,
            None,
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        let total = package(
            "B-total",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(2), Unit::GB)],
            &[unlimited, total],
        );
        assert_eq!(
            draws(&d),
            vec![
                (
                    "B-total".into(),
                    Some(dec!(1)),
                    dec!(1),
                    Some(dec!(0)),
                    dec!(1)
                ),
                ("A-unlimited".into(), None, dec!(1), None, dec!(1)),
            ]
        );
        assert_eq!(d.covered, vec![dec!(2)]);
    }

    #[test]
    fn incompatible_units_are_reported_once_and_skipped() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::Call,
            "2024-01-01",
            "2025-01-01",
        );
        let d = deduct(
            &[
                usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::GB),
                usage("u2", "2024-05-01 11:00:00", dec!(1), Unit::GB),
            ],
            &[p],
        );
        assert!(d.details.is_empty());
        assert_eq!(d.violations.len(), 1);
        assert_eq!(d.violations[0].rule, "incompatible_unit");
    }

    #[test]
    fn a_row_in_a_unit_its_item_cannot_have_blames_the_row_not_the_packages() {
        // Two GB packages scoped to eip public_traffic; the row is metered in calls, a unit a
        // GB-priced item cannot have: no package finding, and pricing reports the row once.
        let pkgs = ["A", "B"].map(|id| {
            package(
                id,
                PackageKind::Total,
                Some(dec!(10)),
                Unit::GB,
                "2024-01-01",
                "2025-01-01",
            )
        });
        let rows = [
            usage("u1", "2024-05-01 10:00:00", dec!(5), Unit::Call),
            usage("u2", "2024-05-01 11:00:00", dec!(1), Unit::GB),
        ];
        let d = deduct(&rows, &pkgs);
        assert!(d.violations.is_empty(), "{:?}", d.violations);
        assert_eq!(d.covered, vec![dec!(0), dec!(1)]);
        let priced = crate::rules::pricing::price_usage(&rows, &d.covered, &catalog()).unwrap();
        let rules: Vec<_> = priced
            .violations
            .iter()
            .map(|v| (v.rule.as_str(), v.source_id.as_str()))
            .collect();
        assert_eq!(rules, vec![("no_price", "u1")]);
    }
}
