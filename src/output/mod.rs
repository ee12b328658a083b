//! Writing the output tables of CONTRACT.md.
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
//! - Files are encoded as polars' writer encodes them (strings dictionary-encoded unless mostly
//!   distinct, zstd, statistics); columns of interned names reach the encoder as the very
//!   dictionary it would build (`Piece::Repeated`), so the bytes are the same.
//! - No wall clock reaches a file: identical inputs give byte-identical files.

pub mod manifest;
pub mod merge;
pub mod publish;
pub mod read;
pub mod tables;

use crate::calendar::{Month, Ts};
use crate::error::{Error, Result};
use crate::money::to_mantissa;
use polars::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;

pub fn str_col<'a>(name: &str, v: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), v).into_column()
}

/// A Decimal128(38, `scale`) column: the precision of every decimal of the outputs.
pub fn dec_col(name: &str, scale: u32, v: impl Iterator<Item = Option<Decimal>>) -> Column {
    narrow_dec_col(name, 38, scale, v)
}

/// A Decimal128(`precision`, `scale`) column, for the inputs the generator writes where
/// CONTRACT.md gives a precision below 38 (`coefficient` dec(18,9), `discount` dec(9,6)). The
/// values must fit the precision (the caller's to ensure; a Parquet reader may refuse them).
pub fn narrow_dec_col(
    name: &str,
    precision: usize,
    scale: u32,
    v: impl Iterator<Item = Option<Decimal>>,
) -> Column {
    decimal_column(
        name,
        precision,
        scale,
        primitive(v.map(|d| d.map(|d| to_mantissa(d, scale)))),
    )
}

pub fn ts_col(name: &str, v: impl Iterator<Item = Option<Ts>>) -> Column {
    instant_column(name, primitive(v))
}

/// A Decimal128(`precision`, `scale`) column from mantissas at `scale`.
fn decimal_column(
    name: &str,
    precision: usize,
    scale: u32,
    mantissas: polars_arrow::array::PrimitiveArray<i128>,
) -> Column {
    Int128Chunked::with_chunk(name.into(), mantissas)
        .into_decimal_unchecked(precision, scale as usize)
        .into_column()
}

