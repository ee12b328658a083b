//! docs/rules.md's revised deduction clauses end to end through the `reckon` binary: unbilled calls
//! (§4.1, example 12), quality traffic packages (§3.3.2, §3.4.2, §3.7) and the free quota
//! (§3.1, §4.1, example 9, `free_quota_missing`), each asserting the draws, lines and findings.

use crate::common::*;
use reckon::output::{bool_col, dec_col, str_col, ts_col};

/// One package of a test inventory, with its single scope.
struct P<'a> {
    id: &'a str,
    product: &'a str,
    kind: &'a str,
    source: &'a str,
    region: &'a str,
    capacity: &'a str,
    unit: &'a str,
    cycle: Option<&'a str>,
    effective: &'a str,
    expires: &'a str,
    /// The covered (product, billing item).
    scope: (&'a str, &'a str),
}

impl Default for P<'_> {
    fn default() -> Self {
        P {
            id: "P",
            product: "tp",
            kind: "total",
            source: "purchased",
            region: "ap-guangzhou",
            capacity: "1",
            unit: "GB",
            cycle: None,
            effective: "2024-01-01",
            expires: "2025-01-01",
            scope: ("eip", "public_traffic"),
        }
    }
}

/// Replaces the inventory of `ds` (all owned by `acct-1`) with `pkgs`.
fn packages(ds: &mut Dataset, pkgs: &[P]) {
    let n = pkgs.len();
    let col = |name: &str, f: &dyn Fn(&P) -> Option<String>| {
        str_col(
            name,
            pkgs.iter()
                .map(f)
                .collect::<Vec<_>>()
                .iter()
                .map(|x| x.as_deref()),
        )
    };
    let all = |v: &str| Some(v.to_string());
    ds.tables.insert(
        "packages",
        vec![
            col("package_id", &|p| all(p.id)),
            col("package_name", &|p| all(p.id)),
            col("owner_uin", &|_| all("acct-1")),
            col("product", &|p| all(p.product)),
            col("sub_product", &|p| all(p.product)),
            col("kind", &|p| all(p.kind)),
            col("source", &|p| all(p.source)),
            col("order_type", &|_| all("new")),
            col("region", &|p| all(p.region)),
            dec_col("capacity", 9, pkgs.iter().map(|p| d(p.capacity))),
            col("unit", &|p| all(p.unit)),
            col("cycle", &|p| p.cycle.map(String::from)),
            bool_col("idle_only", (0..n).map(|_| Some(false))),
            ts_col("purchased_at", pkgs.iter().map(|p| Some(t(p.effective)))),
            ts_col("effective_at", pkgs.iter().map(|p| Some(t(p.effective)))),
            ts_col("expires_at", pkgs.iter().map(|p| Some(t(p.expires)))),
            bool_col("activated", (0..n).map(|_| Some(true))),
            ts_col("refunded_at", (0..n).map(|_| None)),
            dec_col("price_paid", 8, (0..n).map(|_| d("0"))),
            dec_col("voucher_amount", 8, (0..n).map(|_| d("0"))),
            col("share_uins", &|_| None),
        ],
    );
    ds.tables.insert(
        "package_scope",
        vec![
            col("package_id", &|p| all(p.id)),
            col("product", &|p| all(p.scope.0)),
            col("billing_item", &|p| all(p.scope.1)),
            dec_col("coefficient", 9, (0..n).map(|_| d("1"))),
        ],
    );
}

/// Sets the usage table's `sub_product` column, row by row.
fn sub_products(ds: &mut Dataset, subs: &[&str]) {
    ds.set_col(
        "usage",
        str_col("sub_product", subs.iter().map(|s| Some(*s))),
    );
}

fn exceptions_of(out: &std::path::Path, rule: &str) -> Vec<String> {
    let ex = read_table(out, "exceptions");
    rows_text(&ex, &["source_table", "source_id", "rule", "at"])
        .into_iter()
        .filter(|r| r.split('|').nth(2) == Some(rule))
        .collect()
}

