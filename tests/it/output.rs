//! Writers: every table exists with its schema, partitioning by UTC+8 month, determinism.

use crate::common::*;
use polars::prelude::*;

fn run_into(input: &std::path::Path, out: &std::path::Path, threads: Option<usize>) {
    let mut cfg = run_config(input, out, "2024-06-01");
    cfg.threads = threads;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(4))
        .build()
        .unwrap();
    pool.install(|| reckon::pipeline::run(&cfg)).unwrap();
}

#[test]
fn every_table_is_written_with_its_schema_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    Dataset::valid().write(dir.path());
    let out = out_dir();
    run_into(dir.path(), out.path(), None);
    let names: Vec<&str> = output_tables().collect();
    assert_eq!(
        names,
        [
            "deduction_details",
            "bill_lines",
            "bills",
            "package_status",
            "account_events",
            "refunds",
            "exceptions"
        ],
        "the contract's tables"
    );
    for t in output_tables() {
        assert!(out.path().join(t).is_dir(), "{t} missing");
    }
    // The manifest counts rows per table and per `month=` partition; unpartitioned tables
    // have rows and no partitions.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("_manifest.json")).unwrap()).unwrap();
    for def in reckon::output::TABLES {
        let t = def.name;
        let w = &manifest["outputs"][t];
        let parts = w["partitions"].as_object().unwrap();
        if def.partition_by.is_none() {
            assert!(parts.is_empty(), "{t}: {parts:?}");
        } else {
            assert!(
                parts.keys().all(|k| k.starts_with("month=")),
                "{t}: {parts:?}"
            );
            let sum: u64 = parts.values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(sum, w["rows"].as_u64().unwrap(), "{t}");
        }
    }
    // Usage of 2024-05 lands in month=2024-05; empty tables still have a file with a schema.
    assert!(out
        .path()
        .join("bill_lines/month=2024-05/part-000-0000.parquet")
        .is_file());
    assert!(out
        .path()
        .join("deduction_details/month=2024-05/part-000-0000.parquet")
        .is_file());
    assert!(out
        .path()
        .join("refunds/month=2024-05/part-000-0000.parquet")
        .is_file());
    assert!(out
        .path()
        .join("package_status/part-000-0000.parquet")
        .is_file());
    let refunds = read_table(out.path(), "refunds");
    assert_eq!(refunds.height(), 0);
    assert_eq!(
        refunds.schema().get("amount"),
        Some(&DataType::Decimal(38, 8))
    );
    assert_eq!(
        refunds.schema().get("payable"),
        Some(&DataType::Decimal(38, 2))
    );
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        lines.schema().get("charge_start"),
        Some(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC)
        ))
    );
    assert_eq!(
        lines.schema().get("billable_quantity"),
        Some(&DataType::Decimal(38, 9))
    );
    assert_eq!(lines.schema().get("tier"), Some(&DataType::Int32));
    let bills = read_table(out.path(), "bills");
    assert_eq!(bills.schema().get("line_count"), Some(&DataType::Int64));
    assert_eq!(bills.schema().get("complete"), Some(&DataType::Boolean));
}

#[test]
fn a_usage_row_at_the_month_edge_is_partitioned_by_its_utc8_start() {
    // 2024-04-30 16:00 UTC = 2024-05-01 00:00 UTC+8 → month=2024-05.
    let mut ds = Dataset::valid();
    let s = t("2024-05-01 00:00:00");
    ds.set_col(
        "usage",
        reckon::output::ts_col(
            "usage_start",
            [Some(s), Some(s - reckon::calendar::HOUR)].into_iter(),
        ),
    );
    ds.set_col(
        "usage",
        reckon::output::ts_col(
            "usage_end",
            [Some(s + reckon::calendar::HOUR), Some(s)].into_iter(),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    ds.write(dir.path());
    let out = out_dir();
    run_into(dir.path(), out.path(), None);
    let may = read_table(&out.path().join("bill_lines"), "month=2024-05");
    let apr = read_table(&out.path().join("bill_lines"), "month=2024-04");
    let ids = |df: &DataFrame| -> Vec<String> {
        df.column("usage_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .map(String::from)
            .collect()
    };
    assert_eq!(ids(&may), ["u-1"]);
    // April also holds the package purchase line (no usage id).
    assert_eq!(ids(&apr), ["u-2"]);
}

#[test]
fn two_runs_and_thread_counts_give_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    Dataset::valid().write(dir.path());
    let (a, b) = (out_dir(), out_dir());
    run_into(dir.path(), a.path(), Some(1));
    run_into(dir.path(), b.path(), Some(3));
    // The manifest records duration and thread count; every table must match byte for byte.
    let (ta, tb) = (tables(a.path()), tables(b.path()));
    assert!(!ta.is_empty());
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(v == &tb[k], "{k} differs");
    }
}
