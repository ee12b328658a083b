//! The price catalog (`catalog.toml`): unit prices with effective dates, graduated tier tables,
//! instance and plan prices, the elastic fee and its prices, arrears policies, plan expiry timeline, idle windows,
//! quality-traffic rules and refund unit prices. None of these numbers live in code.
//!
//! Loading is two steps, like ripgrep's flags: serde reads the TOML as written ([`RawCatalog`],
//! `raw`), then [`Catalog::from_raw`] validates and types it, one section at a time (`regions`,
//! `prices`, `plans`, `elastic`, `policies`, `unbilled`; the shared checks in `check`).
//! Validation rejects: tier tables empty, with gaps, overlaps or no open-ended last tier; prices
//! naming unknown regions or region groups; effective ranges that end before they start, or
//! overlap for one (product, billing item, region) or instance plan; elastic prices missing,
//! overlapping or with a gap between two of them; plans defined twice; free traffic directions
//! that are no direction; negative prices; unparseable decimals or dates; unbilled calls of an
//! item no tier table prices; a package limit on products that are not quality traffic packages
//! (docs/rules.md §3.7).
//! The file's SHA-256 goes into the manifest.

mod check;
mod elastic;
mod plans;
mod policies;
mod prices;
mod raw;
mod regions;
mod unbilled;

pub use elastic::{Elastic, ElasticPrice};
pub use plans::{InstancePrice, Plan};
pub use policies::{ArrearsPolicy, PlanExpiry, Refunds};
pub use prices::{PriceEntry, Pricing, Tier};
pub use raw::*;
pub use unbilled::{FreeQuota, UnbilledCalls};

use crate::calendar::{IdleWindow, Ts};
use crate::error::{Error, Result};
use check::Check;
use regions::Regions;
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    prices: prices::PriceTable,
    pub tier_tables: FxHashMap<String, Vec<Tier>>,
    pub instance_prices: Vec<InstancePrice>,
    pub plans: Vec<Plan>,
    pub free_directions: FxHashSet<String>,
    pub quality_package_products: FxHashSet<String>,
    pub quality_origin_regions: FxHashSet<String>,
    pub quality_direction: String,
    pub limit_traffic_products: FxHashSet<String>,
    pub max_valid_traffic_packages: usize,
    pub unbilled_calls: UnbilledCalls,
    pub free_quota: FreeQuota,
    pub elastic: Elastic,
    pub arrears_policies: Vec<ArrearsPolicy>,
    pub plan_expiry: PlanExpiry,
    pub refunds: Refunds,
}

