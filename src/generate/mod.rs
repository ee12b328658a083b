//! `reckon generate`: a realistic synthetic dataset of every input table of CONTRACT.md —
//! `usage/` (split into `part-00000.parquet`, `part-00001.parquet`, … of at most
//! `--rows-per-file` rows), `packages/`, `package_scope/`, `accounts/`, `payments/`,
//! `subscriptions/` and `events/` (one `part-00000.parquet` each). The price catalog is not
//! written; the generator only emits what `sample_data/catalog.toml` prices.
//!
//! What it models:
//! - heavy-tailed account sizes (Pareto, α = 1: three accounts in four have 1–3 instances, a few
//!   have dozens), a home region per account, instances created and released inside the range;
//! - hourly usage of every product: API gateway `calls` and `egress_traffic` (KB or MB),
//!   pay-by-traffic `public_traffic` of cvm/eip/clb/lighthouse (MB or GB; some `inbound` or
//!   `internal` rows; accelerated Hong Kong/Singapore instances with `to_mainland` traffic) and
//!   mini-program gateway `peak_qps` / `peak_bandwidth` (one row each per hour per plan);
//!   a diurnal curve in the region's local time, a weekend factor, a per-instance trend, noise and
//!   rare spikes;
//! - packages of every kind (`total`, `periodic` 1d/30d/1mo, `sliced` 1h/1d, `unlimited`) and
//!   source (`free`, `purchased`, `promotion`): API gateway free quota from each account's
//!   activation, shared (`tp`, also idle-only) and quality (`qtp`) traffic packages, call packs,
//!   renewals, expiries inside the range, a few inactive, refunded and shared packages;
//! - opening balances from the estimated spend (a fraction low enough to fall into arrears),
//!   top-ups, API gateway dedicated instances (monthly and hourly), mini-program gateway plans
//!   (some with the elastic switch on) and refund / upgrade / renew events;
//! - with `--scenarios`, the hand-made accounts of [`scenarios`] (RULES.md worked examples) and
//!   five deliberately invalid usage rows.
//!
//! The range is the `--days` UTC+8 days ending the day before `--end`; every instant is stored as
//! UTC microseconds, usage hours are aligned and one hour long, ids are unique.
//!
//! Determinism invariant: the files depend only on the arguments. Every random draw comes from
//! `ChaCha8Rng::seed_from_u64(seed)` (instances get their own ChaCha8 streams seeded from it, in
//! a fixed order); shapes use integer arithmetic only (no floats, no platform maths); nothing
//! iterates a hash map; no wall clock reaches a file (it only times the summary line). Usage is
//! built hour by hour and each file is written as soon as it is full, so memory is bounded by
//! about two files of rows whatever the total.

mod scenarios;

use crate::calendar::{add_months_clamped, day_start_of_date, from_local, local, parse_date, Ts};
use crate::calendar::{DAY, HOUR, MICROS_PER_SECOND};
use crate::cli::GenerateArgs;
use crate::error::{Error, Result};
use crate::money::to_mantissa;
use crate::output::{
    bool_col, dec_col, frame, i32_col, narrow_dec_col, str_col, ts_col, write_parquet,
};
use chrono::{Datelike, Weekday};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::Instant;

const PART: &str = "part-00000.parquet";
const SECOND: i64 = MICROS_PER_SECOND;

/// Writes the dataset described by `args` and prints a one-line summary to stderr.
pub fn run(args: &GenerateArgs) -> Result<()> {
    let t0 = Instant::now();
    let s = generate(args)?;
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "reckon generate: {} usage rows in {} files, {} accounts, {} packages, {} subscriptions, \
         {} events, {} payments in {:.1} s ({:.0} rows/s) → {}",
        s.usage_rows,
        s.usage_files,
        s.accounts,
        s.packages,
        s.subscriptions,
        s.events,
        s.payments,
        secs,
        s.usage_rows as f64 / secs.max(1e-9),
        args.output.display()
    );
    Ok(())
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub usage_rows: u64,
    pub usage_files: usize,
    pub accounts: usize,
    pub packages: usize,
    pub subscriptions: usize,
    pub events: usize,
    pub payments: usize,
}

/// Writes every table under `args.output` (removing `part-*.parquet` files a previous run left
/// in those table directories, so no stale part survives).
pub fn generate(args: &GenerateArgs) -> Result<Summary> {
    let end = parse_date(&args.end)
        .ok_or_else(|| Error::Usage(format!("--end `{}` is not YYYY-MM-DD", args.end)))?;
    if args.days == 0 || args.days > 3660 {
        return Err(Error::Usage("--days must be between 1 and 3660".into()));
    }
    if args.rows_per_file == 0 {
        return Err(Error::Usage("--rows-per-file must be at least 1".into()));
    }
    let range_end = day_start_of_date(end);
    let range = Range {
        start: range_end - args.days as i64 * DAY,
        end: range_end,
        days: args.days,
    };
    for t in crate::input::TABLES {
        clear_parts(&args.output.join(t))?;
    }

    let mut g = Gen::new(args.seed, range);
    for i in 0..args.accounts {
        g.account(i);
    }
    g.finish_shares();
    let mut extra_usage = Vec::new();
    if args.scenarios {
        scenarios::add(range, &mut g.tables, &mut extra_usage);
    }
    let t = &g.tables;
    let mut summary = Summary {
        usage_rows: 0,
        usage_files: 0,
        accounts: t.accounts.len(),
        packages: t.packages.len(),
        subscriptions: t.subscriptions.len(),
        events: t.events.len(),
        payments: t.payments.len(),
    };
    write_tables(&args.output, t)?;

    let uins = std::mem::take(&mut g.uins);
    let mut instances = std::mem::take(&mut g.instances);
    let (rows, files) = stream_usage(&args.output, args.rows_per_file, |sink| {
        for h in 0..range.hours() {
            let start = range.hour(h);
            let day = h / 24;
            let weekday = local(start).weekday();
            let hc = HourCtx {
                start,
                utc8_hour: h % 24,
                day,
                days: range.days,
                weekend: matches!(weekday, Weekday::Sat | Weekday::Sun),
            };
            for inst in instances.iter_mut() {
                if inst.first_hour <= h && h < inst.end_hour {
                    inst.emit(&hc, &uins[inst.account], sink)?;
                }
            }
        }
        for r in &extra_usage {
            sink.push(&r.as_row())?;
        }
        Ok(())
    })?;
    summary.usage_rows = rows;
    summary.usage_files = files;
    Ok(summary)
}

/// Removes `part-*.parquet` files directly inside `dir` (the generator's own file names).
fn clear_parts(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("part-") && name.ends_with(".parquet") && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Time.

/// The generated days `[start, end)`, both UTC+8 midnights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub start: Ts,
    pub end: Ts,
    pub days: u32,
}

impl Range {
    fn hours(&self) -> u32 {
        self.days * 24
    }

    fn hour(&self, h: u32) -> Ts {
        self.start + h as i64 * HOUR
    }

    /// Hour index of the first whole hour starting at or after `ts`, clamped to the range.
    fn hour_at_or_after(&self, ts: Ts) -> u32 {
        let h = (ts - self.start + HOUR - 1).div_euclid(HOUR);
        h.clamp(0, self.hours() as i64) as u32
    }

    fn len(&self) -> i64 {
        self.end - self.start
    }
}

/// `ts` plus `n` calendar months in UTC+8 (day clamped to the month's end).
pub(crate) fn add_months(ts: Ts, n: i32) -> Ts {
    from_local(add_months_clamped(local(ts), n))
}

/// Context of one generated hour.
struct HourCtx {
    start: Ts,
    /// Hour of day in UTC+8 (the range starts at a UTC+8 midnight).
    utc8_hour: u32,
    day: u32,
    days: u32,
    weekend: bool,
}

// ---------------------------------------------------------------------------------------------
// Static model data (names and prices as in `sample_data/catalog.toml`).

struct Region {
    id: &'static str,
    /// Local UTC offset in hours (the diurnal curve follows local time).
    utc_offset: i32,
    weight: u32,
}

