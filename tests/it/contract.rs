//! Contract validation: one test per error class, each asserting that the message names the
//! file, the column and the value; row-level problems land in `exceptions` with their rule code.

use crate::common::*;
use polars::prelude::*;
use reckon::output::{dec_col, str_col, ts_col};

fn run_err(ds: &Dataset) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = out_dir();
    ds.write(dir.path());
    let e = reckon::pipeline::run(&run_config(dir.path(), out.path(), "2024-06-01")).unwrap_err();
    assert_eq!(e.kind(), reckon::error::ErrorKind::Input, "{e}");
    e.to_string()
}

#[test]
fn missing_column_names_file_and_column() {
    let mut ds = Dataset::valid();
    ds.drop_col("usage", "quantity");
    let e = run_err(&ds);
    assert!(
        e.contains("usage/part-0.parquet") && e.contains("`quantity`") && e.contains("missing"),
        "{e}"
    );
}

#[test]
fn wrong_type_names_file_column_and_types() {
    let mut ds = Dataset::valid();
    ds.set_col("usage", Column::new("quantity".into(), [10.0f64, 2.0]));
    let e = run_err(&ds);
    assert!(
        e.contains("usage/part-0.parquet") && e.contains("`quantity`"),
        "{e}"
    );
    assert!(e.contains("f64") && e.contains("decimal"), "{e}");
}

#[test]
fn unknown_enum_names_file_column_row_and_value() {
    let mut ds = Dataset::valid();
    ds.set_col("packages", str_col("kind", [Some("weird")].into_iter()));
    let e = run_err(&ds);
    assert!(
        e.contains("packages/part-0.parquet") && e.contains("`kind`"),
        "{e}"
    );
    assert!(
        e.contains("`weird`") && e.contains("row 0") && e.contains("periodic"),
        "{e}"
    );
}

/// Every table's directory must exist, even a table with no rows (payments, subscriptions and
/// events were read as empty when missing: an export that did not land went unnoticed).
#[test]
fn a_missing_table_directory_is_an_input_error() {
    for table in reckon::input::TABLES {
        let dir = tempfile::tempdir().unwrap();
        Dataset::valid().write(dir.path());
        std::fs::remove_dir_all(dir.path().join(table)).unwrap();
        let out = out_dir();
        let e =
            reckon::pipeline::run(&run_config(dir.path(), out.path(), "2024-06-01")).unwrap_err();
        assert!(
            matches!(e, reckon::Error::MissingTable { table: ref t, .. } if t == table),
            "{table}: {e}"
        );
    }
    // An empty directory is an empty table.
    let dir = tempfile::tempdir().unwrap();
    Dataset::valid().write(dir.path());
    std::fs::remove_file(dir.path().join("events/part-0.parquet")).unwrap();
    let out = out_dir();
    reckon::pipeline::run(&run_config(dir.path(), out.path(), "2024-06-01")).unwrap();
}

