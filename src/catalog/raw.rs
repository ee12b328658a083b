//! The catalog as written in `catalog.toml`: what serde reads, before any check. Unknown fields
//! are refused (`deny_unknown_fields`), so a misspelt key stops the load instead of being ignored.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    pub version: String,
    pub currency: String,
    pub default_idle_window: [u32; 2],
    pub regions: Vec<RawRegion>,
    #[serde(default)]
    pub region_groups: Vec<RawRegionGroup>,
    pub prices: Vec<RawPrice>,
    pub tier_tables: Vec<RawTierTable>,
    #[serde(default)]
    pub instance_prices: Vec<RawInstancePrice>,
    #[serde(default)]
    pub plans: Vec<RawPlan>,
    pub traffic: RawTraffic,
    pub quality_traffic: RawQualityTraffic,
    pub package_limits: RawPackageLimits,
    pub unbilled_calls: RawUnbilledCalls,
    pub free_quota: RawFreeQuota,
    pub elastic: RawElastic,
    #[serde(default)]
    pub elastic_prices: Vec<RawElasticPrice>,
    #[serde(default)]
    pub arrears_policies: Vec<RawArrearsPolicy>,
    pub plan_expiry: RawPlanExpiry,
    pub refunds: RawRefunds,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    pub id: String,
    pub name: String,
    pub idle_window: Option<[u32; 2]>,
}

/// A named set of regions that a price or a rule may name at once (`mainland`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegionGroup {
    pub name: String,
    pub regions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub products: Vec<String>,
    pub billing_item: String,
    pub regions: Vec<String>,
    pub price_unit: String,
    pub unit_price: Option<String>,
    pub tiers: Option<String>,
    #[serde(default)]
    pub meter_only: bool,
    pub effective_from: Option<String>,
    pub effective_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTierTable {
    pub name: String,
    pub tiers: Vec<RawTier>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub from: String,
    pub to: Option<String>,
    pub unit_price: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstancePrice {
    pub product: String,
    pub plan: String,
    pub qps: u32,
    pub monthly: String,
    pub hourly: String,
    pub effective_from: Option<String>,
    pub effective_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub product: String,
    pub plan: String,
    pub max_qps: u32,
    pub max_mbps: u32,
    pub monthly: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    pub free_directions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQualityTraffic {
    pub package_products: Vec<String>,
    pub origin_regions: Vec<String>,
    pub direction: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPackageLimits {
    pub traffic_products: Vec<String>,
    pub max_valid_per_account_region: usize,
}

/// docs/rules.md §4.1: the free quota the inventory must carry for an activated account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeQuota {
    pub product: String,
    pub cycle: String,
    pub cycles: u32,
}

/// docs/rules.md §4.1: the call rows the call fee does not cover.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnbilledCalls {
    pub product: String,
    pub billing_item: String,
    pub sub_products: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElastic {
    pub product: String,
    pub peak_qps_item: String,
    pub peak_bandwidth_item: String,
    pub qps_per_mbps: u32,
    pub round_up_to: u32,
    pub cap_factor: u32,
    pub cap_max_plan_qps: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElasticPrice {
    pub unit_price: String,
    pub effective_from: Option<String>,
    pub effective_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrearsPolicy {
    pub products: Vec<String>,
    pub grace_hours: i64,
    pub action: String,
    pub final_action: Option<String>,
    pub final_after_hours: Option<i64>,
    /// `action` (counted from the suspension/stop) or `arrears_start`.
    pub final_from: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlanExpiry {
    pub products: Vec<String>,
    pub warning_days: Vec<i64>,
    pub buffer_days: i64,
    pub stopped_days: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefunds {
    pub quality_traffic_products: Vec<String>,
    pub quality_traffic_price_per_gb: String,
    pub shared_traffic_products: Vec<String>,
    /// The (product, billing item) whose regional price is "the standard pay-by-traffic price".
    pub shared_traffic_price_product: String,
    pub shared_traffic_price_item: String,
    pub self_service_products: Vec<String>,
    pub instance_products: Vec<String>,
    pub instance_full_refund_days: i64,
    /// Days from a dedicated instance's refund to its destruction (docs/rules.md §5).
    pub instance_destroy_after_days: i64,
    pub plan_products: Vec<String>,
}
