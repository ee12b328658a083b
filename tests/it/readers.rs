//! Reader conformance (docs/contract.md, Partitions): every output table of a run on
//! `sample_data/`, its FOCUS export and its reconciliation against `sample_data/issued/`
//! (`reconciliation`, `reconciliation_summary`) open in pyarrow (`pq.read_table` and `pyarrow.dataset`
//! with Hive partitioning), pandas, polars and DuckDB, with the manifest's row counts, decimals
//! as decimals and instants as UTC timestamps; the README's "Reading the output" snippets run
//! too. The readers are Python packages: `tests/readers/check.py` runs in the virtual
//! environment `.ci/run` creates (`RECKON_READERS_PYTHON`, else `~/.cache/reckon-ci-venv`);
//! with `RECKON_READERS_SPARK=1` it reads them with Apache Spark too (`--spark`).
//! Without one the test says so on stderr, past the harness's capture, and passes; with one,
//! any reader error fails it.

use crate::common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of the readers' environment, or why there is none.
fn readers_python() -> Result<PathBuf, String> {
    match std::env::var("RECKON_READERS_PYTHON") {
        Ok(p) if p == "skip" => {
            Err("RECKON_READERS_PYTHON=skip (.ci/run could not create it)".into())
        }
        Ok(p) => Ok(PathBuf::from(p)),
        Err(_) => {
            let home = std::env::var("HOME").unwrap_or_default();
            let p = Path::new(&home).join(".cache/reckon-ci-venv/bin/python");
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!("no RECKON_READERS_PYTHON and no {}", p.display()))
            }
        }
    }
}

#[test]
fn every_output_table_and_the_focus_export_open_in_the_analysts_readers() {
    let python = match readers_python() {
        Ok(p) => p,
        Err(why) => {
            // Straight to the process's stderr: the harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED reader conformance (pyarrow, pandas, polars, DuckDB): {why}; \
                 run .ci/run to create the environment\n"
            );
            return;
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let (out, focus) = (tmp.path().join("out"), tmp.path().join("focus-out"));
    let sample = root.join("sample_data");
    let (code, err) = run_binary(&[
        "run",
        "--as-of",
        "2024-07-01",
        "--input",
        sample.to_str().unwrap(),
        "--catalog",
        sample.join("catalog.toml").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run_binary(&[
        "export",
        "focus",
        "--input",
        out.to_str().unwrap(),
        "--output",
        focus.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let rec = tmp.path().join("rec");
    let (code, err) = run_binary(&[
        "reconcile",
        sample.join("issued").to_str().unwrap(),
        out.to_str().unwrap(),
        "--output",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "the planted mistakes: {err}");
    // Spark too when the environment has it (`.ci/run` with RECKON_CI_SPARK=1): minutes more.
    let spark = std::env::var("RECKON_READERS_SPARK").is_ok_and(|v| v == "1");
    let run = Command::new(&python)
        .arg(root.join("tests/readers/check.py"))
        .args(spark.then_some("--spark"))
        .args(["--reconciliation", "rec"])
        .args(["out", "focus-out"])
        .arg(root.join("README.md"))
        .current_dir(tmp.path())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}{stderr}");
    // Every table of the manifest, the FOCUS dataset and the reconciliation was checked.
    let reconciliation = reckon::reconcile::TABLES.map(|t| t.name);
    for table in output_tables().chain(["focus"]).chain(reconciliation) {
        assert!(
            stdout.contains(&format!("ok  {table}:")),
            "{table}: {stdout}"
        );
    }
    assert!(stdout.contains("ok  README:"), "{stdout}");
}

/// The defect: `bills` files held `month`, also their `month=` partition key, and pyarrow and
/// pandas refused the table. Every partitioned table's files now hold no column named after
/// their partition key, and reckon's own reader still gives `bills.month`, from the path.
#[test]
fn bills_files_repeat_no_partition_key_and_month_comes_from_the_path() {
    let (_in, out) = run_dataset(&Dataset::valid(), "2024-06-01");
    let mut partitioned = 0;
    for table in output_tables() {
        let dir = out.path().join(table);
        for file in reckon::input::parquet_files(&dir).unwrap() {
            let keys = reckon::input::hive_values(&dir, &file);
            let df = reckon::input::read_parquet(&file).unwrap();
            for (key, _) in &keys {
                partitioned += 1;
                assert!(
                    !column_names(&df).contains(key),
                    "{}: holds its partition key `{key}`",
                    file.display()
                );
            }
        }
    }
    assert!(partitioned > 0, "no partitioned file written");
    let bills = read_table(out.path(), "bills");
    assert_eq!(column_names(&bills)[..3], ["month", "owner_uin", "product"]);
    let months = rows_text(&bills, &["month"]);
    assert!(
        !months.is_empty() && months.iter().all(|m| m.starts_with("2024-")),
        "{months:?}"
    );
}
