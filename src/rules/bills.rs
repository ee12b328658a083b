//! Monthly bills: one row per account, product and natural UTC+8 month that overlaps the window
//! (RULES.md §8), summing the month's bill lines by charge kind. Lines are replayed from history,
//! so the earliest month is complete even though the window starts inside it.
//!
//! Invariants: `total_amount` is the exact sum of the month's line amounts (scale 8);
//! `payable` is `total_amount` rounded once to 0.01, half away from zero; `complete` is false
//! only for the month containing the as-of moment.

use crate::calendar::{Month, Window};
use crate::money::pay2;
use crate::name::Name;
use crate::output::tables::{Bill, BillLine, ChargeKind};
use crate::output::Table;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

pub fn monthly_bills(lines: &[BillLine], w: &Window) -> Vec<Bill> {
    let months = w.months();
    let (first, last) = (months[0], *months.last().expect("at least one month"));
    let mut acc: FxHashMap<(Month, Name, Name), Bill> = FxHashMap::default();
    for l in lines {
        let m = Month::of(l.charge_start);
        if m < first || m > last {
            continue;
        }
        let b = acc
            .entry((m, l.owner_uin, l.product))
            .or_insert_with(|| Bill {
                month: m,
                owner_uin: l.owner_uin,
                product: l.product,
                usage_amount: Decimal::ZERO,
                purchase_amount: Decimal::ZERO,
                subscription_amount: Decimal::ZERO,
                elastic_amount: Decimal::ZERO,
                refund_amount: Decimal::ZERO,
                upgrade_amount: Decimal::ZERO,
                total_amount: Decimal::ZERO,
                payable: Decimal::ZERO,
                line_count: 0,
                complete: w.month_complete(m),
            });
        let slot = match l.charge_kind {
            ChargeKind::Usage => &mut b.usage_amount,
            ChargeKind::Purchase => &mut b.purchase_amount,
            ChargeKind::Subscription => &mut b.subscription_amount,
            ChargeKind::Elastic => &mut b.elastic_amount,
            ChargeKind::Refund => &mut b.refund_amount,
            ChargeKind::Upgrade => &mut b.upgrade_amount,
        };
        *slot += l.amount;
        b.total_amount += l.amount;
        b.line_count += 1;
    }
    let mut bills: Vec<Bill> = acc
        .into_values()
        .map(|mut b| {
            b.payable = pay2(b.total_amount);
            b
        })
        .collect();
    bills.sort_unstable_by(Bill::sort_key_cmp);
    bills
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
        let amounts: Vec<_> = p
            .lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.amount))
            .collect();
        assert_eq!(
            amounts,
            vec![
                ("u:r:0", dec!(11.44409180)),
                ("u:s:0", dec!(3.81469727)),
                ("u:c:1", dec!(30.00))
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
}
