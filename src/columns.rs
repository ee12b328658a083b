//! polars columns and frames built from Rust values: decimals as Decimal128 mantissas, instants
//! as UTC microsecond timestamps, strings, integers and booleans.
//!
//! Invariants: a column built here equals the one polars' own `from_iter_options` builds from
//! the same values (tested); decimals keep every digit at their scale (the caller rounds, once,
//! where docs/rules.md §1 says).

use crate::calendar::Ts;
use crate::error::Result;
use crate::money::to_mantissa;
use polars::prelude::*;
use rust_decimal::Decimal;

pub fn str_col<'a>(name: &str, v: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), v).into_column()
}

/// A Decimal128(38, `scale`) column: the precision of every decimal of the outputs.
pub fn dec_col(name: &str, scale: u32, v: impl Iterator<Item = Option<Decimal>>) -> Column {
    narrow_dec_col(name, 38, scale, v)
}

/// A Decimal128(`precision`, `scale`) column, for the inputs the generator writes where
/// docs/contract.md gives a precision below 38 (`coefficient` dec(18,9), `discount` dec(9,6)). The
/// values must fit the precision (the caller's to ensure; a Parquet reader may refuse them).
pub fn narrow_dec_col(
    name: &str,
    precision: usize,
    scale: u32,
    v: impl Iterator<Item = Option<Decimal>>,
) -> Column {
    let mantissas = primitive(v.map(|d| d.map(|d| to_mantissa(d, scale))));
    decimal_column(name, precision, scale, mantissas)
}

pub fn ts_col(name: &str, v: impl Iterator<Item = Option<Ts>>) -> Column {
    instant_column(name, primitive(v))
}

pub fn bool_col(name: &str, v: impl Iterator<Item = Option<bool>>) -> Column {
    BooleanChunked::from_iter_options(name.into(), v).into_column()
}

pub fn i32_col(name: &str, v: impl Iterator<Item = Option<i32>>) -> Column {
    i32_column(name, primitive(v))
}

pub fn i64_col(name: &str, v: impl Iterator<Item = Option<i64>>) -> Column {
    primitive(v).into_chunked::<Int64Type>(name).into_column()
}

/// Builds a frame from columns of equal length.
pub fn frame(height: usize, columns: Vec<Column>) -> Result<DataFrame> {
    Ok(DataFrame::new(height, columns)?)
}

/// A Decimal128(`precision`, `scale`) column from mantissas at `scale`.
pub(crate) fn decimal_column(
    name: &str,
    precision: usize,
    scale: u32,
    mantissas: Primitive<i128>,
) -> Column {
    mantissas
        .into_chunked::<Int128Type>(name)
        .into_decimal_unchecked(precision, scale as usize)
        .into_column()
}

/// A UTC microsecond timestamp column.
pub(crate) fn instant_column(name: &str, micros: Primitive<i64>) -> Column {
    micros
        .into_chunked::<Int64Type>(name)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

pub(crate) fn i32_column(name: &str, values: Primitive<i32>) -> Column {
    values.into_chunked::<Int32Type>(name).into_column()
}

/// A primitive column's values in one pass (see [`Primitive`]).
fn primitive<T: Copy + Default>(v: impl Iterator<Item = Option<T>>) -> Primitive<T> {
    let mut b = Primitive::with_capacity(v.size_hint().0);
    v.for_each(|x| b.push(x));
    b
}

/// The values of a primitive column being built. Its validity is started only at the first
/// null: output columns are nearly all without nulls, and a column without one is handed to
/// polars as the plain vector, with no validity to build or check.
pub(crate) struct Primitive<T> {
    values: Vec<T>,
    validity: Option<Vec<bool>>,
}

impl<T: Copy + Default> Primitive<T> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Primitive {
            values: Vec::with_capacity(n),
            validity: None,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: Option<T>) {
        match (x, &mut self.validity) {
            (Some(x), None) => self.values.push(x),
            (Some(x), Some(b)) => {
                self.values.push(x);
                b.push(true);
            }
            (None, b) => {
                let b = b.get_or_insert_with(|| {
                    let mut b = Vec::with_capacity(self.values.capacity());
                    b.resize(self.values.len(), true);
                    b
                });
                b.push(false);
                self.values.push(T::default());
            }
        }
    }

    /// The values as a polars array of type `P`.
    pub(crate) fn into_chunked<P>(self, name: &str) -> ChunkedArray<P>
    where
        P: PolarsNumericType<Native = T>,
    {
        match self.validity {
            None => ChunkedArray::from_vec(name.into(), self.values),
            Some(valid) => ChunkedArray::from_iter_options(
                name.into(),
                self.values
                    .into_iter()
                    .zip(valid)
                    .map(|(v, ok)| ok.then_some(v)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

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
}