/// A UTC microsecond timestamp column.
fn instant_column(name: &str, micros: polars_arrow::array::PrimitiveArray<i64>) -> Column {
    Int64Chunked::with_chunk(name.into(), micros)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

fn i32_column(name: &str, values: polars_arrow::array::PrimitiveArray<i32>) -> Column {
    Int32Chunked::with_chunk(name.into(), values).into_column()
}

/// A primitive array in one pass, its validity bitmap started only at the first null: output
/// columns are nearly all without nulls, and polars' `from_iter_options` pushes a validity bit
/// for every row (the same array either way).
fn primitive<T: polars_arrow::types::NativeType>(
    v: impl Iterator<Item = Option<T>>,
) -> polars_arrow::array::PrimitiveArray<T> {
    let mut b = Primitive::with_capacity(v.size_hint().0);
    v.for_each(|x| b.push(x));
    b.finish()
}

/// The values of a primitive array being built (see [`primitive`]).
struct Primitive<T> {
    values: Vec<T>,
    validity: Option<polars_arrow::bitmap::MutableBitmap>,
}

impl<T: polars_arrow::types::NativeType> Primitive<T> {
    fn with_capacity(n: usize) -> Self {
        Primitive {
            values: Vec::with_capacity(n),
            validity: None,
        }
    }

    #[inline]
    fn push(&mut self, x: Option<T>) {
        use polars_arrow::bitmap::MutableBitmap;
        match (x, &mut self.validity) {
            (Some(x), None) => self.values.push(x),
            (Some(x), Some(b)) => {
                self.values.push(x);
                b.push(true);
            }
            (None, b) => {
                let b = b.get_or_insert_with(|| {
                    let mut b = MutableBitmap::with_capacity(self.values.capacity());
                    b.extend_constant(self.values.len(), true);
                    b
                });
                b.push(false);
                self.values.push(T::default());
            }
        }
    }

    fn finish(self) -> polars_arrow::array::PrimitiveArray<T> {
        polars_arrow::array::PrimitiveArray::new(
            T::PRIMITIVE.into(),
            self.values.into(),
            self.validity.map(Into::into),
        )
    }
}

pub fn bool_col(name: &str, v: impl Iterator<Item = Option<bool>>) -> Column {
    BooleanChunked::from_iter_options(name.into(), v).into_column()
}

pub fn i32_col(name: &str, v: impl Iterator<Item = Option<i32>>) -> Column {
    i32_column(name, primitive(v))
}

pub fn i64_col(name: &str, v: impl Iterator<Item = Option<i64>>) -> Column {
    Int64Chunked::with_chunk(name.into(), primitive(v)).into_column()
}

/// One column of an output row group.
pub enum Piece {
    Column(Column),
    /// Strings that repeat from row to row — interned names ([`crate::name::Name`]), enum
    /// labels — kept as a dictionary: the distinct values in order of first appearance and each
    /// row's index into them. It is built from the strings' addresses (each distinct value of
    /// these has exactly one), so no string is hashed or copied per row, and it is written as
    /// the same dictionary the encoder would have built from the strings.
    Repeated {
        name: &'static str,
        keys: Vec<u32>,
        values: Vec<&'static str>,
    },
}

/// A column of strings that repeat (see [`Piece::Repeated`]): every distinct value must have
/// one address — an interned name's or an enum label's. (Were one value at two addresses, the
/// file would still read back the same strings, with that value twice in the dictionary.)
pub fn repeated_col(name: &'static str, v: impl Iterator<Item = &'static str>) -> Piece {
    let mut b = Repeated::new(name, v.size_hint().0);
    v.for_each(|s| b.push(s));
    b.finish()
}

/// A [`Piece::Repeated`] being built.
struct Repeated {
    name: &'static str,
    // Keyed by address and length: a literal may sit inside a longer one.
    index: rustc_hash::FxHashMap<(usize, usize), u32>,
    values: Vec<&'static str>,
    keys: Vec<u32>,
    // Rows in order repeat the row before's value in runs: those skip the lookup.
    last: Option<(&'static str, u32)>,
}

impl Repeated {
    fn new(name: &'static str, n: usize) -> Self {
        Repeated {
            name,
            index: Default::default(),
            values: Vec::new(),
            keys: Vec::with_capacity(n),
            last: None,
        }
    }

    #[inline]
    fn push(&mut self, s: &'static str) {
        let k = match self.last {
            Some((l, k)) if std::ptr::eq(l, s) => k,
            _ => {
                let values = &mut self.values;
                let k = *self
                    .index
                    .entry((s.as_ptr() as usize, s.len()))
                    .or_insert_with(|| {
                        values.push(s);
                        (values.len() - 1) as u32
                    });
                self.last = Some((s, k));
                k
            }
        };
        self.keys.push(k);
    }

    fn finish(self) -> Piece {
        Piece::Repeated {
            name: self.name,
            keys: self.keys,
            values: self.values,
        }
    }
}

impl Piece {
    /// The piece as a polars column.
    pub fn into_column(self) -> Column {
        match self {
            Piece::Column(c) => c,
            Piece::Repeated { name, keys, values } => {
                str_col(name, keys.iter().map(|&k| Some(values[k as usize])))
            }
        }
    }

    /// The piece as the Arrow array the Parquet encoder takes.
    fn into_array(self) -> Result<ArrayRef> {
        use polars_arrow::array::{DictionaryArray, PrimitiveArray, Utf8ViewArray};
        match self {
            Piece::Column(c) => Ok(c
                .as_materialized_series()
                .rechunk()
                .to_arrow(0, CompatLevel::newest())),
            // Written as a dictionary when the encoder would choose one for certain (it falls
            // back to plain strings above 75 % distinct values, by an estimate; 50 % keeps
            // clear of that estimate's error); otherwise as strings, for the encoder to decide.
            Piece::Repeated { name, keys, values }
                if keys.len() > 128 && values.len() * 2 > keys.len() =>
            {
                Ok(Piece::Repeated { name, keys, values }
                    .into_column()
                    .as_materialized_series()
                    .to_arrow(0, CompatLevel::newest()))
            }
            Piece::Repeated { keys, values, .. } => {
                let array = DictionaryArray::<u32>::try_from_keys(
                    PrimitiveArray::from_vec(keys),
                    Utf8ViewArray::from_slice_values(&values).boxed(),
                    false,
                )?;
                Ok(Box::new(array))
            }
        }
    }
}

/// Builds one column of a row group from its rows, given block by block (see [`par_pieces`]).
pub trait Builder<T>: Send {
    fn extend(&mut self, rows: &[&T]);
    fn finish(self: Box<Self>) -> Piece;
}

/// Starts the builder of one column for a row group of so many rows.
pub type PieceOf<T> = Box<dyn Fn(usize) -> Box<dyn Builder<T>> + Send + Sync>;

/// A column being built that takes one row's value at a time.
trait Put: Send {
    type Item<'a>;
    fn put(&mut self, x: Self::Item<'_>);
    fn finish(self) -> Piece;
}

impl Put for Repeated {
    type Item<'a> = &'static str;
    #[inline]
    fn put(&mut self, x: &'static str) {
        self.push(x)
    }
    fn finish(self) -> Piece {
        Repeated::finish(self)
    }
}

/// A primitive column being built, and how its array becomes the polars column.
struct Primitives<V, C> {
    name: &'static str,
    values: Primitive<V>,
    column: C,
}

impl<V, C> Put for Primitives<V, C>
where
    V: polars_arrow::types::NativeType,
    C: FnOnce(&'static str, polars_arrow::array::PrimitiveArray<V>) -> Column + Send,
{
    type Item<'a> = Option<V>;
    #[inline]
    fn put(&mut self, x: Option<V>) {
        self.values.push(x)
    }
    fn finish(self) -> Piece {
        Piece::Column((self.column)(self.name, self.values.finish()))
    }
}

/// A string column being built (as polars' `from_iter_options` builds one).
struct Strings {
    name: &'static str,
    values: polars_arrow::array::MutableBinaryViewArray<str>,
}

impl Put for Strings {
    type Item<'a> = Option<&'a str>;
    #[inline]
    fn put(&mut self, x: Option<&str>) {
        self.values.push(x)
    }
    fn finish(self) -> Piece {
        Piece::Column(
            StringChunked::with_chunk(self.name.into(), self.values.freeze()).into_column(),
        )
    }
}

/// A column of `T`'s rows from a getter of each row's value. (Getters are generic closures, not
/// `fn` pointers: each column's loop is compiled with its getter inlined.)
struct Getting<F, S> {
    get: F,
    column: S,
}

impl<T, F, S> Builder<T> for Getting<F, S>
where
    S: Put,
    F: for<'a> Fn(&'a T) -> S::Item<'a> + Send,
{
    fn extend(&mut self, rows: &[&T]) {
        for x in rows {
            self.column.put((self.get)(x));
        }
    }
    fn finish(self: Box<Self>) -> Piece {
        self.column.finish()
    }
}

fn getting<T: 'static, S: Put + 'static>(
    get: impl for<'a> Fn(&'a T) -> S::Item<'a> + Clone + Send + Sync + 'static,
    column: impl Fn(usize) -> S + Send + Sync + 'static,
) -> PieceOf<T> {
    Box::new(move |n| {
        Box::new(Getting {
            get: get.clone(),
            column: column(n),
        })
    })
}

/// A [`Piece::Repeated`] column of `T`'s rows.
pub fn names_of<T: 'static>(
    c: &'static str,
    f: impl Fn(&T) -> &'static str + Clone + Send + Sync + 'static,
) -> PieceOf<T> {
    getting::<T, Repeated>(f, move |n| Repeated::new(c, n))
}

fn primitives<V: polars_arrow::types::NativeType, C>(
    name: &'static str,
    n: usize,
    column: C,
) -> Primitives<V, C> {
    Primitives {
        name,
        values: Primitive::with_capacity(n),
        column,
    }
}

/// A Decimal128(38, `scale`) column of `T`'s rows.
pub fn decimals_of<T: 'static>(
    c: &'static str,
    scale: u32,
    f: impl Fn(&T) -> Option<Decimal> + Clone + Send + Sync + 'static,
) -> PieceOf<T> {
    getting(
        move |x: &T| f(x).map(|d| to_mantissa(d, scale)),
        move |n| {
            primitives(c, n, move |c: &'static str, a| {
                decimal_column(c, 38, scale, a)
            })
        },
    )
}

