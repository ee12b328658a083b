//! Writing Parquet files with polars' public writer: the output tables and the run's private
//! spill files; and [`map_files`], the parallel loop over files that read or write Parquet.
//!
//! Invariants: a file's bytes depend only on the frames given (not on the number of threads,
//! not on the wall clock); every file has at least its schema, so an empty table still reads
//! with its columns; row groups hold at most [`ROW_GROUP`] rows. A loop over files runs on
//! plain threads, never as a rayon parallel iterator (see [`map_files`]).

use crate::error::{Error, Result};
use polars::prelude::*;
use std::io::Write as _;
use std::path::Path;

/// Rows per row group of every file reckon writes (polars' own default): readers can prune and
/// parallelize by row group, and a writer holds one row group's frame at a time, not the file's.
pub const ROW_GROUP: usize = 512 * 512;

/// The zstd level of output files: level 1 writes markedly faster than zstd's default 3 for
/// files barely larger, and reads back as fast (`bench/HISTORY.md` has the figures).
const OUTPUT_ZSTD_LEVEL: i32 = 1;

/// Maps `op` over `items` on plain threads, as many as the current rayon pool has workers (the
/// run's `--threads`), each taking the next item from a shared counter; results come back in
/// item order, so what a caller makes of them does not depend on the number of threads.
///
/// Each item reads or writes Parquet, and polars runs that work on a thread pool of its own. A
/// rayon worker of another pool that calls polars waits for it by stealing work from its own
/// pool: the next item of the same loop, which calls polars again, and so on, one stack frame
/// set per file in flight, until the stack overflows (1,500 small usage files in a chunked
/// run did, issue 37, defect 5). A plain thread waits for polars by blocking, so the depth
/// stays one file. With one worker or one item the loop runs on the calling thread.
pub fn map_files<T: Sync, R: Send>(items: &[T], op: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = rayon::current_num_threads().min(items.len());
    if threads <= 1 {
        return items.iter().map(op).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, op(item)));
        }
        done
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// How a file's pages are compressed and described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// Output tables: zstd at [`OUTPUT_ZSTD_LEVEL`], statistics for readers' pruning.
    Output,
    /// The usage spill, read back once by this run: LZ4, no statistics.
    Spill,
}

/// Writes one Parquet file from frames of one schema, one row group per non-empty frame
/// (callers cut them at [`ROW_GROUP`] rows).
pub fn write_frames(
    pages: Pages,
    path: &Path,
    schema: &Schema,
    frames: impl Iterator<Item = Result<DataFrame>>,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let output = |e: PolarsError| Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let (compression, statistics) = match pages {
        Pages::Output => (
            ParquetCompression::Zstd(Some(zstd_level(OUTPUT_ZSTD_LEVEL).map_err(output)?)),
            StatisticsOptions::default(),
        ),
        Pages::Spill => (ParquetCompression::Lz4Raw, StatisticsOptions::empty()),
    };
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut sink = std::io::BufWriter::new(Recording { file, error: None });
    // polars reports a failed write in its own words ("transport error"): the file system's
    // error, when there is one, is what the user needs (a full disk, a read-only file system).
    let mut frame_error = None;
    let written = (|| -> PolarsResult<()> {
        let mut writer = ParquetWriter::new(&mut sink)
            .with_compression(compression)
            .with_statistics(statistics)
            .batched(schema)?;
        for df in frames {
            let mut df = match df {
                Ok(df) => df,
                Err(e) => {
                    frame_error = Some(e);
                    return Ok(());
                }
            };
            if df.height() == 0 {
                continue; // no row group for no rows: the footer still holds the schema
            }
            df.rechunk_mut_par();
            writer.write_batch(&df)?;
        }
        writer.finish()?;
        Ok(())
    })();
    if let Some(e) = frame_error {
        return Err(e);
    }
    let flushed = written.and_then(|()| sink.flush().map_err(PolarsError::from));
    match (flushed, sink.get_mut().error.take()) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(io)) => Err(Error::io(path, io)),
        (Err(e), None) => Err(output(e)),
    }
}

/// A file that keeps the first error of a write to it.
struct Recording {
    file: std::fs::File,
    error: Option<std::io::Error>,
}

impl std::io::Write for Recording {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf).inspect_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().inspect_err(|e| self.keep(e))
    }
}

impl Recording {
    fn keep(&mut self, e: &std::io::Error) {
        if self.error.is_none() {
            self.error = Some(match e.raw_os_error() {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::new(e.kind(), e.to_string()),
            });
        }
    }
}

/// polars takes the zstd level as its own type, which it exports through `polars_utils`.
fn zstd_level(level: i32) -> PolarsResult<polars::polars_utils::compression::ZstdLevel> {
    polars::polars_utils::compression::ZstdLevel::try_new(level)
}

/// The rows of each row group of a `len`-row file: at least one group (empty for no rows, so
/// an empty table still gets its schema written).
pub fn row_groups(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let n = len.div_ceil(ROW_GROUP).max(1);
    (0..n).map(move |k| k * ROW_GROUP..((k + 1) * ROW_GROUP).min(len))
}

/// Writes one frame as a file of [`ROW_GROUP`]-row row groups.
pub fn write_file(pages: Pages, path: &Path, df: &mut DataFrame) -> Result<()> {
    df.rechunk_mut_par();
    let slices = row_groups(df.height()).map(|r| Ok(df.slice(r.start as i64, r.len())));
    write_frames(pages, path, df.schema(), slices)
}

/// Writes a spill file (the usage of one chunk from one input file), read back once by this
/// run (see [`Pages::Spill`]).
pub fn write_spill(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_file(Pages::Spill, path, df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_files_gives_results_in_item_order_with_any_number_of_threads() {
        let items: Vec<u32> = (0..1000).collect();
        let want: Vec<u64> = items.iter().map(|&i| u64::from(i) * 3).collect();
        for n in [1, 2, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap();
            let got = pool.install(|| map_files(&items, |&i| u64::from(i) * 3));
            assert_eq!(got, want, "{n} threads");
        }
        assert!(map_files(&[] as &[u32], |&i| i).is_empty());
    }

    #[test]
    fn row_groups_cover_every_row_once_and_an_empty_file_has_one() {
        assert_eq!(row_groups(0).collect::<Vec<_>>(), vec![0..0]);
        assert_eq!(row_groups(5).collect::<Vec<_>>(), vec![0..5]);
        let n = 2 * ROW_GROUP + 3;
        let groups: Vec<_> = row_groups(n).collect();
        assert_eq!(
            groups,
            vec![0..ROW_GROUP, ROW_GROUP..2 * ROW_GROUP, 2 * ROW_GROUP..n]
        );
    }

    #[test]
    fn a_written_frame_reads_back_the_same_with_either_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mut df = polars::df!("a" => [1i64, 2, 3], "s" => ["x", "y", "x"]).unwrap();
        for (pages, name) in [(Pages::Output, "o.parquet"), (Pages::Spill, "s.parquet")] {
            let path = dir.path().join(name);
            write_file(pages, &path, &mut df).unwrap();
            let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
                .finish()
                .unwrap();
            assert!(back.equals(&df), "{pages:?}");
        }
    }
}
