//! The one place where stages are ordered.
//!
//! load the catalog and every input table but usage → split accounts into shards and chunks by
//! pool (`shard`) → for each chunk of this run's shard, in turn: read its usage
//! (`input::chunks`), cut at the as-of moment → deduction (pools in parallel, package refunds
//! decided in the sweep) → pricing of the PAYG remainder → purchases → subscriptions (terms,
//! hours, upgrades, refunds) → elastic fees → package refund amounts → account timeline (ledger
//! of every line of all history, arrears steps, plan expiry; accounts in parallel) → package
//! status → monthly bills → cut detail tables to the window → write the chunk's files → after the
//! last chunk,
//! write the schema of tables that stayed empty, and the manifest last.
//!
//! Memory is bounded by one chunk: nothing of a chunk outlives its iteration but counters and
//! its largest vectors, emptied, for the next chunk to fill (`buffers`).

use crate::buffers::{with_room, Spare};
use crate::calendar::{format_local, local_date, Month, Ts, Window, DAY};
use crate::catalog::Catalog;
use crate::cli::RunConfig;
use crate::error::{Error, Result};
use crate::input::chunks::{self, UsageSource};
use crate::input::{self, Inputs, Usage, Violation};
use crate::model::{AccountEvent, Bill, BillLine, DeductionDetail, PackageStatus, RefundRow};
use crate::name::Name;
use crate::output::manifest::{self, Manifest, UsageAccounting};
use crate::output::publish::Publish;
use crate::output::{finish_table, part_name, write_rows, write_rows_where, Table, Written};
use crate::progress;
use crate::rules::{
    bills, deduction, elastic, packages, pricing, purchases, refunds, subscriptions, timeline,
};
use crate::shard::Partitioner;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

pub mod bench;

/// Figures of one run, also written to the manifest.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    pub usage: UsageAccounting,
    pub outputs: BTreeMap<String, Written>,
    pub chunks: u32,
    pub duration_ms: u128,
}

/// What one chunk hands to the writers.
struct ChunkOut {
    details: Vec<DeductionDetail>,
    lines: Vec<BillLine>,
    bills: Vec<Bill>,
    status: Vec<PackageStatus>,
    events: Vec<AccountEvent>,
    refunds: Vec<RefundRow>,
    exceptions: Vec<Violation>,
    usage: UsageAccounting,
    /// `details` and `lines` hold all history; only their rows in `window` are written.
    window: Window,
    /// The sum of the amounts of the bill lines in the window.
    lines_amount: Decimal,
}

/// Running sums over chunks.
#[derive(Default)]
struct Totals {
    lines: Decimal,
    bills_total: Decimal,
    bills_payable: Decimal,
}

