//! Reliability under operational faults (issue 37): many input files in a chunked run, a
//! far-future as-of, a usage row in an impossible unit, and output paths that are symlinks,
//! regular files, or nested with the input. One regression test per defect, named after it.

use crate::common::*;
use reckon::output::write_parquet;
use std::path::Path;

/// `reckon run` of `input` into `out` with the sample catalog; returns (exit code, stderr).
fn run(input: &Path, out: &Path, as_of: Option<&str>, extra: &[&str]) -> (i32, String) {
    let catalog = catalog_path();
    let mut args = vec!["-q", "run"];
    if let Some(a) = as_of {
        args.extend(["--as-of", a]);
    }
    args.extend(extra);
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    run_binary(&args)
}

/// 1,600 one-row usage files in two chunks: reading a chunk's spilled files nested one
/// thread pool in another per file, and the stack overflowed (SIGABRT). The loops over files
/// run on plain threads (`reckon::parquet::map_files`).
#[test]
fn defect_5_many_usage_files_in_a_chunked_run() {
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let usage = input.path().join("usage");
    std::fs::remove_file(usage.join("part-0.parquet")).unwrap();
    let files = 1600;
    for k in 0..files {
        let id = format!("u-{k}");
        let owner = format!("acct-{}", k % 40);
        let rows = [(
            id.as_str(),
            owner.as_str(),
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-01 07:00:00",
            "1",
            "GB",
        )];
        let mut df = reckon::output::frame(1, usage_cols(&rows)).unwrap();
        write_parquet(&usage.join(format!("part-{k:05}.parquet")), &mut df).unwrap();
    }
    // The same bytes with one thread and with three.
    let outs = ["1", "3"].map(|threads| {
        let out = out_dir();
        let (code, err) = run(
            input.path(),
            out.path(),
            Some("2024-06-01"),
            &["--chunk-rows", "800", "--threads", threads],
        );
        assert_eq!(code, 0, "{threads} threads: {err}");
        out
    });
    let lines = read_table(outs[0].path(), "bill_lines");
    assert!(lines.height() > 0);
    assert!(tables(outs[0].path()) == tables(outs[1].path()));
}

/// A valid dataset written to `<root>/in` (created), for the path tests.
fn dataset_in(root: &Path) -> std::path::PathBuf {
    let input = root.join("in");
    std::fs::create_dir_all(&input).unwrap();
    Dataset::valid().write(&input)
}

