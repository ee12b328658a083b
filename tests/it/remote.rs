//! Object storage against a real S3 API: moto's server on 127.0.0.1, started by the test
//! (`RECKON_MOTO_SERVER`, default `moto_server` on PATH; `.ci/run` installs it into a cached
//! virtual environment; `RECKON_MOTO_SERVER=skip` skips, loudly). Inputs are read from a
//! bucket, outputs published as run prefixes and a `LATEST` pointer: a reader never sees a
//! partial run, nor files of an earlier run with more files, also after `kill -9`.

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free port of 127.0.0.1, killed when dropped.
pub(crate) struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto, or `None` when `RECKON_MOTO_SERVER=skip` (after a loud note).
pub(crate) fn moto() -> Option<Moto> {
    let bin = std::env::var("RECKON_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    if bin == "skip" {
        eprintln!("!!! SKIPPING the object storage test: RECKON_MOTO_SERVER=skip");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start `{bin}` ({e}): pip install 'moto[server]', or RECKON_MOTO_SERVER=skip")
        });
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

impl Moto {
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    pub(crate) fn store(&self, bucket: &str) -> AmazonS3 {
        let mut b = AmazonS3Builder::new().with_bucket_name(bucket);
        for (k, v) in self.env() {
            b = b.with_config(k.to_ascii_lowercase().parse().unwrap(), v);
        }
        b.build().unwrap()
    }

