//! The section on a `reckon reconcile` of the report's output against the bill lines a
//! platform issued (its output directory: `reconciliation/`, `reconciliation_summary/`,
//! `summary.txt`, `_manifest.json`): keys and amounts by status, overcharge and leakage per
//! month (a chart), and the mismatched keys with the largest deltas, with their cause.
//!
//! A delta is `issued − recomputed`, as in the tables: overcharged sums the deltas above the
//! tolerance T, leakage (`undercharged`) the absolute deltas below −T, as
//! `reconciliation_summary` does. Statuses and months are summed from the tables read back, never
//! from the printed summary; `reconciliation` is read a file at a time, its key, status, cause
//! and amount columns only, so memory holds the tallies and the `top` largest mismatches.
//!
//! Invariant: the reconciliation is of the report's very bill lines (its manifest's
//! `recomputed_manifest_sha256` is the SHA-256 of the output's `_manifest.json`, or, for a
//! rerun whose manifest differs in timings only, its `recomputed_bill_lines_sha256` are the
//! output's `bill_lines` files); any other is refused before a table is read.
//!
//! Figure keys: `reconciliation|status|STATUS|MEASURE` (`keys`, `issued_amount`,
//! `recomputed_amount`, `delta`; STATUS `all` for every key),
//! `reconciliation|month|MONTH|MEASURE` (`keys`, `keys_mismatched`, `issued_total`,
//! `recomputed_total`, `delta`, `overcharged`, `undercharged`; MONTH `all` for every month),
//! `reconciliation|key|OWNER|KIND|PRODUCT|SUB_PRODUCT|ITEM|REGION|INSTANCE|START|MEASURE`
//! (`issued_amount`, `recomputed_amount`, `delta`; START in UTC+8).

use super::charts::{self, Series};
use super::page::{Cell, Section, TableView};
use crate::calendar::{format_local, Ts};
use crate::error::{Error, Result};
use crate::output::{manifest, read};
use crate::reconcile::{Status, KEY_COLUMNS};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;

/// The statuses in the order the section lists them: agreement first, then the mismatches.
const ORDER: [Status; 6] = [
    Status::Match,
    Status::WithinTolerance,
    Status::AmountMismatch,
    Status::QuantityMismatch,
    Status::MissingInIssued,
    Status::MissingInRecomputed,
];

/// The key columns of `reconciliation`, in its sort order but `charge_start`.
const KEY: [&str; 7] = KEY_COLUMNS;

/// Keys and amounts of one status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusTally {
    pub keys: u64,
    pub issued: Decimal,
    pub recomputed: Decimal,
}

impl StatusTally {
    fn add(&mut self, other: &StatusTally) {
        self.keys += other.keys;
        self.issued += other.issued;
        self.recomputed += other.recomputed;
    }
}

/// A month of `reconciliation_summary`, summed over accounts and products.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthTally {
    pub keys: u64,
    pub keys_mismatched: u64,
    pub issued: Decimal,
    pub recomputed: Decimal,
    pub overcharged: Decimal,
    pub undercharged: Decimal,
}

impl MonthTally {
    fn add(&mut self, other: &MonthTally) {
        self.keys += other.keys;
        self.keys_mismatched += other.keys_mismatched;
        self.issued += other.issued;
        self.recomputed += other.recomputed;
        self.overcharged += other.overcharged;
        self.undercharged += other.undercharged;
    }
}

/// A mismatched key of `reconciliation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The [`KEY`] columns' values.
    pub key: Vec<String>,
    pub charge_start: Ts,
    pub status: String,
    pub cause: Option<String>,
    pub issued: Decimal,
    pub recomputed: Decimal,
}

impl Mismatch {
    pub fn delta(&self) -> Decimal {
        self.issued - self.recomputed
    }

    /// Largest |delta| first, then the table's key order.
    fn rank(a: &Mismatch, b: &Mismatch) -> std::cmp::Ordering {
        (b.delta().abs().cmp(&a.delta().abs()))
            .then_with(|| a.key.cmp(&b.key))
            .then(a.charge_start.cmp(&b.charge_start))
    }
}

/// What a reconciliation directory adds up to.
pub struct ReconView {
    pub by_status: BTreeMap<Status, StatusTally>,
    pub months: BTreeMap<String, MonthTally>,
    /// The mismatched keys with the largest |delta|, at most `top`, ranked.
    pub top: Vec<Mismatch>,
    pub mismatched: u64,
    /// The first lines of `summary.txt` (what was compared), when it is there.
    pub header: Vec<String>,
}

