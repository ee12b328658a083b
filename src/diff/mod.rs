//! `reckon diff OLD NEW`: what changed between two outputs, and why where it can tell.
//!
//! Keys: `bills` by `(month, owner_uin, product)`, `bill_lines` by `line_id`. Every column the
//! two tables share is compared exactly: decimals by value whatever their scales (never
//! floats), other columns as text; amount deltas are exact `Decimal`s. Only what both outputs
//! cover is compared — bills of the months in both manifests, lines whose `charge_start` lies
//! in both windows — so the usual daily shift of the three-month window is not reported as a
//! change.
//!
//! Reason codes (one per `diff` row), first match wins (`reasons`):
//! - `refund` — a refund line (`charge_kind = refund`).
//! - `late_usage` — a line added in NEW whose `usage_id` OLD did not have at all, charged in a
//!   period OLD had already covered (inside OLD's window): usage that arrived late.
//! - `package_change` — the line's usage drew differently on packages (its `deduction_details`
//!   draws — package, deducted, covered quantity — differ), or a package it drew on changed in
//!   the inventory (`package_status`: kind, capacity, validity, region or unit).
//! - `catalog_change` — the manifests' catalog hashes differ and the line's `unit_price` differs.
//! - `added`, `removed`, `changed` — otherwise.
//!
//! A bill takes the first reason, in that order, among its month's changed lines of the same
//! account and product; a bill whose lines did not change in the compared range takes
//! `open_month` when the month was still open (not complete) in OLD — NEW adds the days after
//! OLD's as-of date — and `changed` otherwise.
//!
//! `closed_in_old` marks changes to months OLD had already closed (`complete`): restatements.
//! `--closed-only` makes only those count for the exit code (the Airflow DAG fails on them).
//!
//! The `diff` table (`--output DIR` → `DIR/diff/part-00000.parquet`, default `<NEW>.diff`) has
//! one row per change, in the total order `(table, month, key)`; `DIR/summary.txt` holds the
//! printed summary ([`summary()`]).
//!
//! Memory: bills and package status (one row per account, product and month; per package) are
//! read whole (`snapshot`). Bill lines and draws — as many as usage rows — are split into
//! buckets of about [`BUCKET_ROWS`] lines by the hash of their usage id (`buckets`: each
//! output file read once and spilled inside DIR, the spill removed after), and compared a bucket
//! at a time, column by column on the matched pairs (`lines`); draws are turned into text only
//! for the usages of changed lines. Memory holds one bucket of each output and the changes
//! found, whatever the outputs' size. The result does not depend on the number of buckets
//! (tested: one bucket and one line per bucket give the same table).
//!
//! Modules: `snapshot` reads an output (checked against `schema` first), `buckets` splits
//! its lines and draws, `compare` matches bills and drives the buckets through `lines`,
//! `reasons` decides each change's reason, `table` is the `diff` table's row and
//! `summary` its printed text.

mod buckets;
mod compare;
mod lines;
mod reasons;
mod schema;
mod snapshot;
mod summary;
mod table;
#[cfg(test)]
mod testing;

pub use compare::{compare, Options, Report, BUCKET_ROWS};
pub use reasons::REASONS;
pub use summary::summary;
pub use table::DiffRow;

use crate::calendar::Month;
use crate::error::{Error, Result};
use crate::output::{write_rows, Table, Written};
use std::path::{Path, PathBuf};

/// What `reckon diff` needs to know: the two outputs, where to write, and what fails it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffConfig {
    /// The earlier output directory.
    pub old: PathBuf,
    /// The later output directory.
    pub new: PathBuf,
    /// Directory of the `diff` table and `summary.txt` (see [`default_output`]).
    pub output: PathBuf,
    /// Only restatements of months closed in OLD count as differences for the outcome.
    pub closed_only: bool,
    /// Bill lines per bucket, about (see [`BUCKET_ROWS`]).
    pub bucket_rows: u64,
}

/// `<NEW>.diff` beside NEW.
pub fn default_output(new: &Path) -> PathBuf {
    let name = new
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().to_string());
    new.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(format!("{name}.diff"))
}

/// `reckon diff`: compares, writes the `diff` table and `summary.txt`, prints the summary.
/// Returns whether the outputs differ (with `closed_only`: whether a closed month does).
pub fn run(cfg: &DiffConfig) -> Result<bool> {
    let dir = &cfg.output;
    let opts = Options {
        bucket_rows: cfg.bucket_rows,
        spill: dir.clone(),
    };
    let report = compare(&cfg.old, &cfg.new, &opts)?;
    let text = summary(&cfg.old, &cfg.new, &report);
    let written = write_report(dir, &report)?;
    let summary_path = dir.join("summary.txt");
    std::fs::write(&summary_path, &text).map_err(|e| Error::io(&summary_path, e))?;
    crate::progress::print_out(&format!("{text}written: {}\n", written.display()));
    Ok(if cfg.closed_only {
        report.restatements().next().is_some()
    } else {
        !report.rows.is_empty()
    })
}

/// Replaces `DIR/diff` with the report's rows (an empty table when there are none); gives the
/// file written.
pub fn write_report(dir: &Path, report: &Report) -> Result<PathBuf> {
    let table_dir = dir.join(DiffRow::NAME);
    if table_dir.is_dir() {
        std::fs::remove_dir_all(&table_dir).map_err(|e| Error::io(&table_dir, e))?;
    }
    let mut written = Written::default();
    let file = "part-00000.parquet";
    write_rows(dir, report.rows.clone(), file, &mut written)?;
    if report.rows.is_empty() {
        crate::output::finish_table::<DiffRow>(dir, Month::of(0), file, &mut written)?;
    }
    Ok(table_dir.join(file))
}