/// `--output` a symlink to the real output directory: one lock for both names, and the publish
/// replaces the directory the symlink points to, never the symlink.
#[test]
fn defect_10_output_through_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let input = dataset_in(tmp.path());
    let real = tmp.path().join("real");
    let link = tmp.path().join("link");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for _ in 0..2 {
        let (code, err) = run(&input, &link, Some("2024-06-01"), &[]);
        assert_eq!(code, 0, "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(real.join("_manifest.json").is_file());
    }
    // The lock lives beside the real directory; no side directory of the link's name.
    assert!(tmp.path().join(".real.reckon/lock").is_file());
    assert!(!tmp.path().join(".link.reckon").exists());
    // Held through the real path, the lock refuses a run through the symlink.
    let side = tmp.path().join(".real.reckon");
    let lock = std::fs::File::options()
        .write(true)
        .open(side.join("lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let (code, err) = run(&input, &link, Some("2024-06-01"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("another reckon run"), "{err}");
}

/// Output and input nested: an output equal to the input, inside an input table directory, or
/// holding the input is refused before any work (exit 2), and the input is left as it was.
#[test]
fn defect_12_output_and_input_nested() {
    let tmp = tempfile::tempdir().unwrap();
    let input = dataset_in(tmp.path());
    let cases = [
        (input.clone(), "same directory"),
        (input.join("usage/out"), "table directory `usage/`"),
        (tmp.path().to_path_buf(), "holds"),
    ];
    for (out, says) in cases {
        let (code, err) = run(&input, &out, Some("2024-06-01"), &[]);
        assert_eq!(code, 2, "{}: {err}", out.display());
        assert!(err.contains(says), "{}: {err}", out.display());
        assert!(!out.join("_manifest.json").exists());
    }
    assert!(!input.join("usage/out").exists());
    assert!(!tmp.path().join("in/.out.reckon").exists());
    // The input is untouched and still runs.
    let out = out_dir();
    let (code, err) = run(&input, out.path(), Some("2024-06-01"), &[]);
    assert_eq!(code, 0, "{err}");
}

/// An `--output` that is a regular file is refused before any work: even with an input that
/// would fail later (no usage table), the error is the output's.
#[test]
fn defect_13_output_is_a_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input = dataset_in(tmp.path());
    std::fs::remove_dir_all(input.join("usage")).unwrap();
    let file = tmp.path().join("out.txt");
    std::fs::write(&file, "mine").unwrap();
    let (code, err) = run(&input, &file, Some("2024-06-01"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists and is not a directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert!(!tmp.path().join(".out.txt.reckon").exists());
}

/// A usage row metered in a unit its item cannot have (eip `public_traffic` in `call`): the
/// correctly scoped GB package valid that hour gets no `package_scope` finding; the row gets
/// one exception of its own, and the GB row of the same hour still draws on the package.
#[test]
fn defect_8_misplaced_incompatible_unit() {
    let mut ds = Dataset::valid();
    ds.append_rows(
        "usage",
        usage_cols(&[(
            "u-bad",
            "acct-1",
            "ap-guangzhou",
            "eip",
            "public_traffic",
            "2024-05-01 07:00:00",
            "3",
            "call",
        )]),
    );
    let (_input, out) = run_dataset(&ds, "2024-06-01");
    let ex = read_table(out.path(), "exceptions");
    let rows = rows_text(&ex, &["source_table", "source_id", "rule"]);
    assert!(
        !rows.iter().any(|r| r.contains("incompatible_unit")),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|r| r.starts_with("package_scope")),
        "{rows:?}"
    );
    let about_bad: Vec<_> = rows.iter().filter(|r| r.contains("u-bad")).collect();
    assert_eq!(about_bad, vec!["usage|u-bad|no_price"], "{rows:?}");
    let details = read_table(out.path(), "deduction_details");
    assert_eq!(
        rows_text(&details, &["usage_id", "package_id"]),
        vec!["u-1|pkg-1"]
    );
}

/// An hourly subscription never released and a far-future `--as-of`: memory grew with the
/// as-of (2500: 2 GB; 9999: allocation failure). Refused at once with a clear usage error; an
/// as-of within three years of the inputs still runs.
#[test]
fn defect_7_far_future_as_of_with_an_hourly_subscription() {
    let mut ds = Dataset::valid();
    let hourly = SubRow {
        id: "h-1",
        product: "apigw",
        plan: "basic",
        mode: "hourly",
        started: "2024-04-01 00:00:00",
        expires: None,
        released: None,
        list: "5.94",
        paid: "0",
        ..SubRow::default()
    };
    ds.tables
        .insert("subscriptions", subscription_cols(&[hourly]));
    let input = tempfile::tempdir().unwrap();
    ds.write(input.path());
    for as_of in ["9999-01-01", "2500-01-01", "2028-01-01"] {
        let out = out_dir();
        let started = std::time::Instant::now();
        let (code, err) = run(input.path(), out.path(), Some(as_of), &[]);
        assert_eq!(code, 2, "{as_of}: {err}");
        assert!(
            err.contains("days after the latest instant of the inputs"),
            "{err}"
        );
        assert!(started.elapsed().as_secs() < 60);
        assert!(!out.path().exists());
    }
    let out = out_dir();
    let (code, err) = run(input.path(), out.path(), Some("2026-06-01"), &[]);
    assert_eq!(code, 0, "{err}");
}
