//! `reckon merge`: one output from the outputs of `reckon run --shard K/N` for every K.
//!
//! Shard outputs never share a file name (files are `part-<shard>-<chunk>.parquet`) and never
//! share an account, so merging is copying every table file into one tree and summing the
//! manifests. The merge refuses shards of different runs (as-of date, catalog or inputs differ),
//! a shard listed twice, missing shards, and incomplete outputs (no `_manifest.json`). The
//! merged manifest is written last, with `shard = "0/1"`. With a run id (`merge --stage ID`)
//! the merged output is staged as that run's (`output::stage`: audited, then published) and its
//! manifest carries the id; without one it is published at once and carries none.
//!
//! Invariant: the merged tables hold exactly the rows of a single run without `--shard` (each
//! file's rows in the table's total order, accounts never split across files).

use super::manifest::{self, Manifest};
use super::stage::RunId;
use super::Written;
use crate::error::{Error, Result};
use crate::shard::ShardSpec;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Merges the shard outputs `shards` into `out`; returns the merged manifest.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Manifest> {
    merge_to(shards, out, None)
}

/// As [`merge`]; with `stage`, the merged output is staged as that run's beside `out`
/// (`stage::staged_dir`) instead of published.
pub fn merge_to(shards: &[PathBuf], out: &Path, stage: Option<&RunId>) -> Result<Manifest> {
    if shards.is_empty() {
        return Err(Error::Shards(
            "merge needs at least one shard output".into(),
        ));
    }
    let manifests: Vec<Manifest> = shards
        .iter()
        .map(|d| manifest::read_verified(d))
        .collect::<Result<_>>()?;
    check_shards(&manifests, shards)?;
    let first = &manifests[0];

    // Written into a staging tree, published atomically (`publish`).
    let publish = match stage {
        Some(id) => super::publish::Publish::begin_stage(out, None, id)?,
        None => super::publish::Publish::begin(out, None)?,
    };
    let staged = publish.dir();
    let mut merged = first.clone();
    merged.shard = ShardSpec::ALL.to_string();
    merged.run_id = stage.map(RunId::to_string);
    merged.chunks = manifests.iter().map(|m| m.chunks).sum();
    merged.usage = Default::default();
    merged.outputs = BTreeMap::new();
    merged.output_sha256 = BTreeMap::new();
    merged.duration_ms = manifests.iter().map(|m| m.duration_ms).max().unwrap_or(0);
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for (m, dir) in manifests.iter().zip(shards) {
        merged.usage.add(&m.usage);
        for (k, v) in &m.totals {
            let v = Decimal::from_str(v).map_err(|e| Error::NotAnOutput {
                path: dir.join("_manifest.json"),
                message: format!("total {k} = {v}: {e}"),
            })?;
            *totals.entry(k.clone()).or_default() += v;
        }
        for (table, w) in &m.outputs {
            let acc: &mut Written = merged.outputs.entry(table.clone()).or_default();
            acc.add_rows(w);
            for f in &w.files {
                let (from, to) = (dir.join(f), staged.join(f));
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
                acc.files.push(f.clone());
                if let Some(h) = m.output_sha256.get(f) {
                    merged.output_sha256.insert(f.clone(), h.clone());
                }
            }
        }
    }
    for w in merged.outputs.values_mut() {
        w.files.sort();
    }
    merged.totals = totals
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    manifest::write(staged, &merged)?;
    publish.commit()?;
    Ok(merged)
}

/// Refuses shards of different runs, a shard listed twice and missing shards.
fn check_shards(manifests: &[Manifest], shards: &[PathBuf]) -> Result<()> {
    let first = &manifests[0];
    let n = ShardSpec::parse(&first.shard)?.count;
    let mut seen = vec![false; n as usize];
    for (m, d) in manifests.iter().zip(shards) {
        let s = ShardSpec::parse(&m.shard)?;
        // The same reckon too: another version may apply other rules to its shard's pools.
        let same = s.count == n
            && m.as_of_date == first.as_of_date
            && m.catalog_sha256 == first.catalog_sha256
            && m.inputs == first.inputs
            && m.tool_version == first.tool_version;
        if !same {
            return Err(Error::Shards(format!(
                "{} is shard {} of a different run (as-of date, catalog, inputs, shard count or reckon version differ from {})",
                d.display(),
                m.shard,
                shards[0].display()
            )));
        }
        if std::mem::replace(&mut seen[s.index as usize], true) {
            return Err(Error::Shards(format!("shard {} is listed twice", m.shard)));
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(Error::Shards(format!("shard {k}/{n} is missing")));
    }
    Ok(())
}
