//! Pricing of the pay-as-you-go remainder of usage rows (docs/rules.md §4.1, §4.2) into bill lines.
//!
//! For each valid usage row: `payg = quantity − covered` (covered by packages, see `deduction`).
//! The price in force at the hour's start (`usage_start`) is looked up in the catalog:
//! - graduated tiers (calls): split by `tiering` against the month-to-date billable counter per
//!   account and UTC+8 month (all regions together), one line per tier part;
//! - flat prices: `GB` prices convert the quantity to GB at scale 9 first (base 1024), `10000 call`
//!   prices divide by 10,000; traffic whose direction is free (inbound, internal) is a zero line;
//! - meter-only items (peaks for the elastic fee) are zero lines;
//! - unbilled calls (the catalog's `[unbilled_calls]`: dedicated instances, WebSocket backends)
//!   are one zero line at unit price 0, without a tier, and do not count toward the month's
//!   calls (deduction gave them no draw);
//! - no price, or a price whose unit cannot measure the row's (a call price for bytes, a GB
//!   price for calls; tiered and flat alike) → a `no_price` exception, and the row is not
//!   billed (nor counted in the month's calls).
//!
//! Line ids are `u:<usage_id>:<tier or 0>`.
//!
//! Invariants: every line amount is rounded once to scale 8; `metered_quantity` and
//! `deducted_quantity` sit on a row's first line only; a priced row's lines' billable quantities
//! sum exactly to its pay-as-you-go quantity (`tiering`); a row with a `no_price` finding has no
//! line and `billed = false`.
//!
//! Lookups and lines are computed in parallel but land in one fixed order whatever the thread
//! count: the lines of rows priced alone in row order, then the tier parts by table, batch and
//! `(row, tier)`.

use super::tiering;
use crate::calendar::Month;
use crate::catalog::{Catalog, PriceEntry, Pricing};
use crate::error::Result;
use crate::input::{Usage, Violation};
use crate::model::{BillLine, ChargeKind};
use crate::money::{convert, mul_round, Unit, MONEY_SCALE};
use crate::name::Name;
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

/// Amount of `q` (in `unit`) at `unit_price` per `price_unit`, rounded to scale 8; `None` when
/// the price unit does not measure the quantity's unit (see `priceable`).
pub fn amount(q: Decimal, unit: Unit, unit_price: Decimal, price_unit: &str) -> Option<Decimal> {
    if !priceable(unit, price_unit) {
        return None;
    }
    let billable_units = match price_unit {
        "GB" => convert(q, unit, Unit::GB),
        // q / 10,000 exactly: the same mantissa, four more decimals.
        "10000 call" if q.scale() <= 24 => {
            Decimal::from_i128_with_scale(q.mantissa(), q.scale() + 4)
        }
        "10000 call" => q / Decimal::from(10_000),
        _ => q,
    };
    Some(mul_round(billable_units, unit_price, MONEY_SCALE))
}

/// The rows one tier table prices, waiting for the column-wise split: one entry per row in
/// each column (36 bytes a row).
#[derive(Default)]
struct TierRows {
    row: Vec<usize>,
    payg: Vec<Decimal>,
    counter: Vec<u32>,
    price_unit: Vec<Name>,
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
    price_usage_into(Vec::new(), usage, covered, catalog)
}

/// [`price_usage`] with its lines written into `lines` (emptied first; its memory reused when
/// large enough, see [`crate::buffers::with_room`]).
pub fn price_usage_into(
    lines: Vec<BillLine>,
    usage: &[Usage],
    covered: &[Decimal],
    catalog: &Catalog,
) -> Result<Priced> {
    use rayon::prelude::*;
    // The price in force for every row, in parallel (an indexed collect: written in place).
    let entries: Vec<Option<&PriceEntry>> = usage
        .par_iter()
        .map(|u| catalog.price(&u.product, &u.billing_item, &u.region, u.usage_start))
        .collect();
    let mut out = Priced {
        billed: vec![true; usage.len()],
        lines: crate::buffers::with_room(lines, usage.len() + usage.len() / 8),
        ..Default::default()
    };
    let rows = Rows {
        usage,
        covered,
        entries: &entries,
        catalog,
        maker: LineMaker::new(),
    };
    let (flat, tiered) = rows.sort_out(&mut out);
    rows.flat_lines(&flat, &mut out.lines);
    drop(flat);
    for (table, t) in tiered {
        rows.tier_lines(&table, &t, &mut out.lines)?;
    }
    Ok(out)
}

