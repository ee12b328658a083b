//! FOCUS rows of `bill_lines`: one per line, the billed part of every charge, built a column
//! group at a time.
//!
//! Invariants: `BilledCost` = the line's amount; `EffectiveCost` = the amount too, except on a
//! package purchase (0: the package's price is spread over the usage it covers, `packages`);
//! the unit price is the line's, made non-negative with the sign in `PricingQuantity`, so
//! `ListCost` = unit price × `PricingQuantity` exactly (within 5e-9 of the amount, which the
//! rules round at scale 8); usage, elastic and hourly subscription lines are `Usage` rows; a
//! usage line consumes the part it bills (the covered part is its draw row's, so the metered
//! quantity is counted once). Each usage's first line is kept ([`UsagePrice`]) for its draw
//! rows' price.

use super::packages::Packages;
use super::row::{
    focus_unit, period_of_instant, price_details, pricing_quantity, signed, Charge, Commitment,
    Cost, FocusRow, Quantity, Sku,
};
use crate::calendar::Ts;
use crate::error::Result;
use crate::output::read;
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// What a usage's draw rows take from its first line: its region, metered unit, unit price and
/// price unit.
pub(super) struct UsagePrice {
    pub region: Option<String>,
    pub unit: String,
    pub unit_price: Decimal,
    pub price_unit: String,
}

/// The columns of one `bill_lines` file the rows are built from.
struct LineCols {
    line_id: Vec<Option<String>>,
    owner: Vec<Option<String>>,
    region: Vec<Option<String>>,
    product: Vec<Option<String>>,
    sub_product: Vec<Option<String>>,
    instance: Vec<Option<String>>,
    item: Vec<Option<String>>,
    kind: Vec<Option<String>>,
    usage_id: Vec<Option<String>>,
    unit: Vec<Option<String>>,
    price_unit: Vec<Option<String>>,
    metered: Vec<Option<Decimal>>,
    billable: Vec<Option<Decimal>>,
    unit_price: Vec<Option<Decimal>>,
    amount: Vec<Option<Decimal>>,
    tier: Vec<Option<i64>>,
    starts: Vec<Option<Ts>>,
    ends: Vec<Option<Ts>>,
}

impl LineCols {
    fn of(bl: &DataFrame) -> Result<LineCols> {
        let st = |c: &str| read::strings(bl, c);
        let dec = |c: &str| read::decimals(bl, c);
        Ok(LineCols {
            line_id: st("line_id")?,
            owner: st("owner_uin")?,
            region: st("region")?,
            product: st("product")?,
            sub_product: st("sub_product")?,
            instance: st("instance_id")?,
            item: st("billing_item")?,
            kind: st("charge_kind")?,
            usage_id: st("usage_id")?,
            unit: st("unit")?,
            price_unit: st("price_unit")?,
            metered: dec("metered_quantity")?,
            billable: dec("billable_quantity")?,
            unit_price: dec("unit_price")?,
            amount: dec("amount")?,
            tier: read::ints(bl, "tier")?,
            starts: read::instants(bl, "charge_start")?,
            ends: read::instants(bl, "charge_end")?,
        })
    }
}

fn get(v: &[Option<String>], i: usize) -> String {
    v[i].clone().unwrap_or_default()
}

/// Line `i` with the values every column group reads.
struct Billed<'a> {
    c: &'a LineCols,
    i: usize,
    kind: &'a str,
    unit: String,
    price_unit: String,
    /// The region, none for all-region `*`.
    region: Option<String>,
    /// Metered like usage: usage and elastic lines, hourly subscriptions.
    usage_like: bool,
    unit_price: Decimal,
    amount: Decimal,
    billable: Decimal,
}

