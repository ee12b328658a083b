//! FOCUS 1.2 conformance of `reckon export focus` on `sample_data/`: each check names the MUST
//! clause it holds the dataset to (the column's section of the specification and the clause),
//! and runs on two datasets: a plain export of a run as of 2024-07-01, and the export of the
//! same run with `--previous` the export of a run as of 2024-06-01 (April and May kept as
//! published, corrections in July). A failure lists the clause and the first offending rows.
//!
//! Clauses that hold by construction of the writer (a column's presence and type) are checked
//! once on the schema; the others row by row, and the commitment-discount sums per package.

use crate::common::*;
use polars::prelude::{DataFrame, DataType};
use reckon::output::read;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The columns FOCUS 1.2 defines; any other column must be prefixed `x_`.
const FOCUS_COLUMNS: &[&str] = &[
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
];

/// The columns the export writes, by FOCUS data type.
const DECIMALS: &[&str] = &[
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "ConsumedQuantity",
    "CommitmentDiscountQuantity",
];
const DATETIMES: &[&str] = &[
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
];

/// One FOCUS dataset's columns, by name.
struct Focus {
    n: usize,
    text: BTreeMap<String, Vec<Option<String>>>,
    dec: BTreeMap<String, Vec<Option<Decimal>>>,
    ts: BTreeMap<String, Vec<Option<i64>>>,
}

impl Focus {
    fn read(dir: &Path) -> (Focus, DataFrame) {
        let df = read_table(dir, "focus");
        let mut f = Focus {
            n: df.height(),
            text: BTreeMap::new(),
            dec: BTreeMap::new(),
            ts: BTreeMap::new(),
        };
        for c in df.get_column_names() {
            let c = c.as_str();
            if DECIMALS.contains(&c) {
                f.dec.insert(c.into(), read::decimals(&df, c).unwrap());
            } else if DATETIMES.contains(&c) {
                f.ts.insert(c.into(), read::instants(&df, c).unwrap());
            } else {
                f.text.insert(c.into(), read::strings(&df, c).unwrap());
            }
        }
        (f, df)
    }
    fn s(&self, c: &str, i: usize) -> Option<&str> {
        self.text[c][i].as_deref()
    }
    fn d(&self, c: &str, i: usize) -> Option<Decimal> {
        self.dec[c][i]
    }
    fn t(&self, c: &str, i: usize) -> Option<i64> {
        self.ts[c][i]
    }
    fn usage_or_purchase(&self, i: usize) -> bool {
        matches!(self.s("ChargeCategory", i), Some("Usage" | "Purchase"))
    }
    fn correction(&self, i: usize) -> bool {
        self.s("ChargeClass", i) == Some("Correction")
    }
}

