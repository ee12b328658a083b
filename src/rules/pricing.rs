//! Pricing of the pay-as-you-go remainder of usage rows (RULES.md §4.1, §4.2) into bill lines.
//!
//! For each valid usage row: `payg = quantity − covered` (covered by packages, see `deduction`).
//! The price in force at the hour's start (`usage_start`) is looked up in the catalog:
//! - graduated tiers (calls): split by `tiering` against the month-to-date billable counter per
//!   account and UTC+8 month (all regions together), one line per tier part;
//! - flat prices: `GB` prices convert the quantity to GB at scale 9 first (base 1024), `10000 call`
//!   prices divide by 10,000; traffic whose direction is free (inbound, internal) is a zero line;
//! - meter-only items (peaks for the elastic fee) are zero lines;
//! - no price → a `no_price` exception, and the row is not billed.
//!
//! Every line amount is rounded once to scale 8; `metered_quantity` and `deducted_quantity` sit on
//! a row's first line only. Line ids are `u:<usage_id>:<tier or 0>`.

use super::tiering;
use crate::calendar::Month;
use crate::catalog::{Catalog, Pricing};
use crate::error::Result;
use crate::input::{Usage, Violation};
use crate::money::{convert, m8, Unit};
use crate::name::Name;
use crate::output::tables::{BillLine, ChargeKind};
use compact_str::CompactString;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Priced {
    pub lines: Vec<BillLine>,
    pub violations: Vec<Violation>,
    /// Per usage row: whether it got bill lines.
    pub billed: Vec<bool>,
}

/// Amount of `q` (in `unit`) at `unit_price` per `price_unit`, rounded to scale 8.
pub fn amount(q: Decimal, unit: Unit, unit_price: Decimal, price_unit: &str) -> Option<Decimal> {
    let billable_units = match price_unit {
        "GB" if unit.is_traffic() => convert(q, unit, Unit::GB),
        "GB" => return None,
        "10000 call" if unit == Unit::Call => q / Decimal::from(10_000),
        "10000 call" => return None,
        _ => q,
    };
    Some(m8(billable_units * unit_price))
}

/// The rows one tier table prices, waiting for the column-wise split: one entry per row in
/// each column (32 bytes a row).
#[derive(Default)]
struct TierRows<'c> {
    row: Vec<usize>,
    payg: Vec<Decimal>,
    counter: Vec<u32>,
    price_unit: Vec<&'c Name>,
}

/// `u:<usage_id>:<tier or 0>`, built without the formatting machinery; inline (no allocation)
/// up to 24 bytes.
fn usage_line_id(usage_id: &str, tier: Option<i32>) -> CompactString {
    let mut s = CompactString::with_capacity(usage_id.len() + 6);
    s.push_str("u:");
    s.push_str(usage_id);
    s.push(':');
    match tier.unwrap_or(0) {
        t @ 0..=9 => s.push(char::from(b'0' + t as u8)),
        t => s.push_str(&t.to_string()),
    }
    s
}

