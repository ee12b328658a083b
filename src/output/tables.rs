//! How each output table of docs/contract.md is written: its total sort order, partitioning and
//! columns (the rows themselves are `crate::model`'s).
//!
//! Sort orders (ties impossible: each ends in a unique key):
//! - `deduction_details`: `(usage_start, usage_id, draw_seq)` — draws of a row in draw order.
//! - `bill_lines`: `(charge_start, line_id)`.
//! - `bills`: `(month, owner_uin, product)`.
//! - `package_status`: `(package_id)`.
//! - `account_events`: `(at, owner_uin, product, event, subscription_id, detail)`.
//! - `refunds`: `(at, event_id)`.
//! - `exceptions`: `(source_table, source_id, rule, at, detail)`.

use super::TableDef;
use super::{
    bool_col, dec_col, decimals_of, frame, i64_col, instants_of, ints_of, names_of, par_pieces,
    pieces_frame, repeated_col, str_col, strings_of, ts_col, Piece, Table,
};
use crate::calendar::Month;
use crate::error::Result;
use crate::input::Violation;
use crate::model::{AccountEvent, Bill, BillLine, DeductionDetail, PackageStatus, RefundRow};
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// Every output table, in the order a run finishes them.
pub const TABLES: [&TableDef; 7] = [
    &DEDUCTION_DETAILS,
    &BILL_LINES,
    &BILLS,
    &PACKAGE_STATUS,
    &ACCOUNT_EVENTS,
    &REFUNDS,
    &EXCEPTIONS,
];

const DEDUCTION_DETAILS: TableDef = TableDef::of::<DeductionDetail>(
    Some("usage_start"),
    &["usage_start", "usage_id", "draw_seq"],
    &[],
);
const BILL_LINES: TableDef = TableDef::of::<BillLine>(
    Some("charge_start"),
    &["charge_start", "line_id"],
    &["unit_price", "amount"],
);
const BILLS: TableDef = TableDef::of::<Bill>(
    Some("month"),
    &["month", "owner_uin", "product"],
    &[
        "usage_amount",
        "purchase_amount",
        "subscription_amount",
        "elastic_amount",
        "refund_amount",
        "total_amount",
        "payable",
    ],
);
const PACKAGE_STATUS: TableDef = TableDef::of::<PackageStatus>(None, &["package_id"], &[]);
const ACCOUNT_EVENTS: TableDef = TableDef::of::<AccountEvent>(
    Some("at"),
    &[
        "at",
        "owner_uin",
        "product",
        "event",
        "subscription_id",
        "detail",
    ],
    &["balance"],
);
const REFUNDS: TableDef = TableDef::of::<RefundRow>(
    Some("at"),
    &["at", "event_id"],
    &["paid", "used_value", "amount", "payable"],
);
const EXCEPTIONS: TableDef = TableDef::of::<Violation>(
    None,
    &["source_table", "source_id", "rule", "at", "detail"],
    &[],
);

// ----- deduction_details ---------------------------------------------------------------------

impl Table for DeductionDetail {
    const NAME: &'static str = "deduction_details";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.usage_start))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.usage_start, &a.usage_id, a.draw_seq).cmp(&(b.usage_start, &b.usage_id, b.draw_seq))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        pieces_frame(r.len(), Self::pieces(r))
    }
}

impl DeductionDetail {
    /// The columns, in parallel (each alone: the same whatever the number of threads).
    fn pieces(r: &[&Self]) -> Vec<Piece> {
        par_pieces(
            r,
            vec![
                names_of("package_owner_uin", |x: &Self| x.package_owner_uin.as_str()),
                names_of("package_id", |x: &Self| x.package_id.as_str()),
                names_of("package_name", |x: &Self| x.package_name.as_str()),
                names_of("product", |x: &Self| x.product.as_str()),
                names_of("sub_product", |x: &Self| x.sub_product.as_str()),
                names_of("package_kind", |x: &Self| x.package_kind.as_str()),
                instants_of("cycle_start", |x: &Self| x.cycle_start),
                instants_of("cycle_end", |x: &Self| x.cycle_end),
                instants_of("deducted_at", |x: &Self| Some(x.deducted_at)),
                decimals_of("remaining_before", 9, |x: &Self| x.remaining_before),
                decimals_of("deducted", 9, |x: &Self| Some(x.deducted)),
                decimals_of("remaining_after", 9, |x: &Self| x.remaining_after),
                names_of("package_unit", |x: &Self| x.package_unit.as_str()),
                names_of("resource_owner_uin", |x: &Self| {
                    x.resource_owner_uin.as_str()
                }),
                names_of("resource_product", |x: &Self| x.resource_product.as_str()),
                names_of("resource_sub_product", |x: &Self| {
                    x.resource_sub_product.as_str()
                }),
                names_of("resource_billing_item", |x: &Self| {
                    x.resource_billing_item.as_str()
                }),
                names_of("region", |x: &Self| x.region.as_str()),
                names_of("instance_id", |x: &Self| x.instance_id.as_str()),
                strings_of("usage_id", |x: &Self| Some(&*x.usage_id)),
                decimals_of("original_usage", 9, |x: &Self| Some(x.original_usage)),
                names_of("original_usage_unit", |x: &Self| {
                    x.original_usage_unit.as_str()
                }),
                decimals_of("coefficient", 9, |x: &Self| Some(x.coefficient)),
                instants_of("usage_start", |x: &Self| Some(x.usage_start)),
                instants_of("usage_end", |x: &Self| Some(x.usage_end)),
                ints_of("draw_seq", |x: &Self| Some(x.draw_seq)),
            ],
        )
    }
}

