//! The generator's state while it builds the world: the master random stream, the account
//! uins, the metered instances, the small tables so far and the id counters. Its methods live
//! in the module of the table they fill ([`super::accounts`], [`super::packages`],
//! [`super::subscriptions`]); this module has what they share: ids and instance lifetimes.
//!
//! Invariant: every draw comes from the master stream, in account order, so the world depends
//! only on the seed and the range; each instance gets its own stream seeded from the master one
//! at creation. The draws of the revised rules' data come from a second stream (`extra`, seeded
//! from the seed too, drawn in account order), so they change no row the master stream draws.

use super::draw::Draw;
use super::tables::Tables;
use super::usage::{Instance, Meter};
use super::Range;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

pub(super) struct Gen {
    pub rng: ChaCha8Rng,
    /// The stream of the draws that only the revised rules' data needs (WebSocket backends,
    /// order elastic prices, surges, package renewals): kept apart, so the master stream, and
    /// every row it draws, is what it was without them.
    pub extra: ChaCha8Rng,
    pub range: Range,
    /// `uins[i]` is account `i`'s.
    pub uins: Vec<String>,
    pub instances: Vec<Instance>,
    pub tables: Tables,
    /// Instance ids drawn so far (they must be unique).
    taken: BTreeSet<String>,
    next_pkg: u64,
    pub next_event: u64,
    pub next_payment: u64,
}

impl Gen {
    pub fn new(seed: u64, range: Range) -> Gen {
        Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            extra: ChaCha8Rng::seed_from_u64(seed ^ 0x7265_7669_7365_6434),
            range,
            uins: Vec::new(),
            instances: Vec::new(),
            tables: Tables::default(),
            taken: BTreeSet::new(),
            next_pkg: 0,
            next_event: 0,
            next_payment: 0,
        }
    }

    /// A new random id `prefix` + 8 base-36 characters, distinct from every earlier one.
    pub fn unique_id(&mut self, prefix: &str) -> String {
        loop {
            let id = format!("{prefix}{}", self.rng.base36(8));
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }

    /// The next package id, `pkg-` + 7 digits.
    pub fn pkg_id(&mut self) -> String {
        self.next_pkg += 1;
        format!("pkg-{:07}", self.next_pkg)
    }

    /// A metered instance of account `account`: four in five live through the whole range,
    /// the rest are created, and some released, inside it.
    pub fn instance(
        &mut self,
        account: usize,
        region: usize,
        (product, sub_product): (&'static str, &'static str),
        id: String,
        meter: Meter,
    ) -> Instance {
        let hours = self.range.hours();
        let rng = &mut self.rng;
        let (first_hour, end_hour) = match rng.gen_range(0..100u32) {
            0..=79 => (0, hours),
            80..=91 => (rng.gen_range(0..hours), hours),
            _ => {
                let f = rng.gen_range(0..hours);
                (f, rng.gen_range(f + 1..=hours))
            }
        };
        Instance {
            account,
            product,
            sub_product,
            region,
            id,
            first_hour,
            end_hour,
            trend_pm: rng.gen_range(-300..600),
            weekend_pm: rng.gen_range(800..1150),
            rng: ChaCha8Rng::seed_from_u64(rng.gen()),
            meter,
        }
    }
}