pub fn run(cfg: &RunConfig) -> Result<RunMetrics> {
    let started = Instant::now();
    let stage = progress::stage("load catalog and inputs", 0);
    let catalog = Catalog::load(&cfg.catalog)?;
    let mut base = input::load_base(&cfg.input)?;
    let rows = chunks::count_rows(&cfg.input)?;
    let n_chunks = chunks::chunks_for(rows, cfg.shard.count, cfg.chunk_rows);
    let mut part = Partitioner::new(&base.packages, cfg.shard, n_chunks);
    balance_chunks(&mut part, &cfg.input)?;
    // Tables are written into a staging tree and published atomically at the end (`publish`).
    let publish = Publish::begin(&cfg.output, cfg.as_of)?;
    let out = publish.dir();
    // The spill in the output's side directory: on its file system, and removed by the next
    // run if this one is killed (`Publish::begin`).
    let mut source = UsageSource::open(&cfg.input, &part, Some(publish.side()), cfg.chunk_rows)?;

    // Input-level findings not tied to a chunk's accounts go with shard 0's first chunk.
    let mut base_violations = std::mem::take(&mut base.violations);
    base_violations.extend(unknown_targets(&base));
    base_violations.extend(unknown_package_regions(&base, &catalog));
    let owners = Owners::new(&base);

    let mut w: Option<Window> = None;
    let mut usage = UsageAccounting::default();
    let mut totals = Totals::default();
    let mut stage = stage.next("chunks: deduction, pricing, bills, write", n_chunks as u64);
    // A writer thread writes chunk k while chunk k + 1 is computed (at most one chunk waits).
    // With `--threads 1` the two take turns instead: one thread of work at a time.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u32, ChunkOut)>(0);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<()>(1);
    // The writer hands each written chunk's emptied vectors back for a later chunk to fill
    // (`buffers`); one waits at most, any other is freed.
    let (spare_tx, spare_rx) = std::sync::mpsc::sync_channel::<Spare>(1);
    let overlap = rayon::current_num_threads() > 1;
    let shard_index = part.shard.index;
    let (mut outputs, mut inputs) = std::thread::scope(|scope| -> Result<_> {
        let writer = scope.spawn(move || -> Result<BTreeMap<String, Written>> {
            let mut outputs = BTreeMap::new();
            for (chunk, c) in rx {
                let spare = write_chunk(
                    out,
                    &part_name(shard_index, chunk),
                    c,
                    &mut outputs,
                    overlap,
                )?;
                let _ = spare_tx.try_send(spare);
                if !overlap {
                    let _ = done_tx.send(());
                }
            }
            Ok(outputs)
        });
        let computed = (|| -> Result<Vec<input::FileInfo>> {
            let mut usage_buf = Vec::new();
            for chunk in 0..n_chunks {
                let files = source.load_chunk(chunk, &part)?;
                let w = *w.get_or_insert(window(cfg, source.latest_start)?);
                let ctx = Ctx {
                    catalog: &catalog,
                    base: &base,
                    owners: &owners,
                    part: &part,
                    duplicates: &source.duplicates,
                    w: &w,
                };
                let t = Instant::now();
                let spare = spare_rx.try_recv().unwrap_or_default();
                let (mut c, used) = process_chunk(&ctx, chunk, files, spare, usage_buf)?;
                usage_buf = used;
                tracing::debug!(chunk, ms = t.elapsed().as_millis() as u64, "chunk rules");
                c.exceptions.retain(|v| reported(v, &w));
                if chunk == 0 && part.shard.index == 0 {
                    // Bad rows of the tables replayed from all history (packages, scopes,
                    // accounts, payments, subscriptions, events): every day's replay misses
                    // them, so every run reports them, however old — not those after the as-of
                    // moment, which no run uses yet.
                    let base = std::mem::take(&mut base_violations);
                    c.exceptions.extend(
                        base.into_iter()
                            .filter(|v| v.at.is_none_or(|t| t < w.as_of)),
                    );
                }
                usage.add(&c.usage);
                totals.lines += c.lines_amount;
                totals.bills_total += c.bills.iter().map(|b| b.total_amount).sum::<Decimal>();
                totals.bills_payable += c.bills.iter().map(|b| b.payable).sum::<Decimal>();
                if tx.send((chunk, c)).is_err() || (!overlap && done_rx.recv().is_err()) {
                    break; // the writer failed: its error is reported below
                }
                stage.advance();
            }
            drop(tx);
            // The usage files' sizes and hashes, for the manifest, while the writer writes the
            // last chunk.
            source.file_infos()
        })();
        let written = match writer.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let infos = computed?;
        Ok((written?, infos))
    })?;
    let stage = stage.next("finish tables, manifest, publish", 0);
    let w = match w {
        Some(w) => w,
        None => window(cfg, source.latest_start)?,
    };
    let as_of_month = Month::of(w.as_of - 1);
    let file = part_name(part.shard.index, 0);
    finish_table::<DeductionDetail>(
        out,
        as_of_month,
        &file,
        slot(&mut outputs, DeductionDetail::NAME),
    )?;
    finish_table::<BillLine>(out, as_of_month, &file, slot(&mut outputs, BillLine::NAME))?;
    finish_table::<Bill>(out, as_of_month, &file, slot(&mut outputs, Bill::NAME))?;
    finish_table::<PackageStatus>(
        out,
        as_of_month,
        &file,
        slot(&mut outputs, PackageStatus::NAME),
    )?;
    finish_table::<AccountEvent>(
        out,
        as_of_month,
        &file,
        slot(&mut outputs, AccountEvent::NAME),
    )?;
    finish_table::<RefundRow>(out, as_of_month, &file, slot(&mut outputs, RefundRow::NAME))?;
    finish_table::<Violation>(out, as_of_month, &file, slot(&mut outputs, Violation::NAME))?;
    for wr in outputs.values_mut() {
        wr.files.sort();
    }

    inputs.append(&mut base.files);
    drop(source);
    let mut t = BTreeMap::new();
    t.insert("bill_lines.amount".into(), totals.lines.to_string());
    t.insert("bills.total_amount".into(), totals.bills_total.to_string());
    t.insert("bills.payable".into(), totals.bills_payable.to_string());
    let duration_ms = started.elapsed().as_millis();
    let m = Manifest {
        tool: "reckon".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        as_of_date: local_date(w.as_of).to_string(),
        window_start: format_local(w.start),
        window_end: format_local(w.as_of),
        months: w.months().iter().map(|m| m.to_string()).collect(),
        shard: part.shard.to_string(),
        chunks: n_chunks,
        catalog_path: cfg.catalog.display().to_string(),
        catalog_version: catalog.version.clone(),
        catalog_sha256: catalog.hash.clone(),
        inputs,
        usage: usage.clone(),
        outputs: outputs.clone(),
        totals: t,
        threads: rayon::current_num_threads(),
        duration_ms,
    };
    manifest::write(out, &m)?;
    publish.commit()?;
    drop(stage);
    Ok(RunMetrics {
        usage,
        outputs,
        chunks: n_chunks,
        duration_ms,
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
        tracing::debug!(
            owners = rows.by_owner.len(),
            ms = t.elapsed().as_millis() as u64,
            "chunks balanced"
        );
    }
    Ok(())
}

/// Writes one chunk's tables as `file` in each partition they touch; gives back its largest
/// vectors emptied. With `beside`, the deduction details are written on a thread of their own
/// while this one writes the other tables: each table's sort, month split and file writes are
/// one thread's work, and two tables at once keep both cores busy while the rules wait for the
/// writer. (Each file's bytes do not depend on it.)
fn write_chunk(
    out: &Path,
    file: &str,
    c: ChunkOut,
    outputs: &mut BTreeMap<String, Written>,
    beside: bool,
) -> Result<Spare> {
    let t = Instant::now();
    let ChunkOut {
        details,
        lines,
        bills,
        status,
        events,
        refunds,
        exceptions,
        window: w,
        ..
    } = c;
    let mut details_written = std::mem::take(slot(outputs, DeductionDetail::NAME));
    let write_details = || {
        write_rows_where(out, details, file, &mut details_written, |d| {
            w.contains(d.usage_start)
        })
    };
    let write_rest = || -> Result<Vec<BillLine>> {
        let lines = write_rows_where(out, lines, file, slot(outputs, BillLine::NAME), |l| {
            line_in_window(&w, l)
        })?;
        write_rows(out, bills, file, slot(outputs, Bill::NAME))?;
        write_rows(out, status, file, slot(outputs, PackageStatus::NAME))?;
        write_rows(out, events, file, slot(outputs, AccountEvent::NAME))?;
        write_rows(out, refunds, file, slot(outputs, RefundRow::NAME))?;
        write_rows(out, exceptions, file, slot(outputs, Violation::NAME))?;
        Ok(lines)
    };
    let (details, lines) = if beside {
        std::thread::scope(|scope| {
            let details = scope.spawn(write_details);
            let lines = write_rest();
            match details.join() {
                Ok(details) => (details, lines),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    } else {
        (write_details(), write_rest())
    };
    *slot(outputs, DeductionDetail::NAME) = details_written;
    let (details, lines) = (details?, lines?);
    tracing::debug!(file, ms = t.elapsed().as_millis() as u64, "chunk written");
    Ok(Spare { lines, details })
}

/// Whether a bill line is written (the detail tables keep the window's rows): the writer's cut
/// and the manifest's line total must agree.
fn line_in_window(w: &Window, l: &BillLine) -> bool {
    w.contains(l.charge_start)
}

fn slot<'a>(outputs: &'a mut BTreeMap<String, Written>, table: &str) -> &'a mut Written {
    outputs.entry(table.to_string()).or_default()
}

/// The window of the run: the given as-of date, or the day after the latest usage day.
fn window(cfg: &RunConfig, latest_start: Option<Ts>) -> Result<Window> {
    let d = match (cfg.as_of, latest_start) {
        (Some(d), _) => d,
        (None, Some(ts)) => local_date(ts + DAY),
        (None, None) => {
            return Err(Error::Usage(
                "no valid usage rows: give --as-of YYYY-MM-DD".into(),
            ))
        }
    };
    Ok(Window::new(d))
}

/// Owners of packages and subscriptions, to send each event to its target's chunk.
struct Owners<'a>(FxHashMap<&'a str, &'a str>);

impl<'a> Owners<'a> {
    fn new(base: &'a Inputs) -> Owners<'a> {
        Owners(
            base.packages
                .iter()
                .map(|p| (&*p.package_id, &*p.owner_uin))
                .chain(
                    base.subscriptions
                        .iter()
                        .map(|s| (&*s.subscription_id, &*s.owner_uin)),
                )
                .collect(),
        )
    }
}

/// What every chunk shares.
struct Ctx<'a> {
    catalog: &'a Catalog,
    base: &'a Inputs,
    owners: &'a Owners<'a>,
    part: &'a Partitioner,
    duplicates: &'a HashMap<String, HashSet<u32>>,
    w: &'a Window,
}

/// One chunk's inputs: its valid usage cut at the as-of moment and sorted in processing order
/// `(usage_start, usage_id)`, and the packages, subscriptions and events of its accounts.
struct ChunkInputs {
    usage: Vec<input::Usage>,
    packages: Vec<input::Package>,
    subs: Vec<input::Subscription>,
    events: Vec<input::Event>,
    violations: Vec<Violation>,
    /// Usage rows read, valid usage rows, valid rows at or after the as-of moment.
    read: u64,
    valid: u64,
    after_as_of: u64,
}

fn chunk_inputs(
    ctx: &Ctx,
    chunk: u32,
    files: Vec<input::InputFile>,
    usage_buf: Vec<Usage>,
) -> Result<ChunkInputs> {
    let Ctx {
        base,
        owners,
        part,
        duplicates,
        w,
        ..
    } = *ctx;
    let holds = |a: &str| part.holds(a, chunk);
    let mut violations = Vec::new();
    let read = files.iter().map(|f| f.df.height() as u64).sum::<u64>();
    let mut usage = input::usage::from_files_into(usage_buf, &files, &mut violations, duplicates)?;
    drop(files);
    let mut packages: Vec<_> = base
        .packages
        .iter()
        .filter(|p| holds(&p.owner_uin))
        .cloned()
        .collect();
    let subs: Vec<_> = base
        .subscriptions
        .iter()
        .filter(|s| holds(&s.owner_uin))
        .cloned()
        .collect();
    let mut events: Vec<_> = base
        .events
        .iter()
        .filter(|e| owners.0.get(&*e.target_id).is_some_and(|o| holds(o)))
        .cloned()
        .collect();

    // Nothing at or after the as-of moment is used.
    let valid = usage.len() as u64;
    usage.retain(|u| u.usage_end <= w.as_of);
    let after_as_of = valid - usage.len() as u64;
    input::usage::sort_for_processing(&mut usage);
    events.retain(|e| e.at < w.as_of);
    for p in &mut packages {
        if p.refunded_at.is_some_and(|r| r >= w.as_of) {
            p.refunded_at = None;
        }
    }
    Ok(ChunkInputs {
        usage,
        packages,
        subs,
        events,
        violations,
        read,
        valid,
        after_as_of,
    })
}

/// Every stage for the accounts of one chunk, filling `spare`'s vectors and `usage_buf`; gives
/// back the usage vector emptied.
fn process_chunk(
    ctx: &Ctx,
    chunk: u32,
    files: Vec<input::InputFile>,
    spare: Spare,
    usage_buf: Vec<Usage>,
) -> Result<(ChunkOut, Vec<Usage>)> {
    let t = Instant::now();
    let (catalog, base, w) = (ctx.catalog, ctx.base, ctx.w);
    let holds = |a: &str| ctx.part.holds(a, chunk);
    let ChunkInputs {
        usage,
        packages,
        subs,
        events,
        violations,
        read,
        valid,
        after_as_of,
    } = chunk_inputs(ctx, chunk, files, usage_buf)?;
    tracing::debug!(
        chunk,
        ms = t.elapsed().as_millis() as u64,
        rows = read,
        "chunk usage converted"
    );

    // The chunk's accounts: the subscriptions' history cut and the account timeline read them.
    let accounts: Vec<&input::Account> = base
        .accounts
        .iter()
        .filter(|a| holds(&a.owner_uin))
        .collect();

    // Subscriptions, elastic fees and package purchases do not read the deduction or the
    // pricing: their one-thread work runs beside those two stages' parallel work.
    let (deducted_and_priced, (subs_out, (elastic_lines, elastic_violations), purchase_lines)) =
        rayon::join(
            || -> Result<_> {
                let t = Instant::now();
                let ded = deduction::run_into(
                    spare.details,
                    &usage,
                    &packages,
                    &events,
                    catalog,
                    &refunds::package_policy(catalog),
                );
                tracing::debug!(
                    chunk,
                    ms = t.elapsed().as_millis() as u64,
                    "chunk deduction"
                );
                let t = Instant::now();
                let priced = pricing::price_usage_into(spare.lines, &usage, &ded.covered, catalog)?;
                tracing::debug!(chunk, ms = t.elapsed().as_millis() as u64, "chunk pricing");
                Ok((ded, priced))
            },
            || {
                // Lines before both the account's opening (the ledger's start) and the first
                // month the window touches (the bills') are read by no one.
                let first_month = Month::of(w.start).start();
                let opening: FxHashMap<Name, Ts> = accounts
                    .iter()
                    .map(|a| (a.owner_uin, a.opening_at))
                    .collect();
                let subs_out = subscriptions::replay_from(&subs, &events, catalog, w.as_of, |s| {
                    opening
                        .get(&s.owner_uin)
                        .map_or(Ts::MIN, |o| (*o).min(first_month))
                });
                let elastic =
                    elastic::elastic_lines(&usage, &subs, &subs_out.lives, catalog, w.as_of);
                let purchases = purchases::purchase_lines(&packages, w.as_of);
                (subs_out, elastic, purchases)
            },
        );
    let (ded, priced) = deducted_and_priced?;
    let mut lines = priced.lines;
    lines.extend(purchase_lines);
    let (package_refunds, refund_lines, refund_violations) = refunds::package_refunds(
        &ded.refund_requests,
        &packages,
        &events,
        &ded.details,
        catalog,
    );
    lines.extend(subs_out.lines);
    lines.extend(elastic_lines);
    lines.extend(refund_lines);
    let mut refund_rows = subs_out.refunds;
    refund_rows.extend(package_refunds);
    refund_rows.retain(|r| w.contains(r.at));

    // The account timeline reads every line of all history, before the window cut.
    let timeline_started = Instant::now();
    let tl = timeline::run(
        &timeline::Rows {
            accounts,
            payments: base
                .payments
                .iter()
                .filter(|p| holds(&p.owner_uin))
                .collect(),
            usage: &usage,
            subscriptions: &subs,
            lives: &subs_out.lives,
            lines: &lines,
        },
        catalog,
        w,
    );
    tracing::debug!(
        chunk,
        accounts = tl.accounts,
        events = tl.events.len(),
        ms = timeline_started.elapsed().as_millis() as u64,
        "account timeline"
    );

    let status = packages::snapshot(&packages, &ded.states, w);
    let bills = bills::monthly_bills(&lines, w);

    // Detail tables: the window only.
    let in_window = usage.iter().filter(|u| w.contains(u.usage_start)).count() as u64;
    let billed = usage
        .iter()
        .zip(&priced.billed)
        .filter(|(u, b)| **b && w.contains(u.usage_start))
        .count() as u64;
    // The detail tables keep the window's rows only: the writer leaves the others out
    // (`write_chunk`), so the rows are not moved together here.
    let lines_amount = {
        use rayon::prelude::*;
        lines
            .par_iter()
            .filter(|l| line_in_window(w, l))
            .map(|l| l.amount)
            .sum::<Decimal>()
    };
    let mut exceptions = violations;
    exceptions.extend(ded.violations);
    exceptions.extend(priced.violations);
    exceptions.extend(subs_out.violations);
    exceptions.extend(elastic_violations);
    exceptions.extend(refund_violations);
    exceptions.extend(packages::limit_violations(&status, catalog, w));
    exceptions.extend(tl.violations);

    let out = ChunkOut {
        details: ded.details,
        lines,
        bills,
        status,
        events: tl.events,
        refunds: refund_rows,
        exceptions,
        usage: UsageAccounting {
            read,
            invalid: read - valid,
            after_as_of,
            history_only: usage.len() as u64 - in_window,
            billed,
            unpriced: in_window - billed,
        },
        window: *w,
        lines_amount,
    };
    Ok((out, with_room(usage, 0)))
}

/// Which of a chunk's findings a run writes (RULES.md §8): those about usage rows dated in the
/// window (a row's at its `usage_start`), and those about the tables replayed from all history
/// (`packages`, `package_scope`, `subscriptions`, `events`) dated up to the as-of moment —
/// standing state that every day's replay finds again, however old: a scope whose units do not
/// convert (found at its first draw), too many packages, an hourly instance or a plan with no
/// price since it started, an upgrade refused a year ago. Left out before the window, such a
/// row was billed nothing without a word. (Bad rows of the replayed tables found on loading
/// are added apart: see the caller.)
fn reported(v: &Violation, w: &Window) -> bool {
    let standing = matches!(
        &*v.source_table,
        "packages" | "package_scope" | "subscriptions" | "events"
    );
    v.at.is_none_or(|t| w.contains(t) || (standing && t <= w.as_of))
}

/// Packages of a region the catalog does not know (a typo such as `ap-guangzou`): usage of a
/// known region never matches them, so they would sit in the inventory covering nothing, without
/// a word. Reported, not dropped (they still show in `package_status`).
fn unknown_package_regions(inputs: &Inputs, catalog: &Catalog) -> Vec<Violation> {
    inputs
        .packages
        .iter()
        .filter(|p| &*p.region != "*" && !catalog.region_names.contains_key(&*p.region))
        .map(|p| {
            Violation::new(
                "packages",
                &*p.package_id,
                "unknown_region",
                format!(
                    "region `{}` is no region of the catalog: the package covers no usage",
                    p.region
                ),
                None,
            )
        })
        .collect()
}

/// Events whose target is neither a package nor a subscription.
fn unknown_targets(inputs: &Inputs) -> Vec<Violation> {
    let known: std::collections::HashSet<&str> = inputs
        .packages
        .iter()
        .map(|p| &*p.package_id)
        .chain(inputs.subscriptions.iter().map(|s| &*s.subscription_id))
        .collect();
    let packages: std::collections::HashSet<&str> =
        inputs.packages.iter().map(|p| &*p.package_id).collect();
    let mut out = Vec::new();
    for e in &inputs.events {
        if !known.contains(&*e.target_id) {
            out.push(Violation::new(
                "events",
                &*e.event_id,
                "unknown_target",
                format!(
                    "{} of unknown package or subscription {}",
                    e.kind.as_str(),
                    e.target_id
                ),
                Some(e.at),
            ));
        } else if e.kind != input::EventKind::Refund && packages.contains(&*e.target_id) {
            out.push(Violation::new(
                "events",
                &*e.event_id,
                "invalid_event",
                format!(
                    "{} of package {}: packages are only refunded",
                    e.kind.as_str(),
                    e.target_id
                ),
                Some(e.at),
            ));
        }
    }
    out
}
