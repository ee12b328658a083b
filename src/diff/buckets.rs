//! The bill lines and draws of an output split into buckets by the hash of each row's
//! `usage_id`, so that the comparison holds one bucket of each output at a time.
//!
//! Invariant: a row lands in the same bucket in both outputs — the bucket of its `usage_id`
//! (a line without one: its `line_id`). A usage line's id is `u:<usage_id>:<tier>`, so a line
//! meets its counterpart, its usage's draws and every other line of its usage in one bucket:
//! each bucket is compared alone, and the result does not depend on the number of buckets.

use super::snapshot::Snapshot;
use crate::error::{Error, Result};
use crate::output::read;
use polars::prelude::{DataFrame, DataType, IdxCa, IdxSize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One output's bill lines and draws by bucket. One bucket reads the output's files as they
/// are; more are spilled first (plain Parquet, LZ4, in a temporary directory), each file read
/// once.
pub(super) struct Buckets {
    /// Per bucket: the files holding its lines, and its draws.
    pub(super) lines: Vec<Vec<PathBuf>>,
    pub(super) draws: Vec<Vec<PathBuf>>,
}

impl Buckets {
    /// `side`'s files as one bucket when `spill` is `None`; else `n` buckets spilled into
    /// `spill` as `<name>-<table>-<bucket>-<file>.parquet`.
    pub(super) fn split(
        side: &Snapshot,
        name: &str,
        n: usize,
        spill: Option<&Path>,
    ) -> Result<Buckets> {
        let Some(spill) = spill else {
            return Ok(Buckets {
                lines: vec![side.lines.clone()],
                draws: vec![side.draws.clone()],
            });
        };
        let split = |files: &[PathBuf], table: &str, fallback: Option<&str>| {
            let mut out = vec![Vec::new(); n];
            for (k, f) in files.iter().enumerate() {
                let df = crate::input::read_parquet(f)?;
                for (b, part) in bucket_slices(&df, n, fallback)? {
                    let path = spill.join(format!("{name}-{table}-{b:05}-{k:06}.parquet"));
                    crate::output::write_spill(&path, &mut { part })?;
                    out[b].push(path);
                }
            }
            Ok::<_, Error>(out)
        };
        Ok(Buckets {
            lines: split(&side.lines, "lines", Some("line_id"))?,
            draws: split(&side.draws, "draws", None)?,
        })
    }
}

/// How many buckets of about `bucket_rows` rows the largest table of lines or draws of either
/// side needs (at least one).
pub(super) fn count(sides: [&Snapshot; 2], bucket_rows: u64) -> Result<usize> {
    let mut most = 0;
    for side in sides {
        for files in [&side.lines, &side.draws] {
            most = most.max(crate::input::chunks::rows_in(files)?);
        }
    }
    Ok(most.div_ceil(bucket_rows.max(1)).max(1) as usize)
}

/// A temporary directory inside `dir` (made if need be) for `n` buckets' spill; `None` for one
/// bucket, which is read from the outputs' own files.
pub(super) fn spill_dir(n: usize, dir: &Path) -> Result<Option<tempfile::TempDir>> {
    if n <= 1 {
        return Ok(None);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    tempfile::Builder::new()
        .prefix(".reckon-diff-")
        .tempdir_in(dir)
        .map(Some)
        .map_err(|e| Error::io(dir, e))
}

/// The bucket of each row of `df` (of `n`): the xxh3 hash of its `usage_id`, or of its
/// `fallback` column where `usage_id` is null. Gives each non-empty bucket's rows, in file order.
fn bucket_slices(
    df: &DataFrame,
    n: usize,
    fallback: Option<&str>,
) -> Result<Vec<(usize, DataFrame)>> {
    let usage = df.column("usage_id")?.str()?;
    let other = match fallback {
        Some(c) => Some(df.column(c)?.str()?),
        None => None,
    };
    let bucket: Vec<usize> = (0..df.height())
        .map(|i| {
            let key = usage
                .get(i)
                .or_else(|| other.and_then(|o| o.get(i)))
                .unwrap_or("");
            (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % n as u64) as usize
        })
        .collect();
    let mut idx: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
    for (i, b) in bucket.iter().enumerate() {
        idx[*b].push(i as IdxSize);
    }
    idx.into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(b, v)| Ok((b, df.take(&IdxCa::from_vec("idx".into(), v))?)))
        .collect()
}

/// Reads and stacks `files` (one bucket of one side); `None` for none.
pub(super) fn read_all(files: &[PathBuf]) -> Result<Option<DataFrame>> {
    let mut df = read::stack(files.iter().map(PathBuf::as_path))?;
    if let Some(d) = df.as_mut() {
        d.rechunk_mut_par();
    }
    Ok(df)
}

/// usage_id → its draws as text (package, deducted, covered part, coefficient), in draw order,
/// for the usage ids in `wanted` (those of changed lines), from one bucket's `files` — read
/// only when some line changed: most buckets of a daily diff never need them.
pub(super) fn draws_of(
    files: &[PathBuf],
    wanted: &HashSet<&str>,
) -> Result<HashMap<String, Vec<String>>> {
    let mut draws: HashMap<String, Vec<String>> = HashMap::new();
    if wanted.is_empty() {
        return Ok(draws);
    }
    let Some(df) = read_all(files)? else {
        return Ok(draws);
    };
    let usage = df.column("usage_id")?.str()?;
    let rows: Vec<IdxSize> = usage
        .iter()
        .enumerate()
        .filter(|(_, u)| wanted.contains(u.unwrap_or("")))
        .map(|(i, _)| i as IdxSize)
        .collect();
    let df = df.take(&IdxCa::from_vec("idx".into(), rows))?;
    // Decimals as their normalized value (`1.5` for 1.50 and 1.50000000), so that two outputs
    // whose decimals differ in scale only give the same draws.
    let cols = ["package_id", "deducted", "original_usage", "coefficient"]
        .iter()
        .map(|c| match df.column(c)?.dtype() {
            DataType::Decimal(..) => Ok(read::decimals(&df, c)?
                .into_iter()
                .map(|d| d.map(|d| d.normalize().to_string()))
                .collect()),
            _ => read::text(&df, c),
        })
        .collect::<Result<Vec<_>>>()?;
    for (i, u) in df.column("usage_id")?.str()?.iter().enumerate() {
        let text = cols
            .iter()
            .map(|c| c[i].as_deref().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("/");
        draws
            .entry(u.unwrap_or("").to_string())
            .or_default()
            .push(text);
    }
    Ok(draws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{frame, str_col};

    /// Rows of one usage share a bucket, a row without usage goes by its fallback column, and
    /// every row lands in exactly one bucket, in file order.
    #[test]
    fn a_usage_keeps_its_rows_in_one_bucket() {
        let usage = [Some("u1"), Some("u2"), Some("u1"), None, Some("u3")];
        let ids = ["u:u1:1", "u:u2:1", "u:u1:2", "s:x", "u:u3:1"];
        let df = frame(
            5,
            vec![
                str_col("usage_id", usage.iter().copied()),
                str_col("line_id", ids.iter().map(|s| Some(*s))),
            ],
        )
        .unwrap();
        let slices = bucket_slices(&df, 3, Some("line_id")).unwrap();
        let mut seen: Vec<String> = Vec::new();
        for (b, part) in &slices {
            let got = read::strings(part, "line_id").unwrap();
            let got: Vec<String> = got.into_iter().flatten().collect();
            let hash = |k: &str| (xxhash_rust::xxh3::xxh3_64(k.as_bytes()) % 3) as usize;
            for id in &got {
                let key = id.split(':').nth(1).filter(|_| id.starts_with("u:"));
                assert_eq!(hash(key.unwrap_or(id)), *b, "{id}");
            }
            let u1: Vec<&String> = got.iter().filter(|g| g.starts_with("u:u1")).collect();
            assert!(u1.is_empty() || u1 == ["u:u1:1", "u:u1:2"], "{got:?}");
            seen.extend(got);
        }
        seen.sort();
        let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(seen, want);
    }
}
