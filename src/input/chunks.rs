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
//! pass over whole files records a 64-bit hash, file and row of every id (16 bytes a row) in
//! buckets by hash, kept in memory up to a chunk's rows and written to the private directory
//! beyond (`IdIndex`), so this check too is bounded by a chunk, not by the input; each bucket
//! is then sorted alone, equal hashes compared as strings, and every occurrence after the first
//! (in file and row order) is a duplicate.
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
    /// Several chunks: usage is spilled per chunk.
    chunked: bool,
    /// Per chunk: the spilled files and the input file each came from.
    spilled: Vec<Vec<(PathBuf, String)>>,
    /// What the ids of the spilled name columns stand for.
    name_ids: Arc<NameIds>,
    ids: IdIndex,
    /// Rows (by input file name, original row) whose `usage_id` appeared on an earlier row.
    pub duplicates: HashMap<String, HashSet<u32>>,
    /// The run's private temporary directory, when it spills chunks or the id index. Last:
    /// fields drop in order, so the index's files are closed before it is removed.
    tmp: Option<tempfile::TempDir>,
}

/// `(hash of usage_id, file index, row)` of every row with an id, packed in a `u128` in that
/// order (so sorting the numbers sorts by hash), in buckets by the hash's top bits. Equal ids
/// have equal hashes, so they share a bucket, and each bucket is checked alone: sorted, rows
/// of one hash are candidates, candidates are compared as strings.
///
/// Memory is bounded by a bucket per thread, not by the input: up to `index_rows` ids (a
/// chunk's rows) the buckets are regions of one allocation ([`InMemory`]); beyond, each bucket
/// is a file of its own in the run's temporary directory ([`OnDisk`], about `index_rows` ids a
/// bucket), appended to file by file and read back one bucket per thread at the end. (Kept in memory,
/// the index held 16 bytes for every row of the input: 1.8 GB of the 2.93 GB peak of a
/// 114.6M-row run.)
enum IdIndex {
    InMemory(InMemory),
    OnDisk(OnDisk),
}

/// Buckets of the index in memory (a power of two). Few: each region's growing end sits in a
/// transparent huge page of its own (2 MiB, see `main.rs`), so 256 buckets held up to 0.5 GB
/// more (measured on 116.6M rows: 3.0 GB peak while loading against 2.72 GB; 16: 2.72 GB).
const ID_BUCKETS: usize = 16;

/// Buckets of an index on disk at the most: each is a file open for the whole load (well under
/// the usual limit of 1,024 open files), so a tiny `--chunk-rows` gives bigger buckets, not
/// more files (at 256, a billion rows make buckets of 3.9M ids, 62 MB each).
const MAX_DISK_BUCKETS: usize = 256;

fn id_entry(hash: u64, file: usize, row: usize) -> u128 {
    (u128::from(hash) << 64) | ((file as u128) << 32) | row as u128
}

/// The bucket of an entry among `buckets` (a power of two, at least 2).
fn id_bucket(entry: u128, buckets: usize) -> usize {
    debug_assert!(buckets >= 2 && buckets.is_power_of_two());
    (entry >> (128 - buckets.trailing_zeros())) as usize
}

/// An index in memory with room for a few ids per bucket (more go to the overflow): every
/// index has its buckets, so entries can be added to any.
impl Default for IdIndex {
    fn default() -> IdIndex {
        IdIndex::InMemory(InMemory::with_capacity(0))
    }
}

impl IdIndex {
    /// An index for `rows` ids: in memory up to `index_rows`, else on disk under `dir` (when
    /// there is no `dir`, in memory whatever the size).
    fn new(rows: usize, index_rows: usize, dir: Option<&Path>) -> Result<IdIndex> {
        match dir {
            Some(dir) if rows > index_rows => Ok(IdIndex::OnDisk(OnDisk::create(
                dir,
                rows.div_ceil(index_rows.max(1))
                    .next_power_of_two()
                    .clamp(ID_BUCKETS, MAX_DISK_BUCKETS),
            )?)),
            _ => Ok(IdIndex::InMemory(InMemory::with_capacity(rows))),
        }
    }

    fn buckets(&self) -> usize {
        match self {
            IdIndex::InMemory(_) => ID_BUCKETS,
            IdIndex::OnDisk(d) => d.files.len(),
        }
    }

