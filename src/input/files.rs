//! The input tables as files: discovery of Parquet files (any number, optional Hive partitions
//! `key=value/`), the contract's column types, and [`InputFile`], one file with its columns
//! checked, read column by column into typed values.
//!
//! Invariants: every table's directory exists; files are read in sorted path order; a file is
//! read when its name ends in `.parquet` or `.parq` (any case), and every other entry is listed
//! as skipped with its reason (hidden `_`/`.` entries, other names), never dropped unseen; a
//! file's columns have the contract's types (a column missing from the file may come from its
//! Hive partition); every timestamp lies in the years 1 to 9999.

use super::{by_view, Interner, NameIds};
use crate::calendar::Ts;
use crate::error::{Error, Result};
use crate::name::Name;
use polars::io::mmap::MmapBytesReader;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The input tables of docs/contract.md, each a directory of Parquet files under the input
/// directory. Every one must exist (an empty directory is an empty table): a missing one is
/// [`Error::MissingTable`].
pub const TABLES: [&str; 7] = [
    "usage",
    "packages",
    "package_scope",
    "accounts",
    "payments",
    "subscriptions",
    "events",
];

/// Logical column types of docs/contract.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    /// Timestamp; any precision, of any time zone or naive (read as UTC). A zoned timestamp
    /// holds UTC instants whatever its zone (Arrow and Parquet's "adjusted to UTC"; the zone only
    /// says how to show them): a Parquet file written without Arrow's metadata, as DuckDB and
    /// Spark write them, reads as `+00:00`, another tool's may say `Asia/Shanghai`.
    Ts,
    /// Decimal128 of any precision and scale (floats are refused for money and quantities).
    Dec,
    Bool,
    /// int32 or int64.
    Int,
}

impl ColType {
    fn name(self) -> &'static str {
        match self {
            ColType::Str => "string",
            ColType::Ts => "timestamp",
            ColType::Dec => "decimal",
            ColType::Bool => "bool",
            ColType::Int => "int32/int64",
        }
    }

    fn accepts(self, dt: &DataType) -> bool {
        match (self, dt) {
            (ColType::Str, DataType::String) => true,
            (ColType::Ts, DataType::Datetime(_, _)) => true,
            (ColType::Dec, DataType::Decimal(_, _)) => true,
            (ColType::Bool, DataType::Boolean) => true,
            (ColType::Int, DataType::Int32 | DataType::Int64) => true,
            // An all-null column written without a type reads as Null: accept it for any type.
            (_, DataType::Null) => true,
            _ => false,
        }
    }
}

pub type ColSpec = (&'static str, ColType);

/// Columns the contract marks optional, by table: a file without one reads as a column of
/// nulls (docs/contract.md, the revised `events` and `subscriptions` columns).
pub const OPTIONAL_COLUMNS: &[(&str, &str)] = &[
    ("events", "price_paid"),
    ("events", "auto"),
    ("subscriptions", "elastic_unit_price"),
];

/// Size and SHA-256 of the bytes a file was read from: what the manifest records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub bytes: u64,
    pub sha256: String,
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest {
            bytes: bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }
}

/// One Parquet file of a table, with its columns checked against the contract.
pub struct InputFile {
    pub path: PathBuf,
    /// The path relative to the input directory, e.g. `usage/month=2024-01/part-0.parquet`:
    /// what row-level messages name, so they do not depend on where the input lives.
    pub name: String,
    pub df: DataFrame,
    /// Row numbers in the original file when `df` is a subset of it (a chunk of usage).
    pub rows: Option<Vec<u32>>,
    /// When columns of names hold ids instead of strings (a spilled chunk of usage): what the
    /// ids stand for.
    pub name_ids: Option<std::sync::Arc<NameIds>>,
    /// What the file's bytes were when read ([`read_file`]); `None` for a frame that was not
    /// read from an input file (a spilled chunk, a test's frame).
    pub digest: Option<Digest>,
}

/// Whether a file name is Parquet input: it ends in `.parquet` or `.parq`, in any case
/// (`part-0.PARQUET` is what some writers produce on case-insensitive file systems).
pub fn is_parquet_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".parquet") || lower.ends_with(".parq")
}

