//! Usage, chunk by chunk: memory is bounded by one chunk of accounts, not by the input.
//!
//! With one chunk per shard, each usage file is read once, checked whole (`usage::check_file`),
//! and cut to the rows of this run's shard. With several chunks, one pass reads each file once,
//! checks it, and *spills* the rows of each of this shard's chunks to a private directory
//! (`<spill>/<chunk>/<file>.parquet`, with the original row numbers so messages still name the
//! input file and row); each chunk is then read back on its own. Columns of names (accounts,
//! regions, products, instances, units…) are spilled as `u32` ids numbered over the run
//! (`NameIds`), so the spill never encodes, compresses or decodes those strings and a chunk's
//! names are looked up by index, not hashed again. Two files are in flight at a time: file k is
//! read, checked and placed while file k − 1 has its names numbered (file after file, so ids
//! follow the files' order) and is written to the spill (with one thread, one file at a time:
//! `--threads 1` keeps one core busy, not two). Each spilled file is removed as soon
//! as its chunk has read it back; the spill directory is removed when the run ends, however it
//! ends.
//!
//! `usage_id` must be unique in the whole input, whichever shard or chunk a row falls in: the
//! pass over whole files records a 64-bit hash, file and row of every id (16 bytes a row: 1.6 GB
//! for 100M rows, the one per-row cost that is not bounded by a chunk); equal hashes are then
//! compared as strings, and every occurrence after the first (in file and row order) is a
//! duplicate.
//!
//! Invariants: every usage row of the input is read exactly once into exactly one shard and one
//! chunk (the pool of its owner, see `shard`); rows keep their file and row order inside a chunk;
//! the duplicates found do not depend on the number of shards or chunks.

use super::{
    by_view, hash_file, parquet_files, read_file, read_parquet, usage, FileInfo, InputFile, NameIds,
};
use crate::calendar::Ts;
use crate::error::{Error, Result};
use crate::output::write_spill;
use crate::shard::Partitioner;
use polars::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Rows per chunk when `--chunk-rows` is not given. Measured on 22.2M generated rows (2 cores):
/// peak RSS 1.86 GB at 1.5M rows per chunk against 4.2 GB at 4M, in the same time (the work
/// inside a chunk is parallel, so a smaller chunk costs no speed).
pub const DEFAULT_CHUNK_ROWS: u64 = 1_500_000;

/// The usage files of a run and, when chunked, their spilled chunks.
pub struct UsageSource {
    root: PathBuf,
    files: Vec<PathBuf>,
    /// Latest valid `usage_start` over every row of every file (all shards).
    pub latest_start: Option<Ts>,
    spill: Option<tempfile::TempDir>,
    /// Per chunk: the spilled files and the input file each came from.
    spilled: Vec<Vec<(PathBuf, String)>>,
    /// What the ids of the spilled name columns stand for.
    name_ids: Arc<NameIds>,
    ids: IdIndex,
    /// Rows (by input file name, original row) whose `usage_id` appeared on an earlier row.
    pub duplicates: HashMap<String, HashSet<u32>>,
}

/// `(hash of usage_id, file index, row)` of every row with an id, packed in a `u128` in that
/// order (so sorting the numbers sorts by hash), in [`ID_BUCKETS`] buckets by the hash's top
/// bits, each sorted alone at the end, in parallel (one parallel sort of the whole index took
/// 0.45–0.57 s on 22.2M rows, 2.5 s on 116.6M; the buckets 0.36–0.40 s and 2.2 s). The buckets
/// are regions of one allocation, freed in one piece: jemalloc hands a block that large back to
/// the kernel at once (separate vectors stayed cached and raised the run's peak).
struct IdIndex {
    /// Bucket `b` is `data[b * room..b * room + len[b]]`, then `overflow[b]`.
    data: Vec<u128>,
    room: usize,
    len: Vec<usize>,
    /// Entries of a bucket whose region is full (in practice never: see `with_capacity`).
    overflow: Vec<Vec<u128>>,
}

