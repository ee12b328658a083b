//! A package's capacity at an hour (docs/rules.md §3.1–3.2): the cycle (periodic) or natural slice
//! (sliced) containing the hour's start, and what is left in it or in total. Free-quota packages
//! (`source = free`) with `30d` cycles count natural days (§3.1 revised, `natural_day_cycle`).
//!
//! Invariants: an hour belongs to the cycle containing its `usage_start`; a periodic or sliced
//! package's remaining refills to its capacity when a later cycle is first asked for and never
//! carries over; an unlimited package (no capacity) has no remaining (`None`).

use super::PackageState;
use crate::calendar::{
    natural_day_cycle, natural_day_cycle_count, natural_slice, periodic_cycle,
    periodic_cycle_count, Cycle, CycleLen, Ts,
};
use crate::input::{Package, PackageKind, PackageSource};
use rust_decimal::Decimal;

/// The cycle/slice of `p` containing `t`, or `None` for total/unlimited packages.
pub fn cycle_at(p: &Package, t: Ts) -> Option<Cycle> {
    match (p.kind, p.cycle) {
        (PackageKind::Periodic, Some(len)) if natural_days(p) => {
            natural_day_cycle(p.effective_at, p.expires_at, len, t)
        }
        (PackageKind::Periodic, Some(len)) => periodic_cycle(p.effective_at, p.expires_at, len, t),
        (PackageKind::Sliced, Some(len)) => natural_slice(p.effective_at, p.expires_at, len, t),
        _ => None,
    }
}

/// Number of cycles of a periodic package (the cycles of [`cycle_at`]), `None` for the others.
pub fn cycle_count(p: &Package) -> Option<i64> {
    match (p.kind, p.cycle) {
        (PackageKind::Periodic, Some(len)) if natural_days(p) => {
            Some(natural_day_cycle_count(p.effective_at, p.expires_at, len))
        }
        (PackageKind::Periodic, Some(len)) => {
            Some(periodic_cycle_count(p.effective_at, p.expires_at, len))
        }
        _ => None,
    }
}

/// §3.1 (revised): free quota's `30d` cycles count natural days.
fn natural_days(p: &Package) -> bool {
    p.source == PackageSource::Free && p.cycle == Some(CycleLen::Days30)
}

/// Remaining capacity of `p` for an hour starting at `t`, rolling over to a fresh cycle/slice
/// when `t` is in a later one. `None` = unlimited.
fn remaining_at(p: &Package, st: &mut PackageState, t: Ts) -> Option<Decimal> {
    remaining_in(p, st, cycle_at(p, t))
}

/// [`remaining_at`] as a refund request at `t` sees it, the state left as it is. The sweep's
/// state must stay at the cycle of the rows: a request is applied before the first row ending
/// after it, and that row's hour may start before a cycle boundary the request is past (an
/// hour belongs to the cycle containing its `usage_start`, docs/rules.md §3.1). Moving the state to
/// the request's cycle would refill the row's cycle to full capacity when the row asks for it.
pub(super) fn remaining_seen_at(p: &Package, st: &PackageState, t: Ts) -> Option<Decimal> {
    remaining_at(p, &mut st.clone(), t)
}

/// [`remaining_at`] for an hour whose cycle/slice (`cycle_at`) is known.
pub(super) fn remaining_in(
    p: &Package,
    st: &mut PackageState,
    cycle: Option<Cycle>,
) -> Option<Decimal> {
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
pub(super) struct Cycles(Vec<Option<(Ts, Option<Cycle>)>>);

impl Cycles {
    pub(super) fn new(packages: usize) -> Cycles {
        Cycles(vec![None; packages])
    }

    /// `cycle_at(p, t)` for local package `l` (whose package is `p`).
    pub(super) fn at(&mut self, l: usize, p: &Package, t: Ts) -> Option<Cycle> {
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
