//! `reckon diff OLD NEW`: what changed between two outputs, and why where it can tell.
//!
//! Keys: `bills` by `(month, owner_uin, product)`, `bill_lines` by `line_id`. Every column the
//! two tables share is compared exactly: decimals by value whatever their scales (never
//! floats), other columns as text; amount deltas are exact `Decimal`s. Only what both outputs
//! cover is compared — bills of the months in both manifests, lines whose `charge_start` lies
//! in both windows — so the usual daily shift of the three-month window is not reported as a
//! change.
//!
//! Reason codes (one per `diff` row), first match wins:
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
//! printed summary.
//!
//! Memory: bills and package status (one row per account, product and month; per package) are
//! read whole. Bill lines and draws — as many as usage rows — are split into buckets of about
//! [`BUCKET_ROWS`] lines by the hash of their usage id ([`Buckets`]: each output file read once
//! and spilled inside DIR, the spill removed after), and compared a bucket at a time, column by
//! column on the matched pairs; draws are turned into text only for the usages of changed
//! lines. Memory holds one bucket of each output and the changes found, whatever the outputs'
//! size. The result does not depend on the number of buckets (tested: one bucket and one line
//! per bucket give the same table).

use crate::calendar::{format_local, parse_date, Month, Ts, Window};
use crate::cli::DiffArgs;
use crate::error::{Error, Result};
use crate::output::manifest::{self, Manifest};
use crate::output::read;
use crate::output::{bool_col, dec_col, frame, str_col, write_rows, Table, Written};
use crate::Outcome;
use polars::prelude::{ChunkCompareEq, Column, DataFrame, DataType, IdxCa, IdxSize};
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Reason codes, in precedence order.
pub const REASONS: [&str; 9] = [
    "refund",
    "late_usage",
    "package_change",
    "catalog_change",
    "open_month",
    "added",
    "removed",
    "changed",
    "",
];

fn rank(reason: &str) -> usize {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(REASONS.len())
}

/// One change: a row of the `diff` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    /// `bills` or `bill_lines`.
    pub table: &'static str,
    /// `month|owner_uin|product` for bills, the `line_id` for lines.
    pub key: String,
    /// `YYYY-MM` (the bill month, or the UTC+8 month of the line's `charge_start`).
    pub month: String,
    pub owner_uin: String,
    pub product: String,
    pub usage_id: Option<String>,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub reason: &'static str,
    /// The month was complete in OLD: this change is a restatement.
    pub closed_in_old: bool,
    /// `total_amount` (bills) or `amount` (lines).
    pub old_amount: Option<Decimal>,
    pub new_amount: Option<Decimal>,
    /// Columns that differ, comma-separated (empty for added/removed rows).
    pub columns: String,
}

impl DiffRow {
    /// `new_amount − old_amount`, a missing side counting as zero.
    pub fn delta(&self) -> Decimal {
        self.new_amount.unwrap_or_default() - self.old_amount.unwrap_or_default()
    }
}

impl Table for DiffRow {
    const NAME: &'static str = "diff";
    const PARTITIONED: bool = false;
    fn month(&self) -> Option<Month> {
        None
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.table, &a.month, &a.key).cmp(&(b.table, &b.month, &b.key))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        frame(
            r.len(),
            vec![
                s("table", |x| x.table),
                s("key", |x| &x.key),
                s("month", |x| &x.month),
                s("owner_uin", |x| &x.owner_uin),
                s("product", |x| &x.product),
                str_col("usage_id", r.iter().map(|x| x.usage_id.as_deref())),
                s("change", |x| x.change),
                s("reason", |x| x.reason),
                bool_col("closed_in_old", r.iter().map(|x| Some(x.closed_in_old))),
                dec_col("old_amount", 8, r.iter().map(|x| x.old_amount)),
                dec_col("new_amount", 8, r.iter().map(|x| x.new_amount)),
                dec_col("delta", 8, r.iter().map(|x| Some(x.delta()))),
                s("columns", |x| &x.columns),
            ],
        )
    }
}

/// A table read back as text rows by key.
struct Rows {
    cols: Vec<String>,
    /// Column-major text cells.
    cells: Vec<Vec<Option<String>>>,
    /// Per column: a decimal, compared by value (1.50 and 1.50000000 are equal).
    decimal: Vec<bool>,
    by_key: HashMap<String, usize>,
}

impl Rows {
    fn load(
        df: &DataFrame,
        key: impl Fn(&[Vec<Option<String>>], &[String], usize) -> String,
    ) -> Result<Rows> {
        let cols: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let cells = cols
            .iter()
            .map(|c| read::text(df, c))
            .collect::<Result<Vec<_>>>()?;
        let decimal = cols
            .iter()
            .map(|c| Ok(matches!(df.column(c)?.dtype(), DataType::Decimal(..))))
            .collect::<Result<Vec<_>>>()?;
        let by_key = (0..df.height())
            .map(|i| (key(&cells, &cols, i), i))
            .collect();
        Ok(Rows {
            cols,
            cells,
            decimal,
            by_key,
        })
    }

