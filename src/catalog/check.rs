//! The checks shared by every catalog section: decimals (never negative), local dates, idle
//! windows and effective ranges. Each error is an [`Error::Catalog`] naming the file and what
//! was being read (`what`), so a message points at the entry to fix.

use crate::calendar::{parse_local, IdleWindow, Ts};
use crate::error::{Error, Result};
use crate::money::parse_decimal;
use rust_decimal::Decimal;
use std::path::Path;

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

    /// A decimal written as a string; negative prices and amounts are refused.
    pub fn dec(&self, what: &str, s: &str) -> Result<Decimal> {
        let d =
            parse_decimal(s).ok_or_else(|| self.err(format!("{what}: `{s}` is not a decimal")))?;
        if d.is_sign_negative() {
            return Err(self.err(format!("{what}: `{s}` is negative")));
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
