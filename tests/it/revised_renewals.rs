//! docs/rules.md §3.8 (revised: new), renewal of packages, end to end through the `reckon` binary:
//! the renewed expiry in deduction and `package_status`, the renewal's purchase line in
//! `bill_lines` and `bills`, the refusals and the automatic renewal without funds in
//! `exceptions`, and the optional `events` columns `price_paid` and `auto`.

use crate::common::*;
use reckon::output::{bool_col, dec_col, i32_col, str_col, ts_col};

/// A renewal event: (event_id, kind, target_id, UTC+8 at, months, price_paid, auto).
type R<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<i32>,
    Option<&'a str>,
    Option<bool>,
);

fn renewal_cols(rows: &[R]) -> Vec<polars::prelude::Column> {
    vec![
        str_col("event_id", rows.iter().map(|r| Some(r.0))),
        str_col("kind", rows.iter().map(|r| Some(r.1))),
        str_col("target_id", rows.iter().map(|r| Some(r.2))),
        ts_col("at", rows.iter().map(|r| Some(t(r.3)))),
        str_col("new_plan", rows.iter().map(|_| None)),
        i32_col("months", rows.iter().map(|r| r.4)),
        dec_col("price_paid", 8, rows.iter().map(|r| r.5.and_then(d))),
        bool_col("auto", rows.iter().map(|r| r.6)),
    ]
}

/// The valid dataset with `pkg-1` made a monthly periodic package of 5 GB per cycle,
/// `[2024-04-01, 2024-05-01)`: one cycle; the usage row `u-1` (10 GB, 2024-05-01 07:00) lies
/// after its expiry.
fn monthly_package(events: &[R]) -> Dataset {
    let mut ds = Dataset::valid();
    ds.set_col("packages", str_col("kind", [Some("periodic")].into_iter()))
        .set_col("packages", str_col("cycle", [Some("1mo")].into_iter()))
        .set_col(
            "packages",
            ts_col("expires_at", [Some(t("2024-05-01"))].into_iter()),
        );
    ds.tables.insert("events", renewal_cols(events));
    ds
}

fn exceptions(out: &std::path::Path) -> Vec<String> {
    let ex = read_table(out, "exceptions");
    rows_text(&ex, &["source_table", "source_id", "rule", "at"])
}

#[test]
fn revised_3_8_package_renewal_extends_validity_and_charges_a_purchase_line() {
    let renew = (
        "ren-1",
        "renew",
        "pkg-1",
        "2024-04-20 10:00:00",
        Some(1),
        Some("3.5"),
        Some(false),
    );
    let ds = monthly_package(&[renew]);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    // The hour after the original expiry draws a full cycle of the renewed month.
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(
            &details,
            &[
                "package_id",
                "usage_id",
                "cycle_start",
                "cycle_end",
                "remaining_before",
                "deducted",
                "remaining_after"
            ]
        ),
        ["pkg-1|u-1|2024-05-01 00:00:00+08:00|2024-06-01 00:00:00+08:00|5.000000000|5.000000000|0.000000000"]
    );
    let lines = read_table(out.path(), "bill_lines");
    let purchases: Vec<String> = rows_text(
        &lines,
        &[
            "line_id",
            "charge_kind",
            "product",
            "instance_id",
            "billing_item",
            "charge_start",
            "charged_at",
            "billable_quantity",
            "unit_price",
            "amount",
        ],
    )
    .into_iter()
    .filter(|l| l.contains("|purchase|"))
    .collect();
    assert_eq!(
        purchases,
        [
            "p:pkg-1|purchase|tp|pkg-1|package|2024-04-01 00:00:00+08:00|2024-04-01 00:00:00+08:00|1.000000000|3.75000000|3.75000000",
            "p:pkg-1:r:ren-1|purchase|tp|pkg-1|package|2024-04-20 10:00:00+08:00|2024-04-20 10:00:00+08:00|1.000000000|3.50000000|3.50000000",
        ]
    );
    let bills = read_table(out.path(), "bills");
    let tp: Vec<String> = rows_text(&bills, &["month", "product", "purchase_amount"])
        .into_iter()
        .filter(|b| b.contains("|tp|"))
        .collect();
    assert_eq!(tp, ["2024-04|tp|7.25000000"]);
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(
            &status,
            &[
                "package_id",
                "status",
                "expires_at",
                "cycles_total",
                "cycles_remaining",
                "invalid_at"
            ]
        ),
        ["pkg-1|expired|2024-06-01 00:00:00+08:00|2|0|2024-05-01 08:00:00+08:00"]
    );
    assert_eq!(exceptions(out.path()), Vec::<String>::new());
}

