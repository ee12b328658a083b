//! Usage, chunk by chunk: memory is bounded by one chunk of accounts, not by the input.
//!
//! With one chunk per shard, each usage file is read once, checked whole (`usage::check_file`), and
//! cut to the rows of this run's shard before the next file is read. With several chunks, one pass
//! reads each file once, checks it, and *spills* the rows of each of this shard's chunks to a
//! private directory (`<spill>/<chunk>/<file>.parquet`, with the original row numbers so messages
//! still name the input file and row); each chunk is then read back on its own. Columns of names
//! (accounts, regions, products, instances, units…) are spilled as `u32` ids numbered over the run
//! (`NameIds`), so the spill never encodes, compresses or decodes those strings and a chunk's names
//! are looked up by index, not hashed again. Two files are in flight at a time: file k is read,
//! checked and placed while file k − 1 has its names numbered (file after file, so ids follow the
//! files' order) and is written to the spill (with one thread, one file at a time: `--threads 1`
//! keeps one core busy, not two). Each spilled file is removed as soon as its chunk has read it
//! back; the spill directory is removed when the run ends, however it ends.
//!
//! `usage_id` must be unique in the whole input, whichever shard or chunk a row falls in: the
//! pass over whole files indexes every id (`ids`, bounded by a chunk's rows, not by the input).
//!
//! Submodules: `ids` (the usage-id index that finds duplicates, in memory or on disk), `spill`
//! (one file read, checked, placed and written to its chunks), `count` (rows in all and per
//! owner, before anything is read).
//!
//! Invariants: every usage row of the input is read exactly once into exactly one shard and one
//! chunk (the pool of its owner, see `shard`); rows keep their file and row order inside a chunk;
//! the duplicates found do not depend on the number of shards or chunks.

mod count;
mod ids;
mod spill;

pub use count::{count_rows, rows_by_owner, rows_in, OwnerRows};

use super::{
    hash_file, parquet_files, read_file, read_parquet, usage, Digest, FileInfo, InputFile, NameIds,
};
use crate::error::{Error, Result};
use crate::parquet::map_files;
use crate::shard::Partitioner;
use ids::{hash_ids, strings, usage_ids_of, IdIndex};
use polars::prelude::*;
use spill::{places, Pieces, ReadFile};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per chunk when `--chunk-rows` is not given: small enough to bound the peak memory of a
/// large input, and no slower than bigger chunks (the work inside a chunk is parallel).
pub const DEFAULT_CHUNK_ROWS: u64 = 1_500_000;

/// The usage files of a run and, when chunked, their spilled chunks.
pub struct UsageSource {
    root: PathBuf,
    files: Vec<PathBuf>,
    /// Latest valid `usage_start` over every row of every file (all shards), its row and the
    /// previous usage day.
    pub latest: Option<usage::Latest>,
    /// Several chunks: usage is spilled per chunk.
    chunked: bool,
    /// Per chunk: the spilled files and the input file each came from.
    spilled: Vec<Vec<(PathBuf, String)>>,
    /// What the ids of the spilled name columns stand for.
    name_ids: Arc<NameIds>,
    ids: IdIndex,
    /// Per input file, once read: the digest of the bytes read and billed, and its rows (what
    /// the manifest records).
    reads: Vec<Option<(Digest, usize)>>,
    /// Rows (by input file name, original row) whose `usage_id` appeared on an earlier row.
    pub duplicates: HashMap<String, HashSet<u32>>,
    /// The run's private temporary directory, when it spills chunks or the id index. Last:
    /// fields drop in order, so the index's files are closed before it is removed.
    tmp: Option<tempfile::TempDir>,
}

/// A private temporary directory under `dir` (the system temp directory when `None`), removed
/// when dropped.
fn temp_dir(dir: Option<&Path>) -> Result<tempfile::TempDir> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            tempfile::Builder::new()
                .prefix(".reckon-spill-")
                .tempdir_in(d)
        }
        None => tempfile::Builder::new().prefix("reckon-spill-").tempdir(),
    }
    .map_err(|e| Error::io(dir.unwrap_or(Path::new("tmp")), e))
}

/// How many chunks a shard needs for `rows` usage rows in all.
pub fn chunks_for(rows: u64, shards: u32, chunk_rows: u64) -> u32 {
    let per_shard = rows.div_ceil(u64::from(shards.max(1)));
    per_shard.div_ceil(chunk_rows.max(1)).clamp(1, 4096) as u32
}

