//! `reckon run --metrics FILE`: the Prometheus text file agrees with the published output, and a
//! failed run leaves the last success's file in place.

use crate::common::{catalog_path, out_dir, run_binary};
use std::path::Path;

fn sample(name: &str, text: &str) -> Vec<(String, u64)> {
    (text.lines())
        .filter_map(|l| l.strip_prefix(name))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn metrics_file_agrees_with_the_manifest_and_survives_a_failed_run() {
    let out = out_dir();
    let prom = out.path().parent().unwrap().join("reckon.prom");
    let sample_data = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let catalog = catalog_path();
    let run = |input: &str| {
        run_binary(&[
            "-q",
            "run",
            "--as-of",
            "2024-07-01",
            "--input",
            input,
            "--catalog",
            catalog.to_str().unwrap(),
            "--output",
            out.path().to_str().unwrap(),
            "--metrics",
            prom.to_str().unwrap(),
        ])
    };
    let (code, err) = run(sample_data.to_str().unwrap());
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&prom).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("_manifest.json")).unwrap()).unwrap();
    let usage = sample("reckon_usage_rows", &text);
    for (outcome, n) in &usage {
        let key = outcome
            .trim_start_matches("{outcome=\"")
            .trim_end_matches("\"}");
        assert_eq!(manifest["usage"][key].as_u64(), Some(*n), "{outcome}");
    }
    assert_eq!(usage.len(), 6);
    let by_rule: u64 = sample("reckon_exceptions", &text).iter().map(|s| s.1).sum();
    assert_eq!(
        manifest["outputs"]["exceptions"]["rows"].as_u64(),
        Some(by_rule)
    );
    assert!(
        text.contains("reckon_exceptions{rule=\"free_quota_missing\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("reckon_last_success_timestamp_seconds "),
        "{text}"
    );

    // A failed run (no such input) leaves the last success's file as it was.
    let (code, _) = run("/nonexistent-input");
    assert_eq!(code, 2);
    assert_eq!(std::fs::read_to_string(&prom).unwrap(), text);
}
