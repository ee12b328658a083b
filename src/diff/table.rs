//! The `diff` table: one [`DiffRow`] per change, in the total order `(table, month, key)`;
//! amounts at scale 8, `delta` always present (a missing side counts as zero).

use crate::calendar::Month;
use crate::error::Result;
use crate::output::{bool_col, dec_col, frame, str_col, Table};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// One change: a row of the `diff` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    /// `bills` or `bill_lines`.
    pub table: &'static str,
    /// `month|owner_uin|product` for bills, the `line_id` for lines.
    pub key: String,
    /// `YYYY-MM` (the bill month, or the UTC+8 month of the line's `charge_start`).
    pub month: String,
    pub owner_uin: String,
    pub product: String,
    pub usage_id: Option<String>,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub reason: &'static str,
    /// The month was complete in OLD: this change is a restatement.
    pub closed_in_old: bool,
    /// `total_amount` (bills) or `amount` (lines).
    pub old_amount: Option<Decimal>,
    pub new_amount: Option<Decimal>,
    /// Columns that differ, comma-separated (empty for added/removed rows).
    pub columns: String,
}

impl DiffRow {
    /// `new_amount − old_amount`, a missing side counting as zero.
    pub fn delta(&self) -> Decimal {
        self.new_amount.unwrap_or_default() - self.old_amount.unwrap_or_default()
    }
}

impl Table for DiffRow {
    const NAME: &'static str = "diff";
    const PARTITIONED: bool = false;
    fn month(&self) -> Option<Month> {
        None
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.table, &a.month, &a.key).cmp(&(b.table, &b.month, &b.key))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        frame(
            r.len(),
            vec![
                s("table", |x| x.table),
                s("key", |x| &x.key),
                s("month", |x| &x.month),
                s("owner_uin", |x| &x.owner_uin),
                s("product", |x| &x.product),
                str_col("usage_id", r.iter().map(|x| x.usage_id.as_deref())),
                s("change", |x| x.change),
                s("reason", |x| x.reason),
                bool_col("closed_in_old", r.iter().map(|x| Some(x.closed_in_old))),
                dec_col("old_amount", 8, r.iter().map(|x| x.old_amount)),
                dec_col("new_amount", 8, r.iter().map(|x| x.new_amount)),
                dec_col("delta", 8, r.iter().map(|x| Some(x.delta()))),
                s("columns", |x| &x.columns),
            ],
        )
    }
}
