//! The chunk writer: a thread that writes chunk k's tables while chunk k + 1 is computed.
//!
//! Invariants: chunks are written in the order they are sent, each as its own file per
//! partition (`part-<shard>-<chunk>.parquet`), so a file's bytes do not depend on the overlap;
//! at most one computed chunk waits for the writer (memory stays at two chunks); with one
//! thread the compute loop waits for each write (`--threads 1` keeps one core busy).
//!
//! The writer hands each written chunk's largest vectors back emptied ([`Spare`]), for a later
//! chunk to fill: memory already paged in instead of fresh blocks that the kernel zero-fills
//! again on first touch.

use super::chunk::{line_in_window, ChunkOut, Spare};
use crate::error::Result;
use crate::input::Violation;
use crate::model::{AccountEvent, Bill, BillLine, DeductionDetail, PackageStatus, RefundRow};
use crate::output::{part_name, write_rows, write_rows_where, Table, Written};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

/// What was written of each table, by table name.
pub type Outputs = BTreeMap<String, Written>;

/// The entry of `table` in `outputs`.
pub fn slot<'a>(outputs: &'a mut Outputs, table: &str) -> &'a mut Written {
    outputs.entry(table.to_string()).or_default()
}

/// The writer thread and the channels to it.
pub struct ChunkWriter<'scope> {
    tx: SyncSender<(u32, ChunkOut)>,
    done: Receiver<()>,
    spare: Receiver<Spare>,
    overlap: bool,
    thread: ScopedJoinHandle<'scope, Result<Outputs>>,
}

impl<'scope> ChunkWriter<'scope> {
    /// Starts the writer of shard `shard`'s chunks into `out`. With `overlap` (more than one
    /// thread) it writes while the next chunk is computed; without, [`send`](Self::send) waits
    /// until the chunk is written.
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        out: &'env Path,
        shard: u32,
        overlap: bool,
    ) -> ChunkWriter<'scope> {
        let (tx, rx) = sync_channel::<(u32, ChunkOut)>(0);
        let (done_tx, done) = sync_channel::<()>(1);
        // One spare set waits at most; any other is freed.
        let (spare_tx, spare) = sync_channel::<Spare>(1);
        let thread = scope.spawn(move || -> Result<Outputs> {
            let mut outputs = Outputs::new();
            for (chunk, c) in rx {
                let file = part_name(shard, chunk);
                let _ = spare_tx.try_send(write_chunk(out, &file, c, &mut outputs, overlap)?);
                if !overlap {
                    let _ = done_tx.send(());
                }
            }
            Ok(outputs)
        });
        ChunkWriter {
            tx,
            done,
            spare,
            overlap,
            thread,
        }
    }

    /// The vectors of a written chunk, emptied, or new ones.
    pub fn spare(&self) -> Spare {
        self.spare.try_recv().unwrap_or_default()
    }

    /// Hands chunk `chunk` to the writer; `false` when the writer has stopped (its error is
    /// returned by [`finish`](Self::finish)).
    pub fn send(&self, chunk: u32, c: ChunkOut) -> bool {
        self.tx.send((chunk, c)).is_ok() && (self.overlap || self.done.recv().is_ok())
    }

    /// Waits for the last chunk to be written; what was written of each table.
    pub fn finish(self) -> Result<Outputs> {
        drop(self.tx);
        match self.thread.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Writes one chunk's tables as `file` in each partition they touch; gives back its largest
/// vectors emptied. With `beside`, the deduction details are written on a thread of their own
/// while this one writes the other tables: each table's sort, month split and file writes are
/// one thread's work, and two tables at once keep both cores busy while the rules wait for the
/// writer. (Each file's bytes do not depend on it.)
fn write_chunk(
    out: &Path,
    file: &str,
    c: ChunkOut,
    outputs: &mut Outputs,
    beside: bool,
) -> Result<Spare> {
    let t = Instant::now();
    let w = c.window;
    let mut details_written = std::mem::take(slot(outputs, DeductionDetail::NAME));
    let details = c.details;
    let write_details = || {
        write_rows_where(out, details, file, &mut details_written, |d| {
            w.contains(d.usage_start)
        })
    };
    let rest = Rest {
        lines: c.lines,
        bills: c.bills,
        status: c.status,
        events: c.events,
        refunds: c.refunds,
        exceptions: c.exceptions,
    };
    let (details, lines) = if beside {
        std::thread::scope(|scope| {
            let details = scope.spawn(write_details);
            let lines = rest.write(out, file, outputs, &w);
            match details.join() {
                Ok(details) => (details, lines),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    } else {
        (write_details(), rest.write(out, file, outputs, &w))
    };
    *slot(outputs, DeductionDetail::NAME) = details_written;
    let (details, lines) = (details?, lines?);
    tracing::debug!(file, ms = t.elapsed().as_millis() as u64, "chunk written");
    Ok(Spare { lines, details })
}

/// A chunk's tables but the deduction details.
struct Rest {
    lines: Vec<BillLine>,
    bills: Vec<Bill>,
    status: Vec<PackageStatus>,
    events: Vec<AccountEvent>,
    refunds: Vec<RefundRow>,
    exceptions: Vec<Violation>,
}

impl Rest {
    /// Writes them; gives back the bill lines' vector emptied.
    fn write(
        self,
        out: &Path,
        file: &str,
        outputs: &mut Outputs,
        w: &crate::calendar::Window,
    ) -> Result<Vec<BillLine>> {
        let lines = write_rows_where(out, self.lines, file, slot(outputs, BillLine::NAME), |l| {
            line_in_window(w, l)
        })?;
        write_rows(out, self.bills, file, slot(outputs, Bill::NAME))?;
        write_rows(out, self.status, file, slot(outputs, PackageStatus::NAME))?;
        write_rows(out, self.events, file, slot(outputs, AccountEvent::NAME))?;
        write_rows(out, self.refunds, file, slot(outputs, RefundRow::NAME))?;
        write_rows(out, self.exceptions, file, slot(outputs, Violation::NAME))?;
        Ok(lines)
    }
}