/// Refuses a directory that is not a complete reconciliation of the output `out`.
pub fn check(dir: &Path, out: &Path) -> Result<()> {
    let refuse = |why: String| {
        Error::Argument(format!(
            "--reconciliation {}: {why}; give the --output directory of `reckon reconcile \
             ISSUED {}`",
            dir.display(),
            out.display()
        ))
    };
    let path = dir.join("_manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|_| refuse("no _manifest.json (not a complete reconciliation)".into()))?;
    let m: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| refuse(format!("_manifest.json does not parse: {e}")))?;
    for table in ["reconciliation", "reconciliation_summary"] {
        if read::table_files(dir, table)?.is_none_or(|f| f.is_empty()) {
            return Err(refuse(format!("no `{table}` table in it")));
        }
    }
    let (_, sha) = crate::input::hash_file(&out.join("_manifest.json"))?;
    if m["recomputed_manifest_sha256"].as_str() == Some(sha.as_str()) {
        return Ok(());
    }
    // A rerun of the same output: other timings in its manifest, the same bill lines.
    let lines = crate::reconcile::bill_lines_hashes(&manifest::read(out)?);
    let recorded: BTreeMap<String, String> =
        serde_json::from_value(m["recomputed_bill_lines_sha256"].clone()).unwrap_or_default();
    if !lines.is_empty() && recorded == lines {
        return Ok(());
    }
    Err(refuse(format!(
        "it reconciled other bill lines (recomputed manifest SHA-256 {}, this output's {sha})",
        m["recomputed_manifest_sha256"].as_str().unwrap_or("absent")
    )))
}

/// Reads a reconciliation directory; `top` mismatches are kept.
pub fn read_reconciliation(dir: &Path, top: usize) -> Result<ReconView> {
    let mut view = ReconView {
        by_status: BTreeMap::new(),
        months: read_months(dir)?,
        top: Vec::new(),
        mismatched: 0,
        // The summary's lines after its first, which names the two inputs by the paths they had
        // on the machine that reconciled: the page names no path but the ones it was given.
        header: std::fs::read_to_string(dir.join("summary.txt"))
            .map(|t| t.lines().skip(1).take(2).map(String::from).collect())
            .unwrap_or_default(),
    };
    let cols: Vec<&str> = KEY
        .iter()
        .copied()
        .chain(["charge_start", "status", "cause"])
        .chain(["issued_amount", "recomputed_amount"])
        .collect();
    for file in read::table_files(dir, "reconciliation")?.unwrap_or_default() {
        let df = read::read_columns(&file.path, &cols)?;
        let keys = KEY
            .iter()
            .map(|c| read::strings(&df, c))
            .collect::<Result<Vec<_>>>()?;
        let (start, status) = (
            read::instants(&df, "charge_start")?,
            read::strings(&df, "status")?,
        );
        let cause = read::strings(&df, "cause")?;
        let issued = read::decimals(&df, "issued_amount")?;
        let recomputed = read::decimals(&df, "recomputed_amount")?;
        for i in 0..df.height() {
            let status = status_of(status[i].as_deref(), &file.path, i)?;
            let t = view.by_status.entry(status).or_default();
            let (iss, rec) = (
                issued[i].unwrap_or_default(),
                recomputed[i].unwrap_or_default(),
            );
            t.add(&StatusTally {
                keys: 1,
                issued: iss,
                recomputed: rec,
            });
            if !status.is_mismatch() {
                continue;
            }
            view.mismatched += 1;
            view.top.push(Mismatch {
                key: keys
                    .iter()
                    .map(|k| k[i].clone().unwrap_or_default())
                    .collect(),
                charge_start: start[i].unwrap_or_default(),
                status: status.as_str().to_string(),
                cause: cause[i].clone(),
                issued: iss,
                recomputed: rec,
            });
            if view.top.len() > 4 * top.max(1) {
                keep_top(&mut view.top, top);
            }
        }
    }
    keep_top(&mut view.top, top);
    Ok(view)
}

/// The status of row `row` of `file`: one of [`Status::ALL`], else the file is not a
/// reconciliation's.
fn status_of(value: Option<&str>, file: &Path, row: usize) -> Result<Status> {
    Status::ALL
        .into_iter()
        .find(|s| Some(s.as_str()) == value)
        .ok_or_else(|| Error::NotAnOutput {
            path: file.to_path_buf(),
            message: format!(
                "column status, row {row}: {} is not a reconciliation status",
                value.map_or("null".to_string(), |v| format!("{v:?}"))
            ),
        })
}

