//! Writing one closed batch: append with retries, then account for it (counters, freshness,
//! a [`BatchReport`], one `tracing` event with the pipeline's metrics).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::batcher::Batch;
use super::config::RetryPolicy;
use super::freshness::InFlight;
use super::losses::Losses;
use super::stats::{BatchReport, Counters};
use super::turn::Turn;
use crate::error::{Error, Result};
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;
use crate::store::EventStore;
use crate::store::query::AppendOutcome;

/// What every append task shares.
pub(crate) struct Appender {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) retry: RetryPolicy,
    pub(crate) counters: Arc<Counters>,
    pub(crate) reports: broadcast::Sender<BatchReport>,
    pub(crate) in_flight: Arc<InFlight>,
    /// The batches given up, for the flushes to learn of.
    pub(crate) losses: Arc<Losses>,
}

/// The state of the pipeline when a batch was handed to an append, for its metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Depths {
    /// Events queued and not yet taken into a batch.
    pub(crate) queue: usize,
    /// Events in batches still open or waiting for an append.
    pub(crate) pending: usize,
}

impl Appender {
    /// Appends one batch with retries once its turn has come (see [`Turn`]), then accounts
    /// for it.
    pub(crate) async fn write(&self, batch: Batch, depths: Depths, turn: Turn) {
        turn.run(self.write_now(batch, depths)).await;
    }

    /// Appends one batch with retries, then accounts for it.
    async fn write_now(&self, batch: Batch, depths: Depths) {
        let Batch {
            workspace,
            events,
            senders,
        } = batch;
        let started = Instant::now();
        let appends_in_flight = self.counters.append_started();
        let span = tracing::debug_span!(
            "ingest.flush",
            workspace = %workspace,
            batch_size = events.len(),
            queue_depth = depths.queue,
        );
        let (attempts, result) =
            tracing::Instrument::instrument(self.append(&workspace, &events), span.clone()).await;
        let latency = started.elapsed();
        self.in_flight.release_all(&events);
        self.counters.append_ended(events.len(), &result, latency);
        if let Err(error) = &result {
            self.losses.record(events.len(), senders, error.clone());
        }
        let (written, failed) = if result.is_ok() {
            (events.len() as u64, 0)
        } else {
            (0, events.len() as u64)
        };
        span.in_scope(|| {
            tracing::debug!(
                histogram.ingest_batch_size = events.len() as u64,
                histogram.ingest_flush_latency_ms = latency.as_secs_f64() * 1e3,
                histogram.ingest_queue_depth = depths.queue as u64,
                histogram.ingest_appends_in_flight = appends_in_flight,
                monotonic_counter.ingest_events_written = written,
                monotonic_counter.ingest_events_failed = failed,
                attempts,
                pending = depths.pending,
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

    /// Appends with exponential backoff until it succeeds, fails in a way no retry changes
    /// ([`Error::is_retryable`]), or the policy gives up. An attempt that panics counts as a
    /// failed one that may pass (see [`attempt`](Self::attempt)).
    async fn append(
        &self,
        workspace: &WorkspaceId,
        events: &[Event],
    ) -> (u32, std::result::Result<AppendOutcome, Arc<Error>>) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(workspace, events).await {
                Ok(outcome) => return (attempts, Ok(outcome)),
                Err(error) if !error.is_retryable() => {
                    tracing::error!(%error, attempts, "append refused for good; batch dropped");
                    return (attempts, Err(Arc::new(error)));
                }
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

    /// One call of the store's `append`, a panic inside it turned into an
    /// [`Error::Backend`] naming it: otherwise the panic would end the append task before
    /// the batch is accounted for, losing it without a report or a `failed` count and pinning
    /// the watermark at its oldest event for the life of the ingestor.
    async fn attempt(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<AppendOutcome> {
        let call = AssertUnwindSafe(self.store.append(workspace, events));
        call.catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(Error::backend("ingest", AppendPanicked::from(panic))))
    }
}

/// The error an append that panicked is reported with.
#[derive(Debug, thiserror::Error)]
#[error("the store's append panicked: {0}")]
struct AppendPanicked(String);

impl From<Box<dyn Any + Send>> for AppendPanicked {
    fn from(panic: Box<dyn Any + Send>) -> Self {
        let message = match panic.downcast::<String>() {
            Ok(message) => *message,
            Err(panic) => panic
                .downcast_ref::<&str>()
                .map_or("(no message)", |message| message)
                .to_owned(),
        };
        Self(message)
    }
}
