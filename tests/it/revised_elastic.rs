//! docs/rules.md §4.3 (revised) elastic resource fee, end to end through the `reckon` binary: the
//! order's unit price (`subscriptions.elastic_unit_price`, optional) or the catalog's, the 4 ×
//! plan cap with its `elastic_over_cap` finding (example 14), and no fee for the days that start
//! while elastic resources are unavailable after arrears (§5, example 13).

use crate::common::*;
use reckon::output::{dec_col, str_col, ts_col};

/// One mini-program plan `mp-1` of `acct-1` (opening balance `opening` on 2024-01-01), started
/// 2024-09-01 10:00 with the elastic switch on from 12:00, and one peak QPS row per day.
fn plan_dataset(
    plan: &'static str,
    price: &'static str,
    opening: &str,
    peaks: &[(&str, &str)],
) -> Dataset {
    let mut ds = Dataset::valid();
    total_packages(&mut ds, &[]);
    let starts: Vec<String> = peaks.iter().map(|p| format!("{} 10:00:00", p.0)).collect();
    let ids: Vec<String> = (0..peaks.len()).map(|i| format!("pk-{i}")).collect();
    let rows: Vec<U> = peaks
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let start = starts[i].as_str();
            let id = ids[i].as_str();
            (
                id,
                "acct-1",
                "ap-guangzhou",
                "mpgw",
                "peak_qps",
                start,
                p.1,
                "QPS",
            )
        })
        .collect();
    ds.tables.insert("usage", usage_cols(&rows));
    ds.set_col(
        "usage",
        str_col("instance_id", std::iter::repeat_n(Some("mp-1"), rows.len())),
    );
    ds.set_col(
        "accounts",
        dec_col("opening_balance", 8, [d(opening)].into_iter()),
    );
    ds.tables.insert(
        "subscriptions",
        subscription_cols(&[SubRow {
            plan,
            list: price,
            paid: price,
            elastic_on: Some("2024-09-01 12:00:00"),
            attached: 1,
            ..Default::default()
        }]),
    );
    ds
}

/// Adds the optional `subscriptions.elastic_unit_price` column.
fn with_unit_price(ds: &mut Dataset, price: Option<&str>) {
    let col = dec_col("elastic_unit_price", 8, [price.and_then(d)].into_iter());
    ds.tables.get_mut("subscriptions").unwrap().push(col);
}

fn payments(ds: &mut Dataset, rows: &[(&str, &str, &str)]) {
    ds.tables.insert(
        "payments",
        vec![
            str_col("payment_id", rows.iter().map(|r| Some(r.0))),
            str_col("owner_uin", rows.iter().map(|_| Some("acct-1"))),
            ts_col("paid_at", rows.iter().map(|r| Some(t(r.1)))),
            dec_col("amount", 8, rows.iter().map(|r| d(r.2))),
        ],
    );
}

/// The elastic lines: line_id, metered, billable, unit price, amount, charged_at.
fn elastic_lines(out: &std::path::Path) -> Vec<String> {
    let lines = read_table(out, "bill_lines");
    rows_text(
        &lines,
        &[
            "line_id",
            "charge_kind",
            "metered_quantity",
            "billable_quantity",
            "unit_price",
            "amount",
            "charged_at",
        ],
    )
    .into_iter()
    .filter(|l| l.contains("|elastic|"))
    .collect()
}

fn exceptions(out: &std::path::Path) -> Vec<String> {
    let ex = read_table(out, "exceptions");
    rows_text(&ex, &["source_table", "source_id", "rule", "at"])
}

/// Peak rows of 1100 QPS (base 600 over the 500 QPS `test` plan: 599.40 a day) on the days
/// 2024-09-02 to 2024-09-`last`. Opening 7396.20 = the plan's 4999 + 4 fees − 0.40: the 09-05
/// fee, charged 09-06 00:00, puts the account at −0.40.
fn example_13_dataset(last: u32) -> Dataset {
    let days: Vec<String> = (2..=last).map(|d| format!("2024-09-{d:02}")).collect();
    let peaks: Vec<(&str, &str)> = days.iter().map(|d| (d.as_str(), "1100")).collect();
    plan_dataset("test", "4999", "7396.2", &peaks)
}

fn fee_line(day: u32) -> String {
    format!(
        "e:mp-1:2024-09-{day:02}|elastic|1100.000000000|600.000000000|0.99900000|599.40000000|\
         2024-09-{:02} 00:00:00+08:00",
        day + 1
    )
}

fn events(out: &std::path::Path) -> Vec<String> {
    let ev = read_table(out, "account_events");
    rows_text(&ev, &["product", "event", "at", "balance"])
}

fn bills(out: &std::path::Path) -> Vec<String> {
    let b = read_table(out, "bills");
    rows_text(
        &b,
        &[
            "month",
            "product",
            "subscription_amount",
            "elastic_amount",
            "payable",
        ],
    )
}