impl<'a> Billed<'a> {
    fn of(c: &'a LineCols, i: usize) -> Billed<'a> {
        let kind = c.kind[i].as_deref().unwrap_or("");
        let price_unit = get(&c.price_unit, i);
        let usage_like =
            matches!(kind, "usage" | "elastic") || (kind == "subscription" && price_unit == "hour");
        Billed {
            c,
            i,
            kind,
            unit: get(&c.unit, i),
            region: c.region[i].clone().filter(|r| r != "*"),
            usage_like,
            unit_price: c.unit_price[i].unwrap_or(Decimal::ZERO),
            amount: c.amount[i].unwrap_or(Decimal::ZERO),
            billable: c.billable[i].unwrap_or(Decimal::ZERO),
            price_unit,
        }
    }
}

/// Appends the FOCUS row of every line of `bl` to `out`; gives each usage's first line
/// (usage_id → [`UsagePrice`]).
pub(super) fn rows(
    bl: &DataFrame,
    packages: &Packages,
    provider: &str,
    out: &mut Vec<FocusRow>,
) -> Result<HashMap<String, UsagePrice>> {
    let c = LineCols::of(bl)?;
    let mut first_line: HashMap<String, UsagePrice> = HashMap::new();
    for i in 0..bl.height() {
        let b = Billed::of(&c, i);
        if let Some(u_id) = &c.usage_id[i] {
            first_line.entry(u_id.clone()).or_insert(UsagePrice {
                region: b.region.clone(),
                unit: b.unit.clone(),
                unit_price: b.unit_price,
                price_unit: b.price_unit.clone(),
            });
        }
        let commitment = commitment(&b, packages);
        out.push(FocusRow {
            line_id: get(&c.line_id, i),
            usage_id: c.usage_id[i].clone(),
            account: get(&c.owner, i),
            provider: provider.to_string(),
            cost: cost(&b, commitment.id.is_some()),
            charge: charge(&b),
            quantity: quantity(&b),
            sku: sku(&b, commitment.name.clone()),
            commitment,
        });
    }
    Ok(first_line)
}

/// The amount billed at the line's unit price (non-negative); a package purchase is
/// amortized over the usage it covers, so its own effective cost is 0.
fn cost(b: &Billed, package_purchase: bool) -> Cost {
    Cost {
        billed: b.amount,
        effective: if package_purchase {
            Decimal::ZERO
        } else {
            b.amount
        },
        unit_price: Some(signed(b.unit_price, Decimal::ONE, b.amount).0),
        list: None,
    }
}

/// Refunds are credits; usage-like lines usage; subscriptions otherwise recurring purchases;
/// everything else one-time purchases. An instant (a purchase, a refund) is charged to the end
/// of its hour.
fn charge(b: &Billed) -> Charge {
    let (category, frequency) = match b.kind {
        "refund" => ("Credit", "One-Time"),
        "subscription" if b.usage_like => ("Usage", "Usage-Based"),
        "subscription" => ("Purchase", "Recurring"),
        _ if b.usage_like => ("Usage", "Usage-Based"),
        _ => ("Purchase", "One-Time"),
    };
    let (c, i) = (b.c, b.i);
    let (start, end) = period_of_instant(
        c.starts[i].unwrap_or_default(),
        c.ends[i].unwrap_or_default(),
    );
    Charge {
        category,
        class: None,
        description: format!(
            "{} {} {} at {} CNY per {}{}",
            get(&c.product, i),
            get(&c.item, i),
            b.kind,
            b.unit_price.abs(),
            focus_unit(&b.price_unit),
            c.tier[i].map_or(String::new(), |t| format!(" (tier {t})"))
        ),
        frequency,
        start,
        end,
        billing: None,
    }
}

/// A package purchase or renewal (`p:` line) is about its package: the instance id, named and
/// sized from `package_status`; the original purchase carries the capacity of the whole term,
/// or an unlimited package's hours (a renewal adds no quantity of its own: the term's
/// quantity counts the renewed cycles and hours).
fn commitment(b: &Billed, packages: &Packages) -> Commitment {
    let line_id = get(&b.c.line_id, b.i);
    if !(b.kind == "purchase" && line_id.starts_with("p:")) {
        return Commitment::default();
    }
    let id = get(&b.c.instance, b.i);
    let p = packages.get(&id);
    let renewal = line_id.starts_with(&format!("p:{id}:r:"));
    let quantity = p.and_then(|p| p.term_quantity()).map(|q| {
        if renewal {
            Decimal::ZERO
        } else {
            crate::money::q9(q)
        }
    });
    Commitment {
        name: p.map(|p| p.name.clone()),
        unit: quantity.and(p.map(|p| p.commitment_unit())),
        quantity,
        id: Some(id),
        status: None,
    }
}

/// A usage line consumes the part it bills, the covered part being its draw row's (counted
/// once); other usage-like lines (elastic days, hours) have no draw rows: what they metered.
fn quantity(b: &Billed) -> Quantity {
    let q = pricing_quantity(b.billable, &b.unit, &b.price_unit);
    Quantity {
        consumed: b.usage_like.then(|| {
            if b.kind == "usage" {
                b.billable
            } else {
                b.c.metered[b.i].unwrap_or(Decimal::ZERO)
            }
        }),
        consumed_unit: b.usage_like.then(|| focus_unit(&b.unit)),
        pricing_category: Some("Standard"),
        pricing: Some(signed(b.unit_price, q, b.amount).1),
        pricing_unit: Some(focus_unit(&b.price_unit)),
    }
}

/// `SkuId` = `product/sub_product/billing_item`, `SkuPriceId` = `SkuId/region/tier` (`*` for
/// all regions, `-` without tier); the meter is the billing item; a package's name (`name`)
/// is its resource's.
fn sku(b: &Billed, name: Option<String>) -> Sku {
    let (c, i) = (b.c, b.i);
    let item = get(&c.item, i);
    let sku = format!("{}/{}/{item}", get(&c.product, i), get(&c.sub_product, i));
    let tier = c.tier[i].map_or("-".to_string(), |t| t.to_string());
    let region = b.region.as_deref().unwrap_or("*").to_string();
    Sku {
        product: get(&c.product, i),
        region: b.region.clone(),
        resource_id: c.instance[i].clone(),
        resource_name: name,
        resource_type: c.sub_product[i].clone(),
        sku_price_id: format!("{sku}/{region}/{tier}"),
        price_details: Some(price_details(&[
            ("x_BillingItem", item.clone()),
            ("x_Region", region),
            ("x_Tier", tier),
        ])),
        meter: item,
        sku_id: sku,
    }
}