/// docs/rules.md §9.12 (revised): 5,000,000 dedicated-instance calls in one hour → a line of amount
/// 0 at unit price 0, no draw on the call package, and the tier counter unchanged: the shared
/// hour after it, at 9,990,000 billable calls to date, is split 10,000 at 0.06 and 10,000 at
/// 0.04 (example 7's figures) as if the dedicated calls were not there.
#[test]
fn example_12_dedicated_instance_calls_cost_0_no_draw_tier_counter_unchanged() {
    let mut ds = Dataset::valid();
    let row = |id, at, n| {
        (
            id,
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            at,
            n,
            "call",
        )
    };
    ds.tables.insert(
        "usage",
        usage_cols(&[
            row("a", "2024-05-10 09:00:00", "10000000"),
            row("b", "2024-05-10 10:00:00", "5000000"),
            row("c", "2024-05-10 11:00:00", "20000"),
        ]),
    );
    sub_products(
        &mut ds,
        &["shared-instance", "dedicated-instance", "shared-instance"],
    );
    packages(
        &mut ds,
        &[P {
            id: "calls-pack",
            product: "apigw",
            capacity: "10000",
            unit: "call",
            scope: ("apigw", "calls"),
            ..P::default()
        }],
    );
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(
            &details,
            &[
                "usage_id",
                "package_id",
                "remaining_before",
                "deducted",
                "remaining_after"
            ]
        ),
        ["a|calls-pack|10000.000000000|10000.000000000|0.000000000"]
    );
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(
            &lines,
            &[
                "line_id",
                "sub_product",
                "tier",
                "deducted_quantity",
                "billable_quantity",
                "unit_price",
                "price_unit",
                "amount"
            ]
        ),
        [
            "u:a:1|shared-instance|1|10000.000000000|9990000.000000000|0.06000000|10000 call|59.94000000",
            "u:b:0|dedicated-instance||0.000000000|5000000.000000000|0.00000000|10000 call|0.00000000",
            "u:c:1|shared-instance|1|0.000000000|10000.000000000|0.06000000|10000 call|0.06000000",
            "u:c:2|shared-instance|2|0.000000000|10000.000000000|0.04000000|10000 call|0.04000000",
        ]
    );
}

/// §4.1 (revised): WebSocket-backend calls are unbilled like dedicated-instance ones.
#[test]
fn revised_4_1_websocket_calls_are_unbilled() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[(
            "w",
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            "2024-05-10 09:00:00",
            "700000",
            "call",
        )]),
    );
    sub_products(&mut ds, &["websocket"]);
    packages(&mut ds, &[]);
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(&lines, &["line_id", "tier", "unit_price", "amount"]),
        ["u:w:0||0.00000000|0.00000000"]
    );
}

/// Accelerated traffic from Hong Kong to the mainland, rows `(id, GB)` at 2024-05-10 10:00.
fn quality_usage(ds: &mut Dataset, rows: &[(&str, &str)]) {
    let r: Vec<_> = rows
        .iter()
        .map(|(id, gb)| {
            let row = (*id, "acct-1", "ap-hongkong", "eip", "public_traffic");
            (
                row.0,
                row.1,
                row.2,
                row.3,
                row.4,
                "2024-05-10 10:00:00",
                *gb,
                "GB",
            )
        })
        .collect();
    ds.tables.insert("usage", usage_cols(&r));
    let n = rows.len();
    ds.set_col(
        "usage",
        str_col("direction", (0..n).map(|_| Some("to_mainland"))),
    );
    ds.set_col("usage", bool_col("accelerated", (0..n).map(|_| Some(true))));
}

/// §3.4.2 and §3.3.2 (revised): the quality package of Hong Kong is drawn before the shared
/// traffic package that expires first; the quality package of region `*` covers nothing and is
/// one `qtp_all_region` finding.
#[test]
fn revised_3_4_2_qtp_before_shared_traffic_and_3_3_2_qtp_all_region() {
    let mut ds = Dataset::valid();
    quality_usage(&mut ds, &[("q", "3")]);
    packages(
        &mut ds,
        &[
            P {
                id: "shared",
                region: "ap-hongkong",
                capacity: "5",
                expires: "2024-07-01",
                ..P::default()
            },
            P {
                id: "quality",
                product: "qtp",
                region: "ap-hongkong",
                capacity: "2",
                ..P::default()
            },
            P {
                id: "quality-all",
                product: "qtp",
                region: "*",
                capacity: "10",
                expires: "2024-06-15",
                ..P::default()
            },
        ],
    );
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(
            &details,
            &[
                "package_id",
                "remaining_before",
                "deducted",
                "remaining_after",
                "draw_seq"
            ]
        ),
        [
            "quality|2.000000000|2.000000000|0.000000000|0",
            "shared|5.000000000|1.000000000|4.000000000|1",
        ]
    );
    assert_eq!(
        exceptions_of(out.path(), "qtp_all_region"),
        ["packages|quality-all|qtp_all_region|2024-01-01 00:00:00+08:00"]
    );
}

