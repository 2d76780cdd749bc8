//! The ingestion pipeline: validate at once, batch by size and age, append with retries,
//! apply backpressure, flush everything accepted on shutdown.
//!
//! ```
//! use std::sync::Arc;
//! use engagement_core::ingest::{IngestConfig, Ingestor};
//! use engagement_core::{CustomerId, Event, EventStore, FixedClock, ReferenceStore, WorkspaceId, names};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = Arc::new(ReferenceStore::default());
//! let now = "2026-11-20T12:00:00Z".parse()?;
//! let ingestor = Ingestor::start(store.clone(), Arc::new(FixedClock::new(now)), IngestConfig::default());
//! let ws = WorkspaceId::new("acme")?;
//! ingestor.send(&ws, Event::new("e1", CustomerId(7), names::PAGE_VIEWED, now)).await?;
//! // A bad event is refused at once and never queued.
//! assert!(ingestor.send(&ws, Event::new("e2", CustomerId(7), " ", now)).await.is_err());
//!
//! let stats = ingestor.shutdown().await;
//! assert_eq!((stats.accepted, stats.inserted), (1, 1));
//! assert!(store.event(&ws, &"e1".into()).await?.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batcher;
mod config;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use batcher::{Batch, Batcher};
pub use config::{IngestConfig, RetryPolicy};

use crate::error::{Error, Result};
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;
use crate::store::EventStore;
use crate::store::query::AppendOutcome;
use crate::time::Clock;

/// What happened to one batch.
#[derive(Debug, Clone)]
pub struct BatchReport {
    /// The workspace written to.
    pub workspace: WorkspaceId,
    /// Events in the batch.
    pub events: usize,
    /// Append attempts made (1 when the first succeeded).
    pub attempts: u32,
    /// Time from the batch being closed to it being stored (or given up).
    pub latency: Duration,
    /// The store's outcome, or the last error once every attempt failed.
    pub result: std::result::Result<AppendOutcome, Arc<Error>>,
}

/// Running totals since the ingestor started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Events that passed validation and were queued.
    pub accepted: u64,
    /// Events newly stored.
    pub inserted: u64,
    /// Events whose id was already stored with the same payload.
    pub duplicates: u64,
    /// Events whose id was already stored with another payload (the first write was kept).
    pub conflicts: u64,
    /// Events of batches that still failed after every retry.
    pub failed: u64,
    /// Batches written (or given up).
    pub batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    inserted: AtomicU64,
    duplicates: AtomicU64,
    conflicts: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> IngestStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IngestStats {
            accepted: get(&self.accepted),
            inserted: get(&self.inserted),
            duplicates: get(&self.duplicates),
            conflicts: get(&self.conflicts),
            failed: get(&self.failed),
            batches: get(&self.batches),
        }
    }
}

#[allow(
    clippy::large_enum_variant,
    reason = "events are the hot path; boxing each one would add an allocation per event"
)]
enum Command {
    Event(WorkspaceId, Event),
    Flush(oneshot::Sender<()>),
}

/// Accepts events one at a time and writes them to the store in batches.
///
/// [`send`](Self::send) validates the event against [`IngestConfig::limits`] and stamps its
/// `received_at`; a bad event is refused there and then, nothing queued. Accepted events are
/// grouped per workspace and appended when a batch reaches [`IngestConfig::max_batch`] events or
/// its oldest event has waited [`IngestConfig::max_age`]. Failed appends are retried with
/// backoff (appends are idempotent, so a retry never counts twice). The queue is bounded: `send`
/// waits for room, [`try_send`](Self::try_send) returns [`Error::Full`]. [`shutdown`](Self::shutdown)
/// writes everything accepted before it returns; dropping the ingestor closes the queue and the
/// background task still writes what it holds.
#[derive(Debug)]
pub struct Ingestor {
    tx: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    clock: Arc<dyn Clock>,
    config: IngestConfig,
    counters: Arc<Counters>,
    reports: broadcast::Sender<BatchReport>,
}