    fn is_decimal(&self, col: &str) -> bool {
        self.cols
            .iter()
            .position(|x| x == col)
            .is_some_and(|c| self.decimal[c])
    }

    fn get(&self, col: &str, row: usize) -> Option<&str> {
        let c = self.cols.iter().position(|x| x == col)?;
        self.cells[c][row].as_deref()
    }

    fn dec(&self, col: &str, row: usize) -> Option<Decimal> {
        self.get(col, row).and_then(|s| s.parse().ok())
    }
}

fn cell(cells: &[Vec<Option<String>>], cols: &[String], col: &str, row: usize) -> String {
    cols.iter()
        .position(|c| c == col)
        .and_then(|c| cells[c][row].clone())
        .unwrap_or_default()
}

/// One output as the diff needs it in memory: its manifest and its small tables. Its bill
/// lines and draws are read a bucket at a time ([`Buckets`]).
struct Snapshot {
    manifest: Manifest,
    window: Window,
    bills: Rows,
    /// package_id → its inventory attributes as text.
    packages: HashMap<String, String>,
    /// The files of `bill_lines` and of `deduction_details`.
    lines: Vec<PathBuf>,
    draws: Vec<PathBuf>,
}

impl Snapshot {
    fn load(dir: &Path) -> Result<Snapshot> {
        read::check_output(dir)?;
        let manifest = manifest::read(dir).map_err(|e| Error::Usage(e.to_string()))?;
        let as_of = parse_date(&manifest.as_of_date).ok_or_else(|| {
            Error::Usage(format!(
                "{}: manifest as_of_date `{}` is not YYYY-MM-DD",
                dir.display(),
                manifest.as_of_date
            ))
        })?;
        let need = |t: &str| -> Result<DataFrame> {
            read::table(dir, t)?.ok_or_else(|| {
                Error::Usage(format!("{}: output table `{t}` is missing", dir.display()))
            })
        };
        let files = |t: &str| -> Result<Option<Vec<PathBuf>>> {
            Ok(read::table_files(dir, t)?.map(|v| v.into_iter().map(|f| f.path).collect()))
        };
        // The columns the comparison reads, checked from each file's footer up front: a table
        // rewritten without one is bad input (exit 2), found before any of it is compared
        // (bills without their key would all be compared under empty keys).
        require_columns(&files("bills")?.unwrap_or_default(), "bills", BILL_COLUMNS)?;
        let bills = Rows::load(&need("bills")?, |c, n, i| {
            format!(
                "{}|{}|{}",
                cell(c, n, "month", i),
                cell(c, n, "owner_uin", i),
                cell(c, n, "product", i)
            )
        })?;
        let lines = files("bill_lines")?.ok_or_else(|| {
            Error::Usage(format!(
                "{}: output table `bill_lines` is missing",
                dir.display()
            ))
        })?;
        let draws = files("deduction_details")?.unwrap_or_default();
        require_columns(&lines, "bill_lines", LineCols::COLUMNS)?;
        require_columns(&draws, "deduction_details", DRAW_COLUMNS)?;
        let mut packages = HashMap::new();
        if let Some(df) = read::table(dir, "package_status")? {
            let r = Rows::load(&df, |_, _, i| i.to_string())?;
            for i in 0..df.height() {
                let text = [
                    "kind",
                    "capacity",
                    "unit",
                    "region",
                    "effective_at",
                    "expires_at",
                ]
                .iter()
                .map(|c| r.get(c, i).unwrap_or(""))
                .collect::<Vec<_>>()
                .join("/");
                packages.insert(r.get("package_id", i).unwrap_or("").to_string(), text);
            }
        }
        Ok(Snapshot {
            manifest,
            window: Window::new(as_of),
            bills,
            packages,
            lines,
            draws,
        })
    }
}

/// The bill lines and draws of one output split into buckets by the hash of each row's
/// `usage_id` (a line without one: its `line_id`). A usage line's id is `u:<usage_id>:<tier>`,
/// so a line lands in the same bucket in both outputs, with its usage's draws and with every
/// other line of its usage: each bucket is compared alone. One bucket reads the output's files
/// as they are; more are spilled first (plain Parquet, LZ4, in a temporary directory), each
/// file read once.
struct Buckets {
    /// Per bucket: the files holding its lines, and its draws.
    lines: Vec<Vec<PathBuf>>,
    draws: Vec<Vec<PathBuf>>,
}

