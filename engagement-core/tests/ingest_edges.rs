//! The ingestion pipeline at its edges: a store that panics, failures and the watermark.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use engagement_core::ingest::{IngestConfig, Ingestor, RetryPolicy};
use engagement_core::{
    Clock, CustomerId, Error, Event, EventStore, FixedClock, Timestamp, WorkspaceId, names,
};
use support::Faulty;
use tokio::sync::Semaphore;

/// The reference store, whose next `times` appends panic before touching it.
fn panicking(times: u32) -> Arc<Faulty> {
    Arc::new(Faulty {
        panicking_appends: AtomicU32::new(times),
        ..Faulty::default()
    })
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A clock stopped at the instant of every test event.
fn stopped_clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(at("2026-11-20T12:00:00Z")))
}

fn ws() -> WorkspaceId {
    WorkspaceId::new("a").unwrap()
}

fn event(id: &str) -> Event {
    Event::new(
        id,
        CustomerId(1),
        names::PAGE_VIEWED,
        at("2026-11-20T12:00:00Z"),
    )
}

/// What a flush reported lost, `(events, batches, the last error)`; any other result fails
/// the test, saying what `flushed` was expected to report.
fn lost(flushed: engagement_core::Result<()>, expected: &str) -> (u64, u64, Arc<Error>) {
    match flushed {
        Err(Error::NotWritten {
            events,
            batches,
            last,
        }) => (events, batches, last),
        other => panic!("{expected}, got {other:?}"),
    }
}

/// Whether the store behind `store` holds event `id`.
async fn holds(store: &Faulty, id: &str) -> bool {
    store
        .inner
        .event(&ws(), &id.into())
        .await
        .unwrap()
        .is_some()
}

/// Retries at once (no backoff), `max_attempts` attempts in all.
fn retrying(max_attempts: u32) -> IngestConfig {
    retrying_every(max_attempts, Duration::ZERO)
}

/// `max_attempts` attempts in all, `backoff` apart.
fn retrying_every(max_attempts: u32, backoff: Duration) -> IngestConfig {
    IngestConfig {
        retry: RetryPolicy {
            max_attempts,
            initial_backoff: backoff,
            max_backoff: backoff,
        },
        ..IngestConfig::default()
    }
}

#[tokio::test]
async fn an_append_that_panics_is_retried_like_a_failed_one() {
    let store = panicking(1);
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock.clone(), retrying(3)).unwrap();
    let freshness = ingestor.freshness();
    let mut reports = ingestor.subscribe();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    ingestor.flush().await.unwrap();
    clock.set(at("2026-11-20T12:00:05Z"));

    let report = reports.try_recv().expect("the batch is reported");
    assert_eq!((report.events, report.attempts), (1, 2));
    assert_eq!(report.result.map(|o| o.inserted).ok(), Some(1));
    assert!(holds(&store, "e1").await);
    assert_eq!(
        freshness.complete_up_to(),
        clock.now(),
        "the event is stored: nothing holds the watermark"
    );
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.inserted, stats.batches), (1, 1, 1));
}

#[tokio::test]
async fn an_append_that_always_panics_is_given_up_and_counted() {
    let store = panicking(u32::MAX);
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock.clone(), retrying(2)).unwrap();
    let freshness = ingestor.freshness();
    let mut reports = ingestor.subscribe();
    ingestor
        .send_many(&ws(), vec![event("e1"), event("e2")])
        .await
        .unwrap();
    let (events, batches, last) = lost(
        ingestor.flush().await,
        "the flush reports the given-up batch",
    );
    assert_eq!((events, batches), (2, 1));
    assert!(last.to_string().contains("injected panic inside append"));
    clock.set(at("2026-11-20T12:00:05Z"));

    let report = reports.try_recv().expect("the given-up batch is reported");
    assert_eq!((report.events, report.attempts), (2, 2));
    let error = report.result.expect_err("nothing was stored");
    assert!(
        error.to_string().contains("injected panic inside append"),
        "the report names the panic: {error}"
    );
    // As documented for a batch that failed every retry: counted in `failed`, no longer
    // holding the watermark back (it is not frozen at 12:00:00 for the ingestor's life).
    assert_eq!(freshness.complete_up_to(), clock.now());
    let stats = ingestor.shutdown().await;
    assert_eq!(
        (stats.accepted, stats.inserted, stats.failed, stats.batches),
        (2, 0, 2, 1)
    );
    assert_eq!(stats.max_appends_in_flight, 1);
}

