//! Write-audit-publish on an object storage output, against moto's S3 server (started as in
//! `remote`): runs and merged shards staged below `<url>/staged/<ID>/`, audited into new
//! `audit-<n>/` prefixes, published (a new `runs/` prefix and `LATEST`) only after their audit;
//! reruns compare against the output published before the run, never against the run itself.

use crate::remote::{get, keys, moto, published, sample_data, upload, Moto};
use object_store::aws::AmazonS3;
use std::collections::BTreeMap;
use std::path::Path;

const BUCKET: &str = "reckon-wap";

fn url(prefix: &str) -> String {
    format!("s3://{BUCKET}/{prefix}")
}

/// `reckon <args>` that must exit with `code`; gives stderr.
fn expect(moto: &Moto, code: i32, args: &[&str]) -> String {
    let (got, err) = moto.reckon(args);
    assert_eq!(got, code, "reckon {}: {err}", args.join(" "));
    err
}

/// `LATEST` under `out`, `None` before any publish.
fn latest(store: &AmazonS3, out: &str) -> Option<String> {
    get(store, &format!("{out}/LATEST")).map(|b| String::from_utf8(b).unwrap().trim().to_string())
}

fn json(store: &AmazonS3, key: &str) -> serde_json::Value {
    serde_json::from_slice(&get(store, key).unwrap_or_else(|| panic!("no object {key}"))).unwrap()
}

/// Every object below `prefix` with its bytes.
fn snapshot(store: &AmazonS3, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    keys(store, prefix)
        .into_iter()
        .map(|k| {
            let bytes = get(store, &k).unwrap();
            (k, bytes)
        })
        .collect()
}

/// A manifest's breakdown: rows per table, usage accounting, totals per key.
fn breakdown(
    m: &serde_json::Value,
) -> (BTreeMap<String, u64>, serde_json::Value, serde_json::Value) {
    let rows = (m["outputs"].as_object().unwrap().iter())
        .map(|(t, w)| (t.clone(), w["rows"].as_u64().unwrap()))
        .collect();
    (rows, m["usage"].clone(), m["totals"].clone())
}

/// Two shards staged to their own URLs and their merge staged to the output: nothing moves
/// `LATEST` (the shards' nor the output's) until the merged run is audited and published; the
/// audit compares with the output published before; the published merged run has the rows,
/// usage accounting and totals of one unsharded run; a publish before the audit is refused.
#[test]
fn s3_staged_runs_and_merged_shards_publish_only_after_their_audit() {
    let Some(moto) = moto() else { return };
    moto.bucket(BUCKET);
    let store = moto.store(BUCKET);
    upload(&store, &sample_data(), "in");
    let out = url("out");
    run(&moto, "2024-06-20", &["--output", &out]);
    let before = latest(&store, "out").unwrap();
    run(&moto, "2024-06-21", &["--output", &url("single")]);
    let (_, single) = published(&store, "single");
    stage_two_shards_and_merge(&moto, &store, &out);
    let stage_record = json(&store, "out/staged/d2/stage.json");
    assert_eq!(stage_record["base"].as_str(), Some(before.as_str()));
    assert_eq!(latest(&store, "out").as_ref(), Some(&before));

    let err = expect(
        &moto,
        2,
        &["--quiet", "publish", "--output", &out, "--run-id", "d2"],
    );
    assert!(err.contains("has not been audited"), "{err}");
    assert_eq!(latest(&store, "out").as_ref(), Some(&before));

    expect(
        &moto,
        0,
        &["--quiet", "audit", "--output", &out, "--run-id", "d2"],
    );
    let audit = json(&store, "out/staged/d2/audit-1/audit.json");
    assert_eq!(audit["passed"], true, "{audit}");
    assert_eq!(audit["base"]["as_of_date"], "2024-06-20");
    assert_eq!(audit["staged"]["run_id"], "d2");
    let summary = get(&store, "out/staged/d2/audit-1/summary.txt").unwrap();
    let summary = String::from_utf8(summary).unwrap();
    assert!(
        summary.contains(&format!("base: {out}/runs/{before} (as of 2024-06-20")),
        "{summary}"
    );
    // The diff's header names the URLs too, not the scratch copies the audit compared.
    assert!(
        summary.contains(&format!("{out}/staged/d2/output")) && !summary.contains("reckon-audit-"),
        "{summary}"
    );
    assert_eq!(
        latest(&store, "out").as_ref(),
        Some(&before),
        "an audit publishes nothing"
    );

    expect(
        &moto,
        0,
        &["--quiet", "publish", "--output", &out, "--run-id", "d2"],
    );
    let (name, merged) = published(&store, "out");
    assert_ne!(name, before);
    assert!(name.starts_with("2024-06-21-"), "{name}");
    assert_eq!(merged["run_id"], "d2");
    assert_eq!(breakdown(&merged), breakdown(&single));
    assert_eq!(
        get(&store, "out/staged/d2/published").unwrap(),
        format!("{name}\n").into_bytes()
    );
}

