//! Loading of the input tables of CONTRACT.md: discovery of Parquet files (any number, optional
//! Hive partitions `key=value/`), schema validation, and typed rows.
//!
//! Two kinds of problems, kept apart:
//! - File-level (a missing column, a wrong type, an unknown enum value, an unreadable file):
//!   the run stops with an [`Error`] naming the file, column, row and value.
//! - Row-level (duplicate id, negative quantity, unaligned hour, …): the row becomes a
//!   [`Violation`] — an `exceptions` row with a rule code — and is left out of billing.
//!   Nothing vanishes: every usage row is either valid or a violation.
//!
//! Files are read in sorted path order, so "first occurrence" is deterministic.

pub mod accounts;
pub mod chunks;
pub mod events;
pub mod packages;
pub mod subscriptions;
pub mod usage;

use crate::calendar::Ts;
use crate::error::{Error, Result};
use crate::name::Name;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub use accounts::{Account, Payment};
pub use events::{Event, EventKind};
pub use packages::{Package, PackageKind, PackageSource, Scope};
pub use subscriptions::{BillingMode, Subscription};
pub use usage::{Direction, Usage};

/// A row-level problem: one `exceptions` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Table and rule names come from a fixed set: interned (and written as a dictionary).
    pub source_table: Name,
    pub source_id: String,
    pub rule: Name,
    pub detail: String,
    pub at: Option<Ts>,
}

impl Violation {
    pub fn new(
        table: &str,
        id: impl Into<String>,
        rule: &str,
        detail: impl Into<String>,
        at: Option<Ts>,
    ) -> Violation {
        Violation {
            source_table: Name::new(table),
            source_id: id.into(),
            rule: Name::new(rule),
            detail: detail.into(),
            at,
        }
    }
}

/// A broken row rule and its detail: the row becomes a [`Violation`] with that rule.
pub(crate) type Broken = (&'static str, String);

/// One input file as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    pub table: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows: usize,
}

/// Every input table, typed and validated.
#[derive(Debug, Default)]
pub struct Inputs {
    pub usage: Vec<Usage>,
    pub packages: Vec<Package>,
    pub accounts: Vec<Account>,
    pub payments: Vec<Payment>,
    pub subscriptions: Vec<Subscription>,
    pub events: Vec<Event>,
    pub violations: Vec<Violation>,
    pub files: Vec<FileInfo>,
    /// Usage rows read from the files, valid or not.
    pub usage_rows_read: usize,
}

/// Loads every input table under `dir` except usage, which is read chunk by chunk (`chunks`).
pub fn load_base(dir: &Path) -> Result<Inputs> {
    let mut interner = Interner::default();
    let mut inputs = Inputs::default();
    let mut violations = Vec::new();

    let files = read_table(dir, "packages", packages::COLUMNS)?;
    let mut pkgs = packages::from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "packages", &files)?;
    let files = read_table(dir, "package_scope", packages::SCOPE_COLUMNS)?;
    packages::attach_scopes(&files, &mut pkgs, &mut interner, &mut violations)?;
    record(&mut inputs.files, "package_scope", &files)?;
    inputs.packages = pkgs;

    let files = read_table(dir, "accounts", accounts::ACCOUNT_COLUMNS)?;
    inputs.accounts = accounts::accounts_from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "accounts", &files)?;
    let files = read_table(dir, "payments", accounts::PAYMENT_COLUMNS)?;
    inputs.payments = accounts::payments_from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "payments", &files)?;
    let files = read_table(dir, "subscriptions", subscriptions::COLUMNS)?;
    inputs.subscriptions = subscriptions::from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "subscriptions", &files)?;
    let files = read_table(dir, "events", events::COLUMNS)?;
    inputs.events = events::from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "events", &files)?;

    inputs.violations = violations;
    Ok(inputs)
}

/// Loads every input table under `dir`, usage included, as one chunk (tests and small tools).
pub fn load(dir: &Path) -> Result<Inputs> {
    let mut inputs = load_base(dir)?;
    let part = crate::shard::Partitioner::new(&inputs.packages, crate::shard::ShardSpec::ALL, 1);
    // One chunk holds every file whole anyway: the id index stays in memory beside them.
    let mut source = chunks::UsageSource::open(dir, &part, None, u64::MAX)?;
    let files = source.load_chunk(0, &part)?;
    inputs.usage_rows_read = files.iter().map(|f| f.df.height()).sum();
    inputs.usage = usage::from_files(&files, &mut inputs.violations, &source.duplicates)?;
    let mut infos = source.file_infos()?;
    infos.append(&mut inputs.files);
    inputs.files = infos;
    Ok(inputs)
}