impl Buckets {
    /// `side`'s files as one bucket when `spill` is `None`; else `n` buckets spilled into
    /// `spill` as `<name>-<table>-<bucket>-<file>.parquet`.
    fn split(side: &Snapshot, name: &str, n: usize, spill: Option<&Path>) -> Result<Buckets> {
        let Some(spill) = spill else {
            return Ok(Buckets {
                lines: vec![side.lines.clone()],
                draws: vec![side.draws.clone()],
            });
        };
        let split = |files: &[PathBuf], table: &str, fallback: Option<&str>| {
            let mut out = vec![Vec::new(); n];
            for (k, f) in files.iter().enumerate() {
                let df = crate::input::read_parquet(f)?;
                for (b, part) in bucket_slices(&df, n, fallback)? {
                    let path = spill.join(format!("{name}-{table}-{b:05}-{k:06}.parquet"));
                    crate::output::write_spill(&path, &mut { part })?;
                    out[b].push(path);
                }
            }
            Ok::<_, Error>(out)
        };
        Ok(Buckets {
            lines: split(&side.lines, "lines", Some("line_id"))?,
            draws: split(&side.draws, "draws", None)?,
        })
    }
}

/// The bucket of each row of `df` (of `n`): the xxh3 hash of its `usage_id`, or of its
/// `fallback` column where `usage_id` is null. Gives each non-empty bucket's rows, in file order.
fn bucket_slices(
    df: &DataFrame,
    n: usize,
    fallback: Option<&str>,
) -> Result<Vec<(usize, DataFrame)>> {
    let usage = df.column("usage_id")?.str()?;
    let other = match fallback {
        Some(c) => Some(df.column(c)?.str()?),
        None => None,
    };
    let bucket: Vec<usize> = (0..df.height())
        .map(|i| {
            let key = usage
                .get(i)
                .or_else(|| other.and_then(|o| o.get(i)))
                .unwrap_or("");
            (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % n as u64) as usize
        })
        .collect();
    let mut idx: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
    for (i, b) in bucket.iter().enumerate() {
        idx[*b].push(i as IdxSize);
    }
    idx.into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(b, v)| Ok((b, df.take(&IdxCa::from_vec("idx".into(), v))?)))
        .collect()
}

/// Reads and stacks `files` (one bucket of one side); `None` for none.
fn read_all(files: &[PathBuf]) -> Result<Option<DataFrame>> {
    let mut df = read::stack(files.iter().map(PathBuf::as_path))?;
    if let Some(d) = df.as_mut() {
        d.rechunk_mut_par();
    }
    Ok(df)
}

/// usage_id → its draws as text (package, deducted, covered part, coefficient), in draw order,
/// for the usage ids in `wanted` (those of changed lines), from one bucket's `files` — read
/// only when some line changed: most buckets of a daily diff never need them.
fn draws_of(files: &[PathBuf], wanted: &HashSet<&str>) -> Result<HashMap<String, Vec<String>>> {
    let mut draws: HashMap<String, Vec<String>> = HashMap::new();
    if wanted.is_empty() {
        return Ok(draws);
    }
    let Some(df) = read_all(files)? else {
        return Ok(draws);
    };
    let usage = df.column("usage_id")?.str()?;
    let rows: Vec<IdxSize> = usage
        .iter()
        .enumerate()
        .filter(|(_, u)| wanted.contains(u.unwrap_or("")))
        .map(|(i, _)| i as IdxSize)
        .collect();
    let df = df.take(&IdxCa::from_vec("idx".into(), rows))?;
    // Decimals as their normalized value (`1.5` for 1.50 and 1.50000000), so that two outputs
    // whose decimals differ in scale only give the same draws.
    let cols = ["package_id", "deducted", "original_usage", "coefficient"]
        .iter()
        .map(|c| match df.column(c)?.dtype() {
            DataType::Decimal(..) => Ok(read::decimals(&df, c)?
                .into_iter()
                .map(|d| d.map(|d| d.normalize().to_string()))
                .collect()),
            _ => read::text(&df, c),
        })
        .collect::<Result<Vec<_>>>()?;
    for (i, u) in df.column("usage_id")?.str()?.iter().enumerate() {
        let text = cols
            .iter()
            .map(|c| c[i].as_deref().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("/");
        draws
            .entry(u.unwrap_or("").to_string())
            .or_default()
            .push(text);
    }
    Ok(draws)
}

/// The comparison of two outputs.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<DiffRow>,
    /// The compared charge range `[from, to)` of lines.
    pub from: Ts,
    pub to: Ts,
    pub months: Vec<String>,
    pub catalog_changed: bool,
}

impl Report {
    /// Changes to months OLD had already closed.
    pub fn restatements(&self) -> impl Iterator<Item = &DiffRow> {
        self.rows.iter().filter(|r| r.closed_in_old)
    }
}

