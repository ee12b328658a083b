//! Findings about the inputs as a whole, and which findings a run writes (docs/rules.md §8).
//!
//! - [`reported`]: findings about usage rows are written while the row is in the window;
//!   findings about the tables every run replays from all history (packages, scopes,
//!   subscriptions, events) are written by every run up to the as-of moment, however old.
//! - [`unknown_targets`]: events whose target is no package or subscription, and upgrades of a
//!   package (packages are refunded or renewed, docs/rules.md §3.8).
//! - [`unknown_package_regions`]: packages of a region the catalog does not know.
//!
//! Findings about a chunk's inventory come from their rules: `too_many_packages` and
//! `qtp_all_region` (`rules::packages`, table `packages`: standing, written up to the as-of
//! moment) and `free_quota_missing` (`rules::free_quota`, table `accounts`, dated at an hour of
//! the window, so written by every run whose window holds the gap).
//!
//! Invariant: a finding never removes a row from the other outputs; it says why a row was left
//! out of billing or covered nothing.

use crate::calendar::Window;
use crate::catalog::Catalog;
use crate::input::{EventKind, Inputs, Violation};
use std::collections::HashSet;

/// Findings about one day of a replayed table's row, reported while the day is in the window.
const DAILY: [&str; 1] = [crate::rules::elastic::OVER_CAP];

/// Which of a chunk's findings a run writes: those about usage rows dated in the window (a
/// row's at its `usage_start`), and those about the tables replayed from all history
/// (`packages`, `package_scope`, `subscriptions`, `events`) dated up to the as-of moment —
/// standing state that every day's replay finds again, however old: a scope whose units do not
/// convert (found at its first draw), too many packages, an hourly instance or a plan with no
/// price since it started, an upgrade refused a year ago. Left out before the window, such a
/// row would be billed nothing without a word.
///
/// A finding about one day of a subscription (`elastic_over_cap`) is dated like usage: written
/// while its day is in the window, not by every run.
pub fn reported(v: &Violation, w: &Window) -> bool {
    let standing = matches!(
        &*v.source_table,
        "packages" | "package_scope" | "subscriptions" | "events"
    ) && !DAILY.contains(&&*v.rule);
    v.at.is_none_or(|t| w.contains(t) || (standing && t <= w.as_of))
}

/// Which bad rows of the replayed tables found on loading a run writes: all of them, however
/// old (every day's replay misses them), but those after the as-of moment, which no run uses
/// yet.
pub fn reported_on_load(v: &Violation, w: &Window) -> bool {
    v.at.is_none_or(|t| t < w.as_of)
}

/// Packages of a region the catalog does not know (a typo such as `ap-guangzou`): usage of a
/// known region never matches them, so they would sit in the inventory covering nothing, without
/// a word. Reported, not dropped (they still show in `package_status`).
pub fn unknown_package_regions(inputs: &Inputs, catalog: &Catalog) -> Vec<Violation> {
    inputs
        .packages
        .iter()
        .filter(|p| &*p.region != "*" && !catalog.region_names.contains_key(&*p.region))
        .map(|p| {
            Violation::new(
                "packages",
                &*p.package_id,
                "unknown_region",
                format!(
                    "region `{}` is no region of the catalog: the package covers no usage",
                    p.region
                ),
                None,
            )
        })
        .collect()
}

/// Events whose target is neither a package nor a subscription (`unknown_target`), and upgrades
/// that target a package (`invalid_event`: packages are only refunded or renewed, §3.8).
pub fn unknown_targets(inputs: &Inputs) -> Vec<Violation> {
    let packages: HashSet<&str> = inputs.packages.iter().map(|p| &*p.package_id).collect();
    let subscriptions: HashSet<&str> = (inputs.subscriptions.iter())
        .map(|s| &*s.subscription_id)
        .collect();
    let mut out = Vec::new();
    for e in &inputs.events {
        let target = &*e.target_id;
        let (rule, detail) = if !packages.contains(target) && !subscriptions.contains(target) {
            let what = "unknown package or subscription";
            (
                "unknown_target",
                format!("{} of {what} {target}", e.kind.as_str()),
            )
        } else if e.kind == EventKind::Upgrade && packages.contains(target) {
            let why = "packages are only refunded or renewed";
            (
                "invalid_event",
                format!("{} of package {target}: {why}", e.kind.as_str()),
            )
        } else {
            continue;
        };
        out.push(Violation::new(
            "events",
            &*e.event_id,
            rule,
            detail,
            Some(e.at),
        ));
    }
    out
}
