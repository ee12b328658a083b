//! `reckon report`: every figure on the page equals the Parquet files' totals, computed here
//! apart from the report's code (polars group-bys over the tables read back); the paths are
//! checked before any work; and the page renders in headless Chromium with no console message
//! (`tests/report/chromium.sh`).
//!
//! The fixture: `sample_data/` run as of 2024-06-20 (old) and 2024-07-01 (new), `reckon diff`
//! of the two, `reckon reconcile` of `sample_data/issued/` (six planted mistakes) against the
//! new output, and the report of the new output with that diff and that reconciliation.

use crate::common::*;
use polars::prelude::*;
use reckon::output::read;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Accounts the report lists (its default).
const TOP: usize = 15;

struct Fixture {
    _tmp: tempfile::TempDir,
    old: PathBuf,
    out: PathBuf,
    diff: PathBuf,
    rec: PathBuf,
    page: PathBuf,
    html: String,
}

/// Built once for the module's tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
        let (old, out) = (tmp.path().join("old"), tmp.path().join("out"));
        for (dir, as_of) in [(&old, "2024-06-20"), (&out, "2024-07-01")] {
            let s = |p: &Path| p.to_str().unwrap().to_string();
            let args = [
                "run",
                "--as-of",
                as_of,
                "--input",
                &s(&sample),
                "--output",
                &s(dir),
            ];
            let (code, err) = run_binary(&args);
            assert_eq!(code, 0, "{err}");
        }
        let diff = tmp.path().join("diff");
        let p = |x: &Path| x.to_str().unwrap().to_string();
        let args = ["diff", &p(&old), &p(&out), "--output", &p(&diff)];
        let (code, err) = run_binary(&args);
        assert_eq!(code, 1, "the outputs differ: {err}");
        let rec = tmp.path().join("rec");
        let issued = sample.join("issued");
        let args = ["reconcile", &p(&issued), &p(&out), "--output", &p(&rec)];
        let (code, err) = run_binary(&args);
        assert_eq!(code, 1, "the planted mistakes are mismatches: {err}");
        let page = tmp.path().join("report.html");
        let args = [
            "report",
            "--input",
            &p(&out),
            "--diff",
            &p(&diff),
            "--reconciliation",
            &p(&rec),
            "--output",
            &p(&page),
        ];
        let (code, err) = run_binary(&args);
        assert_eq!(code, 0, "{err}");
        let html = std::fs::read_to_string(&page).unwrap();
        Fixture {
            _tmp: tmp,
            old,
            out,
            diff,
            rec,
            page,
            html,
        }
    })
}

/// Every `data-figure` of the page: key → (`data-value`, displayed text); keys are unique.
fn page_figures(html: &str) -> BTreeMap<String, (String, String)> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("[data-figure]").unwrap();
    let mut figures = BTreeMap::new();
    for el in doc.select(&sel) {
        let key = el.value().attr("data-figure").unwrap().to_string();
        let value = el
            .value()
            .attr("data-value")
            .unwrap_or_default()
            .to_string();
        let text = el.text().collect::<String>().trim().to_string();
        assert!(
            figures.insert(key.clone(), (value, text)).is_none(),
            "{key} twice"
        );
    }
    figures
}

/// A group-by's result as rows of text keys and exact values.
fn grouped(df: DataFrame, by: &[&str], aggs: Vec<Expr>) -> Vec<(Vec<String>, Vec<Decimal>)> {
    let keys: Vec<Expr> = by.iter().map(|c| col(*c)).collect();
    let g = df.lazy().group_by(keys).agg(aggs).collect().unwrap();
    let key_cols: Vec<Vec<Option<String>>> =
        by.iter().map(|c| read::text(&g, c).unwrap()).collect();
    let value_cols: Vec<Vec<Decimal>> = (g.get_column_names().iter().skip(by.len()))
        .map(|c| {
            let s = g.column(c).unwrap();
            match s.dtype() {
                DataType::Decimal(_, _) => read::decimals(&g, c)
                    .unwrap()
                    .into_iter()
                    .map(|d| d.unwrap_or_default())
                    .collect(),
                _ => {
                    let n = s.cast(&DataType::Int64).unwrap();
                    let n = n.i64().unwrap();
                    n.iter()
                        .map(|n| Decimal::from(n.unwrap_or_default()))
                        .collect()
                }
            }
        })
        .collect();
    (0..g.height())
        .map(|i| {
            (
                key_cols
                    .iter()
                    .map(|k| k[i].clone().unwrap_or_default())
                    .collect(),
                value_cols.iter().map(|v| v[i]).collect(),
            )
        })
        .collect()
}

