//! The one place where stages are ordered. A run is:
//!
//! 1. [`load`]: the catalog and every input table but usage; accounts split into shards and
//!    chunks by pool (`shard`); the inputs' findings;
//! 2. [`Publish::begin`]: a staging tree under the output's lock;
//! 3. [`compute_and_write`]: for each chunk of this run's shard, in turn, its usage read
//!    (`input::chunks`) and every rule applied (`chunk::process_chunk`: deduction, pricing,
//!    purchases, subscriptions, elastic fees, refunds, account timeline, package status,
//!    bills), its tables handed to the [`ChunkWriter`], which writes them while the next chunk
//!    is computed;
//! 4. [`finish_tables`]: the schema of tables that stayed empty;
//! 5. the manifest, last, and the atomic publish (or, with `stage`, the run's staged output).
//!
//! Memory is bounded by one chunk: nothing of a chunk outlives its iteration but counters and
//! its largest vectors, emptied, for the next chunk to fill (`buffers`).

pub mod bench;
mod chunk;
mod writer;

use crate::calendar::{format_local, local_date, Month, Ts, Window, DAY};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::input::chunks::{self, UsageSource};
use crate::input::{self, usage, FileInfo, Inputs, Violation};
use crate::output::manifest::{self, Manifest, UsageAccounting};
use crate::output::publish::Publish;
use crate::output::stage::RunId;
use crate::output::{part_name, TABLES};
use crate::progress;
use crate::rules::findings;
use crate::shard::{Partitioner, ShardSpec};
use chrono::NaiveDate;
use chunk::{process_chunk, Ctx, Owners};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use writer::{slot, ChunkWriter, Outputs};

/// The settings of a run (built by `cli` from the command line, or by a library user).
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The as-of date (UTC+8): nothing at or after its midnight is used. `None`: the day after
    /// the latest usage day.
    pub as_of: Option<NaiveDate>,
    pub input: PathBuf,
    pub catalog: PathBuf,
    pub output: PathBuf,
    /// Worker threads (`None`: rayon's default).
    pub threads: Option<usize>,
    pub shard: ShardSpec,
    /// Usage rows per chunk.
    pub chunk_rows: u64,
    /// Publish even when the window of the given as-of date holds no valid usage row
    /// ([`Error::EmptyWindow`] otherwise).
    pub allow_empty: bool,
    /// Stage the output as this run's instead of publishing it (`output::stage`: audited by
    /// `reckon audit`, published by `reckon publish`).
    pub stage: Option<RunId>,
}

/// Figures of one run, also written to the manifest.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    pub usage: UsageAccounting,
    pub outputs: BTreeMap<String, Written>,
    pub chunks: u32,
    pub duration_ms: u128,
    /// The run's window (its as-of moment is the window's end).
    pub window: Window,
    /// Milliseconds of each stage, in order.
    pub stage_ms: Vec<(&'static str, u128)>,
    /// The manifest's sums of money columns (`table.column` → decimal string).
    pub totals: BTreeMap<String, String>,
}

use crate::output::Written;

