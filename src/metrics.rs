//! `reckon run --metrics FILE`: the run's figures as a Prometheus text file, in the convention of
//! node_exporter's textfile collector (a `*.prom` file in its directory, replaced whole by a
//! rename so the collector never reads half of it). An alert can then fire on a run that did not
//! happen (`reckon_last_success_timestamp_seconds` too old) or that billed nothing.
//!
//! Invariants: the file is written only after the output is published (a failed run leaves the
//! previous success's file, so its timestamp ages); series are sorted (the text is the same for
//! the same run but for the timestamp and durations); money is printed as the manifest's decimal
//! string, never through a float.

use crate::error::{Error, Result};
use crate::output::read;
use crate::pipeline::RunMetrics;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Writes the metrics of the run `m` that published `out` to `path`, atomically.
pub fn write(path: &Path, out: &Path, m: &RunMetrics, now_unix: i64) -> Result<()> {
    let by_rule = exceptions_by_rule(out)?;
    let text = render(m, &by_rule, now_unix);
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Rows of the published `exceptions` table by `rule`.
fn exceptions_by_rule(out: &Path) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    let Some(df) = read::table(out, "exceptions")? else {
        return Ok(counts);
    };
    for r in read::strings(&df, "rule")?.into_iter().flatten() {
        *counts.entry(r).or_insert(0) += 1;
    }
    Ok(counts)
}

/// The text of the metrics file.
pub fn render(m: &RunMetrics, by_rule: &BTreeMap<String, u64>, now_unix: i64) -> String {
    let mut t = String::new();
    let mut family = |name: &str, help: &str, series: Vec<(String, String)>| {
        let _ = writeln!(t, "# HELP {name} {help}");
        let _ = writeln!(t, "# TYPE {name} gauge");
        for (labels, value) in series {
            let _ = writeln!(t, "{name}{labels} {value}");
        }
    };
    let u = &m.usage;
    let outcomes = [
        ("read", u.read),
        ("invalid", u.invalid),
        ("after_as_of", u.after_as_of),
        ("history_only", u.history_only),
        ("billed", u.billed),
        ("unpriced", u.unpriced),
    ];
    family(
        "reckon_usage_rows",
        "Usage rows of the last successful run, by outcome.",
        (outcomes.iter())
            .map(|(o, n)| (format!("{{outcome=\"{o}\"}}"), n.to_string()))
            .collect(),
    );
    family(
        "reckon_exceptions",
        "Rows of the exceptions table of the last successful run, by rule.",
        (by_rule.iter())
            .map(|(r, n)| (format!("{{rule=\"{}\"}}", escape(r)), n.to_string()))
            .collect(),
    );
    family(
        "reckon_output_rows",
        "Rows written per output table by the last successful run.",
        (m.outputs.iter())
            .map(|(t, w)| (format!("{{table=\"{t}\"}}"), w.rows.to_string()))
            .collect(),
    );
    family(
        "reckon_total_cny",
        "Sums of the money columns of the last successful run (CNY), by table.column.",
        (m.totals.iter())
            .map(|(c, v)| (format!("{{column=\"{c}\"}}"), v.clone()))
            .collect(),
    );
    family(
        "reckon_stage_duration_seconds",
        "Wall time of each stage of the last successful run.",
        (m.stage_ms.iter())
            .map(|(s, ms)| (format!("{{stage=\"{s}\"}}"), seconds(*ms)))
            .collect(),
    );
    family(
        "reckon_as_of_timestamp_seconds",
        "The as-of moment (00:00 UTC+8) of the last successful run, Unix time.",
        vec![(String::new(), (m.window.as_of / 1_000_000).to_string())],
    );
    family(
        "reckon_last_success_timestamp_seconds",
        "When the last successful run published its output, Unix time.",
        vec![(String::new(), now_unix.to_string())],
    );
    t
}

fn seconds(ms: u128) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{parse_date, Window};
    use crate::output::manifest::UsageAccounting;

    fn metrics() -> RunMetrics {
        RunMetrics {
            usage: UsageAccounting {
                read: 10,
                invalid: 1,
                after_as_of: 2,
                history_only: 3,
                billed: 4,
                unpriced: 0,
            },
            outputs: BTreeMap::new(),
            chunks: 1,
            duration_ms: 1500,
            window: Window::new(parse_date("2024-07-01").unwrap()),
            stage_ms: vec![("load", 250), ("chunks", 1200), ("publish", 50)],
            totals: [("bills.payable".to_string(), "45.26".to_string())].into(),
        }
    }

    /// Each family has its HELP and TYPE lines and one sample per label; money is the
    /// manifest's decimal text; the as-of is 2024-07-01 00:00 UTC+8 = 2024-06-30 16:00 UTC.
    #[test]
    fn metrics_text_has_every_family_with_its_samples() {
        let by_rule = [("no_price".to_string(), 3), ("a\"b".to_string(), 1)].into();
        let t = render(&metrics(), &by_rule, 1_700_000_000);
        for line in [
            "# TYPE reckon_usage_rows gauge",
            "reckon_usage_rows{outcome=\"read\"} 10",
            "reckon_usage_rows{outcome=\"billed\"} 4",
            "reckon_exceptions{rule=\"no_price\"} 3",
            "reckon_exceptions{rule=\"a\\\"b\"} 1",
            "reckon_total_cny{column=\"bills.payable\"} 45.26",
            "reckon_stage_duration_seconds{stage=\"chunks\"} 1.200",
            "reckon_as_of_timestamp_seconds 1719763200",
            "reckon_last_success_timestamp_seconds 1700000000",
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing in\n{t}");
        }
    }
}
