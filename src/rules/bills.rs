//! Monthly bills: one row per account, product and natural UTC+8 month that overlaps the window
//! (docs/rules.md §8), summing the month's bill lines by charge kind. Lines are replayed from
//! history, so the earliest month is complete even though the window starts inside it.
//!
//! Amounts by charge kind, in docs/contract.md's columns: `usage`, `purchase`, `subscription` (with
//! `upgrade` lines: plan fees too), `elastic`, `refund`.
//!
//! Invariants: `total_amount` is the exact sum of the month's line amounts (scale 8) and of
//! the five amounts; `payable` is `total_amount` rounded once to 0.01, half away from zero;
//! `complete` is false only for the month containing the as-of moment. Lines are summed in
//! parallel slices whose bills are then added; the sums are exact, so the bills do not depend
//! on the split or the number of threads.

use crate::calendar::{Month, Window};
use crate::model::{Bill, BillLine, ChargeKind};
use crate::money::pay2;
use crate::name::Name;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

pub fn monthly_bills(lines: &[BillLine], w: &Window) -> Vec<Bill> {
    use rayon::prelude::*;
    let months = w.months();
    let (first, last) = (months[0], *months.last().expect("at least one month"));
    // Sums are exact (Decimal at scale 8, far from its 96 bits), so summing slices of the
    // lines on their own and adding the slices' bills gives the same bills in any split.
    let acc = lines
        .par_iter()
        .with_min_len(16 * 1024)
        .fold(Bills::default, |mut acc, l| {
            let m = Month::of(l.charge_start);
            if m >= first && m <= last {
                acc.add(m, l, w);
            }
            acc
        })
        .reduce(Bills::default, Bills::merge);
    let mut bills: Vec<Bill> = acc
        .0
        .into_values()
        .map(|mut b| {
            b.payable = pay2(b.total_amount);
            b
        })
        .collect();
    bills.sort_unstable_by(|a, b| {
        (a.month, &a.owner_uin, &a.product).cmp(&(b.month, &b.owner_uin, &b.product))
    });
    bills
}

/// Bills being summed, by month, account and product.
#[derive(Default)]
struct Bills(FxHashMap<(Month, Name, Name), Bill>);

impl Bills {
    fn add(&mut self, m: Month, l: &BillLine, w: &Window) {
        let b = self
            .0
            .entry((m, l.owner_uin, l.product))
            .or_insert_with(|| empty_bill(m, l.owner_uin, l.product, w.month_complete(m)));
        *slot(b, l.charge_kind) += l.amount;
        b.total_amount += l.amount;
        b.line_count += 1;
    }

    /// Adds the smaller map's bills into the larger's.
    fn merge(self, other: Bills) -> Bills {
        let (mut big, small) = if self.0.len() >= other.0.len() {
            (self.0, other.0)
        } else {
            (other.0, self.0)
        };
        for (k, o) in small {
            match big.entry(k) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(o);
                }
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    let b = e.get_mut();
                    b.usage_amount += o.usage_amount;
                    b.purchase_amount += o.purchase_amount;
                    b.subscription_amount += o.subscription_amount;
                    b.elastic_amount += o.elastic_amount;
                    b.refund_amount += o.refund_amount;
                    b.total_amount += o.total_amount;
                    b.line_count += o.line_count;
                }
            }
        }
        Bills(big)
    }
}

fn empty_bill(month: Month, owner_uin: Name, product: Name, complete: bool) -> Bill {
    Bill {
        month,
        owner_uin,
        product,
        usage_amount: Decimal::ZERO,
        purchase_amount: Decimal::ZERO,
        subscription_amount: Decimal::ZERO,
        elastic_amount: Decimal::ZERO,
        refund_amount: Decimal::ZERO,
        total_amount: Decimal::ZERO,
        payable: Decimal::ZERO,
        line_count: 0,
        complete,
    }
}

