//! The threads behind [`export_to_path`](super::export_to_path): batches are formatted as CSV
//! on one thread per core (at most [`MAX_FORMATTERS`]), written to the file in order, and
//! synced to disk while the export runs.
//!
//! ```text
//! caller ──(seq, batch)──▶ formatters (one per core) ──(seq, bytes)──▶ writer ──▶ file
//!    ▲                                                                    │ every 64 MiB
//!    └────────────── a credit per batch written (bounded memory) ─────────┤
//!                                                                 syncer ◀┘ (sync_data)
//! ```
//!
//! At most [`IN_FLIGHT`] batches exist at once, whatever the number of events: the caller
//! takes a credit before handing a batch over and the writer returns it once the batch's rows
//! are in the file. Syncing in the background means the final `sync_all` only waits for the
//! last few megabytes instead of the whole file.
//!
//! The caller never blocks its thread: it awaits credits and the writer's end (which includes
//! the final `sync_all`) through `futures` channels, so an export on an async server's worker
//! thread leaves that thread to its other tasks while the export's threads work.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write as _};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};

use super::writer::csv_io_error;
use super::{CsvOptions, EventLogCsv};
use crate::error::Result;
use crate::model::batch::EventBatch;

/// Batches alive at once at most: handed over, being formatted, or waiting to be written.
const IN_FLIGHT: usize = 8;

/// Formatting threads at most (one per core up to this).
const MAX_FORMATTERS: usize = 4;

/// Bytes written between two background syncs.
const SYNC_EVERY: u64 = 64 << 20;

/// One batch's rows as CSV bytes, with its place in the export and its row count.
type Formatted = (u64, Result<(Vec<u8>, u64)>);

/// What the writer ends with: the rows and the batches written, in a file synced to disk, or
/// the first error.
type Written = Result<(u64, u64)>;

/// A running export: the channels into the formatters and back from the writer.
#[derive(Debug)]
pub(super) struct Pipeline {
    work: Option<SyncSender<(u64, EventBatch)>>,
    credits: mpsc::Receiver<()>,
    next: u64,
    written: Option<oneshot::Receiver<Written>>,
}

impl Pipeline {
    /// Starts the threads writing the header, then the rows, with the columns of
    /// [`EventLogCsv::with_metadata_columns`].
    ///
    /// # Errors
    /// [`Error::InvalidQuery`](crate::Error::InvalidQuery) when a metadata key is listed twice;
    /// [`Error::Csv`](crate::Error::Csv) when a thread cannot be started.
    pub(super) fn spawn(file: File, metadata_keys: &[String], options: CsvOptions) -> Result<Self> {
        let new_csv = || {
            EventLogCsv::with_metadata_columns(Vec::new(), metadata_keys.iter().cloned(), options)
        };
        let header = new_csv()?.replace_output(Vec::new())?;
        let (work, queued) = sync_channel::<(u64, EventBatch)>(IN_FLIGHT);
        let queued = Arc::new(Mutex::new(queued));
        let (formatted, done) = sync_channel::<Formatted>(IN_FLIGHT);
        let (spare, spares) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let spares = Arc::new(Mutex::new(spares));
        let formatters = thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_FORMATTERS);
        for _ in 0..formatters {
            let (queued, spares, formatted) =
                (Arc::clone(&queued), Arc::clone(&spares), formatted.clone());
            // The header each formatter's writer starts with is dropped with its first output.
            let mut csv = new_csv()?;
            csv.replace_output(Vec::new())?;
            thread::Builder::new()
                .name("engagement-csv-format".into())
                .spawn(move || format_batches(csv, &queued, &spares, &formatted))
                .map_err(csv_io_error)?;
        }
        drop(formatted);
        let (mut credit, credits) = mpsc::channel::<()>(IN_FLIGHT);
        for _ in 0..IN_FLIGHT {
            // Room for every credit was just made.
            let _ = credit.try_send(());
        }
        let (end, written) = oneshot::channel();
        thread::Builder::new()
            .name("engagement-csv-write".into())
            .spawn(move || {
                let outcome = write_in_order(file, header, &done, &mut credit, &spare);
                // A caller that stopped waiting no longer needs the outcome.
                let _ = end.send(outcome);
            })
            .map_err(csv_io_error)?;
        Ok(Self {
            work: Some(work),
            credits,
            next: 0,
            written: Some(written),
        })
    }

    /// Hands over the next batch, awaiting a credit while [`IN_FLIGHT`] batches are alive.
    ///
    /// # Errors
    /// The writer's error when it has stopped on one.
    pub(super) async fn send(&mut self, batch: EventBatch) -> Result<()> {
        let seq = self.next;
        self.next += 1;
        // Never blocks: a credit is one of at most `IN_FLIGHT` batches alive, which the work
        // channel has room for.
        let sent = self.credits.next().await.is_some()
            && self
                .work
                .as_ref()
                .is_some_and(|work| work.send((seq, batch)).is_ok());
        if sent {
            return Ok(());
        }
        self.finish().await?;
        Err(stopped("the CSV export stopped early"))
    }

    /// Awaits every batch handed over in the file and the file synced to disk; the rows
    /// written.
    ///
    /// # Errors
    /// The first error a formatter or the writer met; an error too when fewer batches were
    /// written than were handed over (a formatting thread that died without answering for
    /// its batch), so that a file missing rows is never taken for a complete one.
    pub(super) async fn finish(&mut self) -> Result<u64> {
        self.work = None;
        let written = match self.written.take() {
            Some(written) => written
                .await
                .unwrap_or_else(|_| Err(stopped("the CSV writing thread panicked"))),
            None => Err(stopped("the CSV export already stopped")),
        };
        match written? {
            (rows, batches) if batches == self.next => Ok(rows),
            _ => Err(stopped("a CSV batch was lost on its way to the file")),
        }
    }
}

