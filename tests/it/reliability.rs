//! Reliability under bad input (issue #37): one regression test per defect found by the trial,
//! named after it. Each shows the rule "bad input never panics and never vanishes": a
//! file-level problem stops the run (exit 2) naming what to fix, a row-level problem is an
//! `exceptions` row. `docs/reliability.md` maps each class of fault to its test.

use crate::common::*;
use reckon::output::manifest;
use reckon::output::{dec_col, frame, str_col, ts_col, write_parquet};
use std::path::Path;

/// `source_table|source_id|rule` of every exception row.
fn findings(out: &Path) -> Vec<String> {
    let ex = read_table(out, "exceptions");
    rows_text(&ex, &["source_table", "source_id", "rule"])
}

/// Runs the binary on `input` (its `catalog.toml`), with `--as-of` when given.
fn run(input: &Path, out: &Path, as_of: Option<&str>) -> (i32, String) {
    let catalog = input.join("catalog.toml");
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    if let Some(d) = as_of {
        args.extend(["--as-of", d]);
    }
    run_binary(&args)
}

/// Defect 1: a package and a subscription share an id. A refund event naming it cannot say
/// which it refunds: it used to refund both, under one `line_id` twice. Now it is an
/// `ambiguous_target` exception and refunds neither; line ids stay unique.
#[test]
fn defect_01_package_id_equal_to_subscription_id() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "subscriptions",
        subscription_cols(&[SubRow {
            id: "pkg-1",
            started: "2024-05-01 10:00:00",
            expires: Some("2024-06-01 10:00:00"),
            ..SubRow::default()
        }]),
    );
    ds.tables.insert(
        "events",
        event_cols(&[("rf-1", "refund", "pkg-1", "2024-05-20 00:00:00", None, None)]),
    );
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    assert!(
        findings(out.path()).contains(&"events|rf-1|ambiguous_target".to_string()),
        "{:?}",
        findings(out.path())
    );
    assert_eq!(read_table(out.path(), "refunds").height(), 0);
    let lines = read_table(out.path(), "bill_lines");
    let ids = rows_text(&lines, &["line_id"]);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert!(!ids.iter().any(|i| i.starts_with("r:")), "{ids:?}");
    // The package's purchase and the subscription's term are both still billed.
    assert!(ids.contains(&"p:pkg-1".to_string()), "{ids:?}");
    assert!(ids.iter().any(|i| i.starts_with("s:pkg-1:")), "{ids:?}");
}

