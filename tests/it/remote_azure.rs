//! Object storage against a real Azure Blob API: Azurite's blob service on 127.0.0.1, started
//! by the test on a free port (`RECKON_AZURITE`: the path of Azurite 3's `azurite-blob` or
//! `azurite` script; `.ci/run` installs `azurite@3` with npm into `~/.cache/reckon-azurite`;
//! unset or `skip` skips, loudly). The container is created with a Shared Key request signed
//! by Node's `crypto` (object_store creates no containers; Node runs Azurite anyway).
//!
//! reckon reaches Azurite the way `MicrosoftAzureBuilder::from_env` reads it:
//! `AZURE_STORAGE_USE_EMULATOR=true`, `AZURITE_BLOB_STORAGE_URL`, and the emulator's
//! well-known account `AZURE_STORAGE_ACCOUNT_NAME` / `AZURE_STORAGE_ACCOUNT_KEY`.

use crate::remote::block;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Azurite's well-known development account (public, documented by Microsoft).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Creates a container: `PUT /<account>/<container>?restype=container`, signed with the account
/// key (Shared Key). Arguments: port, account, key, container.
const CREATE_CONTAINER_JS: &str = r#"
const [port, account, key, container] = process.argv.slice(1);
const date = new Date().toUTCString(), version = "2021-08-06";
const toSign = ["PUT", "", "", "", "", "", "", "", "", "", "", "",
  `x-ms-date:${date}`, `x-ms-version:${version}`,
  `/${account}/${account}/${container}\nrestype:container`].join("\n");
const sig = require("crypto").createHmac("sha256", Buffer.from(key, "base64"))
  .update(toSign, "utf8").digest("base64");
const req = require("http").request({host: "127.0.0.1", port, method: "PUT",
  path: `/${account}/${container}?restype=container`,
  headers: {"x-ms-date": date, "x-ms-version": version, "Content-Length": 0,
    Authorization: `SharedKey ${account}:${sig}`}},
  (res) => { res.resume(); res.on("end", () => {
    if (res.statusCode !== 201) console.error(res.statusCode, res.statusMessage);
    process.exit(res.statusCode === 201 ? 0 : 1); }); });
req.on("error", (e) => { console.error(e.message); process.exit(1); });
req.end();
"#;