/// Regions that have traffic prices in the catalog.
const REGIONS: [Region; 13] = [
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
const GUANGZHOU: usize = 0;
const HONGKONG: usize = 4;
const SINGAPORE: usize = 5;

/// Activity by local hour of day, per mille of the daily peak (trough before dawn, peak at 20:00).
const DIURNAL: [u64; 24] = [
    420, 330, 270, 240, 230, 260, 340, 480, 660, 820, 910, 950, 930, 920, 950, 970, 960, 940, 950,
    990, 1000, 960, 820, 600,
];
/// Mean of [`DIURNAL`], per mille (for spend estimates).
const DIURNAL_MEAN: u64 = 743;

/// Pay-by-traffic products: (product, sub_product, instance id prefix, weight).
const TRAFFIC_PRODUCTS: [(&str, &str, &str, u32); 4] = [
    ("cvm", "standard", "ins-", 45),
    ("eip", "eip", "eip-", 25),
    ("clb", "clb-public", "lb-", 15),
    ("lighthouse", "lighthouse", "lhins-", 15),
];

/// Mini-program gateway plans: (plan, max QPS, max Mbps, list CNY per month).
pub(crate) const MPGW_PLANS: [(&str, u64, u64, i64); 8] = [
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
pub(crate) const APIGW_PLANS: [(&str, u64, i64, i64, i64, i64); 5] = [
    ("basic", 2500, 368_000, 594, 368_000, 594),
    ("professional", 5000, 728_540, 1176, 998_000, 1611),
    ("enterprise", 10000, 1_400_420, 2260, 2_858_000, 4612),
    ("platinum", 20000, 2_573_100, 4153, 5_718_000, 9228),
    ("diamond", 50000, 5_004_300, 8076, 14_298_000, 23_075),
];

/// (monthly, hourly) price in cents of an API gateway plan bought at `at`.
fn apigw_price(plan: usize, at: Ts) -> (i64, i64) {
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

fn nice(target: u64) -> u64 {
    NICE.iter()
        .copied()
        .find(|&n| n >= target)
        .unwrap_or(NICE[NICE.len() - 1])
}

fn nice_calls(target: u64) -> u64 {
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

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

// ---------------------------------------------------------------------------------------------
// Small tables, as rows.

#[derive(Debug, Clone)]
pub(crate) struct PackageRow {
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
pub(crate) struct ScopeRow {
    pub package_id: String,
    pub product: &'static str,
    pub billing_item: &'static str,
    pub coefficient: Decimal,
}

#[derive(Debug, Clone)]
pub(crate) struct AccountRow {
    pub owner_uin: String,
    pub opening_balance: Decimal,
    pub opening_at: Ts,
    pub apigw_activated_at: Option<Ts>,
}

#[derive(Debug, Clone)]
pub(crate) struct PaymentRow {
    pub payment_id: String,
    pub owner_uin: String,
    pub paid_at: Ts,
    pub amount: Decimal,
}

#[derive(Debug, Clone)]
pub(crate) struct SubscriptionRow {
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
}

#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub event_id: String,
    pub kind: &'static str,
    pub target_id: String,
    pub at: Ts,
    pub new_plan: Option<&'static str>,
    pub months: Option<i32>,
}

/// Every table but usage, in file order.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub packages: Vec<PackageRow>,
    pub scopes: Vec<ScopeRow>,
    pub accounts: Vec<AccountRow>,
    pub payments: Vec<PaymentRow>,
    pub subscriptions: Vec<SubscriptionRow>,
    pub events: Vec<EventRow>,
}

/// A hand-written usage row (scenarios); `quantity` is exact at scale 9.
#[derive(Debug, Clone)]
pub(crate) struct UsageRow {
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

impl UsageRow {
    fn as_row(&self) -> Row<'_> {
        Row {
            id: Some(&self.usage_id),
            owner: self.owner_uin,
            region: self.region,
            product: self.product,
            sub_product: self.sub_product,
            instance_id: self.instance_id,
            billing_item: self.billing_item,
            start: self.start,
            end: self.end,
            quantity: to_mantissa(self.quantity, 9),
            unit: self.unit,
            direction: self.direction,
            accelerated: self.accelerated,
        }
    }
}

/// The two API gateway free-quota packages of an account activated at `at` (RULES.md §4.1):
/// periodic, cycle `30d`, 12 cycles, all regions, 1,000,000 calls and 1 GB of egress per cycle.
pub(crate) fn free_quota(uin: &str, at: Ts, ids: [String; 2]) -> ([PackageRow; 2], [ScopeRow; 2]) {
    let [calls_id, egress_id] = ids;
    let pkg = |id: &str, name: &str, sub, cap: i64, unit| PackageRow {
        package_id: id.to_string(),
        package_name: name.to_string(),
        owner_uin: uin.to_string(),
        product: "apigw",
        sub_product: sub,
        kind: "periodic",
        source: "free",
        order_type: "new",
        region: "*",
        capacity: Some(Decimal::from(cap)),
        unit,
        cycle: Some("30d"),
        idle_only: false,
        purchased_at: None,
        effective_at: at,
        expires_at: at + 12 * 30 * DAY,
        activated: true,
        refunded_at: None,
        price_paid: Decimal::ZERO,
        voucher_amount: Decimal::ZERO,
        share_uins: None,
    };
    let scope = |id: &str, item| ScopeRow {
        package_id: id.to_string(),
        product: "apigw",
        billing_item: item,
        coefficient: Decimal::ONE,
    };
    (
        [
            pkg(
                &calls_id,
                "API Gateway free quota: calls",
                "free-calls",
                1_000_000,
                "call",
            ),
            pkg(
                &egress_id,
                "API Gateway free quota: egress",
                "free-traffic",
                1,
                "GB",
            ),
        ],
        [
            scope(&calls_id, "calls"),
            scope(&egress_id, "egress_traffic"),
        ],
    )
}

fn write_tables(out: &Path, t: &Tables) -> Result<()> {
    let write = |table: &str, height: usize, cols: Vec<Column>| -> Result<()> {
        let mut df = frame(height, cols)?;
        write_parquet(&out.join(table).join(PART), &mut df)?;
        Ok(())
    };
    let p = &t.packages;
    write(
        "packages",
        p.len(),
        vec![
            str_col("package_id", p.iter().map(|r| Some(r.package_id.as_str()))),
            str_col(
                "package_name",
                p.iter().map(|r| Some(r.package_name.as_str())),
            ),
            str_col("owner_uin", p.iter().map(|r| Some(r.owner_uin.as_str()))),
            str_col("product", p.iter().map(|r| Some(r.product))),
            str_col("sub_product", p.iter().map(|r| Some(r.sub_product))),
            str_col("kind", p.iter().map(|r| Some(r.kind))),
            str_col("source", p.iter().map(|r| Some(r.source))),
            str_col("order_type", p.iter().map(|r| Some(r.order_type))),
            str_col("region", p.iter().map(|r| Some(r.region))),
            dec_col("capacity", 9, p.iter().map(|r| r.capacity)),
            str_col("unit", p.iter().map(|r| Some(r.unit))),
            str_col("cycle", p.iter().map(|r| r.cycle)),
            bool_col("idle_only", p.iter().map(|r| Some(r.idle_only))),
            ts_col("purchased_at", p.iter().map(|r| r.purchased_at)),
            ts_col("effective_at", p.iter().map(|r| Some(r.effective_at))),
            ts_col("expires_at", p.iter().map(|r| Some(r.expires_at))),
            bool_col("activated", p.iter().map(|r| Some(r.activated))),
            ts_col("refunded_at", p.iter().map(|r| r.refunded_at)),
            dec_col("price_paid", 8, p.iter().map(|r| Some(r.price_paid))),
            dec_col(
                "voucher_amount",
                8,
                p.iter().map(|r| Some(r.voucher_amount)),
            ),
            str_col("share_uins", p.iter().map(|r| r.share_uins.as_deref())),
        ],
    )?;
    let s = &t.scopes;
    write(
        "package_scope",
        s.len(),
        vec![
            str_col("package_id", s.iter().map(|r| Some(r.package_id.as_str()))),
            str_col("product", s.iter().map(|r| Some(r.product))),
            str_col("billing_item", s.iter().map(|r| Some(r.billing_item))),
            narrow_dec_col("coefficient", 18, 9, s.iter().map(|r| Some(r.coefficient))),
        ],
    )?;
    let a = &t.accounts;
    write(
        "accounts",
        a.len(),
        vec![
            str_col("owner_uin", a.iter().map(|r| Some(r.owner_uin.as_str()))),
            dec_col(
                "opening_balance",
                8,
                a.iter().map(|r| Some(r.opening_balance)),
            ),
            ts_col("opening_at", a.iter().map(|r| Some(r.opening_at))),
            ts_col("apigw_activated_at", a.iter().map(|r| r.apigw_activated_at)),
        ],
    )?;
    let p = &t.payments;
    write(
        "payments",
        p.len(),
        vec![
            str_col("payment_id", p.iter().map(|r| Some(r.payment_id.as_str()))),
            str_col("owner_uin", p.iter().map(|r| Some(r.owner_uin.as_str()))),
            ts_col("paid_at", p.iter().map(|r| Some(r.paid_at))),
            dec_col("amount", 8, p.iter().map(|r| Some(r.amount))),
        ],
    )?;
    let s = &t.subscriptions;
    write(
        "subscriptions",
        s.len(),
        vec![
            str_col(
                "subscription_id",
                s.iter().map(|r| Some(r.subscription_id.as_str())),
            ),
            str_col("owner_uin", s.iter().map(|r| Some(r.owner_uin.as_str()))),
            str_col("product", s.iter().map(|r| Some(r.product))),
            str_col("plan", s.iter().map(|r| Some(r.plan))),
            str_col("region", s.iter().map(|r| Some(r.region))),
            str_col("billing_mode", s.iter().map(|r| Some(r.billing_mode))),
            ts_col("started_at", s.iter().map(|r| Some(r.started_at))),
            ts_col("expires_at", s.iter().map(|r| r.expires_at)),
            ts_col("released_at", s.iter().map(|r| r.released_at)),
            dec_col("list_price", 8, s.iter().map(|r| Some(r.list_price))),
            narrow_dec_col("discount", 9, 6, s.iter().map(|r| Some(r.discount))),
            dec_col("price_paid", 8, s.iter().map(|r| Some(r.price_paid))),
            ts_col("elastic_on_at", s.iter().map(|r| r.elastic_on_at)),
            ts_col("elastic_off_at", s.iter().map(|r| r.elastic_off_at)),
            i32_col("attached_apps", s.iter().map(|r| Some(r.attached_apps))),
        ],
    )?;
    let e = &t.events;
    write(
        "events",
        e.len(),
        vec![
            str_col("event_id", e.iter().map(|r| Some(r.event_id.as_str()))),
            str_col("kind", e.iter().map(|r| Some(r.kind))),
            str_col("target_id", e.iter().map(|r| Some(r.target_id.as_str()))),
            ts_col("at", e.iter().map(|r| Some(r.at))),
            str_col("new_plan", e.iter().map(|r| r.new_plan)),
            i32_col("months", e.iter().map(|r| r.months)),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Usage: rows streamed into files of bounded size.

/// One usage row by reference; `id: None` takes the next generated id (`u` + 11 digits).
struct Row<'a> {
    id: Option<&'a str>,
    owner: &'a str,
    region: &'a str,
    product: &'a str,
    sub_product: &'a str,
    instance_id: &'a str,
    billing_item: &'a str,
    start: Ts,
    end: Ts,
    /// Mantissa at scale 9.
    quantity: i128,
    unit: &'a str,
    direction: Option<&'a str>,
    accelerated: bool,
}

/// Column builders of one usage file.
struct UsageCols {
    len: usize,
    id: StringChunkedBuilder,
    owner: StringChunkedBuilder,
    region: StringChunkedBuilder,
    product: StringChunkedBuilder,
    sub_product: StringChunkedBuilder,
    instance_id: StringChunkedBuilder,
    billing_item: StringChunkedBuilder,
    start: Vec<i64>,
    end: Vec<i64>,
    quantity: Vec<i128>,
    unit: StringChunkedBuilder,
    direction: StringChunkedBuilder,
    accelerated: Vec<bool>,
}

impl UsageCols {
    fn new(cap: usize) -> UsageCols {
        let b = |name: &str| StringChunkedBuilder::new(name.into(), cap);
        UsageCols {
            len: 0,
            id: b("usage_id"),
            owner: b("owner_uin"),
            region: b("region"),
            product: b("product"),
            sub_product: b("sub_product"),
            instance_id: b("instance_id"),
            billing_item: b("billing_item"),
            start: Vec::with_capacity(cap),
            end: Vec::with_capacity(cap),
            quantity: Vec::with_capacity(cap),
            unit: b("unit"),
            direction: b("direction"),
            accelerated: Vec::with_capacity(cap),
        }
    }

    fn into_frame(self) -> Result<DataFrame> {
        let ts = |name: &str, v: Vec<i64>| {
            Int64Chunked::from_vec(name.into(), v)
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column()
        };
        frame(
            self.len,
            vec![
                self.id.finish().into_column(),
                self.owner.finish().into_column(),
                self.region.finish().into_column(),
                self.product.finish().into_column(),
                self.sub_product.finish().into_column(),
                self.instance_id.finish().into_column(),
                self.billing_item.finish().into_column(),
                ts("usage_start", self.start),
                ts("usage_end", self.end),
                Int128Chunked::from_vec("quantity".into(), self.quantity)
                    .into_decimal_unchecked(38, 9)
                    .into_column(),
                self.unit.finish().into_column(),
                self.direction.finish().into_column(),
                BooleanChunked::from_slice("accelerated".into(), &self.accelerated).into_column(),
            ],
        )
    }
}

/// Collects usage rows and hands each full file to the writer thread.
struct UsageSink {
    dir: PathBuf,
    per_file: usize,
    tx: SyncSender<(PathBuf, DataFrame)>,
    cols: UsageCols,
    next_id: u64,
    rows: u64,
    files: usize,
}

impl UsageSink {
    fn capacity(&self) -> usize {
        self.per_file.min(1 << 22)
    }

    fn push(&mut self, r: &Row<'_>) -> Result<()> {
        let c = &mut self.cols;
        match r.id {
            Some(id) => c.id.append_value(id),
            None => {
                self.next_id += 1;
                let mut buf = *b"u00000000000";
                let mut n = self.next_id;
                for b in buf[1..].iter_mut().rev() {
                    *b = b'0' + (n % 10) as u8;
                    n /= 10;
                }
                c.id.append_value(std::str::from_utf8(&buf).expect("ascii digits"));
            }
        }
        c.owner.append_value(r.owner);
        c.region.append_value(r.region);
        c.product.append_value(r.product);
        c.sub_product.append_value(r.sub_product);
        c.instance_id.append_value(r.instance_id);
        c.billing_item.append_value(r.billing_item);
        c.start.push(r.start);
        c.end.push(r.end);
        c.quantity.push(r.quantity);
        c.unit.append_value(r.unit);
        c.direction.append_option(r.direction);
        c.accelerated.push(r.accelerated);
        c.len += 1;
        if c.len >= self.per_file {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let cap = self.capacity();
        let cols = std::mem::replace(&mut self.cols, UsageCols::new(cap));
        self.rows += cols.len as u64;
        let df = cols.into_frame()?;
        let path = self.dir.join(format!("part-{:05}.parquet", self.files));
        self.files += 1;
        self.tx.send((path, df)).map_err(|_| Error::Output {
            path: self.dir.clone(),
            message: "the usage writer stopped".into(),
        })
    }

    /// Writes the last partial file (or one empty file when there were no rows at all).
    fn finish(&mut self) -> Result<()> {
        if self.cols.len > 0 || self.files == 0 {
            self.flush()?;
        }
        Ok(())
    }
}

/// Runs `body` on a sink while a second thread encodes and writes the files; returns
/// (rows, files).
fn stream_usage(
    out: &Path,
    per_file: usize,
    body: impl FnOnce(&mut UsageSink) -> Result<()>,
) -> Result<(u64, usize)> {
    let dir = out.join("usage");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    // Capacity 0: at most one file being built and one being written.
    let (tx, rx) = sync_channel::<(PathBuf, DataFrame)>(0);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<()> {
            for (path, mut df) in rx {
                write_parquet(&path, &mut df)?;
            }
            Ok(())
        });
        let mut sink = UsageSink {
            dir: dir.clone(),
            per_file,
            tx,
            cols: UsageCols::new(per_file.min(1 << 22)),
            next_id: 0,
            rows: 0,
            files: 0,
        };
        let built = body(&mut sink).and_then(|()| sink.finish());
        let counts = (sink.rows, sink.files);
        drop(sink);
        let written = writer.join().map_err(|_| Error::Output {
            path: dir.clone(),
            message: "the usage writer panicked".into(),
        })?;
        written?;
        built?;
        Ok(counts)
    })
}

/// What an instance meters each hour.
enum Meter {
    /// API gateway: calls at the daily peak, egress per call (thousandths of KB), egress unit.
    Api {
        calls: u64,
        kb_milli_per_call: u64,
        egress_mb: bool,
    },
    /// Pay-by-traffic public traffic (thousandths of MB per hour at the daily peak).
    Traffic {
        mb_milli: u64,
        in_gb: bool,
        /// Share (per mille) of outbound traffic to mainland China, on an accelerated instance.
        to_mainland_pm: Option<u64>,
        /// An extra free row: `inbound` or `internal`.
        extra: Option<&'static str>,
        explicit_outbound: bool,
    },
    /// Mini-program gateway plan peaks; `load_pm` of the plan's limits at the daily peak.
    Peaks { qps: u64, mbps: u64, load_pm: u64 },
}

struct Instance {
    account: usize,
    product: &'static str,
    sub_product: &'static str,
    region: usize,
    id: String,
    first_hour: u32,
    end_hour: u32,
    /// Change over the whole range, per mille.
    trend_pm: i64,
    weekend_pm: u64,
    rng: ChaCha8Rng,
    meter: Meter,
}

/// `x` in thousandths of a unit → scale-9 mantissa, optionally divided by 1024 (next unit up).
fn mantissa(milli: u64, up: bool) -> i128 {
    let m = milli as i128 * 1_000_000;
    if up {
        m / 1024
    } else {
        m
    }
}

impl Instance {
    fn emit(&mut self, hc: &HourCtx, owner: &str, sink: &mut UsageSink) -> Result<()> {
        let region = &REGIONS[self.region];
        let lh = (hc.utc8_hour as i32 + region.utc_offset - 8).rem_euclid(24) as usize;
        let trend = (1000 + self.trend_pm * hc.day as i64 / hc.days.max(1) as i64).max(100) as u128;
        let weekend = if hc.weekend { self.weekend_pm } else { 1000 } as u128;
        let mut noise = self.rng.gen_range(800..1200u64) as u128;
        if self.rng.gen_range(0..1000u32) < 3 {
            noise *= self.rng.gen_range(2..6u64) as u128;
        }
        // Four per-mille factors: divide by 10^12.
        let f = DIURNAL[lh] as u128 * trend * weekend * noise;
        let scale = |base: u64| (base as u128 * f / 1_000_000_000_000) as u64;
        let jitter = self.rng.gen_range(950..1050u64);
        let mut row = Row {
            id: None,
            owner,
            region: region.id,
            product: self.product,
            sub_product: self.sub_product,
            instance_id: &self.id,
            billing_item: "",
            start: hc.start,
            end: hc.start + HOUR,
            quantity: 0,
            unit: "",
            direction: None,
            accelerated: false,
        };
        match self.meter {
            Meter::Api {
                calls,
                kb_milli_per_call,
                egress_mb,
            } => {
                let calls = scale(calls);
                if calls == 0 {
                    return Ok(());
                }
                row.billing_item = "calls";
                row.quantity = calls as i128 * 1_000_000_000;
                row.unit = "call";
                sink.push(&row)?;
                let kb_milli = calls * kb_milli_per_call * jitter / 1000;
                row.billing_item = "egress_traffic";
                row.quantity = mantissa(kb_milli, egress_mb);
                row.unit = if egress_mb { "MB" } else { "KB" };
                sink.push(&row)
            }
            Meter::Traffic {
                mb_milli,
                in_gb,
                to_mainland_pm,
                extra,
                explicit_outbound,
            } => {
                let mb = scale(mb_milli);
                if mb == 0 {
                    return Ok(());
                }
                row.billing_item = "public_traffic";
                row.unit = if in_gb { "GB" } else { "MB" };
                let outbound = match to_mainland_pm {
                    Some(pm) => {
                        let tm = mb * pm / 1000;
                        row.quantity = mantissa(tm, in_gb);
                        row.direction = Some("to_mainland");
                        row.accelerated = true;
                        sink.push(&row)?;
                        mb - tm
                    }
                    None => mb,
                };
                row.quantity = mantissa(outbound, in_gb);
                row.direction = explicit_outbound.then_some("outbound");
                sink.push(&row)?;
                if let Some(dir) = extra {
                    row.quantity = mantissa(mb * 3 / 10 * jitter / 1000, in_gb);
                    row.direction = Some(dir);
                    sink.push(&row)?;
                }
                Ok(())
            }
            Meter::Peaks { qps, mbps, load_pm } => {
                // Peaks rarely exceed the plan by more than 60 %.
                let load = |cap: u64| {
                    (cap as u128 * load_pm as u128 * f / 1_000_000_000_000_000)
                        .min(cap as u128 * 16 / 10)
                };
                row.billing_item = "peak_qps";
                row.quantity = load(qps) as i128 * 1_000_000_000;
                row.unit = "QPS";
                sink.push(&row)?;
                row.billing_item = "peak_bandwidth";
                row.quantity = load(mbps * 1000) as i128 * 1_000_000;
                row.unit = "Mbps";
                sink.push(&row)
            }
        }
    }

    /// Rough pay-as-you-go spend of the instance over its life, in micro-CNY.
    fn spend_estimate(&self) -> i128 {
        let hours = (self.end_hour - self.first_hour) as i128;
        let mean = DIURNAL_MEAN as i128;
        let per_hour = match self.meter {
            // 0.06 CNY per 10,000 calls = 6 µCNY per call; 0.80 CNY per GB ≈ 0.763 µCNY per KB.
            Meter::Api {
                calls,
                kb_milli_per_call,
                ..
            } => {
                let c = calls as i128 * mean / 1000;
                c * 6 + c * kb_milli_per_call as i128 * 763 / 1_000_000
            }
            // ≈ 781 µCNY per MB.
            Meter::Traffic { mb_milli, .. } => mb_milli as i128 * mean / 1000 * 781 / 1000,
            // Elastic fee (0.999 CNY per QPS above the plan, per day), if the peak exceeds it.
            Meter::Peaks { qps, load_pm, .. } => {
                let excess = (qps as i128 * (load_pm as i128 * 12 / 10 - 1000) / 1000).max(0);
                excess * 1_000_000 / 24
            }
        };
        per_hour * hours
    }

    /// Mean GB per 30 days (traffic instances), for sizing packages.
    fn gb_per_month(&self) -> u64 {
        match self.meter {
            Meter::Traffic { mb_milli, .. } => mb_milli * DIURNAL_MEAN / 1000 * 720 / 1000 / 1024,
            _ => 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The world: accounts, their instances, packages, subscriptions, events and payments.

/// Random helpers on the master stream.
trait Draw {
    fn chance(&mut self, per_mille: u32) -> bool;
    fn pick(&mut self, weights: &[u32]) -> usize;
    /// A random instant in `[lo, hi)` on whole seconds (`lo` when empty).
    fn instant(&mut self, lo: Ts, hi: Ts) -> Ts;
    fn base36(&mut self, n: usize) -> String;
    /// One of `xs`, uniformly (indices drawn as `u32`, so 32- and 64-bit targets agree).
    fn one_of<T: Copy>(&mut self, xs: &[T]) -> T;
}

impl Draw for ChaCha8Rng {
    fn chance(&mut self, per_mille: u32) -> bool {
        self.gen_range(0..1000u32) < per_mille
    }

    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.gen_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn instant(&mut self, lo: Ts, hi: Ts) -> Ts {
        let secs = (hi - lo) / SECOND;
        if secs <= 0 {
            return lo;
        }
        lo + self.gen_range(0..secs) * SECOND
    }

    fn one_of<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.gen_range(0..xs.len() as u32) as usize]
    }

    fn base36(&mut self, n: usize) -> String {
        const A: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..n)
            .map(|_| A[self.gen_range(0..A.len() as u32) as usize] as char)
            .collect()
    }
}

/// Number of instances of an account: Pareto with α = 1, `floor(1/U)`, 1 to 64.
fn pareto_size(rng: &mut ChaCha8Rng) -> usize {
    let u = rng.gen::<u32>() as u64 + 1;
    ((1u64 << 32) / u).clamp(1, 64) as usize
}

/// A per-account summary of traffic by region, for sizing packages.
#[derive(Default)]
struct RegionTraffic {
    gb_month: u64,
    accelerated_gb_month: u64,
    accelerated_products: BTreeSet<&'static str>,
}

struct Gen {
    rng: ChaCha8Rng,
    range: Range,
    uins: Vec<String>,
    instances: Vec<Instance>,
    tables: Tables,
    taken: BTreeSet<String>,
    next_pkg: u64,
    next_event: u64,
    next_payment: u64,
}

impl Gen {
    fn new(seed: u64, range: Range) -> Gen {
        Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            range,
            uins: Vec::new(),
            instances: Vec::new(),
            tables: Tables::default(),
            taken: BTreeSet::new(),
            next_pkg: 0,
            next_event: 0,
            next_payment: 0,
        }
    }

    fn unique_id(&mut self, prefix: &str) -> String {
        loop {
            let id = format!("{prefix}{}", self.rng.base36(8));
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }

    fn pkg_id(&mut self) -> String {
        self.next_pkg += 1;
        format!("pkg-{:07}", self.next_pkg)
    }

    fn event(
        &mut self,
        kind: &'static str,
        target: &str,
        at: Ts,
        plan: Option<&'static str>,
        months: Option<i32>,
    ) {
        self.next_event += 1;
        self.tables.events.push(EventRow {
            event_id: format!("evt-{:06}", self.next_event),
            kind,
            target_id: target.to_string(),
            at,
            new_plan: plan,
            months,
        });
    }

    fn payment(&mut self, uin: &str, at: Ts, yuan: i64) {
        self.next_payment += 1;
        self.tables.payments.push(PaymentRow {
            payment_id: format!("pay-{:06}", self.next_payment),
            owner_uin: uin.to_string(),
            paid_at: at,
            amount: Decimal::from(yuan.max(1)),
        });
    }

    fn instance(
        &mut self,
        account: usize,
        region: usize,
        product: &'static str,
        sub: &'static str,
        id: String,
        meter: Meter,
    ) -> Instance {
        let hours = self.range.hours();
        let rng = &mut self.rng;
        let (first_hour, end_hour) = match rng.gen_range(0..100u32) {
            0..=79 => (0, hours),
            80..=91 => (rng.gen_range(0..hours), hours),
            _ => {
                let f = rng.gen_range(0..hours);
                (f, rng.gen_range(f + 1..=hours))
            }
        };
        Instance {
            account,
            product,
            sub_product: sub,
            region,
            id,
            first_hour,
            end_hour,
            trend_pm: rng.gen_range(-300..600),
            weekend_pm: rng.gen_range(800..1150),
            rng: ChaCha8Rng::seed_from_u64(rng.gen()),
            meter,
        }
    }

    /// One ordinary account with everything it owns. Accounts 0–3 are given fixed features so
    /// that even a small dataset has every package kind, product and event kind.
    fn account(&mut self, i: usize) {
        let range = self.range;
        let uin = format!(
            "{}",
            100_000_000_000u64 + i as u64 * 1000 + self.rng.gen_range(0..1000u64)
        );
        self.uins.push(uin.clone());
        let size = if i < 3 {
            pareto_size(&mut self.rng).max(3)
        } else {
            pareto_size(&mut self.rng)
        };
        let rng = &mut self.rng;
        let (mut api, mut traffic, mut mpgw) = (rng.chance(450), rng.chance(700), rng.chance(100));
        match i {
            0 | 2 => (api, traffic) = (true, true),
            1 => (mpgw, traffic) = (true, true),
            _ => {}
        }
        if !(api || traffic || mpgw) {
            traffic = true;
        }
        let weights: Vec<u32> = REGIONS.iter().map(|r| r.weight).collect();
        let home = match i {
            0 => GUANGZHOU,
            2 => HONGKONG,
            _ => rng.pick(&weights),
        };
        // API gateway activation: a quarter inside the range, the rest up to ~500 days before.
        let activated = api.then(|| {
            if rng.chance(250) {
                rng.instant(range.start, range.end - HOUR)
            } else {
                let day = range.start - rng.gen_range(1..500) * DAY;
                rng.instant(day, day + DAY)
            }
        });
        let mut spend: i128 = 0;
        let mut purchases_cents: i64 = 0;
        let mut earliest = range.start;
        if let Some(a) = activated {
            earliest = earliest.min(a);
        }

        // Instances.
        let doublings = 8 + (size.min(32) / 4) as u32;
        let mut by_region: BTreeMap<usize, RegionTraffic> = BTreeMap::new();
        let mut first_traffic = true;
        let mut api_count = 0;
        for k in 0..size {
            let rng = &mut self.rng;
            let is_api = match (api, traffic) {
                (true, true) => {
                    if k == 0 {
                        true
                    } else if k == 1 {
                        false
                    } else {
                        rng.chance(300)
                    }
                }
                (a, _) => a,
            };
            if !is_api && !traffic {
                break; // mini-program gateway only
            }
            let region = if rng.chance(750) {
                home
            } else {
                rng.pick(&weights)
            };
            let inst = if is_api {
                api_count += 1;
                let calls = (10u64 << rng.gen_range(0..doublings.min(14)))
                    * rng.gen_range(1000..2000)
                    / 1000;
                let meter = Meter::Api {
                    calls,
                    kb_milli_per_call: rng.gen_range(500..8000),
                    egress_mb: rng.chance(400),
                };
                let id = self.unique_id("service-");
                let mut inst = self.instance(i, region, "apigw", "shared-instance", id, meter);
                // No API calls before the gateway is activated.
                if let Some(a) = activated {
                    inst.first_hour = inst.first_hour.max(range.hour_at_or_after(a));
                    inst.end_hour = inst.end_hour.max(inst.first_hour);
                }
                inst
            } else {
                let tw: Vec<u32> = TRAFFIC_PRODUCTS.iter().map(|p| p.3).collect();
                let (force_accel, region) = if i == 2 && first_traffic {
                    (true, HONGKONG)
                } else {
                    (false, region)
                };
                let pi = if force_accel { 1 } else { rng.pick(&tw) };
                let (product, sub, prefix, _) = TRAFFIC_PRODUCTS[pi];
                let accel_ok = matches!(region, HONGKONG | SINGAPORE) && pi <= 1;
                let to_mainland_pm =
                    (force_accel || (accel_ok && rng.chance(350))).then(|| rng.gen_range(300..800));
                let extra = match rng.gen_range(0..100u32) {
                    0..=14 => Some("inbound"),
                    15..=19 => Some("internal"),
                    _ => None,
                };
                let meter = Meter::Traffic {
                    mb_milli: (1000u64 << rng.gen_range(0..doublings.min(14)))
                        * rng.gen_range(1000..2000)
                        / 1000,
                    in_gb: rng.chance(if pi <= 1 { 500 } else { 300 }),
                    to_mainland_pm,
                    extra,
                    explicit_outbound: rng.chance(300),
                };
                first_traffic = false;
                let id = self.unique_id(prefix);
                self.instance(i, region, product, sub, id, meter)
            };
            spend += inst.spend_estimate();
            if let Meter::Traffic { to_mainland_pm, .. } = inst.meter {
                let rt = by_region.entry(inst.region).or_default();
                let gb = inst.gb_per_month();
                rt.gb_month += gb;
                if let Some(pm) = to_mainland_pm {
                    rt.accelerated_gb_month += gb * pm / 1000;
                    rt.accelerated_products.insert(inst.product);
                }
            }
            self.instances.push(inst);
        }
        let api_calls_month: u64 = self
            .instances
            .iter()
            .rev()
            .take_while(|x| x.account == i)
            .map(|x| match x.meter {
                Meter::Api { calls, .. } => calls * DIURNAL_MEAN / 1000 * 720,
                _ => 0,
            })
            .sum();

        // Packages.
        let first_pkg = self.tables.packages.len();
        if let Some(a) = activated {
            let ids = [self.pkg_id(), self.pkg_id()];
            let (p, s) = free_quota(&uin, a, ids);
            self.tables.packages.extend(p);
            self.tables.scopes.extend(s);
        }
        if api_count > 0 {
            self.api_packages(
                i,
                &uin,
                api_calls_month.max(1),
                activated.unwrap_or(range.start),
            );
        }
        for (k, (&region, rt)) in by_region.iter().enumerate().take(3) {
            self.traffic_packages(i, &uin, REGIONS[region].id, rt, k == 0);
        }
        for p in &self.tables.packages[first_pkg..] {
            purchases_cents += (p.price_paid * Decimal::from(100)).to_i64().unwrap_or(0);
            earliest = earliest.min(p.purchased_at.unwrap_or(p.effective_at));
        }

        // Subscriptions.
        if mpgw {
            let plans = if size > 8 { 2 } else { 1 };
            for k in 0..plans {
                let (paid, started) = self.mpgw_plan(i, &uin, home, i == 1 && k == 0);
                purchases_cents += paid;
                earliest = earliest.min(started);
            }
        }
        // Account 0 has a monthly dedicated instance, account 2 an hourly one.
        let forced_mode = match i {
            0 => Some(true),
            2 => Some(false),
            _ => None,
        };
        if api && (self.rng.chance(120) || forced_mode.is_some()) {
            let (paid, started, inst) = self.apigw_dedicated(i, &uin, home, forced_mode);
            purchases_cents += paid;
            earliest = earliest.min(started);
            spend += inst.spend_estimate();
            self.instances.push(inst);
        }

        // Refund requests on a few purchased packages.
        let candidates: Vec<(String, Ts, Ts)> = self.tables.packages[first_pkg..]
            .iter()
            .filter(|p| p.source == "purchased" && p.activated && p.refunded_at.is_none())
            .map(|p| (p.package_id.clone(), p.effective_at, p.expires_at))
            .collect();
        for (k, (id, eff, exp)) in candidates.iter().enumerate() {
            let lo = (*eff).max(range.start);
            let hi = (*exp).min(range.end);
            if lo < hi && (self.rng.chance(50) || (i == 0 && k == 0)) {
                let at = self.rng.instant(lo, hi);
                self.event("refund", id, at, None, None);
            }
        }

        // Balance: most accounts hold two to four times their estimated spend; one in eight (and
        // account 3) much less, so it falls into arrears; half of those top up later.
        let spend_yuan = (spend / 1_000_000) as i64 + purchases_cents / 100;
        let rng = &mut self.rng;
        let low = i == 3 || (i > 3 && rng.chance(125));
        let opening_at = {
            let day = crate::calendar::day_start(earliest) - rng.gen_range(1..30) * DAY;
            rng.instant(day, day + DAY)
        };
        let opening = if low {
            cents((spend_yuan * rng.gen_range(5..30)).max(100))
        } else {
            Decimal::from((spend_yuan * rng.gen_range(20..40) / 10 / 100 + 2) * 100)
        };
        self.tables.accounts.push(AccountRow {
            owner_uin: uin.clone(),
            opening_balance: opening,
            opening_at,
            apigw_activated_at: activated,
        });
        if low {
            if i == 3 || self.rng.chance(500) {
                let at = self.rng.instant(
                    range.start + range.len() * 2 / 5,
                    range.start + range.len() * 4 / 5,
                );
                let amount = (spend_yuan * self.rng.gen_range(15..25) / 10 / 100 + 1) * 100;
                self.payment(&uin, at, amount);
            }
        } else {
            for _ in 0..self.rng.gen_range(0..4u32) {
                let at = self.rng.instant(range.start, range.end);
                let amount = self.rng.one_of(&[100, 200, 500, 1000, 2000, 5000]);
                self.payment(&uin, at, amount);
            }
        }
    }

    /// Shares the packages marked with an empty share list with the next one or two accounts
    /// (their uins are only known once every account exists).
    fn finish_shares(&mut self) {
        let index: BTreeMap<&str, usize> = self
            .uins
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        for p in &mut self.tables.packages {
            if p.share_uins.as_deref() != Some("") {
                continue;
            }
            let i = index[p.owner_uin.as_str()];
            let others: Vec<&str> = self.uins[i + 1..]
                .iter()
                .take(1 + i % 2)
                .map(String::as_str)
                .collect();
            p.share_uins = (!others.is_empty()).then(|| others.join(","));
        }
    }

    /// Pushes one package (and its scopes) and returns its index.
    fn push_package(&mut self, p: PackageRow, scopes: &[(&'static str, &'static str)]) -> usize {
        for (product, item) in scopes {
            self.tables.scopes.push(ScopeRow {
                package_id: p.package_id.clone(),
                product,
                billing_item: item,
                coefficient: Decimal::ONE,
            });
        }
        self.tables.packages.push(p);
        self.tables.packages.len() - 1
    }

    /// A new package: purchased at `effective` (sometimes a little earlier, sometimes with the
    /// purchase instant left null), or one time in ten (always for `unlimited`) a free promotion;
    /// one in fifty is not activated.
    #[allow(clippy::too_many_arguments)]
    fn package(
        &mut self,
        uin: &str,
        (product, sub): (&'static str, &'static str),
        kind: &'static str,
        region: &'static str,
        capacity: Option<Decimal>,
        unit: &'static str,
        cycle: Option<&'static str>,
        (effective, expires): (Ts, Ts),
        price_cents: i64,
    ) -> PackageRow {
        let id = self.pkg_id();
        let rng = &mut self.rng;
        let promotion = rng.chance(100) || kind == "unlimited";
        let purchased_at = match rng.gen_range(0..10u32) {
            0 => None,
            1 | 2 => Some(effective - rng.gen_range(1..72 * 3600) * SECOND),
            _ => Some(effective),
        };
        let price = if promotion { 0 } else { price_cents.max(1) };
        let voucher = if price > 0 && rng.chance(150) {
            price * rng.gen_range(10..50) / 100
        } else {
            0
        };
        let cap_text = match capacity {
            Some(c) => format!("{c} {unit}"),
            None => "unlimited".to_string(),
        };
        let cycle_text = cycle.map(|c| format!(" per {c}")).unwrap_or_default();
        PackageRow {
            package_id: id,
            package_name: format!("{product}/{sub} {cap_text}{cycle_text} ({region})"),
            owner_uin: uin.to_string(),
            product,
            sub_product: sub,
            kind,
            source: if promotion { "promotion" } else { "purchased" },
            order_type: "new",
            region,
            capacity,
            unit,
            cycle,
            idle_only: false,
            purchased_at,
            effective_at: effective,
            expires_at: expires,
            activated: !rng.chance(20),
            refunded_at: None,
            price_paid: cents(price),
            voucher_amount: cents(voucher),
            share_uins: None,
        }
    }

    /// A validity of `months` starting at a random instant, chosen so that many packages start
    /// before the range and a good part expire inside it.
    fn validity(&mut self, months: i32) -> (Ts, Ts) {
        let r = self.range;
        let span = add_months(r.start, months) - r.start;
        let eff = self.rng.instant(r.start - span + DAY, r.end - DAY);
        (eff, add_months(eff, months))
    }

    fn api_packages(&mut self, i: usize, uin: &str, calls_month: u64, activated: Ts) {
        let range = self.range;
        let calls = [("apigw", "calls")];
        if self.rng.chance(300) || i == 0 {
            let cap = nice_calls(calls_month * self.rng.gen_range(5..30) / 10);
            let (eff, exp) = self.validity(12);
            let eff = eff.max(activated);
            let exp = exp.max(eff + DAY);
            let price = (cap / 10_000 * 5) as i64;
            let p = self.package(
                uin,
                ("apigw", "calls-pack"),
                "total",
                "*",
                Some(Decimal::from(cap)),
                "call",
                None,
                (eff, exp),
                price,
            );
            self.push_package(p, &calls);
        }
        if self.rng.chance(100) || i == 0 {
            let cap = nice_calls(calls_month / 2);
            let cycle = if self.rng.chance(500) { "1mo" } else { "30d" };
            let (eff, exp) = self.validity(6);
            let price = (cap / 10_000 * 4 * 6) as i64;
            let p = self.package(
                uin,
                ("apigw", "calls-monthly"),
                "periodic",
                "*",
                Some(Decimal::from(cap)),
                "call",
                Some(cycle),
                (eff, exp),
                price,
            );
            self.push_package(p, &calls);
        }
        if self.rng.chance(60) || i == 0 {
            // 50,000 calls in every natural hour, for three days.
            let eff = self
                .rng
                .instant(range.start, range.end - DAY.min(range.len() / 2));
            let p = self.package(
                uin,
                ("apigw", "calls-hourly"),
                "sliced",
                "*",
                Some(Decimal::from(50_000)),
                "call",
                Some("1h"),
                (eff, eff + 3 * DAY),
                900,
            );
            self.push_package(p, &calls);
        }
        if self.rng.chance(120) {
            let cap = nice(self.rng.gen_range(5..500));
            let (eff, exp) = self.validity(12);
            let p = self.package(
                uin,
                ("apigw", "traffic-pack"),
                "total",
                "*",
                Some(Decimal::from(cap)),
                "GB",
                None,
                (eff, exp),
                cap as i64 * 70,
            );
            self.push_package(p, &[("apigw", "egress_traffic")]);
        }
    }

    fn traffic_packages(
        &mut self,
        i: usize,
        uin: &str,
        region: &'static str,
        rt: &RegionTraffic,
        home: bool,
    ) {
        const ALL: [(&str, &str); 4] = [
            ("cvm", "public_traffic"),
            ("eip", "public_traffic"),
            ("clb", "public_traffic"),
            ("lighthouse", "public_traffic"),
        ];
        let force = i == 0 && home;
        let gb = rt.gb_month.max(1);
        let range = self.range;
        if self.rng.chance(600) || force {
            let months = self.rng.one_of(&[1, 1, 6, 12]);
            let cap = nice(gb * months as u64 * self.rng.gen_range(3..15) / 10);
            let (eff, exp) = self.validity(months);
            let price_per_gb =
                [75, 75, 70, 70, 65, 65, 65, 65, 65, 65, 65, 65, 60][months as usize];
            let (capacity, unit) =
                if cap >= 1000 && cap.is_multiple_of(1000) && self.rng.chance(500) {
                    (Decimal::from(cap / 1000), "TB")
                } else {
                    (Decimal::from(cap), "GB")
                };
            let mut p = self.package(
                uin,
                ("tp", "full-time"),
                "total",
                region,
                Some(capacity),
                unit,
                None,
                (eff, exp),
                cap as i64 * price_per_gb,
            );
            if force || self.rng.chance(40) {
                p.share_uins = Some(String::new()); // filled in by `finish_shares`
            }
            if self.rng.chance(20) && p.source == "purchased" {
                p.refunded_at = Some(self.rng.instant(eff.max(range.start), exp.min(range.end)));
            }
            let renew =
                (p.expires_at > range.start && p.expires_at < range.end && self.rng.chance(300))
                    .then(|| p.clone());
            let coef_clb = self.rng.chance(100);
            let k = self.push_package(p, &ALL);
            if coef_clb {
                // This package counts clb traffic at 1.5×.
                let id = self.tables.packages[k].package_id.clone();
                if let Some(s) = self
                    .tables
                    .scopes
                    .iter_mut()
                    .rev()
                    .find(|s| s.package_id == id && s.product == "clb")
                {
                    s.coefficient = Decimal::new(15, 1);
                }
            }
            if let Some(mut r) = renew {
                r.package_id = self.pkg_id();
                r.order_type = "renew";
                r.purchased_at = Some(r.expires_at - self.rng.gen_range(1..5 * 24 * 3600) * SECOND);
                r.effective_at = r.expires_at;
                r.expires_at = add_months(r.effective_at, months);
                r.share_uins = None;
                r.refunded_at = None;
                r.activated = true;
                self.push_package(r, &ALL);
            }
        }
        if self.rng.chance(250) || force {
            // Idle-only: night traffic is about a third of the day's.
            let cap = nice(gb / 3 * self.rng.gen_range(5..20) / 10);
            let (eff, exp) = self.validity(1);
            let mut p = self.package(
                uin,
                ("tp", "idle"),
                "total",
                region,
                Some(Decimal::from(cap)),
                "GB",
                None,
                (eff, exp),
                cap as i64 * 40,
            );
            p.idle_only = true;
            self.push_package(p, &ALL[..2]);
        }
        if self.rng.chance(150) || force {
            let (daily, count) = if self.rng.chance(500) || force {
                (true, 1 + force as u32)
            } else {
                (false, 1)
            };
            for k in 0..count {
                let hourly = !daily || k == 1;
                let (cycle, cap, days) = if hourly {
                    ("1h", nice(gb / 720 + 1), 7)
                } else {
                    ("1d", nice(gb / 30 + 1), 30)
                };
                let eff = self
                    .rng
                    .instant(range.start - days * DAY / 2, range.end - HOUR);
                let price = cap as i64 * days * if hourly { 24 * 20 } else { 55 };
                let p = self.package(
                    uin,
                    ("tp", if hourly { "hourly" } else { "daily" }),
                    "sliced",
                    region,
                    Some(Decimal::from(cap)),
                    "GB",
                    Some(cycle),
                    (eff, eff + days * DAY),
                    price,
                );
                self.push_package(p, &ALL);
            }
        }
        if self.rng.chance(150) || force {
            for cycle in if force {
                vec!["1mo", "1d"]
            } else {
                vec![self.rng.one_of(&["1mo", "1d"])]
            } {
                let (cap, months) = if cycle == "1mo" {
                    (nice(gb / 2 + 1), 3)
                } else {
                    (nice(gb / 60 + 1), 1)
                };
                let (eff, exp) = self.validity(months);
                let per = if cycle == "1mo" { 3 * 60 } else { 30 * 60 };
                let p = self.package(
                    uin,
                    ("tp", "periodic"),
                    "periodic",
                    region,
                    Some(Decimal::from(cap)),
                    "GB",
                    Some(cycle),
                    (eff, exp),
                    cap as i64 * per,
                );
                self.push_package(p, &ALL);
            }
        }
        if self.rng.chance(40) || force {
            // A promotional unlimited weekend-style package of two or three days.
            let eff = self.rng.instant(range.start, range.end - HOUR);
            let exp = eff + self.rng.gen_range(2..4) * DAY;
            let p = self.package(
                uin,
                ("tp", "unlimited"),
                "unlimited",
                region,
                None,
                "GB",
                None,
                (eff, exp),
                0,
            );
            self.push_package(p, &ALL);
        }
        if !rt.accelerated_products.is_empty() && (self.rng.chance(700) || i == 2) {
            let cap = nice(rt.accelerated_gb_month.max(1) * self.rng.gen_range(5..20) / 10);
            let months = self.rng.one_of(&[1, 12]);
            let (eff, exp) = self.validity(months);
            let scopes: Vec<(&'static str, &'static str)> = rt
                .accelerated_products
                .iter()
                .map(|p| (*p, "public_traffic"))
                .collect();
            let p = self.package(
                uin,
                ("qtp", "quality"),
                "total",
                region,
                Some(Decimal::from(cap)),
                "GB",
                None,
                (eff, exp),
                cap as i64 * 195,
            );
            self.push_package(p, &scopes);
        }
    }

    /// A mini-program gateway plan and its metered instance; returns (price paid plus the
    /// estimated elastic fees, in cents; start).
    fn mpgw_plan(&mut self, i: usize, uin: &str, home: usize, forced: bool) -> (i64, Ts) {
        let range = self.range;
        let id = self.unique_id("mpgw-");
        let rng = &mut self.rng;
        let plan = if forced {
            2
        } else {
            rng.pick(&[20, 25, 25, 15, 8, 4, 2, 1])
        };
        let months = if forced {
            1
        } else {
            rng.one_of(&[1, 1, 3, 6, 12])
        };
        let started = if forced {
            rng.instant(
                range.start + range.len() / 2 - 30 * DAY,
                range.start + range.len() / 2 - 29 * DAY,
            )
        } else {
            rng.instant(
                range.start - (months as i64 * 30 - 2) * DAY,
                range.end - DAY,
            )
        };
        let expires = add_months(started, months);
        let (name, qps, mbps, monthly) = MPGW_PLANS[plan];
        let discount = rng.one_of(&[1000, 1000, 900, 850]);
        let list = monthly * 100 * months as i64;
        let paid = list * discount / 1000;
        let elastic_on = (forced || rng.chance(500)).then(|| {
            let lo = started.max(range.start);
            rng.instant(lo, lo + 3 * DAY)
        });
        let elastic_off = elastic_on
            .filter(|_| rng.chance(200))
            .map(|on| on + rng.gen_range(2..10) * DAY);
        let attached = if rng.chance(300) {
            0
        } else {
            rng.gen_range(1..6)
        };
        let renew =
            expires > range.start && expires < range.end + 3 * DAY && (forced || rng.chance(500));
        let upgrade = plan + 1 < MPGW_PLANS.len() && (forced || rng.chance(300));
        self.tables.subscriptions.push(SubscriptionRow {
            subscription_id: id.clone(),
            owner_uin: uin.to_string(),
            product: "mpgw",
            plan: name,
            region: REGIONS[home].id,
            billing_mode: "monthly",
            started_at: started,
            expires_at: Some(expires),
            released_at: None,
            list_price: cents(list),
            discount: Decimal::new(discount, 3),
            price_paid: cents(paid),
            elastic_on_at: elastic_on,
            elastic_off_at: elastic_off,
            attached_apps: attached,
        });
        if upgrade {
            let lo = started.max(range.start);
            let hi = expires.min(range.end);
            let at = self.rng.instant(lo, lo + (hi - lo) / 2);
            self.event("upgrade", &id, at, Some(MPGW_PLANS[plan + 1].0), None);
        }
        if renew {
            let at = (expires - self.rng.gen_range(1..6) * DAY).max(started + HOUR);
            let m = self.rng.one_of(&[1, 1, 3]);
            self.event("renew", &id, at, None, Some(m));
        }
        let load_pm = self.rng.gen_range(250..1100);
        let meter = Meter::Peaks { qps, mbps, load_pm };
        let mut inst = self.instance(i, home, "mpgw", "elastic", id, meter);
        inst.first_hour = range.hour_at_or_after(started);
        inst.end_hour = if renew {
            range.hours()
        } else {
            range.hour_at_or_after(expires)
        };
        inst.end_hour = inst.end_hour.max(inst.first_hour);
        let elastic = if elastic_on.is_some() {
            (inst.spend_estimate() / 10_000) as i64
        } else {
            0
        };
        self.instances.push(inst);
        (paid + elastic, started)
    }

    /// An API gateway dedicated instance (monthly or hourly) and its metered instance; returns
    /// (price paid, or the hourly fees until release or the range end, in cents; start;
    /// instance).
    fn apigw_dedicated(
        &mut self,
        i: usize,
        uin: &str,
        home: usize,
        monthly: Option<bool>,
    ) -> (i64, Ts, Instance) {
        let range = self.range;
        let id = self.unique_id("apigw-");
        let rng = &mut self.rng;
        let plan = rng.pick(&[50, 25, 15, 7, 3]);
        let monthly = monthly.unwrap_or_else(|| rng.chance(700));
        let (row, paid, renew) = if monthly {
            let months = rng.one_of(&[1, 3, 6, 12]);
            let started = rng.instant(range.start - months as i64 * 28 * DAY, range.end - DAY);
            let expires = add_months(started, months);
            let (price, _) = apigw_price(plan, started);
            let discount = rng.one_of(&[1000, 1000, 900, 800]);
            let list = price * months as i64;
            let paid = list * discount / 1000;
            let renew = expires > range.start && expires < range.end && rng.chance(500);
            (
                SubscriptionRow {
                    subscription_id: id.clone(),
                    owner_uin: uin.to_string(),
                    product: "apigw",
                    plan: APIGW_PLANS[plan].0,
                    region: REGIONS[home].id,
                    billing_mode: "monthly",
                    started_at: started,
                    expires_at: Some(expires),
                    released_at: None,
                    list_price: cents(list),
                    discount: Decimal::new(discount, 3),
                    price_paid: cents(paid),
                    elastic_on_at: None,
                    elastic_off_at: None,
                    attached_apps: 0,
                },
                paid,
                renew,
            )
        } else {
            let started = rng.instant(range.start - 30 * DAY, range.end - DAY);
            let released = rng
                .chance(400)
                .then(|| rng.instant(started.max(range.start) + HOUR, range.end));
            let (_, hourly) = apigw_price(plan, started);
            (
                SubscriptionRow {
                    subscription_id: id.clone(),
                    owner_uin: uin.to_string(),
                    product: "apigw",
                    plan: APIGW_PLANS[plan].0,
                    region: REGIONS[home].id,
                    billing_mode: "hourly",
                    started_at: started,
                    expires_at: None,
                    released_at: released,
                    list_price: cents(hourly),
                    discount: Decimal::ONE,
                    price_paid: Decimal::ZERO,
                    elastic_on_at: None,
                    elastic_off_at: None,
                    attached_apps: 0,
                },
                // Charged per hour of existence: counted in the spend, not in `price_paid`.
                hourly * (released.unwrap_or(range.end) - started) / HOUR,
                false,
            )
        };
        let started = row.started_at;
        let stop = if renew {
            None
        } else {
            row.expires_at.or(row.released_at)
        };
        if renew {
            let exp = row.expires_at.expect("monthly");
            let at = (exp - self.rng.gen_range(1..4) * DAY).max(started + HOUR);
            self.event("renew", &id, at, None, Some(1));
        }
        self.tables.subscriptions.push(row);
        let rng = &mut self.rng;
        let meter = Meter::Api {
            calls: APIGW_PLANS[plan].1 * 3600 * rng.gen_range(5..60) / 1000,
            kb_milli_per_call: rng.gen_range(500..4000),
            egress_mb: true,
        };
        let mut inst = self.instance(i, home, "apigw", "dedicated-instance", id, meter);
        inst.first_hour = range.hour_at_or_after(started);
        inst.end_hour = stop
            .map_or(range.hours(), |s| range.hour_at_or_after(s))
            .max(inst.first_hour);
        (paid, started, inst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{local_hour, CycleLen};
    use crate::catalog::Catalog;
    use crate::input::{self, Inputs, PackageKind, PackageSource};
    use std::collections::BTreeSet;

    const SEEDS: std::ops::RangeInclusive<u64> = 1..=3;

    fn args(dir: &Path, seed: u64, scenarios: bool) -> GenerateArgs {
        GenerateArgs {
            accounts: 5,
            days: 10,
            seed,
            end: "2024-07-01".into(),
            scenarios,
            rows_per_file: 5000,
            output: dir.to_path_buf(),
        }
    }

    /// Every file below `dir`, by relative path, with its bytes.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().display().to_string();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    fn generated(seed: u64, scenarios: bool) -> (tempfile::TempDir, Summary, Inputs) {
        let dir = tempfile::tempdir().unwrap();
        let s = generate(&args(dir.path(), seed, scenarios)).unwrap();
        let inputs = input::load(dir.path()).unwrap();
        (dir, s, inputs)
    }

    #[test]
    fn same_seed_gives_byte_identical_files_and_another_seed_differs() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let sa = generate(&args(a.path(), 7, true)).unwrap();
        let sb = generate(&args(b.path(), 7, true)).unwrap();
        generate(&args(c.path(), 8, true)).unwrap();
        assert_eq!(sa, sb);
        let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (name, bytes) in &fa {
            assert!(bytes == &fb[name], "{name} differs between two runs");
        }
        assert_ne!(fa, fc, "another seed gives the same files");
        assert!(fa["usage/part-00000.parquet"] != fc["usage/part-00000.parquet"]);
        // Every table is a directory of Parquet files; usage is split into numbered parts.
        let dirs: BTreeSet<&str> = fa.keys().map(|k| k.split('/').next().unwrap()).collect();
        assert_eq!(dirs, crate::input::TABLES.into_iter().collect());
        let parts: Vec<&String> = fa.keys().filter(|k| k.starts_with("usage/")).collect();
        assert_eq!(parts.len(), sa.usage_files);
        assert!(
            sa.usage_files > 1,
            "expected several usage files, got {sa:?}"
        );
        for (k, p) in parts.iter().enumerate() {
            assert_eq!(**p, format!("usage/part-{k:05}.parquet"));
        }
    }

    #[test]
    fn rows_per_file_bounds_each_usage_file_and_reruns_leave_no_stale_parts() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), 3, false);
        a.rows_per_file = 1000;
        let small = generate(&a).unwrap();
        let inputs = input::load(dir.path()).unwrap();
        let per_file: Vec<usize> = inputs
            .files
            .iter()
            .filter(|f| f.table == "usage")
            .map(|f| f.rows)
            .collect();
        assert_eq!(per_file.len(), small.usage_files);
        assert!(per_file.iter().all(|&n| n <= 1000), "{per_file:?}");
        assert_eq!(per_file.iter().sum::<usize>() as u64, small.usage_rows);
        a.rows_per_file = 1_000_000;
        let big = generate(&a).unwrap();
        assert_eq!((big.usage_files, big.usage_rows), (1, small.usage_rows));
        let usage = files(dir.path())
            .into_keys()
            .filter(|k| k.starts_with("usage/"))
            .count();
        assert_eq!(usage, 1);
    }

    #[test]
    fn generated_dataset_loads_without_violations_and_covers_every_feature() {
        for seed in SEEDS {
            coverage(seed);
        }
    }

    fn coverage(seed: u64) {
        eprintln!("seed {seed}");
        let (_dir, s, inp) = generated(seed, false);
        assert!(inp.violations.is_empty(), "{:#?}", inp.violations);
        assert_eq!(inp.usage_rows_read as u64, s.usage_rows);
        assert_eq!(inp.usage.len() as u64, s.usage_rows);
        assert_eq!(inp.accounts.len(), 5);
        let range_start = day_start_of_date(parse_date("2024-06-21").unwrap());
        let range_end = day_start_of_date(parse_date("2024-07-01").unwrap());

        // Usage: every product and item, inside the range, one row per instance, item, hour and
        // direction.
        let mut keys = BTreeSet::new();
        for u in &inp.usage {
            assert!(range_start <= u.usage_start && u.usage_end <= range_end);
            assert!(!u.quantity.is_sign_negative());
            let dir = u.direction.as_str();
            assert!(keys.insert((u.instance_id, u.billing_item, u.usage_start, dir)));
        }
        let items: BTreeSet<(&str, &str, &str)> = inp
            .usage
            .iter()
            .map(|u| (&*u.product, &*u.billing_item, u.unit.as_str()))
            .collect();
        for (product, item) in [
            ("apigw", "calls"),
            ("apigw", "egress_traffic"),
            ("mpgw", "peak_qps"),
            ("mpgw", "peak_bandwidth"),
        ] {
            assert!(
                items.iter().any(|(p, i, _)| (*p, *i) == (product, item)),
                "{product}/{item}"
            );
        }
        assert!(items.iter().any(|(_, i, _)| *i == "public_traffic"));
        assert!(items.contains(&("mpgw", "peak_qps", "QPS")));
        assert!(items.contains(&("mpgw", "peak_bandwidth", "Mbps")));
        let quality: Vec<_> = inp
            .usage
            .iter()
            .filter(|u| u.direction == input::Direction::ToMainland)
            .collect();
        assert!(!quality.is_empty());
        assert!(quality
            .iter()
            .all(|u| u.accelerated && ["ap-hongkong", "ap-singapore"].contains(&&*u.region)));
        // Mini-program gateway: one row per hour per plan and item while the plan runs.
        let mpgw: BTreeSet<_> = inp
            .usage
            .iter()
            .filter(|u| &*u.product == "mpgw")
            .map(|u| (u.instance_id, u.usage_start))
            .collect();
        let peaks = inp.usage.iter().filter(|u| &*u.product == "mpgw").count();
        assert_eq!(peaks, 2 * mpgw.len());
        // Diurnal: the evening carries more apigw calls than the small hours.
        let calls_at = |h: u32| -> Decimal {
            inp.usage
                .iter()
                .filter(|u| &*u.billing_item == "calls" && local_hour(u.usage_start) == h)
                .map(|u| u.quantity)
                .sum()
        };
        assert!(calls_at(20) > calls_at(4));

        // Packages: every kind, cycle and source; free quota per activated account.
        let p = &inp.packages;
        for kind in [
            PackageKind::Total,
            PackageKind::Periodic,
            PackageKind::Sliced,
            PackageKind::Unlimited,
        ] {
            assert!(p.iter().any(|x| x.kind == kind), "{kind:?}");
        }
        for (kind, cycle) in [
            (PackageKind::Periodic, CycleLen::Day),
            (PackageKind::Periodic, CycleLen::Days30),
            (PackageKind::Periodic, CycleLen::Month),
            (PackageKind::Sliced, CycleLen::Hour),
            (PackageKind::Sliced, CycleLen::Day),
        ] {
            assert!(
                p.iter().any(|x| x.kind == kind && x.cycle == Some(cycle)),
                "{kind:?} {cycle:?}"
            );
        }
        for src in [
            PackageSource::Free,
            PackageSource::Purchased,
            PackageSource::Promotion,
        ] {
            assert!(p.iter().any(|x| x.source == src), "{src:?}");
        }
        assert!(p.iter().any(|x| x.idle_only && &*x.product == "tp"));
        assert!(p.iter().any(|x| &*x.product == "qtp"));
        assert!(p.iter().any(|x| !x.share_uins.is_empty()));
        assert!(p
            .iter()
            .any(|x| x.expires_at > range_start && x.expires_at < range_end));
        assert!(p.iter().all(|x| !x.scopes.is_empty()));
        for a in &inp.accounts {
            let Some(at) = a.apigw_activated_at else {
                continue;
            };
            let free: Vec<_> = p
                .iter()
                .filter(|x| x.owner_uin == a.owner_uin && x.source == PackageSource::Free)
                .collect();
            assert_eq!(free.len(), 2);
            for f in free {
                assert_eq!(
                    (f.kind, f.cycle, &*f.region, f.effective_at, f.expires_at),
                    (
                        PackageKind::Periodic,
                        Some(CycleLen::Days30),
                        "*",
                        at,
                        at + 360 * DAY
                    )
                );
            }
        }

        // Subscriptions, events, payments, balances.
        let subs = &inp.subscriptions;
        let modes: BTreeSet<(&str, bool)> = subs
            .iter()
            .map(|s| (&*s.product, s.billing_mode == input::BillingMode::Monthly))
            .collect();
        assert!(modes.contains(&("apigw", true)) && modes.contains(&("apigw", false)));
        assert!(modes.contains(&("mpgw", true)));
        assert!(subs
            .iter()
            .any(|s| &*s.product == "mpgw" && s.elastic_on_at.is_some()));
        let kinds: BTreeSet<&str> = inp.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["refund", "renew", "upgrade"].into_iter().collect());
        assert!(!inp.payments.is_empty());
        assert!(inp
            .accounts
            .iter()
            .all(|a| !a.opening_balance.is_sign_negative()));
    }

    #[test]
    fn scenarios_plant_exactly_the_five_invalid_rows() {
        let (_dir, _s, inp) = generated(1, true);
        let got: BTreeSet<(&str, &str, &str)> = inp
            .violations
            .iter()
            .map(|v| (&*v.source_table, &*v.source_id, &*v.rule))
            .collect();
        let want: BTreeSet<(&str, &str, &str)> = scenarios::INVALID_ROWS
            .iter()
            .map(|(id, rule)| ("usage", *id, *rule))
            .collect();
        assert_eq!(inp.violations.len(), 5, "{:#?}", inp.violations);
        assert_eq!(got, want);
        assert_eq!(inp.usage_rows_read, inp.usage.len() + 5);
    }

    #[test]
    fn scenario_accounts_follow_the_worked_examples() {
        let (_dir, _s, inp) = generated(1, true);
        let t = |s: &str| crate::calendar::parse_local(s).unwrap();
        let rows = |owner: &str| -> Vec<&input::Usage> {
            inp.usage
                .iter()
                .filter(|u| &*u.owner_uin == owner)
                .collect()
        };
        // Example 10: 10 GB from 07:00 to 08:00 UTC+8.
        let eip = rows("scn-eip");
        assert_eq!(eip.len(), 1);
        assert_eq!(eip[0].usage_start, t("2024-06-30 07:00:00"));
        assert_eq!(
            (eip[0].quantity, eip[0].unit.as_str()),
            (Decimal::from(10), "GB")
        );
        // Example 6: one hour, its only usage.
        let gw = rows("scn-apigw");
        assert_eq!(gw.len(), 3);
        assert!(gw.iter().all(|u| u.usage_start == t("2024-06-21 10:00:00")));
        // Example 7: 9,990,000 calls, then 20,000, on one day.
        let tier = rows("scn-tier");
        let total: Decimal = tier.iter().map(|u| u.quantity).sum();
        assert_eq!(total, Decimal::from(10_010_000));
        let last = tier.iter().max_by_key(|u| u.usage_start).unwrap();
        assert_eq!(last.quantity, Decimal::from(20_000));
        // No free quota for the second-year accounts.
        for owner in ["scn-apigw", "scn-tier"] {
            assert!(inp.packages.iter().all(|p| &*p.owner_uin != owner));
        }
        // Example 8: B expires a month before A, both after the 6 GB hour.
        let pkg = |id: &str| inp.packages.iter().find(|p| &*p.package_id == id).unwrap();
        let (a, b) = (pkg("scn-pkg-A"), pkg("scn-pkg-B"));
        let used = rows("scn-pkg");
        assert_eq!((used.len(), used[0].quantity), (1, Decimal::from(6)));
        assert!(used[0].usage_end <= b.expires_at && b.expires_at < a.expires_at);
        assert_eq!(
            (b.expires_at, a.expires_at),
            (t("2024-07-01"), t("2024-08-01"))
        );
        // Example 9: activation with odd seconds inside the range, periodic free packages.
        let acct = inp
            .accounts
            .iter()
            .find(|a| &*a.owner_uin == "scn-free")
            .unwrap();
        assert_eq!(acct.apigw_activated_at, Some(t("2024-06-22 17:13:14")));
        assert_eq!(
            pkg("scn-free-calls").expires_at,
            t("2024-06-22 17:13:14") + 360 * DAY
        );
        assert!(rows("scn-free").len() >= 8);
    }

    #[test]
    fn on_a_long_range_scenarios_fall_in_the_default_three_month_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), 1, true);
        (a.accounts, a.days) = (0, 120);
        let s = generate(&a).unwrap();
        assert_eq!((s.accounts, s.usage_files), (10, 1));
        let inp = input::load(dir.path()).unwrap();
        let w = crate::calendar::Window::new(parse_date("2024-07-01").unwrap());
        let t = |s: &str| crate::calendar::parse_local(s).unwrap();
        assert!(inp.usage.iter().all(|u| w.contains(u.usage_start)));
        assert_eq!(inp.violations.len(), 5);
        assert!(inp
            .violations
            .iter()
            .all(|v| v.at.is_some_and(|at| w.contains(at))));
        // The free-quota account reaches its first cycle boundary: 17:00 is still cycle 0,
        // 18:00 is cycle 1.
        let act = t("2024-05-21 17:13:14");
        let acct = inp
            .accounts
            .iter()
            .find(|a| &*a.owner_uin == "scn-free")
            .unwrap();
        assert_eq!(acct.apigw_activated_at, Some(act));
        let starts: BTreeSet<Ts> = inp
            .usage
            .iter()
            .filter(|u| &*u.owner_uin == "scn-free")
            .map(|u| u.usage_start)
            .collect();
        assert!(
            starts.contains(&t("2024-06-20 17:00:00"))
                && starts.contains(&t("2024-06-20 18:00:00"))
        );
    }

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

    #[test]
    fn bad_arguments_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), 1, false);
        a.end = "2024-13-01".into();
        assert!(matches!(generate(&a), Err(Error::Usage(_))));
        let mut a = args(dir.path(), 1, false);
        a.days = 0;
        assert!(matches!(generate(&a), Err(Error::Usage(_))));
        let mut a = args(dir.path(), 1, false);
        a.rows_per_file = 0;
        assert!(matches!(generate(&a), Err(Error::Usage(_))));
    }
}
