//! What the ingestor reports: one [`BatchReport`] per batch and running [`IngestStats`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::model::ids::WorkspaceId;
use crate::store::query::AppendOutcome;

/// What happened to one batch (one append: batches joined while they waited are one).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchReport {
    /// The workspace written to.
    pub workspace: WorkspaceId,
    /// Events in the batch.
    pub events: usize,
    /// Append attempts made (1 when the first succeeded).
    pub attempts: u32,
    /// Time from the batch being handed to an append to it being stored (or given up).
    pub latency: Duration,
    /// The store's outcome, or the last error once every attempt failed.
    pub result: std::result::Result<AppendOutcome, Arc<Error>>,
}

/// Running totals since the ingestor started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IngestStats {
    /// Events that passed validation and were queued.
    pub accepted: u64,
    /// Events newly stored.
    pub inserted: u64,
    /// Events whose id was already stored with the same payload.
    pub duplicates: u64,
    /// Events whose id was already stored with another payload (the first write was kept).
    pub conflicts: u64,
    /// Events of batches given up: failed after every retry, or refused for good.
    pub failed: u64,
    /// Batches written (or given up), joined ones counted once.
    pub batches: u64,
    /// The most appends that were in flight at once.
    pub max_appends_in_flight: u64,
    /// The longest time one batch took to be written, retries included, in microseconds.
    pub max_flush_latency_us: u64,
    /// The time all batches took to be written, added up, in microseconds (divide by
    /// `batches` for the mean).
    pub total_flush_latency_us: u64,
}

/// The shared, lock-free form of [`IngestStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    inserted: AtomicU64,
    duplicates: AtomicU64,
    conflicts: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
    appends_in_flight: AtomicU64,
    max_appends_in_flight: AtomicU64,
    max_flush_latency_us: AtomicU64,
    total_flush_latency_us: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> IngestStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IngestStats {
            accepted: get(&self.accepted),
            inserted: get(&self.inserted),
            duplicates: get(&self.duplicates),
            conflicts: get(&self.conflicts),
            failed: get(&self.failed),
            batches: get(&self.batches),
            max_appends_in_flight: get(&self.max_appends_in_flight),
            max_flush_latency_us: get(&self.max_flush_latency_us),
            total_flush_latency_us: get(&self.total_flush_latency_us),
        }
    }

    /// Counts one more append in flight; returns how many are in flight now.
    pub(crate) fn append_started(&self) -> u64 {
        let now = self.appends_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_appends_in_flight.fetch_max(now, Ordering::Relaxed);
        now
    }

    /// Accounts for a batch whose append ended (stored or given up).
    pub(crate) fn append_ended(
        &self,
        events: usize,
        result: &std::result::Result<AppendOutcome, Arc<Error>>,
        latency: Duration,
    ) {
        self.appends_in_flight.fetch_sub(1, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(o) => {
                self.inserted.fetch_add(o.inserted, Ordering::Relaxed);
                self.duplicates.fetch_add(o.duplicates, Ordering::Relaxed);
                self.conflicts
                    .fetch_add(o.conflicts.len() as u64, Ordering::Relaxed);
            }
            Err(_) => {
                self.failed.fetch_add(events as u64, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.total_flush_latency_us
            .fetch_add(micros, Ordering::Relaxed);
        self.max_flush_latency_us
            .fetch_max(micros, Ordering::Relaxed);
    }
}