/// Buckets of the id index (a power of two). Few: each region's growing end sits in a
/// transparent huge page of its own (2 MiB, see `main.rs`), so 256 buckets held up to 0.5 GB
/// more (measured on 116.6M rows: 3.0 GB peak while loading against 2.72 GB; 16: 2.72 GB).
const ID_BUCKETS: usize = 16;

fn id_entry(hash: u64, file: usize, row: usize) -> u128 {
    (u128::from(hash) << 64) | ((file as u128) << 32) | row as u128
}

fn id_bucket(entry: u128) -> usize {
    (entry >> (128 - ID_BUCKETS.trailing_zeros())) as usize
}

/// An index with room for a few ids per bucket (more go to the overflow): every index has its
/// buckets, so entries can be added to any.
impl Default for IdIndex {
    fn default() -> IdIndex {
        IdIndex::with_capacity(0)
    }
}

impl IdIndex {
    /// Room for `rows` ids: hashes spread evenly, so each bucket gets its share and a margin
    /// (3 % and 64 ids: dozens of standard deviations).
    fn with_capacity(rows: usize) -> IdIndex {
        let share = rows / ID_BUCKETS;
        let room = share + share / 32 + 64;
        IdIndex {
            // Zeroed by the kernel, not written here.
            data: vec![0; room * ID_BUCKETS],
            room,
            len: vec![0; ID_BUCKETS],
            overflow: vec![Vec::new(); ID_BUCKETS],
        }
    }

    /// Adds the entries of [`hash_ids`], buckets in parallel (each bucket is its own region;
    /// its entries land in part order, as one after the other would put them). It runs for
    /// every usage file on the spilling side of the load, where it took 10–370 ms a file.
    fn extend(&mut self, parts: IdParts) {
        use rayon::prelude::*;
        let room = self.room;
        self.data
            .par_chunks_mut(room)
            .zip(self.len.par_iter_mut())
            .zip(self.overflow.par_iter_mut())
            .enumerate()
            .for_each(|(b, ((region, len), over))| {
                for entries in parts.iter().filter_map(|part| part.get(b)) {
                    let n = (room - *len).min(entries.len());
                    region[*len..*len + n].copy_from_slice(&entries[..n]);
                    *len += n;
                    over.extend_from_slice(&entries[n..]);
                }
            });
    }

    /// Rows whose id appeared earlier; `ids_of(file)` gives a file's `usage_id` column.
    fn duplicates(
        &mut self,
        mut ids_of: impl FnMut(usize) -> Result<Vec<Option<String>>>,
    ) -> Result<Vec<(u32, u32)>> {
        use rayon::prelude::*;
        let IdIndex {
            mut data,
            room,
            len,
            overflow,
        } = std::mem::take(self);
        // Candidates: rows sharing a hash with another row (equal hashes share a bucket).
        let mut cand: Vec<(u32, u32)> = data
            .par_chunks_mut(room)
            .zip(len)
            .zip(overflow)
            .flat_map_iter(|((region, n), over)| {
                let mut joined;
                let b = if over.is_empty() {
                    &mut region[..n]
                } else {
                    joined = region[..n].to_vec();
                    joined.extend(over);
                    &mut joined[..]
                };
                b.sort_unstable();
                let mut cand = Vec::new();
                for g in b.chunk_by(|x, y| x >> 64 == y >> 64) {
                    if g.len() > 1 {
                        cand.extend(g.iter().map(|&e| ((e >> 32) as u32, e as u32)));
                    }
                }
                cand
            })
            .collect();
        if cand.is_empty() {
            return Ok(Vec::new());
        }
        cand.sort_unstable();
        let mut by_id: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for g in cand.chunk_by(|a, b| a.0 == b.0) {
            let col = ids_of(g[0].0 as usize)?;
            for &(f, r) in g {
                if let Some(id) = col[r as usize].clone() {
                    by_id.entry(id).or_default().push((f, r));
                }
            }
        }
        let mut dups = Vec::new();
        for (_, mut at) in by_id {
            at.sort_unstable();
            dups.extend(at.into_iter().skip(1));
        }
        Ok(dups)
    }
}

