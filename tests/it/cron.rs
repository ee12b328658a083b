//! The cron wrapper `jobs/reckon-daily.sh`, run by bash as cron runs it: the as-of date is
//! today in UTC+8 on a UTC host; each day's run is staged, audited against the published output
//! and then published (the first run has nothing to compare with and says so); a failure or a
//! failed audit (nothing published) exits non-zero with a message on stderr (what cron mails),
//! everything else going to the log only.

use crate::common::catalog_path;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scheduled job's directories: input (the sample data), catalog, output, log.
struct Job {
    root: tempfile::TempDir,
    catalog: PathBuf,
}

impl Job {
    fn new() -> Job {
        let root = tempfile::tempdir().unwrap();
        let catalog = root.path().join("catalog.toml");
        std::fs::copy(catalog_path(), &catalog).unwrap();
        Job { root, catalog }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// The as-of date of the published output.
    fn published_as_of(&self) -> String {
        let text = std::fs::read_to_string(self.path("out/_manifest.json")).unwrap();
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        m["as_of_date"].as_str().unwrap().to_string()
    }

    fn audit(&self, as_of: &str, n: u32) -> PathBuf {
        self.path(&format!(
            ".out.reckon/runs/daily-{as_of}/audit-{n}/summary.txt"
        ))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("log/reckon.log")).unwrap_or_default()
    }

    /// Runs the wrapper with `bin` as reckon, on a UTC host; returns (exit code, stdout, stderr).
    fn run(&self, bin: &Path, as_of: Option<&str>, input: &Path) -> (i32, String, String) {
        self.run_with(bin, as_of, input, &[])
    }

    /// As [`Job::run`], with more environment variables.
    fn run_with(
        &self,
        bin: &Path,
        as_of: Option<&str>,
        input: &Path,
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/reckon-daily.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .env("TZ", "UTC")
            .env("RECKON_BIN", bin)
            .env("RECKON_INPUT", input)
            .env("RECKON_CATALOG", &self.catalog)
            .env("RECKON_OUTPUT", self.path("out"))
            .env("RECKON_LOG", self.path("log/reckon.log"))
            .env_remove("RECKON_AS_OF")
            .env_remove("RECKON_RUN_ID")
            .env_remove("RECKON_ALLOW_RESTATEMENT")
            .envs(env.iter().copied());
        if let Some(d) = as_of {
            cmd.env("RECKON_AS_OF", d);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

fn reckon() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_reckon"))
}

fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data")
}

/// Today's date in UTC+8, as chrono sees it now.
fn today_utc8() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}

/// On a UTC host the as-of date is today in UTC+8 (a plain `date +%F` is a day behind from
/// 00:00 to 08:00 UTC+8). A stand-in binary records the arguments it was given.
#[test]
fn cron_wrapper_as_of_is_today_in_utc8_on_a_utc_host() {
    let job = Job::new();
    let args = job.path("args.txt");
    let fake = job.path("fake-reckon");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", args.display()),
    )
    .unwrap();
    let status = Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    assert!(status.success());
    let before = today_utc8();
    let (code, stdout, stderr) = job.run(&fake, None, &sample_data());
    let after = today_utc8();
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    let recorded = std::fs::read_to_string(&args).unwrap();
    assert!(
        recorded.contains(&format!("--as-of {before}"))
            || recorded.contains(&format!("--as-of {after}")),
        "{recorded}"
    );
}

/// The first run publishes and says so in the log, with nothing on stdout or stderr; the next
/// day's run audits against it (an audit per day) and stays silent too.
#[test]
fn cron_wrapper_first_run_publishes_then_the_next_audits() {
    let job = Job::new();
    let (code, stdout, stderr) = job.run(reckon(), Some("2024-06-20"), &sample_data());
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    assert!(job.path("out/_manifest.json").is_file());
    assert!(
        job.log().contains("first run: no published output"),
        "{}",
        job.log()
    );

    let (code, stdout, stderr) = job.run(reckon(), Some("2024-06-21"), &sample_data());
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", ""),
        "{}",
        job.log()
    );
    let summary = std::fs::read_to_string(job.audit("2024-06-21", 1)).unwrap();
    assert!(
        summary.contains("PASSED") && summary.contains("as of 2024-06-20, run daily-2024-06-20"),
        "{summary}"
    );
    assert_eq!(job.published_as_of(), "2024-06-21");
    assert!(
        job.log().contains("published run daily-2024-06-21"),
        "{}",
        job.log()
    );
}