/// Prices `usage` (sorted by `(usage_start, usage_id)`), given each row's covered quantity.
pub fn price_usage(usage: &[Usage], covered: &[Decimal], catalog: &Catalog) -> Result<Priced> {
    let mut out = Priced {
        billed: vec![false; usage.len()],
        lines: Vec::with_capacity(usage.len() + usage.len() / 8),
        ..Default::default()
    };
    // Per tier table, in table-name order.
    let mut tier_rows: BTreeMap<&Name, TierRows> = BTreeMap::new();
    // Keyed by borrowed names: looking a row's counter up clones nothing.
    let mut counters: FxHashMap<(&str, Month, &str), u32> = FxHashMap::default();
    // One shared `Arc` per unit name: lines clone it instead of allocating.
    let units: Vec<Name> = Unit::ALL.iter().map(|u| Name::from(u.as_str())).collect();
    let unit_of = |u: Unit| units[Unit::ALL.iter().position(|x| *x == u).unwrap_or(0)];
    let line = |u: &Usage,
                tier: Option<i32>,
                first: bool,
                billable: Decimal,
                unit_price: Decimal,
                price_unit: &Name,
                amount: Decimal,
                covered: Decimal| BillLine {
        line_id: usage_line_id(&u.usage_id, tier),
        owner_uin: u.owner_uin,
        region: u.region,
        product: u.product,
        sub_product: u.sub_product,
        instance_id: u.instance_id,
        billing_item: u.billing_item,
        charge_kind: ChargeKind::Usage,
        charge_start: u.usage_start,
        charge_end: u.usage_end,
        usage_id: Some(u.usage_id.clone()),
        metered_quantity: if first { u.quantity } else { Decimal::ZERO },
        deducted_quantity: if first { covered } else { Decimal::ZERO },
        billable_quantity: billable,
        unit: unit_of(u.unit),
        tier,
        unit_price,
        price_unit: *price_unit,
        amount,
        charged_at: u.usage_end,
    };
    for (i, u) in usage.iter().enumerate() {
        let payg = u.quantity - covered[i];
        let Some(entry) = catalog.price(&u.product, &u.billing_item, &u.region, u.usage_start)
        else {
            out.violations.push(no_price(u, "no price in the catalog"));
            continue;
        };
        let free = u.unit.is_traffic() && catalog.free_directions.contains(u.direction.as_str());
        match &entry.pricing {
            _ if free => {
                out.lines.push(line(
                    u,
                    None,
                    true,
                    payg,
                    Decimal::ZERO,
                    &entry.price_unit,
                    Decimal::ZERO,
                    covered[i],
                ));
            }
            Pricing::MeterOnly => {
                out.lines.push(line(
                    u,
                    None,
                    true,
                    payg,
                    Decimal::ZERO,
                    &entry.price_unit,
                    Decimal::ZERO,
                    covered[i],
                ));
            }
            Pricing::Flat { unit_price } => {
                match amount(payg, u.unit, *unit_price, &entry.price_unit) {
                    Some(a) => out.lines.push(line(
                        u,
                        None,
                        true,
                        payg,
                        *unit_price,
                        &entry.price_unit,
                        a,
                        covered[i],
                    )),
                    None => {
                        out.violations.push(no_price(
                            u,
                            &format!("a price per {} cannot price {}", entry.price_unit, u.unit),
                        ));
                        continue;
                    }
                }
            }
            Pricing::Tiered { table } => {
                let next = counters.len() as u32;
                let counter = *counters
                    .entry((&*u.owner_uin, Month::of(u.usage_start), &**table))
                    .or_insert(next);
                let t = tier_rows.entry(table).or_default();
                t.row.push(i);
                t.payg.push(payg);
                t.counter.push(counter);
                t.price_unit.push(&entry.price_unit);
            }
        }
        out.billed[i] = true;
    }
    // Graduated rows, one tier table at a time, column-wise.
    for (table, t) in tier_rows {
        // Batch by batch (whole counters): one batch's tier parts in memory at a time.
        tiering::split_batches(&t.payg, &t.counter, catalog.tiers(table), |parts| {
            let mut prev_row = usize::MAX;
            for part in parts {
                let (i, price_unit) = (t.row[part.row], t.price_unit[part.row]);
                let u = &usage[i];
                let a = amount(part.quantity, u.unit, part.unit_price, price_unit)
                    .unwrap_or_else(|| m8(part.quantity * part.unit_price));
                out.lines.push(line(
                    u,
                    Some(part.tier),
                    part.row != prev_row,
                    part.quantity,
                    part.unit_price,
                    price_unit,
                    a,
                    covered[i],
                ));
                prev_row = part.row;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn no_price(u: &Usage, why: &str) -> Violation {
    Violation::new(
        "usage",
        u.usage_id.to_string(),
        "no_price",
        format!("{} {} in {}: {why}", u.product, u.billing_item, u.region),
        Some(u.usage_start),
    )
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use crate::rules::deduction::tests::{catalog, usage};
    use rust_decimal_macros::dec;

    #[test]
    fn usage_line_ids_name_the_row_and_tier() {
        assert_eq!(usage_line_id("u1", None), "u:u1:0");
        assert_eq!(usage_line_id("u1", Some(3)), "u:u1:3");
        assert_eq!(usage_line_id("u1", Some(12)), "u:u1:12");
    }

    #[test]
    fn example_10_eip_traffic_in_guangzhou() {
        // 10 GB between 07:00 and 08:00 → 0.80 × 10 = 8.00, charged at 08:00.
        let u = usage("u1", "2024-05-01 07:00:00", dec!(10), Unit::GB);
        let p = price_usage(&[u.clone()], &[dec!(0)], &catalog()).unwrap();
        assert_eq!(p.lines.len(), 1);
        let l = &p.lines[0];
        assert_eq!(
            (l.unit_price, l.amount, l.billable_quantity),
            (dec!(0.80), dec!(8.00), dec!(10))
        );
        assert_eq!(
            l.charged_at,
            crate::rules::deduction::tests::t("2024-05-01 08:00:00")
        );
        assert_eq!(&*l.price_unit, "GB");
    }

    #[test]
    fn inbound_traffic_is_a_zero_line_and_unknown_region_has_no_price() {
        let mut u = usage("u1", "2024-05-01 07:00:00", dec!(10), Unit::GB);
        u.direction = crate::input::Direction::Inbound;
        let p = price_usage(&[u.clone()], &[dec!(0)], &catalog()).unwrap();
        assert_eq!(
            (p.lines[0].amount, p.lines[0].unit_price),
            (dec!(0), dec!(0))
        );
        let mut m = usage("u2", "2024-05-01 07:00:00", dec!(10), Unit::GB);
        m.region = "ap-mumbai".into();
        let p = price_usage(&[m], &[dec!(0)], &catalog()).unwrap();
        assert!(p.lines.is_empty());
        assert_eq!(p.violations[0].rule, "no_price");
        assert_eq!(p.billed, vec![false]);
    }

    #[test]
    fn covered_part_is_not_priced_and_first_part_carries_quantities() {
        let mut a = usage("a", "2024-05-01 07:00:00", dec!(9990000), Unit::Call);
        a.product = "apigw".into();
        a.billing_item = "calls".into();
        let mut b = a.clone();
        b.usage_id = "b".into();
        b.usage_start += crate::calendar::HOUR;
        b.usage_end += crate::calendar::HOUR;
        b.quantity = dec!(1020000);
        // 1,000,000 of b's calls were covered by free quota: 20,000 billable.
        let p = price_usage(&[a, b], &[dec!(0), dec!(1000000)], &catalog()).unwrap();
        let got: Vec<_> = p
            .lines
            .iter()
            .map(|l| {
                (
                    l.line_id.as_str(),
                    l.tier,
                    l.metered_quantity,
                    l.deducted_quantity,
                    l.billable_quantity,
                    l.amount,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "u:a:1",
                    Some(1),
                    dec!(9990000),
                    dec!(0),
                    dec!(9990000),
                    dec!(59.94)
                ),
                (
                    "u:b:1",
                    Some(1),
                    dec!(1020000),
                    dec!(1000000),
                    dec!(10000),
                    dec!(0.06)
                ),
                ("u:b:2", Some(2), dec!(0), dec!(0), dec!(10000), dec!(0.04)),
            ]
        );
    }
}
