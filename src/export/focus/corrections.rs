//! `reckon export focus --previous PREV`: a closed billing period that PREV (an earlier
//! published FOCUS export) already holds stays as published, and what changed in it since is
//! issued as `ChargeClass = Correction` rows in the current billing period (FOCUS 1.2,
//! ChargeClass: "MUST NOT be null when the row represents a correction to a previously
//! invoiced billing period").
//!
//! Invariants:
//! - A month is *frozen* when it was closed as of PREV's as-of moment (its end ≤ that moment),
//!   PREV holds its partition, and the new output covers it. A frozen month's partition is
//!   copied from PREV byte for byte; the new rows of that month are not written.
//! - The published view of a frozen month is the sum, per charge (`x_LineId`, a correction's
//!   `c:` prefix taken off) and month of `ChargePeriodStart`, of the rows of PREV's frozen
//!   partitions. One correction row per charge whose billed, effective or list cost, or pricing,
//!   consumed or commitment quantity differs from the new output: the difference, with the
//!   charge's columns (the new row's, else the published one's), its charge period, and the
//!   current billing period (the UTC+8 month of the new output's as-of moment). `x_LineId` is
//!   `c:<line>`. So the dataset's sums per charge equal the new output's.
//! - Unit prices of correction rows are null (their quantities and costs are differences).

use super::row::{Charge, Commitment, Cost, FocusRow, Quantity, Sku};
use crate::calendar::{Month, Ts};
use crate::error::{Error, Result};
use crate::output::{read, Written};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The previous export and the months of it that stay as published.
#[derive(Debug, Clone)]
pub struct Previous {
    pub dir: PathBuf,
    /// PREV's as-of moment.
    pub as_of: Ts,
    /// Frozen month → PREV's partition directory of it.
    pub frozen: BTreeMap<Month, PathBuf>,
}

/// The as-of moment of a manifest's `source_as_of_date` (`YYYY-MM-DD`, UTC+8 midnight).
fn as_of_moment(date: &str) -> Option<Ts> {
    crate::calendar::parse_date(date).map(crate::calendar::day_start_of_date)
}

impl Previous {
    /// Opens PREV (a FOCUS export: `_manifest.json` and `focus/<key>=YYYY-MM/`) and finds the
    /// months of `months` (the new output's) that it closed.
    pub fn open(prev: &Path, months: &BTreeSet<Month>) -> Result<Previous> {
        let not_export = |message: String| Error::NotAnOutput {
            path: prev.to_path_buf(),
            message,
        };
        let path = prev.join("_manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let manifest: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| not_export(format!("_manifest.json: {e}")))?;
        let as_of = manifest["source_as_of_date"]
            .as_str()
            .and_then(as_of_moment)
            .ok_or_else(|| not_export("no source_as_of_date in _manifest.json".into()))?;
        let mut frozen = BTreeMap::new();
        let root = prev.join("focus");
        let entries = std::fs::read_dir(&root).map_err(|e| Error::io(&root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&root, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let month = name
                .strip_prefix("x_month=")
                .or_else(|| name.strip_prefix("month="))
                .and_then(Month::parse);
            if let Some(m) = month.filter(|m| m.end() <= as_of && months.contains(m)) {
                frozen.insert(m, entry.path());
            }
        }
        Ok(Previous {
            dir: prev.to_path_buf(),
            as_of,
            frozen,
        })
    }

    /// Copies the frozen partitions into `dir/focus/x_month=YYYY-MM/` (recorded in
    /// `written`) and gives their rows.
    pub fn copy_frozen(&self, dir: &Path, written: &mut Written) -> Result<Vec<FocusRow>> {
        let mut rows = Vec::new();
        for (m, part) in &self.frozen {
            let key = format!("x_month={m}");
            let to = dir.join("focus").join(&key);
            std::fs::create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
            for f in crate::input::parquet_files(part)? {
                let name = f.file_name().unwrap_or_default();
                let dest = to.join(name);
                std::fs::copy(&f, &dest).map_err(|e| Error::io(&dest, e))?;
                let mut these = from_frame(&crate::input::read_parquet(&f)?, *m)?;
                written.rows += these.len() as u64;
                *written.partitions.entry(key.clone()).or_default() += these.len() as u64;
                written
                    .files
                    .push(format!("focus/{key}/{}", name.to_string_lossy()));
                rows.append(&mut these);
            }
        }
        Ok(rows)
    }
}

/// One charge's sums.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sums {
    billed: Decimal,
    effective: Decimal,
    list: Decimal,
    pricing: Decimal,
    consumed: Decimal,
    committed: Decimal,
}

impl Sums {
    fn add(&mut self, r: &FocusRow) {
        self.billed += r.cost.billed;
        self.effective += r.cost.effective;
        self.list += r.list_cost();
        self.pricing += r.quantity.pricing.unwrap_or_default();
        self.consumed += r.quantity.consumed.unwrap_or_default();
        self.committed += r.commitment.quantity.unwrap_or_default();
    }

