//! Counting usage rows before any is read: in all, from the Parquet footers (how many chunks a
//! run needs), and per owner, reading only `owner_uin` (what the chunks are balanced by).

use super::super::{by_view, parquet_files, read_columns, usage};
use crate::error::{Error, Result};
use crate::parquet::map_files;
use polars::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Usage rows in the input, from the Parquet footers (no data read).
pub fn count_rows(dir: &Path) -> Result<u64> {
    let root = dir.join("usage");
    if !root.is_dir() {
        return Ok(0);
    }
    rows_in(&parquet_files(&root)?)
}

/// Usage rows per owner over every usage file: what a run's chunks are balanced by
/// (`Partitioner::balance`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OwnerRows {
    /// Rows of each owner, sorted by owner.
    pub by_owner: Vec<(String, u64)>,
    /// Rows without an owner (shard 0, chunk 0 keeps them, as exceptions).
    pub no_owner: u64,
}

/// Counts [`OwnerRows`], reading only `owner_uin`, files in parallel ([`map_files`]). A file
/// that cannot be read stops the count with the error of the first such file in file order.
pub fn rows_by_owner(dir: &Path) -> Result<OwnerRows> {
    let root = dir.join("usage");
    if !root.is_dir() {
        return Ok(OwnerRows::default());
    }
    let per_file = map_files(&parquet_files(&root)?, |path| owner_rows_of(&root, path));
    let mut all: HashMap<String, u64> = HashMap::new();
    let mut no_owner = 0;
    for file in per_file {
        let file = file?;
        no_owner += file.no_owner;
        for (owner, n) in file.by_owner {
            *all.entry(owner).or_default() += n;
        }
    }
    let mut by_owner: Vec<(String, u64)> = all.into_iter().collect();
    by_owner.sort_unstable();
    Ok(OwnerRows { by_owner, no_owner })
}

/// One file's owners' rows (in no order) and its rows without an owner.
fn owner_rows_of(root: &Path, path: &Path) -> Result<OwnerRows> {
    let f = read_columns(root, path, "usage", &usage::COLUMNS[1..2])?;
    let height = f.df.height() as u64;
    if f.is_null_typed("owner_uin")? {
        return Ok(OwnerRows {
            by_owner: Vec::new(),
            no_owner: height,
        });
    }
    // Each distinct owner numbered once (`by_view`), its rows counted by number.
    let mut number: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<u64> = Vec::new();
    let owners = f.series("owner_uin")?.str()?;
    let numbered = by_view(owners, |o| match number.get(o) {
        Some(&n) => n,
        None => {
            number.insert(o.to_string(), number.len());
            number.len() - 1
        }
    });
    for n in numbered.flatten() {
        if n >= rows.len() {
            rows.resize(n + 1, 0);
        }
        rows[n] += 1;
    }
    let owned: u64 = rows.iter().sum();
    let by_owner = number
        .into_iter()
        .map(|(owner, n)| (owner, rows.get(n).copied().unwrap_or(0)))
        .collect();
    Ok(OwnerRows {
        by_owner,
        no_owner: height - owned,
    })
}

/// Rows of Parquet files, from their footers.
pub fn rows_in(files: &[PathBuf]) -> Result<u64> {
    let mut n = 0u64;
    for path in files {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        n += ParquetReader::new(file)
            .num_rows()
            .map_err(|e| Error::Parquet {
                path: path.clone(),
                message: e.to_string(),
            })? as u64;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows per owner over every usage file (only `owner_uin` read), summed across files;
    /// rows without an owner counted apart; no usage directory counts nothing.
    #[test]
    fn rows_by_owner_counts_each_owner_over_all_files() {
        let dir = tempfile::tempdir().unwrap();
        let usage = dir.path().join("usage");
        let files: [(&str, Vec<Option<&str>>); 2] = [
            (
                "part-0.parquet",
                vec![Some("b"), Some("a"), None, Some("b"), Some("b")],
            ),
            (
                "month=2024-05/part-1.parquet",
                vec![Some("c"), Some("a"), None, Some("c")],
            ),
        ];
        for (name, owners) in files {
            let path = usage.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut df = df!(
                "owner_uin" => owners.clone(),
                "quantity_text" => owners.iter().map(|_| "x").collect::<Vec<_>>(),
            )
            .unwrap();
            ParquetWriter::new(std::fs::File::create(&path).unwrap())
                .finish(&mut df)
                .unwrap();
        }
        let got = rows_by_owner(dir.path()).unwrap();
        let want = [("a", 2), ("b", 3), ("c", 2)].map(|(o, n)| (o.to_string(), n));
        assert_eq!(got.by_owner, want);
        assert_eq!(got.no_owner, 2);
        assert_eq!(
            rows_by_owner(&dir.path().join("none")).unwrap(),
            OwnerRows::default()
        );
    }
}
