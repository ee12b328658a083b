//! Prices billed by time: dedicated instance prices (monthly and hourly, with effective ranges)
//! and plans. Invariants: the effective ranges of one (product, plan) instance price do not
//! overlap; a (product, plan) is defined once among the plans.

use super::check::Check;
use super::raw::{RawInstancePrice, RawPlan};
use crate::calendar::Ts;
use crate::error::Result;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct InstancePrice {
    pub product: String,
    pub plan: String,
    pub qps: u32,
    pub monthly: Decimal,
    pub hourly: Decimal,
    pub from: Ts,
    pub to: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub product: String,
    pub plan: String,
    pub max_qps: u32,
    pub max_mbps: u32,
    pub monthly: Decimal,
}

pub(super) fn instance_prices(
    raw: &[RawInstancePrice],
    check: Check,
) -> Result<Vec<InstancePrice>> {
    let mut out = Vec::new();
    for p in raw {
        let what = format!("instance_prices {} {}", p.product, p.plan);
        let (from, to) = check.range(&what, &p.effective_from, &p.effective_to)?;
        if out.iter().any(|o: &InstancePrice| {
            o.product == p.product && o.plan == p.plan && o.from < to && from < o.to
        }) {
            return Err(check.err(format!("{what}: overlapping effective ranges")));
        }
        out.push(InstancePrice {
            product: p.product.clone(),
            plan: p.plan.clone(),
            qps: p.qps,
            monthly: check.dec(&what, &p.monthly)?,
            hourly: check.dec(&what, &p.hourly)?,
            from,
            to,
        });
    }
    Ok(out)
}

pub(super) fn plans(raw: &[RawPlan], check: Check) -> Result<Vec<Plan>> {
    let mut out = Vec::new();
    for p in raw {
        let what = format!("plans {} {}", p.product, p.plan);
        // Looked up by (product, plan): a second entry would never be read, or worse, be
        // read instead of the first.
        if out
            .iter()
            .any(|o: &Plan| o.product == p.product && o.plan == p.plan)
        {
            return Err(check.err(format!("{what}: defined twice")));
        }
        out.push(Plan {
            product: p.product.clone(),
            plan: p.plan.clone(),
            max_qps: p.max_qps,
            max_mbps: p.max_mbps,
            monthly: check.dec(&what, &p.monthly)?,
        });
    }
    Ok(out)
}
