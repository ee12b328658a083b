//! Shards and chunks: how accounts are split so that memory is bounded by a slice of the input
//! and runs can be spread over machines.
//!
//! Everything reckon computes is local to a *pool*: the accounts linked by package ownership and
//! share lists (deduction), and inside it to an account (tier counters, bills, ledger). A pool is
//! named by its *pool key*, the smallest account id in it (an account with no package links is
//! its own pool). Its *slot* is `xxh3_64(pool key) mod (shards × chunks)`:
//! - the *shard* is `slot mod shards` (`--shard K/N`: a machine processes shard `K` of `N`);
//! - the *chunk* is `slot div shards`: inside one run, chunks are processed one after another
//!   so that only one chunk's usage is in memory.
//!
//! Because `(h mod (N·M)) mod N = h mod N`, the shard of a pool does not depend on how many
//! chunks a machine uses; the union of the shard outputs is the single-machine output.
//!
//! Invariant: a pool never spans two shards or two chunks; the slot depends only on the
//! package inventory, so every machine computes the same split.

use crate::error::{Error, Result};
use crate::input::Package;
use crate::name::Name;
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

/// `K/N`: this run processes shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

impl ShardSpec {
    /// The whole input on one machine.
    pub const ALL: ShardSpec = ShardSpec { index: 0, count: 1 };

    /// Parses `K/N` with `0 ≤ K < N`.
    pub fn parse(s: &str) -> Result<ShardSpec> {
        let bad = || Error::Usage(format!("--shard `{s}` is not K/N with 0 <= K < N"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }

    pub fn is_all(&self) -> bool {
        self.count == 1
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Maps accounts to pool keys, slots, shards and chunks.
#[derive(Debug, Clone)]
pub struct Partitioner {
    /// Pool key of every account that appears in a package (owner or share list).
    pool_key: HashMap<Name, Name>,
    pub shard: ShardSpec,
    /// Chunks per shard (≥ 1).
    pub chunks: u32,
}

impl Partitioner {
    pub fn new(packages: &[Package], shard: ShardSpec, chunks: u32) -> Partitioner {
        // Union-find over the accounts named by packages.
        let mut ids: HashMap<Name, usize> = HashMap::new();
        let mut names: Vec<Name> = Vec::new();
        let mut parent: Vec<usize> = Vec::new();
        let mut id = |s: &Name, names: &mut Vec<Name>, parent: &mut Vec<usize>| {
            *ids.entry(*s).or_insert_with(|| {
                names.push(*s);
                parent.push(parent.len());
                parent.len() - 1
            })
        };
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut unions = Vec::new();
        for p in packages {
            let a = id(&p.owner_uin, &mut names, &mut parent);
            for s in &p.share_uins {
                unions.push((a, id(s, &mut names, &mut parent)));
            }
        }
        for (a, b) in unions {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
        // The key of a component is its smallest account id.
        let mut smallest: HashMap<usize, Name> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let r = find(&mut parent, i);
            let e = smallest.entry(r).or_insert_with(|| *name);
            if name < e {
                *e = *name;
            }
        }
        let mut pool_key = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let r = find(&mut parent, i);
            pool_key.insert(*name, smallest[&r]);
        }
        Partitioner {
            pool_key,
            shard,
            chunks: chunks.max(1),
        }
    }

    /// The pool key of an account: the smallest account id of its pool.
    pub fn pool_key<'a>(&'a self, account: &'a str) -> &'a str {
        self.pool_key.get(account).map_or(account, |k| k)
    }

    /// `(shard, chunk)` of an account.
    pub fn place(&self, account: &str) -> (u32, u32) {
        let slots = u64::from(self.shard.count) * u64::from(self.chunks);
        let slot = xxh3_64(self.pool_key(account).as_bytes()) % slots;
        let n = u64::from(self.shard.count);
        ((slot % n) as u32, (slot / n) as u32)
    }

    /// The chunk of this run's shard that holds `account`, or `None` if another shard has it.
    pub fn chunk_of(&self, account: &str) -> Option<u32> {
        let (s, c) = self.place(account);
        (s == self.shard.index).then_some(c)
    }

    /// Whether `account` belongs to chunk `chunk` of this run's shard.
    pub fn holds(&self, account: &str, chunk: u32) -> bool {
        self.chunk_of(account) == Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Unit;
    use crate::rules::deduction::tests::package;

    fn shared(id: &str, owner: &str, shares: &[&str]) -> Package {
        let mut p = package(
            id,
            crate::input::PackageKind::Unlimited,
            None,
            Unit::GB,
            "2024-01-01 00:00:00",
            "2024-12-01 00:00:00",
        );
        p.owner_uin = Name::from(owner);
        p.share_uins = shares.iter().map(|s| Name::from(*s)).collect();
        p
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!(
            ShardSpec::parse("2/4").unwrap(),
            ShardSpec { index: 2, count: 4 }
        );
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(ShardSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn linked_accounts_share_a_pool_key_and_a_place() {
        let pk = [shared("p1", "b", &["c"]), shared("p2", "d", &["c"])];
        let part = Partitioner::new(&pk, ShardSpec { index: 0, count: 3 }, 4);
        for a in ["b", "c", "d"] {
            assert_eq!(part.pool_key(a), "b");
            assert_eq!(part.place(a), part.place("b"));
        }
        assert_eq!(part.pool_key("z"), "z");
    }

    /// The shard of an account does not depend on the number of chunks.
    #[test]
    fn shard_is_independent_of_chunks() {
        let accounts: Vec<String> = (0..500).map(|i| format!("acct-{i}")).collect();
        for n in [1, 2, 3, 5] {
            let spec = ShardSpec { index: 0, count: n };
            let one = Partitioner::new(&[], spec, 1);
            let many = Partitioner::new(&[], spec, 7);
            for a in &accounts {
                assert_eq!(one.place(a).0, many.place(a).0);
                assert!(many.place(a).1 < 7);
            }
        }
        // Every shard gets some of 500 accounts.
        let p = Partitioner::new(&[], ShardSpec { index: 0, count: 4 }, 1);
        let mut seen = [0; 4];
        for a in &accounts {
            seen[p.place(a).0 as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 80), "{seen:?}");
    }
}
