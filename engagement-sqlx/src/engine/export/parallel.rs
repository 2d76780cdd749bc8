//! [`ParallelExport`]: the slices of an export read by several tasks at once, their chunks
//! handed out in export order.
//!
//! [`READERS`] tasks take the next slice in turn and read it chunk by chunk into a queue of
//! its own, then take another, as long as no more than [`SLICES_AHEAD`] slices are taken and
//! not yet handed out; the stream empties the queues slice after slice. The chunks of slices
//! after the one being handed out share one budget of [`CHUNKS_AHEAD`], however the events
//! spread over the slices (the slices are cut by time, and a busy afternoon holds many more
//! chunks than a night): a task that finishes a slice goes on with the next at once, and waits
//! only when the budget is spent. The slice being handed out has a queue's worth of room of
//! its own, so it never waits for chunks of slices the consumer has not reached. Memory stays
//! bounded by the budget and that queue.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use engagement_core::{EventBatch, EventFilter, WorkspaceId};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::Instrument;

use super::EXPORT_CHUNK;
use super::slices::{Slice, Slices};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::error::{SqlError, SqlResult};

/// Tasks reading slices at once. Each holds a connection only while a statement runs.
const READERS: usize = 4;

/// Slices taken and not yet handed out, at most.
const SLICES_AHEAD: usize = 16;

/// Chunks of the slice being handed out read and not yet handed out, at most.
const CHUNKS_QUEUED: usize = 8;

/// Chunks read and not yet handed out of the slices after the one being handed out, at most,
/// however many of them one slice holds (slices are cut by time, and a busy afternoon holds
/// more chunks than a night). Before this budget each slice had a queue of four, which its
/// task could not fill with a slice's chunks and end marker and go on: the tasks ahead waited
/// for the consumer to reach their slices. (10M events, alternated: PostgreSQL 630-650k ->
/// 900-920k rows/s, SQLite 870-910k -> 1.16-1.18M, with slices of one chunk.)
const CHUNKS_AHEAD: usize = 16;

/// One chunk of a slice, whether it is the slice's last (an empty last chunk when the slice
/// ended exactly at a full chunk), and the room it takes until it is handed out.
struct Chunk {
    batch: EventBatch,
    last: bool,
    _room: OwnedSemaphorePermit,
}

/// The room chunks read and not yet handed out take: the slice being handed out has a queue's
/// worth of its own, the slices after it share a budget.
struct Ahead {
    budget: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    /// The index of the slice being handed out.
    head: AtomicUsize,
    /// Woken when the head moves on.
    moved: Notify,
}

impl Ahead {
    fn new() -> Self {
        Self {
            budget: Arc::new(Semaphore::new(CHUNKS_AHEAD)),
            queue: Arc::new(Semaphore::new(CHUNKS_QUEUED)),
            head: AtomicUsize::new(0),
            moved: Notify::new(),
        }
    }

    /// Room for one more chunk of slice `index`, waiting until there is some. A chunk of a
    /// later slice that waits for the budget takes the head's room instead once its slice is
    /// the one handed out: the consumer empties that, so it never waits for chunks of slices
    /// it has not reached. `None` once the export is gone ([`Self::close`]).
    async fn room(&self, index: usize) -> Option<OwnedSemaphorePermit> {
        loop {
            let moved = self.moved.notified();
            let mut moved = std::pin::pin!(moved);
            moved.as_mut().enable();
            let semaphore = if self.head.load(Ordering::Acquire) == index {
                &self.queue
            } else {
                &self.budget
            };
            tokio::select! {
                room = Arc::clone(semaphore).acquire_owned() => return room.ok(),
                () = &mut moved => {}
            }
        }
    }

    /// No more room: the export is gone.
    fn close(&self) {
        self.budget.close();
        self.queue.close();
    }

    /// The stream now hands out slice `index`.
    fn advance(&self, index: usize) {
        self.head.store(index, Ordering::Release);
        self.moved.notify_waiters();
    }
}

/// What a slice's queue carries: a chunk or the error that ended it. A queue that closes
/// before its last chunk lost its task.
type Message = SqlResult<Chunk>;

/// A slice some task has taken: its queue, and its turn among the slices ahead (given back
/// when the slice has been handed out).
struct Taken {
    index: usize,
    chunks: mpsc::UnboundedReceiver<Message>,
    _turn: OwnedSemaphorePermit,
}

/// The slices of an export being read, and where the stream stands in them.
pub(super) struct ParallelExport {
    taken: mpsc::UnboundedReceiver<Taken>,
    waiting: BTreeMap<usize, Taken>,
    current: Option<Taken>,
    next: usize,
    ahead: Arc<Ahead>,
    /// The reading tasks' turns, closed when the export is dropped.
    turns: Arc<Semaphore>,
}

/// What the reading tasks share: the slices left, the turns among the slices ahead and the
/// budget of chunks ahead.
struct Shared {
    slices: Mutex<Slices>,
    turns: Arc<Semaphore>,
    ahead: Arc<Ahead>,
}

