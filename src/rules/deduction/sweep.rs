//! The sweep of one pool (docs/rules.md §2, §3.4's last paragraph, §3.6): its usage rows in
//! `(usage_start, usage_id)` order, each taken from its ordered candidate packages
//! ([`super::order`]) one after another until covered or out of packages (the rest is
//! pay-as-you-go), with the refund requests due before each row applied first
//! ([`super::refund_requests`]).
//!
//! A draw (§3.6) converts what is left of the row to the package's unit and applies the scope's
//! coefficient, `need = round9(round9(left × f_usage / f_pkg) × c)`; a package with less than
//! `need` left gives all it has and covers `round9(remaining / c × f_pkg / f_usage)` of the row.
//!
//! Invariants: a row's covered parts sum to its covered quantity, never above its quantity; each
//! draw takes `remaining_before − remaining_after`, never leaving less than 0; a package drawn
//! to 0 in its last cycle (total, or periodic) is exhausted from the end of that hour; draws of a
//! row are numbered from 0 in draw order.

use super::capacity::{remaining_in, Cycles};
use super::order::{self, Candidate};
use super::pools::Pool;
use super::{PackageState, RefundPolicy, RefundRequest};
use crate::calendar::{Cycle, Ts};
use crate::catalog::Catalog;
use crate::input::{Event, Package, PackageKind, Usage, Violation};
use crate::model::DeductionDetail;
use crate::money::{convert, mul_round, q9, Unit, QTY_SCALE};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::HashSet;

/// What the sweep of one pool produces, in its rows' order.
#[derive(Default)]
pub(super) struct PoolResult {
    pub(super) details: Vec<DeductionDetail>,
    /// The usage row of each detail.
    pub(super) detail_rows: Vec<u32>,
    /// `(usage row, covered quantity)` of each row some package covered.
    pub(super) covered: Vec<(usize, Decimal)>,
    /// `(package, state)` of each package of the pool at the end of the sweep.
    pub(super) states: Vec<(usize, PackageState)>,
    pub(super) refund_requests: Vec<RefundRequest>,
    pub(super) violations: Vec<Violation>,
}

/// The sweep of one pool in progress. Packages of the pool are numbered locally (`l`, an index
/// into `pool.packages`).
pub(super) struct Sweep<'a> {
    pub(super) pool: &'a Pool,
    pub(super) usage: &'a [Usage],
    pub(super) packages: &'a [Package],
    pub(super) events: &'a [Event],
    pub(super) catalog: &'a Catalog,
    pub(super) refund_policy: &'a RefundPolicy<'a>,
    /// Per local package: its state so far.
    pub(super) state: Vec<PackageState>,
    /// Scope index: (product, billing_item) → [(local package, coefficient)], keyed by the
    /// names' addresses (looked up once per usage row; never iterated).
    pub(super) scope: FxHashMap<(usize, usize), Vec<(usize, Decimal)>>,
    /// Per local package: is its product a quality-traffic package product (§3.3)?
    pub(super) quality: Vec<bool>,
    /// (local package, usage unit) pairs already reported as incompatible.
    pub(super) unit_reported: HashSet<(usize, Unit)>,
    pub(super) cycles: Cycles,
    /// The next refund request of `pool.refunds` to apply.
    pub(super) next_refund: usize,
    /// The current row's eligible packages, `(local package, coefficient)`; reused row to row.
    pub(super) candidates: Vec<(usize, Decimal)>,
    /// The current row's candidates in draw order; reused row to row.
    pub(super) ordered: Vec<Candidate<'a>>,
    pub(super) res: PoolResult,
}

/// Sweeps one pool: every usage row of the pool, then the refund requests after the last.
pub(super) fn sweep(
    pool: &Pool,
    usage: &[Usage],
    packages: &[Package],
    events: &[Event],
    catalog: &Catalog,
    refund_policy: &RefundPolicy,
) -> PoolResult {
    let mut s = Sweep::new(pool, usage, packages, events, catalog, refund_policy);
    for &ui in &pool.usage {
        s.row(ui);
    }
    s.apply_refunds_before(Ts::MAX);
    s.res.states = pool.packages.iter().copied().zip(s.state).collect();
    s.res
}

