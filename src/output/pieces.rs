//! Output columns built from rows: each column of a table is a [`Piece`], built by its own
//! [`Builder`] in row order, and [`par_pieces`] builds a row group's columns in parallel.
//!
//! Invariants: a column's values are in the rows' order, whatever the number of threads
//! (tested); a [`Piece::Repeated`] column reads back as the very strings it was built from.

use crate::calendar::Ts;
use crate::columns::{decimal_column, frame, i32_column, instant_column, Primitive};
use crate::error::Result;
use crate::money::to_mantissa;
use polars::prelude::*;
use rust_decimal::Decimal;

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
    /// The piece as a polars column. A repeated column is its distinct values gathered by the
    /// rows' keys: a string view array whose views point into one buffer of the distinct
    /// values, so no string is copied per row.
    pub fn into_column(self) -> Result<Column> {
        Ok(match self {
            Piece::Column(c) => c,
            Piece::Repeated { name, keys, values } => {
                let distinct = StringChunked::from_iter_values(name.into(), values.into_iter());
                distinct
                    .take(&IdxCa::from_vec(name.into(), keys))?
                    .into_column()
            }
        })
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
    V: Copy + Default + Send,
    C: FnOnce(&'static str, Primitive<V>) -> Column + Send,
{
    type Item<'a> = Option<V>;
    #[inline]
    fn put(&mut self, x: Option<V>) {
        self.values.push(x)
    }
    fn finish(self) -> Piece {
        Piece::Column((self.column)(self.name, self.values))
    }
}

/// A string column being built (as polars' `from_iter_options` builds one).
struct Strings {
    values: StringChunkedBuilder,
}

impl Put for Strings {
    type Item<'a> = Option<&'a str>;
    #[inline]
    fn put(&mut self, x: Option<&str>) {
        self.values.append_option(x)
    }
    fn finish(self) -> Piece {
        Piece::Column(self.values.finish().into_column())
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

fn primitives<V: Copy + Default, C>(name: &'static str, n: usize, column: C) -> Primitives<V, C> {
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
        values: StringChunkedBuilder::new(c.into(), n),
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
    let columns = pieces.into_iter().map(Piece::into_column);
    frame(height, columns.collect::<Result<_>>()?)
}