/// §3.7 (revised): 21 valid shared traffic packages in a region are no finding; 21 quality
/// packages are one `too_many_packages`.
#[test]
fn revised_3_7_the_limit_counts_quality_packages_only() {
    let ids: Vec<String> = (0..21).map(|i| format!("P{i:02}")).collect();
    for (product, expected) in [("tp", 0), ("qtp", 1)] {
        let mut ds = Dataset::valid();
        let pkgs: Vec<P> = ids
            .iter()
            .map(|id| P {
                id,
                product,
                ..P::default()
            })
            .collect();
        packages(&mut ds, &pkgs);
        let (_i, out) = run_dataset(&ds, "2024-06-01");
        let found = exceptions_of(out.path(), "too_many_packages");
        assert_eq!(found.len(), expected, "{product}: {found:?}");
    }
}

/// docs/rules.md §9.9 (revised): activated 2019-11-10 17:13:14, the free quota of 1,000,000 calls
/// renews at 2019-12-10 00:00:00; the 100,000 calls the first cycle could not cover are billed,
/// what it had left does not carry over, and the 00:00 hour of 12-10 draws on the second cycle.
#[test]
fn example_9_free_quota_cycles_of_30_natural_days() {
    let mut ds = Dataset::valid();
    let row = |id, at, n| {
        (
            id,
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            at,
            n,
            "call",
        )
    };
    ds.tables.insert(
        "usage",
        usage_cols(&[
            row("a", "2019-11-10 18:00:00", "500000"),
            row("b", "2019-12-09 23:00:00", "600000"),
            row("c", "2019-12-10 00:00:00", "300000"),
        ]),
    );
    sub_products(&mut ds, &["shared-instance"; 3]);
    ds.set_col(
        "accounts",
        ts_col(
            "apigw_activated_at",
            [Some(t("2019-11-10 17:13:14"))].into_iter(),
        ),
    );
    packages(
        &mut ds,
        &[P {
            id: "free-calls",
            product: "apigw",
            kind: "periodic",
            source: "free",
            region: "*",
            capacity: "1000000",
            unit: "call",
            cycle: Some("30d"),
            effective: "2019-11-10 17:13:14",
            expires: "2020-11-04",
            scope: ("apigw", "calls"),
        }],
    );
    let (_i, out) = run_dataset(&ds, "2020-01-01");
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(
            &details,
            &[
                "usage_id",
                "cycle_start",
                "cycle_end",
                "remaining_before",
                "deducted",
                "remaining_after"
            ]
        ),
        [
            "a|2019-11-10 17:13:14+08:00|2019-12-10 00:00:00+08:00|1000000.000000000|500000.000000000|500000.000000000",
            "b|2019-11-10 17:13:14+08:00|2019-12-10 00:00:00+08:00|500000.000000000|500000.000000000|0.000000000",
            "c|2019-12-10 00:00:00+08:00|2020-01-09 00:00:00+08:00|1000000.000000000|300000.000000000|700000.000000000",
        ]
    );
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(&lines, &["line_id", "billable_quantity", "amount"]),
        [
            "u:a:1|0.000000000|0.00000000",
            "u:b:1|100000.000000000|0.60000000",
            "u:c:1|0.000000000|0.00000000",
        ]
    );
    let status = read_table(out.path(), "package_status");
    assert_eq!(
        rows_text(
            &status,
            &[
                "cycle_start",
                "cycle_end",
                "cycle_remaining",
                "cycles_total",
                "cycles_remaining",
                "total_remaining"
            ]
        ),
        ["2019-12-10 00:00:00+08:00|2020-01-09 00:00:00+08:00|700000.000000000|12|11|10700000.000000000"]
    );
    assert!(exceptions_of(out.path(), "free_quota_missing").is_empty());
}

/// §4.1 (revised): an account activated inside the window with no free `apigw` package gets one
/// `free_quota_missing` finding, at the first hour the quota should cover.
#[test]
fn revised_4_1_free_quota_missing_one_finding_per_account() {
    let mut ds = Dataset::valid();
    ds.set_col(
        "accounts",
        ts_col(
            "apigw_activated_at",
            [Some(t("2024-04-02 09:30:00"))].into_iter(),
        ),
    );
    let (_i, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        exceptions_of(out.path(), "free_quota_missing"),
        ["accounts|acct-1|free_quota_missing|2024-04-02 10:00:00+08:00"]
    );
}
