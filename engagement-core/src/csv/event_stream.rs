//! The complete event-log export as a stream of CSV chunks, for an HTTP response body.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{BoxStream, Stream, StreamExt};

use super::{CsvOptions, EventLogCsv};
use crate::error::Result;
use crate::model::batch::EventBatch;

/// When a chunk is cut: after `rows` events or once about `bytes` bytes are pending, whichever
/// comes first. Memory stays bounded by one chunk whatever the number of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkSize {
    rows: usize,
    bytes: usize,
}

impl Default for ChunkSize {
    /// 1,000 rows or 64 KiB.
    fn default() -> Self {
        Self {
            rows: 1_000,
            bytes: 64 * 1024,
        }
    }
}

impl ChunkSize {
    /// Cut after at most `rows` events or once `bytes` bytes are pending (each at least 1).
    #[must_use]
    pub fn new(rows: usize, bytes: usize) -> Self {
        Self {
            rows: rows.max(1),
            bytes: bytes.max(1),
        }
    }

    /// Events per chunk at most.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes after which a chunk is cut (a chunk can exceed it by up to one row).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Turns a stream of event batches (such as the one
/// [`Reports::export_event_log`](crate::report::Reports::export_event_log) returns) into a
/// stream of CSV chunks for an HTTP body: the header and the rows in order, with the columns of
/// [`EventLogCsv::with_metadata_columns`].
///
/// Batches are pulled only as chunks are consumed, so a slow client slows the source instead of
/// filling memory, and dropping the output stream drops the source.
///
/// # Errors
/// Each as the stream's last item. If the source yields an `Err`, the output yields that `Err`
/// and ends: rows still pending are discarded and no further chunk follows, so the client sees
/// a broken transfer, never a complete-looking file. [`Error::InvalidQuery`](crate::Error::InvalidQuery)
/// when a metadata key is listed twice (before any chunk), and [`Error::Csv`](crate::Error::Csv)
/// when writing the CSV fails, end the stream the same way.
///
/// ```
/// use futures::{StreamExt, TryStreamExt, stream};
/// use engagement_core::csv::{ChunkSize, CsvOptions, event_log_chunks};
/// use engagement_core::{CustomerId, Event, EventBatch, Timestamp};
///
/// let events: Vec<Event> = (0..3)
///     .map(|i| Event::new(format!("e{i}"), CustomerId(i), "Page Viewed", Timestamp::EPOCH))
///     .collect();
/// let chunks = event_log_chunks(
///     stream::iter([Ok(EventBatch::from_events(&events))]).boxed(),
///     Vec::<String>::new(),
///     CsvOptions::default(),
///     ChunkSize::new(2, 64 * 1024),
/// );
/// let chunks: Vec<Vec<u8>> = futures::executor::block_on(chunks.try_collect())?;
/// assert_eq!(chunks.len(), 2); // header + 2 rows, then the last row
/// assert_eq!(chunks.concat().split(|b| *b == b'\n').count(), 5); // 4 lines and the end
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn event_log_chunks<K: Into<String>>(
    batches: BoxStream<'static, Result<EventBatch>>,
    metadata_keys: impl IntoIterator<Item = K>,
    options: CsvOptions,
    chunk: ChunkSize,
) -> impl Stream<Item = Result<Vec<u8>>> + Send + 'static {
    let buffer = ChunkBuffer::default();
    let start =
        EventLogCsv::with_metadata_columns(buffer.clone(), metadata_keys, options).map(|csv| {
            Export {
                csv,
                buffer,
                // Fused: a source that ended is never polled again (many streams panic if it is).
                batches: batches.fuse().boxed(),
                pending: EventBatch::new(),
                next: 0,
                chunk,
            }
        });
    futures::stream::unfold(Some(start), |state| async move {
        let mut export = match state? {
            Ok(export) => export,
            Err(e) => return Some((Err(e), None)),
        };
        match export.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(Ok(export)))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// A running export: the writer, the bytes it has produced, the batch being written and the
/// batches still to come.
struct Export {
    csv: EventLogCsv<ChunkBuffer>,
    buffer: ChunkBuffer,
    batches: BoxStream<'static, Result<EventBatch>>,
    /// The batch being written, from event `next` on.
    pending: EventBatch,
    next: usize,
    chunk: ChunkSize,
}

impl Export {
    /// The next chunk; `None` once everything has been handed out.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let mut rows = 0;
        loop {
            let Some(event) = self.pending.get(self.next) else {
                match self.batches.next().await {
                    Some(batch) => {
                        self.pending = batch?;
                        self.next = 0;
                        continue;
                    }
                    None => break,
                }
            };
            self.next += 1;
            self.csv.write_row(event)?;
            // Moving each row into the buffer keeps the byte count exact.
            self.csv.flush()?;
            rows += 1;
            if rows >= self.chunk.rows || self.buffer.len() >= self.chunk.bytes {
                return Ok(Some(self.buffer.take()));
            }
        }
        self.csv.flush()?;
        let rest = self.buffer.take();
        Ok((!rest.is_empty()).then_some(rest))
    }
}

/// Where the CSV writer puts its bytes until a chunk is cut.
#[derive(Debug, Clone, Default)]
struct ChunkBuffer(Arc<Mutex<Vec<u8>>>);

impl ChunkBuffer {
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl io::Write for ChunkBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::stream;