impl Drop for ParallelExport {
    fn drop(&mut self) {
        // Nobody will read what they would fetch (the stream was dropped or failed): the
        // tasks stop at their next turn or room, after the statement they may be running.
        // Not aborted in the middle of it: a MySQL connection dropped there goes back to the
        // pool half way through the statement's answers (see `Dialect::CANCEL_SAFE`).
        self.turns.close();
        self.ahead.close();
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
        let ahead = Arc::new(Ahead::new());
        let shared = Arc::new(Shared {
            slices: Mutex::new(slices),
            turns: Arc::new(Semaphore::new(SLICES_AHEAD)),
            ahead: Arc::clone(&ahead),
        });
        let (announce, taken) = mpsc::unbounded_channel();
        for _ in 0..READERS {
            // In the export's span, so the driver's events keep the caller's context.
            tokio::spawn(
                read_slices(
                    engine.clone(),
                    workspace.clone(),
                    filter.clone(),
                    Arc::clone(&shared),
                    announce.clone(),
                )
                .in_current_span(),
            );
        }
        Self {
            taken,
            waiting: BTreeMap::new(),
            current: None,
            next: 0,
            ahead,
            turns: Arc::clone(&shared.turns),
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
                Some(Ok(Chunk { batch, last, .. })) => {
                    if last {
                        self.current = None;
                        self.next += 1;
                        self.ahead.advance(self.next);
                    }
                    if !batch.is_empty() {
                        return Some(Ok(batch));
                    }
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
    shared: Arc<Shared>,
    announce: mpsc::UnboundedSender<Taken>,
) {
    loop {
        let Ok(turn) = Arc::clone(&shared.turns).acquire_owned().await else {
            return;
        };
        let slice = shared
            .slices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next();
        let Some(slice) = slice else { return };
        // Unbounded: each chunk holds its room in `Ahead`.
        let (queue, chunks) = mpsc::unbounded_channel();
        let taken = Taken {
            index: slice.index,
            chunks,
            _turn: turn,
        };
        if announce.send(taken).is_err()
            || !engine
                .read_slice(&workspace, &filter, slice, &shared.ahead, queue)
                .await
        {
            return;
        }
    }
}

impl<D: Dialect> Engine<D> {
    /// Reads `slice` of the export of `filter` chunk by chunk into `queue`, the last marked; false
    /// when the read failed (the error went to the queue) or nobody reads the queue any more.
    async fn read_slice(
        &self,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        slice: Slice,
        ahead: &Ahead,
        queue: mpsc::UnboundedSender<Message>,
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
                    let _ = queue.send(Err(err));
                    return false;
                }
            };
            let full = batch.len() == EXPORT_CHUNK;
            let resume = full.then(|| batch.last().map(|e| e.key())).flatten();
            let Some(room) = ahead.room(slice.index).await else {
                return false;
            };
            let chunk = Chunk {
                last: resume.is_none(),
                batch,
                _room: room,
            };
            if queue.send(Ok(chunk)).is_err() {
                return false;
            }
            match resume {
                Some(key) => after = Some(key),
                None => return true,
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
            ahead: Arc::new(Ahead::new()),
            turns: Arc::new(Semaphore::new(SLICES_AHEAD)),
        };
        let turns = Arc::clone(&export.turns);
        (export, announce, turns)
    }

    /// Announces slice `index` holding `chunks`, the last one marked (or an empty last one
    /// when there are none) if `ended`.
    fn announce(
        to: &mpsc::UnboundedSender<Taken>,
        turns: &Arc<Semaphore>,
        index: usize,
        chunks: &[&str],
        ended: bool,
    ) {
        let (queue, received) = mpsc::unbounded_channel();
        let mut batches: Vec<EventBatch> = chunks.iter().map(|id| batch(id)).collect();
        if ended && batches.is_empty() {
            batches.push(EventBatch::default());
        }
        let count = batches.len();
        for (i, batch) in batches.into_iter().enumerate() {
            let last = ended && i + 1 == count;
            let room = Arc::new(Semaphore::new(1)).try_acquire_owned();
            queue
                .send(Ok(Chunk {
                    batch,
                    last,
                    _room: room.expect("room"),
                }))
                .expect("the stream listens");
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

    /// Chunks of later slices share the budget and wait when it is spent; the slice being
    /// handed out has room of its own, also when it becomes that slice while waiting.
    #[tokio::test]
    async fn chunks_ahead_wait_for_the_budget_and_the_head_for_its_own_room() {
        let ahead = Arc::new(Ahead::new());
        let mut held = Vec::new();
        for _ in 0..CHUNKS_AHEAD {
            held.push(ahead.room(1).await.expect("room ahead"));
        }
        let head: Vec<_> = futures::future::join_all((0..CHUNKS_QUEUED).map(|_| ahead.room(0)))
            .await
            .into_iter()
            .map(|room| room.expect("the head's room"))
            .collect();
        let waiting = tokio::spawn({
            let ahead = Arc::clone(&ahead);
            async move { ahead.room(2).await }
        });
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "the budget is spent");
        drop(head);
        ahead.advance(2);
        let room = waiting.await.expect("the waiting task");
        assert!(
            room.is_some(),
            "slice 2 is handed out now: it takes the head's room"
        );
        drop(held.pop());
        assert!(
            ahead.room(3).await.is_some(),
            "a chunk handed out gave its room back"
        );
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
