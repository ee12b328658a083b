//! `reckon generate`: a realistic synthetic dataset of every input table of docs/contract.md —
//! `usage/` (split into `part-00000.parquet`, `part-00001.parquet`, … of at most
//! `--rows-per-file` rows), `packages/`, `package_scope/`, `accounts/`, `payments/`,
//! `subscriptions/` and `events/` (one `part-00000.parquet` each) — and `catalog.toml`, the
//! catalog that prices every product, item and region it emits (the sample catalog, compiled
//! in), so `reckon run --catalog <dir>/catalog.toml` works on the output as it is. An existing
//! `catalog.toml` is kept (it may be a candidate catalog being tried), with a warning when it
//! differs.
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
//! - the data of the revised clauses (docs/rules.md §3.1, §3.8, §4.1, §4.3): free quota
//!   expiring at 00:00 UTC+8 (natural-day cycles), `renew` events on periodic and sliced
//!   packages with the optional `events.price_paid` and `events.auto`, calls of dedicated
//!   instances and of WebSocket backends beside shared-instance calls, the optional
//!   `subscriptions.elastic_unit_price` (null on some orders), elastic days above the cap of
//!   4 × the plan, hourly instances started and released between clock hours;
//! - with `--scenarios`, the hand-made accounts of [`scenarios`] (docs/rules.md's worked
//!   examples) and five deliberately invalid usage rows;
//! - with `--issued`, the `issued/` table a billing platform would have issued for the data,
//!   with six planted platform mistakes ([`issued`]): the data is run (`reckon run`, default
//!   as-of, into a temporary directory) and its bill lines issued.
//!
//! The range is the `--days` UTC+8 days ending the day before `--end`; every instant is stored as
//! UTC microseconds, usage hours are aligned and one hour long, ids are unique.
//!
//! Determinism invariant: the files depend only on the arguments. Every random draw comes from
//! `ChaCha8Rng::seed_from_u64(seed)` (instances get their own ChaCha8 streams seeded from it, in
//! a fixed order; the revised clauses' draws come from a second stream, see `world`); shapes
//! use integer arithmetic only (no floats, no platform maths); nothing iterates a hash map; no
//! wall clock reaches a file (it only times the summary line). Usage is built hour by hour and
//! each file is written as soon as it is full, so memory is bounded by about two files of rows
//! whatever the total.
//!
//! Where things are:
//! - `model`: the static model — regions, diurnal curve, products, plan prices (as in the
//!   sample catalog);
//! - `draw`: the random draws, and `world`: the generator's state (random stream, ids,
//!   instance lifetimes);
//! - `accounts`: an ordinary account and everything it owns, its balance and payments;
//! - `packages`: packages and their scopes; `subscriptions`: subscriptions and events;
//! - `usage`: metered instances and their hourly usage rows;
//! - `tables`: the rows of the small tables in memory; `write`: writing every file;
//! - `scenarios`: the hand-made accounts of `--scenarios`.

mod accounts;
mod draw;
pub mod issued;
mod model;
mod packages;
mod scenarios;
mod subscriptions;
mod tables;
mod usage;
mod world;
mod write;

use crate::calendar::{add_months_clamped, day_start_of_date, from_local, local, Ts};
use crate::calendar::{DAY, HOUR};
use crate::error::{Error, Result};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tables::UsageRow;
use world::Gen;

/// Settings of `reckon generate`.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Number of ordinary accounts.
    pub accounts: usize,
    /// Days of hourly usage (1 to 3660), ending the day before `end`.
    pub days: u32,
    pub seed: u64,
    /// First day after the generated usage (UTC+8).
    pub end: NaiveDate,
    /// Add the hand-made scenario accounts and invalid rows.
    pub scenarios: bool,
    /// Usage rows per Parquet file (at least 1).
    pub rows_per_file: usize,
    /// Output directory for the input tables.
    pub output: PathBuf,
    /// Also write `issued/` (see [`issued`]).
    pub issued: bool,
}

