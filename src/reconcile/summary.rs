//! What a reconciliation adds up to: the [`Tally`] of every row (by status and cause, the
//! totals, the `reconciliation_summary` rows, the largest mismatches) and its printed text
//! (stdout and `DIR/summary.txt`).
//!
//! Invariants: the totals are exact sums of the rows' amounts, so the issued and recomputed
//! totals equal those of the lines compared (conservation, `compare`); the text depends only on
//! the tally and the two paths (counts in code order, at most 10 mismatches listed).

use super::table::{Cause, ReconRow, Status, SummaryRow};
use crate::calendar::{format_local, Month, Window};
use crate::error::{Error, Result};
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Mismatches listed in the text, largest |delta| first.
const TOP: usize = 10;

/// Sums over every row of a reconciliation, and its input counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub keys: u64,
    pub by_status: BTreeMap<Status, u64>,
    pub by_cause: BTreeMap<Cause, u64>,
    pub issued_total: Decimal,
    pub recomputed_total: Decimal,
    pub overcharged: Decimal,
    pub undercharged: Decimal,
    /// Issued lines charged inside the window, and their amounts' sum (the input side of
    /// conservation).
    pub issued_lines: u64,
    pub issued_lines_amount: Decimal,
    pub recomputed_lines: u64,
    pub recomputed_lines_amount: Decimal,
    /// Issued lines charged outside the window: counted, not compared.
    pub outside_window: u64,
    /// Recomputed lines charged outside the window (none in an output of `reckon run`).
    pub recomputed_outside_window: u64,
    pub bills: BTreeMap<(Month, Name, Name), SummaryRow>,
    /// The largest mismatches, largest |delta| first, then key order.
    pub top: Vec<ReconRow>,
}

fn add(acc: &mut Decimal, v: Decimal, what: &str) -> Result<()> {
    *acc = acc.checked_add(v).ok_or_else(|| Error::Overflow {
        what: what.to_string(),
        message: format!("adding {v} to {acc} leaves the decimal range"),
    })?;
    Ok(())
}

impl Tally {
    /// Counts one row; `t` is the tolerance.
    pub fn add_row(&mut self, r: &ReconRow, t: Decimal) -> Result<()> {
        self.keys += 1;
        *self.by_status.entry(r.status).or_default() += 1;
        if let Some(c) = r.cause {
            *self.by_cause.entry(c).or_default() += 1;
        }
        let delta = r.delta();
        add(&mut self.issued_total, r.issued_amount, "issued total")?;
        add(
            &mut self.recomputed_total,
            r.recomputed_amount,
            "recomputed total",
        )?;
        let month = Month::of(r.key.charge_start);
        let b = self
            .bills
            .entry((month, r.key.owner_uin, r.key.product))
            .or_insert_with(|| SummaryRow {
                month: month.to_string(),
                owner_uin: r.key.owner_uin.to_string(),
                product: r.key.product.to_string(),
                ..SummaryRow::default()
            });
        add(
            &mut b.issued_total,
            r.issued_amount,
            "issued total of a bill",
        )?;
        add(
            &mut b.recomputed_total,
            r.recomputed_amount,
            "recomputed total of a bill",
        )?;
        b.keys += 1;
        b.keys_mismatched += i64::from(r.status.is_mismatch());
        if delta > t {
            add(&mut b.overcharged, delta, "overcharged")?;
            add(&mut self.overcharged, delta, "overcharged")?;
        } else if delta < -t {
            add(&mut b.undercharged, -delta, "undercharged")?;
            add(&mut self.undercharged, -delta, "undercharged")?;
        }
        if r.status.is_mismatch() {
            self.keep_top(r);
        }
        Ok(())
    }

    fn keep_top(&mut self, r: &ReconRow) {
        let order = |a: &ReconRow, b: &ReconRow| {
            b.delta()
                .abs()
                .cmp(&a.delta().abs())
                .then(a.key.cmp(&b.key))
        };
        if self.top.len() == TOP && order(r, &self.top[TOP - 1]).is_ge() {
            return;
        }
        let at = self.top.partition_point(|x| order(x, r).is_lt());
        self.top.insert(at, r.clone());
        self.top.truncate(TOP);
    }

