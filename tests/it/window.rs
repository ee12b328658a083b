//! Window invariance (docs/rules.md §8): state at the window start comes from replaying history, so
//! a day's detail rows do not depend on which run produced them. Runs as of D and as of D + 1 over
//! the same inputs give identical deduction details, bill lines and exceptions for every day both
//! windows cover, and the same bills for the months complete in both.

use crate::common::{
    catalog_path, column_names, out_dir, read_table, rows_text, run_binary, t, usage_cols,
};
use reckon::calendar::Ts;
use reckon::output::{frame, write_parquet};
use std::collections::HashSet;
use std::path::Path;

/// The rows of `table` whose `time_col` (UTC+8) is in `[from, to)`, as sorted text; rows with a
/// null time (findings not tied to an instant) are kept: both runs report them.
fn rows_between(out: &Path, table: &str, time_col: &str, from: Ts, to: Ts) -> Vec<String> {
    let df = read_table(out, table);
    let cols = column_names(&df);
    let times: Vec<Option<i64>> = df
        .column(time_col)
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .iter()
        .collect();
    let text = rows_text(&df, &cols.iter().map(|c| c.as_str()).collect::<Vec<_>>());
    let mut rows: Vec<String> = text
        .into_iter()
        .zip(times)
        .filter(|(_, at)| at.is_none_or(|at| from <= at && at < to))
        .map(|(r, _)| r)
        .collect();
    rows.sort();
    rows
}

fn run(input: &Path, out: &Path, as_of: &str) {
    let (code, err) = run_binary(&[
        "run",
        "--as-of",
        as_of,
        "--input",
        input.to_str().unwrap(),
        "--catalog",
        catalog_path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn runs_as_of_consecutive_days_agree_on_the_days_both_cover() {
    // Usage from 2024-02-16 to 2024-06-14 (> 3 months before either as-of date), every rule's
    // scenario accounts (packages of every kind, free quota, refunds, subscriptions) plus
    // generated ones. As of 05-31 the window starts 02-29 (clamped); as of 06-01 it starts 03-01
    // and a new month begins.
    let input = tempfile::tempdir().unwrap();
    let (code, err) = run_binary(&[
        "generate",
        "--accounts",
        "1",
        "--days",
        "120",
        "--end",
        "2024-06-15",
        "--scenarios",
        "--output",
        input.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Bad rows in the common days, before them and after them: exceptions to compare.
    let bad = [
        (
            "bad-1",
            "acct-x",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-02-29 07:00:00",
            "-5",
            "GB",
        ),
        (
            "bad-2",
            "acct-x",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-04-10 07:00:00",
            "-5",
            "GB",
        ),
        (
            "bad-3",
            "acct-x",
            "ap-mumbai",
            "eip",
            "public_traffic",
            "2024-04-11 07:00:00",
            "10",
            "GB",
        ),
        (
            "bad-4",
            "acct-x",
            "ap-mumbai",
            "eip",
            "public_traffic",
            "2024-05-31 07:00:00",
            "10",
            "GB",
        ),
    ];
    let cols = usage_cols(&bad);
    let mut df = frame(bad.len(), cols).unwrap();
    write_parquet(&input.path().join("usage/part-bad.parquet"), &mut df).unwrap();
    let (d, d1) = (out_dir(), out_dir());
    run(input.path(), d.path(), "2024-05-31");
    run(input.path(), d1.path(), "2024-06-01");

    // Both windows cover [2024-03-01, 2024-05-31).
    let (from, to) = (t("2024-03-01"), t("2024-05-31"));
    for (table, time_col) in [
        ("deduction_details", "usage_start"),
        ("bill_lines", "charge_start"),
        ("exceptions", "at"),
    ] {
        let a = rows_between(d.path(), table, time_col, from, to);
        let b = rows_between(d1.path(), table, time_col, from, to);
        assert!(!a.is_empty(), "{table}: no rows in the common days");
        if a != b {
            let (sa, sb): (HashSet<&String>, HashSet<&String>) =
                (a.iter().collect(), b.iter().collect());
            let only_a: Vec<_> = a.iter().filter(|r| !sb.contains(r)).take(5).collect();
            let only_b: Vec<_> = b.iter().filter(|r| !sa.contains(r)).take(5).collect();
            panic!(
                "{table}: {} vs {} rows; only as of 05-31: {only_a:#?}; only as of 06-01: {only_b:#?}",
                a.len(),
                b.len()
            );
        }
    }
    // Months complete in both runs have the same bills.
    let complete = |out: &Path| -> Vec<String> {
        let df = read_table(out, "bills");
        let cols = column_names(&df);
        let mut rows: Vec<String> =
            rows_text(&df, &cols.iter().map(|c| c.as_str()).collect::<Vec<_>>())
                .into_iter()
                .filter(|r| r.starts_with("2024-03|") || r.starts_with("2024-04|"))
                .collect();
        rows.sort();
        rows
    };
    let (a, b) = (complete(d.path()), complete(d1.path()));
    assert!(!a.is_empty(), "bills: none for 2024-03 and 2024-04");
    assert_eq!(a, b, "bills of the months complete in both runs");
}
