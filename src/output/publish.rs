//! Atomic, idempotent publication of an output directory.
//!
//! A run never writes into the output directory `<out>` itself. It writes a complete new tree
//! into a staging directory beside it and then swaps the two in one step, so a reader — or a run
//! killed at any instant, even by `kill -9` — sees either the previous complete output or the new
//! complete one, never a half-written table or a mix of two runs' files.
//!
//! Layout (everything on the file system of `<out>`, so renames are atomic):
//! ```text
//! <parent>/<name>/                      the published output: tables + _manifest.json
//! <parent>/.<name>.reckon/lock          advisory lock: one run (or merge) per output at a time
//! <parent>/.<name>.reckon/staging-<as-of>-<pid>/   the tree being written by a live run
//! <parent>/.<name>.reckon/previous/     the output that the last publish replaced
//! <parent>/.<name>.reckon/runs/<run-id>/ a staged run and its audits (`stage`)
//! ```
//!
//! Decisions:
//! - **Swap, not symlink.** `<out>` stays a real directory (paths such as
//!   `out/bills/month=2024-05/…` keep working for every reader and tool). On Linux the publish is
//!   `renameat2(staging, out, RENAME_EXCHANGE)`: both names always exist and each points to a
//!   complete tree; the swap is one atomic step. Where exchange is unsupported (another OS, or a
//!   file system without it) the fallback is two renames (`out → previous`, `staging → out`):
//!   a crash between them leaves `<out>` absent (never partial) and the next run puts `previous`
//!   back before it starts.
//! - **The previous output is kept** in `previous/` until the next publish, so an open reader
//!   is not pulled out from under, and `reckon diff <parent>/.<name>.reckon/previous <out>`
//!   audits what the last run changed (the Airflow DAG in `jobs/` does this).
//! - **Lock.** `lock` is held with an OS advisory lock (`File::try_lock`, flock on Unix) for the
//!   whole run: a second run on the same output is refused at once with a message naming the
//!   lock; the kernel drops the lock when the process dies, so a `kill -9` never leaves a stale
//!   lock behind.
//! - **Cleanup.** Staging directories of killed runs are removed by the next run, after it holds
//!   the lock (so no live run's staging is ever removed).
//! - **Durability.** Before the swap every staged file and directory is fsynced; after it the
//!   parent directory is, so a power loss right after a run also leaves a complete output.
//! - **Idempotence.** The staging tree starts empty, so a rerun for the same as-of date produces
//!   the same files (byte-identical tables) and nothing from an older run survives in `<out>`.
//! - A non-empty `<out>` that is not a reckon output (no `_manifest.json`) is never replaced.
//! - **Symlinks.** `<out>` is resolved first ([`resolve`]): one directory, one lock, whatever
//!   name it is given; the swap replaces the directory a symlink points to, not the symlink.
//! - **Nesting.** [`check_output`] refuses, before a run does any work, an output that is a
//!   file, lies below a file or in a directory it may not write, is the input, lies in an
//!   input table directory, or holds the input.

use crate::error::{Error, Result};
use chrono::NaiveDate;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// The side directory of an output: `<parent>/.<name>.reckon`.
pub fn side_dir(out: &Path) -> Result<PathBuf> {
    let name = out.file_name().ok_or_else(|| {
        Error::Argument(format!(
            "--output {} must name a directory (not `.`, `..` or `/`)",
            out.display()
        ))
    })?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    let side = format!(".{}.reckon", name.to_string_lossy());
    Ok(parent.unwrap_or(Path::new(".")).join(side))
}

/// The output path as the file system sees it: through symlinks. When `out` is a symlink (or
/// lies below one), the lock, the staging tree and the swap all belong to the directory it
/// points to, so two runs given two names of one directory take one lock, and the publish
/// replaces the directory, never the symlink. A path that does not exist yet resolves through
/// its nearest existing ancestor.
pub fn resolve(out: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(out).map_err(|e| Error::io(out, e))?;
    let mut rest = Vec::new();
    let mut base = abs.as_path();
    loop {
        match fs::canonicalize(base) {
            Ok(real) => return Ok(rest.iter().rev().fold(real, |p, n| p.join(n))),
            // A symlink whose target is missing resolves to that target.
            Err(_) if fs::symlink_metadata(base).is_ok_and(|m| m.is_symlink()) => {
                let target = fs::read_link(base).map_err(|e| Error::io(base, e))?;
                let parent = base.parent().unwrap_or(Path::new("/"));
                let joined = resolve(&parent.join(target))?;
                return Ok(rest.iter().rev().fold(joined, |p, n| p.join(n)));
            }
            Err(e) => match (base.parent(), base.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    base = parent;
                }
                _ => return Err(Error::io(base, e)),
            },
        }
    }
}