pub(crate) fn record(out: &mut Vec<FileInfo>, table: &str, files: &[InputFile]) -> Result<()> {
    for f in files {
        let (bytes, sha256) = hash_file(&f.path)?;
        out.push(FileInfo {
            table: table.to_string(),
            path: f.name.to_string(),
            bytes,
            sha256,
            rows: f.df.height(),
        });
    }
    Ok(())
}

/// Size and SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, hex::encode(h.finalize())))
}

// ---------------------------------------------------------------------------------------------
// Columns and files.

/// The input tables of CONTRACT.md, each a directory of Parquet files under the input
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

/// Logical column types of CONTRACT.md.
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
}

/// Columns of names stored as `u32` ids (see `chunks`): per column, the name of each id.
/// Ids are numbered per column in order of first appearance over the files spilled.
#[derive(Debug, Default)]
pub struct NameIds {
    columns: Vec<(&'static str, NameIdColumn)>,
}

/// One column's ids: the names by id, and the id of each name.
#[derive(Debug, Default)]
struct NameIdColumn {
    names: Vec<Name>,
    index: rustc_hash::FxHashMap<Name, u32>,
}

impl NameIds {
    pub fn new(columns: &[&'static str]) -> NameIds {
        NameIds {
            columns: columns
                .iter()
                .map(|c| (*c, NameIdColumn::default()))
                .collect(),
        }
    }

    /// Replaces each of the columns (when they hold strings) of `f` by their ids, numbering
    /// names not seen before; columns in parallel.
    pub fn replace_by_ids(&mut self, f: &mut InputFile) -> Result<()> {
        use rayon::prelude::*;
        let df = &f.df;
        let replaced: Vec<Option<Column>> = self
            .columns
            .par_iter_mut()
            .map(|(col, ids)| -> Result<Option<Column>> {
                let s = df.column(col)?.as_materialized_series();
                if s.dtype() != &DataType::String {
                    return Ok(None); // all null (Null-typed): left as it is
                }
                Ok(Some(ids.ids_of(col, s.str()?).into_column()))
            })
            .collect::<Result<_>>()?;
        for c in replaced.into_iter().flatten() {
            f.df.with_column(c)?;
        }
        Ok(())
    }

    fn column(&self, col: &str) -> Option<&[Name]> {
        self.columns
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, ids)| ids.names.as_slice())
    }
}

impl NameIdColumn {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        let name = Name::new(s);
        self.names.push(name);
        self.index.insert(name, id);
        id
    }

    /// The ids of a column of strings, cut in the same chunks: a frame whose columns are cut
    /// alike is split into pieces without copying (see `chunks`).
    fn ids_of(&mut self, col: &str, strs: &StringChunked) -> UInt32Chunked {
        let has_nulls = strs.has_nulls();
        let mut ids = by_view(strs, |v| self.id(v));
        let pieces: Vec<UInt32Chunked> = strs
            .chunk_lengths()
            .map(|n| {
                let piece = ids.by_ref().take(n);
                if has_nulls {
                    UInt32Chunked::from_iter_options(col.into(), piece)
                } else {
                    // No validity to build bit by bit.
                    UInt32Chunked::from_vec(
                        col.into(),
                        piece.map(Option::unwrap_or_default).collect(),
                    )
                }
            })
            .collect();
        UInt32Chunked::from_chunk_iter(
            col.into(),
            pieces.into_iter().flat_map(|p| p.downcast_into_iter()),
        )
    }
}

