//! Golden end-to-end test: run the binary on `sample_data/` and compare every output table,
//! printed as text in its written (total) order, with `tests/golden/sample/<table>.txt`.
//! Set `UPDATE_GOLDEN=1` to rewrite the expected files, then review the diff.

mod common;

use common::*;
use std::path::Path;

fn dump(out: &Path, table: &str) -> String {
    let df = read_table(out, table);
    let cols: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut text = names.join("|") + "\n";
    for row in rows_text(&df, &names) {
        text.push_str(&row);
        text.push('\n');
    }
    text
}

#[test]
fn sample_data_golden_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let (code, err) = run_binary(&[
        "run",
        "--input",
        root.join("sample_data").to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let golden = root.join("tests/golden/sample");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatched = Vec::new();
    for table in OUTPUT_TABLES {
        let got = dump(out.path(), table);
        let path = golden.join(format!("{table}.txt"));
        if update {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            mismatched.push(format!(
                "{table}: first difference at line {}:\n  got:  {}\n  want: {}",
                first + 1,
                got.lines().nth(first).unwrap_or("<end>"),
                want.lines().nth(first).unwrap_or("<end>")
            ));
        }
    }
    assert!(
        mismatched.is_empty(),
        "golden mismatch (UPDATE_GOLDEN=1 to accept):\n{}",
        mismatched.join("\n")
    );
}