/// Refuses, before any work, an output that cannot be published or that would destroy input:
/// an `--output` that exists and is not a directory, or whose parent is a file or not
/// writable; an output equal to the input, inside one
/// of its table directories (the next run would read the output as input), or holding the
/// input (the publish would move the input into `previous/`, and the next publish delete it).
/// `input` and `out` are compared as resolved paths ([`resolve`]).
pub fn check_output(input: &Path, out: &Path, tables: &[&str]) -> Result<()> {
    side_dir(out)?;
    let out_real = resolve(out)?;
    if out_real.exists() && !out_real.is_dir() {
        return Err(Error::Argument(format!(
            "--output {} exists and is not a directory",
            out.display()
        )));
    }
    check_writable(out, &out_real)?;
    let input_real = resolve(input)?;
    let refuse = |why: &str| {
        Err(Error::Argument(format!(
            "--output {} {why} --input {}: choose an output outside the input",
            out.display(),
            input.display()
        )))
    };
    if out_real == input_real {
        return refuse("is the same directory as");
    }
    if input_real.starts_with(&out_real) || input_real.starts_with(side_dir(&out_real)?) {
        return refuse("holds (and a publish would remove)");
    }
    if let Some(t) = tables
        .iter()
        .find(|t| out_real.starts_with(input_real.join(t)))
    {
        return refuse(&format!("lies in the table directory `{t}/` of"));
    }
    Ok(())
}

/// Refuses an output whose directory cannot be created or written: the nearest existing
/// ancestor of its side directory (where the lock, the staging tree and the spill go) must be a
/// directory this process may write (`access(W_OK)`: a read-only file system or missing
/// permission), not a regular file.
fn check_writable(out: &Path, out_real: &Path) -> Result<()> {
    let side = side_dir(out_real)?;
    let Some(existing) = side.ancestors().skip(1).find(|p| p.exists()) else {
        return Ok(());
    };
    let refuse = |why: String| {
        Err(Error::Argument(format!(
            "--output {}: {} {why}",
            out.display(),
            existing.display()
        )))
    };
    if !existing.is_dir() {
        return refuse("is not a directory".into());
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::fs::access(existing, rustix::fs::Access::WRITE_OK) {
        // A read-only file system is the machine's fault (exit 1, worth a retry once
        // remounted), not a wrong argument.
        if e == rustix::io::Errno::ROFS {
            let source = std::io::Error::from_raw_os_error(e.raw_os_error());
            return Err(Error::io(existing, source));
        }
        return refuse(format!("is not writable ({e})"));
    }
    Ok(())
}

/// Where the output replaced by the last publish is kept.
pub fn previous_dir(out: &Path) -> Result<PathBuf> {
    Ok(side_dir(out)?.join("previous"))
}

/// The output's advisory lock (`<side>/lock`), held for as long as the value lives. Taking it
/// puts back an output lost between the fallback publish's two renames and removes what killed
/// runs left (their staging trees and usage spills).
#[derive(Debug)]
pub struct Lock {
    /// The output, resolved ([`resolve`]).
    pub out: PathBuf,
    /// Its side directory ([`side_dir`]).
    pub side: PathBuf,
    _file: File,
}

/// Takes the output's lock, refusing at once ([`Error::Busy`]) while another process holds it.
pub fn lock(out: &Path) -> Result<Lock> {
    side_dir(out)?; // `.`, `..` and `/` are refused as given, before they resolve to a name
    let out = resolve(out)?;
    let side = side_dir(&out)?;
    fs::create_dir_all(&side).map_err(|e| Error::io(&side, e))?;
    let lock_path = side.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(Error::Busy {
                path: out,
                lock: lock_path,
            })
        }
        Err(fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
    }
    recover(&out, &side)?;
    Ok(Lock {
        out,
        side,
        _file: file,
    })
}