/// The values of a string column mapped by `f`, each distinct value looked up once as far as
/// possible: in one array, equal views — the 16 bytes holding a short string whole, or a longer
/// one's length, prefix, buffer and offset — are equal strings, so a value seen before is found
/// by its view (a `u128`), neither hashed as a string nor compared byte by byte. Strings decoded
/// from a Parquet dictionary share one view per distinct value; rows of one account come in
/// runs, which skip even that lookup. Views name buffers of their own array, so what is
/// remembered is forgotten at each array of the column. (Unequal views may still be equal
/// strings: `f` then sees the value again, and must give the same result.)
pub fn by_view<'a, T: Copy + 'a>(
    ca: &'a StringChunked,
    mut f: impl FnMut(&str) -> T + 'a,
) -> impl Iterator<Item = Option<T>> + 'a {
    /// Views remembered per array at most: plain-encoded strings give every row its own view.
    const MAX_VIEWS: usize = 1 << 16;
    let mut seen: rustc_hash::FxHashMap<u128, T> = Default::default();
    let mut last: Option<(u128, T)> = None;
    let rows = ca
        .downcast_iter()
        .zip(ca.iter_validities())
        .flat_map(|(arr, validity)| (0..arr.len()).map(move |i| (arr, validity, i)));
    rows.map(move |(arr, validity, i)| {
        if i == 0 {
            seen.clear();
            last = None;
        }
        if validity.is_some_and(|v| !v.get_bit(i)) {
            return None;
        }
        let v = arr.views()[i].as_u128();
        if let Some((l, t)) = last {
            if l == v {
                return Some(t);
            }
        }
        let t = match seen.get(&v) {
            Some(&t) => t,
            None => {
                let t = f(arr.value(i));
                if seen.len() < MAX_VIEWS {
                    seen.insert(v, t);
                }
                t
            }
        };
        last = Some((v, t));
        Some(t)
    })
}