/// A flush given up on (a timeout) while the batch it waited for was still being retried:
/// the batch is given up later, and the next flush reports it. Before, the worker took the
/// report for the cancelled flush, found no one to tell, and the next flush said `Ok`.
#[tokio::test(start_paused = true)]
async fn a_cancelled_flush_leaves_its_report_to_the_next_one() {
    let store = Arc::new(Faulty::default());
    store.failing_appends.store(u32::MAX, Ordering::SeqCst);
    let clock = stopped_clock();
    let config = retrying_every(3, Duration::from_secs(1));
    let ingestor = Ingestor::start(store.clone(), clock, config).unwrap();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(500), ingestor.flush()).await;
    assert!(
        waited.is_err(),
        "the first flush was given up while the batch was retried"
    );
    // The batch is given up meanwhile (its third attempt fails 2 s in).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (events, batches, _) = lost(ingestor.flush().await, "the next flush reports the batch");
    assert_eq!((events, batches), (1, 1));
    ingestor.flush().await.expect("reported once");
    assert_eq!(ingestor.shutdown().await.failed, 1);
}

/// A batch the store refuses for good is given up at its first attempt, at the default
/// settings: no retry changes it, so the flush reports it at once instead of after the minute
/// of retries a failing store gets (and a shutdown does not wait that minute). Sent again, the
/// events land.
#[tokio::test(start_paused = true)]
async fn a_batch_refused_for_good_is_given_up_without_retrying() {
    let store = Arc::new(Faulty::default());
    store.refusing_appends.store(1, Ordering::SeqCst);
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock, IngestConfig::default()).unwrap();
    let mut reports = ingestor.subscribe();
    ingestor
        .send_many(&ws(), vec![event("e1"), event("e2")])
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let (events, batches, last) = lost(
        ingestor.flush().await,
        "the flush reports the refused batch",
    );
    assert_eq!((events, batches), (2, 1));
    assert!(matches!(*last, Error::Refused { .. }), "{last}");
    let report = reports.try_recv().expect("the refused batch is reported");
    assert_eq!(report.attempts, 1);
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 1);
    assert!(
        started.elapsed() < RetryPolicy::default().initial_backoff,
        "no backoff waited: {:?}",
        started.elapsed()
    );
    ingestor
        .send_many(&ws(), vec![event("e1"), event("e2")])
        .await
        .unwrap();
    ingestor.flush().await.expect("sent again, the events land");
    assert!(holds(&store, "e1").await && holds(&store, "e2").await);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.failed, stats.inserted), (2, 2));
}

/// Several tasks flushing at once (request handlers each acknowledging their own events) all
/// learn of a batch given up while they waited. Before, only the flush the worker answered
/// first did, and the others said `Ok` for events that were lost.
#[tokio::test]
async fn every_flush_waiting_learns_of_a_batch_given_up() {
    let store = Arc::new(Faulty {
        gate: Some(Semaphore::new(0)),
        ..Faulty::default()
    });
    store.refusing_appends.store(1, Ordering::SeqCst);
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock, IngestConfig::default()).unwrap();
    ingestor
        .send_many(&ws(), vec![event("e1"), event("e2")])
        .await
        .unwrap();
    // `join!` polls in order: the three flushes are waiting before the append may run.
    let open_the_gate = async {
        if let Some(gate) = &store.gate {
            gate.add_permits(1);
        }
    };
    let (a, b, c, ()) = tokio::join!(
        ingestor.flush(),
        ingestor.flush(),
        ingestor.flush(),
        open_the_gate
    );
    for (name, flushed) in [("a", a), ("b", b), ("c", c)] {
        let expected = format!("flush {name} waited for the lost batch");
        let (events, batches, _) = lost(flushed, &expected);
        assert_eq!((events, batches), (2, 1), "{expected}");
    }
    ingestor
        .flush()
        .await
        .expect("reported to the flushes waiting, then done");
    assert_eq!(ingestor.shutdown().await.failed, 2);
}

