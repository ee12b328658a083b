//! Streaming transfers of one object between a local file and an object store, in memory
//! bounded by a few parts whatever the file's size.
//!
//! Invariants:
//! - A download holds one chunk of the response body at a time (as the HTTP client yields it,
//!   plus a write buffer of [`WRITE_BUFFER`]): each chunk is written to the file before the next
//!   is read. A body of another length than the object's is an error, never a short file taken
//!   for the whole object.
//! - A file smaller than the multipart threshold ([`THRESHOLD_ENV`], bytes, default
//!   [`DEFAULT_THRESHOLD`]) is uploaded by one put, so it is in memory once, below the
//!   threshold. A file at or above it is uploaded in parts of [`part_size`] bytes, with at most
//!   [`PARTS_IN_FLIGHT`] parts being sent while the next is read (the read runs on tokio's
//!   blocking pool, so the parts in flight progress meanwhile): memory stays under
//!   `(PARTS_IN_FLIGHT + 1) × part size`.
//! - An upload sends exactly the length the file had when it started: a file that is shorter
//!   or longer by then (changed during the upload) fails, and a multipart upload is aborted
//!   before its completion, so no object of other bytes than the manifest hashed is published.
//! - A multipart upload that fails (a part, a read of the file, the completion) is aborted, so
//!   the store keeps no orphaned parts; the object becomes visible only on completion, whole.
//!   A process killed midway cannot abort: a bucket rule expiring incomplete multipart uploads
//!   removes those parts.

use crate::error::{Error, Result};
use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};
use std::io::{Read, Write};
use std::path::Path;
use tokio::task::{JoinError, JoinSet};

/// The environment variable that sets the multipart threshold, in bytes.
pub const THRESHOLD_ENV: &str = "RECKON_MULTIPART_THRESHOLD";

/// Files of this size and more are uploaded in parts.
pub const DEFAULT_THRESHOLD: u64 = 64 << 20;

/// The smallest part: above the 5 MiB S3 and GCS require of every part but the last, and
/// large enough that a request's overhead is small beside its body.
const MIN_PART: u64 = 8 << 20;

/// S3's and GCS's largest number of parts of one upload (Azure takes 50,000 blocks).
const MAX_PARTS: u64 = 10_000;

/// Parts sent at once: enough to keep the connection busy while the next part is read.
pub const PARTS_IN_FLIGHT: usize = 4;

/// The buffer between the response body and the file of a download.
const WRITE_BUFFER: usize = 1 << 20;

/// The multipart threshold the environment sets ([`THRESHOLD_ENV`]), else the default.
/// A value that is not a whole number of bytes is a usage error, reported when a URL is opened
/// (`Remote::open`), before the command does any work.
pub fn threshold() -> Result<u64> {
    threshold_of(std::env::var(THRESHOLD_ENV))
}

fn threshold_of(var: std::result::Result<String, std::env::VarError>) -> Result<u64> {
    match var {
        // Empty is how shell configurations often unset a variable.
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_THRESHOLD),
        Ok(text) if text.trim().is_empty() => Ok(DEFAULT_THRESHOLD),
        Ok(text) => text.trim().parse::<u64>().map_err(|_| {
            Error::Argument(format!(
                "{THRESHOLD_ENV}={text}: not a whole number of bytes (64 MiB is 67108864)"
            ))
        }),
        Err(e) => Err(Error::Argument(format!("{THRESHOLD_ENV}: {e}"))),
    }
}

/// The size of the parts of a file of `len` bytes: [`MIN_PART`], or more (a whole number of
/// MiB) when the file needs more than [`MAX_PARTS`] of them.
pub fn part_size(len: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let needed = len.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    needed.max(MIN_PART)
}

/// Whether a file of `len` bytes is uploaded in parts: at or above the threshold, and never
/// when empty (a multipart upload needs a part).
fn in_parts(len: u64, threshold: u64) -> bool {
    len >= threshold && len > 0
}

fn remote_err(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Remote {
        url: url.to_string(),
        message: e.to_string(),
    }
}

/// Streams the object `from` (at `url`, for errors) into the file `to`, creating its
/// directory; gives the number of bytes written.
pub async fn download(
    store: &dyn ObjectStore,
    from: &ObjPath,
    to: &Path,
    url: &str,
) -> Result<u64> {
    let got = store.get(from).await.map_err(|e| remote_err(url, e))?;
    let expected = got.range.end - got.range.start;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
    let mut file = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut body = got.into_stream();
    let mut written = 0u64;
    // The boxed stream's own `poll_next`: no stream combinator crate for one loop.
    while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|e| remote_err(url, e))?;
        file.write_all(&chunk).map_err(|e| Error::io(to, e))?;
        written += chunk.len() as u64;
    }
    file.flush().map_err(|e| Error::io(to, e))?;
    if written != expected {
        return Err(remote_err(
            url,
            format!("the body has {written} bytes, the object {expected}"),
        ));
    }
    Ok(written)
}

