//! Both sides' lines split into buckets of accounts, so that a reconciliation holds two buckets
//! of each side at a time (the one compared and the next, read meanwhile), whatever the inputs'
//! size (the approach of `diff`'s buckets). The two sides are split at once.
//!
//! Buckets are ranges of `owner_uin` in bytewise order, cut so that each holds about
//! `bucket_rows` lines of both sides together (an account is never split): a key lies in one
//! bucket on both sides, and since the key order starts with `owner_uin`, writing the buckets'
//! rows one file each, in bucket order, keeps every partition of `reconciliation/` in key order.
//! With one bucket the files are read as they are; with more, each file is read once, checked,
//! and its rows spilled per bucket (plain Parquet, in a temporary directory removed after; a
//! killed run's is removed by the next run, `output::publish`).
//!
//! Invariants: every line of both sides is handed to exactly one bucket; every issued file is
//! checked (schema, values, [`Source::lines`]) before any comparison; an `issued_line_id` that
//! repeats anywhere in the issued table is an error naming both places, found with a 16-byte
//! entry per row kept in at most [`ID_BUCKETS`] files by hash (one read back at a time).

use super::line::{issued_lines, recomputed_lines, Line, ISSUED_COLUMNS, RECOMPUTED_COLUMNS};
use super::IssuedFormat;
use crate::error::{Error, Result};
use crate::input::{read_file, InputFile};
use polars::prelude::{DataFrame, IdxCa, IdxSize, ParquetReader, SerReader};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// Files of the duplicate-id index at the most.
pub const ID_BUCKETS: usize = 64;

/// One side: a table directory, its files, and how to read them.
#[derive(Debug, Clone)]
pub struct Source {
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
    /// `None` for a recomputed output's `bill_lines`.
    pub issued: Option<IssuedFormat>,
}

impl Source {
    /// A file with its columns checked and named as `issued/` (or `bill_lines`) names them.
    pub fn read(&self, path: &Path) -> Result<InputFile> {
        match self.issued {
            Some(IssuedFormat::Reckon) => read_file(&self.root, path, "issued", ISSUED_COLUMNS),
            Some(IssuedFormat::Focus) => super::focus::read(&self.root, path),
            None => read_file(&self.root, path, "bill_lines", RECOMPUTED_COLUMNS),
        }
    }

    /// The lines of a file read by [`Source::read`] (or spilled from one), checked.
    pub fn lines(&self, f: &InputFile) -> Result<Vec<Line>> {
        match self.issued {
            Some(_) => issued_lines(f),
            None => recomputed_lines(f),
        }
    }

    /// The column of the account in the files as they are.
    fn owner_column(&self) -> &'static str {
        match self.issued {
            Some(IssuedFormat::Focus) => super::focus::OWNER_COLUMN,
            _ => "owner_uin",
        }
    }

    fn rows(&self) -> Result<u64> {
        crate::input::chunks::rows_in(&self.files)
    }
}

/// How many buckets of about `bucket_rows` lines the two sides need (at least one).
pub fn count(sides: [&Source; 2], bucket_rows: u64) -> Result<usize> {
    let rows = sides[0].rows()? + sides[1].rows()?;
    Ok(rows.div_ceil(bucket_rows.max(1)).max(1) as usize)
}

/// Hands each bucket's lines of both sides to `each` (issued, recomputed), bucket by bucket,
/// in at most `n` buckets; `spill_in` holds the temporary directory when there is more than
/// one. Gives the number of buckets used (fewer than `n` when accounts are few or large).
pub fn for_each(
    sides: [&Source; 2],
    n: usize,
    spill_in: &Path,
    mut each: impl FnMut(usize, Vec<Line>, Vec<Line>) -> Result<()> + Send,
) -> Result<usize> {
    if n <= 1 {
        let issued = all_lines(sides[0])?;
        check_ids_in_memory(sides[0], &issued)?;
        each(0, issued, all_lines(sides[1])?)?;
        return Ok(1);
    }
    let bounds = owner_bounds(sides, n)?;
    let n = bounds.len() + 1;
    let tmp = tempfile::Builder::new()
        .prefix(".reckon-spill-")
        .tempdir_in(spill_in)
        .map_err(|e| Error::io(spill_in, e))?;
    let mut ids = IdIndex::create(tmp.path(), n.min(ID_BUCKETS))?;
    // The two sides are split at once: each reads and spills its own files.
    let (issued, recomputed) = rayon::join(
        || split(sides[0], "issued", &bounds, tmp.path(), Some(&mut ids)),
        || split(sides[1], "recomputed", &bounds, tmp.path(), None),
    );
    let issued = issued?;
    ids.check(sides[0])?;
    let spilled = [issued, recomputed?];
    each_spilled(sides, &spilled, &mut each)?;
    drop(tmp);
    Ok(n)
}

