//! The checks shared by every catalog section: decimals (never negative), local dates, idle
//! windows and effective ranges. Each error is an [`Error::Catalog`] naming the file and what
//! was being read (`what`), so a message points at the entry to fix.

use crate::calendar::{parse_local, IdleWindow, Ts};
use crate::error::{Error, Result};
use crate::money::parse_decimal;
use rust_decimal::Decimal;
use std::path::Path;

/// The largest price, amount or tier bound a catalog may hold: 10^12. Times the largest
/// quantity (10^24 base units, about 10^15 GB) it stays far inside the 96-bit range of
/// `Decimal` (about 7.9 × 10^28), so pricing one row cannot overflow.
pub const MAX_CATALOG_VALUE: i64 = 1_000_000_000_000;

/// The most decimals a catalog value may carry (the scale of quantities, docs/rules.md §1.4).
pub const MAX_CATALOG_DECIMALS: u32 = 9;

/// Checks values of the catalog file at `path`.
#[derive(Clone, Copy)]
pub(super) struct Check<'a> {
    pub path: &'a Path,
}

impl Check<'_> {
    pub fn err(&self, message: String) -> Error {
        Error::Catalog {
            path: self.path.to_path_buf(),
            message,
        }
    }

    /// A decimal written as a string, in `[0, MAX_CATALOG_VALUE]` with at most
    /// `MAX_CATALOG_DECIMALS` decimals: a negative price would be a credit, a larger one would
    /// overflow the 96-bit arithmetic of a line or a ledger, and a digit past the 9th decimal
    /// would be rounded without a word.
    pub fn dec(&self, what: &str, s: &str) -> Result<Decimal> {
        let d =
            parse_decimal(s).ok_or_else(|| self.err(format!("{what}: `{s}` is not a decimal")))?;
        if d.is_sign_negative() {
            return Err(self.err(format!("{what}: `{s}` is negative")));
        }
        if d > Decimal::from(MAX_CATALOG_VALUE) {
            return Err(self.err(format!(
                "{what}: `{s}` is above the largest catalog value {MAX_CATALOG_VALUE}"
            )));
        }
        if d.normalize().scale() > MAX_CATALOG_DECIMALS {
            return Err(self.err(format!(
                "{what}: `{s}` has a non-zero digit past the {MAX_CATALOG_DECIMALS}th decimal"
            )));
        }
        Ok(d)
    }

    /// A local (UTC+8) date or time, `default` when absent.
    pub fn time(&self, what: &str, s: &Option<String>, default: Ts) -> Result<Ts> {
        match s {
            None => Ok(default),
            Some(s) => parse_local(s).ok_or_else(|| {
                self.err(format!(
                    "{what}: `{s}` is not `YYYY-MM-DD[ HH:MM:SS]` (UTC+8)"
                ))
            }),
        }
    }

    /// An effective range `[from, to)`, open at either end when not given; it must not be empty.
    pub fn range(
        &self,
        what: &str,
        from: &Option<String>,
        to: &Option<String>,
    ) -> Result<(Ts, Ts)> {
        let from = self.time(what, from, Ts::MIN)?;
        let to = self.time(what, to, Ts::MAX)?;
        if to <= from {
            return Err(self.err(format!("{what}: effective_to is not after effective_from")));
        }
        Ok((from, to))
    }

    /// An idle window `[from, to)` of hours.
    pub fn window(&self, what: &str, w: [u32; 2]) -> Result<IdleWindow> {
        if w[0] > 23 || w[1] > 24 || w[0] == w[1] {
            return Err(self.err(format!(
                "{what}: idle window {w:?} is not [from, to) in 0..24"
            )));
        }
        // `to` kept as written: [0, 24) is the whole day (24 % 24 would make it empty).
        Ok(IdleWindow {
            from: w[0],
            to: w[1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_decimals_are_bounded_and_at_most_9_decimals() {
        let check = Check {
            path: Path::new("catalog.toml"),
        };
        assert!(check.dec("p", "1000000000000").is_ok());
        assert!(check.dec("p", "0.000000001").is_ok());
        assert!(check.dec("p", "1.5000000000000").is_ok());
        for bad in [
            "10000000000000000000000000000",
            "1000000000000.1",
            "79228162514264337593543950335",
            "0.0000000001",
        ] {
            let e = check.dec("prices.eip", bad).unwrap_err().to_string();
            assert!(e.contains("prices.eip") && e.contains(bad), "{bad}: {e}");
        }
        assert!(check.dec("p", "-1").is_err());
    }
}