/// Tasks that each acknowledge their own events flush through senders of their own: a sender's
/// flush reports the lost batch that held its events even after another task's flush (or the
/// ingestor's own) learned of it first, and counts its own events only. Through the
/// ingestor's flush alone, the later flush said `Ok` for a lost event.
#[tokio::test]
async fn a_senders_flush_reports_its_own_lost_events_whoever_flushed_first() {
    let store = Arc::new(Faulty::default());
    store.refusing_appends.store(1, Ordering::SeqCst);
    let clock = stopped_clock();
    let config = IngestConfig {
        max_age: Duration::from_secs(3_600),
        ..IngestConfig::default()
    };
    let ingestor = Arc::new(Ingestor::start(store.clone(), clock, config).unwrap());
    let (mut a, mut b, mut idle) = (ingestor.sender(), ingestor.sender(), ingestor.sender());
    a.send(&ws(), event("a1")).await.unwrap();
    b.send_many(&ws(), vec![event("b1"), event("b2")])
        .await
        .unwrap();
    ingestor.send(&ws(), event("shared")).await.unwrap();

    let (events, batches, _) = lost(ingestor.flush().await, "the shared flush learns first");
    assert_eq!((events, batches), (4, 1), "the whole batch");
    ingestor
        .flush()
        .await
        .expect("the shared flushes learn of a loss once");
    let (events, batches, _) = lost(b.flush().await, "b's events were in the batch");
    assert_eq!((events, batches), (2, 1), "b's own events");
    let (events, batches, _) = lost(a.flush().await, "a's event was in the batch");
    assert_eq!((events, batches), (1, 1), "a's own event");
    a.flush().await.expect("a learns of its loss once");
    idle.flush().await.expect("idle sent nothing that was lost");

    a.send(&ws(), event("a1")).await.unwrap();
    a.flush().await.expect("sent again, it lands");
    assert!(holds(&store, "a1").await && !holds(&store, "b1").await);
    drop((a, b, idle));
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.failed, stats.inserted), (5, 4, 1));
}

/// Four tasks send through senders of their own into small batches that mix their events,
/// flushing as they go, while the store refuses five appends: each task's flushes report
/// exactly its own events that are missing from the store, wherever the losses fell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_each_learn_exactly_their_own_losses() {
    let store = Arc::new(Faulty::default());
    store.refusing_appends.store(5, Ordering::SeqCst);
    let clock = stopped_clock();
    let config = IngestConfig {
        max_batch: 8,
        ..IngestConfig::default()
    };
    let ingestor = Arc::new(Ingestor::start(store.clone(), clock, config).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..4 {
        let ingestor = ingestor.clone();
        tasks.spawn(async move {
            let mut sender = ingestor.sender();
            let mut reported = 0;
            for i in 0..60 {
                sender
                    .send(&ws(), event(&format!("t{task}-{i}")))
                    .await
                    .unwrap();
                if i % 30 == 29 {
                    match sender.flush().await {
                        Ok(()) => {}
                        Err(Error::NotWritten { events, .. }) => reported += events,
                        Err(other) => panic!("task {task}: {other}"),
                    }
                }
                tokio::task::yield_now().await;
            }
            (task, reported)
        });
    }
    let mut lost_in_all = 0;
    while let Some(ended) = tasks.join_next().await {
        let (task, reported) = ended.unwrap();
        let mut missing = 0;
        for i in 0..60 {
            missing += u64::from(!holds(&store, &format!("t{task}-{i}")).await);
        }
        assert_eq!(
            reported, missing,
            "task {task} learned of its own losses only"
        );
        lost_in_all += missing;
    }
    let stats = ingestor.shutdown().await;
    assert_eq!(stats.failed, lost_in_all);
    assert!(lost_in_all >= 5, "five batches were refused");
}

/// At the default settings a batch outlives a store that fails for a minute (a database
/// restarting, a failover): it is retried until it lands, and the flush says it did. (The
/// default once gave up after 8 attempts, 6.35 s.)
#[tokio::test(start_paused = true)]
async fn a_store_down_for_a_minute_loses_nothing_at_the_default_settings() {
    let store = Arc::new(Faulty::default());
    // 19 failed attempts: the 20th, 66.35 s after the first, lands.
    store.failing_appends.store(19, Ordering::SeqCst);
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock, IngestConfig::default()).unwrap();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    let started = tokio::time::Instant::now();
    ingestor.flush().await.expect("the batch landed");
    assert!(
        started.elapsed() >= Duration::from_secs(66),
        "{:?}",
        started.elapsed()
    );
    assert!(holds(&store, "e1").await);
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 20);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.failed), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_backoff_waits_for_the_retry_and_the_watermark_holds_meanwhile() {
    let store = Arc::new(Faulty::default());
    store.failing_appends.store(2, Ordering::SeqCst);
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock.clone(), IngestConfig::default()).unwrap();
    let freshness = ingestor.freshness();
    let mut reports = ingestor.subscribe();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    // Closed by age at 250 ms, failed once, now in its 50 ms backoff.
    tokio::time::sleep(Duration::from_millis(260)).await;
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 1);
    clock.set(at("2026-11-20T12:00:05Z"));
    assert_eq!(
        freshness.complete_up_to(),
        at("2026-11-20T12:00:00Z"),
        "an event still being retried holds the watermark"
    );

    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.failed), (1, 0));
    assert_eq!(reports.try_recv().unwrap().attempts, 3);
    assert!(holds(&store, "e1").await);
    assert_eq!(freshness.complete_up_to(), clock.now());
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_due_max_age_after_its_first_event_not_its_last() {
    let store = Arc::new(Faulty::default());
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock, IngestConfig::default()).unwrap();
    let mut reports = ingestor.subscribe();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ingestor.send(&ws(), event("e2")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let report = reports.try_recv().expect("due 250 ms after e1");
    assert_eq!(report.events, 2);
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 1);
    ingestor.shutdown().await;
}

