//! Writing the output tables of docs/contract.md.
//!
//! Invariants:
//! - Every table is written, even when empty, with its full schema.
//! - Rows are put in the table's documented total order (see `tables`) before writing.
//! - Partitioned tables go to `<out>/<table>/month=YYYY-MM/part-<shard>-<chunk>.parquet` (the
//!   UTC+8 month of the table's partition column); unpartitioned ones to
//!   `<out>/<table>/part-<shard>-<chunk>.parquet`. A run processes its accounts in chunks (see
//!   `shard`); each chunk writes its own file, so an account's rows are all in one file and a
//!   file's rows are in the table's total order. A table with no rows is written as one empty
//!   file (in the as-of month's partition when partitioned).
//! - Money and quantities are Decimal128(38, s); instants are UTC microsecond timestamps.
//! - Files are written by polars' writer (strings dictionary-encoded unless mostly distinct,
//!   zstd, statistics: `crate::parquet`).
//! - No wall clock reaches a file: identical inputs give byte-identical files.

pub mod manifest;
pub mod merge;
pub mod pieces;
pub mod publish;
pub mod read;
pub mod stage;
pub mod tables;

pub use crate::columns::{
    bool_col, dec_col, frame, i32_col, i64_col, narrow_dec_col, str_col, ts_col,
};
pub use crate::parquet::{write_spill, ROW_GROUP};
pub use pieces::{
    decimals_of, instants_of, ints_of, names_of, par_pieces, pieces_frame, repeated_col,
    strings_of, Piece, PieceOf,
};
pub use tables::TABLES;

use crate::calendar::Month;
use crate::error::Result;
use crate::parquet::{row_groups, write_file, write_frames, Pages};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Writes one frame as an output file (zstd, statistics; see [`crate::parquet`]).
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_file(Pages::Output, path, df)
}

/// What was written for one table: rows in all, rows per partition (none for unpartitioned
/// tables), and the files.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Written {
    pub rows: u64,
    pub partitions: BTreeMap<String, u64>,
    pub files: Vec<String>,
}

impl Written {
    /// Adds `other`'s rows, in total and per partition (its files are the caller's to add).
    pub fn add_rows(&mut self, other: &Written) {
        self.rows += other.rows;
        for (p, r) in &other.partitions {
            *self.partitions.entry(p.clone()).or_default() += r;
        }
    }
}

/// One output table of docs/contract.md: what the writers, the pipeline, diff, export and tests
/// need to know of it. [`TABLES`] lists every one.
pub struct TableDef {
    pub name: &'static str,
    /// The column whose UTC+8 month partitions the table (`month=YYYY-MM/`), if partitioned;
    /// a column named like the key (`bills.month`) is in the path only (`read::path_key`).
    pub partition_by: Option<&'static str>,
    /// The columns of its total order, most significant first (the last ones are unique).
    pub sort_key: &'static [&'static str],
    /// Its money columns (Decimal128, compared and summed by value).
    pub money: &'static [&'static str],
    /// The table's columns, as every file of it has them.
    pub schema: fn() -> Result<Schema>,
    /// After the last chunk: writes the table empty, with its schema, if no chunk wrote a row.
    pub finish: fn(&Path, Month, &str, &mut Written) -> Result<()>,
}

impl TableDef {
    /// The definition of `T`'s table; `partition_by` must agree with `T::PARTITIONED` (checked
    /// when the constant is built).
    pub const fn of<T: Table>(
        partition_by: Option<&'static str>,
        sort_key: &'static [&'static str],
        money: &'static [&'static str],
    ) -> TableDef {
        assert!(partition_by.is_some() == T::PARTITIONED);
        TableDef {
            name: T::NAME,
            partition_by,
            sort_key,
            money,
            schema: schema_of::<T>,
            finish: finish_table::<T>,
        }
    }
}

/// An output table's rows: their total order and columns.
pub trait Table: Sized + Send + Sync {
    const NAME: &'static str;
    const PARTITIONED: bool;
    /// The Hive key of the month partitions (`month=YYYY-MM/`).
    const PARTITION_KEY: &'static str = "month";
    /// The month partition of a row, or `None` for unpartitioned tables.
    fn month(&self) -> Option<Month>;
    /// The documented total order.
    fn sort_key_cmp(a: &Self, b: &Self) -> std::cmp::Ordering;
    fn to_frame(rows: &[&Self]) -> Result<DataFrame>;
}

