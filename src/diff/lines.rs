//! One bucket's bill lines of OLD and NEW compared: lines matched by `line_id`, the columns both
//! sides have compared on the matched pairs (a column at a time), and a [`DiffRow`] with its
//! reason for each line added, removed or changed whose `charge_start` lies in the compared
//! range.
//!
//! Invariants: values of one type are compared as they are, columns whose types differ between
//! the outputs as text, decimals by value whatever their scales; nulls equal nulls. A row's
//! descriptive columns come from NEW when both sides have it. Draws are read only for the usages
//! of changed lines.

use super::buckets::draws_of;
use super::reasons::{closed, drew_differently, line_reason, LineFacts};
use super::table::DiffRow;
use crate::calendar::{Month, Ts, Window};
use crate::error::{Error, Result};
use crate::output::read;
use polars::prelude::{ChunkCompareEq, Column, DataFrame, DataType, IdxCa, IdxSize};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// What every bucket's comparison of lines needs.
pub(super) struct LineCtx<'a> {
    /// OLD's window: a line charged inside it was in a period OLD covered.
    pub old_window: &'a Window,
    /// package_id → inventory attributes, of OLD and of NEW.
    pub packages: [&'a HashMap<String, String>; 2],
    /// The compared charge range `[from, to)`.
    pub from: Ts,
    pub to: Ts,
    pub catalog_changed: bool,
}

/// The columns of one bucket's bill lines the diff reads row by row.
struct LineCols<'a> {
    line_id: Vec<Option<&'a str>>,
    usage_id: Vec<Option<&'a str>>,
    charge_kind: Vec<Option<&'a str>>,
    owner_uin: Vec<Option<&'a str>>,
    product: Vec<Option<&'a str>>,
    charge_start: Vec<Option<Ts>>,
    amount: Vec<Option<Decimal>>,
}

impl<'a> LineCols<'a> {
    fn of(df: &'a DataFrame) -> Result<LineCols<'a>> {
        let s = |c: &str| -> Result<Vec<Option<&'a str>>> {
            let col = df.column(c)?;
            Ok(match col.dtype() {
                DataType::Null => vec![None; col.len()],
                _ => col.str()?.iter().collect(),
            })
        };
        Ok(LineCols {
            line_id: s("line_id")?,
            usage_id: s("usage_id")?,
            charge_kind: s("charge_kind")?,
            owner_uin: s("owner_uin")?,
            product: s("product")?,
            charge_start: read::instants(df, "charge_start")?,
            amount: read::decimals(df, "amount")?,
        })
    }
}

/// Lines matched by `line_id`: pairs `(old row, new row)` in NEW's order, NEW's rows without a
/// match, then OLD's.
struct Matching {
    pairs: Vec<(IdxSize, IdxSize)>,
    added: Vec<usize>,
    removed: Vec<usize>,
}

impl Matching {
    fn of(o: &LineCols, n: &LineCols) -> Matching {
        let by_key: rustc_hash::FxHashMap<&str, usize> = o
            .line_id
            .iter()
            .enumerate()
            .filter_map(|(i, k)| Some(((*k)?, i)))
            .collect();
        let mut matched = vec![false; o.line_id.len()];
        let mut pairs = Vec::new();
        let mut added = Vec::new();
        for (j, k) in n.line_id.iter().enumerate() {
            let Some(k) = k else { continue };
            match by_key.get(k) {
                Some(&i) => {
                    matched[i] = true;
                    pairs.push((i as IdxSize, j as IdxSize));
                }
                None => added.push(j),
            }
        }
        let removed = matched
            .iter()
            .enumerate()
            .filter(|(i, m)| !**m && o.line_id[*i].is_some())
            .map(|(i, _)| i)
            .collect();
        Matching {
            pairs,
            added,
            removed,
        }
    }
}

/// The columns both tables have, in OLD's order, and for each matched pair a bit per column
/// whose values differ.
struct Differences {
    shared: Vec<String>,
    bits: Vec<u64>,
}

