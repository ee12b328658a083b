//! `reckon reconcile` end to end on `sample_data/`: its issued table (`sample_data/issued/`,
//! `reckon generate --issued`) finds exactly the planted mistakes; the recomputed lines issued
//! as they are match; buckets change no row; bad issued tables stop with exit 2 naming the file,
//! column, row and value.

use crate::common::*;
use polars::prelude::*;
use reckon::output::{dec_col, frame, str_col, ts_col, write_parquet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

/// One run of `sample_data/` shared by the tests (read only).
fn sample_out() -> &'static Path {
    static OUT: OnceLock<OutDir> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = out_dir();
        let (code, err) = run_binary(&[
            "-q",
            "run",
            "--input",
            root().to_str().unwrap(),
            "--output",
            out.path().to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        out
    })
    .path()
}

/// `reckon reconcile ISSUED <sample run> --output <tmp> [extra]`: (exit code, stderr, output).
fn reconcile(issued: &Path, extra: &[&str]) -> (i32, String, OutDir) {
    let out = out_dir();
    let mut args = vec![
        "-q",
        "reconcile",
        issued.to_str().unwrap(),
        sample_out().to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--catalog",
    ];
    let catalog = catalog_path();
    args.push(catalog.to_str().unwrap());
    args.extend_from_slice(extra);
    let (code, err) = run_binary(&args);
    (code, err, out)
}

/// The rows of `reconciliation/` that are not a plain match, as `ids status cause`.
fn findings(out: &Path) -> Vec<String> {
    let df = read_table(out, "reconciliation");
    let cols = ["recomputed_line_ids", "issued_line_ids", "status", "cause"];
    rows_text(&df, &cols)
        .into_iter()
        .filter(|r| !r.ends_with("|match|"))
        .collect()
}

