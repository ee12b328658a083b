//! `reckon export focus`: the output's charges as a FOCUS 1.2 cost and usage dataset; the
//! mapping, column by column, is `docs/focus.md`.
//!
//! Rows:
//! - one per `bill_lines` row (the billed part: pay-as-you-go usage, purchases,
//!   subscriptions, elastic fees, upgrades, refunds), `x_LineId` = its `line_id` (`lines`);
//! - one per `deduction_details` draw (usage covered by a resource package): a `Usage` row with
//!   `CommitmentDiscountStatus = Used`, `BilledCost` 0 and `EffectiveCost` its share of the
//!   package's price, `x_LineId` = `d:<usage_id>:<draw>` (`draws`);
//! - one `Unused` row per package and month for the capacity its ended cycles left
//!   ([`packages`]: the amortization), or for an unlimited package the shares of the hours
//!   nothing was drawn in ([`hourly`]), in `unused.parquet`;
//! - with `--previous`, the correction rows of the closed months PREV published
//!   ([`corrections`]), in `corrections.parquet` of the current billing period.
//!
//! Files: `DIR/focus/x_month=YYYY-MM/<name>` by billing period, one per file of the output's
//! `bill_lines` (same month and name, with the draws of the `deduction_details` file of that
//! partition and name: the same accounts), rows in the total order `(ChargePeriodStart,
//! x_LineId)` within each file, plus `DIR/_manifest.json`; published atomically like a run.
//! Memory holds one such file's rows at a time per thread (and, with `--previous`, the rows of
//! the months kept as published, until they are compared), plus the packages, one leftover
//! per package cycle drawn on, and one amount per draw on an unlimited package.
//!
//! Modules: [`row`] is the FOCUS row by column group, its columns and the shared value mappings
//! (units, signs, exact products); `lines` and `draws` build the rows of a `bill_lines` file and
//! of its `deduction_details` file, one function per column group.

pub mod corrections;
mod draws;
pub mod hourly;
mod lines;
pub mod packages;
pub mod row;

pub use corrections::Previous;
pub use packages::Packages;
pub use row::{focus_unit, pricing_quantity, service, FocusRow};

use crate::calendar::Month;
use crate::error::{Error, Result};
use crate::output::publish::Publish;
use crate::output::{read, write_rows, Written};
use polars::prelude::DataFrame;
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// FOCUS version of the export.
pub const FOCUS_VERSION: &str = "1.2";

/// What `reckon export focus` needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusConfig {
    /// A reckon output directory.
    pub input: PathBuf,
    /// Directory the FOCUS dataset is published into.
    pub output: PathBuf,
    /// `ProviderName`, `PublisherName` and `InvoiceIssuerName` of every row.
    pub provider: String,
    /// A previously published FOCUS export: its closed months stay as published, and what
    /// changed in them is issued as corrections ([`corrections`]).
    pub previous: Option<PathBuf>,
}

/// The FOCUS rows of one file of `bill_lines` (`lines`) and the `deduction_details` file of the
/// same partition and name (`draws`: the same chunk of accounts and month, so each draw's usage
/// has its lines in `lines`).
pub fn rows_of(
    lines: &DataFrame,
    draws: Option<&DataFrame>,
    packages: &Packages,
    provider: &str,
) -> Result<Vec<FocusRow>> {
    let mut out = Vec::with_capacity(lines.height() + draws.map_or(0, |d| d.height()));
    let first_line = lines::rows(lines, packages, provider, &mut out)?;
    if let Some(dd) = draws {
        draws::rows(dd, &first_line, packages, provider, &mut out)?;
    }
    Ok(out)
}

/// Exports one file of `bill_lines` with its draws; gives what was written, and the rows of
/// `frozen` months, held back (their published rows stay: [`corrections`]).
fn export_file(
    dir: &Path,
    f: &read::TableFile,
    draws: Option<&Path>,
    packages: &Packages,
    frozen: &BTreeSet<Month>,
    provider: &str,
) -> Result<(Written, Vec<FocusRow>)> {
    let draws = draws.map(crate::input::read_parquet).transpose()?;
    let rows = rows_of(
        &crate::input::read_parquet(&f.path)?,
        draws.as_ref(),
        packages,
        provider,
    )?;
    // Written under the same partition and name: a row of another month would land in (and
    // overwrite) another file's place.
    let month = f.partition.strip_prefix("month=").and_then(Month::parse);
    if let Some(r) = rows
        .iter()
        .find(|r| Some(Month::of(r.charge.start)) != month)
    {
        return Err(Error::NotAnOutput {
            path: f.path.clone(),
            message: format!(
                "row `{}` is charged in {}, outside its partition `{}`",
                r.line_id,
                Month::of(r.charge.start),
                f.partition
            ),
        });
    }
    let mut written = Written::default();
    if month.is_some_and(|m| frozen.contains(&m)) {
        return Ok((written, rows));
    }
    write_rows(dir, rows, &f.name, &mut written)?;
    Ok((written, Vec::new()))
}