fn keep_top(rows: &mut Vec<Mismatch>, top: usize) {
    rows.sort_by(Mismatch::rank);
    rows.truncate(top);
}

/// `reconciliation_summary` summed per month.
fn read_months(dir: &Path) -> Result<BTreeMap<String, MonthTally>> {
    let mut months: BTreeMap<String, MonthTally> = BTreeMap::new();
    let Some(df) = read::table(dir, "reconciliation_summary")? else {
        return Ok(months);
    };
    let month = read::strings(&df, "month")?;
    let (keys, mismatched) = (
        read::ints(&df, "keys")?,
        read::ints(&df, "keys_mismatched")?,
    );
    let d = |c| read::decimals(&df, c);
    let (issued, recomputed) = (d("issued_total")?, d("recomputed_total")?);
    let (over, under) = (d("overcharged")?, d("undercharged")?);
    let n = |v: Option<i64>| u64::try_from(v.unwrap_or_default()).unwrap_or_default();
    for i in 0..df.height() {
        let row = MonthTally {
            keys: n(keys[i]),
            keys_mismatched: n(mismatched[i]),
            issued: issued[i].unwrap_or_default(),
            recomputed: recomputed[i].unwrap_or_default(),
            overcharged: over[i].unwrap_or_default(),
            undercharged: under[i].unwrap_or_default(),
        };
        let month = month[i].clone().unwrap_or_default();
        months.entry(month).or_default().add(&row);
    }
    Ok(months)
}

/// The reconciliation section.
pub fn section(v: &ReconView) -> Result<Section> {
    let month_names: Vec<String> = v.months.keys().cloned().collect();
    let series = [
        Series {
            name: "overcharged (issued above recomputed)".into(),
            values: v.months.values().map(|m| m.overcharged).collect(),
        },
        Series {
            name: "leakage (issued below recomputed)".into(),
            values: v.months.values().map(|m| m.undercharged).collect(),
        },
    ];
    let chart = charts::columns(
        "Overcharged and leaked per month, beyond the tolerance (CNY)",
        &month_names,
        &series,
    )?;
    let mut text = v.header.clone();
    text.push(format!(
        "{} of {} keys mismatched. A delta is issued − recomputed: above zero the platform \
         overcharged, below zero revenue leaked (a key never issued leaks its whole amount).",
        v.mismatched,
        v.by_status.values().map(|t| t.keys).sum::<u64>()
    ));
    Ok(Section {
        id: "reconciliation",
        title: "Reconciliation against the issued bills".into(),
        text,
        charts: vec![chart],
        tables: vec![status_table(v), month_table(v), top_table(v)],
    })
}

