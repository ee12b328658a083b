//! `reckon`: parse arguments, call the library, map the outcome to an exit code.
//!
//! `run`, `generate`, `merge`, `export`: 0 complete, 2 bad input or usage, 1 internal error or the
//! machine's (a full disk, a read-only file system).
//! `diff`: 0 no differences, 1 differences, 2 bad input or usage, 3 internal error.

use clap::Parser;
use reckon::cli::{Cli, Command};
use reckon::Outcome;
use std::process::ExitCode;

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (`_RJEM_MALLOC_CONF` in the environment still
/// overrides them). By default every block of 8 MiB or more — a row group's column, a frame
/// being read — comes from an arena that returns its pages to the kernel as soon as it is
/// freed, so the next such block is zero-filled page by page again: on 22.2M rows that was
/// 9.6M page faults and a fifth of the run's cycles. Blocks up to 32 MiB now stay in the
/// ordinary arenas, whose freed pages are reused for 30 s before going back. Their memory is
/// asked for in transparent huge pages (`thp:always`: one fault per 2 MiB instead of per 4 KiB,
/// where the kernel allows it on request — `madvise` mode, the usual default). Measured on the
/// 22.2M-row bench, interleaved runs: 2 s decay without huge pages 42.7–43.8 s, 5.9M page
/// faults, 1.82–1.88 GB peak; 5 s with huge pages 38.1–38.3 s, 0.31M faults, 1.95–2.08 GB.
/// 30 s instead of 5 s (session 11, 3 pairs at 2 threads): 30.2–31.4 s against 31.6–34.4 s,
/// 52–54k faults against 160–193k, 2.05–2.16 GB against 1.97–2.01 GB peak. jemalloc purges
/// along a curve over the decay time, so at 5 s part of one chunk's freed memory was already
/// back with the kernel when the next chunk (1.5 s apart at 2 threads) asked for it; never
/// purging (`-1`) held 3.4 GB. (The pricing stage alone, which allocates once and never
/// reuses, loses a little from huge pages: 6.6 s → 7.0 s.)
#[cfg(target_os = "linux")]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"oversize_threshold:33554432,dirty_decay_ms:30000,thp:always\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let is_diff = matches!(cli.command, Command::Diff(_));
    match reckon::cli::run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Differences) => ExitCode::from(1),
        Err(e) => {
            eprintln!("reckon: error: {e}");
            match (e.is_input_error(), is_diff) {
                (true, _) => ExitCode::from(2),
                (false, true) => ExitCode::from(3),
                (false, false) => ExitCode::from(1),
            }
        }
    }
}
