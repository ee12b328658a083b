//! The columns the comparison reads from each output table, and their check against each
//! file's footer before anything is compared.
//!
//! Invariant: a file that lacks one of these columns, or holds it in a type its reader does not
//! take, is bad input (a usage error, exit 2) naming the file and the column — found up front,
//! so that bills are never compared under empty keys and no reader fails halfway through.

use crate::error::{Error, Result};
use polars::prelude::DataType;
use std::path::PathBuf;

/// The columns of `bills` the comparison keys and totals by.
pub(super) const BILL_COLUMNS: &[(&str, Kind)] = &[
    ("month", Kind::Any),
    ("owner_uin", Kind::Any),
    ("product", Kind::Any),
    ("total_amount", Kind::Any),
];

/// The columns of `bill_lines` the comparison reads row by row.
pub(super) const LINE_COLUMNS: &[(&str, Kind)] = &[
    ("line_id", Kind::Text),
    ("usage_id", Kind::Text),
    ("charge_kind", Kind::Text),
    ("owner_uin", Kind::Text),
    ("product", Kind::Text),
    ("charge_start", Kind::Instant),
    ("amount", Kind::Decimal),
];

/// The columns of `deduction_details` the comparison reads.
pub(super) const DRAW_COLUMNS: &[(&str, Kind)] = &[
    ("usage_id", Kind::Text),
    ("package_id", Kind::Any),
    ("deducted", Kind::Any),
    ("original_usage", Kind::Any),
    ("coefficient", Kind::Any),
];

/// What a column the comparison reads must hold: the types its readers take (a decimal or
/// timestamp column may also be of nulls only), nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Read as text whatever its type.
    Any,
    /// A string column.
    Text,
    /// A decimal column.
    Decimal,
    /// A timestamp column.
    Instant,
}

impl Kind {
    fn admits(self, t: &DataType) -> bool {
        matches!(
            (self, t),
            (Kind::Any, _)
                | (Kind::Text, DataType::String)
                | (Kind::Decimal, DataType::Decimal(..) | DataType::Null)
                | (Kind::Instant, DataType::Datetime(..) | DataType::Null)
        )
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Any => "any type",
            Kind::Text => "a string",
            Kind::Decimal => "a decimal",
            Kind::Instant => "a timestamp",
        }
    }
}

/// Every file of `table` has the columns `cols` with a type their readers take (read from its
/// footer), or a usage error naming the file and the first column missing or mistyped.
pub(super) fn require_columns(files: &[PathBuf], table: &str, cols: &[(&str, Kind)]) -> Result<()> {
    for f in files {
        let file = std::fs::File::open(f).map_err(|e| Error::io(f, e))?;
        use polars::prelude::SerReader;
        let schema = polars::prelude::ParquetReader::new(file)
            .schema()
            .map_err(|e| Error::Parquet {
                path: f.clone(),
                message: e.to_string(),
            })?;
        for (c, kind) in cols {
            if schema.get(c).is_none() && in_path(f, c) {
                continue; // a partition key: read from the path (`read::read_file`)
            }
            let Some(field) = schema.get(c) else {
                return Err(Error::MissingColumn {
                    path: f.clone(),
                    table: table.to_string(),
                    column: c.to_string(),
                });
            };
            let t = DataType::from_arrow_field(field);
            if !kind.admits(&t) {
                return Err(Error::WrongType {
                    path: f.clone(),
                    column: format!("{c}` of output table `{table}"),
                    expected: kind.name().to_string(),
                    found: t.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Whether the directory holding `file` is the Hive partition `col=value`.
fn in_path(file: &std::path::Path, col: &str) -> bool {
    file.parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once('='))
        .is_some_and(|(k, _)| k == col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::TimeUnit;

    #[test]
    fn kinds_admit_the_types_their_readers_take() {
        let dec = DataType::Decimal(38, 8);
        let ts = DataType::Datetime(TimeUnit::Microseconds, None);
        assert!(Kind::Decimal.admits(&dec) && Kind::Decimal.admits(&DataType::Null));
        assert!(!Kind::Decimal.admits(&DataType::Float64));
        assert!(Kind::Instant.admits(&ts) && !Kind::Instant.admits(&DataType::String));
        assert!(Kind::Text.admits(&DataType::String) && !Kind::Text.admits(&DataType::Null));
        assert!(Kind::Any.admits(&DataType::Float64));
    }
}
