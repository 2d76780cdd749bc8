//! [`FreshnessSource`]: up to which instant the data a report reads is complete.

use std::fmt::Debug;

use crate::time::Timestamp;

/// Says up to which instant ingested data is complete: every event the pipeline accepted
/// (its `received_at`) strictly before the returned instant is already stored and visible,
/// or was given up on and reported as such (the [`Ingestor`](crate::ingest::Ingestor) counts
/// a batch given up, failed every retry or refused for good, in `IngestStats::failed` and in
/// its batch reports, rather than hold every later report back for it).
///
/// The batching [`Ingestor`](crate::ingest::Ingestor) hands one out through
/// `Ingestor::freshness`; a host whose events arrive some other way can implement it itself.
/// [`Reports::with_freshness`](super::Reports::with_freshness) reads it before each report
/// asks the store, so the watermark a report carries is never later than what it saw.
pub trait FreshnessSource: Debug + Send + Sync + 'static {
    /// The watermark: everything accepted before this instant has been stored (or given up
    /// on and reported).
    fn complete_up_to(&self) -> Timestamp;

    /// The same account in the time events occurred: no event accepted and not yet stored
    /// (nor given up on) occurred before the returned instant. A funnel reads it to tell a
    /// customer whose conversion may still be waiting (in progress) from one who dropped.
    ///
    /// By default [`complete_up_to`](Self::complete_up_to), which is right where events are
    /// received as they occur. Where they may arrive late, a source that knows the earliest
    /// occurrence it still holds returns it: the [`Ingestor`](crate::ingest::Ingestor)'s
    /// does, so a conversion sent late is not judged missing while it waits.
    fn earliest_waiting_occurrence(&self) -> Timestamp {
        self.complete_up_to()
    }
}
