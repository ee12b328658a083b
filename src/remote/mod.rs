//! Object storage for inputs and published outputs: `s3://`, `gs://` and `az://` URLs through
//! the `object_store` crate, with credentials from the environment as each cloud's own tools
//! read them (`AWS_*`, `GOOGLE_*`, `AZURE_*`; `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for
//! an S3-compatible server).
//!
//! The commands work on local directories; this module moves whole trees between a scratch
//! directory (`TMPDIR`) and a bucket:
//! - an input URL (`run --input`) is downloaded whole before the run;
//! - an output URL holds one complete output per run and a pointer to the published one:
//!   ```text
//!   <url>/runs/<as-of>-<run>/…   a run's files, `_manifest.json` uploaded last
//!   <url>/LATEST                 the name of the published run, replaced by a conditional put
//!   ```
//!   Readers (`diff`, `merge`, `export`) follow `LATEST`, so they see the last complete run,
//!   never a half-uploaded one (a publish killed midway leaves `LATEST` as it was) nor files of
//!   an earlier run with more shards (each run has its own prefix). A publish that finds
//!   `LATEST` changed since it read it (another publisher) fails rather than overwrite it.
//!   Retention keeps the newest `keep` run prefixes and always the one `LATEST` names.
//! - a run staged for write-audit-publish (`--stage ID`) is uploaded below `<url>/staged/<ID>/`,
//!   audited and published from there ([`wap`]).

pub mod wap;

use crate::error::{Error, Result};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod transfer;

/// Run prefixes an output URL keeps by default after a publish.
pub const KEEP_RUNS: usize = 7;

/// The error codes S3 and Azure give for a bucket or container that does not exist.
const NO_BUCKET: [&str; 2] = ["NoSuchBucket", "ContainerNotFound"];

/// The URL schemes reckon reads and writes.
pub const SCHEMES: [&str; 3] = ["s3", "gs", "az"];

/// Whether `path` is given as an object storage URL of a supported scheme.
pub fn is_url(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.split_once("://")
        .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme))
}

/// A bucket (or container) and a prefix in it.
pub struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    rt: tokio::runtime::Runtime,
    /// Files of this size and more are uploaded in parts ([`transfer::threshold`]).
    threshold: u64,
}

