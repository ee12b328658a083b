//! Pools (docs/rules.md §3.3: a package covers its owner's usage and its share list's): the
//! accounts linked by package ownership and share lists, found by union-find, with the usage rows,
//! packages and refund requests of each.
//!
//! Invariants: every package is in exactly one pool, with every account that owns or shares it;
//! a usage row is in its account's pool, and only if that pool holds a package (a row of a pool
//! without any is covered by nothing: pay-as-you-go whole, no draw, no finding); refund requests
//! of a pool are in `(at, event_id)` order. Account ids are numbered in first-seen order and
//! pools are listed by their smallest id, so the pools do not depend on hashing or threads.

use crate::input::{Event, EventKind, Package, Usage};
use crate::name::Name;
use rustc_hash::FxHashMap;

/// One pool: the usage rows, packages and refund requests of a set of linked accounts (indexes
/// into the input slices).
#[derive(Debug, Default)]
pub(super) struct Pool {
    pub(super) usage: Vec<usize>,
    pub(super) packages: Vec<usize>,
    pub(super) refunds: Vec<usize>,
}

/// Union-find over account ids, numbered in first-seen order (deterministic). Names are
/// interned, so an account is keyed by its name's address (one integer hashed, not the string).
#[derive(Default)]
struct Accounts {
    ids: FxHashMap<usize, usize>,
    parent: Vec<usize>,
}

impl Accounts {
    fn id_of(&mut self, s: &Name) -> usize {
        let parent = &mut self.parent;
        *self.ids.entry(s.addr()).or_insert_with(|| {
            parent.push(parent.len());
            parent.len() - 1
        })
    }

    fn find(&mut self, mut x: usize) -> usize {
        let parent = &mut self.parent;
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }

    /// Links `a` and `b`; the smaller root becomes the set's root.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }

    /// Each id's root.
    fn roots(&mut self) -> Vec<usize> {
        (0..self.parent.len()).map(|x| self.find(x)).collect()
    }

    /// Each usage row's account id (usage rows are a chunk's millions): a row whose owner is the
    /// previous row's is not looked up again.
    fn of_rows(&mut self, usage: &[Usage]) -> Vec<usize> {
        let mut last: Option<(usize, usize)> = None;
        usage
            .iter()
            .map(|u| {
                let addr = u.owner_uin.addr();
                match last {
                    Some((a, id)) if a == addr => id,
                    _ => {
                        let id = self.id_of(&u.owner_uin);
                        last = Some((addr, id));
                        id
                    }
                }
            })
            .collect()
    }
}

pub(super) fn build_pools(usage: &[Usage], packages: &[Package], events: &[Event]) -> Vec<Pool> {
    let mut accounts = Accounts::default();
    let mut links = Vec::new();
    for p in packages {
        let a = accounts.id_of(&p.owner_uin);
        for s in &p.share_uins {
            links.push((a, accounts.id_of(s)));
        }
    }
    let row_ids = accounts.of_rows(usage);
    for (a, b) in links {
        accounts.union(a, b);
    }
    let root = accounts.roots();
    let root_of = |name: &Name| root[accounts.ids[&name.addr()]];
    // Indexed by root; pools listed in ascending order of root.
    let mut pools: Vec<Option<Pool>> = Vec::new();
    pools.resize_with(root.len(), || None);
    for (i, p) in packages.iter().enumerate() {
        let r = root_of(&p.owner_uin);
        pools[r].get_or_insert_with(Pool::default).packages.push(i);
    }
    // Only the rows of pools that hold packages are swept. (Refund requests target packages, so
    // a pool without packages has none either.)
    for (i, &id) in row_ids.iter().enumerate() {
        if let Some(pool) = &mut pools[root[id]] {
            pool.usage.push(i);
        }
    }
    for (i, p) in refund_requests(packages, events) {
        let r = root_of(&packages[p].owner_uin);
        pools[r].get_or_insert_with(Pool::default).refunds.push(i);
    }
    pools.into_iter().flatten().collect()
}

/// The refund events that target a package, as `(event index, package index)` in
/// `(at, event_id)` order.
fn refund_requests(packages: &[Package], events: &[Event]) -> Vec<(usize, usize)> {
    let pkg_index: FxHashMap<&str, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (&*p.package_id, i))
        .collect();
    let mut refunds: Vec<(usize, usize)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EventKind::Refund)
        .filter_map(|(i, e)| Some((i, *pkg_index.get(&*e.target_id)?)))
        .collect();
    refunds.sort_by(|&(a, _), &(b, _)| {
        (events[a].at, &events[a].event_id).cmp(&(events[b].at, &events[b].event_id))
    });
    refunds
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use crate::input::PackageKind;
    use crate::money::Unit;
    use rust_decimal_macros::dec;

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
}
