//! The library's error type. Every variant carries the context a person needs to fix the input:
//! the file, the column, the row and the offending value. Row-level problems are not errors:
//! they become `exceptions` rows (see `input::Violation`).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line argument is invalid or missing.
    #[error("usage: {0}")]
    Argument(String),

    /// A directory given as a reckon output (to `diff`, `export`, `merge`, or to be replaced by
    /// `run`) is not one, or lacks a table, a column or a consistent manifest.
    #[error("{path}: not a usable reckon output: {message}")]
    NotAnOutput { path: PathBuf, message: String },

    /// Shard outputs that do not make up one run.
    #[error("shards do not merge: {0}")]
    Shards(String),

    /// Two outputs with nothing to compare.
    #[error("nothing to compare: {0}")]
    Incomparable(String),

    /// The input has no valid usage row and no `--as-of` says which days to bill.
    #[error("no valid usage rows: give --as-of YYYY-MM-DD")]
    NoUsage,

    /// The window of a given `--as-of` holds no valid usage row: the date is likely wrong.
    /// `--allow-empty` accepts it.
    #[error(
        "--as-of {as_of}: no valid usage row in the window {window} ({usage}); check the date, \
         or pass --allow-empty to publish an output without usage"
    )]
    EmptyWindow {
        as_of: String,
        window: String,
        /// What the usage holds: its latest row and the rows before and after the window.
        usage: String,
    },

    /// Without `--as-of`, the latest usage row stands alone far after the rest: the window it
    /// would set holds none of the other rows.
    #[error(
        "{file}: row {row}, usage_id `{usage_id}`: usage_start {start} is {gap_days} days after \
         the usage day before it; as the latest row it would set the window and leave the rest \
         unbilled: correct the row or give --as-of YYYY-MM-DD"
    )]
    OutlierUsage {
        file: String,
        row: usize,
        usage_id: String,
        start: String,
        gap_days: i64,
    },

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

    /// A column whose values do not decode (invalid UTF-8, a type polars cannot read, a corrupt
    /// page): the row group (its number and rows) and the first row whose read fails, when the
    /// file's row groups can be read.
    #[error("{path}: column `{column}`{}: cannot read: {message}", at(.row_group, .row))]
    Undecodable {
        path: PathBuf,
        column: String,
        row_group: Option<(usize, std::ops::Range<usize>)>,
        row: Option<usize>,
        message: String,
    },

    /// A page whose bytes do not match the CRC-32 of its header: the file was damaged after it
    /// was written (a flipped bit), and what the page decodes to is not what was written.
    #[error(
        "{path}: column `{column}`{}, page {page}: page checksum (CRC-32) mismatch: the file is \
         damaged; restore or rewrite it",
        at(&Some(.row_group.clone()), &None)
    )]
    Checksum {
        path: PathBuf,
        column: String,
        /// The row group's number and rows.
        row_group: (usize, std::ops::Range<usize>),
        /// The page's number in its column chunk, from 0 (a dictionary page counts).
        page: usize,
    },

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

    /// A decimal of an output read back that `Decimal` cannot hold (28 significant digits).
    #[error("column `{column}`, row {row}: decimal {value} is out of range")]
    OutOfRange {
        column: String,
        row: usize,
        value: String,
    },

    #[error("catalog {path}: {message}")]
    Catalog { path: PathBuf, message: String },

    /// Sums of input amounts past the range of the decimal arithmetic (about 7.9e28), e.g. an
    /// account's payments and bill lines: `what` is the sum, `message` its largest term.
    #[error("{what}: {message}")]
    Overflow { what: String, message: String },

    #[error("output {path}: {message}")]
    Output { path: PathBuf, message: String },

    /// Another run holds the output's lock (exit code 2: retry when it has finished).
    #[error(
        "output {path} is busy: another reckon run holds the lock {lock}; \
         wait for it to finish (a killed run releases the lock by itself)"
    )]
    Busy { path: PathBuf, lock: PathBuf },

    /// `reckon publish` refused: the run's audit did not pass, or no longer covers what is
    /// staged and published (exit code 2: a person or a new audit must act).
    #[error("publish of run `{run_id}` refused: {message}")]
    Gate { run_id: String, message: String },

    /// Object storage refused or failed a request (network, credentials, a conflicting
    /// publisher): exit code 1, worth a retry once fixed.
    #[error("{url}: {message}")]
    Remote { url: String, message: String },

    /// An object storage location that does not exist (no such bucket, object or prefix): the
    /// URL given is wrong, which a retry does not mend: exit code 2.
    #[error("{url}: {message}")]
    RemoteMissing { url: String, message: String },

    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    /// A state the code does not expect: a bug to report, not the user's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `EIO`, the device's I/O error (5 on every Unix): the machine's fault, like a full disk.
