//! Reading a written output back (for `diff` and `export`): every file of a table into one
//! frame, and columns as exact values (decimals as `Decimal`, never floats).
//!
//! Invariant: a table read whole has the columns of its contract, including the one that lives
//! in its path only (`bills.month`, from `month=YYYY-MM/`), in front as before.

use crate::calendar::{format_local, Ts};
use crate::error::{Error, Result};
use crate::money::from_mantissa;
use polars::prelude::*;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

/// Checks that `out` is a complete output (its `_manifest.json` exists) — a usage error if not.
pub fn check_output(out: &Path) -> Result<()> {
    if out.join("_manifest.json").is_file() {
        return Ok(());
    }
    Err(Error::NotAnOutput {
        path: out.to_path_buf(),
        message: "no _manifest.json (not a complete reckon output)".into(),
    })
}

/// One file of an output table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableFile {
    /// Its partition directory under the table (`month=2024-05`), or `""`.
    pub partition: String,
    /// Its file name (`part-000-0003.parquet`): the same for every table of one chunk.
    pub name: String,
    pub path: PathBuf,
}

/// The Parquet files of `<out>/<table>`, sorted by path; `None` when the table directory is
/// absent.
pub fn table_files(out: &Path, table: &str) -> Result<Option<Vec<TableFile>>> {
    let dir = out.join(table);
    if !dir.is_dir() {
        return Ok(None);
    }
    let files = crate::input::parquet_files(&dir)?
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&dir).unwrap_or(&path);
            let partition = rel
                .parent()
                .map(|p| p.to_string_lossy().to_string())
                .unwrap_or_default();
            let name = rel
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            TableFile {
                partition,
                name,
                path,
            }
        })
        .collect();
    Ok(Some(files))
}

/// Every Parquet file of `<out>/<table>` (sorted paths) in one frame, with the partition key
/// its files do not hold taken from their paths ([`read_file`]); `None` when the table
/// directory is absent. For the small tables (bills, package status): the big ones are read a
/// file at a time ([`table_files`]).
pub fn table(out: &Path, table: &str) -> Result<Option<DataFrame>> {
    let Some(files) = table_files(out, table)? else {
        return Ok(None);
    };
    let root = out.join(table);
    let key = path_key(table);
    stack_with(files.iter().map(|f| f.path.as_path()), |p| {
        read_file(&root, p, key)
    })
}

/// The column of `table` that lives in its path only: its partition column when that is also
/// the partition key's name (`bills.month`); the other tables partition by the month of an
/// instant they hold (`bill_lines.charge_start`), which is no column of theirs.
pub fn path_key(table: &str) -> Option<&'static str> {
    super::TABLES
        .iter()
        .find(|d| d.name == table)
        .and_then(|d| d.partition_by)
        .filter(|c| *c == "month")
}

/// One file of the table directory `root`, with the Hive partition key `key` of its path
/// (`month=2024-05`) as a string column in front when the file does not hold it: partition
/// columns live in the path only (docs/contract.md, Partitions), and reckon's readers still
/// see `bills.month`.
pub fn read_file(root: &Path, path: &Path, key: Option<&str>) -> Result<DataFrame> {
    let mut df = crate::input::read_parquet(path)?;
    let Some(key) = key.filter(|k| !df.schema().contains(k)) else {
        return Ok(df);
    };
    let hive = crate::input::hive_values(root, path);
    if let Some((_, value)) = hive.into_iter().find(|(k, _)| k == key) {
        let col = Column::new(key.into(), vec![value; df.height()]);
        df.insert_column(0, col)?;
    }
    Ok(df)
}

/// The Parquet files `paths` read and stacked in order into one frame; `None` for no file.
pub fn stack<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<Option<DataFrame>> {
    stack_with(paths, crate::input::read_parquet)
}