/// Runs the whole job as `cfg` says and publishes its output.
pub fn run(cfg: &RunConfig) -> Result<RunMetrics> {
    let started = Instant::now();
    // Before any work: an output that cannot be published, or that would take the input with
    // it, is refused at once, not after the whole job.
    crate::output::publish::check_output(&cfg.input, &cfg.output, &input::TABLES)?;
    let stage = progress::stage("load catalog and inputs", 0);
    let mut loaded = load(cfg)?;
    let mut stage_ms = vec![("load", started.elapsed().as_millis())];
    let publish = match &cfg.stage {
        Some(id) => Publish::begin_stage(&cfg.output, cfg.as_of, id)?,
        None => Publish::begin(&cfg.output, cfg.as_of)?,
    };
    // The spill lives in the output's side directory: on its file system, and removed by the
    // next run if this one is killed (`Publish::begin`).
    let mut source = UsageSource::open(
        &cfg.input,
        &loaded.part,
        Some(publish.side()),
        cfg.chunk_rows,
    )?;
    let mut stage = stage.next(
        "chunks: deduction, pricing, bills, write",
        u64::from(loaded.part.chunks),
    );
    let mut done = compute_and_write(cfg, &mut loaded, &mut source, publish.dir(), &mut stage)?;
    if let Some(w) = done.window.as_ref().filter(|_| cfg.shard.count == 1) {
        // The latest row may lie after a window that holds none (usage before and after it):
        // the counts tell, before anything is published. One shard's own rows say nothing of
        // the others'.
        let in_window = done.usage.billed + done.usage.unpriced;
        check_usage_in_window(cfg, w, source.latest.as_ref(), in_window, &done.usage)?;
    }
    stage_ms.push(("chunks", started.elapsed().as_millis() - stage_ms[0].1));
    let stage = stage.next("finish tables, manifest, publish", 0);
    let w = match done.window {
        Some(w) => w,
        None => window(cfg, source.latest.as_ref(), latest_input(&loaded.base))?,
    };
    finish_tables(publish.dir(), &w, loaded.part.shard, &mut done.outputs)?;
    drop(source);
    done.inputs.append(&mut loaded.base.files);
    let duration_ms = started.elapsed().as_millis();
    let mut m = manifest_of(cfg, &loaded, &done, &w, duration_ms);
    m.output_sha256 = manifest::hash_outputs(publish.dir(), &m.outputs)?;
    manifest::write(publish.dir(), &m)?;
    publish.commit()?;
    drop(stage);
    let before: u128 = stage_ms.iter().map(|s| s.1).sum();
    stage_ms.push(("publish", started.elapsed().as_millis() - before));
    Ok(RunMetrics {
        usage: done.usage,
        outputs: done.outputs,
        chunks: loaded.part.chunks,
        duration_ms,
        window: w,
        stage_ms,
        totals: m.totals,
    })
}

/// What every chunk reads: the catalog, the inputs but usage, the split into chunks, and the
/// findings of loading not tied to a chunk's accounts.
struct Loaded {
    catalog: Catalog,
    base: Inputs,
    part: Partitioner,
    findings: Vec<Violation>,
    /// Entries of the input tables that are not read, for the manifest.
    skipped: Vec<input::Skipped>,
}

/// Stage 1: loads the catalog and the inputs but usage, and splits the accounts into chunks.
fn load(cfg: &RunConfig) -> Result<Loaded> {
    let catalog = Catalog::load(&cfg.catalog)?;
    let skipped = input::skipped_inputs(&cfg.input)?;
    let mut base = input::load_base(&cfg.input)?;
    let rows = chunks::count_rows(&cfg.input)?;
    let n_chunks = chunks::chunks_for(rows, cfg.shard.count, cfg.chunk_rows);
    let mut part = Partitioner::new(input::pool_links(&base.packages), cfg.shard, n_chunks);
    balance_chunks(&mut part, &cfg.input)?;
    let mut findings = std::mem::take(&mut base.violations);
    findings.extend(findings::unknown_targets(&base));
    findings.extend(findings::unknown_package_regions(&base, &catalog));
    Ok(Loaded {
        catalog,
        base,
        part,
        findings,
        skipped,
    })
}

/// With several chunks, deals the shard's pools out to them by usage rows (`shard`), so that
/// each chunk holds about `--chunk-rows` rows and the largest one, which sets the run's peak
/// memory, is not twice that.
pub(crate) fn balance_chunks(part: &mut Partitioner, input: &Path) -> Result<()> {
    if part.chunks > 1 {
        let t = Instant::now();
        let rows = chunks::rows_by_owner(input)?;
        part.balance(
            rows.by_owner.iter().map(|(owner, n)| (owner.as_str(), *n)),
            rows.no_owner,
        );
        let ms = t.elapsed().as_millis() as u64;
        tracing::debug!(owners = rows.by_owner.len(), ms, "chunks balanced");
    }
    Ok(())
}

/// What the chunks computed and wrote.
struct Done {
    /// `None` when there was no chunk to read usage from.
    window: Option<Window>,
    usage: UsageAccounting,
    totals: Totals,
    outputs: Outputs,
    /// The usage files read, for the manifest.
    inputs: Vec<FileInfo>,
}