/// A formatter: takes batches until there are none and formats each into a buffer of its own
/// (one the writer is done with when there is one).
fn format_batches(
    mut csv: EventLogCsv<Vec<u8>>,
    queued: &Mutex<Receiver<(u64, EventBatch)>>,
    spares: &Mutex<Receiver<Vec<u8>>>,
    formatted: &SyncSender<Formatted>,
) {
    loop {
        let next = queued.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((seq, batch)) = next else { return };
        let spare = spares
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_recv()
            .unwrap_or_default();
        let rows_before = csv.rows();
        // A panic here must still answer for its batch: the writer waits for every batch in
        // order, and the caller for the writer.
        let bytes = panic::catch_unwind(AssertUnwindSafe(|| {
            csv.write_batch(&batch)
                .and_then(|()| csv.replace_output(spare))
        }))
        .unwrap_or_else(|_| Err(stopped("formatting a CSV batch panicked")));
        drop(batch);
        let out = bytes.map(|bytes| (bytes, csv.rows() - rows_before));
        if formatted.send((seq, out)).is_err() {
            return;
        }
    }
}

/// The writer: puts formatted batches in the file in their order, has the file synced every
/// [`SYNC_EVERY`] bytes, returns a credit per batch written, and syncs the whole file at the
/// end.
fn write_in_order(
    mut file: File,
    header: Vec<u8>,
    done: &Receiver<Formatted>,
    credit: &mut mpsc::Sender<()>,
    spare: &SyncSender<Vec<u8>>,
) -> Written {
    let syncer = Syncer::spawn(&file)?;
    file.write_all(&header).map_err(csv_io_error)?;
    let (mut next, mut rows, mut unsynced) = (0_u64, 0_u64, 0_u64);
    let mut waiting = BTreeMap::new();
    for (seq, formatted) in done {
        waiting.insert(seq, formatted);
        while let Some(formatted) = waiting.remove(&next) {
            let (bytes, batch_rows) = formatted?;
            file.write_all(&bytes).map_err(csv_io_error)?;
            rows += batch_rows;
            unsynced += bytes.len() as u64;
            if unsynced >= SYNC_EVERY {
                syncer.request();
                unsynced = 0;
            }
            next += 1;
            // The caller may have stopped sending; the formatters may have enough buffers.
            let _ = credit.try_send(());
            let mut bytes = bytes;
            bytes.clear();
            let _ = spare.try_send(bytes);
        }
    }
    syncer.finish()?;
    file.sync_all().map_err(csv_io_error)?;
    Ok((rows, next))
}

/// A thread that syncs the file's data to disk whenever asked, so that the disk writes
/// overlap the formatting.
struct Syncer {
    requests: Option<SyncSender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Syncer {
    fn spawn(file: &File) -> Result<Self> {
        let file = file.try_clone().map_err(csv_io_error)?;
        let (requests, asked) = sync_channel::<()>(1);
        let thread = thread::Builder::new()
            .name("engagement-csv-sync".into())
            .spawn(move || {
                for () in asked {
                    file.sync_data()?;
                }
                Ok(())
            })
            .map_err(csv_io_error)?;
        Ok(Self {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Asks for a sync; one asked for and not yet started covers this one too, and a thread
    /// that stopped on an error reports it from [`finish`](Self::finish).
    fn request(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.try_send(());
        }
    }

    /// Waits for the syncs asked for.
    ///
    /// # Errors
    /// The first sync's failure.
    fn finish(mut self) -> Result<()> {
        self.requests = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(synced)) => synced.map_err(csv_io_error),
            _ => Err(stopped("the CSV sync thread panicked")),
        }
    }
}

/// An export thread that ended without saying why, as a CSV error.
fn stopped(what: &'static str) -> crate::Error {
    csv_io_error(io::Error::other(what))
}
