//! Reliability under operational faults (issue 37): many input files in a chunked run, a
//! far-future as-of, a usage row in an impossible unit, and output paths that are symlinks,
//! regular files, or nested with the input. One regression test per defect, named after it.

use crate::common::*;
use reckon::output::write_parquet;
use std::path::Path;

/// `reckon run` of `input` into `out` with the sample catalog; returns (exit code, stderr).
fn run(input: &Path, out: &Path, as_of: Option<&str>, extra: &[&str]) -> (i32, String) {
    let catalog = catalog_path();
    let mut args = vec!["-q", "run"];
    if let Some(a) = as_of {
        args.extend(["--as-of", a]);
    }
    args.extend(extra);
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    run_binary(&args)
}

/// 1,600 one-row usage files in two chunks: reading a chunk's spilled files nested one
/// thread pool in another per file, and the stack overflowed (SIGABRT).
#[test]
fn defect_5_many_usage_files_in_a_chunked_run() {
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let usage = input.path().join("usage");
    std::fs::remove_file(usage.join("part-0.parquet")).unwrap();
    let files = 1600;
    for k in 0..files {
        let id = format!("u-{k}");
        let owner = format!("acct-{}", k % 40);
        let rows = [(
            id.as_str(),
            owner.as_str(),
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-01 07:00:00",
            "1",
            "GB",
        )];
        let mut df = reckon::output::frame(1, usage_cols(&rows)).unwrap();
        write_parquet(&usage.join(format!("part-{k:05}.parquet")), &mut df).unwrap();
    }
    std::process::Command::new("cp")
        .args(["-r", input.path().to_str().unwrap(), "/tmp/r5in"])
        .status()
        .unwrap();
    let out = out_dir();
    let (code, err) = run(
        input.path(),
        out.path(),
        Some("2024-06-01"),
        &["--chunk-rows", "800"],
    );
    assert_eq!(code, 0, "{err}");
    let lines = read_table(out.path(), "bill_lines");
    assert!(lines.height() > 0);
}
