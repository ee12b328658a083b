//! The static model the generator draws from: regions (with their UTC offsets and weights),
//! the diurnal curve, the pay-by-traffic products, the mini-program gateway and API gateway
//! dedicated plans, and the package capacities people buy.
//!
//! Invariant: every name and price here is one that `sample_data/catalog.toml` prices (this
//! module's test checks it), so a generated dataset bills without a missing price.

use crate::calendar::{from_local, Ts};
use rust_decimal::Decimal;

pub(super) struct Region {
    pub id: &'static str,
    /// Local UTC offset in hours (the diurnal curve follows local time).
    pub utc_offset: i32,
    pub weight: u32,
}

/// Regions that have traffic prices in the catalog.
pub(super) const REGIONS: [Region; 13] = [
    Region {
        id: "ap-guangzhou",
        utc_offset: 8,
        weight: 30,
    },
    Region {
        id: "ap-shanghai",
        utc_offset: 8,
        weight: 25,
    },
    Region {
        id: "ap-beijing",
        utc_offset: 8,
        weight: 20,
    },
    Region {
        id: "ap-chengdu",
        utc_offset: 8,
        weight: 6,
    },
    Region {
        id: "ap-hongkong",
        utc_offset: 8,
        weight: 8,
    },
    Region {
        id: "ap-singapore",
        utc_offset: 8,
        weight: 6,
    },
    Region {
        id: "ap-bangkok",
        utc_offset: 7,
        weight: 2,
    },
    Region {
        id: "ap-jakarta",
        utc_offset: 7,
        weight: 2,
    },
    Region {
        id: "ap-seoul",
        utc_offset: 9,
        weight: 2,
    },
    Region {
        id: "ap-tokyo",
        utc_offset: 9,
        weight: 3,
    },
    Region {
        id: "na-siliconvalley",
        utc_offset: -8,
        weight: 3,
    },
    Region {
        id: "na-ashburn",
        utc_offset: -5,
        weight: 2,
    },
    Region {
        id: "eu-frankfurt",
        utc_offset: 1,
        weight: 3,
    },
];
pub(super) const GUANGZHOU: usize = 0;
pub(super) const HONGKONG: usize = 4;
pub(super) const SINGAPORE: usize = 5;

/// Activity by local hour of day, per mille of the daily peak (trough before dawn, peak at 20:00).
pub(super) const DIURNAL: [u64; 24] = [
    420, 330, 270, 240, 230, 260, 340, 480, 660, 820, 910, 950, 930, 920, 950, 970, 960, 940, 950,
    990, 1000, 960, 820, 600,
];
/// Mean of [`DIURNAL`], per mille (for spend estimates).
pub(super) const DIURNAL_MEAN: u64 = 743;

/// Pay-by-traffic products: (product, sub_product, instance id prefix, weight).
pub(super) const TRAFFIC_PRODUCTS: [(&str, &str, &str, u32); 4] = [
    ("cvm", "standard", "ins-", 45),
    ("eip", "eip", "eip-", 25),
    ("clb", "clb-public", "lb-", 15),
    ("lighthouse", "lighthouse", "lhins-", 15),
];

/// Mini-program gateway plans: (plan, max QPS, max Mbps, list CNY per month).
pub(super) const MPGW_PLANS: [(&str, u64, u64, i64); 8] = [
    ("trial", 100, 2, 899),
    ("test", 500, 10, 4999),
    ("starter", 1000, 20, 8999),
    ("basic", 5000, 100, 34999),
    ("preferred", 10000, 200, 59999),
    ("advanced", 50000, 1000, 219999),
    ("pro", 100000, 3000, 429999),
    ("enterprise", 200000, 5000, 749999),
];

/// API gateway dedicated instances: (plan, QPS, monthly cents, hourly cents) from 2022-03-24
/// 18:00 UTC+8, and (monthly cents, hourly cents) before it.
pub(super) const APIGW_PLANS: [(&str, u64, i64, i64, i64, i64); 5] = [
    ("basic", 2500, 368_000, 594, 368_000, 594),
    ("professional", 5000, 728_540, 1176, 998_000, 1611),
    ("enterprise", 10000, 1_400_420, 2260, 2_858_000, 4612),
    ("platinum", 20000, 2_573_100, 4153, 5_718_000, 9228),
    ("diamond", 50000, 5_004_300, 8076, 14_298_000, 23_075),
];

/// (monthly, hourly) price in cents of an API gateway plan bought at `at`.
pub(super) fn apigw_price(plan: usize, at: Ts) -> (i64, i64) {
    let change = from_local(
        chrono::NaiveDate::from_ymd_opt(2022, 3, 24)
            .and_then(|d| d.and_hms_opt(18, 0, 0))
            .expect("valid date"),
    );
    let p = APIGW_PLANS[plan];
    if at < change {
        (p.4, p.5)
    } else {
        (p.2, p.3)
    }
}

/// Package capacities people buy, in the package unit.
const NICE: [u64; 16] = [
    5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000,
    500_000,
];

pub(super) fn nice(target: u64) -> u64 {
    NICE.iter()
        .copied()
        .find(|&n| n >= target)
        .unwrap_or(NICE[NICE.len() - 1])
}

pub(super) fn nice_calls(target: u64) -> u64 {
    const CALLS: [u64; 7] = [
        1_000_000,
        5_000_000,
        10_000_000,
        50_000_000,
        100_000_000,
        500_000_000,
        1_000_000_000,
    ];
    CALLS
        .iter()
        .copied()
        .find(|&n| n >= target)
        .unwrap_or(CALLS[6])
}

pub(super) fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use std::path::Path;

    #[test]
    fn everything_generated_is_in_the_sample_catalog() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/catalog.toml");
        let cat = Catalog::load(&path).unwrap();
        let t = |s: &str| crate::calendar::parse_local(s).unwrap();
        for at in [t("2021-01-01"), t("2024-06-01")] {
            for r in &REGIONS {
                let mut items = vec![
                    ("apigw", "calls"),
                    ("apigw", "egress_traffic"),
                    ("mpgw", "peak_qps"),
                    ("mpgw", "peak_bandwidth"),
                ];
                items.extend(TRAFFIC_PRODUCTS.iter().map(|p| (p.0, "public_traffic")));
                for (product, item) in items {
                    assert!(
                        cat.price(product, item, r.id, at).is_some(),
                        "{product}/{item} {}",
                        r.id
                    );
                }
            }
            for (k, (plan, qps, ..)) in APIGW_PLANS.iter().enumerate() {
                let p = cat.instance_price("apigw", plan, at).unwrap();
                let (monthly, hourly) = apigw_price(k, at);
                assert_eq!(
                    (p.qps as u64, p.monthly, p.hourly),
                    (*qps, cents(monthly), cents(hourly))
                );
            }
        }
        for (plan, qps, mbps, monthly) in MPGW_PLANS {
            let p = cat.plan("mpgw", plan).unwrap();
            assert_eq!(
                (p.max_qps as u64, p.max_mbps as u64, p.monthly),
                (qps, mbps, Decimal::from(monthly))
            );
        }
    }
}
