//! The ingestion pipeline reports its metrics through `tracing`: batch sizes, queue depth,
//! flush latency and events written or given up, one event per batch.

mod support;

use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

use engagement_core::ingest::{IngestConfig, IngestStats, Ingestor, RetryPolicy};
use engagement_core::{CustomerId, Event, FixedClock, Timestamp, WorkspaceId, names};
use support::Faulty;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Metadata, Subscriber};

/// Fields of every event named "batch written", as text.
#[derive(Debug, Default, Clone)]
struct Recorder {
    batches: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &TracingEvent<'_>) {
        let mut fields = Fields(HashMap::new());
        event.record(&mut fields);
        if fields.0.get("message").map(String::as_str) == Some("batch written") {
            self.batches.lock().unwrap().push(fields.0);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Sends `events` events through an ingestor over `store` with `config`, shuts it down, and
/// returns the fields of every "batch written" event with the final stats.
fn run(
    store: Faulty,
    config: IngestConfig,
    events: usize,
) -> (Vec<HashMap<String, String>>, IngestStats) {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = runtime.block_on(async {
        let now: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        let ingestor =
            Ingestor::start(Arc::new(store), Arc::new(FixedClock::new(now)), config).unwrap();
        let ws = WorkspaceId::new("a").unwrap();
        for i in 0..events {
            let event = Event::new(format!("e{i}"), CustomerId(1), names::PAGE_VIEWED, now);
            ingestor.send(&ws, event).await.unwrap();
        }
        ingestor.shutdown().await
    });
    let batches = recorder.batches.lock().unwrap().clone();
    (batches, stats)
}

#[test]
fn every_batch_reports_its_size_queue_depth_and_latency() {
    let config = IngestConfig {
        max_batch: 40,
        ..IngestConfig::default()
    };
    let (batches, stats) = run(Faulty::default(), config, 100);
    let sizes: Vec<&str> = batches
        .iter()
        .map(|b| b["histogram.ingest_batch_size"].as_str())
        .collect();
    assert_eq!(sizes, ["40", "40", "20"]);
    let number = |batch: &HashMap<String, String>, key: &str| -> f64 {
        batch[key].parse().unwrap_or_else(|e| panic!("{key}: {e}"))
    };
    // Events queued behind a batch when it is written: never more than are left after it,
    // and the sender, which does not wait for appends, has queued some behind the first.
    let mut left = 100.0;
    let mut depths = Vec::new();
    for batch in &batches {
        left -= number(batch, "histogram.ingest_batch_size");
        let depth = number(batch, "histogram.ingest_queue_depth");
        assert!((0.0..=left).contains(&depth), "{depth} queued, {left} left");
        depths.push(depth);
    }
    assert!(depths[0] > 0.0, "{depths:?}");
    for batch in &batches {
        // The batch's own append is in flight while it is written.
        assert!(number(batch, "histogram.ingest_appends_in_flight") >= 1.0);
        // An append takes time: the latency is measured, not left at zero.
        assert!(number(batch, "histogram.ingest_flush_latency_ms") > 0.0);
        assert_eq!(batch["ok"], "true");
        assert_eq!(
            batch["monotonic_counter.ingest_events_written"],
            batch["histogram.ingest_batch_size"]
        );
        assert_eq!(batch["monotonic_counter.ingest_events_failed"], "0");
    }
    assert_eq!(stats.batches, 3);
    assert!(0 < stats.max_flush_latency_us);
    assert!(stats.max_flush_latency_us <= stats.total_flush_latency_us);
}

#[test]
fn a_batch_given_up_counts_as_failed_not_written() {
    let store = Faulty {
        failing_appends: AtomicU32::new(u32::MAX),
        ..Faulty::default()
    };
    let config = IngestConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..IngestConfig::default()
    };
    let (batches, stats) = run(store, config, 3);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["ok"], "false");
    assert_eq!(batches[0]["monotonic_counter.ingest_events_written"], "0");
    assert_eq!(batches[0]["monotonic_counter.ingest_events_failed"], "3");
    assert_eq!(stats.failed, 3);
}