/// A plain string column of `T`'s rows (ids that do not repeat).
pub fn strings_of<T: 'static>(
    c: &'static str,
    f: impl for<'a> Fn(&'a T) -> Option<&'a str> + Clone + Send + Sync + 'static,
) -> PieceOf<T> {
    getting::<T, Strings>(f, move |n| Strings {
        name: c,
        values: polars_arrow::array::MutableBinaryViewArray::with_capacity(n),
    })
}

/// An Int32 column of `T`'s rows.
pub fn ints_of<T: 'static>(
    c: &'static str,
    f: impl Fn(&T) -> Option<i32> + Clone + Send + Sync + 'static,
) -> PieceOf<T> {
    getting::<T, Primitives<i32, _>>(f, move |n| primitives(c, n, i32_column))
}

/// A timestamp column of `T`'s rows.
pub fn instants_of<T: 'static>(
    c: &'static str,
    f: impl Fn(&T) -> Option<Ts> + Clone + Send + Sync + 'static,
) -> PieceOf<T> {
    getting::<T, Primitives<i64, _>>(f, move |n| primitives(c, n, instant_column))
}

/// Rows per block in [`par_pieces`]: a block of ~230-byte rows (~0.5 MB) stays in a core's
/// cache while every column of its group takes its values.
const BLOCK: usize = 2048;

