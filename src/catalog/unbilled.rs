//! The `[unbilled_calls]` section (docs/rules.md §4.1, revised): the `sub_product`s whose calls the
//! call fee does not cover — API gateway dedicated instances (their instance fee covers them)
//! and WebSocket backends. Such rows draw on no package, do not count toward the month's tier
//! counter and are billed as a zero-amount line at unit price 0.
//!
//! The `[free_quota]` section (docs/rules.md §4.1): the product whose free-quota packages an
//! activated account's inventory carries, and the term of the quota (`cycles` natural-day cycles
//! of `cycle`), which `rules::free_quota` reconciles.
//!
//! Invariants: the section names a (product, billing item) that some `[[prices]]` entry prices
//! with a tier table, and at least one non-empty, distinct sub-product; the lookup compares
//! strings only (no allocation per row).

use super::check::Check;
use super::raw::{RawFreeQuota, RawUnbilledCalls};
use super::Pricing;
use crate::calendar::CycleLen;
use crate::error::Result;
use rustc_hash::FxHashSet;

/// Which call rows are not billed.
#[derive(Debug, Clone)]
pub struct UnbilledCalls {
    pub product: String,
    pub billing_item: String,
    pub sub_products: FxHashSet<String>,
}

impl UnbilledCalls {
    /// Whether a usage row of `product`, `billing_item` and `sub_product` is unbilled.
    pub fn covers(&self, product: &str, billing_item: &str, sub_product: &str) -> bool {
        billing_item == self.billing_item
            && product == self.product
            && self.sub_products.contains(sub_product)
    }
}

/// Validates the section against the (already validated) price table.
pub(super) fn unbilled_calls(
    r: &RawUnbilledCalls,
    prices: &super::prices::PriceTable,
    check: Check,
) -> Result<UnbilledCalls> {
    let tiered = prices
        .get(r.product.as_str())
        .and_then(|items| items.get(r.billing_item.as_str()))
        .is_some_and(|list| {
            list.iter()
                .any(|e| matches!(e.pricing, Pricing::Tiered { .. }))
        });
    if !tiered {
        return Err(check.err(format!(
            "unbilled_calls: {}/{} is priced by no tier table in [[prices]]",
            r.product, r.billing_item
        )));
    }
    if r.sub_products.is_empty() {
        return Err(check.err("unbilled_calls.sub_products: empty".into()));
    }
    let mut sub_products = FxHashSet::default();
    for s in &r.sub_products {
        if s.is_empty() || !sub_products.insert(s.clone()) {
            return Err(check.err(format!(
                "unbilled_calls.sub_products: `{s}` is empty or listed twice"
            )));
        }
    }
    Ok(UnbilledCalls {
        product: r.product.clone(),
        billing_item: r.billing_item.clone(),
        sub_products,
    })
}

/// The free quota's product and term.
#[derive(Debug, Clone)]
pub struct FreeQuota {
    pub product: String,
    pub cycle: CycleLen,
    pub cycles: u32,
}

pub(super) fn free_quota(r: &RawFreeQuota, check: Check) -> Result<FreeQuota> {
    let cycle = CycleLen::parse(&r.cycle)
        .filter(|c| *c == CycleLen::Days30)
        .ok_or_else(|| {
            check.err(format!(
                "free_quota.cycle: `{}`: free quota cycles are `30d` (docs/rules.md §3.1)",
                r.cycle
            ))
        })?;
    if r.product.is_empty() || r.cycles == 0 || r.cycles > 1200 {
        return Err(check.err(format!(
            "free_quota: product `{}` and cycles {} (1 to 1200) expected",
            r.product, r.cycles
        )));
    }
    Ok(FreeQuota {
        product: r.product.clone(),
        cycle,
        cycles: r.cycles,
    })
}