// ----- bill_lines ----------------------------------------------------------------------------

impl Table for BillLine {
    const NAME: &'static str = "bill_lines";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.charge_start))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.charge_start, &a.line_id).cmp(&(b.charge_start, &b.line_id))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        pieces_frame(r.len(), Self::pieces(r))
    }
}

impl BillLine {
    /// The columns of the biggest table, in parallel (each alone: the same whatever the number
    /// of threads).
    fn pieces(r: &[&Self]) -> Vec<Piece> {
        par_pieces(
            r,
            vec![
                strings_of("line_id", |x: &Self| Some(&*x.line_id)),
                names_of("owner_uin", |x: &Self| x.owner_uin.as_str()),
                names_of("region", |x: &Self| x.region.as_str()),
                names_of("product", |x: &Self| x.product.as_str()),
                names_of("sub_product", |x: &Self| x.sub_product.as_str()),
                names_of("instance_id", |x: &Self| x.instance_id.as_str()),
                names_of("billing_item", |x: &Self| x.billing_item.as_str()),
                names_of("charge_kind", |x: &Self| x.charge_kind.as_str()),
                instants_of("charge_start", |x: &Self| Some(x.charge_start)),
                instants_of("charge_end", |x: &Self| Some(x.charge_end)),
                strings_of("usage_id", |x: &Self| x.usage_id.as_deref()),
                decimals_of("metered_quantity", 9, |x: &Self| Some(x.metered_quantity)),
                decimals_of("deducted_quantity", 9, |x: &Self| Some(x.deducted_quantity)),
                decimals_of("billable_quantity", 9, |x: &Self| Some(x.billable_quantity)),
                names_of("unit", |x: &Self| x.unit.as_str()),
                ints_of("tier", |x: &Self| x.tier),
                decimals_of("unit_price", 8, |x: &Self| Some(x.unit_price)),
                names_of("price_unit", |x: &Self| x.price_unit.as_str()),
                decimals_of("amount", 8, |x: &Self| Some(x.amount)),
                instants_of("charged_at", |x: &Self| Some(x.charged_at)),
            ],
        )
    }
}

// ----- bills ---------------------------------------------------------------------------------

impl Table for Bill {
    const NAME: &'static str = "bills";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(self.month)
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.month, &a.owner_uin, &a.product).cmp(&(b.month, &b.owner_uin, &b.product))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let d = |n, f: fn(&Self) -> Decimal| dec_col(n, 8, r.iter().map(|x| Some(f(x))));
        // `month` is the partition key: it lives in the path only (`month=YYYY-MM/`), so that
        // readers that add the key from the path (pyarrow, pandas) do not meet it twice.
        frame(
            r.len(),
            vec![
                str_col("owner_uin", r.iter().map(|x| Some(&*x.owner_uin))),
                str_col("product", r.iter().map(|x| Some(&*x.product))),
                d("usage_amount", |x| x.usage_amount),
                d("purchase_amount", |x| x.purchase_amount),
                d("subscription_amount", |x| x.subscription_amount),
                d("elastic_amount", |x| x.elastic_amount),
                d("refund_amount", |x| x.refund_amount),
                d("total_amount", |x| x.total_amount),
                dec_col("payable", 2, r.iter().map(|x| Some(x.payable))),
                i64_col("line_count", r.iter().map(|x| Some(x.line_count))),
                bool_col("complete", r.iter().map(|x| Some(x.complete))),
            ],
        )
    }
}

// ----- package_status ------------------------------------------------------------------------

impl Table for PackageStatus {
    const NAME: &'static str = "package_status";
    const PARTITIONED: bool = false;
    fn month(&self) -> Option<Month> {
        None
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        a.package_id.cmp(&b.package_id)
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        let s = |n, f: fn(&Self) -> &str| str_col(n, r.iter().map(|x| Some(f(x))));
        frame(
            r.len(),
            vec![
                s("package_id", |x| &x.package_id),
                s("package_name", |x| &x.package_name),
                s("owner_uin", |x| &x.owner_uin),
                s("product", |x| &x.product),
                s("sub_product", |x| &x.sub_product),
                s("region", |x| &x.region),
                s("kind", |x| x.kind.as_str()),
                s("status", |x| x.status),
                s("unit", |x| x.unit.as_str()),
                dec_col("capacity", 9, r.iter().map(|x| x.capacity)),
                str_col("cycle", r.iter().map(|x| x.cycle.map(|c| c.as_str()))),
                dec_col("price_paid", 8, r.iter().map(|x| Some(x.price_paid))),
                dec_col("total_remaining", 9, r.iter().map(|x| x.total_remaining)),
                dec_col("cycle_remaining", 9, r.iter().map(|x| x.cycle_remaining)),
                ts_col("cycle_start", r.iter().map(|x| x.cycle_start)),
                ts_col("cycle_end", r.iter().map(|x| x.cycle_end)),
                i64_col("cycles_total", r.iter().map(|x| x.cycles_total)),
                i64_col("cycles_remaining", r.iter().map(|x| x.cycles_remaining)),
                ts_col("effective_at", r.iter().map(|x| Some(x.effective_at))),
                ts_col("expires_at", r.iter().map(|x| Some(x.expires_at))),
                ts_col("invalid_at", r.iter().map(|x| x.invalid_at)),
            ],
        )
    }
}