/// An entry under a table's directory that is not read, and why: listed in the log and in the
/// manifest, so that nothing is left out without a word.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub table: String,
    /// The path relative to the input directory, e.g. `usage/_SUCCESS`.
    pub path: String,
    pub reason: String,
}

/// An entry skipped by [`scan`] and why.
pub type SkippedPath = (PathBuf, &'static str);

/// Walks `root`: the Parquet files (see [`is_parquet_name`]), sorted, and every entry skipped
/// with its reason. Entries whose name starts with `.` or `_` are skipped whole, directories
/// included (the Hive convention: `_SUCCESS`, `_temporary/`, `.crc` files); so are files of
/// any other name.
pub fn scan(root: &Path) -> Result<(Vec<PathBuf>, Vec<SkippedPath>)> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let p = entry.path();
            if name.starts_with('.') || name.starts_with('_') {
                skipped.push((
                    p,
                    "hidden: its name starts with `.` or `_` (Hive convention)",
                ));
            } else if p.is_dir() {
                stack.push(p);
            } else if is_parquet_name(&name) {
                out.push(p);
            } else {
                skipped.push((p, "not a Parquet name (`.parquet` or `.parq`, any case)"));
            }
        }
    }
    out.sort();
    skipped.sort();
    Ok((out, skipped))
}

/// Every Parquet file below `root`, sorted ([`scan`]; the skipped entries are reported by
/// [`skipped_inputs`]).
pub fn parquet_files(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(scan(root)?.0)
}

/// Every entry of the input tables under `dir` that is not read, each logged as a warning:
/// what the manifest lists as `skipped_inputs`. A table directory that is missing is left to
/// the readers, which refuse it.
pub fn skipped_inputs(dir: &Path) -> Result<Vec<Skipped>> {
    let mut out = Vec::new();
    for table in TABLES {
        let root = dir.join(table);
        if !root.is_dir() {
            continue;
        }
        for (path, reason) in scan(&root)?.1 {
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            tracing::warn!(table, file = %rel, reason, "input entry skipped");
            out.push(Skipped {
                table: table.to_string(),
                path: rel,
                reason: reason.to_string(),
            });
        }
    }
    Ok(out)
}

