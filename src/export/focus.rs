//! `reckon export focus`: the output's charges as a FOCUS 1.2 cost and usage dataset.
//!
//! Rows:
//! - one per `bill_lines` row (the billed part: pay-as-you-go usage, purchases,
//!   subscriptions, elastic fees, upgrades, refunds), `x_LineId` = its `line_id`;
//! - one per `deduction_details` draw (usage covered by a resource package): a `Usage` row with
//!   `CommitmentDiscountId` = the package, `CommitmentDiscountStatus = Used`, `BilledCost` and
//!   `EffectiveCost` 0 (the package was paid by its `Purchase` row; reckon does not amortize
//!   it), `ListCost` = `ContractedCost` = the covered quantity at the usage's unit price (what the
//!   package saved). `x_LineId` is `d:<usage_id>:<draw>`.
//!
//! Mapping decisions (FOCUS 1.2 column definitions and allowed values):
//! - Costs: there are no negotiated discounts, so `ListCost = ContractedCost = EffectiveCost =
//!   BilledCost = amount` on billed rows, and the unit prices are the line's `unit_price`.
//! - `ChargeCategory`: usage and elastic lines and hourly subscription lines → `Usage`;
//!   purchases, monthly subscriptions and upgrades → `Purchase`; refunds → `Credit`.
//!   `ChargeClass` is null: reckon recomputes whole periods rather than issuing correction rows
//!   (what changed since a previous run is what `reckon diff` reports).
//! - `ChargeFrequency`: `Usage-Based` for usage rows, `Recurring` for subscriptions,
//!   `One-Time` otherwise.
//! - Times are UTC instants: `ChargePeriodStart/End` = `charge_start/end` (a purchase instant
//!   gives an empty period); `BillingPeriodStart/End` = the UTC+8 natural month of
//!   `charge_start` (reckon's billing month), as UTC instants.
//! - `PricingQuantity` is in `PricingUnit` = the line's `price_unit` (e.g. `10000 call`, `GB`):
//!   the billable quantity converted at scale 9, so `ListUnitPrice × PricingQuantity ≈ ListCost`.
//!   `ConsumedQuantity/ConsumedUnit` = the quantity in the metered unit (usage-like rows only):
//!   on a usage line the part it bills (`billable_quantity`, each tier part its own), on a draw
//!   row the part the package covered — so they add up to the metered quantity, counted once;
//!   on an elastic or hourly line (no draws) the metered quantity.
//! - `BillingAccountId/Name` = `owner_uin`; `BillingCurrency` = CNY; `ProviderName`,
//!   `PublisherName`, `InvoiceIssuerName` = `--provider`; `RegionId` = the region (null for
//!   all-region `*`); `ResourceId` = `instance_id`; `SkuId` = `product/sub_product/billing_item`;
//!   `SkuPriceId` = `SkuId/region/tier`.
//! - `ServiceName`/`ServiceCategory` from the product code ([`service`]); unknown → `Other`.
//! - Money `Decimal128(38,8)`, quantities `Decimal128(38,9)`.
//!
//! Files: `DIR/focus/month=YYYY-MM/<name>` by billing period, one per file of the output's
//! `bill_lines` (same partition and name, with the draws of the `deduction_details` file of that
//! partition and name: the same accounts), rows in the total order `(ChargePeriodStart,
//! x_LineId)` within each file, plus `DIR/_manifest.json`; published atomically like a run.
//! Memory holds one such file's rows at a time.

use crate::calendar::{Month, Ts};
use crate::cli::FocusArgs;
use crate::error::{Error, Result};
use crate::money::{self, Unit};
use crate::output::publish::Publish;
use crate::output::{dec_col, frame, read, str_col, ts_col, write_rows, Table, Written};
use polars::prelude::DataFrame;
use rayon::prelude::*;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

/// FOCUS version of the export.
pub const FOCUS_VERSION: &str = "1.2";

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