#[tokio::test]
async fn one_id_sent_again_in_its_batch_or_a_later_one_is_stored_once() {
    let store = Arc::new(Faulty::default());
    let clock = stopped_clock();
    let ingestor = Ingestor::start(store.clone(), clock, IngestConfig::default()).unwrap();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    ingestor.flush().await.unwrap();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    let stats = ingestor.shutdown().await;
    assert_eq!(
        (
            stats.accepted,
            stats.inserted,
            stats.duplicates,
            stats.batches
        ),
        (3, 1, 2, 2)
    );
}

/// Waits (up to a minute) until `store` has been called for `appends` appends.
async fn appends_called(store: &Faulty, appends: u64) {
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while store.append_calls.load(Ordering::SeqCst) < appends {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "the store was never called for {appends} appends"
    );
}

/// An ingestor closing a batch every two events, over a store whose appends wait at a closed
/// gate (they are called, and counted, but none ends until permits are added).
fn batches_of_two_held_at_a_gate() -> (Arc<Faulty>, Ingestor) {
    let store = Arc::new(Faulty {
        gate: Some(Semaphore::new(0)),
        ..Faulty::default()
    });
    let config = IngestConfig {
        max_batch: 2,
        ..IngestConfig::default()
    };
    let ingestor = Ingestor::start(store.clone(), stopped_clock(), config).unwrap();
    (store, ingestor)
}

/// The test event `id` on the page `path`.
fn at_path(id: &str, path: &str) -> Event {
    let mut e = event(id);
    e.page.path = path.into();
    e
}

/// Of two payloads sent under one id, the first sent is kept on every store: a database's
/// appends of batches in flight together race to the id (on PostgreSQL and MariaDB the later
/// batch's payload was kept), so a batch sharing an id with one being appended is not handed
/// to the store until that append has ended. A batch sharing none still overlaps.
#[tokio::test]
async fn a_batch_sharing_an_id_with_one_in_flight_waits_for_it_so_the_first_sent_is_kept() {
    let (store, ingestor) = batches_of_two_held_at_a_gate();
    let (first, second) = (at_path("same", "/first"), at_path("same", "/second"));
    // Three batches: the first, one sharing no id (overlaps it), one sharing "same" (waits).
    for sent in [
        first,
        event("a"),
        event("b"),
        event("c"),
        second,
        event("d"),
    ] {
        ingestor.send(&ws(), sent).await.unwrap();
    }
    appends_called(&store, 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        store.append_calls.load(Ordering::SeqCst),
        2,
        "the batch sharing an id was handed to the store while the first was in flight"
    );
    store.gate.as_ref().unwrap().add_permits(10);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.conflicts), (5, 1), "{stats:?}");
    let kept = store.event(&ws(), &"same".into()).await.unwrap().unwrap();
    assert_eq!(kept.page.path, "/first");
}

/// A batch held back for an id it shares holds back the later batches of its own workspace
/// only: another workspace's batch behind it is appended meanwhile.
#[tokio::test]
async fn a_held_batch_holds_back_only_its_own_workspace() {
    let (store, ingestor) = batches_of_two_held_at_a_gate();
    let other = WorkspaceId::new("b").unwrap();
    let second = at_path("same", "/second");
    for sent in [event("same"), event("a1"), second, event("a2")] {
        ingestor.send(&ws(), sent).await.unwrap();
    }
    ingestor.send(&ws(), event("a3")).await.unwrap();
    for sent in [event("b1"), event("b2")] {
        ingestor.send(&other, sent).await.unwrap();
    }
    appends_called(&store, 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let first_ids: Vec<String> = store
        .first_ids
        .lock()
        .unwrap()
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    assert_eq!(first_ids, ["same", "b1"], "appends handed to the store");
    store.gate.as_ref().unwrap().add_permits(10);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.inserted, stats.conflicts), (6, 1), "{stats:?}");
    let kept = store.event(&ws(), &"same".into()).await.unwrap().unwrap();
    assert_eq!(kept.page.path, "");
}

