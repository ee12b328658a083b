//! Package deduction: free quota → resource packages → pay-as-you-go (RULES.md §2–3).
//!
//! Packages only interact inside a *pool*: the accounts linked by package ownership and share
//! lists (union-find). Pools are independent, so they run in parallel (rayon); inside a pool one
//! sequential sweep walks usage rows in the total order `(usage_start, usage_id)`, interleaved
//! with refund requests (a request at `t` is applied before rows whose `usage_end > t`).
//!
//! For each row the eligible packages (§3.3) are ordered (§3.4) by
//! `(class, expires_at, remaining in base units, effective_at, package_id)` — class 0 free quota,
//! 1 idle-only, 2 the rest — and drawn one after another with the arithmetic of §3.6.
//!
//! Invariants (tested, also by proptest):
//! - conservation: for every row, `Σ covered parts + payg = quantity`, exactly;
//! - remaining never negative; per package and cycle, each draw's `remaining_before` equals the
//!   previous draw's `remaining_after`;
//! - no draw outside a package's validity, and a later-expiring package is never drawn while an
//!   earlier-expiring eligible package of the same class has capacity.
//!
//! Output does not depend on the number of threads: pools are processed independently and the
//! results are concatenated in pool order.

use crate::calendar::{natural_slice, periodic_cycle, Cycle, Ts};
use crate::catalog::Catalog;
use crate::input::{Event, EventKind, Package, PackageKind, PackageSource, Usage, Violation};
use crate::model::DeductionDetail;
use crate::money::{convert, mul_round, q9, Unit, QTY_SCALE};
use crate::name::Name;
use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::HashSet;

/// The state of one package at the end of the sweep (or at a refund request).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackageState {
    /// Cycle/slice index the `remaining` belongs to (periodic/sliced), 0 otherwise.
    pub cycle_index: Option<i64>,
    /// Remaining in the current cycle/slice (periodic/sliced) or in total; `None` = untouched.
    pub remaining: Option<Decimal>,
    /// Everything deducted over the package's life, package units.
    pub used: Decimal,
    /// When a total package (or the last cycle of a periodic one) reached 0.
    pub exhausted_at: Option<Ts>,
    /// Effective refund instant: `refunded_at` or an eligible refund request, the earlier.
    pub refund_at: Option<Ts>,
}

impl PackageState {
    /// A package's state before any draw: refunded as the inventory says, and a package of
    /// capacity 0 exhausted once nothing is left to come (RULES.md §3.2): a total one from its
    /// start, a periodic one from the start of its last cycle. (Draws set `exhausted_at` for
    /// the others.)
    pub fn initial(p: &Package) -> PackageState {
        let zero = p.capacity.is_some_and(|c| c.is_zero());
        let exhausted_at = match p.kind {
            PackageKind::Total if zero => Some(p.effective_at),
            PackageKind::Periodic if zero => cycle_at(p, p.expires_at - 1).map(|c| c.start),
            _ => None,
        };
        PackageState {
            refund_at: p.refunded_at,
            exhausted_at,
            ..Default::default()
        }
    }
}

/// What the sweep saw when a refund request for a package arrived; `refunds` prices it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundRequest {
    pub event_index: usize,
    pub package_index: usize,
    /// Package units used before the request.
    pub used: Decimal,
    /// Whether the package had any draw before the request.
    pub ever_used: bool,
    /// Remaining (total or current cycle) at the request, `None` for unlimited.
    pub remaining: Option<Decimal>,
    /// Whether the package was exhausted at the request (RULES.md §3.2: a total package, or a
    /// periodic one in its last cycle, drawn to 0).
    pub exhausted: bool,
    pub eligible: bool,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Deduction {
    pub details: Vec<DeductionDetail>,
    /// Per usage row (index into the input slice): covered quantity in the usage unit.
    pub covered: Vec<Decimal>,
    /// Per package (index into the input slice): state after the sweep.
    pub states: Vec<PackageState>,
    pub refund_requests: Vec<RefundRequest>,
    pub violations: Vec<Violation>,
}

/// Decides whether a refund request for a package is honoured, given what the sweep saw.
/// Returns `(eligible, reason)`; see `rules::refunds` for the rules of RULES.md §6.
pub type RefundPolicy<'a> = dyn Fn(&Package, &PackageState, Ts) -> (bool, String) + Sync + 'a;

/// Runs deduction for `usage` (sorted by `(usage_start, usage_id)`, all before the as-of moment)
/// against `packages`, applying the refund requests among `events`.
pub fn run(
    usage: &[Usage],
    packages: &[Package],
    events: &[Event],
    catalog: &Catalog,
    refund_policy: &RefundPolicy,
) -> Deduction {
    run_into(Vec::new(), usage, packages, events, catalog, refund_policy)
}

