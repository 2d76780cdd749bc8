//! [`ParallelExport`]: the slices of an export read by several tasks at once, their chunks
//! handed out in export order.
//!
//! [`READERS`] tasks take the next slice in turn and read it chunk by chunk into a queue of
//! its own, then take another, as long as no more than [`SLICES_AHEAD`] slices are taken and
//! not yet handed out; the stream empties the queues slice after slice. A task that finishes a
//! slice goes on with the next at once, so the database is never idle waiting for the consumer
//! to reach a slice, and memory stays bounded by the slices ahead and their queues.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use engagement_core::{EventBatch, EventFilter, WorkspaceId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::EXPORT_CHUNK;
use super::slices::{Slice, Slices};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::error::{SqlError, SqlResult};

/// Tasks reading slices at once. Each holds a connection only while a statement runs.
const READERS: usize = 4;

/// Slices taken and not yet handed out, at most.
const SLICES_AHEAD: usize = 8;

/// Chunks a slice's queue holds; the task reading it waits (holding no connection) when full.
const CHUNKS_QUEUED: usize = 4;

/// What a slice's queue carries: a chunk, `None` once the slice is complete, or the error that
/// ended it. A queue that closes without `None` lost its task.
type Message = SqlResult<Option<EventBatch>>;

/// A slice some task has taken: its queue, and its turn among the slices ahead (given back
/// when the slice has been handed out).
struct Taken {
    index: usize,
    chunks: mpsc::Receiver<Message>,
    _turn: OwnedSemaphorePermit,
}

/// The slices of an export being read, and where the stream stands in them.
pub(super) struct ParallelExport {
    taken: mpsc::UnboundedReceiver<Taken>,
    waiting: BTreeMap<usize, Taken>,
    current: Option<Taken>,
    next: usize,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for ParallelExport {
    fn drop(&mut self) {
        // Nobody will read what they would fetch (the stream was dropped or failed).
        for reader in &self.readers {
            reader.abort();
        }
    }
}

impl ParallelExport {
    /// Starts the tasks reading `slices` of the export of `filter`.
    pub(super) fn start<D: Dialect>(
        engine: &Engine<D>,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        slices: Slices,
    ) -> Self {
        let slices = Arc::new(Mutex::new(slices));
        let turns = Arc::new(Semaphore::new(SLICES_AHEAD));
        let (announce, taken) = mpsc::unbounded_channel();
        let readers = (0..READERS)
            .map(|_| {
                tokio::spawn(read_slices(
                    engine.clone(),
                    workspace.clone(),
                    filter.clone(),
                    Arc::clone(&slices),
                    Arc::clone(&turns),
                    announce.clone(),
                ))
            })
            .collect();
        Self {
            taken,
            waiting: BTreeMap::new(),
            current: None,
            next: 0,
            readers,
        }
    }

    /// The next chunk in export order; `None` after the last slice.
    pub(super) async fn next(&mut self) -> Option<SqlResult<EventBatch>> {
        loop {
            if self.current.is_none() {
                self.current = Some(self.slice(self.next).await?);
            }
            let current = self.current.as_mut()?;
            match current.chunks.recv().await {
                Some(Ok(Some(batch))) => return Some(Ok(batch)),
                Some(Ok(None)) => {
                    self.current = None;
                    self.next += 1;
                }
                Some(Err(err)) => return Some(Err(err)),
                None => {
                    return Some(Err(SqlError::TaskStopped {
                        task: format!("reading slice {} of the export", self.next),
                    }));
                }
            }
        }
    }