/// One FOCUS row.
#[derive(Debug, Clone, PartialEq)]
pub struct FocusRow {
    pub line_id: String,
    pub usage_id: Option<String>,
    pub billed_cost: Decimal,
    pub effective_cost: Decimal,
    pub list_cost: Decimal,
    pub contracted_cost: Decimal,
    pub list_unit_price: Option<Decimal>,
    pub account: String,
    pub charge_category: &'static str,
    pub charge_description: String,
    pub charge_frequency: &'static str,
    pub charge_start: Ts,
    pub charge_end: Ts,
    pub commitment_id: Option<String>,
    pub commitment_name: Option<String>,
    pub commitment_status: Option<&'static str>,
    pub commitment_quantity: Option<Decimal>,
    pub commitment_unit: Option<String>,
    pub consumed_quantity: Option<Decimal>,
    pub consumed_unit: Option<String>,
    pub pricing_category: Option<&'static str>,
    pub pricing_quantity: Decimal,
    pub pricing_unit: String,
    pub provider: String,
    pub region: Option<String>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub product: String,
    pub sku_id: String,
    pub sku_price_id: String,
}

impl Table for FocusRow {
    const NAME: &'static str = "focus";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.charge_start))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.charge_start, &a.line_id).cmp(&(b.charge_start, &b.line_id))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        let o = |n, f: fn(&Self) -> Option<&str>| str_col(n, r.iter().map(|x| f(x)));
        let m = |n, f: fn(&Self) -> Decimal| dec_col(n, 8, r.iter().map(|x| Some(f(x))));
        let q = |n, f: fn(&Self) -> Option<Decimal>| dec_col(n, 9, r.iter().map(|x| f(x)));
        let period = |x: &Self, end: bool| {
            let mo = Month::of(x.charge_start);
            Some(if end { mo.end() } else { mo.start() })
        };
        frame(
            r.len(),
            vec![
                m("BilledCost", |x| x.billed_cost),
                s("BillingAccountId", |x| &x.account),
                s("BillingAccountName", |x| &x.account),
                s("BillingCurrency", |_| "CNY"),
                ts_col("BillingPeriodEnd", r.iter().map(|x| period(x, true))),
                ts_col("BillingPeriodStart", r.iter().map(|x| period(x, false))),
                s("ChargeCategory", |x| x.charge_category),
                o("ChargeClass", |_| None),
                s("ChargeDescription", |x| &x.charge_description),
                s("ChargeFrequency", |x| x.charge_frequency),
                ts_col("ChargePeriodEnd", r.iter().map(|x| Some(x.charge_end))),
                ts_col("ChargePeriodStart", r.iter().map(|x| Some(x.charge_start))),
                o("CommitmentDiscountCategory", |x| {
                    x.commitment_id.as_ref().map(|_| "Usage")
                }),
                o("CommitmentDiscountId", |x| x.commitment_id.as_deref()),
                o("CommitmentDiscountName", |x| x.commitment_name.as_deref()),
                q("CommitmentDiscountQuantity", |x| x.commitment_quantity),
                o("CommitmentDiscountStatus", |x| x.commitment_status),
                o("CommitmentDiscountType", |x| {
                    x.commitment_id.as_ref().map(|_| "Resource Package")
                }),
                o("CommitmentDiscountUnit", |x| x.commitment_unit.as_deref()),
                q("ConsumedQuantity", |x| x.consumed_quantity),
                o("ConsumedUnit", |x| x.consumed_unit.as_deref()),
                m("ContractedCost", |x| x.contracted_cost),
                dec_col(
                    "ContractedUnitPrice",
                    8,
                    r.iter().map(|x| x.list_unit_price),
                ),
                m("EffectiveCost", |x| x.effective_cost),
                s("InvoiceIssuerName", |x| &x.provider),
                m("ListCost", |x| x.list_cost),
                dec_col("ListUnitPrice", 8, r.iter().map(|x| x.list_unit_price)),
                o("PricingCategory", |x| x.pricing_category),
                q("PricingQuantity", |x| Some(x.pricing_quantity)),
                s("PricingUnit", |x| &x.pricing_unit),
                s("ProviderName", |x| &x.provider),
                s("PublisherName", |x| &x.provider),
                o("RegionId", |x| x.region.as_deref()),
                o("RegionName", |x| x.region.as_deref()),
                o("ResourceId", |x| x.resource_id.as_deref()),
                o("ResourceType", |x| x.resource_type.as_deref()),
                s("ServiceCategory", |x| service(&x.product).1),
                s("ServiceName", |x| service(&x.product).0),
                s("SkuId", |x| &x.sku_id),
                s("SkuPriceId", |x| &x.sku_price_id),
                s("x_LineId", |x| &x.line_id),
                o("x_UsageId", |x| x.usage_id.as_deref()),
            ],
        )
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

struct Line {
    region: Option<String>,
    unit: String,
    unit_price: Decimal,
    price_unit: String,
}

/// The FOCUS rows of one file of `bill_lines` (`lines`) and the `deduction_details` file of the
/// same partition and name (`draws`: the same chunk of accounts and month, so each draw's usage
/// has its lines in `lines`).
pub fn rows_of(
    lines: &DataFrame,
    draws: Option<&DataFrame>,
    names: &HashMap<String, String>,
    provider: &str,
) -> Result<Vec<FocusRow>> {
    let bl = lines;
    let st = |c: &str| read::strings(bl, c);
    let dec = |c: &str| read::decimals(bl, c);
    let (line_id, owner, region, product, sub_product, instance, item, kind, usage_id, unit) = (
        st("line_id")?,
        st("owner_uin")?,
        st("region")?,
        st("product")?,
        st("sub_product")?,
        st("instance_id")?,
        st("billing_item")?,
        st("charge_kind")?,
        st("usage_id")?,
        st("unit")?,
    );
    let price_unit = st("price_unit")?;
    let (metered, billable, unit_price, amount) = (
        dec("metered_quantity")?,
        dec("billable_quantity")?,
        dec("unit_price")?,
        dec("amount")?,
    );
    let tier = read::ints(bl, "tier")?;
    let starts = read::instants(bl, "charge_start")?;
    let ends = read::instants(bl, "charge_end")?;
    let get = |v: &[Option<String>], i: usize| v[i].clone().unwrap_or_default();
    let zero = Decimal::ZERO;

    let mut out = Vec::with_capacity(bl.height() + draws.map_or(0, |d| d.height()));
    // The first part of each usage row's lines: unit price for the covered quantity.
    let mut first_line: HashMap<String, Line> = HashMap::new();
    for i in 0..bl.height() {
        let k = kind[i].as_deref().unwrap_or("");
        let pu = get(&price_unit, i);
        let u = get(&unit, i);
        let reg = region[i].clone().filter(|r| r != "*");
        let usage_like = matches!(k, "usage" | "elastic") || (k == "subscription" && pu == "hour");
        let (category, frequency) = match k {
            "refund" => ("Credit", "One-Time"),
            "subscription" if usage_like => ("Usage", "Usage-Based"),
            "subscription" => ("Purchase", "Recurring"),
            _ if usage_like => ("Usage", "Usage-Based"),
            _ => ("Purchase", "One-Time"),
        };
        let price = unit_price[i].unwrap_or(zero);
        let amt = amount[i].unwrap_or(zero);
        let bq = billable[i].unwrap_or(zero);
        let uid = usage_id[i].clone();
        if let Some(u_id) = &uid {
            first_line.entry(u_id.clone()).or_insert(Line {
                region: reg.clone(),
                unit: u.clone(),
                unit_price: price,
                price_unit: pu.clone(),
            });
        }
        let lid = get(&line_id, i);
        let pkg_purchase = k == "purchase" && lid.starts_with("p:");
        let sku = format!(
            "{}/{}/{}",
            get(&product, i),
            get(&sub_product, i),
            get(&item, i)
        );
        let tier_txt = tier[i].map_or("-".to_string(), |t| t.to_string());
        out.push(FocusRow {
            usage_id: uid,
            billed_cost: amt,
            effective_cost: amt,
            list_cost: amt,
            contracted_cost: amt,
            list_unit_price: Some(price),
            account: get(&owner, i),
            charge_category: category,
            charge_description: format!(
                "{} {} {} at {} CNY per {}{}",
                get(&product, i),
                get(&item, i),
                k,
                price,
                pu,
                tier[i].map_or(String::new(), |t| format!(" (tier {t})"))
            ),
            charge_frequency: frequency,
            charge_start: starts[i].unwrap_or_default(),
            charge_end: ends[i].unwrap_or_default(),
            commitment_id: pkg_purchase.then(|| get(&instance, i)),
            commitment_name: if pkg_purchase {
                names.get(&get(&instance, i)).cloned()
            } else {
                None
            },
            commitment_status: None,
            commitment_quantity: None,
            commitment_unit: None,
            // A usage line: the part it bills, the covered part being its draw row's (counted
            // once). Other usage-like lines (elastic days, hours) have no draw rows: what they
            // metered.
            consumed_quantity: usage_like.then(|| {
                if k == "usage" {
                    bq
                } else {
                    metered[i].unwrap_or(zero)
                }
            }),
            consumed_unit: usage_like.then(|| u.clone()),
            pricing_category: Some("Standard"),
            pricing_quantity: pricing_quantity(bq, &u, &pu),
            pricing_unit: pu,
            provider: provider.to_string(),
            region: reg.clone(),
            resource_id: instance[i].clone(),
            resource_type: sub_product[i].clone(),
            product: get(&product, i),
            sku_price_id: format!("{sku}/{}/{tier_txt}", reg.as_deref().unwrap_or("*")),
            sku_id: sku,
            line_id: lid,
        });
    }

    // Package draws.
    if let Some(dd) = draws {
        let st = |c: &str| read::strings(dd, c);
        let (pkg, pkg_name, pkg_unit, owner, rprod, rsub, ritem, region, inst, uid, ounit) = (
            st("package_id")?,
            st("package_name")?,
            st("package_unit")?,
            st("resource_owner_uin")?,
            st("resource_product")?,
            st("resource_sub_product")?,
            st("resource_billing_item")?,
            st("region")?,
            st("instance_id")?,
            st("usage_id")?,
            st("original_usage_unit")?,
        );
        let deducted = read::decimals(dd, "deducted")?;
        let covered = read::decimals(dd, "original_usage")?;
        let starts = read::instants(dd, "usage_start")?;
        let ends = read::instants(dd, "usage_end")?;
        let seq = read::ints(dd, "draw_seq")?;
        for i in 0..dd.height() {
            let u_id = get(&uid, i);
            let u = get(&ounit, i);
            let cov = covered[i].unwrap_or(zero);
            let line = first_line.get(&u_id);
            let pu = line.map_or(u.clone(), |l| l.price_unit.clone());
            let from_unit = line.map_or(u.clone(), |l| l.unit.clone());
            let pq = pricing_quantity(cov, &from_unit, &pu);
            let price = line.map(|l| l.unit_price);
            let list = money::m8(pq * price.unwrap_or(zero));
            let reg = region[i]
                .clone()
                .filter(|r| r != "*")
                .or_else(|| line.and_then(|l| l.region.clone()));
            let sku = format!("{}/{}/{}", get(&rprod, i), get(&rsub, i), get(&ritem, i));
            out.push(FocusRow {
                line_id: format!("d:{u_id}:{}", seq[i].unwrap_or(i as i64)),
                usage_id: Some(u_id),
                billed_cost: zero,
                effective_cost: zero,
                list_cost: list,
                contracted_cost: list,
                list_unit_price: price,
                account: get(&owner, i),
                charge_category: "Usage",
                charge_description: format!(
                    "{} {} covered by package {}",
                    get(&rprod, i),
                    get(&ritem, i),
                    get(&pkg, i)
                ),
                charge_frequency: "Usage-Based",
                charge_start: starts[i].unwrap_or_default(),
                charge_end: ends[i].unwrap_or_default(),
                commitment_id: pkg[i].clone(),
                commitment_name: pkg_name[i].clone(),
                commitment_status: Some("Used"),
                commitment_quantity: deducted[i],
                commitment_unit: pkg_unit[i].clone(),
                consumed_quantity: Some(cov),
                consumed_unit: Some(u),
                pricing_category: Some("Committed"),
                pricing_quantity: pq,
                pricing_unit: pu,
                provider: provider.to_string(),
                sku_price_id: format!("{sku}/{}/package", reg.as_deref().unwrap_or("*")),
                region: reg,
                resource_id: inst[i].clone(),
                resource_type: rsub[i].clone(),
                product: get(&rprod, i),
                sku_id: sku,
            });
        }
    }
    Ok(out)
}

fn package_names(dir: &Path) -> Result<HashMap<String, String>> {
    let Some(ps) = read::table(dir, "package_status")? else {
        return Ok(HashMap::new());
    };
    let ids = read::strings(&ps, "package_id")?;
    let names = read::strings(&ps, "package_name")?;
    Ok(ids
        .into_iter()
        .zip(names)
        .filter_map(|(i, n)| Some((i?, n?)))
        .collect())
}

/// Exports one file of `bill_lines` with its draws; gives what was written.
fn export_file(
    dir: &Path,
    f: &read::TableFile,
    draws: Option<&Path>,
    names: &HashMap<String, String>,
    provider: &str,
) -> Result<Written> {
    let draws = draws.map(crate::input::read_parquet).transpose()?;
    let rows = rows_of(
        &crate::input::read_parquet(&f.path)?,
        draws.as_ref(),
        names,
        provider,
    )?;
    // Written under the same partition and name: a row of another month would land in (and
    // overwrite) another file's place.
    let month = f.partition.strip_prefix("month=").and_then(Month::parse);
    if let Some(r) = rows
        .iter()
        .find(|r| Some(Month::of(r.charge_start)) != month)
    {
        return Err(Error::Usage(format!(
            "{}: row `{}` is charged in {}, outside its partition `{}`",
            f.path.display(),
            r.line_id,
            Month::of(r.charge_start),
            f.partition
        )));
    }
    let mut written = Written::default();
    write_rows(dir, rows, &f.name, &mut written)?;
    Ok(written)
}

/// `reckon export focus`: one output file per file of `bill_lines`, built from that file and its
/// draws alone, so memory holds one chunk's month of lines at a time, whatever the output's size.
pub fn run(args: &FocusArgs) -> Result<()> {
    let input = &args.input;
    read::check_output(input)?;
    let source = crate::output::manifest::read(input)?;
    let missing = |t: &str| Error::Usage(format!("{}: table `{t}` is missing", input.display()));
    let lines = read::table_files(input, "bill_lines")?.ok_or_else(|| missing("bill_lines"))?;
    let draw_files = read::table_files(input, "deduction_details")?.unwrap_or_default();
    let draws: HashMap<(&str, &str), &Path> = draw_files
        .iter()
        .map(|f| ((f.partition.as_str(), f.name.as_str()), f.path.as_path()))
        .collect();
    // Draws whose file has no bill lines (not in reckon's outputs: every covered usage row has a
    // line, billable 0) would lose their unit price: refused rather than exported wrong.
    let with_lines: std::collections::HashSet<(&str, &str)> = lines
        .iter()
        .map(|f| (f.partition.as_str(), f.name.as_str()))
        .collect();
    if let Some((part, name)) = draws.keys().filter(|k| !with_lines.contains(*k)).min() {
        return Err(Error::Usage(format!(
            "{}: deduction_details/{part}/{name} has no bill_lines file of the same partition \
             and name",
            input.display()
        )));
    }
    let names = package_names(input)?;
    let publish = Publish::begin(&args.output, None)?;
    let dir = publish.dir();
    let mut written = Written::default();
    // As many files at once as there are threads: memory holds that many files' rows.
    for batch in lines.chunks(rayon::current_num_threads().max(1)) {
        let done = batch
            .par_iter()
            .map(|f| {
                let d = draws.get(&(f.partition.as_str(), f.name.as_str())).copied();
                export_file(dir, f, d, &names, &args.provider)
            })
            .collect::<Result<Vec<_>>>()?;
        for w in done {
            written.add_rows(&w);
            written.files.extend(w.files);
        }
    }
    let as_of_month = crate::calendar::parse_date(&source.as_of_date)
        .map(|d| Month::of(crate::calendar::day_start_of_date(d) - 1))
        .unwrap_or_else(|| Month::of(0));
    crate::output::finish_table::<FocusRow>(dir, as_of_month, "part-00000.parquet", &mut written)?;
    written.files.sort();
    let manifest = serde_json::json!({
        "format": "FOCUS",
        "focus_version": FOCUS_VERSION,
        "source": input.display().to_string(),
        "source_as_of_date": source.as_of_date,
        "source_catalog_sha256": source.catalog_sha256,
        "rows": written.rows,
        "files": written.files,
    });
    let path = dir.join("_manifest.json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Output {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
    publish.commit()?;
    tracing::info!(rows = written.rows, output = %args.output.display(), "FOCUS export written");
    Ok(())
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
