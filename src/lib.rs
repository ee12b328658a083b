//! reckon recomputes cloud billing for the last three months as of a date.
//!
//! The pipeline (`pipeline::run`): the price catalog (`catalog`) and the input tables (`input`)
//! are loaded and validated — bad files stop the run, bad rows become `exceptions`. Valid usage
//! before the as-of moment is sorted by `(usage_start, usage_id)` and swept through the package
//! pools (`rules::deduction`: free quota → packages → pay-as-you-go, in parallel across pools);
//! package refund requests are decided inside that sweep (`rules::refunds`); the pay-as-you-go
//! remainder is priced (`rules::pricing`, graduated tiers in `rules::tiering`), package purchases
//! are charged (`rules::purchases`), subscriptions are replayed with their renewals, upgrades and
//! refunds (`rules::subscriptions`), daily elastic fees computed (`rules::elastic`), the inventory
//! is snapshotted (`rules::packages`) and monthly bills are summed (`rules::bills`). The account
//! timeline (`rules::timeline`, in parallel across accounts) first drops the elastic fees of
//! days that start while elastic resources are unavailable (`rules::elastic_unavailable`), then
//! replays each account's ledger — opening balance, top-ups and every bill line of all history
//! kept (`rules::ledger`) — into arrears
//! episodes, the product steps of the catalog's arrears policies (`rules::arrears`) and the expiry
//! timeline of prepaid plans with their renewals (`rules::plan_expiry`), giving `account_events`
//! and the `usage_while_suspended` exceptions. Detail tables are cut to
//! the window `[as-of − 3 months, as-of)` and every table is written as Hive-partitioned Parquet
//! in a total order (`output`), with `_manifest.json` last. Money is `Decimal` throughout
//! (`money`), calendar logic is UTC+8 (`calendar`), and the names rows repeat (accounts,
//! regions, products, instances) are interned once per run (`name`).
//!
//! Operations: every table is written into a staging tree and published by an atomic swap under
//! an advisory lock (`output::publish`), so a killed run never leaves a partial output and two
//! runs never share one. `diff` compares two outputs with a reason per change (late usage,
//! package or catalog change, refund); `export::focus` maps an output to FOCUS 1.2; `report`
//! writes a self-contained HTML page of an output (and a diff) for a person; `progress` holds
//! the logs (`tracing`, stderr) and progress display. Schedulers write, audit, then
//! publish: `run` with `stage` writes a run's output beside the published one
//! (`output::stage`), `audit` checks it against the output published before the run, and
//! `output::stage::publish` swaps it in when the audit allows.

pub mod audit;
pub mod buffers;
pub mod calendar;
pub mod catalog;
pub mod cli;
pub mod columns;
pub mod diff;
pub mod error;
pub mod export;
pub mod generate;
pub mod input;
pub mod metrics;
pub mod model;
pub mod money;
pub mod name;
pub mod output;
pub mod parquet;
pub mod pipeline;
pub mod progress;
pub mod reconcile;
pub mod remote;
pub mod report;
pub mod rules;
pub mod shard;

pub use error::{Error, Result};
pub use pipeline::{RunConfig, RunMetrics};

/// How a command ended, for the binary's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (for `diff`: no differences).
    Done,
    /// `diff` found differences; `reconcile` found keys that do not match.
    Differences,
    /// `audit` failed a check: the staged run is not published without a person's approval.
    AuditFailed,
}

/// Recomputes the window's billing as `cfg` says and publishes the output (`pipeline`), on
/// `cfg.threads` threads.
pub fn run(cfg: &RunConfig) -> Result<RunMetrics> {
    with_threads(cfg.threads, || pipeline::run(cfg))
}

/// Runs one stage alone and prints its figures (`pipeline::bench`).
pub fn bench(
    stage: pipeline::bench::Stage,
    like: Option<&std::path::Path>,
    cfg: &RunConfig,
) -> Result<pipeline::bench::Figures> {
    with_threads(cfg.threads, || pipeline::bench::run(stage, like, cfg))
}

/// Runs `go` on a pool of `threads` workers (by default rayon's: `RAYON_NUM_THREADS`, or one per
/// core). polars keeps a thread pool of its own, sized once from `POLARS_MAX_THREADS`: with
/// `threads` it gets the same number, unless the environment already sets it.
///
/// The threads a run starts (the writer, and the one writing deduction details beside it) send
/// their parallel work to rayon's global pool, not to `go`'s: a pool of their own, so that a
/// chunk's rules and the writing of the chunk before share the cores instead of queueing behind
/// each other. The global pool gets `threads` workers too, so that with `--threads 1` every pool
/// has one worker and the stages that take turns keep one core busy, as the flag promises. In
/// a process whose
/// global pool already runs (tests, a library user with several runs), it keeps its size.
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    go: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        if std::env::var_os("POLARS_MAX_THREADS").is_none() {
            // Before any polars work, while this process has one thread.
            std::env::set_var("POLARS_MAX_THREADS", n.to_string());
        }
        // An error only says the global pool already runs.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
        pool = pool.num_threads(n);
    }
    pool.build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?
        .install(go)
}