/// A row-level clause: (section and clause, does row `i` hold).
type Clause = (&'static str, fn(&Focus, usize) -> bool);

fn iff(a: bool, b: bool) -> bool {
    a == b
}

/// FOCUS Unit Format: data sizes as the table's abbreviations, other words capitalized,
/// a leading count a whole number.
fn unit_format(u: &str) -> bool {
    const SIZES: &[&str] = &[
        "B", "KB", "MB", "GB", "TB", "PB", "EB", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "b",
        "Kb", "Mb", "Gb", "Tb", "Kib", "Mib", "Gib", "Tib",
    ];
    let body = match u.split_once(' ') {
        Some((n, rest)) if n.parse::<u64>().is_ok() => rest,
        _ => u,
    };
    body.split(['/', '-'])
        .all(|w| SIZES.contains(&w) || w.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        && !body
            .split(['/', '-'])
            .any(|w| ["GBs", "call", "calls"].contains(&w))
}

const ROW_CLAUSES: &[Clause] = &[
    ("BilledCost: MUST NOT be null", |f, i| {
        f.d("BilledCost", i).is_some()
    }),
    ("EffectiveCost: MUST NOT be null", |f, i| {
        f.d("EffectiveCost", i).is_some()
    }),
    ("ListCost: MUST NOT be null", |f, i| {
        f.d("ListCost", i).is_some()
    }),
    ("ContractedCost: MUST NOT be null", |f, i| {
        f.d("ContractedCost", i).is_some()
    }),
    (
        "EffectiveCost: MUST be 0 when ChargeCategory is Purchase and the purchase covers future \
         charges (a package purchase)",
        |f, i| {
            !(f.s("ChargeCategory", i) == Some("Purchase")
                && f.s("CommitmentDiscountId", i).is_some())
                || f.d("EffectiveCost", i) == Some(Decimal::ZERO)
        },
    ),
    (
        "EffectiveCost: of a charge unrelated to other charges (Credit) MUST match BilledCost",
        |f, i| {
            f.s("ChargeCategory", i) != Some("Credit")
                || f.d("EffectiveCost", i) == f.d("BilledCost", i)
        },
    ),
    (
        "ListUnitPrice: MUST NOT be null when ChargeCategory is Usage or Purchase and ChargeClass \
         is not Correction",
        |f, i| !f.usage_or_purchase(i) || f.correction(i) || f.d("ListUnitPrice", i).is_some(),
    ),
    (
        "ContractedUnitPrice: MUST NOT be null when ChargeCategory is Usage or Purchase and \
         ChargeClass is not Correction",
        |f, i| {
            !f.usage_or_purchase(i) || f.correction(i) || f.d("ContractedUnitPrice", i).is_some()
        },
    ),
    (
        "ListUnitPrice: MUST be a non-negative decimal value",
        |f, i| f.d("ListUnitPrice", i).is_none_or(|p| p >= Decimal::ZERO),
    ),
    (
        "ContractedUnitPrice: MUST be a non-negative decimal value",
        |f, i| {
            f.d("ContractedUnitPrice", i)
                .is_none_or(|p| p >= Decimal::ZERO)
        },
    ),
    (
        "ListCost: the product of ListUnitPrice and PricingQuantity MUST match ListCost when \
         neither is null and ChargeClass is not Correction",
        |f, i| match (f.d("ListUnitPrice", i), f.d("PricingQuantity", i)) {
            (Some(p), Some(q)) if !f.correction(i) => Some(p * q) == f.d("ListCost", i),
            _ => true,
        },
    ),
    (
        "ContractedCost: the product of ContractedUnitPrice and PricingQuantity MUST match \
         ContractedCost when neither is null and ChargeClass is not Correction",
        |f, i| match (f.d("ContractedUnitPrice", i), f.d("PricingQuantity", i)) {
            (Some(p), Some(q)) if !f.correction(i) => Some(p * q) == f.d("ContractedCost", i),
            _ => true,
        },
    ),
    (
        "PricingQuantity: MUST NOT be null when ChargeCategory is Usage or Purchase and \
         ChargeClass is not Correction",
        |f, i| !f.usage_or_purchase(i) || f.correction(i) || f.d("PricingQuantity", i).is_some(),
    ),
    (
        "PricingUnit: MUST be null when PricingQuantity is null, and not null otherwise",
        |f, i| {
            iff(
                f.s("PricingUnit", i).is_some(),
                f.d("PricingQuantity", i).is_some(),
            )
        },
    ),
    (
        "ConsumedQuantity: MUST be null when ChargeCategory is not Usage, or is Usage and \
         CommitmentDiscountStatus is Unused",
        |f, i| {
            let must_null = f.s("ChargeCategory", i) != Some("Usage")
                || f.s("CommitmentDiscountStatus", i) == Some("Unused");
            !must_null || f.d("ConsumedQuantity", i).is_none()
        },
    ),
    (
        "ConsumedQuantity: MUST NOT be null when ChargeCategory is Usage, the status is not \
         Unused and ChargeClass is not Correction",
        |f, i| {
            f.s("ChargeCategory", i) != Some("Usage")
                || f.s("CommitmentDiscountStatus", i) == Some("Unused")
                || f.correction(i)
                || f.d("ConsumedQuantity", i).is_some()
        },
    ),
    (
        "ConsumedUnit: MUST be null when ConsumedQuantity is null, and not null otherwise",
        |f, i| {
            iff(
                f.s("ConsumedUnit", i).is_some(),
                f.d("ConsumedQuantity", i).is_some(),
            )
        },
    ),
    (
        "ChargeCategory: MUST NOT be null and MUST be one of the allowed values",
        |f, i| {
            matches!(
                f.s("ChargeCategory", i),
                Some("Usage" | "Purchase" | "Credit" | "Tax" | "Adjustment")
            )
        },
    ),
    ("ChargeClass: MUST be Correction when not null", |f, i| {
        f.s("ChargeClass", i).is_none_or(|c| c == "Correction")
    }),
    (
        "ChargeClass: MUST NOT be null when the row corrects a previously invoiced billing \
         period (a charge period before its billing period)",
        |f, i| f.t("ChargePeriodStart", i) >= f.t("BillingPeriodStart", i) || f.correction(i),
    ),
    (
        "ChargeFrequency: MUST be one of the allowed values",
        |f, i| {
            matches!(
                f.s("ChargeFrequency", i),
                Some("One-Time" | "Recurring" | "Usage-Based")
            )
        },
    ),
    (
        "ChargeFrequency: MUST NOT be Usage-Based when ChargeCategory is Purchase",
        |f, i| {
            !(f.s("ChargeCategory", i) == Some("Purchase")
                && f.s("ChargeFrequency", i) == Some("Usage-Based"))
        },
    ),
    (
        "ChargePeriodStart, ChargePeriodEnd: MUST NOT be null",
        |f, i| f.t("ChargePeriodStart", i).is_some() && f.t("ChargePeriodEnd", i).is_some(),
    ),
    (
        "ChargePeriodEnd: MUST be the exclusive end bound of the charge's period (after its \
         inclusive start)",
        |f, i| f.t("ChargePeriodEnd", i) > f.t("ChargePeriodStart", i),
    ),
    (
        "BillingPeriodStart, BillingPeriodEnd: MUST NOT be null, start before end",
        |f, i| {
            f.t("BillingPeriodStart", i).is_some()
                && f.t("BillingPeriodEnd", i) > f.t("BillingPeriodStart", i)
        },
    ),
    ("BillingCurrency: MUST NOT be null (ISO 4217)", |f, i| {
        f.s("BillingCurrency", i) == Some("CNY")
    }),
    (
        "CommitmentDiscountCategory: MUST be null when CommitmentDiscountId is null, not null \
         otherwise, and one of Spend, Usage",
        |f, i| {
            iff(
                f.s("CommitmentDiscountCategory", i).is_some(),
                f.s("CommitmentDiscountId", i).is_some(),
            ) && f
                .s("CommitmentDiscountCategory", i)
                .is_none_or(|c| c == "Usage" || c == "Spend")
        },
    ),
    (
        "CommitmentDiscountType: MUST be null when CommitmentDiscountId is null, not null \
         otherwise",
        |f, i| {
            iff(
                f.s("CommitmentDiscountType", i).is_some(),
                f.s("CommitmentDiscountId", i).is_some(),
            )
        },
    ),
    (
        "CommitmentDiscountName: MUST be null when CommitmentDiscountId is null; not null when \
         a display name exists (every package has one)",
        |f, i| {
            iff(
                f.s("CommitmentDiscountName", i).is_some(),
                f.s("CommitmentDiscountId", i).is_some(),
            )
        },
    ),
    (
        "CommitmentDiscountStatus: MUST be null when CommitmentDiscountId is null, not null when \
         the id is not null and ChargeCategory is Usage, and one of Used, Unused",
        |f, i| {
            let id = f.s("CommitmentDiscountId", i).is_some();
            let st = f.s("CommitmentDiscountStatus", i);
            (id || st.is_none())
                && (!(id && f.s("ChargeCategory", i) == Some("Usage")) || st.is_some())
                && st.is_none_or(|s| s == "Used" || s == "Unused")
        },
    ),
    (
        "CommitmentDiscountQuantity: MUST NOT be null when ChargeCategory is Usage or Purchase, \
         CommitmentDiscountId is not null and ChargeClass is not Correction; null in all other \
         cases",
        |f, i| {
            let id = f.s("CommitmentDiscountId", i).is_some();
            let q = f.d("CommitmentDiscountQuantity", i).is_some();
            if id && f.usage_or_purchase(i) {
                f.correction(i) || q
            } else {
                !q
            }
        },
    ),
    (
        "CommitmentDiscountUnit: MUST be null when CommitmentDiscountQuantity is null, not null \
         otherwise",
        |f, i| {
            iff(
                f.s("CommitmentDiscountUnit", i).is_some(),
                f.d("CommitmentDiscountQuantity", i).is_some(),
            )
        },
    ),
    (
        "PricingCategory: MUST NOT be null when ChargeCategory is Usage or Purchase and \
         ChargeClass is not Correction; one of the allowed values",
        |f, i| {
            (!f.usage_or_purchase(i) || f.correction(i) || f.s("PricingCategory", i).is_some())
                && f.s("PricingCategory", i)
                    .is_none_or(|c| ["Standard", "Committed", "Dynamic", "Other"].contains(&c))
        },
    ),
    (
        "PricingCategory: MUST be Committed when the charge is subject to a commitment discount \
         and is not its purchase",
        |f, i| {
            !(f.s("CommitmentDiscountId", i).is_some() && f.s("ChargeCategory", i) == Some("Usage"))
                || f.s("PricingCategory", i) == Some("Committed")
        },
    ),
    (
        "RegionName: MUST be null when RegionId is null, not null otherwise",
        |f, i| iff(f.s("RegionName", i).is_some(), f.s("RegionId", i).is_some()),
    ),
    (
        "ResourceName: MUST be null when ResourceId is null",
        |f, i| f.s("ResourceId", i).is_some() || f.s("ResourceName", i).is_none(),
    ),
    (
        "ResourceName: MUST NOT duplicate ResourceId when the resource only has a \
         system-generated id",
        |f, i| f.s("ResourceName", i).is_none() || f.s("ResourceName", i) != f.s("ResourceId", i),
    ),
    (
        "SkuId, SkuPriceId: MUST NOT be null when ChargeCategory is Usage or Purchase and \
         ChargeClass is not Correction",
        |f, i| {
            !f.usage_or_purchase(i)
                || f.correction(i)
                || (f.s("SkuId", i).is_some() && f.s("SkuPriceId", i).is_some())
        },
    ),
    ("SkuMeter: MUST be null when SkuId is null", |f, i| {
        f.s("SkuId", i).is_some() || f.s("SkuMeter", i).is_none()
    }),
    (
        "SkuPriceDetails: MUST be null when SkuPriceId is null; a key-value object whose keys \
         begin with x_ unless FOCUS-defined",
        |f, i| match f.s("SkuPriceDetails", i) {
            None => true,
            Some(j) => {
                f.s("SkuPriceId", i).is_some()
                    && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(j)
                        .is_ok_and(|m| m.keys().all(|k| k.starts_with("x_")))
            }
        },
    ),
    (
        "ServiceCategory: MUST be one of the allowed values; ServiceName MUST NOT be null",
        |f, i| {
            f.s("ServiceName", i).is_some()
                && [
                    "AI and Machine Learning",
                    "Analytics",
                    "Business Applications",
                    "Compute",
                    "Databases",
                    "Developer Tools",
                    "Multicloud",
                    "Identity",
                    "Integration",
                    "Internet of Things",
                    "Management and Governance",
                    "Media",
                    "Migration",
                    "Mobile",
                    "Networking",
                    "Security",
                    "Storage",
                    "Web",
                    "Other",
                ]
                .contains(&f.s("ServiceCategory", i).unwrap_or(""))
        },
    ),
    (
        "Unit Format (PricingUnit, ConsumedUnit, CommitmentDiscountUnit): data sizes as the \
         table's abbreviations (1024-based: KiB, MiB, GiB), capitalized units, whole counts",
        |f, i| {
            ["PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit"]
                .iter()
                .all(|c| f.s(c, i).is_none_or(unit_format))
        },
    ),
];

/// Runs `reckon run` on sample_data as of `as_of` into `dir/out-<as_of>`.
fn run_sample(dir: &Path, as_of: &str) -> PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let out = dir.join(format!("out-{as_of}"));
    let (code, err) = run_binary(&[
        "-q",
        "run",
        "--as-of",
        as_of,
        "--input",
        sample.to_str().unwrap(),
        "--catalog",
        sample.join("catalog.toml").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    out
}

fn export(out: &Path, to: &Path, previous: Option<&Path>) {
    let mut args = vec![
        "-q",
        "export",
        "focus",
        "--input",
        out.to_str().unwrap(),
        "--output",
        to.to_str().unwrap(),
    ];
    if let Some(p) = previous {
        args.extend(["--previous", p.to_str().unwrap()]);
    }
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
}

/// Every row clause on every row of `f`; gives the failures (clause: first rows).
fn row_failures(f: &Focus) -> Vec<String> {
    let mut out = Vec::new();
    for (clause, holds) in ROW_CLAUSES {
        let bad: Vec<&str> = (0..f.n)
            .filter(|&i| !holds(f, i))
            .map(|i| f.s("x_LineId", i).unwrap_or("?"))
            .collect();
        if !bad.is_empty() {
            out.push(format!(
                "{clause}: {} rows, e.g. {:?}",
                bad.len(),
                &bad[..bad.len().min(5)]
            ));
        }
    }
    out
}

/// Schema clauses: every column FOCUS defines or `x_`-prefixed; decimals as decimals; date/time
/// columns as UTC instants; the partition key `x_month`.
fn schema_failures(df: &DataFrame, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for c in df.get_column_names() {
        if !FOCUS_COLUMNS.contains(&c.as_str()) && !c.starts_with("x_") {
            out.push(format!(
                "Column Handling: custom column {c} MUST be prefixed x_"
            ));
        }
    }
    for (name, dt) in df.schema().iter() {
        let ok = match name.as_str() {
            n if DECIMALS.contains(&n) => matches!(dt, DataType::Decimal(_, _)),
            n if DATETIMES.contains(&n) => {
                matches!(dt, DataType::Datetime(_, Some(tz)) if tz.as_str() == "UTC")
            }
            _ => true,
        };
        if !ok {
            out.push(format!("{name}: MUST be of its FOCUS type, is {dt}"));
        }
    }
    for e in std::fs::read_dir(dir.join("focus")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if !name.starts_with("x_month=") {
            out.push(format!(
                "Column Handling: partition key of {name} MUST be prefixed x_"
            ));
        }
    }
    out
}

/// EffectiveCost, "Charges for a given CommitmentDiscountId": the sum of EffectiveCost of
/// Usage rows MUST equal the sum of BilledCost of Purchase rows (and of Used plus Unused),
/// for every package whose whole term is in the dataset (bought inside the window and ended
/// by the as-of moment), unlimited ones included, to the cent.
fn commitment_failures(f: &Focus, out_dir: &Path) -> (Vec<String>, usize) {
    let status = read_table(out_dir, "package_status");
    let ids = read::strings(&status, "package_id").unwrap();
    let st = read::strings(&status, "status").unwrap();
    let ended: BTreeSet<String> = (0..ids.len())
        .filter(|&i| matches!(st[i].as_deref(), Some("expired" | "exhausted" | "refunded")))
        .filter_map(|i| ids[i].clone())
        .collect();
    let mut sums: BTreeMap<&str, [Decimal; 4]> = BTreeMap::new();
    let mut bought: BTreeSet<&str> = BTreeSet::new();
    for i in 0..f.n {
        let Some(id) = f.s("CommitmentDiscountId", i) else {
            continue;
        };
        let e = sums.entry(id).or_default();
        match (f.s("ChargeCategory", i), f.s("CommitmentDiscountStatus", i)) {
            (Some("Purchase"), _) => {
                e[0] += f.d("BilledCost", i).unwrap_or_default();
                if f.s("x_LineId", i) == Some(&format!("p:{id}")) {
                    bought.insert(id);
                }
            }
            (Some("Usage"), s) => {
                let cost = f.d("EffectiveCost", i).unwrap_or_default();
                e[1] += cost;
                e[if s == Some("Used") { 2 } else { 3 }] += cost;
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut checked = 0;
    for (id, [purchase, usage, used, unused]) in &sums {
        if usage != &(*used + *unused) {
            out.push(format!(
                "EffectiveCost: {id}: usage {usage} != used {used} + unused {unused}"
            ));
        }
        if bought.contains(id) && ended.contains(*id) {
            checked += 1;
            if (*usage - *purchase).abs() >= Decimal::new(1, 2) {
                out.push(format!(
                    "EffectiveCost: {id}: Σ usage EffectiveCost {usage} != Σ purchase BilledCost \
                     {purchase} (to the cent)"
                ));
            }
        }
    }
    (out, checked)
}

#[test]
fn focus_export_of_sample_data_holds_the_must_clauses_of_focus_1_2() {
    let tmp = tempfile::tempdir().unwrap();
    let june = run_sample(tmp.path(), "2024-06-01");
    let july = run_sample(tmp.path(), "2024-07-01");
    let (prev, plain, corrected) = (
        tmp.path().join("focus-june"),
        tmp.path().join("focus-july"),
        tmp.path().join("focus-july-corrected"),
    );
    export(&june, &prev, None);
    export(&july, &plain, None);
    export(&july, &corrected, Some(&prev));
    let mut failures = Vec::new();
    let mut datasets = Vec::new();
    let mut whole_terms = 0;
    for dir in [&plain, &corrected] {
        let (f, df) = Focus::read(dir);
        failures.extend(schema_failures(&df, dir));
        failures.extend(row_failures(&f));
        let (c, checked) = commitment_failures(&f, &july);
        failures.extend(c);
        // Packages bought and ended inside the window (pkg-0000005, pkg-0000008,
        // scn-renew-T, …), each conserved.
        assert!(checked >= 3, "{checked} packages with a whole term checked");
        whole_terms = checked;
        datasets.push(f);
    }
    assert!(
        failures.is_empty(),
        "FOCUS 1.2 clauses broken:\n{}",
        failures.join("\n")
    );

    // BilledCost sums to what the run billed.
    let lines = read_table(&july, "bill_lines");
    let billed: Decimal = read::decimals(&lines, "amount")
        .unwrap()
        .into_iter()
        .flatten()
        .sum();
    let sum = |f: &Focus, c: &str| -> Decimal { f.dec[c].iter().flatten().sum() };
    assert_eq!(sum(&datasets[0], "BilledCost"), billed);

    // With --previous: corrections exist, all in July, of April and May charges; the dataset's
    // sums per charge equal the plain export's.
    let c = &datasets[1];
    let july_start = reckon::calendar::Month::parse("2024-07").unwrap().start();
    let corrections: Vec<usize> = (0..c.n).filter(|&i| c.correction(i)).collect();
    assert!(!corrections.is_empty());
    for &i in &corrections {
        assert_eq!(c.t("BillingPeriodStart", i), Some(july_start));
        assert!(c.t("ChargePeriodStart", i) < Some(july_start));
        assert!(c.s("x_LineId", i).is_some_and(|l| l.starts_with("c:")));
    }
    let per_charge = |f: &Focus| {
        let mut m: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
        for i in 0..f.n {
            let id = f.s("x_LineId", i).unwrap();
            let e = m
                .entry(id.strip_prefix("c:").unwrap_or(id).to_string())
                .or_default();
            e.0 += f.d("BilledCost", i).unwrap();
            e.1 += f.d("EffectiveCost", i).unwrap();
        }
        m.retain(|_, v| *v != (Decimal::ZERO, Decimal::ZERO));
        m
    };
    assert_eq!(per_charge(c), per_charge(&datasets[0]));
    eprintln!(
        "FOCUS 1.2: {} row clauses on {} + {} rows ({} corrections), schema, {} packages' \
         whole terms conserved",
        ROW_CLAUSES.len(),
        datasets[0].n,
        c.n,
        corrections.len(),
        whole_terms
    );
}

/// Two unlimited eip traffic packages of acct-1, scoped to public traffic: `unl-A`, 10 CNY for
/// 07:00–10:00 on May 1, and `unl-R`, 4.80 CNY for May 2–3 (48 hours), refunded at 05:30 on
/// May 2; usage: two rows in hour 07 (1 and 2 GB), one in hour 09 (5 GB), one at 01:00 on
/// May 2 (7 GB).
fn unlimited_packages_dataset() -> Dataset {
    let mut ds = Dataset::valid();
    let g = |id, start, gb| {
        (
            id,
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            start,
            gb,
            "GB",
        )
    };
    ds.tables.insert(
        "usage",
        usage_cols(&[
            g("u-1", "2024-05-01 07:00:00", "1"),
            g("u-2", "2024-05-01 07:00:00", "2"),
            g("u-3", "2024-05-01 09:00:00", "5"),
            g("u-4", "2024-05-02 01:00:00", "7"),
        ]),
    );
    total_packages(
        &mut ds,
        &[
            (
                "unl-A",
                "acct-1",
                "1",
                "2024-05-01 07:00:00",
                "2024-05-01 10:00:00",
            ),
            (
                "unl-R",
                "acct-1",
                "1",
                "2024-05-02 00:00:00",
                "2024-05-04 00:00:00",
            ),
        ],
    );
    let col = |name: &str, v: [Option<&str>; 2]| reckon::output::str_col(name, v.into_iter());
    let names = [
        Some("Unlimited traffic, 3 hours"),
        Some("Unlimited traffic, 2 days"),
    ];
    ds.set_col("packages", col("kind", [Some("unlimited"); 2]))
        .set_col("packages", col("package_name", names))
        .set_col("packages", col("region", [Some("*"); 2]))
        .set_col(
            "packages",
            reckon::output::dec_col("capacity", 9, [None, None].into_iter()),
        )
        .set_col(
            "packages",
            reckon::output::dec_col("price_paid", 8, [d("10"), d("4.80")].into_iter()),
        )
        .set_col(
            "packages",
            reckon::output::ts_col(
                "refunded_at",
                [None, Some(t("2024-05-02 05:30:00"))].into_iter(),
            ),
        );
    ds
}

/// A row about a package: (usage id, else line id; CommitmentDiscountStatus, else
/// ChargeCategory; EffectiveCost; CommitmentDiscountQuantity; CommitmentDiscountUnit).
type PackageRow<'a> = (String, &'a str, Decimal, Decimal, &'a str);

/// The rows of `f` about each package, sorted; asserts on the way that a package's purchase
/// has EffectiveCost 0.
fn package_rows(f: &Focus) -> BTreeMap<&str, Vec<PackageRow<'_>>> {
    let mut rows: BTreeMap<&str, Vec<PackageRow>> = BTreeMap::new();
    for i in 0..f.n {
        let Some(id) = f.s("CommitmentDiscountId", i) else {
            continue;
        };
        let key = f.s("x_UsageId", i).or(f.s("x_LineId", i)).unwrap();
        let category = f.s("ChargeCategory", i).unwrap();
        let status = f.s("CommitmentDiscountStatus", i).unwrap_or(category);
        rows.entry(id).or_default().push((
            key.to_string(),
            status,
            f.d("EffectiveCost", i).unwrap(),
            f.d("CommitmentDiscountQuantity", i).unwrap_or_default(),
            f.s("CommitmentDiscountUnit", i).unwrap_or(""),
        ));
        if category == "Purchase" {
            assert_eq!(
                f.d("EffectiveCost", i),
                Some(Decimal::ZERO),
                "EffectiveCost: MUST be 0 on the purchase of {id}, which covers future charges"
            );
        }
    }
    for v in rows.values_mut() {
        v.sort();
    }
    rows
}

/// EffectiveCost of an unlimited package: its price spread over the hours of its term, each
/// hour's share to its draws by what they took, the hours without draws (and those a refund
/// returned) Unused. Checks, on the export of a run as of 2024-06-01: every row clause (the
/// purchase's CommitmentDiscountQuantity is the term's hours, "CommitmentDiscountQuantity:
/// MUST NOT be null when ChargeCategory is Purchase"); "EffectiveCost: MUST be 0 when
/// ChargeCategory is Purchase and the purchase covers future charges"; and "Charges for a
/// given CommitmentDiscountId": Σ Used + Σ Unused EffectiveCost = Σ Purchase BilledCost = the
/// price, exactly, with the breakdown per draw and per Unused row.
#[test]
fn unlimited_packages_are_amortized_by_the_hour_exactly() {
    let (_input, out) = run_dataset(&unlimited_packages_dataset(), "2024-06-01");
    let tmp = tempfile::tempdir().unwrap();
    let focus = tmp.path().join("focus");
    export(out.path(), &focus, None);
    let (f, df) = Focus::read(&focus);
    let mut failures = schema_failures(&df, &focus);
    failures.extend(row_failures(&f));
    let (c, checked) = commitment_failures(&f, out.path());
    failures.extend(c);
    assert!(
        failures.is_empty(),
        "FOCUS 1.2 clauses broken:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        checked, 2,
        "both packages bought and ended inside the window"
    );

    let rows = package_rows(&f);
    let dec = |s: &str| d(s).unwrap();
    let row = |k: &str, s, e: &str, q: &str| (k.to_string(), s, dec(e), dec(q), "Hours");
    // 10 CNY over 3 hours: F = 0, 3.33333333, 6.66666667, 10. Hour 07 (3.33333333) by 1 : 2
    // GB, hour 08 unused (3.33333334), hour 09 (3.33333333) to u-3.
    assert_eq!(
        rows["unl-A"],
        [
            row("n:unl-A:2024-05", "Unused", "3.33333334", "1"),
            row("p:unl-A", "Purchase", "0", "3"),
            row("u-1", "Used", "1.11111111", "0.333333333"),
            row("u-2", "Used", "2.22222222", "0.666666667"),
            row("u-3", "Used", "3.33333333", "1"),
        ]
    );
    // 4.80 CNY over 48 hours, 0.10 an hour: hour 01 to u-4; hours 00 and 02–05 unused, and
    // hours 06–47 lapse at the refund (05:30): one May row of 47 hours, 4.70.
    assert_eq!(
        rows["unl-R"],
        [
            row("n:unl-R:2024-05", "Unused", "4.7", "47"),
            row("p:unl-R", "Purchase", "0", "48"),
            row("u-4", "Used", "0.1", "1"),
        ]
    );
    for (id, price) in [("unl-A", dec("10")), ("unl-R", dec("4.80"))] {
        let amortized: Decimal = (rows[id].iter())
            .filter(|r| matches!(r.1, "Used" | "Unused"))
            .map(|r| r.2)
            .sum();
        assert_eq!(
            amortized, price,
            "{id}: Σ Used + Σ Unused EffectiveCost = its price"
        );
    }
}