    /// Slice `index` once a task has taken it; `None` when every task has ended without
    /// taking it: there is no such slice.
    async fn slice(&mut self, index: usize) -> Option<Taken> {
        loop {
            if let Some(taken) = self.waiting.remove(&index) {
                return Some(taken);
            }
            let taken = self.taken.recv().await?;
            self.waiting.insert(taken.index, taken);
        }
    }
}

/// One reader: takes the next slice whenever there is a turn, announces it, reads it, and
/// goes on until the slices run out, the stream is gone or a read fails.
async fn read_slices<D: Dialect>(
    engine: Engine<D>,
    workspace: WorkspaceId,
    filter: EventFilter,
    slices: Arc<Mutex<Slices>>,
    turns: Arc<Semaphore>,
    announce: mpsc::UnboundedSender<Taken>,
) {
    loop {
        let Ok(turn) = Arc::clone(&turns).acquire_owned().await else {
            return;
        };
        let slice = slices.lock().unwrap_or_else(PoisonError::into_inner).next();
        let Some(slice) = slice else { return };
        let (queue, chunks) = mpsc::channel(CHUNKS_QUEUED);
        let taken = Taken {
            index: slice.index,
            chunks,
            _turn: turn,
        };
        if announce.send(taken).is_err()
            || !engine.read_slice(&workspace, &filter, slice, queue).await
        {
            return;
        }
    }
}

impl<D: Dialect> Engine<D> {
    /// Reads `slice` of the export of `filter` chunk by chunk into `queue`, then `None`; false
    /// when the read failed (the error went to the queue) or nobody reads the queue any more.
    async fn read_slice(
        &self,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        slice: Slice,
        queue: mpsc::Sender<Message>,
    ) -> bool {
        let filter = EventFilter {
            window: slice.window,
            ..filter.clone()
        };
        let mut after = slice.after;
        loop {
            let batch = match self.export_chunk(workspace, &filter, after.as_ref()).await {
                Ok(batch) => batch,
                Err(err) => {
                    let _ = queue.send(Err(err)).await;
                    return false;
                }
            };
            let last = (batch.len() == EXPORT_CHUNK)
                .then(|| batch.last().map(|e| e.key()))
                .flatten();
            if !batch.is_empty() && queue.send(Ok(Some(batch))).await.is_err() {
                return false;
            }
            match last {
                Some(last) => after = Some(last),
                None => return queue.send(Ok(None)).await.is_ok(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::{CustomerId, Event, Timestamp};

    /// A batch of one event named `id`.
    fn batch(id: &str) -> EventBatch {
        EventBatch::from_events(&[Event::new(id, CustomerId(1), "n", Timestamp::EPOCH)])
    }

    /// A stream over slices announced by the test itself (no reading tasks).
    fn export() -> (ParallelExport, mpsc::UnboundedSender<Taken>, Arc<Semaphore>) {
        let (announce, taken) = mpsc::unbounded_channel();
        let export = ParallelExport {
            taken,
            waiting: BTreeMap::new(),
            current: None,
            next: 0,
            readers: Vec::new(),
        };
        (export, announce, Arc::new(Semaphore::new(SLICES_AHEAD)))
    }

    /// Announces slice `index` holding `chunks`, ended (or not) by the end marker.
    fn announce(
        to: &mpsc::UnboundedSender<Taken>,
        turns: &Arc<Semaphore>,
        index: usize,
        chunks: &[&str],
        ended: bool,
    ) {
        let (queue, received) = mpsc::channel(chunks.len() + 1);
        for id in chunks {
            queue
                .try_send(Ok(Some(batch(id))))
                .expect("room in the queue");
        }
        if ended {
            queue.try_send(Ok(None)).expect("room in the queue");
        }
        let turn = Arc::clone(turns).try_acquire_owned().expect("a turn");
        to.send(Taken {
            index,
            chunks: received,
            _turn: turn,
        })
        .expect("the stream listens");
    }

    async fn ids(export: &mut ParallelExport) -> Vec<SqlResult<String>> {
        let mut out = Vec::new();
        while let Some(item) = export.next().await {
            let failed = item.is_err();
            out.push(item.map(|b| b.get(0).map(|e| e.id.to_owned()).unwrap_or_default()));
            if failed {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn slices_taken_out_of_order_are_handed_out_in_order() {
        let (mut export, to, turns) = export();
        announce(&to, &turns, 2, &["c1"], true);
        announce(&to, &turns, 0, &["a1", "a2"], true);
        announce(&to, &turns, 1, &[], true);
        announce(&to, &turns, 3, &["d1", "d2"], true);
        drop(to);
        let got: Vec<String> = ids(&mut export).await.into_iter().flatten().collect();
        assert_eq!(got, ["a1", "a2", "c1", "d1", "d2"]);
        assert_eq!(
            turns.available_permits(),
            SLICES_AHEAD,
            "every turn given back"
        );
    }

    #[tokio::test]
    async fn a_slice_whose_task_stopped_ends_the_export_with_an_error() {
        let (mut export, to, turns) = export();
        announce(&to, &turns, 0, &["a1"], true);
        announce(&to, &turns, 1, &["b1"], false);
        announce(&to, &turns, 2, &["c1"], true);
        drop(to);
        let got = ids(&mut export).await;
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(matches!(&got[..2], [Ok(a), Ok(b)] if a == "a1" && b == "b1"));
        assert!(
            matches!(&got[2], Err(SqlError::TaskStopped { task }) if task.contains("slice 1")),
            "{:?}",
            got[2]
        );
    }
}