/// Defect 2: `*.PARQUET`, `*.parq` and `_x.parquet` were skipped without a word. Now `.parquet`
/// and `.parq` in any case are read; hidden (`_`, `.`) and other names are skipped, each listed
/// in the manifest's `skipped_inputs` with its reason and logged.
#[test]
fn defect_02_files_silently_skipped() {
    let input = tempfile::tempdir().unwrap();
    let dir = input.path();
    Dataset::valid().write(dir);
    std::fs::rename(
        dir.join("usage/part-0.parquet"),
        dir.join("usage/part-0.PARQUET"),
    )
    .unwrap();
    let mut pay = frame(
        1,
        vec![
            str_col("payment_id", [Some("pay-1")].into_iter()),
            str_col("owner_uin", [Some("acct-1")].into_iter()),
            ts_col("paid_at", [Some(t("2024-05-02 00:00:00"))].into_iter()),
            dec_col("amount", 8, [d("50")].into_iter()),
        ],
    )
    .unwrap();
    write_parquet(&dir.join("payments/top-up.parq"), &mut pay).unwrap();
    std::fs::copy(
        dir.join("usage/part-0.PARQUET"),
        dir.join("usage/_x.parquet"),
    )
    .unwrap();
    std::fs::write(dir.join("usage/notes.txt"), "not data").unwrap();
    let out = out_dir();
    let (code, err) = run(dir, out.path(), Some("2024-06-01"));
    assert_eq!(code, 0, "{err}");
    let m = manifest::read(out.path()).unwrap();
    assert_eq!(m.usage.read, 2, "the upper-case usage file is read");
    let read: Vec<(&str, usize)> = (m.inputs.iter())
        .map(|f| (f.path.as_str(), f.rows))
        .collect();
    assert!(read.contains(&("usage/part-0.PARQUET", 2)), "{read:?}");
    assert!(read.contains(&("payments/top-up.parq", 1)), "{read:?}");
    let skipped: Vec<(&str, &str)> = (m.skipped_inputs.iter())
        .map(|s| (s.table.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [("usage", "usage/_x.parquet"), ("usage", "usage/notes.txt")]
    );
    assert!(m.skipped_inputs[0].reason.contains("hidden"));
    assert!(
        err.contains("usage/_x.parquet") && err.contains("skipped"),
        "{err}"
    );
}

/// Defect 3: without `--as-of`, one usage row dated 2031 moved the three-month window to 2031
/// and the run billed nothing of the real data, exit 0. Now the run stops naming the row; with
/// `--as-of` the row is counted `after_as_of`, and data without a stray row still sets its
/// own window.
#[test]
fn defect_03_one_stray_row_moves_the_window() {
    let mut ds = Dataset::valid();
    let stray = ("u-9", "acct-1", "ap-guangzhou", "eip", "public_traffic");
    let (id, owner, region, product, item) = stray;
    ds.append_rows(
        "usage",
        usage_cols(&[(
            id,
            owner,
            region,
            product,
            item,
            "2031-01-01 07:00:00",
            "1",
            "GB",
        )]),
    );
    let input = tempfile::tempdir().unwrap();
    ds.write(input.path());
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), None);
    assert_eq!(code, 2, "{err}");
    for what in [
        "usage/part-0.parquet",
        "row 2",
        "u-9",
        "2031-01-01 07:00:00",
        "--as-of",
    ] {
        assert!(err.contains(what), "{what}: {err}");
    }
    assert!(!out.path().exists(), "nothing published");
    let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
    assert_eq!(code, 0, "{err}");
    let m = manifest::read(out.path()).unwrap();
    assert_eq!((m.usage.read, m.usage.after_as_of), (3, 1));
    // Without the stray row, the default as-of is the day after the latest usage day.
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(manifest::read(out.path()).unwrap().as_of_date, "2024-05-02");
}

