//! FOCUS rows of `deduction_details`: one `Usage` row per draw, the usage a resource package
//! covered, built a column group at a time.
//!
//! Invariants: a draw row bills nothing (`BilledCost = 0`: the package was paid by its
//! `Purchase` row); its `EffectiveCost` is the package's price spread over what it took
//! ([`super::packages::Package::amortized`]), or on an unlimited package its part of its hour's
//! share, and its `CommitmentDiscountQuantity` its part of the hour ([`super::hourly`]);
//! `ListCost = ContractedCost` = the covered
//! quantity at the unit price of its usage's first line ([`UsagePrice`]), in that line's price
//! unit — what the usage would have cost. `x_LineId` is `d:<usage_id>:<draw_seq>`.

use super::hourly::{Part, HOURS};
use super::lines::UsagePrice;
use super::packages::Packages;
use super::row::{
    focus_unit, price_details, pricing_quantity, Charge, Commitment, Cost, FocusRow, Quantity, Sku,
};
use crate::calendar::Ts;
use crate::error::Result;
use crate::output::read;
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// The columns of one `deduction_details` file the rows are built from.
struct DrawCols {
    pkg: Vec<Option<String>>,
    pkg_name: Vec<Option<String>>,
    pkg_unit: Vec<Option<String>>,
    owner: Vec<Option<String>>,
    product: Vec<Option<String>>,
    sub_product: Vec<Option<String>>,
    item: Vec<Option<String>>,
    region: Vec<Option<String>>,
    instance: Vec<Option<String>>,
    usage_id: Vec<Option<String>>,
    unit: Vec<Option<String>>,
    deducted: Vec<Option<Decimal>>,
    covered: Vec<Option<Decimal>>,
    starts: Vec<Option<Ts>>,
    ends: Vec<Option<Ts>>,
    seq: Vec<Option<i64>>,
}

impl DrawCols {
    fn of(dd: &DataFrame) -> Result<DrawCols> {
        let st = |c: &str| read::strings(dd, c);
        Ok(DrawCols {
            pkg: st("package_id")?,
            pkg_name: st("package_name")?,
            pkg_unit: st("package_unit")?,
            owner: st("resource_owner_uin")?,
            product: st("resource_product")?,
            sub_product: st("resource_sub_product")?,
            item: st("resource_billing_item")?,
            region: st("region")?,
            instance: st("instance_id")?,
            usage_id: st("usage_id")?,
            unit: st("original_usage_unit")?,
            deducted: read::decimals(dd, "deducted")?,
            covered: read::decimals(dd, "original_usage")?,
            starts: read::instants(dd, "usage_start")?,
            ends: read::instants(dd, "usage_end")?,
            seq: read::ints(dd, "draw_seq")?,
        })
    }
}

fn get(v: &[Option<String>], i: usize) -> String {
    v[i].clone().unwrap_or_default()
}

/// Draw `i` with the values every column group reads.
struct Drawn<'a> {
    c: &'a DrawCols,
    i: usize,
    /// The usage's first line, if the file has it.
    line: Option<&'a UsagePrice>,
    /// The metered unit of the usage.
    unit: String,
    /// The covered part of the usage, in `unit`.
    covered: Decimal,
    /// The covered part in the line's price unit.
    pricing: Decimal,
    pricing_unit: String,
}

impl<'a> Drawn<'a> {
    fn of(c: &'a DrawCols, i: usize, first_line: &'a HashMap<String, UsagePrice>) -> Drawn<'a> {
        let unit = get(&c.unit, i);
        let covered = c.covered[i].unwrap_or(Decimal::ZERO);
        let line = first_line.get(&get(&c.usage_id, i));
        let pricing_unit = line.map_or(unit.clone(), |l| l.price_unit.clone());
        let from_unit = line.map_or(unit.clone(), |l| l.unit.clone());
        Drawn {
            c,
            i,
            line,
            pricing: pricing_quantity(covered, &from_unit, &pricing_unit),
            unit,
            covered,
            pricing_unit,
        }
    }
}

