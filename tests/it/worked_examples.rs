//! docs/rules.md §9 worked examples, end to end through the `reckon` binary: every example, each
//! asserting the lines, rows or draws it names.

use crate::common::*;
use reckon::output::{bool_col, dec_col, str_col};

fn empty_packages(ds: &mut Dataset) {
    total_packages(ds, &[]);
}

#[test]
fn example_6_api_gateway_month_payable_45_26() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[
            (
                "c",
                "acct-1",
                "ap-guangzhou",
                "apigw",
                "calls",
                "2024-05-10 10:00:00",
                "5000000",
                "call",
            ),
            (
                "r",
                "acct-1",
                "ap-guangzhou",
                "apigw",
                "egress_traffic",
                "2024-05-10 10:00:00",
                "15000000",
                "KB",
            ),
            (
                "s",
                "acct-1",
                "ap-guangzhou",
                "apigw",
                "egress_traffic",
                "2024-05-10 10:00:00",
                "5000000",
                "KB",
            ),
        ]),
    );
    empty_packages(&mut ds);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(
            &lines,
            &[
                "line_id",
                "tier",
                "billable_quantity",
                "unit_price",
                "amount"
            ]
        ),
        [
            "u:c:1|1|5000000.000000000|0.06000000|30.00000000",
            "u:r:0||15000000.000000000|0.80000000|11.44409180",
            "u:s:0||5000000.000000000|0.80000000|3.81469727",
        ]
    );
    let bills = read_table(out.path(), "bills");
    assert_eq!(
        rows_text(
            &bills,
            &[
                "month",
                "product",
                "usage_amount",
                "total_amount",
                "payable",
                "line_count",
                "complete"
            ]
        ),
        ["2024-05|apigw|45.25878907|45.25878907|45.26|3|true"]
    );
}

#[test]
fn example_7_graduated_tiers_two_charge_parts() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[
            (
                "a",
                "acct-1",
                "ap-guangzhou",
                "apigw",
                "calls",
                "2024-05-01 10:00:00",
                "9990000",
                "call",
            ),
            (
                "b",
                "acct-1",
                "ap-shanghai",
                "apigw",
                "calls",
                "2024-05-01 11:00:00",
                "20000",
                "call",
            ),
        ]),
    );
    empty_packages(&mut ds);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(
            &lines,
            &[
                "line_id",
                "tier",
                "metered_quantity",
                "billable_quantity",
                "unit_price",
                "price_unit",
                "amount"
            ]
        ),
        [
            "u:a:1|1|9990000.000000000|9990000.000000000|0.06000000|10000 call|59.94000000",
            "u:b:1|1|20000.000000000|10000.000000000|0.06000000|10000 call|0.06000000",
            "u:b:2|2|0.000000000|10000.000000000|0.04000000|10000 call|0.04000000",
        ]
    );
}

#[test]
fn example_8_deduction_order_5_from_b_then_1_from_a() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[(
            "u",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-10 10:00:00",
            "6",
            "GB",
        )]),
    );
    total_packages(
        &mut ds,
        &[
            ("A", "acct-1", "3", "2024-01-01", "2024-07-01"),
            ("B", "acct-1", "5", "2024-01-01", "2024-06-01"),
        ],
    );
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let d = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(
            &d,
            &[
                "package_id",
                "remaining_before",
                "deducted",
                "remaining_after",
                "original_usage",
                "draw_seq"
            ]
        ),
        [
            "B|5.000000000|5.000000000|0.000000000|5.000000000|0",
            "A|3.000000000|1.000000000|2.000000000|1.000000000|1",
        ]
    );
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(
            &lines,
            &[
                "line_id",
                "metered_quantity",
                "deducted_quantity",
                "billable_quantity",
                "amount"
            ]
        ),
        ["u:u:0|6.000000000|6.000000000|0.000000000|0.00000000"]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(&status, &["package_id", "status", "total_remaining"]),
        // B expires at the as-of moment: `expired` outranks `exhausted` (§3.2 precedence).
        ["A|valid|2.000000000", "B|expired|0.000000000"]
    );
}