/// A run as of a date before the renewal does not see it: the package keeps its expiry and
/// no renewal line is charged.
#[test]
fn revised_3_8_a_run_before_the_renewal_does_not_see_it() {
    let renew = (
        "ren-1",
        "renew",
        "pkg-1",
        "2024-04-20 10:00:00",
        Some(1),
        Some("3.5"),
        None,
    );
    let ds = monthly_package(&[renew]);
    let (_i, out) = run_dataset(&ds, "2024-04-20");
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "status", "expires_at"]),
        ["pkg-1|valid|2024-05-01 00:00:00+08:00"]
    );
    let lines = read_table(out.path(), "bill_lines");
    let ids = rows_text(&lines, &["line_id"]);
    assert_eq!(ids, ["p:pkg-1"]);
}

/// Refused renewals change nothing and are `events` row exceptions: a total package, one at
/// the package's expiry, one without `months`, one with a negative `price_paid`; an upgrade of
/// a package is still no event of a package.
#[test]
fn revised_3_8_refused_renewals_are_event_exceptions() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "events",
        renewal_cols(&[
            (
                "total",
                "renew",
                "pkg-1",
                "2024-05-01 00:00:00",
                Some(1),
                Some("1"),
                None,
            ),
            (
                "late",
                "renew",
                "pkg-2",
                "2024-05-01 00:00:00",
                Some(1),
                Some("1"),
                None,
            ),
            (
                "no-months",
                "renew",
                "pkg-2",
                "2024-04-10 00:00:00",
                None,
                Some("1"),
                None,
            ),
            (
                "negative",
                "renew",
                "pkg-2",
                "2024-04-11 00:00:00",
                Some(1),
                Some("-1"),
                None,
            ),
            (
                "up",
                "upgrade",
                "pkg-2",
                "2024-04-12 00:00:00",
                None,
                None,
                None,
            ),
        ]),
    );
    // pkg-2: a monthly periodic package `[2024-04-01, 2024-05-01)`.
    let mut other = monthly_package(&[]);
    other.set_col(
        "packages",
        str_col("package_id", [Some("pkg-2")].into_iter()),
    );
    other.set_col(
        "package_scope",
        str_col("package_id", [Some("pkg-2")].into_iter()),
    );
    for table in ["packages", "package_scope"] {
        let cols = other.tables[table].clone();
        ds.append_rows(table, cols);
    }
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        exceptions(out.path()),
        [
            "events|late|renew_after_expiry|2024-05-01 00:00:00+08:00",
            "events|negative|value_out_of_range|2024-04-11 00:00:00+08:00",
            "events|no-months|missing_value|2024-04-10 00:00:00+08:00",
            "events|total|renew_not_allowed|2024-05-01 00:00:00+08:00",
            "events|up|invalid_event|2024-04-12 00:00:00+08:00",
        ]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "expires_at"]),
        [
            "pkg-1|2024-10-01 00:00:00+08:00",
            "pkg-2|2024-05-01 00:00:00+08:00"
        ]
    );
    let lines = read_table(out.path(), "bill_lines");
    let renewal_lines = rows_text(&lines, &["line_id"])
        .into_iter()
        .filter(|l| l.contains(":r:"))
        .count();
    assert_eq!(renewal_lines, 0);
}

