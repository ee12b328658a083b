//! `reckon report`: one self-contained HTML page a person reads — the run's headline figures,
//! totals per month and product, package coverage against pay-as-you-go, the top accounts,
//! exceptions by rule with examples, given the output of `reckon diff`, the months, accounts
//! and reasons that changed and, given the output of `reckon reconcile` of this output against
//! the issued bills, the keys by status, overcharge and leakage per month and the largest
//! mismatches with their cause.
//!
//! The page needs nothing but itself: styles inline, charts as inline SVG (`charts`, plotters),
//! no script, no font or image file, nothing fetched. It is rendered by a template checked at
//! compile time (askama, `page.html`), which escapes every text.
//!
//! Invariants: figures are exact `Decimal` sums of the output's Parquet files, read through
//! `output::read` (charts alone convert to `f64`, to draw); each figure on the page carries a
//! `data-figure` key and its exact `data-value` (`page::Cell`), which `tests/it/report.rs`
//! checks against totals computed apart from this module. The page depends only on the output
//! (and the diff and reconciliation): no clock, no path of the machine but the ones given.
//!
//! Sections are built one function each (`bills`, `coverage`, `exceptions`, `changes`,
//! `reconciliation`) and listed in [`build`]; a new section is one more function returning a
//! `page::Section`.

mod bills;
mod changes;
pub mod charts;
mod coverage;
mod exceptions;
pub mod page;
mod reconciliation;

use crate::error::{Error, Result};
use crate::output::{manifest, read};
use askama::Template;
use page::{Cell, Page};
use std::path::{Path, PathBuf};

/// What `reckon report` needs: the output to read, an optional diff directory, the page to
/// write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    /// A complete reckon output directory.
    pub input: PathBuf,
    /// The output directory of `reckon diff` (its `diff` table), if any.
    pub diff: Option<PathBuf>,
    /// The output directory of `reckon reconcile ISSUED <input>`, if any.
    pub reconciliation: Option<PathBuf>,
    /// The HTML file to write (replaced whole, by a rename).
    pub output: PathBuf,
    /// Accounts listed in the top-accounts and changed-accounts tables.
    pub top: usize,
}

/// Accounts listed by default.
pub const TOP_ACCOUNTS: usize = 15;

/// `reckon report`: checks every path first, then reads the output and writes the page.
pub fn run(cfg: &ReportConfig) -> Result<()> {
    check(cfg)?;
    let html = render(cfg)?;
    write_page(&cfg.output, &html)?;
    tracing::info!(output = %cfg.output.display(), bytes = html.len(), "report written");
    Ok(())
}

/// Everything that can be refused before reading a table: the input is a complete output, the
/// diff directory holds a `diff` table, the reconciliation directory is a complete
/// reconciliation of this very output, the page's path is a file (or nothing) in an existing
/// directory, outside the output (whose next publish would remove it).
pub fn check(cfg: &ReportConfig) -> Result<()> {
    read::check_output(&cfg.input)?;
    if let Some(d) = &cfg.diff {
        if read::table_files(d, "diff")?.is_none_or(|f| f.is_empty()) {
            return Err(Error::Argument(format!(
                "--diff {}: no `diff` table in it (diff/*.parquet); give the --output \
                 directory of `reckon diff`",
                d.display()
            )));
        }
    }
    if let Some(r) = &cfg.reconciliation {
        reconciliation::check(r, &cfg.input)?;
    }
    let out = &cfg.output;
    if out.is_dir() {
        return Err(Error::Argument(format!(
            "--output {} is a directory: name the HTML file to write",
            out.display()
        )));
    }
    let parent = parent_of(out);
    if !parent.is_dir() {
        return Err(Error::Argument(format!(
            "--output {}: the directory {} does not exist",
            out.display(),
            parent.display()
        )));
    }
    let real = |p: &Path| crate::output::publish::resolve(p);
    if real(out)?.starts_with(real(&cfg.input)?) {
        return Err(Error::Argument(format!(
            "--output {} lies inside the output {} (its next publish would remove the page): \
             write the page elsewhere",
            out.display(),
            cfg.input.display()
        )));
    }
    Ok(())
}

/// The page as HTML.
pub fn render(cfg: &ReportConfig) -> Result<String> {
    build(cfg)?
        .render()
        .map_err(|e| Error::Internal(format!("rendering the report: {e}")))
}

/// The page's model: the headline and every section, in order.
pub fn build(cfg: &ReportConfig) -> Result<Page> {
    let m = manifest::read(&cfg.input)?;
    let window = format!("[{}, {})", m.window_start, m.window_end);
    let bill_rows = bills::read_bills(&cfg.input)?;
    let coverage = coverage::read_coverage(&cfg.input)?;
    let exceptions = exceptions::read_exceptions(&cfg.input)?;
    let total = bills::grand_total(&bill_rows);
    let exception_rows: u64 = exceptions.counts.values().sum();
    let headline = vec![
        (
            "usage rows read".into(),
            Cell::count("run|usage_read".into(), m.usage.read),
        ),
        (
            "usage rows billed".into(),
            Cell::count("run|usage_billed".into(), m.usage.billed),
        ),
        (
            "accounts billed".into(),
            Cell::count("run|accounts".into(), total.owners.len() as u64),
        ),
        (
            "total amount".into(),
            Cell::money("run|total_amount".into(), total.amount("total_amount")),
        ),
        (
            "payable".into(),
            Cell::money("run|payable".into(), total.amount("payable")),
        ),
        (
            "exceptions".into(),
            Cell::count("run|exceptions".into(), exception_rows),
        ),
    ];
    let mut sections = vec![
        bills::totals_section(&bill_rows)?,
        coverage::section(&coverage, &window)?,
        bills::accounts_section(&bill_rows, cfg.top)?,
        exceptions::section(&exceptions),
    ];
    if let Some(dir) = &cfg.diff {
        sections.push(changes::section(&changes::read_diff(dir)?, cfg.top)?);
    }
    if let Some(dir) = &cfg.reconciliation {
        let view = reconciliation::read_reconciliation(dir, cfg.top)?;
        sections.push(reconciliation::section(&view)?);
    }
    Ok(Page {
        title: format!("reckon report: billing as of {}", m.as_of_date),
        subtitle: format!(
            "Output {} · window {window} · months {} · shard {} · catalog {} ({})",
            cfg.input.display(),
            m.months.join(", "),
            m.shard,
            m.catalog_version,
            &m.catalog_sha256.get(..12).unwrap_or(&m.catalog_sha256),
        ),
        headline,
        sections,
    })
}

/// `path`'s directory (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `html` beside `path` and renames it into place: a reader never sees half a page.
fn write_page(path: &Path, html: &str) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "report.html".into(), |n| n.to_string_lossy().to_string());
    let tmp = parent_of(path).join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, html).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
