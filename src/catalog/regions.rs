//! Regions, their idle windows, and the traffic sections that name regions or directions.
//! Invariants: a region is listed once; every region a price or the quality-traffic rule names
//! is listed (or is `*`); a free direction is one of the usage contract's directions.

use super::check::Check;
use super::raw::{RawRegion, RawTraffic};
use crate::calendar::IdleWindow;
use crate::error::Result;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// The regions by id with their names, and the idle windows of those that have their own.
pub(super) struct Regions {
    pub names: BTreeMap<String, String>,
    pub idle: FxHashMap<String, IdleWindow>,
}

impl Regions {
    pub fn of(raw: &[RawRegion], check: Check) -> Result<Regions> {
        let mut names = BTreeMap::new();
        let mut idle = FxHashMap::default();
        for r in raw {
            if names.insert(r.id.clone(), r.name.clone()).is_some() {
                return Err(check.err(format!("region `{}` listed twice", r.id)));
            }
            if let Some(w) = r.idle_window {
                idle.insert(
                    r.id.clone(),
                    check.window(&format!("region `{}`", r.id), w)?,
                );
            }
        }
        Ok(Regions { names, idle })
    }

    /// `r` is a listed region or `*` (any region).
    pub fn known(&self, check: Check, what: &str, r: &str) -> Result<()> {
        if r == "*" || self.names.contains_key(r) {
            Ok(())
        } else {
            Err(check.err(format!("{what}: unknown region `{r}`")))
        }
    }
}

/// The directions whose traffic is free. They are the usage contract's enum: a misspelt one
/// would make no traffic free.
pub(super) fn free_directions(raw: &RawTraffic, check: Check) -> Result<FxHashSet<String>> {
    let mut free = FxHashSet::default();
    for d in &raw.free_directions {
        if crate::input::Direction::parse(d).is_none() {
            return Err(check.err(format!(
                "traffic.free_directions: unknown direction `{d}` (allowed: outbound, \
                 to_mainland, inbound, internal)"
            )));
        }
        free.insert(d.clone());
    }
    Ok(free)
}