    /// Creates a bucket (an unsigned `PUT /<bucket>`, which moto accepts).
    pub(crate) fn bucket(&self, name: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let req = format!("PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }

    /// `reckon <args>` with the server's credentials; (exit code, stderr).
    pub(crate) fn reckon(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
            .args(args)
            .envs(self.env())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

pub(crate) fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Every key below `prefix`.
pub(crate) fn keys(store: &AmazonS3, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![ObjPath::from(prefix)];
    while let Some(p) = pending.pop() {
        let l = block(store.list_with_delimiter(Some(&p))).unwrap();
        pending.extend(l.common_prefixes);
        found.extend(l.objects.into_iter().map(|o| o.location.to_string()));
    }
    found
}

pub(crate) fn get(store: &AmazonS3, key: &str) -> Option<Vec<u8>> {
    block(async { store.get(&ObjPath::from(key)).await?.bytes().await })
        .ok()
        .map(|b| b.to_vec())
}

/// Uploads a local tree below `prefix`.
pub(crate) fn upload(store: &AmazonS3, dir: &Path, prefix: &str) {
    for entry in walk(dir) {
        let rel = entry
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(&entry).unwrap();
        block(store.put(
            &ObjPath::from(format!("{prefix}/{rel}")),
            PutPayload::from(bytes),
        ))
        .unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The published run: `LATEST` names a run whose objects are exactly its manifest's files and
/// the manifest. Gives the run's name and its manifest.
pub(crate) fn published(store: &AmazonS3, out: &str) -> (String, serde_json::Value) {
    let latest = get(store, &format!("{out}/LATEST")).expect("LATEST");
    let run = String::from_utf8(latest).unwrap().trim().to_string();
    let prefix = format!("{out}/runs/{run}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&get(store, &format!("{prefix}/_manifest.json")).unwrap()).unwrap();
    let mut listed: BTreeSet<String> = manifest["outputs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|w| w["files"].as_array().unwrap().iter())
        .map(|f| format!("{prefix}/{}", f.as_str().unwrap()))
        .collect();
    listed.insert(format!("{prefix}/_manifest.json"));
    // Every table has a file, an empty one a schema-only Parquet file.
    for (table, w) in manifest["outputs"].as_object().unwrap() {
        assert!(
            !w["files"].as_array().unwrap().is_empty(),
            "{table}: no file"
        );
    }
    assert_eq!(
        keys(store, &prefix),
        listed,
        "run {run}: objects are not the manifest's"
    );
    (run, manifest)
}

pub(crate) fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

/// Inputs read from a bucket, outputs published to it: each run under its own prefix with
/// `LATEST` naming it; a rerun with fewer files leaves no file of the earlier run visible;
/// `diff` and `export` follow `LATEST`; retention keeps the newest runs.
#[test]
fn s3_runs_publish_behind_a_latest_pointer_and_readers_follow_it() {
    let Some(moto) = moto() else { return };
    moto.bucket("reckon-data");
    let store = moto.store("reckon-data");
    upload(&store, &sample_data(), "in");
    let tmp = tempfile::tempdir().unwrap();

    // Many small chunks, then the default: fewer files.
    let (code, err) = moto.reckon(&[
        "--quiet",
        "run",
        "--as-of",
        "2024-06-20",
        "--input",
        "s3://reckon-data/in",
        "--output",
        "s3://reckon-data/out",
        "--chunk-rows",
        "5000",
    ]);
    assert_eq!(code, 0, "{err}");
    let (first, m1) = published(&store, "out");
    assert!(first.starts_with("2024-06-20-"), "{first}");
    assert!(m1["chunks"].as_u64().unwrap() > 1, "{m1}");
    let (code, err) = moto.reckon(&[
        "--quiet",
        "run",
        "--as-of",
        "2024-06-20",
        "--input",
        "s3://reckon-data/in",
        "--output",
        "s3://reckon-data/out",
    ]);
    assert_eq!(code, 0, "{err}");
    let (second, m2) = published(&store, "out");
    assert_ne!(first, second);
    assert_eq!(m2["chunks"], 1);
    assert_eq!(m1["totals"], m2["totals"]);

    // Readers follow LATEST: the same output, no differences; a local export of it.
    let d = tmp.path().join("d");
    let (code, err) = moto.reckon(&[
        "--quiet",
        "diff",
        "s3://reckon-data/out",
        "s3://reckon-data/out",
        "--output",
        d.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let focus = tmp.path().join("focus");
    let (code, err) = moto.reckon(&[
        "--quiet",
        "export",
        "focus",
        "--input",
        "s3://reckon-data/out",
        "--output",
        focus.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(focus.join("_manifest.json").is_file());

    // Retention: two runs kept, the published one among them.
    let (code, err) = moto.reckon(&[
        "--quiet",
        "run",
        "--as-of",
        "2024-06-21",
        "--input",
        "s3://reckon-data/in",
        "--output",
        "s3://reckon-data/out",
        "--keep-runs",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    let (third, _) = published(&store, "out");
    let runs: BTreeSet<String> = keys(&store, "out/runs")
        .iter()
        .map(|k| k.split('/').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(runs, BTreeSet::from([second, third]));
}

/// `kill -9` at spread-out moments of runs publishing to the bucket: `LATEST` always names a
/// complete run (exactly its manifest's files), the one before or the new one.
#[test]
fn s3_publish_killed_at_any_moment_leaves_latest_on_a_complete_run() {
    let Some(moto) = moto() else { return };
    moto.bucket("reckon-kill");
    let store = moto.store("reckon-kill");
    let input = sample_data();
    let args = |as_of: &'static str| {
        vec![
            "--quiet".to_string(),
            "run".into(),
            "--as-of".into(),
            as_of.into(),
            "--input".into(),
            input.to_string_lossy().to_string(),
            "--output".into(),
            "s3://reckon-kill/out".into(),
            "--chunk-rows".into(),
            "5000".into(),
        ]
    };
    let (code, err) = moto.reckon(
        &args("2024-06-20")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{err}");
    let (mut before, _) = published(&store, "out");
    for ms in [300, 900, 1500, 2100, 2700, 3300] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reckon"))
            .args(args("2024-06-21"))
            .envs(moto.env())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        child.wait().unwrap();
        let (now, _) = published(&store, "out");
        assert!(
            now == before || now.starts_with("2024-06-21-"),
            "after {ms} ms: LATEST {now}, before {before}"
        );
        before = now;
    }
}

/// A publish with a multipart threshold below some files' size (set in the child process,
/// `RECKON_MULTIPART_THRESHOLD`): those files go up as multipart uploads (moto gives them a
/// multipart ETag, `<md5>-<parts>`), the others in one put; every object holds the bytes the
/// run wrote (its SHA-256 is the manifest's), and `export focus` streams the run back down
/// and verifies it against the manifest.
#[test]
fn s3_files_at_the_multipart_threshold_upload_as_multipart_and_read_back_verified() {
    use sha2::{Digest, Sha256};
    let Some(moto) = moto() else { return };
    moto.bucket("reckon-parts");
    let store = moto.store("reckon-parts");
    let threshold: u64 = 200_000;
    let input = sample_data();
    let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["--quiet", "run", "--as-of", "2024-06-20", "--input"])
        .arg(&input)
        .args(["--output", "s3://reckon-parts/out"])
        .envs(moto.env())
        .env("RECKON_MULTIPART_THRESHOLD", threshold.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (run, manifest) = published(&store, "out");

    let mut in_parts = Vec::new();
    for (file, want) in manifest["output_sha256"].as_object().unwrap() {
        let key = ObjPath::from(format!("out/runs/{run}/{file}"));
        let bytes = get(&store, key.as_ref()).unwrap();
        let got = hex::encode(Sha256::digest(&bytes));
        assert_eq!(
            &got,
            want.as_str().unwrap(),
            "{file}: not the bytes the run wrote"
        );
        let e_tag = block(store.head(&key)).unwrap().e_tag.unwrap();
        // S3 gives a multipart object the ETag `<md5 of the parts' md5s>-<number of parts>`.
        let multipart = e_tag.trim_matches('"').contains('-');
        assert_eq!(
            multipart,
            bytes.len() as u64 >= threshold,
            "{file}: {} bytes, ETag {e_tag}",
            bytes.len()
        );
        if multipart {
            in_parts.push(file.clone());
        }
    }
    assert!(
        in_parts.iter().any(|f| f.starts_with("bill_lines/")),
        "no bill-lines file above {threshold} bytes: {in_parts:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let focus = tmp.path().join("focus");
    let (code, err) = moto.reckon(&[
        "--quiet",
        "export",
        "focus",
        "--input",
        "s3://reckon-parts/out",
        "--output",
        focus.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(focus.join("_manifest.json").is_file());
}

/// A multipart threshold that is not a number of bytes is a usage error when the output URL is
/// opened, before the run reads or computes anything (no server is needed to tell).
#[test]
fn a_bad_multipart_threshold_is_refused_before_the_run() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["--quiet", "run", "--as-of", "2024-07-01", "--input"])
        .arg(sample_data())
        .args(["--output", "s3://reckon-data/out"])
        .env("RECKON_MULTIPART_THRESHOLD", "64MiB")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("RECKON_MULTIPART_THRESHOLD=64MiB: not a whole number of bytes"),
        "{err}"
    );
    assert!(!err.contains("usage rows"), "the run went ahead: {err}");
}

/// A URL that names nothing is the caller's mistake, not the store's: a bucket that does not
/// exist (as output or input) and an input prefix with no objects stop the command with exit 2
/// before any work, saying which.
#[test]
fn a_missing_bucket_or_prefix_is_exit_2_before_any_work() {
    let Some(moto) = moto() else { return };
    moto.bucket("reckon-there");
    let sample = sample_data();
    let local_input = sample.to_str().unwrap();
    let cases = [
        (
            local_input,
            "s3://reckon-nosuch/out",
            "the bucket (or container) does not exist",
        ),
        (
            "s3://reckon-nosuch/in",
            "/tmp/never",
            "the bucket (or container) does not exist",
        ),
        (
            "s3://reckon-there/nothing",
            "/tmp/never",
            "no objects under this prefix",
        ),
    ];
    for (input, output, says) in cases {
        let args = ["--quiet", "run", "--as-of", "2024-06-21", "--input", input];
        let (code, err) = moto.reckon(&[&args[..], &["--output", output]].concat());
        assert_eq!(code, 2, "{input} → {output}: {err}");
        assert!(err.contains(says), "{input} → {output}: {err}");
        assert!(!err.contains("usage rows"), "the run went ahead: {err}");
    }
    let (code, err) = moto.reckon(&[
        "audit",
        "--output",
        "s3://reckon-nosuch/out",
        "--run-id",
        "x",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