#[test]
fn example_10_eip_10_gb_in_guangzhou_is_8_00_at_08_00() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[(
            "e",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-10 07:00:00",
            "10",
            "GB",
        )]),
    );
    empty_packages(&mut ds);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(&lines, &["amount", "price_unit"]),
        ["8.00000000|GB"]
    );
    let charged = lines
        .column("charged_at")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .get(0)
        .unwrap();
    assert_eq!(charged, t("2024-05-10 08:00:00"));
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let (code, err) = run_binary(&["run", "--input", "/nonexistent-dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("--input"), "{err}");
    let (code, err) = run_binary(&["run", "--as-of", "2024-13-01"]);
    assert_eq!(code, 2, "{err}");
}

/// A dataset with one package (product, region, paid) of `gb` GB and the given usage rows.
fn refund_dataset(product: &str, region: &str, paid: &str, usage: Vec<U>) -> Dataset {
    let mut ds = Dataset::valid();
    ds.tables.insert("usage", usage_cols(&usage));
    total_packages(
        &mut ds,
        &[("P", "acct-1", "10", "2024-04-01", "2024-10-01")],
    );
    ds.set_col("packages", str_col("product", [Some(product)].into_iter()))
        .set_col("packages", str_col("region", [Some(region)].into_iter()))
        .set_col("packages", dec_col("price_paid", 8, [d(paid)].into_iter()));
    ds.tables.insert(
        "events",
        event_cols(&[("ev-1", "refund", "P", "2024-05-20 12:00:00", None, None)]),
    );
    ds
}

fn refunds_text(out: &std::path::Path) -> Vec<String> {
    rows_text(
        &read_table(out, "refunds"),
        &[
            "event_id",
            "kind",
            "eligible",
            "paid",
            "used_value",
            "amount",
            "payable",
        ],
    )
}

/// Example 1: a quality traffic package, 10 GB bought for 19.50, 5 GB used (Hong Kong to the
/// mainland with acceleration) → 19.50 − 2.15 × 5 = 8.75; usage after the refund is PAYG.
#[test]
fn example_1_quality_traffic_package_refund_8_75() {
    let usage = vec![
        (
            "q1",
            "acct-1",
            "ap-hongkong",
            "eip",
            "public_traffic",
            "2024-05-10 10:00:00",
            "5",
            "GB",
        ),
        (
            "q2",
            "acct-1",
            "ap-hongkong",
            "eip",
            "public_traffic",
            "2024-05-21 10:00:00",
            "1",
            "GB",
        ),
    ];
    let mut ds = refund_dataset("qtp", "ap-hongkong", "19.50", usage);
    ds.set_col(
        "usage",
        str_col(
            "direction",
            [Some("to_mainland"), Some("to_mainland")].into_iter(),
        ),
    )
    .set_col(
        "usage",
        bool_col("accelerated", [Some(true), Some(true)].into_iter()),
    );
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        refunds_text(out.path()),
        ["ev-1|quality_traffic_package|true|19.50000000|10.75000000|8.75000000|8.75"]
    );
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(&details, &["usage_id", "deducted"]),
        ["q1|5.000000000"]
    );
    let lines = read_table(out.path(), "bill_lines");
    assert!(rows_text(&lines, &["line_id", "amount"]).contains(&"r:ev-1|-8.75000000".to_string()));
}

/// Example 2: a shared traffic package, 7.50 paid, 5 GB used in Guangzhou at 0.80 → 3.50.
#[test]
fn example_2_shared_traffic_package_refund_3_50() {
    let usage = vec![(
        "t1",
        "acct-1",
        "ap-guangzhou",
        "eip",
        "public_traffic",
        "2024-05-10 10:00:00",
        "5",
        "GB",
    )];
    let ds = refund_dataset("tp", "ap-guangzhou", "7.50", usage);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        refunds_text(out.path()),
        ["ev-1|shared_traffic_package|true|7.50000000|4.00000000|3.50000000|3.50"]
    );
}