/// [`run`] with the details gathered into `details` (emptied first; its memory reused when large
/// enough, see [`crate::buffers`]).
pub fn run_into(
    details: Vec<DeductionDetail>,
    usage: &[Usage],
    packages: &[Package],
    events: &[Event],
    catalog: &Catalog,
    refund_policy: &RefundPolicy,
) -> Deduction {
    debug_assert!(usage
        .windows(2)
        .all(|w| (w[0].usage_start, &w[0].usage_id) <= (w[1].usage_start, &w[1].usage_id)));
    let pools = build_pools(usage, packages, events);
    let mut results: Vec<PoolResult> = pools
        .par_iter()
        .map(|pool| sweep(pool, usage, packages, events, catalog, refund_policy))
        .collect();
    // One allocation of the final size: extending pool by pool would copy the details (often
    // hundreds of megabytes) each time the vector grows.
    let mut details =
        crate::buffers::with_room(details, results.iter().map(|r| r.details.len()).sum());
    let mut out = Deduction {
        covered: vec![Decimal::ZERO; usage.len()],
        states: packages.iter().map(PackageState::initial).collect(),
        ..Default::default()
    };
    // Details in the table's order, `usage_start, usage_id, draw_seq`: the usage rows are in
    // `(usage_start, usage_id)` order with unique ids, so that is row order, a row's draws in
    // sequence. Each pool's details are in its rows' order, so a stable sort of (row, pool) by
    // row interleaves the pools. (The writer sorts every table whatever comes; rows already in
    // order cost it one comparison each instead of a merge of every pool's run.)
    let mut order: Vec<(u32, u32)> = results
        .iter()
        .enumerate()
        .flat_map(|(p, r)| r.detail_rows.iter().map(move |&row| (row, p as u32)))
        .collect();
    order.sort_by_key(|&(row, _)| row);
    let mut by_pool: Vec<_> = results
        .iter_mut()
        .map(|r| std::mem::take(&mut r.details).into_iter())
        .collect();
    details.extend(
        order
            .iter()
            .filter_map(|&(_, p)| by_pool[p as usize].next()),
    );
    drop(by_pool);
    for r in results {
        for (i, c) in r.covered {
            out.covered[i] = c;
        }
        for (i, s) in r.states {
            out.states[i] = s;
        }
        out.refund_requests.extend(r.refund_requests);
        out.violations.extend(r.violations);
    }
    out.details = details;
    out
}

/// One pool: the usage rows, packages and refund requests of a set of linked accounts.
#[derive(Debug, Default)]
struct Pool {
    usage: Vec<usize>,
    packages: Vec<usize>,
    refunds: Vec<usize>,
}

fn build_pools(usage: &[Usage], packages: &[Package], events: &[Event]) -> Vec<Pool> {
    // Union-find over account ids, numbered in first-seen order (deterministic). Names are
    // interned, so an account is keyed by its name's address (one integer hashed, not the
    // string); a row whose owner is the previous row's is not looked up again.
    let mut ids: FxHashMap<usize, usize> = FxHashMap::default();
    let mut parent: Vec<usize> = Vec::new();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    fn id_of(s: &Name, ids: &mut FxHashMap<usize, usize>, parent: &mut Vec<usize>) -> usize {
        *ids.entry(s.addr()).or_insert_with(|| {
            parent.push(parent.len());
            parent.len() - 1
        })
    }
    let mut unions = Vec::new();
    for p in packages {
        let a = id_of(&p.owner_uin, &mut ids, &mut parent);
        for s in &p.share_uins {
            unions.push((a, id_of(s, &mut ids, &mut parent)));
        }
    }
    // Each usage row's account id (usage rows are a chunk's millions).
    let mut last: Option<(usize, usize)> = None;
    let row_ids: Vec<usize> = usage
        .iter()
        .map(|u| {
            let addr = u.owner_uin.addr();
            match last {
                Some((a, id)) if a == addr => id,
                _ => {
                    let id = id_of(&u.owner_uin, &mut ids, &mut parent);
                    last = Some((addr, id));
                    id
                }
            }
        })
        .collect();
    for (a, b) in unions {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    // Each id's root, then the pools by root in ascending order of root.
    let root: Vec<usize> = (0..parent.len()).map(|x| find(&mut parent, x)).collect();
    let mut pools: Vec<Option<Pool>> = Vec::new();
    pools.resize_with(parent.len(), || None);
    let pkg_index: FxHashMap<&str, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (&*p.package_id, i))
        .collect();
    let root_of = |name: &Name| root[ids[&name.addr()]];
    for (i, p) in packages.iter().enumerate() {
        let r = root_of(&p.owner_uin);
        pools[r].get_or_insert_with(Pool::default).packages.push(i);
    }
    // Only the rows of pools that hold packages: a row of a pool without any is covered by
    // nothing (pay-as-you-go whole, no draw, no finding), so it is not swept at all. (Refund
    // requests target packages, so a pool without packages has none either.)
    for (i, &id) in row_ids.iter().enumerate() {
        if let Some(pool) = &mut pools[root[id]] {
            pool.usage.push(i);
        }
    }
    let mut refunds: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EventKind::Refund && pkg_index.contains_key(&*e.target_id))
        .map(|(i, _)| i)
        .collect();
    refunds.sort_by(|&a, &b| {
        (events[a].at, &events[a].event_id).cmp(&(events[b].at, &events[b].event_id))
    });
    for i in refunds {
        let p = pkg_index[&*events[i].target_id];
        let r = root_of(&packages[p].owner_uin);
        pools[r].get_or_insert_with(Pool::default).refunds.push(i);
    }
    pools.into_iter().flatten().collect()
}