/// Running sums over chunks, for the manifest.
#[derive(Default)]
struct Totals {
    lines: Decimal,
    bills_total: Decimal,
    bills_payable: Decimal,
}

impl Totals {
    /// Adds a chunk's sums; every sum is checked, since the amounts of many accounts may add up
    /// past the range of `Decimal` although each account's are in range.
    fn add(&mut self, c: &chunk::ChunkOut) -> Result<()> {
        let bills = || c.bills.iter();
        self.lines = checked_sum(self.lines, [c.lines_amount], "bill_lines.amount")?;
        let total = bills().map(|b| b.total_amount);
        self.bills_total = checked_sum(self.bills_total, total, "bills.total_amount")?;
        let payable = bills().map(|b| b.payable);
        self.bills_payable = checked_sum(self.bills_payable, payable, "bills.payable")?;
        Ok(())
    }
}

/// `acc` plus every amount, or [`total_overflow`] of `what`.
fn checked_sum(acc: Decimal, xs: impl IntoIterator<Item = Decimal>, what: &str) -> Result<Decimal> {
    (xs.into_iter())
        .try_fold(acc, |a, x| a.checked_add(x))
        .ok_or_else(|| total_overflow(what))
}

/// The error of a manifest total past the range of `Decimal`.
pub(crate) fn total_overflow(what: &str) -> Error {
    Error::Overflow {
        what: format!("the run's total of {what}"),
        message: "the amounts add up past the decimal range (about 7.9e28)".into(),
    }
}

/// Stage 3: computes each chunk in turn and hands it to the writer, which writes chunk k while
/// chunk k + 1 is computed (with `--threads 1` they take turns: one thread of work at a time).
fn compute_and_write(
    cfg: &RunConfig,
    loaded: &mut Loaded,
    source: &mut UsageSource,
    out: &Path,
    stage: &mut progress::Stage,
) -> Result<Done> {
    let overlap = rayon::current_num_threads() > 1;
    let owners = Owners::new(&loaded.base);
    let mut findings = std::mem::take(&mut loaded.findings);
    let loaded = &*loaded;
    let mut done = Done {
        window: None,
        usage: UsageAccounting::default(),
        totals: Totals::default(),
        outputs: Outputs::new(),
        inputs: Vec::new(),
    };
    std::thread::scope(|scope| -> Result<()> {
        let writer = ChunkWriter::start(scope, out, loaded.part.shard.index, overlap);
        let computed = (|| -> Result<()> {
            let mut usage_buf = Vec::new();
            for chunk in 0..loaded.part.chunks {
                let files = source.load_chunk(chunk, &loaded.part)?;
                let latest = latest_input(&loaded.base);
                let w = *done
                    .window
                    .get_or_insert(window(cfg, source.latest.as_ref(), latest)?);
                if chunk == 0 {
                    // Every usage file is read by now: a window after the latest usage row is
                    // refused before any rule runs.
                    let after_latest = source.latest.as_ref().is_none_or(|l| l.start < w.start);
                    let count = u64::from(!after_latest);
                    check_usage_in_window(cfg, &w, source.latest.as_ref(), count, &done.usage)?;
                }
                let ctx = Ctx {
                    catalog: &loaded.catalog,
                    base: &loaded.base,
                    owners: &owners,
                    part: &loaded.part,
                    duplicates: &source.duplicates,
                    w: &w,
                };
                let t = Instant::now();
                let (mut c, used) = process_chunk(&ctx, chunk, files, writer.spare(), usage_buf)?;
                usage_buf = used;
                tracing::debug!(chunk, ms = t.elapsed().as_millis() as u64, "chunk rules");
                c.exceptions.retain(|v| findings::reported(v, &w));
                if chunk == 0 && loaded.part.shard.index == 0 {
                    // The inputs' findings go with shard 0's first chunk.
                    let load = std::mem::take(&mut findings);
                    c.exceptions.extend(
                        load.into_iter()
                            .filter(|v| findings::reported_on_load(v, &w)),
                    );
                }
                done.usage.add(&c.usage);
                done.totals.add(&c)?;
                if !writer.send(chunk, c) {
                    break; // the writer failed: its error is returned below
                }
                stage.advance();
            }
            // The usage files' sizes and hashes, while the writer writes the last chunk.
            done.inputs = source.file_infos()?;
            Ok(())
        })();
        let written = writer.finish();
        computed?;
        done.outputs = written?;
        Ok(())
    })?;
    Ok(done)
}