/// How `compare` splits the work.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bill lines (or draws) per bucket, about: memory holds one bucket of each output.
    pub bucket_rows: u64,
    /// Where buckets are spilled when there are more than one (a temporary directory is made
    /// inside and removed after).
    pub spill: PathBuf,
}

/// Bill lines per bucket by default: a bucket of both outputs in memory is about 1 GB.
pub const BUCKET_ROWS: u64 = 2_000_000;

/// What every bucket's comparison of lines needs.
struct LineCtx<'a> {
    old: &'a Snapshot,
    new: &'a Snapshot,
    from: Ts,
    to: Ts,
    catalog_changed: bool,
}

/// Compares two output directories.
pub fn compare(old_dir: &Path, new_dir: &Path, opts: &Options) -> Result<Report> {
    let old = Snapshot::load(old_dir)?;
    let new = Snapshot::load(new_dir)?;
    let from = old.window.start.max(new.window.start);
    let to = old.window.as_of.min(new.window.as_of);
    let common_month = old
        .manifest
        .months
        .iter()
        .any(|m| new.manifest.months.contains(m));
    if from >= to && !common_month {
        // Nothing in common to compare: "no differences" would say more than was checked.
        return Err(Error::Usage(format!(
            "{} and {} have no time in common: windows [{}, {}) and [{}, {}), no bill month in both",
            old_dir.display(),
            new_dir.display(),
            format_local(old.window.start),
            format_local(old.window.as_of),
            format_local(new.window.start),
            format_local(new.window.as_of),
        )));
    }
    let catalog_changed = old.manifest.catalog_sha256 != new.manifest.catalog_sha256;

    // ----- lines, a bucket at a time
    let mut most = 0;
    for files in [&old.lines, &new.lines, &old.draws, &new.draws] {
        most = most.max(crate::input::chunks::rows_in(files)?);
    }
    let n = most.div_ceil(opts.bucket_rows.max(1)).max(1) as usize;
    let spill = if n > 1 {
        std::fs::create_dir_all(&opts.spill).map_err(|e| Error::io(&opts.spill, e))?;
        Some(
            tempfile::Builder::new()
                .prefix(".reckon-diff-")
                .tempdir_in(&opts.spill)
                .map_err(|e| Error::io(&opts.spill, e))?,
        )
    } else {
        None
    };
    let t = std::time::Instant::now();
    let at = spill.as_ref().map(|d| d.path());
    let (old_buckets, new_buckets) = rayon::join(
        || Buckets::split(&old, "old", n, at),
        || Buckets::split(&new, "new", n, at),
    );
    let (old_buckets, new_buckets) = (old_buckets?, new_buckets?);
    tracing::debug!(
        buckets = n,
        ms = t.elapsed().as_millis() as u64,
        "outputs split"
    );
    let ctx = LineCtx {
        old: &old,
        new: &new,
        from,
        to,
        catalog_changed,
    };
    let mut rows = Vec::new();
    for b in 0..n {
        let (old_lines, new_lines) = rayon::join(
            || read_all(&old_buckets.lines[b]),
            || read_all(&new_buckets.lines[b]),
        );
        compare_lines(
            &ctx,
            old_lines?,
            new_lines?,
            [&old_buckets.draws[b], &new_buckets.draws[b]],
            &mut rows,
        )?;
        tracing::debug!(bucket = b, of = n, changes = rows.len(), "bucket compared");
    }
    drop(spill);

    // ----- bills
    let months: Vec<String> = old
        .manifest
        .months
        .iter()
        .filter(|m| new.manifest.months.contains(m))
        .cloned()
        .collect();
    let mut line_reason: HashMap<String, &'static str> = HashMap::new();
    for r in &rows {
        let k = format!("{}|{}|{}", r.month, r.owner_uin, r.product);
        let e = line_reason.entry(k).or_insert(r.reason);
        if rank(r.reason) < rank(e) {
            *e = r.reason;
        }
    }
    let mut keys: BTreeSet<&String> = old.bills.by_key.keys().collect();
    keys.extend(new.bills.by_key.keys());
    let mut bill_rows = Vec::new();
    for key in keys {
        let o = old.bills.by_key.get(key).copied();
        let n = new.bills.by_key.get(key).copied();
        let (side, i) = match (o, n) {
            (_, Some(i)) => (&new.bills, i),
            (Some(i), None) => (&old.bills, i),
            (None, None) => continue,
        };
        let month = side.get("month", i).unwrap_or("").to_string();
        if !months.contains(&month) {
            continue;
        }
        let (change, columns) = match (o, n) {
            (Some(a), Some(b)) => {
                let cols = differing(&old.bills, a, &new.bills, b);
                if cols.is_empty() {
                    continue;
                }
                ("changed", cols.join(","))
            }
            (None, Some(_)) => ("added", String::new()),
            _ => ("removed", String::new()),
        };
        let was_open = o.is_some_and(|a| old.bills.get("complete", a) == Some("false"));
        let reason = match line_reason.get(key.as_str()) {
            Some(r) => r,
            None if was_open || !closed(&old.window, &month) => "open_month",
            None => change,
        };
        let old_amount = o.and_then(|a| old.bills.dec("total_amount", a));
        let new_amount = n.and_then(|b| new.bills.dec("total_amount", b));
        bill_rows.push(DiffRow {
            table: "bills",
            key: key.clone(),
            closed_in_old: closed(&old.window, &month),
            month,
            owner_uin: side.get("owner_uin", i).unwrap_or("").to_string(),
            product: side.get("product", i).unwrap_or("").to_string(),
            usage_id: None,
            change,
            reason,
            old_amount,
            new_amount,
            columns,
        });
    }
    rows.extend(bill_rows);
    rows.sort_by(DiffRow::sort_key_cmp);
    Ok(Report {
        rows,
        from,
        to,
        months,
        catalog_changed,
    })
}