/// Builds the pieces of `rows`. Each thread takes a contiguous group of columns and walks the
/// rows block by block, every column of its group taking a block before the next block is read:
/// a row is fetched from memory once per group instead of once per column (the columns of a
/// table are 10 to 26 passes over rows that do not fit in cache). Each column is built by one
/// builder in row order, so the pieces are the same whatever the number of threads.
pub fn par_pieces<T: Sync>(rows: &[&T], pieces: Vec<PieceOf<T>>) -> Vec<Piece> {
    use rayon::prelude::*;
    let mut builders: Vec<Box<dyn Builder<T>>> = pieces.iter().map(|f| f(rows.len())).collect();
    let groups = rayon::current_num_threads().clamp(1, builders.len().max(1));
    let per_group = builders.len().div_ceil(groups).max(1);
    builders.par_chunks_mut(per_group).for_each(|group| {
        for block in rows.chunks(BLOCK) {
            for b in group.iter_mut() {
                b.extend(block);
            }
        }
    });
    builders.into_iter().map(|b| b.finish()).collect()
}

/// A frame of `height` rows from pieces.
pub fn pieces_frame(height: usize, pieces: Vec<Piece>) -> Result<DataFrame> {
    frame(height, pieces.into_iter().map(Piece::into_column).collect())
}

/// One row group as the Parquet encoder takes it: its rows and one Arrow array per column, in
/// schema order.
pub struct RowGroup {
    rows: usize,
    arrays: Vec<ArrayRef>,
}

impl RowGroup {
    pub fn from_pieces(rows: usize, pieces: Vec<Piece>) -> Result<RowGroup> {
        let arrays = pieces
            .into_iter()
            .map(Piece::into_array)
            .collect::<Result<_>>()?;
        Ok(RowGroup { rows, arrays })
    }

    pub fn from_frame(mut df: DataFrame) -> RowGroup {
        df.rechunk_mut_par();
        let rows = df.height();
        let arrays = match df.iter_chunks(CompatLevel::newest(), false).next() {
            Some(batch) => batch.into_arrays(),
            None => Vec::new(),
        };
        RowGroup { rows, arrays }
    }
}

/// Builds a frame from columns of equal length.
pub fn frame(height: usize, columns: Vec<Column>) -> Result<DataFrame> {
    Ok(DataFrame::new(height, columns)?)
}

/// Rows per row group of every file reckon writes (polars' own default): readers can prune and
/// parallelize by row group, and a writer holds one row group's frame at a time, not the file's.
pub const ROW_GROUP: usize = 512 * 512;

/// Writes one Parquet file (zstd, statistics on) from frames of one schema, one row group per
/// frame (callers cut them at [`ROW_GROUP`] rows). The bytes do not depend on the number of
/// threads (tested: 1 thread vs many give identical files).
pub fn write_frames(
    path: &Path,
    schema: &Schema,
    frames: impl Iterator<Item = Result<DataFrame>>,
) -> Result<()> {
    let groups = frames.map(|df| df.map(RowGroup::from_frame));
    write_pages(Pages::Output, path, schema, groups)
}

