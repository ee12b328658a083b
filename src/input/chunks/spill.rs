//! One usage file on its way to the spill: read and checked whole, its ids hashed, each row
//! placed in its chunk, its names numbered, then the rows of each chunk written to
//! `<spill>/<chunk>/<file>.parquet` with their original row numbers (`__row`).
//!
//! Invariant: rows keep their file order inside each chunk's piece.

use super::super::{by_view, read_file, usage, InputFile, NameIds};
use super::ids::{hash_ids, IdParts};
use crate::error::Result;
use crate::parquet::{map_files, write_spill};
use crate::shard::Partitioner;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// One usage file read and checked whole, on its way to the spill.
pub(super) struct ReadFile {
    pub(super) k: usize,
    pub(super) f: InputFile,
    /// Latest valid `usage_start` of the file.
    pub(super) latest: Option<usage::Latest>,
    /// The file's part of the id index.
    pub(super) ids: IdParts,
    /// Chunk of each row (`places`).
    places: Vec<Option<u32>>,
    /// Milliseconds to read, check, hash ids, place rows, number names.
    ms: [u64; 5],
}

impl ReadFile {
    pub(super) fn of(
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
    pub(super) fn number_names(&mut self, ids: &mut NameIds) -> Result<()> {
        let t = std::time::Instant::now();
        ids.replace_by_ids(&mut self.f)?;
        self.ms[4] = t.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Writes the rows of each of this shard's chunks to `<dir>/<chunk>/<k>.parquet`, chunks in
    /// parallel; gives back where each went.
    pub(super) fn spill(
        mut self,
        dir: &Path,
        part: &Partitioner,
    ) -> Result<(ReadFile, Vec<(usize, PathBuf)>)> {
        let t = std::time::Instant::now();
        let pieces = Pieces::of(&mut self.f.df);
        let mut keep: Vec<Vec<u32>> = vec![Vec::new(); part.chunks as usize];
        for (i, p) in self.places.iter().enumerate() {
            if let Some(chunk) = p {
                keep[*chunk as usize].push(i as u32);
            }
        }
        let k = self.k;
        let keep: Vec<(usize, Vec<u32>)> = keep
            .into_iter()
            .enumerate()
            .filter(|(_, keep)| !keep.is_empty())
            .collect();
        // Chunks in parallel on plain threads: each writes Parquet (`map_files`).
        let written: Vec<(usize, PathBuf)> = map_files(&keep, |(chunk, keep)| {
            let mut df = pieces.take(keep)?;
            df.with_column(Column::new("__row".into(), keep.clone()))?;
            let out = dir.join(chunk.to_string()).join(format!("{k:06}.parquet"));
            write_spill(&out, &mut df)?;
            Ok((*chunk, out))
        })
        .into_iter()
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
pub(super) fn places(f: &InputFile, part: &Partitioner) -> Result<Vec<Option<u32>>> {
    let no_owner = (part.shard.index == 0).then_some(0);
    if f.is_null_typed("owner_uin")? {
        return Ok(vec![no_owner; f.df.height()]);
    }
    // An owner's chunk is found once per owner, not hashed again on every row.
    let owners = f.series("owner_uin")?.str()?;
    let mut out = Vec::with_capacity(f.df.height());
    out.extend(by_view(owners, |o| part.chunk_of(o)).map(|c| c.unwrap_or(no_owner)));
    Ok(out)
}

/// A frame as read, cut at its chunks (one per row group read), to gather rows from.
///
/// polars gathers a string column of several chunks value by value into new buffers, but a
/// one-chunk column by copying its 16-byte views only (the strings stay where they are): so
/// rows are gathered from each chunk on its own and the pieces stacked.
pub(super) struct Pieces {
    /// Each chunk with its first row.
    pieces: Vec<(u32, DataFrame)>,
    /// No rows, the frame's columns.
    empty: DataFrame,
}

impl Pieces {
    pub(super) fn of(df: &mut DataFrame) -> Pieces {
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
    pub(super) fn take(&self, rows: &[u32]) -> Result<DataFrame> {
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
