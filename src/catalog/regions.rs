//! Regions, their idle windows, the named region groups (docs/rules.md §4.2: "mainland China" is
//! every mainland region, and a price is stated once for the group), and the traffic sections
//! that name regions or directions.
//!
//! Invariants: a region is listed once; a group has a name that is no region's and not `*`, and
//! lists known regions, each once; every region a price or the quality-traffic rule names is
//! listed, is a group (standing for each of its members) or is `*`; a free direction is one of
//! the usage contract's directions.

use super::check::Check;
use super::raw::{RawRegion, RawRegionGroup, RawTraffic};
use crate::calendar::IdleWindow;
use crate::error::Result;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// The regions by id with their names, the idle windows of those that have their own, and the
/// region groups by name.
pub(super) struct Regions {
    pub names: BTreeMap<String, String>,
    pub idle: FxHashMap<String, IdleWindow>,
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Regions {
    pub fn of(raw: &[RawRegion], groups: &[RawRegionGroup], check: Check) -> Result<Regions> {
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
        let mut regions = Regions {
            names,
            idle,
            groups: BTreeMap::new(),
        };
        for g in groups {
            regions.add_group(g, check)?;
        }
        Ok(regions)
    }

    fn add_group(&mut self, g: &RawRegionGroup, check: Check) -> Result<()> {
        let what = format!("region group `{}`", g.name);
        if g.name == "*" || self.names.contains_key(&g.name) {
            return Err(check.err(format!("{what}: the name is a region's (or `*`)")));
        }
        if g.regions.is_empty() {
            return Err(check.err(format!("{what}: lists no region")));
        }
        let mut seen = FxHashSet::default();
        for r in &g.regions {
            if !self.names.contains_key(r) {
                return Err(check.err(format!("{what}: unknown region `{r}`")));
            }
            if !seen.insert(r) {
                return Err(check.err(format!("{what}: region `{r}` listed twice")));
            }
        }
        if self
            .groups
            .insert(g.name.clone(), g.regions.clone())
            .is_some()
        {
            return Err(check.err(format!("{what} listed twice")));
        }
        Ok(())
    }

    /// The regions `r` stands for: a listed region or `*` (any region) itself, a group's
    /// members.
    pub fn expand<'a>(&'a self, check: Check, what: &str, r: &'a str) -> Result<Vec<&'a str>> {
        if r == "*" || self.names.contains_key(r) {
            Ok(vec![r])
        } else if let Some(members) = self.groups.get(r) {
            Ok(members.iter().map(String::as_str).collect())
        } else {
            Err(check.err(format!("{what}: unknown region or region group `{r}`")))
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