/// `reckon run --input <the bucket's input> <args>`, which must succeed.
fn run(moto: &Moto, as_of: &str, extra: &[&str]) {
    let input = url("in");
    let mut args = vec!["--quiet", "run", "--as-of", as_of, "--input", &input];
    args.extend(extra);
    expect(moto, 0, &args);
}

/// Stages run `d2`'s two shards to their own URLs (a merge before the second is refused,
/// staging nothing) and their merge below `out`; no shard is published.
fn stage_two_shards_and_merge(moto: &Moto, store: &AmazonS3, out: &str) {
    let (s0, s1) = (url("shards/0"), url("shards/1"));
    let shard = |k: &str, url: &str| {
        let part = format!("{k}/2");
        run(
            moto,
            "2024-06-21",
            &["--shard", &part, "--stage", "d2", "--output", url],
        );
    };
    shard("0", &s0);
    let merge = [
        "--quiet", "merge", "--stage", "d2", "--output", out, &s0, &s1,
    ];
    let err = expect(moto, 2, &merge);
    assert!(
        err.contains("has no staged output") && err.contains("shards/1"),
        "{err}"
    );
    assert!(get(store, "out/staged/d2/stage.json").is_none());
    shard("1", &s1);
    for k in ["0", "1"] {
        let m = json(
            store,
            &format!("shards/{k}/staged/d2/output/_manifest.json"),
        );
        assert_eq!(
            (m["run_id"].as_str(), m["shard"].as_str()),
            (Some("d2"), Some(&*format!("{k}/2")))
        );
        assert_eq!(
            latest(store, &format!("shards/{k}")),
            None,
            "a staged shard is not published"
        );
    }
    expect(moto, 0, &merge);
    let staged = json(store, "out/staged/d2/output/_manifest.json");
    assert_eq!(
        (staged["run_id"].as_str(), staged["shard"].as_str()),
        (Some("d2"), Some("0/1"))
    );
}

