//! Fault injection (issue 37): a full disk and a read-only file system under the output. Each
//! run fails with exit code 1 (the machine's fault, worth a retry once fixed) and leaves the
//! previously published output exactly as it was.
//!
//! The faults are real file systems: a small tmpfs mounted for the test (and remounted
//! read-only), unmounted when the test ends, whatever its outcome ([`Tmpfs`]'s drop). Mounting
//! needs root; where it is refused the test fails with the reason, or, with
//! `RECKON_FAULTS=skip`, prints a loud SKIP and passes. An I/O error of the device (EIO) is not
//! simulated: it needs device-mapper's `error` target or a FUSE file system, neither of which
//! the test machines have; its exit code is a unit test of `error.rs`.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a temporary directory; unmounted (then the directory removed) on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `size` (`mount -o size=`), or why it cannot be mounted here.
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let opts = format!("size={size}");
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &opts,
            "tmpfs",
            dir.path().to_str().unwrap(),
        ])?;
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, opts: &str) {
        let opts = format!("remount,{opts}");
        mount(&["-o", &opts, self.path().to_str().unwrap()]).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.dir.path();
        let ok = Command::new("umount").arg(path).status();
        if !ok.is_ok_and(|s| s.success()) {
            // Busy (a child still holds a file): detached now, freed when the last one closes.
            let _ = Command::new("umount").arg("-l").arg(path).status();
        }
    }
}

fn mount(args: &[&str]) -> Result<(), String> {
    let out = Command::new("mount")
        .args(args)
        .output()
        .map_err(|e| format!("mount: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "mount {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// A mounted tmpfs, or `None` after a loud SKIP when mounting is refused and
/// `RECKON_FAULTS=skip` allows it (otherwise the test fails with the reason).
fn tmpfs_or_skip(test: &str, size: &str) -> Option<Tmpfs> {
    match Tmpfs::mount(size) {
        Ok(t) => Some(t),
        Err(why) if std::env::var("RECKON_FAULTS").as_deref() == Ok("skip") => {
            eprintln!("SKIP {test}: cannot mount a tmpfs ({why}); RECKON_FAULTS=skip");
            None
        }
        Err(why) => {
            panic!("{test} mounts a tmpfs, which needs root: {why} (RECKON_FAULTS=skip skips it)")
        }
    }
}

/// `reckon run` of `input` as of `as_of` into `out`.
fn run(input: &Path, out: &Path, as_of: &str) -> (i32, String) {
    let catalog = catalog_path();
    run_binary(&[
        "-q",
        "run",
        "--as-of",
        as_of,
        "--input",
        input.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ])
}

/// An output as published: its manifest's text and every table file's bytes.
fn published(out: &Path) -> (String, std::collections::BTreeMap<String, Vec<u8>>) {
    let manifest = std::fs::read_to_string(out.join("_manifest.json")).unwrap();
    (manifest, tables(out))
}

/// A valid dataset, and a first run published into `<fs>/out`: what a failed run must leave.
fn first_run(fs: &Tmpfs) -> (tempfile::TempDir, PathBuf) {
    let input = tempfile::tempdir().unwrap();
    Dataset::valid().write(input.path());
    let out = fs.path().join("out");
    let (code, err) = run(input.path(), &out, "2024-06-01");
    assert_eq!(code, 0, "{err}");
    (input, out)
}

/// Fills the file system of `dir` up: a file written until the disk is full.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0x5a; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    // What a partial block left in the page cache is written (or refused) now.
    let _ = f.sync_all();
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_output() {
    let Some(fs) = tmpfs_or_skip("faults::a_full_disk", "4m") else {
        return;
    };
    let (input, out) = first_run(&fs);
    let before = published(&out);
    fill(fs.path());
    let (code, err) = run(input.path(), &out, "2024-06-02");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(published(&out) == before, "the previous output changed");
}

#[test]
fn a_read_only_output_fails_the_run_and_keeps_the_previous_output() {
    let Some(fs) = tmpfs_or_skip("faults::a_read_only_output", "4m") else {
        return;
    };
    let (input, out) = first_run(&fs);
    let before = published(&out);
    fs.remount("ro");
    let (code, err) = run(input.path(), &out, "2024-06-02");
    fs.remount("rw");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(published(&out) == before, "the previous output changed");
}