/// Where [`Publish::commit`] puts the staged tree.
#[derive(Debug)]
enum Target {
    /// The published output `<out>`; the output it replaces goes to `previous/`.
    Output,
    /// A run's staged output (`stage::staged_dir`), replacing an earlier stage of the same run;
    /// `<out>` is not touched.
    Stage(PathBuf),
}

/// An exclusive hold on an output directory and the staging tree a run writes into.
/// Dropping it without [`Publish::commit`] leaves `<out>` untouched (the staging tree is
/// removed by the next run).
#[derive(Debug)]
pub struct Publish {
    staging: PathBuf,
    target: Target,
    lock: Lock,
}

impl Publish {
    /// Takes the output's lock (refusing if another run holds it), clears what killed runs left,
    /// and creates an empty staging directory. `as_of` only names the staging directory.
    pub fn begin(out: &Path, as_of: Option<NaiveDate>) -> Result<Publish> {
        Publish::begin_to(out, as_of, None)
    }

    /// As [`Publish::begin`], but the commit stages the tree as run `run`'s output
    /// (`stage::staged_dir`) instead of publishing it: `reckon run --stage`.
    pub fn begin_stage(
        out: &Path,
        as_of: Option<NaiveDate>,
        run: &super::stage::RunId,
    ) -> Result<Publish> {
        Publish::begin_to(out, as_of, Some(run))
    }

    fn begin_to(
        out: &Path,
        as_of: Option<NaiveDate>,
        run: Option<&super::stage::RunId>,
    ) -> Result<Publish> {
        let lock = lock(out)?;
        let tag = as_of.map_or_else(|| "auto".to_string(), |d| d.to_string());
        let staging = lock
            .side
            .join(format!("staging-{tag}-{}", std::process::id()));
        fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        tracing::debug!(staging = %staging.display(), "staging directory created");
        let target = match run {
            Some(id) => Target::Stage(super::stage::staged_dir(&lock.side, id)),
            None => Target::Output,
        };
        Ok(Publish {
            staging,
            target,
            lock,
        })
    }

    /// The directory to write the new output into.
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// The output's side directory (`<parent>/.<name>.reckon`), on the output's file system:
    /// where a run keeps its usage spill, so that the next run (under the lock) removes the
    /// spill of a run that was killed.
    pub fn side(&self) -> &Path {
        &self.lock.side
    }

    /// Makes the staged tree the output in one atomic step; the replaced output goes to
    /// `previous/`. For a staged run, makes it the run's staged output instead. The lock is
    /// released when this returns.
    pub fn commit(self) -> Result<()> {
        sync_tree(&self.staging)?;
        match &self.target {
            Target::Output => {
                swap_in(&self.staging, &self.lock.out, &self.lock.side, true)?;
                tracing::info!(output = %self.lock.out.display(), "published");
            }
            Target::Stage(dest) => {
                replace_dir(&self.staging, dest)?;
                tracing::info!(staged = %dest.display(), "staged");
            }
        }
        Ok(())
    }
}

