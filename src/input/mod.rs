//! Loading of the input tables of docs/contract.md: discovery of Parquet files (any number,
//! optional Hive partitions `key=value/`), schema validation, and typed rows.
//!
//! Two kinds of problems, kept apart:
//! - File-level (a missing column, a wrong type, an unknown enum value, an unreadable file):
//!   the run stops with an [`Error`] naming the file, column, row and value.
//! - Row-level (duplicate id, negative quantity, unaligned hour, …): the row becomes a
//!   [`Violation`] — an `exceptions` row with a rule code — and is left out of billing.
//!   Nothing vanishes: every usage row is either valid or a violation.
//!
//! Files are read in sorted path order, so "first occurrence" is deterministic.
//!
//! `files` finds, reads and type-checks the files; `names` interns columns of names; one module
//! per table (`usage`, `packages`, `accounts`, `subscriptions`, `events`) turns a file's columns
//! into typed rows and violations; `chunks` reads usage chunk by chunk.

pub mod accounts;
mod checksums;
pub mod chunks;
pub mod events;
mod files;
mod names;
pub mod packages;
pub mod subscriptions;
pub mod usage;

use crate::calendar::Ts;
use crate::error::{Error, Result};
use crate::name::Name;
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::Path;

pub use crate::model::PackageKind;
pub use accounts::{Account, Payment};
pub use events::{Event, EventKind};
pub use files::{
    hive_values, is_parquet_name, parquet_files, read_parquet, read_table, skipped_inputs, ColSpec,
    ColType, Digest, InputFile, Skipped, TABLES,
};
pub(crate) use files::{read_columns, read_file};
pub use names::{by_view, Interner, NameIds};
pub use packages::{Package, PackageSource, Scope};
pub use subscriptions::{BillingMode, Subscription};
pub use usage::{Direction, Usage};

/// A row-level problem: one `exceptions` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Table and rule names come from a fixed set: interned (and written as a dictionary).
    pub source_table: Name,
    pub source_id: String,
    pub rule: Name,
    pub detail: String,
    pub at: Option<Ts>,
}

impl Violation {
    pub fn new(
        table: &str,
        id: impl Into<String>,
        rule: &str,
        detail: impl Into<String>,
        at: Option<Ts>,
    ) -> Violation {
        Violation {
            source_table: Name::new(table),
            source_id: id.into(),
            rule: Name::new(rule),
            detail: detail.into(),
            at,
        }
    }
}

/// A broken row rule and its detail: the row becomes a [`Violation`] with that rule.
pub(crate) type Broken = (&'static str, String);

/// One input file as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    pub table: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows: usize,
}

/// Every input table, typed and validated.
#[derive(Debug, Default)]
pub struct Inputs {
    pub usage: Vec<Usage>,
    pub packages: Vec<Package>,
    pub accounts: Vec<Account>,
    pub payments: Vec<Payment>,
    pub subscriptions: Vec<Subscription>,
    pub events: Vec<Event>,
    pub violations: Vec<Violation>,
    pub files: Vec<FileInfo>,
    /// Usage rows read from the files, valid or not.
    pub usage_rows_read: usize,
}

/// Loads every input table under `dir` except usage, which is read chunk by chunk (`chunks`).
pub fn load_base(dir: &Path) -> Result<Inputs> {
    let mut interner = Interner::default();
    let mut inputs = Inputs::default();
    let mut violations = Vec::new();

    let files = read_table(dir, "packages", packages::COLUMNS)?;
    let mut pkgs = packages::from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "packages", &files)?;
    let files = read_table(dir, "package_scope", packages::SCOPE_COLUMNS)?;
    packages::attach_scopes(&files, &mut pkgs, &mut interner, &mut violations)?;
    record(&mut inputs.files, "package_scope", &files)?;
    inputs.packages = pkgs;

    let files = read_table(dir, "accounts", accounts::ACCOUNT_COLUMNS)?;
    inputs.accounts = accounts::accounts_from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "accounts", &files)?;
    let files = read_table(dir, "payments", accounts::PAYMENT_COLUMNS)?;
    inputs.payments = accounts::payments_from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "payments", &files)?;
    let files = read_table(dir, "subscriptions", subscriptions::COLUMNS)?;
    inputs.subscriptions = subscriptions::from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "subscriptions", &files)?;
    let files = read_table(dir, "events", events::COLUMNS)?;
    inputs.events = events::from_files(&files, &mut interner, &mut violations)?;
    record(&mut inputs.files, "events", &files)?;
    inputs.events = drop_ambiguous_targets(
        std::mem::take(&mut inputs.events),
        &inputs.packages,
        &inputs.subscriptions,
        &mut violations,
    );

    inputs.violations = violations;
    Ok(inputs)
}

