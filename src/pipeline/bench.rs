//! `reckon bench STAGE`: one stage of the job alone, timed, for `bench/run.sh` (hidden from
//! `--help`). Takes the options of `run` and prints one JSON line of figures on stdout:
//! `{"stage", "rows", "chunks", "load_ms", "stage_ms", "write_ms", "total_ms"}`, where `rows`
//! is what the stage worked on and `stage_ms` the time of the stage itself (no I/O).
//!
//! - `io`: the I/O floor. Every input table is read with the job's reader (schema checks, no
//!   row rules), file by file. With `--like DIR` (a finished run's output), every Parquet file
//!   of DIR is then read (untimed: `reference_ms`) and written with the job's writer to the same
//!   path: outputs of exactly the job's size, no rules. Without it, the inputs are written back
//!   unchanged instead. `rows` counts usage rows; the floor is `total_ms − reference_ms`.
//! - `deduction`: usage read chunk by chunk exactly as `run` reads it (`chunk_inputs`), the
//!   package renewals and the deduction sweep (`rules::renewals`, `rules::deduction`), its
//!   details written. `rows` counts the usage rows
//!   swept.
//! - `pricing`: the rows a tier table prices (API gateway calls) taken from each usage file as
//!   it is read — the filter DuckDB pushes into its scan in (b) — checked by the job's row rules
//!   (`input::usage::from_files`), all pay-as-you-go (no packages), priced by `rules::pricing`
//!   (tier split in `rules::tiering`, amounts) and its bill lines written, account chunk by
//!   account chunk as `run` goes (`--chunk-rows`). `rows` counts those rows.
//!
//! The code path of each stage is the library's own; only the surrounding stages are left out.

use super::chunk::{chunk_inputs, renew_and_deduct, Ctx, Owners};
use super::{latest_input, window, RunConfig};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::input::{self, chunks, usage::Latest, ColSpec, Usage};
use crate::output::{finish_table, part_name, write_parquet, write_rows, Written};
use crate::rules::pricing;
use crate::shard::{Partitioner, ShardSpec};
use rust_decimal::Decimal;
use std::path::Path;
use std::time::Instant;

/// The stage to run alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Read every input table and write it back: the I/O floor.
    Io,
    /// Deduction of usage against packages.
    Deduction,
    /// Tiered pricing of API gateway calls, all pay-as-you-go.
    Pricing,
}

/// What `reckon bench` prints.
#[derive(Debug, Default, serde::Serialize)]
pub struct Figures {
    pub stage: String,
    pub rows: u64,
    pub chunks: u32,
    pub load_ms: u128,
    pub stage_ms: u128,
    pub write_ms: u128,
    /// `io --like`: time spent reading the reference outputs (not part of the floor).
    pub reference_ms: u128,
    pub total_ms: u128,
}

/// Runs one stage and prints its figures as one JSON line.
pub fn run(stage: Stage, like: Option<&Path>, cfg: &RunConfig) -> Result<Figures> {
    let started = Instant::now();
    let mut f = Figures {
        stage: format!("{stage:?}").to_lowercase(),
        ..Default::default()
    };
    std::fs::create_dir_all(&cfg.output).map_err(|e| Error::io(&cfg.output, e))?;
    match stage {
        Stage::Io => io(cfg, like, &mut f)?,
        Stage::Deduction => deduction_alone(cfg, &mut f)?,
        Stage::Pricing => pricing_alone(cfg, &mut f)?,
    }
    f.total_ms = started.elapsed().as_millis();
    println!(
        "{}",
        serde_json::to_string(&f).map_err(|e| Error::Internal(format!("figures to JSON: {e}")))?
    );
    Ok(f)
}