fn sums(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| col(*n).sum()).collect()
}

const AMOUNTS: [&str; 7] = [
    "usage_amount",
    "purchase_amount",
    "subscription_amount",
    "elastic_amount",
    "refund_amount",
    "total_amount",
    "payable",
];

/// The expected figures of the bills sections and the headline.
fn expected_bills(out: &Path, exp: &mut BTreeMap<String, Decimal>) {
    let bills = read::table(out, "bills").unwrap().unwrap();
    let mut aggs = sums(&AMOUNTS);
    aggs.push(col("owner_uin").n_unique().alias("accounts"));
    aggs.push(len().alias("bills"));
    let measures: Vec<&str> = AMOUNTS
        .iter()
        .copied()
        .chain(["accounts", "bills"])
        .collect();
    for (k, v) in grouped(bills.clone(), &["month"], aggs.clone()) {
        for (m, x) in measures.iter().zip(v) {
            exp.insert(format!("totals|{}|{m}", k[0]), x);
        }
    }
    for (k, v) in grouped(bills.clone(), &["month", "product"], aggs) {
        for (m, x) in measures.iter().zip(v) {
            if *m != "bills" {
                exp.insert(format!("totals|{}|{}|{m}", k[0], k[1]), x);
            }
        }
    }
    let mut all = sums(&["total_amount", "payable"]);
    all.push(col("owner_uin").n_unique().alias("accounts"));
    let one = bills.clone().lazy().with_column(lit(1).alias("all"));
    let (_, v) = grouped(one.collect().unwrap(), &["all"], all).remove(0);
    exp.insert("run|total_amount".into(), v[0]);
    exp.insert("run|payable".into(), v[1]);
    exp.insert("run|accounts".into(), v[2]);
    let mut accounts = grouped(
        bills,
        &["owner_uin"],
        vec![
            col("total_amount").sum(),
            col("payable").sum(),
            len().alias("bills"),
        ],
    );
    accounts.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0[0].cmp(&b.0[0])));
    for (k, v) in accounts.into_iter().take(TOP) {
        exp.insert(format!("accounts|{}|total_amount", k[0]), v[0]);
        exp.insert(format!("accounts|{}|payable", k[0]), v[1]);
        exp.insert(format!("accounts|{}|bills", k[0]), v[2]);
    }
}

/// The expected coverage figures, from every usage line.
fn expected_coverage(out: &Path, exp: &mut BTreeMap<String, Decimal>) {
    let files = read::table_files(out, "bill_lines").unwrap().unwrap();
    let lines = read::stack(files.iter().map(|f| f.path.as_path()))
        .unwrap()
        .unwrap();
    let usage = lines
        .lazy()
        .filter(col("charge_kind").eq(lit("usage")))
        .collect()
        .unwrap();
    let q = [
        "metered_quantity",
        "deducted_quantity",
        "billable_quantity",
        "amount",
    ];
    let mut aggs = sums(&q);
    aggs.push(len().alias("lines"));
    for (k, v) in grouped(usage, &["product", "billing_item", "unit"], aggs) {
        let key = format!("coverage|{}|{}|{}", k[0], k[1], k[2]);
        for (m, x) in q.iter().chain(&["lines"]).zip(&v) {
            exp.insert(format!("{key}|{m}"), *x);
        }
        if !v[0].is_zero() {
            let share = (v[1] * Decimal::ONE_HUNDRED / v[0])
                .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
            exp.insert(format!("{key}|covered_share"), share);
        }
    }
}

/// The expected exception counts.
fn expected_exceptions(out: &Path, exp: &mut BTreeMap<String, Decimal>) {
    let ex = read::table(out, "exceptions").unwrap().unwrap();
    exp.insert("run|exceptions".into(), Decimal::from(ex.height()));
    for (k, v) in grouped(ex, &["rule", "source_table"], vec![len().alias("rows")]) {
        exp.insert(format!("exceptions|{}|{}|rows", k[0], k[1]), v[0]);
    }
}