/// The rows being priced, with what every step reads.
struct Rows<'a> {
    usage: &'a [Usage],
    covered: &'a [Decimal],
    /// The price in force for each row.
    entries: &'a [Option<&'a PriceEntry>],
    catalog: &'a Catalog,
    maker: LineMaker,
}

/// The quantities and price of one line of a usage row.
struct LinePart {
    tier: Option<i32>,
    /// The row's first line carries its metered and deducted quantities.
    first: bool,
    billable: Decimal,
    unit_price: Decimal,
    price_unit: Name,
    amount: Decimal,
}

/// Builds usage bill lines; one shared name per unit, which the lines copy.
struct LineMaker {
    units: Vec<Name>,
}

impl LineMaker {
    fn new() -> LineMaker {
        LineMaker {
            units: Unit::ALL.iter().map(|u| Name::new(u.as_str())).collect(),
        }
    }

    fn unit_of(&self, u: Unit) -> Name {
        self.units[Unit::ALL.iter().position(|x| *x == u).unwrap_or(0)]
    }

    /// A line of `u`, `covered` of which packages covered.
    fn line(&self, u: &Usage, covered: Decimal, part: LinePart) -> BillLine {
        BillLine {
            line_id: usage_line_id(&u.usage_id, part.tier),
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
            metered_quantity: if part.first {
                u.quantity
            } else {
                Decimal::ZERO
            },
            deducted_quantity: if part.first { covered } else { Decimal::ZERO },
            billable_quantity: part.billable,
            unit: self.unit_of(u.unit),
            tier: part.tier,
            unit_price: part.unit_price,
            price_unit: part.price_unit,
            amount: part.amount,
            charged_at: u.usage_end,
        }
    }
}

