//! The policies of the catalog: arrears (grace and actions per product), the plan expiry
//! timeline and refund prices. Invariants: an arrears policy's `final_from` is `action` or
//! `arrears_start`; prices are decimals that are not negative.

use super::check::Check;
use super::raw::{RawArrearsPolicy, RawPlanExpiry, RawRefunds};
use crate::error::Result;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct ArrearsPolicy {
    pub product: String,
    pub grace_hours: i64,
    pub action: String,
    pub final_action: Option<String>,
    pub final_after_hours: i64,
    pub final_from_arrears_start: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanExpiry {
    pub products: Vec<String>,
    pub warning_days: Vec<i64>,
    pub buffer_days: i64,
    pub stopped_days: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refunds {
    pub quality_traffic_products: Vec<String>,
    pub quality_traffic_price_per_gb: Decimal,
    pub shared_traffic_products: Vec<String>,
    pub shared_traffic_price_product: String,
    pub shared_traffic_price_item: String,
    pub self_service_products: Vec<String>,
    pub instance_products: Vec<String>,
    pub instance_full_refund_days: i64,
    /// A refunded monthly dedicated instance is destroyed this many days after the refund
    /// (docs/rules.md §5, revised); at least 0.
    pub instance_destroy_after_days: i64,
    pub plan_products: Vec<String>,
}

/// One policy per product (a raw policy lists several products).
pub(super) fn arrears_policies(
    raw: &[RawArrearsPolicy],
    check: Check,
) -> Result<Vec<ArrearsPolicy>> {
    let mut out = Vec::new();
    for p in raw {
        let final_from_arrears_start = match p.final_from.as_deref() {
            None | Some("action") => false,
            Some("arrears_start") => true,
            Some(o) => {
                return Err(check.err(format!(
                    "arrears policy {:?}: final_from `{o}` (allowed: action, arrears_start)",
                    p.products
                )))
            }
        };
        for product in &p.products {
            out.push(ArrearsPolicy {
                product: product.clone(),
                grace_hours: p.grace_hours,
                action: p.action.clone(),
                final_action: p.final_action.clone(),
                final_after_hours: p.final_after_hours.unwrap_or(0),
                final_from_arrears_start,
            });
        }
    }
    Ok(out)
}

pub(super) fn refunds(r: &RawRefunds, check: Check) -> Result<Refunds> {
    if r.instance_full_refund_days < 0 {
        return Err(check.err(format!(
            "refunds.instance_full_refund_days: {} is negative",
            r.instance_full_refund_days
        )));
    }
    if r.instance_destroy_after_days < 0 {
        return Err(check.err(format!(
            "refunds.instance_destroy_after_days: {} is negative (days from a dedicated \
             instance's refund to its destruction)",
            r.instance_destroy_after_days
        )));
    }
    Ok(Refunds {
        quality_traffic_products: r.quality_traffic_products.clone(),
        quality_traffic_price_per_gb: check.dec(
            "refunds.quality_traffic_price_per_gb",
            &r.quality_traffic_price_per_gb,
        )?,
        shared_traffic_products: r.shared_traffic_products.clone(),
        shared_traffic_price_product: r.shared_traffic_price_product.clone(),
        shared_traffic_price_item: r.shared_traffic_price_item.clone(),
        self_service_products: r.self_service_products.clone(),
        instance_products: r.instance_products.clone(),
        instance_full_refund_days: r.instance_full_refund_days,
        instance_destroy_after_days: r.instance_destroy_after_days,
        plan_products: r.plan_products.clone(),
    })
}

pub(super) fn plan_expiry(pe: &RawPlanExpiry) -> PlanExpiry {
    PlanExpiry {
        products: pe.products.clone(),
        warning_days: pe.warning_days.clone(),
        buffer_days: pe.buffer_days,
        stopped_days: pe.stopped_days,
    }
}