/// Hands bucket after bucket of the spilled files to `each`, reading the next bucket while
/// `each` works on one: memory holds two buckets of each side at the most.
fn each_spilled(
    sides: [&Source; 2],
    spilled: &[Vec<Vec<PathBuf>>; 2],
    each: &mut (impl FnMut(usize, Vec<Line>, Vec<Line>) -> Result<()> + Send),
) -> Result<()> {
    let read = |b: usize| {
        let (iss, rec) = rayon::join(
            || read_spilled(sides[0], &spilled[0][b]),
            || read_spilled(sides[1], &spilled[1][b]),
        );
        Ok::<_, Error>((iss?, rec?))
    };
    let n = spilled[0].len();
    let mut next = read(0)?;
    for b in 0..n {
        let (iss, rec) = next;
        let (done, following) = rayon::join(
            || each(b, iss, rec),
            || (b + 1 < n).then(|| read(b + 1)).transpose(),
        );
        done?;
        match following? {
            Some(lines) => next = lines,
            None => break,
        }
    }
    Ok(())
}

/// Every line of a side, file by file.
fn all_lines(side: &Source) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    for path in &side.files {
        out.extend(side.lines(&side.read(path)?)?);
    }
    Ok(out)
}

/// With one bucket: the ids in memory, the first repeat an error.
fn check_ids_in_memory(side: &Source, lines: &[Line]) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match seen.entry(l.id.as_str()) {
            std::collections::hash_map::Entry::Occupied(o) => {
                return Err(repeat_error(side, &l.id, *o.get(), i))
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
    Ok(())
}

/// The error for an id on line `later` repeating line `first` (counted over the side's files
/// in order).
fn repeat_error(side: &Source, id: &str, first: usize, later: usize) -> Error {
    let mut at = Vec::new();
    let mut offset = 0;
    for path in &side.files {
        let rows = crate::input::chunks::rows_in(std::slice::from_ref(path)).unwrap_or(0) as usize;
        for line in [first, later] {
            if line >= offset && line < offset + rows {
                at.push((path.clone(), line - offset));
            }
        }
        offset += rows;
    }
    let (first_at, later_at) = match at.as_slice() {
        [a, b] => (a.clone(), b.clone()),
        _ => ((PathBuf::new(), first), (PathBuf::new(), later)),
    };
    duplicate(id, &first_at.0, first_at.1, &later_at.0, later_at.1)
}

fn duplicate(id: &str, first: &Path, first_row: usize, path: &Path, row: usize) -> Error {
    Error::BadValue {
        path: path.to_path_buf(),
        column: "issued_line_id".into(),
        row,
        message: format!(
            "`{id}` repeats the id of row {first_row} of {}: issued_line_id must be unique",
            first.display()
        ),
    }
}

/// The first `owner_uin` of buckets 1…: accounts in bytewise order dealt out into ranges of
/// about equal lines of both sides (at most `n` ranges).
fn owner_bounds(sides: [&Source; 2], n: usize) -> Result<Vec<String>> {
    let mut per_owner: BTreeMap<String, u64> = BTreeMap::new();
    for side in sides {
        for path in &side.files {
            let col = side.owner_column();
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let df = ParquetReader::new(file)
                .with_columns(Some(vec![col.to_string()]))
                .finish()
                .map_err(|e| Error::Parquet {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            let owners = crate::output::read::strings(&df, col)?;
            for o in owners {
                *per_owner.entry(o.unwrap_or_default()).or_default() += 1;
            }
        }
    }
    let total: u64 = per_owner.values().sum();
    let target = total.div_ceil(n as u64).max(1);
    let mut bounds = Vec::new();
    let mut acc = 0;
    for (owner, rows) in per_owner {
        if acc >= target && bounds.len() + 1 < n {
            bounds.push(owner.clone());
            acc = 0;
        }
        acc += rows;
    }
    Ok(bounds)
}

/// The bucket of an account.
fn bucket_of(bounds: &[String], owner: &str) -> usize {
    bounds.partition_point(|b| b.as_str() <= owner)
}

/// Reads, checks and spills every file of a side per bucket; gives each bucket's spilled files.
/// Issued ids go to `ids`.
fn split(
    side: &Source,
    name: &str,
    bounds: &[String],
    dir: &Path,
    mut ids: Option<&mut IdIndex>,
) -> Result<Vec<Vec<PathBuf>>> {
    let n = bounds.len() + 1;
    let mut out = vec![Vec::new(); n];
    for (k, path) in side.files.iter().enumerate() {
        let f = side.read(path)?;
        let lines = side.lines(&f)?;
        if let Some(ids) = ids.as_deref_mut() {
            ids.add(k, &lines)?;
        }
        let mut idx: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
        for (i, l) in lines.iter().enumerate() {
            idx[bucket_of(bounds, &l.key.owner_uin)].push(i as IdxSize);
        }
        drop(lines);
        for (b, rows) in idx.into_iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            let mut part: DataFrame = f.df.take(&IdxCa::from_vec("idx".into(), rows))?;
            let spilled = dir.join(format!("{name}-{b:05}-{k:06}.parquet"));
            crate::output::write_spill(&spilled, &mut part)?;
            out[b].push(spilled);
        }
    }
    Ok(out)
}

/// The lines of one bucket's spilled files of a side.
fn read_spilled(side: &Source, files: &[PathBuf]) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    for path in files {
        let f = InputFile {
            path: path.clone(),
            name: path.display().to_string(),
            df: crate::input::read_parquet(path)?,
            rows: None,
            name_ids: None,
            digest: None,
        };
        out.extend(side.lines(&f)?);
    }
    Ok(out)
}

/// `(hash of issued_line_id, file, row)` of every issued line, in files by hash, so that each
/// file can be checked alone: sorted, equal hashes are candidates, compared as strings.
struct IdIndex {
    files: Vec<(PathBuf, BufWriter<std::fs::File>)>,
}

impl IdIndex {
    fn create(dir: &Path, n: usize) -> Result<IdIndex> {
        let files = (0..n)
            .map(|b| {
                let p = dir.join(format!("ids-{b:03}.bin"));
                let f = std::fs::File::create(&p).map_err(|e| Error::io(&p, e))?;
                Ok((p, BufWriter::new(f)))
            })
            .collect::<Result<_>>()?;
        Ok(IdIndex { files })
    }

    fn add(&mut self, file: usize, lines: &[Line]) -> Result<()> {
        let n = self.files.len() as u64;
        for (row, l) in lines.iter().enumerate() {
            let h = xxh3_64(l.id.as_bytes());
            let entry = (u128::from(h) << 64) | ((file as u128) << 32) | row as u128;
            let (p, w) = &mut self.files[(h % n) as usize];
            w.write_all(&entry.to_le_bytes())
                .map_err(|e| Error::io(&*p, e))?;
        }
        Ok(())
    }

    /// Every id against the others: an error naming the first repeat found.
    fn check(self, side: &Source) -> Result<()> {
        let mut ids_of: HashMap<usize, Vec<Option<String>>> = HashMap::new();
        for (p, w) in self.files {
            w.into_inner()
                .map_err(|e| Error::io(&p, e.into_error()))?
                .sync_all()
                .map_err(|e| Error::io(&p, e))?;
            let mut bytes = Vec::new();
            std::fs::File::open(&p)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| Error::io(&p, e))?;
            let mut entries: Vec<u128> = bytes
                .chunks_exact(16)
                .map(|c| u128::from_le_bytes(c.try_into().unwrap_or([0; 16])))
                .collect();
            entries.sort_unstable();
            for g in entries
                .chunk_by(|a, b| a >> 64 == b >> 64)
                .filter(|g| g.len() > 1)
            {
                let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
                for e in g {
                    let (file, row) = (((e >> 32) as u32) as usize, (*e as u32) as usize);
                    if let std::collections::hash_map::Entry::Vacant(v) = ids_of.entry(file) {
                        let f = side.read(&side.files[file])?;
                        v.insert(
                            f.strs("issued_line_id")?
                                .iter()
                                .map(|s| s.map(String::from))
                                .collect(),
                        );
                    }
                    let id = ids_of[&file][row].clone().unwrap_or_default();
                    if let Some((f0, r0)) = seen.insert(id.clone(), (file, row)) {
                        return Err(duplicate(&id, &side.files[f0], r0, &side.files[file], row));
                    }
                }
            }
        }
        Ok(())
    }
}
