//! Shards and chunks: how accounts are split so that memory is bounded by a slice of the input
//! and runs can be spread over machines.
//!
//! Everything reckon computes is local to a *pool*: the accounts linked by package ownership and
//! share lists (deduction), and inside it to an account (tier counters, bills, ledger). A pool is
//! named by its *pool key*, the smallest account id in it (an account with no package links is
//! its own pool). Its *slot* is `xxh3_64(pool key) mod (shards × chunks)`:
//! - the *shard* is `slot mod shards` (`--shard K/N`: a machine processes shard `K` of `N`);
//! - the *chunk* is `slot div shards`: inside one run, chunks are processed one after another
//!   so that only one chunk's usage is in memory — unless the run *balances* its chunks
//!   (`Partitioner::balance`, what `run` does with several chunks): then the pools of its shard
//!   are dealt out by their usage rows, the largest first, each to the chunk with the fewest
//!   rows so far. Hashing alone gives chunks of very unequal size (on 114.6M generated rows,
//!   1.5M-row chunks ranged from 0.73M to 2.84M rows, and the largest set the run's peak
//!   memory); dealt out, every chunk is near the shard's rows over its chunks, about
//!   `--chunk-rows` (or holds one pool larger than that).
//!
//! Because `(h mod (N·M)) mod N = h mod N`, the shard of a pool does not depend on how many
//! chunks a machine uses, nor on the balancing; the union of the shard outputs is the
//! single-machine output.
//!
//! Invariant: a pool never spans two shards or two chunks; the split depends only on the
//! package inventory and the usage rows per account, so every machine computes the same one.

use crate::error::{Error, Result};
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
        let bad = || Error::Argument(format!("--shard `{s}` is not K/N with 0 <= K < N"));
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
    /// The chunk of each pool of this shard with usage, when balanced (`balance`); pools not
    /// in it keep the chunk of their slot.
    chunk_of_pool: HashMap<Name, u32>,
}

impl Partitioner {
    /// Pools from `links`: each package's owner with the accounts it is shared with
    /// (`input::pool_links`).
    pub fn new<'a>(
        links: impl IntoIterator<Item = (Name, &'a [Name])>,
        shard: ShardSpec,
        chunks: u32,
    ) -> Partitioner {
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
        for (owner, shares) in links {
            let a = id(&owner, &mut names, &mut parent);
            for s in shares {
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
            chunk_of_pool: HashMap::new(),
        }
    }

    /// Deals this shard's pools out to its chunks by usage rows (`rows_by_account`: rows of
    /// each account, in any order): pools by rows, largest first (ties by pool key), each to
    /// the chunk with the fewest rows so far (ties: the lowest chunk). Chunk 0 of shard 0
    /// starts with the `no_owner` rows, which it keeps. Deterministic: the same counts give
    /// the same chunks on every machine.
    pub fn balance<'a>(
        &mut self,
        rows_by_account: impl IntoIterator<Item = (&'a str, u64)>,
        no_owner: u64,
    ) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        if self.chunks <= 1 {
            return;
        }
        let mut by_pool: HashMap<Name, u64> = HashMap::new();
        for (account, rows) in rows_by_account {
            if self.shard_of(account) == self.shard.index {
                *by_pool
                    .entry(Name::from(self.pool_key(account)))
                    .or_default() += rows;
            }
        }
        let mut pools: Vec<(Name, u64)> = by_pool.into_iter().collect();
        pools.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let start = |c: u32| match (self.shard.index, c) {
            (0, 0) => no_owner,
            _ => 0,
        };
        let mut load: BinaryHeap<Reverse<(u64, u32)>> =
            (0..self.chunks).map(|c| Reverse((start(c), c))).collect();
        let mut chunk_of_pool = HashMap::with_capacity(pools.len());
        for (pool, rows) in pools {
            if let Some(Reverse((l, c))) = load.pop() {
                chunk_of_pool.insert(pool, c);
                load.push(Reverse((l + rows, c)));
            }
        }
        self.chunk_of_pool = chunk_of_pool;
    }

    /// The pool key of an account: the smallest account id of its pool.
    pub fn pool_key<'a>(&'a self, account: &'a str) -> &'a str {
        self.pool_key.get(account).map_or(account, |k| k)
    }

    /// `(shard, chunk)` of an account.
    pub fn place(&self, account: &str) -> (u32, u32) {
        let key = self.pool_key(account);
        let slot = self.slot(key);
        let n = u64::from(self.shard.count);
        let chunk = match self.chunk_of_pool.get(key) {
            Some(&c) => c,
            None => (slot / n) as u32,
        };
        ((slot % n) as u32, chunk)
    }

    /// The slot of a pool key: `xxh3_64(key) mod (shards × chunks)`.
    fn slot(&self, key: &str) -> u64 {
        xxh3_64(key.as_bytes()) % (u64::from(self.shard.count) * u64::from(self.chunks))
    }