impl Differences {
    fn of(old: &DataFrame, new: &DataFrame, pairs: &[(IdxSize, IdxSize)]) -> Result<Differences> {
        let shared: Vec<String> = old
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| new.column(c).is_ok())
            .collect();
        if shared.len() > 64 {
            return Err(Error::Incomparable(format!(
                "bill_lines has {} columns: at most 64 are compared",
                shared.len()
            )));
        }
        let oi = IdxCa::from_vec("o".into(), pairs.iter().map(|p| p.0).collect());
        let ni = IdxCa::from_vec("n".into(), pairs.iter().map(|p| p.1).collect());
        let mut bits = vec![0u64; pairs.len()];
        for (c, name) in shared.iter().enumerate() {
            let a = old.column(name)?.take(&oi)?;
            let b = new.column(name)?.take(&ni)?;
            for (k, d) in unequal(&a, &b)?.into_iter().enumerate() {
                if d {
                    bits[k] |= 1 << c;
                }
            }
        }
        Ok(Differences { shared, bits })
    }

    /// The bit of `col`, 0 when the tables do not share it.
    fn bit(&self, col: &str) -> u64 {
        self.shared
            .iter()
            .position(|c| c == col)
            .map_or(0, |c| 1u64 << c)
    }

    /// The names of the columns set in `bits`, comma-separated.
    fn names(&self, bits: u64) -> String {
        self.shared
            .iter()
            .enumerate()
            .filter(|(c, _)| bits & (1 << c) != 0)
            .map(|(_, name)| name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A line added, removed or changed in the compared range: the side that describes it (NEW's
/// when both have it) and its row there, its rows in OLD and NEW, its differing columns' bits.
struct Found<'c, 'a> {
    side: &'c LineCols<'a>,
    i: usize,
    old: Option<usize>,
    new: Option<usize>,
    bits: u64,
    start: Ts,
}

/// Changed pairs in NEW's order, then added lines, then removed ones; those charged outside
/// `[ctx.from, ctx.to)` or without a `charge_start` left out.
fn found<'c, 'a>(
    ctx: &LineCtx,
    o: &'c LineCols<'a>,
    n: &'c LineCols<'a>,
    m: &Matching,
    d: &Differences,
) -> Vec<Found<'c, 'a>> {
    let changed = m
        .pairs
        .iter()
        .zip(&d.bits)
        .filter(|(_, b)| **b != 0)
        .map(|(&(i, j), &b)| (n, j as usize, Some(i as usize), Some(j as usize), b));
    let added = m.added.iter().map(|&j| (n, j, None, Some(j), 0));
    let removed = m.removed.iter().map(|&i| (o, i, Some(i), None, 0));
    changed
        .chain(added)
        .chain(removed)
        .filter_map(|(side, i, old, new, bits)| {
            let start = side.charge_start[i]?;
            (start >= ctx.from && start < ctx.to).then_some(Found {
                side,
                i,
                old,
                new,
                bits,
                start,
            })
        })
        .collect()
}

/// Compares one bucket's bill lines of OLD and NEW, with their usages' draws (`draws`: the
/// bucket's files of OLD and of NEW); appends a `DiffRow` per line added, removed or changed in
/// the compared range.
pub(super) fn compare_lines(
    ctx: &LineCtx,
    old: Option<DataFrame>,
    new: Option<DataFrame>,
    draws: [&[PathBuf]; 2],
    rows: &mut Vec<DiffRow>,
) -> Result<()> {
    // A side with no lines in the bucket: an empty frame of the other's columns.
    let (old, new) = match (old, new) {
        (None, None) => return Ok(()),
        (Some(o), Some(n)) => (o, n),
        (Some(o), None) => {
            let n = o.clear();
            (o, n)
        }
        (None, Some(n)) => (n.clear(), n),
    };
    let (o, n) = (LineCols::of(&old)?, LineCols::of(&new)?);
    let m = Matching::of(&o, &n);
    let d = Differences::of(&old, &new, &m.pairs)?;
    let found = found(ctx, &o, &n, &m, &d);
    let wanted: HashSet<&str> = found.iter().filter_map(|f| f.side.usage_id[f.i]).collect();
    let (old_draws, new_draws) = (draws_of(draws[0], &wanted)?, draws_of(draws[1], &wanted)?);
    let old_usage: HashSet<&str> = o.usage_id.iter().flatten().copied().collect();
    let price_bit = d.bit("unit_price");
    for f in found {
        let (change, columns) = match (f.old, f.new) {
            (Some(_), Some(_)) => ("changed", d.names(f.bits)),
            (None, Some(_)) => ("added", String::new()),
            _ => ("removed", String::new()),
        };
        let usage_id = f.side.usage_id[f.i];
        let facts = LineFacts {
            change,
            charge_kind: f.side.charge_kind[f.i].unwrap_or(""),
            usage_unknown_to_old: usage_id.is_some_and(|u| !old_usage.contains(u)),
            in_old_window: ctx.old_window.contains(f.start),
            drew_differently: drew_differently(usage_id, [&old_draws, &new_draws], ctx.packages),
            catalog_changed: ctx.catalog_changed,
            price_differs: f.bits & price_bit != 0,
        };
        let month = Month::of(f.start).to_string();
        rows.push(DiffRow {
            table: "bill_lines",
            key: f.side.line_id[f.i].unwrap_or("").to_string(),
            closed_in_old: closed(ctx.old_window, &month),
            month,
            owner_uin: f.side.owner_uin[f.i].unwrap_or("").to_string(),
            product: f.side.product[f.i].unwrap_or("").to_string(),
            usage_id: usage_id.map(String::from),
            change,
            reason: line_reason(&facts),
            old_amount: f.old.and_then(|a| o.amount[a]),
            new_amount: f.new.and_then(|b| n.amount[b]),
            columns,
        });
    }
    Ok(())
}

/// Row by row, whether two columns' values differ, nulls equal to nulls. Values of one type
/// are compared as they are (for decimals of one scale, exact text and value agree); columns
/// whose types differ between the outputs are compared as text.
pub(super) fn unequal(a: &Column, b: &Column) -> Result<Vec<bool>> {
    if a.dtype() == b.dtype() {
        let ne = a
            .as_materialized_series()
            .not_equal_missing(b.as_materialized_series())?;
        return Ok(ne.iter().map(|v| v.unwrap_or(false)).collect());
    }
    let one = |c: &Column| crate::output::frame(c.len(), vec![c.clone()]);
    if let (DataType::Decimal(..), DataType::Decimal(..)) = (a.dtype(), b.dtype()) {
        // Two scales: compared by value (`1.50` = `1.50000000`).
        let x = read::decimals(&one(a)?, a.name().as_str())?;
        let y = read::decimals(&one(b)?, b.name().as_str())?;
        return Ok(x.iter().zip(&y).map(|(p, q)| p != q).collect());
    }
    let text = |c: &Column| read::text(&one(c)?, c.name().as_str());
    let (x, y) = (text(a)?, text(b)?);
    Ok(x.iter().zip(&y).map(|(p, q)| p != q).collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    /// Only lines charged in the compared range count; unchanged lines give no row; a changed
    /// line lists its differing columns in OLD's column order and keeps its usage id.
    #[test]
    fn only_changed_lines_in_the_compared_range_give_rows() {
        let old = lines(&[
            line("u:a:1", Some("a"), "usage", "2024-03-01", "1"),
            line("u:b:1", Some("b"), "usage", "2024-04-01", "1"),
            line("u:c:1", Some("c"), "usage", "2024-04-02", "1"),
        ]);
        let new = lines(&[
            line("u:a:1", Some("a"), "usage", "2024-03-01", "5"),
            line("u:b:1", Some("b"), "usage", "2024-04-01", "1"),
            priced("u:c:1", "0.85", "3"),
        ]);
        let got = compare_lines_of(&Setup::default(), Some(old), Some(new));
        assert_eq!(
            brief(&got),
            ["bill_lines u:c:1 2024-05 changed changed 2 [charge_start,unit_price,amount]"]
        );
        assert_eq!(got[0].usage_id.as_deref(), Some("c"));
        assert_eq!(got[0].owner_uin, "acct-1");
        assert_eq!(got[0].product, "eip");
    }

    /// Columns whose types differ between the outputs compare as text; decimals of two scales
    /// by value.
    #[test]
    fn columns_of_two_types_compare_as_text() {
        use crate::output::{dec_col, str_col};
        use std::str::FromStr;
        let a = str_col("x", ["1", "2"].iter().map(|s| Some(*s)));
        let b = dec_col("x", 0, ["1", "3"].iter().map(|s| Decimal::from_str(s).ok()));
        assert_eq!(unequal(&a, &b).unwrap(), vec![false, true]);
    }
}
