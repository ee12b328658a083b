//! The reason of each change: pure decisions on facts the comparison gathered.
//!
//! A line's reason is the first that applies of `refund`, `late_usage`, `package_change`,
//! `catalog_change`, else its change (`added`, `removed`, `changed`). A bill takes the first
//! reason in [`REASONS`] order among its month's changed lines of the same account and product;
//! a bill with no changed line takes `open_month` when the month was open in OLD, else its
//! change. Invariant: the decision depends only on these facts, never on the order in which
//! lines or buckets were compared.

use super::table::DiffRow;
use crate::calendar::{Month, Window};
use std::collections::HashMap;

/// Reason codes, in precedence order.
pub const REASONS: [&str; 9] = [
    "refund",
    "late_usage",
    "package_change",
    "catalog_change",
    "open_month",
    "added",
    "removed",
    "changed",
    "",
];

fn rank(reason: &str) -> usize {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(REASONS.len())
}

/// What decides the reason of one added, removed or changed bill line.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LineFacts<'a> {
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The line's `charge_kind`.
    pub charge_kind: &'a str,
    /// The line has a usage id that OLD had no line of.
    pub usage_unknown_to_old: bool,
    /// The line's `charge_start` lies inside OLD's window: a period OLD had covered.
    pub in_old_window: bool,
    /// The line's usage drew differently on packages, or a package it drew on changed
    /// ([`drew_differently`]).
    pub drew_differently: bool,
    /// The manifests' catalog hashes differ.
    pub catalog_changed: bool,
    /// The line's `unit_price` differs between the outputs.
    pub price_differs: bool,
}

/// The reason of a changed bill line.
pub(super) fn line_reason(f: &LineFacts) -> &'static str {
    if f.charge_kind == "refund" {
        "refund"
    } else if f.change == "added" && f.usage_unknown_to_old && f.in_old_window {
        "late_usage"
    } else if f.drew_differently {
        "package_change"
    } else if f.catalog_changed && f.price_differs {
        "catalog_change"
    } else {
        f.change
    }
}

/// Whether `usage`'s draws (usage_id → draws as text, per side) differ between the outputs, or
/// a package one of them drew on has other inventory attributes (package_id → attributes, per
/// side). A line without usage drew on nothing.
pub(super) fn drew_differently(
    usage: Option<&str>,
    draws: [&HashMap<String, Vec<String>>; 2],
    packages: [&HashMap<String, String>; 2],
) -> bool {
    usage.is_some_and(|u| {
        let (a, b) = (draws[0].get(u), draws[1].get(u));
        a != b
            || a.into_iter().chain(b).flatten().any(|d| {
                let pkg = d.split('/').next().unwrap_or("");
                packages[0].get(pkg) != packages[1].get(pkg)
            })
    })
}

/// Per bill key `month|owner_uin|product`, the first reason in [`REASONS`] order among the
/// changed `lines` of that month, account and product.
pub(super) fn first_by_bill(lines: &[DiffRow]) -> HashMap<String, &'static str> {
    let mut by_bill: HashMap<String, &'static str> = HashMap::new();
    for r in lines {
        let k = format!("{}|{}|{}", r.month, r.owner_uin, r.product);
        let e = by_bill.entry(k).or_insert(r.reason);
        if rank(r.reason) < rank(e) {
            *e = r.reason;
        }
    }
    by_bill
}

/// The reason of a changed bill: its lines' first reason; without one, `open_month` when the
/// month was open in OLD (the bill said so, or OLD's window had not closed it), else `change`.
pub(super) fn bill_reason(
    lines: Option<&'static str>,
    open_in_old_bill: bool,
    closed_in_old: bool,
    change: &'static str,
) -> &'static str {
    match lines {
        Some(r) => r,
        None if open_in_old_bill || !closed_in_old => "open_month",
        None => change,
    }
}

/// Whether `month` (`YYYY-MM`) was complete in the window `w`: a change to it is a restatement.
pub(super) fn closed(w: &Window, month: &str) -> bool {
    Month::parse(month).is_some_and(|m| w.month_complete(m))
}

