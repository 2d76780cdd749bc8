//! The ingestion pipeline: nothing accepted is lost, nothing is counted twice.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::TimeDelta;
use engagement_core::ingest::{BatchReport, IngestConfig, Ingestor, RetryPolicy};
use engagement_core::report::{EngagementRequest, EventLogRequest, FunnelRequest, Reports};
use engagement_core::{
    CustomerId, Error, Event, EventFilter, EventPageQuery, EventStore, FixedClock, RangeSpec, Role,
    TimeWindow, Timestamp, Viewer, WorkspaceId, names,
};
use support::Faulty;
use tokio::sync::{Semaphore, broadcast};

fn now() -> Timestamp {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::new(name).unwrap()
}

fn event(id: String, customer: i64) -> Event {
    Event::new(id, CustomerId(customer), names::PAGE_VIEWED, now())
}

async fn stored(store: &dyn EventStore, workspace: &WorkspaceId) -> u64 {
    let query = EventPageQuery {
        filter: EventFilter::new(TimeWindow::ALL),
        after: None,
        limit: 1,
    };
    store.event_page(workspace, &query).await.unwrap().total
}

fn start(store: Arc<Faulty>, config: IngestConfig) -> Ingestor {
    Ingestor::start(store, Arc::new(FixedClock::new(now())), config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_end_with_exact_counts_after_shutdown() {
    let store = Arc::new(Faulty::default());
    let ingestor = Arc::new(start(store.clone(), IngestConfig::default()));
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let ingestor = ingestor.clone();
            tokio::spawn(async move {
                for i in 0..1_000 {
                    let workspace = ws(if i % 2 == 0 { "even" } else { "odd" });
                    ingestor
                        .send(&workspace, event(format!("{task}-{i}"), task))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let ingestor = Arc::into_inner(ingestor).unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!(
        (
            stats.accepted,
            stats.inserted,
            stats.duplicates,
            stats.failed
        ),
        (16_000, 16_000, 0, 0)
    );
    assert_eq!(stored(&store.inner, &ws("even")).await, 8_000);
    assert_eq!(stored(&store.inner, &ws("odd")).await, 8_000);
}

#[tokio::test]
async fn a_resent_batch_is_not_counted_twice() {
    let store = Arc::new(Faulty::default());
    let ingestor = start(store.clone(), IngestConfig::default());
    for _round in 0..2 {
        for i in 0..10 {
            ingestor
                .send(&ws("a"), event(format!("e{i}"), 1))
                .await
                .unwrap();
        }
        ingestor.flush().await.unwrap();
    }
    let mut changed = event("e0".into(), 1);
    changed.page.path = "/other".into();
    ingestor.send(&ws("a"), changed).await.unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!(
        (stats.inserted, stats.duplicates, stats.conflicts),
        (10, 10, 1)
    );
    assert_eq!(stored(&store.inner, &ws("a")).await, 10);
}

#[tokio::test]
async fn transient_failures_are_retried_until_the_batch_lands() {
    let store = Arc::new(Faulty::default());
    store.failing_appends.store(2, Ordering::SeqCst);
    let config = IngestConfig {
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    let mut reports = ingestor.subscribe();
    ingestor.send(&ws("a"), event("x".into(), 1)).await.unwrap();
    ingestor.flush().await.unwrap();
    let report = reports.recv().await.unwrap();
    assert_eq!(report.attempts, 3);
    assert_eq!(report.result.as_ref().map(|o| o.inserted).ok(), Some(1));
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.failed), (1, 0));
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_batch_that_keeps_failing_is_reported_not_hidden() {
    let store = Arc::new(Faulty::default());
    store.failing_appends.store(u32::MAX, Ordering::SeqCst);
    let config = IngestConfig {
        retry: RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        },
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    let mut reports = ingestor.subscribe();
    ingestor.send(&ws("a"), event("x".into(), 1)).await.unwrap();
    ingestor.send(&ws("b"), event("y".into(), 1)).await.unwrap();
    // The flush that waited for the given-up batches says so, with the store's error.
    match ingestor.flush().await {
        Err(Error::NotWritten {
            events: 2,
            batches: 2,
            last,
        }) => assert!(matches!(*last, Error::Busy { .. }), "{last}"),
        other => panic!("expected NotWritten for two batches, got {other:?}"),
    }
    for _ in 0..2 {
        let report = reports.recv().await.unwrap();
        assert!(matches!(
            report.result.as_ref().map_err(|e| &**e),
            Err(Error::Busy { .. })
        ));
    }
    // Reported once: a flush with nothing given up since is `Ok`, and so is one whose
    // batch landed after an earlier one was given up.
    ingestor.flush().await.unwrap();
    store.failing_appends.store(0, Ordering::SeqCst);
    ingestor.send(&ws("a"), event("z".into(), 1)).await.unwrap();
    ingestor.flush().await.unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.failed, stats.inserted), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn batches_flush_by_age_without_being_asked() {
    let store = Arc::new(Faulty::default());
    let ingestor = start(store.clone(), IngestConfig::default());
    ingestor.send(&ws("a"), event("x".into(), 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        stored(&store.inner, &ws("a")).await,
        0,
        "not yet 250 ms old"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stored(&store.inner, &ws("a")).await, 1, "flushed by age");
    ingestor.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_refuses_try_send_and_loses_nothing_accepted() {
    let store = Arc::new(Faulty {
        gate: Some(Semaphore::new(0)),
        ..Faulty::default()
    });
    let config = IngestConfig {
        max_batch: 1,
        queue_capacity: 2,
        max_joined_batch: 1,
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..10 {
        match ingestor.try_send(&ws("a"), event(format!("e{i}"), 1)) {
            Ok(()) => accepted += 1,
            Err(Error::Full { capacity: 2 }) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
        tokio::task::yield_now().await;
    }
    assert!(refused > 0, "a stuck store must fill the bounded queue");
    if let Some(gate) = &store.gate {
        gate.add_permits(1_000);
    }
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.accepted, accepted);
    assert_eq!(stats.inserted, accepted);
    assert_eq!(stored(&store.inner, &ws("a")).await, accepted);
}

#[tokio::test]
async fn bad_events_are_refused_at_send() {
    let store = Arc::new(Faulty::default());
    let ingestor = start(store.clone(), IngestConfig::default());
    let mut blank = event("x".into(), 1);
    blank.name = "  ".into();
    assert!(matches!(
        ingestor.send(&ws("a"), blank).await,
        Err(Error::InvalidEvent { field: "name", .. })
    ));
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.accepted, 0);
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn dropping_the_ingestor_still_writes_what_it_accepted() {
    let store = Arc::new(Faulty::default());
    let ingestor = start(store.clone(), IngestConfig::default());
    for i in 0..5 {
        ingestor
            .send(&ws("a"), event(format!("e{i}"), 1))
            .await
            .unwrap();
    }
    drop(ingestor);
    for _ in 0..100 {
        if stored(&store.inner, &ws("a")).await == 5 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("events accepted before the drop were lost");
}

#[test]
fn a_crash_after_a_flush_loses_nothing_that_was_flushed() {
    let store = Arc::new(Faulty::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ingestor = start(store.clone(), IngestConfig::default());
        for i in 0..2_500 {
            ingestor
                .send(&ws("a"), event(format!("e{i}"), i % 7))
                .await
                .unwrap();
        }
        ingestor.flush().await.unwrap();
        // Accepted after the flush: may be lost by the crash, must not be half-written.
        for i in 2_500..2_600 {
            ingestor
                .send(&ws("a"), event(format!("e{i}"), 1))
                .await
                .unwrap();
        }
        // The process dies: the ingestor is never shut down nor dropped.
        std::mem::forget(ingestor);
    });
    // Dropping the runtime kills the background task wherever it is.
    drop(runtime);
    let after = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let total = after.block_on(stored(&store.inner, &ws("a")));
    assert!(
        (2_500..=2_600).contains(&total),
        "{total} events stored; every flushed one must be"
    );
    for i in (0..2_500).step_by(97) {
        let id = format!("e{i}").into();
        assert!(
            after
                .block_on(store.inner.event(&ws("a"), &id))
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test]
async fn shutdown_writes_every_open_batch_whatever_its_age() {
    let store = Arc::new(Faulty::default());
    let config = IngestConfig {
        max_batch: 1_000,
        max_age: Duration::from_secs(3_600),
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    for w in ["a", "b", "c"] {
        for i in 0..1_234 {
            ingestor
                .send(&ws(w), event(format!("{w}{i}"), i))
                .await
                .unwrap();
        }
    }
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.inserted), (3 * 1_234, 3 * 1_234));
    for w in ["a", "b", "c"] {
        assert_eq!(stored(&store.inner, &ws(w)).await, 1_234);
    }
    assert_eq!(
        stats.batches, 6,
        "one full batch and one remainder per workspace"
    );
}

#[tokio::test]
async fn reports_say_up_to_when_ingested_data_is_complete() {
    let store = Arc::new(Faulty {
        gate: Some(Semaphore::new(0)),
        ..Faulty::default()
    });
    let clock = Arc::new(FixedClock::new(now()));
    let ingestor = Ingestor::start(store.clone(), clock.clone(), IngestConfig::default()).unwrap();
    let reports = Reports::new(store.clone())
        .with_clock(clock.clone())
        .with_freshness(Arc::new(ingestor.freshness()));
    let manager = Viewer::new(ws("a"), Role::Manager);
    let log = EventLogRequest::new(ws("a"));

    let idle = reports.event_log(&manager, &log).await.unwrap();
    assert_eq!(
        idle.complete_up_to,
        Some(now()),
        "nothing pending: complete up to now"
    );

    let mut late = event("late".into(), 1);
    late.occurred_at = now().checked_sub(TimeDelta::minutes(1)).unwrap();
    ingestor.send(&ws("a"), late).await.unwrap();
    let later = now().checked_add(TimeDelta::seconds(5)).unwrap();
    clock.set(later);
    let waiting = reports.event_log(&manager, &log).await.unwrap();
    assert_eq!(
        waiting.total, 0,
        "the store is stuck, the event is not visible"
    );
    assert_eq!(
        waiting.complete_up_to,
        Some(now()),
        "the watermark waits for the event accepted at {}",
        now()
    );
    let ranking = reports
        .engagement(&manager, &EngagementRequest::new(ws("a")))
        .await
        .unwrap();
    assert_eq!(ranking.complete_up_to, Some(now()));

    if let Some(gate) = &store.gate {
        gate.add_permits(100);
    }
    ingestor.flush().await.unwrap();
    let visible = reports.event_log(&manager, &log).await.unwrap();
    assert_eq!(visible.total, 1);
    assert_eq!(visible.complete_up_to, Some(later));

    let without = Reports::new(store.clone()).with_clock(clock);
    assert_eq!(
        without
            .event_log(&manager, &log)
            .await
            .unwrap()
            .complete_up_to,
        None
    );
    ingestor.shutdown().await;
}

/// A funnel's customer stays in progress while the conversion that may complete their window
/// waits in the ingestor: it occurred before the window closed, though it was sent (received)
/// after. Judged by when events were received, the customer was counted dropped until the
/// conversion was stored.
#[tokio::test]
async fn a_conversion_waiting_in_the_ingestor_keeps_its_customer_in_progress() {
    let store = stuck_store();
    let clock = Arc::new(FixedClock::new(now()));
    let ingestor = Ingestor::start(store.clone(), clock.clone(), IngestConfig::default()).unwrap();
    let reports = Reports::new(store.clone())
        .with_clock(clock.clone())
        .with_freshness(Arc::new(ingestor.freshness()));
    let ms = |ms: i64| now().checked_add(TimeDelta::milliseconds(ms)).unwrap();
    let second = |s: i64| ms(s * 1_000);
    // Five minutes to register after a view: viewed at 11:55:00 and 11:54:58.5, their windows
    // close at 12:00:00 and 11:59:58.5.
    let viewed =
        |customer, at| Event::new(format!("viewed{customer}"), CustomerId(customer), "A", at);
    let views = [viewed(1, second(-300)), viewed(2, ms(-301_500))];
    store.inner.append(&ws("a"), &views).await.unwrap();
    // Registered at 11:59:59, sent at 12:00:01, stuck in the ingestor; the other registered
    // at 11:59:58, sent after it, in a batch led by a later event.
    clock.set(second(1));
    let registered = Event::new("registered1", CustomerId(1), "B", second(-1));
    ingestor.send(&ws("a"), registered).await.unwrap();
    let batch = vec![
        Event::new("later", CustomerId(3), "A", second(1)),
        Event::new("registered2", CustomerId(2), "B", second(-2)),
    ];
    ingestor.send_many(&ws("a"), batch).await.unwrap();
    clock.set(second(2));
    let request = FunnelRequest::new(ws("a"))
        .with_steps(["A", "B"])
        .with_range(RangeSpec::Between {
            from: second(-3_600),
            to: second(2),
        })
        .with_conversion_window(TimeDelta::minutes(5));
    let manager = Viewer::new(ws("a"), Role::Manager);
    let counts = |report: engagement_core::report::FunnelReport| {
        let step = &report.steps[0];
        (step.reached, step.dropped, step.in_progress)
    };

    let waiting = reports.funnel(&manager, &request).await.unwrap();
    assert_eq!(
        counts(waiting),
        (2, 0, 2),
        "the registrations that convert them are not stored yet"
    );

    release(&store);
    ingestor.flush().await.unwrap();
    let stored = reports.funnel(&manager, &request).await.unwrap();
    assert_eq!(stored.steps[1].reached, 2, "converted once stored");
    assert_eq!(counts(stored), (3, 0, 1), "the later view is still open");
    ingestor.shutdown().await;
}

/// A store whose appends wait until [`release`] is called.
fn stuck_store() -> Arc<Faulty> {
    Arc::new(Faulty {
        gate: Some(Semaphore::new(0)),
        ..Faulty::default()
    })
}

/// Lets every append waiting on a [`stuck_store`] (and the next ones) through.
fn release(store: &Faulty) {
    if let Some(gate) = &store.gate {
        gate.add_permits(1_000);
    }
}

/// An ingestor over a [`stuck_store`] that was sent `n` events `e0`, `e1`, … (customer 1,
/// workspace `a`) in batches of `max_batch` (never joined), once `limit` appends (the most
/// allowed) are stuck.
async fn appends_stuck_in_flight(
    max_batch: usize,
    limit: usize,
    n: usize,
) -> (Arc<Faulty>, Ingestor) {
    let store = stuck_store();
    let config = IngestConfig {
        max_batch,
        max_concurrent_appends: limit,
        max_joined_batch: max_batch,
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    for i in 0..n {
        ingestor
            .send(&ws("a"), event(format!("e{i}"), 1))
            .await
            .unwrap();
    }
    assert!(
        eventually(|| store.append_calls.load(Ordering::SeqCst) == limit as u64).await,
        "{limit} batches must be handed to the stuck store"
    );
    (store, ingestor)
}

/// The first event id of every append the store was asked for, in the order asked.
fn first_ids(store: &Faulty) -> Vec<String> {
    let ids = store.first_ids.lock().unwrap();
    ids.iter().map(|id| id.as_str().to_owned()).collect()
}

/// The number of events of every batch reported until the ingestor ended, smallest first.
async fn batch_sizes(mut reports: broadcast::Receiver<BatchReport>) -> Vec<usize> {
    let mut sizes = Vec::new();
    while let Ok(report) = reports.recv().await {
        sizes.push(report.events);
    }
    sizes.sort_unstable();
    sizes
}

/// Waits (a bounded number of scheduler turns) until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1_000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_appends_run_at_once_than_configured() {
    let (store, ingestor) = appends_stuck_in_flight(10, 3, 100).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        store.append_calls.load(Ordering::SeqCst),
        3,
        "no fourth append while three are stuck"
    );
    release(&store);
    let stats = ingestor.shutdown().await;
    assert_eq!(
        (stats.inserted, stats.batches, stats.max_appends_in_flight),
        (100, 10, 3)
    );
    assert_eq!(stored(&store.inner, &ws("a")).await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_start_in_the_order_their_batches_closed() {
    // Ten batches of ten, four appends at once, each append suspended until released.
    let (store, ingestor) = appends_stuck_in_flight(10, 4, 100).await;
    release(&store);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.batches), (100, 10));
    let first_ids = first_ids(&store);
    let batch_order: Vec<String> = (0..10).map(|b| format!("e{}", b * 10)).collect();
    assert_eq!(first_ids, batch_order);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_in_flight_together_gets_its_own_report() {
    let store = Arc::new(Faulty::default());
    let config = IngestConfig {
        max_batch: 50,
        max_concurrent_appends: 8,
        max_joined_batch: 50,
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    let mut reports = ingestor.subscribe();
    for i in 0..1_000 {
        let workspace = ws(if i % 4 == 0 { "a" } else { "b" });
        ingestor
            .send(&workspace, event(format!("e{i}"), i))
            .await
            .unwrap();
    }
    let stats = ingestor.shutdown().await;
    let mut per_workspace = std::collections::BTreeMap::<String, (usize, u64)>::new();
    while let Ok(report) = reports.recv().await {
        let inserted = report.result.as_ref().map(|o| o.inserted).unwrap();
        assert_eq!(inserted, report.events as u64, "a batch of fresh events");
        let seen = per_workspace
            .entry(report.workspace.as_str().to_owned())
            .or_default();
        seen.0 += report.events;
        seen.1 += 1;
    }
    assert_eq!(
        per_workspace.into_iter().collect::<Vec<_>>(),
        [("a".to_owned(), (250, 5)), ("b".to_owned(), (750, 15))]
    );
    assert_eq!((stats.batches, stats.inserted), (20, 1_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_that_close_while_every_append_runs_are_joined() {
    let store = stuck_store();
    let config = IngestConfig {
        max_batch: 10,
        max_concurrent_appends: 1,
        max_joined_batch: 30,
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    let reports = ingestor.subscribe();
    let events = (0..60).map(|i| event(format!("e{i}"), 1)).collect();
    ingestor.send_many(&ws("a"), events).await.unwrap();
    // e0–e9 are stuck in the one append; e10–e39 wait joined, e40–e49 on their own (the
    // 30 are full), and the worker waits for the append to end. Until the worker has taken
    // an ended append back, its slot counts as busy: so once it ends, e10–e39 take it and
    // e50–e59 join e40–e49, whenever the store is let go.
    assert!(eventually(|| store.append_calls.load(Ordering::SeqCst) == 1).await);
    release(&store);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.batches), (60, 3));
    let first_ids = first_ids(&store);
    assert_eq!(first_ids, ["e0", "e10", "e40"]);
    let sizes = batch_sizes(reports).await;
    assert_eq!(sizes, [10, 20, 30]);
    assert_eq!(stored(&store.inner, &ws("a")).await, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_batches_in_flight() {
    let (store, ingestor) = appends_stuck_in_flight(100, 4, 450).await;
    let shutdown = tokio::spawn(async move { ingestor.shutdown().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !shutdown.is_finished(),
        "shutdown returned with four batches still being written"
    );
    release(&store);
    let stats = shutdown.await.unwrap();
    assert_eq!(
        (stats.accepted, stats.inserted, stats.batches),
        (450, 450, 5)
    );
    assert_eq!(stored(&store.inner, &ws("a")).await, 450);
}

/// `shutdown` takes `&self`: a host sharing the ingestor (an `Arc` in its state) stops it
/// where it stands. From the first call nothing more is accepted; a call given up on leaves it
/// stopping, and every later call waits for the same end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_ingestor_shuts_down_from_any_holder() {
    let (store, ingestor) = appends_stuck_in_flight(100, 4, 450).await;
    let ingestor = Arc::new(ingestor);
    let given_up = tokio::time::timeout(Duration::from_millis(50), ingestor.shutdown()).await;
    assert!(
        given_up.is_err(),
        "the appends are stuck: the shutdown waits"
    );
    assert!(matches!(
        ingestor.send(&ws("a"), event("late".into(), 1)).await,
        Err(Error::Closed)
    ));
    assert!(matches!(ingestor.flush().await, Err(Error::Closed)));
    assert!(
        matches!(
            ingestor.send_many(&ws("a"), Vec::new()).await,
            Err(Error::Closed)
        ),
        "even with nothing to send"
    );
    let (a, b) = (ingestor.clone(), ingestor.clone());
    let first = tokio::spawn(async move { a.shutdown().await });
    let second = tokio::spawn(async move { b.shutdown().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!first.is_finished() && !second.is_finished());
    release(&store);
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!((first.accepted, first.inserted), (450, 450));
    assert_eq!(second, first);
    assert_eq!(stored(&store.inner, &ws("a")).await, 450);
    assert_eq!(
        ingestor.shutdown().await,
        first,
        "once stopped, it stays stopped"
    );
}

/// A shutdown given up on and never called again still ends the subscribers' streams once
/// everything is written: the worker ends them, not the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_given_up_on_still_ends_the_reports() {
    let (store, ingestor) = appends_stuck_in_flight(100, 4, 450).await;
    let mut reports = ingestor.subscribe();
    let given_up = tokio::time::timeout(Duration::from_millis(50), ingestor.shutdown()).await;
    assert!(given_up.is_err());
    release(&store);
    let mut written = 0;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match reports.recv().await {
                Ok(report) => written += report.events,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Err(lagged) => panic!("{lagged}"),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the reports did not end");
    assert_eq!(written, 450);
    assert!(matches!(
        ingestor.subscribe().recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Closed)
    ));
}

#[tokio::test]
async fn send_many_refuses_the_whole_batch_for_one_bad_event() {
    let store = Arc::new(Faulty::default());
    let ingestor = start(store.clone(), IngestConfig::default());
    let mut batch: Vec<Event> = (0..5).map(|i| event(format!("e{i}"), 1)).collect();
    batch[3].name = String::new();
    assert!(matches!(
        ingestor.send_many(&ws("a"), batch).await,
        Err(Error::InvalidEvent {
            index: 3,
            field: "name",
            ..
        })
    ));
    ingestor.send_many(&ws("a"), Vec::new()).await.unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.accepted, 0);
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn send_many_joins_single_sends_in_order_and_splits_past_the_queue() {
    let store = Arc::new(Faulty::default());
    let config = IngestConfig {
        max_batch: 300,
        queue_capacity: 250,
        ..IngestConfig::default()
    };
    let ingestor = start(store.clone(), config);
    let reports = ingestor.subscribe();
    ingestor
        .send(&ws("a"), event("first".into(), 1))
        .await
        .unwrap();
    let batch = (0..1_000).map(|i| event(format!("e{i}"), i)).collect();
    ingestor.send_many(&ws("a"), batch).await.unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.inserted), (1_001, 1_001));
    let sizes = batch_sizes(reports).await;
    assert_eq!(
        sizes,
        [101, 300, 300, 300],
        "full batches, then the rest at shutdown"
    );
    assert_eq!(stored(&store.inner, &ws("a")).await, 1_001);
}

/// Batches of one event, never joined, one append at a time, and a queue of `capacity`: a
/// stuck store fills the pipeline after a few events.
fn one_event_at_a_time(capacity: usize) -> IngestConfig {
    IngestConfig {
        max_batch: 1,
        queue_capacity: capacity,
        max_concurrent_appends: 1,
        max_joined_batch: 1,
        ..IngestConfig::default()
    }
}

/// A send cancelled while it waits for queue room (a timeout, a dropped request) leaves
/// nothing behind: once everything queued is written, the watermark reads "now" again.
#[tokio::test]
async fn a_send_cancelled_while_waiting_for_room_does_not_hold_the_watermark() {
    for many in [false, true] {
        let store = stuck_store();
        let clock = Arc::new(FixedClock::new(now()));
        let config = one_event_at_a_time(2);
        let ingestor = Ingestor::start(store.clone(), clock.clone(), config).unwrap();
        let freshness = ingestor.freshness();
        let mut cancelled = false;
        for i in 0..100 {
            let sending = async {
                if many {
                    let batch = vec![event(format!("m{i}a"), 1), event(format!("m{i}b"), 1)];
                    ingestor.send_many(&ws("a"), batch).await
                } else {
                    ingestor.send(&ws("a"), event(format!("e{i}"), 1)).await
                }
            };
            match tokio::time::timeout(Duration::from_millis(20), sending).await {
                Ok(sent) => sent.unwrap(),
                Err(_) => {
                    cancelled = true;
                    break;
                }
            }
        }
        assert!(cancelled, "a stuck store must make a send wait for room");
        release(&store);
        ingestor.flush().await.unwrap();
        let later = now().checked_add(TimeDelta::minutes(1)).unwrap();
        clock.set(later);
        assert_eq!(
            freshness.complete_up_to(),
            later,
            "nothing is pending once the queued events are written (send_many: {many})"
        );
        ingestor.shutdown().await;
    }
}

/// The queue holds what its capacity says while the worker waits on a stuck store in the
/// middle of a chunk: events not yet in a batch keep their room, so senders wait (or get
/// `Full`) instead of queueing a second capacity's worth behind them.
#[tokio::test]
async fn the_queue_holds_no_more_than_its_capacity_while_appends_are_stuck() {
    let store = stuck_store();
    let ingestor = start(store.clone(), one_event_at_a_time(100));
    let first: Vec<Event> = (0..100).map(|i| event(format!("a{i}"), 1)).collect();
    ingestor.send_many(&ws("a"), first).await.unwrap();
    assert!(
        eventually(|| store.append_calls.load(Ordering::SeqCst) == 1).await,
        "the first batch reaches the stuck store"
    );
    let mut more = 0u64;
    for i in 0..200 {
        match ingestor.try_send(&ws("a"), event(format!("b{i}"), 1)) {
            Ok(()) => more += 1,
            Err(Error::Full { capacity: 100 }) => break,
            Err(other) => panic!("{other:?}"),
        }
    }
    // One event is being appended, one batch waits (`max_joined_batch` 1) and one more is
    // the batch whose close waits for room among them; the rest of the first 100 are still
    // unbatched and hold their room.
    assert!(
        more <= 3,
        "{more} more events were queued behind 100 unbatched ones"
    );
    assert!(
        ingestor.queued() >= 98,
        "queued() counts the unbatched events"
    );
    release(&store);
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.inserted, 100 + more);
}

/// `queued()` (and the `ingest_queue_depth` metric) counts the events in the queue, not the
/// queue room taken: a `send_many` waiting for room holds the part it has got so far, and was
/// counted as queued events, so a queue holding one event read as full.
#[tokio::test]
async fn a_send_many_waiting_for_room_is_not_counted_as_queued() {
    let store = stuck_store();
    let ingestor = Arc::new(start(store.clone(), one_event_at_a_time(4)));
    let first: Vec<Event> = (0..4).map(|i| event(format!("a{i}"), 1)).collect();
    ingestor.send_many(&ws("a"), first).await.unwrap();
    // a0 is being appended, a1 waits for the append, a2's close waits for it: a3 is queued.
    assert!(
        eventually(|| ingestor.queued() == 1).await,
        "one event is left in the queue"
    );
    let waiting = tokio::spawn({
        let ingestor = ingestor.clone();
        async move {
            let more: Vec<Event> = (0..4).map(|i| event(format!("b{i}"), 1)).collect();
            ingestor.send_many(&ws("a"), more).await
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished(), "the second batch waits for room");
    assert_eq!(
        ingestor.queued(),
        1,
        "the room a waiting send holds is not queued events"
    );
    release(&store);
    waiting.await.unwrap().unwrap();
    let ingestor = Arc::into_inner(ingestor).unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.inserted), (8, 8));
}