/// docs/rules.md §9 example 13: plan 500 QPS / 10 Mbps with elastic on, in arrears from 09-06 00:00
/// (the 09-05 fee): the 09-06 fee is still charged at 09-07 00:00, elastic resources are
/// unavailable from 09-07 00:00, and 09-07 and 09-08 are not charged — in no bill line, bill or
/// balance.
#[test]
fn example_13_elastic_days_not_charged_while_unavailable_after_arrears() {
    let (_i, out) = run_dataset(&example_13_dataset(8), "2024-09-09");
    let want: Vec<String> = (2..=6).map(fee_line).collect();
    assert_eq!(elastic_lines(out.path()), want);
    assert_eq!(
        events(out.path()),
        [
            "|arrears_started|2024-09-06 00:00:00+08:00|-0.40000000",
            // Only the 09-06 fee since: the dropped days are in no balance.
            "mpgw|elastic_unavailable|2024-09-07 00:00:00+08:00|-599.80000000",
        ]
    );
    // 5 × 599.40 = 2997.00.
    assert_eq!(
        bills(out.path()),
        ["2024-09|mpgw|4999.00000000|2997.00000000|7996.00"]
    );
    assert!(exceptions(out.path()).is_empty());
}

/// docs/rules.md §4.3 (revised) "until a top-up restores them": the top-up of 09-09 00:00 brings
/// the balance to 1400.20; the day starting then is charged again, 09-07 and 09-08 stay uncharged.
#[test]
fn revised_4_3_elastic_fee_charged_again_after_the_restoring_top_up() {
    let mut ds = example_13_dataset(9);
    payments(&mut ds, &[("pay-1", "2024-09-09 00:00:00", "2000")]);
    let (_i, out) = run_dataset(&ds, "2024-09-10");
    let want: Vec<String> = [2, 3, 4, 5, 6, 9].into_iter().map(fee_line).collect();
    assert_eq!(elastic_lines(out.path()), want);
    assert_eq!(
        events(out.path()),
        [
            "|arrears_started|2024-09-06 00:00:00+08:00|-0.40000000",
            "mpgw|elastic_unavailable|2024-09-07 00:00:00+08:00|-599.80000000",
            "|arrears_cleared|2024-09-09 00:00:00+08:00|1400.20000000",
            "mpgw|restored|2024-09-09 00:00:00+08:00|1400.20000000",
        ]
    );
    assert_eq!(
        bills(out.path()),
        ["2024-09|mpgw|4999.00000000|3596.40000000|8595.40"]
    );
}

/// docs/rules.md §9 example 14: plan 10000 QPS / 200 Mbps, a day peaking at 60,000 QPS: base 50000
/// capped at 40000 → 39,960.00 at 0.999, and one `elastic_over_cap` finding; the next day, at
/// 50,000 QPS (base exactly the cap), is billed whole without a finding.
#[test]
fn example_14_elastic_base_capped_at_40000_costs_39960() {
    let peaks = [("2024-09-02", "60000"), ("2024-09-03", "50000")];
    let ds = plan_dataset("preferred", "59999", "200000", &peaks);
    let (_i, out) = run_dataset(&ds, "2024-09-05");
    assert_eq!(
        elastic_lines(out.path()),
        [
            "e:mp-1:2024-09-02|elastic|60000.000000000|40000.000000000|0.99900000|\
             39960.00000000|2024-09-03 00:00:00+08:00",
            "e:mp-1:2024-09-03|elastic|50000.000000000|40000.000000000|0.99900000|\
             39960.00000000|2024-09-04 00:00:00+08:00",
        ]
    );
    assert_eq!(
        exceptions(out.path()),
        ["subscriptions|mp-1|elastic_over_cap|2024-09-02 00:00:00+08:00"]
    );
    let ex = read_table(out.path(), "exceptions");
    let detail = rows_text(&ex, &["detail"]);
    assert_eq!(
        detail,
        [
            "2024-09-02: elastic base 50000 QPS above the plan exceeds the cap of 4 × 10000 = \
          40000 QPS; 40000 billed"
        ]
    );
    // Written while its day is in the window only (unlike standing subscription findings).
    let (_i, out) = run_dataset(&ds, "2025-01-01");
    assert!(exceptions(out.path()).is_empty());
}

/// docs/contract.md (revised) `subscriptions.elastic_unit_price`: optional (a file without it, as
/// in example 13, reads as null: the catalog's 0.999); the order's price when given; null is the
/// catalog's; a negative one is a row exception and the plan is left out of billing.
#[test]
fn revised_4_3_elastic_unit_price_column_is_the_orders_price() {
    let ds = || plan_dataset("test", "4999", "100000", &[("2024-09-02", "1100")]);
    let run = |price: Option<&str>| {
        let mut ds = ds();
        with_unit_price(&mut ds, price);
        let (_i, out) = run_dataset(&ds, "2024-09-05");
        (elastic_lines(out.path()), exceptions(out.path()), out)
    };
    let (lines, ex, _) = run(Some("0.5"));
    assert_eq!(
        lines,
        [
            "e:mp-1:2024-09-02|elastic|1100.000000000|600.000000000|0.50000000|300.00000000|\
          2024-09-03 00:00:00+08:00"
        ]
    );
    assert!(ex.is_empty());
    let (lines, _, _) = run(None);
    assert_eq!(lines, [fee_line(2)]);
    let (lines, ex, out) = run(Some("-0.5"));
    assert!(lines.is_empty());
    assert_eq!(
        ex,
        ["subscriptions|mp-1|value_out_of_range|2024-09-01 10:00:00+08:00"]
    );
    let detail = rows_text(&read_table(out.path(), "exceptions"), &["detail"]);
    assert!(
        detail[0].contains("elastic_unit_price -0.50000000 is negative"),
        "{detail:?}"
    );
}
