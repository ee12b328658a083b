//! The prices a reconciliation may explain a difference with: for a metered item, every flat
//! price the catalog has given it in the key's region (or `*`) at any time, and the tier tables
//! that price it; for an instance fee, every hourly or monthly price its plan has had. Built
//! from the catalog the recomputed output was priced with.
//!
//! Invariant: only prices of the same item (product, billing item, region, price unit) or of the
//! same plan are candidates, so a cause names a price the item really had; without a catalog the
//! book is empty and no `unit_price` or `tier` cause is given.

use super::line::Key;
use crate::catalog::{Catalog, Pricing};
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// A flat price of a metered item.
#[derive(Debug, Clone, PartialEq)]
struct Flat {
    region: Name,
    price_unit: Name,
    unit_price: Decimal,
}

/// A region (or `*`) and the prices of a tier table there, from tier 1.
type RegionTiers = (Name, Vec<Decimal>);

/// (product, plan, QPS) → the plan's (hourly, monthly) prices over time.
type PlanPrices<'a> = std::collections::BTreeMap<(&'a str, &'a str, u32), Vec<(Decimal, Decimal)>>;

/// Candidate prices by item (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    /// (product, billing_item) → flat prices.
    flat: HashMap<(Name, Name), Vec<Flat>>,
    /// (product, billing_item) → (region, tier prices from tier 1).
    tiered: HashMap<(Name, Name), Vec<RegionTiers>>,
    /// product → per plan, its (hourly, monthly) prices over time.
    plans: HashMap<Name, Vec<Vec<(Decimal, Decimal)>>>,
}

impl PriceBook {
    pub fn from_catalog(c: &Catalog) -> PriceBook {
        let mut book = PriceBook::default();
        for e in c.price_entries() {
            let (p, i, r) = (
                Name::new(&e.product),
                Name::new(&e.billing_item),
                Name::new(&e.region),
            );
            match &e.pricing {
                Pricing::Flat { unit_price } => book.add_flat(p, i, r, e.price_unit, *unit_price),
                Pricing::Tiered { table } => {
                    let prices = c.tiers(table).iter().map(|t| t.unit_price).collect();
                    book.add_tiers(p, i, r, prices);
                }
                Pricing::MeterOnly => {}
            }
        }
        let mut by_plan: PlanPrices = Default::default();
        for ip in &c.instance_prices {
            by_plan
                .entry((&ip.product, &ip.plan, ip.qps))
                .or_default()
                .push((ip.hourly, ip.monthly));
        }
        for ((product, _, _), prices) in by_plan {
            book.add_plan(Name::new(product), prices);
        }
        book
    }

    /// Adds a flat price of `product`/`item` in `region` (or `*`).
    pub fn add_flat(&mut self, product: Name, item: Name, region: Name, unit: Name, p: Decimal) {
        self.flat.entry((product, item)).or_default().push(Flat {
            region,
            price_unit: unit,
            unit_price: p,
        });
    }

    /// Adds a tier table pricing `product`/`item` in `region` (or `*`): prices from tier 1.
    pub fn add_tiers(&mut self, product: Name, item: Name, region: Name, prices: Vec<Decimal>) {
        self.tiered
            .entry((product, item))
            .or_default()
            .push((region, prices));
    }

    /// Adds the (hourly, monthly) prices one plan of `product` has had.
    pub fn add_plan(&mut self, product: Name, prices: Vec<(Decimal, Decimal)>) {
        self.plans.entry(product).or_default().push(prices);
    }

    /// The prices other than `p0` the key's item has had in `price_unit`, sorted, once each.
    pub fn other_prices(&self, key: &Key, price_unit: Name, p0: Decimal) -> Vec<Decimal> {
        let mut out: Vec<Decimal> = Vec::new();
        let star = Name::new("*");
        if let Some(list) = self.flat.get(&(key.product, key.billing_item)) {
            out.extend(
                list.iter()
                    .filter(|f| f.region == key.region || f.region == star)
                    .filter(|f| f.price_unit == price_unit)
                    .map(|f| f.unit_price),
            );
        }
        if key.charge_kind.as_str() == "subscription" {
            let pick = |(h, m): &(Decimal, Decimal)| match price_unit.as_str() {
                "hour" => Some(*h),
                "month" => Some(*m),
                _ => None,
            };
            for plan in self.plans.get(&key.product).into_iter().flatten() {
                let prices: Vec<Decimal> = plan.iter().filter_map(pick).collect();
                if prices.contains(&p0) {
                    out.extend(prices);
                }
            }
        }
        out.retain(|p| *p != p0);
        out.sort();
        out.dedup();
        out
    }

    /// The tier tables (prices from tier 1) that price the key's item in its region (or `*`).
    pub fn tier_tables(&self, key: &Key) -> Vec<&[Decimal]> {
        let star = Name::new("*");
        self.tiered
            .get(&(key.product, key.billing_item))
            .into_iter()
            .flatten()
            .filter(|(r, _)| *r == key.region || *r == star)
            .map(|(_, t)| t.as_slice())
            .collect()
    }
}
