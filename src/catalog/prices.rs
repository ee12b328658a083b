//! Metered prices and the graduated tier tables they may name.
//! Invariants: a tier table is non-empty, starts at 0, has no gap or overlap, and only its last
//! tier is open-ended; a price gives exactly one of a unit price, a tier table (that exists) or
//! `meter_only`, in a price unit of [`PRICE_UNITS`], for listed regions; the effective ranges of
//! one (product, billing item, region) do not overlap.

use super::check::Check;
use super::raw::{RawPrice, RawTierTable};
use super::regions::Regions;
use super::PRICE_UNITS;
use crate::calendar::Ts;
use crate::error::Result;
use crate::name::Name;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// How a metered (product, billing item, region) is priced.
#[derive(Debug, Clone, PartialEq)]
pub enum Pricing {
    /// One unit price per `price_unit`.
    Flat { unit_price: Decimal },
    /// Graduated tiers from a named table.
    Tiered { table: Name },
    /// Metered for another fee (e.g. peaks for the elastic fee): a zero-amount line.
    MeterOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PriceEntry {
    pub product: String,
    pub billing_item: String,
    /// A region id or `*`.
    pub region: String,
    pub price_unit: Name,
    pub pricing: Pricing,
    pub from: Ts,
    pub to: Ts,
}

/// One tier `(from, to]` of month-to-date volume; `to = None` is open-ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub from: Decimal,
    pub to: Option<Decimal>,
    pub unit_price: Decimal,
}

/// product → billing item → entries (nested so lookups by `&str` allocate nothing).
pub(super) type PriceTable = FxHashMap<String, FxHashMap<String, Vec<PriceEntry>>>;

pub(super) fn tier_tables(
    raw: &[RawTierTable],
    check: Check,
) -> Result<FxHashMap<String, Vec<Tier>>> {
    let mut tables = FxHashMap::default();
    for t in raw {
        if tables
            .insert(t.name.clone(), tier_table(t, check)?)
            .is_some()
        {
            return Err(check.err(format!("tier table `{}` defined twice", t.name)));
        }
    }
    Ok(tables)
}

fn tier_table(t: &RawTierTable, check: Check) -> Result<Vec<Tier>> {
    if t.tiers.is_empty() {
        return Err(check.err(format!("tier table `{}` has no tiers", t.name)));
    }
    let mut tiers = Vec::new();
    let mut expect_from = Decimal::ZERO;
    for (i, tier) in t.tiers.iter().enumerate() {
        let what = format!("tier table `{}` tier {}", t.name, i + 1);
        let from = check.dec(&what, &tier.from)?;
        if from != expect_from {
            let kind = if from > expect_from {
                "a gap"
            } else {
                "an overlap"
            };
            return Err(check.err(format!(
                "{what}: starts at {from} but the previous tier ends at {expect_from} ({kind})"
            )));
        }
        let to = tier
            .to
            .as_deref()
            .map(|s| check.dec(&what, s))
            .transpose()?;
        match to {
            Some(to) if to <= from => {
                return Err(check.err(format!("{what}: `to` {to} is not above `from` {from}")))
            }
            Some(to) => expect_from = to,
            None if i + 1 != t.tiers.len() => {
                return Err(check.err(format!("{what}: only the last tier may be open-ended")))
            }
            None => {}
        }
        tiers.push(Tier {
            from,
            to,
            unit_price: check.dec(&what, &tier.unit_price)?,
        });
    }
    if tiers.last().is_none_or(|t| t.to.is_some()) {
        return Err(check.err(format!(
            "tier table `{}`: the last tier must be open-ended (no `to`)",
            t.name
        )));
    }
    Ok(tiers)
}

pub(super) fn prices(
    raw: &[RawPrice],
    tier_tables: &FxHashMap<String, Vec<Tier>>,
    regions: &Regions,
    check: Check,
) -> Result<PriceTable> {
    let mut prices = PriceTable::default();
    for (i, p) in raw.iter().enumerate() {
        let what = format!("prices[{i}] ({} {})", p.products.join(","), p.billing_item);
        if !PRICE_UNITS.contains(&p.price_unit.as_str()) {
            return Err(check.err(format!("{what}: unknown price_unit `{}`", p.price_unit)));
        }
        let pricing = pricing(p, &what, tier_tables, check)?;
        let (from, to) = check.range(&what, &p.effective_from, &p.effective_to)?;
        for product in &p.products {
            let listed = p.regions.iter().map(|r| regions.expand(check, &what, r));
            for region in listed.collect::<Result<Vec<_>>>()?.concat() {
                let entry = PriceEntry {
                    product: product.clone(),
                    billing_item: p.billing_item.clone(),
                    region: region.to_string(),
                    price_unit: Name::from(p.price_unit.as_str()),
                    pricing: pricing.clone(),
                    from,
                    to,
                };
                add(&mut prices, entry, &what, check)?;
            }
        }
    }
    Ok(prices)
}

/// The one way of pricing an entry gives.
fn pricing(
    p: &RawPrice,
    what: &str,
    tier_tables: &FxHashMap<String, Vec<Tier>>,
    check: Check,
) -> Result<Pricing> {
    Ok(match (&p.unit_price, &p.tiers, p.meter_only) {
        (Some(u), None, false) => Pricing::Flat {
            unit_price: check.dec(what, u)?,
        },
        (None, Some(t), false) => {
            if !tier_tables.contains_key(t) {
                return Err(check.err(format!("{what}: unknown tier table `{t}`")));
            }
            Pricing::Tiered {
                table: Name::from(t.as_str()),
            }
        }
        (None, None, true) => Pricing::MeterOnly,
        _ => {
            return Err(check.err(format!(
                "{what}: give exactly one of unit_price, tiers or meter_only = true"
            )))
        }
    })
}

/// Adds an entry unless its effective range overlaps another's for its (product, billing item,
/// region): two prices in force at once would make the one used depend on listing order.
fn add(prices: &mut PriceTable, entry: PriceEntry, what: &str, check: Check) -> Result<()> {
    let list = prices
        .entry(entry.product.clone())
        .or_default()
        .entry(entry.billing_item.clone())
        .or_default();
    if let Some(o) = list
        .iter()
        .find(|o| o.region == entry.region && o.from < entry.to && entry.from < o.to)
    {
        return Err(check.err(format!(
            "{what}: effective range overlaps another price for {} {} in {} ({})",
            entry.product, entry.billing_item, entry.region, o.price_unit
        )));
    }
    list.push(entry);
    Ok(())
}