/// Reads one whole Parquet file (every column), errors naming the file.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Hive partition values `key=value` on the path between `root` and the file.
pub fn hive_values(root: &Path, file: &Path) -> Vec<(String, String)> {
    let rel = file.strip_prefix(root).unwrap_or(file);
    rel.parent()
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| {
            let s = c.as_os_str().to_string_lossy();
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Reads and checks every file of a table; its directory must exist.
pub fn read_table(dir: &Path, table: &str, specs: &[ColSpec]) -> Result<Vec<InputFile>> {
    let root = dir.join(table);
    // Every table's directory must be there, however few rows it has (an empty directory is
    // an empty table): a table whose export did not land stops the run instead of being read
    // as empty — no payments would put accounts in arrears, no events would drop refunds.
    if !root.is_dir() {
        return Err(Error::MissingTable {
            table: table.to_string(),
            path: root,
        });
    }
    parquet_files(&root)?
        .into_iter()
        .map(|path| read_file(&root, &path, table, specs))
        .collect()
}

/// Reads one file of a table (its `specs` columns) from its bytes, read once into memory and
/// hashed ([`Digest`]): the manifest records the very bytes that were read and billed, even if
/// the file changes on disk during the run. The pages of those columns are checked against
/// their CRC-32, where the writer put one, before they are decoded (`checksums`).
pub(crate) fn read_file(
    root: &Path,
    path: &Path,
    table: &str,
    specs: &[ColSpec],
) -> Result<InputFile> {
    let bytes = bytes::Bytes::from(std::fs::read(path).map_err(|e| Error::io(path, e))?);
    let digest = Digest::of(&bytes);
    let columns: Vec<String> = specs.iter().map(|(n, _)| n.to_string()).collect();
    super::checksums::verify(path, &bytes, &columns)?;
    let mut f = read_from(root, path, table, specs, || {
        Ok(std::io::Cursor::new(&bytes[..]))
    })?;
    f.digest = Some(digest);
    Ok(f)
}

/// [`read_file`] of a few columns, reading only their pages and hashing nothing: for counts
/// made before the billed read (`chunks::rows_by_owner`).
pub(crate) fn read_columns(
    root: &Path,
    path: &Path,
    table: &str,
    specs: &[ColSpec],
) -> Result<InputFile> {
    read_from(root, path, table, specs, || {
        std::fs::File::open(path).map_err(|e| Error::io(path, e))
    })
}

/// Reads and checks `specs` columns from what `open` gives (the file's bytes, again on each
/// call); a file that does not decode is located ([`locate`]).
fn read_from<R: MmapBytesReader>(
    root: &Path,
    path: &Path,
    table: &str,
    specs: &[ColSpec],
    open: impl Fn() -> Result<R>,
) -> Result<InputFile> {
    let perr = |e: PolarsError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut reader = ParquetReader::new(open()?);
    let schema = guarded(|| reader.schema()).map_err(perr)?;
    let present: Vec<String> = specs
        .iter()
        .filter(|(n, _)| schema.contains(n))
        .map(|(n, _)| n.to_string())
        .collect();
    let read = guarded(|| reader.with_columns(Some(present.clone())).finish());
    let mut df = match read {
        Ok(df) => df,
        Err(e) => return Err(locate(path, &present, &open, e)),
    };
    let hive = hive_values(root, path);
    for (name, ty) in specs {
        match df.schema().get(name) {
            Some(DataType::Datetime(_, None)) if *ty == ColType::Ts => {
                warn_naive_timestamps(table, name, path)
            }
            Some(dt) if ty.accepts(dt) => {}
            Some(dt) => {
                return Err(Error::WrongType {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    expected: ty.name().to_string(),
                    found: dt.to_string(),
                })
            }
            None => match hive.iter().find(|(k, _)| k == name) {
                Some((_, v)) if *ty == ColType::Str => {
                    let col = Column::new((*name).into(), vec![v.as_str(); df.height()]);
                    df.with_column(col).map_err(perr)?;
                }
                _ if OPTIONAL_COLUMNS.contains(&(table, *name)) => {
                    let col = Column::full_null((*name).into(), df.height(), &DataType::Null);
                    df.with_column(col).map_err(perr)?;
                }
                _ => {
                    return Err(Error::MissingColumn {
                        path: path.to_path_buf(),
                        table: table.to_string(),
                        column: name.to_string(),
                    })
                }
            },
        }
    }
    check_instants(path, &df, specs)?;
    let name = path
        .strip_prefix(root.parent().unwrap_or(root))
        .unwrap_or(path)
        .display()
        .to_string();
    Ok(InputFile {
        path: path.to_path_buf(),
        name,
        df,
        rows: None,
        name_ids: None,
        digest: None,
    })
}

/// Runs a polars read, turning a panic on a malformed file into an error: bad input stops the
/// run with a message, never a crash.
fn guarded<T>(read: impl FnOnce() -> PolarsResult<T>) -> PolarsResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = (panic.downcast_ref::<String>().map(String::as_str))
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the reader panicked");
        Err(PolarsError::ComputeError(
            format!("malformed file: {what}").into(),
        ))
    })
}

