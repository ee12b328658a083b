//! `reckon`: parse arguments, call the library, map the outcome to an exit code —
//! 0 complete, 2 bad input or usage, 1 internal error.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = reckon::cli::Cli::parse();
    match reckon::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reckon: error: {e}");
            if e.is_input_error() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