/// Every file of `bill_lines` with its draws, as many at once as there are threads (memory
/// holds that many files' rows); gives the rows of the `frozen` months.
fn export_lines(
    dir: &Path,
    lines: &[read::TableFile],
    draws: &HashMap<(&str, &str), &Path>,
    packages: &Packages,
    frozen: &BTreeSet<Month>,
    provider: &str,
    written: &mut Written,
) -> Result<Vec<FocusRow>> {
    let mut held = Vec::new();
    for batch in lines.chunks(rayon::current_num_threads().max(1)) {
        let done = batch
            .par_iter()
            .map(|f| {
                let d = draws.get(&(f.partition.as_str(), f.name.as_str())).copied();
                export_file(dir, f, d, packages, frozen, provider)
            })
            .collect::<Result<Vec<_>>>()?;
        for (w, mut rows) in done {
            written.add_rows(&w);
            written.files.extend(w.files);
            held.append(&mut rows);
        }
    }
    Ok(held)
}

/// The `deduction_details` file of each `(partition, name)` of `input`; an error when one has no
/// `bill_lines` file of the same partition and name: its draws would lose their unit price (not
/// in reckon's outputs, where every covered usage row has a line, billable 0), refused rather
/// than exported wrong.
fn draws_by_file<'a>(
    input: &Path,
    lines: &[read::TableFile],
    draw_files: &'a [read::TableFile],
) -> Result<HashMap<(&'a str, &'a str), &'a Path>> {
    let draws: HashMap<(&str, &str), &Path> = draw_files
        .iter()
        .map(|f| ((f.partition.as_str(), f.name.as_str()), f.path.as_path()))
        .collect();
    let with_lines: HashSet<(&str, &str)> = lines
        .iter()
        .map(|f| (f.partition.as_str(), f.name.as_str()))
        .collect();
    if let Some((part, name)) = draws.keys().filter(|k| !with_lines.contains(*k)).min() {
        return Err(Error::NotAnOutput {
            path: input.to_path_buf(),
            message: format!(
                "deduction_details/{part}/{name} has no bill_lines file of the same partition \
                 and name"
            ),
        });
    }
    Ok(draws)
}

/// `reckon export focus`: one output file per file of `bill_lines`, built from that file and its
/// draws alone, so memory holds one chunk's month of lines at a time, whatever the output's size
/// (with `--previous`, the rows of the frozen months are held until they are compared); the
/// `Unused` rows of packages; with `--previous`, the frozen months as published and the
/// corrections of what changed in them.
pub fn run(cfg: &FocusConfig) -> Result<()> {
    let input = &cfg.input;
    let source = crate::output::manifest::read_verified(input)?;
    let lines = read::table_files(input, "bill_lines")?.ok_or_else(|| Error::NotAnOutput {
        path: input.to_path_buf(),
        message: "table `bill_lines` is missing".into(),
    })?;
    let draw_files = read::table_files(input, "deduction_details")?.unwrap_or_default();
    let draws = draws_by_file(input, &lines, &draw_files)?;
    let as_of = parse_instant(&source.window_end);
    let packages = packages::load(input, parse_instant(&source.window_start), as_of)?;
    let months: BTreeSet<Month> = source
        .months
        .iter()
        .filter_map(|m| Month::parse(m))
        .collect();
    let previous = (cfg.previous.as_deref())
        .map(|p| Previous::open(p, &months))
        .transpose()?;
    let frozen: BTreeSet<Month> = previous
        .as_ref()
        .map(|p| p.frozen.keys().copied().collect())
        .unwrap_or_default();
    let publish = Publish::begin(&cfg.output, None)?;
    let dir = publish.dir();
    let mut written = Written::default();
    let p = &cfg.provider;
    let mut restated = export_lines(dir, &lines, &draws, &packages, &frozen, p, &mut written)?;
    let (held, unused): (Vec<_>, Vec<_>) = packages::unused_rows(&packages, p)
        .into_iter()
        .partition(|r| frozen.contains(&r.charge.billing_month()));
    restated.extend(held);
    write_rows(dir, unused, "unused.parquet", &mut written)?;
    let mut corrected = 0;
    if let Some(prev) = &previous {
        let published = prev.copy_frozen(dir, &mut written)?;
        let rows = corrections::corrections(restated, published, Month::of(as_of));
        corrected = rows.len();
        write_rows(dir, rows, "corrections.parquet", &mut written)?;
    }
    let as_of_month = crate::calendar::parse_date(&source.as_of_date)
        .map(|d| Month::of(crate::calendar::day_start_of_date(d) - 1))
        .unwrap_or_else(|| Month::of(0));
    crate::output::finish_table::<FocusRow>(dir, as_of_month, "part-00000.parquet", &mut written)?;
    written.files.sort();
    let frozen: Vec<String> = frozen.iter().map(|m| m.to_string()).collect();
    let previous = previous.map(|p| (p.dir.display().to_string(), frozen, corrected));
    write_manifest(dir, input, &source, &written, previous)?;
    publish.commit()?;
    tracing::info!(rows = written.rows, corrections = corrected, output = %cfg.output.display(), "FOCUS export written");
    Ok(())
}