    fn minus(&self, o: &Sums) -> Sums {
        Sums {
            billed: self.billed - o.billed,
            effective: self.effective - o.effective,
            list: self.list - o.list,
            pricing: self.pricing - o.pricing,
            consumed: self.consumed - o.consumed,
            committed: self.committed - o.committed,
        }
    }

    fn is_zero(&self) -> bool {
        *self == Sums::default()
    }
}

/// (month of the charge period, charge) → (its first row, the sums of its rows).
type ByCharge = BTreeMap<(Month, String), (FocusRow, Sums)>;

fn by_charge(rows: Vec<FocusRow>) -> ByCharge {
    let mut out: ByCharge = BTreeMap::new();
    for r in rows {
        let key = r
            .line_id
            .strip_prefix("c:")
            .unwrap_or(&r.line_id)
            .to_string();
        let e = out
            .entry((Month::of(r.charge.start), key))
            .or_insert_with(|| (r.clone(), Sums::default()));
        e.1.add(&r);
    }
    out
}

/// The correction rows, billed in `current`, that take the published rows (`published`) of
/// the frozen months to the new rows of those months (`restated`).
pub fn corrections(
    restated: Vec<FocusRow>,
    published: Vec<FocusRow>,
    current: Month,
) -> Vec<FocusRow> {
    let (new, old) = (by_charge(restated), by_charge(published));
    let keys: BTreeSet<&(Month, String)> = new.keys().chain(old.keys()).collect();
    let zero = Sums::default();
    let mut out = Vec::new();
    for key in keys {
        let (n, o) = (new.get(key), old.get(key));
        let delta = n.map_or(&zero, |n| &n.1).minus(o.map_or(&zero, |o| &o.1));
        if delta.is_zero() {
            continue;
        }
        let Some(template) = n.or(o).map(|t| &t.0) else {
            continue;
        };
        out.push(correction(template, &key.1, &delta, current));
    }
    out
}

/// The correction of charge `line` by `d`, with `t`'s columns.
fn correction(t: &FocusRow, line: &str, d: &Sums, current: Month) -> FocusRow {
    FocusRow {
        line_id: format!("c:{line}"),
        usage_id: t.usage_id.clone(),
        account: t.account.clone(),
        provider: t.provider.clone(),
        cost: Cost {
            billed: d.billed,
            effective: d.effective,
            unit_price: None,
            list: Some(d.list),
        },
        charge: Charge {
            category: t.charge.category,
            class: Some("Correction"),
            description: format!(
                "correction of {line} ({}): {}",
                Month::of(t.charge.start),
                t.charge.description
            ),
            frequency: t.charge.frequency,
            start: t.charge.start,
            end: t.charge.end,
            billing: Some(current),
        },
        commitment: Commitment {
            quantity: t.commitment.quantity.map(|_| d.committed),
            ..t.commitment.clone()
        },
        quantity: Quantity {
            consumed: t.quantity.consumed.map(|_| d.consumed),
            pricing: Some(d.pricing),
            ..t.quantity.clone()
        },
        sku: t.sku.clone(),
    }
}

/// `v` as the allowed value of `allowed` it equals (`allowed[0]` when none does).
fn allowed(v: Option<String>, allowed: &[&'static str]) -> &'static str {
    allowed
        .iter()
        .find(|a| v.as_deref() == Some(**a))
        .copied()
        .unwrap_or(allowed[0])
}

/// The columns of a FOCUS file, as [`from_frame`] reads them back.
struct FocusCols {
    text: HashMap<&'static str, Vec<Option<String>>>,
    dec: HashMap<&'static str, Vec<Option<Decimal>>>,
    start: Vec<Option<Ts>>,
    end: Vec<Option<Ts>>,
}

const TEXT: &[&str] = &[
    "x_LineId",
    "x_UsageId",
    "BillingAccountId",
    "ProviderName",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountUnit",
    "ConsumedUnit",
    "PricingCategory",
    "PricingUnit",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SkuId",
    "SkuMeter",
    "SkuPriceId",
    "SkuPriceDetails",
];
const DEC: &[&str] = &[
    "BilledCost",
    "EffectiveCost",
    "ListUnitPrice",
    "ListCost",
    "CommitmentDiscountQuantity",
    "ConsumedQuantity",
    "PricingQuantity",
];

impl FocusCols {
    fn of(df: &DataFrame) -> Result<FocusCols> {
        let mut text = HashMap::new();
        for c in TEXT {
            text.insert(*c, read::strings(df, c)?);
        }
        let mut dec = HashMap::new();
        for c in DEC {
            dec.insert(*c, read::decimals(df, c)?);
        }
        Ok(FocusCols {
            text,
            dec,
            start: read::instants(df, "ChargePeriodStart")?,
            end: read::instants(df, "ChargePeriodEnd")?,
        })
    }
    fn s(&self, c: &str, i: usize) -> Option<String> {
        self.text[c][i].clone()
    }
    fn g(&self, c: &str, i: usize) -> String {
        self.s(c, i).unwrap_or_default()
    }
    fn d(&self, c: &str, i: usize) -> Option<Decimal> {
        self.dec[c][i]
    }

    /// Row `i`, of partition `month`.
    fn row(&self, i: usize, month: Month) -> FocusRow {
        let start = self.start[i].unwrap_or_default();
        let sku_id = self.g("SkuId", i);
        FocusRow {
            line_id: self.g("x_LineId", i),
            usage_id: self.s("x_UsageId", i),
            account: self.g("BillingAccountId", i),
            provider: self.g("ProviderName", i),
            cost: Cost {
                billed: self.d("BilledCost", i).unwrap_or_default(),
                effective: self.d("EffectiveCost", i).unwrap_or_default(),
                unit_price: self.d("ListUnitPrice", i),
                list: self.d("ListCost", i),
            },
            charge: Charge {
                category: allowed(self.s("ChargeCategory", i), CATEGORIES),
                class: self.s("ChargeClass", i).map(|_| "Correction"),
                description: self.g("ChargeDescription", i),
                frequency: allowed(self.s("ChargeFrequency", i), FREQUENCIES),
                start,
                end: self.end[i].unwrap_or_default(),
                billing: (Month::of(start) != month).then_some(month),
            },
            commitment: Commitment {
                id: self.s("CommitmentDiscountId", i),
                name: self.s("CommitmentDiscountName", i),
                status: (self.s("CommitmentDiscountStatus", i)).map(|v| allowed(Some(v), STATUSES)),
                quantity: self.d("CommitmentDiscountQuantity", i),
                unit: self.s("CommitmentDiscountUnit", i),
            },
            quantity: Quantity {
                consumed: self.d("ConsumedQuantity", i),
                consumed_unit: self.s("ConsumedUnit", i),
                pricing_category: (self.s("PricingCategory", i))
                    .map(|v| allowed(Some(v), PRICING_CATEGORIES)),
                pricing: self.d("PricingQuantity", i),
                pricing_unit: self.s("PricingUnit", i),
            },
            sku: Sku {
                product: sku_id.split('/').next().unwrap_or_default().to_string(),
                region: self.s("RegionId", i),
                resource_id: self.s("ResourceId", i),
                resource_name: self.s("ResourceName", i),
                resource_type: self.s("ResourceType", i),
                sku_id,
                meter: self.g("SkuMeter", i),
                sku_price_id: self.g("SkuPriceId", i),
                price_details: self.s("SkuPriceDetails", i),
            },
        }
    }
}

const CATEGORIES: &[&str] = &["Usage", "Purchase", "Credit", "Tax", "Adjustment"];
const FREQUENCIES: &[&str] = &["Usage-Based", "Recurring", "One-Time"];
const STATUSES: &[&str] = &["Used", "Unused"];
const PRICING_CATEGORIES: &[&str] = &["Standard", "Committed", "Dynamic", "Other"];

/// The rows of a FOCUS file of partition `month` (the inverse of `FocusRow::to_frame`).
pub fn from_frame(df: &DataFrame, month: Month) -> Result<Vec<FocusRow>> {
    let cols = FocusCols::of(df)?;
    Ok((0..df.height()).map(|i| cols.row(i, month)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn row(line: &str, billed: &str) -> FocusRow {
        let start = parse_local("2024-05-10 10:00:00").unwrap();
        FocusRow {
            line_id: line.into(),
            usage_id: None,
            account: "a".into(),
            provider: "Cloud".into(),
            cost: Cost {
                billed: d(billed),
                effective: d(billed),
                unit_price: Some(d("2")),
                list: None,
            },
            charge: Charge {
                category: "Usage",
                class: None,
                description: "x".into(),
                frequency: "Usage-Based",
                start,
                end: start + crate::calendar::HOUR,
                billing: None,
            },
            commitment: Commitment::default(),
            quantity: Quantity {
                consumed: Some(d(billed) / d("2")),
                consumed_unit: Some("GiB".into()),
                pricing_category: Some("Standard"),
                pricing: Some(d(billed) / d("2")),
                pricing_unit: Some("GiB".into()),
            },
            sku: Sku {
                product: "eip".into(),
                region: None,
                resource_id: None,
                resource_name: None,
                resource_type: None,
                sku_id: "eip/t/x".into(),
                meter: "x".into(),
                sku_price_id: "eip/t/x/*/-".into(),
                price_details: None,
            },
        }
    }

    /// Published May: u:1 = 4, u:2 = 6, and an earlier correction of u:2 (+2). Restated:
    /// u:1 = 4 (unchanged), u:2 = 10, u:3 = 2 (late usage). Corrections in July: u:2 +2 (8 →
    /// 10), u:3 +2; nothing for u:1.
    #[test]
    fn only_changed_charges_are_corrected_by_their_difference() {
        let july = Month::parse("2024-07").unwrap();
        let mut earlier = row("c:u:2", "2");
        earlier.charge.class = Some("Correction");
        let published = vec![row("u:1", "4"), row("u:2", "6"), earlier];
        let restated = vec![row("u:1", "4"), row("u:2", "10"), row("u:3", "2")];
        let c = corrections(restated, published, july);
        let got: Vec<_> = c
            .iter()
            .map(|r| (r.line_id.as_str(), r.cost.billed, r.quantity.pricing))
            .collect();
        assert_eq!(
            got,
            vec![
                ("c:u:2", d("2"), Some(d("1"))),
                ("c:u:3", d("2"), Some(d("1")))
            ]
        );
        for r in &c {
            assert_eq!(r.charge.class, Some("Correction"));
            assert_eq!(r.charge.billing_month(), july);
            assert_eq!(Month::of(r.charge.start).to_string(), "2024-05");
            assert_eq!(r.cost.unit_price, None);
            assert_eq!(r.list_cost(), r.cost.billed);
        }
    }

    /// A published file reads back into the rows written (the list cost made explicit); the
    /// partition is the billing period, so a row charged in another month (a correction) keeps
    /// it.
    #[test]
    fn published_rows_read_back_as_written() {
        use crate::output::Table;
        let july = Month::parse("2024-07").unwrap();
        let mut fixed = corrections(Vec::new(), vec![row("u:9", "3")], july);
        let plain = row("u:1", "4");
        let rows = [&plain, &fixed[0]];
        let df = FocusRow::to_frame(&rows).unwrap();
        let back = from_frame(&df, july).unwrap();
        let mut want = plain.clone();
        want.cost.list = Some(want.list_cost());
        want.charge.billing = Some(july);
        assert_eq!(back[0], want);
        fixed[0].sku.product = "eip".into();
        assert_eq!(back[1], fixed[0]);
    }

    /// A charge that is no longer there is reversed in full.
    #[test]
    fn a_vanished_charge_is_reversed() {
        let july = Month::parse("2024-07").unwrap();
        let c = corrections(Vec::new(), vec![row("u:9", "3")], july);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].cost.billed, c[0].cost.effective), (d("-3"), d("-3")));
    }
}
