//! The rows the rules produce and the output writes, one struct per table of docs/contract.md, and
//! the enums they share with the inputs.
//!
//! This module is the layer both `rules` (which builds these rows) and `output` (which sorts and
//! writes them) point down to; it holds data only: no I/O, no rule. How each table is sorted,
//! partitioned and encoded is `output::tables`' business.

use crate::calendar::{CycleLen, Month, Ts};
use crate::money::Unit;
use crate::name::Name;
use compact_str::CompactString;
use rust_decimal::Decimal;
use std::sync::Arc;

/// The `kind` values of `packages`, in the order of [`PackageKind`].
pub const PACKAGE_KINDS: [&str; 4] = ["total", "periodic", "sliced", "unlimited"];

/// How a package's capacity is granted (docs/rules.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageKind {
    Total,
    Periodic,
    Sliced,
    Unlimited,
}

impl PackageKind {
    pub const ALL: [PackageKind; 4] = [
        PackageKind::Total,
        PackageKind::Periodic,
        PackageKind::Sliced,
        PackageKind::Unlimited,
    ];

    pub fn as_str(self) -> &'static str {
        PACKAGE_KINDS[self as usize]
    }
}

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
    /// The cycle or slice length of periodic and sliced packages.
    pub cycle: Option<CycleLen>,
    /// What the package cost (`packages.price_paid`), what its FOCUS export amortizes.
    pub price_paid: Decimal,
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
