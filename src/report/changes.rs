//! The section on a `reckon diff` (its output directory: the `diff` table and `summary.txt`):
//! the months changed, the accounts changed and the reasons, with exact amount deltas.
//!
//! A bill row's delta is the change of the bill's `total_amount`; a line row's, of the line's
//! `amount`. Months and accounts are summed from bill rows (what the customer is charged) and
//! counted on both tables; reasons are per table.
//!
//! Figure keys: `changes|month|MONTH|MEASURE` (`bills_changed`, `bills_delta`,
//! `lines_changed`, `lines_delta`, `restated`), `changes|account|OWNER|MEASURE` (the same but
//! `restated`), `changes|reason|TABLE|REASON|MEASURE` (`rows`, `delta`).

use super::charts::{self, Series};
use super::page::{Cell, Section, TableView};
use crate::error::{Error, Result};
use crate::output::read;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;

/// One row of the `diff` table, as far as the report reads it.
#[derive(Debug, Clone)]
pub struct Change {
    pub table: String,
    pub month: String,
    pub owner: String,
    pub reason: String,
    pub closed_in_old: bool,
    pub delta: Decimal,
}

/// Changes summed over a month or an account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub bills_changed: u64,
    pub bills_delta: Decimal,
    pub lines_changed: u64,
    pub lines_delta: Decimal,
    pub restated: u64,
}

impl Tally {
    fn add(&mut self, c: &Change) {
        if c.table == "bills" {
            self.bills_changed += 1;
            self.bills_delta += c.delta;
            self.restated += u64::from(c.closed_in_old);
        } else {
            self.lines_changed += 1;
            self.lines_delta += c.delta;
        }
    }
}

/// What a diff directory holds.
pub struct DiffView {
    pub changes: Vec<Change>,
    /// The first lines of `summary.txt` (what was compared), when it is there.
    pub header: Vec<String>,
}

/// Reads the output directory of `reckon diff`; a directory without a `diff` table is refused.
pub fn read_diff(dir: &Path) -> Result<DiffView> {
    let Some(files) = read::table_files(dir, "diff")?.filter(|f| !f.is_empty()) else {
        return Err(Error::Argument(format!(
            "--diff {}: no `diff` table in it (diff/*.parquet); give the --output directory \
             of `reckon diff`",
            dir.display()
        )));
    };
    let Some(df) = read::stack(files.iter().map(|f| f.path.as_path()))? else {
        return Ok(DiffView {
            changes: Vec::new(),
            header: Vec::new(),
        });
    };
    let s = |c| read::strings(&df, c);
    let (table, month, owner, reason) = (s("table")?, s("month")?, s("owner_uin")?, s("reason")?);
    let closed = read::text(&df, "closed_in_old")?;
    let delta = read::decimals(&df, "delta")?;
    let changes = (0..df.height())
        .map(|i| Change {
            table: table[i].clone().unwrap_or_default(),
            month: month[i].clone().unwrap_or_default(),
            owner: owner[i].clone().unwrap_or_default(),
            reason: reason[i].clone().unwrap_or_default(),
            closed_in_old: closed[i].as_deref() == Some("true"),
            delta: delta[i].unwrap_or_default(),
        })
        .collect();
    let header = std::fs::read_to_string(dir.join("summary.txt"))
        .map(|t| t.lines().take(3).map(String::from).collect())
        .unwrap_or_default();
    Ok(DiffView { changes, header })
}

/// The changes section; accounts beyond the `top` largest absolute bill deltas are counted,
/// not listed.
pub fn section(d: &DiffView, top: usize) -> Result<Section> {
    let mut months: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut accounts: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut reasons: BTreeMap<(&str, &str), (u64, Decimal)> = BTreeMap::new();
    for c in &d.changes {
        months.entry(&c.month).or_default().add(c);
        accounts.entry(&c.owner).or_default().add(c);
        let r = reasons.entry((&c.table, &c.reason)).or_default();
        r.0 += 1;
        r.1 += c.delta;
    }
    let mut ranked: Vec<(&str, &Tally)> = accounts.iter().map(|(o, t)| (*o, t)).collect();
    ranked.sort_by(|a, b| {
        (b.1.bills_delta.abs().cmp(&a.1.bills_delta.abs()))
            .then(b.1.lines_changed.cmp(&a.1.lines_changed))
            .then(a.0.cmp(b.0))
    });
    ranked.truncate(top);
    let month_rows = (months.iter())
        .map(|(m, t)| {
            let mut row = vec![Cell::text(*m)];
            row.extend(tally_cells(&format!("changes|month|{m}"), t));
            row.push(Cell::count(
                format!("changes|month|{m}|restated"),
                t.restated,
            ));
            row
        })
        .collect();
    let account_rows = (ranked.iter())
        .map(|(o, t)| {
            let mut row = vec![Cell::text(*o)];
            row.extend(tally_cells(&format!("changes|account|{o}"), t));
            row
        })
        .collect();
    let reason_rows = (reasons.iter())
        .map(|((table, reason), (n, delta))| {
            let key = format!("changes|reason|{table}|{reason}");
            vec![
                Cell::text(*table),
                Cell::text(*reason),
                Cell::count(format!("{key}|rows"), *n),
                Cell::money(format!("{key}|delta"), *delta),
            ]
        })
        .collect();
    let tally_head = ["bills changed", "bills Δ", "lines changed", "lines Δ"];
    let head = |first: &str, last: Option<&str>| {
        let mut h = vec![first.to_string()];
        h.extend(tally_head.iter().map(|s| s.to_string()));
        h.extend(last.map(String::from));
        h
    };
    let month_names: Vec<String> = months.keys().map(|m| m.to_string()).collect();
    let series = [Series {
        name: "bills Δ".into(),
        values: months.values().map(|t| t.bills_delta).collect(),
    }];
    let chart = charts::columns(
        "Change of the bills' total amount per month",
        &month_names,
        &series,
    )?;
    let mut text = d.header.clone();
    text.push(format!(
        "{} changes: {} accounts, {} months. Amount deltas are new − old (a missing side counts \
         as zero); a restated month was already closed in the old output.",
        d.changes.len(),
        accounts.len(),
        months.len()
    ));
    Ok(Section {
        id: "changes",
        title: "Changes since the previous output".into(),
        text,
        charts: vec![chart],
        tables: vec![
            TableView {
                caption: "Changed months".into(),
                head: head("month", Some("restated bills")),
                rows: month_rows,
            },
            TableView {
                caption: format!(
                    "Changed accounts (largest bill deltas, {} of {})",
                    ranked.len(),
                    accounts.len()
                ),
                head: head("account", None),
                rows: account_rows,
            },
            TableView {
                caption: "Reasons".into(),
                head: ["table", "reason", "rows", "amount Δ"]
                    .map(String::from)
                    .to_vec(),
                rows: reason_rows,
            },
        ],
    })
}

fn tally_cells(key: &str, t: &Tally) -> Vec<Cell> {
    vec![
        Cell::count(format!("{key}|bills_changed"), t.bills_changed),
        Cell::money(format!("{key}|bills_delta"), t.bills_delta),
        Cell::count(format!("{key}|lines_changed"), t.lines_changed),
        Cell::money(format!("{key}|lines_delta"), t.lines_delta),
    ]
}
