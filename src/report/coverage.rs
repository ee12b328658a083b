//! The section on package coverage: for each product, billing item and unit, how much of the
//! metered usage of the window packages (and free quota) covered and how much was charged
//! pay-as-you-go, from the `usage` lines of `bill_lines`.
//!
//! `metered_quantity` and `deducted_quantity` sit on a usage row's first line only
//! (docs/contract.md, `bill_lines`), so their sums count each row once; `billable_quantity`
//! and `amount` sum every tier part. `bill_lines` is read a file at a time, five columns of it.
//!
//! Figure keys: `coverage|PRODUCT|ITEM|UNIT|MEASURE` (MEASURE: `lines`, `metered_quantity`,
//! `deducted_quantity`, `billable_quantity`, `amount`, `covered_share`).

use super::charts::{self, Series};
use super::page::{percent, Cell, Section, TableView};
use crate::error::Result;
use crate::output::read;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;

/// The quantities of one product, billing item and unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Coverage {
    pub lines: u64,
    pub metered: Decimal,
    pub deducted: Decimal,
    pub billable: Decimal,
    pub amount: Decimal,
}

/// `(product, billing_item, unit)`.
pub type ItemKey = (String, String, String);

const COLUMNS: [&str; 8] = [
    "product",
    "billing_item",
    "unit",
    "charge_kind",
    "metered_quantity",
    "deducted_quantity",
    "billable_quantity",
    "amount",
];

/// The usage lines of `<out>/bill_lines` summed per product, billing item and unit.
pub fn read_coverage(out: &Path) -> Result<BTreeMap<ItemKey, Coverage>> {
    let mut acc: BTreeMap<ItemKey, Coverage> = BTreeMap::new();
    for file in read::table_files(out, "bill_lines")?.unwrap_or_default() {
        let df = read::read_columns(&file.path, &COLUMNS)?;
        let s = |c| read::strings(&df, c);
        let (product, item, unit, kind) = (
            s("product")?,
            s("billing_item")?,
            s("unit")?,
            s("charge_kind")?,
        );
        let d = |c| read::decimals(&df, c);
        let (metered, deducted) = (d("metered_quantity")?, d("deducted_quantity")?);
        let (billable, amount) = (d("billable_quantity")?, d("amount")?);
        for i in 0..df.height() {
            if kind[i].as_deref() != Some("usage") {
                continue;
            }
            let key = (
                product[i].clone().unwrap_or_default(),
                item[i].clone().unwrap_or_default(),
                unit[i].clone().unwrap_or_default(),
            );
            let c = acc.entry(key).or_default();
            c.lines += 1;
            c.metered += metered[i].unwrap_or_default();
            c.deducted += deducted[i].unwrap_or_default();
            c.billable += billable[i].unwrap_or_default();
            c.amount += amount[i].unwrap_or_default();
        }
    }
    Ok(acc)
}

/// The coverage section, with a chart of the covered share of each item.
pub fn section(cov: &BTreeMap<ItemKey, Coverage>, window: &str) -> Result<Section> {
    let rows = (cov.iter())
        .map(|((p, item, unit), c)| {
            let key = format!("coverage|{p}|{item}|{unit}");
            vec![
                Cell::text(p.as_str()),
                Cell::text(item.as_str()),
                Cell::text(unit.as_str()),
                Cell::count(format!("{key}|lines"), c.lines),
                Cell::quantity(format!("{key}|metered_quantity"), c.metered),
                Cell::quantity(format!("{key}|deducted_quantity"), c.deducted),
                Cell::quantity(format!("{key}|billable_quantity"), c.billable),
                Cell::share(format!("{key}|covered_share"), c.deducted, c.metered),
                Cell::money(format!("{key}|amount"), c.amount),
            ]
        })
        .collect();
    let metered: Vec<_> = cov.iter().filter(|(_, c)| !c.metered.is_zero()).collect();
    let labels: Vec<String> = (metered.iter())
        .map(|((p, item, unit), _)| format!("{p} {item} ({unit})"))
        .collect();
    let covered: Vec<Decimal> = (metered.iter())
        .map(|(_, c)| percent(c.deducted, c.metered).unwrap_or_default())
        .collect();
    let series = [
        Series {
            name: "covered by packages, %".into(),
            values: covered.clone(),
        },
        Series {
            name: "pay-as-you-go, %".into(),
            values: covered.iter().map(|c| Decimal::ONE_HUNDRED - c).collect(),
        },
    ];
    let chart = charts::rows(
        "Metered usage covered by packages (green) and charged pay-as-you-go (grey), %",
        &labels,
        &series,
        true,
    )?;
    Ok(Section {
        id: "coverage",
        title: "Package coverage and pay-as-you-go".into(),
        text: vec![format!(
            "Usage lines charged in the window {window}, per product, billing item and unit: \
             the metered quantity, the part packages and free quota covered, the part charged \
             pay-as-you-go (summed over tier parts) and its amount."
        )],
        charts: vec![chart],
        tables: vec![TableView {
            caption: "Usage covered by packages and charged pay-as-you-go".into(),
            head: [
                "product",
                "billing item",
                "unit",
                "lines",
                "metered",
                "covered by packages",
                "pay-as-you-go",
                "covered",
                "pay-as-you-go amount",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
    })
}
