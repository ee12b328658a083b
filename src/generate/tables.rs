//! The generated rows of every input table, held in memory until written: the six small
//! tables in [`Tables`] (in the order their rows were drawn, which is their order in the files),
//! and the hand-written usage rows of the scenarios as [`UsageRow`]. Generated usage never
//! lands here: [`super::usage`] streams it hour by hour.
//!
//! Field names and types follow docs/contract.md's columns; instants are UTC microseconds.

use crate::calendar::Ts;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
pub(super) struct PackageRow {
    pub package_id: String,
    pub package_name: String,
    pub owner_uin: String,
    pub product: &'static str,
    pub sub_product: &'static str,
    pub kind: &'static str,
    pub source: &'static str,
    pub order_type: &'static str,
    pub region: &'static str,
    pub capacity: Option<Decimal>,
    pub unit: &'static str,
    pub cycle: Option<&'static str>,
    pub idle_only: bool,
    pub purchased_at: Option<Ts>,
    pub effective_at: Ts,
    pub expires_at: Ts,
    pub activated: bool,
    pub refunded_at: Option<Ts>,
    pub price_paid: Decimal,
    pub voucher_amount: Decimal,
    pub share_uins: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct ScopeRow {
    pub package_id: String,
    pub product: &'static str,
    pub billing_item: &'static str,
    pub coefficient: Decimal,
}

#[derive(Debug, Clone)]
pub(super) struct AccountRow {
    pub owner_uin: String,
    pub opening_balance: Decimal,
    pub opening_at: Ts,
    pub apigw_activated_at: Option<Ts>,
}

#[derive(Debug, Clone)]
pub(super) struct PaymentRow {
    pub payment_id: String,
    pub owner_uin: String,
    pub paid_at: Ts,
    pub amount: Decimal,
}

#[derive(Debug, Clone)]
pub(super) struct SubscriptionRow {
    pub subscription_id: String,
    pub owner_uin: String,
    pub product: &'static str,
    pub plan: &'static str,
    pub region: &'static str,
    pub billing_mode: &'static str,
    pub started_at: Ts,
    pub expires_at: Option<Ts>,
    pub released_at: Option<Ts>,
    pub list_price: Decimal,
    pub discount: Decimal,
    pub price_paid: Decimal,
    pub elastic_on_at: Option<Ts>,
    pub elastic_off_at: Option<Ts>,
    pub attached_apps: i32,
    /// The order's elastic price per QPS-day (docs/rules.md §4.3); null: the catalog's.
    pub elastic_unit_price: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub(super) struct EventRow {
    pub event_id: String,
    pub kind: &'static str,
    pub target_id: String,
    pub at: Ts,
    pub new_plan: Option<&'static str>,
    pub months: Option<i32>,
    /// What a package renewal cost (docs/rules.md §3.8); null on other events.
    pub price_paid: Option<Decimal>,
    /// The platform renewed automatically; null on other events.
    pub auto: Option<bool>,
}

/// Every table but usage, in file order.
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub packages: Vec<PackageRow>,
    pub scopes: Vec<ScopeRow>,
    pub accounts: Vec<AccountRow>,
    pub payments: Vec<PaymentRow>,
    pub subscriptions: Vec<SubscriptionRow>,
    pub events: Vec<EventRow>,
}

/// A hand-written usage row (scenarios); `quantity` is exact at scale 9.
#[derive(Debug, Clone)]
pub(super) struct UsageRow {
    pub usage_id: String,
    pub owner_uin: &'static str,
    pub region: &'static str,
    pub product: &'static str,
    pub sub_product: &'static str,
    pub instance_id: &'static str,
    pub billing_item: &'static str,
    pub start: Ts,
    pub end: Ts,
    pub quantity: Decimal,
    pub unit: &'static str,
    pub direction: Option<&'static str>,
    pub accelerated: bool,
}