/// Stage 4: every table of the registry with no rows at all is still written, empty, with its
/// schema (in the as-of month's partition when partitioned); each table's files are listed in
/// order.
fn finish_tables(out: &Path, w: &Window, shard: ShardSpec, outputs: &mut Outputs) -> Result<()> {
    let as_of_month = Month::of(w.as_of - 1);
    let file = part_name(shard.index, 0);
    for table in TABLES {
        (table.finish)(out, as_of_month, &file, slot(outputs, table.name))?;
    }
    for wr in outputs.values_mut() {
        wr.files.sort();
    }
    Ok(())
}

/// Stage 5: the manifest of the run.
fn manifest_of(cfg: &RunConfig, l: &Loaded, d: &Done, w: &Window, duration_ms: u128) -> Manifest {
    let mut totals = BTreeMap::new();
    totals.insert("bill_lines.amount".into(), d.totals.lines.to_string());
    totals.insert(
        "bills.total_amount".into(),
        d.totals.bills_total.to_string(),
    );
    totals.insert("bills.payable".into(), d.totals.bills_payable.to_string());
    Manifest {
        run_id: cfg.stage.as_ref().map(|id| id.to_string()),
        tool: "reckon".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        as_of_date: local_date(w.as_of).to_string(),
        window_start: format_local(w.start),
        window_end: format_local(w.as_of),
        months: w.months().iter().map(|m| m.to_string()).collect(),
        shard: l.part.shard.to_string(),
        chunks: l.part.chunks,
        catalog_path: cfg.catalog.display().to_string(),
        catalog_version: l.catalog.version.clone(),
        catalog_sha256: l.catalog.hash.clone(),
        inputs: d.inputs.clone(),
        skipped_inputs: l.skipped.clone(),
        usage: d.usage.clone(),
        outputs: d.outputs.clone(),
        output_sha256: BTreeMap::new(),
        totals,
        threads: rayon::current_num_threads(),
        duration_ms,
    }
}

/// The longest gap, in days, between the latest usage day and the usage day before it that
/// the default as-of date accepts. A month of billing data has no such gap; a row dated years
/// ahead (a clock or typing error) does, and would move the three-month window past every
/// other row, billing nothing of the real data.
pub const MAX_LATEST_GAP_DAYS: i64 = 31;

/// The window of the run: the given as-of date, or the day after the latest usage day — unless
/// that day stands alone more than [`MAX_LATEST_GAP_DAYS`] after the usage before it: then the
/// run stops with [`Error::OutlierUsage`] naming the row, for `--as-of` or a correction to
/// decide (with `--as-of`, such a row is one of the manifest's `after_as_of` rows). A given
/// as-of date more than [`MAX_DAYS_AHEAD`] days after the latest instant of the inputs
/// (`latest_input`, usage included) is refused: an hourly subscription never released is
/// billed hour by hour up to the as-of moment, so its lines, and the run's memory, grow with the
/// as-of date (9999-01-01 ran out of memory).
pub(crate) fn window(
    cfg: &RunConfig,
    latest: Option<&usage::Latest>,
    latest_input: Option<Ts>,
) -> Result<Window> {
    let latest_start = latest.map(|l| l.start);
    let d = match (cfg.as_of, latest) {
        (Some(d), _) => d,
        (None, Some(l)) => {
            if let Some(gap) = l.gap_days().filter(|g| *g > MAX_LATEST_GAP_DAYS) {
                return Err(Error::OutlierUsage {
                    file: l.file.clone(),
                    row: l.row,
                    usage_id: l.usage_id.clone(),
                    start: format_local(l.start),
                    gap_days: gap,
                });
            }
            local_date(l.start + DAY)
        }
        (None, None) => return Err(Error::NoUsage),
    };
    let w = Window::new(d);
    let latest = latest_start.max(latest_input);
    if let Some(latest) = latest.filter(|l| w.as_of > l.saturating_add(MAX_DAYS_AHEAD * DAY)) {
        return Err(Error::Argument(format!(
            "--as-of {d} is {} days after the latest instant of the inputs ({}): at most \
             {MAX_DAYS_AHEAD} days ahead are accepted (hourly subscriptions are billed hour by \
             hour up to the as-of date); check the date",
            (w.as_of - latest) / DAY,
            format_local(latest)
        )));
    }
    Ok(w)
}

