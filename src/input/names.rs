//! Columns of names: interned per file ([`Interner`]), looked up once per distinct value of a
//! string column ([`by_view`]), or replaced by `u32` ids for the spill ([`NameIds`]).
//!
//! Invariants: a name reads back the same whichever way it came (string or id); ids are
//! numbered per column in order of first appearance over the files numbered; a column of ids
//! is cut in the same arrays as the strings it replaces.

use super::InputFile;
use crate::error::Result;
use crate::name::Name;
use polars::prelude::*;

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

    pub(super) fn column(&self, col: &str) -> Option<&[Name]> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
            digest: None,
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
            digest: None,
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
}