/// The error of a file whose columns do not decode, located: the first column that fails read
/// alone, its first row group that fails, and the first row whose read fails (a read of rows
/// up to it fails, a read of the rows before does not: with a corrupt page, the page's first
/// row polars decodes). Each step reads from `open` again; a failure that only shows with
/// every column together names the file alone.
fn locate<R: MmapBytesReader>(
    path: &Path,
    columns: &[String],
    open: &impl Fn() -> Result<R>,
    error: PolarsError,
) -> Error {
    let fails = |col: &str, slice: Option<(usize, usize)>| -> Option<String> {
        let r = open().ok()?;
        let read = ParquetReader::new(r)
            .with_columns(Some(vec![col.to_string()]))
            .with_slice(slice);
        guarded(|| read.finish()).err().map(|e| e.to_string())
    };
    let Some((column, message)) = columns
        .iter()
        .find_map(|c| fails(c, None).map(|m| (c.clone(), m)))
    else {
        return Error::Parquet {
            path: path.to_path_buf(),
            message: error.to_string(),
        };
    };
    let heights: Vec<usize> = open()
        .ok()
        .and_then(|r| {
            let mut reader = ParquetReader::new(r);
            let meta = guarded(|| reader.get_metadata().cloned()).ok()?;
            Some(meta.row_groups.iter().map(|g| g.num_rows()).collect())
        })
        .unwrap_or_default();
    let mut start = 0;
    for (k, &h) in heights.iter().enumerate() {
        if h > 0 && fails(&column, Some((start, h))).is_some() {
            // The fewest rows of the group whose read fails: 1 ≤ n ≤ h.
            let (mut lo, mut hi) = (1, h);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if fails(&column, Some((start, mid))).is_some() {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return Error::Undecodable {
                path: path.to_path_buf(),
                column,
                row_group: Some((k, start..start + h)),
                row: Some(start + lo - 1),
                message,
            };
        }
        start += h;
    }
    Error::Undecodable {
        path: path.to_path_buf(),
        column,
        row_group: None,
        row: None,
        message,
    }
}

/// Logs, once per table and column in the process, that a timestamp column has no time zone
/// and is read as UTC: the contract's `ts` is UTC-adjusted, and a column of UTC+8 wall-clock
/// times written without a zone would put every instant 8 hours late, silently. (Accepted, not
/// refused: DuckDB's `TIMESTAMP` and polars' naive datetimes are how many tools write UTC.)
fn warn_naive_timestamps(table: &str, column: &str, path: &Path) {
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.insert((table.to_string(), column.to_string())) {
        tracing::warn!(
            table,
            column,
            file = %path.display(),
            "timestamps without a time zone: read as UTC instants (write them as UTC-adjusted \
             timestamps, e.g. polars `.dt.replace_time_zone(\"UTC\")`, DuckDB `TIMESTAMPTZ`)"
        );
    }
}

/// Every timestamp of `df`'s `ts` columns lies in [`MIN_TS`, `MAX_TS`] (years 1 to 9999), or
/// the file is refused naming the column, the first row outside and its value: an instant past
/// what the calendar can hold (such as `i64::MAX` for "never") would stop the run later, in the
/// middle of a rule. Bounds are checked in the column's own unit (a column's minimum and
/// maximum; nanoseconds always fit).
fn check_instants(path: &Path, df: &DataFrame, specs: &[ColSpec]) -> Result<()> {
    use crate::calendar::{MAX_TS, MIN_TS};
    for (name, ty) in specs {
        if *ty != ColType::Ts {
            continue;
        }
        let Ok(col) = df.column(name) else { continue };
        let DataType::Datetime(unit, _) = col.dtype() else {
            continue; // a column of nulls
        };
        let (lo, hi) = match unit {
            TimeUnit::Nanoseconds => continue,
            TimeUnit::Microseconds => (MIN_TS, MAX_TS),
            // The bounds rounded inwards: milliseconds whose instant is inside.
            TimeUnit::Milliseconds => ((MIN_TS + 999).div_euclid(1000), MAX_TS.div_euclid(1000)),
        };
        let values = col.as_materialized_series().datetime()?.physical();
        let inside = |v: i64| lo <= v && v <= hi;
        if values.min().is_none_or(inside) && values.max().is_none_or(inside) {
            continue;
        }
        let outside = values
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.filter(|v| !inside(*v)).map(|v| (i, v)));
        let Some((row, v)) = outside else { continue };
        return Err(Error::BadValue {
            path: path.to_path_buf(),
            column: name.to_string(),
            row,
            message: format!("timestamp {v} ({unit}) is outside the years 1 to 9999"),
        });
    }
    Ok(())
}

impl InputFile {
    /// The row number in the original file of row `i` of `df`, for messages.
    pub fn row(&self, i: usize) -> usize {
        self.rows.as_ref().map_or(i, |r| r[i] as usize)
    }

