//! The printed summary of a diff (stdout and `DIR/summary.txt`): the compared range, then per
//! table the counts by change and by reason with the amount delta, the accounts changed, each
//! changed bill month's delta, and the restatements of closed months.
//!
//! Invariant: the text depends only on the [`Report`] and the two paths — counts in code order
//! (`BTreeMap`), at most 10 accounts and 20 restatements listed, deltas signed.

use super::compare::Report;
use super::table::DiffRow;
use crate::calendar::format_local;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The printed summary.
pub fn summary(old: &Path, new: &Path, r: &Report) -> String {
    let mut s = String::new();
    header(&mut s, old, new, r);
    if r.rows.is_empty() {
        let _ = writeln!(s, "no differences");
        return s;
    }
    for table in ["bills", "bill_lines"] {
        table_counts(&mut s, table, &r.rows);
    }
    accounts(&mut s, &r.rows);
    months(&mut s, &r.rows);
    restatements(&mut s, r);
    s
}

/// What was compared, and whether the catalog changed.
fn header(s: &mut String, old: &Path, new: &Path, r: &Report) {
    let _ = writeln!(s, "reckon diff {} → {}", old.display(), new.display());
    let _ = writeln!(
        s,
        "compared: bill months {}; bill lines charged in [{}, {})",
        if r.months.is_empty() {
            "none".to_string()
        } else {
            r.months.join(", ")
        },
        format_local(r.from),
        format_local(r.to)
    );
    if r.catalog_changed {
        let _ = writeln!(s, "catalog: changed (hash differs)");
    }
}

/// `table`'s changes counted by change and by reason, and their amount delta.
fn table_counts(s: &mut String, table: &str, rows: &[DiffRow]) {
    let rows: Vec<&DiffRow> = rows.iter().filter(|x| x.table == table).collect();
    let mut by_change: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &rows {
        *by_change.entry(x.change).or_default() += 1;
        *by_reason.entry(x.reason).or_default() += 1;
    }
    let delta: Decimal = rows.iter().map(|x| x.delta()).sum();
    let _ = writeln!(
        s,
        "{table}: {} ({}); by reason: {}; amount delta {delta:+}",
        rows.len(),
        join_counts(&by_change),
        join_counts(&by_reason)
    );
}

/// The accounts with a change, the first 10 named.
fn accounts(s: &mut String, rows: &[DiffRow]) {
    let accounts: BTreeSet<&str> = rows.iter().map(|x| x.owner_uin.as_str()).collect();
    let _ = writeln!(
        s,
        "accounts changed: {} ({})",
        accounts.len(),
        accounts
            .iter()
            .take(10)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
            + if accounts.len() > 10 { ", …" } else { "" }
    );
}

/// Per month with a changed bill: the bills' delta, and whether OLD had closed the month.
fn months(s: &mut String, rows: &[DiffRow]) {
    let mut months: BTreeMap<&str, (Decimal, bool)> = BTreeMap::new();
    for x in rows.iter().filter(|x| x.table == "bills") {
        let e = months.entry(&x.month).or_default();
        e.0 += x.delta();
        e.1 |= x.closed_in_old;
    }
    for (m, (d, closed)) in &months {
        let _ = writeln!(
            s,
            "  month {m} ({}): bills delta {d:+}",
            if *closed {
                "closed in OLD"
            } else {
                "open in OLD"
            }
        );
    }
}

/// The bills of months closed in OLD that changed, the first 20 listed.
fn restatements(s: &mut String, r: &Report) {
    let restated: Vec<&DiffRow> = r.restatements().filter(|x| x.table == "bills").collect();
    if restated.is_empty() {
        let _ = writeln!(s, "restatements of closed months: none");
        return;
    }
    let _ = writeln!(s, "restatements of closed months: {}", restated.len());
    for x in restated.iter().take(20) {
        let _ = writeln!(
            s,
            "  {} {} {}: {} → {} ({:+}) [{}]",
            x.month,
            x.owner_uin,
            x.product,
            x.old_amount.map_or("-".into(), |d| d.to_string()),
            x.new_amount.map_or("-".into(), |d| d.to_string()),
            x.delta(),
            x.reason
        );
    }
}