impl<'a> Sweep<'a> {
    fn new(
        pool: &'a Pool,
        usage: &'a [Usage],
        packages: &'a [Package],
        events: &'a [Event],
        catalog: &'a Catalog,
        refund_policy: &'a RefundPolicy<'a>,
    ) -> Sweep<'a> {
        let mut scope: FxHashMap<(usize, usize), Vec<(usize, Decimal)>> = FxHashMap::default();
        for (l, &g) in pool.packages.iter().enumerate() {
            for s in &packages[g].scopes {
                scope
                    .entry((s.product.addr(), s.billing_item.addr()))
                    .or_default()
                    .push((l, s.coefficient));
            }
        }
        let quality = pool
            .packages
            .iter()
            .map(|&g| {
                catalog
                    .quality_package_products
                    .contains(&*packages[g].product)
            })
            .collect();
        Sweep {
            pool,
            usage,
            packages,
            events,
            catalog,
            refund_policy,
            state: pool
                .packages
                .iter()
                .map(|&i| PackageState::initial(&packages[i]))
                .collect(),
            scope,
            quality,
            unit_reported: HashSet::new(),
            cycles: Cycles::new(pool.packages.len()),
            next_refund: 0,
            candidates: Vec::new(),
            ordered: Vec::new(),
            res: PoolResult::default(),
        }
    }

    /// The package of local package `l`.
    pub(super) fn package(&self, l: usize) -> &'a Package {
        &self.packages[self.pool.packages[l]]
    }

    /// Usage row `ui`: the refund requests due before it, then its draws in order until it is
    /// covered or the candidates are used up.
    fn row(&mut self, ui: usize) {
        let usage = self.usage;
        let u = &usage[ui];
        self.apply_refunds_before(u.usage_end);
        // Unbilled calls (docs/rules.md §4.1) draw on no package.
        if u.quantity.is_zero() || self.catalog.unbilled(u) {
            return;
        }
        self.select_candidates(u);
        self.order_candidates(u);
        let mut left = u.quantity; // usage unit, not yet covered
        let mut seq = 0;
        for k in 0..self.ordered.len() {
            if left.is_zero() {
                break;
            }
            let Candidate {
                local, coefficient, ..
            } = self.ordered[k];
            if let Some(covered) = self.draw(ui, local, coefficient, left, seq) {
                left -= covered;
                seq += 1;
            }
        }
        // Rows nothing covered keep the zero they start with (`run_into`).
        if left != u.quantity {
            self.res.covered.push((ui, u.quantity - left));
        }
    }

    /// Draw number `seq` of row `ui` on local package `l` at coefficient `c`, `left` of the row
    /// not covered yet: the quantity it covers, or `None` when the package's cycle is empty.
    fn draw(
        &mut self,
        ui: usize,
        l: usize,
        c: Decimal,
        left: Decimal,
        seq: i32,
    ) -> Option<Decimal> {
        let usage = self.usage;
        let u = &usage[ui];
        let p = self.package(l);
        let cycle = self.cycles.at(l, p, u.usage_start);
        let st = &mut self.state[l];
        let before = remaining_in(p, st, cycle);
        if before.is_some_and(|r| r.is_zero()) {
            return None;
        }
        let (deducted, covered) = take(before, left, u.unit, p.unit, c);
        let after = before.map(|r| r - deducted);
        book(p, st, cycle, after, deducted, u.usage_end);
        let draw = Draw {
            before,
            deducted,
            after,
            covered,
            coefficient: c,
            seq,
        };
        self.res.details.push(detail(p, u, cycle, &draw));
        self.res.detail_rows.push(ui as u32);
        Some(covered)
    }
}

/// §3.6: `(deducted, covered)` when `left` (in `usage_unit`) draws at coefficient `c` on a
/// package in `package_unit` with `before` remaining (`None` = unlimited): the package units
/// deducted and the usage units covered.
fn take(
    before: Option<Decimal>,
    left: Decimal,
    usage_unit: Unit,
    package_unit: Unit,
    c: Decimal,
) -> (Decimal, Decimal) {
    let need = mul_round(convert(left, usage_unit, package_unit), c, QTY_SCALE);
    match before {
        None => (need, left),
        Some(r) if need <= r => (need, left),
        Some(r) => (
            r,
            left.min(q9(r / c * package_unit.factor() / usage_unit.factor())),
        ),
    }
}