/// Example 3: plan 500 QPS / 10 Mbps at 0.999 per QPS: 599.4, 999.0 and 799.2 (not the
/// source's 699.3 for day 3).
#[test]
fn example_3_elastic_fee_three_days() {
    let mut ds = Dataset::valid();
    let rows: Vec<U> = vec![
        (
            "p1",
            "acct-1",
            "ap-guangzhou",
            "mpgw",
            "peak_qps",
            "2024-09-02 10:00:00",
            "1100",
            "QPS",
        ),
        (
            "b1",
            "acct-1",
            "ap-guangzhou",
            "mpgw",
            "peak_bandwidth",
            "2024-09-02 10:00:00",
            "12",
            "Mbps",
        ),
        (
            "p2",
            "acct-1",
            "ap-guangzhou",
            "mpgw",
            "peak_qps",
            "2024-09-03 10:00:00",
            "1200",
            "QPS",
        ),
        (
            "b2",
            "acct-1",
            "ap-guangzhou",
            "mpgw",
            "peak_bandwidth",
            "2024-09-03 11:00:00",
            "30",
            "Mbps",
        ),
        (
            "p3",
            "acct-1",
            "ap-guangzhou",
            "mpgw",
            "peak_qps",
            "2024-09-04 10:00:00",
            "1250",
            "QPS",
        ),
        (
            "b3",
            "acct-1",
            "ap-guangzhou",
            "mpgw",
            "peak_bandwidth",
            "2024-09-04 10:00:00",
            "10",
            "Mbps",
        ),
    ];
    let n = rows.len();
    ds.tables.insert("usage", usage_cols(&rows));
    ds.set_col(
        "usage",
        str_col("instance_id", std::iter::repeat_n(Some("mp-1"), n)),
    );
    ds.tables.insert(
        "subscriptions",
        subscription_cols(&[SubRow {
            elastic_on: Some("2024-09-01 12:00:00"),
            attached: 1,
            ..Default::default()
        }]),
    );
    // The account pays for the plan (4999): in arrears, its elastic resources would be
    // unavailable from the next day and those days not charged (docs/rules.md §4.3, revised).
    ds.set_col(
        "accounts",
        dec_col("opening_balance", 8, [d("10000")].into_iter()),
    );
    let (_i, out) = run_dataset(&ds, "2024-09-05");
    let lines = read_table(out.path(), "bill_lines");
    let elastic: Vec<String> = rows_text(
        &lines,
        &[
            "line_id",
            "charge_kind",
            "billable_quantity",
            "unit_price",
            "price_unit",
            "amount",
        ],
    )
    .into_iter()
    .filter(|l| l.contains("|elastic|"))
    .collect();
    assert_eq!(
        elastic,
        [
            "e:mp-1:2024-09-02|elastic|600.000000000|0.99900000|QPS-day|599.40000000",
            "e:mp-1:2024-09-03|elastic|1000.000000000|0.99900000|QPS-day|999.00000000",
            "e:mp-1:2024-09-04|elastic|800.000000000|0.99900000|QPS-day|799.20000000",
        ]
    );
}

/// Example 4: upgrade 4999 → 8999 with 20 of 30 days remaining → 2666.67 payable.
#[test]
fn example_4_upgrade_with_20_of_30_days_left() {
    let mut ds = Dataset::valid();
    ds.tables
        .insert("subscriptions", subscription_cols(&[SubRow::default()]));
    ds.tables.insert(
        "events",
        event_cols(&[(
            "up-1",
            "upgrade",
            "mp-1",
            "2024-09-10 15:00:00",
            Some("starter"),
            None,
        )]),
    );
    let (_i, out) = run_dataset(&ds, "2024-10-01");
    let lines = read_table(out.path(), "bill_lines");
    let kept: Vec<String> = rows_text(&lines, &["line_id", "charge_kind", "amount"])
        .into_iter()
        .filter(|l| l.contains("mp-1") || l.starts_with("g:"))
        .collect();
    assert_eq!(
        kept,
        [
            "s:mp-1:0000|subscription|4999.00000000",
            "g:up-1|upgrade|2666.66666667",
        ]
    );
    let bills = read_table(out.path(), "bills");
    assert_eq!(
        rows_text(
            &bills,
            &[
                "month",
                "product",
                "subscription_amount",
                "total_amount",
                "payable"
            ]
        )
        .into_iter()
        .filter(|b| b.contains("mpgw"))
        .collect::<Vec<_>>(),
        // The upgrade is a plan fee: in `subscription_amount` (4999 + 2666.66666667).
        ["2024-09|mpgw|7665.66666667|7665.66666667|7665.67"]
    );
}