const EIO: i32 = 5;

/// Where in a file [`Error::Undecodable`] is: ", row group 1 (rows 2 to 3), row 3".
fn at(group: &Option<(usize, std::ops::Range<usize>)>, row: &Option<usize>) -> String {
    let mut s = String::new();
    if let Some((k, rows)) = group {
        let last = rows.end.saturating_sub(1);
        s += &format!(", row group {k} (rows {} to {last})", rows.start);
    }
    if let Some(r) = row {
        s += &format!(", row {r}");
    }
    s
}

/// Who has to act on an error, which is what the exit code tells a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line or the state of the output (another run holds it): exit code 2.
    Usage,
    /// A file given to reckon breaks the contract: exit code 2.
    Input,
    /// The machine: a full disk, a quota, a read-only file system; worth a retry once fixed.
    /// Exit code 1.
    Machine,
    /// A bug or an unexpected library failure: exit code 1 (3 for `reckon diff`, whose 1 means
    /// "differences").
    Internal,
}

impl ErrorKind {
    /// The process exit code of a command failing with this kind (README, "Exit codes").
    pub fn exit_code(self, diff: bool) -> u8 {
        match (self, diff) {
            (ErrorKind::Usage | ErrorKind::Input, _) => 2,
            (ErrorKind::Machine | ErrorKind::Internal, false) => 1,
            (ErrorKind::Machine | ErrorKind::Internal, true) => 3,
        }
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Who has to act on the error. A full disk, a quota or a read-only file system is not bad
    /// input: a scheduler may retry it once space is freed.
    pub fn kind(&self) -> ErrorKind {
        use std::io::ErrorKind::{QuotaExceeded, ReadOnlyFilesystem, StorageFull};
        match self {
            Error::Argument(_) | Error::Busy { .. } | Error::Gate { .. } => ErrorKind::Usage,
            Error::Io { source, .. }
                if matches!(
                    source.kind(),
                    StorageFull | QuotaExceeded | ReadOnlyFilesystem
                ) || source.raw_os_error() == Some(EIO) =>
            {
                ErrorKind::Machine
            }
            Error::Io { .. }
            | Error::MissingTable { .. }
            | Error::Parquet { .. }
            | Error::Undecodable { .. }
            | Error::Checksum { .. }
            | Error::MissingColumn { .. }
            | Error::WrongType { .. }
            | Error::UnknownEnum { .. }
            | Error::BadValue { .. }
            | Error::OutOfRange { .. }
            | Error::Catalog { .. }
            | Error::Overflow { .. }
            | Error::NotAnOutput { .. }
            | Error::Shards(_)
            | Error::Incomparable(_)
            | Error::OutlierUsage { .. }
            | Error::EmptyWindow { .. }
            | Error::RemoteMissing { .. }
            | Error::NoUsage => ErrorKind::Input,
            Error::Remote { .. } => ErrorKind::Machine,
            Error::Output { .. } | Error::Polars(_) | Error::Internal(_) => ErrorKind::Internal,
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
        assert_eq!(
            io(std::io::ErrorKind::StorageFull).kind(),
            ErrorKind::Machine
        );
        assert_eq!(
            io(std::io::ErrorKind::ReadOnlyFilesystem).kind(),
            ErrorKind::Machine
        );
        assert_eq!(io(std::io::ErrorKind::NotFound).kind(), ErrorKind::Input);
        let eio = Error::io("out/x.parquet", std::io::Error::from_raw_os_error(EIO));
        assert_eq!(eio.kind(), ErrorKind::Machine);
        assert_eq!(Error::Argument("x".into()).kind(), ErrorKind::Usage);
    }

    /// The README's table: usage and bad input 2; machine and internal 1, or 3 for `diff`.
    #[test]
    fn each_kind_has_the_readme_exit_code() {
        let codes = |k: ErrorKind| (k.exit_code(false), k.exit_code(true));
        assert_eq!(codes(ErrorKind::Usage), (2, 2));
        assert_eq!(codes(ErrorKind::Input), (2, 2));
        assert_eq!(codes(ErrorKind::Machine), (1, 3));
        assert_eq!(codes(ErrorKind::Internal), (1, 3));
        assert_eq!(Error::NoUsage.kind(), ErrorKind::Input);
        assert_eq!(Error::Internal("x".into()).kind(), ErrorKind::Internal);
    }
}