/// The issued table of `sample_data/` holds six planted platform mistakes: reconciliation finds
/// each, with its status and cause, and nothing else; one issued line lies outside the window.
#[test]
fn sample_data_issued_finds_exactly_the_planted_mistakes() {
    let (code, err, out) = reconcile(&root().join("issued"), &[]);
    assert_eq!(code, 1, "{err}");
    let mut got = findings(out.path());
    got.sort();
    let mut want = vec![
        "h:apigw-bl4s3jpu:000126|iss:h:apigw-bl4s3jpu:000126|amount_mismatch|unit_price",
        "u:scn-tier-4:1,u:scn-tier-4:2|iss:u:scn-tier-4:1|amount_mismatch|tier",
        "u:u00000017014:0|iss:u:u00000017014:0|quantity_mismatch|package_deduction",
        "u:u00000017034:0|iss:u:u00000017034:0,iss:u:u00000017034:0:again|quantity_mismatch|duplicate_issued",
        "u:u00000017040:0||missing_in_issued|",
        "u:u00000017092:0|iss:u:u00000017092:0|within_tolerance|rounding",
    ];
    want.sort();
    assert_eq!(got, want);
    let summary = std::fs::read_to_string(out.path().join("summary.txt")).unwrap();
    assert!(summary.contains("outside_window: 1\n"), "{summary}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("_manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["outside_window"], 1);
    assert_eq!(m["keys_mismatched"], 5);
    assert_eq!(m["issued"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["recomputed_manifest_sha256"].as_str().unwrap().len(), 64);
}

/// The recomputed lines issued as they are (zero keys left out, as platforms do) match: exit 0,
/// every key `match`, and the summary's totals are the lines'.
#[test]
fn the_recomputed_lines_themselves_match() {
    let tmp = tempfile::tempdir().unwrap();
    let planted =
        reckon::generate::issued::write(sample_out(), &catalog_path(), tmp.path(), false).unwrap();
    assert!(planted.is_empty());
    let (code, err, out) = reconcile(&tmp.path().join("issued"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(findings(out.path()).is_empty());
    let sums = read_table(out.path(), "reconciliation_summary");
    let total = |c: &str| -> rust_decimal::Decimal {
        reckon::output::read::decimals(&sums, c)
            .unwrap()
            .into_iter()
            .flatten()
            .sum()
    };
    let lines = read_table(sample_out(), "bill_lines");
    let billed: rust_decimal::Decimal = reckon::output::read::decimals(&lines, "amount")
        .unwrap()
        .into_iter()
        .flatten()
        .sum();
    assert_eq!(total("issued_total"), billed);
    assert_eq!(total("recomputed_total"), billed);
    assert_eq!(total("overcharged") + total("undercharged"), 0.into());
}

/// Split into many buckets of accounts (spilled), the reconciliation has the same rows in the
/// same order: each partition stays in key order across its files.
#[test]
fn buckets_change_no_row() {
    let issued = root().join("issued");
    let (c1, e1, one) = reconcile(&issued, &[]);
    let (c2, e2, many) = reconcile(&issued, &["--bucket-rows", "15000"]);
    assert_eq!((c1, c2), (1, 1), "{e1}\n{e2}");
    for table in ["reconciliation", "reconciliation_summary"] {
        let a = read_table(one.path(), table);
        let b = read_table(many.path(), table);
        let cols = column_names(&a);
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        assert_eq!(rows_text(&a, &cols), rows_text(&b, &cols), "{table}");
    }
    let files = reckon::input::parquet_files(&many.path().join("reconciliation")).unwrap();
    assert!(files.len() > 3, "{files:?}");
}

/// An issued table of one row, `amount` as given.
fn one_row(dir: &Path, id: &str, kind: &str, amount: Column) {
    std::fs::create_dir_all(dir).unwrap();
    let s = |n: &str, v: &str| str_col(n, [Some(v)].into_iter());
    let at = t("2024-05-01 10:00:00");
    let mut df = frame(
        1,
        vec![
            s("issued_line_id", id),
            s("owner_uin", "scn-tier"),
            s("charge_kind", kind),
            s("product", "apigw"),
            s("sub_product", "shared-instance"),
            s("billing_item", "calls"),
            s("region", "ap-shanghai"),
            s("instance_id", "svc"),
            ts_col("charge_start", [Some(at)].into_iter()),
            ts_col(
                "charge_end",
                [Some(at + reckon::calendar::HOUR)].into_iter(),
            ),
            dec_col("quantity", 9, [d("1")].into_iter()),
            s("unit", "call"),
            amount,
        ],
    )
    .unwrap();
    write_parquet(&dir.join("part-0.parquet"), &mut df).unwrap();
}

/// Bad issued tables stop with exit 2, naming what is wrong: a repeated id (both places), a
/// float amount, an unknown charge kind, a ninth decimal in an amount, a missing directory, a
/// negative tolerance.
#[test]
fn bad_issued_tables_are_refused_naming_the_place() {
    let tmp = tempfile::tempdir().unwrap();
    let amount = |v: &str| dec_col("amount", 9, [d(v)].into_iter());
    type Make<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "repeat",
            Box::new(|p: &Path| {
                one_row(p, "x-1", "usage", amount("1"));
                std::fs::copy(p.join("part-0.parquet"), p.join("part-1.parquet")).unwrap();
            }),
            "`x-1` repeats the id of row 0",
        ),
        (
            "float",
            Box::new(|p: &Path| {
                let f = Column::new("amount".into(), [1.5f64]);
                one_row(p, "x-1", "usage", f)
            }),
            "column `amount` has type f64",
        ),
        (
            "kind",
            Box::new(|p: &Path| one_row(p, "x-1", "usage_fee", amount("1"))),
            "unknown value `usage_fee`",
        ),
        (
            "scale",
            Box::new(|p: &Path| one_row(p, "x-1", "usage", amount("0.123456789"))),
            "column `amount`, row 0",
        ),
    ];
    for (name, make, want) in cases {
        let dir = tmp.path().join(name);
        make(&dir);
        let (code, err, _) = reconcile(&dir, &[]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
    }
    let (code, err, _) = reconcile(&tmp.path().join("absent"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("input table `issued`"), "{err}");
    let (code, err, _) = reconcile(&root().join("issued"), &["--tolerance=-1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tolerance"), "{err}");
}

/// reckon's own FOCUS export, read as the issued side (`--issued-format focus`), reconciles with
/// the output it was exported from: every key matches.
#[test]
fn the_focus_export_of_an_output_matches_it() {
    let focus = out_dir();
    let (code, err) = run_binary(&[
        "-q",
        "export",
        "focus",
        "--input",
        sample_out().to_str().unwrap(),
        "--output",
        focus.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let issued = focus.path().join("focus");
    let (code, err, out) = reconcile(&issued, &["--issued-format", "focus"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        findings(out.path()).is_empty(),
        "{:?}",
        findings(out.path())
    );
}
