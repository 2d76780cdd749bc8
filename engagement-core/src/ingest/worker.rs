//! The background task: takes commands off the queue, builds batches, and hands each closed
//! batch to an append task, with at most [`IngestConfig::max_concurrent_appends`] in flight;
//! batches that close while none is free wait, joined up to
//! [`IngestConfig::max_joined_batch`] events.
//!
//! [`IngestConfig::max_concurrent_appends`]: super::IngestConfig::max_concurrent_appends
//! [`IngestConfig::max_joined_batch`]: super::IngestConfig::max_joined_batch

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::task::{self, JoinSet};
use tokio::time::Instant;

use super::appender::{Appender, Depths};
use super::batcher::{Batch, Batcher};
use super::senders::SenderId;
use super::shared_ids::{IdsInFlight, fingerprints};
use super::stats::BatchReport;
use super::turn::Turns;
use super::waiting::Waiting;
use crate::error::Result;
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;

#[allow(
    clippy::large_enum_variant,
    reason = "events are the hot path; boxing each one would add an allocation per event"
)]
pub(crate) enum Command {
    Event(WorkspaceId, Event, SenderId),
    Events(WorkspaceId, Vec<Event>, SenderId),
    /// Write everything taken so far; answered once every batch closed so far has ended.
    Flush(oneshot::Sender<()>),
    /// Accept nothing more: what is queued is still written, then the worker ends.
    Shutdown,
}

impl Command {
    /// Events the command holds, i.e. queue room it frees once taken.
    fn events(&self) -> usize {
        match self {
            Self::Event(..) => 1,
            Self::Events(_, events, _) => events.len(),
            Self::Flush(_) | Self::Shutdown => 0,
        }
    }
}

/// Room in the queue, one permit per event. Closed when the worker ends, so waiting senders
/// learn that it has stopped.
#[derive(Debug)]
pub(crate) struct Room {
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) capacity: usize,
    /// Events queued and not yet taken into a batch. Counted apart from the permits: a
    /// `send_many` waiting for room holds the permits it has got so far, and they are not
    /// events in the queue.
    queued: AtomicUsize,
}

impl Room {
    /// Room for `capacity` events, none queued.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            queued: AtomicUsize::new(0),
        }
    }

    /// Counts `events` holding their room as queued; called before they are sent, so that the
    /// worker, which gives their room back once it takes them, never counts below zero.
    pub(crate) fn fill(&self, events: usize) {
        self.queued.fetch_add(events, Ordering::Relaxed);
    }

    /// Gives back the room of `events` queued events (taken into batches, or never sent).
    pub(crate) fn give_back(&self, events: usize) {
        self.queued.fetch_sub(events, Ordering::Relaxed);
        self.permits.add_permits(events);
    }

    /// Events queued and not yet taken into a batch.
    pub(crate) fn used(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

pub(crate) struct Worker {
    pub(crate) batcher: Batcher,
    pub(crate) appender: Arc<Appender>,
    pub(crate) max_appends: usize,
    pub(crate) room: Arc<Room>,
    pub(crate) appends: JoinSet<()>,
    /// Closed batches no append has taken yet.
    pub(crate) waiting: Waiting,
    /// The order in which the appends start: the order their batches closed.
    pub(crate) turns: Turns,
    /// The ids of the batches being appended: a batch sharing one waits for it to end.
    pub(crate) ids_in_flight: IdsInFlight,
    pub(crate) subscriptions: Subscriptions,
}

/// What a chunk of commands held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    Commands,
    /// A shutdown among them.
    Shutdown,
}

/// The ingestor's handle on its batch reports: receivers are handed out from it until the
/// worker ends.
pub(crate) type Subscriptions = Arc<Mutex<Option<broadcast::Sender<BatchReport>>>>;

/// When the worker ends, however it ends: closes the queue's room (so waiting senders learn it
/// has stopped) and ends the subscribers' streams.
struct OnEnd {
    room: Arc<Room>,
    subscriptions: Subscriptions,
}

