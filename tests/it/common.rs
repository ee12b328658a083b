//! Test support: a tiny valid dataset built column by column, which tests then break on purpose,
//! and helpers that run `reckon` and read its outputs. Every run goes to a temporary directory of
//! its own; outputs are walked with the library's Parquet walker (`reckon::input::parquet_files`),
//! and `RunConfig` is built in one place (`run_config`).

use polars::prelude::*;
use reckon::calendar::{parse_local, Ts, HOUR};
use reckon::output::{bool_col, dec_col, frame, i32_col, str_col, ts_col, write_parquet};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The name of every output table, from the library's registry (the manifest aside).
pub fn output_tables() -> impl Iterator<Item = &'static str> {
    reckon::output::TABLES.iter().map(|t| t.name)
}

pub fn t(s: &str) -> Ts {
    parse_local(s).unwrap()
}

pub fn d(s: &str) -> Option<Decimal> {
    Some(Decimal::from_str(s).unwrap())
}

fn s(name: &str, v: &[Option<&str>]) -> Column {
    str_col(name, v.iter().copied())
}

/// Each input table as named columns, in file order.
pub struct Dataset {
    pub tables: BTreeMap<&'static str, Vec<Column>>,
}

impl Dataset {
    /// Two usage rows of one account in May 2024, one total traffic package, one account.
    pub fn valid() -> Dataset {
        let h = |x: &str| Some(t(x));
        let starts = [h("2024-05-01 07:00:00"), h("2024-05-01 07:00:00")];
        let ends: Vec<Option<Ts>> = starts.iter().map(|x| x.map(|v| v + HOUR)).collect();
        let usage = vec![
            s("usage_id", &[Some("u-1"), Some("u-2")]),
            s("owner_uin", &[Some("acct-1"), Some("acct-1")]),
            s("region", &[Some("ap-guangzhou"), Some("ap-guangzhou")]),
            s("product", &[Some("eip"), Some("apigw")]),
            s("sub_product", &[Some("eip"), Some("shared-instance")]),
            s("instance_id", &[Some("eip-1"), Some("gw-1")]),
            s("billing_item", &[Some("public_traffic"), Some("calls")]),
            ts_col("usage_start", starts.iter().copied()),
            ts_col("usage_end", ends.iter().copied()),
            dec_col("quantity", 9, [d("10"), d("20000")].into_iter()),
            s("unit", &[Some("GB"), Some("call")]),
            s("direction", &[None, None]),
            bool_col("accelerated", [Some(false), Some(false)].into_iter()),
        ];
        let packages = vec![
            s("package_id", &[Some("pkg-1")]),
            s("package_name", &[Some("5 GB traffic")]),
            s("owner_uin", &[Some("acct-1")]),
            s("product", &[Some("tp")]),
            s("sub_product", &[Some("full-time")]),
            s("kind", &[Some("total")]),
            s("source", &[Some("purchased")]),
            s("order_type", &[Some("new")]),
            s("region", &[Some("ap-guangzhou")]),
            dec_col("capacity", 9, [d("5")].into_iter()),
            s("unit", &[Some("GB")]),
            s("cycle", &[None]),
            bool_col("idle_only", [Some(false)].into_iter()),
            ts_col("purchased_at", [h("2024-04-01")].into_iter()),
            ts_col("effective_at", [h("2024-04-01")].into_iter()),
            ts_col("expires_at", [h("2024-10-01")].into_iter()),
            bool_col("activated", [Some(true)].into_iter()),
            ts_col("refunded_at", [None].into_iter()),
            dec_col("price_paid", 8, [d("3.75")].into_iter()),
            dec_col("voucher_amount", 8, [d("0")].into_iter()),
            s("share_uins", &[None]),
        ];
        let scope = vec![
            s("package_id", &[Some("pkg-1")]),
            s("product", &[Some("eip")]),
            s("billing_item", &[Some("public_traffic")]),
            dec_col("coefficient", 9, [d("1")].into_iter()),
        ];
        let accounts = vec![
            s("owner_uin", &[Some("acct-1")]),
            dec_col("opening_balance", 8, [d("100")].into_iter()),
            ts_col("opening_at", [h("2024-01-01")].into_iter()),
            ts_col("apigw_activated_at", [h("2022-01-01")].into_iter()),
        ];
        let none_s: [Option<&str>; 0] = [];
        let payments = vec![
            s("payment_id", &none_s),
            s("owner_uin", &none_s),
            ts_col("paid_at", std::iter::empty()),
            dec_col("amount", 8, std::iter::empty()),
        ];
        let subscriptions = vec![
            s("subscription_id", &none_s),
            s("owner_uin", &none_s),
            s("product", &none_s),
            s("plan", &none_s),
            s("region", &none_s),
            s("billing_mode", &none_s),
            ts_col("started_at", std::iter::empty()),
            ts_col("expires_at", std::iter::empty()),
            ts_col("released_at", std::iter::empty()),
            dec_col("list_price", 8, std::iter::empty()),
            dec_col("discount", 6, std::iter::empty()),
            dec_col("price_paid", 8, std::iter::empty()),
            ts_col("elastic_on_at", std::iter::empty()),
            ts_col("elastic_off_at", std::iter::empty()),
            i32_col("attached_apps", std::iter::empty()),
        ];
        let events = vec![
            s("event_id", &none_s),
            s("kind", &none_s),
            s("target_id", &none_s),
            ts_col("at", std::iter::empty()),
            s("new_plan", &none_s),
            i32_col("months", std::iter::empty()),
        ];
        let mut tables = BTreeMap::new();
        tables.insert("usage", usage);
        tables.insert("packages", packages);
        tables.insert("package_scope", scope);
        tables.insert("accounts", accounts);
        tables.insert("payments", payments);
        tables.insert("subscriptions", subscriptions);
        tables.insert("events", events);
        Dataset { tables }
    }

