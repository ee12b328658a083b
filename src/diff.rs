//! `reckon diff OLD NEW`: what changed between two outputs, and why where it can tell.
//!
//! Keys: `bills` by `(month, owner_uin, product)`, `bill_lines` by `line_id`. Every column the
//! two tables share is compared as exact text (decimals at their scale, never floats); amount
//! deltas are exact `Decimal`s. Only what both outputs cover is compared — bills of the months
//! in both manifests, lines whose `charge_start` lies in both windows — so the usual daily
//! shift of the three-month window is not reported as a change.
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

use crate::calendar::{format_local, parse_date, Month, Ts, Window};
use crate::cli::DiffArgs;
use crate::error::{Error, Result};
use crate::output::manifest::{self, Manifest};
use crate::output::read;
use crate::output::{bool_col, dec_col, frame, str_col, write_rows, Table, Written};
use crate::Outcome;
use polars::prelude::DataFrame;
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
    pub delta: Decimal,
    /// Columns that differ, comma-separated (empty for added/removed rows).
    pub columns: String,
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
                dec_col("delta", 8, r.iter().map(|x| Some(x.delta))),
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
    by_key: HashMap<String, usize>,
    /// `charge_start` of each row, when the table has it.
    starts: Vec<Option<Ts>>,
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
        let by_key = (0..df.height())
            .map(|i| (key(&cells, &cols, i), i))
            .collect();
        let starts = if cols.iter().any(|c| c == "charge_start") {
            read::instants(df, "charge_start")?
        } else {
            Vec::new()
        };
        Ok(Rows {
            cols,
            cells,
            by_key,
            starts,
        })
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

/// One output as the diff needs it.
struct Snapshot {
    manifest: Manifest,
    window: Window,
    bills: Rows,
    lines: Rows,
    /// usage_id → its draws as text (package, deducted, covered part), in draw order.
    draws: HashMap<String, Vec<String>>,
    /// package_id → its inventory attributes as text.
    packages: HashMap<String, String>,
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
        let bills = Rows::load(&need("bills")?, |c, n, i| {
            format!(
                "{}|{}|{}",
                cell(c, n, "month", i),
                cell(c, n, "owner_uin", i),
                cell(c, n, "product", i)
            )
        })?;
        let lines = Rows::load(&need("bill_lines")?, |c, n, i| cell(c, n, "line_id", i))?;
        let mut draws: HashMap<String, Vec<String>> = HashMap::new();
        if let Some(df) = read::table(dir, "deduction_details")? {
            let r = Rows::load(&df, |_, _, i| i.to_string())?;
            for i in 0..df.height() {
                let text = ["package_id", "deducted", "original_usage", "coefficient"]
                    .iter()
                    .map(|c| r.get(c, i).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("/");
                draws
                    .entry(r.get("usage_id", i).unwrap_or("").to_string())
                    .or_default()
                    .push(text);
            }
        }
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
            lines,
            draws,
            packages,
        })
    }
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

/// Compares two output directories.
pub fn compare(old_dir: &Path, new_dir: &Path) -> Result<Report> {
    let old = Snapshot::load(old_dir)?;
    let new = Snapshot::load(new_dir)?;
    let from = old.window.start.max(new.window.start);
    let to = old.window.as_of.min(new.window.as_of);
    let catalog_changed = old.manifest.catalog_sha256 != new.manifest.catalog_sha256;
    let old_usage: HashSet<&str> = (0..old.lines.cells.first().map_or(0, Vec::len))
        .filter_map(|i| old.lines.get("usage_id", i))
        .collect();
    let closed = |w: &Window, m: &str| Month::parse(m).is_some_and(|m| w.month_complete(m));

    // ----- lines
    let mut rows = Vec::new();
    let mut keys: BTreeSet<&String> = old.lines.by_key.keys().collect();
    keys.extend(new.lines.by_key.keys());
    for key in keys {
        let o = old.lines.by_key.get(key).copied();
        let n = new.lines.by_key.get(key).copied();
        // Use whichever side has the row for its descriptive columns.
        let (side, i) = match (o, n) {
            (_, Some(i)) => (&new.lines, i),
            (Some(i), None) => (&old.lines, i),
            (None, None) => continue,
        };
        let Some(start) = side.starts.get(i).copied().flatten() else {
            continue;
        };
        if start < from || start >= to {
            continue;
        }
        let (change, columns) = match (o, n) {
            (Some(a), Some(b)) => {
                let cols = differing(&old.lines, a, &new.lines, b);
                if cols.is_empty() {
                    continue;
                }
                ("changed", cols.join(","))
            }
            (None, Some(_)) => ("added", String::new()),
            _ => ("removed", String::new()),
        };
        let usage_id = side.get("usage_id", i).map(String::from);
        let kind = side.get("charge_kind", i).unwrap_or("");
        let drew_differently = usage_id.as_deref().is_some_and(|u| {
            let (a, b) = (old.draws.get(u), new.draws.get(u));
            a != b
                || a.into_iter().chain(b).flatten().any(|d| {
                    let pkg = d.split('/').next().unwrap_or("");
                    old.packages.get(pkg) != new.packages.get(pkg)
                })
        });
        let price_differs = match (o, n) {
            (Some(a), Some(b)) => old.lines.get("unit_price", a) != new.lines.get("unit_price", b),
            _ => false,
        };
        let reason = if kind == "refund" {
            "refund"
        } else if change == "added"
            && usage_id.as_deref().is_some_and(|u| !old_usage.contains(u))
            && old.window.contains(start)
        {
            "late_usage"
        } else if drew_differently {
            "package_change"
        } else if catalog_changed && price_differs {
            "catalog_change"
        } else {
            change
        };
        let month = Month::of(start).to_string();
        rows.push(DiffRow {
            table: "bill_lines",
            key: key.clone(),
            closed_in_old: closed(&old.window, &month),
            month,
            owner_uin: side.get("owner_uin", i).unwrap_or("").to_string(),
            product: side.get("product", i).unwrap_or("").to_string(),
            usage_id,
            change,
            reason,
            old_amount: o.and_then(|a| old.lines.dec("amount", a)),
            new_amount: n.and_then(|b| new.lines.dec("amount", b)),
            delta: n
                .and_then(|b| new.lines.dec("amount", b))
                .unwrap_or_default()
                - o.and_then(|a| old.lines.dec("amount", a))
                    .unwrap_or_default(),
            columns,
        });
    }

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
            delta: new_amount.unwrap_or_default() - old_amount.unwrap_or_default(),
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

/// Columns present in both tables whose values differ between two rows.
fn differing(a: &Rows, i: usize, b: &Rows, j: usize) -> Vec<String> {
    a.cols
        .iter()
        .filter(|c| b.cols.contains(c))
        .filter(|c| a.get(c, i) != b.get(c, j))
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
        let delta: Decimal = rows.iter().map(|x| x.delta).sum();
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
        e.0 += x.delta;
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
                x.delta,
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
    let report = compare(&args.old, &args.new)?;
    let text = summary(&args.old, &args.new, &report);
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.new));
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