/// An instant of the manifest (`2024-04-01 00:00:00+08:00`) in UTC microseconds; 0 if absent.
fn parse_instant(s: &str) -> crate::calendar::Ts {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z")
        .map(|t| t.timestamp_micros())
        .unwrap_or(0)
}

/// `DIR/_manifest.json`: the format and version, the source output, and what was written.
fn write_manifest(
    dir: &Path,
    input: &Path,
    source: &crate::output::manifest::Manifest,
    written: &Written,
    previous: Option<(String, Vec<String>, usize)>,
) -> Result<()> {
    let mut manifest = serde_json::json!({
        "format": "FOCUS",
        "focus_version": FOCUS_VERSION,
        "source": input.display().to_string(),
        "source_as_of_date": source.as_of_date,
        "source_catalog_sha256": source.catalog_sha256,
        "rows": written.rows,
        "files": written.files,
    });
    if let Some((dir, frozen, corrections)) = previous {
        manifest["previous"] = serde_json::json!({
            "path": dir,
            "months_kept_as_published": frozen,
            "correction_rows": corrections,
        });
    }
    let path = dir.join("_manifest.json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Output {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::row::Commitment;
    use super::*;
    use crate::calendar::parse_local;
    use crate::output::{dec_col, frame, str_col, ts_col};
    use polars::prelude::{Column, IntoColumn, NamedFrom, Series};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn strs(name: &str, v: &[&str]) -> Column {
        str_col(name, v.iter().map(|s| (!s.is_empty()).then_some(*s)))
    }

    fn decs(name: &str, v: &[&str]) -> Column {
        dec_col(name, 8, v.iter().map(|s| Some(d(s))))
    }

    fn ints(name: &str, v: &[Option<i64>]) -> Column {
        Series::new(name.into(), v).into_column()
    }

    fn at(v: &[&str]) -> std::vec::IntoIter<Option<i64>> {
        v.iter()
            .map(|s| parse_local(s))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// A usage line of 10 GB, 5 of them covered by a package, the package's purchase, and the
    /// draw: each row's column groups as the mapping decides them.
    #[test]
    fn lines_and_draws_map_to_their_column_groups() {
        let starts = ["2024-05-10 10:00:00", "2024-05-01 00:00:00"];
        let ends = ["2024-05-10 11:00:00", "2024-05-01 00:00:00"];
        let lines = frame(
            2,
            vec![
                strs("line_id", &["u:a:1", "p:pkg-1"]),
                strs("owner_uin", &["acct-1", "acct-1"]),
                strs("region", &["ap-guangzhou", "*"]),
                strs("product", &["eip", "tp"]),
                strs("sub_product", &["traffic", "package"]),
                strs("instance_id", &["eip-1", "pkg-1"]),
                strs("billing_item", &["public_traffic", "purchase"]),
                strs("charge_kind", &["usage", "purchase"]),
                strs("usage_id", &["a", ""]),
                strs("unit", &["GB", "each"]),
                strs("price_unit", &["GB", "each"]),
                decs("metered_quantity", &["10", "1"]),
                decs("billable_quantity", &["5", "1"]),
                decs("unit_price", &["0.80", "20"]),
                decs("amount", &["4", "20"]),
                ints("tier", &[Some(1), None]),
                ts_col("charge_start", at(&starts)),
                ts_col("charge_end", at(&ends)),
            ],
        )
        .unwrap();
        let draws = frame(
            1,
            vec![
                strs("package_id", &["pkg-1"]),
                strs("package_name", &["Traffic 100GB"]),
                strs("package_unit", &["GB"]),
                strs("resource_owner_uin", &["acct-1"]),
                strs("resource_product", &["eip"]),
                strs("resource_sub_product", &["traffic"]),
                strs("resource_billing_item", &["public_traffic"]),
                strs("region", &["*"]),
                strs("instance_id", &["eip-1"]),
                strs("usage_id", &["a"]),
                strs("original_usage_unit", &["GB"]),
                decs("deducted", &["5"]),
                decs("original_usage", &["5"]),
                ts_col("usage_start", at(&starts[..1])),
                ts_col("usage_end", at(&ends[..1])),
                ints("draw_seq", &[Some(0)]),
            ],
        )
        .unwrap();
        let pkg = packages::Package {
            id: "pkg-1".into(),
            name: "Traffic 100GB".into(),
            owner: "acct-1".into(),
            product: "tp".into(),
            sub_product: "package".into(),
            region: None,
            kind: "total".into(),
            status: "valid".into(),
            unit: "GB".into(),
            capacity: Some(d("100")),
            cycle: None,
            effective_at: parse_local("2024-05-01 00:00:00").unwrap(),
            expires_at: parse_local("2024-08-01 00:00:00").unwrap(),
            invalid_at: None,
            price: d("20"),
            total_remaining: Some(d("95")),
            rate_once: Default::default(),
        };
        let packages = Packages {
            by_id: HashMap::from([("pkg-1".to_string(), pkg)]),
            ..Packages::default()
        };
        let rows = rows_of(&lines, Some(&draws), &packages, "Cloud").unwrap();
        let [usage, purchase, draw] = &rows[..] else {
            panic!("{rows:#?}")
        };

        assert_eq!(usage.cost.billed, d("4"));
        assert_eq!(usage.list_cost(), d("4"));
        assert_eq!(
            (usage.charge.category, usage.charge.frequency),
            ("Usage", "Usage-Based")
        );
        assert_eq!(
            usage.charge.description,
            "eip public_traffic usage at 0.80000000 CNY per GiB (tier 1)"
        );
        assert_eq!(usage.commitment, Commitment::default());
        assert_eq!(usage.quantity.consumed, Some(d("5")));
        assert_eq!(usage.quantity.pricing, Some(d("5")));
        assert_eq!(usage.quantity.pricing_unit.as_deref(), Some("GiB"));
        assert_eq!(
            usage.sku.sku_price_id,
            "eip/traffic/public_traffic/ap-guangzhou/1"
        );

        assert_eq!(
            (purchase.charge.category, purchase.charge.frequency),
            ("Purchase", "One-Time")
        );
        assert_eq!(purchase.commitment.id.as_deref(), Some("pkg-1"));
        assert_eq!(purchase.commitment.name.as_deref(), Some("Traffic 100GB"));
        // The whole term's capacity, bought upfront; amortized, so no effective cost here.
        assert_eq!(purchase.commitment.quantity, Some(d("100")));
        assert_eq!(purchase.commitment.unit.as_deref(), Some("GiB"));
        assert_eq!(
            (purchase.cost.billed, purchase.cost.effective),
            (d("20"), d("0"))
        );
        assert!(purchase.charge.end > purchase.charge.start);
        assert_eq!(purchase.quantity.consumed, None);
        assert_eq!(purchase.sku.region, None);
        assert_eq!(purchase.sku.sku_price_id, "tp/package/purchase/*/-");

        assert_eq!(draw.line_id, "d:a:0");
        // 5 of the package's 100 GB: 5% of its 20 CNY.
        assert_eq!((draw.cost.billed, draw.cost.effective), (d("0"), d("1")));
        assert_eq!(draw.list_cost(), d("4"));
        assert_eq!(draw.cost.unit_price, Some(d("0.80")));
        assert_eq!(draw.commitment.status, Some("Used"));
        assert_eq!(draw.commitment.quantity, Some(d("5")));
        assert_eq!(draw.quantity.pricing_category, Some("Committed"));
        assert_eq!(draw.quantity.consumed, Some(d("5")));
        assert_eq!(draw.sku.region.as_deref(), Some("ap-guangzhou"));
        assert_eq!(
            draw.sku.sku_price_id,
            "eip/traffic/public_traffic/ap-guangzhou/package"
        );
    }
}
