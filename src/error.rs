//! The library's error type. Every variant carries the context a person needs to fix the input:
//! the file, the column, the row and the offending value. Row-level problems are not errors:
//! they become `exceptions` rows (see `input::Violation`).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line usage (exit code 2).
    #[error("usage: {0}")]
    Usage(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("input table `{table}`: no directory at {path}")]
    MissingTable { table: String, path: PathBuf },

    #[error("{path}: cannot read Parquet: {message}")]
    Parquet { path: PathBuf, message: String },

    #[error("{path}: missing required column `{column}` (table `{table}`)")]
    MissingColumn {
        path: PathBuf,
        table: String,
        column: String,
    },

    #[error("{path}: column `{column}` has type {found}, the contract requires {expected}")]
    WrongType {
        path: PathBuf,
        column: String,
        expected: String,
        found: String,
    },

    #[error("{path}: column `{column}`, row {row}: unknown value `{value}` (allowed: {allowed})")]
    UnknownEnum {
        path: PathBuf,
        column: String,
        row: usize,
        value: String,
        allowed: String,
    },

    #[error("{path}: column `{column}`, row {row}: {message}")]
    BadValue {
        path: PathBuf,
        column: String,
        row: usize,
        message: String,
    },

    #[error("catalog {path}: {message}")]
    Catalog { path: PathBuf, message: String },

    #[error("output {path}: {message}")]
    Output { path: PathBuf, message: String },

    /// Another run holds the output's lock (exit code 2: retry when it has finished).
    #[error(
        "output {path} is busy: another reckon run holds the lock {lock}; \
         wait for it to finish (a killed run releases the lock by itself)"
    )]
    Busy { path: PathBuf, lock: PathBuf },

    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether the error is the user's input or usage (exit code 2) rather than an internal
    /// fault or the machine's (exit code 1): a full disk, a quota or a read-only file system is
    /// not bad input, and a scheduler may retry it once space is freed.
    pub fn is_input_error(&self) -> bool {
        use std::io::ErrorKind::{QuotaExceeded, ReadOnlyFilesystem, StorageFull};
        match self {
            Error::Polars(_) | Error::Output { .. } => false,
            Error::Io { source, .. } => !matches!(
                source.kind(),
                StorageFull | QuotaExceeded | ReadOnlyFilesystem
            ),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk is the machine's fault (exit code 1), a missing file the input's (2).
    #[test]
    fn a_full_disk_is_not_an_input_error() {
        let io = |kind| Error::io("out/x.parquet", std::io::Error::from(kind));
        assert!(!io(std::io::ErrorKind::StorageFull).is_input_error());
        assert!(!io(std::io::ErrorKind::ReadOnlyFilesystem).is_input_error());
        assert!(io(std::io::ErrorKind::NotFound).is_input_error());
        assert!(Error::Usage("x".into()).is_input_error());
    }
}
