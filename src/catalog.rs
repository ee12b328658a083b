//! The price catalog (`catalog.toml`): unit prices with effective dates, graduated tier tables,
//! instance and plan prices, the elastic fee, arrears policies, plan expiry timeline, idle windows,
//! quality-traffic rules and refund unit prices. None of these numbers live in code.
//!
//! Loading is two steps, like ripgrep's flags: serde reads the TOML as written ([`RawCatalog`]),
//! then [`Catalog::from_raw`] validates and types it. Validation rejects: tier tables empty, with
//! gaps, overlaps or no open-ended last tier; prices naming unknown regions; effective ranges that
//! end before they start, or overlap for one (product, billing item, region) or instance plan;
//! plans defined twice; free traffic directions that are no direction; negative prices;
//! unparseable decimals or dates.
//! The file's SHA-256 goes into the manifest.

use crate::calendar::{parse_local, IdleWindow, Ts};
use crate::error::{Error, Result};
use crate::money::parse_decimal;
use crate::name::Name;
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    pub version: String,
    pub currency: String,
    pub default_idle_window: [u32; 2],
    pub regions: Vec<RawRegion>,
    pub prices: Vec<RawPrice>,
    pub tier_tables: Vec<RawTierTable>,
    #[serde(default)]
    pub instance_prices: Vec<RawInstancePrice>,
    #[serde(default)]
    pub plans: Vec<RawPlan>,
    pub traffic: RawTraffic,
    pub quality_traffic: RawQualityTraffic,
    pub package_limits: RawPackageLimits,
    pub elastic: RawElastic,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElastic {
    pub product: String,
    pub peak_qps_item: String,
    pub peak_bandwidth_item: String,
    pub qps_per_mbps: u32,
    pub round_up_to: u32,
    pub default_unit_price: String,
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
    pub plan_products: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// The validated catalog.

/// How a metered (product, billing item, region) is priced.
#[derive(Debug, Clone, PartialEq)]
pub enum Pricing {
    /// One unit price per `price_unit`.
    Flat { unit_price: Decimal },
    /// Graduated tiers from a named table.
    Tiered { table: Name },
    /// Metered for another fee (e.g. peaks for the elastic fee): a zero-amount line.
    MeterOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PriceEntry {
    pub product: String,
    pub billing_item: String,
    /// A region id or `*`.
    pub region: String,
    pub price_unit: Name,
    pub pricing: Pricing,
    pub from: Ts,
    pub to: Ts,
}

/// One tier `(from, to]` of month-to-date volume; `to = None` is open-ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub from: Decimal,
    pub to: Option<Decimal>,
    pub unit_price: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstancePrice {
    pub product: String,
    pub plan: String,
    pub qps: u32,
    pub monthly: Decimal,
    pub hourly: Decimal,
    pub from: Ts,
    pub to: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub product: String,
    pub plan: String,
    pub max_qps: u32,
    pub max_mbps: u32,
    pub monthly: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArrearsPolicy {
    pub product: String,
    pub grace_hours: i64,
    pub action: String,
    pub final_action: Option<String>,
    pub final_after_hours: i64,
    pub final_from_arrears_start: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Elastic {
    pub product: String,
    pub peak_qps_item: String,
    pub peak_bandwidth_item: String,
    pub qps_per_mbps: u32,
    pub round_up_to: u32,
    pub default_unit_price: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanExpiry {
    pub products: Vec<String>,
    pub warning_days: Vec<i64>,
    pub buffer_days: i64,
    pub stopped_days: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refunds {
    pub quality_traffic_products: Vec<String>,
    pub quality_traffic_price_per_gb: Decimal,
    pub shared_traffic_products: Vec<String>,
    pub shared_traffic_price_product: String,
    pub shared_traffic_price_item: String,
    pub self_service_products: Vec<String>,
    pub instance_products: Vec<String>,
    pub instance_full_refund_days: i64,
    pub plan_products: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub version: String,
    pub currency: String,
    /// SHA-256 of the file, hex.
    pub hash: String,
    pub path: PathBuf,
    pub default_idle: IdleWindow,
    pub region_names: BTreeMap<String, String>,
    idle: FxHashMap<String, IdleWindow>,
    /// product → billing item → entries (nested so lookups by `&str` allocate nothing).
    prices: FxHashMap<String, FxHashMap<String, Vec<PriceEntry>>>,
    pub tier_tables: FxHashMap<String, Vec<Tier>>,
    pub instance_prices: Vec<InstancePrice>,
    pub plans: Vec<Plan>,
    pub free_directions: FxHashSet<String>,
    pub quality_package_products: FxHashSet<String>,
    pub quality_origin_regions: FxHashSet<String>,
    pub quality_direction: String,
    pub limit_traffic_products: FxHashSet<String>,
    pub max_valid_traffic_packages: usize,
    pub elastic: Elastic,
    pub arrears_policies: Vec<ArrearsPolicy>,
    pub plan_expiry: PlanExpiry,
    pub refunds: Refunds,
}

/// The price units CONTRACT.md allows on bill lines.
pub const PRICE_UNITS: [&str; 6] = ["10000 call", "GB", "hour", "month", "QPS-day", "each"];

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| Error::Catalog {
            path: path.to_path_buf(),
            message: "not UTF-8".into(),
        })?;
        let raw: RawCatalog = toml::from_str(&text).map_err(|e| Error::Catalog {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let hash = hex::encode(Sha256::digest(&bytes));
        Catalog::from_raw(raw, path, hash)
    }

    pub fn from_raw(raw: RawCatalog, path: &Path, hash: String) -> Result<Catalog> {
        let err = |message: String| Error::Catalog {
            path: path.to_path_buf(),
            message,
        };
        let dec = |what: &str, s: &str| -> Result<Decimal> {
            let d =
                parse_decimal(s).ok_or_else(|| err(format!("{what}: `{s}` is not a decimal")))?;
            if d.is_sign_negative() {
                return Err(err(format!("{what}: `{s}` is negative")));
            }
            Ok(d)
        };
        let time = |what: &str, s: &Option<String>, default: Ts| -> Result<Ts> {
            match s {
                None => Ok(default),
                Some(s) => parse_local(s).ok_or_else(|| {
                    err(format!(
                        "{what}: `{s}` is not `YYYY-MM-DD[ HH:MM:SS]` (UTC+8)"
                    ))
                }),
            }
        };
        let window = |what: &str, w: [u32; 2]| -> Result<IdleWindow> {
            if w[0] > 23 || w[1] > 24 || w[0] == w[1] {
                return Err(err(format!(
                    "{what}: idle window {w:?} is not [from, to) in 0..24"
                )));
            }
            // `to` kept as written: [0, 24) is the whole day (24 % 24 would make it empty).
            Ok(IdleWindow {
                from: w[0],
                to: w[1],
            })
        };
        if raw.currency != "CNY" {
            return Err(err(format!(
                "currency `{}`: only CNY is supported",
                raw.currency
            )));
        }

        let default_idle = window("default_idle_window", raw.default_idle_window)?;
        let mut region_names = BTreeMap::new();
        let mut idle = FxHashMap::default();
        for r in &raw.regions {
            if region_names.insert(r.id.clone(), r.name.clone()).is_some() {
                return Err(err(format!("region `{}` listed twice", r.id)));
            }
            if let Some(w) = r.idle_window {
                idle.insert(r.id.clone(), window(&format!("region `{}`", r.id), w)?);
            }
        }
        let known_region = |what: &str, r: &str| -> Result<()> {
            if r == "*" || region_names.contains_key(r) {
                Ok(())
            } else {
                Err(err(format!("{what}: unknown region `{r}`")))
            }
        };

        let mut tier_tables = FxHashMap::default();
        for t in &raw.tier_tables {
            if t.tiers.is_empty() {
                return Err(err(format!("tier table `{}` has no tiers", t.name)));
            }
            let mut tiers = Vec::new();
            let mut expect_from = Decimal::ZERO;
            for (i, tier) in t.tiers.iter().enumerate() {
                let what = format!("tier table `{}` tier {}", t.name, i + 1);
                let from = dec(&what, &tier.from)?;
                if from != expect_from {
                    let kind = if from > expect_from {
                        "a gap"
                    } else {
                        "an overlap"
                    };
                    return Err(err(format!(
                        "{what}: starts at {from} but the previous tier ends at {expect_from} ({kind})"
                    )));
                }
                let to = tier.to.as_deref().map(|s| dec(&what, s)).transpose()?;
                match to {
                    Some(to) if to <= from => {
                        return Err(err(format!("{what}: `to` {to} is not above `from` {from}")))
                    }
                    Some(to) => expect_from = to,
                    None if i + 1 != t.tiers.len() => {
                        return Err(err(format!("{what}: only the last tier may be open-ended")))
                    }
                    None => {}
                }
                tiers.push(Tier {
                    from,
                    to,
                    unit_price: dec(&what, &tier.unit_price)?,
                });
            }
            if tiers.last().is_none_or(|t| t.to.is_some()) {
                return Err(err(format!(
                    "tier table `{}`: the last tier must be open-ended (no `to`)",
                    t.name
                )));
            }
            if tier_tables.insert(t.name.clone(), tiers).is_some() {
                return Err(err(format!("tier table `{}` defined twice", t.name)));
            }
        }

        let mut prices: FxHashMap<String, FxHashMap<String, Vec<PriceEntry>>> =
            FxHashMap::default();
        for (i, p) in raw.prices.iter().enumerate() {
            let what = format!("prices[{i}] ({} {})", p.products.join(","), p.billing_item);
            if !PRICE_UNITS.contains(&p.price_unit.as_str()) {
                return Err(err(format!(
                    "{what}: unknown price_unit `{}`",
                    p.price_unit
                )));
            }
            let pricing = match (&p.unit_price, &p.tiers, p.meter_only) {
                (Some(u), None, false) => Pricing::Flat {
                    unit_price: dec(&what, u)?,
                },
                (None, Some(t), false) => {
                    if !tier_tables.contains_key(t) {
                        return Err(err(format!("{what}: unknown tier table `{t}`")));
                    }
                    Pricing::Tiered {
                        table: Name::from(t.as_str()),
                    }
                }
                (None, None, true) => Pricing::MeterOnly,
                _ => {
                    return Err(err(format!(
                        "{what}: give exactly one of unit_price, tiers or meter_only = true"
                    )))
                }
            };
            let from = time(&what, &p.effective_from, Ts::MIN)?;
            let to = time(&what, &p.effective_to, Ts::MAX)?;
            if to <= from {
                return Err(err(format!(
                    "{what}: effective_to is not after effective_from"
                )));
            }
            for product in &p.products {
                for region in &p.regions {
                    known_region(&what, region)?;
                    let entry = PriceEntry {
                        product: product.clone(),
                        billing_item: p.billing_item.clone(),
                        region: region.clone(),
                        price_unit: Name::from(p.price_unit.as_str()),
                        pricing: pricing.clone(),
                        from,
                        to,
                    };
                    let list = prices
                        .entry(product.clone())
                        .or_default()
                        .entry(p.billing_item.clone())
                        .or_default();
                    if let Some(o) = list
                        .iter()
                        .find(|o| o.region == *region && o.from < to && from < o.to)
                    {
                        return Err(err(format!(
                            "{what}: effective range overlaps another price for {product} {} in {region} ({})",
                            p.billing_item, o.price_unit
                        )));
                    }
                    list.push(entry);
                }
            }
        }

        let mut instance_prices = Vec::new();
        for p in &raw.instance_prices {
            let what = format!("instance_prices {} {}", p.product, p.plan);
            let from = time(&what, &p.effective_from, Ts::MIN)?;
            let to = time(&what, &p.effective_to, Ts::MAX)?;
            if to <= from {
                return Err(err(format!(
                    "{what}: effective_to is not after effective_from"
                )));
            }
            if instance_prices.iter().any(|o: &InstancePrice| {
                o.product == p.product && o.plan == p.plan && o.from < to && from < o.to
            }) {
                return Err(err(format!("{what}: overlapping effective ranges")));
            }
            instance_prices.push(InstancePrice {
                product: p.product.clone(),
                plan: p.plan.clone(),
                qps: p.qps,
                monthly: dec(&what, &p.monthly)?,
                hourly: dec(&what, &p.hourly)?,
                from,
                to,
            });
        }
        // Directions are the usage contract's enum: a misspelt one would make no traffic free.
        let mut free_directions = FxHashSet::default();
        for d in &raw.traffic.free_directions {
            if crate::input::Direction::parse(d).is_none() {
                return Err(err(format!(
                    "traffic.free_directions: unknown direction `{d}` (allowed: outbound, \
                     to_mainland, inbound, internal)"
                )));
            }
            free_directions.insert(d.clone());
        }
        let mut plans = Vec::new();
        for p in &raw.plans {
            let what = format!("plans {} {}", p.product, p.plan);
            // Looked up by (product, plan): a second entry would never be read, or worse, be
            // read instead of the first.
            if plans
                .iter()
                .any(|o: &Plan| o.product == p.product && o.plan == p.plan)
            {
                return Err(err(format!("{what}: defined twice")));
            }
            plans.push(Plan {
                product: p.product.clone(),
                plan: p.plan.clone(),
                max_qps: p.max_qps,
                max_mbps: p.max_mbps,
                monthly: dec(&what, &p.monthly)?,
            });
        }
        for r in &raw.quality_traffic.origin_regions {
            known_region("quality_traffic.origin_regions", r)?;
        }
        let mut arrears_policies = Vec::new();
        for p in &raw.arrears_policies {
            let final_from_arrears_start = match p.final_from.as_deref() {
                None | Some("action") => false,
                Some("arrears_start") => true,
                Some(o) => {
                    return Err(err(format!(
                        "arrears policy {:?}: final_from `{o}` (allowed: action, arrears_start)",
                        p.products
                    )))
                }
            };
            for product in &p.products {
                arrears_policies.push(ArrearsPolicy {
                    product: product.clone(),
                    grace_hours: p.grace_hours,
                    action: p.action.clone(),
                    final_action: p.final_action.clone(),
                    final_after_hours: p.final_after_hours.unwrap_or(0),
                    final_from_arrears_start,
                });
            }
        }
        let e = &raw.elastic;
        let elastic = Elastic {
            product: e.product.clone(),
            peak_qps_item: e.peak_qps_item.clone(),
            peak_bandwidth_item: e.peak_bandwidth_item.clone(),
            qps_per_mbps: e.qps_per_mbps,
            round_up_to: e.round_up_to.max(1),
            default_unit_price: dec("elastic.default_unit_price", &e.default_unit_price)?,
        };
        let r = &raw.refunds;
        let refunds = Refunds {
            quality_traffic_products: r.quality_traffic_products.clone(),
            quality_traffic_price_per_gb: dec(
                "refunds.quality_traffic_price_per_gb",
                &r.quality_traffic_price_per_gb,
            )?,
            shared_traffic_products: r.shared_traffic_products.clone(),
            shared_traffic_price_product: r.shared_traffic_price_product.clone(),
            shared_traffic_price_item: r.shared_traffic_price_item.clone(),
            self_service_products: r.self_service_products.clone(),
            instance_products: r.instance_products.clone(),
            instance_full_refund_days: r.instance_full_refund_days,
            plan_products: r.plan_products.clone(),
        };
        let pe = &raw.plan_expiry;
        Ok(Catalog {
            version: raw.version,
            currency: raw.currency,
            hash,
            path: path.to_path_buf(),
            default_idle,
            region_names,
            idle,
            prices,
            tier_tables,
            instance_prices,
            plans,
            free_directions,
            quality_package_products: raw.quality_traffic.package_products.into_iter().collect(),
            quality_origin_regions: raw.quality_traffic.origin_regions.into_iter().collect(),
            quality_direction: raw.quality_traffic.direction,
            limit_traffic_products: raw.package_limits.traffic_products.into_iter().collect(),
            max_valid_traffic_packages: raw.package_limits.max_valid_per_account_region,
            elastic,
            arrears_policies,
            plan_expiry: PlanExpiry {
                products: pe.products.clone(),
                warning_days: pe.warning_days.clone(),
                buffer_days: pe.buffer_days,
                stopped_days: pe.stopped_days,
            },
            refunds,
        })
    }

    /// Idle window of a region (RULES.md §3.5); regions not listed use the default window.
    pub fn idle_window(&self, region: &str) -> IdleWindow {
        self.idle.get(region).copied().unwrap_or(self.default_idle)
    }

    /// The price in force at `at` for a metered row; an exact region beats `*`.
    pub fn price(
        &self,
        product: &str,
        billing_item: &str,
        region: &str,
        at: Ts,
    ) -> Option<&PriceEntry> {
        let list = self.prices.get(product)?.get(billing_item)?;
        let in_force = |r: &str| {
            list.iter()
                .find(|p| p.region == r && p.from <= at && at < p.to)
        };
        in_force(region).or_else(|| in_force("*"))
    }

    /// The (product, billing item) pairs that some catalog entry prices with a tier table.
    pub fn tiered_items(&self) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = self
            .prices
            .iter()
            .flat_map(|(p, items)| items.iter().map(move |(i, list)| (p, i, list)))
            .filter(|(_, _, list)| {
                list.iter()
                    .any(|e| matches!(e.pricing, Pricing::Tiered { .. }))
            })
            .map(|(p, i, _)| (p.as_str(), i.as_str()))
            .collect();
        v.sort_unstable();
        v
    }

    pub fn tiers(&self, table: &str) -> &[Tier] {
        self.tier_tables.get(table).map_or(&[], |v| v.as_slice())
    }

    pub fn instance_price(&self, product: &str, plan: &str, at: Ts) -> Option<&InstancePrice> {
        self.instance_prices
            .iter()
            .find(|p| p.product == product && p.plan == plan && p.from <= at && at < p.to)
    }

    pub fn plan(&self, product: &str, plan: &str) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.product == product && p.plan == plan)
    }

    pub fn arrears_policy(&self, product: &str) -> Option<&ArrearsPolicy> {
        self.arrears_policies.iter().find(|p| p.product == product)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn sample() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample_data/catalog.toml"
        ))
        .unwrap()
    }

    fn parse(text: &str) -> Result<Catalog> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| Error::Catalog {
            path: "t.toml".into(),
            message: e.to_string(),
        })?;
        Catalog::from_raw(raw, Path::new("t.toml"), String::new())
    }

    #[test]
    fn sample_catalog_holds_the_published_figures() {
        let c = parse(&sample()).unwrap();
        let t = c.tiers("apigw_calls");
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].to, t[0].unit_price),
            (Some(dec!(10000000)), dec!(0.06))
        );
        assert_eq!(
            (t[1].to, t[1].unit_price),
            (Some(dec!(100000000)), dec!(0.04))
        );
        assert_eq!((t[2].to, t[2].unit_price), (None, dec!(0.03)));
        let at = parse_local("2024-01-01").unwrap();
        let flat = |p: &str, i: &str, r: &str| match &c.price(p, i, r, at).unwrap().pricing {
            Pricing::Flat { unit_price } => *unit_price,
            o => panic!("{o:?}"),
        };
        assert_eq!(flat("eip", "public_traffic", "ap-guangzhou"), dec!(0.80));
        assert_eq!(flat("apigw", "egress_traffic", "ap-hongkong"), dec!(1.00));
        assert_eq!(
            flat("apigw", "egress_traffic", "na-siliconvalley"),
            dec!(0.50)
        );
        assert!(c
            .price("apigw", "egress_traffic", "ap-mumbai", at)
            .is_none());
        assert_eq!(c.idle_window("ap-tokyo"), IdleWindow { from: 23, to: 7 });
        assert_eq!(c.idle_window("na-ashburn"), IdleWindow { from: 12, to: 20 });
        assert_eq!(c.idle_window("xx-unlisted"), IdleWindow { from: 0, to: 8 });
        // §5: pay-by-traffic network resources stop after 2 h; only CVM is then released.
        let final_step = |p: &str| {
            let a = c.arrears_policy(p).unwrap();
            (a.grace_hours, a.action.as_str(), a.final_action.as_deref())
        };
        assert_eq!(final_step("cvm"), (2, "stopped", Some("released")));
        assert_eq!(final_step("clb"), (2, "stopped", None));
        assert_eq!(final_step("lighthouse"), (2, "stopped", None));
        // Dedicated instance price change at 2022-03-24 18:00 UTC+8.
        let change = parse_local("2022-03-24 18:00:00").unwrap();
        let pro = |at| {
            c.instance_price("apigw", "professional", at)
                .unwrap()
                .monthly
        };
        assert_eq!(pro(change - 1), dec!(9980.00));
        assert_eq!(pro(change), dec!(7285.40));
        assert_eq!(c.plan("mpgw", "test").unwrap().max_qps, 500);
        assert_eq!(c.refunds.quality_traffic_price_per_gb, dec!(2.15));
    }

    #[test]
    fn tier_gap_is_rejected() {
        let text = sample().replace("from = \"10000000\"", "from = \"10000001\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("apigw_calls") && e.contains("a gap"), "{e}");
    }

    #[test]
    fn tier_overlap_is_rejected() {
        let text = sample().replace("from = \"10000000\"", "from = \"9000000\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("an overlap"), "{e}");
    }

    #[test]
    fn unknown_region_is_rejected() {
        let text = sample().replacen("\"ap-hongkong\"]", "\"ap-atlantis\"]", 1);
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("unknown region `ap-atlantis`"), "{e}");
    }

    #[test]
    fn overlapping_effective_ranges_are_rejected() {
        let text = format!(
            "{}\n[[prices]]\nproducts = [\"eip\"]\nbilling_item = \"public_traffic\"\nregions = [\"ap-guangzhou\"]\nprice_unit = \"GB\"\nunit_price = \"0.70\"\neffective_from = \"2023-01-01\"\n",
            sample()
        );
        // The appended table must come after the arrays it extends; TOML allows that.
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("overlaps"), "{e}");
    }

    /// Catalog mistakes that used to load: an empty tier table (reported as "the last tier
    /// must be open-ended"), an instance price whose range ends before it starts, a plan
    /// defined twice (the first entry won), a free direction that is no direction.
    #[test]
    fn contradictory_catalog_entries_are_rejected() {
        let cases = [
            (
                sample().replace(
                    "  { from = \"0\", to = \"10000000\", unit_price = \"0.06\" },\n  { from = \"10000000\", to = \"100000000\", unit_price = \"0.04\" },\n  { from = \"100000000\", unit_price = \"0.03\" },\n",
                    "",
                ),
                "tier table `apigw_calls` has no tiers",
            ),
            (
                sample().replacen(
                    "effective_to = \"2022-03-24 18:00:00\"",
                    "effective_from = \"2023-01-01\"\neffective_to = \"2022-03-24 18:00:00\"",
                    1,
                ),
                "effective_to is not after effective_from",
            ),
            (
                sample().replacen(
                    "[[plans]]",
                    "[[plans]]\nproduct = \"mpgw\"\nplan = \"trial\"\nmax_qps = 1\nmax_mbps = 1\nmonthly = \"1\"\n[[plans]]",
                    1,
                ),
                "plans mpgw trial: defined twice",
            ),
            (
                sample().replace("[\"inbound\", \"internal\"]", "[\"inbound\", \"sideways\"]"),
                "unknown direction `sideways`",
            ),
        ];
        for (text, want) in cases {
            assert_ne!(text, sample(), "{want}: the sample was not changed");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn negative_price_is_rejected() {
        let text = sample().replacen("unit_price = \"0.06\"", "unit_price = \"-0.06\"", 1);
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("negative"), "{e}");
    }
}