#[derive(Default)]
struct PoolResult {
    details: Vec<DeductionDetail>,
    /// The usage row of each detail.
    detail_rows: Vec<u32>,
    covered: Vec<(usize, Decimal)>,
    states: Vec<(usize, PackageState)>,
    refund_requests: Vec<RefundRequest>,
    violations: Vec<Violation>,
}

/// Order class of §3.4.
fn class(p: &Package) -> u8 {
    if p.source == PackageSource::Free {
        0
    } else if p.idle_only {
        1
    } else {
        2
    }
}

/// The cycle/slice of `p` containing `t`, or `None` for total/unlimited packages.
pub fn cycle_at(p: &Package, t: Ts) -> Option<Cycle> {
    match (p.kind, p.cycle) {
        (PackageKind::Periodic, Some(len)) => periodic_cycle(p.effective_at, p.expires_at, len, t),
        (PackageKind::Sliced, Some(len)) => natural_slice(p.effective_at, p.expires_at, len, t),
        _ => None,
    }
}

/// Remaining capacity of `p` for an hour starting at `t`, rolling over to a fresh cycle/slice
/// when `t` is in a later one. `None` = unlimited.
fn remaining_at(p: &Package, st: &mut PackageState, t: Ts) -> Option<Decimal> {
    remaining_in(p, st, cycle_at(p, t))
}

/// [`remaining_at`] as a refund request at `t` sees it, the state left as it is. The sweep's
/// state must stay at the cycle of the rows: a request is applied before the first row ending
/// after it, and that row's hour may start before a cycle boundary the request is past (an
/// hour belongs to the cycle containing its `usage_start`, RULES.md §3.1). Moving the state to
/// the request's cycle would refill the row's cycle to full capacity when the row asks for it.
fn remaining_seen_at(p: &Package, st: &PackageState, t: Ts) -> Option<Decimal> {
    remaining_at(p, &mut st.clone(), t)
}

/// [`remaining_at`] for an hour whose cycle/slice (`cycle_at`) is known.
fn remaining_in(p: &Package, st: &mut PackageState, cycle: Option<Cycle>) -> Option<Decimal> {
    let cap = p.capacity?;
    match p.kind {
        PackageKind::Periodic | PackageKind::Sliced => {
            let idx = cycle.map(|c| c.index);
            if st.cycle_index != idx {
                st.cycle_index = idx;
                st.remaining = Some(cap);
            }
            st.remaining
        }
        _ => Some(*st.remaining.get_or_insert(cap)),
    }
}

/// The cycle/slice of each package of a pool at the hour last asked for: usage rows come in
/// time order, so a row mostly asks for the hour the row before asked for.
struct Cycles(Vec<Option<(Ts, Option<Cycle>)>>);

impl Cycles {
    fn new(packages: usize) -> Cycles {
        Cycles(vec![None; packages])
    }

    /// `cycle_at(p, t)` for local package `l` (whose package is `p`).
    fn at(&mut self, l: usize, p: &Package, t: Ts) -> Option<Cycle> {
        match self.0[l] {
            Some((at, c)) if at == t => c,
            _ => {
                let c = cycle_at(p, t);
                self.0[l] = Some((t, c));
                c
            }
        }
    }
}

/// Is `p` eligible for `u` (RULES.md §3.3), apart from scope and remaining capacity?
/// `quality` tells whether `p`'s product is a quality-traffic package product.
fn eligible(p: &Package, st: &PackageState, u: &Usage, catalog: &Catalog, quality: bool) -> bool {
    let owner_ok = p.owner_uin == u.owner_uin || p.share_uins.contains(&u.owner_uin);
    let region_ok = &*p.region == "*" || p.region == u.region;
    let time_ok = p.effective_at <= u.usage_start
        && u.usage_end <= p.expires_at
        && p.activated
        && st.refund_at.is_none_or(|r| r >= u.usage_end);
    let idle_ok = !p.idle_only || catalog.idle_window(&u.region).contains(u.usage_start);
    let quality_ok = !quality
        || (u.direction.as_str() == catalog.quality_direction
            && catalog.quality_origin_regions.contains(&*u.region)
            && u.accelerated);
    owner_ok && region_ok && time_ok && idle_ok && quality_ok
}