fn io(cfg: &RunConfig, like: Option<&Path>, f: &mut Figures) -> Result<()> {
    use input::{accounts, events, packages, subscriptions, usage};
    let tables: [(&str, &[ColSpec]); 7] = [
        ("usage", usage::COLUMNS),
        ("packages", packages::COLUMNS),
        ("package_scope", packages::SCOPE_COLUMNS),
        ("accounts", accounts::ACCOUNT_COLUMNS),
        ("payments", accounts::PAYMENT_COLUMNS),
        ("subscriptions", subscriptions::COLUMNS),
        ("events", events::COLUMNS),
    ];
    f.chunks = 1;
    for (table, specs) in tables {
        let root = cfg.input.join(table);
        if !root.is_dir() {
            continue;
        }
        for path in input::parquet_files(&root)? {
            let t = Instant::now();
            let mut file = input::read_file(&root, &path, table, specs)?;
            f.load_ms += t.elapsed().as_millis();
            if table == "usage" {
                f.rows += file.df.height() as u64;
            }
            if like.is_none() {
                let t = Instant::now();
                write_parquet(&cfg.output.join(&file.name), &mut file.df)?;
                f.write_ms += t.elapsed().as_millis();
            }
        }
    }
    if let Some(like) = like {
        for path in input::parquet_files(like)? {
            let t = Instant::now();
            let mut df = input::read_parquet(&path)?;
            f.reference_ms += t.elapsed().as_millis();
            let t = Instant::now();
            let rel = path.strip_prefix(like).unwrap_or(&path);
            write_parquet(&cfg.output.join(rel), &mut df)?;
            f.write_ms += t.elapsed().as_millis();
        }
    }
    Ok(())
}

/// (d): the tier-priced rows of every usage file, priced and written account chunk by account
/// chunk.
fn pricing_alone(cfg: &RunConfig, f: &mut Figures) -> Result<()> {
    let t = Instant::now();
    let catalog = Catalog::load(&cfg.catalog)?;
    let mut usage = tiered_usage(cfg, &catalog)?;
    let latest = usage.iter().map(|u| u.usage_start).max();
    let w = window(cfg, latest.map(Latest::at).as_ref(), None)?;
    usage.retain(|u| u.usage_end <= w.as_of);
    f.chunks = chunks::chunks_for(usage.len() as u64, 1, cfg.chunk_rows);
    let ends = account_chunks(&mut usage, f.chunks);
    f.rows = usage.len() as u64;
    f.load_ms += t.elapsed().as_millis();

    let payg_all = vec![Decimal::ZERO; usage.len()];
    let mut written = Written::default();
    let mut lines = Vec::new();
    let mut start = 0;
    for (chunk, end) in ends.into_iter().enumerate() {
        let t = Instant::now();
        let priced =
            pricing::price_usage_into(lines, &usage[start..end], &payg_all[start..end], &catalog)?;
        f.stage_ms += t.elapsed().as_millis();
        let t = Instant::now();
        lines = write_rows(
            &cfg.output,
            priced.lines,
            &part_name(0, chunk as u32),
            &mut written,
        )?;
        f.write_ms += t.elapsed().as_millis();
        start = end;
    }
    let t = Instant::now();
    finish_table::<crate::model::BillLine>(
        &cfg.output,
        crate::calendar::Month::of(w.as_of - 1),
        &part_name(0, 0),
        &mut written,
    )?;
    f.write_ms += t.elapsed().as_millis();
    Ok(())
}

/// The usage rows of every file whose (product, billing item) the catalog prices with tiers.
/// Files are converted a few at a time (as many as threads), so only those few are whole in
/// memory next to the converted rows.
fn tiered_usage(cfg: &RunConfig, catalog: &Catalog) -> Result<Vec<Usage>> {
    let items = catalog.tiered_items();
    let root = cfg.input.join("usage");
    let (mut parts, mut files, mut violations) = (Vec::new(), Vec::new(), Vec::new());
    let duplicates = std::collections::HashMap::new();
    let paths = input::parquet_files(&root)?;
    for (k, path) in paths.iter().enumerate() {
        let mut file = input::read_file(&root, path, "usage", input::usage::COLUMNS)?;
        file.retain_pairs("product", "billing_item", &items)?;
        files.push(file);
        if files.len() == rayon::current_num_threads() || k + 1 == paths.len() {
            parts.push(input::usage::from_files(
                &files,
                &mut violations,
                &duplicates,
            )?);
            files.clear();
        }
    }
    // One allocation of the final size: growing one vector batch by batch would copy it
    // again at every doubling.
    let mut usage = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        usage.extend(part);
    }
    Ok(usage)
}