/// On one output URL: a planted restatement fails the audit and blocks the publish; an audit
/// rerun writes `audit-2` and leaves `audit-1` byte for byte; the approval publishes; a
/// publish retry changes nothing; a rerun of the stage after the publish records, and audits
/// against, the output published before the run (the restatement is found again, not hidden
/// by a comparison with itself); retention removes the staged prefixes of removed runs.
#[test]
fn s3_restatement_blocks_until_approved_and_reruns_audit_against_the_base() {
    let Some(moto) = moto() else { return };
    moto.bucket(BUCKET);
    let store = moto.store(BUCKET);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.toml");
    std::fs::copy(sample_data().join("catalog.toml"), &catalog).unwrap();
    let w = Steps {
        moto: &moto,
        out: url("restated"),
        catalog: catalog.to_str().unwrap().to_string(),
    };
    let stage = |id: &str, as_of: &str| w.stage(id, as_of);
    let audit = |id: &str, code| w.audit(id, code);
    let publish = |id: &str, code, extra: &[&str]| w.publish(id, code, extra);

    stage("r1", "2024-06-20");
    audit("r1", 0);
    publish("r1", 0, &[]);
    let first = latest(&store, "restated").unwrap();

    plant_restatement(&catalog);
    stage("r2", "2024-06-21");
    audit("r2", 1);
    let audit1 = snapshot(&store, "restated/staged/r2/audit-1");
    let record = json(&store, "restated/staged/r2/audit-1/audit.json");
    assert_eq!(
        (
            record["passed"].as_bool(),
            record["base"]["as_of_date"].as_str()
        ),
        (Some(false), Some("2024-06-20"))
    );
    assert!(record["restated"].as_u64().unwrap() > 0, "{record}");
    assert_eq!(record["failures"][0]["check"], "restatement");
    let err = publish("r2", 2, &[]);
    assert!(err.contains("--allow-restatement"), "{err}");
    assert_eq!(latest(&store, "restated").as_ref(), Some(&first));

    audit("r2", 1);
    let record2 = json(&store, "restated/staged/r2/audit-2/audit.json");
    assert_eq!(
        (record2["attempt"].as_u64(), record2["restated"].clone()),
        (Some(2), record["restated"].clone())
    );
    assert_eq!(
        snapshot(&store, "restated/staged/r2/audit-1"),
        audit1,
        "audit-1 was rewritten"
    );
    assert!(
        audit1.keys().any(|k| k.contains("/diff/")),
        "{:?}",
        audit1.keys()
    );

    publish("r2", 0, &["--allow-restatement"]);
    let (second, m) = published(&store, "restated");
    assert_eq!(
        (m["run_id"].as_str(), m["as_of_date"].as_str()),
        (Some("r2"), Some("2024-06-21"))
    );
    let runs = keys(&store, "restated/runs");
    publish("r2", 0, &["--allow-restatement"]);
    assert_eq!(
        latest(&store, "restated"),
        Some(second.clone()),
        "a retry publishes nothing"
    );
    assert_eq!(
        keys(&store, "restated/runs"),
        runs,
        "a retry uploads nothing"
    );

    // Rerun after the publish: the base stays the run published before r2, not r2's own.
    stage("r2", "2024-06-21");
    assert_eq!(
        json(&store, "restated/staged/r2/stage.json")["base"].as_str(),
        Some(first.as_str())
    );
    audit("r2", 1);
    let record3 = json(&store, "restated/staged/r2/audit-3/audit.json");
    assert_eq!(record3["base"]["as_of_date"], "2024-06-20");
    assert_eq!(record3["restated"], record["restated"]);
    assert_eq!(snapshot(&store, "restated/staged/r2/audit-1"), audit1);

    // Retention: one run kept; the staged prefixes of the removed runs go, r3's stays.
    publish("r2", 0, &["--allow-restatement"]);
    stage("r3", "2024-06-22");
    audit("r3", 0);
    publish("r3", 0, &["--keep-runs", "1"]);
    assert_kept_only_r3(&store);
}

/// The write-audit-publish commands on one output URL, with sample_data and a catalog.
struct Steps<'a> {
    moto: &'a Moto,
    out: String,
    catalog: String,
}

impl Steps<'_> {
    fn stage(&self, id: &str, as_of: &str) {
        let input = sample_data();
        let args = [
            "--quiet",
            "run",
            "--as-of",
            as_of,
            "--input",
            input.to_str().unwrap(),
            "--catalog",
            &self.catalog,
            "--stage",
            id,
            "--output",
            &self.out,
        ];
        expect(self.moto, 0, &args);
    }

    fn audit(&self, id: &str, code: i32) -> String {
        let args = ["--quiet", "audit", "--output", &self.out, "--run-id", id];
        expect(self.moto, code, &args)
    }

    fn publish(&self, id: &str, code: i32, extra: &[&str]) -> String {
        let mut args = vec!["--quiet", "publish", "--output", &self.out, "--run-id", id];
        args.extend(extra);
        expect(self.moto, code, &args)
    }
}

/// After `publish r3 --keep-runs 1`: one run prefix, r3's, and r3's staged prefix alone.
fn assert_kept_only_r3(store: &AmazonS3) {
    let (third, m) = published(store, "restated");
    assert_eq!(m["run_id"], "r3");
    let names = |prefix: &str| -> Vec<String> {
        (keys(store, prefix).iter())
            .map(|k| k.split('/').nth(2).unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(names("restated/runs"), vec![third]);
    assert_eq!(names("restated/staged"), vec!["r3".to_string()]);
}

/// Raises a price of closed months in `catalog`: the next run restates them.
fn plant_restatement(catalog: &Path) {
    let text = std::fs::read_to_string(catalog).unwrap();
    let raised = text.replacen("unit_price = \"0.80\"", "unit_price = \"0.90\"", 1);
    assert_ne!(raised, text);
    std::fs::write(catalog, raised).unwrap();
}
