//! `reckon`: parse arguments, call the library, map the outcome to an exit code.
//!
//! `run`, `generate`, `merge`, `export`: 0 complete, 2 bad input or usage, 1 internal error or the
//! machine's (a full disk, a read-only file system).
//! `diff`: 0 no differences, 1 differences, 2 bad input or usage, 3 internal error; `reconcile`:
//! 0 every key matches (or is within tolerance), 1 some key does not, 2 and 3 as `diff`.
//! `audit`: 0 passed, 1 a check failed, 2 bad input or usage, 3 internal error.

use clap::Parser;
use reckon::cli::{Cli, Command};
use reckon::Outcome;
use std::process::ExitCode;

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (`_RJEM_MALLOC_CONF` in the environment still
/// overrides them). Blocks up to 32 MiB — a row group's column, a frame being read — stay in the
/// ordinary arenas instead of one that returns each freed page to the kernel at once, so the
/// next chunk reuses memory already paged in rather than faulting in zero-filled pages again.
/// Freed pages go back to the kernel after 30 s: long enough for the next chunk to find them
/// (jemalloc purges along a curve over the decay time), short enough to bound the peak. Memory
/// is asked for in transparent huge pages where the kernel allows it on request: one fault per
/// 2 MiB instead of per 4 KiB. `bench/HISTORY.md` ("Allocator, LTO and zstd level") has the
/// measurements behind each value.
#[cfg(target_os = "linux")]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"oversize_threshold:33554432,dirty_decay_ms:30000,thp:always\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let is_diff = matches!(
        cli.command,
        Command::Diff(_) | Command::Reconcile(_) | Command::Audit(_)
    );
    match reckon::cli::run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Differences | Outcome::AuditFailed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("reckon: error: {e}");
            ExitCode::from(e.kind().exit_code(is_diff))
        }
    }
}