    /// Keeps the rows whose `(a, b)` values are one of `pairs` (nulls match nothing),
    /// remembering their original row numbers. Column-wise: one vectorized comparison per
    /// pair and column, one filter of the frame.
    pub fn retain_pairs(&mut self, a: &str, b: &str, pairs: &[(&str, &str)]) -> Result<()> {
        let mut mask = BooleanChunked::full(PlSmallStr::EMPTY, false, self.df.height());
        if !self.is_null_typed(a)? && !self.is_null_typed(b)? {
            let (ca, cb) = (self.series(a)?.str()?, self.series(b)?.str()?);
            for (x, y) in pairs {
                mask = &mask | &(ca.equal(*x) & cb.equal(*y));
            }
        }
        let kept: Vec<u32> = mask
            .iter()
            .enumerate()
            .filter(|(_, k)| *k == Some(true))
            .map(|(i, _)| self.row(i) as u32)
            .collect();
        self.df = self.df.filter(&mask)?;
        self.rows = Some(kept);
        Ok(())
    }

    pub(super) fn series(&self, col: &str) -> Result<&Series> {
        Ok(self.df.column(col)?.as_materialized_series())
    }

    pub(super) fn is_null_typed(&self, col: &str) -> Result<bool> {
        Ok(self.series(col)?.dtype() == &DataType::Null)
    }

    /// A column of names: strings interned, or ids looked up (see [`NameIds`]).
    pub fn names(&self, col: &str, interner: &mut Interner) -> Result<Vec<Option<Name>>> {
        if self.is_null_typed(col)? {
            return Ok(vec![None; self.df.height()]);
        }
        let s = self.series(col)?;
        if let (DataType::UInt32, Some(ids)) = (s.dtype(), &self.name_ids) {
            let names = ids.column(col).ok_or_else(|| Error::Parquet {
                path: self.path.clone(),
                message: format!("column `{col}` holds ids of names not recorded"),
            })?;
            return Ok(s
                .u32()?
                .iter()
                .map(|id| id.map(|id| names[id as usize]))
                .collect());
        }
        let mut out = Vec::with_capacity(s.len());
        out.extend(by_view(s.str()?, |v| interner.get(v)));
        Ok(out)
    }

    /// The values of a string column; an empty string is no value, like a null (an empty id,
    /// account or product is missing, not a name: read as one, it would be billed under keys
    /// such as `u::0`, `r:` …).
    pub fn strs(&self, col: &str) -> Result<Vec<Option<&str>>> {
        if self.is_null_typed(col)? {
            return Ok(vec![None; self.df.height()]);
        }
        Ok(self
            .series(col)?
            .str()?
            .iter()
            .map(|v| v.filter(|v| !v.is_empty()))
            .collect())
    }

    pub fn ts(&self, col: &str) -> Result<Vec<Option<Ts>>> {
        Ok(match self.ts_values(col)? {
            Some(values) => values.collect(),
            None => vec![None; self.df.height()],
        })
    }

