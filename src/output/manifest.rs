//! `_manifest.json`: what a run read and wrote. Written last — its presence means the output
//! is complete. It holds no wall-clock time except the run's duration, which is not part of any
//! table (so tables stay byte-identical between runs; the manifest differs only in `duration_ms`).

use super::Written;
use crate::error::{Error, Result};
use crate::input::{FileInfo, Skipped};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageAccounting {
    /// Usage rows read from the input files.
    pub read: u64,
    /// Rows rejected by row rules (each has an `exceptions` row when it starts inside the
    /// window: docs/rules.md §8 cuts usage rows' exceptions to it).
    pub invalid: u64,
    /// Valid rows at or after the as-of moment: not used by this run.
    pub after_as_of: u64,
    /// Valid rows before the window: replayed for state, not written as detail.
    pub history_only: u64,
    /// Valid rows inside the window that were billed (have bill lines).
    pub billed: u64,
    /// Valid rows inside the window without a price (each has a `no_price` exception).
    pub unpriced: u64,
}

impl UsageAccounting {
    /// Adds another chunk's counts.
    pub fn add(&mut self, o: &UsageAccounting) {
        self.read += o.read;
        self.invalid += o.invalid;
        self.after_as_of += o.after_as_of;
        self.history_only += o.history_only;
        self.billed += o.billed;
        self.unpriced += o.unpriced;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The scheduler's id of the run that wrote it (`reckon run --stage ID`), absent for a run
    /// published directly: what write-audit-publish keys outputs by (`output::stage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub tool: String,
    pub tool_version: String,
    pub as_of_date: String,
    pub window_start: String,
    pub window_end: String,
    pub months: Vec<String>,
    /// `K/N`: the shard this output holds (`0/1`: everything).
    pub shard: String,
    /// Chunks the shard was processed in (memory bound; does not change any row).
    pub chunks: u32,
    pub catalog_path: String,
    pub catalog_version: String,
    pub catalog_sha256: String,
    pub inputs: Vec<FileInfo>,
    /// Entries of the input tables that were not read (hidden `.`/`_` names, names that are
    /// not Parquet), each with its reason. Absent from manifests written before it existed.
    #[serde(default)]
    pub skipped_inputs: Vec<Skipped>,
    pub usage: UsageAccounting,
    pub outputs: BTreeMap<String, Written>,
    /// Sums of money columns, as decimal strings.
    pub totals: BTreeMap<String, String>,
    pub threads: usize,
    pub duration_ms: u128,
}

pub fn write(out: &Path, m: &Manifest) -> Result<()> {
    let path = out.join("_manifest.json");
    let text = serde_json::to_string_pretty(m).map_err(|e| Error::Output {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
}

/// Reads `_manifest.json` of a complete output directory.
pub fn read(out: &Path) -> Result<Manifest> {
    let path = out.join("_manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::NotAnOutput {
        path,
        message: format!("not a reckon manifest: {e}"),
    })
}