/// Sorts `usage` into `chunks` chunks of accounts, dealt out by rows as `run` deals them (no
/// packages here, so every account is its own pool); returns each chunk's end.
/// Each chunk is priced and its lines written before the next is priced, so one chunk's lines
/// are in memory, not the input's. An account's rows (its tier counters) are all in one chunk;
/// inside a chunk, rows are in processing order (the stable sort by chunk keeps it).
fn account_chunks(usage: &mut [Usage], chunks: u32) -> Vec<usize> {
    use rayon::prelude::*;
    input::usage::sort_for_processing(usage);
    let mut part = Partitioner::new(std::iter::empty(), ShardSpec::ALL, chunks);
    let mut rows: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for u in usage.iter() {
        *rows.entry(u.owner_uin.as_str()).or_default() += 1;
    }
    part.balance(rows, 0);
    usage.par_sort_by_cached_key(|u| part.chunk_of(&u.owner_uin).unwrap_or(0));
    (0..chunks)
        .map(|c| usage.partition_point(|u| part.chunk_of(&u.owner_uin).unwrap_or(0) <= c))
        .collect()
}

/// (e): usage read chunk by chunk exactly as `run` reads it, the renewals and the deduction
/// sweep alone.
fn deduction_alone(cfg: &RunConfig, f: &mut Figures) -> Result<()> {
    let t = Instant::now();
    let catalog = Catalog::load(&cfg.catalog)?;
    let base = input::load_base(&cfg.input)?;
    let rows = chunks::count_rows(&cfg.input)?;
    let n_chunks = chunks::chunks_for(rows, 1, cfg.chunk_rows);
    let mut part = Partitioner::new(input::pool_links(&base.packages), ShardSpec::ALL, n_chunks);
    super::balance_chunks(&mut part, &cfg.input)?;
    let out = &cfg.output;
    let spill_in = out.parent().filter(|p| !p.as_os_str().is_empty());
    let mut source = chunks::UsageSource::open(
        &cfg.input,
        &part,
        Some(spill_in.unwrap_or(Path::new("."))),
        cfg.chunk_rows,
    )?;
    let owners = Owners::new(&base);
    f.chunks = n_chunks;
    f.load_ms += t.elapsed().as_millis();
    let mut written = Written::default();
    let mut win = None;
    // Vectors reused from chunk to chunk, as `run` does (`buffers`).
    let (mut usage_buf, mut details_buf) = (Vec::new(), Vec::new());
    for chunk in 0..n_chunks {
        let t = Instant::now();
        let files = source.load_chunk(chunk, &part)?;
        let w = *win.get_or_insert(window(cfg, source.latest.as_ref(), latest_input(&base))?);
        let ctx = Ctx {
            catalog: &catalog,
            base: &base,
            owners: &owners,
            part: &part,
            duplicates: &source.duplicates,
            w: &w,
        };
        let inp = chunk_inputs(&ctx, chunk, files, std::mem::take(&mut usage_buf))?;
        f.load_ms += t.elapsed().as_millis();
        let file = part_name(0, chunk);
        let t = Instant::now();
        f.rows += inp.usage.len() as u64;
        // The packages as renewed (docs/rules.md §3.8), as `run` deducts.
        let (ded, _) = renew_and_deduct(&ctx, &inp, std::mem::take(&mut details_buf));
        usage_buf = crate::buffers::with_room(inp.usage, 0);
        f.stage_ms += t.elapsed().as_millis();
        let t = Instant::now();
        details_buf = write_rows(out, ded.details, &file, &mut written)?;
        f.write_ms += t.elapsed().as_millis();
    }
    let w = match win {
        Some(w) => w,
        None => window(cfg, source.latest.as_ref(), latest_input(&base))?,
    };
    let as_of_month = crate::calendar::Month::of(w.as_of - 1);
    let file = part_name(0, 0);
    finish_table::<crate::model::DeductionDetail>(out, as_of_month, &file, &mut written)
}
