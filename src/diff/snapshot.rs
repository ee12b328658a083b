//! One output as the diff reads it: its manifest and window, its bills as text rows by key, its
//! package inventory as text, and the files of its bill lines and draws (read later, a bucket at
//! a time, by [`super::buckets`]).
//!
//! Invariant: every table is checked against [`super::schema`] before any of it is read; a
//! missing manifest, `bills` or `bill_lines` table is bad input (a usage error).

use super::schema::{require_columns, BILL_COLUMNS, DRAW_COLUMNS, LINE_COLUMNS};
use crate::calendar::{parse_date, Window};
use crate::error::{Error, Result};
use crate::output::manifest::{self, Manifest};
use crate::output::read;
use polars::prelude::{DataFrame, DataType};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A table read back as text rows by key.
pub(super) struct Rows {
    cols: Vec<String>,
    /// Column-major text cells.
    cells: Vec<Vec<Option<String>>>,
    /// Per column: a decimal, compared by value (1.50 and 1.50000000 are equal).
    decimal: Vec<bool>,
    pub(super) by_key: HashMap<String, usize>,
}

impl Rows {
    pub(super) fn load(
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

    /// Bills keyed `month|owner_uin|product`.
    pub(super) fn bills(df: &DataFrame) -> Result<Rows> {
        Rows::load(df, |c, n, i| {
            format!(
                "{}|{}|{}",
                cell(c, n, "month", i),
                cell(c, n, "owner_uin", i),
                cell(c, n, "product", i)
            )
        })
    }

    fn is_decimal(&self, col: &str) -> bool {
        self.cols
            .iter()
            .position(|x| x == col)
            .is_some_and(|c| self.decimal[c])
    }

    pub(super) fn get(&self, col: &str, row: usize) -> Option<&str> {
        let c = self.cols.iter().position(|x| x == col)?;
        self.cells[c][row].as_deref()
    }

    pub(super) fn dec(&self, col: &str, row: usize) -> Option<Decimal> {
        self.get(col, row).and_then(|s| s.parse().ok())
    }

    /// Columns present in both tables whose values differ between row `i` of `self` and row
    /// `j` of `b`; decimals on both sides by value, whatever their scales (an output rewritten
    /// by another tool may hold `1.50` where reckon wrote `1.50000000`).
    pub(super) fn differing(&self, i: usize, b: &Rows, j: usize) -> Vec<String> {
        self.cols
            .iter()
            .filter(|c| b.cols.contains(c))
            .filter(|c| {
                if self.is_decimal(c) && b.is_decimal(c) {
                    self.dec(c, i) != b.dec(c, j)
                } else {
                    self.get(c, i) != b.get(c, j)
                }
            })
            .cloned()
            .collect()
    }
}

fn cell(cells: &[Vec<Option<String>>], cols: &[String], col: &str, row: usize) -> String {
    cols.iter()
        .position(|c| c == col)
        .and_then(|c| cells[c][row].clone())
        .unwrap_or_default()
}

/// One output as the diff needs it in memory: its manifest and its small tables. Its bill
/// lines and draws are read a bucket at a time ([`super::buckets::Buckets`]).
pub(super) struct Snapshot {
    pub(super) manifest: Manifest,
    pub(super) window: Window,
    pub(super) bills: Rows,
    /// package_id → its inventory attributes as text.
    pub(super) packages: HashMap<String, String>,
    /// The files of `bill_lines` and of `deduction_details`.
    pub(super) lines: Vec<PathBuf>,
    pub(super) draws: Vec<PathBuf>,
}

impl Snapshot {
    pub(super) fn load(dir: &Path) -> Result<Snapshot> {
        let manifest = manifest::read_verified(dir)?;
        let as_of = parse_date(&manifest.as_of_date).ok_or_else(|| Error::NotAnOutput {
            path: dir.join("_manifest.json"),
            message: format!("as_of_date `{}` is not YYYY-MM-DD", manifest.as_of_date),
        })?;
        let missing = |t: &str| Error::NotAnOutput {
            path: dir.to_path_buf(),
            message: format!("output table `{t}` is missing"),
        };
        require_columns(
            &files(dir, "bills")?.unwrap_or_default(),
            "bills",
            BILL_COLUMNS,
        )?;
        let bills = Rows::bills(&read::table(dir, "bills")?.ok_or_else(|| missing("bills"))?)?;
        let lines = files(dir, "bill_lines")?.ok_or_else(|| missing("bill_lines"))?;
        let draws = files(dir, "deduction_details")?.unwrap_or_default();
        require_columns(&lines, "bill_lines", LINE_COLUMNS)?;
        require_columns(&draws, "deduction_details", DRAW_COLUMNS)?;
        Ok(Snapshot {
            manifest,
            window: Window::new(as_of),
            bills,
            packages: packages(dir)?,
            lines,
            draws,
        })
    }
}

/// The paths of `table`'s files in the output `dir`; `None` when it has no such table.
fn files(dir: &Path, table: &str) -> Result<Option<Vec<PathBuf>>> {
    Ok(read::table_files(dir, table)?.map(|v| v.into_iter().map(|f| f.path).collect()))
}

/// package_id → its inventory attributes (kind, capacity, unit, region, validity) as one text,
/// from `package_status`; empty when the output has none.
fn packages(dir: &Path) -> Result<HashMap<String, String>> {
    let mut packages = HashMap::new();
    let Some(df) = read::table(dir, "package_status")? else {
        return Ok(packages);
    };
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
    Ok(packages)
}