    /// Adds the entries of [`hash_ids`] (made for [`IdIndex::buckets`] buckets).
    fn extend(&mut self, parts: IdParts) -> Result<()> {
        debug_assert!(parts.iter().all(|p| p.len() == self.buckets()));
        match self {
            IdIndex::InMemory(m) => {
                m.extend(parts);
                Ok(())
            }
            IdIndex::OnDisk(d) => d.extend(parts),
        }
    }

    /// Rows whose id appeared earlier; `ids_of(file)` gives a file's path and `usage_id`
    /// column. The index is emptied.
    fn duplicates(
        &mut self,
        mut ids_of: impl FnMut(usize) -> Result<(PathBuf, Vec<Option<String>>)>,
    ) -> Result<Vec<(u32, u32)>> {
        let mut cand = match std::mem::take(self) {
            IdIndex::InMemory(m) => m.candidates(),
            IdIndex::OnDisk(d) => d.candidates()?,
        };
        if cand.is_empty() {
            return Ok(Vec::new());
        }
        cand.sort_unstable();
        let mut by_id: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for g in cand.chunk_by(|a, b| a.0 == b.0) {
            let (path, col) = ids_of(g[0].0 as usize)?;
            for &(f, r) in g {
                match col.get(r as usize) {
                    Some(Some(id)) => by_id.entry(id.clone()).or_default().push((f, r)),
                    Some(None) => {}
                    // Read again, the file has fewer rows than at first: it changed meanwhile.
                    None => {
                        return Err(Error::Parquet {
                            path,
                            message: format!(
                                "row {r} is gone: the file changed while the run read it"
                            ),
                        })
                    }
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

/// `(file, row)` of the entries of one bucket that share their hash with another (the bucket
/// is sorted in place).
fn bucket_candidates(bucket: &mut [u128]) -> Vec<(u32, u32)> {
    bucket.sort_unstable();
    let mut cand = Vec::new();
    for g in bucket.chunk_by(|x, y| x >> 64 == y >> 64) {
        if g.len() > 1 {
            cand.extend(g.iter().map(|&e| ((e >> 32) as u32, e as u32)));
        }
    }
    cand
}

/// The buckets in memory, regions of one allocation, each sorted alone at the end, in
/// parallel (one parallel sort of the whole index took 0.45–0.57 s on 22.2M rows, 2.5 s on
/// 116.6M; the buckets 0.36–0.40 s and 2.2 s). Freed in one piece: jemalloc hands a block that
/// large back to the kernel at once (separate vectors stayed cached and raised the run's peak).
struct InMemory {
    /// Bucket `b` is `data[b * room..b * room + len[b]]`, then `overflow[b]`.
    data: Vec<u128>,
    room: usize,
    len: Vec<usize>,
    /// Entries of a bucket whose region is full (in practice never: see `with_capacity`).
    overflow: Vec<Vec<u128>>,
}

impl InMemory {
    /// Room for `rows` ids: hashes spread evenly, so each bucket gets its share and a margin
    /// (3 % and 64 ids: dozens of standard deviations).
    fn with_capacity(rows: usize) -> InMemory {
        let share = rows / ID_BUCKETS;
        let room = share + share / 32 + 64;
        InMemory {
            // Zeroed by the kernel, not written here.
            data: vec![0; room * ID_BUCKETS],
            room,
            len: vec![0; ID_BUCKETS],
            overflow: vec![Vec::new(); ID_BUCKETS],
        }
    }

    /// Adds entries, buckets in parallel (each bucket is its own region; its entries land in
    /// part order, as one after the other would put them). It runs for every usage file on the
    /// spilling side of the load, where it took 10–370 ms a file.
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

    fn candidates(self) -> Vec<(u32, u32)> {
        use rayon::prelude::*;
        let InMemory {
            mut data,
            room,
            len,
            overflow,
        } = self;
        data.par_chunks_mut(room)
            .zip(len)
            .zip(overflow)
            .flat_map_iter(|((region, n), over)| {
                if over.is_empty() {
                    bucket_candidates(&mut region[..n])
                } else {
                    let mut joined = region[..n].to_vec();
                    joined.extend(over);
                    bucket_candidates(&mut joined)
                }
            })
            .collect()
    }
}

/// The buckets on disk: bucket `b` is the file `<dir>/<b:05>.ids`, its entries as 16
/// little-endian bytes each, in the order they were added.
struct OnDisk {
    dir: PathBuf,
    files: Vec<std::io::BufWriter<std::fs::File>>,
}

impl OnDisk {
    fn create(dir: &Path, buckets: usize) -> Result<OnDisk> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let files = (0..buckets)
            .map(|b| {
                let path = Self::path(dir, b);
                std::fs::File::create(&path)
                    .map(std::io::BufWriter::new)
                    .map_err(|e| Error::io(&path, e))
            })
            .collect::<Result<_>>()?;
        Ok(OnDisk {
            dir: dir.to_path_buf(),
            files,
        })
    }

    fn path(dir: &Path, bucket: usize) -> PathBuf {
        dir.join(format!("{bucket:05}.ids"))
    }

    /// Appends entries to their buckets' files, buckets in parallel.
    fn extend(&mut self, parts: IdParts) -> Result<()> {
        use rayon::prelude::*;
        use std::io::Write;
        let dir = &self.dir;
        self.files
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(b, file)| {
                for entries in parts.iter().filter_map(|part| part.get(b)) {
                    for e in entries {
                        file.write_all(&e.to_le_bytes())
                            .map_err(|err| Error::io(Self::path(dir, b), err))?;
                    }
                }
                Ok(())
            })
    }

    /// Each bucket read back, checked and removed, one bucket per thread at a time.
    fn candidates(self) -> Result<Vec<(u32, u32)>> {
        use rayon::prelude::*;
        let OnDisk { dir, files } = self;
        let buckets = files.len();
        for (b, file) in files.into_iter().enumerate() {
            file.into_inner()
                .map_err(|e| Error::io(Self::path(&dir, b), e.into_error()))?;
        }
        // Collected before the first error is taken, so it is the lowest bucket's whatever
        // the threads did.
        let cands: Vec<Result<Vec<(u32, u32)>>> = (0..buckets)
            .into_par_iter()
            .map(|b| {
                use std::io::Read;
                let path = Self::path(&dir, b);
                let io = |e| Error::io(&path, e);
                let file = std::fs::File::open(&path).map_err(io)?;
                let n = file.metadata().map_err(io)?.len() / 16;
                // Read straight into the entries (no copy of the file's bytes beside them).
                let mut r = std::io::BufReader::new(file);
                let mut bucket = Vec::with_capacity(n as usize);
                let mut e = [0u8; 16];
                for _ in 0..n {
                    r.read_exact(&mut e).map_err(io)?;
                    bucket.push(u128::from_le_bytes(e));
                }
                drop(r);
                std::fs::remove_file(&path).map_err(io)?;
                Ok(bucket_candidates(&mut bucket))
            })
            .collect();
        let mut out = Vec::new();
        for c in cands {
            out.extend(c?);
        }
        Ok(out)
    }
}

/// A file's index entries: per row group, per bucket.
type IdParts = Vec<Vec<Vec<u128>>>;

/// The index entries of file number `file` in `buckets` buckets, its row groups hashed in
/// parallel.
fn hash_ids(file: usize, f: &InputFile, buckets: usize) -> Result<IdParts> {
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
            let share = ids.len() / buckets;
            let mut part: Vec<Vec<u128>> = (0..buckets)
                .map(|_| Vec::with_capacity(share + share / 8 + 16))
                .collect();
            for (row, id) in ids.iter().enumerate() {
                if let Some(id) = id {
                    let e = id_entry(xxh3_64(id.as_bytes()), file, start + row);
                    part[id_bucket(e, buckets)].push(e);
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

/// Usage rows per owner over every usage file: what a run's chunks are balanced by
/// (`Partitioner::balance`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OwnerRows {
    /// Rows of each owner, sorted by owner.
    pub by_owner: Vec<(String, u64)>,
    /// Rows without an owner (shard 0, chunk 0 keeps them, as exceptions).
    pub no_owner: u64,
}

/// Counts [`OwnerRows`], reading only `owner_uin`, files in parallel. A file that cannot be
/// read stops the count with the error of the first such file in file order.
pub fn rows_by_owner(dir: &Path) -> Result<OwnerRows> {
    use rayon::prelude::*;
    let root = dir.join("usage");
    if !root.is_dir() {
        return Ok(OwnerRows::default());
    }
    // Per file: its owners' rows (in no order) and its rows without an owner.
    let per_file: Vec<Result<OwnerRows>> = parquet_files(&root)?
        .par_iter()
        .map(|path| {
            let f = read_file(&root, path, "usage", &usage::COLUMNS[1..2])?;
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
            for arr in f.series("owner_uin")?.str()?.downcast_iter() {
                for n in by_view(arr, |o| match number.get(o) {
                    Some(&n) => n,
                    None => {
                        number.insert(o.to_string(), number.len());
                        number.len() - 1
                    }
                })
                .flatten()
                {
                    if n >= rows.len() {
                        rows.resize(n + 1, 0);
                    }
                    rows[n] += 1;
                }
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
        })
        .collect();
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

/// The `usage_id` column of a usage file, read again.
fn usage_ids_of(root: &Path, path: &Path) -> Result<(PathBuf, Vec<Option<String>>)> {
    strings(&read_file(root, path, "usage", &usage::COLUMNS[..1])?)
}

/// The path and `usage_id` column of a file as read.
fn strings(f: &InputFile) -> Result<(PathBuf, Vec<Option<String>>)> {
    let ids = f
        .strs("usage_id")?
        .into_iter()
        .map(|s| s.map(str::to_string))
        .collect();
    Ok((f.path.clone(), ids))
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
            files,
            root,
            latest_start: None,
            tmp,
            chunked,
            spilled: Vec::new(),
            name_ids: Arc::default(),
            ids,
            duplicates: HashMap::new(),
        };
        if chunked {
            src.spill_chunks(part)?;
        }
        Ok(src)
    }

    fn spill_chunks(&mut self, part: &Partitioner) -> Result<()> {
        let tmp = match &self.tmp {
            Some(tmp) => tmp.path().to_path_buf(),
            None => unreachable!("a chunked source has its temporary directory"),
        };
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
                        r.spill(&tmp, part)
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
        self.name_ids = Arc::new(name_ids);
        let t = std::time::Instant::now();
        let (root, files) = (self.root.clone(), self.files.clone());
        let dups = ids.duplicates(|k| usage_ids_of(&root, &files[k]))?;
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
        if !self.chunked {
            // One chunk: each file read, checked whole and indexed, then cut to this shard's
            // rows at once (so memory holds the shard's rows, not every file whole).
            let buckets = self.ids.buckets();
            let mut out = Vec::with_capacity(self.files.len());
            for (k, path) in self.files.clone().into_iter().enumerate() {
                let mut f = read_file(&self.root, &path, "usage", usage::COLUMNS)?;
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
            let (root, files) = (self.root.clone(), self.files.clone());
            let dups = self.ids.duplicates(|k| match out[k].rows {
                None => strings(&out[k]),
                Some(_) => usage_ids_of(&root, &files[k]),
            })?;
            self.note_duplicates(dups);
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
    fn of(
        root: &Path,
        k: usize,
        path: &Path,
        part: &Partitioner,
        buckets: usize,
    ) -> Result<ReadFile> {
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
        let ids = hash_ids(k, &f, buckets)?;
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

    /// Two files of ids; "b" repeats within file 0 and in file 1, "a" in file 1; "c" and "d"
    /// collide with "a"'s hash on purpose (all three in one bucket) and are no duplicates.
    const FILES: [&[&str]; 2] = [&["a", "b", "b"], &["c", "b", "a", "d"]];
    const DUPLICATES: [(u32, u32); 3] = [(0, 2), (1, 1), (1, 2)];

    fn forced_hash(id: &str) -> u64 {
        match id {
            "a" | "c" | "d" => 7,
            _ => 9,
        }
    }

    /// The entries of `FILES[f]` as [`hash_ids`] hands them over, for `buckets` buckets.
    fn parts_of(f: usize, buckets: usize) -> IdParts {
        let mut part = vec![Vec::new(); buckets];
        for (r, id) in FILES[f].iter().enumerate() {
            let e = id_entry(forced_hash(id), f, r);
            part[id_bucket(e, buckets)].push(e);
        }
        vec![part]
    }

    fn ids_of(k: usize) -> Result<(PathBuf, Vec<Option<String>>)> {
        let ids = match FILES.get(k) {
            Some(ids) => ids.iter().map(|s| Some(s.to_string())).collect(),
            None => (0..64).map(|r| Some(format!("filler-{r}"))).collect(),
        };
        Ok((PathBuf::from(format!("{k}.parquet")), ids))
    }

    /// Later occurrences of an id are its duplicates, across files and buckets, also when a
    /// bucket's region is full and spills into its overflow.
    #[test]
    fn id_index_finds_later_occurrences_also_past_a_full_region() {
        let mut m = InMemory::with_capacity(0);
        assert_eq!(m.room, 64);
        // Fill bucket 0's region with rows of a third file that never repeat.
        let filler: Vec<u128> = (0..64).map(|r| id_entry(1000 + r, 2, r as usize)).collect();
        let mut part = vec![Vec::new(); ID_BUCKETS];
        part[0] = filler.clone();
        m.extend(vec![part]);
        assert_eq!(&m.data[..64], &filler[..], "in part order");
        for f in 0..FILES.len() {
            m.extend(parts_of(f, ID_BUCKETS));
        }
        assert_eq!(m.len[0], 64);
        assert_eq!(m.overflow[0].len(), 7, "every id past the full region");
        let want: Vec<(usize, usize)> = (0..2)
            .flat_map(|f| (0..FILES[f].len()).map(move |r| (f, r)))
            .collect();
        let got: Vec<(usize, usize)> = m.overflow[0]
            .iter()
            .map(|&e| ((e >> 32) as u32 as usize, e as u32 as usize))
            .collect();
        assert_eq!(got, want, "files in order, rows in order");
        let mut dups = IdIndex::InMemory(m).duplicates(ids_of).unwrap();
        dups.sort_unstable();
        assert_eq!(dups, DUPLICATES);
    }

    /// Past `index_rows`, the index is a file per bucket (a power of two of them, at least
    /// [`ID_BUCKETS`]) and finds the same duplicates; the files are gone once it has.
    #[test]
    fn id_index_on_disk_finds_what_the_one_in_memory_finds() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("ids");
        assert!(matches!(
            IdIndex::new(10, 10, Some(&at)).unwrap(),
            IdIndex::InMemory(_)
        ));
        assert!(matches!(
            IdIndex::new(1000, 10, None).unwrap(),
            IdIndex::InMemory(_)
        ));
        // (Dropped unchecked, these leave their files to the run's temporary directory.)
        let other = dir.path().join("other");
        assert_eq!(IdIndex::new(11, 10, Some(&other)).unwrap().buckets(), 16);
        assert_eq!(IdIndex::new(1000, 10, Some(&other)).unwrap().buckets(), 128);
        assert_eq!(
            IdIndex::new(1_000_000, 10, Some(&other)).unwrap().buckets(),
            MAX_DISK_BUCKETS
        );

        for buckets in [16, 128] {
            let mut ix = IdIndex::new(buckets * 10, 10, Some(&at)).unwrap();
            assert!(matches!(ix, IdIndex::OnDisk(_)));
            assert_eq!(ix.buckets(), buckets);
            // Hashes 7 and 9 land in bucket 0; one entry in every bucket as well.
            let bits = buckets.trailing_zeros();
            let spread: Vec<u128> = (0..buckets as u64)
                .map(|b| id_entry((b << (64 - bits)) | 1, 2, b as usize))
                .collect();
            let mut part = vec![Vec::new(); buckets];
            for (b, &e) in spread.iter().enumerate() {
                assert_eq!(id_bucket(e, buckets), b, "the top bits pick the bucket");
                part[b].push(e);
            }
            ix.extend(vec![part]).unwrap();
            for f in 0..FILES.len() {
                ix.extend(parts_of(f, buckets)).unwrap();
            }
            let mut dups = ix.duplicates(ids_of).unwrap();
            dups.sort_unstable();
            assert_eq!(dups, DUPLICATES, "{buckets} buckets");
            assert_eq!(
                std::fs::read_dir(&at).unwrap().count(),
                0,
                "bucket files removed"
            );
        }
    }

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
