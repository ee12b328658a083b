//! `reckon audit`: the checks a staged run must pass before `reckon publish` makes it the
//! published output (write-audit-publish, `output::stage`).
//!
//! The checks, each a [`Failure`] when it fails:
//! - `conservation` — the staged manifest accounts for every usage row read
//!   (`read = invalid + after_as_of + history_only + billed + unpriced`) and every file it
//!   lists is there;
//! - `exceptions` — the `exceptions` table has at most `max_exceptions` rows (when set);
//! - `invalid_usage` — at most the fraction `max_invalid_usage` of the usage rows read broke a
//!   row rule (when set);
//! - `restatement` — compared with the output published before the run (`stage::base`; the
//!   diff of `diff::compare`), no month the base had closed changed.
//!
//! Invariants: the audit runs under the output's lock, reads the staged output and its base and
//! writes only its own new directory `runs/<run-id>/audit-<n>/` (`diff/` table, `summary.txt`,
//! `audit.json` last), so no audit rewrites an earlier one, and an audit killed midway leaves
//! no verdict (`publish` looks for the latest `audit.json`). The first run (no base) is compared
//! with nothing and says so. [`check`] is the checks alone, on two local trees: the audit of a
//! run staged on object storage (`remote::wap`) downloads both and calls it too.

use crate::diff::{self, Options};
use crate::error::Result;
use crate::output::publish;
use crate::output::stage::{self, AuditRecord, Failure, RunId, Tree};
use rust_decimal::Decimal;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `reckon audit` checks, and on which run.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The published output (the staged run lives in its side directory), or an object
    /// storage URL (`remote::wap::audit`).
    pub output: PathBuf,
    pub run_id: RunId,
    /// At most this many `exceptions` rows.
    pub max_exceptions: Option<u64>,
    /// At most this fraction (0 to 1) of the usage rows read may be invalid.
    pub max_invalid_usage: Option<Decimal>,
    /// Bill lines per bucket of the comparison (`diff::BUCKET_ROWS`).
    pub bucket_rows: u64,
}

/// An audit's verdict and where its report is.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub record: AuditRecord,
    /// `runs/<run-id>/audit-<n>/` (on object storage: the URL of `staged/<run-id>/audit-<n>/`).
    pub dir: PathBuf,
    /// The text of its `summary.txt`.
    pub summary: String,
}

/// `reckon audit`: checks run `run_id`'s staged output, writes the report and the verdict.
pub fn run(cfg: &AuditConfig) -> Result<Verdict> {
    let lock = publish::lock(&cfg.output)?;
    let staged = stage::staged(&lock, &cfg.run_id)?;
    let base = stage::base(&lock, &cfg.run_id)?;
    let (attempt, dir) = stage::new_audit_dir(&stage::run_dir(&lock.side, &cfg.run_id))?;
    let shown = Shown {
        staged: staged.dir.display().to_string(),
        base: base.as_ref().map(|b| b.dir.display().to_string()),
    };
    check(cfg, &staged, base.as_ref(), (attempt, &dir), &shown)
}

/// How the report names the two outputs it compares (a directory, or the URL an output was
/// downloaded from).
#[derive(Debug, Clone)]
pub struct Shown {
    pub staged: String,
    pub base: Option<String>,
}

/// The checks of the module doc on `staged` against `base` (`None`: the first run), as attempt
/// `n` of the run's audits: writes the `diff` table, `summary.txt` and `audit.json` (last)
/// into the empty directory `dir`. The local and the object storage audit (`remote::wap`) both
/// call it, so both apply the same checks.
pub fn check(
    cfg: &AuditConfig,
    staged: &Tree,
    base: Option<&Tree>,
    (attempt, dir): (u32, &Path),
    shown: &Shown,
) -> Result<Verdict> {
    let mut failures = conservation(staged);
    failures.extend(thresholds(cfg, staged));
    let (mut text, restated, changes) = match base {
        Some(b) => compare((b, staged), cfg, dir, shown, &mut failures)?,
        None => (
            "first run: no published output to compare with\n".to_string(),
            0,
            0,
        ),
    };
    let record = AuditRecord {
        run_id: cfg.run_id.to_string(),
        attempt,
        passed: failures.is_empty(),
        failures,
        restated,
        changes,
        staged: staged.identity(),
        base: base.map(Tree::identity),
    };
    text.insert_str(0, &verdict_text(&record, staged, base, shown));
    let summary = dir.join("summary.txt");
    std::fs::write(&summary, &text).map_err(|e| crate::Error::io(&summary, e))?;
    stage::write_record(dir, &record)?;
    Ok(Verdict {
        record,
        dir: dir.to_path_buf(),
        summary: text,
    })
}

