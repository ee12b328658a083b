//! The recipe for `sample_data/`: the generator's output for a handful of accounts over four
//! months, plus its hand-made scenario accounts (`--scenarios`, `src/generate/scenarios.rs`) that
//! reproduce docs/rules.md's worked examples and plant one invalid row per row rule. Regenerate
//! with `cargo test --test it write_sample_data -- --ignored` and review the golden diff.

use crate::common::*;
use std::path::Path;

/// The exact command line that made `sample_data/` (also in the README).
pub const RECIPE: [&str; 12] = [
    "generate",
    "--accounts",
    "4",
    "--days",
    "120",
    "--seed",
    "7",
    "--end",
    "2024-07-01",
    "--scenarios",
    "--issued",
    "--output",
];

#[test]
#[ignore = "rewrites sample_data/; run on purpose"]
fn write_sample_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        }
    }
    let mut args: Vec<&str> = RECIPE.to_vec();
    args.push(root.to_str().unwrap());
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
}

/// The committed Parquet files are what the recipe makes today (the generator is deterministic
/// and writes nothing else; `catalog.toml` and `README.md` beside them are written by hand).
#[test]
fn sample_data_matches_its_recipe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let tmp = tempfile::tempdir().unwrap();
    let mut args: Vec<&str> = RECIPE.to_vec();
    args.push(tmp.path().to_str().unwrap());
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
    let want = parquet_bytes(tmp.path());
    let got = parquet_bytes(&root);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "sample_data/ files differ from the recipe's"
    );
    for (name, bytes) in &want {
        assert!(
            got[name] == *bytes,
            "sample_data/{name} differs from the recipe's output: rerun \
             `cargo test --test it write_sample_data -- --ignored`"
        );
    }
}
