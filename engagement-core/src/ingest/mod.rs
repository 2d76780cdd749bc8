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
mod freshness;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use batcher::{Batch, Batcher};
pub use config::{IngestConfig, RetryPolicy};
pub use freshness::Freshness;
use freshness::InFlight;

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
    /// The longest time one batch took to be written, retries included, in microseconds.
    pub max_flush_latency_us: u64,
    /// The time all batches took to be written, added up, in microseconds (divide by
    /// `batches` for the mean).
    pub total_flush_latency_us: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    inserted: AtomicU64,
    duplicates: AtomicU64,
    conflicts: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
    max_flush_latency_us: AtomicU64,
    total_flush_latency_us: AtomicU64,
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
            max_flush_latency_us: get(&self.max_flush_latency_us),
            total_flush_latency_us: get(&self.total_flush_latency_us),
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
    in_flight: Arc<InFlight>,
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
        let in_flight = Arc::new(InFlight::default());
        let worker = Worker {
            store,
            batcher: Batcher::new(config.max_batch, config.max_age),
            retry: config.retry,
            counters: counters.clone(),
            reports: reports.clone(),
            in_flight: in_flight.clone(),
        };
        let task = tokio::spawn(worker.run(rx));
        Self {
            tx,
            task,
            clock,
            config,
            counters,
            reports,
            in_flight,
        }
    }

    /// Validates the event and stamps its `received_at`, registering it as in flight.
    fn accept(&self, mut event: Event) -> Result<Event> {
        self.config
            .limits
            .validate_event(0, &event, self.clock.now())?;
        event.received_at = self.in_flight.admit(&*self.clock);
        Ok(event)
    }

    /// Validates and queues one event, waiting while the queue is full.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for an event that fails validation (nothing is queued);
    /// [`Error::Closed`] when the ingestor has stopped.
    pub async fn send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        let event = self.accept(event)?;
        let received_at = event.received_at;
        if self
            .tx
            .send(Command::Event(workspace.clone(), event))
            .await
            .is_err()
        {
            self.in_flight.release(received_at);
            return Err(Error::Closed);
        }
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
        let received_at = event.received_at;
        self.tx
            .try_send(Command::Event(workspace.clone(), event))
            .inspect_err(|_| self.in_flight.release(received_at))
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

    /// A handle on the freshness watermark, to give to
    /// [`Reports::with_freshness`](crate::report::Reports::with_freshness). It stays valid
    /// (and keeps reading "now" once everything is stored) after the ingestor shuts down.
    pub fn freshness(&self) -> Freshness {
        Freshness {
            in_flight: self.in_flight.clone(),
            clock: self.clock.clone(),
        }
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
    in_flight: Arc<InFlight>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        // Commands are taken from the queue in chunks: one wake-up per chunk, not per event.
        let mut commands = Vec::with_capacity(RECV_CHUNK);
        loop {
            let deadline = self.batcher.next_deadline();
            let received = tokio::select! {
                n = rx.recv_many(&mut commands, RECV_CHUNK) => n,
                () = sleep_until(deadline) => {
                    for batch in self.batcher.due(Instant::now()) {
                        self.write(batch, rx.len()).await;
                    }
                    continue;
                }
            };
            if received == 0 {
                self.write_all(0).await;
                return;
            }
            for command in commands.drain(..) {
                match command {
                    Command::Event(workspace, event) => {
                        if let Some(batch) = self.batcher.push(workspace, event, Instant::now()) {
                            self.write(batch, rx.len()).await;
                        }
                    }
                    Command::Flush(ack) => {
                        self.write_all(rx.len()).await;
                        let _ = ack.send(());
                    }
                }
            }
        }
    }

    async fn write_all(&mut self, queue_depth: usize) {
        for batch in self.batcher.drain() {
            self.write(batch, queue_depth).await;
        }
    }

    /// Appends one batch with retries, then accounts for it: counters, freshness, a
    /// [`BatchReport`], and one `tracing` event carrying the pipeline's metrics.
    async fn write(&self, (workspace, events): Batch, queue_depth: usize) {
        let started = Instant::now();
        let span = tracing::debug_span!(
            "ingest.flush",
            workspace = %workspace,
            batch_size = events.len(),
            queue_depth,
        );
        let (attempts, result) =
            tracing::Instrument::instrument(self.append(&workspace, &events), span.clone()).await;
        let latency = started.elapsed();
        self.in_flight.release_all(&events);
        self.account(&events, &result, latency);
        span.in_scope(|| {
            tracing::debug!(
                histogram.ingest_batch_size = events.len() as u64,
                histogram.ingest_flush_latency_ms = latency.as_secs_f64() * 1e3,
                histogram.ingest_queue_depth = queue_depth as u64,
                monotonic_counter.ingest_events_written = events.len() as u64,
                attempts,
                pending = self.batcher.pending(),
                ok = result.is_ok(),
                "batch written"
            );
        });
        let _ = self.reports.send(BatchReport {
            workspace,
            events: events.len(),
            attempts,
            latency,
            result,
        });
    }

    /// Appends with exponential backoff until it succeeds or the policy gives up.
    async fn append(
        &self,
        workspace: &WorkspaceId,
        events: &[Event],
    ) -> (u32, std::result::Result<AppendOutcome, Arc<Error>>) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.store.append(workspace, events).await {
                Ok(outcome) => return (attempts, Ok(outcome)),
                Err(error) => match self.retry.backoff(attempts) {
                    Some(wait) => {
                        tracing::warn!(%error, attempts, ?wait, "append failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    None => {
                        tracing::error!(%error, attempts, "append failed after every retry; batch dropped");
                        return (attempts, Err(Arc::new(error)));
                    }
                },
            }
        }
    }

    fn account(
        &self,
        events: &[Event],
        result: &std::result::Result<AppendOutcome, Arc<Error>>,
        latency: Duration,
    ) {
        let c = &self.counters;
        c.batches.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(o) => {
                c.inserted.fetch_add(o.inserted, Ordering::Relaxed);
                c.duplicates.fetch_add(o.duplicates, Ordering::Relaxed);
                c.conflicts
                    .fetch_add(o.conflicts.len() as u64, Ordering::Relaxed);
            }
            Err(_) => {
                c.failed.fetch_add(events.len() as u64, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        c.total_flush_latency_us
            .fetch_add(micros, Ordering::Relaxed);
        c.max_flush_latency_us.fetch_max(micros, Ordering::Relaxed);
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
