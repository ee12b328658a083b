//! Output rows of CONTRACT.md, one struct per table, each with its total sort order and schema.
//!
//! Sort orders (ties impossible: each ends in a unique key):
//! - `deduction_details`: `(usage_start, usage_id, draw_seq)` — draws of a row in draw order.
//! - `bill_lines`: `(charge_start, line_id)`.
//! - `bills`: `(month, owner_uin, product)`.
//! - `package_status`: `(package_id)`.
//! - `account_events`: `(at, owner_uin, product, event, subscription_id, detail)`.
//! - `refunds`: `(at, event_id)`.
//! - `exceptions`: `(source_table, source_id, rule, at, detail)`.

use super::{
    bool_col, dec_col, decimals_of, frame, i64_col, instants_of, ints_of, names_of, par_pieces,
    pieces_frame, repeated_col, str_col, strings_of, ts_col, Piece, RowGroup, Table,
};
use crate::calendar::{Month, Ts};
use crate::error::Result;
use crate::input::{PackageKind, Violation};
use crate::money::Unit;
use crate::name::Name;
use compact_str::CompactString;
use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::sync::Arc;

// ----- deduction_details ---------------------------------------------------------------------

/// One draw of a usage row on a package.
#[derive(Debug, Clone, PartialEq)]
pub struct DeductionDetail {
    pub package_owner_uin: Name,
    pub package_id: Name,
    pub package_name: Name,
    pub product: Name,
    pub sub_product: Name,
    pub package_kind: PackageKind,
    pub cycle_start: Option<Ts>,
    pub cycle_end: Option<Ts>,
    pub deducted_at: Ts,
    pub remaining_before: Option<Decimal>,
    pub deducted: Decimal,
    pub remaining_after: Option<Decimal>,
    pub package_unit: Unit,
    pub resource_owner_uin: Name,
    pub resource_product: Name,
    pub resource_sub_product: Name,
    pub resource_billing_item: Name,
    pub region: Name,
    pub instance_id: Name,
    pub usage_id: Arc<str>,
    pub original_usage: Decimal,
    pub original_usage_unit: Unit,
    pub coefficient: Decimal,
    pub usage_start: Ts,
    pub usage_end: Ts,
    /// Position of this draw among the row's draws (0 first).
    pub draw_seq: i32,
}

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
    fn to_row_group(r: &[&Self]) -> Result<RowGroup> {
        RowGroup::from_pieces(r.len(), Self::pieces(r))
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChargeKind {
    Usage,
    Purchase,
    Subscription,
    Elastic,
    Refund,
    Upgrade,
}

impl ChargeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeKind::Usage => "usage",
            ChargeKind::Purchase => "purchase",
            ChargeKind::Subscription => "subscription",
            ChargeKind::Elastic => "elastic",
            ChargeKind::Refund => "refund",
            ChargeKind::Upgrade => "upgrade",
        }
    }
}

/// One charge part.
#[derive(Debug, Clone, PartialEq)]
pub struct BillLine {
    /// Inline up to 24 bytes (every usage line id of generated data): no allocation per line.
    pub line_id: CompactString,
    pub owner_uin: Name,
    pub region: Name,
    pub product: Name,
    pub sub_product: Name,
    pub instance_id: Name,
    pub billing_item: Name,
    pub charge_kind: ChargeKind,
    pub charge_start: Ts,
    pub charge_end: Ts,
    pub usage_id: Option<Arc<str>>,
    pub metered_quantity: Decimal,
    pub deducted_quantity: Decimal,
    pub billable_quantity: Decimal,
    pub unit: Name,
    pub tier: Option<i32>,
    pub unit_price: Decimal,
    pub price_unit: Name,
    pub amount: Decimal,
    pub charged_at: Ts,
}

/// Whom a line charges: (owner, region, product, sub_product, instance_id).
pub type ChargedTo<'a> = (&'a Name, &'a Name, &'a Name, &'a Name, &'a Name);

impl BillLine {
    /// A one-off charge at one instant — a purchase or a refund: quantity 1 `each` at
    /// `amount`.
    pub fn one_off(
        line_id: String,
        who: ChargedTo,
        billing_item: &str,
        charge_kind: ChargeKind,
        at: Ts,
        amount: Decimal,
    ) -> BillLine {
        let each: Name = Name::from("each");
        BillLine {
            line_id: line_id.into(),
            owner_uin: *who.0,
            region: *who.1,
            product: *who.2,
            sub_product: *who.3,
            instance_id: *who.4,
            billing_item: Name::from(billing_item),
            charge_kind,
            charge_start: at,
            charge_end: at,
            usage_id: None,
            metered_quantity: Decimal::ONE,
            deducted_quantity: Decimal::ZERO,
            billable_quantity: Decimal::ONE,
            unit: each,
            tier: None,
            unit_price: amount,
            price_unit: each,
            amount,
            charged_at: at,
        }
    }
}

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
    fn to_row_group(r: &[&Self]) -> Result<RowGroup> {
        RowGroup::from_pieces(r.len(), Self::pieces(r))
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

/// One account × product × natural month.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub month: Month,
    pub owner_uin: Name,
    pub product: Name,
    pub usage_amount: Decimal,
    pub purchase_amount: Decimal,
    pub subscription_amount: Decimal,
    pub elastic_amount: Decimal,
    pub refund_amount: Decimal,
    pub total_amount: Decimal,
    pub payable: Decimal,
    pub line_count: i64,
    pub complete: bool,
}

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
        let months: Vec<String> = r.iter().map(|x| x.month.to_string()).collect();
        frame(
            r.len(),
            vec![
                str_col("month", months.iter().map(|m| Some(m.as_str()))),
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

#[derive(Debug, Clone, PartialEq)]
pub struct PackageStatus {
    pub package_id: Name,
    pub package_name: Name,
    pub owner_uin: Name,
    pub product: Name,
    pub sub_product: Name,
    pub region: Name,
    pub kind: PackageKind,
    pub status: &'static str,
    pub unit: Unit,
    pub capacity: Option<Decimal>,
    pub total_remaining: Option<Decimal>,
    pub cycle_remaining: Option<Decimal>,
    pub cycle_start: Option<Ts>,
    pub cycle_end: Option<Ts>,
    pub cycles_total: Option<i64>,
    pub cycles_remaining: Option<i64>,
    pub effective_at: Ts,
    pub expires_at: Ts,
    pub invalid_at: Option<Ts>,
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    pub owner_uin: Name,
    pub product: Option<Name>,
    pub event: &'static str,
    pub at: Ts,
    pub balance: Decimal,
    pub subscription_id: Option<Name>,
    pub detail: String,
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct RefundRow {
    pub event_id: Name,
    pub target_id: Name,
    pub kind: String,
    pub at: Ts,
    pub eligible: bool,
    pub reason: String,
    pub paid: Decimal,
    pub used_value: Decimal,
    pub amount: Decimal,
    pub payable: Decimal,
}

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
    fn to_row_group(r: &[&Self]) -> Result<RowGroup> {
        RowGroup::from_pieces(r.len(), Self::pieces(r))
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