// ----- account_events ------------------------------------------------------------------------

impl Table for AccountEvent {
    const NAME: &'static str = "account_events";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.at))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (
            a.at,
            &a.owner_uin,
            &a.product,
            a.event,
            &a.subscription_id,
            &a.detail,
        )
            .cmp(&(
                b.at,
                &b.owner_uin,
                &b.product,
                b.event,
                &b.subscription_id,
                &b.detail,
            ))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        frame(
            r.len(),
            vec![
                str_col("owner_uin", r.iter().map(|x| Some(&*x.owner_uin))),
                str_col("product", r.iter().map(|x| x.product.as_deref())),
                str_col("event", r.iter().map(|x| Some(x.event))),
                ts_col("at", r.iter().map(|x| Some(x.at))),
                dec_col("balance", 8, r.iter().map(|x| Some(x.balance))),
                str_col(
                    "subscription_id",
                    r.iter().map(|x| x.subscription_id.as_deref()),
                ),
                str_col("detail", r.iter().map(|x| Some(x.detail.as_str()))),
            ],
        )
    }
}

// ----- refunds -------------------------------------------------------------------------------

impl Table for RefundRow {
    const NAME: &'static str = "refunds";
    const PARTITIONED: bool = true;
    fn month(&self) -> Option<Month> {
        Some(Month::of(self.at))
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (a.at, &a.event_id).cmp(&(b.at, &b.event_id))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        frame(
            r.len(),
            vec![
                str_col("event_id", r.iter().map(|x| Some(&*x.event_id))),
                str_col("target_id", r.iter().map(|x| Some(&*x.target_id))),
                str_col("kind", r.iter().map(|x| Some(x.kind.as_str()))),
                ts_col("at", r.iter().map(|x| Some(x.at))),
                bool_col("eligible", r.iter().map(|x| Some(x.eligible))),
                str_col("reason", r.iter().map(|x| Some(x.reason.as_str()))),
                dec_col("paid", 8, r.iter().map(|x| Some(x.paid))),
                dec_col("used_value", 8, r.iter().map(|x| Some(x.used_value))),
                dec_col("amount", 8, r.iter().map(|x| Some(x.amount))),
                dec_col("payable", 2, r.iter().map(|x| Some(x.payable))),
            ],
        )
    }
}

// ----- exceptions ----------------------------------------------------------------------------

impl Table for Violation {
    const NAME: &'static str = "exceptions";
    const PARTITIONED: bool = false;
    fn month(&self) -> Option<Month> {
        None
    }
    fn sort_key_cmp(a: &Self, b: &Self) -> Ordering {
        (&a.source_table, &a.source_id, &a.rule, a.at, &a.detail).cmp(&(
            &b.source_table,
            &b.source_id,
            &b.rule,
            b.at,
            &b.detail,
        ))
    }
    fn to_frame(r: &[&Self]) -> Result<DataFrame> {
        pieces_frame(r.len(), Self::pieces(r))
    }
}

impl Violation {
    fn pieces(r: &[&Self]) -> Vec<Piece> {
        vec![
            repeated_col("source_table", r.iter().map(|x| x.source_table.as_str())),
            Piece::Column(str_col(
                "source_id",
                r.iter().map(|x| Some(x.source_id.as_str())),
            )),
            repeated_col("rule", r.iter().map(|x| x.rule.as_str())),
            Piece::Column(str_col("detail", r.iter().map(|x| Some(x.detail.as_str())))),
            Piece::Column(ts_col("at", r.iter().map(|x| x.at))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::DataType;

    /// Every column the registry names is a column of the table's files, except the one that
    /// lives in the path only (`bills.month`), which the files must not hold; money columns are
    /// decimals, and no two tables share a name.
    #[test]
    fn the_registry_names_columns_of_each_table() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for t in TABLES {
            let schema = (t.schema)().unwrap();
            let path_only = super::super::read::path_key(t.name);
            let named = t.partition_by.iter().chain(t.sort_key).chain(t.money);
            for c in named {
                let in_files = schema.get(c).is_some();
                assert_eq!(in_files, path_only != Some(*c), "{}.{c}", t.name);
            }
            for c in t.money {
                let dtype = schema.get(c).unwrap();
                assert!(
                    matches!(dtype, DataType::Decimal(..)),
                    "{}.{c}: {dtype}",
                    t.name
                );
            }
        }
    }
}
