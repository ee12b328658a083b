//! The rules for the accounts of one chunk, stage by stage:
//!
//! chunk inputs (usage read and cut at the as-of moment, the chunk's packages, subscriptions
//! and events) → package renewals then deduction and pricing, beside subscriptions, elastic
//! fees and purchases → package refunds → account timeline (which settles the elastic fees
//! against arrears: the days it drops leave the bill lines) → package status and monthly bills
//! → the chunk's tables; the findings about the chunk's inventory (too many packages, quality
//! packages of region `*`, missing free quota) beside them. From the renewals on, every stage
//! reads the packages as renewed.
//!
//! Invariants: every usage row read is counted once in the chunk's [`UsageAccounting`]
//! (`read = invalid + after_as_of + history_only + billed + unpriced`); the rules see all
//! history of the chunk's accounts (the ledger and the tier counters need it), and the detail
//! tables are cut to the window when written; nothing of a chunk outlives it but counters and
//! its largest vectors, emptied, for the next chunk.

use crate::buffers::with_room;
use crate::calendar::{Month, Ts, Window};
use crate::catalog::Catalog;
use crate::error::Result;
use crate::input::{self, Account, Inputs, Usage, Violation};
use crate::model::{AccountEvent, Bill, BillLine, DeductionDetail, PackageStatus, RefundRow};
use crate::name::Name;
use crate::output::manifest::UsageAccounting;
use crate::rules::deduction::Deduction;
use crate::rules::pricing::Priced;
use crate::rules::subscriptions::Replayed;
use crate::rules::{
    bills, deduction, elastic, elastic_unavailable, free_quota, packages, pricing, purchases,
    refunds, renewals, subscriptions, timeline,
};
use crate::shard::Partitioner;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Emptied vectors of a written chunk, for the next chunk to fill. (The usage vector never
/// reaches the writer: the compute loop keeps it.)
#[derive(Default)]
pub struct Spare {
    pub lines: Vec<BillLine>,
    pub details: Vec<DeductionDetail>,
}

/// What one chunk hands to the writer.
pub struct ChunkOut {
    pub details: Vec<DeductionDetail>,
    pub lines: Vec<BillLine>,
    pub bills: Vec<Bill>,
    pub status: Vec<PackageStatus>,
    pub events: Vec<AccountEvent>,
    pub refunds: Vec<RefundRow>,
    pub exceptions: Vec<Violation>,
    pub usage: UsageAccounting,
    /// `details` and `lines` hold all history; only their rows in `window` are written.
    pub window: Window,
    /// The sum of the amounts of the bill lines in the window.
    pub lines_amount: Decimal,
}

/// Whether a bill line is written (the detail tables keep the window's rows): the writer's cut
/// and the manifest's line total must agree.
pub fn line_in_window(w: &Window, l: &BillLine) -> bool {
    w.contains(l.charge_start)
}

/// Owners of packages and subscriptions, to send each event to its target's chunk.
pub struct Owners<'a>(FxHashMap<&'a str, &'a str>);

impl<'a> Owners<'a> {
    pub fn new(base: &'a Inputs) -> Owners<'a> {
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
pub struct Ctx<'a> {
    pub catalog: &'a Catalog,
    pub base: &'a Inputs,
    pub owners: &'a Owners<'a>,
    pub part: &'a Partitioner,
    pub duplicates: &'a HashMap<String, HashSet<u32>>,
    pub w: &'a Window,
}

/// One chunk's inputs: its valid usage cut at the as-of moment and sorted in processing order
/// `(usage_start, usage_id)`, and the packages, subscriptions and events of its accounts.
pub struct ChunkInputs {
    pub usage: Vec<Usage>,
    pub packages: Vec<input::Package>,
    pub subs: Vec<input::Subscription>,
    pub events: Vec<input::Event>,
    pub violations: Vec<Violation>,
    /// Usage rows read, valid usage rows, valid rows at or after the as-of moment.
    pub read: u64,
    pub valid: u64,
    pub after_as_of: u64,
}

/// Reads chunk `chunk`'s usage from `files` into `usage_buf` and takes its accounts' rows of the
/// other tables; nothing at or after the as-of moment is kept.
pub fn chunk_inputs(
    ctx: &Ctx,
    chunk: u32,
    files: Vec<input::InputFile>,
    usage_buf: Vec<Usage>,
) -> Result<ChunkInputs> {
    let (base, w) = (ctx.base, ctx.w);
    let holds = |a: &str| ctx.part.holds(a, chunk);
    let mut violations = Vec::new();
    let read = files.iter().map(|f| f.df.height() as u64).sum::<u64>();
    let mut usage =
        input::usage::from_files_into(usage_buf, &files, &mut violations, ctx.duplicates)?;
    drop(files);
    let valid = usage.len() as u64;
    usage.retain(|u| u.usage_end <= w.as_of);
    let after_as_of = valid - usage.len() as u64;
    input::usage::sort_for_processing(&mut usage);

    let mut packages: Vec<_> = base
        .packages
        .iter()
        .filter(|p| holds(&p.owner_uin))
        .cloned()
        .collect();
    for p in &mut packages {
        if p.refunded_at.is_some_and(|r| r >= w.as_of) {
            p.refunded_at = None;
        }
    }
    let subs: Vec<_> = base
        .subscriptions
        .iter()
        .filter(|s| holds(&s.owner_uin))
        .cloned()
        .collect();
    let events: Vec<_> = base
        .events
        .iter()
        .filter(|e| e.at < w.as_of && ctx.owners.0.get(&*e.target_id).is_some_and(|o| holds(o)))
        .cloned()
        .collect();
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
pub fn process_chunk(
    ctx: &Ctx,
    chunk: u32,
    files: Vec<input::InputFile>,
    spare: Spare,
    usage_buf: Vec<Usage>,
) -> Result<(ChunkOut, Vec<Usage>)> {
    let t = Instant::now();
    let mut inp = chunk_inputs(ctx, chunk, files, usage_buf)?;
    let ms = t.elapsed().as_millis() as u64;
    tracing::debug!(chunk, ms, rows = inp.read, "chunk usage converted");
    // The subscriptions' history cut and the account timeline read the chunk's accounts.
    let accounts: Vec<&Account> = (ctx.base.accounts.iter())
        .filter(|a| ctx.part.holds(&a.owner_uin, chunk))
        .collect();
    let Charged {
        ded,
        priced,
        subs_out,
        elastic: (elastic_lines, mut elastic_violations),
        purchase_lines,
        renewed,
    } = charge(ctx, chunk, &mut inp, &accounts, spare)?;
    let (package_refunds, refund_lines, refund_violations) = refunds::package_refunds(
        &ded.refund_requests,
        &inp.packages,
        &inp.events,
        &ded.details,
        ctx.catalog,
    );
    let mut lines = priced.lines;
    lines.extend(purchase_lines);
    lines.extend(subs_out.lines);
    lines.extend(elastic_lines);
    lines.extend(refund_lines);
    let mut refund_rows = subs_out.refunds;
    refund_rows.extend(package_refunds);
    refund_rows.retain(|r| ctx.w.contains(r.at));
    let status = packages::snapshot(&inp.packages, &ded.states, ctx.w);
    let inventory = inventory_findings(ctx, &inp, &accounts, &status);
    let tl = account_timeline(
        ctx,
        chunk,
        &inp,
        accounts,
        &subs_out.lives,
        &lines,
        &renewed.applied,
    )?;
    // Elastic fees of days whose resources were unavailable are settled by the timeline, which
    // alone replays the balance: they are in no table.
    elastic_unavailable::remove(&mut lines, &mut elastic_violations, &tl.dropped_elastic);
    let bills = bills::monthly_bills(&lines, ctx.w);
    let mut exceptions = inp.violations;
    exceptions.extend(renewed.violations);
    exceptions.extend(ded.violations);
    exceptions.extend(priced.violations);
    exceptions.extend(subs_out.violations);
    exceptions.extend(elastic_violations);
    exceptions.extend(refund_violations);
    exceptions.extend(inventory);
    exceptions.extend(tl.violations);
    let counts = Counts {
        read: inp.read,
        valid: inp.valid,
        after_as_of: inp.after_as_of,
    };
    let out = ChunkOut {
        usage: accounting(counts, &inp.usage, &priced.billed, ctx.w),
        lines_amount: amount_in_window(&lines, ctx.w)?,
        details: ded.details,
        lines,
        bills,
        status,
        events: tl.events,
        refunds: refund_rows,
        exceptions,
        window: *ctx.w,
    };
    Ok((out, with_room(inp.usage, 0)))
}

/// Findings about the chunk's inventory as a whole: too many quality packages, quality packages
/// of region `*`, missing free quota (docs/rules.md §3.7, §3.3.2, §4.1).
fn inventory_findings(
    ctx: &Ctx,
    inp: &ChunkInputs,
    accounts: &[&Account],
    status: &[PackageStatus],
) -> Vec<Violation> {
    let mut v = packages::limit_violations(status, ctx.catalog, ctx.w);
    v.extend(packages::qtp_all_region(&inp.packages, ctx.catalog));
    v.extend(free_quota::free_quota_missing(
        accounts,
        &inp.packages,
        ctx.catalog,
        ctx.w,
    ));
    v
}

/// What the charging stages give.
struct Charged {
    ded: Deduction,
    priced: Priced,
    subs_out: Replayed,
    /// Elastic fees: the lines and their findings.
    elastic: (Vec<BillLine>, Vec<Violation>),
    /// Package purchases and renewals.
    purchase_lines: Vec<BillLine>,
    /// The package renewals (their lines among `purchase_lines`).
    renewed: renewals::Renewed,
}

/// The charging stages: renewals, deduction then pricing (parallel work across pools and rows),
/// and beside them subscriptions, elastic fees and package purchases, which read neither and are
/// one thread's work each. Leaves `inp`'s packages as renewed.
fn charge(
    ctx: &Ctx,
    chunk: u32,
    inp: &mut ChunkInputs,
    accounts: &[&Account],
    spare: Spare,
) -> Result<Charged> {
    let catalog = ctx.catalog;
    let shared: &ChunkInputs = inp;
    let (charged, (subs_out, elastic, purchases)) = rayon::join(
        || deduct_and_price(ctx, chunk, shared, spare),
        || {
            let subs_out = replay_subscriptions(ctx, shared, accounts);
            let elastic = elastic::elastic_lines(
                &shared.usage,
                &shared.subs,
                &subs_out.lives,
                catalog,
                ctx.w.as_of,
            );
            let purchases = purchases::purchase_lines(&shared.packages, ctx.w.as_of);
            (subs_out, elastic, purchases)
        },
    );
    let (ded, priced, (mut renewed, renewed_packages)) = charged?;
    if let Some(p) = renewed_packages {
        inp.packages = p;
    }
    let mut purchases = purchases;
    purchases.append(&mut renewed.lines);
    Ok(Charged {
        ded,
        priced,
        renewed,
        subs_out,
        elastic,
        purchase_lines: purchases,
    })
}

/// Package renewals, deduction of the chunk's usage against the renewed packages (pools in
/// parallel), then pricing of the pay-as-you-go remainder; fills `spare`'s vectors.
fn deduct_and_price(
    ctx: &Ctx,
    chunk: u32,
    inp: &ChunkInputs,
    spare: Spare,
) -> Result<(Deduction, Priced, Renewals)> {
    let t = Instant::now();
    let (ded, renewed) = renew_and_deduct(ctx, inp, spare.details);
    tracing::debug!(
        chunk,
        ms = t.elapsed().as_millis() as u64,
        "chunk deduction"
    );
    let t = Instant::now();
    let priced = pricing::price_usage_into(spare.lines, &inp.usage, &ded.covered, ctx.catalog)?;
    tracing::debug!(chunk, ms = t.elapsed().as_millis() as u64, "chunk pricing");
    Ok((ded, priced, renewed))
}

/// The renewals and, when any applied, the packages as renewed.
pub(super) type Renewals = (renewals::Renewed, Option<Vec<input::Package>>);

/// docs/rules.md §3.8: the renewals, decided on the inventory's refund instants, then deduction
/// against the packages as renewed. A refund request the sweep honours is a refund instant the
/// renewals did not know: when an applied renewal lies at or after one, the renewals are
/// decided again on the sweep's refund instants and the deduction is run again (rare: a
/// renewal after an honoured refund request).
pub(super) fn renew_and_deduct(
    ctx: &Ctx,
    inp: &ChunkInputs,
    details: Vec<DeductionDetail>,
) -> (Deduction, Renewals) {
    let policy = refunds::package_policy(ctx.catalog);
    let deduct = |details, packages: &[input::Package]| {
        deduction::run_into(
            details,
            &inp.usage,
            packages,
            &inp.events,
            ctx.catalog,
            &policy,
        )
    };
    let renewed_with = |refund_at: &[Option<Ts>]| {
        let r = renewals::renew(&inp.packages, &inp.events, refund_at, ctx.w.as_of);
        let packages = (!r.applied.is_empty()).then(|| {
            let mut p = inp.packages.clone();
            r.apply(&mut p);
            p
        });
        (r, packages)
    };
    let inventory: Vec<Option<Ts>> = inp.packages.iter().map(|p| p.refunded_at).collect();
    let (r, packages) = renewed_with(&inventory);
    let ded = deduct(details, packages.as_deref().unwrap_or(&inp.packages));
    let refund_at: Vec<Option<Ts>> = ded.states.iter().map(|s| s.refund_at).collect();
    if !r.refused_by(&refund_at) {
        return (ded, (r, packages));
    }
    let (r, packages) = renewed_with(&refund_at);
    let ded = deduct(ded.details, packages.as_deref().unwrap_or(&inp.packages));
    (ded, (r, packages))
}

/// Subscriptions replayed with their renewals, upgrades and refunds. Lines before both the
/// account's opening (the ledger's start) and the first month the window touches (the bills')
/// are read by no one, so they are not built.
fn replay_subscriptions(ctx: &Ctx, inp: &ChunkInputs, accounts: &[&Account]) -> Replayed {
    let first_month = Month::of(ctx.w.start).start();
    let opening: FxHashMap<Name, Ts> = accounts
        .iter()
        .map(|a| (a.owner_uin, a.opening_at))
        .collect();
    subscriptions::replay_from(&inp.subs, &inp.events, ctx.catalog, ctx.w.as_of, |s| {
        opening
            .get(&s.owner_uin)
            .map_or(Ts::MIN, |o| (*o).min(first_month))
    })
}

/// The account timeline (accounts in parallel): it reads every line of all history, before the
/// window cut.
fn account_timeline(
    ctx: &Ctx,
    chunk: u32,
    inp: &ChunkInputs,
    accounts: Vec<&Account>,
    lives: &[subscriptions::Life],
    lines: &[BillLine],
    renewals: &[renewals::Renewal],
) -> Result<timeline::Timeline> {
    let t = Instant::now();
    let payments = (ctx.base.payments.iter())
        .filter(|p| ctx.part.holds(&p.owner_uin, chunk))
        .collect();
    let rows = timeline::Rows {
        accounts,
        payments,
        usage: &inp.usage,
        subscriptions: &inp.subs,
        lives,
        lines,
        renewals,
    };
    let tl = timeline::run(&rows, ctx.catalog, ctx.w)?;
    let ms = t.elapsed().as_millis() as u64;
    tracing::debug!(
        chunk,
        accounts = tl.accounts,
        events = tl.events.len(),
        ms,
        "account timeline"
    );
    Ok(tl)
}

/// Usage rows read, valid, and valid at or after the as-of moment.
struct Counts {
    read: u64,
    valid: u64,
    after_as_of: u64,
}

/// Where each usage row read went (the manifest's accounting).
fn accounting(c: Counts, usage: &[Usage], billed: &[bool], w: &Window) -> UsageAccounting {
    let in_window = usage.iter().filter(|u| w.contains(u.usage_start)).count() as u64;
    let billed = usage
        .iter()
        .zip(billed)
        .filter(|(u, b)| **b && w.contains(u.usage_start))
        .count() as u64;
    UsageAccounting {
        read: c.read,
        invalid: c.read - c.valid,
        after_as_of: c.after_as_of,
        history_only: usage.len() as u64 - in_window,
        billed,
        unpriced: in_window - billed,
    }
}

/// The sum of the amounts of the lines the writer keeps (see [`line_in_window`]).
fn amount_in_window(lines: &[BillLine], w: &Window) -> Result<Decimal> {
    use rayon::prelude::*;
    lines
        .par_iter()
        .filter(|l| line_in_window(w, l))
        .map(|l| Some(l.amount))
        .try_reduce(|| Decimal::ZERO, |a, b| a.checked_add(b))
        .ok_or_else(|| crate::pipeline::total_overflow("bill_lines.amount"))
}