/// Defect 6: a price of 1e28 in the catalog still parsed as a decimal and made the ledger
/// panic ("Addition overflowed", exit 101). Now the catalog is refused naming the entry, and an
/// account whose input amounts add up past the decimal range is refused naming it: exit 2.
#[test]
fn defect_06_panic_on_a_huge_catalog_price() {
    let input = tempfile::tempdir().unwrap();
    let dir = input.path();
    Dataset::valid().write(dir);
    let text = std::fs::read_to_string(dir.join("catalog.toml")).unwrap();
    let huge = "10000000000000000000000000000";
    let bad = text.replacen(
        "unit_price = \"0.80\"",
        &format!("unit_price = \"{huge}\""),
        1,
    );
    assert_ne!(bad, text);
    std::fs::write(dir.join("catalog.toml"), bad).unwrap();
    let out = out_dir();
    let (code, err) = run(dir, out.path(), Some("2024-06-01"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(huge) && err.contains("largest catalog value"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Payments near the decimal maximum: the ledger's sums are checked.
    let mut ds = Dataset::valid();
    let big = d("50000000000000000000000000000");
    ds.tables.insert(
        "payments",
        vec![
            str_col("payment_id", [Some("pay-1"), Some("pay-2")].into_iter()),
            str_col("owner_uin", [Some("acct-1"), Some("acct-1")].into_iter()),
            ts_col(
                "paid_at",
                [Some(t("2024-05-02")), Some(t("2024-05-03"))].into_iter(),
            ),
            dec_col("amount", 0, [big, big].into_iter()),
        ],
    );
    let input = tempfile::tempdir().unwrap();
    ds.write(input.path());
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("acct-1") && err.contains("decimal range"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Defect 6, across accounts: each account's amounts are in range, but the run's totals of
/// the manifest (bill lines of the window, bills) add up past the decimal range: a clear error
/// naming the sum, exit 2, not a panic.
#[test]
fn defect_06_run_totals_past_the_decimal_range() {
    let mut ds = Dataset::valid();
    total_packages(
        &mut ds,
        &[
            ("pkg-1", "acct-1", "5", "2024-05-01", "2024-10-01"),
            ("pkg-2", "acct-2", "5", "2024-05-01", "2024-10-01"),
        ],
    );
    let big = d("50000000000000000000000000000");
    ds.set_col("packages", dec_col("price_paid", 0, [big, big].into_iter()));
    ds.set_col(
        "packages",
        dec_col("voucher_amount", 0, [d("0"), d("0")].into_iter()),
    );
    let input = tempfile::tempdir().unwrap();
    ds.write(input.path());
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("decimal range"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Defect 11: a quantity with more than 9 decimals was rounded to 9 without a word. Now a
/// non-zero digit past the 9th decimal makes the row `value_out_of_range` (docs/rules.md §1.4:
/// quantities carry 9 decimals); trailing zeros past it are no loss and pass.
#[test]
fn defect_11_precision_lost_silently() {
    let mut ds = Dataset::valid();
    ds.set_col(
        "usage",
        dec_col(
            "quantity",
            12,
            [d("10.000000000001"), d("20000.000000000000")].into_iter(),
        ),
    );
    let (_in, out) = run_dataset(&ds, "2024-06-01");
    assert_eq!(
        findings(out.path())
            .iter()
            .filter(|f| f.starts_with("usage|"))
            .collect::<Vec<_>>(),
        ["usage|u-1|value_out_of_range"]
    );
    let ex = read_table(out.path(), "exceptions");
    let details = rows_text(&ex, &["detail"]);
    assert!(
        details.iter().any(|d| d.contains("9th decimal")),
        "{details:?}"
    );
    let m = manifest::read(out.path()).unwrap();
    assert_eq!((m.usage.read, m.usage.invalid, m.usage.billed), (2, 1, 1));
}

/// Defect 4: the manifest hashed the inputs at the end of the run, so an input rewritten during
/// the run was recorded with bytes that were never billed. Each file is hashed from the very
/// bytes read: here the usage file is rewritten after the run read it (a chunked source spills
/// it at once), and the manifest's record is still the bytes billed, with their rows.
#[test]
fn defect_04_manifest_hashes_inputs_at_the_end_of_the_run() {
    use reckon::input::{self, chunks::UsageSource};
    use reckon::shard::{Partitioner, ShardSpec};
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let usage = input.path().join("usage/part-0.parquet");
    let (bytes, sha256) = input::hash_file(&usage).unwrap();
    let base = input::load_base(input.path()).unwrap();
    let part = Partitioner::new(input::pool_links(&base.packages), ShardSpec::ALL, 2);
    let mut source = UsageSource::open(input.path(), &part, None, u64::MAX).unwrap();
    // Rewritten while the run goes on: three rows instead of two.
    let rows = [
        (
            "u-x",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-02 07:00:00",
            "5",
            "GB",
        ),
        (
            "u-y",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-02 08:00:00",
            "5",
            "GB",
        ),
        (
            "u-z",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-02 09:00:00",
            "5",
            "GB",
        ),
    ];
    let mut df = frame(3, usage_cols(&rows)).unwrap();
    write_parquet(&usage, &mut df).unwrap();
    assert_ne!(input::hash_file(&usage).unwrap().1, sha256);
    let billed: usize = (0..2)
        .map(|c| source.load_chunk(c, &part).unwrap())
        .flat_map(|files| files.into_iter().map(|f| f.df.height()))
        .sum();
    assert_eq!(billed, 2);
    let infos = source.file_infos().unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].path, "usage/part-0.parquet");
    assert_eq!((infos[0].bytes, &infos[0].sha256), (bytes, &sha256));
    assert_eq!(infos[0].rows, 2);
    // Every other table's record is the bytes read too.
    let (_, packages) = input::hash_file(&input.path().join("packages/part-0.parquet")).unwrap();
    let recorded = base.files.iter().find(|f| f.table == "packages").unwrap();
    assert_eq!(recorded.sha256, packages);
}

/// A valid dataset whose one usage file is `usage` (its bytes), in `dir`.
fn with_usage_file(dir: &Path, usage: &[u8]) {
    Dataset::valid().write(dir);
    std::fs::write(dir.join("usage/part-0.parquet"), usage).unwrap();
}

/// A usage file of `n` valid rows in row groups of 100 rows, and the byte range of
/// `column`'s data in row group `group`.
fn usage_in_groups(n: usize, column: &str, group: usize) -> (Vec<u8>, std::ops::Range<usize>) {
    use polars::prelude::{ParquetReader, ParquetWriter, SerReader};
    let ids: Vec<String> = (0..n).map(|i| format!("u-{i}")).collect();
    let rows: Vec<U> = (ids.iter())
        .map(|id| {
            let (owner, region, product, item) =
                ("acct-1", "ap-guangzhou", "eip", "public_traffic");
            (
                id.as_str(),
                owner,
                region,
                product,
                item,
                "2024-05-01 07:00:00",
                "1.5",
                "GB",
            )
        })
        .collect();
    let mut df = frame(n, usage_cols(&rows)).unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .with_row_group_size(Some(100))
        .finish(&mut df)
        .unwrap();
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes.clone()));
    let meta = reader.get_metadata().unwrap().clone();
    let k = df.get_column_index(column).unwrap();
    let r = meta.row_groups[group].parquet_columns()[k].byte_range();
    (bytes, r.start as usize..r.end as usize)
}

/// Defect 9: invalid UTF-8, a decimal256 column and a corrupt data page stopped the run with
/// an error naming only the file. Each now names the file, the column, the row group (its
/// rows) and the row where reading fails, and the run exits 2. (The UTF-8 and decimal256 files
/// come from pyarrow, `tests/data/make_fixtures.py`.)
#[test]
fn defect_09_errors_name_only_the_file() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let fixture = |name: &str| std::fs::read(data.join(name)).unwrap();
    let (mut corrupt, page) = usage_in_groups(300, "quantity", 1);
    // The second half of row group 1's `quantity` pages overwritten.
    corrupt[(page.start + page.end) / 2..page.end].fill(0xAA);
    let cases = [
        (
            fixture("invalid_utf8.parquet"),
            "column `owner_uin`, row group 1 (rows 2 to 3), row 3: cannot read",
        ),
        (
            fixture("decimal256.parquet"),
            "column `quantity`, row group 0 (rows 0 to 1), row 0: cannot read",
        ),
        (
            corrupt,
            "column `quantity`, row group 1 (rows 100 to 199), row 100: cannot read",
        ),
    ];
    for (bytes, want) in cases {
        let input = tempfile::tempdir().unwrap();
        with_usage_file(input.path(), &bytes);
        let out = out_dir();
        let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("usage/part-0.parquet"), "{err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Flips one bit in the middle of the first column chunk of the first row group of `path`:
/// inside a data page's bytes.
fn flip_a_bit_in_a_page(path: &Path) {
    use polars::prelude::{ParquetReader, SerReader};
    let mut bytes = std::fs::read(path).unwrap();
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes.clone()));
    let meta = reader.get_metadata().unwrap().clone();
    let r = meta.row_groups[0].parquet_columns()[0].byte_range();
    bytes[((r.start + r.end) / 2) as usize] ^= 0x08;
    std::fs::write(path, bytes).unwrap();
}

/// Defect 14: a bit flipped in a data page of an output changed quantities silently (Parquet
/// pages carry no checksum unless the writer adds one, and polars' writer does not). The
/// manifest holds every output file's SHA-256, and `diff`, `merge` and `export` verify each
/// file before using any: a flipped bit stops them (exit 2) naming the file.
#[test]
fn defect_14_bit_flips_in_data_pages_change_quantities_silently() {
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
    assert_eq!(code, 0, "{err}");
    let m = manifest::read(out.path()).unwrap();
    let lines = &m.outputs["bill_lines"].files[0];
    assert_eq!(
        m.output_sha256.len(),
        m.outputs.values().map(|w| w.files.len()).sum::<usize>()
    );
    let o = out.path().to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let focus = elsewhere.path().join("focus");
    let merged = elsewhere.path().join("merged");
    let (f, mo) = (focus.to_str().unwrap(), merged.to_str().unwrap());
    let commands: [Vec<&str>; 3] = [
        vec!["diff", o, o],
        vec!["export", "focus", "--input", o, "--output", f],
        vec!["merge", "--output", mo, o],
    ];
    for args in &commands {
        let (code, err) = run_binary(args);
        assert_eq!(code, 0, "{args:?} before the flip: {err}");
    }
    std::fs::remove_dir_all(&focus).unwrap();
    std::fs::remove_dir_all(&merged).unwrap();
    flip_a_bit_in_a_page(&out.path().join(lines));
    for args in &commands {
        let (code, err) = run_binary(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(lines.as_str()) && err.contains("sha256"),
            "{err}"
        );
    }
    assert!(!merged.exists() && !focus.join("_manifest.json").exists());
}

/// The bytes of `tests/data/page_checksums.parquet` (pyarrow, every page with a CRC-32, plain
/// and uncompressed; `tests/data/make_fixtures.py`) with one bit flipped in the last
/// `quantity` value of row group 1: the low bit of a big-endian decimal, which still decodes.
fn page_checksums_flipped() -> (Vec<u8>, Vec<u8>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/page_checksums.parquet");
    let intact = std::fs::read(path).unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(intact.clone())).unwrap();
    let group = reader.metadata().row_group(1);
    let chunk = (group.columns().iter())
        .find(|c| c.column_path().string() == "quantity")
        .unwrap();
    let (start, len) = chunk.byte_range();
    let mut flipped = intact.clone();
    flipped[(start + len - 1) as usize] ^= 0x01;
    (intact, flipped)
}

/// Defect 14, inputs: a bit flipped in an input's data page changed a quantity silently, since
/// polars' reader checks no page checksum. Pages that carry a CRC-32 (pyarrow's
/// `write_page_checksum=True`, parquet-mr's default) are checked before they are decoded: the
/// flip stops the run (exit 2) naming the file, column, row group and page, where the same file
/// intact is billed.
#[test]
fn defect_14_bit_flip_in_an_input_page_with_a_checksum() {
    use polars::prelude::{ParquetReader, SerReader};
    let (intact, flipped) = page_checksums_flipped();
    // The flip decodes: without the checksum it would be billed as 1.500000001.
    let df = ParquetReader::new(std::io::Cursor::new(flipped.clone()))
        .finish()
        .unwrap();
    let q = df.column("quantity").unwrap().get(3).unwrap().to_string();
    assert_eq!(q, "1.500000001");

    let input = tempfile::tempdir().unwrap();
    with_usage_file(input.path(), &intact);
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
    assert_eq!(code, 0, "{err}");

    with_usage_file(input.path(), &flipped);
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), Some("2024-06-01"));
    assert_eq!(code, 2, "{err}");
    let want = "usage/part-0.parquet: column `quantity`, row group 1 (rows 2 to 3), page 0: \
                page checksum (CRC-32) mismatch";
    assert!(err.contains(want), "want {want:?} in {err}");
    assert!(!out.path().join("_manifest.json").exists());
}
