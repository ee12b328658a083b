//! Write-audit-publish: a run's output staged under its run id, the audits of that staged
//! output, and its publish — `reckon run --stage ID`, `reckon audit`, `reckon publish`.
//!
//! Layout, in the output's side directory (`publish::side_dir`), so that every rename stays on
//! the output's file system:
//! ```text
//! .<name>.reckon/runs/<run-id>/output/        the run's staged output (tables, manifest last)
//! .<name>.reckon/runs/<run-id>/audit-<n>/     the n-th audit of it: diff/, summary.txt,
//!                                             audit.json; created anew, never rewritten
//! ```
//!
//! Invariants:
//! - **Keyed by run id.** A staged output's manifest carries its run id (`Manifest::run_id`),
//!   and so does the output once published. A rerun of a step (a scheduler's retry, a person
//!   clearing a run) writes, audits or publishes under the same id.
//! - **The base** of run R is the output published before R ([`base`]): `<out>` while R has not
//!   published, and `previous/` once it has (a republish of R removes the tree it replaces
//!   instead of moving it to `previous/`), so an audit never compares R with itself, however
//!   often a step is rerun.
//! - **Audits are records.** Each audit claims a new `audit-<n>` directory (`create_dir`, which
//!   fails on an existing one); nothing rewrites an earlier audit's diff or verdict.
//! - **Publish follows an audit.** [`publish`] swaps the staged output in only when the run's
//!   latest audit passed on exactly this staged output against exactly the current base (their
//!   manifests' SHA-256), or failed on restated closed months alone and a person approved them
//!   (`allow_restatement`). Everything happens under the output's lock. [`gate`] is that
//!   decision alone; the publish of a run staged on object storage (`remote::wap`) calls it
//!   too.

use super::manifest::{self, Manifest};
use super::publish::{self, Lock};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// A run's id, as a scheduler names it (Airflow's `run_id`, a cron job's date): the key of its
/// staged output and audits. Letters, digits and `.`, `_`, `-`, `:`, `+`, `~` (Airflow's own
/// pattern for run ids); not starting with `.`; at most 200 characters, so that it is one safe
/// path component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId(String);

