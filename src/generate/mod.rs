//! Synthetic input generator (being written).
use crate::cli::GenerateArgs;
use crate::error::{Error, Result};

pub fn run(_args: &GenerateArgs) -> Result<()> {
    Err(Error::Usage("generate: not built yet".into()))
}