/// Writes the dataset described by `cfg` and prints a one-line summary to stderr.
pub fn run(cfg: &GenerateConfig) -> Result<()> {
    let t0 = Instant::now();
    let s = generate(cfg)?;
    if cfg.issued {
        write_issued(&cfg.output)?;
    }
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
        cfg.output.display()
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

/// Writes every table under `cfg.output` (removing `part-*.parquet` files a previous run left
/// in those table directories, so no stale part survives).
pub fn generate(cfg: &GenerateConfig) -> Result<Summary> {
    if cfg.days == 0 || cfg.days > 3660 {
        return Err(Error::Argument("--days must be between 1 and 3660".into()));
    }
    if cfg.rows_per_file == 0 {
        return Err(Error::Argument("--rows-per-file must be at least 1".into()));
    }
    let range = Range::of(cfg);
    for t in crate::input::TABLES {
        clear_parts(&cfg.output.join(t))?;
    }

    let mut g = Gen::new(cfg.seed, range);
    for i in 0..cfg.accounts {
        g.account(i);
    }
    g.finish_shares();
    let mut extra_usage: Vec<UsageRow> = Vec::new();
    if cfg.scenarios {
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
    write::write_tables(&cfg.output, t)?;

    let (rows, files) = write::stream_usage(&cfg.output, cfg.rows_per_file, |sink| {
        usage::emit_hours(range, &mut g.instances, &g.uins, sink)?;
        for r in &extra_usage {
            sink.push(&r.as_row())?;
        }
        Ok(())
    })?;
    summary.usage_rows = rows;
    summary.usage_files = files;
    write_catalog(&cfg.output)?;
    Ok(summary)
}

/// Runs the generated data in `dir` (default as-of, output in a temporary directory) and writes
/// `dir/issued/` from its bill lines with the planted mistakes; lists them on stderr.
fn write_issued(dir: &Path) -> Result<()> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let out = tmp.path().join("out");
    let catalog = dir.join("catalog.toml");
    crate::run(&crate::RunConfig {
        as_of: None,
        input: dir.to_path_buf(),
        catalog: catalog.clone(),
        output: out.clone(),
        threads: None,
        shard: crate::shard::ShardSpec::ALL,
        chunk_rows: crate::input::chunks::DEFAULT_CHUNK_ROWS,
        allow_empty: false,
        stage: None,
    })?;
    for p in issued::write(&out, &catalog, dir, true)? {
        eprintln!(
            "reckon generate: planted {} on {}",
            p.mistake,
            p.line_ids.join(",")
        );
    }
    Ok(())
}

/// The catalog the generated data is priced by: `sample_data/catalog.toml`.
pub const CATALOG: &str = include_str!("../../sample_data/catalog.toml");

/// Writes [`CATALOG`] as `<out>/catalog.toml` unless a catalog is already there.
fn write_catalog(out: &Path) -> Result<()> {
    let path = out.join("catalog.toml");
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing != CATALOG => {
            tracing::warn!(path = %path.display(), "kept the existing catalog.toml, which differs from the generator's");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&path, CATALOG).map_err(|e| Error::io(&path, e))
        }
        Err(e) => Err(Error::io(&path, e)),
    }
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

/// The generated days `[start, end)`, both UTC+8 midnights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: Ts,
    end: Ts,
    days: u32,
}

impl Range {
    /// The range of `cfg` (see [`generate`]).
    fn of(cfg: &GenerateConfig) -> Range {
        let end = day_start_of_date(cfg.end);
        Range {
            start: end - cfg.days as i64 * DAY,
            end,
            days: cfg.days,
        }
    }

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
fn add_months(ts: Ts, n: i32) -> Ts {
    from_local(add_months_clamped(local(ts), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{local_hour, parse_date, CycleLen};
    use crate::input::{self, Inputs, PackageKind, PackageSource};
    use rust_decimal::Decimal;
    use std::collections::{BTreeMap, BTreeSet};

    const SEEDS: std::ops::RangeInclusive<u64> = 1..=3;

    pub(super) fn config(dir: &Path, seed: u64, scenarios: bool) -> GenerateConfig {
        GenerateConfig {
            accounts: 5,
            days: 10,
            seed,
            end: NaiveDate::from_ymd_opt(2024, 7, 1).unwrap(),
            scenarios,
            rows_per_file: 5000,
            output: dir.to_path_buf(),
            issued: false,
        }
    }

    /// Every Parquet file below `dir`, by relative path, with its bytes.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        input::parquet_files(dir)
            .unwrap()
            .into_iter()
            .map(|p| {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                (rel, std::fs::read(&p).unwrap())
            })
            .collect()
    }

    pub(super) fn generated(seed: u64, scenarios: bool) -> (tempfile::TempDir, Summary, Inputs) {
        let dir = tempfile::tempdir().unwrap();
        let s = generate(&config(dir.path(), seed, scenarios)).unwrap();
        let inputs = input::load(dir.path()).unwrap();
        (dir, s, inputs)
    }

    /// The output carries the catalog that prices it, and an existing catalog is kept.
    #[test]
    fn generate_writes_its_catalog_and_keeps_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        generate(&config(dir.path(), 7, false)).unwrap();
        let path = dir.path().join("catalog.toml");
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, CATALOG);
        crate::catalog::Catalog::load(&path).unwrap();
        std::fs::write(&path, "# a candidate catalog\n").unwrap();
        generate(&config(dir.path(), 7, false)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# a candidate catalog\n"
        );
    }