/// The expected figures of the changes section, from the `diff` table.
fn expected_changes(diff: &Path, exp: &mut BTreeMap<String, Decimal>) {
    let df = read::table(diff, "diff").unwrap().unwrap();
    let part = |table: &str| {
        (df.clone().lazy())
            .filter(col("table").eq(lit(table)))
            .collect()
            .unwrap()
    };
    let (bills, lines) = (part("bills"), part("bill_lines"));
    let bill_aggs = || {
        vec![
            len().alias("n"),
            col("delta").sum(),
            col("closed_in_old").cast(DataType::Int64).sum(),
        ]
    };
    let line_aggs = || vec![len().alias("n"), col("delta").sum()];
    let mut tallies: BTreeMap<(String, String), [Decimal; 5]> = BTreeMap::new();
    for (dim, c) in [("month", "month"), ("account", "owner_uin")] {
        for (k, v) in grouped(bills.clone(), &[c], bill_aggs()) {
            let t = tallies.entry((dim.into(), k[0].clone())).or_default();
            (t[0], t[1], t[4]) = (v[0], v[1], v[2]);
        }
        for (k, v) in grouped(lines.clone(), &[c], line_aggs()) {
            let t = tallies.entry((dim.into(), k[0].clone())).or_default();
            (t[2], t[3]) = (v[0], v[1]);
        }
    }
    let measures = [
        "bills_changed",
        "bills_delta",
        "lines_changed",
        "lines_delta",
        "restated",
    ];
    let mut accounts: Vec<(&String, &[Decimal; 5])> = Vec::new();
    for ((dim, k), t) in &tallies {
        if dim == "account" {
            accounts.push((k, t));
            continue;
        }
        for (m, x) in measures.iter().zip(t) {
            exp.insert(format!("changes|month|{k}|{m}"), *x);
        }
    }
    accounts.sort_by(|a, b| {
        (b.1[1].abs().cmp(&a.1[1].abs()))
            .then(b.1[2].cmp(&a.1[2]))
            .then(a.0.cmp(b.0))
    });
    for (k, t) in accounts.into_iter().take(TOP) {
        for (m, x) in measures.iter().zip(t).take(4) {
            exp.insert(format!("changes|account|{k}|{m}"), *x);
        }
    }
    for (k, v) in grouped(df, &["table", "reason"], line_aggs()) {
        exp.insert(format!("changes|reason|{}|{}|rows", k[0], k[1]), v[0]);
        exp.insert(format!("changes|reason|{}|{}|delta", k[0], k[1]), v[1]);
    }
}

/// The expected figures of the reconciliation section: keys and amounts by status (every
/// status, and all keys) from `reconciliation`, the months from `reconciliation_summary`, and
/// the mismatched keys with the largest |delta| (ties in key order).
fn expected_reconciliation(rec: &Path, exp: &mut BTreeMap<String, Decimal>) {
    let keys = read::table(rec, "reconciliation").unwrap().unwrap();
    let one = |df: &DataFrame| df.clone().lazy().with_column(lit("all").alias("status"));
    let aggs = || {
        let mut a = vec![len().alias("keys")];
        a.extend(sums(&["issued_amount", "recomputed_amount", "delta"]));
        a
    };
    let measures = ["keys", "issued_amount", "recomputed_amount", "delta"];
    for s in reckon::reconcile::Status::ALL {
        for m in measures {
            exp.insert(
                format!("reconciliation|status|{}|{m}", s.as_str()),
                Decimal::ZERO,
            );
        }
    }
    let all = one(&keys).collect().unwrap();
    for df in [keys.clone(), all] {
        for (k, v) in grouped(df, &["status"], aggs()) {
            for (m, x) in measures.iter().zip(v) {
                exp.insert(format!("reconciliation|status|{}|{m}", k[0]), x);
            }
        }
    }
    let summary = read::table(rec, "reconciliation_summary").unwrap().unwrap();
    let measures = [
        "keys",
        "keys_mismatched",
        "issued_total",
        "recomputed_total",
        "delta",
        "overcharged",
        "undercharged",
    ];
    let all = (summary.clone().lazy())
        .with_column(lit("all").alias("month"))
        .collect()
        .unwrap();
    for df in [summary, all] {
        for (k, v) in grouped(df, &["month"], sums(&measures)) {
            for (m, x) in measures.iter().zip(v) {
                exp.insert(format!("reconciliation|month|{}|{m}", k[0]), x);
            }
        }
    }
    expected_top_keys(&keys, exp);
}

