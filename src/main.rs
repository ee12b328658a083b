//! `reckon`: parse arguments, call the library, map the outcome to an exit code.
//!
//! `run`, `generate`, `merge`, `export`: 0 complete, 2 bad input or usage, 1 internal error.
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
/// ordinary arenas, whose freed pages are reused for 2 s before going back (instead of 10 s,
/// which would hold a whole chunk's garbage). Measured on the 22.2M-row bench: the run 60.7 s
/// / 3.57 GB → 57.4 s / 3.44 GB, the pricing stage alone 9.3 s / 1.85 GB → 8.0 s / 1.69 GB.
#[cfg(target_os = "linux")]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"oversize_threshold:33554432,dirty_decay_ms:2000\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let is_diff = matches!(cli.command, Command::Diff(_));
    match reckon::run(cli) {
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
