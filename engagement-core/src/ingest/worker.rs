//! The background task: takes commands off the queue, builds batches, and hands each closed
//! batch to an append task, with at most [`IngestConfig::max_concurrent_appends`] in flight.
//!
//! [`IngestConfig::max_concurrent_appends`]: super::IngestConfig::max_concurrent_appends

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::appender::{Appender, Depths};
use super::batcher::{Batch, Batcher};
use super::turn::Turns;
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;

#[allow(
    clippy::large_enum_variant,
    reason = "events are the hot path; boxing each one would add an allocation per event"
)]
pub(crate) enum Command {
    Event(WorkspaceId, Event),
    Events(WorkspaceId, Vec<Event>),
    Flush(oneshot::Sender<()>),
}

impl Command {
    /// Events the command holds, i.e. queue room it frees once taken.
    fn events(&self) -> usize {
        match self {
            Self::Event(..) => 1,
            Self::Events(_, events) => events.len(),
            Self::Flush(_) => 0,
        }
    }
}

/// Room in the queue, one permit per event. Closed when the worker ends, so waiting senders
/// learn that it has stopped.
#[derive(Debug)]
pub(crate) struct Room {
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) capacity: usize,
}

impl Room {
    /// Events queued and not yet taken into a batch.
    pub(crate) fn used(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }
}

pub(crate) struct Worker {
    pub(crate) batcher: Batcher,
    pub(crate) appender: Arc<Appender>,
    pub(crate) max_appends: usize,
    pub(crate) room: Arc<Room>,
    pub(crate) appends: JoinSet<()>,
    /// The order in which the appends start: the order their batches closed.
    pub(crate) turns: Turns,
}

/// Closes the queue's room when the worker ends, however it ends.
struct CloseOnDrop(Arc<Room>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.permits.close();
    }
}

impl Worker {
    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let _close = CloseOnDrop(self.room.clone());
        // Commands are taken from the queue in chunks: one wake-up per chunk, not per event.
        let mut commands = Vec::with_capacity(RECV_CHUNK);
        loop {
            let deadline = self.batcher.next_deadline();
            let received = tokio::select! {
                n = rx.recv_many(&mut commands, RECV_CHUNK) => n,
                () = sleep_until(deadline) => {
                    for batch in self.batcher.due(Instant::now()) {
                        self.dispatch(batch).await;
                    }
                    continue;
                }
            };
            if received == 0 {
                self.write_all().await;
                return;
            }
            self.room
                .permits
                .add_permits(commands.iter().map(Command::events).sum());
            // One clock read per chunk: its events arrived together.
            let now = Instant::now();
            for command in commands.drain(..) {
                match command {
                    Command::Event(workspace, event) => {
                        if let Some(batch) = self.batcher.push(workspace, event, now) {
                            self.dispatch(batch).await;
                        }
                    }
                    Command::Events(workspace, events) => {
                        for batch in self.batcher.push_many(workspace, events, now) {
                            self.dispatch(batch).await;
                        }
                    }
                    Command::Flush(ack) => {
                        self.write_all().await;
                        let _ = ack.send(());
                    }
                }
            }
        }
    }

    /// Hands a batch to a new append task, first waiting for one to end when the limit is
    /// reached (which holds the queue, so senders feel the backpressure).
    async fn dispatch(&mut self, batch: Batch) {
        while self.appends.len() >= self.max_appends {
            self.join_one().await;
        }
        let depths = Depths {
            queue: self.room.used(),
            pending: self.batcher.pending(),
        };
        let appender = self.appender.clone();
        let turn = self.turns.next();
        self.appends
            .spawn(async move { appender.write(batch, depths, turn).await });
    }

    /// Writes every open batch and waits for every append in flight to end.
    async fn write_all(&mut self) {
        for batch in self.batcher.drain() {
            self.dispatch(batch).await;
        }
        while !self.appends.is_empty() {
            self.join_one().await;
        }
    }

    async fn join_one(&mut self) {
        if let Some(Err(e)) = self.appends.join_next().await {
            tracing::error!(error = %e, "an append task ended abnormally");
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
