//! Write-audit-publish on an object storage output: `reckon run --stage ID`, `reckon merge
//! --stage ID`, `reckon audit` and `reckon publish` with an `s3://`, `gs://` or `az://`
//! `--output`, the same steps as on a local output (`output::stage`), with the same checks
//! (`audit::check`) and the same publish gate (`output::stage::gate`).
//!
//! Layout, beside the published runs of the output URL (see the parent module):
//! ```text
//! <url>/staged/<run-id>/stage.json     the run id and its base: the published run `LATEST`
//!                                      named when the run was staged (none: the first run)
//! <url>/staged/<run-id>/output/…       the staged output, `_manifest.json` uploaded last
//! <url>/staged/<run-id>/audit-<n>/…    the n-th audit: diff/, summary.txt, audit.json last;
//!                                      every object created, never overwritten
//! <url>/staged/<run-id>/published      the `runs/` prefix the run was published as
//! <url>/runs/<as-of>-<run>/…           published runs, behind `LATEST` (as without staging)
//! ```
//!
//! Invariants:
//! - **The base is the output published before the run**, recorded at stage time: `LATEST`'s
//!   run, unless that run is this run's own publish (its manifest carries the run id), in which
//!   case the base recorded by the earlier stage is kept. So a rerun of any step compares
//!   against the output published before the run, never against the run itself.
//! - **Audits are records.** An audit takes the attempt number after the highest `audit-<n>`
//!   prefix and creates each of its objects with a conditional put that fails on an existing
//!   object: no audit overwrites an earlier one's diff or verdict, and an audit killed midway
//!   leaves no `audit.json` (no verdict).
//! - **Publish follows an audit.** `publish` copies the staged output to a new `runs/` prefix
//!   (manifest last) and moves `LATEST` by a conditional put only when the latest audit covers
//!   exactly this staged output and this base and passed (or failed on restatements alone,
//!   approved), and only while `LATEST` still names the base or this run's own earlier publish.
//!   A publish whose staged output already is the published run does nothing (a retry).
//! - **What is published is what was audited.** The copy takes the files the audited manifest
//!   lists, then checks that the staged manifest still is the audited bytes and writes those:
//!   a stage rewritten during the copy (staging deletes its manifest first) fails the publish
//!   before `LATEST` moves. Objects above a server-side copy's limit are streamed.
//! - **Retention** removes the staged prefix of a run whose published run prefix is removed;
//!   runs staged but never published stay, and staging a run again forgets its earlier
//!   publish. Once `LATEST` has moved, a failure of retention is a warning, not the publish's.

use super::{transfer, Remote};
use crate::audit::{self, AuditConfig, Shown, Verdict};
use crate::error::{Error, Result};
use crate::output::stage::{self, AuditRecord, Audited, Gate, PublishConfig, Published, RunId};
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `staged/<run-id>`: everything of one staged run.
fn run_prefix(id: &RunId) -> String {
    format!("staged/{id}")
}

/// `staged/<run-id>/output`: the staged output.
fn output_prefix(id: &RunId) -> String {
    format!("staged/{id}/output")
}

/// `stage.json`: which run is staged and against which published run it is audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StageRecord {
    run_id: String,
    /// The `runs/` name of the output published before the run; `None` before any publish.
    base: Option<String>,
}

/// What a publish needs of an output's `_manifest.json` on the store, and the file's SHA-256
/// (`stage::Tree::sha256`).
struct Head {
    manifest: HeadFields,
    sha256: String,
}

/// The manifest's fields a publish reads (`output::manifest::Manifest` has them all).
#[derive(Debug, Deserialize)]
struct HeadFields {
    run_id: Option<String>,
    as_of_date: String,
    /// The output's files (empty in manifests older than it: then the listing is used).
    #[serde(default)]
    output_sha256: std::collections::BTreeMap<String, String>,
}