/// An automatic renewal of 150 CNY charged while the balance was 96.25 (100 opening − 3.75 for
/// the package): applied as recorded (line, renewed expiry, arrears from its instant) and
/// reported. A manual renewal, also short of funds, is never reported.
#[test]
fn revised_3_8_auto_renewal_without_funds_is_applied_and_reported() {
    let ds = monthly_package(&[
        (
            "auto-1",
            "renew",
            "pkg-1",
            "2024-04-20 10:00:00",
            Some(1),
            Some("150"),
            Some(true),
        ),
        (
            "manual-1",
            "renew",
            "pkg-1",
            "2024-05-20 10:00:00",
            Some(1),
            Some("150"),
            Some(false),
        ),
    ]);
    let (_i, out) = run_dataset(&ds, "2024-07-01");
    let ex = read_table(out.path(), "exceptions");
    // The usage of May, in arrears since the renewal, is also reported (`usage_while_suspended`).
    let ex: Vec<String> = rows_text(&ex, &["source_table", "source_id", "rule", "at", "detail"])
        .into_iter()
        .filter(|e| e.starts_with("events|"))
        .collect();
    assert_eq!(
        ex,
        [
            "events|auto-1|auto_renew_without_funds|2024-04-20 10:00:00+08:00|automatic renewal of \
          package pkg-1 for 150.00000000 applied as recorded, though the balance before it was \
          96.25000000"
        ]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "expires_at"]),
        ["pkg-1|2024-07-01 00:00:00+08:00"]
    );
    let events = read_table(out.path(), "account_events");
    let arrears: Vec<String> = rows_text(&events, &["event", "at", "balance"])
        .into_iter()
        .filter(|e| e.starts_with("arrears_started"))
        .collect();
    assert_eq!(
        arrears,
        ["arrears_started|2024-04-20 10:00:00+08:00|-53.75000000"]
    );
}

/// docs/contract.md (revised): `price_paid` and `auto` are optional; an events file without them
/// reads as null, so a package renewal in it has no price and is refused, not charged 0.
#[test]
fn revised_3_8_events_without_the_optional_columns_read_as_null() {
    let mut ds = monthly_package(&[]);
    ds.tables.insert(
        "events",
        event_cols(&[(
            "ren-1",
            "renew",
            "pkg-1",
            "2024-04-20 10:00:00",
            None,
            Some(1),
        )]),
    );
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let ex = read_table(out.path(), "exceptions");
    assert_eq!(
        rows_text(&ex, &["source_id", "rule", "detail"]),
        ["ren-1|missing_value|renewal of package pkg-1 without price_paid"]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "expires_at"]),
        ["pkg-1|2024-05-01 00:00:00+08:00"]
    );
}

/// A refund request the sweep honours (a shared traffic package, not expired) ends the
/// package: a renewal after it is refused, though the inventory had no refund instant.
#[test]
fn revised_3_8_renewal_after_an_honoured_refund_request_is_refused() {
    let mut ds = monthly_package(&[(
        "ren-1",
        "renew",
        "pkg-1",
        "2024-04-20 10:00:00",
        Some(1),
        Some("3.5"),
        None,
    )]);
    let refund = renewal_cols(&[(
        "ref-1",
        "refund",
        "pkg-1",
        "2024-04-10 00:00:00",
        None,
        None,
        None,
    )]);
    ds.append_rows("events", refund);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        exceptions(out.path()),
        ["events|ren-1|renew_after_expiry|2024-04-20 10:00:00+08:00"]
    );
    let refunds = read_table(out.path(), "refunds");
    assert_eq!(
        rows_text(&refunds, &["event_id", "eligible", "amount"]),
        ["ref-1|true|3.75000000"]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "status", "expires_at"]),
        ["pkg-1|refunded|2024-05-01 00:00:00+08:00"]
    );
    let lines = read_table(out.path(), "bill_lines");
    assert!(rows_text(&lines, &["line_id"])
        .iter()
        .all(|l| !l.contains(":r:")));
}

/// A refund request refused (before the package was bought) leaves the package alive: the
/// renewal after it applies.
#[test]
fn revised_3_8_a_refused_refund_request_does_not_stop_a_renewal() {
    let mut ds = monthly_package(&[(
        "ren-1",
        "renew",
        "pkg-1",
        "2024-04-20 10:00:00",
        Some(1),
        Some("3.5"),
        None,
    )]);
    let refund = renewal_cols(&[(
        "ref-1",
        "refund",
        "pkg-1",
        "2024-03-20 00:00:00",
        None,
        None,
        None,
    )]);
    ds.append_rows("events", refund);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(exceptions(out.path()), Vec::<String>::new());
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "expires_at"]),
        ["pkg-1|2024-06-01 00:00:00+08:00"]
    );
}

