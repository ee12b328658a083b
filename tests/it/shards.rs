//! Sharded and chunked runs give the single run's rows exactly: the union of `--shard K/N`
//! outputs (and their `reckon merge`) and a run in many small chunks (`--chunk-rows`, which
//! spills usage) hold the same rows as one run, table by table, with the same usage accounting.

use crate::common::*;
use std::path::{Path, PathBuf};

/// Every table's rows as sorted text (file layout differs between the runs, rows must not).
fn rows(out: &Path) -> Vec<(String, Vec<String>)> {
    output_tables()
        .map(|t| (t.to_string(), table_rows(out, t)))
        .collect()
}

/// One table's rows as sorted text.
fn table_rows(out: &Path, table: &str) -> Vec<String> {
    let df = read_table(out, table);
    let cols = column_names(&df);
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut r = rows_text(&df, &names);
    r.sort();
    r
}

fn run(input: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "run",
        "--as-of",
        "2024-07-01",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("_manifest.json")).unwrap()).unwrap()
}

#[test]
fn shards_and_chunks_union_to_the_single_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = generate_input(tmp.path());
    let single = tmp.path().join("single");
    run(&input, &single, &[]);
    let want = rows(&single);
    let m = manifest(&single);
    for (table, r) in &want {
        assert!(
            table == "account_events" || !r.is_empty(),
            "{table} is empty: the test would prove little"
        );
    }
    assert_eq!(m["chunks"], 1);
    for count in ["invalid", "history_only", "billed"] {
        assert!(
            m["usage"][count].as_u64() > Some(0),
            "no {count} usage rows"
        );
    }
    assert_chunked_runs_match(&input, tmp.path(), &want, &m);
    let shards = run_shards(&input, tmp.path(), m["usage"]["read"].as_u64().unwrap());
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge", "--output", merged.to_str().unwrap()];
    args.extend(shards.iter().rev().map(|d| d.to_str().unwrap()));
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows(&merged), want);
    let mm = manifest(&merged);
    assert_eq!(mm["usage"], m["usage"]);
    assert_eq!(mm["totals"], m["totals"]);
    assert_eq!(mm["shard"], "0/1");
    assert_bad_merges_are_refused(tmp.path(), &shards);
}

/// Four accounts over 30 days up to 2024-04-15 and the scenario accounts in `dir/in`, with the
/// sample catalog: 17k usage rows in 6 files, half of them history before the window
/// (replayed, not billed).
fn generate_input(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    let (code, err) = run_binary(&[
        "generate",
        "--accounts",
        "4",
        "--days",
        "30",
        "--end",
        "2024-04-15",
        "--seed",
        "8",
        "--scenarios",
        "--rows-per-file",
        "3000",
        "--output",
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::copy(catalog_path(), input.join("catalog.toml")).unwrap();
    input
}

/// Runs in many chunks (usage spilled and processed chunk by chunk), with the default threads
/// and with one, where reading a file and spilling the one before take turns: the single run's
/// rows (`want`), usage accounting and totals (manifest `m`).
fn assert_chunked_runs_match(
    input: &Path,
    dir: &Path,
    want: &[(String, Vec<String>)],
    m: &serde_json::Value,
) {
    let chunked = dir.join("chunked");
    run(input, &chunked, &["--chunk-rows", "2000"]);
    assert!(manifest(&chunked)["chunks"].as_u64().unwrap() > 3);
    assert_eq!(rows(&chunked), want);
    assert_eq!(manifest(&chunked)["usage"], m["usage"]);
    assert_eq!(manifest(&chunked)["totals"], m["totals"]);
    let chunked_1t = dir.join("chunked-1t");
    let one_thread = ["--chunk-rows", "2000", "--threads", "1"];
    run(input, &chunked_1t, &one_thread);
    assert_eq!(
        manifest(&chunked_1t)["chunks"],
        manifest(&chunked)["chunks"]
    );
    assert_eq!(rows(&chunked_1t), want);
}

/// Runs the three shards of an input of `read` usage rows into `dir/shard<K>`. Shard 1 is
/// chunked too. Shard 2 is one chunk, but the whole input (which every shard checks for
/// repeated ids) is over `--chunk-rows`: its id index is on disk, and each file is cut to the
/// shard's rows as it is read.
fn run_shards(input: &Path, dir: &Path, read: u64) -> Vec<PathBuf> {
    let half = (read / 2).to_string();
    let shards: Vec<_> = (0..3).map(|k| dir.join(format!("shard{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        let spec = format!("{k}/3");
        let mut extra = vec!["--shard", spec.as_str()];
        if k == 1 {
            extra.extend(["--chunk-rows", "2000"]);
        }
        if k == 2 {
            extra.extend(["--chunk-rows", half.as_str()]);
        }
        run(input, dir, &extra);
        assert_eq!(manifest(dir)["shard"], spec.as_str());
        if k == 1 {
            assert!(
                manifest(dir)["chunks"].as_u64() > Some(1),
                "shard 1 is chunked"
            );
        }
        if k == 2 {
            assert_eq!(manifest(dir)["chunks"], 1);
            // The repeated id of the scenarios is this shard's: found with the index on disk,
            // its id read again from the cut file.
            assert!(
                table_rows(dir, "exceptions")
                    .iter()
                    .any(|r| r.contains("duplicate_usage_id")),
                "shard 2 should hold the duplicate_usage_id exception"
            );
        }
    }
    shards
}

/// A shard missing or listed twice, and a shard written by another version of reckon, are
/// refused (exit code 2). Rewrites the manifest of `shards[1]`.
fn assert_bad_merges_are_refused(dir: &Path, shards: &[PathBuf]) {
    let (code, err) = run_binary(&[
        "merge",
        "--output",
        dir.join("bad").to_str().unwrap(),
        shards[0].to_str().unwrap(),
        shards[0].to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("listed twice"), "{err}");

    let path = shards[1].join("_manifest.json");
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    other["tool_version"] = "0.0.0-other".into();
    std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
    let bad2 = dir.join("bad2");
    let mut args = vec!["merge", "--output", bad2.to_str().unwrap()];
    args.extend(shards.iter().map(|d| d.to_str().unwrap()));
    let (code, err) = run_binary(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reckon version"), "{err}");
}

/// `reckon bench pricing` prices and writes account chunk by account chunk: in many chunks it
/// writes the very bill lines it writes in one.
#[test]
fn bench_pricing_in_chunks_writes_the_lines_of_one_chunk() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let (code, err) = run_binary(&[
        "generate",
        "--accounts",
        "2",
        "--days",
        "20",
        "--seed",
        "5",
        "--output",
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let bench = |out: &Path, chunk_rows: &str| -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_reckon"))
            .args(["bench", "pricing", "--as-of", "2024-07-01", "--input"])
            .arg(&input)
            .arg("--catalog")
            .arg(catalog_path())
            .arg("--output")
            .arg(out)
            .args(["--chunk-rows", chunk_rows])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (one, many) = (out_dir(), out_dir());
    let f1 = bench(one.path(), "100000000");
    let fm = bench(many.path(), "500");
    assert_eq!(f1["chunks"], 1);
    assert!(fm["chunks"].as_u64().unwrap() > 3, "{fm}");
    assert_eq!(f1["rows"], fm["rows"]);
    let want = table_rows(one.path(), "bill_lines");
    assert!(!want.is_empty());
    assert_eq!(table_rows(many.path(), "bill_lines"), want);
}