impl Remote {
    /// Writes object `rel`; with `PutMode::Create`, fails on an existing object.
    fn put_bytes(&self, rel: &str, bytes: Vec<u8>, mode: PutMode) -> Result<()> {
        let path = self.path(rel);
        let put = self
            .store
            .put_opts(&path, PutPayload::from(bytes), mode.into());
        match self.rt.block_on(put) {
            Ok(_) => Ok(()),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(Error::Remote {
                url: format!("{}/{rel}", self.url),
                message: "already written by another process (a concurrent audit or \
                              publish of the same run): run the command again"
                    .into(),
            }),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Uploads every file below `local` under `rel`, the file named `last` after the others
    /// (the manifest, or an audit's verdict), each with `mode`; gives the number of objects.
    fn upload_tree(&self, local: &Path, rel: &str, last: &str, mode: PutMode) -> Result<usize> {
        let mut files = super::walk(local)?;
        files.sort_by_key(|f| (f == last, f.clone()));
        for name in &files {
            let (path, key) = (local.join(name), format!("{rel}/{name}"));
            if matches!(mode, PutMode::Overwrite) {
                self.upload(&path, &key)?;
            } else {
                // A conditional put of a small file (an audit's report): one request.
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                self.put_bytes(&key, bytes, mode.clone())?;
            }
        }
        Ok(files.len())
    }

    /// The manifest of the output below `rel`, `None` when it has none (absent or incomplete).
    fn head(&self, rel: &str) -> Result<Option<Head>> {
        let key = format!("{rel}/_manifest.json");
        let Some(bytes) = self.get_opt(&key)? else {
            return Ok(None);
        };
        let manifest = serde_json::from_slice(&bytes).map_err(|e| Error::NotAnOutput {
            path: PathBuf::from(format!("{}/{key}", self.url)),
            message: format!("not a reckon manifest: {e}"),
        })?;
        Ok(Some(Head {
            manifest,
            sha256: hex::encode(Sha256::digest(&bytes)),
        }))
    }

    fn stage_record(&self, id: &RunId) -> Result<Option<StageRecord>> {
        let key = format!("{}/stage.json", run_prefix(id));
        let Some(bytes) = self.get_opt(&key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::NotAnOutput {
                path: PathBuf::from(format!("{}/{key}", self.url)),
                message: format!("not a stage record: {e}"),
            })
    }

    /// Whether published run `name` is run `id`'s own output.
    fn is_run_of(&self, name: &str, id: &RunId) -> Result<bool> {
        let head = self.head(&format!("runs/{name}"))?;
        Ok(head.is_some_and(|h| h.manifest.run_id.as_deref() == Some(id.as_str())))
    }

    /// The output published before run `id` (module doc), from `LATEST` named `latest`.
    fn base_of(&self, id: &RunId, latest: Option<&str>) -> Result<Option<String>> {
        let Some(name) = latest else { return Ok(None) };
        if !self.is_run_of(name, id)? {
            return Ok(Some(name.to_string()));
        }
        match self.stage_record(id)? {
            Some(r) => Ok(r.base),
            None => Err(Error::NotAnOutput {
                path: PathBuf::from(format!("{}/{}", self.url, run_prefix(id))),
                message: format!(
                    "LATEST names run `{id}`'s own output ({name}) but its stage record is \
                     missing: the output published before it is unknown"
                ),
            }),
        }
    }

    /// The attempt number of the next audit of run `id`: one more than the highest
    /// `audit-<n>` prefix, finished or not.
    fn next_attempt(&self, id: &RunId) -> Result<u32> {
        Ok(self.attempts(id)?.last().copied().unwrap_or(0) + 1)
    }

    /// The attempt numbers of run `id`'s audit prefixes, in order.
    fn attempts(&self, id: &RunId) -> Result<Vec<u32>> {
        let rel = run_prefix(id);
        let listed = self
            .rt
            .block_on(self.store.list_with_delimiter(Some(&self.path(&rel))))
            .map_err(|e| self.err(&rel, e))?;
        let mut n: Vec<u32> = (listed.common_prefixes.iter())
            .filter_map(|p| p.filename()?.strip_prefix("audit-")?.parse().ok())
            .collect();
        n.sort_unstable();
        Ok(n)
    }

    /// Run `id`'s latest finished audit (the highest `audit-<n>` with an `audit.json`).
    fn latest_audit(&self, id: &RunId) -> Result<Option<Audited>> {
        for n in self.attempts(id)?.into_iter().rev() {
            let rel = format!("{}/audit-{n}", run_prefix(id));
            let Some(bytes) = self.get_opt(&format!("{rel}/audit.json"))? else {
                continue;
            };
            let record: AuditRecord =
                serde_json::from_slice(&bytes).map_err(|e| Error::NotAnOutput {
                    path: PathBuf::from(format!("{}/{rel}/audit.json", self.url)),
                    message: format!("not an audit record: {e}"),
                })?;
            return Ok(Some(Audited {
                record,
                at: format!("{}/{rel}", self.url),
                summary: format!("{}/{rel}/summary.txt", self.url),
            }));
        }
        Ok(None)
    }
}

/// `reckon run --stage ID` and `reckon merge --stage ID` with an output URL: uploads the
/// complete local output `local` (whose manifest carries `id`) as run `id`'s staged output,
/// replacing an earlier stage of it, after recording its base. Gives the base's `runs/` name.
pub fn stage(r: &Remote, id: &RunId, local: &Path) -> Result<Option<String>> {
    let latest = r.latest()?.map(|(name, _)| name);
    let base = r.base_of(id, latest.as_deref())?;
    let record = StageRecord {
        run_id: id.to_string(),
        base: base.clone(),
    };
    let text = serde_json::to_vec_pretty(&record).map_err(|e| Error::Internal(e.to_string()))?;
    let out = output_prefix(id);
    // The manifest first: while the rest is replaced, the prefix reads as incomplete (and a
    // publish copying it meanwhile fails its last check). The `published` record goes too: it
    // names an earlier stage's publish, and retention would take this stage for it.
    r.delete(&format!("{out}/_manifest.json"))?;
    r.delete(&format!("{}/published", run_prefix(id)))?;
    r.delete_below(&out)?;
    r.put_bytes(
        &format!("{}/stage.json", run_prefix(id)),
        text,
        PutMode::Overwrite,
    )?;
    let files = r.upload_tree(local, &out, "_manifest.json", PutMode::Overwrite)?;
    tracing::info!(output = %r.url, run_id = %id, files, base = base.as_deref().unwrap_or("none"),
        "staged");
    Ok(base)
}

/// Downloads run `id`'s staged output below the output URL `r` into `to` (a shard of
/// `merge --stage`); an error naming the command to run when there is none.
pub fn download_staged(r: &Remote, id: &RunId, to: &Path) -> Result<()> {
    let out = output_prefix(id);
    if r.head(&out)?.is_none() {
        return Err(Error::Argument(format!(
            "{}: run `{id}` has no staged output: run `reckon run --stage {id} --output {}` \
             first",
            r.url, r.url
        )));
    }
    r.download(&out, to)?;
    Ok(())
}

/// The output URL `output` (without a trailing `/`) and its store.
fn open(output: &Path) -> Result<(String, Remote)> {
    let url = output.to_string_lossy().trim_end_matches('/').to_string();
    let r = Remote::open(&url)?;
    r.check_reachable()?;
    Ok((url, r))
}

/// `reckon audit` with an output URL: downloads run `cfg.run_id`'s staged output and its base,
/// runs `audit::check` on them, and uploads the report as the run's next `audit-<n>/`. The
/// verdict's `dir` is that prefix's URL.
pub fn audit(cfg: &AuditConfig) -> Result<Verdict> {
    let (url, r) = open(&cfg.output)?;
    let id = &cfg.run_id;
    let record = r.stage_record(id)?.ok_or_else(|| not_staged(&url, id))?;
    let scratch = tempfile::Builder::new()
        .prefix("reckon-audit-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let staged_dir = scratch.path().join("staged");
    download_staged(&r, id, &staged_dir)?;
    let staged = stage::Tree::read(&staged_dir)?.ok_or_else(|| not_staged(&url, id))?;
    if staged.manifest.run_id.as_deref() != Some(id.as_str()) {
        return Err(Error::NotAnOutput {
            path: PathBuf::from(format!("{url}/{}", output_prefix(id))),
            message: format!("its manifest is not run `{id}`'s"),
        });
    }
    let base = match &record.base {
        Some(name) => {
            let dir = scratch.path().join("base");
            let rel = format!("runs/{name}");
            if r.head(&rel)?.is_none() {
                return Err(base_gone(&r, id, name));
            }
            r.download(&rel, &dir)?;
            Some(stage::Tree::read(&dir)?.ok_or_else(|| base_gone(&r, id, name))?)
        }
        None => None,
    };
    let attempt = r.next_attempt(id)?;
    let dir = scratch.path().join(format!("audit-{attempt}"));
    std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let shown = Shown {
        staged: format!("{url}/{}", output_prefix(id)),
        base: record.base.as_ref().map(|b| format!("{url}/runs/{b}")),
    };
    let mut verdict = audit::check(cfg, &staged, base.as_ref(), (attempt, &dir), &shown)?;
    let rel = format!("{}/audit-{attempt}", run_prefix(id));
    r.upload_tree(&dir, &rel, "audit.json", PutMode::Create)?;
    verdict.dir = PathBuf::from(format!("{url}/{rel}"));
    Ok(verdict)
}

fn not_staged(url: &str, id: &RunId) -> Error {
    Error::Argument(format!(
        "run `{id}` has no staged output at {url}/{}: run `reckon run --stage {id} --output \
         {url}` first",
        output_prefix(id)
    ))
}

/// `reckon publish` with an output URL: publishes run `cfg.run_id`'s staged output when the
/// gate allows it (module doc), then keeps the newest `keep` run prefixes.
pub fn publish(cfg: &PublishConfig, keep: usize) -> Result<Published> {
    let (url, r) = open(&cfg.output)?;
    let id = &cfg.run_id;
    let latest = r.latest()?;
    let current = match &latest {
        Some((name, _)) => r.head(&format!("runs/{name}"))?.map(|h| (name.clone(), h)),
        None => None,
    };
    let staged = r.head(&output_prefix(id))?;
    let own = |h: &Head| h.manifest.run_id.as_deref() == Some(id.as_str());
    if let Some((name, cur)) = &current {
        let retry = match &staged {
            Some(s) => s.sha256 == cur.sha256,
            None => own(cur),
        };
        if retry && own(cur) {
            mark_published(&r, id, name)?;
            r.retain_after_publish(name, keep.max(1));
            return Ok(Published::Already {
                as_of_date: cur.manifest.as_of_date.clone(),
            });
        }
    }
    let staged = staged.ok_or_else(|| not_staged(&url, id))?;
    let recorded = r.stage_record(id)?.ok_or_else(|| not_staged(&url, id))?;
    let base = check_base(&r, id, &recorded, latest.as_ref().map(|l| l.0.as_str()))?;
    let audit_cmd = format!("reckon audit --output {url} --run-id {id}");
    let ask = Gate {
        id,
        audit_cmd: &audit_cmd,
        allow_restatement: cfg.allow_restatement,
    };
    let latest_audit = r.latest_audit(id)?;
    stage::gate(&ask, latest_audit.as_ref(), &staged.sha256, base.as_deref())?;
    let as_of = staged.manifest.as_of_date.clone();
    let name = super::run_name(&as_of);
    copy_run(&r, id, &name, &staged)?;
    r.set_latest(&name, latest.map(|l| l.1))?;
    tracing::info!(output = %url, run_id = %id, run = %name, "published the staged run");
    if let Err(e) = mark_published(&r, id, &name) {
        tracing::warn!(output = %url, run_id = %id, error = %e,
            "published; recording it for retention failed (a publish retry records it)");
    }
    r.retain_after_publish(&name, keep.max(1));
    Ok(Published::Now { as_of_date: as_of })
}

/// The SHA-256 of the base's manifest, after checking that the published output is still the
/// one the run was staged against (or the run's own earlier publish).
fn check_base(
    r: &Remote,
    id: &RunId,
    recorded: &StageRecord,
    latest: Option<&str>,
) -> Result<Option<String>> {
    let now = r.base_of(id, latest)?;
    if now != recorded.base {
        return Err(Error::Gate {
            run_id: id.to_string(),
            message: format!(
                "the published output changed after the run was staged (against {}; LATEST now \
                 names {}): run `reckon run --stage {id}` and the audit again",
                recorded.base.as_deref().unwrap_or("nothing"),
                latest.unwrap_or("nothing")
            ),
        });
    }
    let Some(name) = &recorded.base else {
        return Ok(None);
    };
    let head = (r.head(&format!("runs/{name}"))?).ok_or_else(|| base_gone(r, id, name))?;
    Ok(Some(head.sha256))
}

/// The published run a staged run is compared with has no manifest any more (removed by
/// retention, or by hand): comparing with nothing would pass a restatement unseen.
fn base_gone(r: &Remote, id: &RunId, name: &str) -> Error {
    Error::NotAnOutput {
        path: PathBuf::from(format!("{}/runs/{name}", r.url)),
        message: format!(
            "the output published before run `{id}` is gone (removed by retention?): stage \
             the run again to audit it against the output published now"
        ),
    }
}

/// The largest object one server-side copy takes (S3's CopyObject: 5 GiB); larger ones are
/// streamed through a scratch file and uploaded in parts.
const COPY_MAX: u64 = 5 << 30;

/// Copies the staged output of `id` that the gate passed (`audited`: its manifest) to
/// `runs/<name>/`: the files that manifest lists, then the manifest's own audited bytes, after
/// checking that the staged manifest is still those bytes. A stage rewritten meanwhile (a
/// retried task, a second publisher) deletes or changes it, so the copy fails before `LATEST`
/// moves rather than publish files of two stages.
fn copy_run(r: &Remote, id: &RunId, name: &str, audited: &Head) -> Result<()> {
    let from = output_prefix(id);
    let mut files: Vec<String> = audited.manifest.output_sha256.keys().cloned().collect();
    if files.is_empty() {
        files = r.list(&from)?;
        files.retain(|f| f != "_manifest.json");
    }
    for f in &files {
        copy_object(r, &format!("{from}/{f}"), &format!("runs/{name}/{f}"))?;
    }
    let manifest = format!("{from}/_manifest.json");
    let bytes = r.get_opt(&manifest)?.unwrap_or_default();
    if hex::encode(Sha256::digest(&bytes)) != audited.sha256 {
        return Err(Error::Gate {
            run_id: id.to_string(),
            message: format!(
                "the staged output changed while it was being published (staged again?):                  nothing published; run the audit of the new stage, then publish it                  (`{}/runs/{name}/` holds a partial copy, removed by retention)",
                r.url
            ),
        });
    }
    r.put_bytes(
        &format!("runs/{name}/_manifest.json"),
        bytes,
        PutMode::Overwrite,
    )
}

/// Copies object `src` to `dst` inside the store: a server-side copy up to [`COPY_MAX`],
/// a download and a streamed upload above it.
fn copy_object(r: &Remote, src: &str, dst: &str) -> Result<()> {
    let from = r.path(src);
    let size = (r.rt.block_on(r.store.head(&from)))
        .map_err(|e| r.err(src, e))?
        .size;
    if size <= COPY_MAX {
        return (r.rt.block_on(r.store.copy(&from, &r.path(dst)))).map_err(|e| r.err(dst, e));
    }
    let scratch = tempfile::Builder::new()
        .prefix("reckon-copy-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let file = scratch.path().join("object");
    let url = format!("{}/{src}", r.url);
    (r.rt
        .block_on(transfer::download(&*r.store, &from, &file, &url)))?;
    r.upload(&file, dst).map(|_| ())
}

/// Records which `runs/` prefix run `id` was published as (for retention).
fn mark_published(r: &Remote, id: &RunId, name: &str) -> Result<()> {
    let key = format!("{}/published", run_prefix(id));
    if r.get_opt(&key)?.as_deref() == Some(format!("{name}\n").as_bytes()) {
        return Ok(());
    }
    r.put_bytes(&key, format!("{name}\n").into_bytes(), PutMode::Overwrite)
}

/// Removes the staged prefixes of runs whose published run prefix is not among `kept`; a run
/// never published (no `published` object) stays. Works on the listed paths as they are (a
/// run id's `~` is stored percent-encoded).
pub(super) fn retain_staged(r: &Remote, kept: &[String]) -> Result<()> {
    let listed =
        r.rt.block_on(r.store.list_with_delimiter(Some(&r.path("staged"))))
            .map_err(|e| r.err("staged", e))?;
    for prefix in &listed.common_prefixes {
        let rel = format!("staged/{}", prefix.filename().unwrap_or_default());
        let got = r.rt.block_on(async {
            let got = r.store.get(&prefix.clone().join("published")).await?;
            got.bytes().await
        });
        let name = match got {
            Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(r.err(&rel, e)),
        };
        if kept.contains(&name) {
            continue;
        }
        let mut pending = vec![prefix.clone()];
        let mut objects = 0;
        while let Some(dir) = pending.pop() {
            let listed = (r.rt.block_on(r.store.list_with_delimiter(Some(&dir))))
                .map_err(|e| r.err(&rel, e))?;
            pending.extend(listed.common_prefixes);
            for o in &listed.objects {
                (r.rt.block_on(r.store.delete(&o.location)))
                    .map_err(|e| r.err(o.location.as_ref(), e))?;
                objects += 1;
            }
        }
        tracing::info!(output = %r.url, staged = %rel, run = %name, objects,
            "removed a published run's staged prefix (retention)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use std::sync::Arc;

    fn remote() -> Remote {
        Remote {
            url: "s3://b/out".into(),
            store: Arc::new(InMemory::new()),
            prefix: "out".into(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            threshold: crate::remote::transfer::DEFAULT_THRESHOLD,
        }
    }

    fn id(s: &str) -> RunId {
        RunId::parse(s).unwrap()
    }

    /// A published run named `name` whose manifest carries `run_id`, named by `LATEST`.
    fn publish_run(r: &Remote, name: &str, run_id: Option<&str>) {
        let m = serde_json::json!({"run_id": run_id, "as_of_date": "2024-06-21"});
        let key = format!("runs/{name}/_manifest.json");
        r.put_bytes(&key, m.to_string().into_bytes(), PutMode::Overwrite)
            .unwrap();
        r.put_bytes(
            "LATEST",
            format!("{name}\n").into_bytes(),
            PutMode::Overwrite,
        )
        .unwrap();
    }

    #[test]
    fn the_base_is_latest_unless_latest_is_the_runs_own_publish() {
        let r = remote();
        assert_eq!(r.base_of(&id("r2"), None).unwrap(), None);
        publish_run(&r, "2024-06-20-1-1", Some("r1"));
        let base = r.base_of(&id("r2"), Some("2024-06-20-1-1")).unwrap();
        assert_eq!(base.as_deref(), Some("2024-06-20-1-1"));
        // r2 published: its base is the one recorded when it was staged, never itself.
        let record = StageRecord {
            run_id: "r2".into(),
            base: Some("2024-06-20-1-1".into()),
        };
        let text = serde_json::to_vec(&record).unwrap();
        r.put_bytes("staged/r2/stage.json", text, PutMode::Overwrite)
            .unwrap();
        publish_run(&r, "2024-06-21-2-2", Some("r2"));
        let base = r.base_of(&id("r2"), Some("2024-06-21-2-2")).unwrap();
        assert_eq!(base.as_deref(), Some("2024-06-20-1-1"));
        // Another run's base is r2's publish.
        let base = r.base_of(&id("r3"), Some("2024-06-21-2-2")).unwrap();
        assert_eq!(base.as_deref(), Some("2024-06-21-2-2"));
        // Without its stage record the base of a published run is unknown: an error.
        r.delete("staged/r2/stage.json").unwrap();
        let err = r.base_of(&id("r2"), Some("2024-06-21-2-2")).unwrap_err();
        assert!(matches!(err, Error::NotAnOutput { .. }), "{err}");
    }

    #[test]
    fn audit_objects_are_created_once_and_numbered_after_the_highest() {
        let r = remote();
        let run = id("r1");
        assert_eq!(r.next_attempt(&run).unwrap(), 1);
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("summary.txt"), "first").unwrap();
        let record = AuditRecord {
            run_id: "r1".into(),
            attempt: 1,
            passed: true,
            failures: vec![],
            restated: 0,
            changes: 0,
            staged: stage::TreeId {
                run_id: Some("r1".into()),
                as_of_date: "2024-06-21".into(),
                manifest_sha256: "x".into(),
            },
            base: None,
        };
        let json = serde_json::to_string(&record).unwrap();
        std::fs::write(tmp.path().join("audit.json"), json).unwrap();
        let upload = || {
            r.upload_tree(
                tmp.path(),
                "staged/r1/audit-1",
                "audit.json",
                PutMode::Create,
            )
        };
        assert_eq!(upload().unwrap(), 2);
        std::fs::write(tmp.path().join("summary.txt"), "second").unwrap();
        let err = upload().unwrap_err();
        assert!(matches!(err, Error::Remote { .. }), "{err}");
        let kept = r.get_opt("staged/r1/audit-1/summary.txt").unwrap();
        assert_eq!(kept.as_deref(), Some(&b"first"[..]));
        // An unfinished audit (no verdict) still takes its number.
        r.put_bytes("staged/r1/audit-4/summary.txt", vec![], PutMode::Create)
            .unwrap();
        assert_eq!(r.attempts(&run).unwrap(), vec![1, 4]);
        assert_eq!(r.next_attempt(&run).unwrap(), 5);
        // The latest finished audit is the highest with a verdict.
        let latest = r.latest_audit(&run).unwrap().unwrap();
        assert_eq!(
            (latest.record, latest.at),
            (record, "s3://b/out/staged/r1/audit-1".into())
        );
    }

    /// A local output of one data file and a manifest listing it, as run `run_id`'s.
    fn local_output(dir: &Path, run_id: &str, data: &[u8]) {
        std::fs::create_dir_all(dir.join("bills")).unwrap();
        std::fs::write(dir.join("bills/part-0.parquet"), data).unwrap();
        let m = serde_json::json!({
            "run_id": run_id,
            "as_of_date": "2024-06-21",
            "output_sha256": {"bills/part-0.parquet": hex::encode(Sha256::digest(data))},
        });
        std::fs::write(dir.join("_manifest.json"), m.to_string()).unwrap();
    }

    #[test]
    fn publish_copies_the_audited_files_and_manifest_bytes() {
        let (r, dir) = (remote(), tempfile::tempdir().unwrap());
        local_output(dir.path(), "r1", b"audited");
        stage(&r, &id("r1"), dir.path()).unwrap();
        r.put_bytes(
            "staged/r1/output/stray.parquet",
            b"x".to_vec(),
            PutMode::Overwrite,
        )
        .unwrap();
        let audited = r.head(&output_prefix(&id("r1"))).unwrap().unwrap();
        copy_run(&r, &id("r1"), "2024-06-21-1", &audited).unwrap();
        let copied = r.list("runs/2024-06-21-1").unwrap();
        assert_eq!(copied, ["_manifest.json", "bills/part-0.parquet"]);
        let head = r.head("runs/2024-06-21-1").unwrap().unwrap();
        assert_eq!(head.sha256, audited.sha256);
    }

    /// A stage rewritten after the gate read it (a retried task staging again) fails the copy
    /// before `LATEST` moves, and the new stage's manifest is not published.
    #[test]
    fn publish_of_a_stage_rewritten_during_the_copy_fails_without_a_manifest() {
        let (r, dir) = (remote(), tempfile::tempdir().unwrap());
        local_output(dir.path(), "r1", b"audited");
        stage(&r, &id("r1"), dir.path()).unwrap();
        let audited = r.head(&output_prefix(&id("r1"))).unwrap().unwrap();
        local_output(dir.path(), "r1", b"staged again");
        stage(&r, &id("r1"), dir.path()).unwrap();
        let err = copy_run(&r, &id("r1"), "2024-06-21-1", &audited).unwrap_err();
        assert!(matches!(err, Error::Gate { .. }), "{err}");
        assert!(err
            .to_string()
            .contains("changed while it was being published"));
        assert_eq!(r.head("runs/2024-06-21-1").unwrap().map(|h| h.sha256), None);
    }

    /// The output a run was staged against removed since (by retention, or by hand): comparing
    /// with nothing would pass a restatement as a first run's output.
    #[test]
    fn a_vanished_base_is_refused_not_taken_for_a_first_run() {
        let (r, dir) = (remote(), tempfile::tempdir().unwrap());
        publish_run(&r, "2024-06-20-1", Some("r0"));
        local_output(dir.path(), "r1", b"x");
        let base = stage(&r, &id("r1"), dir.path()).unwrap();
        assert_eq!(base.as_deref(), Some("2024-06-20-1"));
        let record = r.stage_record(&id("r1")).unwrap().unwrap();
        let sha = check_base(&r, &id("r1"), &record, Some("2024-06-20-1")).unwrap();
        assert!(sha.is_some());
        r.delete_below("runs/2024-06-20-1").unwrap();
        let err = check_base(&r, &id("r1"), &record, Some("2024-06-20-1")).unwrap_err();
        assert!(err.to_string().contains("is gone"), "{err}");
    }

    #[test]
    fn staging_again_forgets_the_earlier_publish_so_retention_keeps_the_stage() {
        let (r, dir) = (remote(), tempfile::tempdir().unwrap());
        local_output(dir.path(), "r1", b"first");
        stage(&r, &id("r1"), dir.path()).unwrap();
        mark_published(&r, &id("r1"), "a").unwrap();
        local_output(dir.path(), "r1", b"second");
        stage(&r, &id("r1"), dir.path()).unwrap();
        retain_staged(&r, &["b".to_string()]).unwrap();
        let left = r.list("staged/r1").unwrap();
        let expected = [
            "output/_manifest.json",
            "output/bills/part-0.parquet",
            "stage.json",
        ];
        assert_eq!(left, expected);
    }

    #[test]
    fn retention_removes_the_staged_prefixes_of_removed_runs_only() {
        let r = remote();
        for (run_id, published) in [("r1", Some("a")), ("r2", Some("b")), ("r3", None)] {
            let out = format!("staged/{run_id}/output/_manifest.json");
            r.put_bytes(&out, b"{}".to_vec(), PutMode::Overwrite)
                .unwrap();
            if let Some(name) = published {
                mark_published(&r, &id(run_id), name).unwrap();
            }
        }
        retain_staged(&r, &["b".to_string()]).unwrap();
        let left = r.list("staged").unwrap();
        let expected = [
            "r2/output/_manifest.json",
            "r2/published",
            "r3/output/_manifest.json",
        ];
        assert_eq!(left, expected);
    }
}