/// A file's index entries: per row group, per bucket.
type IdParts = Vec<Vec<Vec<u128>>>;

/// The index entries of file number `file`, its row groups hashed in parallel.
fn hash_ids(file: usize, f: &InputFile) -> Result<IdParts> {
    use rayon::prelude::*;
    if f.is_null_typed("usage_id")? {
        return Ok(Vec::new());
    }
    // Read in place, not collected into a vector of the file's rows first.
    let ids = f.series("usage_id")?.str()?;
    let mut start = 0;
    let arrays: Vec<_> = ids
        .downcast_iter()
        .map(|a| {
            start += a.len();
            (start - a.len(), a)
        })
        .collect();
    Ok(arrays
        .into_par_iter()
        .map(|(start, ids)| {
            let share = ids.len() / ID_BUCKETS;
            let mut part: Vec<Vec<u128>> = (0..ID_BUCKETS)
                .map(|_| Vec::with_capacity(share + share / 8 + 16))
                .collect();
            for (row, id) in ids.iter().enumerate() {
                if let Some(id) = id {
                    let e = id_entry(xxh3_64(id.as_bytes()), file, start + row);
                    part[id_bucket(e)].push(e);
                }
            }
            part
        })
        .collect())
}

/// Usage rows in the input, from the Parquet footers (no data read).
pub fn count_rows(dir: &Path) -> Result<u64> {
    let root = dir.join("usage");
    if !root.is_dir() {
        return Ok(0);
    }
    rows_in(&parquet_files(&root)?)
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

/// How many chunks a shard needs for `rows` usage rows in all.
pub fn chunks_for(rows: u64, shards: u32, chunk_rows: u64) -> u32 {
    let per_shard = rows.div_ceil(u64::from(shards.max(1)));
    per_shard.div_ceil(chunk_rows.max(1)).clamp(1, 4096) as u32
}

impl UsageSource {
    /// Lists the usage files; with several chunks, spills them under `spill_in` (a directory
    /// on the output's file system), or the system temp directory when `None`.
    pub fn open(dir: &Path, part: &Partitioner, spill_in: Option<&Path>) -> Result<UsageSource> {
        let root = dir.join("usage");
        if !root.is_dir() {
            return Err(Error::MissingTable {
                table: "usage".into(),
                path: root,
            });
        }
        let mut src = UsageSource {
            files: parquet_files(&root)?,
            root,
            latest_start: None,
            spill: None,
            spilled: Vec::new(),
            name_ids: Arc::default(),
            ids: IdIndex::default(),
            duplicates: HashMap::new(),
        };
        if part.chunks > 1 {
            src.spill_chunks(part, spill_in)?;
        }
        Ok(src)
    }

    fn spill_chunks(&mut self, part: &Partitioner, spill_in: Option<&Path>) -> Result<()> {
        let tmp = match spill_in {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
                tempfile::Builder::new()
                    .prefix(".reckon-spill-")
                    .tempdir_in(d)
            }
            None => tempfile::Builder::new().prefix("reckon-spill-").tempdir(),
        }
        .map_err(|e| Error::io(spill_in.unwrap_or(Path::new("tmp")), e))?;
        self.spilled = vec![Vec::new(); part.chunks as usize];
        let mut name_ids = NameIds::new(usage::NAME_COLUMNS);
        // The id index at its final size from the start: grown by doubling it would copy
        // itself into fresh pages again and again (it holds 16 bytes a row).
        let mut ids = IdIndex::with_capacity(rows_in(&self.files)? as usize);
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
                    .map(|path| ReadFile::of(&root, k, path, part))
                    .transpose()
            };
            let mut spill_checked = || {
                checked
                    .take()
                    .map(|mut r| {
                        ids.extend(std::mem::take(&mut r.ids));
                        r.number_names(&mut name_ids)?;
                        r.spill(tmp.path(), part)
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
            if let Some(r) = next? {
                self.note_latest(r.latest);
                checked = Some(r);
            }
        }
        self.ids = ids;
        self.spill = Some(tmp);
        self.name_ids = Arc::new(name_ids);
        let t = std::time::Instant::now();
        let (root, files) = (self.root.clone(), self.files.clone());
        let dups = self.ids.duplicates(|k| {
            let f = read_file(&root, &files[k], "usage", &usage::COLUMNS[..1])?;
            Ok(f.strs("usage_id")?
                .into_iter()
                .map(|s| s.map(str::to_string))
                .collect())
        })?;
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

    fn note_latest(&mut self, t: Option<Ts>) {
        if let Some(t) = t {
            self.latest_start = Some(self.latest_start.map_or(t, |l| l.max(t)));
        }
    }

    /// The usage files of chunk `chunk` of this run's shard, rows in file and row order.
    pub fn load_chunk(&mut self, chunk: u32, part: &Partitioner) -> Result<Vec<InputFile>> {
        if self.spill.is_none() {
            // One chunk: read each file, check it whole, keep this shard's rows.
            let mut out = Vec::with_capacity(self.files.len());
            let mut whole = Vec::with_capacity(self.files.len());
            self.ids = IdIndex::with_capacity(rows_in(&self.files)? as usize);
            for (k, path) in self.files.clone().into_iter().enumerate() {
                let f = read_file(&self.root, &path, "usage", usage::COLUMNS)?;
                self.note_latest(usage::check_file(&f)?);
                self.ids.extend(hash_ids(k, &f)?);
                whole.push(f);
            }
            let dups = self.ids.duplicates(|k| {
                Ok(whole[k]
                    .strs("usage_id")?
                    .into_iter()
                    .map(|s| s.map(str::to_string))
                    .collect())
            })?;
            self.note_duplicates(dups);
            for mut f in whole {
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
            return Ok(out);
        }
        // Each spilled file is read once: removed as soon as it is read, so the spill shrinks
        // chunk by chunk and its removal is not left for the end of the run. The files are
        // read in parallel (each one alone is too small to keep the cores busy).
        use rayon::prelude::*;
        let t = std::time::Instant::now();
        let out = std::mem::take(&mut self.spilled[chunk as usize])
            .into_par_iter()
            .map(|(path, name)| {
                let mut df = read_parquet(&path)?;
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                let rows: Vec<u32> = df.column("__row")?.u32()?.into_no_null_iter().collect();
                df = df.drop("__row")?;
                Ok(InputFile {
                    path,
                    name,
                    df,
                    rows: Some(rows),
                    name_ids: Some(self.name_ids.clone()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tracing::debug!(
            chunk,
            ms = t.elapsed().as_millis() as u64,
            "chunk usage read"
        );
        Ok(out)
    }

    /// Size and hash of every usage file, for the manifest (rows: the whole file).
    pub fn file_infos(&self) -> Result<Vec<FileInfo>> {
        let prefix = self.root.parent().unwrap_or(&self.root);
        self.files
            .iter()
            .map(|path| {
                let (bytes, sha256) = hash_file(path)?;
                let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
                let rows = ParquetReader::new(file)
                    .num_rows()
                    .map_err(|e| Error::Parquet {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
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

/// One usage file read and checked whole, on its way to the spill.
struct ReadFile {
    k: usize,
    f: InputFile,
    /// Latest valid `usage_start` of the file.
    latest: Option<Ts>,
    /// The file's part of the id index.
    ids: IdParts,
    /// Chunk of each row (`places`).
    places: Vec<Option<u32>>,
    /// Milliseconds to read, check, hash ids, place rows, number names.
    ms: [u64; 5],
}

impl ReadFile {
    fn of(root: &Path, k: usize, path: &Path, part: &Partitioner) -> Result<ReadFile> {
        let mut ms = [0u64; 5];
        let mut t = std::time::Instant::now();
        let mut lap = |i: usize| {
            ms[i] = t.elapsed().as_millis() as u64;
            t = std::time::Instant::now();
        };
        let f = read_file(root, path, "usage", usage::COLUMNS)?;
        lap(0);
        let latest = usage::check_file(&f)?;
        lap(1);
        let ids = hash_ids(k, &f)?;
        lap(2);
        let places = places(&f, part)?;
        lap(3);
        Ok(ReadFile {
            k,
            f,
            latest,
            ids,
            places,
            ms,
        })
    }

    /// Replaces the file's name columns by their ids: spilled as 4 bytes a row instead of the
    /// string, no string to encode, compress or decode, and read back without hashing.
    fn number_names(&mut self, ids: &mut NameIds) -> Result<()> {
        let t = std::time::Instant::now();
        ids.replace_by_ids(&mut self.f)?;
        self.ms[4] = t.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Writes the rows of each of this shard's chunks to `<dir>/<chunk>/<k>.parquet`, chunks in
    /// parallel; gives back where each went.
    fn spill(
        mut self,
        dir: &Path,
        part: &Partitioner,
    ) -> Result<(ReadFile, Vec<(usize, PathBuf)>)> {
        use rayon::prelude::*;
        let t = std::time::Instant::now();
        let pieces = Pieces::of(&mut self.f.df);
        let mut keep: Vec<Vec<u32>> = vec![Vec::new(); part.chunks as usize];
        for (i, p) in self.places.iter().enumerate() {
            if let Some(chunk) = p {
                keep[*chunk as usize].push(i as u32);
            }
        }
        let k = self.k;
        let written: Vec<(usize, PathBuf)> = keep
            .into_par_iter()
            .enumerate()
            .filter(|(_, keep)| !keep.is_empty())
            .map(|(chunk, keep)| {
                let mut df = pieces.take(&keep)?;
                df.with_column(Column::new("__row".into(), keep))?;
                let out = dir.join(chunk.to_string()).join(format!("{k:06}.parquet"));
                write_spill(&out, &mut df)?;
                Ok((chunk, out))
            })
            .collect::<Result<_>>()?;
        let [read_ms, check_ms, ids_ms, places_ms, names_ms] = self.ms;
        tracing::debug!(
            file = %self.f.name,
            read_ms,
            check_ms,
            ids_ms,
            places_ms,
            names_ms,
            spill_ms = t.elapsed().as_millis() as u64,
            "usage file spilled"
        );
        Ok((self, written))
    }
}

/// The chunk of this run's shard each row's owner belongs to (`None`: another shard, or no
/// owner — a row with no owner is kept by shard 0, chunk 0, where it becomes an exception).
fn places(f: &InputFile, part: &Partitioner) -> Result<Vec<Option<u32>>> {
    let no_owner = (part.shard.index == 0).then_some(0);
    if f.is_null_typed("owner_uin")? {
        return Ok(vec![no_owner; f.df.height()]);
    }
    let mut out = Vec::with_capacity(f.df.height());
    for arr in f.series("owner_uin")?.str()?.downcast_iter() {
        // An owner's chunk is found once per owner, not hashed again on every row.
        out.extend(by_view(arr, |o| part.chunk_of(o)).map(|c| c.unwrap_or(no_owner)));
    }
    Ok(out)
}

/// A frame as read, cut at its chunks (one per row group read), to gather rows from.
///
/// polars gathers a string column of several chunks value by value into new buffers, but a
/// one-chunk column by copying its 16-byte views only (the strings stay where they are): so
/// rows are gathered from each chunk on its own and the pieces stacked.
struct Pieces {
    /// Each chunk with its first row.
    pieces: Vec<(u32, DataFrame)>,
    /// No rows, the frame's columns.
    empty: DataFrame,
}

impl Pieces {
    fn of(df: &mut DataFrame) -> Pieces {
        let mut at = 0u32;
        let empty = df.clear();
        let pieces = df
            .split_chunks()
            .map(|piece| {
                let start = at;
                at += piece.height() as u32;
                (start, piece)
            })
            .collect();
        Pieces { pieces, empty }
    }

    /// Rows `rows` (ascending, in range) in their order.
    fn take(&self, rows: &[u32]) -> Result<DataFrame> {
        let mut out: Option<DataFrame> = None;
        let mut rest = rows;
        for (start, piece) in &self.pieces {
            let end = start + piece.height() as u32;
            let n = rest.partition_point(|&r| r < end);
            let (mine, later) = rest.split_at(n);
            rest = later;
            if mine.is_empty() {
                continue;
            }
            let idx = IdxCa::from_vec("idx".into(), mine.iter().map(|r| r - start).collect());
            let part = piece.take(&idx)?;
            match &mut out {
                None => out = Some(part),
                Some(df) => {
                    df.vstack_mut_owned(part)?;
                }
            }
        }
        Ok(out.unwrap_or_else(|| self.empty.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Later occurrences of an id are its duplicates, across files and buckets, also when a
    /// bucket's region is full and spills into its overflow; equal hashes of different ids
    /// (forced here) are not duplicates.
    #[test]
    fn id_index_finds_later_occurrences_also_past_a_full_region() {
        // Two files of ids; "b" repeats within file 0 and in file 1, "c" once in file 1.
        let files: [Vec<&str>; 2] = [vec!["a", "b", "b"], vec!["c", "b", "a", "d"]];
        let hash = |id: &str| match id {
            // "c" and "d" collide with "a"'s hash on purpose; all sit in bucket 0.
            "c" | "d" => 7,
            "a" => 7,
            _ => 9,
        };
        let mut ix = IdIndex::with_capacity(0);
        assert_eq!(ix.room, 64);
        // Fill bucket 0's region with rows of a third file that never repeat.
        let filler: Vec<u128> = (0..64).map(|r| id_entry(1000 + r, 2, r as usize)).collect();
        let mut part = vec![Vec::new(); ID_BUCKETS];
        part[0] = filler.clone();
        ix.extend(vec![part]);
        assert_eq!(&ix.data[..64], &filler[..], "in part order");
        for (f, ids) in files.iter().enumerate() {
            let mut part = vec![Vec::new(); ID_BUCKETS];
            for (r, id) in ids.iter().enumerate() {
                let e = id_entry(hash(id), f, r);
                part[id_bucket(e)].push(e);
            }
            ix.extend(vec![part]);
        }
        assert_eq!(ix.len[0], 64);
        assert_eq!(ix.overflow[0].len(), 7, "every id past the full region");
        let want: Vec<(usize, usize)> = (0..2)
            .flat_map(|f| (0..files[f].len()).map(move |r| (f, r)))
            .collect();
        let got: Vec<(usize, usize)> = ix.overflow[0]
            .iter()
            .map(|&e| ((e >> 32) as u32 as usize, e as u32 as usize))
            .collect();
        assert_eq!(got, want, "files in order, rows in order");
        let mut dups = ix
            .duplicates(|k| {
                Ok(match files.get(k) {
                    Some(ids) => ids.iter().map(|s| Some(s.to_string())).collect(),
                    None => (0..64).map(|r| Some(format!("filler-{r}"))).collect(),
                })
            })
            .unwrap();
        dups.sort_unstable();
        assert_eq!(dups, vec![(0, 2), (1, 1), (1, 2)]);
    }

    #[test]
    fn pieces_gather_the_rows_polars_would_across_chunks() {
        let part = |from: u32, n: u32| {
            df!(
                "id" => (from..from + n).map(|i| format!("usage-{i:08}-long-enough")).collect::<Vec<_>>(),
                "n" => (from..from + n).collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let mut df = part(0, 10);
        df.vstack_mut_owned(part(10, 5)).unwrap();
        df.vstack_mut_owned(part(15, 7)).unwrap();
        assert_eq!(df.first_col_n_chunks(), 3);
        let whole = df.clone();
        let pieces = Pieces::of(&mut df);
        for rows in [
            vec![],
            vec![0],
            vec![3, 9, 10, 14, 15, 21],
            vec![11, 12],
            (0..22).collect(),
        ] {
            let want = whole
                .take(&IdxCa::from_vec("idx".into(), rows.clone()))
                .unwrap();
            let got = pieces.take(&rows).unwrap();
            assert!(got.equals(&want), "rows {rows:?}: {got} vs {want}");
            assert_eq!(got.schema(), want.schema());
        }
    }
}