/// The files `paths`, each read by `read`, stacked in order; `None` for no file.
fn stack_with<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
    read: impl Fn(&Path) -> Result<DataFrame>,
) -> Result<Option<DataFrame>> {
    let mut acc: Option<DataFrame> = None;
    for path in paths {
        let df = read(path)?;
        acc = Some(match acc {
            None => df,
            Some(mut a) => {
                a.vstack_mut(&df).map_err(|e| Error::Parquet {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
                a
            }
        });
    }
    Ok(acc)
}

fn series<'a>(df: &'a DataFrame, col: &str) -> Result<&'a Series> {
    Ok(df.column(col)?.as_materialized_series())
}

/// A column as text: decimals exact at their scale, instants as UTC+8 wall-clock text.
pub fn text(df: &DataFrame, col: &str) -> Result<Vec<Option<String>>> {
    let s = series(df, col)?;
    Ok(match s.dtype() {
        DataType::Decimal(_, _) => decimals(df, col)?
            .into_iter()
            .map(|d| d.map(|d| d.to_string()))
            .collect(),
        DataType::Datetime(_, _) => instants(df, col)?
            .into_iter()
            .map(|t| t.map(format_local))
            .collect(),
        DataType::String => s.str()?.iter().map(|v| v.map(String::from)).collect(),
        DataType::Null => vec![None; s.len()],
        _ => (0..s.len())
            .map(|i| {
                s.get(i)
                    .map(|v| (!v.is_null()).then(|| v.to_string()))
                    .map_err(Error::from)
            })
            .collect::<Result<_>>()?,
    })
}

/// A decimal column as exact `Decimal`s.
pub fn decimals(df: &DataFrame, col: &str) -> Result<Vec<Option<Decimal>>> {
    let s = series(df, col)?;
    if s.dtype() == &DataType::Null {
        return Ok(vec![None; s.len()]);
    }
    let ca = s.decimal()?;
    let scale = ca.scale() as u32;
    ca.physical()
        .iter()
        .enumerate()
        .map(|(row, m)| match m {
            None => Ok(None),
            Some(m) => from_mantissa(m, scale)
                .map(Some)
                .ok_or_else(|| Error::OutOfRange {
                    column: col.to_string(),
                    row,
                    value: format!("{m}e-{scale}"),
                }),
        })
        .collect()
}

/// A timestamp column as instants (µs UTC).
pub fn instants(df: &DataFrame, col: &str) -> Result<Vec<Option<Ts>>> {
    let s = series(df, col)?;
    if s.dtype() == &DataType::Null {
        return Ok(vec![None; s.len()]);
    }
    let ca = s.datetime()?;
    let f: fn(i64) -> i64 = match ca.time_unit() {
        TimeUnit::Nanoseconds => |v| v.div_euclid(1000),
        TimeUnit::Microseconds => |v| v,
        TimeUnit::Milliseconds => |v| v * 1000,
    };
    Ok(ca.physical().iter().map(|v| v.map(f)).collect())
}

/// A string column.
pub fn strings(df: &DataFrame, col: &str) -> Result<Vec<Option<String>>> {
    let s = series(df, col)?;
    if s.dtype() == &DataType::Null {
        return Ok(vec![None; s.len()]);
    }
    Ok(s.str()?.iter().map(|v| v.map(String::from)).collect())
}

/// An integer column (int32 or int64).
pub fn ints(df: &DataFrame, col: &str) -> Result<Vec<Option<i64>>> {
    let s = series(df, col)?;
    Ok(match s.dtype() {
        DataType::Null => vec![None; s.len()],
        DataType::Int32 => s.i32()?.iter().map(|v| v.map(i64::from)).collect(),
        _ => s.i64()?.iter().collect(),
    })
}

/// The columns `cols` of one Parquet file of an output table (no partition key added: for the
/// tables whose files hold every column they are read for, such as `bill_lines` and
/// `exceptions`).
pub fn read_columns(path: &Path, cols: &[&str]) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file)
        .with_columns(Some(cols.iter().map(|c| c.to_string()).collect()))
        .finish()
        .map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}
