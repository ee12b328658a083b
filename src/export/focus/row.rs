//! The FOCUS row, grouped as the specification groups its columns (cost, charge, commitment
//! discount, quantity, SKU and resource), its columns in the file, and the value mappings every
//! row source shares ([`service`], [`pricing_quantity`], [`focus_unit`], [`priced`]).
//!
//! Invariants: columns in alphabetical order as written; `BilledCost` and `EffectiveCost` at
//! scale 8 (the charge), unit prices at scale 8 and never negative (a credit's sign is in its
//! quantity), quantities at scale 9, `ListCost` and `ContractedCost` the exact product of the
//! unit price and `PricingQuantity` at scale 17 (8 + 9: no rounding), or `BilledCost` on a row
//! without a unit price; `BillingPeriodStart/End` derived from `ChargePeriodStart` (the UTC+8
//! month), never stored, except on a correction (the current billing period); `ChargePeriodEnd > ChargePeriodStart`; units in FOCUS's Unit Format;
//! rows in the total order `(ChargePeriodStart, x_LineId)`; the partition key is `x_month`.

use crate::calendar::{Month, Ts, HOUR};
use crate::error::Result;
use crate::money::{self, Unit};
use crate::output::{dec_col, frame, str_col, ts_col, Table};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// Scale of `ListCost` and `ContractedCost`: a unit price (8) times a quantity (9), exactly.
pub const PRODUCT_SCALE: u32 = 17;

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

/// A reckon unit in FOCUS's Unit Format: reckon's data sizes are 1024-based (`GB` = 2^30
/// bytes), so `KiB`, `MiB`, `GiB`, `TiB`; counted units are capitalized plurals (`call` →
/// `Requests`, `each` → `Units`), time units too (`hour` → `Hours`), a per-day peak is
/// `<unit>-Days`, and a leading count stays a whole number (`10000 call` → `10000 Requests`).
pub fn focus_unit(unit: &str) -> String {
    if let Some((n, u)) = unit.split_once(' ') {
        if n.parse::<u64>().is_ok() {
            return format!("{n} {}", focus_unit(u));
        }
    }
    UNITS
        .iter()
        .find(|(reckon, _)| *reckon == unit)
        .map_or(unit, |(_, focus)| focus)
        .to_string()
}

/// reckon's units and their names in FOCUS's Unit Format, the one table both directions use
/// (the export writes the right-hand names; `reconcile --issued-format focus` reads them back).
pub const UNITS: &[(&str, &str)] = &[
    ("B", "B"),
    ("KB", "KiB"),
    ("MB", "MiB"),
    ("GB", "GiB"),
    ("TB", "TiB"),
    ("call", "Requests"),
    ("QPS", "QPS"),
    ("Mbps", "Mb/Second"),
    ("QPS-day", "QPS-Days"),
    ("Mbps-day", "Mbps-Days"),
    ("hour", "Hours"),
    ("day", "Days"),
    ("month", "Months"),
    ("each", "Units"),
];

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

/// A unit price and its quantity with the sign of the charge `amount` in the quantity:
/// `(|price|, ±|quantity|)` (FOCUS unit prices are non-negative; a credit's quantity is not).
pub fn signed(unit_price: Decimal, quantity: Decimal, amount: Decimal) -> (Decimal, Decimal) {
    let q = quantity.abs();
    let credit = amount < Decimal::ZERO || (amount.is_zero() && unit_price < Decimal::ZERO);
    (unit_price.abs(), if credit { -q } else { q })
}

/// `unit_price × quantity`, exact (scale ≤ [`PRODUCT_SCALE`] for scale-8 prices and scale-9
/// quantities).
pub fn priced(unit_price: Decimal, quantity: Decimal) -> Decimal {
    unit_price * quantity
}

/// A charge period of an instant (a purchase, a refund): to the end of its hour, never empty.
pub fn period_of_instant(start: Ts, end: Ts) -> (Ts, Ts) {
    if end > start {
        (start, end)
    } else {
        (start, start - start.rem_euclid(HOUR) + HOUR)
    }
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

/// `BilledCost`, `EffectiveCost`, and `ListUnitPrice` = `ContractedUnitPrice` (no negotiated
/// discounts); `ListCost` = `ContractedCost` follow ([`FocusRow::list_cost`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub billed: Decimal,
    pub effective: Decimal,
    /// Non-negative; `None` on a correction row.
    pub unit_price: Option<Decimal>,
    /// `ListCost` of a row without a unit price (a correction's delta); `None`: derived.
    pub list: Option<Decimal>,
}

/// `ChargeCategory`, `ChargeClass`, `ChargeDescription`, `ChargeFrequency`,
/// `ChargePeriodStart/End`.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub category: &'static str,
    /// `Correction` on a correction of a closed billing period, else `None`.
    pub class: Option<&'static str>,
    pub description: String,
    pub frequency: &'static str,
    pub start: Ts,
    pub end: Ts,
    /// The billing period of a correction (the current one); `None`: the month of `start`.
    pub billing: Option<Month>,
}

impl Charge {
    /// The billing period (a UTC+8 month).
    pub fn billing_month(&self) -> Month {
        self.billing.unwrap_or_else(|| Month::of(self.start))
    }
}

/// The `CommitmentDiscount*` columns: the resource package a row is about, if any
/// (`Category` = `Usage` and `Type` = `Resource Package` whenever `id` is set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commitment {
    pub id: Option<String>,
    pub name: Option<String>,
    /// `Used` or `Unused` on usage rows, `None` on purchases.
    pub status: Option<&'static str>,
    /// In `unit` (FOCUS format).
    pub quantity: Option<Decimal>,
    pub unit: Option<String>,
}