impl Remote {
    /// Opens `url` with the credentials and the multipart threshold of the environment (a bad
    /// threshold is refused here, before the command does any work).
    pub fn open(url: &str) -> Result<Remote> {
        let threshold = transfer::threshold()?;
        let err = |message: String| Error::Remote {
            url: url.to_string(),
            message,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("not a URL".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Argument(format!("{url}: no bucket")));
        }
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| err(e.to_string()))?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| err(e.to_string()))?,
            ),
            "az" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| err(e.to_string()))?,
            ),
            other => {
                return Err(Error::Argument(format!(
                    "{url}: scheme `{other}` is not supported (s3, gs, az)"
                )))
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("async runtime: {e}")))?;
        Ok(Remote {
            url: url.trim_end_matches('/').to_string(),
            store,
            prefix: prefix.trim_matches('/').to_string(),
            rt,
            threshold,
        })
    }

    fn path(&self, rel: &str) -> ObjPath {
        let rel = rel.trim_matches('/');
        match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => ObjPath::from(rel),
            (false, true) => ObjPath::from(self.prefix.as_str()),
            (false, false) => ObjPath::from(format!("{}/{rel}", self.prefix)),
        }
    }

    /// The bytes of object `rel`, `None` when there is none.
    fn get_opt(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let got = self.rt.block_on(async {
            let got = self.store.get(&self.path(rel)).await?;
            got.bytes().await
        });
        match got {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Removes object `rel` (nothing when there is none).
    fn delete(&self, rel: &str) -> Result<()> {
        match self.rt.block_on(self.store.delete(&self.path(rel))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// Removes every object below `rel`; gives their number.
    fn delete_below(&self, rel: &str) -> Result<usize> {
        let names = self.list(rel)?;
        for name in &names {
            self.delete(&format!("{}/{name}", rel.trim_matches('/')))?;
        }
        Ok(names.len())
    }

    /// Lists the URL's prefix once, so that a bucket that does not exist, or credentials that
    /// may not read it, stop a command before its work rather than at the upload after it.
    pub fn check_reachable(&self) -> Result<()> {
        let listed = self
            .rt
            .block_on(self.store.list_with_delimiter(Some(&self.path(""))));
        listed.map(|_| ()).map_err(|e| self.err("", e))
    }

    /// A failed request on `rel`: a location that does not exist is the given URL's fault
    /// ([`Error::RemoteMissing`]), anything else the store's or the network's.
    fn err(&self, rel: &str, e: object_store::Error) -> Error {
        let url = format!("{}/{}", self.url, rel.trim_matches('/'));
        let text = e.to_string();
        // A listing of a missing bucket comes back as a generic error with the service's code.
        let no_bucket = NO_BUCKET.iter().any(|code| text.contains(code));
        match e {
            _ if no_bucket => Error::RemoteMissing {
                url,
                message: "the bucket (or container) does not exist".into(),
            },
            object_store::Error::NotFound { .. } => Error::RemoteMissing { url, message: text },
            _ => Error::Remote { url, message: text },
        }
    }

    /// Every object below `rel`, as paths relative to it, sorted.
    fn list(&self, rel: &str) -> Result<Vec<String>> {
        let root = self.path(rel);
        let mut pending = vec![root.clone()];
        let mut found = Vec::new();
        while let Some(dir) = pending.pop() {
            let listed = self
                .rt
                .block_on(self.store.list_with_delimiter(Some(&dir)))
                .map_err(|e| self.err(rel, e))?;
            pending.extend(listed.common_prefixes);
            for o in listed.objects {
                let loc = o.location.as_ref();
                let below = loc.strip_prefix(root.as_ref()).unwrap_or(loc);
                found.push(below.trim_start_matches('/').to_string());
            }
        }
        found.sort();
        Ok(found)
    }

    /// Downloads every object below `rel` into `to`, keeping the relative paths; gives the
    /// number of objects. An empty prefix is an error (nothing there to read).
    pub fn download(&self, rel: &str, to: &Path) -> Result<usize> {
        let names = self.list(rel)?;
        if names.is_empty() {
            return Err(Error::RemoteMissing {
                url: format!("{}/{rel}", self.url),
                message: "no objects under this prefix (a wrong bucket or prefix?)".into(),
            });
        }
        for name in &names {
            let key = format!("{}/{name}", rel.trim_matches('/'));
            let url = format!("{}/{key}", self.url);
            let file = to.join(name);
            (self.rt).block_on(transfer::download(
                &*self.store,
                &self.path(&key),
                &file,
                &url,
            ))?;
        }
        Ok(names.len())
    }

    /// The published run `LATEST` names, with its version for a conditional update.
    fn latest(&self) -> Result<Option<(String, UpdateVersion)>> {
        let got = self.rt.block_on(async {
            let got = self.store.get(&self.path("LATEST")).await?;
            let version = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            Ok::<_, object_store::Error>((got.bytes().await?, version))
        });
        match got {
            Ok((bytes, version)) => {
                let name = String::from_utf8_lossy(&bytes).trim().to_string();
                Ok(Some((name, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("LATEST", e)),
        }
    }

    /// Downloads the published run (the one `LATEST` names) into `to`.
    pub fn download_latest(&self, to: &Path) -> Result<String> {
        let (name, _) = self.latest()?.ok_or_else(|| Error::NotAnOutput {
            path: PathBuf::from(&self.url),
            message: "no LATEST object: nothing has been published here".into(),
        })?;
        self.download(&format!("runs/{name}"), to)?;
        Ok(name)
    }

    /// Publishes the complete local output `local` as run `name`: every file under
    /// `runs/<name>/`, `_manifest.json` last, then `LATEST` by a conditional put; then removes
    /// the run prefixes beyond the newest `keep` (never the published one).
    pub fn publish(&self, local: &Path, name: &str, keep: usize) -> Result<()> {
        let before = self.latest()?;
        let mut files = walk(local)?;
        // The manifest last: a run prefix with a manifest holds every file.
        files.sort_by_key(|f| (f == "_manifest.json", f.clone()));
        for rel in &files {
            self.upload(&local.join(rel), &format!("runs/{name}/{rel}"))?;
        }
        self.set_latest(name, before.map(|b| b.1))?;
        tracing::info!(output = %self.url, run = name, files = files.len(), "published");
        self.retain_after_publish(name, keep);
        Ok(())
    }

    /// Retention once `LATEST` names `published`: the publish has happened, so a failure here
    /// (a role that may not delete, a listing error) is a warning, not the publish's failure;
    /// the next publish retries it.
    fn retain_after_publish(&self, published: &str, keep: usize) {
        if let Err(e) = self.retain(published, keep) {
            tracing::warn!(output = %self.url, run = published, error = %e,
                "published; removing old runs failed (the next publish retries)");
        }
    }

    /// Uploads the file `path` to `key`, streamed ([`transfer::upload`]).
    fn upload(&self, path: &Path, key: &str) -> Result<u64> {
        let (to, url) = (self.path(key), format!("{}/{key}", self.url));
        (self.rt).block_on(transfer::upload(
            &*self.store,
            path,
            &to,
            &url,
            self.threshold,
        ))
    }

    /// Points `LATEST` at run `name` by a conditional put: created when `before` is `None`,
    /// replaced only if still at version `before` otherwise (a concurrent publisher fails it).
    fn set_latest(&self, name: &str, before: Option<UpdateVersion>) -> Result<()> {
        let mode = match before {
            Some(version) => PutMode::Update(version),
            None => PutMode::Create,
        };
        let payload = PutPayload::from(format!("{name}\n").into_bytes());
        let put = self.rt.block_on(
            self.store
                .put_opts(&self.path("LATEST"), payload, mode.into()),
        );
        match put {
            Ok(_) => Ok(()),
            Err(
                e @ (object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. }),
            ) => Err(Error::Remote {
                url: format!("{}/LATEST", self.url),
                message: format!(
                    "changed by another publisher during this one ({e}); run `runs/{name}/` is \
                     uploaded but not published: run again"
                ),
            }),
            Err(e) => Err(self.err("LATEST", e)),
        }
    }

    /// Removes the run prefixes beyond the newest `keep` by name (`<as-of>-<run>` sorts by
    /// as-of date, then by run), never `published`, and the staged prefixes of the runs removed
    /// ([`wap`]).
    fn retain(&self, published: &str, keep: usize) -> Result<()> {
        // The run LATEST names now: another publisher may have moved it since `published`.
        let latest = self.latest()?.map(|(name, _)| name);
        let listed = self
            .rt
            .block_on(self.store.list_with_delimiter(Some(&self.path("runs"))))
            .map_err(|e| self.err("runs", e))?;
        let mut runs: Vec<String> = (listed.common_prefixes.iter())
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        runs.sort();
        let old = runs.len().saturating_sub(keep.max(1));
        let protected = |r: &str| r == published || latest.as_deref() == Some(r);
        for run in runs.iter().take(old).filter(|r| !protected(r)) {
            self.delete_below(&format!("runs/{run}"))?;
            tracing::info!(output = %self.url, run = %run, "removed an old run (retention)");
        }
        let mut kept: Vec<String> = runs.into_iter().skip(old).collect();
        kept.push(published.to_string());
        kept.extend(latest);
        wap::retain_staged(self, &kept)
    }
}

/// A published run's name on object storage: `<as-of>-<unix seconds>-<pid>-<random>`, in the
/// order of as-of dates, then of runs; the random part keeps two publishers apart that start in
/// the same second with the same pid (each container has its own pid namespace).
pub fn run_name(as_of: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tag: u32 = rand::random();
    format!("{as_of}-{secs}-{}-{tag:08x}", std::process::id())
}

/// Every file below `root`, as `/`-separated relative paths.
fn walk(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = entry.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                let parts: Vec<String> = (rel.components())
                    .map(|c| c.as_os_str().to_string_lossy().to_string())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_the_three_clouds_are_remote_and_paths_are_not() {
        for url in ["s3://b/out", "gs://b/in", "az://c/x"] {
            assert!(is_url(Path::new(url)), "{url}");
        }
        for path in ["out", "/data/out", "s3:/x", "ftp://h/x", "./s3://x"] {
            assert!(!is_url(Path::new(path)), "{path}");
        }
    }
}
