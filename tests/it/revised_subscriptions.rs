//! The revised subscription clauses of docs/rules.md end to end through the `reckon` binary, as of
//! 2024-06-01: hourly dedicated instances billed by the second per clock hour (§4.3, example
//! 11); a refunded monthly dedicated instance stopped at the refund and destroyed 7 days later
//! (§5); the 5-day full refund counted in calendar days and a plan refund at the order's list
//! price × discount (§6).
//!
//! One dataset: `acct-1` holds the hourly instances `h-1` (10:00–10:30), `h-2` (10:20–12:00)
//! and `h-3` (from 05-31 22:30, still running), the monthly instance `i-1` (refunded on day 5)
//! with a usage hour after its refund, and the plan `mp-1` (the order's list price 5999 at 0.8,
//! the catalog's 4999); `acct-2` holds the monthly instance `i-2` (refunded on day 6).

use crate::common::*;
use reckon::output::{dec_col, str_col, ts_col};

const AS_OF: &str = "2024-06-01";

fn dataset() -> Dataset {
    let mut ds = Dataset::valid();
    let two = |a: &'static str, b: &'static str| [Some(a), Some(b)].into_iter();
    ds.set_col("accounts", str_col("owner_uin", two("acct-1", "acct-2")))
        .set_col(
            "accounts",
            dec_col("opening_balance", 8, [d("20000"), d("5000")].into_iter()),
        )
        .set_col(
            "accounts",
            ts_col("opening_at", [Some(t("2024-01-01")); 2].into_iter()),
        )
        .set_col(
            "accounts",
            ts_col("apigw_activated_at", [Some(t("2022-01-01")); 2].into_iter()),
        );
    let hourly = |id, started, released| SubRow {
        id,
        product: "apigw",
        plan: "basic",
        mode: "hourly",
        started,
        expires: None,
        released,
        list: "5.94",
        paid: "0",
        ..SubRow::default()
    };
    let monthly = |id, owner| SubRow {
        id,
        owner,
        product: "apigw",
        plan: "basic",
        started: "2024-05-01 10:00:00",
        expires: Some("2024-06-01 10:00:00"),
        list: "3680",
        paid: "3680",
        ..SubRow::default()
    };
    let plan = SubRow {
        started: "2024-05-01 10:00:00",
        expires: Some("2024-06-01 10:00:00"),
        list: "5999",
        discount: "0.8",
        paid: "4799.2",
        ..SubRow::default()
    };
    ds.tables.insert(
        "subscriptions",
        subscription_cols(&[
            hourly("h-1", "2024-05-10 10:00:00", Some("2024-05-10 10:30:00")),
            hourly("h-2", "2024-05-10 10:20:00", Some("2024-05-10 12:00:00")),
            hourly("h-3", "2024-05-31 22:30:00", None),
            monthly("i-1", "acct-1"),
            monthly("i-2", "acct-2"),
            plan,
        ]),
    );
    ds.tables.insert(
        "events",
        event_cols(&[
            ("rf-1", "refund", "i-1", "2024-05-05 23:00:00", None, None),
            ("rf-2", "refund", "i-2", "2024-05-06 00:00:00", None, None),
            ("rf-3", "refund", "mp-1", "2024-05-10 10:00:00", None, None),
        ]),
    );
    // Calls on i-1 in the hours before and after its refund (05-05 23:00).
    let call = |id, start| {
        let q = "1000";
        (
            id,
            "acct-1",
            "ap-guangzhou",
            "apigw",
            "calls",
            start,
            q,
            "call",
        )
    };
    ds.tables.insert(
        "usage",
        usage_cols(&[
            call("g-1", "2024-05-05 22:00:00"),
            call("g-2", "2024-05-06 00:00:00"),
        ]),
    );
    ds.set_col("usage", str_col("instance_id", two("i-1", "i-1")));
    ds
}