/// The diff against the base: its table and summary, and a `restatement` failure for changes
/// to months the base had closed. Gives the summary, the restated and all changes.
fn compare(
    (base, staged): (&Tree, &Tree),
    cfg: &AuditConfig,
    dir: &Path,
    shown: &Shown,
    failures: &mut Vec<Failure>,
) -> Result<(String, u64, u64)> {
    let opts = Options {
        bucket_rows: cfg.bucket_rows,
        spill: dir.to_path_buf(),
    };
    let report = diff::compare(&base.dir, &staged.dir, &opts)?;
    diff::write_report(dir, &report)?;
    let restated = report.restatements().count() as u64;
    if restated > 0 {
        failures.push(Failure {
            check: "restatement".into(),
            message: format!(
                "{restated} rows (bills and bill lines) changed in months closed in the \
                 published output (as of {})",
                base.manifest.as_of_date
            ),
        });
    }
    // The trees as the person knows them (an object storage audit reads scratch copies).
    let base_shown = shown.base.as_deref().map_or(base.dir.as_path(), Path::new);
    let text = diff::summary(base_shown, Path::new(&shown.staged), &report);
    Ok((text, restated, report.rows.len() as u64))
}

/// Every usage row accounted for once, every listed file present.
fn conservation(staged: &Tree) -> Vec<Failure> {
    let mut failures = Vec::new();
    let u = &staged.manifest.usage;
    let outcomes = u.invalid + u.after_as_of + u.history_only + u.billed + u.unpriced;
    if outcomes != u.read {
        failures.push(Failure {
            check: "conservation".into(),
            message: format!(
                "usage rows read {} but accounted for {outcomes} (invalid {}, after as-of {}, \
                 history only {}, billed {}, unpriced {})",
                u.read, u.invalid, u.after_as_of, u.history_only, u.billed, u.unpriced
            ),
        });
    }
    let missing: Vec<&String> = (staged.manifest.outputs.values())
        .flat_map(|w| &w.files)
        .filter(|f| !staged.dir.join(f).is_file())
        .collect();
    if let Some(first) = missing.first() {
        failures.push(Failure {
            check: "conservation".into(),
            message: format!(
                "{} files listed in the manifest are missing, e.g. {first}",
                missing.len()
            ),
        });
    }
    failures
}

/// The exception thresholds of `cfg`.
fn thresholds(cfg: &AuditConfig, staged: &Tree) -> Vec<Failure> {
    let mut failures = Vec::new();
    let m = &staged.manifest;
    let exceptions = m.outputs.get("exceptions").map_or(0, |w| w.rows);
    if let Some(max) = cfg.max_exceptions.filter(|max| exceptions > *max) {
        failures.push(Failure {
            check: "exceptions".into(),
            message: format!("{exceptions} exceptions rows, more than the {max} allowed"),
        });
    }
    if let (Some(max), true) = (cfg.max_invalid_usage, m.usage.read > 0) {
        let share = Decimal::from(m.usage.invalid) / Decimal::from(m.usage.read);
        if share > max {
            failures.push(Failure {
                check: "invalid_usage".into(),
                message: format!(
                    "{} of {} usage rows invalid ({:.4}), more than the {max} allowed",
                    m.usage.invalid, m.usage.read, share
                ),
            });
        }
    }
    failures
}

/// The report's first lines: the verdict, what was compared, each failure.
fn verdict_text(r: &AuditRecord, staged: &Tree, base: Option<&Tree>, shown: &Shown) -> String {
    let mut s = String::new();
    let verdict = if r.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        s,
        "reckon audit of run {} (attempt {}): {verdict}",
        r.run_id, r.attempt
    );
    let _ = writeln!(
        s,
        "staged: {} (as of {})",
        shown.staged, staged.manifest.as_of_date
    );
    match base {
        Some(b) => {
            let run = b
                .manifest
                .run_id
                .as_deref()
                .unwrap_or("(published directly)");
            let _ = writeln!(
                s,
                "base: {} (as of {}, run {run})",
                shown.base.as_deref().unwrap_or_default(),
                b.manifest.as_of_date
            );
        }
        None => {
            let _ = writeln!(s, "base: none");
        }
    }
    for f in &r.failures {
        let _ = writeln!(s, "failed {}: {}", f.check, f.message);
    }
    s.push('\n');
    s
}
