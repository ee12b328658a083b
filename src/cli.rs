//! The command line: arguments in two steps (as ripgrep does) — [`Cli`] holds the values as
//! typed, and each command's arguments are validated into the library's own settings (e.g.
//! [`RunConfig`]) — and [`run`], which calls the library entry point of the command. The `///`
//! docs are `--help`.

use crate::audit::AuditConfig;
use crate::calendar::{local_date, parse_date};
use crate::error::{Error, Result};
use crate::generate::GenerateConfig;
use crate::output::stage::{PublishConfig, Published, RunId};
use crate::pipeline::bench::Stage;
use crate::remote::run_name;
use crate::shard::ShardSpec;
use crate::{diff, export, generate, output, progress, remote, report, Outcome, RunConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Runs a parsed command line; the binary maps the result to an exit code.
pub fn run(cli: Cli) -> Result<Outcome> {
    progress::init(progress::Verbosity::from_flags(cli.quiet, cli.verbose));
    for (flag, path, remote_ok) in paths(&cli.command) {
        if !(remote_ok && remote::is_url(path)) {
            refuse_url(flag, path)?;
        }
    }
    match cli.command {
        Command::Run(args) => run_job(args),
        Command::Bench(args) => {
            let cfg = RunConfig::try_from(args.run)?;
            crate::bench(args.stage.into(), args.like.as_deref(), &cfg)?;
            Ok(Outcome::Done)
        }
        Command::Generate(args) => {
            generate::run(&GenerateConfig::try_from(args)?).map(|()| Outcome::Done)
        }
        Command::Merge(args) => merge(args),
        Command::Diff(mut args) => {
            let mut scratch = Scratch::default();
            if remote::is_url(&args.new) && args.output.is_none() {
                return Err(Error::Argument(
                    "NEW_OUTPUT is a URL: give --output DIR for the diff table".into(),
                ));
            }
            scratch.input(&mut args.old, "old", false)?;
            scratch.input(&mut args.new, "new", false)?;
            Ok(match diff::run(&args.into())? {
                true => Outcome::Differences,
                false => Outcome::Done,
            })
        }
        Command::Reconcile(args) => {
            let report = crate::reconcile::run(&args.try_into()?)?;
            Ok(match report.mismatched() {
                true => Outcome::Differences,
                false => Outcome::Done,
            })
        }
        Command::Audit(args) => {
            let cfg = AuditConfig::try_from(args)?;
            let v = match remote::is_url(&cfg.output) {
                true => remote::wap::audit(&cfg)?,
                false => crate::audit::run(&cfg)?,
            };
            progress::print_out(&format!("{}report: {}\n", v.summary, v.dir.display()));
            Ok(match v.record.passed {
                true => Outcome::Done,
                false => Outcome::AuditFailed,
            })
        }
        Command::Publish(args) => publish(args),
        Command::Export(ExportCommand::Focus(mut args)) => {
            let mut scratch = Scratch::default();
            scratch.input(&mut args.input, "input", false)?;
            let remote = scratch.output(&mut args.output, "output")?;
            let output = args.output.clone();
            let as_of = match &remote {
                Some(_) => output::manifest::read(&args.input)?.as_of_date,
                None => String::new(),
            };
            export::focus::run(&args.into())?;
            if let Some(r) = &remote {
                r.publish(&output, &run_name(&as_of), remote::KEEP_RUNS)?;
            }
            Ok(Outcome::Done)
        }
        Command::Report(args) => report::run(&args.into()).map(|()| Outcome::Done),
    }
}

/// Every path a command reads or writes, with the flag that names it and whether it may be an
/// object storage URL (`s3://`, `gs://`, `az://`; see [`remote`]).
fn paths(command: &Command) -> Vec<(&'static str, &std::path::Path, bool)> {
    fn run_paths(a: &RunArgs) -> Vec<(&'static str, &std::path::Path, bool)> {
        let mut v = vec![
            ("--input", a.input.as_path(), true),
            ("--output", a.output.as_path(), true),
        ];
        v.extend(a.catalog.as_deref().map(|p| ("--catalog", p, false)));
        v.extend(a.metrics.as_deref().map(|p| ("--metrics", p, false)));
        v
    }
    let mut v: Vec<(&'static str, &std::path::Path, bool)> = Vec::new();
    match command {
        Command::Run(a) => v = run_paths(a),
        Command::Bench(a) => {
            v = run_paths(&a.run);
            for p in &mut v {
                p.2 = false;
            }
        }
        Command::Generate(a) => v.push(("--output", &a.output, false)),
        Command::Merge(a) => {
            v.push(("--output", &a.output, true));
            v.extend(a.shards.iter().map(|p| ("SHARD_DIR", p.as_path(), true)));
        }
        Command::Diff(a) => {
            v.push(("OLD_OUTPUT", &a.old, true));
            v.push(("NEW_OUTPUT", &a.new, true));
            v.extend(a.output.as_deref().map(|p| ("--output", p, false)));
        }
        Command::Audit(a) => v.push(("--output", &a.output, true)),
        Command::Publish(a) => v.push(("--output", &a.output, true)),
        Command::Reconcile(a) => {
            v.push(("ISSUED", &a.issued, false));
            v.push(("RECOMPUTED", &a.recomputed, false));
            v.push(("--output", &a.output, false));
            v.extend(a.catalog.as_deref().map(|p| ("--catalog", p, false)));
        }
        Command::Report(a) => {
            v.push(("--input", &a.input, false));
            v.extend(a.diff.as_deref().map(|p| ("--diff", p, false)));
            v.extend((a.reconciliation.as_deref()).map(|p| ("--reconciliation", p, false)));
            v.push(("--output", &a.output, false));
        }
        Command::Export(ExportCommand::Focus(a)) => {
            v.push(("--input", &a.input, true));
            v.push(("--output", &a.output, true));
        }
    }
    v
}

/// `reckon run`: inputs given as a URL downloaded first; the output published (or staged, with
/// `--stage`) locally, or to an output URL ([`remote::Remote::publish`], [`remote::wap::stage`]).
fn run_job(mut args: RunArgs) -> Result<Outcome> {
    let metrics = args.metrics.take();
    let keep = args.keep_runs;
    let mut scratch = Scratch::default();
    scratch.input(&mut args.input, "input", true)?;
    let remote = scratch.output(&mut args.output, "output")?;
    let cfg = RunConfig::try_from(args)?;
    let m = crate::run(&cfg)?;
    match (&remote, &cfg.stage) {
        (Some(r), Some(id)) => {
            remote::wap::stage(r, id, &staged_locally(&cfg.output, id)?)?;
        }
        (Some(r), None) => {
            r.publish(
                &cfg.output,
                &run_name(&m.window.as_of_date.to_string()),
                keep,
            )?;
        }
        (None, _) => {}
    }
    if let Some(path) = &metrics {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        crate::metrics::write(path, &cfg.output, &m, now)?;
    }
    let exceptions = m.outputs.get("exceptions").map_or(0, |w| w.rows);
    tracing::info!(
        as_of = %m.window.as_of_date,
        window = %format!(
            "[{}, {})",
            local_date(m.window.start),
            local_date(m.window.as_of)
        ),
        read = m.usage.read,
        billed = m.usage.billed,
        invalid = m.usage.invalid,
        exceptions,
        output = %cfg.output.display(),
        staged_as = cfg.stage.as_ref().map(|id| id.to_string()),
        exceptions_at = %cfg.output.join("exceptions").display(),
        ms = m.duration_ms as u64,
        "run complete"
    );
    Ok(Outcome::Done)
}

/// `reckon publish`: a local output ([`output::stage::publish`]) or an output URL
/// ([`remote::wap::publish`]).
fn publish(args: PublishArgs) -> Result<Outcome> {
    let keep = args.keep_runs;
    let cfg = PublishConfig::try_from(args)?;
    let published = match remote::is_url(&cfg.output) {
        true => remote::wap::publish(&cfg, keep)?,
        false => output::stage::publish(&cfg)?,
    };
    match published {
        Published::Now { as_of_date } => tracing::info!(
            run_id = %cfg.run_id, as_of = %as_of_date, output = %cfg.output.display(),
            "published"
        ),
        Published::Already { as_of_date } => tracing::info!(
            run_id = %cfg.run_id, as_of = %as_of_date, output = %cfg.output.display(),
            "already published: nothing staged, the output is this run's"
        ),
    }
    Ok(Outcome::Done)
}

/// `reckon merge`: the shards (URLs downloaded: their published runs, or with `--stage ID` their
/// runs staged as ID), merged into the output or staged as run ID's; an output URL then gets
/// the merged run published ([`remote::Remote::publish`]) or staged ([`remote::wap::stage`]).
fn merge(mut args: MergeArgs) -> Result<Outcome> {
    let stage = args.stage_as.as_deref().map(RunId::parse).transpose()?;
    let mut scratch = Scratch::default();
    for (k, shard) in args.shards.iter_mut().enumerate() {
        match &stage {
            Some(id) => scratch.staged_input(shard, &format!("shard-{k}"), id)?,
            None => scratch.input(shard, &format!("shard-{k}"), false)?,
        }
    }
    let remote = scratch.output(&mut args.output, "output")?;
    let m = output::merge::merge_to(&args.shards, &args.output, stage.as_ref())?;
    match (&remote, &stage) {
        (Some(r), Some(id)) => {
            remote::wap::stage(r, id, &staged_locally(&args.output, id)?)?;
        }
        (Some(r), None) => r.publish(&args.output, &run_name(&m.as_of_date), args.keep_runs)?,
        (None, _) => {}
    }
    tracing::info!(
        shards = args.shards.len(),
        read = m.usage.read,
        output = %args.output.display(),
        staged_as = stage.as_ref().map(|id| id.to_string()),
        "merge complete"
    );
    Ok(Outcome::Done)
}

/// Where run `id`'s output is staged beside the local output `out` (`output::stage`).
fn staged_locally(out: &std::path::Path, id: &RunId) -> Result<PathBuf> {
    let side = output::publish::side_dir(&output::publish::resolve(out)?)?;
    Ok(output::stage::staged_dir(&side, id))
}

/// A directory of object storage URLs given as arguments, materialised locally: inputs
/// downloaded into it, outputs written in it before their upload; removed when dropped.
#[derive(Default)]
struct Scratch {
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    fn root(&mut self) -> Result<PathBuf> {
        if self.dir.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("reckon-scratch-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            self.dir = Some(dir);
        }
        Ok(self
            .dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default())
    }

    /// An input given as a URL is downloaded into `<scratch>/<name>` and `path` points there:
    /// `whole`, every object below the URL (input tables); otherwise the run its `LATEST` names
    /// (a published output).
    fn input(&mut self, path: &mut PathBuf, name: &str, whole: bool) -> Result<()> {
        if !remote::is_url(path) {
            return Ok(());
        }
        let url = path.to_string_lossy().to_string();
        let to = self.root()?.join(name);
        let r = remote::Remote::open(&url)?;
        if whole {
            let n = r.download("", &to)?;
            tracing::info!(input = %url, objects = n, "downloaded");
        } else {
            let run = r.download_latest(&to)?;
            tracing::info!(output = %url, run = %run, "downloaded the published run");
        }
        *path = to;
        Ok(())
    }

    /// A shard given as a URL: its run staged as `id` is downloaded into `<scratch>/<name>`
    /// and `path` points there.
    fn staged_input(&mut self, path: &mut PathBuf, name: &str, id: &RunId) -> Result<()> {
        if !remote::is_url(path) {
            return Ok(());
        }
        let url = path.to_string_lossy().to_string();
        let to = self.root()?.join(name);
        remote::wap::download_staged(&remote::Remote::open(&url)?, id, &to)?;
        tracing::info!(shard = %url, run_id = %id, "downloaded the staged run");
        *path = to;
        Ok(())
    }

    /// An output given as a URL is written into `<scratch>/<name>` (`path` points there) and
    /// published to the URL by the caller.
    fn output(&mut self, path: &mut PathBuf, name: &str) -> Result<Option<remote::Remote>> {
        if !remote::is_url(path) {
            return Ok(None);
        }
        let r = remote::Remote::open(&path.to_string_lossy())?;
        r.check_reachable()?;
        *path = self.root()?.join(name);
        Ok(Some(r))
    }
}

/// Refuses a URL (`s3://bucket/out`, `gs://…`, `az://…`, any `scheme://`) where a local path is
/// expected: taken as a path it would silently read or write a local directory named `s3:`.
fn refuse_url(flag: &str, path: &std::path::Path) -> Result<()> {
    let text = path.to_string_lossy();
    let Some((scheme, _)) = text.split_once("://") else {
        return Ok(());
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !is_scheme {
        return Ok(());
    }
    Err(Error::Argument(format!(
        "{flag} {text}: object storage URLs are not supported here; `run --input/--output`, \
         `diff OLD NEW`, `merge`, `audit --output`, `publish --output` and `export \
         --input/--output` take s3://, gs:// and az:// URLs"
    )))
}

/// reckon — batch billing reconciliation: package deduction, tiered pricing, bills, ledger.
#[derive(Debug, Parser)]
#[command(name = "reckon", version, about)]
pub struct Cli {
    /// Print only warnings and errors on stderr (no progress).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print more on stderr: `-v` debug detail, `-vv` trace.
    #[arg(long, short, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recompute the last three months of billing as of a date and write every output table.
    Run(RunArgs),
    /// Write a realistic synthetic dataset of every input table (deterministic per seed).
    Generate(GenerateArgs),
    /// Merge the outputs of `run --shard K/N` for every K into one output.
    Merge(MergeArgs),
    /// Compare two outputs: bills by (month, owner_uin, product), bill lines by line_id.
    ///
    /// Prints a summary (accounts and months changed, amount deltas, reasons) on stdout and
    /// writes the `diff` table to `--output`. Only the months and charge times that both
    /// outputs cover are compared.
    ///
    /// Exit codes: 0 no differences; 1 differences (with `--closed-only`: a month already closed
    /// in OLD changed); 2 bad input or usage (e.g. a directory that is not an output);
    /// 3 internal error.
    #[command(verbatim_doc_comment)]
    Diff(DiffArgs),
    /// Compare the bill lines a platform issued with a recomputed output, key by key.
    ///
    /// Both sides are summed per (owner_uin, charge_kind, product, sub_product, billing_item,
    /// region, instance_id, charge_start) over the recomputed output's window; each key gets a
    /// status (match, within_tolerance, amount_mismatch, quantity_mismatch, missing_in_issued,
    /// missing_in_recomputed) and, where the data shows it, a cause. Writes
    /// `reconciliation/`, `reconciliation_summary/`, `summary.txt` and `_manifest.json` to
    /// `--output` (published atomically) and prints the summary.
    ///
    /// Exit codes: 0 every key matches or is within tolerance; 1 some key does not; 2 bad input
    /// or usage (a repeated issued_line_id, a negative --tolerance); 3 internal error.
    #[command(verbatim_doc_comment)]
    Reconcile(ReconcileArgs),
    /// Check a staged run (`run --stage ID`) before it is published: usage conservation,
    /// exception thresholds, and no restated closed month compared with the output published
    /// before the run.
    ///
    /// Each audit writes a new `runs/ID/audit-N/` in the output's side directory
    /// (`.<name>.reckon/`), or `staged/ID/audit-N/` below an object storage output URL: the
    /// `diff` table, `summary.txt` (also printed) and `audit.json`.
    ///
    /// Exit codes: 0 passed; 1 a check failed (nothing is published); 2 bad input or usage;
    /// 3 internal error.
    #[command(verbatim_doc_comment)]
    Audit(AuditArgs),
    /// Publish a staged run atomically, when its latest audit passed (or failed on restated
    /// closed months alone and `--allow-restatement` approves them). Publishing a run already
    /// published does nothing and succeeds. On an object storage output the staged run is
    /// copied to a new `runs/` prefix and `LATEST` moved to it.
    Publish(PublishArgs),
    /// Export an output to another format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Write one self-contained HTML page about an output (and a diff) for a person to read.
    ///
    /// Totals per month and product, package coverage against pay-as-you-go, the top
    /// accounts, exceptions by rule with examples and, with --diff, the months, accounts and
    /// reasons that changed. Charts are inline SVG; the page loads nothing else.
    Report(ReportArgs),
    /// Run one stage alone and print its timings (for `bench/run.sh`).
    #[command(hide = true)]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier output directory (e.g. the previous run).
    #[arg(value_name = "OLD_OUTPUT")]
    pub old: PathBuf,
    /// The later output directory.
    #[arg(value_name = "NEW_OUTPUT")]
    pub new: PathBuf,
    /// Directory for the `diff` table (`DIR/diff/part-00000.parquet`) and `DIR/summary.txt`.
    /// Default: `<NEW_OUTPUT>.diff` beside NEW_OUTPUT.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Exit 1 only when a month that was already closed (complete) in OLD changed — a
    /// restatement; differences in open months are still reported and written.
    #[arg(long)]
    pub closed_only: bool,
    /// Bill lines per bucket (default 2,000,000): the outputs are compared a bucket at a time,
    /// spilled inside DIR when there are more than one. For tests of the bucketed path.
    #[arg(long, hide = true, value_name = "ROWS")]
    pub bucket_rows: Option<u64>,
}

impl From<DiffArgs> for crate::diff::DiffConfig {
    fn from(a: DiffArgs) -> Self {
        crate::diff::DiffConfig {
            output: a
                .output
                .unwrap_or_else(|| crate::diff::default_output(&a.new)),
            old: a.old,
            new: a.new,
            closed_only: a.closed_only,
            bucket_rows: a.bucket_rows.unwrap_or(crate::diff::BUCKET_ROWS),
        }
    }
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The issued bill lines: a directory of Parquet files (the `issued/` table).
    #[arg(value_name = "ISSUED")]
    pub issued: PathBuf,
    /// A complete output of `reckon run` (its `bill_lines` and manifest).
    #[arg(value_name = "RECOMPUTED")]
    pub recomputed: PathBuf,
    /// Directory the reconciliation is published into.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Amount in CNY per key within which a difference is `within_tolerance`.
    #[arg(long, value_name = "CNY", default_value = "0.01")]
    pub tolerance: String,
    /// Layout of ISSUED: `reckon` (the `issued/` table) or `focus` (a FOCUS 1.2 dataset, e.g.
    /// `reckon export focus` output's `focus/` directory; mapping in docs/contract.md).
    #[arg(long, value_enum, default_value = "reckon")]
    pub issued_format: IssuedFormatArg,
    /// Catalog whose prices explain differences (causes `unit_price`, `tier`). Default: the
    /// recomputed output's, when its file is still there unchanged.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Lines of both sides per bucket (default 2,000,000): accounts are compared a bucket at a
    /// time, spilled beside DIR when there are more than one. For tests of the bucketed path.
    #[arg(long, hide = true, value_name = "ROWS")]
    pub bucket_rows: Option<u64>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The published output directory (the run is staged beside it), or its `s3://`, `gs://`
    /// or `az://` URL (the run is staged below `URL/staged/ID/`).
    #[arg(long, value_name = "DIR|URL")]
    pub output: PathBuf,
    /// The run id given to `run --stage`.
    #[arg(long, value_name = "ID")]
    pub run_id: String,
    /// Fail when the `exceptions` table has more rows than this.
    #[arg(long, value_name = "ROWS")]
    pub max_exceptions: Option<u64>,
    /// Fail when more than this fraction (0 to 1, e.g. 0.01) of the usage rows read are invalid.
    #[arg(long, value_name = "FRACTION")]
    pub max_invalid_usage: Option<String>,
    /// Bill lines per bucket of the comparison (as `diff --bucket-rows`).
    #[arg(long, hide = true, value_name = "ROWS")]
    pub bucket_rows: Option<u64>,
}

/// `--issued-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IssuedFormatArg {
    Reckon,
    Focus,
}

impl TryFrom<ReconcileArgs> for crate::reconcile::ReconcileConfig {
    type Error = Error;
    fn try_from(a: ReconcileArgs) -> Result<Self> {
        let tolerance = crate::money::parse_decimal(&a.tolerance)
            .filter(|t| !t.is_sign_negative())
            .ok_or_else(|| {
                Error::Argument(format!(
                    "--tolerance `{}` is not a decimal amount of at least 0",
                    a.tolerance
                ))
            })?;
        if a.bucket_rows == Some(0) {
            return Err(Error::Argument("--bucket-rows must be at least 1".into()));
        }
        Ok(crate::reconcile::ReconcileConfig {
            issued: a.issued,
            format: match a.issued_format {
                IssuedFormatArg::Reckon => crate::reconcile::IssuedFormat::Reckon,
                IssuedFormatArg::Focus => crate::reconcile::IssuedFormat::Focus,
            },
            recomputed: a.recomputed,
            output: a.output,
            tolerance,
            catalog: a.catalog,
            bucket_rows: a.bucket_rows.unwrap_or(crate::reconcile::BUCKET_ROWS),
        })
    }
}

impl TryFrom<AuditArgs> for AuditConfig {
    type Error = Error;
    fn try_from(a: AuditArgs) -> Result<AuditConfig> {
        let max_invalid_usage = a
            .max_invalid_usage
            .as_deref()
            .map(|s| {
                s.parse::<rust_decimal::Decimal>()
                    .ok()
                    .filter(|d| !d.is_sign_negative() && *d <= rust_decimal::Decimal::ONE)
                    .ok_or_else(|| {
                        Error::Argument(format!("--max-invalid-usage `{s}` is not from 0 to 1"))
                    })
            })
            .transpose()?;
        Ok(AuditConfig {
            output: a.output,
            run_id: RunId::parse(&a.run_id)?,
            max_exceptions: a.max_exceptions,
            max_invalid_usage,
            bucket_rows: a.bucket_rows.unwrap_or(crate::diff::BUCKET_ROWS),
        })
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A reckon output directory (as written by `reckon run`).
    #[arg(long, value_name = "OUTPUT_DIR")]
    pub input: PathBuf,
    /// The output directory of `reckon diff` (`--output` of diff, default `<NEW>.diff`): adds
    /// the changed months, accounts and reasons.
    #[arg(long, value_name = "DIFF_DIR")]
    pub diff: Option<PathBuf>,
    /// The output directory of `reckon reconcile ISSUED OUTPUT_DIR`: adds the keys by status,
    /// overcharge and leakage per month and the largest mismatches with their cause.
    #[arg(long, value_name = "RECONCILIATION_DIR")]
    pub reconciliation: Option<PathBuf>,
    /// The HTML file to write (outside OUTPUT_DIR).
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    /// Accounts listed in the top and changed accounts tables.
    #[arg(long, value_name = "N", default_value_t = crate::report::TOP_ACCOUNTS)]
    pub top: usize,
}

impl From<ReportArgs> for crate::report::ReportConfig {
    fn from(a: ReportArgs) -> Self {
        crate::report::ReportConfig {
            input: a.input,
            diff: a.diff,
            reconciliation: a.reconciliation,
            output: a.output,
            top: a.top,
        }
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The published output directory, or its `s3://`, `gs://` or `az://` URL.
    #[arg(long, value_name = "DIR|URL")]
    pub output: PathBuf,
    /// The run id given to `run --stage` and `audit`.
    #[arg(long, value_name = "ID")]
    pub run_id: String,
    /// A person has read the audit's diff: publish although closed months were restated (other
    /// failed checks still refuse).
    #[arg(long)]
    pub allow_restatement: bool,
    /// With an object storage `--output`: run prefixes kept under `runs/` after publishing (the
    /// published one always); the staged prefixes of the runs removed go too.
    #[arg(long, value_name = "N", default_value_t = crate::remote::KEEP_RUNS)]
    pub keep_runs: usize,
}

impl TryFrom<PublishArgs> for PublishConfig {
    type Error = Error;
    fn try_from(a: PublishArgs) -> Result<PublishConfig> {
        Ok(PublishConfig {
            output: a.output,
            run_id: RunId::parse(&a.run_id)?,
            allow_restatement: a.allow_restatement,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// FOCUS 1.2 cost and usage dataset from `bill_lines` (and `deduction_details` for the
    /// usage covered by packages), written to `DIR/focus/x_month=YYYY-MM/`, one file per file of
    /// `bill_lines` (a file at a time: memory does not grow with the output).
    Focus(FocusArgs),
}

#[derive(Debug, Args)]
pub struct FocusArgs {
    /// A reckon output directory (as written by `reckon run`).
    #[arg(long, value_name = "OUTPUT_DIR")]
    pub input: PathBuf,
    /// Directory to write the FOCUS dataset into (published atomically).
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// ProviderName, PublisherName and InvoiceIssuerName of every row.
    #[arg(long, value_name = "NAME", default_value = "Cloud Provider")]
    pub provider: String,
    /// The FOCUS export published before this one: the billing periods it closed stay as
    /// published, and what changed in them since is written as `ChargeClass = Correction` rows
    /// in the current billing period.
    #[arg(long, value_name = "PREV_DIR")]
    pub previous: Option<PathBuf>,
}

impl From<FocusArgs> for crate::export::focus::FocusConfig {
    fn from(a: FocusArgs) -> Self {
        crate::export::focus::FocusConfig {
            input: a.input,
            output: a.output,
            provider: a.provider,
            previous: a.previous,
        }
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The stage: `io` (read and write the inputs, no rules), `deduction` or `pricing`.
    #[arg(value_enum)]
    pub stage: BenchStage,
    /// `io` only: a finished run's output directory. The floor then writes that run's output
    /// tables (outputs of the job's size, read untimed) instead of writing the inputs back.
    #[arg(long, value_name = "OUTPUT_DIR")]
    pub like: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The stage `reckon bench` runs alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchStage {
    /// Read every input table and write it back: the I/O floor.
    Io,
    /// Deduction of usage against packages.
    Deduction,
    /// Tiered pricing of API gateway calls, all pay-as-you-go.
    Pricing,
}

impl From<BenchStage> for Stage {
    fn from(s: BenchStage) -> Stage {
        match s {
            BenchStage::Io => Stage::Io,
            BenchStage::Deduction => Stage::Deduction,
            BenchStage::Pricing => Stage::Pricing,
        }
    }
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Directory for the merged output (`_manifest.json` written last).
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// The shard output directories, one per shard, in any order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// Write-audit-publish: stage the merged output as run ID's (beside a local `--output`, or
    /// below `<URL>/staged/ID/` of an object storage one) instead of publishing it; `reckon
    /// audit` and `reckon publish` follow. A shard given as a URL is then read from its run
    /// staged as ID (`run --stage ID --shard K/N --output URL`), not from its `LATEST`.
    #[arg(long = "stage", value_name = "ID")]
    pub stage_as: Option<String>,
    /// With an object storage `--output`, without `--stage`: run prefixes kept under `runs/`.
    #[arg(long, value_name = "N", default_value_t = crate::remote::KEEP_RUNS)]
    pub keep_runs: usize,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// As-of date (UTC+8) `YYYY-MM-DD`: the run uses nothing at or after its midnight.
    /// Default: the day after the latest usage day (the latest `usage_start` of a row that
    /// passes the row rules, over all shards); refused, naming the row, when that day comes
    /// more than 31 days after the usage day before it. A date more than three years after the
    /// latest instant of the inputs is refused (exit 2): hourly subscriptions are billed hour by
    /// hour up to it.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// Directory holding the input tables (`usage/`, `packages/`, …).
    #[arg(long, default_value = "sample_data", value_name = "DIR")]
    pub input: PathBuf,
    /// Price catalog. Default: `catalog.toml` inside the input directory.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Output directory (tables are written below it, `_manifest.json` last).
    #[arg(long, default_value = "out", value_name = "DIR")]
    pub output: PathBuf,
    /// Worker threads (default: all cores). Output is identical for any value. Every thread
    /// pool of the run gets N workers (rayon's global one too; polars' unless
    /// `POLARS_MAX_THREADS` is set). With 1, one thread of work at a time: writing a chunk and
    /// computing the next take turns, and so do reading a usage file and spilling the one
    /// before.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Process only shard K of N (`K/N`, 0-based): the pools of accounts whose stable hash falls
    /// in shard K. Each shard writes its own files; the union of all N outputs is the output of
    /// one run without `--shard`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Usage rows per chunk: a run processes its accounts in chunks of about this many rows, one
    /// after another, so memory stays bounded whatever the input size. Output does not depend on
    /// it.
    #[arg(long, value_name = "ROWS", default_value_t = crate::input::chunks::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: u64,
    /// Publish even when the window of `--as-of` holds no valid usage row. Without it such a
    /// run is refused (exit 2, naming the latest usage row): a date far from the data would
    /// otherwise publish empty bills and exit 0.
    #[arg(long)]
    pub allow_empty: bool,
    /// After publishing, write the run's figures (rows by outcome, exceptions by rule, totals,
    /// stage durations, last success time) to FILE in Prometheus text format, for
    /// node_exporter's textfile collector (name it `*.prom` in its directory).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Write-audit-publish: stage the output as run ID's, beside the published output
    /// (`.<name>.reckon/runs/ID/output/`, or `<URL>/staged/ID/output/` for an object storage
    /// output), instead of publishing it; `reckon audit` checks it and `reckon publish`
    /// publishes it. A rerun with the same ID replaces the staged output.
    #[arg(long = "stage", value_name = "ID")]
    pub stage_as: Option<String>,
    /// With an object storage `--output` (`s3://`, `gs://`, `az://`): run prefixes kept under
    /// `runs/` after publishing (the published one always).
    #[arg(long, value_name = "N", default_value_t = crate::remote::KEEP_RUNS)]
    pub keep_runs: usize,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of ordinary accounts (sizes are heavy-tailed).
    #[arg(long, default_value_t = 50)]
    pub accounts: usize,
    /// Days of hourly usage, ending the day before `--end`.
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day after the generated usage (UTC+8), `YYYY-MM-DD`.
    #[arg(long, default_value = "2024-07-01")]
    pub end: String,
    /// Add the hand-made scenario accounts that exercise every rule (as in `sample_data/`).
    #[arg(long)]
    pub scenarios: bool,
    /// Usage rows per Parquet file.
    #[arg(long, default_value_t = 2_000_000)]
    pub rows_per_file: usize,
    /// Output directory for the input tables.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Also write `issued/`: the bill lines a platform would have issued for the data (the data
    /// is run with the default as-of), with six planted platform mistakes for `reckon
    /// reconcile` to find (README, "Reconciling issued bills").
    #[arg(long)]
    pub issued: bool,
}

impl TryFrom<GenerateArgs> for GenerateConfig {
    type Error = Error;
    fn try_from(a: GenerateArgs) -> Result<GenerateConfig> {
        let end = parse_date(&a.end)
            .ok_or_else(|| Error::Argument(format!("--end `{}` is not YYYY-MM-DD", a.end)))?;
        Ok(GenerateConfig {
            accounts: a.accounts,
            days: a.days,
            seed: a.seed,
            end,
            scenarios: a.scenarios,
            rows_per_file: a.rows_per_file,
            output: a.output,
            issued: a.issued,
        })
    }
}

impl TryFrom<RunArgs> for RunConfig {
    type Error = Error;
    fn try_from(a: RunArgs) -> Result<RunConfig> {
        let as_of = a
            .as_of
            .as_deref()
            .map(|s| {
                parse_date(s).ok_or_else(|| {
                    Error::Argument(format!("--as-of `{s}` is not YYYY-MM-DD (years 1 to 9999)"))
                })
            })
            .transpose()?;
        if !a.input.is_dir() {
            return Err(Error::Argument(format!(
                "--input {} is not a directory",
                a.input.display()
            )));
        }
        let catalog = a.catalog.unwrap_or_else(|| a.input.join("catalog.toml"));
        if !catalog.is_file() {
            return Err(Error::Argument(format!(
                "--catalog {} is not a file",
                catalog.display()
            )));
        }
        if a.threads == Some(0) {
            return Err(Error::Argument("--threads must be at least 1".into()));
        }
        if a.chunk_rows == 0 {
            return Err(Error::Argument("--chunk-rows must be at least 1".into()));
        }
        let shard = match a.shard.as_deref() {
            Some(s) => ShardSpec::parse(s)?,
            None => ShardSpec::ALL,
        };
        let stage = a.stage_as.as_deref().map(RunId::parse).transpose()?;
        Ok(RunConfig {
            stage,
            as_of,
            input: a.input,
            catalog,
            output: a.output,
            threads: a.threads,
            shard,
            chunk_rows: a.chunk_rows,
            allow_empty: a.allow_empty,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap checks a command's arguments only when that command is parsed: `bench` flattens
    /// `run`'s arguments beside its own positional `stage`, so a flag of `run` with that id
    /// broke `bench` alone.
    #[test]
    fn every_command_has_unique_argument_ids() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// `reckon run --output s3://bucket/out` wrote a local directory named `s3:` and logged
    /// "published output=s3://bucket/out": a URL where a command takes no URL is refused.
    #[test]
    fn object_storage_urls_are_refused_not_written_as_local_directories() {
        for args in [
            "reckon run --output ftp://host/out",
            "reckon run --input http://host/in",
            "reckon run --catalog az://c/catalog.toml",
            "reckon run --metrics s3://b/m.prom",
            "reckon diff old new --output s3://b/d",
            "reckon export focus --input out --output abfss://c@a/focus",
            "reckon publish --output ftp://b/out --run-id r",
            "reckon audit --output http://b/out --run-id r",
            "reckon merge --output out ftp://host/shard-0",
            "reckon diff old http://host/new --output d",
            "reckon generate --output s3://b/gen",
        ] {
            let cli = Cli::try_parse_from(args.split(' ')).unwrap();
            let err = run(cli).unwrap_err();
            assert!(matches!(err, Error::Argument(_)), "{args}: {err}");
            assert!(
                err.to_string()
                    .contains("object storage URLs are not supported"),
                "{err}"
            );
        }
        for path in [
            "out",
            "/data/out",
            "a:b/out",
            "dir/with://inside",
            "./s3:/x",
        ] {
            refuse_url("--output", std::path::Path::new(path)).unwrap();
        }
    }
}
