//! `reckon reconcile ISSUED RECOMPUTED`: the bill lines a billing platform issued against a
//! recomputed output, key by key (docs/contract.md, "Reconciliation against issued bills").
//!
//! The flow ([`run`]): the recomputed output's manifest gives the window; both sides are read
//! and checked (`line`: the `issued/` table's schema and values, each error naming the file,
//! column, row and value; a repeated `issued_line_id` is one; a FOCUS dataset is mapped onto
//! it first, `focus`), split into buckets of accounts
//! (`buckets`), and each bucket's lines inside the window are compared (`compare`, pure: one
//! row per key, its status, and its cause from `causes` with the catalog's prices, `prices`).
//! The rows are written as `reconciliation/`, their sums per month, account and product as
//! `reconciliation_summary/` (`table`; totals and text in `summary`), then `summary.txt` and
//! `_manifest.json`; the directory is published atomically under the output's lock, as a run's
//! is (`output::publish`).
//!
//! Invariants:
//! - conservation: every issued line inside the window and every recomputed line appears in
//!   exactly one row's id list; issued lines outside it are counted (`outside_window`); so the
//!   totals of the summary equal those of the lines compared, to the last decimal (checked
//!   before publishing: an inequality is an internal error);
//! - memory holds two buckets of each side (about [`BUCKET_ROWS`] lines together each: the one
//!   compared and the next, read meanwhile) and the summary rows, whatever the inputs' size;
//! - determinism: rows in key order, no wall clock in any file; the same inputs give the same
//!   tables whatever the number of buckets (but for how rows are cut into files).

mod buckets;
mod causes;
mod compare;
mod focus;
mod line;
mod prices;
mod summary;
mod table;

pub use compare::{reconcile, row_of, Settings};
pub use line::{
    issued_lines, recomputed_lines, Key, Line, LinePrice, CHARGE_KINDS, ISSUED_COLUMNS,
    RECOMPUTED_COLUMNS,
};
pub use prices::PriceBook;
pub use summary::Tally;
pub use table::{Cause, ReconRow, Status, SummaryRow, KEY_COLUMNS, TABLES};

use crate::calendar::{parse_date, Month, Window};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::input::{hash_file, FileInfo};
use crate::output::publish::{self, Publish};
use crate::output::{finish_table, manifest, read, write_rows, Written};
use buckets::Source;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lines of both sides per bucket by default: about 200 bytes a line in memory, plus the
/// bucket's frames while they are read.
pub const BUCKET_ROWS: u64 = 2_000_000;

/// How the issued table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssuedFormat {
    /// The `issued/` table of docs/contract.md.
    Reckon,
    /// A FOCUS 1.2 cost and usage dataset (`focus`: the mapping, column by column).
    Focus,
}

/// What `reckon reconcile` needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// The issued table: a directory of Parquet files.
    pub issued: PathBuf,
    pub format: IssuedFormat,
    /// A complete output of `reckon run`.
    pub recomputed: PathBuf,
    /// Where the reconciliation is published.
    pub output: PathBuf,
    /// Amount per key within which a difference is `within_tolerance` (at least 0).
    pub tolerance: Decimal,
    /// The catalog whose prices explain differences; by default the recomputed output's
    /// (its manifest's `catalog_path`, when that file is there).
    pub catalog: Option<PathBuf>,
    /// Lines of both sides per bucket, about.
    pub bucket_rows: u64,
}

/// `_manifest.json` of a reconciliation: what was read, and what it added up to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconcileManifest {
    pub tool: String,
    pub tool_version: String,
    pub issued_path: String,
    pub issued_format: IssuedFormat,
    /// Every issued file as read, with its SHA-256.
    pub issued: Vec<FileInfo>,
    pub recomputed_path: String,
    /// SHA-256 of the recomputed output's `_manifest.json` (which hashes its inputs).
    pub recomputed_manifest_sha256: String,
    /// SHA-256 of each `bill_lines` file the reconciliation read, by its path in the output: a
    /// rerun that gives the same bill lines (its manifest differs in timings) is still the
    /// output this reconciliation describes.
    #[serde(default)]
    pub recomputed_bill_lines_sha256: BTreeMap<String, String>,
    pub catalog_sha256: Option<String>,
    pub as_of_date: String,
    pub window_start: String,
    pub window_end: String,
    pub tolerance: String,
    /// Issued lines charged outside the window: counted, not compared.
    pub outside_window: u64,
    pub issued_lines: u64,
    pub recomputed_lines: u64,
    pub keys: u64,
    pub keys_mismatched: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_cause: BTreeMap<String, u64>,
    /// Sums as decimal strings: issued, recomputed, delta, overcharged, undercharged.
    pub totals: BTreeMap<String, String>,
    pub buckets: usize,
    pub outputs: BTreeMap<String, Written>,
}