/// The price units docs/contract.md allows on bill lines.
pub const PRICE_UNITS: [&str; 6] = ["10000 call", "GB", "hour", "month", "QPS-day", "each"];

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Catalog::parse(&bytes, path)
    }

    /// The catalog whose file `path` holds `bytes`: parsed, validated, hashed.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Catalog> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::Catalog {
            path: path.to_path_buf(),
            message: "not UTF-8".into(),
        })?;
        let raw: RawCatalog = toml::from_str(text).map_err(|e| Error::Catalog {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let hash = hex::encode(Sha256::digest(bytes));
        Catalog::from_raw(raw, path, hash)
    }

    /// Validates and types the catalog section by section; the first problem stops the load.
    pub fn from_raw(raw: RawCatalog, path: &Path, hash: String) -> Result<Catalog> {
        let check = Check { path };
        if raw.currency != "CNY" {
            return Err(check.err(format!(
                "currency `{}`: only CNY is supported",
                raw.currency
            )));
        }
        let default_idle = check.window("default_idle_window", raw.default_idle_window)?;
        let regions = Regions::of(&raw.regions, &raw.region_groups, check)?;
        let tier_tables = prices::tier_tables(&raw.tier_tables, check)?;
        let prices = prices::prices(&raw.prices, &tier_tables, &regions, check)?;
        let instance_prices = plans::instance_prices(&raw.instance_prices, check)?;
        let free_directions = regions::free_directions(&raw.traffic, check)?;
        let plans = plans::plans(&raw.plans, check)?;
        let origin_regions: Vec<String> = (raw.quality_traffic.origin_regions.iter())
            .map(|r| regions.expand(check, "quality_traffic.origin_regions", r))
            .collect::<Result<Vec<_>>>()?
            .concat()
            .into_iter()
            .map(str::to_string)
            .collect();
        let arrears_policies = policies::arrears_policies(&raw.arrears_policies, check)?;
        let elastic = elastic::elastic(&raw.elastic, &raw.elastic_prices, check)?;
        let refunds = policies::refunds(&raw.refunds, check)?;
        let plan_expiry = policies::plan_expiry(&raw.plan_expiry);
        let unbilled_calls = unbilled::unbilled_calls(&raw.unbilled_calls, &prices, check)?;
        let limit_products = quality_limit(&raw, check)?;
        let free_quota = unbilled::free_quota(&raw.free_quota, check)?;
        let quality = raw.quality_traffic;
        Ok(Catalog {
            version: raw.version,
            currency: raw.currency,
            hash,
            path: path.to_path_buf(),
            default_idle,
            region_names: regions.names,
            idle: regions.idle,
            prices,
            tier_tables,
            instance_prices,
            plans,
            free_directions,
            quality_package_products: quality.package_products.into_iter().collect(),
            quality_origin_regions: origin_regions.into_iter().collect(),
            quality_direction: quality.direction,
            limit_traffic_products: limit_products,
            max_valid_traffic_packages: raw.package_limits.max_valid_per_account_region,
            unbilled_calls,
            free_quota,
            elastic,
            arrears_policies,
            plan_expiry,
            refunds,
        })
    }

    /// Whether calls of usage row `u` are unbilled (docs/rules.md §4.1, `[unbilled_calls]`).
    pub fn unbilled(&self, u: &crate::input::Usage) -> bool {
        self.unbilled_calls
            .covers(&u.product, &u.billing_item, &u.sub_product)
    }

    /// Idle window of a region (docs/rules.md §3.5); regions not listed use the default window.
    pub fn idle_window(&self, region: &str) -> IdleWindow {
        self.idle.get(region).copied().unwrap_or(self.default_idle)
    }

    /// The price units of every price entry of `product`/`billing_item` (any region, any
    /// time): empty when the catalog does not price the item.
    pub fn price_units(&self, product: &str, billing_item: &str) -> impl Iterator<Item = &str> {
        let list = self.prices.get(product).and_then(|m| m.get(billing_item));
        list.into_iter().flatten().map(|e| e.price_unit.as_str())
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

/// docs/rules.md §3.7 (revised): the package limit counts quality traffic packages only, so
/// `package_limits.traffic_products` may list only products of
/// `quality_traffic.package_products`.
fn quality_limit(raw: &RawCatalog, check: Check) -> Result<FxHashSet<String>> {
    let quality = &raw.quality_traffic.package_products;
    for p in &raw.package_limits.traffic_products {
        if !quality.contains(p) {
            return Err(check.err(format!(
                "package_limits.traffic_products: `{p}` is no quality traffic package product \
                 (quality_traffic.package_products); the limit counts quality packages only"
            )));
        }
    }
    Ok(raw
        .package_limits
        .traffic_products
        .iter()
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
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

    /// §4.1, §3.7, §3.1 (revised): the sections of unbilled calls, the quality-only package
    /// limit and the free quota are read, and a wrong value stops the load with its key.
    #[test]
    fn revised_sections_unbilled_calls_package_limits_free_quota() {
        let c = parse(&sample()).unwrap();
        assert!(c
            .unbilled_calls
            .covers("apigw", "calls", "dedicated-instance"));
        assert!(c.unbilled_calls.covers("apigw", "calls", "websocket"));
        assert!(!c.unbilled_calls.covers("apigw", "calls", "shared-instance"));
        assert!(!c
            .unbilled_calls
            .covers("apigw", "egress_traffic", "websocket"));
        assert_eq!(c.limit_traffic_products.iter().collect::<Vec<_>>(), ["qtp"]);
        assert_eq!(
            (
                c.free_quota.product.as_str(),
                c.free_quota.cycle,
                c.free_quota.cycles
            ),
            ("apigw", crate::calendar::CycleLen::Days30, 12)
        );
        let err = |from: &str, to: &str| {
            assert!(sample().contains(from), "{from}");
            parse(&sample().replacen(from, to, 1))
                .unwrap_err()
                .to_string()
        };
        let e = err(
            "billing_item = \"calls\"\nsub_products",
            "billing_item = \"ticks\"\nsub_products",
        );
        assert!(
            e.contains("unbilled_calls") && e.contains("apigw/ticks"),
            "{e}"
        );
        let e = err(
            "sub_products = [\"dedicated-instance\", \"websocket\"]",
            "sub_products = []",
        );
        assert!(e.contains("unbilled_calls.sub_products"), "{e}");
        let e = err(
            "traffic_products = [\"qtp\"]",
            "traffic_products = [\"tp\", \"qtp\"]",
        );
        assert!(
            e.contains("package_limits.traffic_products") && e.contains("`tp`"),
            "{e}"
        );
        let e = err(
            "cycle = \"30d\"\ncycles = 12",
            "cycle = \"1mo\"\ncycles = 12",
        );
        assert!(e.contains("free_quota.cycle"), "{e}");
        let e = err("[unbilled_calls]", "[unbilled_calls_]");
        assert!(e.contains("unbilled_calls"), "{e}");
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
        assert!(
            e.contains("unknown region or region group `ap-atlantis`"),
            "{e}"
        );
    }

    /// §4.2 (revised): "mainland China" is all nine mainland regions; the sample catalog prices
    /// them once, through the `mainland` group, for API gateway egress and public traffic.
    /// Regions the source gives no price for have none.
    #[test]
    fn revised_4_2_the_mainland_group_prices_every_mainland_region() {
        let c = parse(&sample()).unwrap();
        let mainland = [
            "ap-guangzhou",
            "ap-shenzhen-fsi",
            "ap-shanghai",
            "ap-shanghai-fsi",
            "ap-nanjing",
            "ap-beijing",
            "ap-beijing-fsi",
            "ap-chengdu",
            "ap-chongqing",
        ];
        let unit_price = |product, item, region| {
            c.price(product, item, region, 0).map(|p| match p.pricing {
                Pricing::Flat { unit_price } => unit_price,
                _ => panic!("{product} {item} {region}: not a flat price"),
            })
        };
        for r in mainland {
            assert_eq!(
                unit_price("apigw", "egress_traffic", r),
                Some(dec!(0.80)),
                "{r}"
            );
            assert_eq!(
                unit_price("eip", "public_traffic", r),
                Some(dec!(0.80)),
                "{r}"
            );
        }
        assert_eq!(
            unit_price("apigw", "egress_traffic", "ap-hongkong"),
            Some(dec!(1.00))
        );
        for r in ["ap-mumbai", "na-toronto", "sa-saopaulo", "eu-moscow"] {
            assert_eq!(unit_price("apigw", "egress_traffic", r), None, "{r}");
            assert_eq!(unit_price("eip", "public_traffic", r), None, "{r}");
        }
    }

    /// A region group is checked like a region: its members are listed regions, each once; its
    /// name is no region's; a price naming neither a region nor a group is refused; and a
    /// region priced both alone and through its group overlaps.
    #[test]
    fn revised_4_2_region_groups_are_validated() {
        let group = "name = \"mainland\"\nregions = [\"ap-guangzhou\", ";
        let cases = [
            (
                sample().replacen(
                    group,
                    "name = \"mainland\"\nregions = [\"ap-atlantis\", ",
                    1,
                ),
                "region group `mainland`: unknown region `ap-atlantis`",
            ),
            (
                sample().replacen(
                    group,
                    "name = \"ap-tokyo\"\nregions = [\"ap-guangzhou\", ",
                    1,
                ),
                "region group `ap-tokyo`: the name is a region's",
            ),
            (
                sample().replacen(
                    group,
                    "name = \"mainland\"\nregions = [\"ap-chongqing\", \"ap-guangzhou\", ",
                    1,
                ),
                "region `ap-chongqing` listed twice",
            ),
            (
                sample().replacen(
                    "[\"mainland\", \"ap-singapore\"",
                    "[\"mainlnd\", \"ap-singapore\"",
                    1,
                ),
                "unknown region or region group `mainlnd`",
            ),
            (
                sample().replacen(
                    "[\"mainland\", \"ap-singapore\"",
                    "[\"mainland\", \"ap-nanjing\", \"ap-singapore\"",
                    1,
                ),
                "overlaps another price for apigw egress_traffic in ap-nanjing",
            ),
        ];
        for (text, want) in cases {
            assert_ne!(text, sample(), "{want}: the sample was not changed");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
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

    /// Catalog entries that contradict themselves are refused, each with its own message: an
    /// empty tier table (not "the last tier must be open-ended"), an instance price whose range
    /// ends before it starts, a plan defined twice (only one entry would be read), a free
    /// direction that is no direction.
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

    /// docs/rules.md §5 (revised): the days from a refund to the destruction are catalog data,
    /// required and not negative.
    #[test]
    fn revised_5_instance_destroy_after_days_is_read_and_checked() {
        assert_eq!(
            parse(&sample())
                .unwrap()
                .refunds
                .instance_destroy_after_days,
            7
        );
        let negative = sample().replace(
            "instance_destroy_after_days = 7",
            "instance_destroy_after_days = -1",
        );
        let e = parse(&negative).unwrap_err().to_string();
        assert!(
            e.contains("refunds.instance_destroy_after_days: -1 is negative"),
            "{e}"
        );
        let negative = sample().replace(
            "instance_full_refund_days = 5",
            "instance_full_refund_days = -5",
        );
        let e = parse(&negative).unwrap_err().to_string();
        assert!(
            e.contains("refunds.instance_full_refund_days: -5 is negative"),
            "{e}"
        );
        let missing = sample().replace("instance_destroy_after_days = 7\n", "");
        let e = parse(&missing).unwrap_err().to_string();
        assert!(e.contains("instance_destroy_after_days"), "{e}");
    }

    /// docs/rules.md §4.3 (revised): elastic prices with effective dates, the cap as data; ranges
    /// that overlap or leave a gap, no price at all, or a cap factor of 0 are refused.
    #[test]
    fn revised_4_3_elastic_prices_and_cap_are_catalog_data() {
        let c = parse(&sample()).unwrap();
        let e = &c.elastic;
        assert_eq!((e.cap_factor, e.cap_max_plan_qps), (4, 50000));
        assert_eq!(
            e.price_at(parse_local("2024-09-01").unwrap()),
            Some(dec!(0.999))
        );
        assert_eq!(
            (e.cap(10000), e.cap(50000), e.cap(50001)),
            (Some(dec!(40000)), Some(dec!(200000)), None)
        );
        let one = "[[elastic_prices]]\nunit_price = \"0.999\"\n";
        let dated = |a: &str, b: &str| {
            sample().replace(
                one,
                &format!(
                    "[[elastic_prices]]\nunit_price = \"0.999\"\neffective_to = \"{a}\"\n\
                     [[elastic_prices]]\nunit_price = \"1.2\"\neffective_from = \"{b}\"\n"
                ),
            )
        };
        let c = parse(&dated("2025-01-01", "2025-01-01")).unwrap();
        let jan = parse_local("2025-01-01").unwrap();
        assert_eq!(
            (c.elastic.price_at(jan - 1), c.elastic.price_at(jan)),
            (Some(dec!(0.999)), Some(dec!(1.2)))
        );
        let cases = [
            (
                dated("2025-01-02", "2025-01-01"),
                "elastic_prices: the price from 2025-01-01 00:00:00+08:00 overlaps",
            ),
            (
                dated("2025-01-01", "2025-02-01"),
                "leaves a gap after the one ending 2025-01-01",
            ),
            (sample().replace(one, ""), "elastic_prices: no entry"),
            (
                sample().replace("cap_factor = 4", "cap_factor = 0"),
                "elastic.cap_factor",
            ),
            (
                sample().replace(one, "[[elastic_prices]]\nunit_price = \"-1\"\n"),
                "elastic_prices[0]: `-1` is negative",
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