fn expected_top_keys(keys: &DataFrame, exp: &mut BTreeMap<String, Decimal>) {
    let names = reckon::reconcile::KEY_COLUMNS;
    let text: Vec<Vec<Option<String>>> =
        names.iter().map(|c| read::text(keys, c).unwrap()).collect();
    let start = read::instants(keys, "charge_start").unwrap();
    let status = read::text(keys, "status").unwrap();
    let d = |c| read::decimals(keys, c).unwrap();
    let (issued, recomputed, delta) = (d("issued_amount"), d("recomputed_amount"), d("delta"));
    let mut rows: Vec<(Decimal, Vec<String>, i64, [Decimal; 3])> = (0..keys.height())
        .filter(|&i| !matches!(status[i].as_deref(), Some("match" | "within_tolerance")))
        .map(|i| {
            let k = text
                .iter()
                .map(|c| c[i].clone().unwrap_or_default())
                .collect();
            let v = [issued[i], recomputed[i], delta[i]].map(|x| x.unwrap_or_default());
            (v[2].abs(), k, start[i].unwrap(), v)
        })
        .collect();
    assert!(rows.len() >= 5, "the planted mismatches: {}", rows.len());
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (_, k, start, v) in rows.into_iter().take(TOP) {
        let start = reckon::calendar::format_local(start);
        let key = format!("reconciliation|key|{}|{start}", k.join("|"));
        for (m, x) in ["issued_amount", "recomputed_amount", "delta"]
            .iter()
            .zip(v)
        {
            exp.insert(format!("{key}|{m}"), x);
        }
    }
}