/// A `max_age` no clock reaches (`Duration::MAX`, "never by age") closes batches by size,
/// flush and shutdown only: its deadline once overflowed the worker's `Instant`, and the
/// panic ended the worker with the accepted event in its open batch, lost, every later call
/// `Closed`.
#[tokio::test]
async fn a_max_age_no_clock_reaches_never_closes_a_batch_by_age() {
    let store = Arc::new(Faulty::default());
    let clock = stopped_clock();
    let config = IngestConfig {
        max_age: Duration::MAX,
        ..IngestConfig::default()
    };
    let ingestor = Ingestor::start(store.clone(), clock, config).unwrap();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    tokio::task::yield_now().await;
    ingestor.send(&ws(), event("e2")).await.unwrap();
    ingestor.flush().await.expect("the worker is still running");
    assert_eq!(store.append_calls.load(Ordering::SeqCst), 1);
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.inserted), (2, 2));
}

/// The longest wait from now that `Instant` can still name, to the nanosecond.
fn longest_nameable_wait() -> Duration {
    let now = tokio::time::Instant::now();
    let fits = |wait| now.checked_add(wait).is_some();
    let (mut low, mut high) = (0_u64, u64::MAX);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if fits(Duration::from_secs(mid)) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    let (mut nanos, mut most) = (0_u32, 999_999_999_u32);
    while nanos < most {
        let mid = nanos + (most - nanos).div_ceil(2);
        if fits(Duration::new(low, mid)) {
            nanos = mid;
        } else {
            most = mid - 1;
        }
    }
    Duration::new(low, nanos)
}

/// A `max_age` whose deadline `Instant` can name, but less than a millisecond before its end:
/// Tokio rounds a timer's deadline up to its next millisecond with a `+` that panicked there,
/// ending the worker as `Duration::MAX` once did (the event lost, every later call `Closed`,
/// the watermark stuck). Such an age is "never", as one past the end is.
#[tokio::test(start_paused = true)]
async fn a_max_age_just_short_of_the_end_of_instant_never_closes_a_batch_by_age() {
    let store = Arc::new(Faulty::default());
    let clock = stopped_clock();
    let config = IngestConfig {
        max_age: longest_nameable_wait().saturating_sub(Duration::from_micros(300)),
        ..IngestConfig::default()
    };
    let ingestor = Ingestor::start(store.clone(), clock.clone(), config).unwrap();
    let freshness = ingestor.freshness();
    ingestor.send(&ws(), event("e1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    ingestor.flush().await.expect("the worker is still running");
    let stats = ingestor.shutdown().await;
    assert_eq!((stats.accepted, stats.inserted), (1, 1), "{stats:?}");
    clock.set(at("2026-11-20T12:00:05Z"));
    assert_eq!(freshness.complete_up_to(), clock.now());
}

/// A runtime built without its time driver is refused at start, before any `send` answers
/// `Ok` for an event the worker could never write (it would panic at its first batch timer).
#[test]
fn a_runtime_without_timers_is_refused_at_start() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(engagement_core::ReferenceStore::default());
        match Ingestor::start(store, stopped_clock(), IngestConfig::default()) {
            Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, "runtime"),
            other => panic!("started on a runtime without timers: {:?}", other.err()),
        }
    });
}

/// A clock at the first representable instant: the event (before 1970) is refused with a
/// typed error, not a panic in the watermark's bookkeeping.
#[tokio::test]
async fn a_clock_at_the_first_instant_refuses_events_without_panicking() {
    let store = Arc::new(engagement_core::ReferenceStore::default());
    let clock = Arc::new(FixedClock::new(Timestamp::MIN));
    let ingestor = Ingestor::start(store, clock, IngestConfig::default()).unwrap();
    let early = Event::new("e1", CustomerId(1), names::PAGE_VIEWED, Timestamp::MIN);
    let sent = ingestor.send(&ws(), early).await;
    assert!(matches!(sent, Err(Error::InvalidEvent { .. })), "{sent:?}");
    ingestor.shutdown().await;
}

/// Outside any Tokio runtime `start` panics, as its documentation says (as `tokio::spawn`
/// does), rather than blaming the runtime's timers.
#[test]
fn outside_a_runtime_start_panics_as_documented() {
    let store = Arc::new(engagement_core::ReferenceStore::default());
    let started = std::panic::catch_unwind(move || {
        Ingestor::start(store, stopped_clock(), IngestConfig::default()).map(drop)
    });
    assert!(started.is_err(), "no panic: {:?}", started.ok());
}