impl Drop for OnEnd {
    fn drop(&mut self) {
        self.room.permits.close();
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl Worker {
    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let _end = OnEnd {
            room: self.room.clone(),
            subscriptions: self.subscriptions.clone(),
        };
        // Commands are taken from the queue in chunks: one wake-up per chunk, not per event.
        let mut commands = Vec::with_capacity(RECV_CHUNK);
        loop {
            let deadline = self.batcher.next_deadline();
            tokio::select! {
                received = rx.recv_many(&mut commands, RECV_CHUNK) => {
                    if received == 0 {
                        self.write_all().await;
                        return;
                    }
                    if self.take(&mut commands).await == Taken::Shutdown {
                        // Later sends fail; what was queued before is still received.
                        rx.close();
                    }
                }
                () = sleep_until(deadline) => {
                    for batch in self.batcher.due(Instant::now()) {
                        self.close(batch).await;
                    }
                }
                Some(ended) = self.appends.join_next_with_id(), if !self.appends.is_empty() => {
                    self.ended(ended);
                    self.start_waiting();
                }
            }
        }
    }

    /// Handles (and drains) commands taken off the queue together, in order.
    ///
    /// Queue room is given back as the events are handed on in closed batches (and, at the
    /// end, for the events left in open batches), not for the whole chunk up front: closing a
    /// batch may wait for appends (the backpressure), and meanwhile the commands not batched
    /// yet, and the closed batches not handed on yet, go on holding their room, or the queue
    /// would hold up to twice its capacity.
    async fn take(&mut self, commands: &mut Vec<Command>) -> Taken {
        // One clock read per chunk: its events arrived together.
        let now = Instant::now();
        let mut owed = 0;
        let mut taken = Taken::Commands;
        for command in commands.drain(..) {
            owed += command.events();
            match command {
                Command::Event(workspace, event, sender) => {
                    if let Some(batch) = self.batcher.push(workspace, event, sender, now) {
                        self.give_room(&mut owed, batch.events.len());
                        self.close(batch).await;
                    }
                }
                Command::Events(workspace, events, sender) => {
                    for batch in self.batcher.push_many(workspace, events, sender, now) {
                        self.give_room(&mut owed, batch.events.len());
                        self.close(batch).await;
                    }
                }
                Command::Flush(ack) => {
                    self.give_room(&mut owed, usize::MAX);
                    self.write_all().await;
                    // A flush cancelled meanwhile no longer waits for the answer.
                    let _ = ack.send(());
                }
                Command::Shutdown => taken = Taken::Shutdown,
            }
        }
        self.give_room(&mut owed, usize::MAX);
        taken
    }

    /// Gives back the queue room of up to `events` of the `owed` events taken off the queue.
    fn give_room(&self, owed: &mut usize, events: usize) {
        let given = events.min(*owed);
        if given > 0 {
            self.room.give_back(given);
            *owed -= given;
        }
    }

    /// Hands a closed batch to an append task, or has it wait (joined to the batch waiting
    /// before it when it can be) while every append slot is taken. Once more events wait than
    /// one joined batch holds, waits for appends to end, which holds the queue, so senders
    /// feel the backpressure.
    async fn close(&mut self, batch: Batch) {
        self.waiting.push(batch);
        self.start_waiting();
        while self.waiting.is_over() {
            self.join_one().await;
            self.start_waiting();
        }
    }

    /// Starts the waiting batches, oldest first, while fewer appends run than allowed. A batch
    /// that shares an event id with one being appended is held back (see [`IdsInFlight`]: of
    /// two writes of one id, the first sent is the one the store keeps), and so are the later
    /// batches of its workspace; other workspaces' batches go past it.
    fn start_waiting(&mut self) {
        let mut held: Vec<WorkspaceId> = Vec::new();
        let mut at = 0;
        while self.appends.len() < self.max_appends
            && let Some(next) = self.waiting.get(at)
        {
            if held.contains(&next.workspace) {
                at += 1;
                continue;
            }
            // With one append at a time, appends cannot overlap.
            let prints = (self.max_appends > 1).then(|| fingerprints(&next.events));
            if let Some(prints) = &prints
                && self.ids_in_flight.shares_an_id(&next.workspace, prints)
            {
                held.push(next.workspace.clone());
                at += 1;
                continue;
            }
            let Some(batch) = self.waiting.take(at) else {
                return;
            };
            let depths = Depths {
                queue: self.room.used(),
                pending: self.batcher.pending() + self.waiting.events(),
            };
            let workspace = batch.workspace.clone();
            let appender = self.appender.clone();
            let turn = self.turns.next();
            let task = self
                .appends
                .spawn(async move { appender.write(batch, depths, turn).await });
            if let Some(prints) = prints {
                self.ids_in_flight.insert(task.id(), workspace, prints);
            }
        }
    }

    /// Writes every open and waiting batch and waits for every append in flight to end.
    async fn write_all(&mut self) {
        for batch in self.batcher.drain() {
            self.waiting.push(batch);
        }
        loop {
            self.start_waiting();
            if self.appends.is_empty() {
                // Nothing runs, so nothing waits either: `start_waiting` would have started it.
                return;
            }
            self.join_one().await;
        }
    }

    async fn join_one(&mut self) {
        if let Some(ended) = self.appends.join_next_with_id().await {
            self.ended(ended);
        }
    }

    /// Forgets the batch of an append task that has ended, and logs an abnormal end.
    fn ended(&mut self, ended: Result<(task::Id, ()), task::JoinError>) {
        match ended {
            Ok((task, ())) => self.ids_in_flight.remove(task),
            Err(e) => {
                self.ids_in_flight.remove(e.id());
                tracing::error!(error = %e, "an append task ended abnormally");
            }
        }
    }
}

/// Most commands taken from the queue at once.
const RECV_CHUNK: usize = 1_024;

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