/// Events whose `target_id` names both a package and a subscription: the event cannot say which
/// it acts on (a refund would refund both, under one `line_id`), so it becomes an
/// `ambiguous_target` violation and acts on neither; every other event is kept, in order.
fn drop_ambiguous_targets(
    events: Vec<Event>,
    packages: &[Package],
    subscriptions: &[Subscription],
    violations: &mut Vec<Violation>,
) -> Vec<Event> {
    let pkgs: std::collections::HashSet<&str> = packages.iter().map(|p| &*p.package_id).collect();
    let both: std::collections::HashSet<&str> = (subscriptions.iter())
        .map(|s| &*s.subscription_id)
        .filter(|id| pkgs.contains(id))
        .collect();
    if both.is_empty() {
        return events;
    }
    let (bad, kept): (Vec<Event>, Vec<Event>) =
        (events.into_iter()).partition(|e| both.contains(&*e.target_id));
    violations.extend(bad.iter().map(|e| {
        let detail = format!(
            "{} of `{}`: both a package_id and a subscription_id; the event acts on neither",
            e.kind.as_str(),
            e.target_id
        );
        Violation::new(
            "events",
            &*e.event_id,
            "ambiguous_target",
            detail,
            Some(e.at),
        )
    }));
    kept
}

/// Each package's owner and the accounts it is shared with: what links accounts into one
/// deduction pool (`shard::Partitioner`).
pub fn pool_links(packages: &[Package]) -> impl Iterator<Item = (Name, &[Name])> {
    packages.iter().map(|p| (p.owner_uin, &p.share_uins[..]))
}

/// Loads every input table under `dir`, usage included, as one chunk (tests and small tools).
pub fn load(dir: &Path) -> Result<Inputs> {
    let mut inputs = load_base(dir)?;
    let part = crate::shard::Partitioner::new(
        pool_links(&inputs.packages),
        crate::shard::ShardSpec::ALL,
        1,
    );
    // One chunk holds every file whole anyway: the id index stays in memory beside them.
    let mut source = chunks::UsageSource::open(dir, &part, None, u64::MAX)?;
    let files = source.load_chunk(0, &part)?;
    inputs.usage_rows_read = files.iter().map(|f| f.df.height()).sum();
    inputs.usage = usage::from_files(&files, &mut inputs.violations, &source.duplicates)?;
    let mut infos = source.file_infos()?;
    infos.append(&mut inputs.files);
    inputs.files = infos;
    Ok(inputs)
}

/// Adds each file's [`FileInfo`]: the size and hash of the bytes it was read from.
pub(crate) fn record(out: &mut Vec<FileInfo>, table: &str, files: &[InputFile]) -> Result<()> {
    for f in files {
        let (bytes, sha256) = match &f.digest {
            Some(d) => (d.bytes, d.sha256.clone()),
            None => hash_file(&f.path)?,
        };
        out.push(FileInfo {
            table: table.to_string(),
            path: f.name.to_string(),
            bytes,
            sha256,
            rows: f.df.height(),
        });
    }
    Ok(())
}

/// Size and SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, hex::encode(h.finalize())))
}

/// The most decimals an input value may carry: quantities are kept at scale 9 and money at 8
/// (docs/rules.md §1.4), so a value with a non-zero digit past the 9th decimal would be rounded
/// without a word. Trailing zeros past it are fine (`1.50000000000` is 1.5).
pub const MAX_INPUT_DECIMALS: u32 = 9;

/// Converts a decimal mantissa; `None` when it exceeds the 96-bit range used for arithmetic or
/// has a non-zero digit past [`MAX_INPUT_DECIMALS`]: the row is then `value_out_of_range`.
pub fn dec_value(scale: u32, m: Option<i128>) -> Option<Option<rust_decimal::Decimal>> {
    match m {
        None => Some(None),
        Some(m) if scale > MAX_INPUT_DECIMALS => {
            let step = 10i128.checked_pow(scale - MAX_INPUT_DECIMALS)?;
            if m % step != 0 {
                return None;
            }
            crate::money::from_mantissa(m / step, MAX_INPUT_DECIMALS).map(Some)
        }
        Some(m) => crate::money::from_mantissa(m, scale).map(Some),
    }
}

/// The detail of a `value_out_of_range` row whose decimal [`dec_value`] refuses.
pub(crate) fn dec_out_of_range(what: &str) -> String {
    format!(
        "{what} exceeds 28 significant digits or has a non-zero digit past the \
         {MAX_INPUT_DECIMALS}th decimal"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn decimals_past_the_ninth_are_refused_unless_zero() {
        // 1.2345678901 (scale 10): a digit past the 9th decimal.
        assert_eq!(dec_value(10, Some(12_345_678_901)), None);
        // 1.2345678900 (scale 10): the trailing zero goes.
        assert_eq!(
            dec_value(10, Some(12_345_678_900)),
            Some(Some(dec!(1.234567890)))
        );
        assert_eq!(dec_value(9, Some(1)), Some(Some(dec!(0.000000001))));
        assert_eq!(dec_value(38, Some(1)), None);
        assert_eq!(dec_value(38, Some(0)), Some(Some(dec!(0.000000000))));
        assert_eq!(dec_value(12, None), Some(None));
    }
}
