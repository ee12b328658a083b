//! The section on `exceptions`: rows counted by rule and source table, and the first
//! [`EXAMPLES`] rows of each rule in the table's order (`source_table, source_id, rule, at,
//! detail`) as examples. The table is read a file at a time; memory holds the counts and a few
//! examples per rule.
//!
//! Figure keys: `exceptions|RULE|SOURCE_TABLE|rows`.

use super::page::{Cell, Section, TableView};
use crate::calendar::{format_local, Ts};
use crate::error::Result;
use crate::output::read;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Examples shown per rule.
pub const EXAMPLES: usize = 3;

/// An exceptions row, ordered as the table is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Example {
    pub source_table: String,
    pub source_id: String,
    pub at: Option<Ts>,
    pub detail: String,
}

/// Counts by `(rule, source_table)` and examples by rule.
#[derive(Debug, Default)]
pub struct Exceptions {
    pub counts: BTreeMap<(String, String), u64>,
    pub examples: BTreeMap<String, BTreeSet<Example>>,
}

/// Reads `<out>/exceptions` a file at a time.
pub fn read_exceptions(out: &Path) -> Result<Exceptions> {
    let mut acc = Exceptions::default();
    let cols = ["source_table", "source_id", "rule", "at", "detail"];
    for file in read::table_files(out, "exceptions")?.unwrap_or_default() {
        let df = read::read_columns(&file.path, &cols)?;
        let table = read::strings(&df, "source_table")?;
        let id = read::strings(&df, "source_id")?;
        let rule = read::strings(&df, "rule")?;
        let at = read::instants(&df, "at")?;
        let detail = read::strings(&df, "detail")?;
        for i in 0..df.height() {
            let rule = rule[i].clone().unwrap_or_default();
            let source_table = table[i].clone().unwrap_or_default();
            *acc.counts
                .entry((rule.clone(), source_table.clone()))
                .or_default() += 1;
            let examples = acc.examples.entry(rule).or_default();
            examples.insert(Example {
                source_table,
                source_id: id[i].clone().unwrap_or_default(),
                at: at[i],
                detail: detail[i].clone().unwrap_or_default(),
            });
            if examples.len() > EXAMPLES {
                examples.pop_last();
            }
        }
    }
    Ok(acc)
}

/// The exceptions section: counts, then examples.
pub fn section(ex: &Exceptions) -> Section {
    let counts = (ex.counts.iter())
        .map(|((rule, table), n)| {
            vec![
                Cell::text(rule.as_str()),
                Cell::text(table.as_str()),
                Cell::count(format!("exceptions|{rule}|{table}|rows"), *n),
            ]
        })
        .collect();
    let examples = (ex.examples.iter())
        .flat_map(|(rule, xs)| {
            xs.iter().map(move |x| {
                vec![
                    Cell::text(rule.as_str()),
                    Cell::text(x.source_table.as_str()),
                    Cell::text(x.source_id.as_str()),
                    Cell::text(x.at.map(format_local).unwrap_or_default()),
                    Cell::text(x.detail.as_str()),
                ]
            })
        })
        .collect();
    let total: u64 = ex.counts.values().sum();
    Section {
        id: "exceptions",
        title: "Exceptions by rule".into(),
        text: vec![format!(
            "{total} rows in `exceptions`: bad input rows left out of billing and findings \
             that need a person (docs/rules.md names each rule). The first {EXAMPLES} rows of \
             each rule are shown as examples."
        )],
        charts: Vec::new(),
        tables: vec![
            TableView {
                caption: "Rows per rule and source table".into(),
                head: ["rule", "source table", "rows"].map(String::from).to_vec(),
                rows: counts,
            },
            TableView {
                caption: "Examples".into(),
                head: ["rule", "source table", "source id", "at (UTC+8)", "detail"]
                    .map(String::from)
                    .to_vec(),
                rows: examples,
            },
        ],
    }
}