fn lines_of(out: &std::path::Path, prefix: &str) -> Vec<String> {
    let cols = [
        "line_id",
        "charge_kind",
        "billing_item",
        "charge_start",
        "charge_end",
        "charged_at",
        "billable_quantity",
        "unit",
        "unit_price",
        "amount",
    ];
    rows_text(&read_table(out, "bill_lines"), &cols)
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// docs/rules.md §4.3 (revised) and §9 example 11: by the second, one line per clock hour, charged
/// at the hour's end or at the release; an instance still running is charged up to the as-of
/// moment, its last hour settled at it.
#[test]
fn revised_4_3_example_11_hourly_instances_by_the_second() {
    let (_i, out) = run_dataset(&dataset(), AS_OF);
    let p = "subscription|hourly_fee";
    assert_eq!(
        lines_of(out.path(), "h:"),
        [
            format!("h:h-1:000000|{p}|2024-05-10 10:00:00+08:00|2024-05-10 10:30:00+08:00|2024-05-10 10:30:00+08:00|0.500000000|hour|5.94000000|2.97000000"),
            format!("h:h-2:000000|{p}|2024-05-10 10:20:00+08:00|2024-05-10 11:00:00+08:00|2024-05-10 11:00:00+08:00|0.666666667|hour|5.94000000|3.96000000"),
            format!("h:h-2:000001|{p}|2024-05-10 11:00:00+08:00|2024-05-10 12:00:00+08:00|2024-05-10 12:00:00+08:00|1.000000000|hour|5.94000000|5.94000000"),
            format!("h:h-3:000000|{p}|2024-05-31 22:30:00+08:00|2024-05-31 23:00:00+08:00|2024-05-31 23:00:00+08:00|0.500000000|hour|5.94000000|2.97000000"),
            format!("h:h-3:000001|{p}|2024-05-31 23:00:00+08:00|2024-06-01 00:00:00+08:00|2024-06-01 00:00:00+08:00|1.000000000|hour|5.94000000|5.94000000"),
        ]
    );
    // May's apigw subscription fees: 21.78 of hours, 2 × 3680 of instances.
    let bills = rows_text(
        &read_table(out.path(), "bills"),
        &["month", "owner_uin", "product", "subscription_amount"],
    );
    assert!(
        bills.contains(&"2024-05|acct-1|apigw|3701.78000000".to_string()),
        "{bills:?}"
    );
}

/// docs/rules.md §5 (revised): `i-1`, refunded 05-05 23:00, is `stopped` then and `destroyed` 7
/// days later (the catalog's `refunds.instance_destroy_after_days`), both with its subscription id;
/// the call hour after the refund is still billed and reported. `i-2` (refunded 05-06) too.
#[test]
fn revised_5_refunded_instance_stopped_then_destroyed_7_days_later() {
    let (_i, out) = run_dataset(&dataset(), AS_OF);
    let ev = rows_text(
        &read_table(out.path(), "account_events"),
        &["owner_uin", "at", "product", "event", "subscription_id"],
    );
    let instance_events: Vec<&String> = ev.iter().filter(|e| e.contains("|i-")).collect();
    assert_eq!(
        instance_events,
        [
            "acct-1|2024-05-05 23:00:00+08:00|apigw|stopped|i-1",
            "acct-2|2024-05-06 00:00:00+08:00|apigw|stopped|i-2",
            "acct-1|2024-05-12 23:00:00+08:00|apigw|destroyed|i-1",
            "acct-2|2024-05-13 00:00:00+08:00|apigw|destroyed|i-2",
        ]
    );
    let ex = rows_text(
        &read_table(out.path(), "exceptions"),
        &["source_id", "rule", "at"],
    );
    let suspended: Vec<&String> = ex.iter().filter(|e| e.contains("suspended")).collect();
    assert_eq!(
        suspended,
        ["g-2|usage_while_suspended|2024-05-06 00:00:00+08:00"]
    );
    let billed = rows_text(
        &read_table(out.path(), "bill_lines"),
        &["usage_id", "amount"],
    );
    // 1000 calls at 0.06 per 10,000 (the month's first tier).
    assert!(
        billed.contains(&"g-2|0.00600000".to_string()),
        "usage after the refund is still billed: {billed:?}"
    );
}

/// docs/rules.md §6 (revised): the first instance refund is full before 00:00 of the sixth day,
/// the purchase day being the first (`i-1`, day 5 at 23:00); on day 6 it is prorated (`i-2`,
/// 110 of 744 hours kept: 3680 × 110 / 744 = 544.08602151). The plan refund keeps 10 of 31
/// days × the order's 5999 × 0.8 = 1548.12903226 (the catalog's 4999 would keep 1290.06); the
/// plan was charged the catalog's 3999.20, reported as `price_mismatch`.
#[test]
fn revised_6_five_calendar_days_and_the_orders_list_price() {
    let (_i, out) = run_dataset(&dataset(), AS_OF);
    let refunds = rows_text(
        &read_table(out.path(), "refunds"),
        &[
            "event_id",
            "kind",
            "eligible",
            "paid",
            "used_value",
            "amount",
            "payable",
        ],
    );
    assert_eq!(
        refunds,
        [
            "rf-1|dedicated_instance|true|3680.00000000|0.00000000|3680.00000000|3680.00",
            "rf-2|dedicated_instance|true|3680.00000000|544.08602151|3135.91397849|3135.91",
            "rf-3|mini_program_plan|true|3999.20000000|1548.12903226|2451.07096774|2451.07",
        ]
    );
    let ex = rows_text(
        &read_table(out.path(), "exceptions"),
        &["source_id", "rule"],
    );
    assert!(ex.contains(&"mp-1|price_mismatch".to_string()), "{ex:?}");
}