    /// [`Self::ts`] without collecting: the values in row order, `None` for a column of nulls.
    pub fn ts_values(&self, col: &str) -> Result<Option<impl Iterator<Item = Option<Ts>> + '_>> {
        if self.is_null_typed(col)? {
            return Ok(None);
        }
        let ca = self.series(col)?.datetime()?;
        let mul: fn(i64) -> i64 = match ca.time_unit() {
            TimeUnit::Nanoseconds => |v| v.div_euclid(1000),
            TimeUnit::Microseconds => |v| v,
            TimeUnit::Milliseconds => |v| v * 1000,
        };
        Ok(Some(ca.physical().iter().map(move |v| v.map(mul))))
    }

    /// Decimal column as (mantissa, scale) pairs.
    pub fn decs(&self, col: &str) -> Result<(u32, Vec<Option<i128>>)> {
        if self.is_null_typed(col)? {
            return Ok((0, vec![None; self.df.height()]));
        }
        let ca = self.series(col)?.decimal()?;
        Ok((ca.scale() as u32, ca.physical().iter().collect()))
    }

    pub fn bools(&self, col: &str) -> Result<Vec<Option<bool>>> {
        if self.is_null_typed(col)? {
            return Ok(vec![None; self.df.height()]);
        }
        Ok(self.series(col)?.bool()?.iter().collect())
    }

    pub fn ints(&self, col: &str) -> Result<Vec<Option<i64>>> {
        let s = self.series(col)?;
        Ok(match s.dtype() {
            DataType::Null => vec![None; self.df.height()],
            DataType::Int32 => s.i32()?.iter().map(|v| v.map(i64::from)).collect(),
            _ => s.i64()?.iter().collect(),
        })
    }

    /// A file-level error for an unknown enum value.
    pub fn unknown_enum(&self, col: &str, row: usize, value: &str, allowed: &[&str]) -> Error {
        Error::UnknownEnum {
            path: self.path.clone(),
            column: col.to_string(),
            row,
            value: value.to_string(),
            allowed: allowed.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instants are checked in their column's unit, bounds included: the first instant of the
    /// year 1 in milliseconds passes, one millisecond before it does not.
    #[test]
    fn instants_in_milliseconds_are_bounded_like_microseconds() {
        use crate::calendar::MIN_TS;
        let specs: &[ColSpec] = &[("at", ColType::Ts)];
        let frame = |ms: i64| {
            let ca = Int64Chunked::from_vec("at".into(), vec![ms, 0])
                .into_datetime(TimeUnit::Milliseconds, None);
            DataFrame::new(2, vec![ca.into_column()]).unwrap()
        };
        let path = Path::new("events/x.parquet");
        assert!(check_instants(path, &frame(MIN_TS / 1000), specs).is_ok());
        let e = check_instants(path, &frame(MIN_TS / 1000 - 1), specs).unwrap_err();
        assert!(e.to_string().contains("`at`, row 0"), "{e}");
    }

    /// `.parquet` and `.parq` in any case are read; hidden entries and other names are
    /// listed as skipped, each with its reason, and a hidden directory is not entered.
    #[test]
    fn scan_reads_parquet_names_in_any_case_and_lists_every_skipped_entry() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a.parquet",
            "b.PARQUET",
            "c.parq",
            "d.Parq",
            "_x.parquet",
            ".y.parquet",
        ] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        std::fs::write(root.join("notes.txt"), b"").unwrap();
        std::fs::create_dir_all(root.join("_temporary/m=1")).unwrap();
        std::fs::write(root.join("_temporary/m=1/z.parquet"), b"").unwrap();
        std::fs::create_dir_all(root.join("m=2")).unwrap();
        std::fs::write(root.join("m=2/e.parquet"), b"").unwrap();
        let (files, skipped) = scan(root).unwrap();
        let rel = |p: &Path| p.strip_prefix(root).unwrap().display().to_string();
        let files: Vec<String> = files.iter().map(|p| rel(p)).collect();
        assert_eq!(
            files,
            [
                "a.parquet",
                "b.PARQUET",
                "c.parq",
                "d.Parq",
                "m=2/e.parquet"
            ]
        );
        let skipped: Vec<String> = skipped.iter().map(|(p, _)| rel(p)).collect();
        assert_eq!(
            skipped,
            [".y.parquet", "_temporary", "_x.parquet", "notes.txt"]
        );
    }

    #[test]
    fn retain_pairs_keeps_matching_rows_with_their_original_numbers() {
        let df = df!(
            "product" => [Some("apigw"), Some("cdn"), None, Some("apigw"), Some("apigw")],
            "billing_item" => [Some("calls"), Some("calls"), Some("calls"), None, Some("calls")],
            "n" => [0i32, 1, 2, 3, 4],
        )
        .unwrap();
        let mut f = InputFile {
            path: PathBuf::from("usage/x.parquet"),
            name: "usage/x.parquet".into(),
            df,
            rows: None,
            name_ids: None,
            digest: None,
        };
        f.retain_pairs(
            "product",
            "billing_item",
            &[("apigw", "calls"), ("cdn", "traffic")],
        )
        .unwrap();
        assert_eq!(f.rows, Some(vec![0, 4]));
        let n: Vec<i32> =
            f.df.column("n")
                .unwrap()
                .i32()
                .unwrap()
                .into_no_null_iter()
                .collect();
        assert_eq!(n, vec![0, 4]);
        // Row numbers stay those of the original file when a subset is filtered again.
        f.retain_pairs("product", "billing_item", &[("apigw", "calls")])
            .unwrap();
        assert_eq!((f.row(0), f.row(1)), (0, 4));
        f.retain_pairs("product", "billing_item", &[("cdn", "calls")])
            .unwrap();
        assert_eq!(f.df.height(), 0);
    }
}