    pub fn drop_col(&mut self, table: &str, col: &str) -> &mut Self {
        self.tables
            .get_mut(table)
            .unwrap()
            .retain(|c| c.name().as_str() != col);
        self
    }

    pub fn set_col(&mut self, table: &str, col: Column) -> &mut Self {
        let cols = self.tables.get_mut(table).unwrap();
        let i = cols
            .iter()
            .position(|c| c.name() == col.name())
            .expect("known column");
        cols[i] = col;
        self
    }

    /// Appends rows to a table from another dataset's table of the same schema.
    pub fn append_rows(&mut self, table: &str, extra: Vec<Column>) -> &mut Self {
        let cols = self.tables.get_mut(table).unwrap();
        for (c, e) in cols.iter_mut().zip(extra) {
            c.append(&e).unwrap();
        }
        self
    }

    /// Writes every table as `<dir>/<table>/part-0.parquet` and copies the sample catalog.
    pub fn write(&self, dir: &Path) -> PathBuf {
        for (name, cols) in &self.tables {
            let h = cols.first().map_or(0, |c| c.len());
            let mut df = frame(h, cols.clone()).unwrap();
            write_parquet(&dir.join(name).join("part-0.parquet"), &mut df).unwrap();
        }
        std::fs::copy(catalog_path(), dir.join("catalog.toml")).unwrap();
        dir.to_path_buf()
    }
}

pub fn catalog_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/catalog.toml")
}

pub fn run_config(input: &Path, output: &Path, as_of: &str) -> reckon::RunConfig {
    reckon::RunConfig {
        as_of: reckon::calendar::parse_date(as_of),
        input: input.to_path_buf(),
        catalog: input.join("catalog.toml"),
        output: output.to_path_buf(),
        threads: None,
        shard: reckon::shard::ShardSpec::ALL,
        chunk_rows: reckon::input::chunks::DEFAULT_CHUNK_ROWS,
        // Rule tests run datasets of plans alone, with no usage in the window; the refusal of
        // such a window is tested on its own (`newcomer`).
        allow_empty: true,
        stage: None,
    }
}

/// Reads every Parquet file of an output table (sorted paths) into one frame, as reckon's own
/// readers do: partition keys the files do not hold (`bills.month`) come from the paths.
pub fn read_table(out: &Path, table: &str) -> DataFrame {
    reckon::output::read::table(out, table)
        .unwrap()
        .expect("table has at least one file")
}

/// Every Parquet file below `dir` with its bytes, keyed by path relative to `dir`. The files are
/// the library's walker's (`reckon::input::parquet_files`): what a run reads is what a test
/// compares.
pub fn parquet_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    reckon::input::parquet_files(dir)
        .unwrap()
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let bytes = std::fs::read(&p).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// Every table file of an output with its bytes: the manifest, which records the run's duration
/// and threads, is not a Parquet file.
pub fn tables(out: &Path) -> BTreeMap<String, Vec<u8>> {
    parquet_bytes(out)
}