/// Writes a spill file (the usage of one chunk from one input file), read back once by this
/// run: every column plain-encoded, LZ4, no statistics (see [`Pages::Spill`]).
pub fn write_spill(path: &Path, df: &mut DataFrame) -> Result<()> {
    df.rechunk_mut_par();
    let slices = row_groups(df.height())
        .map(|r| Ok(RowGroup::from_frame(df.slice(r.start as i64, r.len()))));
    write_pages(Pages::Spill, path, df.schema(), slices)
}

/// How a file's pages are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pages {
    /// Output tables, as polars writes them: its encodings (dictionaries for strings),
    /// statistics, zstd (at [`OUTPUT_ZSTD_LEVEL`]).
    Output,
    /// The usage spill: plain encoding, LZ4, no statistics. polars' writer always tries a
    /// dictionary for strings — hashing every value, most of the cost of a file read back once
    /// — and has no option to leave it out.
    Spill,
}

/// The zstd level of output files. polars' default is zstd's own default, 3; level 1 made
/// the 22.2M-row bench's outputs 1–1.5 % larger (`bill_lines` 290.5 → 293.3 MB,
/// `deduction_details` 126.3 → 128.2 MB) and writing them 12–17 % faster (`bench io --like`,
/// 3 interleaved pairs at 2 threads: 11.8–13.0 s against 13.8–14.2 s). Reading them all back
/// took as long (2 pairs: 3.9–4.1 s against 3.7–5.0 s).
const OUTPUT_ZSTD_LEVEL: i32 = 1;

