//! Golden end-to-end test: run the binary on `sample_data/` and compare every output table with
//! `tests/golden/sample/<table>.txt`. Set `UPDATE_GOLDEN=1` to rewrite the expected files, then
//! review the diff.
//!
//! A table is printed row by row in its written (total) order when it is small. The big tables
//! (bill lines and deduction details of the generated accounts, tens of thousands of rows, and
//! `exceptions`, mostly `usage_while_suspended`) keep every row of the hand-made scenario accounts
//! (`scn-*`) in full and print, for every other account (for `exceptions`: every source table and
//! rule), one digest line: row count, the sum of the table's money/quantity column if it has one,
//! and the SHA-256 of the rows as text. Every byte of content is still compared; a change
//! names the account whose rows moved.

use crate::common::*;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// Tables with more rows than this are digested per account (scenario rows stay in full).
const FULL_ROWS: usize = 400;

fn dump(out: &Path, table: &str) -> String {
    let df = read_table(out, table);
    let cols = column_names(&df);
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    let rows = rows_text(&df, &names);
    let mut text = names.join("|") + "\n";
    if rows.len() <= FULL_ROWS {
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
        return text;
    }
    // Digest key: the owner; for `exceptions` (no owner column), the source table and rule.
    let col = |c: &str| names.iter().position(|n| *n == c);
    let owner = ["owner_uin", "resource_owner_uin"]
        .iter()
        .find_map(|c| col(c));
    let key_cols: Vec<usize> = match owner {
        Some(o) => vec![o],
        None => ["source_table", "rule"]
            .iter()
            .map(|c| col(c).expect("a big table has an owner or a rule column"))
            .collect(),
    };
    let scenario_col = owner.or_else(|| col("source_id")).expect("an id column");
    let sum_col = ["amount", "deducted"].iter().find_map(|c| col(c));
    let mut digests: BTreeMap<String, (usize, Decimal, Sha256)> = BTreeMap::new();
    for row in rows {
        let fields: Vec<&str> = row.split('|').collect();
        if fields[scenario_col].starts_with("scn-") {
            text.push_str(&row);
            text.push('\n');
            continue;
        }
        let key: Vec<&str> = key_cols.iter().map(|&i| fields[i]).collect();
        let e = digests
            .entry(key.join("/"))
            .or_insert_with(|| (0, Decimal::ZERO, Sha256::new()));
        e.0 += 1;
        if let Some(c) = sum_col {
            e.1 += Decimal::from_str(fields[c]).unwrap_or_default();
        }
        e.2.update(row.as_bytes());
        e.2.update(b"\n");
    }
    for (key, (n, sum, h)) in digests {
        let sum = match sum_col {
            Some(c) => format!(", sum({}) = {sum}", names[c]),
            None => String::new(),
        };
        text.push_str(&format!(
            "# {key}: {n} rows{sum}, sha256 {}\n",
            hex::encode(h.finalize())
        ));
    }
    text
}

#[test]
fn sample_data_golden_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = out_dir();
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
    for table in output_tables() {
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