/// A usage row for tests: (id, owner, region, product, item, UTC+8 start, quantity, unit).
pub type U<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

pub fn usage_cols(rows: &[U]) -> Vec<Column> {
    fn col<'a>(rows: &'a [U<'a>], name: &str, f: fn(&'a U<'a>) -> &'a str) -> Column {
        str_col(name, rows.iter().map(|r| Some(f(r))))
    }
    let starts: Vec<Option<Ts>> = rows.iter().map(|r| Some(t(r.5))).collect();
    vec![
        col(rows, "usage_id", |r| r.0),
        col(rows, "owner_uin", |r| r.1),
        col(rows, "region", |r| r.2),
        col(rows, "product", |r| r.3),
        col(rows, "sub_product", |r| r.3),
        col(rows, "instance_id", |r| r.1),
        col(rows, "billing_item", |r| r.4),
        ts_col("usage_start", starts.iter().copied()),
        ts_col("usage_end", starts.iter().map(|s| s.map(|v| v + HOUR))),
        dec_col("quantity", 9, rows.iter().map(|r| d(r.6))),
        col(rows, "unit", |r| r.7),
        str_col("direction", rows.iter().map(|_| None)),
        bool_col("accelerated", rows.iter().map(|_| Some(false))),
    ]
}

/// A total traffic package scoped to eip/public_traffic: (id, owner, GB, effective, expires).
pub fn total_packages(ds: &mut Dataset, pkgs: &[(&str, &str, &str, &str, &str)]) {
    let n = pkgs.len();
    let col = |name: &str, v: Vec<&str>| str_col(name, v.into_iter().map(Some));
    ds.tables.insert(
        "packages",
        vec![
            col("package_id", pkgs.iter().map(|p| p.0).collect()),
            col("package_name", pkgs.iter().map(|p| p.0).collect()),
            col("owner_uin", pkgs.iter().map(|p| p.1).collect()),
            col("product", vec!["tp"; n]),
            col("sub_product", vec!["full-time"; n]),
            col("kind", vec!["total"; n]),
            col("source", vec!["purchased"; n]),
            col("order_type", vec!["new"; n]),
            col("region", vec!["ap-guangzhou"; n]),
            dec_col("capacity", 9, pkgs.iter().map(|p| d(p.2))),
            col("unit", vec!["GB"; n]),
            str_col("cycle", pkgs.iter().map(|_| None)),
            bool_col("idle_only", pkgs.iter().map(|_| Some(false))),
            ts_col("purchased_at", pkgs.iter().map(|p| Some(t(p.3)))),
            ts_col("effective_at", pkgs.iter().map(|p| Some(t(p.3)))),
            ts_col("expires_at", pkgs.iter().map(|p| Some(t(p.4)))),
            bool_col("activated", pkgs.iter().map(|_| Some(true))),
            ts_col("refunded_at", pkgs.iter().map(|_| None)),
            dec_col("price_paid", 8, pkgs.iter().map(|_| d("0"))),
            dec_col("voucher_amount", 8, pkgs.iter().map(|_| d("0"))),
            str_col("share_uins", pkgs.iter().map(|_| None)),
        ],
    );
    ds.tables.insert(
        "package_scope",
        vec![
            col("package_id", pkgs.iter().map(|p| p.0).collect()),
            col("product", vec!["eip"; n]),
            col("billing_item", vec!["public_traffic"; n]),
            dec_col("coefficient", 9, pkgs.iter().map(|_| d("1"))),
        ],
    );
}

/// Set in the child process of [`alone`].
const ALONE: &str = "RECKON_IT_ALONE";