/// Every `*.parquet` file below `root`, sorted; hidden and `_`-prefixed entries skipped.
pub fn parquet_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
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
fn hive_values(root: &Path, file: &Path) -> Vec<(String, String)> {
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

pub(crate) fn read_file(
    root: &Path,
    path: &Path,
    table: &str,
    specs: &[ColSpec],
) -> Result<InputFile> {
    let perr = |e: PolarsError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = ParquetReader::new(file);
    let schema = reader.schema().map_err(perr)?;
    let present: Vec<String> = specs
        .iter()
        .filter(|(n, _)| schema.contains(n))
        .map(|(n, _)| n.to_string())
        .collect();
    let mut df = reader.with_columns(Some(present)).finish().map_err(perr)?;
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
    })
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
        let (row, v) = values
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.filter(|v| !inside(*v)).map(|v| (i, v)))
            .expect("a value outside the bounds");
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

    fn series(&self, col: &str) -> Result<&Series> {
        Ok(self.df.column(col)?.as_materialized_series())
    }

    fn is_null_typed(&self, col: &str) -> Result<bool> {
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
    /// account or product is missing, not a name: it was billed as `u::0`, `r:` …).
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

/// A per-file cache in front of the global name cache (`Name::new` takes a lock): the names of
/// one file (accounts, regions, products, instances) are looked up without locking.
#[derive(Debug, Default)]
pub struct Interner(rustc_hash::FxHashSet<Name>);

impl Interner {
    pub fn get(&mut self, s: &str) -> Name {
        if let Some(a) = self.0.get(s) {
            return *a;
        }
        let a = Name::new(s);
        self.0.insert(a);
        a
    }
}

/// Converts a decimal mantissa; `None` when it exceeds the 96-bit range used for arithmetic.
pub fn dec_value(scale: u32, m: Option<i128>) -> Option<Option<rust_decimal::Decimal>> {
    match m {
        None => Some(None),
        Some(m) => crate::money::from_mantissa(m, scale).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `by_view` gives each row what `f` gives its string, nulls as `None`, and calls `f` once
    /// per distinct value when rows share views (as rows decoded from a dictionary do), short
    /// strings (inline in the view) and long ones (in a buffer) alike.
    #[test]
    fn by_view_maps_each_distinct_value_once() {
        let values = [
            Some("eu-frankfurt"),
            None,
            Some("account-with-a-long-name-0001"),
            Some("ap-guangzhou-3"),
        ];
        let dict = StringChunked::from_iter_options("v".into(), values.into_iter());
        let rows: Vec<u32> = vec![0, 2, 2, 1, 3, 0, 2, 3, 3, 1, 0];
        let idx = IdxCa::from_vec("i".into(), rows.clone());
        let ca = dict.take(&idx).unwrap().rechunk().into_owned();
        let mut calls = 0;
        let got: Vec<Option<usize>> = by_view(&ca, |v| {
            calls += 1;
            v.len()
        })
        .collect();
        let want: Vec<Option<usize>> = rows
            .iter()
            .map(|&r| values[r as usize].map(str::len))
            .collect();
        assert_eq!(got, want);
        assert_eq!(calls, 3, "one call per distinct non-null value");
        // Equal strings at different places in the buffers: still the same results.
        let plain =
            StringChunked::from_iter_options("p".into(), rows.iter().map(|&r| values[r as usize]));
        let got: Vec<Option<usize>> = by_view(&plain, str::len).collect();
        assert_eq!(got, want);
    }

    /// Views name the buffers of their own array: in a column of several arrays, equal views
    /// of different arrays are not taken for the same string.
    #[test]
    fn by_view_forgets_views_at_each_array() {
        let long = |n: u32| format!("account-with-a-long-name-{n:04}");
        let mut ca = StringChunked::from_iter_values("v".into(), [long(1), long(1)].into_iter());
        ca.append(&StringChunked::from_iter_values(
            "v".into(),
            [long(2), long(3)].into_iter(),
        ))
        .unwrap();
        assert_eq!(ca.chunks().len(), 2);
        let views: Vec<u128> = ca
            .downcast_iter()
            .map(|arr| arr.views()[0].as_u128())
            .collect();
        assert_eq!(views[0], views[1], "same length, prefix, buffer and offset");
        let last_digit = |v: &str| v.as_bytes()[v.len() - 1];
        let got: Vec<Option<u8>> = by_view(&ca, last_digit).collect();
        assert_eq!(got, [Some(b'1'), Some(b'1'), Some(b'2'), Some(b'3')]);
    }

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

    #[test]
    fn names_read_back_from_ids_as_from_strings() {
        let df = df!(
            "owner_uin" => [Some("a"), Some("a"), None, Some("b"), Some("a")],
            "region" => [Some("r1"), Some("r2"), Some("r1"), Some("r1"), None],
        )
        .unwrap();
        let mut df2 = df!("owner_uin" => [Some("c"), Some("a")]).unwrap();
        df2.with_column(Column::full_null("region".into(), 2, &DataType::Null))
            .unwrap();
        let file = |df: DataFrame| InputFile {
            path: PathBuf::from("usage/x.parquet"),
            name: "usage/x.parquet".into(),
            df,
            rows: None,
            name_ids: None,
        };
        let mut ids = NameIds::new(&["owner_uin", "region"]);
        let (mut f1, mut f2) = (file(df.clone()), file(df2.clone()));
        ids.replace_by_ids(&mut f1).unwrap();
        ids.replace_by_ids(&mut f2).unwrap();
        assert_eq!(
            f1.df.column("owner_uin").unwrap().dtype(),
            &DataType::UInt32
        );
        // Numbered per column in order of first appearance, across files.
        let owner: Vec<Option<u32>> = f2
            .df
            .column("owner_uin")
            .unwrap()
            .u32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(owner, [Some(2), Some(0)]);
        let ids = std::sync::Arc::new(ids);
        for (spilled, plain) in [(f1, df), (f2, df2)] {
            let spilled = InputFile {
                name_ids: Some(ids.clone()),
                ..spilled
            };
            let plain = file(plain);
            for col in ["owner_uin", "region"] {
                let want = plain.names(col, &mut Interner::default()).unwrap();
                assert_eq!(spilled.names(col, &mut Interner::default()).unwrap(), want);
            }
        }
    }

    /// Ids replace strings array for array, with and without nulls: the frame's columns stay
    /// cut alike, so it splits into pieces without copying.
    #[test]
    fn ids_keep_the_arrays_of_their_strings() {
        let mut df = df!("owner_uin" => ["a", "b"], "region" => [Some("r1"), None]).unwrap();
        df.vstack_mut_owned(
            df!("owner_uin" => ["b", "c", "a"], "region" => [Some("r2"), Some("r1"), None])
                .unwrap(),
        )
        .unwrap();
        let mut f = InputFile {
            path: PathBuf::from("usage/x.parquet"),
            name: "usage/x.parquet".into(),
            df,
            rows: None,
            name_ids: None,
        };
        let mut ids = NameIds::new(&["owner_uin", "region"]);
        ids.replace_by_ids(&mut f).unwrap();
        for (col, want) in [
            (
                "owner_uin",
                vec![Some(0), Some(1), Some(1), Some(2), Some(0)],
            ),
            ("region", vec![Some(0), None, Some(1), Some(0), None]),
        ] {
            let ca = f.df.column(col).unwrap().u32().unwrap();
            assert_eq!(ca.chunk_lengths().collect::<Vec<_>>(), [2, 3], "{col}");
            assert_eq!(ca.iter().collect::<Vec<_>>(), want, "{col}");
        }
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