/// The sum of `b` a line of `kind` adds to.
fn slot(b: &mut Bill, kind: ChargeKind) -> &mut Decimal {
    match kind {
        ChargeKind::Usage => &mut b.usage_amount,
        ChargeKind::Purchase => &mut b.purchase_amount,
        // An upgrade is a plan fee: docs/contract.md's bills have no column of their own for it,
        // and the five amounts add up to `total_amount`.
        ChargeKind::Subscription | ChargeKind::Upgrade => &mut b.subscription_amount,
        ChargeKind::Elastic => &mut b.elastic_amount,
        ChargeKind::Refund => &mut b.refund_amount,
    }
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use crate::calendar::parse_date;
    use crate::catalog::Catalog;
    use crate::money::Unit;
    use crate::rules::deduction::tests::{catalog, usage};
    use crate::rules::pricing::price_usage;
    use rust_decimal_macros::dec;

    fn example_6_rows() -> Vec<crate::input::Usage> {
        let mut calls = usage("c", "2024-05-10 10:00:00", dec!(5000000), Unit::Call);
        calls.product = "apigw".into();
        calls.billing_item = "calls".into();
        let mut resp = usage("r", "2024-05-10 10:00:00", dec!(15000000), Unit::KB);
        resp.product = "apigw".into();
        resp.billing_item = "egress_traffic".into();
        let mut back = resp.clone();
        back.usage_id = "s".into();
        back.quantity = dec!(5000000);
        vec![calls, resp, back]
    }

    #[test]
    fn example_6_api_gateway_calls_and_traffic_payable() {
        let c: Catalog = catalog();
        let rows = example_6_rows();
        let p = price_usage(&rows, &[dec!(0); 3], &c).unwrap();
        // Each line: (id, tier, billable quantity, unit price per price unit, amount).
        let parts: Vec<_> = p
            .lines
            .iter()
            .map(|l| {
                (
                    l.line_id.as_str(),
                    l.tier,
                    l.billable_quantity,
                    l.unit_price,
                    &*l.price_unit,
                    l.amount,
                )
            })
            .collect();
        assert_eq!(
            parts,
            vec![
                // 15,000,000 KB = 14.305114746 GB at 0.80.
                (
                    "u:r:0",
                    None,
                    dec!(15000000),
                    dec!(0.80),
                    "GB",
                    dec!(11.44409180)
                ),
                (
                    "u:s:0",
                    None,
                    dec!(5000000),
                    dec!(0.80),
                    "GB",
                    dec!(3.81469727)
                ),
                // 5,000,000 calls, all in tier 1 (up to 10,000,000) at 0.06 per 10,000.
                (
                    "u:c:1",
                    Some(1),
                    dec!(5000000),
                    dec!(0.06),
                    "10000 call",
                    dec!(30.00)
                ),
            ]
        );
        let w = Window::new(parse_date("2024-06-01").unwrap());
        let bills = monthly_bills(&p.lines, &w);
        assert_eq!(bills.len(), 1);
        assert_eq!(
            (bills[0].usage_amount, bills[0].payable),
            (dec!(45.25878907), dec!(45.26))
        );
        assert_eq!(bills[0].line_count, 3);
        assert!(bills[0].complete);
        let w = Window::new(parse_date("2024-05-20").unwrap());
        assert!(!monthly_bills(&p.lines, &w)[0].complete);
    }

    #[test]
    fn bills_sum_by_kind_the_same_whatever_the_threads() {
        use crate::rules::ledger::tests::{line, t};
        // Enough lines for the parallel sum to split them (16K a piece at least): two accounts,
        // two products, two months, every kind; amounts with 8 decimals.
        let kinds = [
            ChargeKind::Usage,
            ChargeKind::Purchase,
            ChargeKind::Subscription,
            ChargeKind::Elastic,
            ChargeKind::Refund,
            ChargeKind::Upgrade,
        ];
        let mut lines = Vec::new();
        for i in 0..100_000u32 {
            let at = if i % 3 == 0 {
                t("2024-04-10 10:00:00")
            } else {
                t("2024-05-10 10:00:00")
            };
            let product = if i % 2 == 0 { "apigw" } else { "cdn" };
            let amount = format!("{}.{:08}", i % 7, i % 100_000_000);
            let mut l = line(
                &format!("l:{i}"),
                kinds[i as usize % 6],
                product,
                at,
                &amount,
            );
            if i % 5 == 0 {
                l.owner_uin = "acct-2".into();
            }
            lines.push(l);
        }
        // A line before the window is left out.
        lines.push(line(
            "old",
            ChargeKind::Usage,
            "apigw",
            t("2024-01-10 10:00:00"),
            "5",
        ));
        let w = Window::new(parse_date("2024-06-01").unwrap());
        let with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| monthly_bills(&lines, &w))
        };
        let bills = with(1);
        assert_eq!(bills, with(4));
        assert_eq!(bills.len(), 8);
        // Each bill, kind by kind, against a plain sum of its lines.
        for b in &bills {
            let mine: Vec<&BillLine> = lines
                .iter()
                .filter(|l| {
                    Month::of(l.charge_start) == b.month
                        && l.owner_uin == b.owner_uin
                        && l.product == b.product
                })
                .collect();
            let sum = |k: ChargeKind| -> Decimal {
                mine.iter()
                    .filter(|l| l.charge_kind == k)
                    .map(|l| l.amount)
                    .sum()
            };
            assert_eq!(b.usage_amount, sum(ChargeKind::Usage));
            assert_eq!(b.purchase_amount, sum(ChargeKind::Purchase));
            assert_eq!(
                b.subscription_amount,
                sum(ChargeKind::Subscription) + sum(ChargeKind::Upgrade)
            );
            assert_eq!(b.elastic_amount, sum(ChargeKind::Elastic));
            assert_eq!(b.refund_amount, sum(ChargeKind::Refund));
            assert_eq!(
                b.usage_amount
                    + b.purchase_amount
                    + b.subscription_amount
                    + b.elastic_amount
                    + b.refund_amount,
                b.total_amount
            );
            assert_eq!(
                b.total_amount,
                mine.iter().map(|l| l.amount).sum::<Decimal>()
            );
            assert_eq!(b.line_count, mine.len() as i64);
            assert_eq!(b.payable, pay2(b.total_amount));
        }
        assert_eq!(bills.iter().map(|b| b.line_count).sum::<i64>(), 100_000);
    }
}