#[test]
fn row_level_problems_become_exceptions_and_every_usage_row_is_accounted_for() {
    let mut ds = Dataset::valid();
    let h = |x: &str| Some(t(x));
    // duplicate id, negative quantity, unaligned hour, bad end, unknown unit.
    let extra = vec![
        str_col(
            "usage_id",
            ["u-1", "u-neg", "u-unaligned", "u-end", "u-unit"]
                .map(Some)
                .into_iter(),
        ),
        str_col("owner_uin", ["acct-1"; 5].map(Some).into_iter()),
        str_col("region", ["ap-guangzhou"; 5].map(Some).into_iter()),
        str_col("product", ["eip"; 5].map(Some).into_iter()),
        str_col("sub_product", ["eip"; 5].map(Some).into_iter()),
        str_col("instance_id", ["eip-1"; 5].map(Some).into_iter()),
        str_col("billing_item", ["public_traffic"; 5].map(Some).into_iter()),
        ts_col(
            "usage_start",
            [
                h("2024-05-02 07:00:00"),
                h("2024-05-02 07:00:00"),
                h("2024-05-02 07:30:00"),
                h("2024-05-02 07:00:00"),
                h("2024-05-02 07:00:00"),
            ]
            .into_iter(),
        ),
        ts_col(
            "usage_end",
            [
                h("2024-05-02 08:00:00"),
                h("2024-05-02 08:00:00"),
                h("2024-05-02 08:30:00"),
                h("2024-05-02 09:00:00"),
                h("2024-05-02 08:00:00"),
            ]
            .into_iter(),
        ),
        dec_col(
            "quantity",
            9,
            [d("1"), d("-1"), d("1"), d("1"), d("1")].into_iter(),
        ),
        str_col(
            "unit",
            [
                Some("GB"),
                Some("GB"),
                Some("GB"),
                Some("GB"),
                Some("bytes"),
            ]
            .into_iter(),
        ),
        str_col("direction", [None::<&str>; 5].into_iter()),
        reckon::output::bool_col("accelerated", [Some(false); 5].into_iter()),
    ];
    ds.append_rows("usage", extra);
    // A scope row for a package that does not exist, and a package that expires before it starts.
    ds.append_rows(
        "package_scope",
        vec![
            str_col("package_id", [Some("ghost")].into_iter()),
            str_col("product", [Some("eip")].into_iter()),
            str_col("billing_item", [Some("public_traffic")].into_iter()),
            dec_col("coefficient", 9, [d("1")].into_iter()),
        ],
    );
    let mut pk = ds.tables["packages"].clone();
    for c in pk.iter_mut() {
        let name = c.name().to_string();
        *c = match name.as_str() {
            "package_id" => str_col("package_id", [Some("pkg-bad")].into_iter()),
            "effective_at" => ts_col("effective_at", [h("2024-05-01")].into_iter()),
            "expires_at" => ts_col("expires_at", [h("2024-04-01")].into_iter()),
            _ => c.clone(),
        };
    }
    ds.append_rows("packages", pk);

    let dir = tempfile::tempdir().unwrap();
    let out = out_dir();
    ds.write(dir.path());
    let m = reckon::pipeline::run(&run_config(dir.path(), out.path(), "2024-06-01")).unwrap();
    let ex = read_table(out.path(), "exceptions");
    let rules: Vec<String> = ex
        .column("rule")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|r| r.unwrap().to_string())
        .collect();
    for rule in [
        "duplicate_usage_id",
        "negative_quantity",
        "unaligned_hour",
        "bad_usage_end",
        "unknown_unit",
        "unknown_package",
        "expiry_before_effect",
    ] {
        assert!(
            rules.contains(&rule.to_string()),
            "{rule} missing from {rules:?}"
        );
    }
    let details: Vec<String> = ex
        .column("detail")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("usage/part-0.parquet row 6") && d.contains("`bytes`")),
        "{details:?}"
    );
    // 7 usage rows read: 2 billed, 5 invalid; nothing vanished.
    let u = &m.usage;
    assert_eq!((u.read, u.invalid, u.billed), (7, 5, 2));
    assert_eq!(
        u.read,
        u.invalid + u.after_as_of + u.history_only + u.billed + u.unpriced
    );
}

#[test]
fn hive_partition_columns_fill_missing_string_columns() {
    let mut ds = Dataset::valid();
    ds.drop_col("usage", "region");
    let dir = tempfile::tempdir().unwrap();
    ds.write(dir.path());
    let usage = dir.path().join("usage");
    std::fs::create_dir_all(usage.join("region=ap-guangzhou")).unwrap();
    std::fs::rename(
        usage.join("part-0.parquet"),
        usage.join("region=ap-guangzhou/part-0.parquet"),
    )
    .unwrap();
    let out = out_dir();
    let m = reckon::pipeline::run(&run_config(dir.path(), out.path(), "2024-06-01")).unwrap();
    assert_eq!(m.usage.billed, 2);
    let lines = read_table(out.path(), "bill_lines");
    let regions = lines.column("region").unwrap().str().unwrap();
    assert!(regions.iter().all(|r| r == Some("ap-guangzhou")));
}

/// `source_table|source_id|rule` of each exception, `usage_while_suspended` left out.
fn findings_but_suspension(out: &std::path::Path) -> Vec<String> {
    let ex = read_table(out, "exceptions");
    rows_text(&ex, &["source_table", "source_id", "rule"])
        .into_iter()
        .filter(|r| !r.ends_with("|usage_while_suspended"))
        .collect()
}

