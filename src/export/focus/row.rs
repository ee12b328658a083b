//! The FOCUS row, grouped as the specification groups its columns (cost, charge, commitment
//! discount, quantity, SKU and resource), its columns in the file, and the value mappings both
//! row sources share ([`service`], [`pricing_quantity`]).
//!
//! Invariants: columns in alphabetical order as written, money at scale 8, quantities at scale
//! 9; `BillingPeriodStart/End` derived from `ChargePeriodStart` (the UTC+8 month), never
//! stored; rows in the total order `(ChargePeriodStart, x_LineId)`.

use crate::calendar::{Month, Ts};
use crate::error::Result;
use crate::money::{self, Unit};
use crate::output::{dec_col, frame, str_col, ts_col, Table};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// `ServiceName` and `ServiceCategory` (an allowed value of FOCUS) of a product code.
pub fn service(product: &str) -> (&str, &'static str) {
    match product {
        "apigw" => ("API Gateway", "Web"),
        "mpgw" => ("Mini Program Acceleration Gateway", "Networking"),
        "cvm" => ("Cloud Virtual Machine", "Compute"),
        "lighthouse" => ("Lighthouse", "Compute"),
        "eip" => ("Elastic IP", "Networking"),
        "clb" => ("Cloud Load Balancer", "Networking"),
        "tp" => ("Shared Traffic Package", "Networking"),
        "qtp" => ("Quality Traffic Package", "Networking"),
        other => (other, "Other"),
    }
}

/// `quantity` in `unit` expressed in `price_unit` (`[N ]U`, e.g. `10000 call`, `GB`, `hour`).
pub fn pricing_quantity(quantity: Decimal, unit: &str, price_unit: &str) -> Decimal {
    let (n, base) = match price_unit.split_once(' ') {
        Some((n, u)) => match n.parse::<Decimal>() {
            Ok(n) if !n.is_zero() => (n, u),
            _ => (Decimal::ONE, price_unit),
        },
        None => (Decimal::ONE, price_unit),
    };
    let q = match (Unit::parse(unit), Unit::parse(base)) {
        (Some(a), Some(b)) if a.compatible(b) => money::convert(quantity, a, b),
        _ => quantity,
    };
    money::q9(q / n)
}

/// One FOCUS row.
#[derive(Debug, Clone, PartialEq)]
pub struct FocusRow {
    /// `x_LineId`.
    pub line_id: String,
    /// `x_UsageId`.
    pub usage_id: Option<String>,
    /// `BillingAccountId` and `BillingAccountName`.
    pub account: String,
    /// `ProviderName`, `PublisherName` and `InvoiceIssuerName`.
    pub provider: String,
    pub cost: Cost,
    pub charge: Charge,
    pub commitment: Commitment,
    pub quantity: Quantity,
    pub sku: Sku,
}

/// `BilledCost`, `EffectiveCost`, `ListCost`, `ContractedCost`, and `ListUnitPrice` =
/// `ContractedUnitPrice`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub billed: Decimal,
    pub effective: Decimal,
    pub list: Decimal,
    pub contracted: Decimal,
    pub unit_price: Option<Decimal>,
}

/// `ChargeCategory`, `ChargeDescription`, `ChargeFrequency`, `ChargePeriodStart/End`.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub category: &'static str,
    pub description: String,
    pub frequency: &'static str,
    pub start: Ts,
    pub end: Ts,
}

/// The `CommitmentDiscount*` columns: the resource package a row is about, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commitment {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<&'static str>,
    pub quantity: Option<Decimal>,
    pub unit: Option<String>,
}

/// `ConsumedQuantity/Unit`, `PricingCategory`, `PricingQuantity/Unit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub consumed: Option<Decimal>,
    pub consumed_unit: Option<String>,
    pub pricing_category: Option<&'static str>,
    pub pricing: Decimal,
    pub pricing_unit: String,
}

/// `ServiceName/Category` (of `product`), `RegionId/Name`, `ResourceId`, `ResourceType`,
/// `SkuId`, `SkuPriceId`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sku {
    pub product: String,
    pub region: Option<String>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub sku_id: String,
    pub sku_price_id: String,
}

