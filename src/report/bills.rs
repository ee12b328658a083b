//! The sections read from `bills`: totals per month, per month and product, and the top
//! accounts. Every amount is an exact `Decimal` sum of the bills' columns.
//!
//! Figure keys: `totals|MONTH|MEASURE`, `totals|MONTH|PRODUCT|MEASURE`,
//! `accounts|OWNER|MEASURE` (MEASURE: one of [`AMOUNTS`], or `bills`, `accounts`).

use super::charts::{self, Series};
use super::page::{Cell, Section, TableView};
use crate::error::Result;
use crate::output::read;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The money columns of `bills`, in the contract's order.
pub const AMOUNTS: [&str; 7] = [
    "usage_amount",
    "purchase_amount",
    "subscription_amount",
    "elastic_amount",
    "refund_amount",
    "total_amount",
    "payable",
];

/// The headings of [`AMOUNTS`].
const AMOUNT_HEADS: [&str; 7] = [
    "usage",
    "purchases",
    "subscriptions",
    "elastic",
    "refunds",
    "total",
    "payable",
];

/// One row of `bills`.
#[derive(Debug, Clone)]
pub struct Bill {
    pub month: String,
    pub owner: String,
    pub product: String,
    /// In the order of [`AMOUNTS`].
    pub amounts: [Decimal; 7],
    pub complete: bool,
}

/// Every row of `<out>/bills`, in the files' order.
pub fn read_bills(out: &Path) -> Result<Vec<Bill>> {
    let Some(df) = read::table(out, "bills")? else {
        return Ok(Vec::new());
    };
    let month = read::strings(&df, "month")?;
    let owner = read::strings(&df, "owner_uin")?;
    let product = read::strings(&df, "product")?;
    let complete = read::text(&df, "complete")?;
    let cols = AMOUNTS
        .iter()
        .map(|c| read::decimals(&df, c))
        .collect::<Result<Vec<_>>>()?;
    Ok((0..df.height())
        .map(|i| Bill {
            month: month[i].clone().unwrap_or_default(),
            owner: owner[i].clone().unwrap_or_default(),
            product: product[i].clone().unwrap_or_default(),
            amounts: std::array::from_fn(|k| cols[k][i].unwrap_or_default()),
            complete: complete[i].as_deref() == Some("true"),
        })
        .collect())
}

/// Sums of bills.
#[derive(Debug, Clone, Default)]
pub struct Sums {
    pub amounts: [Decimal; 7],
    pub bills: u64,
    pub owners: BTreeSet<String>,
    pub complete: bool,
}

impl Sums {
    fn add(&mut self, b: &Bill) {
        for (s, a) in self.amounts.iter_mut().zip(&b.amounts) {
            *s += a;
        }
        self.bills += 1;
        self.owners.insert(b.owner.clone());
        self.complete = b.complete;
    }

    /// The sum of one of [`AMOUNTS`].
    pub fn amount(&self, name: &str) -> Decimal {
        AMOUNTS
            .iter()
            .position(|a| *a == name)
            .map_or(Decimal::ZERO, |k| self.amounts[k])
    }
}

/// All bills summed.
pub fn grand_total(bills: &[Bill]) -> Sums {
    let mut s = Sums::default();
    bills.iter().for_each(|b| s.add(b));
    s
}