/// An empty string is no value: an empty id, account or name is `missing_value` like a null
/// (read as a value, an empty usage owner would be billed and given arrears events, and an
/// empty event id would refund as line `r:`).
#[test]
fn empty_strings_are_missing_values() {
    let mut ds = Dataset::valid();
    ds.set_col(
        "usage",
        str_col("owner_uin", [Some("acct-1"), Some("")].into_iter()),
    );
    ds.set_col("packages", str_col("package_id", [Some("")].into_iter()));
    ds.tables.insert(
        "events",
        event_cols(&[("", "refund", "pkg-1", "2024-05-20 00:00:00", None, None)]),
    );
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        findings_but_suspension(out.path()),
        [
            "events||missing_value",
            // The package's scope then names no valid package.
            "package_scope|pkg-1/eip/public_traffic|unknown_package",
            "packages||missing_value",
            "usage|u-2|missing_value",
        ]
    );
    let ex = read_table(out.path(), "exceptions");
    let details = rows_text(&ex, &["detail"]);
    assert!(
        details
            .iter()
            .any(|d| d.contains("`owner_uin` is null or empty")),
        "{details:?}"
    );
    // Only u-1 is billed.
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(rows_text(&lines, &["usage_id"]), ["u-1"]);
}

/// Findings about subscriptions and events are standing state, found again by every day's
/// replay: reported however old. An hourly instance with no price since it started before the
/// window, and an upgrade refused before the window, were billed nothing without a word.
#[test]
fn old_findings_of_replayed_subscriptions_and_events_are_reported() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "subscriptions",
        subscription_cols(&[
            SubRow {
                id: "h-1",
                product: "apigw",
                plan: "gold",
                mode: "hourly",
                started: "2024-01-10 00:00:00",
                expires: None,
                list: "0",
                paid: "0",
                ..SubRow::default()
            },
            SubRow {
                id: "mp-1",
                started: "2024-01-01 00:00:00",
                expires: Some("2024-12-01 00:00:00"),
                list: "4999",
                paid: "54989",
                ..SubRow::default()
            },
        ]),
    );
    ds.tables.insert(
        "events",
        event_cols(&[(
            "e-up",
            "upgrade",
            "mp-1",
            "2024-02-01 00:00:00",
            Some("platinum"),
            None,
        )]),
    );
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    let found = findings_but_suspension(out.path());
    for want in ["subscriptions|h-1|no_price", "events|e-up|invalid_event"] {
        assert!(found.iter().any(|f| f == want), "{want} not in {found:?}");
    }
}

/// A package of a region the catalog does not know covers nothing: reported, still listed.
#[test]
fn packages_of_an_unknown_region_are_reported() {
    let mut ds = Dataset::valid();
    ds.set_col(
        "packages",
        str_col("region", [Some("ap-guangzou")].into_iter()),
    );
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        findings_but_suspension(out.path()),
        ["packages|pkg-1|unknown_region"]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "region"]),
        ["pkg-1|ap-guangzou"]
    );
    assert!(read_table(out.path(), "deduction_details").height() == 0);
}

/// An instant past what the calendar holds (`i64::MAX` µs as "never expires") stops the run
/// naming the file, the column, the row and the value, instead of failing later in a rule.
#[test]
fn timestamps_outside_years_1_to_9999_name_file_column_row_and_value() {
    let mut ds = Dataset::valid();
    ds.set_col(
        "packages",
        ts_col("expires_at", [Some(i64::MAX)].into_iter()),
    );
    let e = run_err(&ds);
    assert!(
        e.contains("packages/part-0.parquet") && e.contains("`expires_at`") && e.contains("row 0"),
        "{e}"
    );
    assert!(
        e.contains(&i64::MAX.to_string()) && e.contains("years 1 to 9999"),
        "{e}"
    );
}