fn status_table(v: &ReconView) -> TableView {
    let mut all = StatusTally::default();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for s in ORDER {
        let t = v.by_status.get(&s).cloned().unwrap_or_default();
        all.add(&t);
        rows.push(status_row(s.as_str(), s.as_str(), &t));
    }
    rows.push(status_row("all keys", "all", &all));
    TableView {
        caption: "Keys by status".into(),
        head: [
            "status",
            "keys",
            "issued",
            "recomputed",
            "Δ issued − recomputed",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn status_row(label: &str, status: &str, t: &StatusTally) -> Vec<Cell> {
    let key = format!("reconciliation|status|{status}");
    vec![
        Cell::text(label),
        Cell::count(format!("{key}|keys"), t.keys),
        Cell::money(format!("{key}|issued_amount"), t.issued),
        Cell::money(format!("{key}|recomputed_amount"), t.recomputed),
        Cell::money(format!("{key}|delta"), t.issued - t.recomputed),
    ]
}

fn month_table(v: &ReconView) -> TableView {
    let mut all = MonthTally::default();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for (m, t) in &v.months {
        all.add(t);
        rows.push(month_row(m, m, t));
    }
    rows.push(month_row("all months", "all", &all));
    TableView {
        caption: "Per month (from reconciliation_summary)".into(),
        head: [
            "month",
            "keys",
            "mismatched",
            "issued",
            "recomputed",
            "Δ",
            "overcharged",
            "leakage",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn month_row(label: &str, month: &str, t: &MonthTally) -> Vec<Cell> {
    let key = format!("reconciliation|month|{month}");
    vec![
        Cell::text(label),
        Cell::count(format!("{key}|keys"), t.keys),
        Cell::count(format!("{key}|keys_mismatched"), t.keys_mismatched),
        Cell::money(format!("{key}|issued_total"), t.issued),
        Cell::money(format!("{key}|recomputed_total"), t.recomputed),
        Cell::money(format!("{key}|delta"), t.issued - t.recomputed),
        Cell::money(format!("{key}|overcharged"), t.overcharged),
        Cell::money(format!("{key}|undercharged"), t.undercharged),
    ]
}

fn top_table(v: &ReconView) -> TableView {
    let rows = (v.top.iter())
        .map(|r| {
            let start = format_local(r.charge_start);
            let key = format!("reconciliation|key|{}|{start}", r.key.join("|"));
            // The values in the order of `KEY`.
            let k = |i: usize| r.key.get(i).map_or("", String::as_str);
            vec![
                Cell::text(k(0)),
                Cell::text(format!("{}: {} / {} / {}", k(1), k(2), k(3), k(4))),
                Cell::text(format!("{} {}", k(5), k(6))),
                Cell::text(start),
                Cell::text(r.status.as_str()),
                Cell::text(r.cause.clone().unwrap_or_else(|| "–".into())),
                Cell::money(format!("{key}|issued_amount"), r.issued),
                Cell::money(format!("{key}|recomputed_amount"), r.recomputed),
                Cell::money(format!("{key}|delta"), r.delta()),
            ]
        })
        .collect();
    TableView {
        caption: format!(
            "Mismatched keys, largest |Δ| first ({} of {})",
            v.top.len(),
            v.mismatched
        ),
        head: [
            "account",
            "charge",
            "region, instance",
            "charge start",
            "status",
            "cause",
            "issued",
            "recomputed",
            "Δ",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_status_the_contract_does_not_name_is_refused_with_its_file_and_row() {
        let file = Path::new("rec/reconciliation/month=2024-04/part-0.parquet");
        assert_eq!(
            status_of(Some("within_tolerance"), file, 0).unwrap(),
            Status::WithinTolerance
        );
        for (value, shown) in [(Some("matched"), "\"matched\""), (None, "null")] {
            let err = status_of(value, file, 7).unwrap_err().to_string();
            assert!(err.contains("part-0.parquet"), "{err}");
            assert!(err.contains(&format!("row 7: {shown} is not")), "{err}");
        }
    }

    #[test]
    fn the_section_lists_every_status_once() {
        let mut listed = ORDER.to_vec();
        listed.sort();
        let mut all = Status::ALL.to_vec();
        all.sort();
        assert_eq!(listed, all);
    }

    fn mismatch(owner: &str, start: Ts, issued: Decimal, recomputed: Decimal) -> Mismatch {
        Mismatch {
            key: vec![owner.to_string()],
            charge_start: start,
            status: "amount_mismatch".into(),
            cause: None,
            issued,
            recomputed,
        }
    }

    #[test]
    fn mismatches_are_ranked_by_absolute_delta_then_key_and_cut_to_top() {
        let mut rows = vec![
            mismatch("b", 0, dec!(1), dec!(3)),
            mismatch("a", 5, dec!(0), dec!(0.5)),
            mismatch("a", 1, dec!(4), dec!(2)),
            mismatch("c", 0, dec!(10), dec!(1)),
        ];
        keep_top(&mut rows, 3);
        let ranked: Vec<(&str, Ts, Decimal)> = (rows.iter())
            .map(|r| (r.key[0].as_str(), r.charge_start, r.delta()))
            .collect();
        // |−2| ties with |+2|: key order decides, the account before the start.
        assert_eq!(
            ranked,
            [("c", 0, dec!(9)), ("a", 1, dec!(2)), ("b", 0, dec!(-2))]
        );
    }

    #[test]
    fn a_status_row_shows_the_delta_of_its_amounts() {
        let t = StatusTally {
            keys: 2,
            issued: dec!(0.25203407),
            recomputed: dec!(0.17677757),
        };
        let row = status_row("quantity_mismatch", "quantity_mismatch", &t);
        let figures: Vec<(Option<&str>, Option<&str>)> = (row.iter())
            .map(|c| (c.key.as_deref(), c.value.as_deref()))
            .collect();
        let k = "reconciliation|status|quantity_mismatch";
        assert_eq!(
            figures[1..],
            [
                (Some(format!("{k}|keys").as_str()), Some("2")),
                (
                    Some(format!("{k}|issued_amount").as_str()),
                    Some("0.25203407")
                ),
                (
                    Some(format!("{k}|recomputed_amount").as_str()),
                    Some("0.17677757")
                ),
                (Some(format!("{k}|delta").as_str()), Some("0.0752565")),
            ]
        );
    }
}
