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