    /// Counts the lines of one side given to the comparison (inside the window).
    pub fn add_lines(&mut self, issued: bool, n: u64, amount: Decimal) -> Result<()> {
        if issued {
            self.issued_lines += n;
            add(&mut self.issued_lines_amount, amount, "issued lines")
        } else {
            self.recomputed_lines += n;
            add(
                &mut self.recomputed_lines_amount,
                amount,
                "recomputed lines",
            )
        }
    }

    /// Keys neither `match` nor `within_tolerance`.
    pub fn mismatched(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| s.is_mismatch())
            .map(|(_, n)| n)
            .sum()
    }
}

/// The printed summary.
pub fn text(issued: &Path, recomputed: &Path, w: &Window, t: Decimal, x: &Tally) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "reckon reconcile {} against {}",
        issued.display(),
        recomputed.display()
    );
    let _ = writeln!(
        s,
        "compared: lines charged in [{}, {}); tolerance {t} CNY per key",
        format_local(w.start),
        format_local(w.as_of)
    );
    let _ = writeln!(
        s,
        "issued lines: {} (amount {}); recomputed lines: {} (amount {})",
        x.issued_lines, x.issued_lines_amount, x.recomputed_lines, x.recomputed_lines_amount
    );
    let _ = writeln!(s, "outside_window: {}", x.outside_window);
    let statuses: Vec<String> = Status::ALL
        .iter()
        .map(|st| {
            format!(
                "{} {}",
                st.as_str(),
                x.by_status.get(st).copied().unwrap_or(0)
            )
        })
        .collect();
    let _ = writeln!(s, "keys: {} ({})", x.keys, statuses.join(", "));
    let causes: Vec<String> = x
        .by_cause
        .iter()
        .map(|(c, n)| format!("{} {n}", c.as_str()))
        .collect();
    let causes = if causes.is_empty() {
        "none".into()
    } else {
        causes.join(", ")
    };
    let _ = writeln!(s, "causes: {causes}");
    let _ = writeln!(
        s,
        "totals: issued {}, recomputed {}, delta {:+}; overcharged {}, undercharged {}",
        x.issued_total,
        x.recomputed_total,
        x.issued_total - x.recomputed_total,
        x.overcharged,
        x.undercharged
    );
    months(&mut s, x);
    top(&mut s, x);
    let _ = writeln!(
        s,
        "result: {}",
        match x.mismatched() {
            0 => "every key matches or is within tolerance".to_string(),
            n => format!("{n} keys mismatched"),
        }
    );
    s
}

/// Per month: overcharged and undercharged (over the tolerance).
fn months(s: &mut String, x: &Tally) {
    let mut by_month: BTreeMap<Month, (Decimal, Decimal, i64)> = BTreeMap::new();
    for ((m, _, _), b) in &x.bills {
        let e = by_month.entry(*m).or_default();
        e.0 += b.overcharged;
        e.1 += b.undercharged;
        e.2 += b.keys_mismatched;
    }
    for (m, (over, under, n)) in by_month {
        let _ = writeln!(
            s,
            "  month {m}: overcharged {over}, undercharged {under}, keys mismatched {n}"
        );
    }
}

fn top(s: &mut String, x: &Tally) {
    if x.top.is_empty() {
        return;
    }
    let _ = writeln!(s, "largest mismatches:");
    for r in &x.top {
        let k = &r.key;
        let _ = writeln!(
            s,
            "  {} {} {}/{}/{} {} {} {}: recomputed {}, issued {} ({:+}){}",
            k.owner_uin,
            k.charge_kind,
            k.product,
            k.sub_product,
            k.billing_item,
            k.region,
            k.instance_id,
            format_local(k.charge_start),
            r.recomputed_amount,
            r.issued_amount,
            r.delta(),
            match (r.status, r.cause) {
                (st, Some(c)) => format!(" [{}, {}]", st.as_str(), c.as_str()),
                (st, None) => format!(" [{}]", st.as_str()),
            }
        );
    }
}