impl RunId {
    pub fn parse(s: &str) -> Result<RunId> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-:+~".contains(c);
        if s.is_empty() || s.len() > 200 || s.starts_with('.') || !s.chars().all(ok_char) {
            return Err(Error::Argument(format!(
                "run id `{s}`: use 1 to 200 letters, digits, `.`, `_`, `-`, `:`, `+` or `~`, \
                 not starting with `.`"
            )));
        }
        Ok(RunId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<side>/runs/<run-id>`: everything of one run.
pub fn run_dir(side: &Path, id: &RunId) -> PathBuf {
    side.join("runs").join(id.as_str())
}

/// `<side>/runs/<run-id>/output`: the run's staged output.
pub fn staged_dir(side: &Path, id: &RunId) -> PathBuf {
    run_dir(side, id).join("output")
}

/// A complete output directory and its manifest.
#[derive(Debug, Clone)]
pub struct Tree {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// SHA-256 of its `_manifest.json`: which output this is (each run's manifest differs, by
    /// its run id or duration at least).
    pub sha256: String,
}

impl Tree {
    /// The output at `dir`, or `None` when it has no manifest.
    pub fn read(dir: &Path) -> Result<Option<Tree>> {
        let path = dir.join("_manifest.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(Some(Tree {
            dir: dir.to_path_buf(),
            manifest: manifest::read(dir)?,
            sha256: hex::encode(Sha256::digest(&bytes)),
        }))
    }

    /// What an audit record keeps of it.
    pub fn identity(&self) -> TreeId {
        TreeId {
            run_id: self.manifest.run_id.clone(),
            as_of_date: self.manifest.as_of_date.clone(),
            manifest_sha256: self.sha256.clone(),
        }
    }
}

/// The output published before run `id` (see the module doc), `None` before any publish.
pub fn base(lock: &Lock, id: &RunId) -> Result<Option<Tree>> {
    match Tree::read(&lock.out)? {
        Some(t) if t.manifest.run_id.as_deref() == Some(id.as_str()) => {
            Tree::read(&publish::previous_dir(&lock.out)?)
        }
        other => Ok(other),
    }
}

/// Run `id`'s staged output; an error naming the command to run when there is none.
pub fn staged(lock: &Lock, id: &RunId) -> Result<Tree> {
    let dir = staged_dir(&lock.side, id);
    let tree = Tree::read(&dir)?.ok_or_else(|| {
        Error::Argument(format!(
            "run `{id}` has no staged output at {}: run `reckon run --stage {id} --output {}` \
             first",
            dir.display(),
            lock.out.display()
        ))
    })?;
    if tree.manifest.run_id.as_deref() != Some(id.as_str()) {
        return Err(Error::NotAnOutput {
            path: dir,
            message: format!("its manifest is not run `{id}`'s"),
        });
    }
    Ok(tree)
}

/// Which output an audit looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeId {
    pub run_id: Option<String>,
    pub as_of_date: String,
    pub manifest_sha256: String,
}

/// One check an audit failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// `restatement`, `conservation`, `exceptions` or `invalid_usage`.
    pub check: String,
    pub message: String,
}

/// `audit.json`: the verdict of one audit of a staged run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub run_id: String,
    /// `n` of `audit-<n>`.
    pub attempt: u32,
    pub passed: bool,
    pub failures: Vec<Failure>,
    /// Changes to months the base had closed.
    pub restated: u64,
    /// Every change found against the base.
    pub changes: u64,
    pub staged: TreeId,
    /// The output published before the run (`None`: the first run, nothing to compare).
    pub base: Option<TreeId>,
}

impl AuditRecord {
    /// Failed on restated closed months and nothing else: what `allow_restatement` approves.
    pub fn only_restated(&self) -> bool {
        !self.failures.is_empty() && self.failures.iter().all(|f| f.check == "restatement")
    }
}

/// Claims the next audit directory of a run (`audit-<n>`, `n` one more than the highest so
/// far); an existing one is never reused.
pub fn new_audit_dir(run: &Path) -> Result<(u32, PathBuf)> {
    fs::create_dir_all(run).map_err(|e| Error::io(run, e))?;
    let mut n = attempts(run)?.last().copied().unwrap_or(0);
    loop {
        n += 1;
        let dir = run.join(format!("audit-{n}"));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((n, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
}

/// The attempt numbers of a run's audit directories, in order.
fn attempts(run: &Path) -> Result<Vec<u32>> {
    let mut n = Vec::new();
    let entries = match fs::read_dir(run) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(n),
        Err(e) => return Err(Error::io(run, e)),
    };
    for entry in entries {
        let name = entry.map_err(|e| Error::io(run, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(k) = name.strip_prefix("audit-").and_then(|k| k.parse().ok()) {
            n.push(k);
        }
    }
    n.sort_unstable();
    Ok(n)
}

/// Writes an audit's verdict (`audit.json`), by a rename so that it is whole or absent.
pub fn write_record(dir: &Path, record: &AuditRecord) -> Result<()> {
    let path = dir.join("audit.json");
    let text = serde_json::to_string_pretty(record).map_err(|e| Error::Output {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let tmp = dir.join(".audit.json.tmp");
    fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// The run's latest finished audit (the highest `audit-<n>` with a verdict) and its directory.
pub fn latest_audit(run: &Path) -> Result<Option<(AuditRecord, PathBuf)>> {
    for n in attempts(run)?.into_iter().rev() {
        let dir = run.join(format!("audit-{n}"));
        let path = dir.join("audit.json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        let record = serde_json::from_str(&text).map_err(|e| Error::NotAnOutput {
            path: path.clone(),
            message: format!("not an audit record: {e}"),
        })?;
        return Ok(Some((record, dir)));
    }
    Ok(None)
}

/// What `reckon publish` needs: the output, the run, and a person's approval of restatements.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The published output, or an object storage URL (`remote::wap::publish`).
    pub output: PathBuf,
    pub run_id: RunId,
    /// Publish although the audit found restated closed months (and nothing else).
    pub allow_restatement: bool,
}

/// What `reckon publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The staged output is now `<out>`.
    Now { as_of_date: String },
    /// `<out>` already is this run's output and nothing is staged: a retry after a publish.
    Already { as_of_date: String },
}

/// `reckon publish`: makes run `id`'s staged output the published one, atomically, when its
/// latest audit allows it (module doc); refuses with [`Error::Gate`] otherwise.
pub fn publish(cfg: &PublishConfig) -> Result<Published> {
    let lock = publish::lock(&cfg.output)?;
    let id = &cfg.run_id;
    let staged_path = staged_dir(&lock.side, id);
    if Tree::read(&staged_path)?.is_none() {
        if let Some(t) = Tree::read(&lock.out)? {
            if t.manifest.run_id.as_deref() == Some(id.as_str()) {
                return Ok(Published::Already {
                    as_of_date: t.manifest.as_of_date,
                });
            }
        }
    }
    let staged = staged(&lock, id)?;
    let base = base(&lock, id)?;
    check_gate(&lock, id, &staged, base.as_ref(), cfg.allow_restatement)?;
    // A republish of this run keeps `previous/`: the output published before the run.
    let republish =
        Tree::read(&lock.out)?.is_some_and(|t| t.manifest.run_id.as_deref() == Some(id.as_str()));
    publish::swap_in(&staged.dir, &lock.out, &lock.side, !republish)?;
    Ok(Published::Now {
        as_of_date: staged.manifest.as_of_date,
    })
}

/// The publish gate of a local output: [`gate`] with the run's latest audit on disk.
fn check_gate(
    lock: &Lock,
    id: &RunId,
    staged: &Tree,
    base: Option<&Tree>,
    allow_restatement: bool,
) -> Result<()> {
    let audit_cmd = format!("reckon audit --output {} --run-id {id}", lock.out.display());
    let latest = latest_audit(&run_dir(&lock.side, id))?.map(|(record, dir)| Audited {
        record,
        at: dir.display().to_string(),
        summary: dir.join("summary.txt").display().to_string(),
    });
    let base_sha = base.map(|b| b.sha256.as_str());
    let ask = Gate {
        id,
        audit_cmd: &audit_cmd,
        allow_restatement,
    };
    gate(&ask, latest.as_ref(), &staged.sha256, base_sha)
}

/// A run's latest finished audit and where it is (a directory or a URL).
#[derive(Debug, Clone)]
pub struct Audited {
    pub record: AuditRecord,
    /// Its directory.
    pub at: String,
    /// Its `summary.txt`.
    pub summary: String,
}

/// What a publish asks of the gate.
#[derive(Debug, Clone)]
pub struct Gate<'a> {
    pub id: &'a RunId,
    /// The command that audits the run, for the messages.
    pub audit_cmd: &'a str,
    /// A person approved restated closed months.
    pub allow_restatement: bool,
}