impl UsageSource {
    /// Lists the usage files; with several chunks, spills them to a private directory under
    /// `spill_in` (a directory on the output's file system, or the system temp directory when
    /// `None`). The id index stays in memory up to `index_rows` rows of input (whatever the
    /// shard: every shard checks every file), and goes to that directory beyond.
    pub fn open(
        dir: &Path,
        part: &Partitioner,
        spill_in: Option<&Path>,
        index_rows: u64,
    ) -> Result<UsageSource> {
        let root = dir.join("usage");
        if !root.is_dir() {
            return Err(Error::MissingTable {
                table: "usage".into(),
                path: root,
            });
        }
        let files = parquet_files(&root)?;
        let rows = rows_in(&files)? as usize;
        let index_rows = usize::try_from(index_rows).unwrap_or(usize::MAX);
        let chunked = part.chunks > 1;
        let tmp = if chunked || rows > index_rows {
            Some(temp_dir(spill_in)?)
        } else {
            None
        };
        // The id index at its final size from the start: grown by doubling it would copy
        // itself into fresh pages again and again (in memory, it holds 16 bytes a row).
        let ids = IdIndex::new(
            rows,
            index_rows,
            tmp.as_ref().map(|t| t.path().join("ids")).as_deref(),
        )?;
        let mut src = UsageSource {
            reads: vec![None; files.len()],
            files,
            root,
            latest: None,
            tmp,
            chunked,
            spilled: Vec::new(),
            name_ids: Arc::default(),
            ids,
            duplicates: HashMap::new(),
        };
        // A chunked source always has its temporary directory (made above).
        let spill_to = src.tmp.as_ref().filter(|_| chunked);
        if let Some(tmp) = spill_to.map(|t| t.path().to_path_buf()) {
            src.spill_chunks(&tmp, part)?;
        }
        Ok(src)
    }

