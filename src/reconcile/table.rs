//! The two tables of a reconciliation (docs/contract.md): `reconciliation/`, one
//! [`ReconRow`] per key, Hive-partitioned by the UTC+8 month of `charge_start`, in key order;
//! `reconciliation_summary/`, one [`SummaryRow`] per month, account and product, not
//! partitioned, in that order. [`TABLES`] registers them as `output::TABLES` registers a run's
//! tables (they are another command's output, so they are not in that list: merge and diff
//! iterate it).
//!
//! Money at scale 8, quantities at scale 9; `delta` is always `issued − recomputed`.

use super::line::Key;
use crate::calendar::Month;
use crate::error::Result;
use crate::name::Name;
use crate::output::{dec_col, frame, i64_col, str_col, ts_col, Table, TableDef};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// The status of a key (docs/contract.md, first that applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    MissingInIssued,
    MissingInRecomputed,
    QuantityMismatch,
    Match,
    WithinTolerance,
    AmountMismatch,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::MissingInIssued,
        Status::MissingInRecomputed,
        Status::QuantityMismatch,
        Status::Match,
        Status::WithinTolerance,
        Status::AmountMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::MissingInIssued => "missing_in_issued",
            Status::MissingInRecomputed => "missing_in_recomputed",
            Status::QuantityMismatch => "quantity_mismatch",
            Status::Match => "match",
            Status::WithinTolerance => "within_tolerance",
            Status::AmountMismatch => "amount_mismatch",
        }
    }

    /// Neither `match` nor `within_tolerance`: what makes `reconcile` exit 1.
    pub fn is_mismatch(self) -> bool {
        !matches!(self, Status::Match | Status::WithinTolerance)
    }
}

/// Why a key differs, where the data shows it (`causes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    UnitPrice,
    Tier,
    PackageDeduction,
    Rounding,
    DuplicateIssued,
    Unit,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::UnitPrice => "unit_price",
            Cause::Tier => "tier",
            Cause::PackageDeduction => "package_deduction",
            Cause::Rounding => "rounding",
            Cause::DuplicateIssued => "duplicate_issued",
            Cause::Unit => "unit",
        }
    }
}

/// One key of either side: a row of `reconciliation/`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconRow {
    pub key: Key,
    pub unit: Option<Name>,
    pub issued_quantity: Option<Decimal>,
    pub recomputed_quantity: Option<Decimal>,
    pub issued_amount: Decimal,
    pub recomputed_amount: Decimal,
    pub status: Status,
    pub cause: Option<Cause>,
    /// The ids summed, sorted bytewise, comma-separated; `None` for an absent side.
    pub issued_line_ids: Option<String>,
    pub recomputed_line_ids: Option<String>,
}

impl ReconRow {
    pub fn delta(&self) -> Decimal {
        self.issued_amount - self.recomputed_amount
    }
}

impl Table for ReconRow {
    const NAME: &'static str = "reconciliation";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.key.charge_start))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        a.key.cmp(&b.key)
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let k = |n, f: fn(&Key) -> Name| str_col(n, r.iter().map(|x| Some(f(&x.key).as_str())));
        let d = |n, s, f: fn(&Self) -> Option<Decimal>| dec_col(n, s, r.iter().map(|x| f(x)));
        frame(
            r.len(),
            vec![
                k("owner_uin", |k| k.owner_uin),
                k("charge_kind", |k| k.charge_kind),
                k("product", |k| k.product),
                k("sub_product", |k| k.sub_product),
                k("billing_item", |k| k.billing_item),
                k("region", |k| k.region),
                k("instance_id", |k| k.instance_id),
                ts_col("charge_start", r.iter().map(|x| Some(x.key.charge_start))),
                str_col("unit", r.iter().map(|x| x.unit.map(|u| u.as_str()))),
                d("issued_quantity", 9, |x| x.issued_quantity),
                d("recomputed_quantity", 9, |x| x.recomputed_quantity),
                d("issued_amount", 8, |x| Some(x.issued_amount)),
                d("recomputed_amount", 8, |x| Some(x.recomputed_amount)),
                d("delta", 8, |x| Some(x.delta())),
                str_col("status", r.iter().map(|x| Some(x.status.as_str()))),
                str_col("cause", r.iter().map(|x| x.cause.map(Cause::as_str))),
                str_col(
                    "issued_line_ids",
                    r.iter().map(|x| x.issued_line_ids.as_deref()),
                ),
                str_col(
                    "recomputed_line_ids",
                    r.iter().map(|x| x.recomputed_line_ids.as_deref()),
                ),
            ],
        )
    }
}

/// One month, account and product: a row of `reconciliation_summary/`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryRow {
    pub month: String,
    pub owner_uin: String,
    pub product: String,
    pub issued_total: Decimal,
    pub recomputed_total: Decimal,
    /// Σ delta over keys with delta > T.
    pub overcharged: Decimal,
    /// Σ |delta| over keys with delta < −T.
    pub undercharged: Decimal,
    pub keys: i64,
    pub keys_mismatched: i64,
}

impl SummaryRow {
    pub fn delta(&self) -> Decimal {
        self.issued_total - self.recomputed_total
    }
}

impl Table for SummaryRow {
    const NAME: &'static str = "reconciliation_summary";
    const PARTITIONED: bool = false;
    fn month(&self) -> Option<Month> {
        None
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (&a.month, &a.owner_uin, &a.product).cmp(&(&b.month, &b.owner_uin, &b.product))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        let d = |n, f: fn(&Self) -> Decimal| dec_col(n, 8, r.iter().map(|x| Some(f(x))));
        frame(
            r.len(),
            vec![
                s("month", |x| &x.month),
                s("owner_uin", |x| &x.owner_uin),
                s("product", |x| &x.product),
                d("issued_total", |x| x.issued_total),
                d("recomputed_total", |x| x.recomputed_total),
                d("delta", |x| x.delta()),
                d("overcharged", |x| x.overcharged),
                d("undercharged", |x| x.undercharged),
                i64_col("keys", r.iter().map(|x| Some(x.keys))),
                i64_col("keys_mismatched", r.iter().map(|x| Some(x.keys_mismatched))),
            ],
        )
    }
}

/// The columns of a key but its hour (`charge_start`), in the table's sort order.
pub const KEY_COLUMNS: [&str; 7] = [
    "owner_uin",
    "charge_kind",
    "product",
    "sub_product",
    "billing_item",
    "region",
    "instance_id",
];

/// The sort order of `reconciliation`: the key columns, then the hour.
const SORT: [&str; 8] = {
    let k = KEY_COLUMNS;
    [k[0], k[1], k[2], k[3], k[4], k[5], k[6], "charge_start"]
};

const RECONCILIATION: TableDef = TableDef::of::<ReconRow>(
    Some("charge_start"),
    &SORT,
    &["issued_amount", "recomputed_amount", "delta"],
);
const RECONCILIATION_SUMMARY: TableDef = TableDef::of::<SummaryRow>(
    None,
    &["month", "owner_uin", "product"],
    &[
        "issued_total",
        "recomputed_total",
        "delta",
        "overcharged",
        "undercharged",
    ],
);

/// The tables `reckon reconcile` writes, in the order it finishes them.
pub const TABLES: [&TableDef; 2] = [&RECONCILIATION, &RECONCILIATION_SUMMARY];
