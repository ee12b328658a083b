//! The comparison of two outputs: the range both cover, their bill lines a bucket at a time
//! ([`super::lines`]), then their bills by key, each bill taking its lines' reason.
//!
//! Invariants: only what both outputs cover is compared — lines charged in the intersection of
//! their windows, bills of the months in both manifests; two outputs with no time in common are
//! refused rather than reported equal. The rows come out in the `diff` table's total order.

use super::buckets::{self, Buckets};
use super::lines::{compare_lines, LineCtx};
use super::reasons::{bill_reason, closed, first_by_bill};
use super::snapshot::{Rows, Snapshot};
use super::table::DiffRow;
use crate::calendar::{format_local, Ts, Window};
use crate::error::{Error, Result};
use crate::output::Table;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// Compares two output directories.
pub fn compare(old_dir: &Path, new_dir: &Path, opts: &Options) -> Result<Report> {
    let old = Snapshot::load(old_dir)?;
    let new = Snapshot::load(new_dir)?;
    let months: Vec<String> = old
        .manifest
        .months
        .iter()
        .filter(|m| new.manifest.months.contains(m))
        .cloned()
        .collect();
    let (from, to) = common_range(&old, &new, !months.is_empty(), [old_dir, new_dir])?;
    let catalog_changed = old.manifest.catalog_sha256 != new.manifest.catalog_sha256;
    let ctx = LineCtx {
        old_window: &old.window,
        packages: [&old.packages, &new.packages],
        from,
        to,
        catalog_changed,
    };
    let mut rows = compare_all_lines(&ctx, [&old, &new], opts)?;
    let bills = compare_bills(&old.bills, &new.bills, &old.window, &months, &rows);
    rows.extend(bills);
    rows.sort_by(DiffRow::sort_key_cmp);
    Ok(Report {
        rows,
        from,
        to,
        months,
        catalog_changed,
    })
}

/// The charge range `[from, to)` both windows cover; an error when that range is empty and no
/// bill month is in both (`common_month`): "no differences" would say more than was checked.
fn common_range(
    old: &Snapshot,
    new: &Snapshot,
    common_month: bool,
    dirs: [&Path; 2],
) -> Result<(Ts, Ts)> {
    let from = old.window.start.max(new.window.start);
    let to = old.window.as_of.min(new.window.as_of);
    if from >= to && !common_month {
        return Err(Error::Incomparable(format!(
            "{} and {} have no time in common: windows [{}, {}) and [{}, {}), no bill month in both",
            dirs[0].display(),
            dirs[1].display(),
            format_local(old.window.start),
            format_local(old.window.as_of),
            format_local(new.window.start),
            format_local(new.window.as_of),
        )));
    }
    Ok((from, to))
}

/// The line changes of both sides, compared a bucket at a time (split, and spilled when more
/// than one, the spill removed after).
fn compare_all_lines(ctx: &LineCtx, sides: [&Snapshot; 2], opts: &Options) -> Result<Vec<DiffRow>> {
    let n = buckets::count(sides, opts.bucket_rows)?;
    let spill = buckets::spill_dir(n, &opts.spill)?;
    let t = std::time::Instant::now();
    let at = spill.as_ref().map(|d| d.path());
    let (old_buckets, new_buckets) = rayon::join(
        || Buckets::split(sides[0], "old", n, at),
        || Buckets::split(sides[1], "new", n, at),
    );
    let (old_buckets, new_buckets) = (old_buckets?, new_buckets?);
    tracing::debug!(
        buckets = n,
        ms = t.elapsed().as_millis() as u64,
        "outputs split"
    );
    let mut rows = Vec::new();
    for b in 0..n {
        let (old_lines, new_lines) = rayon::join(
            || buckets::read_all(&old_buckets.lines[b]),
            || buckets::read_all(&new_buckets.lines[b]),
        );
        compare_lines(
            ctx,
            old_lines?,
            new_lines?,
            [&old_buckets.draws[b], &new_buckets.draws[b]],
            &mut rows,
        )?;
        tracing::debug!(bucket = b, of = n, changes = rows.len(), "bucket compared");
    }
    drop(spill);
    Ok(rows)
}

/// A `DiffRow` per bill of the `months` added, removed or changed between `old` and `new`, in
/// key order, each with the first reason of its changed `lines` (see [`bill_reason`]).
pub(super) fn compare_bills(
    old: &Rows,
    new: &Rows,
    old_window: &Window,
    months: &[String],
    lines: &[DiffRow],
) -> Vec<DiffRow> {
    let line_reason = first_by_bill(lines);
    let mut keys: BTreeSet<&String> = old.by_key.keys().collect();
    keys.extend(new.by_key.keys());
    let mut rows = Vec::new();
    for key in keys {
        let o = old.by_key.get(key).copied();
        let n = new.by_key.get(key).copied();
        let (side, i) = match (o, n) {
            (_, Some(i)) => (new, i),
            (Some(i), None) => (old, i),
            (None, None) => continue,
        };
        let month = side.get("month", i).unwrap_or("").to_string();
        if !months.contains(&month) {
            continue;
        }
        let (change, columns) = match (o, n) {
            (Some(a), Some(b)) => {
                let cols = old.differing(a, new, b);
                if cols.is_empty() {
                    continue;
                }
                ("changed", cols.join(","))
            }
            (None, Some(_)) => ("added", String::new()),
            _ => ("removed", String::new()),
        };
        let open_in_old_bill = o.is_some_and(|a| old.get("complete", a) == Some("false"));
        let closed_in_old = closed(old_window, &month);
        let lines = line_reason.get(key.as_str()).copied();
        rows.push(DiffRow {
            table: "bills",
            key: key.clone(),
            closed_in_old,
            owner_uin: side.get("owner_uin", i).unwrap_or("").to_string(),
            product: side.get("product", i).unwrap_or("").to_string(),
            usage_id: None,
            change,
            reason: bill_reason(lines, open_in_old_bill, closed_in_old, change),
            old_amount: o.and_then(|a| old.dec("total_amount", a)),
            new_amount: n.and_then(|b| new.dec("total_amount", b)),
            columns,
            month,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::super::lines::unequal;
    use super::*;
    use crate::output::{dec_col, frame, str_col};
    use polars::prelude::DataFrame;
    use rust_decimal::Decimal;
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
        let (a, b) = (Rows::bills(&old).unwrap(), Rows::bills(&new).unwrap());
        let (a0, b0) = (a.by_key["2024-05|a|"], b.by_key["2024-05|a|"]);
        let (a1, b1) = (a.by_key["2024-05|b|"], b.by_key["2024-05|b|"]);
        assert_eq!(a.differing(a0, &b, b0), Vec::<String>::new());
        assert_eq!(a.differing(a1, &b, b1), vec!["total_amount".to_string()]);
        let ne = unequal(
            old.column("total_amount").unwrap(),
            new.column("total_amount").unwrap(),
        )
        .unwrap();
        assert_eq!(ne, vec![false, true]);
        // Whole bills: only `b` changed, by one cent.
        let w = Window::new(chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
        let got = compare_bills(&a, &b, &w, &["2024-05".into()], &[]);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].key.as_str(), got[0].reason),
            ("2024-05|b|", "changed")
        );
        assert_eq!(got[0].delta(), Decimal::from_str("0.01").unwrap());
    }
}
