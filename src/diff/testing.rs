//! Test fixtures: small bill lines, draws and bills of two outputs, built in memory, and the
//! comparison run on them as `compare` runs it on one bucket.

use super::compare::compare_bills;
use super::lines::{compare_lines, LineCtx};
use super::snapshot::Rows;
use super::table::DiffRow;
use crate::calendar::{day_start_of_date, parse_date, Ts, Window};
use crate::output::{bool_col, dec_col, frame, str_col, ts_col};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

/// The instant a UTC+8 day `YYYY-MM-DD` starts.
pub fn ts(day: &str) -> Ts {
    day_start_of_date(parse_date(day).unwrap())
}

fn dec(s: &str) -> Option<Decimal> {
    Some(Decimal::from_str(s).unwrap())
}

/// A bill line of account `acct-1`, product `eip`.
#[derive(Debug, Clone)]
pub struct Line {
    id: &'static str,
    usage: Option<&'static str>,
    kind: &'static str,
    day: &'static str,
    unit_price: &'static str,
    amount: &'static str,
}

pub fn line(
    id: &'static str,
    usage: Option<&'static str>,
    kind: &'static str,
    day: &'static str,
    amount: &'static str,
) -> Line {
    Line {
        id,
        usage,
        kind,
        day,
        unit_price: "0.80",
        amount,
    }
}

/// A usage line `u:<usage>:<tier>` of 2024-05-10 at `unit_price`.
pub fn priced(id: &'static str, unit_price: &'static str, amount: &'static str) -> Line {
    Line {
        unit_price,
        ..line(id, id.split(':').nth(1), "usage", "2024-05-10", amount)
    }
}

/// One bucket's `bill_lines`.
pub fn lines(v: &[Line]) -> DataFrame {
    let s = |n, f: fn(&Line) -> &str| str_col(n, v.iter().map(|x| Some(f(x))));
    frame(
        v.len(),
        vec![
            s("line_id", |x| x.id),
            str_col("usage_id", v.iter().map(|x| x.usage)),
            s("charge_kind", |x| x.kind),
            s("owner_uin", |_| "acct-1"),
            s("product", |_| "eip"),
            ts_col("charge_start", v.iter().map(|x| Some(ts(x.day)))),
            dec_col("unit_price", 8, v.iter().map(|x| dec(x.unit_price))),
            dec_col("amount", 8, v.iter().map(|x| dec(x.amount))),
        ],
    )
    .unwrap()
}

/// A draw of `usage` on `package`: `deducted` of it, covering `covered` of the usage.
#[derive(Debug, Clone)]
pub struct Draw(&'static str, &'static str, &'static str, &'static str);

pub fn draw(
    usage: &'static str,
    package: &'static str,
    deducted: &'static str,
    covered: &'static str,
) -> Draw {
    Draw(usage, package, deducted, covered)
}

/// Two outputs around the lines: OLD as of 2024-06-15 (window from 2024-03-15), the compared
/// range `[from, to)`, each side's draws and package inventory.
pub struct Setup {
    pub old_window: Window,
    pub from: Ts,
    pub to: Ts,
    pub catalog_changed: bool,
    pub draws: [Vec<Draw>; 2],
    pub packages: [HashMap<String, String>; 2],
}

impl Default for Setup {
    fn default() -> Setup {
        let old_window = Window::new(parse_date("2024-06-15").unwrap());
        Setup {
            old_window,
            from: old_window.start,
            to: old_window.as_of,
            catalog_changed: false,
            draws: [Vec::new(), Vec::new()],
            packages: [HashMap::new(), HashMap::new()],
        }
    }
}

/// `draws` written as a `deduction_details` file in `dir`; none when there are none.
fn draw_files(dir: &std::path::Path, name: &str, draws: &[Draw]) -> Vec<PathBuf> {
    if draws.is_empty() {
        return Vec::new();
    }
    let s = |n, f: fn(&Draw) -> &str| str_col(n, draws.iter().map(|x| Some(f(x))));
    let mut df = frame(
        draws.len(),
        vec![
            s("usage_id", |x| x.0),
            s("package_id", |x| x.1),
            dec_col("deducted", 8, draws.iter().map(|x| dec(x.2))),
            dec_col("original_usage", 8, draws.iter().map(|x| dec(x.3))),
            dec_col("coefficient", 4, draws.iter().map(|_| dec("1"))),
        ],
    )
    .unwrap();
    let path = dir.join(format!("{name}.parquet"));
    crate::output::write_spill(&path, &mut df).unwrap();
    vec![path]
}

/// The rows `compare_lines` gives for one bucket of `old` and `new` lines under `setup`.
pub fn compare_lines_of(
    setup: &Setup,
    old: Option<DataFrame>,
    new: Option<DataFrame>,
) -> Vec<DiffRow> {
    let tmp = tempfile::tempdir().unwrap();
    let files = [
        draw_files(tmp.path(), "old", &setup.draws[0]),
        draw_files(tmp.path(), "new", &setup.draws[1]),
    ];
    let ctx = LineCtx {
        old_window: &setup.old_window,
        packages: [&setup.packages[0], &setup.packages[1]],
        from: setup.from,
        to: setup.to,
        catalog_changed: setup.catalog_changed,
    };
    let mut rows = Vec::new();
    compare_lines(&ctx, old, new, [&files[0], &files[1]], &mut rows).unwrap();
    rows
}

/// `bills` rows `(month, owner_uin, product, total_amount, complete)`.
pub fn bills(v: &[(&str, &str, &str, &str, bool)]) -> Rows {
    let df = frame(
        v.len(),
        vec![
            str_col("month", v.iter().map(|x| Some(x.0))),
            str_col("owner_uin", v.iter().map(|x| Some(x.1))),
            str_col("product", v.iter().map(|x| Some(x.2))),
            dec_col("total_amount", 8, v.iter().map(|x| dec(x.3))),
            bool_col("complete", v.iter().map(|x| Some(x.4))),
        ],
    )
    .unwrap();
    Rows::bills(&df).unwrap()
}

/// The bill rows `compare_bills` gives for `old` and `new` (OLD as of 2024-06-15) over
/// `months`, given the line changes `lines`.
pub fn compare_bills_of(
    old: &Rows,
    new: &Rows,
    months: &[&str],
    lines: &[DiffRow],
) -> Vec<DiffRow> {
    let w = Setup::default().old_window;
    let months: Vec<String> = months.iter().map(|m| m.to_string()).collect();
    compare_bills(old, new, &w, &months, lines)
}

/// A changed bill line of `month`, `owner` and `product` with `reason`.
pub fn row(month: &str, owner: &str, product: &str, reason: &'static str) -> DiffRow {
    DiffRow {
        table: "bill_lines",
        key: String::new(),
        month: month.into(),
        owner_uin: owner.into(),
        product: product.into(),
        usage_id: None,
        change: "changed",
        reason,
        closed_in_old: false,
        old_amount: None,
        new_amount: None,
        columns: String::new(),
    }
}

/// Each row as `table key month change reason delta [columns]`, the delta normalized.
pub fn brief(rows: &[DiffRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {} [{}]",
                r.table,
                r.key,
                r.month,
                r.change,
                r.reason,
                r.delta().normalize(),
                r.columns
            )
        })
        .collect()
}