/// [`TableDef::schema`] of a table.
pub fn schema_of<T: Table>() -> Result<Schema> {
    Ok(T::to_frame(&[])?.schema().as_ref().clone())
}

/// The file name of one shard's chunk of a table: `part-<shard>-<chunk>.parquet`. Rows of one
/// account never span two files of a partition; inside a file, rows are in the total order.
pub fn part_name(shard: u32, chunk: u32) -> String {
    format!("part-{shard:03}-{chunk:04}.parquet")
}

/// Sorts `rows` into their total order and writes them as `file` in each month partition they
/// touch (or under the table directory when it is not partitioned). Nothing is written for no
/// rows: `finish_table` writes the schema of a table that stayed empty. Gives `rows` back
/// emptied, its memory kept for the next chunk (see [`crate::buffers`]).
pub fn write_rows<T: Table>(
    out: &Path,
    rows: Vec<T>,
    file: &str,
    written: &mut Written,
) -> Result<Vec<T>> {
    write_rows_where(out, rows, file, written, |_| true)
}

/// [`write_rows`] for the rows that pass `keep` only; the others are dropped with the rest.
/// (The pipeline's detail tables hold the window's rows: filtered here, on the writer's
/// thread, as the rows are ordered, instead of moved together before they are handed over.)
pub fn write_rows_where<T: Table>(
    out: &Path,
    mut rows: Vec<T>,
    file: &str,
    written: &mut Written,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>> {
    // Sort references, not the rows: a bill line is ~220 bytes, a reference 8. Rows come in a
    // few long sorted runs (a chunk's usage lines and draws are made in usage order, the other
    // lines appended), which the standard stable sort finds and merges: about two comparisons
    // a row, where rayon's parallel merge sort cuts the runs into blocks of 2,000 and merges
    // them back level by level (ten or so comparisons a row).
    let mut order: Vec<&T> = rows.iter().filter(|r| keep(r)).collect();
    if !order.is_empty() {
        order.sort_by(|a, b| T::sort_key_cmp(a, b));
        write_sorted(out, order, file, written)?;
    }
    rows.clear();
    Ok(rows)
}

fn write_sorted<T: Table>(
    out: &Path,
    order: Vec<&T>,
    file: &str,
    written: &mut Written,
) -> Result<()> {
    let dir = out.join(T::NAME);
    if !T::PARTITIONED {
        return emit(out, &dir.join(file), None, &order, written);
    }
    // Stable partition of the references: the total order holds inside each month.
    let mut by_month: BTreeMap<Month, Vec<&T>> = BTreeMap::new();
    for r in order {
        by_month
            .entry(r.month().expect("partitioned"))
            .or_default()
            .push(r);
    }
    for (m, chunk) in by_month {
        let key = format!("{}={m}", T::PARTITION_KEY);
        emit(out, &dir.join(&key).join(file), Some(key), &chunk, written)?;
    }
    Ok(())
}

/// Writes one file of `rows` (already in order) and records it, under its partition `key`
/// (`month=YYYY-MM`) when the table is partitioned.
fn emit<T: Table>(
    out: &Path,
    path: &Path,
    key: Option<String>,
    rows: &[&T],
    written: &mut Written,
) -> Result<()> {
    // One row group's frame at a time: the file's frame is never whole in memory.
    let schema = schema_of::<T>()?;
    let groups = row_groups(rows.len()).map(|r| T::to_frame(&rows[r]));
    write_frames(Pages::Output, path, &schema, groups)?;
    written.rows += rows.len() as u64;
    if let Some(key) = key {
        *written.partitions.entry(key).or_default() += rows.len() as u64;
    }
    written
        .files
        .push(path.strip_prefix(out).unwrap_or(path).display().to_string());
    Ok(())
}

/// After the last chunk: a table with no rows at all is still written, empty, with its schema
/// (in the as-of month's partition when partitioned), so readers never guess.
pub fn finish_table<T: Table>(
    out: &Path,
    as_of_month: Month,
    file: &str,
    written: &mut Written,
) -> Result<()> {
    if !written.files.is_empty() {
        return Ok(());
    }
    let dir = out.join(T::NAME);
    let (path, key) = if T::PARTITIONED {
        let key = format!("{}={as_of_month}", T::PARTITION_KEY);
        (dir.join(&key).join(file), Some(key))
    } else {
        (dir.join(file), None)
    };
    emit::<T>(out, &path, key, &[], written)
}