/// Writes row groups, `pages` deciding encodings, compression and statistics.
///
/// polars' writer encodes a row group's columns in parallel but compresses their pages one
/// after another as it writes them, and offers no choice of encoding; here each column is
/// encoded *and* compressed in parallel (`polars_parquet`, the encoder polars writes with; for
/// outputs with polars' own encodings and options) and the finished pages are handed to
/// polars' writer: for outputs the same file polars would write with the same level, with zstd
/// spread over the threads.
fn write_pages(
    pages: Pages,
    path: &Path,
    schema: &Schema,
    groups: impl Iterator<Item = Result<RowGroup>>,
) -> Result<()> {
    use polars_parquet::write::{
        array_to_columns, compress, get_dtype_encoding, CompressedPage, Encoding, Version,
        WriteOptions,
    };
    use rayon::prelude::*;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let output = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let (compression, statistics) = match pages {
        Pages::Output => {
            let level = polars_parquet::write::ZstdLevel::try_new(OUTPUT_ZSTD_LEVEL)
                .map_err(|e| output(e.to_string()))?;
            (
                ParquetCompression::Zstd(Some(level)),
                StatisticsOptions::default(),
            )
        }
        Pages::Spill => (ParquetCompression::Lz4Raw, StatisticsOptions::empty()),
    };
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = ParquetWriter::new(std::io::BufWriter::new(file))
        .with_compression(compression)
        .with_statistics(statistics)
        .batched(schema)
        .map_err(|e| output(e.to_string()))?;
    // What `ParquetWriter` itself writes with.
    let options = WriteOptions {
        statistics,
        compression: compression.into(),
        version: Version::V1,
        data_page_size: None,
    };
    let fields = writer.parquet_schema().fields().to_vec();
    let encodings: Vec<Vec<Encoding>> = schema
        .to_arrow(CompatLevel::newest())
        .iter_values()
        .map(|f| {
            let own = get_dtype_encoding(&f.dtype);
            match pages {
                Pages::Output => own,
                Pages::Spill => vec![Encoding::Plain; own.len()],
            }
        })
        .collect();
    for group in groups {
        let group = group?;
        if group.rows == 0 {
            continue; // no row group, as polars' writer does for an empty frame
        }
        let rows = group.rows as u64;
        let columns: Vec<Vec<Vec<CompressedPage>>> = on_encoder_pool(|| {
            group
                .arrays
                .par_iter()
                .zip(&fields)
                .zip(&encodings)
                .map(|((array, type_), encoding)| {
                    let leaves = array_to_columns(array, type_.clone(), options, encoding)
                        .map_err(|e| output(e.to_string()))?;
                    leaves
                        .into_iter()
                        .map(|pages| {
                            pages
                                .map(|page| {
                                    let page = page.map_err(|e| output(e.to_string()))?;
                                    compress(page, Vec::new(), options.compression)
                                        .map_err(|e| output(e.to_string()))
                                })
                                .collect::<Result<Vec<_>>>()
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()
        })?;
        let columns: Vec<Vec<CompressedPage>> = columns.into_iter().flatten().collect();
        writer
            .write_row_group(rows, &columns)
            .map_err(|e| output(e.to_string()))?;
    }
    writer.finish().map_err(|e| output(e.to_string()))?;
    Ok(())
}

/// Runs `op` on the threads that encode and compress columns: a pool of their own, as polars'
/// writer has, so a writer thread's columns and the next chunk's rules (on the global pool)
/// share the cores instead of queueing behind each other. Sized like the global pool at first
/// use; if its threads cannot be started, `op` runs on the global pool instead.
fn on_encoder_pool<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("reckon-encode-{i}"))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(op),
        None => op(),
    }
}

/// The rows of each row group of a `len`-row file: at least one group (empty for no rows, so
/// an empty table still gets its schema written).
fn row_groups(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let n = len.div_ceil(ROW_GROUP).max(1);
    (0..n).map(move |k| k * ROW_GROUP..((k + 1) * ROW_GROUP).min(len))
}

/// Writes one frame as a Parquet file of [`ROW_GROUP`]-row row groups (see [`write_frames`]).
pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    df.rechunk_mut_par();
    let slices = row_groups(df.height()).map(|r| Ok(df.slice(r.start as i64, r.len())));
    write_frames(path, df.schema(), slices)
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

/// An output table: its rows in total order, and how to turn a slice of them into a frame.
pub trait Table: Sized + Send + Sync {
    const NAME: &'static str;
    /// The month partition of a row, or `None` for unpartitioned tables.
    fn month(&self) -> Option<Month>;
    /// The documented total order.
    fn sort_key_cmp(a: &Self, b: &Self) -> std::cmp::Ordering;
    fn to_frame(rows: &[&Self]) -> Result<DataFrame>;
    /// One row group's columns as written: by default `to_frame`'s. Tables with many strings
    /// that repeat give them as [`Piece::Repeated`] (written dictionary-encoded from their
    /// addresses).
    fn to_row_group(rows: &[&Self]) -> Result<RowGroup> {
        Ok(RowGroup::from_frame(Self::to_frame(rows)?))
    }
    const PARTITIONED: bool;
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
        let key = format!("month={m}");
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
    let schema = T::to_frame(&[])?.schema().clone();
    let groups = row_groups(rows.len()).map(|r| T::to_row_group(&rows[r]));
    write_pages(Pages::Output, path, &schema, groups)?;
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
        let key = format!("month={as_of_month}");
        (dir.join(&key).join(file), Some(key))
    } else {
        (dir.join(file), None)
    };
    emit::<T>(out, &path, key, &[], written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use rust_decimal_macros::dec;

    fn names(n: usize, distinct: usize) -> Vec<Name> {
        (0..n)
            .map(|i| Name::new(&format!("instance-{:05}", (i * 7) % distinct)))
            .collect()
    }

    #[test]
    fn primitive_columns_equal_polars_own_with_and_without_nulls() {
        let cases: [Vec<Option<i64>>; 5] = [
            vec![],
            vec![Some(1), Some(2), Some(3)],
            vec![None, Some(2), Some(3)],
            vec![Some(1), Some(2), None, Some(4), None],
            vec![None, None],
        ];
        for v in cases {
            let ours = i64_col("x", v.iter().copied());
            let theirs = Int64Chunked::from_iter_options("x".into(), v.iter().copied());
            let ours = ours.i64().unwrap();
            assert_eq!(ours.null_count(), theirs.null_count(), "{v:?}");
            assert_eq!(ours.iter().collect::<Vec<_>>(), v, "{v:?}");
            assert!(ours.equal_missing(&theirs).all(), "{v:?}");
        }
        let d = dec_col(
            "d",
            2,
            [Some(dec!(1.5)), None, Some(dec!(-0.25))].into_iter(),
        );
        let m: Vec<Option<i128>> = d.decimal().unwrap().physical().iter().collect();
        assert_eq!(m, vec![Some(150), None, Some(-25)]);
    }

    /// Columns built block by block in groups of columns give the columns built row by row,
    /// whatever the number of threads (groups), with nulls and across block boundaries.
    #[test]
    fn par_pieces_build_each_column_in_row_order_for_any_thread_count() {
        struct Row {
            name: Name,
            id: String,
            q: Option<Decimal>,
            n: Option<i32>,
            at: Ts,
        }
        let n = 2 * BLOCK + 77;
        let rows: Vec<Row> = (0..n)
            .map(|i| Row {
                name: Name::new(&format!("n{}", i % 13)),
                id: format!("id-{i}"),
                q: (i % 5 != 0).then(|| Decimal::new(i as i64 * 7, 3)),
                n: (i % 7 != 0).then_some(i as i32),
                at: i as Ts * 1_000_000,
            })
            .collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let pieces = || -> Vec<PieceOf<Row>> {
            vec![
                names_of("name", |r: &Row| r.name.as_str()),
                strings_of("id", |r: &Row| (r.n.is_some()).then_some(r.id.as_str())),
                decimals_of("q", 9, |r: &Row| r.q),
                ints_of("n", |r: &Row| r.n),
                instants_of("at", |r: &Row| Some(r.at)),
            ]
        };
        let built = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| pieces_frame(n, par_pieces(&refs, pieces())))
                .unwrap()
        };
        let want = frame(
            n,
            vec![
                str_col("name", rows.iter().map(|r| Some(r.name.as_str()))),
                str_col(
                    "id",
                    rows.iter().map(|r| r.n.is_some().then_some(r.id.as_str())),
                ),
                dec_col("q", 9, rows.iter().map(|r| r.q)),
                i32_col("n", rows.iter().map(|r| r.n)),
                ts_col("at", rows.iter().map(|r| Some(r.at))),
            ],
        )
        .unwrap();
        for threads in [1, 2, 3, 8] {
            let got = built(threads);
            assert!(got.equals_missing(&want), "{threads} threads");
        }
        assert_eq!(want.column("q").unwrap().null_count(), n.div_ceil(5));
    }

    #[test]
    fn repeated_col_numbers_values_in_order_of_first_appearance() {
        let v = ["b", "a", "b", "c", "a"].map(Name::new);
        let Piece::Repeated { name, keys, values } =
            repeated_col("x", v.iter().map(|n| n.as_str()))
        else {
            panic!("a repeated column")
        };
        assert_eq!(name, "x");
        assert_eq!(keys, vec![0, 1, 0, 2, 1]);
        assert_eq!(values, vec!["b", "a", "c"]);
        // As a polars column: the strings themselves.
        let c = repeated_col("x", v.iter().map(|n| n.as_str())).into_column();
        let got: Vec<_> = c.str().unwrap().iter().map(Option::unwrap).collect();
        assert_eq!(got, vec!["b", "a", "b", "c", "a"]);
    }

    /// A file written from dictionary pieces is byte for byte the file polars' own string
    /// dictionary gives: few distinct values (the dictionary is handed over), many (> 50 %:
    /// strings, the encoder decides), and at most 128 rows (always a dictionary).
    #[test]
    fn repeated_pieces_write_the_same_file_as_strings() {
        let dir = tempfile::tempdir().unwrap();
        for (k, (rows, distinct)) in [(5000, 40), (5000, 4000), (100, 90), (1, 1)]
            .into_iter()
            .enumerate()
        {
            let v = names(rows, distinct);
            let pieces = || {
                vec![
                    repeated_col("instance_id", v.iter().map(|n| n.as_str())),
                    Piece::Column(i64_col("n", (0..rows as i64).map(Some))),
                ]
            };
            let df = pieces_frame(rows, pieces()).unwrap();
            let (a, b) = (
                dir.path().join(format!("a{k}")),
                dir.path().join(format!("b{k}")),
            );
            write_frames(&a, df.schema(), std::iter::once(Ok(df.clone()))).unwrap();
            let group = RowGroup::from_pieces(rows, pieces());
            write_pages(Pages::Output, &b, df.schema(), std::iter::once(group)).unwrap();
            let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
            assert!(a == b, "{rows} rows, {distinct} distinct: files differ");
            // And it reads back as the strings.
            let file = std::fs::File::open(dir.path().join(format!("b{k}"))).unwrap();
            let back = ParquetReader::new(file).finish().unwrap();
            assert!(back.equals(&df), "{rows} rows, {distinct} distinct");
        }
    }
}