#[cfg(test)]
mod tests {
    //! One test per reason, each building the situation through the comparison of two
    //! outputs' rows ([`super::super::lines`] and [`super::super::compare`]) and asserting the
    //! breakdown: which key, which change, which reason, which delta.

    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_refund_line_is_a_refund_whatever_else_changed() {
        let old = lines(&[line("r:p1", None, "refund", "2024-05-20", "-10")]);
        let new = lines(&[line("r:p1", None, "refund", "2024-05-20", "-12")]);
        let got = compare_lines_of(&Setup::default(), Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines r:p1 2024-05 changed refund -2 [amount]"]
        );
    }

    #[test]
    fn a_line_of_a_usage_old_never_saw_in_a_covered_period_is_late_usage() {
        let old = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "1")]);
        let new = lines(&[
            line("u:a:1", Some("a"), "usage", "2024-05-10", "1"),
            line("u:late:1", Some("late"), "usage", "2024-05-10", "1.6"),
        ]);
        let got = compare_lines_of(&Setup::default(), Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines u:late:1 2024-05 added late_usage 1.6 []"]
        );
        assert!(got[0].closed_in_old, "May is closed in OLD (as of 06-15)");
    }

    #[test]
    fn a_new_line_of_a_known_usage_or_after_old_window_is_only_added() {
        // A second tier of usage `a`: OLD knew the usage. Usage `b` charged on 06-16: after
        // OLD's as-of date, so not late.
        let old = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "1")]);
        let new = lines(&[
            line("u:a:1", Some("a"), "usage", "2024-05-10", "1"),
            line("u:a:2", Some("a"), "usage", "2024-05-10", "0.5"),
            line("u:b:1", Some("b"), "usage", "2024-06-16", "2"),
        ]);
        let setup = Setup {
            to: ts("2024-06-20"),
            ..Setup::default()
        };
        let got = compare_lines_of(&setup, Some(old), Some(new));
        assert_eq!(
            brief(&got),
            [
                "bill_lines u:a:2 2024-05 added added 0.5 []",
                "bill_lines u:b:1 2024-06 added added 2 []",
            ]
        );
    }

    #[test]
    fn a_line_whose_usage_drew_otherwise_on_packages_is_a_package_change() {
        let old = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "0")]);
        let new = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "0.8")]);
        let setup = Setup {
            draws: [
                vec![draw("a", "pkg-1", "10", "10")],
                vec![draw("a", "pkg-1", "9", "9")],
            ],
            ..Setup::default()
        };
        let got = compare_lines_of(&setup, Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines u:a:1 2024-05 changed package_change 0.8 [amount]"]
        );
    }

    #[test]
    fn a_line_that_drew_on_a_package_changed_in_the_inventory_is_a_package_change() {
        let old = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "1")]);
        let new = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "2")]);
        let same = vec![draw("a", "pkg-1", "10", "10")];
        let inventory = |capacity: &str| {
            HashMap::from([("pkg-1".to_string(), format!("periodic/{capacity}/GB"))])
        };
        let setup = Setup {
            draws: [same.clone(), same],
            packages: [inventory("100"), inventory("50")],
            ..Setup::default()
        };
        let got = compare_lines_of(&setup, Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines u:a:1 2024-05 changed package_change 1 [amount]"]
        );
    }

    #[test]
    fn a_new_unit_price_under_a_new_catalog_is_a_catalog_change() {
        let old = lines(&[priced("u:a:1", "0.80", "4")]);
        let new = lines(&[priced("u:a:1", "0.90", "4.5")]);
        let setup = Setup {
            catalog_changed: true,
            ..Setup::default()
        };
        let got = compare_lines_of(&setup, Some(old.clone()), Some(new.clone()));
        assert_eq!(
            brief(&got),
            ["bill_lines u:a:1 2024-05 changed catalog_change 0.5 [unit_price,amount]"]
        );
        // The same price change under one catalog: only `changed`.
        let got = compare_lines_of(&Setup::default(), Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines u:a:1 2024-05 changed changed 0.5 [unit_price,amount]"]
        );
    }

    #[test]
    fn a_line_only_in_old_is_removed() {
        let old = lines(&[
            line("u:a:1", Some("a"), "usage", "2024-05-10", "1"),
            line("s:i-1:2024-05", None, "subscription", "2024-05-01", "30"),
        ]);
        let new = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "1")]);
        let got = compare_lines_of(&Setup::default(), Some(old.clone()), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines s:i-1:2024-05 2024-05 removed removed -30 []"]
        );
        // A bucket NEW has no line in at all.
        let got = compare_lines_of(&Setup::default(), Some(old), None);
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .all(|r| r.reason == "removed" && r.new_amount.is_none()));
    }

    #[test]
    fn a_line_whose_columns_differ_for_no_known_cause_is_changed() {
        let old = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "1")]);
        let new = lines(&[line("u:a:1", Some("a"), "usage", "2024-05-10", "1.25")]);
        let got = compare_lines_of(&Setup::default(), Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines u:a:1 2024-05 changed changed 0.25 [amount]"]
        );
    }

    #[test]
    fn a_bill_of_a_month_open_in_old_without_changed_lines_is_open_month() {
        // OLD ran as of 06-15: June was open; NEW adds the days after, outside the compared
        // range of lines.
        let old = bills(&[("2024-06", "acct-1", "eip", "10", false)]);
        let new = bills(&[("2024-06", "acct-1", "eip", "14", true)]);
        let got = compare_bills_of(&old, &new, &["2024-06"], &[]);
        assert_eq!(
            brief(&got),
            ["bills 2024-06|acct-1|eip 2024-06 changed open_month 4 [total_amount,complete]"]
        );
        assert!(!got[0].closed_in_old);
    }

    #[test]
    fn a_bill_takes_the_first_reason_of_its_changed_lines() {
        let old = bills(&[("2024-05", "acct-1", "eip", "10", true)]);
        let new = bills(&[("2024-05", "acct-1", "eip", "11.6", true)]);
        let mut changed = row("2024-05", "acct-1", "eip", "changed");
        let mut late = row("2024-05", "acct-1", "eip", "late_usage");
        changed.key = "u:a:1".into();
        late.key = "u:late:1".into();
        let got = compare_bills_of(&old, &new, &["2024-05"], &[changed, late]);
        assert_eq!(
            brief(&got),
            ["bills 2024-05|acct-1|eip 2024-05 changed late_usage 1.6 [total_amount]"]
        );
        assert!(got[0].closed_in_old);
    }

    #[test]
    fn a_bill_of_a_closed_month_without_changed_lines_takes_its_change() {
        let old = bills(&[
            ("2024-05", "acct-1", "eip", "10", true),
            ("2024-05", "acct-2", "cvm", "7", true),
        ]);
        let new = bills(&[
            ("2024-05", "acct-1", "eip", "9", true),
            ("2024-05", "acct-3", "clb", "3", true),
            ("2024-03", "acct-1", "eip", "1", true),
        ]);
        // March is not a month both outputs bill: not compared.
        let got = compare_bills_of(&old, &new, &["2024-05"], &[]);
        assert_eq!(
            brief(&got),
            [
                "bills 2024-05|acct-1|eip 2024-05 changed changed -1 [total_amount]",
                "bills 2024-05|acct-2|cvm 2024-05 removed removed -7 []",
                "bills 2024-05|acct-3|clb 2024-05 added added 3 []",
            ]
        );
    }

    #[test]
    fn reasons_take_precedence_in_order() {
        let all = LineFacts {
            change: "added",
            charge_kind: "refund",
            usage_unknown_to_old: true,
            in_old_window: true,
            drew_differently: true,
            catalog_changed: true,
            price_differs: true,
        };
        assert_eq!(line_reason(&all), "refund");
        let f = LineFacts {
            charge_kind: "usage",
            ..all
        };
        assert_eq!(line_reason(&f), "late_usage");
        let f = LineFacts {
            in_old_window: false,
            ..f
        };
        assert_eq!(line_reason(&f), "package_change");
        let f = LineFacts {
            drew_differently: false,
            ..f
        };
        assert_eq!(line_reason(&f), "catalog_change");
        let f = LineFacts {
            price_differs: false,
            ..f
        };
        assert_eq!(line_reason(&f), "added");

        let mut a = row("2024-05", "acct-1", "eip", "catalog_change");
        let mut b = a.clone();
        a.reason = "removed";
        b.reason = "package_change";
        let by_bill = first_by_bill(&[a, b]);
        assert_eq!(by_bill.get("2024-05|acct-1|eip"), Some(&"package_change"));
        assert_eq!(bill_reason(None, true, true, "changed"), "open_month");
        assert_eq!(bill_reason(Some("refund"), true, false, "added"), "refund");
    }
}
