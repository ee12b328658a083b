//! RULES.md §9 worked examples, end to end through the `reckon` binary.
//! (Examples 1–5 and 9's refunds/upgrades/elastic fees belong to later issues; example 9's cycle
//! arithmetic is tested in `calendar`.)

mod common;

use common::*;

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