/// `ConsumedQuantity/Unit`, `PricingCategory`, `PricingQuantity/Unit` (units in FOCUS format).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub consumed: Option<Decimal>,
    pub consumed_unit: Option<String>,
    pub pricing_category: Option<&'static str>,
    /// Negative on a credit (the unit price stays non-negative); `None` on a correction.
    pub pricing: Option<Decimal>,
    pub pricing_unit: Option<String>,
}

/// `ServiceName/Category` (of `product`), `RegionId/Name`, `ResourceId/Name`, `ResourceType`,
/// `SkuId`, `SkuMeter`, `SkuPriceId`, `SkuPriceDetails`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sku {
    pub product: String,
    pub region: Option<String>,
    pub resource_id: Option<String>,
    /// A display name: a package's name; `None` for resources known by their id only.
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub sku_id: String,
    /// What is metered: the billing item.
    pub meter: String,
    pub sku_price_id: String,
    /// `SkuPriceDetails`: a JSON object of `x_` properties of the price.
    pub price_details: Option<String>,
}

impl FocusRow {
    /// `ListCost` = `ContractedCost`: the unit price times `PricingQuantity`, exactly; on a row
    /// without either (a correction), its own list cost, else the billed cost.
    pub fn list_cost(&self) -> Decimal {
        match (self.cost.unit_price, self.quantity.pricing, self.cost.list) {
            (Some(p), Some(q), _) => priced(p, q),
            (_, _, Some(list)) => list,
            _ => self.cost.billed,
        }
    }
}

/// `SkuPriceDetails` of `pairs` (`x_` keys, string values), in the order given.
pub fn price_details(pairs: &[(&str, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

impl Table for FocusRow {
    const NAME: &'static str = "focus";
    const PARTITIONED: bool = true;
    const PARTITION_KEY: &'static str = "x_month";
    fn month(&self) -> Option<Month> {
        Some(self.charge.billing_month())
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.charge.start, &a.line_id).cmp(&(b.charge.start, &b.line_id))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        let o = |n, f: fn(&Self) -> Option<&str>| str_col(n, r.iter().map(|x| f(x)));
        let m = |n, f: fn(&Self) -> Decimal| dec_col(n, 8, r.iter().map(|x| Some(f(x))));
        let x = |n| dec_col(n, PRODUCT_SCALE, r.iter().map(|x| Some(x.list_cost())));
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
                t("BillingPeriodEnd", |x| x.charge.billing_month().end()),
                t("BillingPeriodStart", |x| x.charge.billing_month().start()),
                s("ChargeCategory", |x| x.charge.category),
                o("ChargeClass", |x| x.charge.class),
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
                x("ContractedCost"),
                p("ContractedUnitPrice"),
                m("EffectiveCost", |x| x.cost.effective),
                s("InvoiceIssuerName", |x| &x.provider),
                x("ListCost"),
                p("ListUnitPrice"),
                o("PricingCategory", |x| x.quantity.pricing_category),
                q("PricingQuantity", |x| x.quantity.pricing),
                o("PricingUnit", |x| x.quantity.pricing_unit.as_deref()),
                s("ProviderName", |x| &x.provider),
                s("PublisherName", |x| &x.provider),
                o("RegionId", |x| x.sku.region.as_deref()),
                o("RegionName", |x| x.sku.region.as_deref()),
                o("ResourceId", |x| x.sku.resource_id.as_deref()),
                o("ResourceName", |x| x.sku.resource_name.as_deref()),
                o("ResourceType", |x| x.sku.resource_type.as_deref()),
                s("ServiceCategory", |x| service(&x.sku.product).1),
                s("ServiceName", |x| service(&x.sku.product).0),
                s("SkuId", |x| &x.sku.sku_id),
                s("SkuMeter", |x| &x.sku.meter),
                o("SkuPriceDetails", |x| x.sku.price_details.as_deref()),
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
    fn units_follow_focus_unit_format() {
        assert_eq!(focus_unit("GB"), "GiB");
        assert_eq!(focus_unit("KB"), "KiB");
        assert_eq!(focus_unit("10000 call"), "10000 Requests");
        assert_eq!(focus_unit("call"), "Requests");
        assert_eq!(focus_unit("QPS-day"), "QPS-Days");
        assert_eq!(focus_unit("hour"), "Hours");
        assert_eq!(focus_unit("each"), "Units");
    }

    #[test]
    fn a_credit_keeps_its_unit_price_non_negative_and_its_product_exact() {
        let (p, q) = signed(d("-12.34567891"), d("1"), d("-12.34567891"));
        assert_eq!((p, q), (d("12.34567891"), d("-1")));
        assert_eq!(signed(d("5"), d("1"), d("-5")), (d("5"), d("-1")));
        let (p, q) = signed(d("0.80000000"), d("14.305114746"), d("11.44"));
        // 8 + 9 decimals: the product is exact at scale 17.
        assert_eq!(priced(p, q), d("11.4440917968000000"));
        assert!(priced(p, q).scale() <= PRODUCT_SCALE);
    }

    #[test]
    fn an_instant_charge_gets_the_rest_of_its_hour() {
        let t = 10 * HOUR + 90 * 1_000_000;
        assert_eq!(period_of_instant(t, t), (t, 11 * HOUR));
        assert_eq!(period_of_instant(t, t + 5), (t, t + 5));
    }

    #[test]
    fn services_map_to_allowed_categories() {
        assert_eq!(service("apigw"), ("API Gateway", "Web"));
        assert_eq!(service("eip").1, "Networking");
        assert_eq!(service("new-thing"), ("new-thing", "Other"));
    }
}