impl Table for FocusRow {
    const NAME: &'static str = "focus";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.charge.start))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.charge.start, &a.line_id).cmp(&(b.charge.start, &b.line_id))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        let o = |n, f: fn(&Self) -> Option<&str>| str_col(n, r.iter().map(|x| f(x)));
        let m = |n, f: fn(&Self) -> Decimal| dec_col(n, 8, r.iter().map(|x| Some(f(x))));
        let p = |n| dec_col(n, 8, r.iter().map(|x| x.cost.unit_price));
        let q = |n, f: fn(&Self) -> Option<Decimal>| dec_col(n, 9, r.iter().map(|x| f(x)));
        let t = |n, f: fn(&Self) -> Ts| ts_col(n, r.iter().map(|x| Some(f(x))));
        /// `v` on the rows about a package.
        fn package(x: &FocusRow, v: &'static str) -> Option<&'static str> {
            x.commitment.id.as_ref().map(|_| v)
        }
        frame(
            r.len(),
            vec![
                m("BilledCost", |x| x.cost.billed),
                s("BillingAccountId", |x| &x.account),
                s("BillingAccountName", |x| &x.account),
                s("BillingCurrency", |_| "CNY"),
                t("BillingPeriodEnd", |x| Month::of(x.charge.start).end()),
                t("BillingPeriodStart", |x| Month::of(x.charge.start).start()),
                s("ChargeCategory", |x| x.charge.category),
                o("ChargeClass", |_| None),
                s("ChargeDescription", |x| &x.charge.description),
                s("ChargeFrequency", |x| x.charge.frequency),
                t("ChargePeriodEnd", |x| x.charge.end),
                t("ChargePeriodStart", |x| x.charge.start),
                o("CommitmentDiscountCategory", |x| package(x, "Usage")),
                o("CommitmentDiscountId", |x| x.commitment.id.as_deref()),
                o("CommitmentDiscountName", |x| x.commitment.name.as_deref()),
                q("CommitmentDiscountQuantity", |x| x.commitment.quantity),
                o("CommitmentDiscountStatus", |x| x.commitment.status),
                o("CommitmentDiscountType", |x| package(x, "Resource Package")),
                o("CommitmentDiscountUnit", |x| x.commitment.unit.as_deref()),
                q("ConsumedQuantity", |x| x.quantity.consumed),
                o("ConsumedUnit", |x| x.quantity.consumed_unit.as_deref()),
                m("ContractedCost", |x| x.cost.contracted),
                p("ContractedUnitPrice"),
                m("EffectiveCost", |x| x.cost.effective),
                s("InvoiceIssuerName", |x| &x.provider),
                m("ListCost", |x| x.cost.list),
                p("ListUnitPrice"),
                o("PricingCategory", |x| x.quantity.pricing_category),
                q("PricingQuantity", |x| Some(x.quantity.pricing)),
                s("PricingUnit", |x| &x.quantity.pricing_unit),
                s("ProviderName", |x| &x.provider),
                s("PublisherName", |x| &x.provider),
                o("RegionId", |x| x.sku.region.as_deref()),
                o("RegionName", |x| x.sku.region.as_deref()),
                o("ResourceId", |x| x.sku.resource_id.as_deref()),
                o("ResourceType", |x| x.sku.resource_type.as_deref()),
                s("ServiceCategory", |x| service(&x.sku.product).1),
                s("ServiceName", |x| service(&x.sku.product).0),
                s("SkuId", |x| &x.sku.sku_id),
                s("SkuPriceId", |x| &x.sku.sku_price_id),
                s("x_LineId", |x| &x.line_id),
                o("x_UsageId", |x| x.usage_id.as_deref()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn pricing_quantity_is_in_the_price_unit() {
        assert_eq!(
            pricing_quantity(d("5000000"), "call", "10000 call"),
            d("500")
        );
        // 15,000,000 KB = 14.305114746 GB (scale 9, half away from zero).
        assert_eq!(
            pricing_quantity(d("15000000"), "KB", "GB"),
            d("14.305114746")
        );
        assert_eq!(pricing_quantity(d("3"), "hour", "hour"), d("3"));
        assert_eq!(pricing_quantity(d("1"), "each", "each"), d("1"));
    }

    #[test]
    fn services_map_to_allowed_categories() {
        assert_eq!(service("apigw"), ("API Gateway", "Web"));
        assert_eq!(service("eip").1, "Networking");
        assert_eq!(service("new-thing"), ("new-thing", "Other"));
    }
}