/// Uploads the file `from` to the object `to` (at `url`, for errors): one put below
/// `threshold` bytes, a multipart upload at or above it ([`in_parts`]). Gives the number of
/// bytes uploaded.
pub async fn upload(
    store: &dyn ObjectStore,
    from: &Path,
    to: &ObjPath,
    url: &str,
    threshold: u64,
) -> Result<u64> {
    let len = std::fs::metadata(from)
        .map_err(|e| Error::io(from, e))?
        .len();
    if !in_parts(len, threshold) {
        let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
        let sent = bytes.len() as u64;
        changed(from, sent, len)?;
        store
            .put(to, PutPayload::from(bytes))
            .await
            .map_err(|e| remote_err(url, e))?;
        return Ok(sent);
    }
    let upload = store
        .put_multipart(to)
        .await
        .map_err(|e| remote_err(url, e))?;
    let file = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    let parts = Parts {
        size: part_size(len),
        total: len,
    };
    upload_parts(upload, file, from, url, parts).await
}

/// How a multipart upload cuts its file: parts of `size` bytes, `total` bytes in all.
#[derive(Debug, Clone, Copy)]
struct Parts {
    size: u64,
    total: u64,
}

/// The file at `path` gave `read` bytes where it had `len` when the upload started.
fn changed(path: &Path, read: u64, len: u64) -> Result<()> {
    if read == len {
        return Ok(());
    }
    Err(Error::io(
        path,
        std::io::Error::other(format!(
            "the file changed during its upload: {read} bytes read, {len} when it started"
        )),
    ))
}

/// Sends `file` (at `path`) through `upload` in parts, then completes it when the file gave
/// exactly `parts.total` bytes; on any failure stops the parts in flight, aborts the upload and
/// gives the failure (with the abort's, if that fails too).
async fn upload_parts(
    mut upload: Box<dyn MultipartUpload>,
    file: impl Read + Send + 'static,
    path: &Path,
    url: &str,
    parts: Parts,
) -> Result<u64> {
    let mut in_flight = JoinSet::new();
    let sent = send_parts(&mut *upload, &mut in_flight, file, path, url, parts.size).await;
    let sent = match sent.and_then(|sent| changed(path, sent, parts.total).map(|()| sent)) {
        Ok(sent) => sent,
        Err(e) => {
            in_flight.shutdown().await;
            return Err(abort(&mut *upload, e, url).await);
        }
    };
    if let Err(e) = upload.complete().await {
        return Err(abort(&mut *upload, remote_err(url, e), url).await);
    }
    Ok(sent)
}

/// Reads `file` part by part into `upload`, waiting for a free slot before each read so that
/// at most [`PARTS_IN_FLIGHT`] parts are in memory besides the one read; then waits for every
/// part. Gives the number of bytes sent.
async fn send_parts<R: Read + Send + 'static>(
    upload: &mut dyn MultipartUpload,
    in_flight: &mut JoinSet<object_store::Result<()>>,
    mut file: R,
    path: &Path,
    url: &str,
    part: u64,
) -> Result<u64> {
    let mut sent = 0u64;
    loop {
        while in_flight.len() >= PARTS_IN_FLIGHT {
            settle(in_flight.join_next().await, url)?;
        }
        let (back, buf) = read_part(file, part)
            .await
            .map_err(|e| Error::io(path, e))?;
        file = back;
        if buf.is_empty() {
            break;
        }
        sent += buf.len() as u64;
        in_flight.spawn(upload.put_part(PutPayload::from(Bytes::from(buf))));
    }
    while let Some(done) = in_flight.join_next().await {
        settle(Some(done), url)?;
    }
    Ok(sent)
}

/// Reads the next part of at most `part` bytes of `file` on the blocking pool, so that the
/// parts in flight are sent meanwhile; gives the file back with what it read.
async fn read_part<R: Read + Send + 'static>(
    mut file: R,
    part: u64,
) -> std::io::Result<(R, Vec<u8>)> {
    let read = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(part as usize);
        (&mut file).take(part).read_to_end(&mut buf)?;
        Ok((file, buf))
    });
    read.await
        .map_err(|e| std::io::Error::other(format!("the read of a part: {e}")))?
}

