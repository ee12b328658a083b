//! Object storage URLs given where reckon takes local paths: refused (exit 2) before any work,
//! never taken as a relative path (a local directory named `s3:`).

use std::process::Command;

/// `reckon run --output s3://bucket/out` exited 0, logged "published output=s3://bucket/out"
/// and wrote `./s3:/bucket/out`.
#[test]
fn run_output_to_s3_is_refused_and_writes_no_local_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let input = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .current_dir(cwd.path())
        .args([
            "run",
            "--as-of",
            "2024-06-20",
            "--output",
            "s3://bucket/out",
            "--input",
        ])
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--output s3://bucket/out: object storage URLs are not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("published"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