/// The publish gate, for a local output and one on object storage alike: the latest audit
/// covers this staged output and this base (their manifests' SHA-256), and passed, or failed on
/// restatements alone and a person approved them; [`Error::Gate`] otherwise.
pub fn gate(
    ask: &Gate,
    latest: Option<&Audited>,
    staged_sha256: &str,
    base_sha256: Option<&str>,
) -> Result<()> {
    let gate = |message: String| Error::Gate {
        run_id: ask.id.to_string(),
        message,
    };
    let audit_cmd = ask.audit_cmd;
    let Audited {
        record,
        at,
        summary,
    } = latest.ok_or_else(|| gate(format!("it has not been audited: run `{audit_cmd}`")))?;
    if record.staged.manifest_sha256 != staged_sha256 {
        return Err(gate(format!(
            "its staged output changed after its audit {at}: run `{audit_cmd}` again"
        )));
    }
    if record.base.as_ref().map(|b| b.manifest_sha256.as_str()) != base_sha256 {
        return Err(gate(format!(
            "the published output changed after its audit {at}: run `{audit_cmd}` again"
        )));
    }
    if record.passed {
        return Ok(());
    }
    if record.only_restated() && ask.allow_restatement {
        tracing::warn!(run_id = %ask.id, restated = record.restated, summary = %summary,
            "publishing restated closed months: approved (allow_restatement)");
        return Ok(());
    }
    let what: Vec<&str> = record.failures.iter().map(|f| f.message.as_str()).collect();
    let hint = if record.only_restated() {
        "; once a person has read it, publish with --allow-restatement"
    } else {
        ""
    };
    Err(gate(format!(
        "its audit failed ({}): read {summary}{hint}",
        what.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_one_safe_path_component() {
        for ok in [
            "2024-06-21",
            "scheduled__2024-06-20T18:00:00+00:00",
            "manual_1.a",
        ] {
            assert_eq!(RunId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", ".", "..", ".x", "a/b", "a b", "a\\b", &"x".repeat(201)] {
            let err = RunId::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Argument(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn audit_directories_are_numbered_and_never_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("runs/r1");
        assert_eq!(new_audit_dir(&run).unwrap().0, 1);
        assert_eq!(new_audit_dir(&run).unwrap().0, 2);
        fs::create_dir(run.join("audit-7")).unwrap();
        let (n, dir) = new_audit_dir(&run).unwrap();
        assert_eq!((n, dir), (8, run.join("audit-8")));
        // The latest finished audit is the highest with a verdict.
        assert!(latest_audit(&run).unwrap().is_none());
        let record = |attempt| AuditRecord {
            run_id: "r1".into(),
            attempt,
            passed: attempt == 2,
            failures: vec![],
            restated: 0,
            changes: 0,
            staged: TreeId {
                run_id: Some("r1".into()),
                as_of_date: "2024-06-21".into(),
                manifest_sha256: "x".into(),
            },
            base: None,
        };
        write_record(&run.join("audit-2"), &record(2)).unwrap();
        let (got, dir) = latest_audit(&run).unwrap().unwrap();
        assert_eq!((got, dir), (record(2), run.join("audit-2")));
    }

    #[test]
    fn only_restated_needs_a_failure_and_no_other_kind() {
        let mut r = AuditRecord {
            run_id: "r".into(),
            attempt: 1,
            passed: false,
            failures: vec![],
            restated: 1,
            changes: 1,
            staged: TreeId {
                run_id: None,
                as_of_date: String::new(),
                manifest_sha256: String::new(),
            },
            base: None,
        };
        assert!(!r.only_restated());
        let f = |check: &str| Failure {
            check: check.into(),
            message: String::new(),
        };
        r.failures = vec![f("restatement")];
        assert!(r.only_restated());
        r.failures.push(f("exceptions"));
        assert!(!r.only_restated());
    }
}
