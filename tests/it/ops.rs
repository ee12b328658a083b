//! Operations: atomic publish under `kill -9`, idempotent reruns, the output lock, `reckon diff`
//! reason codes, the FOCUS 1.2 export's columns and types, and the syntax of `jobs/`.

use crate::common::*;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reckon"))
}

fn reckon<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let o = bin().args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// The arguments of a quiet `reckon run` of `input` as of `as_of` into `out` with the sample
/// catalog, `extra` options added.
fn run_args(input: &Path, out: &Path, as_of: &str, extra: &[&str]) -> Vec<String> {
    let catalog = catalog_path();
    let mut args: Vec<String> = ["-q", "run", "--as-of", as_of]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect();
    for (flag, path) in [
        ("--input", input),
        ("--catalog", &catalog),
        ("--output", out),
    ] {
        args.push(flag.into());
        args.push(path.to_str().unwrap().into());
    }
    args
}

fn run_to(input: &Path, out: &Path, as_of: &str) -> Duration {
    let started = Instant::now();
    let (code, _, err) = reckon(&run_args(input, out, as_of, &[]));
    assert_eq!(code, 0, "{err}");
    started.elapsed()
}

/// A copy of the output `src` as `dst`, each file of its `table` rewritten by `edit` (as
/// another tool might rewrite it).
fn rewritten(src: &Path, dst: &Path, table: &str, edit: impl Fn(DataFrame) -> DataFrame) {
    let copy = Command::new("cp")
        .args(["-r", src.to_str().unwrap(), dst.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    for f in reckon::input::parquet_files(&dst.join(table)).unwrap() {
        let df = reckon::input::read_parquet(&f).unwrap();
        ParquetWriter::new(std::fs::File::create(&f).unwrap())
            .finish(&mut edit(df))
            .unwrap();
    }
    // The manifest's hashes of the new files, as a tool rewriting an output would record them:
    // the output is then refused for what its tables hold, not for its changed bytes.
    let mut m = reckon::output::manifest::read(dst).unwrap();
    m.output_sha256 = reckon::output::manifest::hash_outputs(dst, &m.outputs).unwrap();
    reckon::output::manifest::write(dst, &m).unwrap();
}

/// Generated input of 2 accounts over 40 days in `dir/in` (13k usage rows: a debug run takes a
/// few tenths of a second, long enough to be killed in each of its stages).
fn generate_input(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    let (code, _, err) = reckon(&[
        "-q",
        "generate",
        "--accounts",
        "2",
        "--days",
        "40",
        "--seed",
        "11",
        "--output",
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    input
}

/// A complete output as the tests compare it: its manifest (the run's duration aside) and the
/// bytes of every table file.
#[derive(PartialEq)]
struct Output {
    manifest: serde_json::Value,
    files: BTreeMap<String, Vec<u8>>,
}

impl Output {
    fn as_of(&self) -> &str {
        self.manifest["as_of_date"].as_str().unwrap()
    }
}

/// The output in `out`, asserted complete: it has a manifest, its table files are exactly the
/// files the manifest lists, and each table has the rows the manifest counts.
fn complete_output(out: &Path) -> Output {
    let text = std::fs::read_to_string(out.join("_manifest.json")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest.as_object_mut().unwrap().remove("duration_ms");
    let files = tables(out);
    let mut listed = BTreeSet::new();
    for (table, written) in manifest["outputs"].as_object().unwrap() {
        let mut rows = 0;
        for f in written["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            assert!(files.contains_key(f), "{f} is listed but missing");
            rows += reckon::input::read_parquet(&out.join(f)).unwrap().height() as u64;
            listed.insert(f.to_string());
        }
        assert_eq!(Some(rows), written["rows"].as_u64(), "{table}");
    }
    let found: BTreeSet<String> = files.keys().cloned().collect();
    assert_eq!(found, listed, "the table files are the manifest's");
    Output { manifest, files }
}

/// The as-of date of the manifest in `out`, if it can be read (a test polls it during a run).
fn published_as_of(out: &Path) -> Option<String> {
    let text = std::fs::read_to_string(out.join("_manifest.json")).ok()?;
    let m: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(m["as_of_date"].as_str()?.to_string())
}

#[test]
fn kill_9_at_any_moment_leaves_the_old_or_the_new_complete_output() {
    const OLD: &str = "2024-06-20";
    const NEW: &str = "2024-07-01";
    let tmp = tempfile::tempdir().unwrap();
    let input = generate_input(tmp.path());
    let (ref_old, ref_new) = (tmp.path().join("ref-old"), tmp.path().join("ref-new"));
    run_to(&input, &ref_old, OLD);
    let took = run_to(&input, &ref_new, NEW);
    let (old, new) = (complete_output(&ref_old), complete_output(&ref_new));
    assert_eq!((old.as_of(), new.as_of()), (OLD, NEW));
    assert!(!old.files.is_empty() && old.files != new.files);

    let out = tmp.path().join("out");
    run_to(&input, &out, OLD);
    assert!(
        complete_output(&out) == old,
        "a rerun elsewhere gives the same manifest and byte-identical tables"
    );
    let spawn = || {
        bin()
            .args(run_args(&input, &out, NEW, &[]))
            .spawn()
            .unwrap()
    };
    let mut seen = BTreeSet::new();
    let mut observe = |trial: &str| {
        let now = complete_output(&out);
        assert!(
            now == old || now == new,
            "{trial}: the output is neither the old nor the new one"
        );
        seen.insert(now.as_of().to_string());
    };
    // Kills at once (before the run has done anything), then one at a deterministic moment in
    // each quarter of the run's duration (its last a little beyond, where a slower run may be
    // publishing).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for trial in 0..5 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let frac = match trial {
            0 => 0.0,
            k => (k as f64 - 1.0 + (x % 1000) as f64 / 1000.0) / 4.0,
        };
        let delay = took.mul_f64(frac * 1.1);
        let mut child = spawn();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        observe(&format!("trial {trial} (killed after {delay:?})"));
    }
    // A kill as soon as the new output is published, while the run may still be removing the
    // output it replaced.
    let mut child = spawn();
    while published_as_of(&out).as_deref() != Some(NEW) && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    observe("killed once published");
    let seen: Vec<_> = seen.into_iter().collect();
    assert_eq!(seen, [OLD, NEW], "kills before and after the publish");

    // A rerun to completion (cleaning what killed runs left) publishes the new output, and a
    // second rerun of the same as-of date replaces it with byte-identical tables.
    for _ in 0..2 {
        run_to(&input, &out, NEW);
        assert!(complete_output(&out) == new);
    }
    let side = tmp.path().join(".out.reckon");
    let leftovers: Vec<_> = std::fs::read_dir(&side)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("staging-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A run killed while its usage spill exists leaves it in the output's side directory, where
/// the next run removes it (not beside the output, where nothing would).
#[test]
fn the_spill_of_a_killed_run_is_removed_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = generate_input(tmp.path());
    let (out, side) = (tmp.path().join("out"), tmp.path().join(".out.reckon"));
    let args = run_args(&input, &out, "2024-07-01", &["--chunk-rows", "2000"]);
    let spills = || -> Vec<String> {
        [tmp.path(), side.as_path()]
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("reckon-spill-"))
            .collect()
    };
    let mut child = bin().args(&args).spawn().unwrap();
    let t = Instant::now();
    while spills().is_empty() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill(); // SIGKILL on Unix
    let _ = child.wait();
    assert!(!spills().is_empty(), "the run spilled before it was killed");
    let (code, _, err) = reckon(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(spills(), Vec::<String>::new());
}

#[test]
fn a_second_run_on_a_locked_output_is_refused_with_exit_code_2() {
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let held = reckon::output::publish::Publish::begin(&out, None).unwrap();
    let (code, _, err) = reckon(&[
        "run",
        "--as-of",
        "2024-06-01",
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("busy") && err.contains("another reckon run"),
        "{err}"
    );
    assert!(!out.exists(), "a refused run writes nothing");
    drop(held);
    let (code, _, err) = reckon(&[
        "-q",
        "run",
        "--as-of",
        "2024-06-01",
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
}

/// Runs a dataset into `dir/name` (with an optional catalog text) for as-of 2024-06-01.
fn run_ds(ds: &Dataset, dir: &Path, name: &str, catalog: Option<&str>) -> PathBuf {
    let input = dir.join(format!("{name}-in"));
    ds.write(&input);
    if let Some(text) = catalog {
        std::fs::write(input.join("catalog.toml"), text).unwrap();
    }
    let out = dir.join(name);
    let (code, _, err) = reckon(&[
        "-q",
        "run",
        "--as-of",
        "2024-06-01",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    out
}

fn diff_rows(dir: &Path) -> Vec<String> {
    let df = read_table(dir, "diff");
    rows_text(
        &df,
        &["table", "key", "change", "reason", "closed_in_old", "delta"],
    )
}

/// The diff of `old` and `new` compared a few lines at a time (many buckets, spilled) has the
/// same rows, every column, as the one in `whole` (one bucket).
fn assert_bucketed_diff_is_the_same(old: &Path, new: &Path, whole: &Path) {
    let bucketed = whole.with_extension("bucketed");
    let (code, stdout, err) = reckon(&[
        "-v",
        "diff",
        "--bucket-rows",
        "1",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--output",
        bucketed.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{err}");
    let buckets: usize = err
        .split("buckets=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the split is logged");
    assert!(buckets > 1, "{err}");
    let all = |d: &Path| {
        let df = read_table(d, "diff");
        let cols: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        rows_text(&df, &cols)
    };
    let want = all(whole);
    assert!(!want.is_empty());
    assert_eq!(all(&bucketed), want);
    // The spill is gone; only the table and the summary are left.
    let mut left: Vec<String> = std::fs::read_dir(&bucketed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["diff", "summary.txt"]);
}

#[test]
fn diff_finds_a_planted_late_usage_row_and_a_planted_price_change() {
    let tmp = tempfile::tempdir().unwrap();
    let base = Dataset::valid();
    let old = run_ds(&base, tmp.path(), "old", None);

    let diff = |a: &Path, b: &Path, name: &str| {
        reckon(&[
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--output",
            tmp.path().join(name).to_str().unwrap(),
        ])
    };

    // Same inputs: no differences, exit 0.
    let same = run_ds(&base, tmp.path(), "same", None);
    let (code, stdout, err) = diff(&old, &same, "d0");
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("no differences"), "{stdout}");

    // Windows with no time in common: nothing to compare is an error, not "no differences".
    let later = tmp.path().join("later");
    run_to(&tmp.path().join("old-in"), &later, "2025-01-01");
    let (code, stdout, err) = diff(&old, &later, "d-none");
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(err.contains("no time in common"), "{err}");

    // An output table without a column the comparison reads: refused (bad input, exit 2), not
    // bills skipped unseen under empty keys, nor an internal error in the middle.
    for (table, col) in [("bills", "owner_uin"), ("bill_lines", "amount")] {
        let bare = tmp.path().join(format!("bare-{table}"));
        rewritten(&same, &bare, table, |df| df.drop(col).unwrap());
        let (code, stdout, err) = diff(&old, &bare, &format!("d-bare-{table}"));
        assert_eq!(code, 2, "{table}: {stdout}{err}");
        assert!(
            err.contains(&format!("missing required column `{col}`")),
            "{err}"
        );
    }
    // A column of a type the comparison cannot read (amounts rewritten as floats by another
    // tool): refused the same way, naming the column and its type.
    let floats = tmp.path().join("float-amounts");
    rewritten(&same, &floats, "bill_lines", |df| {
        let amount = df
            .column("amount")
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap();
        let mut df = df.drop("amount").unwrap();
        df.with_column(amount).unwrap();
        df
    });
    let (code, stdout, err) = diff(&old, &floats, "d-float-amounts");
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains(
            "column `amount` of output table `bill_lines` has type f64, the contract requires \
             a decimal"
        ),
        "{err}"
    );

    // Late usage: an EIP hour of 2024-05-10 (a month closed in OLD) that arrived after OLD ran.
    let mut late = Dataset::valid();
    late.append_rows(
        "usage",
        usage_cols(&[(
            "u-late",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-10 10:00:00",
            "2",
            "GB",
        )]),
    );
    let new = run_ds(&late, tmp.path(), "late", None);
    let d1 = tmp.path().join("d1");
    let (code, stdout, err) = reckon(&[
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--output",
        d1.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(
        stdout.contains("restatements of closed months: 1"),
        "{stdout}"
    );
    let rows = diff_rows(&d1);
    assert_bucketed_diff_is_the_same(&old, &new, &d1);
    // The package had 5 GB, 10 GB were used on 05-01: the late 2 GB are all pay-as-you-go.
    assert!(
        rows.contains(&"bill_lines|u:u-late|added|late_usage|true|1.60000000".to_string())
            || rows
                .iter()
                .any(|r| r.contains("|added|late_usage|true|1.60000000")),
        "{rows:#?}"
    );
    assert!(
        rows.contains(&"bills|2024-05|acct-1|eip|changed|late_usage|true|1.60000000".to_string()),
        "{rows:#?}"
    );
    let (code, _, _) = reckon(&[
        "diff",
        "--closed-only",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--output",
        d1.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 1,
        "a restatement of a closed month fails --closed-only"
    );

    // Price change: EIP traffic in ap-guangzhou 0.80 → 0.90 per GB.
    let text = std::fs::read_to_string(catalog_path()).unwrap();
    let at = text.find("billing_item = \"public_traffic\"").unwrap();
    let changed = text[..at].to_string()
        + &text[at..].replacen("unit_price = \"0.80\"", "unit_price = \"0.90\"", 1);
    assert_ne!(text, changed);
    let priced = run_ds(&base, tmp.path(), "priced", Some(&changed));
    let d2 = tmp.path().join("d2");
    let (code, stdout, err) = reckon(&[
        "diff",
        old.to_str().unwrap(),
        priced.to_str().unwrap(),
        "--output",
        d2.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.contains("catalog: changed"), "{stdout}");
    let rows = diff_rows(&d2);
    assert_bucketed_diff_is_the_same(&old, &priced, &d2);
    // 10 GB − 5 GB from the package = 5 GB at +0.10.
    assert!(
        rows.iter().any(|r| r.starts_with("bill_lines|")
            && r.ends_with("|changed|catalog_change|true|0.50000000")),
        "{rows:#?}"
    );
    assert!(
        rows.contains(
            &"bills|2024-05|acct-1|eip|changed|catalog_change|true|0.50000000".to_string()
        ),
        "{rows:#?}"
    );

    // Bad input: not an output → 2.
    let (code, _, err) = reckon(&["diff", tmp.path().to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

/// FOCUS 1.2 columns the export must carry, with their data types (from the specification:
/// Mandatory columns, and the Conditional ones that apply to reckon's data).
const FOCUS_COLUMNS: [(&str, &str); 33] = [
    ("BilledCost", "Decimal"),
    ("BillingAccountId", "String"),
    ("BillingAccountName", "String"),
    ("BillingCurrency", "String"),
    ("BillingPeriodEnd", "DateTime"),
    ("BillingPeriodStart", "DateTime"),
    ("ChargeCategory", "String"),
    ("ChargeClass", "String"),
    ("ChargeDescription", "String"),
    ("ChargeFrequency", "String"),
    ("ChargePeriodEnd", "DateTime"),
    ("ChargePeriodStart", "DateTime"),
    ("CommitmentDiscountCategory", "String"),
    ("CommitmentDiscountId", "String"),
    ("CommitmentDiscountName", "String"),
    ("CommitmentDiscountStatus", "String"),
    ("CommitmentDiscountType", "String"),
    ("ConsumedQuantity", "Decimal"),
    ("ConsumedUnit", "String"),
    ("ContractedCost", "Decimal"),
    ("ContractedUnitPrice", "Decimal"),
    ("EffectiveCost", "Decimal"),
    ("InvoiceIssuerName", "String"),
    ("ListCost", "Decimal"),
    ("ListUnitPrice", "Decimal"),
    ("PricingQuantity", "Decimal"),
    ("PricingUnit", "String"),
    ("ProviderName", "String"),
    ("PublisherName", "String"),
    ("RegionId", "String"),
    ("ResourceId", "String"),
    ("ServiceCategory", "String"),
    ("ServiceName", "String"),
];

const SERVICE_CATEGORIES: [&str; 19] = [
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
];

#[test]
fn focus_export_has_the_focus_columns_types_and_allowed_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ds(&Dataset::valid(), tmp.path(), "out", None);
    let focus = tmp.path().join("focus");
    let (code, _, err) = reckon(&[
        "-q",
        "export",
        "focus",
        "--input",
        out.to_str().unwrap(),
        "--output",
        focus.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // One file per file of bill_lines: same partition, same name.
    let files = |d: &Path| {
        let mut v: Vec<String> = reckon::input::parquet_files(d)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    };
    let want = files(&out.join("bill_lines"));
    assert!(!want.is_empty());
    assert_eq!(files(&focus.join("focus")), want);
    let df = read_table(&focus, "focus");
    let schema = df.schema();
    for (name, ty) in FOCUS_COLUMNS {
        let dt = schema
            .get(name)
            .unwrap_or_else(|| panic!("FOCUS column {name} missing"));
        let ok = match ty {
            "Decimal" => matches!(dt, DataType::Decimal(_, _)),
            "DateTime" => matches!(dt, DataType::Datetime(_, Some(tz)) if tz.as_str() == "UTC"),
            _ => matches!(dt, DataType::String | DataType::Null),
        };
        assert!(ok, "{name}: {dt} is not a FOCUS {ty}");
    }
    // Custom columns carry the x_ prefix.
    for c in df.get_column_names() {
        assert!(
            FOCUS_COLUMNS.iter().any(|(n, _)| *n == c.as_str())
                || c.starts_with("x_")
                || [
                    "CommitmentDiscountQuantity",
                    "CommitmentDiscountUnit",
                    "PricingCategory",
                    "RegionName",
                    "ResourceType",
                    "SkuId",
                    "SkuPriceId"
                ]
                .contains(&c.as_str()),
            "unexpected column {c}"
        );
    }
    let col = |c: &str| rows_text(&df, &[c]);
    for v in col("ChargeCategory") {
        assert!(
            ["Usage", "Purchase", "Tax", "Credit", "Adjustment"].contains(&v.as_str()),
            "{v}"
        );
    }
    for v in col("ChargeClass") {
        assert!(v.is_empty() || v == "Correction", "{v}");
    }
    for v in col("ServiceCategory") {
        assert!(SERVICE_CATEGORIES.contains(&v.as_str()), "{v}");
    }
    for v in col("BillingCurrency") {
        assert_eq!(v, "CNY");
    }
    // CommitmentDiscountStatus: null when the id is null; Used/Unused on Usage rows with an id.
    let rows = rows_text(
        &df,
        &[
            "CommitmentDiscountId",
            "CommitmentDiscountStatus",
            "ChargeCategory",
            "BilledCost",
            "x_UsageId",
        ],
    );
    let mut draws = 0;
    for r in &rows {
        let f: Vec<&str> = r.split('|').collect();
        if f[0].is_empty() {
            assert!(f[1].is_empty(), "{r}");
        } else if f[2] == "Usage" {
            assert!(f[1] == "Used" || f[1] == "Unused", "{r}");
            draws += 1;
            // The package covered 5 GB of u-1: billed through the package purchase, not here.
            assert_eq!((f[3], f[4]), ("0.00000000", "u-1"), "{r}");
        }
    }
    assert_eq!(draws, 1, "{rows:#?}");
    // BilledCost sums to the bill lines' amounts.
    let sum = |df: &DataFrame, c: &str| -> rust_decimal::Decimal {
        reckon::output::read::decimals(df, c)
            .unwrap()
            .into_iter()
            .flatten()
            .sum()
    };
    let lines = read_table(&out, "bill_lines");
    assert_eq!(sum(&df, "BilledCost"), sum(&lines, "amount"));
    assert!(sum(&lines, "amount") > rust_decimal::Decimal::ZERO);
    // The EIP row: 10 GB, 5 covered → 5 GB at 0.80 per GB.
    let eip = rows_text(
        &df,
        &[
            "x_UsageId",
            "CommitmentDiscountId",
            "PricingQuantity",
            "PricingUnit",
            "BilledCost",
            "ListUnitPrice",
        ],
    );
    assert!(
        eip.contains(&"u-1||5.000000000|GB|4.00000000|0.80000000".to_string()),
        "{eip:#?}"
    );
    // ConsumedQuantity counts each metered unit once: the billed part on the bill-line row, the
    // covered part on the draw row (u-1: 5 + 5 GB of 10; u-2: 20,000 calls).
    let mut consumed: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in rows_text(&df, &["x_UsageId", "ConsumedQuantity", "ConsumedUnit"]) {
        let f: Vec<&str> = r.split('|').collect();
        if !f[0].is_empty() {
            consumed
                .entry(f[0].to_string())
                .or_default()
                .push(format!("{} {}", f[1], f[2]));
        }
    }
    assert_eq!(
        consumed.into_iter().collect::<Vec<_>>(),
        vec![
            (
                "u-1".to_string(),
                vec!["5.000000000 GB".to_string(), "5.000000000 GB".to_string()]
            ),
            ("u-2".to_string(), vec!["20000.000000000 call".to_string()]),
        ]
    );
}

#[test]
fn jobs_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let cron = std::fs::read_to_string(root.join("crontab")).unwrap();
    let lines: Vec<&str> = cron
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && !l.contains('='))
        .collect();
    assert!(!lines.is_empty());
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert!(
            f.len() > 5,
            "crontab line needs 5 time fields and a command: {l}"
        );
        for t in &f[..5] {
            assert!(
                t.chars().all(|c| c.is_ascii_digit() || ",-*/".contains(c)),
                "bad time field {t} in {l}"
            );
        }
        assert!(l.contains("reckon"), "{l}");
    }
    let Ok(py) = Command::new("python3").arg("--version").output() else {
        eprintln!("note: python3 not found; skipping the Airflow DAG syntax check");
        return;
    };
    assert!(py.status.success());
    for entry in std::fs::read_dir(root.join("airflow")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "py") {
            let o = Command::new("python3")
                .args([
                    "-c",
                    "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])",
                ])
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