impl Ingestor {
    /// Starts the background task on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime (as `tokio::spawn` does).
    pub fn start(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, config: IngestConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let (reports, _) = broadcast::channel(1_024);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            store,
            batcher: Batcher::new(config.max_batch, config.max_age),
            retry: config.retry,
            counters: counters.clone(),
            reports: reports.clone(),
        };
        let task = tokio::spawn(worker.run(rx));
        Self {
            tx,
            task,
            clock,
            config,
            counters,
            reports,
        }
    }

    fn accept(&self, mut event: Event) -> Result<Event> {
        let now = self.clock.now();
        self.config.limits.validate_event(0, &event, now)?;
        event.received_at = now;
        Ok(event)
    }

    /// Validates and queues one event, waiting while the queue is full.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for an event that fails validation (nothing is queued);
    /// [`Error::Closed`] when the ingestor has stopped.
    pub async fn send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        let event = self.accept(event)?;
        self.tx
            .send(Command::Event(workspace.clone(), event))
            .await
            .map_err(|_| Error::Closed)?;
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Validates and queues one event without waiting.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for an event that fails validation; [`Error::Full`] when the
    /// queue is full (the event is not queued; retry later); [`Error::Closed`] when the
    /// ingestor has stopped.
    pub fn try_send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        let event = self.accept(event)?;
        self.tx
            .try_send(Command::Event(workspace.clone(), event))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Error::Full {
                    capacity: self.config.queue_capacity,
                },
                mpsc::error::TrySendError::Closed(_) => Error::Closed,
            })?;
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes every event accepted so far, whatever the age of its batch, and waits for it.
    ///
    /// # Errors
    /// [`Error::Closed`] when the ingestor has stopped.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Flush(ack))
            .await
            .map_err(|_| Error::Closed)?;
        done.await.map_err(|_| Error::Closed)
    }

    /// Events accepted but not yet handed to the store's `append`.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Running totals.
    pub fn stats(&self) -> IngestStats {
        self.counters.snapshot()
    }

    /// A receiver of one [`BatchReport`] per batch written from now on (a slow receiver misses
    /// the oldest reports rather than slowing ingestion).
    pub fn subscribe(&self) -> broadcast::Receiver<BatchReport> {
        self.reports.subscribe()
    }

    /// Stops accepting, writes everything accepted, and returns the final totals.
    pub async fn shutdown(self) -> IngestStats {
        let Self {
            tx, task, counters, ..
        } = self;
        drop(tx);
        if let Err(e) = task.await {
            tracing::error!(error = %e, "the ingestion task ended abnormally");
        }
        counters.snapshot()
    }
}

struct Worker {
    store: Arc<dyn EventStore>,
    batcher: Batcher,
    retry: RetryPolicy,
    counters: Arc<Counters>,
    reports: broadcast::Sender<BatchReport>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let deadline = self.batcher.next_deadline();
            let command = tokio::select! {
                command = rx.recv() => command,
                () = sleep_until(deadline) => {
                    for batch in self.batcher.due(Instant::now()) {
                        self.write(batch).await;
                    }
                    continue;
                }
            };
            match command {
                Some(Command::Event(workspace, event)) => {
                    if let Some(batch) = self.batcher.push(workspace, event, Instant::now()) {
                        self.write(batch).await;
                    }
                }
                Some(Command::Flush(ack)) => {
                    self.write_all().await;
                    let _ = ack.send(());
                }
                None => {
                    self.write_all().await;
                    return;
                }
            }
        }
    }

    async fn write_all(&mut self) {
        for batch in self.batcher.drain() {
            self.write(batch).await;
        }
    }

    async fn write(&self, (workspace, events): Batch) {
        let started = Instant::now();
        let span =
            tracing::info_span!("ingest.flush", workspace = %workspace, events = events.len());
        let _enter = span.enter();
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            match self.store.append(&workspace, &events).await {
                Ok(outcome) => break Ok(outcome),
                Err(error) => match self.retry.backoff(attempts) {
                    Some(wait) => {
                        tracing::warn!(%error, attempts, ?wait, "append failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    None => break Err(Arc::new(error)),
                },
            }
        };
        let c = &self.counters;
        c.batches.fetch_add(1, Ordering::Relaxed);
        match &result {
            Ok(o) => {
                c.inserted.fetch_add(o.inserted, Ordering::Relaxed);
                c.duplicates.fetch_add(o.duplicates, Ordering::Relaxed);
                c.conflicts
                    .fetch_add(o.conflicts.len() as u64, Ordering::Relaxed);
            }
            Err(error) => {
                c.failed.fetch_add(events.len() as u64, Ordering::Relaxed);
                tracing::error!(%error, attempts, "append failed after every retry; batch dropped");
            }
        }
        let latency = started.elapsed();
        tracing::debug!(
            latency_ms = latency.as_secs_f64() * 1e3,
            pending = self.batcher.pending(),
            "batch written"
        );
        let _ = self.reports.send(BatchReport {
            workspace,
            events: events.len(),
            attempts,
            latency,
            result,
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