fn join_counts(m: &BTreeMap<&str, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use std::str::FromStr;

    fn dec(s: &str) -> Option<Decimal> {
        Some(Decimal::from_str(s).unwrap())
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        table: &'static str,
        key: &str,
        month: &str,
        owner: &str,
        change: &'static str,
        reason: &'static str,
        closed_in_old: bool,
        amounts: (Option<Decimal>, Option<Decimal>),
    ) -> DiffRow {
        DiffRow {
            table,
            key: key.into(),
            month: month.into(),
            owner_uin: owner.into(),
            product: "eip".into(),
            usage_id: None,
            change,
            reason,
            closed_in_old,
            old_amount: amounts.0,
            new_amount: amounts.1,
            columns: String::new(),
        }
    }

    fn report(rows: Vec<DiffRow>, catalog_changed: bool) -> Report {
        Report {
            rows,
            from: parse_local("2024-03-20").unwrap(),
            to: parse_local("2024-06-15").unwrap(),
            months: vec!["2024-04".into(), "2024-05".into()],
            catalog_changed,
        }
    }

    #[test]
    fn no_rows_say_no_differences_after_the_compared_range() {
        let r = Report {
            months: vec![],
            ..report(vec![], false)
        };
        assert_eq!(
            summary(Path::new("old"), Path::new("new"), &r),
            "reckon diff old → new\n\
             compared: bill months none; bill lines charged in \
             [2024-03-20 00:00:00+08:00, 2024-06-15 00:00:00+08:00)\n\
             no differences\n"
        );
    }

    #[test]
    fn summary_breaks_changes_down_by_table_reason_account_and_month() {
        let rows = vec![
            row(
                "bill_lines",
                "u:x:1",
                "2024-05",
                "acct-1",
                "added",
                "late_usage",
                true,
                (None, dec("1.60")),
            ),
            row(
                "bill_lines",
                "r:p1",
                "2024-06",
                "acct-2",
                "changed",
                "refund",
                false,
                (dec("-10"), dec("-12")),
            ),
            row(
                "bills",
                "2024-04|acct-3|eip",
                "2024-04",
                "acct-3",
                "removed",
                "removed",
                true,
                (dec("3"), None),
            ),
            row(
                "bills",
                "2024-05|acct-1|eip",
                "2024-05",
                "acct-1",
                "changed",
                "late_usage",
                true,
                (dec("10"), dec("11.60")),
            ),
            row(
                "bills",
                "2024-06|acct-2|eip",
                "2024-06",
                "acct-2",
                "changed",
                "refund",
                false,
                (dec("5"), dec("3")),
            ),
        ];
        let text = summary(Path::new("a/old"), Path::new("a/new"), &report(rows, true));
        assert_eq!(
            text,
            "reckon diff a/old → a/new\n\
             compared: bill months 2024-04, 2024-05; bill lines charged in \
             [2024-03-20 00:00:00+08:00, 2024-06-15 00:00:00+08:00)\n\
             catalog: changed (hash differs)\n\
             bills: 3 (changed 2, removed 1); by reason: late_usage 1, refund 1, removed 1; \
             amount delta -3.40\n\
             bill_lines: 2 (added 1, changed 1); by reason: late_usage 1, refund 1; \
             amount delta -0.40\n\
             accounts changed: 3 (acct-1, acct-2, acct-3)\n\
             \x20 month 2024-04 (closed in OLD): bills delta -3\n\
             \x20 month 2024-05 (closed in OLD): bills delta +1.60\n\
             \x20 month 2024-06 (open in OLD): bills delta -2\n\
             restatements of closed months: 2\n\
             \x20 2024-04 acct-3 eip: 3 → - (-3) [removed]\n\
             \x20 2024-05 acct-1 eip: 10 → 11.60 (+1.60) [late_usage]\n"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let rows: Vec<DiffRow> = (0..25)
            .map(|i| {
                let owner = format!("acct-{i:02}");
                let key = format!("2024-05|{owner}|eip");
                row(
                    "bills",
                    &key,
                    "2024-05",
                    &owner,
                    "added",
                    "added",
                    true,
                    (None, dec("1")),
                )
            })
            .collect();
        let text = summary(Path::new("o"), Path::new("n"), &report(rows, false));
        assert!(text.contains(
            "accounts changed: 25 (acct-00, acct-01, acct-02, acct-03, acct-04, acct-05, \
             acct-06, acct-07, acct-08, acct-09, …)\n"
        ));
        assert!(text.contains("restatements of closed months: 25\n"));
        assert_eq!(text.matches("[added]").count(), 20);
        assert!(text.ends_with("  2024-05 acct-19 eip: - → 1 (+1) [added]\n"));
    }
}