/// Compares one bucket's bill lines of OLD and NEW, with their usages' draws; appends a
/// `DiffRow` per line added, removed or changed in the compared range.
fn compare_lines(
    ctx: &LineCtx,
    old: Option<DataFrame>,
    new: Option<DataFrame>,
    draws: [&[PathBuf]; 2],
    rows: &mut Vec<DiffRow>,
) -> Result<()> {
    // A side with no lines in the bucket: an empty frame of the other's columns.
    let (old, new) = match (old, new) {
        (None, None) => return Ok(()),
        (Some(o), Some(n)) => (o, n),
        (Some(o), None) => {
            let n = o.clear();
            (o, n)
        }
        (None, Some(n)) => (n.clear(), n),
    };
    let (o, n) = (LineCols::of(&old)?, LineCols::of(&new)?);
    let by_key: rustc_hash::FxHashMap<&str, usize> = o
        .line_id
        .iter()
        .enumerate()
        .filter_map(|(i, k)| Some(((*k)?, i)))
        .collect();
    let mut matched = vec![false; old.height()];
    let mut pairs: Vec<(IdxSize, IdxSize)> = Vec::new();
    let mut added = Vec::new();
    for (j, k) in n.line_id.iter().enumerate() {
        let Some(k) = k else { continue };
        match by_key.get(k) {
            Some(&i) => {
                matched[i] = true;
                pairs.push((i as IdxSize, j as IdxSize));
            }
            None => added.push(j),
        }
    }
    // Columns both tables have, in OLD's order; a bit per column for each pair that differs.
    let shared: Vec<String> = old
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| new.column(c).is_ok())
        .collect();
    if shared.len() > 64 {
        return Err(Error::Usage(format!(
            "bill_lines has {} columns: at most 64 are compared",
            shared.len()
        )));
    }
    let oi = IdxCa::from_vec("o".into(), pairs.iter().map(|p| p.0).collect());
    let ni = IdxCa::from_vec("n".into(), pairs.iter().map(|p| p.1).collect());
    let mut differs = vec![0u64; pairs.len()];
    for (c, name) in shared.iter().enumerate() {
        let a = old.column(name)?.take(&oi)?;
        let b = new.column(name)?.take(&ni)?;
        for (k, d) in unequal(&a, &b)?.into_iter().enumerate() {
            if d {
                differs[k] |= 1 << c;
            }
        }
    }
    let price_bit = shared
        .iter()
        .position(|c| c == "unit_price")
        .map_or(0, |c| 1u64 << c);
    let old_usage: HashSet<&str> = o.usage_id.iter().flatten().copied().collect();

    enum Found {
        Changed(usize, usize, u64),
        Added(usize),
        Removed(usize),
    }
    let found = pairs
        .iter()
        .zip(&differs)
        .filter(|(_, d)| **d != 0)
        .map(|(&(i, j), &d)| Found::Changed(i as usize, j as usize, d))
        .chain(added.into_iter().map(Found::Added))
        .chain(
            matched
                .iter()
                .enumerate()
                .filter(|(i, m)| !**m && o.line_id[*i].is_some())
                .map(|(i, _)| Found::Removed(i)),
        )
        .filter_map(|f| {
            // Whichever side has the row gives its descriptive columns (NEW's when both).
            let (side, i, oi, ni, bits) = match f {
                Found::Changed(a, b, d) => (&n, b, Some(a), Some(b), d),
                Found::Added(b) => (&n, b, None, Some(b), 0),
                Found::Removed(a) => (&o, a, Some(a), None, 0),
            };
            let start = side.charge_start[i]?;
            (start >= ctx.from && start < ctx.to).then_some((side, i, oi, ni, bits, start))
        })
        .collect::<Vec<_>>();
    let wanted: HashSet<&str> = found
        .iter()
        .filter_map(|(side, i, ..)| side.usage_id[*i])
        .collect();
    let (old_draws, new_draws) = (draws_of(draws[0], &wanted)?, draws_of(draws[1], &wanted)?);
    for (side, i, oi, ni, bits, start) in found {
        let (change, columns) = match (oi, ni) {
            (Some(_), Some(_)) => (
                "changed",
                shared
                    .iter()
                    .enumerate()
                    .filter(|(c, _)| bits & (1 << c) != 0)
                    .map(|(_, name)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (None, Some(_)) => ("added", String::new()),
            _ => ("removed", String::new()),
        };
        let usage_id = side.usage_id[i].map(String::from);
        let kind = side.charge_kind[i].unwrap_or("");
        let drew_differently = usage_id.as_deref().is_some_and(|u| {
            let (a, b) = (old_draws.get(u), new_draws.get(u));
            a != b
                || a.into_iter().chain(b).flatten().any(|d| {
                    let pkg = d.split('/').next().unwrap_or("");
                    ctx.old.packages.get(pkg) != ctx.new.packages.get(pkg)
                })
        });
        let reason = if kind == "refund" {
            "refund"
        } else if change == "added"
            && usage_id.as_deref().is_some_and(|u| !old_usage.contains(u))
            && ctx.old.window.contains(start)
        {
            "late_usage"
        } else if drew_differently {
            "package_change"
        } else if ctx.catalog_changed && bits & price_bit != 0 {
            "catalog_change"
        } else {
            change
        };
        let month = Month::of(start).to_string();
        let old_amount = oi.and_then(|a| o.amount[a]);
        let new_amount = ni.and_then(|b| n.amount[b]);
        rows.push(DiffRow {
            table: "bill_lines",
            key: side.line_id[i].unwrap_or("").to_string(),
            closed_in_old: closed(&ctx.old.window, &month),
            month,
            owner_uin: side.owner_uin[i].unwrap_or("").to_string(),
            product: side.product[i].unwrap_or("").to_string(),
            usage_id,
            change,
            reason,
            old_amount,
            new_amount,
            columns,
        });
    }
    Ok(())
}

/// The columns of one bucket's bill lines the diff reads row by row.
struct LineCols<'a> {
    line_id: Vec<Option<&'a str>>,
    usage_id: Vec<Option<&'a str>>,
    charge_kind: Vec<Option<&'a str>>,
    owner_uin: Vec<Option<&'a str>>,
    product: Vec<Option<&'a str>>,
    charge_start: Vec<Option<Ts>>,
    amount: Vec<Option<Decimal>>,
}