/// The outcome of one part's task.
fn settle(
    done: Option<std::result::Result<object_store::Result<()>, JoinError>>,
    url: &str,
) -> Result<()> {
    match done {
        None | Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(e))) => Err(remote_err(url, e)),
        Some(Err(e)) => Err(remote_err(url, format!("a part's upload task: {e}"))),
    }
}

/// Aborts a failed multipart upload; gives the failure that caused it, with the abort's own
/// failure appended when the parts could not be removed.
async fn abort(upload: &mut dyn MultipartUpload, cause: Error, url: &str) -> Error {
    match upload.abort().await {
        Ok(()) => cause,
        Err(e) => remote_err(
            url,
            format!("{cause}; aborting the multipart upload failed too, parts may remain: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::{PutResult, UploadPart};
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn threshold_is_64_mib_unless_the_environment_gives_a_number_of_bytes() {
        use std::env::VarError;
        assert_eq!(threshold_of(Err(VarError::NotPresent)).unwrap(), 64 << 20);
        assert_eq!(threshold_of(Ok(" 5242880 ".into())).unwrap(), 5 << 20);
        assert_eq!(
            threshold_of(Ok(" ".into())).unwrap(),
            64 << 20,
            "empty is unset"
        );
        for bad in ["5MiB", "-1", "1.5"] {
            let err = threshold_of(Ok(bad.into())).unwrap_err();
            assert!(
                matches!(&err, Error::Argument(m) if m.contains(THRESHOLD_ENV)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn parts_are_8_mib_and_grow_to_stay_within_10000_parts() {
        assert_eq!(part_size(1), 8 << 20);
        assert_eq!(part_size(80_000 << 20), 8 << 20);
        // 100 GiB: 10.24 MiB a part at least, rounded up to 11 MiB.
        let big = 100u64 << 30;
        assert_eq!(part_size(big), 11 << 20);
        assert!(big.div_ceil(part_size(big)) <= MAX_PARTS);
    }

    /// A file written to a scratch directory.
    fn file(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join("data.parquet");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn a_file_sent_in_many_parts_reads_back_identical_and_streams_into_a_new_directory() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(10_007);
        let from = file(dir.path(), &bytes);
        let store = InMemory::new();
        let key = ObjPath::from("runs/r/usage/part-0.parquet");
        let sent = block(async {
            let upload = store.put_multipart(&key).await.unwrap();
            let reader = std::fs::File::open(&from).unwrap();
            let parts = Parts {
                size: 1_000,
                total: 10_007,
            };
            upload_parts(upload, reader, &from, "mem://k", parts).await
        })
        .unwrap();
        assert_eq!(sent, 10_007);
        let to = dir.path().join("down/usage/part-0.parquet");
        let got = block(download(&store, &key, &to, "mem://k")).unwrap();
        assert_eq!(got, 10_007);
        assert_eq!(std::fs::read(&to).unwrap(), bytes);
    }

    #[test]
    fn files_at_or_above_the_threshold_go_in_parts_and_empty_files_never() {
        assert!(!in_parts(4_095, 4_096));
        assert!(in_parts(4_096, 4_096));
        assert!(in_parts(1, 0));
        assert!(!in_parts(0, 0));
        assert!(in_parts(64 << 20, DEFAULT_THRESHOLD));
    }

    #[test]
    fn files_read_back_identical_whether_put_whole_or_in_parts_even_empty() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(4_096);
        let from = file(dir.path(), &bytes);
        let store = InMemory::new();
        for (threshold, key) in [(4_097, "single"), (4_096, "multi"), (0, "zero")] {
            let key = ObjPath::from(key);
            let sent = block(upload(&store, &from, &key, "mem://k", threshold)).unwrap();
            assert_eq!(sent, 4_096, "{key}");
            let back = block(async { store.get(&key).await.unwrap().bytes().await }).unwrap();
            assert_eq!(back.as_ref(), bytes.as_slice(), "{key}");
        }
        let empty = file(dir.path(), b"");
        let key = ObjPath::from("empty");
        assert_eq!(
            block(upload(&store, &empty, &key, "mem://k", 0)).unwrap(),
            0
        );
        let meta = block(store.head(&key)).unwrap();
        assert_eq!(meta.size, 0);
    }

    /// A multipart upload that fails its part number `fail_at` (from 0), recording the parts
    /// it received and whether it was completed or aborted.
    #[derive(Debug, Default)]
    struct Recorder {
        fail_at: Option<usize>,
        parts: Arc<Mutex<Vec<usize>>>,
        completed: Arc<AtomicUsize>,
        aborted: Arc<AtomicUsize>,
    }

    type Boxed<'a, T> = Pin<Box<dyn Future<Output = object_store::Result<T>> + Send + 'a>>;

    impl MultipartUpload for Recorder {
        fn put_part(&mut self, data: PutPayload) -> UploadPart {
            let mut parts = self.parts.lock().unwrap();
            let index = parts.len();
            parts.push(data.content_length());
            let fail = self.fail_at == Some(index);
            Box::pin(async move {
                match fail {
                    true => Err(object_store::Error::Generic {
                        store: "test",
                        source: format!("part {index} refused").into(),
                    }),
                    false => Ok(()),
                }
            })
        }

        fn complete<'life0, 'async_trait>(&'life0 mut self) -> Boxed<'async_trait, PutResult>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.completed.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                Ok(PutResult {
                    e_tag: None,
                    version: None,
                })
            })
        }

        fn abort<'life0, 'async_trait>(&'life0 mut self) -> Boxed<'async_trait, ()>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.aborted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }

    /// Sends 2,500 bytes in parts of 1,000 through a recorder failing part `fail_at`, or whose
    /// reader fails after `read_fails_after` bytes.
    fn send(fail_at: Option<usize>, read_fails_after: Option<usize>) -> (Result<u64>, Recorder) {
        send_as(2_500, fail_at, read_fails_after)
    }

    /// [`send`] of a file that had `total` bytes when its upload started.
    fn send_as(
        total: u64,
        fail_at: Option<usize>,
        read_fails_after: Option<usize>,
    ) -> (Result<u64>, Recorder) {
        let recorder = Recorder {
            fail_at,
            ..Recorder::default()
        };
        let probe = Recorder {
            fail_at,
            parts: recorder.parts.clone(),
            completed: recorder.completed.clone(),
            aborted: recorder.aborted.clone(),
        };
        let bytes = pattern(2_500);
        let limit = read_fails_after.unwrap_or(usize::MAX);
        let reader = FailingReader {
            bytes,
            at: 0,
            left: limit,
        };
        let path = Path::new("out/usage/part-0.parquet");
        let sent = block(upload_parts(
            Box::new(recorder),
            reader,
            path,
            "s3://b/k",
            Parts { size: 1_000, total },
        ));
        (sent, probe)
    }

    /// A reader that fails once `left` bytes are read.
    struct FailingReader {
        bytes: Vec<u8>,
        at: usize,
        left: usize,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.left).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_file_that_changed_length_during_its_upload_is_aborted_not_completed() {
        for total in [2_499, 2_501] {
            let (sent, probe) = send_as(total, None, None);
            let err = sent.unwrap_err().to_string();
            assert!(err.contains("changed during its upload"), "{err}");
            assert!(err.contains("out/usage/part-0.parquet"), "{err}");
            assert_eq!(*probe.parts.lock().unwrap(), vec![1_000, 1_000, 500]);
            assert_eq!(probe.completed.load(Ordering::SeqCst), 0, "{total}");
            assert_eq!(probe.aborted.load(Ordering::SeqCst), 1, "{total}");
        }
    }

    #[test]
    fn a_multipart_upload_sends_full_parts_then_the_rest_and_completes_once() {
        let (sent, probe) = send(None, None);
        assert_eq!(sent.unwrap(), 2_500);
        assert_eq!(*probe.parts.lock().unwrap(), vec![1_000, 1_000, 500]);
        assert_eq!(probe.completed.load(Ordering::SeqCst), 1);
        assert_eq!(probe.aborted.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_failed_part_aborts_the_upload_and_names_the_object() {
        for fail_at in [0, 2] {
            let (sent, probe) = send(Some(fail_at), None);
            let err = sent.unwrap_err();
            assert!(
                matches!(&err, Error::Remote { url, message }
                    if url == "s3://b/k" && message.contains(&format!("part {fail_at} refused"))),
                "{err}"
            );
            assert_eq!(probe.aborted.load(Ordering::SeqCst), 1, "part {fail_at}");
            assert_eq!(probe.completed.load(Ordering::SeqCst), 0, "part {fail_at}");
        }
    }

    #[test]
    fn a_failed_read_of_the_file_aborts_the_upload_and_names_the_file() {
        let (sent, probe) = send(None, Some(1_500));
        let err = sent.unwrap_err();
        assert!(
            err.to_string().contains("out/usage/part-0.parquet"),
            "{err}"
        );
        assert!(err.to_string().contains("disk gone"), "{err}");
        assert_eq!(*probe.parts.lock().unwrap(), vec![1_000]);
        assert_eq!(probe.aborted.load(Ordering::SeqCst), 1);
        assert_eq!(probe.completed.load(Ordering::SeqCst), 0);
    }
}
