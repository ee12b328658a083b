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
//! is snapshotted
//! (`rules::packages`) and monthly bills are summed (`rules::bills`). Detail tables are cut to
//! the window `[as-of − 3 months, as-of)` and every table is written as Hive-partitioned Parquet
//! in a total order (`output`), with `_manifest.json` last. Money is `Decimal` throughout
//! (`money`), calendar logic is UTC+8 (`calendar`).

pub mod calendar;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod generate;
pub mod input;
pub mod money;
pub mod output;
pub mod pipeline;
pub mod rules;
pub mod shard;

pub use error::{Error, Result};

/// Runs a parsed command line; the binary maps the result to an exit code.
pub fn run(cli: cli::Cli) -> Result<()> {
    match cli.command {
        cli::Command::Run(args) => {
            let cfg = cli::RunConfig::try_from(args)?;
            let go = || {
                pipeline::run(&cfg).map(|m| {
                eprintln!(
                    "reckon: {} usage rows read, {} billed in window, {} invalid; wrote {} in {} ms",
                    m.usage.read,
                    m.usage.billed,
                    m.usage.invalid,
                    cfg.output.display(),
                    m.duration_ms
                );
            })
            };
            match cfg.threads {
                Some(n) => rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::Usage(e.to_string()))?
                    .install(go),
                None => go(),
            }
        }
        cli::Command::Generate(args) => generate::run(&args),
        cli::Command::Merge(args) => output::merge::merge(&args.shards, &args.output).map(|m| {
            eprintln!(
                "reckon: merged {} shard outputs ({} usage rows read) into {}",
                args.shards.len(),
                m.usage.read,
                args.output.display()
            );
        }),
    }
}