impl<'a> LineCols<'a> {
    /// The columns of `bill_lines` the comparison reads.
    const COLUMNS: &'static [(&'static str, Kind)] = &[
        ("line_id", Kind::Text),
        ("usage_id", Kind::Text),
        ("charge_kind", Kind::Text),
        ("owner_uin", Kind::Text),
        ("product", Kind::Text),
        ("charge_start", Kind::Instant),
        ("amount", Kind::Decimal),
    ];

    fn of(df: &'a DataFrame) -> Result<LineCols<'a>> {
        let s = |c: &str| -> Result<Vec<Option<&'a str>>> {
            let col = df.column(c)?;
            Ok(match col.dtype() {
                polars::prelude::DataType::Null => vec![None; col.len()],
                _ => col.str()?.iter().collect(),
            })
        };
        Ok(LineCols {
            line_id: s("line_id")?,
            usage_id: s("usage_id")?,
            charge_kind: s("charge_kind")?,
            owner_uin: s("owner_uin")?,
            product: s("product")?,
            charge_start: read::instants(df, "charge_start")?,
            amount: read::decimals(df, "amount")?,
        })
    }
}

/// The columns of `bills` the comparison keys and totals by.
const BILL_COLUMNS: &[(&str, Kind)] = &[
    ("month", Kind::Any),
    ("owner_uin", Kind::Any),
    ("product", Kind::Any),
    ("total_amount", Kind::Any),
];

/// The columns of `deduction_details` the comparison reads.
const DRAW_COLUMNS: &[(&str, Kind)] = &[
    ("usage_id", Kind::Text),
    ("package_id", Kind::Any),
    ("deducted", Kind::Any),
    ("original_usage", Kind::Any),
    ("coefficient", Kind::Any),
];

/// What a column the comparison reads must hold: the types its readers take (a decimal or
/// timestamp column may also be of nulls only), nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Read as text whatever its type.
    Any,
    /// A string column.
    Text,
    /// A decimal column.
    Decimal,
    /// A timestamp column.
    Instant,
}