/// Whether the calling test runs its body here: `true` in a process of its own. Otherwise it
/// reruns this test binary with only the test `name` (its path as the harness prints it),
/// asserts that it passed, and returns `false`. For a test that needs a process to itself, e.g.
/// to size rayon's global pool, which the other tests of the binary may start first.
pub fn alone(name: &str) -> bool {
    if std::env::var_os(ALONE).is_some() {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // "1 passed" also proves the name matched a test: no test run would pass as well.
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in a process of its own:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Runs the `reckon` binary; returns (exit code, stderr).
pub fn run_binary(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A run's output directory, `out/` inside a temporary directory of its own. A run keeps its
/// lock and the output it replaced beside the output (`.<name>.reckon/`); with the output at a
/// temporary directory's own path that sibling would stay behind in the system's temporary
/// directory after every test. Here it goes with the rest when the guard drops.
pub struct OutDir {
    _root: tempfile::TempDir,
    path: PathBuf,
}

impl OutDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub fn out_dir() -> OutDir {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("out");
    OutDir { _root: root, path }
}

/// Runs the binary on a dataset for an as-of date; returns the output dir (kept alive by the guard).
/// With `--allow-empty`: rule tests run datasets of plans alone, with no usage in the window.
pub fn run_dataset(ds: &Dataset, as_of: &str) -> (tempfile::TempDir, OutDir) {
    let input = tempfile::tempdir().unwrap();
    let out = out_dir();
    ds.write(input.path());
    let (code, err) = run_binary(&[
        "run",
        "--allow-empty",
        "--as-of",
        as_of,
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    (input, out)
}

/// Rows of a table as text, one string per row (columns joined by `|`), in file order.
pub fn rows_text(df: &DataFrame, cols: &[&str]) -> Vec<String> {
    let df = df.select(cols.iter().copied()).unwrap();
    (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| match c.get(i).unwrap() {
                    AnyValue::Null => String::new(),
                    AnyValue::Datetime(us, _, _) | AnyValue::DatetimeOwned(us, _, _) => {
                        reckon::calendar::format_local(us)
                    }
                    v => v.get_str().map_or_else(|| v.to_string(), String::from),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// One subscription row for tests; `Default` gives a monthly mpgw `test` plan in Guangzhou.
#[derive(Clone, Debug)]
pub struct SubRow {
    pub id: &'static str,
    pub owner: &'static str,
    pub product: &'static str,
    pub plan: &'static str,
    pub mode: &'static str,
    pub started: &'static str,
    pub expires: Option<&'static str>,
    pub released: Option<&'static str>,
    pub list: &'static str,
    pub discount: &'static str,
    pub paid: &'static str,
    pub elastic_on: Option<&'static str>,
    pub elastic_off: Option<&'static str>,
    pub attached: i32,
}

impl Default for SubRow {
    fn default() -> Self {
        SubRow {
            id: "mp-1",
            owner: "acct-1",
            product: "mpgw",
            plan: "test",
            mode: "monthly",
            started: "2024-09-01 10:00:00",
            expires: Some("2024-10-01 10:00:00"),
            released: None,
            list: "4999",
            discount: "1",
            paid: "4999",
            elastic_on: None,
            elastic_off: None,
            attached: 0,
        }
    }
}

pub fn subscription_cols(rows: &[SubRow]) -> Vec<Column> {
    let s = |name: &str, f: fn(&SubRow) -> &str| str_col(name, rows.iter().map(|r| Some(f(r))));
    vec![
        s("subscription_id", |r| r.id),
        s("owner_uin", |r| r.owner),
        s("product", |r| r.product),
        s("plan", |r| r.plan),
        s("region", |_| "ap-guangzhou"),
        s("billing_mode", |r| r.mode),
        ts_col("started_at", rows.iter().map(|r| Some(t(r.started)))),
        ts_col("expires_at", rows.iter().map(|r| r.expires.map(t))),
        ts_col("released_at", rows.iter().map(|r| r.released.map(t))),
        dec_col("list_price", 8, rows.iter().map(|r| d(r.list))),
        dec_col("discount", 6, rows.iter().map(|r| d(r.discount))),
        dec_col("price_paid", 8, rows.iter().map(|r| d(r.paid))),
        ts_col("elastic_on_at", rows.iter().map(|r| r.elastic_on.map(t))),
        ts_col("elastic_off_at", rows.iter().map(|r| r.elastic_off.map(t))),
        i32_col("attached_apps", rows.iter().map(|r| Some(r.attached))),
    ]
}

/// Events: (event_id, kind, target_id, UTC+8 at, new_plan, months).
pub type E<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<i32>,
);

pub fn event_cols(rows: &[E]) -> Vec<Column> {
    vec![
        str_col("event_id", rows.iter().map(|r| Some(r.0))),
        str_col("kind", rows.iter().map(|r| Some(r.1))),
        str_col("target_id", rows.iter().map(|r| Some(r.2))),
        ts_col("at", rows.iter().map(|r| Some(t(r.3)))),
        str_col("new_plan", rows.iter().map(|r| r.4)),
        i32_col("months", rows.iter().map(|r| r.5)),
    ]
}

/// Column names of a frame, as owned strings.
pub fn column_names(df: &DataFrame) -> Vec<String> {
    df.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect()
}