/// How the page shows a figure, by its measure (the key's last part).
fn shown(key: &str, v: Decimal) -> String {
    let measure = key.rsplit('|').next().unwrap();
    let dp = match measure {
        "covered_share" => return format!("{v} %"),
        m if m.ends_with("_quantity") => 3,
        m if m.ends_with("amount") || m.ends_with("delta") || m == "payable" => 2,
        m if m.ends_with("_total") || m.ends_with("charged") => 2,
        _ => 0,
    };
    let mut r = v.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    let text = r.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits: Vec<char> = int.chars().collect();
    let mut groups: Vec<String> = digits
        .rchunks(3)
        .map(|c| c.iter().collect::<String>())
        .collect();
    groups.reverse();
    let sign = if r.is_sign_negative() && !r.is_zero() {
        "-"
    } else {
        ""
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!("{sign}{}{frac}", groups.join(","))
}

#[test]
fn every_figure_of_the_report_equals_the_parquet_totals() {
    let f = fixture();
    let page = page_figures(&f.html);
    let manifest = reckon::output::manifest::read(&f.out).unwrap();
    let mut exp = BTreeMap::new();
    exp.insert("run|usage_read".into(), Decimal::from(manifest.usage.read));
    exp.insert(
        "run|usage_billed".into(),
        Decimal::from(manifest.usage.billed),
    );
    expected_bills(&f.out, &mut exp);
    expected_coverage(&f.out, &mut exp);
    expected_exceptions(&f.out, &mut exp);
    expected_changes(&f.diff, &mut exp);
    expected_reconciliation(&f.rec, &mut exp);
    // The same figures, no more and no fewer.
    let missing: Vec<_> = exp.keys().filter(|k| !page.contains_key(*k)).collect();
    let extra: Vec<_> = page.keys().filter(|k| !exp.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (key, want) in &exp {
        let (value, text) = &page[key];
        let got: Decimal = value
            .parse()
            .unwrap_or_else(|e| panic!("{key}: `{value}`: {e}"));
        assert_eq!(got, *want, "{key}: data-value");
        assert_eq!(*text, shown(key, *want), "{key}: text");
    }
    // Every section, and the page's figures agree with the manifest's totals.
    let total: Decimal = manifest.totals["bills.total_amount"].parse().unwrap();
    assert_eq!(exp["run|total_amount"], total);
    for kind in [
        "totals|",
        "coverage|",
        "accounts|",
        "exceptions|",
        "changes|month|",
        "changes|account|",
        "changes|reason|",
        "reconciliation|status|",
        "reconciliation|month|",
        "reconciliation|key|",
    ] {
        assert!(page.keys().any(|k| k.starts_with(kind)), "no figure {kind}");
    }
    assert!(page.len() > 300, "{} figures", page.len());
}

#[test]
fn the_report_is_one_page_with_nothing_to_fetch() {
    let f = fixture();
    let doc = scraper::Html::parse_document(&f.html);
    let sel = scraper::Selector::parse("[src], [href], script, link[rel=stylesheet]").unwrap();
    for el in doc.select(&sel) {
        let v = el.value();
        assert!(v.name() != "script", "a script: {}", el.html());
        for a in ["src", "href"] {
            if let Some(url) = v.attr(a) {
                assert!(
                    url.starts_with('#') || url.starts_with("data:"),
                    "{a}={url}"
                );
            }
        }
    }
    let svg = scraper::Selector::parse("section svg").unwrap();
    assert!(doc.select(&svg).count() >= 4, "charts as inline SVG");
    // The exception examples are rows of the table.
    let ex = read::table(&f.out, "exceptions").unwrap().unwrap();
    let ids = read::strings(&ex, "source_id").unwrap();
    assert!(f.html.contains("scn-qtp-all") && ids.contains(&Some("scn-qtp-all".into())));
}

#[test]
fn a_report_without_a_diff_has_no_changes_section() {
    let f = fixture();
    let page = f.page.with_file_name("plain.html");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let (code, err) = run_binary(&["report", "--input", &p(&f.out), "--output", &p(&page)]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("id=\"changes\"") && html.contains("id=\"totals\""));
    let figures = page_figures(&html);
    let with_diff = page_figures(&f.html);
    for (k, v) in &figures {
        assert_eq!(Some(v), with_diff.get(k), "{k}");
    }
}

#[test]
fn report_paths_are_checked_before_any_work() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let page = tmp.path().join("r.html");
    let cases: [(Vec<String>, &str); 7] = [
        (vec![p(tmp.path()), p(&page)], "_manifest.json"),
        (vec![p(&f.out), p(tmp.path())], "is a directory"),
        (
            vec![p(&f.out), p(&tmp.path().join("no/such/r.html"))],
            "does not exist",
        ),
        (
            vec![p(&f.out), p(&f.out.join("r.html"))],
            "inside the output",
        ),
        (vec![p(&f.out), p(&page), p(tmp.path())], "no `diff` table"),
        (
            vec![p(&f.out), p(&page), p(&f.diff), p(tmp.path())],
            "not a complete reconciliation",
        ),
        // The reconciliation of the new output, given with the old one.
        (
            vec![p(&f.old), p(&page), p(&f.diff), p(&f.rec)],
            "it reconciled other bill lines",
        ),
    ];
    for (args, why) in cases {
        let mut a = vec!["report", "--input", &args[0], "--output", &args[1]];
        if let Some(d) = args.get(2) {
            a.extend(["--diff", d]);
        }
        if let Some(r) = args.get(3) {
            a.extend(["--reconciliation", r]);
        }
        let (code, err) = run_binary(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(err.contains(why), "{a:?}: {err}");
        assert!(!page.exists() && !f.out.join("r.html").exists());
    }
}

/// The Chromium binary, or why there is none: `RECKON_CHROMIUM` (a path, or `skip`), else
/// `chromium` on PATH.
fn chromium() -> Result<PathBuf, String> {
    match std::env::var("RECKON_CHROMIUM") {
        Ok(p) if p == "skip" => Err("RECKON_CHROMIUM=skip (.ci/run could not install it)".into()),
        Ok(p) => Ok(PathBuf::from(p)),
        Err(_) => std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
            .ok_or_else(|| "no RECKON_CHROMIUM and no chromium on PATH".into()),
    }
}

/// `RECKON_REPORT_SCREENSHOT=docs/report.png` keeps the screenshot (the README shows it).
#[test]
fn the_report_renders_in_headless_chromium_without_console_errors() {
    let browser = match chromium() {
        Ok(b) => b,
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED the report in headless Chromium: {why}; `apt-get install \
                 chromium` or run .ci/run\n"
            );
            return;
        }
    };
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let shot = std::env::var_os("RECKON_REPORT_SCREENSHOT")
        .map_or_else(|| tmp.path().join("report.png"), PathBuf::from);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/chromium.sh");
    let run = std::process::Command::new("bash")
        .arg(&script)
        .arg(&f.page)
        .arg(&shot)
        .arg(&browser)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{}{err}",
        String::from_utf8_lossy(&run.stdout)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

/// The defect: the reconciliation was tied to the byte of its output's manifest, so after the
/// README's rerun of the same as-of (identical tables, other timings in the manifest) the report
/// refused it as "another output". The rerun's bill lines are the reconciled ones: accepted.
#[test]
fn a_reconciliation_reports_with_a_byte_identical_rerun_of_its_output() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let rerun = tmp.path().join("out");
    let args = [
        "run",
        "--as-of",
        "2024-07-01",
        "--input",
        &p(&sample),
        "--output",
        &p(&rerun),
    ];
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
    let read = |d: &Path| std::fs::read(d.join("_manifest.json")).unwrap();
    assert_ne!(read(&rerun), read(&f.out), "the manifests differ (timings)");
    let page = tmp.path().join("r.html");
    let args = [
        "report",
        "--input",
        &p(&rerun),
        "--reconciliation",
        &p(&f.rec),
        "--output",
        &p(&page),
    ];
    let (code, err) = run_binary(&args);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"reconciliation\""),
        "no reconciliation section"
    );
}
