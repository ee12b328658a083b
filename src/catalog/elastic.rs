//! The elastic resource fee section (docs/rules.md §4.3): `[elastic]` (which rows are the day's
//! peaks, the Mbps-to-QPS factor, the rounding step, the capacity cap) and `[[elastic_prices]]`
//! (the catalog's unit price per QPS-day, with effective dates, used when the order carries no
//! price of its own).
//!
//! Invariants: the rounding step is at least 1; the cap factor is at least 1; there is at least
//! one elastic price, none negative; the effective ranges, in order, neither overlap nor leave a
//! gap between two of them (a plan switched on in a gap would have no price), so at most one
//! price is in force at any instant.

use super::check::Check;
use super::raw::{RawElastic, RawElasticPrice};
use crate::calendar::{format_local, Ts};
use crate::error::Result;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct Elastic {
    pub product: String,
    pub peak_qps_item: String,
    pub peak_bandwidth_item: String,
    pub qps_per_mbps: u32,
    pub round_up_to: u32,
    /// Plans of at most `cap_max_plan_qps` QPS bill at most `cap_factor` × the plan's QPS a day.
    pub cap_factor: u32,
    pub cap_max_plan_qps: u32,
    /// Unit prices per QPS-day, by effective range, in time order, contiguous.
    pub prices: Vec<ElasticPrice>,
}

/// One catalog elastic price, in force over `[from, to)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticPrice {
    pub unit_price: Decimal,
    pub from: Ts,
    pub to: Ts,
}

impl Elastic {
    /// The catalog's unit price in force at `at` (the switch-on instant of a plan).
    pub fn price_at(&self, at: Ts) -> Option<Decimal> {
        self.prices
            .iter()
            .find(|p| p.from <= at && at < p.to)
            .map(|p| p.unit_price)
    }

    /// The most QPS above the plan billed in a day for a plan of `plan_qps`; `None`: no cap
    /// (larger plans get elastic capacity only by ticket).
    pub fn cap(&self, plan_qps: u32) -> Option<Decimal> {
        (plan_qps <= self.cap_max_plan_qps)
            .then(|| Decimal::from(self.cap_factor) * Decimal::from(plan_qps))
    }
}

pub(super) fn elastic(e: &RawElastic, prices: &[RawElasticPrice], check: Check) -> Result<Elastic> {
    if e.cap_factor == 0 {
        return Err(check.err("elastic.cap_factor: must be at least 1".into()));
    }
    Ok(Elastic {
        product: e.product.clone(),
        peak_qps_item: e.peak_qps_item.clone(),
        peak_bandwidth_item: e.peak_bandwidth_item.clone(),
        qps_per_mbps: e.qps_per_mbps,
        round_up_to: e.round_up_to.max(1),
        cap_factor: e.cap_factor,
        cap_max_plan_qps: e.cap_max_plan_qps,
        prices: elastic_prices(prices, check)?,
    })
}

/// The `[[elastic_prices]]` entries, sorted by start; overlaps and gaps are refused.
fn elastic_prices(raw: &[RawElasticPrice], check: Check) -> Result<Vec<ElasticPrice>> {
    if raw.is_empty() {
        return Err(check.err(
            "elastic_prices: no entry (the elastic fee needs a unit price per QPS-day)".into(),
        ));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        let what = format!("elastic_prices[{i}]");
        let (from, to) = check.range(&what, &p.effective_from, &p.effective_to)?;
        out.push(ElasticPrice {
            unit_price: check.dec(&what, &p.unit_price)?,
            from,
            to,
        });
    }
    out.sort_by_key(|p| p.from);
    let bound = |t: Ts| {
        if t == Ts::MIN || t == Ts::MAX {
            "open".to_string()
        } else {
            format_local(t)
        }
    };
    for w in out.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let kind = match b.from.cmp(&a.to) {
            std::cmp::Ordering::Less => "overlaps",
            std::cmp::Ordering::Greater => "leaves a gap after",
            std::cmp::Ordering::Equal => continue,
        };
        return Err(check.err(format!(
            "elastic_prices: the price from {} {kind} the one ending {} (ranges must follow \
             each other without gap or overlap)",
            bound(b.from),
            bound(a.to)
        )));
    }
    Ok(out)
}
