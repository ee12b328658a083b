//! docs/rules.md §5 end to end through the `reckon` binary: an account falls into arrears, its EIP
//! is stopped, usage metered while stopped is reported, a top-up restores it; its mini-program
//! gateway plan (4999 charged at purchase, opening balance 5009 → 10) expires and is renewed on the
//! buffer day, the renewal fee (4999) and a top-up (5000) at the same instant netted before the
//! balance is judged (2.40 + 5000 − 4999 = 3.40: no arrears).

use crate::common::*;
use reckon::output::{dec_col, i32_col, str_col, ts_col};

fn strs(name: &str, v: &[&str]) -> polars::prelude::Column {
    str_col(name, v.iter().map(|s| Some(*s)))
}

fn dataset() -> Dataset {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[
            // 20 GB at 0.80 = 16.00 charged at 10:00: balance 10 → −6.
            (
                "e-1",
                "acct-1",
                "ap-guangzhou",
                "eip",
                "public_traffic",
                "2024-05-10 09:00:00",
                "20",
                "GB",
            ),
            // Metered while stopped (from 12:00): still billed (0.80 at 14:00), reported.
            (
                "e-2",
                "acct-1",
                "ap-guangzhou",
                "eip",
                "public_traffic",
                "2024-05-10 13:00:00",
                "1",
                "GB",
            ),
            // After the top-up: normal (0.80 at 22:00: balance 3.20 → 2.40).
            (
                "e-3",
                "acct-1",
                "ap-guangzhou",
                "eip",
                "public_traffic",
                "2024-05-10 21:00:00",
                "1",
                "GB",
            ),
        ]),
    );
    total_packages(&mut ds, &[]);
    ds.set_col(
        "accounts",
        dec_col("opening_balance", 8, [d("5009")].into_iter()),
    );
    ds.set_col(
        "accounts",
        ts_col("opening_at", [Some(t("2024-04-01 00:00:00"))].into_iter()),
    );
    ds.tables.insert(
        "payments",
        vec![
            strs("payment_id", &["pay-1", "pay-2"]),
            strs("owner_uin", &["acct-1", "acct-1"]),
            ts_col(
                "paid_at",
                [
                    Some(t("2024-05-10 20:00:00")),
                    Some(t("2024-05-16 09:00:00")),
                ]
                .into_iter(),
            ),
            dec_col("amount", 8, [d("10"), d("5000")].into_iter()),
        ],
    );
    ds.tables.insert(
        "subscriptions",
        vec![
            strs("subscription_id", &["mp-1"]),
            strs("owner_uin", &["acct-1"]),
            strs("product", &["mpgw"]),
            strs("plan", &["test"]),
            strs("region", &["ap-guangzhou"]),
            strs("billing_mode", &["monthly"]),
            ts_col("started_at", [Some(t("2024-04-15 10:00:00"))].into_iter()),
            ts_col("expires_at", [Some(t("2024-05-15 10:00:00"))].into_iter()),
            ts_col("released_at", [None].into_iter()),
            dec_col("list_price", 8, [d("4999")].into_iter()),
            dec_col("discount", 6, [d("1")].into_iter()),
            dec_col("price_paid", 8, [d("4999")].into_iter()),
            ts_col("elastic_on_at", [None].into_iter()),
            ts_col("elastic_off_at", [None].into_iter()),
            i32_col("attached_apps", [Some(1)].into_iter()),
        ],
    );
    ds.tables.insert(
        "events",
        vec![
            strs("event_id", &["r-1"]),
            strs("kind", &["renew"]),
            strs("target_id", &["mp-1"]),
            ts_col("at", [Some(t("2024-05-16 09:00:00"))].into_iter()),
            str_col("new_plan", [None].into_iter()),
            i32_col("months", [Some(1)].into_iter()),
        ],
    );
    ds
}

#[test]
fn arrears_stop_restore_and_plan_renewal_on_buffer_day() {
    let (_i, out) = run_dataset(&dataset(), "2024-06-01");
    let ev = read_table(out.path(), "account_events");
    assert_eq!(
        rows_text(
            &ev,
            &["at", "product", "event", "balance", "subscription_id"]
        ),
        [
            "2024-05-08 00:00:00+08:00|mpgw|expiry_warning|10.00000000|mp-1",
            "2024-05-10 00:00:00+08:00|mpgw|expiry_warning|10.00000000|mp-1",
            "2024-05-10 10:00:00+08:00||arrears_started|-6.00000000|",
            "2024-05-10 12:00:00+08:00|eip|stopped|-6.00000000|",
            "2024-05-10 20:00:00+08:00||arrears_cleared|3.20000000|",
            "2024-05-10 20:00:00+08:00|eip|restored|3.20000000|",
            "2024-05-12 00:00:00+08:00|mpgw|expiry_warning|2.40000000|mp-1",
            "2024-05-14 00:00:00+08:00|mpgw|expiry_warning|2.40000000|mp-1",
            "2024-05-15 00:00:00+08:00|mpgw|expiry_warning|2.40000000|mp-1",
            "2024-05-15 10:00:00+08:00|mpgw|buffer_started|2.40000000|mp-1",
            "2024-05-16 09:00:00+08:00|mpgw|restored|3.40000000|mp-1",
        ]
    );
    let ex = read_table(out.path(), "exceptions");
    assert_eq!(
        rows_text(&ex, &["source_table", "source_id", "rule", "at"]),
        ["usage|e-2|usage_while_suspended|2024-05-10 13:00:00+08:00"]
    );
    // The stopped hour is still billed; the plan and its renewal are charged.
    let lines = read_table(out.path(), "bill_lines");
    assert_eq!(
        rows_text(&lines, &["charge_kind", "usage_id", "amount", "charged_at"]),
        [
            "subscription||4999.00000000|2024-04-15 10:00:00+08:00",
            "usage|e-1|16.00000000|2024-05-10 10:00:00+08:00",
            "usage|e-2|0.80000000|2024-05-10 14:00:00+08:00",
            "usage|e-3|0.80000000|2024-05-10 22:00:00+08:00",
            "subscription||4999.00000000|2024-05-16 09:00:00+08:00",
        ]
    );
}

#[test]
fn account_timeline_is_byte_identical_with_one_or_two_threads() {
    let input = tempfile::tempdir().unwrap();
    dataset().write(input.path());
    let outs: Vec<_> = ["1", "2"]
        .iter()
        .map(|n| {
            let out = out_dir();
            let (code, err) = run_binary(&[
                "run",
                "--as-of",
                "2024-06-01",
                "--threads",
                n,
                "--input",
                input.path().to_str().unwrap(),
                "--output",
                out.path().to_str().unwrap(),
            ]);
            assert_eq!(code, 0, "{err}");
            out
        })
        .collect();
    for table in ["account_events", "exceptions"] {
        let a = parquet_bytes(&outs[0].path().join(table));
        let b = parquet_bytes(&outs[1].path().join(table));
        assert!(!a.is_empty());
        assert_eq!(a, b, "{table} differs between 1 and 2 threads");
    }
}