/// Example 5: a plan bought 09-01 10:00 and unsubscribed 09-10 10:00 counts 10 of 30 days:
/// 4999 − 10/30 × 4999 = 3332.67.
#[test]
fn example_5_plan_refund_after_10_of_30_days() {
    let mut ds = Dataset::valid();
    ds.tables
        .insert("subscriptions", subscription_cols(&[SubRow::default()]));
    ds.tables.insert(
        "events",
        event_cols(&[("rf-1", "refund", "mp-1", "2024-09-10 10:00:00", None, None)]),
    );
    let (_i, out) = run_dataset(&ds, "2024-10-01");
    assert_eq!(
        refunds_text(out.path()),
        ["rf-1|mini_program_plan|true|4999.00000000|1666.33333333|3332.66666667|3332.67"]
    );
}

/// Example 9 (revised, docs/rules.md §3.1): the free quota activated 2019-11-10 17:13:14 is a
/// periodic package of 30 natural-day cycles; the 17:00 hour of that day starts before it and is
/// not covered; the first cycle ends at 2019-12-10 00:00:00, so the 2019-12-09 23:00 hour is its
/// last (100,000 calls over what it had left are billed) and the 2019-12-10 00:00 hour draws on
/// the second, [2019-12-10 00:00, 2020-01-09 00:00); calls left in a cycle do not carry over (the
/// second cycle's 700,000 left are not added to the third, which starts 2020-01-09 00:00 at
/// 1,000,000).
#[test]
fn example_9_free_quota_cycles() {
    let mut ds = Dataset::valid();
    let rows: Vec<U> = vec![
        (
            "a",
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            "2019-11-10 17:00:00",
            "1000",
            "call",
        ),
        (
            "b",
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            "2019-11-10 18:00:00",
            "400000",
            "call",
        ),
        (
            "c",
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            "2019-12-09 23:00:00",
            "700000",
            "call",
        ),
        (
            "d",
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            "2019-12-10 00:00:00",
            "300000",
            "call",
        ),
        (
            "e",
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            "2020-01-09 18:00:00",
            "200000",
            "call",
        ),
    ];
    ds.tables.insert("usage", usage_cols(&rows));
    total_packages(
        &mut ds,
        &[(
            "free",
            "acct-1",
            "1000000",
            "2019-11-10 17:13:14",
            "2020-11-04 17:13:14",
        )],
    );
    ds.set_col("packages", str_col("kind", [Some("periodic")].into_iter()))
        .set_col("packages", str_col("cycle", [Some("30d")].into_iter()))
        .set_col("packages", str_col("source", [Some("free")].into_iter()))
        .set_col("packages", str_col("product", [Some("apigw")].into_iter()))
        .set_col("packages", str_col("region", [Some("*")].into_iter()))
        .set_col("packages", str_col("unit", [Some("call")].into_iter()))
        .set_col(
            "package_scope",
            str_col("product", [Some("apigw")].into_iter()),
        )
        .set_col(
            "package_scope",
            str_col("billing_item", [Some("calls")].into_iter()),
        );
    let (_i, out) = run_dataset(&ds, "2020-01-10");
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(
            &details,
            &["usage_id", "cycle_start", "cycle_end", "remaining_before", "deducted", "remaining_after"]
        ),
        [
            "b|2019-11-10 17:13:14+08:00|2019-12-10 00:00:00+08:00|1000000.000000000|400000.000000000|600000.000000000",
            "c|2019-11-10 17:13:14+08:00|2019-12-10 00:00:00+08:00|600000.000000000|600000.000000000|0.000000000",
            "d|2019-12-10 00:00:00+08:00|2020-01-09 00:00:00+08:00|1000000.000000000|300000.000000000|700000.000000000",
            "e|2020-01-09 00:00:00+08:00|2020-02-08 00:00:00+08:00|1000000.000000000|200000.000000000|800000.000000000",
        ]
    );
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(
            &lines,
            &["line_id", "deducted_quantity", "billable_quantity"]
        ),
        [
            "u:a:1|0.000000000|1000.000000000",
            "u:b:1|400000.000000000|0.000000000",
            "u:c:1|600000.000000000|100000.000000000",
            "u:d:1|300000.000000000|0.000000000",
            "u:e:1|200000.000000000|0.000000000",
        ]
    );
}