    use super::*;
    use crate::csv::writer::tests::parse;
    use crate::error::Error;
    use crate::model::event::Event;
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    fn ev(i: i64) -> Event {
        let mut e = Event::new(
            format!("e{i}"),
            CustomerId(i),
            "Page Viewed",
            Timestamp::from_micros(i),
        );
        e.page.path = format!("=/p,{i}\n");
        e
    }

    /// The items as a batch stream: runs of events in batches of up to 7, errors as they are.
    fn source(items: Vec<Result<Event>>) -> BoxStream<'static, Result<EventBatch>> {
        let mut batches = Vec::new();
        let mut run = EventBatch::new();
        for item in items {
            match item {
                Ok(event) => run.push_event(&event),
                Err(e) => {
                    if !run.is_empty() {
                        batches.push(Ok(std::mem::take(&mut run)));
                    }
                    batches.push(Err(e));
                }
            }
            if run.len() == 7 {
                batches.push(Ok(std::mem::take(&mut run)));
            }
        }
        if !run.is_empty() {
            batches.push(Ok(run));
        }
        stream::iter(batches).boxed()
    }

    fn collect(s: impl Stream<Item = Result<Vec<u8>>>) -> Vec<Result<Vec<u8>>> {
        block_on(s.collect())
    }

    fn failure() -> Error {
        Error::backend("test", io::Error::other("connection reset"))
    }

    #[test]
    fn chunks_concatenate_to_the_file_the_sync_writer_writes() {
        let events: Vec<Event> = (0..25).map(ev).collect();
        let out = collect(event_log_chunks(
            source(events.iter().cloned().map(Ok).collect()),
            ["k"],
            CsvOptions::default(),
            ChunkSize::new(10, 1 << 20),
        ));
        let chunks: Vec<Vec<u8>> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 3);
        let mut sync =
            EventLogCsv::with_metadata_columns(Vec::new(), ["k"], CsvOptions::default()).unwrap();
        for e in &events {
            sync.write_event(e).unwrap();
        }
        let whole = sync.finish().unwrap();
        assert_eq!(chunks.concat(), whole);
        let rows = parse(&whole);
        assert_eq!(rows.len(), 26);
        assert_eq!(rows[25][6], "'=/p,24\n");
    }

    #[test]
    fn chunks_are_cut_by_size() {
        let out = collect(event_log_chunks(
            source((0..200).map(ev).map(Ok).collect()),
            Vec::<String>::new(),
            CsvOptions::default(),
            ChunkSize::new(usize::MAX, 1),
        ));
        // A 1-byte limit cuts after every row: 200 chunks, none empty.
        assert_eq!(out.len(), 200);
        assert!(out.iter().all(|c| c.as_ref().is_ok_and(|b| !b.is_empty())));

        // With a 1 KiB limit no chunk holds more than the limit plus one row, however many rows.
        let limit = 1024;
        let longest_row = 200;
        let out = collect(event_log_chunks(
            source((0..5_000).map(ev).map(Ok).collect()),
            Vec::<String>::new(),
            CsvOptions::default(),
            ChunkSize::new(usize::MAX, limit),
        ));
        assert!(out.len() > 100);
        for chunk in &out {
            let len = chunk.as_ref().unwrap().len();
            assert!(len < limit + longest_row, "a chunk of {len} bytes");
        }
    }

    #[test]
    fn an_empty_source_yields_just_the_header() {
        let out = collect(event_log_chunks(
            source(Vec::new()),
            Vec::<String>::new(),
            CsvOptions::default(),
            ChunkSize::default(),
        ));
        assert_eq!(out.len(), 1);
        let header = parse(out[0].as_ref().unwrap());
        assert_eq!(header[0], crate::csv::EVENT_LOG_COLUMNS);
    }

    #[test]
    fn a_failing_source_ends_the_stream_with_its_error() {
        for failing_at in [0, 3, 10, 15] {
            let mut items: Vec<Result<Event>> = (0..failing_at).map(ev).map(Ok).collect();
            items.push(Err(failure()));
            items.extend((100..120).map(ev).map(Ok));
            let out = collect(event_log_chunks(
                source(items),
                Vec::<String>::new(),
                CsvOptions::default(),
                ChunkSize::new(5, 1 << 20),
            ));
            let (last, before) = out.split_last().unwrap();
            assert!(
                matches!(
                    last,
                    Err(Error::Backend {
                        backend: "test",
                        ..
                    })
                ),
                "failing at {failing_at}: the stream must end with the source's error"
            );
            assert!(before.iter().all(Result::is_ok));
            // Only whole chunks cut before the failure were sent: nothing of the rows after it.
            let sent = before
                .iter()
                .map(|c| c.as_ref().unwrap().clone())
                .collect::<Vec<_>>()
                .concat();
            let rows = if sent.is_empty() {
                0
            } else {
                parse(&sent).len() - 1
            };
            assert_eq!(
                rows,
                (failing_at as usize / 5) * 5,
                "failing at {failing_at}"
            );
        }
    }

    #[test]
    fn bad_metadata_columns_end_the_stream_at_once() {
        let out = collect(event_log_chunks(
            source(vec![Ok(ev(1))]),
            ["a", "a"],
            CsvOptions::default(),
            ChunkSize::default(),
        ));
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0], Err(Error::InvalidQuery { .. })));
    }

    #[test]
    fn the_stream_is_send() {
        fn assert_send<T: Send + 'static>(_: &T) {}
        let s = event_log_chunks(
            source(Vec::new()),
            Vec::<String>::new(),
            CsvOptions::default(),
            ChunkSize::default(),
        );
        assert_send(&s);
    }
}