/// A price change that restates a closed month fails the audit: nothing is published, and the
/// wrapper exits 1 with a message for cron's mail naming the audit to read and the command that
/// publishes after review. Running the day again audits against the same published output
/// (a second audit beside the first) and is blocked again; with `RECKON_ALLOW_RESTATEMENT=1`
/// the run is published.
#[test]
fn cron_wrapper_mails_a_restated_closed_month_and_does_not_publish_it() {
    let job = Job::new();
    let (code, _, stderr) = job.run(reckon(), Some("2024-06-20"), &sample_data());
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&job.catalog).unwrap();
    let raised = text.replacen("unit_price = \"0.80\"", "unit_price = \"0.90\"", 1);
    assert_ne!(raised, text);
    std::fs::write(&job.catalog, raised).unwrap();
    let (code, stdout, stderr) = job.run(reckon(), Some("2024-06-21"), &sample_data());
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.contains("the audit failed")
            && stderr.contains("audit-1/summary.txt")
            && stderr.contains("--allow-restatement")
            && stderr.contains("RECKON_AS_OF=2024-06-21 RECKON_ALLOW_RESTATEMENT=1"),
        "{stderr}"
    );
    assert!(job.audit("2024-06-21", 1).is_file());
    assert_eq!(job.published_as_of(), "2024-06-20");

    let (code, _, _) = job.run(reckon(), Some("2024-06-21"), &sample_data());
    assert_eq!(code, 1);
    let second = std::fs::read_to_string(job.audit("2024-06-21", 2)).unwrap();
    assert!(
        second.contains("FAILED") && second.contains("run daily-2024-06-20"),
        "{second}"
    );
    assert_eq!(job.published_as_of(), "2024-06-20");

    let approve = [("RECKON_ALLOW_RESTATEMENT", "1")];
    let (code, stdout, stderr) =
        job.run_with(reckon(), Some("2024-06-21"), &sample_data(), &approve);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    assert_eq!(job.published_as_of(), "2024-06-21");
}

/// A failing run exits with reckon's code and puts the error on stderr for cron's mail.
#[test]
fn cron_wrapper_mails_a_failure_with_the_error() {
    let job = Job::new();
    let missing = job.path("no-such-input");
    let (code, stdout, stderr) = job.run(reckon(), Some("2024-06-20"), &missing);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(
        stderr.contains("`reckon run` failed with exit code 2"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-input"), "{stderr}");
    assert!(!job.path("out/_manifest.json").exists());
}

/// With `RECKON_ISSUED`, the wrapper reconciles the issued bill lines with the output it has
/// just published, into `out.reconciliation/<as-of>/`: the six mistakes planted in
/// `sample_data/issued/` are found key by key, the wrapper exits 1 with a message for cron's
/// mail naming the summary, and the publish stands (the output is right; the mismatch is the
/// platform's). Without it, nothing is reconciled.
#[test]
fn cron_wrapper_reconciles_issued_bills_after_publishing() {
    let job = Job::new();
    let (code, _, stderr) = job.run(reckon(), Some("2024-06-30"), &sample_data());
    assert_eq!(code, 0, "{stderr}");
    assert!(!job.path("out.reconciliation").exists());

    let issued = sample_data().join("issued");
    let env = [("RECKON_ISSUED", issued.to_str().unwrap())];
    let (code, stdout, stderr) = job.run_with(reckon(), Some("2024-07-01"), &sample_data(), &env);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert_eq!(job.published_as_of(), "2024-07-01");
    let rec = job.path("out.reconciliation/2024-07-01");
    let summary = rec.join("summary.txt");
    assert!(
        stderr.contains("do not match the published output")
            && stderr.contains(summary.to_str().unwrap()),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&summary).unwrap();
    for line in [
        "keys: 55665 (missing_in_issued 1, missing_in_recomputed 0, quantity_mismatch 2, \
         match 55659, within_tolerance 1, amount_mismatch 2)",
        "causes: unit_price 1, tier 1, package_deduction 1, rounding 1, duplicate_issued 1",
        "totals: issued 2037756.54085963, recomputed 2037752.30755049, delta +4.23330914; \
         overcharged 4.44529994, undercharged 0.21686743",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("_manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["as_of_date"], "2024-07-01");
    assert_eq!(m["keys_mismatched"], 5);
    assert!(rec.join("reconciliation_summary").is_dir());
    let log = job.log();
    assert!(
        log.contains("published run daily-2024-07-01")
            && log.contains("RECONCILIATION MISMATCHES (published all the same)"),
        "{log}"
    );
    // The published output is the run's, untouched by the reconciliation beside it.
    assert!(!job.path("out/reconciliation").exists());
}

/// An output given with a trailing slash (`RECKON_OUTPUT=/data/out/`) keeps the reconciliation
/// beside the output, as without it: inside, the next publish would swap it away.
#[test]
fn cron_wrapper_output_with_a_trailing_slash_reconciles_beside_it() {
    let job = Job::new();
    let issued = sample_data().join("issued");
    let out = format!("{}/", job.path("out").display());
    let env = [
        ("RECKON_ISSUED", issued.to_str().unwrap()),
        ("RECKON_OUTPUT", out.as_str()),
    ];
    let (code, _, stderr) = job.run_with(reckon(), Some("2024-07-01"), &sample_data(), &env);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(job.published_as_of(), "2024-07-01");
    assert!(job
        .path("out.reconciliation/2024-07-01/summary.txt")
        .is_file());
    assert!(!job.path("out/.reconciliation").exists());
}

/// An object storage URL as `RECKON_OUTPUT`: the wrapper keeps its log, staged runs and
/// reconciliation beside a local output, so it refuses the URL (exit 2) before any work rather
/// than write a local directory named `s3:`.
#[test]
fn cron_wrapper_refuses_an_object_storage_output_before_any_work() {
    let job = Job::new();
    let env = [("RECKON_OUTPUT", "s3://billing/out")];
    let cwd = std::env::current_dir().unwrap();
    let (code, _, stderr) = job.run_with(reckon(), Some("2024-07-01"), &sample_data(), &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs a local output"), "{stderr}");
    assert!(!cwd.join("s3:").exists());
    assert!(!job.path("log/reckon.log").exists(), "it did work");
}