/// An Azurite blob service on a free port of 127.0.0.1, killed when dropped.
struct Azurite {
    child: Child,
    port: u16,
    _workspace: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    (std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Azurite, or `None` when `RECKON_AZURITE` is unset or `skip` (after a loud note).
fn azurite() -> Option<Azurite> {
    let bin = std::env::var("RECKON_AZURITE").unwrap_or_default();
    if bin.is_empty() || bin == "skip" {
        eprintln!(
            "!!! SKIPPING the Azure Blob test: RECKON_AZURITE is `{bin}`, not Azurite's path"
        );
        return None;
    }
    let port = free_port();
    // Blobs stay in memory; the directory holds Azurite's log, read when it fails to start.
    let workspace = tempfile::tempdir().unwrap();
    let log = workspace.path().join("azurite.log");
    let mut cmd = Command::new(&bin);
    cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args([
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ])
        .current_dir(workspace.path());
    // The full `azurite` also serves queues and tables: free ports for them too.
    if Path::new(&bin).file_name().is_some_and(|n| n == "azurite") {
        cmd.args(["--queuePort", &free_port().to_string()])
            .args(["--tablePort", &free_port().to_string()]);
    }
    let child = (cmd.stdout(std::fs::File::create(&log).unwrap()))
        .stderr(std::fs::File::options().append(true).open(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start `{bin}` ({e}): npm install azurite@3, or RECKON_AZURITE=skip")
        });
    let mut azurite = Azurite {
        child,
        port,
        _workspace: workspace,
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = azurite.child.try_wait().unwrap();
        let log = || std::fs::read_to_string(&log).unwrap_or_default();
        assert!(exited.is_none(), "Azurite exited ({exited:?}):\n{}", log());
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Azurite did not start:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(azurite)
}

impl Azurite {
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint()),
            ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.into()),
            ("AZURE_STORAGE_ACCOUNT_KEY", KEY.into()),
        ]
    }

    fn container(&self, name: &str) -> MicrosoftAzure {
        let out = Command::new("node")
            .args(["-e", CREATE_CONTAINER_JS, "--"])
            .args([&self.port.to_string(), ACCOUNT, KEY, name])
            .output()
            .expect("node (which runs Azurite) is on PATH");
        assert!(
            out.status.success(),
            "create container {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The client reads only this test's settings, never the process environment (the
        // emulator setting would read its URL from there): the account's path-style endpoint.
        (MicrosoftAzureBuilder::new())
            .with_endpoint(format!("{}/{ACCOUNT}", self.endpoint()))
            .with_allow_http(true)
            .with_account(ACCOUNT)
            .with_access_key(KEY)
            .with_container_name(name)
            .build()
            .unwrap()
    }

    /// `reckon <args>` with the emulator's settings; (exit code, stderr).
    fn reckon(&self, args: &[&str], extra: &[(&str, &str)]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
            .args(args)
            .envs(self.env())
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

fn get(store: &MicrosoftAzure, key: &str) -> Vec<u8> {
    block(async { store.get(&ObjPath::from(key)).await?.bytes().await })
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .to_vec()
}

/// Every key below `prefix`.
fn keys(store: &MicrosoftAzure, prefix: &str) -> BTreeSet<String> {
    let listed = block(async {
        let mut found = Vec::new();
        let mut pending = vec![ObjPath::from(prefix)];
        while let Some(p) = pending.pop() {
            let l = store.list_with_delimiter(Some(&p)).await?;
            pending.extend(l.common_prefixes);
            found.extend(l.objects.into_iter().map(|o| o.location.to_string()));
        }
        Ok::<_, object_store::Error>(found)
    });
    listed.unwrap().into_iter().collect()
}

/// The run `LATEST` names under `out`: its objects are exactly the manifest's files and the
/// manifest, each with the SHA-256 the manifest records. Gives the run's name.
fn published_and_verified(store: &MicrosoftAzure, out: &str) -> String {
    let run = String::from_utf8(get(store, &format!("{out}/LATEST"))).unwrap();
    let run = run.trim().to_string();
    let prefix = format!("{out}/runs/{run}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&get(store, &format!("{prefix}/_manifest.json"))).unwrap();
    let hashes = manifest["output_sha256"].as_object().unwrap();
    assert!(hashes.len() >= 7, "{manifest}");
    let mut expected: BTreeSet<String> = hashes.keys().map(|f| format!("{prefix}/{f}")).collect();
    expected.insert(format!("{prefix}/_manifest.json"));
    assert_eq!(keys(store, &prefix), expected, "run {run}");
    for (file, want) in hashes {
        let got = hex::encode(Sha256::digest(get(store, &format!("{prefix}/{file}"))));
        assert_eq!(&got, want.as_str().unwrap(), "{prefix}/{file}");
    }
    run
}

fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

/// A run published to `az://`, in single puts and then in block uploads (a threshold of one
/// byte): each time `LATEST` names a run whose blobs are its manifest's files with their
/// hashes, the second publish replaces `LATEST` by a conditional put on its ETag, and
/// `export focus` reads the published run back through `az://` (downloads, verifies hashes).
#[test]
fn az_runs_publish_in_puts_and_blocks_and_read_back_verified() {
    let Some(azurite) = azurite() else { return };
    let store = azurite.container("reckon");
    let input = sample_data();
    let run = |threshold: &str| {
        let args = [
            "--quiet",
            "run",
            "--as-of",
            "2024-06-20",
            "--input",
            input.to_str().unwrap(),
            "--output",
            "az://reckon/out",
        ];
        azurite.reckon(&args, &[("RECKON_MULTIPART_THRESHOLD", threshold)])
    };
    let (code, err) = run("67108864");
    assert_eq!(code, 0, "{err}");
    let first = published_and_verified(&store, "out");
    let (code, err) = run("1");
    assert_eq!(code, 0, "{err}");
    let second = published_and_verified(&store, "out");
    assert_ne!(first, second);
    // Both runs' tables are the same bytes, whichever way they were uploaded.
    let tables = |run: &str| -> Vec<Vec<u8>> {
        let prefix = format!("out/runs/{run}");
        (keys(&store, &prefix).iter())
            .filter(|k| k.ends_with(".parquet"))
            .map(|k| get(&store, k))
            .collect()
    };
    assert_eq!(tables(&first), tables(&second));

    let tmp = tempfile::tempdir().unwrap();
    let focus = tmp.path().join("focus");
    let (code, err) = azurite.reckon(
        &[
            "--quiet",
            "export",
            "focus",
            "--input",
            "az://reckon/out",
            "--output",
            focus.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(focus.join("_manifest.json").is_file());
}