    #[test]
    fn same_seed_gives_byte_identical_files_and_another_seed_differs() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let sa = generate(&config(a.path(), 7, true)).unwrap();
        let sb = generate(&config(b.path(), 7, true)).unwrap();
        generate(&config(c.path(), 8, true)).unwrap();
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
        let mut a = config(dir.path(), 3, false);
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
                        crate::calendar::day_start(at) + 360 * DAY
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

    /// docs/rules.md §3.8, §4.1, §4.3 (revised): the generated data exercises renewals of
    /// packages, unbilled calls, the order's elastic price, elastic days above the cap and hourly
    /// instances started and released between clock hours.
    #[test]
    fn revised_data_features_are_generated() {
        let (mut renewals, mut auto, mut priced, mut unpriced) = (0, 0, 0, 0);
        for seed in SEEDS {
            let (dir, _s, inp) = generated(seed, false);
            let mut g = Gen::new(seed, Range::of(&config(dir.path(), seed, false)));
            for i in 0..5 {
                g.account(i);
            }
            let t = &g.tables;
            let package = |id: &str| t.packages.iter().find(|p| p.package_id == id);
            for e in t.events.iter().filter(|e| e.kind == "renew") {
                match package(&e.target_id) {
                    Some(p) => {
                        assert!(["periodic", "sliced"].contains(&p.kind));
                        assert!(e.months.is_some_and(|m| m >= 1));
                        assert!(e.price_paid.is_some_and(|x| x > Decimal::ZERO));
                        assert!(e.at < p.expires_at);
                        renewals += 1;
                        auto += (e.auto == Some(true)) as usize;
                    }
                    None => assert_eq!((e.price_paid, e.auto), (None, None)),
                }
            }
            for s in t.subscriptions.iter().filter(|s| s.elastic_on_at.is_some()) {
                priced += s.elastic_unit_price.is_some() as usize;
                unpriced += s.elastic_unit_price.is_none() as usize;
            }
            let hourly = t
                .subscriptions
                .iter()
                .filter(|s| s.billing_mode == "hourly");
            assert!(hourly
                .clone()
                .any(|s| s.started_at % HOUR != 0 || s.released_at.is_some_and(|r| r % HOUR != 0)));
            // Calls of shared and dedicated instances and of WebSocket backends.
            let subs: BTreeSet<&str> = inp
                .usage
                .iter()
                .filter(|u| &*u.billing_item == "calls")
                .map(|u| &*u.sub_product)
                .collect();
            let want = ["dedicated-instance", "shared-instance", "websocket"];
            assert_eq!(subs, want.into_iter().collect(), "seed {seed}");
            // A plan of at most 50,000 QPS peaks above 5 × its QPS: an elastic base above the
            // cap of 4 × the plan.
            let above_cap = inp.usage.iter().any(|u| {
                &*u.billing_item == "peak_qps"
                    && inp.subscriptions.iter().any(|s| {
                        s.subscription_id == u.instance_id
                            && model::MPGW_PLANS.iter().any(|(plan, qps, ..)| {
                                *plan == &*s.plan
                                    && *qps <= 50_000
                                    && u.quantity > Decimal::from(5 * qps)
                            })
                    })
            });
            assert!(above_cap, "seed {seed}");
            // The new optional columns are written.
            let names = |table: &str| -> Vec<String> {
                let path = dir.path().join(table).join("part-00000.parquet");
                let df = input::read_parquet(&path).unwrap();
                df.get_column_names()
                    .iter()
                    .map(|c| c.to_string())
                    .collect()
            };
            assert!(names("subscriptions").contains(&"elastic_unit_price".to_string()));
            let events = names("events");
            assert!(["price_paid", "auto"]
                .iter()
                .all(|c| events.contains(&c.to_string())));
        }
        let manual = renewals - auto;
        assert!(
            auto >= 1 && manual >= 1,
            "{auto} automatic, {manual} manual renewals"
        );
        assert!(
            priced >= 1,
            "{priced} plans with an order price, {unpriced} without"
        );
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = crate::cli::GenerateArgs {
            accounts: 5,
            days: 10,
            seed: 1,
            end: "2024-13-01".into(),
            scenarios: false,
            rows_per_file: 5000,
            output: dir.path().to_path_buf(),
            issued: false,
        };
        assert!(matches!(
            GenerateConfig::try_from(a),
            Err(Error::Argument(_))
        ));
        let mut a = config(dir.path(), 1, false);
        a.days = 0;
        assert!(matches!(generate(&a), Err(Error::Argument(_))));
        let mut a = config(dir.path(), 1, false);
        a.rows_per_file = 0;
        assert!(matches!(generate(&a), Err(Error::Argument(_))));
    }
}