/// Books a draw into the package's state: an unlimited package keeps no remaining; a total
/// package, or a periodic one in its last cycle, drawn to 0 is exhausted from `hour_end`
/// (docs/rules.md §3.2).
fn book(
    p: &Package,
    st: &mut PackageState,
    cycle: Option<Cycle>,
    after: Option<Decimal>,
    deducted: Decimal,
    hour_end: Ts,
) {
    if p.kind != PackageKind::Unlimited {
        st.remaining = after;
    }
    st.used += deducted;
    if after.is_some_and(|a| a.is_zero()) {
        let last_cycle = match p.kind {
            PackageKind::Total => true,
            PackageKind::Periodic => cycle.is_some_and(|c| c.end >= p.expires_at),
            _ => false,
        };
        if last_cycle && st.exhausted_at.is_none() {
            st.exhausted_at = Some(hour_end);
        }
    }
}

/// The figures of one draw.
struct Draw {
    before: Option<Decimal>,
    deducted: Decimal,
    after: Option<Decimal>,
    covered: Decimal,
    coefficient: Decimal,
    seq: i32,
}

/// The `deduction_details` row of a draw of `p` for `u`.
fn detail(p: &Package, u: &Usage, cycle: Option<Cycle>, d: &Draw) -> DeductionDetail {
    DeductionDetail {
        package_owner_uin: p.owner_uin,
        package_id: p.package_id,
        package_name: p.package_name,
        product: p.product,
        sub_product: p.sub_product,
        package_kind: p.kind,
        cycle_start: cycle.map(|c| c.start),
        cycle_end: cycle.map(|c| c.end),
        deducted_at: u.usage_end,
        remaining_before: d.before,
        deducted: d.deducted,
        remaining_after: d.after,
        package_unit: p.unit,
        resource_owner_uin: u.owner_uin,
        resource_product: u.product,
        resource_sub_product: u.sub_product,
        resource_billing_item: u.billing_item,
        region: u.region,
        instance_id: u.instance_id,
        usage_id: u.usage_id.clone(),
        original_usage: d.covered,
        original_usage_unit: u.unit,
        coefficient: d.coefficient,
        usage_start: u.usage_start,
        usage_end: u.usage_end,
        draw_seq: d.seq,
    }
}

impl<'a> Sweep<'a> {
    /// The packages of the pool eligible for `u`, into `candidates` as `(local package,
    /// coefficient)` in scope order.
    pub(super) fn select_candidates(&mut self, u: &Usage) {
        self.candidates.clear();
        let Some(list) = self.scope.get(&(u.product.addr(), u.billing_item.addr())) else {
            return;
        };
        for &(l, c) in list {
            let p = &self.packages[self.pool.packages[l]];
            if !order::eligible(p, &self.state[l], u, self.catalog, self.quality[l]) {
                continue;
            }
            if !u.unit.compatible(p.unit) {
                // A row in a unit its item cannot have is the culprit, not the package: pricing
                // reports the row (`unit_fits_item`).
                let row_at_fault = !crate::rules::pricing::unit_fits_item(u, self.catalog);
                if !row_at_fault && self.unit_reported.insert((l, u.unit)) {
                    self.res.violations.push(order::incompatible_unit(p, u));
                }
                continue;
            }
            self.candidates.push((l, c));
        }
    }