/// Invalid rows of the tables replayed from all history are reported by every run, however old
/// (each one is missing from every day's replayed state); a usage row's exception only while
/// the row is in the window `[as-of − 3 months, as-of)`. A renewal's `months` is bounded.
#[test]
fn old_invalid_inventory_rows_are_reported_and_usage_rows_only_in_the_window() {
    let mut ds = Dataset::valid();
    let h = |x: &str| Some(t(x));
    // The account opened 2024-01-01, before the window (2024-03-01): its balance is missing.
    ds.set_col(
        "accounts",
        dec_col("opening_balance", 8, [None].into_iter()),
    );
    ds.tables.insert(
        "events",
        event_cols(&[
            (
                "e-1",
                "renew",
                "sub-1",
                "2024-05-10 00:00:00",
                None,
                Some(5_000_000),
            ),
            // `months` means nothing to a refund: 0 there is no error.
            (
                "e-2",
                "refund",
                "pkg-1",
                "2024-05-20 00:00:00",
                None,
                Some(0),
            ),
        ]),
    );
    // Negative quantities: before the window, in it, and at the as-of moment.
    let starts = [
        h("2024-02-01 07:00:00"),
        h("2024-05-02 07:00:00"),
        h("2024-06-01 00:00:00"),
    ];
    ds.append_rows(
        "usage",
        vec![
            str_col(
                "usage_id",
                ["u-old", "u-in", "u-as-of"].map(Some).into_iter(),
            ),
            str_col("owner_uin", ["acct-1"; 3].map(Some).into_iter()),
            str_col("region", ["ap-guangzhou"; 3].map(Some).into_iter()),
            str_col("product", ["eip"; 3].map(Some).into_iter()),
            str_col("sub_product", ["eip"; 3].map(Some).into_iter()),
            str_col("instance_id", ["eip-1"; 3].map(Some).into_iter()),
            str_col("billing_item", ["public_traffic"; 3].map(Some).into_iter()),
            ts_col("usage_start", starts.into_iter()),
            ts_col(
                "usage_end",
                starts
                    .map(|s| s.map(|s| s + reckon::calendar::HOUR))
                    .into_iter(),
            ),
            dec_col("quantity", 9, [d("-1"); 3].into_iter()),
            str_col("unit", ["GB"; 3].map(Some).into_iter()),
            str_col("direction", [None::<&str>; 3].into_iter()),
            reckon::output::bool_col("accelerated", [Some(false); 3].into_iter()),
        ],
    );
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    // (Without its opening balance the account starts at 0 — `unknown_account` says so — and
    // falls into arrears: its rows are then also `usage_while_suspended`.)
    assert_eq!(
        findings_but_suspension(out.path()),
        [
            "accounts|acct-1|missing_value",
            "accounts|acct-1|unknown_account",
            "events|e-1|value_out_of_range",
            "usage|u-in|negative_quantity",
        ]
    );
}