/// Puts the complete tree `staged` at `out` in one atomic step. The output it replaces goes to
/// `previous/` when `keep_replaced`, and is removed otherwise (a republish of the same run
/// keeps the output from before that run in `previous/`).
pub(crate) fn swap_in(staged: &Path, out: &Path, side: &Path, keep_replaced: bool) -> Result<()> {
    let previous = side.join("previous");
    let out_exists = fs::symlink_metadata(out).is_ok();
    if out_exists {
        check_replaceable(out)?;
    }
    if !out_exists {
        fs::rename(staged, out).map_err(|e| Error::io(out, e))?;
    } else if exchange(staged, out)? {
        // The old output now sits at the staged path.
        if keep_replaced {
            remove_dir_if_exists(&previous)?;
            fs::rename(staged, &previous).map_err(|e| Error::io(&previous, e))?;
        } else {
            remove_dir_if_exists(staged)?;
        }
    } else {
        let aside = if keep_replaced {
            previous
        } else {
            side.join(format!("staging-replaced-{}", std::process::id()))
        };
        remove_dir_if_exists(&aside)?;
        fs::rename(out, &aside).map_err(|e| Error::io(out, e))?;
        fs::rename(staged, out).map_err(|e| Error::io(out, e))?;
        if !keep_replaced {
            remove_dir_if_exists(&aside)?;
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Puts the complete tree `from` at `dest`, replacing what is there in one step where the file
/// system can exchange directories.
fn replace_dir(from: &Path, dest: &Path) -> Result<()> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    if fs::symlink_metadata(dest).is_err() {
        fs::rename(from, dest).map_err(|e| Error::io(dest, e))?;
    } else if exchange(from, dest)? {
        remove_dir_if_exists(from)?;
    } else {
        remove_dir_if_exists(dest)?;
        fs::rename(from, dest).map_err(|e| Error::io(dest, e))?;
    }
    sync_dir(parent)
}

/// Puts back an output lost between the two renames of the fallback publish, and removes the
/// staging trees and usage spills of killed runs. Called with the lock held.
fn recover(out: &Path, side: &Path) -> Result<()> {
    let previous = side.join("previous");
    if fs::symlink_metadata(out).is_err() && previous.is_dir() {
        tracing::warn!(output = %out.display(), "restoring the previous output (an earlier publish was interrupted)");
        fs::rename(&previous, out).map_err(|e| Error::io(out, e))?;
    }
    for entry in fs::read_dir(side).map_err(|e| Error::io(side, e))? {
        let entry = entry.map_err(|e| Error::io(side, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        // Staging trees, and usage spills (`input::chunks`), of runs that were killed.
        if name.starts_with("staging-") || name.starts_with(".reckon-spill-") {
            let p = entry.path();
            tracing::info!(path = %p.display(), "removing the staging directory of an interrupted run");
            fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// `<out>` may be replaced when it is an empty directory or a reckon output.
fn check_replaceable(out: &Path) -> Result<()> {
    if !out.is_dir() {
        return Err(Error::Argument(format!(
            "--output {} exists and is not a directory",
            out.display()
        )));
    }
    let empty = fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .next()
        .is_none();
    if empty || out.join("_manifest.json").is_file() {
        return Ok(());
    }
    Err(Error::NotAnOutput {
        path: out.to_path_buf(),
        message: "it holds files but no _manifest.json: refusing to replace it".into(),
    })
}

fn remove_dir_if_exists(p: &Path) -> Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(p, e)),
    }
}

/// Atomically exchanges two directories; `false` when the platform or file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
        Err(e) => Err(Error::io(b, e.into())),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> Result<bool> {
    Ok(false)
}

/// fsyncs every file and directory below `root` (and `root`).
pub(crate) fn sync_tree(root: &Path) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = entry.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                File::open(&p)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&p, e))?;
            }
        }
        sync_dir(&dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be fsynced on Unix; elsewhere this is best effort.
    match File::open(dir).and_then(|f| f.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if cfg!(unix) => Err(Error::io(dir, e)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn side_dir_is_a_hidden_sibling() {
        assert_eq!(
            side_dir(Path::new("/data/out")).unwrap(),
            Path::new("/data/.out.reckon")
        );
        assert_eq!(
            side_dir(Path::new("out")).unwrap(),
            Path::new("./.out.reckon")
        );
        assert!(side_dir(Path::new("/")).is_err());
    }

    #[test]
    fn commit_swaps_and_keeps_the_previous_output() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let p = Publish::begin(&out, None).unwrap();
        write(p.dir(), "_manifest.json", "one");
        p.commit().unwrap();
        assert_eq!(
            fs::read_to_string(out.join("_manifest.json")).unwrap(),
            "one"
        );

        let p = Publish::begin(&out, NaiveDate::from_ymd_opt(2024, 6, 1)).unwrap();
        assert!(p
            .dir()
            .ends_with(format!("staging-2024-06-01-{}", std::process::id())));
        write(p.dir(), "_manifest.json", "two");
        // Until the commit the published output is untouched.
        assert_eq!(
            fs::read_to_string(out.join("_manifest.json")).unwrap(),
            "one"
        );
        p.commit().unwrap();
        assert_eq!(
            fs::read_to_string(out.join("_manifest.json")).unwrap(),
            "two"
        );
        let prev = previous_dir(&out).unwrap();
        assert_eq!(
            fs::read_to_string(prev.join("_manifest.json")).unwrap(),
            "one"
        );
    }

    #[test]
    fn a_second_run_on_the_same_output_is_refused_while_the_first_holds_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let first = Publish::begin(&out, None).unwrap();
        let err = Publish::begin(&out, None).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        assert!(err.to_string().contains("another reckon run"), "{err}");
        drop(first);
        // Released with the holder.
        Publish::begin(&out, None).unwrap();
    }

    #[test]
    fn abandoned_staging_is_removed_and_never_published() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let p = Publish::begin(&out, None).unwrap();
        write(p.dir(), "half", "x");
        let staged = p.dir().to_path_buf();
        drop(p); // as if killed before the commit
        assert!(!out.exists());
        let p = Publish::begin(&out, None).unwrap();
        assert!(staged != p.dir() || fs::read_dir(p.dir()).unwrap().next().is_none());
        assert!(fs::read_dir(p.dir()).unwrap().next().is_none());
    }

    #[test]
    fn an_output_lost_between_fallback_renames_is_restored() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let prev = previous_dir(&out).unwrap();
        fs::create_dir_all(&prev).unwrap();
        write(&prev, "_manifest.json", "old");
        let _p = Publish::begin(&out, None).unwrap();
        assert_eq!(
            fs::read_to_string(out.join("_manifest.json")).unwrap(),
            "old"
        );
    }

    #[test]
    fn a_directory_that_is_not_an_output_is_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("home");
        fs::create_dir_all(&out).unwrap();
        write(&out, "notes.txt", "mine");
        let p = Publish::begin(&out, None).unwrap();
        write(p.dir(), "_manifest.json", "new");
        assert!(p.commit().is_err());
        assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    }

    #[test]
    fn a_symlinked_output_takes_the_real_lock_and_stays_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        let link = tmp.path().join("link");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(resolve(&link).unwrap(), fs::canonicalize(&real).unwrap());
        // A tail that does not exist yet resolves through its existing ancestor.
        assert_eq!(
            resolve(&link.join("a/b")).unwrap(),
            fs::canonicalize(&real).unwrap().join("a/b")
        );
        let p = Publish::begin(&link, None).unwrap();
        let err = Publish::begin(&real, None).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        write(p.dir(), "_manifest.json", "one");
        p.commit().unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            fs::read_to_string(real.join("_manifest.json")).unwrap(),
            "one"
        );
    }

    /// Write permission is the kernel's word (`access`): root may write a directory of mode
    /// 0555, so the refusal is checked for other users only.
    #[test]
    fn an_output_in_a_directory_it_may_not_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        let locked = tmp.path().join("locked");
        fs::create_dir_all(&input).unwrap();
        fs::create_dir_all(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
        let writable = rustix::fs::access(&locked, rustix::fs::Access::WRITE_OK).is_ok();
        let got = check_output(&input, &locked.join("out"), &[]);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        match writable {
            true => got.unwrap(),
            false => assert!(got.unwrap_err().to_string().contains("not writable")),
        }
    }

    #[test]
    fn outputs_that_are_files_or_nested_with_the_input_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        fs::create_dir_all(input.join("usage")).unwrap();
        let tables = ["usage", "packages"];
        let refused = |out: &Path| {
            let err = check_output(&input, out, &tables).unwrap_err();
            assert!(matches!(err, Error::Argument(_)), "{err}");
            err.to_string()
        };
        assert!(refused(&input).contains("same directory"));
        assert!(refused(&input.join("usage/out")).contains("table directory `usage/`"));
        assert!(refused(&input.join("packages")).contains("table directory `packages/`"));
        assert!(refused(tmp.path()).contains("holds"));
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(refused(&file).contains("not a directory"));
        // Below a file, the output's directory could never be created.
        assert!(refused(&file.join("out")).contains("is not a directory"));
        assert!(refused(&file.join("a/b/out")).contains("is not a directory"));
        check_output(&input, &tmp.path().join("out"), &tables).unwrap();
        // Beside the tables, an output does not mix with them.
        check_output(&input, &input.join("out"), &tables).unwrap();
    }
}