impl Kind {
    fn admits(self, t: &DataType) -> bool {
        matches!(
            (self, t),
            (Kind::Any, _)
                | (Kind::Text, DataType::String)
                | (Kind::Decimal, DataType::Decimal(..) | DataType::Null)
                | (Kind::Instant, DataType::Datetime(..) | DataType::Null)
        )
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Any => "any type",
            Kind::Text => "a string",
            Kind::Decimal => "a decimal",
            Kind::Instant => "a timestamp",
        }
    }
}

/// Every file of `table` has the columns `cols` with a type their readers take (read from its
/// footer), or a usage error naming the file and the first column missing or mistyped.
fn require_columns(files: &[PathBuf], table: &str, cols: &[(&str, Kind)]) -> Result<()> {
    for f in files {
        let file = std::fs::File::open(f).map_err(|e| Error::io(f, e))?;
        use polars::prelude::SerReader;
        let schema = polars::prelude::ParquetReader::new(file)
            .schema()
            .map_err(|e| Error::Parquet {
                path: f.clone(),
                message: e.to_string(),
            })?;
        for (c, kind) in cols {
            let Some(field) = schema.get(c) else {
                return Err(Error::Usage(format!(
                    "{}: output table `{table}` has no column `{c}`",
                    f.display()
                )));
            };
            let t = DataType::from_arrow_field(field);
            if !kind.admits(&t) {
                return Err(Error::Usage(format!(
                    "{}: column `{c}` of output table `{table}` is {t}, not {}",
                    f.display(),
                    kind.name()
                )));
            }
        }
    }
    Ok(())
}

/// Row by row, whether two columns' values differ, nulls equal to nulls. Values of one type
/// are compared as they are (for decimals of one scale, exact text and value agree); columns
/// whose types differ between the outputs are compared as text.
fn unequal(a: &Column, b: &Column) -> Result<Vec<bool>> {
    if a.dtype() == b.dtype() {
        let ne = a
            .as_materialized_series()
            .not_equal_missing(b.as_materialized_series())?;
        return Ok(ne.iter().map(|v| v.unwrap_or(false)).collect());
    }
    let one = |c: &Column| crate::output::frame(c.len(), vec![c.clone()]);
    if let (DataType::Decimal(..), DataType::Decimal(..)) = (a.dtype(), b.dtype()) {
        // Two scales: compared by value (`1.50` = `1.50000000`).
        let x = read::decimals(&one(a)?, a.name().as_str())?;
        let y = read::decimals(&one(b)?, b.name().as_str())?;
        return Ok(x.iter().zip(&y).map(|(p, q)| p != q).collect());
    }
    let text = |c: &Column| read::text(&one(c)?, c.name().as_str());
    let (x, y) = (text(a)?, text(b)?);
    Ok(x.iter().zip(&y).map(|(p, q)| p != q).collect())
}

/// Whether `month` (`YYYY-MM`) was complete in the window `w`: a change to it is a restatement.
fn closed(w: &Window, month: &str) -> bool {
    Month::parse(month).is_some_and(|m| w.month_complete(m))
}

/// Columns present in both tables whose values differ between two rows; decimals on both sides
/// by value, whatever their scales (an output rewritten by another tool may hold `1.50` where
/// reckon wrote `1.50000000`).
fn differing(a: &Rows, i: usize, b: &Rows, j: usize) -> Vec<String> {
    a.cols
        .iter()
        .filter(|c| b.cols.contains(c))
        .filter(|c| {
            if a.is_decimal(c) && b.is_decimal(c) {
                a.dec(c, i) != b.dec(c, j)
            } else {
                a.get(c, i) != b.get(c, j)
            }
        })
        .cloned()
        .collect()
}