/// Nulls in columns the contract does not make nullable are `missing_value`, not read as
/// false, 0 or 1; quantities (10^16 GB), capacities and coefficients past what the arithmetic holds are
/// `value_out_of_range` (a capacity of 10^17 TB would overflow, and panic, in the first unit
/// conversion).
#[test]
fn nulls_where_the_contract_has_none_and_implausible_sizes_are_row_exceptions() {
    let mut ds = Dataset::valid();
    ds.set_col(
        "usage",
        reckon::output::bool_col("accelerated", [None, Some(false)].into_iter()),
    );
    let mut big = ds.tables["usage"].clone();
    for c in big.iter_mut() {
        let name = c.name().to_string();
        *c = match name.as_str() {
            "usage_id" => str_col("usage_id", ["u-big", "u-ok"].map(Some).into_iter()),
            "quantity" => dec_col("quantity", 9, [d("10000000000000000"), d("1")].into_iter()),
            "accelerated" => reckon::output::bool_col("accelerated", [Some(false); 2].into_iter()),
            _ => c.clone(),
        };
    }
    ds.append_rows("usage", big);
    // Packages: 10^17 TB, and a null `idle_only`.
    let one_package = ds.tables["packages"].clone();
    for (id, col) in [
        (
            "pkg-huge",
            dec_col("capacity", 9, [d("100000000000000000")].into_iter()),
        ),
        (
            "pkg-null",
            reckon::output::bool_col("idle_only", [None].into_iter()),
        ),
        // More voucher than price.
        (
            "pkg-voucher",
            dec_col("voucher_amount", 8, [d("5")].into_iter()),
        ),
    ] {
        let mut pk = one_package.clone();
        for c in pk.iter_mut() {
            let name = c.name().to_string();
            if name == "package_id" {
                *c = str_col("package_id", [Some(id)].into_iter());
            } else if name == col.name().as_str() {
                *c = col.clone();
            } else if name == "unit" {
                *c = str_col("unit", [Some("TB")].into_iter());
            }
        }
        ds.append_rows("packages", pk);
    }
    ds.append_rows(
        "package_scope",
        vec![
            str_col("package_id", [Some("pkg-1"); 2].into_iter()),
            str_col("product", [Some("apigw"), Some("clb")].into_iter()),
            str_col(
                "billing_item",
                [Some("calls"), Some("public_traffic")].into_iter(),
            ),
            // Over 10^4, and 0 (the package would cover any usage without running down).
            dec_col("coefficient", 9, [d("100000"), d("0")].into_iter()),
        ],
    );
    let sub = SubRow {
        started: "2024-05-01 10:00:00",
        expires: Some("2024-06-01 10:00:00"),
        ..SubRow::default()
    };
    // mp-1: attached_apps null; mp-2: a discount above 1; mp-3 released before it started;
    // mp-4 elastic switched off before on; mp-5 monthly without expiry.
    let mut subs = subscription_cols(&[
        sub.clone(),
        SubRow {
            id: "mp-2",
            discount: "1.5",
            ..sub.clone()
        },
        SubRow {
            id: "mp-3",
            released: Some("2024-04-30 10:00:00"),
            ..sub.clone()
        },
        SubRow {
            id: "mp-4",
            elastic_on: Some("2024-05-20 00:00:00"),
            elastic_off: Some("2024-05-10 00:00:00"),
            ..sub.clone()
        },
        SubRow {
            id: "mp-5",
            expires: None,
            ..sub
        },
    ]);
    subs[14] = reckon::output::i32_col(
        "attached_apps",
        [None, Some(0), Some(0), Some(0), Some(0)].into_iter(),
    );
    ds.tables.insert("subscriptions", subs);
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        findings_but_suspension(out.path()),
        [
            "package_scope|pkg-1/apigw/calls|value_out_of_range",
            "package_scope|pkg-1/clb/public_traffic|value_out_of_range",
            "packages|pkg-huge|value_out_of_range",
            "packages|pkg-null|missing_value",
            "packages|pkg-voucher|value_out_of_range",
            "subscriptions|mp-1|missing_value",
            "subscriptions|mp-2|value_out_of_range",
            "subscriptions|mp-3|release_before_start",
            "subscriptions|mp-4|elastic_off_before_on",
            "subscriptions|mp-5|missing_value",
            "usage|u-1|missing_value",
            "usage|u-big|value_out_of_range",
        ]
    );
    // The valid rows are billed as before.
    let lines = read_table(out.path(), "bill_lines");
    let ids = rows_text(&lines, &["usage_id"]);
    assert!(
        ids.contains(&"u-2".to_string()) && ids.contains(&"u-ok".to_string()),
        "{ids:?}"
    );
}

/// A zoned timestamp holds UTC instants whatever its zone (Arrow's and Parquet's "adjusted to
/// UTC"): a file DuckDB or Spark writes reads in polars as `+00:00`, another tool's may carry
/// `Asia/Shanghai`. Either gives the outputs of the same instants written as `UTC`.
#[test]
fn zoned_timestamps_are_read_as_the_instants_they_hold() {
    let ds = Dataset::valid();
    let (_in_utc, utc) = run_dataset(&ds, "2024-06-01");
    let a = tables(utc.path());
    assert!(a.len() >= 7, "{:?}", a.keys());
    // Zoned as DuckDB and Spark write them (`+00:00`) or in another zone; or naive, as DuckDB's
    // `TIMESTAMP` and polars' datetimes without a zone are written (read as UTC, with a warning).
    let zones: [fn(&str) -> Option<&'static str>; 2] = [
        |table| {
            Some(if table == "usage" {
                "Asia/Shanghai"
            } else {
                "+00:00"
            })
        },
        |_| None,
    ];
    for zone_of in zones {
        let mut zoned = Dataset::valid();
        let mut changed = 0;
        for (table, cols) in zoned.tables.iter_mut() {
            for c in cols.iter_mut() {
                if let DataType::Datetime(unit, _) = c.dtype() {
                    let tz = TimeZone::opt_try_new(zone_of(table)).unwrap();
                    let instants = c.datetime().unwrap().physical().clone();
                    *c = instants.into_datetime(*unit, tz).into_column();
                    changed += 1;
                }
            }
        }
        assert!(changed >= 5, "{changed} timestamp columns rezoned");
        let (_in_zoned, out) = run_dataset(&zoned, "2024-06-01");
        assert_eq!(
            a,
            tables(out.path()),
            "outputs differ ({:?})",
            zone_of("usage")
        );
    }
}
