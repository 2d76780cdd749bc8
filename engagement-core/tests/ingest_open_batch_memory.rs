//! Memory held by open batches grows with the events in them, not with `max_batch` per
//! workspace.

mod support;

use std::sync::Arc;
use std::time::Duration;

use engagement_core::ingest::{IngestConfig, Ingestor};
use engagement_core::{
    CustomerId, Event, FixedClock, ReferenceStore, Timestamp, WorkspaceId, names,
};
use support::Faulty;
use tokio::sync::Semaphore;

#[path = "support/heap.rs"]
#[allow(
    dead_code,
    reason = "only `held` is used here; `peak_during` serves import.rs"
)]
mod heap;

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

/// One event in each of 500 workspaces, waiting in their open batches (default `max_batch`
/// of 1,000): about 500 events' worth of memory, not 500 × 1,000 events' worth.
#[tokio::test(flavor = "current_thread")]
async fn an_open_batch_holds_memory_for_its_events_not_for_max_batch() {
    let now: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
    let store = Arc::new(ReferenceStore::default());
    let config = IngestConfig {
        max_age: Duration::from_secs(3_600),
        ..IngestConfig::default()
    };
    let ingestor = Ingestor::start(store, Arc::new(FixedClock::new(now)), config).unwrap();
    let workspaces: Vec<WorkspaceId> = (0..500)
        .map(|i| WorkspaceId::new(format!("tenant-{i}")).unwrap())
        .collect();
    let events: Vec<Event> = (0..500)
        .map(|i| Event::new(format!("e{i}"), CustomerId(1), names::PAGE_VIEWED, now))
        .collect();
    let before = heap::held();
    for (ws, event) in workspaces.iter().zip(events) {
        ingestor.send(ws, event).await.unwrap();
    }
    while ingestor.queued() > 0 {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    let held = heap::held() - before;
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.inserted, 500);
    assert!(
        held < 16 << 20,
        "500 queued events hold {} MiB: each open batch reserves max_batch events",
        held >> 20
    );
}

/// Batches waiting for a stuck append, joined two by two (50 workspaces sending two events
/// each, `max_batch` 1): about 100 events' worth of memory, not 50 × `max_joined_batch`.
#[tokio::test(flavor = "current_thread")]
async fn a_joined_batch_holds_memory_for_its_events_not_for_max_joined_batch() {
    let now: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
    let store = Arc::new(Faulty {
        gate: Some(Semaphore::new(0)),
        ..Faulty::default()
    });
    let config = IngestConfig {
        max_batch: 1,
        max_concurrent_appends: 1,
        ..IngestConfig::default()
    };
    let ingestor = Ingestor::start(store.clone(), Arc::new(FixedClock::new(now)), config).unwrap();
    let event = |i: usize| Event::new(format!("e{i}"), CustomerId(1), names::PAGE_VIEWED, now);
    let first = WorkspaceId::new("first").unwrap();
    ingestor.send(&first, event(0)).await.unwrap();
    let workspaces: Vec<WorkspaceId> = (0..50)
        .map(|i| WorkspaceId::new(format!("tenant-{i}")).unwrap())
        .collect();
    let events: Vec<Event> = (1..=100).map(event).collect();
    let before = heap::held();
    for (i, event) in events.into_iter().enumerate() {
        ingestor.send(&workspaces[i / 2], event).await.unwrap();
    }
    while ingestor.queued() > 0 {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    let held = heap::held() - before;
    store.gate.as_ref().unwrap().add_permits(1_000);
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.inserted, 101);
    assert!(
        held < 16 << 20,
        "100 waiting events hold {} MiB: each joined batch reserves max_joined_batch events",
        held >> 20
    );
}