impl Rows<'_> {
    /// In row order: the `no_price` exceptions (those rows not billed), the rows priced alone
    /// (indexes), and the tier-priced rows by tier table, which wait for the column-wise split
    /// (counters numbered in row order).
    fn sort_out(&self, out: &mut Priced) -> (Vec<u32>, BTreeMap<Name, TierRows>) {
        let mut flat: Vec<u32> = Vec::with_capacity(self.usage.len());
        let mut tier_rows: BTreeMap<Name, TierRows> = BTreeMap::new();
        // Keyed by the names' addresses: only looked up, never iterated.
        let mut counters: FxHashMap<(usize, Month, usize), u32> = FxHashMap::default();
        for (i, (u, entry)) in self.usage.iter().zip(self.entries).enumerate() {
            let Some(entry) = entry else {
                out.violations.push(no_price(u, "no price in the catalog"));
                out.billed[i] = false;
                continue;
            };
            let free = is_free(u, self.catalog);
            if !free && !priceable(u.unit, &entry.price_unit) {
                // Tiered or flat alike: a call price cannot price bytes, nor a GB price calls (a
                // tiered row would otherwise also count in the month's calls).
                out.violations.push(no_price(
                    u,
                    &format!("a price per {} cannot price {}", entry.price_unit, u.unit),
                ));
                out.billed[i] = false;
                continue;
            }
            match &entry.pricing {
                Pricing::Tiered { table } if !free => {
                    let next = counters.len() as u32;
                    let counter = *counters
                        .entry((u.owner_uin.addr(), Month::of(u.usage_start), table.addr()))
                        .or_insert(next);
                    let t = tier_rows.entry(*table).or_default();
                    t.row.push(i);
                    t.payg.push(u.quantity - self.covered[i]);
                    t.counter.push(counter);
                    t.price_unit.push(entry.price_unit);
                }
                _ => flat.push(i as u32),
            }
        }
        (flat, tier_rows)
    }

    /// One line per row priced alone (free traffic and meter-only items at zero, flat prices),
    /// built in parallel straight into `lines` (indexed: in row order).
    fn flat_lines(&self, flat: &[u32], lines: &mut Vec<BillLine>) {
        use rayon::prelude::*;
        lines.par_extend(flat.par_iter().map(|&i| {
            let (i, u) = (i as usize, &self.usage[i as usize]);
            let entry = self.entries[i].expect("sorted out as priced");
            let payg = u.quantity - self.covered[i];
            let (unit_price, amount) = match &entry.pricing {
                Pricing::Flat { unit_price } if !is_free(u, self.catalog) => (
                    *unit_price,
                    amount(payg, u.unit, *unit_price, &entry.price_unit)
                        .expect("sorted out as priceable"),
                ),
                _ => (Decimal::ZERO, Decimal::ZERO),
            };
            let part = LinePart {
                tier: None,
                first: true,
                billable: payg,
                unit_price,
                price_unit: entry.price_unit,
                amount,
            };
            self.maker.line(u, self.covered[i], part)
        }));
    }

    /// The graduated rows of one tier table, column-wise, batch by batch (whole counters): one
    /// batch's tier parts in memory at a time, its lines built in parallel straight into
    /// `lines`, in part order. A row's first part (the one after a part of another row) carries
    /// the row's quantities.
    fn tier_lines(&self, table: &Name, t: &TierRows, lines: &mut Vec<BillLine>) -> Result<()> {
        use rayon::prelude::*;
        let tiers = self.catalog.tiers(table);
        tiering::split_batches(&t.payg, &t.counter, tiers, |parts| {
            lines.par_extend(parts.par_iter().enumerate().map(|(k, part)| {
                let (i, price_unit) = (t.row[part.row], t.price_unit[part.row]);
                let u = &self.usage[i];
                let amount = amount(part.quantity, u.unit, part.unit_price, &price_unit)
                    .expect("sorted out as priceable");
                let part = LinePart {
                    tier: Some(part.tier),
                    first: k == 0 || parts[k - 1].row != part.row,
                    billable: part.quantity,
                    unit_price: part.unit_price,
                    price_unit,
                    amount,
                };
                self.maker.line(u, self.covered[i], part)
            }));
            Ok(())
        })
    }
}

/// Traffic in a direction the catalog does not charge (inbound, internal), or unbilled calls
/// (docs/rules.md §4.1): a zero line, outside every tier counter.
fn is_free(u: &Usage, catalog: &Catalog) -> bool {
    (u.unit.is_traffic() && catalog.free_directions.contains(u.direction.as_str()))
        || catalog.unbilled(u)
}

/// Whether the row's unit is one its item can have: `false` when the catalog prices the row's
/// product and billing item and no price of it (any region, any time) can price the unit — eip
/// `public_traffic` in `call`. Such a row is the culprit of every unit clash with its packages:
/// deduction skips them without a `package_scope` finding, and the row is reported once, here,
/// as its `no_price` exception (issue 37, defect 8).
pub(crate) fn unit_fits_item(u: &Usage, catalog: &Catalog) -> bool {
    let mut units = catalog.price_units(&u.product, &u.billing_item).peekable();
    units.peek().is_none() || units.any(|p| priceable(u.unit, p))
}