    /// Reads, checks and spills every usage file to the chunks of this shard under `tmp`, then
    /// finds the repeated usage ids.
    fn spill_chunks(&mut self, tmp: &Path, part: &Partitioner) -> Result<()> {
        self.spilled = vec![Vec::new(); part.chunks as usize];
        let mut name_ids = NameIds::new(usage::NAME_COLUMNS);
        let mut ids = std::mem::take(&mut self.ids);
        let buckets = ids.buckets();
        // Two files at a time: file k is read and checked while file k − 1 has its ids
        // indexed, its names numbered (`NameIds`, in file order) and its rows spilled. Nothing
        // waits for both sides but the next round: the thread done first helps the other.
        //
        // With one thread the two sides take turns: reading runs on polars' pool, and a rayon
        // worker waiting for it would run the other side meanwhile — two cores busy where the
        // run was given one.
        let (root, files) = (self.root.clone(), self.files.clone());
        let mut checked: Option<ReadFile> = None;
        let overlap = rayon::current_num_threads() > 1;
        for k in 0..=files.len() {
            let read_next = || {
                files
                    .get(k)
                    .map(|path| ReadFile::of(&root, k, path, part, buckets))
                    .transpose()
            };
            let mut spill_checked = || {
                checked
                    .take()
                    .map(|mut r| {
                        ids.extend(std::mem::take(&mut r.ids))?;
                        r.number_names(&mut name_ids)?;
                        r.spill(tmp, part)
                    })
                    .transpose()
            };
            let (next, spilled) = if overlap {
                rayon::join(read_next, spill_checked)
            } else {
                let spilled = spill_checked();
                // After a failed spill, the next file is not read: its error would be reported
                // second anyway.
                let next = if spilled.is_ok() {
                    read_next()
                } else {
                    Ok(None)
                };
                (next, spilled)
            };
            // An earlier file's error first.
            if let Some((r, written)) = spilled? {
                for (chunk, out) in written {
                    self.spilled[chunk].push((out, r.f.name.clone()));
                }
            }
            if let Some(mut r) = next? {
                self.note_latest(r.latest.take());
                self.note_read(r.k, &r.f);
                checked = Some(r);
            }
        }
        self.name_ids = Arc::new(name_ids);
        let t = std::time::Instant::now();
        let (root, files, reads) = (&self.root, &self.files, &self.reads);
        let first = |k: usize| reads[k].as_ref().map(|(d, _)| d);
        let dups = ids.duplicates(|k| usage_ids_of(root, &files[k], first(k)))?;
        self.note_duplicates(dups);
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            "usage ids checked for repeats"
        );
        Ok(())
    }

    fn note_duplicates(&mut self, dups: Vec<(u32, u32)>) {
        let prefix = self.root.parent().unwrap_or(&self.root).to_path_buf();
        for (f, r) in dups {
            let name = self.files[f as usize]
                .strip_prefix(&prefix)
                .unwrap_or(&self.files[f as usize])
                .display()
                .to_string();
            self.duplicates.entry(name).or_default().insert(r);
        }
    }

    fn note_read(&mut self, k: usize, f: &InputFile) {
        if let Some(d) = &f.digest {
            self.reads[k] = Some((d.clone(), f.df.height()));
        }
    }

    fn note_latest(&mut self, t: Option<usage::Latest>) {
        self.latest = usage::Latest::merge(self.latest.take(), t);
    }

    /// The usage files of chunk `chunk` of this run's shard, rows in file and row order.
    pub fn load_chunk(&mut self, chunk: u32, part: &Partitioner) -> Result<Vec<InputFile>> {
        if self.chunked {
            self.load_spilled(chunk)
        } else {
            self.load_whole(chunk, part)
        }
    }

    /// One chunk: each file read, checked whole and indexed, then cut to this shard's rows at
    /// once (so memory holds the shard's rows, not every file whole).
    fn load_whole(&mut self, chunk: u32, part: &Partitioner) -> Result<Vec<InputFile>> {
        let buckets = self.ids.buckets();
        let mut out = Vec::with_capacity(self.files.len());
        for (k, path) in self.files.clone().into_iter().enumerate() {
            let mut f = read_file(&self.root, &path, "usage", usage::COLUMNS)?;
            self.note_read(k, &f);
            self.note_latest(usage::check_file(&f)?);
            self.ids.extend(hash_ids(k, &f, buckets)?)?;
            if !part.shard.is_all() {
                let places = places(&f, part)?;
                let keep: Vec<u32> = (0..f.df.height() as u32)
                    .filter(|&i| places[i as usize] == Some(chunk))
                    .collect();
                f.df = Pieces::of(&mut f.df).take(&keep)?;
                f.rows = Some(keep);
            }
            out.push(f);
        }
        // Ids of a cut file are read from the file again (only files with candidates).
        let (root, files, reads) = (&self.root, &self.files, &self.reads);
        let first = |k: usize| reads[k].as_ref().map(|(d, _)| d);
        let dups = self.ids.duplicates(|k| match out[k].rows {
            None => strings(&out[k]),
            Some(_) => usage_ids_of(root, &files[k], first(k)),
        })?;
        self.note_duplicates(dups);
        Ok(out)
    }

    /// Each spilled file of the chunk is read once: removed as soon as it is read, so the spill
    /// shrinks chunk by chunk and its removal is not left for the end of the run. The files are
    /// read in parallel (each one alone is too small to keep the cores busy).
    fn load_spilled(&mut self, chunk: u32) -> Result<Vec<InputFile>> {
        let t = std::time::Instant::now();
        let files = std::mem::take(&mut self.spilled[chunk as usize]);
        let name_ids = &self.name_ids;
        // On plain threads, not a rayon loop: see `map_files` (nested pools overflowed the
        // stack with many files).
        let out = map_files(&files, |(path, name)| {
            let mut df = read_parquet(path)?;
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            let rows: Vec<u32> = df.column("__row")?.u32()?.into_no_null_iter().collect();
            df = df.drop("__row")?;
            Ok(InputFile {
                path: path.clone(),
                name: name.clone(),
                df,
                rows: Some(rows),
                name_ids: Some(name_ids.clone()),
                digest: None,
            })
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        tracing::debug!(
            chunk,
            ms = t.elapsed().as_millis() as u64,
            "chunk usage read"
        );
        Ok(out)
    }

    /// Size and hash of every usage file, for the manifest (rows: the whole file): of the bytes
    /// read and billed; a file this run has not read yet is hashed now.
    pub fn file_infos(&self) -> Result<Vec<FileInfo>> {
        let prefix = self.root.parent().unwrap_or(&self.root);
        self.files
            .iter()
            .zip(&self.reads)
            .map(|(path, read)| {
                let ((bytes, sha256), rows) = match read {
                    Some((d, rows)) => ((d.bytes, d.sha256.clone()), *rows),
                    None => (hash_file(path)?, rows_of(path)?),
                };
                Ok(FileInfo {
                    table: "usage".into(),
                    path: path
                        .strip_prefix(prefix)
                        .unwrap_or(path)
                        .display()
                        .to_string(),
                    bytes,
                    sha256,
                    rows,
                })
            })
            .collect()
    }
}

/// A file's rows, from its footer.
fn rows_of(path: &Path) -> Result<usize> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file)
        .num_rows()
        .map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}
