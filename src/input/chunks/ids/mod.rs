//! The index of usage ids that finds the rows whose `usage_id` appeared on an earlier row of
//! the whole input, whichever shard or chunk they fall in.
//!
//! The pass over whole files records a 64-bit hash, file and row of every id (16 bytes a row)
//! in buckets by hash, kept in memory up to a chunk's rows (`memory`) and written to the run's
//! private directory beyond (`disk`), so the check is bounded by a chunk, not by the input.
//! Each bucket is then sorted alone, equal hashes compared as strings, and every occurrence
//! after the first (in file and row order) is a duplicate.
//!
//! Invariant: the duplicates found do not depend on the number of buckets, shards or chunks.

mod disk;
mod memory;

use super::super::{read_file, usage, Digest, InputFile};
use crate::error::{Error, Result};
use disk::OnDisk;
use memory::InMemory;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// `(hash of usage_id, file index, row)` of every row with an id, packed in a `u128` in that
/// order (so sorting the numbers sorts by hash), in buckets by the hash's top bits. Equal ids
/// have equal hashes, so they share a bucket, and each bucket is checked alone: sorted, rows
/// of one hash are candidates, candidates are compared as strings.
///
/// Memory is bounded by a bucket per thread, not by the input: up to `index_rows` ids (a
/// chunk's rows) the buckets are regions of one allocation ([`InMemory`]); beyond, each bucket
/// is a file of its own in the run's temporary directory ([`OnDisk`], about `index_rows` ids a
/// bucket), appended to file by file and read back one bucket per thread at the end. (In memory,
/// the index holds 16 bytes for every row of the input: most of a large run's peak.)
pub(super) enum IdIndex {
    InMemory(InMemory),
    OnDisk(OnDisk),
}

/// Buckets of the index in memory (a power of two). Few: each region's growing end sits in a
/// transparent huge page of its own (2 MiB, see `main.rs`), so every bucket more raises the
/// run's peak.
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
    pub(super) fn new(rows: usize, index_rows: usize, dir: Option<&Path>) -> Result<IdIndex> {
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

    pub(super) fn buckets(&self) -> usize {
        match self {
            IdIndex::InMemory(_) => ID_BUCKETS,
            IdIndex::OnDisk(d) => d.files.len(),
        }
    }

    /// Adds the entries of [`hash_ids`] (made for [`IdIndex::buckets`] buckets).
    pub(super) fn extend(&mut self, parts: IdParts) -> Result<()> {
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
    pub(super) fn duplicates(
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

/// A file's index entries: per row group, per bucket.
pub(super) type IdParts = Vec<Vec<Vec<u128>>>;

/// The index entries of file number `file` in `buckets` buckets, its row groups hashed in
/// parallel.
pub(super) fn hash_ids(file: usize, f: &InputFile, buckets: usize) -> Result<IdParts> {
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

/// The `usage_id` column of a usage file, read again; its bytes must be those read first
/// (`first`), or the run stops: the file changed while the run read it.
pub(super) fn usage_ids_of(
    root: &Path,
    path: &Path,
    first: Option<&Digest>,
) -> Result<(PathBuf, Vec<Option<String>>)> {
    let f = read_file(root, path, "usage", &usage::COLUMNS[..1])?;
    if let (Some(first), Some(now)) = (first, &f.digest) {
        if first != now {
            return Err(changed(path, first, now));
        }
    }
    strings(&f)
}

/// The error of an input file whose bytes differ between two reads of one run.
pub(crate) fn changed(path: &Path, first: &Digest, now: &Digest) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        message: format!(
            "the file changed while the run read it (sha256 {} of {} bytes when first read, \
             {} of {} bytes now): rerun once it is complete",
            first.sha256, first.bytes, now.sha256, now.bytes
        ),
    }
}

/// The path and `usage_id` column of a file as read.
pub(super) fn strings(f: &InputFile) -> Result<(PathBuf, Vec<Option<String>>)> {
    let ids = f
        .strs("usage_id")?
        .into_iter()
        .map(|s| s.map(str::to_string))
        .collect();
    Ok((f.path.clone(), ids))
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

    /// A usage file read again for its ids must be the bytes read first, or the run stops:
    /// the file changed while the run read it (issue 37, defect 4).
    #[test]
    fn ids_read_again_from_a_changed_file_stop_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("usage");
        let path = root.join("part-0.parquet");
        let write = |ids: &[&str]| {
            let mut df = polars::df!("usage_id" => ids).unwrap();
            crate::parquet::write_file(crate::parquet::Pages::Output, &path, &mut df).unwrap();
        };
        write(&["a", "b"]);
        let first = read_file(&root, &path, "usage", &usage::COLUMNS[..1]).unwrap();
        let digest = first.digest.clone().unwrap();
        assert_eq!(
            usage_ids_of(&root, &path, Some(&digest)).unwrap().1.len(),
            2
        );
        write(&["a", "b", "c"]);
        let err = usage_ids_of(&root, &path, Some(&digest)).unwrap_err();
        assert!(
            err.to_string().contains("changed while the run read it"),
            "{err}"
        );
    }
}
