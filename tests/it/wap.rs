//! Write-audit-publish with the binary, as a scheduler runs it: `run --stage ID`, `audit`,
//! `publish`. A run is staged beside the published output and published only after an audit
//! against the output published before the run; reruns of any step (a retry, a person clearing
//! the run) compare against that output, never against the run itself, and never rewrite an
//! earlier audit.

use crate::common::catalog_path;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An output with its side directory and a catalog of its own (to plant a restatement).
struct Wap {
    root: tempfile::TempDir,
}

impl Wap {
    fn new() -> Wap {
        let root = tempfile::tempdir().unwrap();
        std::fs::copy(catalog_path(), root.path().join("catalog.toml")).unwrap();
        Wap { root }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn out(&self) -> PathBuf {
        self.path("out")
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.path(".out.reckon/runs").join(id)
    }

    /// `reckon <args>` with `--output out`; (exit code, stdout, stderr).
    fn reckon(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
            .args(args)
            .arg("--output")
            .arg(self.out())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    fn stage(&self, id: &str, as_of: &str) {
        let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
        let catalog = self.path("catalog.toml");
        let (code, _, err) = self.reckon(&[
            "--quiet",
            "run",
            "--as-of",
            as_of,
            "--input",
            input.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
            "--stage",
            id,
        ]);
        assert_eq!(code, 0, "{err}");
    }

    fn audit(&self, id: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec!["--quiet", "audit", "--run-id", id];
        args.extend(extra);
        self.reckon(&args)
    }

    fn publish(&self, id: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec!["--quiet", "publish", "--run-id", id];
        args.extend(extra);
        self.reckon(&args)
    }

    /// The run id in a manifest (`None`: no output there).
    fn run_id_of(&self, dir: &Path) -> Option<String> {
        let text = std::fs::read_to_string(dir.join("_manifest.json")).ok()?;
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        Some(m["run_id"].as_str().unwrap_or("-").to_string())
    }

    fn published(&self) -> Option<String> {
        self.run_id_of(&self.out())
    }

    fn previous(&self) -> Option<String> {
        self.run_id_of(&self.path(".out.reckon/previous"))
    }

    fn audit_json(&self, id: &str, n: u32) -> serde_json::Value {
        let path = self.run_dir(id).join(format!("audit-{n}/audit.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Raises a price of closed months: the next run restates them.
    fn plant_restatement(&self) {
        let path = self.path("catalog.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let raised = text.replacen("unit_price = \"0.80\"", "unit_price = \"0.90\"", 1);
        assert_ne!(raised, text);
        std::fs::write(&path, raised).unwrap();
    }

    /// Stages, audits and publishes a run that passes.
    fn publish_passing(&self, id: &str, as_of: &str) {
        self.stage(id, as_of);
        let (code, stdout, stderr) = self.audit(id, &[]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let (code, _, stderr) = self.publish(id, &[]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(self.published().as_deref(), Some(id));
    }
}

/// The first run: staging leaves no output, the audit has nothing to compare with and passes,
/// the publish makes it the output; publishing again (a retry) does nothing and succeeds.
#[test]
fn wap_first_run_stages_audits_then_publishes() {
    let w = Wap::new();
    w.stage("d-2024-06-20", "2024-06-20");
    assert!(!w.out().exists());
    assert!(w
        .run_dir("d-2024-06-20")
        .join("output/_manifest.json")
        .is_file());

    let (code, stdout, _) = w.publish("d-2024-06-20", &[]);
    assert_eq!(code, 2, "{stdout}");
    assert!(!w.out().exists(), "a run is not published before its audit");

    let (code, stdout, stderr) = w.audit("d-2024-06-20", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("PASSED") && stdout.contains("first run"),
        "{stdout}"
    );
    let record = w.audit_json("d-2024-06-20", 1);
    assert_eq!(record["passed"], true);
    assert!(record["base"].is_null());

    let (code, _, stderr) = w.publish("d-2024-06-20", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(w.published().as_deref(), Some("d-2024-06-20"));
    let (code, _, stderr) = w.publish("d-2024-06-20", &[]);
    assert_eq!(code, 0, "{stderr}");
}

/// A restated closed month fails the audit (exit 1) and the publish (exit 2); rerunning the
/// run and the audit — clearing every task of a failed run — compares against the same
/// published output, fails again, and writes a second audit beside the first, which stays as it
/// was. Only a person's approval publishes it, and the replaced output is kept as `previous/`.
#[test]
fn wap_restatement_blocks_the_publish_until_approved_however_often_rerun() {
    let w = Wap::new();
    w.publish_passing("d-2024-06-20", "2024-06-20");
    w.plant_restatement();
    w.stage("d-2024-06-21", "2024-06-21");
    let (code, stdout, _) = w.audit("d-2024-06-21", &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("failed restatement"),
        "{stdout}"
    );
    let first = std::fs::read(w.run_dir("d-2024-06-21").join("audit-1/summary.txt")).unwrap();
    let (code, _, stderr) = w.publish("d-2024-06-21", &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("audit failed") && stderr.contains("--allow-restatement"),
        "{stderr}"
    );
    assert_eq!(w.published().as_deref(), Some("d-2024-06-20"));

    // Cleared and rerun: the same base, the same verdict, a new audit directory.
    w.stage("d-2024-06-21", "2024-06-21");
    let (code, stdout, _) = w.audit("d-2024-06-21", &[]);
    assert_eq!(code, 1, "{stdout}");
    let second = w.audit_json("d-2024-06-21", 2);
    assert_eq!(second["base"]["run_id"], "d-2024-06-20");
    assert!(second["restated"].as_u64().unwrap() > 0);
    let again = std::fs::read(w.run_dir("d-2024-06-21").join("audit-1/summary.txt")).unwrap();
    assert_eq!(first, again, "an earlier audit is never rewritten");
    let (code, _, _) = w.publish("d-2024-06-21", &[]);
    assert_eq!(code, 2);

    let (code, _, stderr) = w.publish("d-2024-06-21", &["--allow-restatement"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(w.published().as_deref(), Some("d-2024-06-21"));
    assert_eq!(w.previous().as_deref(), Some("d-2024-06-20"));
}

/// A run rerun after it published audits against the output published before it (kept in
/// `previous/`), not against its own publish, and its republish keeps that output as
/// `previous/`: the restatement the rerun brings is still caught.
#[test]
fn wap_rerun_after_publish_audits_against_the_output_before_the_run() {
    let w = Wap::new();
    w.publish_passing("d-2024-06-20", "2024-06-20");
    w.publish_passing("d-2024-06-21", "2024-06-21");
    assert_eq!(w.previous().as_deref(), Some("d-2024-06-20"));

    w.plant_restatement();
    w.stage("d-2024-06-21", "2024-06-21");
    let (code, stdout, _) = w.audit("d-2024-06-21", &[]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        w.audit_json("d-2024-06-21", 2)["base"]["run_id"],
        "d-2024-06-20"
    );
    let (code, _, stderr) = w.publish("d-2024-06-21", &["--allow-restatement"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(w.published().as_deref(), Some("d-2024-06-21"));
    assert_eq!(w.previous().as_deref(), Some("d-2024-06-20"));

    // Rerun once more: still compared with the run before, still a restatement.
    w.stage("d-2024-06-21", "2024-06-21");
    let (code, _, _) = w.audit("d-2024-06-21", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        w.audit_json("d-2024-06-21", 3)["base"]["run_id"],
        "d-2024-06-20"
    );
}

/// An audit covers one staged output and one base: restaging after it, or another run
/// publishing in between, makes the publish ask for a new audit.
#[test]
fn wap_publish_refuses_an_audit_of_another_staged_output_or_base() {
    let w = Wap::new();
    w.stage("a", "2024-06-20");
    assert_eq!(w.audit("a", &[]).0, 0);
    w.stage("a", "2024-06-20");
    let (code, _, stderr) = w.publish("a", &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("staged output changed after its audit"),
        "{stderr}"
    );
    assert_eq!(w.audit("a", &[]).0, 0);

    w.publish_passing("b", "2024-06-20");
    let (code, _, stderr) = w.publish("a", &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("published output changed after its audit"),
        "{stderr}"
    );
    assert_eq!(w.published().as_deref(), Some("b"));
}

/// The exception thresholds fail the audit, and no restatement approval overrides them; the
/// staged manifest's usage accounting is checked.
#[test]
fn wap_exception_thresholds_fail_the_audit_and_are_not_approvable() {
    let w = Wap::new();
    w.stage("t", "2024-06-20");
    let (code, stdout, _) = w.audit("t", &["--max-exceptions", "0", "--max-invalid-usage", "0"]);
    assert_eq!(code, 1, "{stdout}");
    let record = w.audit_json("t", 1);
    let checks: Vec<&str> = record["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["exceptions", "invalid_usage"], "{record}");
    let (code, _, stderr) = w.publish("t", &["--allow-restatement"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!w.out().exists());

    let (code, _, stderr) = w.audit("t", &["--max-invalid-usage", "1.5"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, stdout, _) = w.audit("t", &["--max-exceptions", "1000000"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(w.publish("t", &[]).0, 0);
}

/// A run id that is not one safe path component is refused before any work.
#[test]
fn wap_run_ids_that_are_not_one_path_component_are_refused() {
    let w = Wap::new();
    let (code, _, stderr) = w.audit("../x", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("run id `../x`"), "{stderr}");
}