/// What a reconciliation found.
#[derive(Debug, Clone)]
pub struct Report {
    pub tally: Tally,
    pub window: Window,
    pub text: String,
}

impl Report {
    /// Some key is neither `match` nor `within_tolerance`: exit code 1.
    pub fn mismatched(&self) -> bool {
        self.tally.mismatched() > 0
    }
}

/// `reckon reconcile`: compares, publishes the tables, `summary.txt` and the manifest, prints
/// the summary.
pub fn run(cfg: &ReconcileConfig) -> Result<Report> {
    if cfg.tolerance < Decimal::ZERO {
        return Err(Error::Argument(format!(
            "--tolerance {} is negative",
            cfg.tolerance
        )));
    }
    let (window, rec) = recomputed_side(&cfg.recomputed)?;
    let issued = issued_side(cfg)?;
    publish::check_output(&cfg.issued, &cfg.output, &[])?;
    publish::check_output(&cfg.recomputed, &cfg.output, &[])?;
    let (book, catalog_sha256) = price_book(cfg)?;
    let settings = Settings {
        tolerance: cfg.tolerance,
        prices: &book,
    };
    let p = Publish::begin(&cfg.output, Some(window.as_of_date))?;
    let n = buckets::count([&issued, &rec], cfg.bucket_rows)?;
    let mut tally = Tally::default();
    let mut written = Written::default();
    let n = buckets::for_each([&issued, &rec], n, p.side(), |b, iss, recs| {
        let iss = in_window(iss, &window, &mut tally, true)?;
        let recs = in_window(recs, &window, &mut tally, false)?;
        let rows = reconcile(iss, recs, &settings)?;
        for r in &rows {
            tally.add_row(r, cfg.tolerance)?;
        }
        let file = format!("part-{b:05}.parquet");
        write_rows(p.dir(), rows, &file, &mut written)?;
        Ok(())
    })?;
    check_conservation(&tally)?;
    let outputs = write_summary(p.dir(), &tally, written, Month::of(window.start))?;
    let text = summary::text(&cfg.issued, &cfg.recomputed, &window, cfg.tolerance, &tally);
    let path = p.dir().join("summary.txt");
    std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
    let m = manifest_of(cfg, &issued, &window, &tally, n, outputs, catalog_sha256)?;
    write_manifest(p.dir(), &m)?;
    p.commit()?;
    crate::progress::print_out(&text);
    Ok(Report {
        tally,
        window,
        text,
    })
}

/// The recomputed output's window and its `bill_lines`.
fn recomputed_side(dir: &Path) -> Result<(Window, Source)> {
    read::check_output(dir)?;
    let m = manifest::read(dir)?;
    let as_of = parse_date(&m.as_of_date).ok_or_else(|| Error::NotAnOutput {
        path: dir.join("_manifest.json"),
        message: format!("as_of_date `{}` is not YYYY-MM-DD", m.as_of_date),
    })?;
    let files = read::table_files(dir, "bill_lines")?.ok_or_else(|| Error::NotAnOutput {
        path: dir.to_path_buf(),
        message: "output table `bill_lines` is missing".into(),
    })?;
    let source = Source {
        root: dir.join("bill_lines"),
        files: files.into_iter().map(|f| f.path).collect(),
        issued: None,
    };
    Ok((Window::new(as_of), source))
}

/// The issued table's files; its directory must exist (an empty one is an empty table).
fn issued_side(cfg: &ReconcileConfig) -> Result<Source> {
    if !cfg.issued.is_dir() {
        return Err(Error::MissingTable {
            table: "issued".into(),
            path: cfg.issued.clone(),
        });
    }
    Ok(Source {
        root: cfg.issued.clone(),
        files: crate::input::parquet_files(&cfg.issued)?,
        issued: Some(cfg.format),
    })
}

/// The prices that explain differences: the catalog given, else the recomputed output's when
/// its file is there and unchanged (else none, with a warning: causes `unit_price` and `tier`
/// are then not given).
fn price_book(cfg: &ReconcileConfig) -> Result<(PriceBook, Option<String>)> {
    if let Some(path) = &cfg.catalog {
        let c = Catalog::load(path)?;
        return Ok((PriceBook::from_catalog(&c), Some(c.hash)));
    }
    let m = manifest::read(&cfg.recomputed)?;
    let path = PathBuf::from(&m.catalog_path);
    match path.is_file().then(|| Catalog::load(&path)) {
        Some(Ok(c)) if c.hash == m.catalog_sha256 => {
            Ok((PriceBook::from_catalog(&c), Some(c.hash)))
        }
        _ => {
            tracing::warn!(
                catalog = %m.catalog_path,
                "the recomputed output's catalog is not there as it was (give --catalog): \
                 no unit_price or tier causes"
            );
            Ok((PriceBook::default(), None))
        }
    }
}