/// The printed summary.
pub fn summary(old: &Path, new: &Path, r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "reckon diff {} → {}", old.display(), new.display());
    let _ = writeln!(
        s,
        "compared: bill months {}; bill lines charged in [{}, {})",
        if r.months.is_empty() {
            "none".to_string()
        } else {
            r.months.join(", ")
        },
        format_local(r.from),
        format_local(r.to)
    );
    if r.catalog_changed {
        let _ = writeln!(s, "catalog: changed (hash differs)");
    }
    if r.rows.is_empty() {
        let _ = writeln!(s, "no differences");
        return s;
    }
    for table in ["bills", "bill_lines"] {
        let rows: Vec<&DiffRow> = r.rows.iter().filter(|x| x.table == table).collect();
        let mut by_change: BTreeMap<&str, usize> = BTreeMap::new();
        let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
        for x in &rows {
            *by_change.entry(x.change).or_default() += 1;
            *by_reason.entry(x.reason).or_default() += 1;
        }
        let delta: Decimal = rows.iter().map(|x| x.delta()).sum();
        let _ = writeln!(
            s,
            "{table}: {} ({}); by reason: {}; amount delta {delta:+}",
            rows.len(),
            join_counts(&by_change),
            join_counts(&by_reason)
        );
    }
    let accounts: BTreeSet<&str> = r.rows.iter().map(|x| x.owner_uin.as_str()).collect();
    let _ = writeln!(
        s,
        "accounts changed: {} ({})",
        accounts.len(),
        accounts
            .iter()
            .take(10)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
            + if accounts.len() > 10 { ", …" } else { "" }
    );
    let mut months: BTreeMap<&str, (Decimal, bool)> = BTreeMap::new();
    for x in r.rows.iter().filter(|x| x.table == "bills") {
        let e = months.entry(&x.month).or_default();
        e.0 += x.delta();
        e.1 |= x.closed_in_old;
    }
    for (m, (d, closed)) in &months {
        let _ = writeln!(
            s,
            "  month {m} ({}): bills delta {d:+}",
            if *closed {
                "closed in OLD"
            } else {
                "open in OLD"
            }
        );
    }
    let restated: Vec<&DiffRow> = r.restatements().filter(|x| x.table == "bills").collect();
    if restated.is_empty() {
        let _ = writeln!(s, "restatements of closed months: none");
    } else {
        let _ = writeln!(s, "restatements of closed months: {}", restated.len());
        for x in restated.iter().take(20) {
            let _ = writeln!(
                s,
                "  {} {} {}: {} → {} ({:+}) [{}]",
                x.month,
                x.owner_uin,
                x.product,
                x.old_amount.map_or("-".into(), |d| d.to_string()),
                x.new_amount.map_or("-".into(), |d| d.to_string()),
                x.delta(),
                x.reason
            );
        }
    }
    s
}

fn join_counts(m: &BTreeMap<&str, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
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

/// `reckon diff`.
pub fn run(args: &DiffArgs) -> Result<Outcome> {
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.new));
    let opts = Options {
        bucket_rows: args.bucket_rows.unwrap_or(BUCKET_ROWS),
        spill: dir.clone(),
    };
    let report = compare(&args.old, &args.new, &opts)?;
    let text = summary(&args.old, &args.new, &report);
    let table_dir = dir.join(DiffRow::NAME);
    if table_dir.is_dir() {
        std::fs::remove_dir_all(&table_dir).map_err(|e| Error::io(&table_dir, e))?;
    }
    let mut written = Written::default();
    let file = "part-00000.parquet";
    let n = report.rows.len();
    write_rows(&dir, report.rows.clone(), file, &mut written)?;
    if n == 0 {
        crate::output::finish_table::<DiffRow>(&dir, Month::of(0), file, &mut written)?;
    }
    let summary_path = dir.join("summary.txt");
    std::fs::write(&summary_path, &text).map_err(|e| Error::io(&summary_path, e))?;
    print!("{text}");
    println!("written: {}", table_dir.join(file).display());
    let differs = if args.closed_only {
        report.restatements().next().is_some()
    } else {
        n > 0
    };
    Ok(if differs {
        Outcome::Differences
    } else {
        Outcome::Done
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn bills(scale: u32, totals: &[&str]) -> DataFrame {
        let n = totals.len();
        frame(
            n,
            vec![
                str_col("month", (0..n).map(|_| Some("2024-05"))),
                str_col("owner_uin", (0..n).map(|i| Some(["a", "b"][i]))),
                dec_col(
                    "total_amount",
                    scale,
                    totals.iter().map(|t| Some(Decimal::from_str(t).unwrap())),
                ),
            ],
        )
        .unwrap()
    }

    /// Decimals differing in scale only are equal; one cent is a difference, whether the two
    /// columns have one type (bill lines) or two (bills read back as rows).
    #[test]
    fn decimals_compare_by_value_whatever_their_scales() {
        let old = bills(2, &["1.50", "2.00"]);
        let new = bills(8, &["1.50000000", "2.01000000"]);
        let key =
            |c: &[Vec<Option<String>>], cols: &[String], i: usize| cell(c, cols, "owner_uin", i);
        let (a, b) = (
            Rows::load(&old, key).unwrap(),
            Rows::load(&new, key).unwrap(),
        );
        assert_eq!(differing(&a, 0, &b, 0), Vec::<String>::new());
        assert_eq!(differing(&a, 1, &b, 1), vec!["total_amount".to_string()]);
        let ne = unequal(
            old.column("total_amount").unwrap(),
            new.column("total_amount").unwrap(),
        )
        .unwrap();
        assert_eq!(ne, vec![false, true]);
    }
}