/// `(class, expires_at, remaining in base units, effective_at, package_id, local index, coefficient)`.
type OrderKey<'a> = (u8, Ts, Option<Decimal>, Ts, &'a str, usize, Decimal);

fn sweep(
    pool: &Pool,
    usage: &[Usage],
    packages: &[Package],
    events: &[Event],
    catalog: &Catalog,
    refund_policy: &RefundPolicy,
) -> PoolResult {
    let mut res = PoolResult::default();
    // Local state per package of the pool.
    let mut state: Vec<PackageState> = pool
        .packages
        .iter()
        .map(|&i| PackageState::initial(&packages[i]))
        .collect();
    let local_of: FxHashMap<usize, usize> = pool
        .packages
        .iter()
        .enumerate()
        .map(|(l, &g)| (g, l))
        .collect();
    // Scope index: (product, billing_item) → [(local package, coefficient)], keyed by the
    // names' addresses (looked up once per usage row; never iterated).
    let mut scope: FxHashMap<(usize, usize), Vec<(usize, Decimal)>> = FxHashMap::default();
    for (l, &g) in pool.packages.iter().enumerate() {
        for s in &packages[g].scopes {
            scope
                .entry((s.product.addr(), s.billing_item.addr()))
                .or_default()
                .push((l, s.coefficient));
        }
    }
    // Per local package: is its product a quality-traffic package product (§3.3)?
    let quality: Vec<bool> = pool
        .packages
        .iter()
        .map(|&g| {
            catalog
                .quality_package_products
                .contains(&*packages[g].product)
        })
        .collect();
    let mut unit_reported: HashSet<(usize, Unit)> = HashSet::new();
    let mut next_refund = 0;
    let mut candidates: Vec<(usize, Decimal)> = Vec::new();
    let mut keyed: Vec<OrderKey> = Vec::new();
    let mut cycles = Cycles::new(pool.packages.len());

    let apply_refunds_before = |until: Ts,
                                state: &mut Vec<PackageState>,
                                res: &mut PoolResult,
                                next_refund: &mut usize| {
        while *next_refund < pool.refunds.len() && events[pool.refunds[*next_refund]].at < until {
            let ei = pool.refunds[*next_refund];
            let e = &events[ei];
            let g = *pool
                .packages
                .iter()
                .find(|&&g| packages[g].package_id == e.target_id)
                .expect("refund targets a package of this pool");
            let l = local_of[&g];
            let p = &packages[g];
            let st = &mut state[l];
            let remaining = remaining_seen_at(p, st, e.at);
            let (ok, reason) = refund_policy(p, st, e.at);
            if ok {
                st.refund_at = Some(st.refund_at.map_or(e.at, |r| r.min(e.at)));
            }
            res.refund_requests.push(RefundRequest {
                event_index: ei,
                package_index: g,
                used: st.used,
                ever_used: !st.used.is_zero(),
                remaining,
                exhausted: st.exhausted_at.is_some_and(|x| x <= e.at),
                eligible: ok,
                reason,
            });
            *next_refund += 1;
        }
    };

    for &ui in &pool.usage {
        let u = &usage[ui];
        apply_refunds_before(u.usage_end, &mut state, &mut res, &mut next_refund);
        if u.quantity.is_zero() {
            continue;
        }
        candidates.clear();
        if let Some(list) = scope.get(&(u.product.addr(), u.billing_item.addr())) {
            for &(l, c) in list {
                let p = &packages[pool.packages[l]];
                if !eligible(p, &state[l], u, catalog, quality[l]) {
                    continue;
                }
                if !u.unit.compatible(p.unit) {
                    if unit_reported.insert((l, u.unit)) {
                        res.violations.push(Violation::new(
                            "package_scope",
                            format!("{}/{}/{}", p.package_id, u.product, u.billing_item),
                            "incompatible_unit",
                            format!(
                                "package unit {} cannot cover usage in {} (first: usage {})",
                                p.unit, u.unit, u.usage_id
                            ),
                            Some(u.usage_start),
                        ));
                    }
                    continue;
                }
                candidates.push((l, c));
            }
        }
        // Order of §3.4; remaining is compared in base units, unlimited as infinite.
        keyed.clear();
        keyed.extend(candidates.iter().map(|&(l, c)| {
            let p = &packages[pool.packages[l]];
            let cycle = cycles.at(l, p, u.usage_start);
            let rem = remaining_in(p, &mut state[l], cycle).map(|r| r * p.unit.factor());
            (
                class(p),
                p.expires_at,
                rem,
                p.effective_at,
                &*p.package_id,
                l,
                c,
            )
        }));
        keyed.sort_by(|a, b| {
            let rem = |r: &Option<Decimal>| (r.is_none(), r.unwrap_or_default());
            (a.0, a.1, rem(&a.2), a.3, a.4).cmp(&(b.0, b.1, rem(&b.2), b.3, b.4))
        });

        let mut left = u.quantity; // usage unit, not yet covered
        let mut seq = 0;
        for &(_, _, _, _, _, l, c) in &keyed {
            if left.is_zero() {
                break;
            }
            let p = &packages[pool.packages[l]];
            let st = &mut state[l];
            let cyc = cycles.at(l, p, u.usage_start);
            let before = remaining_in(p, st, cyc);
            if before.is_some_and(|r| r.is_zero()) {
                continue;
            }
            let need = mul_round(convert(left, u.unit, p.unit), c, QTY_SCALE);
            let (deducted, covered) = match before {
                None => (need, left),
                Some(r) if need <= r => (need, left),
                Some(r) => (r, left.min(q9(r / c * p.unit.factor() / u.unit.factor()))),
            };
            let after = before.map(|r| r - deducted);
            if p.kind != PackageKind::Unlimited {
                st.remaining = after;
            }
            st.used += deducted;
            if after.is_some_and(|a| a.is_zero()) {
                let last_cycle = match p.kind {
                    PackageKind::Total => true,
                    PackageKind::Periodic => cyc.is_some_and(|c| c.end >= p.expires_at),
                    _ => false,
                };
                if last_cycle && st.exhausted_at.is_none() {
                    st.exhausted_at = Some(u.usage_end);
                }
            }
            left -= covered;
            res.details.push(DeductionDetail {
                package_owner_uin: p.owner_uin,
                package_id: p.package_id,
                package_name: p.package_name,
                product: p.product,
                sub_product: p.sub_product,
                package_kind: p.kind,
                cycle_start: cyc.map(|c| c.start),
                cycle_end: cyc.map(|c| c.end),
                deducted_at: u.usage_end,
                remaining_before: before,
                deducted,
                remaining_after: after,
                package_unit: p.unit,
                resource_owner_uin: u.owner_uin,
                resource_product: u.product,
                resource_sub_product: u.sub_product,
                resource_billing_item: u.billing_item,
                region: u.region,
                instance_id: u.instance_id,
                usage_id: u.usage_id.clone(),
                original_usage: covered,
                original_usage_unit: u.unit,
                coefficient: c,
                usage_start: u.usage_start,
                usage_end: u.usage_end,
                draw_seq: seq,
            });
            res.detail_rows.push(ui as u32);
            seq += 1;
        }
        // Rows nothing covered keep the zero they start with (`run_into`).
        if left != u.quantity {
            res.covered.push((ui, u.quantity - left));
        }
    }
    apply_refunds_before(Ts::MAX, &mut state, &mut res, &mut next_refund);
    res.states = pool.packages.iter().copied().zip(state).collect();
    res
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::{parse_local, CycleLen, HOUR, MICROS_PER_SECOND};
    use crate::input::{Direction, Scope};
    use rust_decimal_macros::dec;

    pub fn t(s: &str) -> Ts {
        parse_local(s).unwrap()
    }

    pub fn catalog() -> Catalog {
        Catalog::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample_data/catalog.toml"
        )))
        .unwrap()
    }

    pub fn usage(id: &str, start: &str, qty: Decimal, unit: Unit) -> Usage {
        let s = t(start);
        Usage {
            usage_id: id.into(),
            owner_uin: "acct-1".into(),
            region: "ap-guangzhou".into(),
            product: "eip".into(),
            sub_product: "eip".into(),
            instance_id: "eip-1".into(),
            billing_item: "public_traffic".into(),
            usage_start: s,
            usage_end: s + HOUR,
            quantity: qty,
            unit,
            direction: Direction::Outbound,
            accelerated: false,
        }
    }

    pub fn package(
        id: &str,
        kind: PackageKind,
        cap: Option<Decimal>,
        unit: Unit,
        eff: &str,
        exp: &str,
    ) -> Package {
        Package {
            package_id: id.into(),
            package_name: format!("pkg {id}").into(),
            owner_uin: "acct-1".into(),
            product: "tp".into(),
            sub_product: "full-time".into(),
            kind,
            source: PackageSource::Purchased,
            order_is_new: true,
            region: "ap-guangzhou".into(),
            capacity: cap,
            unit,
            cycle: None,
            idle_only: false,
            purchased_at: t(eff),
            effective_at: t(eff),
            expires_at: t(exp),
            activated: true,
            refunded_at: None,
            price_paid: dec!(10),
            voucher_amount: Decimal::ZERO,
            share_uins: vec![],
            scopes: vec![Scope {
                product: "eip".into(),
                billing_item: "public_traffic".into(),
                coefficient: Decimal::ONE,
            }],
        }
    }

    fn no_refunds(_: &Package, _: &PackageState, _: Ts) -> (bool, String) {
        (true, String::new())
    }

    fn refuse_all(_: &Package, _: &PackageState, _: Ts) -> (bool, String) {
        (false, "refused".to_string())
    }

    pub fn deduct(usage: &[Usage], packages: &[Package]) -> Deduction {
        run(usage, packages, &[], &catalog(), &no_refunds)
    }

    /// (package_id, remaining_before, deducted, remaining_after, original_usage) of each draw.
    type Draw = (String, Option<Decimal>, Decimal, Option<Decimal>, Decimal);

    fn draws(d: &Deduction) -> Vec<Draw> {
        d.details
            .iter()
            .map(|x| {
                (
                    x.package_id.to_string(),
                    x.remaining_before,
                    x.deducted,
                    x.remaining_after,
                    x.original_usage,
                )
            })
            .collect()
    }

    #[test]
    fn only_pools_holding_packages_are_swept() {
        // acct-1 holds a package shared with acct-2; acct-3 holds none.
        let mut p = package(
            "P",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-01",
            "2024-07-01",
        );
        p.share_uins = vec!["acct-2".into()];
        let row = |id: &str, owner: &str| {
            let mut u = usage(id, "2024-05-01 10:00:00", dec!(1), Unit::GB);
            u.owner_uin = owner.into();
            u
        };
        let rows = [
            row("u1", "acct-3"),
            row("u2", "acct-1"),
            row("u3", "acct-2"),
        ];
        let pools = build_pools(&rows, std::slice::from_ref(&p), &[]);
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].packages, vec![0]);
        assert_eq!(pools[0].usage, vec![1, 2], "acct-3's row is in no pool");
        let d = deduct(&rows, &[p]);
        assert_eq!(d.covered, vec![dec!(0), dec!(1), dec!(1)]);
        assert_eq!(
            draws(&d),
            vec![
                ("P".into(), Some(dec!(10)), dec!(1), Some(dec!(9)), dec!(1)),
                ("P".into(), Some(dec!(9)), dec!(1), Some(dec!(8)), dec!(1)),
            ]
        );
    }

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
        assert_eq!(d.details[0].package_id.as_ref(), "B");
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
        let ids: Vec<_> = d.details.iter().map(|x| x.package_id.to_string()).collect();
        assert_eq!(ids, ["F", "I", "O"]);
        // 10:00 is not idle: the idle-only package is not eligible.
        let d = deduct(
            &[usage("u2", "2024-05-01 10:00:00", dec!(3), Unit::GB)],
            &[other, idle, free],
        );
        let ids: Vec<_> = d.details.iter().map(|x| x.package_id.to_string()).collect();
        assert_eq!(ids, ["F", "O"]);
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

    #[test]
    fn quality_packages_need_to_mainland_from_hk_or_sg_accelerated() {
        let mut q = package(
            "Q",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        q.product = "qtp".into();
        q.region = "*".into();
        let mut u = usage("u1", "2024-05-01 10:00:00", dec!(1), Unit::GB);
        u.region = "ap-hongkong".into();
        u.direction = Direction::ToMainland;
        u.accelerated = true;
        assert_eq!(deduct(&[u.clone()], &[q.clone()]).details.len(), 1);
        let mut v = u.clone();
        v.accelerated = false;
        assert_eq!(deduct(&[v], &[q.clone()]).details.len(), 0);
        let mut v = u.clone();
        v.direction = Direction::Outbound;
        assert_eq!(deduct(&[v], &[q.clone()]).details.len(), 0);
        let mut v = u;
        v.region = "ap-tokyo".into();
        assert_eq!(deduct(&[v], &[q]).details.len(), 0);
    }

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

    #[test]
    fn refund_requests_stop_coverage_from_their_instant() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let ev = Event {
            event_id: "e1".into(),
            kind: EventKind::Refund,
            target_id: "P".into(),
            at: t("2024-05-01 11:30:00"),
            new_plan: None,
            months: None,
        };
        let rows = [
            usage("a", "2024-05-01 10:00:00", dec!(1), Unit::GB),
            usage("b", "2024-05-01 11:00:00", dec!(1), Unit::GB),
        ];
        let d = run(&rows, &[p], &[ev], &catalog(), &no_refunds);
        assert_eq!(d.covered, vec![dec!(1), dec!(0)]);
        assert_eq!(d.refund_requests.len(), 1);
        assert_eq!(d.refund_requests[0].used, dec!(1));
        assert!(!d.refund_requests[0].exhausted);
        assert_eq!(d.states[0].refund_at, Some(t("2024-05-01 11:30:00")));
    }

    /// A request sees the package exhausted from the end of the hour that drew it to 0 (§3.2;
    /// the quality traffic refund of an exhausted package is 0, §6).
    #[test]
    fn refund_requests_see_exhaustion_from_the_end_of_the_hour_that_used_the_package_up() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let rows = [usage("a", "2024-05-01 10:00:00", dec!(1), Unit::GB)];
        // A request inside the hour comes before the hour's draw (see above).
        for (at, used, exhausted) in [
            ("2024-05-01 10:30:00", dec!(0), false),
            ("2024-05-01 11:00:00", dec!(1), true),
        ] {
            let ev = Event {
                event_id: "e1".into(),
                kind: EventKind::Refund,
                target_id: "P".into(),
                at: t(at),
                new_plan: None,
                months: None,
            };
            let d = run(&rows, &[p.clone()], &[ev], &catalog(), &no_refunds);
            assert_eq!(d.refund_requests[0].exhausted, exhausted, "{at}");
            assert_eq!(d.refund_requests[0].used, used, "{at}");
        }
    }

    /// A refused refund request between a cycle boundary and the end of an hour that started
    /// before it leaves the hour's cycle as it was: the hour draws what its cycle has left.
    #[test]
    fn refund_requests_leave_the_cycle_of_the_rows_as_it_was() {
        let mut p = package(
            "P",
            PackageKind::Periodic,
            Some(dec!(2)),
            Unit::GB,
            "2024-05-01 10:30:00",
            "2024-05-04 10:30:00",
        );
        p.cycle = Some(CycleLen::Day);
        let ev = Event {
            event_id: "e1".into(),
            kind: EventKind::Refund,
            target_id: "P".into(),
            // In cycle 1 ([05-02 10:30, 05-03 10:30)), inside row b's hour.
            at: t("2024-05-02 10:45:00"),
            new_plan: None,
            months: None,
        };
        let rows = [
            usage("a", "2024-05-02 09:00:00", dec!(1.5), Unit::GB),
            // 10:00–11:00 starts in cycle 0 ([05-01 10:30, 05-02 10:30)): 0.5 GB left there.
            usage("b", "2024-05-02 10:00:00", dec!(1), Unit::GB),
            usage("c", "2024-05-02 11:00:00", dec!(1), Unit::GB),
        ];
        let d = run(&rows, &[p], &[ev], &catalog(), &refuse_all);
        assert_eq!(
            draws(&d),
            vec![
                (
                    "P".into(),
                    Some(dec!(2)),
                    dec!(1.5),
                    Some(dec!(0.5)),
                    dec!(1.5)
                ),
                (
                    "P".into(),
                    Some(dec!(0.5)),
                    dec!(0.5),
                    Some(dec!(0)),
                    dec!(0.5)
                ),
                ("P".into(), Some(dec!(2)), dec!(1), Some(dec!(1)), dec!(1)),
            ]
        );
        assert_eq!(d.covered, vec![dec!(1.5), dec!(0.5), dec!(1)]);
        assert_eq!(d.details[1].cycle_start, Some(t("2024-05-01 10:30:00")));
        assert_eq!(d.details[2].cycle_start, Some(t("2024-05-02 10:30:00")));
        // The request saw its own cycle (1), untouched yet.
        assert_eq!(d.refund_requests.len(), 1);
        assert!(!d.refund_requests[0].eligible);
        assert_eq!(d.refund_requests[0].remaining, Some(dec!(2)));
        assert_eq!(d.refund_requests[0].used, dec!(1.5));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn arb_package(i: usize) -> impl Strategy<Value = Package> {
            (
                0u8..4,
                0i64..4000,
                1i64..4,
                0i64..96,
                // Cycles anchored on the hour, or off it (cycle boundaries inside hours).
                prop_oneof![Just(0i64), 1i64..60],
                24i64..120,
                1u32..20,
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(
                    move |(kind, cap, unit, eff_h, eff_m, len_h, coef, idle, free, mb)| {
                        let kind = [
                            PackageKind::Total,
                            PackageKind::Periodic,
                            PackageKind::Sliced,
                            PackageKind::Unlimited,
                        ][kind as usize];
                        let eff = t("2024-05-01") + eff_h * HOUR + eff_m * 60 * MICROS_PER_SECOND;
                        let mut p = package(
                            &format!("P{i}"),
                            kind,
                            Some(Decimal::new(cap, 3)),
                            if mb { Unit::MB } else { Unit::GB },
                            "2024-05-01",
                            "2024-05-02",
                        );
                        p.effective_at = eff;
                        p.expires_at = eff + len_h * HOUR;
                        p.cycle = match kind {
                            PackageKind::Periodic => Some(CycleLen::Day),
                            PackageKind::Sliced => Some(CycleLen::Hour),
                            _ => None,
                        };
                        if kind == PackageKind::Unlimited {
                            p.capacity = None;
                        }
                        let _ = unit;
                        p.scopes[0].coefficient = Decimal::new(coef as i64, 1);
                        p.idle_only = idle;
                        if free {
                            p.source = PackageSource::Free;
                        }
                        p
                    },
                )
        }

        fn arb_usage() -> impl Strategy<Value = Vec<Usage>> {
            prop::collection::vec((0i64..200, 0i64..5000, any::<bool>()), 1..40).prop_map(|rows| {
                let mut v: Vec<Usage> = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (h, q, gb))| {
                        let mut u = usage(
                            &format!("u{i:03}"),
                            "2024-05-01",
                            Decimal::new(q, 3),
                            if gb { Unit::GB } else { Unit::MB },
                        );
                        u.usage_start += h * HOUR;
                        u.usage_end += h * HOUR;
                        u
                    })
                    .collect();
                v.sort_by(|a, b| (a.usage_start, &a.usage_id).cmp(&(b.usage_start, &b.usage_id)));
                v
            })
        }

        fn arb_packages() -> impl Strategy<Value = Vec<Package>> {
            (1usize..7).prop_flat_map(|n| (0..n).map(arb_package).collect::<Vec<_>>())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn deduction_invariants(rows in arb_usage(), pkgs in arb_packages()) {
                let d = deduct(&rows, &pkgs);
                // Conservation per usage row, exact.
                for (i, u) in rows.iter().enumerate() {
                    let parts: Decimal = d.details.iter().filter(|x| x.usage_id == u.usage_id).map(|x| x.original_usage).sum();
                    prop_assert_eq!(parts, d.covered[i]);
                    prop_assert!(d.covered[i] <= u.quantity && d.covered[i] >= Decimal::ZERO);
                }
                // Remaining never negative; chained per package and cycle; validity respected.
                let mut last: FxHashMap<(String, Option<Ts>), Decimal> = FxHashMap::default();
                for x in &d.details {
                    let p = pkgs.iter().find(|p| p.package_id == x.package_id).unwrap();
                    prop_assert!(p.effective_at <= x.usage_start && x.usage_end <= p.expires_at);
                    if let (Some(b), Some(a)) = (x.remaining_before, x.remaining_after) {
                        prop_assert!(a >= Decimal::ZERO);
                        prop_assert_eq!(b - x.deducted, a);
                        let key = (x.package_id.to_string(), x.cycle_start);
                        if let Some(prev) = last.get(&key) {
                            prop_assert_eq!(*prev, b);
                        } else {
                            prop_assert_eq!(Some(b), p.capacity);
                        }
                        last.insert(key, a);
                    }
                }
                // Order: within a row, (class, expiry) never decreases, and every draw but the
                // last empties its package — a later package is drawn only when earlier ones are empty.
                for u in &rows {
                    let ds: Vec<_> = d.details.iter().filter(|x| x.usage_id == u.usage_id).collect();
                    for w in ds.windows(2) {
                        let (p0, p1) = (
                            pkgs.iter().find(|p| p.package_id == w[0].package_id).unwrap(),
                            pkgs.iter().find(|p| p.package_id == w[1].package_id).unwrap(),
                        );
                        prop_assert!((class(p0), p0.expires_at) <= (class(p1), p1.expires_at));
                        prop_assert!(w[0].remaining_after == Some(Decimal::ZERO));
                    }
                }
                // Deterministic: the same inputs give the same draws.
                prop_assert_eq!(&deduct(&rows, &pkgs).details, &d.details);
            }

            /// Refund requests that are refused, at any instant (on the hour or inside one,
            /// before, between or after the rows), change no draw.
            #[test]
            fn refused_refund_requests_change_no_draw(
                rows in arb_usage(),
                pkgs in arb_packages(),
                requests in prop::collection::vec((0usize..7, 0i64..(210 * 60)), 1..6),
            ) {
                let events: Vec<Event> = requests
                    .iter()
                    .enumerate()
                    .map(|(i, &(k, minute))| Event {
                        event_id: format!("e{i}").as_str().into(),
                        kind: EventKind::Refund,
                        target_id: pkgs[k % pkgs.len()].package_id,
                        at: t("2024-05-01") + minute * 60 * MICROS_PER_SECOND,
                        new_plan: None,
                        months: None,
                    })
                    .collect();
                        let with = run(&rows, &pkgs, &events, &catalog(), &refuse_all);
                let without = deduct(&rows, &pkgs);
                prop_assert_eq!(&with.details, &without.details);
                prop_assert_eq!(&with.covered, &without.covered);
                prop_assert_eq!(&with.states, &without.states);
                prop_assert_eq!(with.refund_requests.len(), events.len());
            }
        }
    }
}