/// The lines charged inside the window; the others counted (issued) and left out.
fn in_window(lines: Vec<Line>, w: &Window, tally: &mut Tally, issued: bool) -> Result<Vec<Line>> {
    let before = lines.len() as u64;
    let kept: Vec<Line> = lines
        .into_iter()
        .filter(|l| w.contains(l.key.charge_start))
        .collect();
    let outside = before - kept.len() as u64;
    match issued {
        true => tally.outside_window += outside,
        false => tally.recomputed_outside_window += outside,
    }
    let amount = compare::sum(kept.iter().map(|l| l.amount), "lines of a bucket")?;
    tally.add_lines(issued, kept.len() as u64, amount)?;
    Ok(kept)
}

/// The rows' totals equal the lines' (conservation): anything else is a bug.
fn check_conservation(t: &Tally) -> Result<()> {
    if t.issued_total == t.issued_lines_amount && t.recomputed_total == t.recomputed_lines_amount {
        return Ok(());
    }
    Err(Error::Internal(format!(
        "reconciliation totals {} / {} differ from the lines' {} / {}",
        t.issued_total, t.recomputed_total, t.issued_lines_amount, t.recomputed_lines_amount
    )))
}

/// Writes `reconciliation_summary/` (and `reconciliation/` empty when no key was found); gives
/// what both tables hold.
fn write_summary(
    dir: &Path,
    t: &Tally,
    mut rows: Written,
    empty_month: Month,
) -> Result<BTreeMap<String, Written>> {
    let file = "part-00000.parquet";
    finish_table::<ReconRow>(dir, empty_month, file, &mut rows)?;
    let mut sums = Written::default();
    write_rows(dir, t.bills.values().cloned().collect(), file, &mut sums)?;
    finish_table::<SummaryRow>(dir, empty_month, file, &mut sums)?;
    Ok(BTreeMap::from([
        (TABLES[0].name.to_string(), rows),
        (TABLES[1].name.to_string(), sums),
    ]))
}

/// The SHA-256 of the `bill_lines` files an output's manifest lists, by path.
pub fn bill_lines_hashes(m: &crate::output::manifest::Manifest) -> BTreeMap<String, String> {
    (m.output_sha256.iter())
        .filter(|(path, _)| path.starts_with("bill_lines/"))
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect()
}

fn manifest_of(
    cfg: &ReconcileConfig,
    issued: &Source,
    w: &Window,
    t: &Tally,
    buckets: usize,
    outputs: BTreeMap<String, Written>,
    catalog_sha256: Option<String>,
) -> Result<ReconcileManifest> {
    let files = issued
        .files
        .iter()
        .map(|f| {
            let (bytes, sha256) = hash_file(f)?;
            Ok(FileInfo {
                table: "issued".into(),
                path: f
                    .strip_prefix(&issued.root)
                    .unwrap_or(f)
                    .display()
                    .to_string(),
                bytes,
                sha256,
                rows: crate::input::chunks::rows_in(std::slice::from_ref(f))? as usize,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (_, rec_hash) = hash_file(&cfg.recomputed.join("_manifest.json"))?;
    let bill_lines = bill_lines_hashes(&crate::output::manifest::read(&cfg.recomputed)?);
    let totals = [
        ("issued", t.issued_total),
        ("recomputed", t.recomputed_total),
        ("delta", t.issued_total - t.recomputed_total),
        ("overcharged", t.overcharged),
        ("undercharged", t.undercharged),
    ];
    Ok(ReconcileManifest {
        tool: "reckon".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        issued_path: cfg.issued.display().to_string(),
        issued_format: cfg.format,
        issued: files,
        recomputed_path: cfg.recomputed.display().to_string(),
        recomputed_manifest_sha256: rec_hash,
        recomputed_bill_lines_sha256: bill_lines,
        catalog_sha256,
        as_of_date: w.as_of_date.to_string(),
        window_start: crate::calendar::format_local(w.start),
        window_end: crate::calendar::format_local(w.as_of),
        tolerance: cfg.tolerance.to_string(),
        outside_window: t.outside_window,
        issued_lines: t.issued_lines,
        recomputed_lines: t.recomputed_lines,
        keys: t.keys,
        keys_mismatched: t.mismatched(),
        by_status: t
            .by_status
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), *n))
            .collect(),
        by_cause: t
            .by_cause
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
        totals: totals
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        buckets,
        outputs,
    })
}

fn write_manifest(dir: &Path, m: &ReconcileManifest) -> Result<()> {
    let path = dir.join("_manifest.json");
    let text = serde_json::to_string_pretty(m).map_err(|e| Error::Output {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
}