/// The section of totals per month and per month and product, with a chart.
pub fn totals_section(bills: &[Bill]) -> Result<Section> {
    let mut months: BTreeMap<&str, Sums> = BTreeMap::new();
    let mut cells: BTreeMap<(&str, &str), Sums> = BTreeMap::new();
    for b in bills {
        months.entry(&b.month).or_default().add(b);
        cells.entry((&b.month, &b.product)).or_default().add(b);
    }
    let head = |first: &[&str]| {
        let mut h: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        h.extend(AMOUNT_HEADS.iter().map(|s| s.to_string()));
        h
    };
    let by_month = TableView {
        caption: "Totals per month".into(),
        head: head(&["month", "closed", "accounts", "bills"]),
        rows: (months.iter())
            .map(|(m, s)| {
                let key = format!("totals|{m}");
                let mut row = vec![
                    Cell::text(*m),
                    Cell::text(if s.complete { "yes" } else { "open" }),
                    Cell::count(format!("{key}|accounts"), s.owners.len() as u64),
                    Cell::count(format!("{key}|bills"), s.bills),
                ];
                row.extend(amount_cells(&key, s));
                row
            })
            .collect(),
    };
    let by_product = TableView {
        caption: "Totals per month and product".into(),
        head: head(&["month", "product", "accounts"]),
        rows: (cells.iter())
            .map(|((m, p), s)| {
                let key = format!("totals|{m}|{p}");
                let mut row = vec![
                    Cell::text(*m),
                    Cell::text(*p),
                    Cell::count(format!("{key}|accounts"), s.owners.len() as u64),
                ];
                row.extend(amount_cells(&key, s));
                row
            })
            .collect(),
    };
    let month_names: Vec<String> = months.keys().map(|m| m.to_string()).collect();
    let products: BTreeSet<&str> = cells.keys().map(|(_, p)| *p).collect();
    let series: Vec<Series> = (products.iter())
        .map(|p| Series {
            name: p.to_string(),
            values: (months.keys())
                .map(|m| {
                    cells
                        .get(&(*m, *p))
                        .map_or(Decimal::ZERO, |s| s.amount("total_amount"))
                })
                .collect(),
        })
        .collect();
    let chart = charts::columns("Total amount per month and product", &month_names, &series)?;
    Ok(Section {
        id: "totals",
        title: "Totals per month and product".into(),
        text: vec![
            "Sums of the bills (one per account, product and month): each amount column and \
             the payable, rounded to the cent per bill. A month still open at the as-of date \
             is marked open."
                .into(),
        ],
        charts: vec![chart],
        tables: vec![by_month, by_product],
    })
}

fn amount_cells(key: &str, s: &Sums) -> Vec<Cell> {
    (AMOUNTS.iter().zip(&s.amounts))
        .map(|(a, v)| Cell::money(format!("{key}|{a}"), *v))
        .collect()
}

/// The section of the `top` accounts by total amount over the output's months.
pub fn accounts_section(bills: &[Bill], top: usize) -> Result<Section> {
    let mut by_owner: BTreeMap<&str, (Sums, BTreeSet<&str>)> = BTreeMap::new();
    for b in bills {
        let e = by_owner.entry(&b.owner).or_default();
        e.0.add(b);
        e.1.insert(&b.product);
    }
    let mut ranked: Vec<(&str, &Sums, &BTreeSet<&str>)> =
        by_owner.iter().map(|(o, (s, p))| (*o, s, p)).collect();
    ranked.sort_by(|a, b| {
        let total = |x: &Sums| x.amount("total_amount");
        total(b.1).cmp(&total(a.1)).then(a.0.cmp(b.0))
    });
    ranked.truncate(top);
    let rows = (ranked.iter())
        .enumerate()
        .map(|(i, (o, s, products))| {
            let key = format!("accounts|{o}");
            vec![
                Cell::text((i + 1).to_string()),
                Cell::text(*o),
                Cell::text(products.iter().copied().collect::<Vec<_>>().join(", ")),
                Cell::count(format!("{key}|bills"), s.bills),
                Cell::money(format!("{key}|total_amount"), s.amount("total_amount")),
                Cell::money(format!("{key}|payable"), s.amount("payable")),
            ]
        })
        .collect();
    let labels: Vec<String> = ranked.iter().map(|r| r.0.to_string()).collect();
    let series = [Series {
        name: "total".into(),
        values: ranked.iter().map(|r| r.1.amount("total_amount")).collect(),
    }];
    let chart = charts::rows("Total amount of the top accounts", &labels, &series, false)?;
    Ok(Section {
        id: "accounts",
        title: "Top accounts".into(),
        text: vec![format!(
            "The {} accounts with the largest total amount over the output's months, of {} \
             accounts billed.",
            ranked.len(),
            by_owner.len()
        )],
        charts: vec![chart],
        tables: vec![TableView {
            caption: "Top accounts by total amount".into(),
            head: ["rank", "account", "products", "bills", "total", "payable"]
                .map(String::from)
                .to_vec(),
            rows,
        }],
    })
}