    /// The candidates of `u` into `ordered`, in draw order (§3.4).
    pub(super) fn order_candidates(&mut self, u: &Usage) {
        self.ordered.clear();
        for k in 0..self.candidates.len() {
            let (l, coefficient) = self.candidates[k];
            let p = self.package(l);
            let cycle = self.cycles.at(l, p, u.usage_start);
            let remaining = remaining_in(p, &mut self.state[l], cycle).map(|r| r * p.unit.factor());
            let quality = self.quality[l];
            self.ordered.push(Candidate::new(
                p,
                l,
                coefficient,
                remaining,
                quality,
                u.usage_end,
            ));
        }
        // Stable: candidates equal in every key keep their scope order.
        self.ordered.sort_by(Candidate::cmp_draw_order);
    }
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::super::tests::*;
    use crate::calendar::CycleLen;
    use crate::input::{Package, PackageKind, PackageSource, Usage};
    use crate::money::Unit;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    #[test]
    fn coefficient_and_unit_conversion_with_partial_cover() {
        // 2 GB of usage, coefficient 1.5, package of 1024 MB: need = 3072 MB > 1024 MB.
        let mut p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1024)),
            Unit::MB,
            "2024-01-01",
            "2025-01-01",
        );
        p.scopes[0].coefficient = dec!(1.5);
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(2), Unit::GB)],
            &[p],
        );
        // covered = round9(1024 / 1.5 × 2^20 / 2^30) = 0.666666667 GB
        assert_eq!(
            draws(&d),
            vec![(
                "P".into(),
                Some(dec!(1024)),
                dec!(1024),
                Some(dec!(0)),
                dec!(0.666666667)
            )]
        );
        assert_eq!(d.details[0].coefficient, dec!(1.5));
        assert_eq!(d.covered, vec![dec!(0.666666667)]);
    }

    /// §3.6: `need = round9(round9(u × f_usage / f_pkg) × c)`, two roundings in that order.
    /// 1 B against a GB package with coefficient 1.5: 1 B = 0.000000000931 GB → 0.000000001,
    /// × 1.5 = 0.0000000015 → 0.000000002 (one rounding of 1.5 B in GB would give 0.000000001).
    #[test]
    fn need_is_rounded_after_the_unit_conversion_and_again_after_the_coefficient() {
        let mut p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        p.scopes[0].coefficient = dec!(1.5);
        let d = deduct(
            &[usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::B)],
            &[p],
        );
        assert_eq!(
            draws(&d),
            vec![(
                "P".into(),
                Some(dec!(1)),
                dec!(0.000000002),
                Some(dec!(0.999999998)),
                dec!(1)
            )]
        );
        assert_eq!(d.covered, vec![dec!(1)]);
    }

    #[test]
    fn periodic_cycles_refill_and_do_not_carry_over() {
        let mut p = package(
            "P",
            PackageKind::Periodic,
            Some(dec!(2)),
            Unit::GB,
            "2024-05-01",
            "2024-05-04",
        );
        p.cycle = Some(CycleLen::Day);
        let rows = [
            usage("a", "2024-05-01 10:00:00", dec!(1), Unit::GB),
            usage("b", "2024-05-02 10:00:00", dec!(3), Unit::GB),
            usage("c", "2024-05-03 10:00:00", dec!(2), Unit::GB),
        ];
        let d = deduct(&rows, &[p]);
        assert_eq!(
            draws(&d),
            vec![
                ("P".into(), Some(dec!(2)), dec!(1), Some(dec!(1)), dec!(1)),
                ("P".into(), Some(dec!(2)), dec!(2), Some(dec!(0)), dec!(2)),
                ("P".into(), Some(dec!(2)), dec!(2), Some(dec!(0)), dec!(2)),
            ]
        );
        assert_eq!(d.details[1].cycle_start, Some(t("2024-05-02")));
        assert_eq!(d.details[1].cycle_end, Some(t("2024-05-03")));
        assert_eq!(d.covered, vec![dec!(1), dec!(2), dec!(2)]);
        // Exhausted only when the last cycle is used up.
        assert_eq!(d.states[0].exhausted_at, Some(t("2024-05-03 11:00:00")));
    }

    #[test]
    fn sliced_packages_refill_each_natural_hour() {
        let mut p = package(
            "S",
            PackageKind::Sliced,
            Some(dec!(1)),
            Unit::GB,
            "2024-05-01 10:30:00",
            "2024-05-01 13:00:00",
        );
        p.cycle = Some(CycleLen::Hour);
        let rows = [
            usage("a", "2024-05-01 11:00:00", dec!(2), Unit::GB),
            usage("b", "2024-05-01 12:00:00", dec!(2), Unit::GB),
        ];
        let d = deduct(&rows, &[p]);
        assert_eq!(d.covered, vec![dec!(1), dec!(1)]);
        assert_eq!(d.details[1].cycle_start, Some(t("2024-05-01 12:00:00")));
    }

    #[test]
    fn unlimited_covers_everything_and_records_no_remaining() {
        let p = package(
            "U",
            PackageKind::Unlimited,
            None,
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let d = deduct(
            &[usage("a", "2024-05-01 11:00:00", dec!(7), Unit::GB)],
            &[p],
        );
        assert_eq!(draws(&d), vec![("U".into(), None, dec!(7), None, dec!(7))]);
    }

    #[test]
    fn zero_quantity_rows_draw_nothing() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let d = deduct(
            &[usage("a", "2024-05-01 11:00:00", dec!(0), Unit::GB)],
            &[p],
        );
        assert!(d.details.is_empty());
        assert_eq!(d.covered, vec![dec!(0)]);
    }

    #[test]
    fn rows_in_one_hour_draw_in_usage_id_order() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let rows = [
            usage("a", "2024-05-01 11:00:00", dec!(1), Unit::GB),
            usage("b", "2024-05-01 11:00:00", dec!(1), Unit::GB),
        ];
        let d = deduct(&rows, &[p]);
        assert_eq!(d.covered, vec![dec!(1), dec!(0)]);
        assert_eq!(d.details[0].usage_id.as_ref(), "a");
    }

    /// A call package of `cap` calls, and `n` calls of `sub_product` at `start`.
    fn call_package(cap: Decimal) -> Package {
        let mut p = package(
            "C",
            PackageKind::Total,
            Some(cap),
            Unit::Call,
            "2024-01-01",
            "2025-01-01",
        );
        p.product = "apigw".into();
        p.scopes[0].product = "apigw".into();
        p.scopes[0].billing_item = "calls".into();
        p
    }

    fn calls(id: &str, start: &str, n: Decimal, sub_product: &str) -> Usage {
        let mut u = usage(id, start, n, Unit::Call);
        u.product = "apigw".into();
        u.billing_item = "calls".into();
        u.sub_product = sub_product.into();
        u
    }

    /// docs/rules.md §9.12 (revised): 5,000,000 dedicated-instance calls draw nothing from a call
    /// package; the shared-instance hour after them draws from the full package.
    #[test]
    fn example_12_dedicated_instance_calls_draw_on_no_call_package() {
        let rows = [
            calls(
                "a",
                "2024-05-01 10:00:00",
                dec!(5000000),
                "dedicated-instance",
            ),
            calls("b", "2024-05-01 11:00:00", dec!(300), "websocket"),
            calls("c", "2024-05-01 12:00:00", dec!(1000000), "shared-instance"),
        ];
        let d = deduct(&rows, &[call_package(dec!(10000000))]);
        assert_eq!(
            draws(&d),
            vec![(
                "C".into(),
                Some(dec!(10000000)),
                dec!(1000000),
                Some(dec!(9000000)),
                dec!(1000000)
            )]
        );
        assert_eq!(d.details[0].usage_id.as_ref(), "c");
        assert_eq!(d.covered, vec![dec!(0), dec!(0), dec!(1000000)]);
        assert_eq!(d.states[0].used, dec!(1000000));
    }

    /// docs/rules.md §9.9 (revised): a free quota activated 2019-11-10 17:13:14 renews at
    /// 2019-12-10 00:00:00; what is left of the first cycle does not carry over, and the 00:00 hour
    /// of 12-10 draws on the second cycle.
    #[test]
    fn example_9_free_quota_renews_at_midnight_of_the_30th_day() {
        let mut p = call_package(dec!(1000000));
        p.package_id = "F".into();
        p.source = PackageSource::Free;
        p.kind = PackageKind::Periodic;
        p.cycle = Some(CycleLen::Days30);
        p.region = "*".into();
        p.effective_at = t("2019-11-10 17:13:14");
        p.expires_at = t("2020-11-04");
        let rows = [
            calls("a", "2019-11-10 18:00:00", dec!(400000), "shared-instance"),
            calls("b", "2019-12-09 23:00:00", dec!(100000), "shared-instance"),
            calls("c", "2019-12-10 00:00:00", dec!(1200000), "shared-instance"),
            calls("d", "2020-01-09 00:00:00", dec!(1), "shared-instance"),
        ];
        let d = deduct(&rows, &[p]);
        assert_eq!(
            draws(&d),
            vec![
                (
                    "F".into(),
                    Some(dec!(1000000)),
                    dec!(400000),
                    Some(dec!(600000)),
                    dec!(400000)
                ),
                (
                    "F".into(),
                    Some(dec!(600000)),
                    dec!(100000),
                    Some(dec!(500000)),
                    dec!(100000)
                ),
                (
                    "F".into(),
                    Some(dec!(1000000)),
                    dec!(1000000),
                    Some(dec!(0)),
                    dec!(1000000)
                ),
                (
                    "F".into(),
                    Some(dec!(1000000)),
                    dec!(1),
                    Some(dec!(999999)),
                    dec!(1)
                ),
            ]
        );
        let cycles: Vec<_> = d
            .details
            .iter()
            .map(|x| (x.cycle_start.unwrap(), x.cycle_end.unwrap()))
            .collect();
        let first = (t("2019-11-10 17:13:14"), t("2019-12-10"));
        assert_eq!(
            cycles,
            vec![
                first,
                first,
                (t("2019-12-10"), t("2020-01-09")),
                (t("2020-01-09"), t("2020-02-08")),
            ]
        );
        assert_eq!(
            d.covered,
            vec![dec!(400000), dec!(100000), dec!(1000000), dec!(1)]
        );
    }
}
