//! `_manifest.json`: what a run read and wrote. Written last — its presence means the output
//! is complete. It holds no wall-clock time except the run's duration, which is not part of any
//! table (so tables stay byte-identical between runs; the manifest differs only in `duration_ms`).
//!
//! It also holds the SHA-256 of every output file (`output_sha256`): `diff`, `merge` and
//! `export` read an output through [`read_verified`], which refuses a file whose bytes differ
//! (a flipped bit on disk, a file changed by hand) before any of it is used. Parquet pages carry
//! no checksum of their own here: polars' writer leaves the page header's `crc` empty.

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
    /// SHA-256 of each output file, by its path in the output (the files of `outputs`).
    /// Empty in manifests written before it existed: nothing to verify.
    #[serde(default)]
    pub output_sha256: BTreeMap<String, String>,
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

/// The SHA-256 of every file of `outputs`, under `out`, by path (files hashed in parallel).
pub fn hash_outputs(
    out: &Path,
    outputs: &BTreeMap<String, Written>,
) -> Result<BTreeMap<String, String>> {
    let files: Vec<&String> = outputs.values().flat_map(|w| &w.files).collect();
    let hashes = crate::parquet::map_files(&files, |f| crate::input::hash_file(&out.join(f)));
    (files.into_iter().zip(hashes))
        .map(|(f, h)| Ok((f.clone(), h?.1)))
        .collect()
}

/// Checks every file the manifest `m` of `out` hashed: each must exist with the bytes the run
/// wrote, or the output is refused naming the file (exit 2).
pub fn verify(out: &Path, m: &Manifest) -> Result<()> {
    let files: Vec<(&String, &String)> = m.output_sha256.iter().collect();
    let checked = crate::parquet::map_files(&files, |(f, want)| {
        let path = out.join(f);
        let (_, got) = crate::input::hash_file(&path)?;
        if got == **want {
            return Ok(());
        }
        Err(Error::NotAnOutput {
            path,
            message: format!(
                "sha256 {got} differs from the manifest's {want}: the file is corrupt or \
                 changed since the run wrote it; run again to rebuild the output"
            ),
        })
    });
    checked.into_iter().collect()
}

/// Reads the manifest of a complete output and [`verify`]s its files: what `diff`, `merge` and
/// `export` read an output through.
pub fn read_verified(out: &Path) -> Result<Manifest> {
    super::read::check_output(out)?;
    let m = read(out)?;
    verify(out, &m)?;
    Ok(m)
}