/// Whether a price per `price_unit` can price a quantity in `unit`: `GB` prices traffic,
/// `10000 call` prices calls, any other unit prices the quantity as it is.
fn priceable(unit: Unit, price_unit: &str) -> bool {
    match price_unit {
        "GB" => unit.is_traffic(),
        "10000 call" => unit == Unit::Call,
        _ => true,
    }
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
    fn lines_do_not_depend_on_the_thread_count() {
        // 70,000 rows of one account and month: 60,000 call rows of 999
        // calls, whose 10,011th crosses tier 1's 10,000,000 calls, and 10,000 traffic rows
        // between them (flat prices).
        let mut rows = Vec::new();
        for k in 0..70_000i64 {
            let mut u = usage(
                &format!("r{k:06}"),
                "2024-05-01 00:00:00",
                dec!(999),
                Unit::Call,
            );
            u.usage_start += (k / 100) * crate::calendar::HOUR;
            u.usage_end = u.usage_start + crate::calendar::HOUR;
            if k % 7 == 0 {
                u.quantity = dec!(2);
                u.unit = Unit::GB;
            } else {
                u.product = "apigw".into();
                u.billing_item = "calls".into();
            }
            rows.push(u);
        }
        let covered = vec![Decimal::ZERO; rows.len()];
        let price_in = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| price_usage(&rows, &covered, &catalog()).unwrap())
        };
        let (one, many) = (price_in(1), price_in(3));
        assert_eq!(one.lines, many.lines);
        assert_eq!(one.billed, many.billed);
        assert!(one.billed.iter().all(|b| *b));
        // Flat lines first, in row order; then the tier parts, the crossing row in two parts.
        let flat = rows.iter().filter(|u| u.unit == Unit::GB).count();
        assert_eq!(one.lines.len(), rows.len() + 1);
        assert!(one.lines[..flat]
            .iter()
            .all(|l| l.tier.is_none() && l.amount == dec!(1.60)));
        let tiered = &one.lines[flat..];
        // 10,010 rows fill tier 1 to 9,999,990 calls; the next takes 10 calls there and 989
        // in tier 2.
        let t1 = tiered.iter().filter(|l| l.tier == Some(1)).count();
        assert_eq!((t1, tiered.len() - t1), (10_011, 49_990));
        assert_eq!(
            (
                tiered[t1 - 1].billable_quantity,
                tiered[t1].billable_quantity
            ),
            (dec!(10), dec!(989))
        );
        assert_eq!(tiered[t1 - 1].usage_id, tiered[t1].usage_id);
        assert!(tiered[t1..].iter().all(|l| l.tier == Some(2)));
        // Every row's quantities sit on its first line only.
        let mut seen = std::collections::HashSet::new();
        for l in tiered {
            let first = seen.insert(l.usage_id.clone());
            assert_eq!(l.metered_quantity, if first { dec!(999) } else { dec!(0) });
        }
    }

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

    /// §4.2: internal traffic is free like inbound (a zero line); `to_mainland` is outbound
    /// traffic and priced.
    #[test]
    fn internal_traffic_is_a_zero_line_and_to_mainland_is_priced() {
        let mut internal = usage("i", "2024-05-01 07:00:00", dec!(10), Unit::GB);
        internal.direction = crate::input::Direction::Internal;
        let mut mainland = usage("m", "2024-05-01 07:00:00", dec!(10), Unit::GB);
        mainland.direction = crate::input::Direction::ToMainland;
        let p = price_usage(&[internal, mainland], &[dec!(0), dec!(0)], &catalog()).unwrap();
        let got: Vec<_> = p
            .lines
            .iter()
            .map(|l| {
                (
                    l.line_id.as_str(),
                    l.billable_quantity,
                    l.unit_price,
                    l.amount,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("u:i:0", dec!(10), dec!(0), dec!(0)),
                ("u:m:0", dec!(10), dec!(0.80), dec!(8.00)),
            ]
        );
    }

    fn calls(id: &str, owner: &str, start: &str, n: Decimal) -> Usage {
        let mut u = usage(id, start, n, Unit::Call);
        u.owner_uin = owner.into();
        u.product = "apigw".into();
        u.billing_item = "calls".into();
        u
    }

    /// (line id, tier, billable calls, amount) of each line.
    fn tier_parts(p: &Priced) -> Vec<(&str, Option<i32>, Decimal, Decimal)> {
        p.lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.tier, l.billable_quantity, l.amount))
            .collect()
    }

    /// §4.1: the month-to-date counter is per account — two accounts of 6,000,000 calls each
    /// in one month both stay in tier 1 (one shared counter would cross 10,000,000).
    #[test]
    fn the_call_counter_is_per_account() {
        let rows = [
            calls("a", "acct-1", "2024-05-01 07:00:00", dec!(6000000)),
            calls("b", "acct-2", "2024-05-01 08:00:00", dec!(6000000)),
        ];
        let p = price_usage(&rows, &[dec!(0), dec!(0)], &catalog()).unwrap();
        assert_eq!(
            tier_parts(&p),
            vec![
                ("u:a:1", Some(1), dec!(6000000), dec!(36.00)),
                ("u:b:1", Some(1), dec!(6000000), dec!(36.00)),
            ]
        );
    }

    /// §4.1: the counter restarts with each natural month in UTC+8. 06-01 00:00 UTC+8 is still
    /// May in UTC: a UTC month would split b at 10,000,000 (1,000 in tier 1, 19,000 in tier 2).
    #[test]
    fn the_call_counter_restarts_with_the_utc8_month() {
        let rows = [
            calls("a", "acct-1", "2024-05-31 23:00:00", dec!(9999000)),
            calls("b", "acct-1", "2024-06-01 00:00:00", dec!(20000)),
        ];
        let p = price_usage(&rows, &[dec!(0), dec!(0)], &catalog()).unwrap();
        assert_eq!(
            tier_parts(&p),
            vec![
                ("u:a:1", Some(1), dec!(9999000), dec!(59.994)),
                ("u:b:1", Some(1), dec!(20000), dec!(0.12)),
            ]
        );
    }

    /// A price whose unit cannot measure the row's is no price, tiered or flat: the row is an
    /// exception, has no line and does not count in the month's calls.
    #[test]
    fn a_price_per_another_unit_is_no_price_tiered_or_flat() {
        let mut bytes = usage("a", "2024-05-01 06:00:00", dec!(20000), Unit::KB);
        bytes.product = "apigw".into();
        bytes.billing_item = "calls".into();
        let mut calls = bytes.clone();
        calls.usage_id = "b".into();
        calls.unit = Unit::Call;
        calls.quantity = dec!(10000000);
        calls.usage_start += crate::calendar::HOUR;
        calls.usage_end += crate::calendar::HOUR;
        let mut traffic_in_calls = usage("c", "2024-05-01 07:00:00", dec!(5), Unit::Call);
        traffic_in_calls.usage_id = "c".into();
        let p = price_usage(
            &[bytes, calls, traffic_in_calls],
            &[dec!(0), dec!(0), dec!(0)],
            &catalog(),
        )
        .unwrap();
        let why: Vec<(&str, &str)> = p
            .violations
            .iter()
            .map(|v| (&*v.rule, v.detail.as_str()))
            .collect();
        assert_eq!(
            why,
            vec![
                (
                    "no_price",
                    "apigw calls in ap-guangzhou: a price per 10000 call cannot price KB"
                ),
                (
                    "no_price",
                    "eip public_traffic in ap-guangzhou: a price per GB cannot price call"
                ),
            ]
        );
        assert_eq!(p.billed, vec![false, true, false]);
        // b alone in the month: all 10,000,000 calls in tier 1 (its upper bound included).
        let got: Vec<_> = p
            .lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.tier, l.billable_quantity, l.amount))
            .collect();
        assert_eq!(got, vec![("u:b:1", Some(1), dec!(10000000), dec!(60.00))]);
    }

    /// docs/rules.md §9.12 (revised): 5,000,000 calls in one hour on a dedicated instance → one
    /// line of amount 0 at unit price 0, no tier, and the month's counter unchanged: the shared
    /// hour after it, at 9,990,000 calls to date, is split 10,000 / 10,000 as in example 7.
    #[test]
    fn example_12_dedicated_instance_calls_cost_0_and_leave_the_tier_counter() {
        let mut dedicated = calls("b", "acct-1", "2024-05-01 10:00:00", dec!(5000000));
        dedicated.sub_product = "dedicated-instance".into();
        let rows = [
            calls("a", "acct-1", "2024-05-01 09:00:00", dec!(9990000)),
            dedicated,
            calls("c", "acct-1", "2024-05-01 11:00:00", dec!(20000)),
        ];
        let p = price_usage(&rows, &[dec!(0); 3], &catalog()).unwrap();
        assert_eq!(
            tier_parts(&p),
            vec![
                ("u:b:0", None, dec!(5000000), dec!(0)),
                ("u:a:1", Some(1), dec!(9990000), dec!(59.94)),
                ("u:c:1", Some(1), dec!(10000), dec!(0.06)),
                ("u:c:2", Some(2), dec!(10000), dec!(0.04)),
            ]
        );
        let b = &p.lines[0];
        assert_eq!(
            (
                b.unit_price,
                &*b.price_unit,
                b.metered_quantity,
                b.deducted_quantity
            ),
            (dec!(0), "10000 call", dec!(5000000), dec!(0))
        );
        assert!(p.billed.iter().all(|x| *x));
        assert!(p.violations.is_empty());
    }

    /// §4.1 (revised): WebSocket-backend calls are unbilled too; other sub-products of calls
    /// (shared instances) and other items of a dedicated instance are billed.
    #[test]
    fn revised_4_1_unbilled_calls_are_the_catalogs_sub_products() {
        let mut ws = calls("a", "acct-1", "2024-05-01 09:00:00", dec!(300));
        ws.sub_product = "websocket".into();
        let shared = calls("b", "acct-1", "2024-05-01 09:00:00", dec!(300));
        let mut egress = usage("c", "2024-05-01 09:00:00", dec!(1), Unit::GB);
        egress.product = "apigw".into();
        egress.sub_product = "dedicated-instance".into();
        egress.billing_item = "egress_traffic".into();
        let p = price_usage(&[ws, shared, egress], &[dec!(0); 3], &catalog()).unwrap();
        assert_eq!(
            tier_parts(&p),
            vec![
                ("u:a:0", None, dec!(300), dec!(0)),
                ("u:c:0", None, dec!(1), dec!(0.80)),
                ("u:b:1", Some(1), dec!(300), dec!(0.0018)),
            ]
        );
    }

    mod unbilled_properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// With unbilled calls among the rows: every row's lines sum to its pay-as-you-go
            /// quantity, tier parts are never negative, an unbilled row is one zero line, and
            /// the billed rows get exactly the lines they get without the unbilled rows (the
            /// tier counter never sees them).
            #[test]
            fn tier_parts_sum_to_each_hour_with_unbilled_calls_present(
                rows in prop::collection::vec((0i64..48, 0u64..6_000_000, 0usize..3, any::<bool>()), 1..30)
            ) {
                let mut v: Vec<Usage> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, &(h, q, sub, other))| {
                        let owner = if other { "acct-2" } else { "acct-1" };
                        let mut u = calls(&format!("u{i:03}"), owner, "2024-05-31 00:00:00", Decimal::from(q));
                        u.usage_start += h * crate::calendar::HOUR;
                        u.usage_end = u.usage_start + crate::calendar::HOUR;
                        u.sub_product = ["shared-instance", "dedicated-instance", "websocket"][sub].into();
                        u
                    })
                    .collect();
                v.sort_by(|a, b| (a.usage_start, &a.usage_id).cmp(&(b.usage_start, &b.usage_id)));
                let cat = catalog();
                let p = price_usage(&v, &vec![Decimal::ZERO; v.len()], &cat).unwrap();
                for u in &v {
                    let ls: Vec<_> = p.lines.iter().filter(|l| l.usage_id.as_ref() == Some(&u.usage_id)).collect();
                    let sum: Decimal = ls.iter().map(|l| l.billable_quantity).sum();
                    prop_assert_eq!(sum, u.quantity);
                    prop_assert!(ls.iter().all(|l| l.billable_quantity >= Decimal::ZERO));
                    if cat.unbilled(u) {
                        prop_assert_eq!(ls.len(), 1);
                        prop_assert_eq!((ls[0].tier, ls[0].unit_price, ls[0].amount), (None, Decimal::ZERO, Decimal::ZERO));
                    }
                }
                let billed: Vec<Usage> = v.iter().filter(|u| !cat.unbilled(u)).cloned().collect();
                let alone = price_usage(&billed, &vec![Decimal::ZERO; billed.len()], &cat).unwrap();
                let tiered: Vec<_> = p.lines.iter().filter(|l| l.tier.is_some()).collect();
                prop_assert_eq!(tiered, alone.lines.iter().collect::<Vec<_>>());
            }
        }
    }
}