/// Appends the FOCUS row of every draw of `dd` to `out`, priced from its usage's first line
/// (`first_line`, usage_id → [`UsagePrice`]).
pub(super) fn rows(
    dd: &DataFrame,
    first_line: &HashMap<String, UsagePrice>,
    packages: &Packages,
    provider: &str,
    out: &mut Vec<FocusRow>,
) -> Result<()> {
    let c = DrawCols::of(dd)?;
    for i in 0..dd.height() {
        let d = Drawn::of(&c, i, first_line);
        let usage_id = get(&c.usage_id, i);
        let seq = c.seq[i].unwrap_or(i as i64);
        // Draws on unlimited packages only: no key to build for the others.
        let hourly = (!packages.hourly.draws.is_empty())
            .then(|| packages.hourly.draws.get(&(usage_id.clone(), seq)))
            .flatten();
        out.push(FocusRow {
            line_id: format!("d:{usage_id}:{seq}"),
            usage_id: Some(usage_id),
            account: get(&c.owner, i),
            provider: provider.to_string(),
            cost: cost(&d, packages, hourly),
            charge: charge(&d),
            commitment: commitment(&d, hourly),
            quantity: quantity(&d),
            sku: sku(&d),
        });
    }
    Ok(())
}

/// Nothing billed; the effective cost is the package's price for what the draw took (on an
/// unlimited package, `hourly`: its part of its hour's share); the unit price is the line's
/// (list and contracted cost follow from it).
fn cost(d: &Drawn, packages: &Packages, hourly: Option<&Part>) -> Cost {
    let (c, i) = (d.c, d.i);
    let taken = c.deducted[i].unwrap_or(Decimal::ZERO);
    let effective = match hourly {
        Some(part) => part.effective,
        None => (packages.get(&get(&c.pkg, i))).map_or(Decimal::ZERO, |p| p.amortized(taken)),
    };
    Cost {
        billed: Decimal::ZERO,
        effective,
        unit_price: Some(d.line.map_or(Decimal::ZERO, |l| l.unit_price)),
        list: None,
    }
}

fn charge(d: &Drawn) -> Charge {
    let (c, i) = (d.c, d.i);
    Charge {
        category: "Usage",
        class: None,
        description: format!(
            "{} {} covered by package {}",
            get(&c.product, i),
            get(&c.item, i),
            get(&c.pkg, i)
        ),
        frequency: "Usage-Based",
        start: c.starts[i].unwrap_or_default(),
        end: c.ends[i].unwrap_or_default(),
        billing: None,
    }
}

/// The package drawn on, used: how much of it (in its own unit; an unlimited package, `hourly`,
/// in hours: the draw's part of its hour).
fn commitment(d: &Drawn, hourly: Option<&Part>) -> Commitment {
    let (c, i) = (d.c, d.i);
    let (quantity, unit) = match hourly {
        Some(part) => (Some(part.hours), Some(HOURS.to_string())),
        None => (c.deducted[i], c.pkg_unit[i].as_deref().map(focus_unit)),
    };
    Commitment {
        id: c.pkg[i].clone(),
        name: c.pkg_name[i].clone(),
        status: Some("Used"),
        quantity,
        unit,
    }
}

/// The covered part, consumed in the metered unit and priced (`Committed`) in the line's unit.
fn quantity(d: &Drawn) -> Quantity {
    Quantity {
        consumed: Some(d.covered),
        consumed_unit: Some(focus_unit(&d.unit)),
        pricing_category: Some("Committed"),
        pricing: Some(d.pricing),
        pricing_unit: Some(focus_unit(&d.pricing_unit)),
    }
}

/// The resource's SKU; the region of the draw, else of its line; `SkuPriceId` ends `/package`.
fn sku(d: &Drawn) -> Sku {
    let (c, i) = (d.c, d.i);
    let region = c.region[i]
        .clone()
        .filter(|r| r != "*")
        .or_else(|| d.line.and_then(|l| l.region.clone()));
    let item = get(&c.item, i);
    let sku = format!("{}/{}/{item}", get(&c.product, i), get(&c.sub_product, i));
    let region_key = region.as_deref().unwrap_or("*").to_string();
    Sku {
        product: get(&c.product, i),
        sku_price_id: format!("{sku}/{region_key}/package"),
        price_details: Some(price_details(&[
            ("x_BillingItem", item.clone()),
            ("x_Region", region_key),
        ])),
        region,
        resource_id: c.instance[i].clone(),
        resource_name: None,
        resource_type: c.sub_product[i].clone(),
        meter: item,
        sku_id: sku,
    }
}
