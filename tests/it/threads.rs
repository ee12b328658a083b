//! `--threads N` gives every rayon pool of a run N workers, rayon's global pool included: the
//! writer's parallel work (building output columns) goes there, so with `--threads 1` the run
//! keeps one core busy (the stages take turns). A process sizes its global pool once, and other
//! tests of this binary may start it first: the test body runs alone in a child process.

use crate::common::alone;
use clap::Parser;
use std::path::Path;

#[test]
fn threads_flag_sizes_the_global_pool_the_writer_uses() {
    if !alone("threads::threads_flag_sizes_the_global_pool_the_writer_uses") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let cli = reckon::cli::Cli::parse_from([
        "reckon".as_ref(),
        "--quiet".as_ref(),
        "run".as_ref(),
        "--input".as_ref(),
        root.join("sample_data").as_os_str(),
        "--output".as_ref(),
        out.path().join("out").as_os_str(),
        "--threads".as_ref(),
        "1".as_ref(),
    ]);
    assert_eq!(reckon::cli::run(cli).unwrap(), reckon::Outcome::Done);
    assert!(out.path().join("out/_manifest.json").is_file());
    // Asked from a thread outside every pool: the global pool's size.
    assert_eq!(rayon::current_num_threads(), 1);
}