/// Refuses a window of a given as-of date that holds no valid usage row (`in_window` is 0),
/// unless `allow_empty`: such a run would publish empty bills and exit 0. The error names the
/// latest valid usage row and how many rows fell before and after the window (`usage`, when
/// known). The default as-of date always has the latest row in its window.
fn check_usage_in_window(
    cfg: &RunConfig,
    w: &Window,
    latest: Option<&usage::Latest>,
    in_window: u64,
    usage: &UsageAccounting,
) -> Result<()> {
    if in_window > 0 || cfg.allow_empty || cfg.as_of.is_none() {
        return Ok(());
    }
    let mut what = match latest {
        Some(l) => format!("the latest valid usage_start is {}", format_local(l.start)),
        None => "the input has no valid usage row".to_string(),
    };
    if usage.read > 0 {
        what.push_str(&format!(
            "; of {} usage rows read, {} before the window, {} at or after the as-of date",
            usage.read, usage.history_only, usage.after_as_of
        ));
    }
    Err(Error::EmptyWindow {
        as_of: local_date(w.as_of).to_string(),
        window: format!("[{}, {})", local_date(w.start), local_date(w.as_of)),
        usage: what,
    })
}

/// How far after the inputs' latest instant an as-of date may be: three years.
const MAX_DAYS_AHEAD: i64 = 3 * 366;

/// The latest instant something happened in the inputs but usage: an account opened, a payment,
/// a purchase, a package's start, a subscription's start, an event.
fn latest_input(base: &Inputs) -> Option<Ts> {
    let accounts = base.accounts.iter().map(|a| a.opening_at);
    let payments = base.payments.iter().map(|p| p.paid_at);
    let packages = (base.packages.iter()).flat_map(|p| [p.purchased_at, p.effective_at]);
    let subs = base.subscriptions.iter().map(|s| s.started_at);
    let events = base.events.iter().map(|e| e.at);
    (accounts
        .chain(payments)
        .chain(packages)
        .chain(subs)
        .chain(events))
    .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use crate::input::usage::Latest;
    use crate::shard::ShardSpec;

    fn cfg(as_of: &str) -> RunConfig {
        RunConfig {
            as_of: crate::calendar::parse_date(as_of),
            input: PathBuf::new(),
            catalog: PathBuf::new(),
            output: PathBuf::new(),
            threads: None,
            shard: ShardSpec::ALL,
            chunk_rows: 1,
            allow_empty: false,
            stage: None,
        }
    }

    #[test]
    fn an_as_of_far_after_every_input_is_refused() {
        let latest = parse_local("2024-05-01 07:00:00").map(Latest::at);
        let usage = latest.as_ref();
        let base = parse_local("2024-09-01 00:00:00");
        assert!(window(&cfg("2027-05-01"), usage, None).is_ok());
        let err = window(&cfg("2027-06-01"), usage, None).unwrap_err();
        assert!(matches!(err, Error::Argument(_)), "{err}");
        assert!(err.to_string().contains("at most 1098 days"), "{err}");
        // A later instant of the other inputs counts too; with no input at all, no bound.
        assert!(window(&cfg("2027-06-01"), usage, base).is_ok());
        assert!(window(&cfg("9999-01-01"), None, None).is_ok());
        // Without --as-of the window follows the usage.
        assert_eq!(
            window(&cfg(""), usage, base).unwrap().as_of,
            parse_local("2024-05-02 00:00:00").unwrap()
        );
    }
}
