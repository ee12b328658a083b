//! Package deduction: free quota → resource packages → pay-as-you-go (docs/rules.md §2–3).
//!
//! Packages only interact inside a *pool*: the accounts linked by package ownership and share
//! lists (union-find, `pools`). Pools are independent, so they run in parallel (rayon); inside a
//! pool one sequential sweep (`sweep`) walks usage rows in the total order
//! `(usage_start, usage_id)`, interleaved with refund requests (`refund_requests`: a request at
//! `t` is applied before rows whose `usage_end > t`).
//!
//! For each row the eligible packages (§3.3) are ordered (§3.4, `order`) by
//! `(class, expires_at, remaining in base units, effective_at, package_id)` — class 0 free quota,
//! 1 quality traffic packages, 2 idle-only, 3 the rest — and drawn one after another with the arithmetic of §3.6 against the
//! capacity of the hour's cycle or slice (§3.1–3.2, `capacity`). Unbilled calls (§4.1, revised:
//! the catalog's `[unbilled_calls]`) are skipped like zero rows: no draw, nothing covered.
//!
//! Invariants (tested, also by proptest, on packages as given and as renewed by
//! `rules::renewals`, docs/rules.md §3.8):
//! - conservation: for every row, `Σ covered parts + payg = quantity`, exactly;
//! - remaining never negative; per package and cycle, each draw's `remaining_before` equals the
//!   previous draw's `remaining_after`;
//! - no draw outside a package's validity, and a later-expiring package is never drawn while an
//!   earlier-expiring eligible package of the same class has capacity.
//!
//! Output does not depend on the number of threads: pools are swept independently and their
//! details are merged in usage row order.

mod capacity;
mod order;
mod pools;
mod refund_requests;
mod sweep;
#[cfg(test)]
pub(crate) mod tests;

pub use capacity::{cycle_at, cycle_count};

use crate::calendar::Ts;
use crate::catalog::Catalog;
use crate::input::{Event, Package, PackageKind, Usage, Violation};
use crate::model::DeductionDetail;
use rayon::prelude::*;
use rust_decimal::Decimal;
use sweep::PoolResult;

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
    /// capacity 0 exhausted once nothing is left to come (docs/rules.md §3.2): a total one from its
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
    /// Whether the package was exhausted at the request (docs/rules.md §3.2: a total package, or a
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
/// Returns `(eligible, reason)`; see `rules::refunds` for the rules of docs/rules.md §6.
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
/// enough, see [`crate::buffers::with_room`]).
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
    let pools = pools::build_pools(usage, packages, events);
    let mut results: Vec<PoolResult> = pools
        .par_iter()
        .map(|pool| sweep::sweep(pool, usage, packages, events, catalog, refund_policy))
        .collect();
    let details = details_in_row_order(details, &mut results);
    let mut out = Deduction {
        details,
        covered: vec![Decimal::ZERO; usage.len()],
        states: packages.iter().map(PackageState::initial).collect(),
        ..Default::default()
    };
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
    out
}

/// The pools' details (taken out of `results`) in the table's order,
/// `usage_start, usage_id, draw_seq`: the usage rows are in `(usage_start, usage_id)` order with
/// unique ids, so that is row order, a row's draws in sequence. Each pool's details are in its
/// rows' order, so a stable sort of (row, pool) by row interleaves the pools. (The writer sorts
/// every table whatever comes; rows already in order cost it one comparison each instead of a
/// merge of every pool's run.)
fn details_in_row_order(
    details: Vec<DeductionDetail>,
    results: &mut [PoolResult],
) -> Vec<DeductionDetail> {
    // One allocation of the final size: extending pool by pool would copy the details (often
    // hundreds of megabytes) each time the vector grows.
    let mut details =
        crate::buffers::with_room(details, results.iter().map(|r| r.details.len()).sum());
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
    details
}
