//! Page checksums of input files: every page of the columns a run reads is checked against the
//! CRC-32 its header carries, when the writer put one there (pyarrow's
//! `write_page_checksum=True`, parquet-mr's and so Spark's default). polars' reader checks none,
//! so a bit flipped in a page that still decodes would be billed as data; here it stops the run
//! ([`Error::Checksum`]) naming the file, column, row group and page.
//!
//! Invariants: a page without a CRC passes (the field is optional in Parquet); only a CRC that
//! does not match is reported here. Any other failure of this reader (a footer or page that does
//! not parse, a codec it lacks) is left to polars' read, which reports and locates it
//! (`files::locate`), so a file is refused for the same reasons with or without checksums.

use crate::error::{Error, Result};
use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::path::Path;

/// The message of arrow-rs `parquet` (with its `crc` feature) for a page whose CRC-32 does not
/// match its bytes (`file/serialized_reader.rs`, `decode_page`).
const CRC_MISMATCH: &str = "Page CRC checksum mismatch";

/// Checks the pages of `columns` (top-level column names; others are not read by the run) of
/// the Parquet file `bytes`, read from `path`. Pages are read in file order; the first whose
/// CRC-32 does not match stops the check.
pub(crate) fn verify(path: &Path, bytes: &Bytes, columns: &[String]) -> Result<()> {
    let walk = std::panic::AssertUnwindSafe(|| walk_pages(path, bytes, columns));
    // The reader works on untrusted bytes: a panic inside it is a failure to parse, which
    // polars' read reports.
    std::panic::catch_unwind(walk).unwrap_or(Ok(()))
}

fn walk_pages(path: &Path, bytes: &Bytes, columns: &[String]) -> Result<()> {
    let Ok(reader) = SerializedFileReader::new(bytes.clone()) else {
        return Ok(());
    };
    let meta = reader.metadata();
    let leaves: Vec<(usize, String)> = (meta.file_metadata().schema_descr().columns().iter())
        .enumerate()
        .filter(|(_, c)| c.path().parts().len() == 1 && columns.contains(&c.name().to_string()))
        .map(|(j, c)| (j, c.name().to_string()))
        .collect();
    let mut start = 0;
    for k in 0..reader.num_row_groups() {
        let rows = meta.row_group(k).num_rows().max(0) as usize;
        let Ok(group) = reader.get_row_group(k) else {
            return Ok(());
        };
        for (j, column) in &leaves {
            let Ok(mut pages) = group.get_column_page_reader(*j) else {
                continue;
            };
            for page in 0.. {
                match pages.get_next_page() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) if e.to_string().contains(CRC_MISMATCH) => {
                        return Err(Error::Checksum {
                            path: path.to_path_buf(),
                            column: column.clone(),
                            row_group: (k, start..start + rows),
                            page,
                        })
                    }
                    Err(_) => break,
                }
            }
        }
        start += rows;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn parquet_bytes(df: &mut DataFrame) -> Bytes {
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(df).unwrap();
        Bytes::from(buf)
    }

    /// polars writes no page CRC: such a file passes, whatever its pages hold.
    #[test]
    fn a_file_without_checksums_passes() {
        let mut df = df!("quantity" => [1i64, 2, 3], "name" => ["a", "b", "c"]).unwrap();
        let bytes = parquet_bytes(&mut df);
        let columns = ["quantity".to_string(), "name".to_string()];
        verify(Path::new("x.parquet"), &bytes, &columns).unwrap();
    }

    /// pyarrow's file with a CRC-32 in every page passes intact; with one bit flipped in the
    /// last `quantity` value of row group 1 it is refused, naming the column, group and page.
    #[test]
    fn a_flipped_bit_in_a_page_with_a_checksum_is_reported() {
        let intact: &[u8] = include_bytes!("../../tests/data/page_checksums.parquet");
        let columns = ["usage_id".to_string(), "quantity".to_string()];
        let path = Path::new("usage/x.parquet");
        verify(path, &Bytes::from_static(intact), &columns).unwrap();
        let reader = SerializedFileReader::new(Bytes::from_static(intact)).unwrap();
        let group = reader.metadata().row_group(1);
        let (start, len) = group.column(9).byte_range();
        assert_eq!(group.column(9).column_path().string(), "quantity");
        let mut flipped = intact.to_vec();
        flipped[(start + len - 1) as usize] ^= 0x01;
        let err = verify(path, &Bytes::from(flipped), &columns).unwrap_err();
        let Error::Checksum {
            column,
            row_group,
            page,
            ..
        } = err
        else {
            panic!("{err}")
        };
        assert_eq!(
            (column.as_str(), row_group, page),
            ("quantity", (1, 2..4), 0)
        );
    }

    /// Bytes that are not Parquet are not this check's to report: polars' read refuses them.
    #[test]
    fn bytes_that_do_not_parse_are_left_to_the_reader() {
        let bytes = Bytes::from_static(b"PAR1 not a parquet file PAR1");
        verify(Path::new("x.parquet"), &bytes, &["a".to_string()]).unwrap();
    }
}