/// Every table's rows, sorted, as text.
fn all_rows(out: &std::path::Path) -> Vec<(String, Vec<String>)> {
    output_tables()
        .map(|table| {
            let df = read_table(out, table);
            let cols = column_names(&df);
            let names: Vec<&str> = cols.iter().map(String::as_str).collect();
            let mut r = rows_text(&df, &names);
            r.sort();
            (table.to_string(), r)
        })
        .collect()
}

/// A renewal goes to its package's chunk: runs in chunks of one usage row and in two shards
/// give the single run's rows, renewals of two accounts' packages included.
#[test]
fn revised_3_8_renewals_are_chunked_with_their_package() {
    let mut ds = monthly_package(&[
        (
            "ren-1",
            "renew",
            "pkg-1",
            "2024-04-20 10:00:00",
            Some(1),
            Some("3.5"),
            Some(true),
        ),
        (
            "ren-2",
            "renew",
            "pkg-2",
            "2024-04-21 10:00:00",
            Some(2),
            Some("500"),
            Some(true),
        ),
    ]);
    // The second account, of the other shard of two than acct-1 (`shard.rs`: xxh3 mod N).
    let shard = |a: &str| xxhash_rust::xxh3::xxh3_64(a.as_bytes()) % 2;
    let acct = (2..)
        .map(|i| format!("acct-{i}"))
        .find(|a| shard(a) != shard("acct-1"))
        .unwrap();
    let acct = acct.as_str();
    let mut other = monthly_package(&[]);
    let one = |v: &str| str_col("x", [Some(v)].into_iter());
    let named = |name: &str, c: polars::prelude::Column| c.with_name(name.into());
    other
        .set_col("packages", named("package_id", one("pkg-2")))
        .set_col("packages", named("owner_uin", one(acct)))
        .set_col("package_scope", named("package_id", one("pkg-2")))
        .set_col("accounts", named("owner_uin", one(acct)));
    other.set_col(
        "usage",
        str_col("usage_id", [Some("v-1"), Some("v-2")].into_iter()),
    );
    other.set_col(
        "usage",
        str_col("owner_uin", [Some(acct), Some(acct)].into_iter()),
    );
    for table in ["packages", "package_scope", "accounts", "usage"] {
        let cols = other.tables[table].clone();
        ds.append_rows(table, cols);
    }
    let input = tempfile::tempdir().unwrap();
    ds.write(input.path());
    let run = |extra: &[&str]| {
        let out = out_dir();
        let mut args = vec![
            "run",
            "--as-of",
            "2024-06-01",
            "--input",
            input.path().to_str().unwrap(),
            "--output",
            out.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, err) = run_binary(&args);
        assert_eq!(code, 0, "{err}");
        out
    };
    let single = run(&[]);
    let want = all_rows(single.path());
    let ex = &want.iter().find(|(t, _)| t == "exceptions").unwrap().1;
    assert!(
        ex.iter()
            .any(|e| e.contains("ren-2|auto_renew_without_funds")),
        "{ex:?}"
    );
    assert_eq!(all_rows(run(&["--chunk-rows", "1"]).path()), want);
    let (a, b) = (run(&["--shard", "0/2"]), run(&["--shard", "1/2"]));
    let (ra, rb) = (all_rows(a.path()), all_rows(b.path()));
    // The two accounts fall in different shards: each shard bills one renewal.
    let renewals_in = |r: &[(String, Vec<String>)]| {
        (r.iter().find(|(t, _)| t == "bill_lines").unwrap().1.iter())
            .filter(|l| l.contains(":r:ren-"))
            .count()
    };
    assert_eq!((renewals_in(&ra), renewals_in(&rb)), (1, 1));
    for ((table, w), ((_, x), (_, y))) in want.iter().zip(ra.iter().zip(&rb)) {
        let mut union: Vec<String> = x.iter().chain(y).cloned().collect();
        union.sort();
        assert_eq!(&union, w, "{table}");
    }
}
