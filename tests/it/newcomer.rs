//! What a newcomer meets first (issue #35, item 5): a run whose `--as-of` window holds no
//! usage is refused (exit 2, naming the data's latest usage) unless `--allow-empty`; an
//! output that can never be published is refused before any work; `generate` then `run`
//! needs no copied catalog; the closing log line says what ran and where the results are.

use crate::common::*;
use std::path::Path;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

fn run_sample(as_of: &str, out: &Path, extra: &[&str]) -> (i32, String) {
    let sample = sample();
    let mut args = vec![
        "run",
        "--as-of",
        as_of,
        "--input",
        sample.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run_binary(&args)
}

#[test]
fn an_as_of_after_the_usage_is_refused_unless_allow_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Within the three years an as-of may lie ahead, but a year after the last usage day.
    let (code, err) = run_sample("2025-07-01", &out, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no valid usage row in the window [2025-04-01, 2025-07-01)"),
        "{err}"
    );
    assert!(
        err.contains("latest valid usage_start is 2024-06-30"),
        "{err}"
    );
    assert!(err.contains("--allow-empty"), "{err}");
    assert!(!out.exists(), "nothing published");
    let (code, err) = run_sample("2025-07-01", &out, &["--allow-empty"]);
    assert_eq!(code, 0, "{err}");
    let m = reckon::output::manifest::read(&out).unwrap();
    assert_eq!((m.usage.billed, m.usage.unpriced), (0, 0));
}

#[test]
fn an_as_of_before_the_usage_is_refused_before_publishing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, err) = run_sample("2023-06-01", &out, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no valid usage row in the window [2023-03-01, 2023-06-01)"),
        "{err}"
    );
    // Every valid row lies at or after the as-of date: the counts say so.
    assert!(err.contains("0 before the window"), "{err}");
    assert!(!out.exists(), "nothing published");
}

#[test]
fn an_output_below_a_file_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let (code, err) = run_sample("2024-07-01", &file.join("out"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a directory"), "{err}");
    // Refused before the inputs were loaded: no stage started.
    assert!(!err.contains("load catalog and inputs"), "{err}");
}

#[test]
fn generate_then_run_needs_no_copied_catalog_and_the_last_line_says_what_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let (gen, out) = (tmp.path().join("gen"), tmp.path().join("out"));
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let args = [
        "generate",
        "--accounts",
        "2",
        "--days",
        "40",
        "--output",
        &p(&gen),
    ];
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
    assert!(gen.join("catalog.toml").is_file());
    let (code, err) = run_binary(&["run", "--input", &p(&gen), "--output", &p(&out)]);
    assert_eq!(code, 0, "{err}");
    let last = err.lines().last().unwrap_or_default();
    for part in [
        "run complete",
        "as_of=2024-07-01",
        "window=[2024-04-01, 2024-07-01)",
    ] {
        assert!(last.contains(part), "{part}: {last}");
    }
    for part in [
        "read=",
        "billed=",
        "exceptions=",
        "output=",
        "exceptions_at=",
    ] {
        assert!(last.contains(part), "{part}: {last}");
    }
}