    /// The shard of an account (its slot's, whatever the chunks).
    fn shard_of(&self, account: &str) -> u32 {
        (self.slot(self.pool_key(account)) % u64::from(self.shard.count)) as u32
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

    /// A package's link: its owner and the accounts it is shared with.
    fn shared(owner: &str, shares: &[&str]) -> (Name, Vec<Name>) {
        (
            Name::from(owner),
            shares.iter().map(|s| Name::from(*s)).collect(),
        )
    }

    fn links(pk: &[(Name, Vec<Name>)]) -> impl Iterator<Item = (Name, &[Name])> {
        pk.iter().map(|(o, s)| (*o, &s[..]))
    }

    const NONE: [(Name, &[Name]); 0] = [];

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
        let pk = [shared("b", &["c"]), shared("d", &["c"])];
        let part = Partitioner::new(links(&pk), ShardSpec { index: 0, count: 3 }, 4);
        for a in ["b", "c", "d"] {
            assert_eq!(part.pool_key(a), "b");
            assert_eq!(part.place(a), part.place("b"));
        }
        assert_eq!(part.pool_key("z"), "z");
    }

    /// Pools are dealt out largest first, each to the chunk with the fewest rows so far; a
    /// pool's accounts are counted together and stay together; balancing moves no pool to
    /// another shard; pools without usage keep their slot's chunk.
    #[test]
    fn balance_deals_pools_largest_first_to_the_emptiest_chunk() {
        // "b", "c" and "d" are one pool (key "b"): 2 + 3 + 2 = 7 rows.
        let pk = [shared("b", &["c"]), shared("d", &["c"])];
        let mut part = Partitioner::new(links(&pk), ShardSpec::ALL, 2);
        let unbalanced = part.clone();
        let rows = [
            ("a", 10),
            ("b", 2),
            ("c", 3),
            ("d", 2),
            ("e", 5),
            ("f", 4),
            ("g", 3),
        ];
        part.balance(rows, 0);
        // a 10 → chunk 0 (10); pool b 7 → 1 (7); e 5 → 1 (12); f 4 → 0 (14); g 3 → 1 (15).
        let want = [
            ("a", 0),
            ("b", 1),
            ("c", 1),
            ("d", 1),
            ("e", 1),
            ("f", 0),
            ("g", 1),
        ];
        for (account, chunk) in want {
            assert_eq!(part.place(account), (0, chunk), "{account}");
        }
        // Equal rows: the smaller pool key first, to the lowest chunk.
        let mut tie = Partitioner::new(NONE, ShardSpec::ALL, 2);
        tie.balance([("y", 5), ("x", 5)], 0);
        assert_eq!((tie.place("x").1, tie.place("y").1), (0, 1));
        // Rows without an owner stay in chunk 0 of shard 0, which starts with them.
        let mut seeded = Partitioner::new(NONE, ShardSpec::ALL, 2);
        seeded.balance([("y", 5), ("x", 5)], 3);
        assert_eq!((seeded.place("x").1, seeded.place("y").1), (1, 0));
        // Never used: the slot's chunk, as without balancing.
        assert_eq!(part.place("zz"), unbalanced.place("zz"));
        assert_eq!(part.chunks, 2);

        // Sharded: only this shard's pools are dealt out; the shard of every account stays.
        let accounts: Vec<String> = (0..300).map(|i| format!("acct-{i}")).collect();
        let rows: Vec<(&str, u64)> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), 1 + (i as u64 * 7919) % 100))
            .collect();
        let spec = ShardSpec { index: 1, count: 3 };
        let hashed = Partitioner::new(NONE, spec, 4);
        let mut dealt = hashed.clone();
        dealt.balance(rows.iter().copied(), 1000);
        let mut load = [0u64; 4];
        for &(a, n) in &rows {
            assert_eq!(dealt.place(a).0, hashed.place(a).0, "{a}");
            if let Some(c) = dealt.chunk_of(a) {
                load[c as usize] += n;
            }
        }
        let (min, max) = (load.iter().min().unwrap(), load.iter().max().unwrap());
        assert!(max - min <= 100, "dealt out evenly: {load:?}");
    }

    /// The shard of an account does not depend on the number of chunks.
    #[test]
    fn shard_is_independent_of_chunks() {
        let accounts: Vec<String> = (0..500).map(|i| format!("acct-{i}")).collect();
        for n in [1, 2, 3, 5] {
            let spec = ShardSpec { index: 0, count: n };
            let one = Partitioner::new(NONE, spec, 1);
            let many = Partitioner::new(NONE, spec, 7);
            for a in &accounts {
                assert_eq!(one.place(a).0, many.place(a).0);
                assert!(many.place(a).1 < 7);
            }
        }
        // Every shard gets some of 500 accounts.
        let p = Partitioner::new(NONE, ShardSpec { index: 0, count: 4 }, 1);
        let mut seen = [0; 4];
        for a in &accounts {
            seen[p.place(a).0 as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 80), "{seen:?}");
    }
}
