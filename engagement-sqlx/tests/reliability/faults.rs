//! Fault scenarios that read the same on every SQL backend; the backend-specific ways to
//! break a connection live in each `faults_*.rs` binary.

use std::time::{Duration, Instant};

use engagement_core::store::export_events;
use engagement_core::{
    Error, Event, EventFilter, EventPageQuery, EventStore, TimeWindow, TopCustomersQuery,
    WorkspaceId,
};
use engagement_sqlx::sqlx::{Database, Pool};
use futures::StreamExt;

use super::{HANG, views, workspace};
use crate::common::count;

/// Runs `work`, failing the test if it takes longer than [`HANG`].
pub(crate) async fn bounded<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, work)
        .await
        .unwrap_or_else(|_| panic!("{what} hung for more than {HANG:?}"))
}

/// Collects an export until its end or its first error; a clean end is `None`.
pub(crate) async fn drain(store: &dyn EventStore, ws: &WorkspaceId) -> (Vec<Event>, Option<Error>) {
    let mut stream = export_events(store.export(ws.clone(), EventFilter::new(TimeWindow::ALL)));
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => {
                assert!(
                    stream.next().await.is_none(),
                    "the export went on after its error"
                );
                return (events, Some(e));
            }
        }
    }
    (events, None)
}

/// Checks that the store still serves reports and writes on its pool: the exact count, a
/// ranking, and a new batch.
pub(crate) async fn still_serves(store: &dyn EventStore, ws: &WorkspaceId, expected: u64) {
    let total = bounded("the next report", count(store, ws))
        .await
        .expect("the next report");
    assert_eq!(total, expected, "the next report counts every stored event");
    let query = TopCustomersQuery {
        window: TimeWindow::ALL,
        limit: 10,
    };
    let top = bounded("a ranking", store.top_customers(ws, &query))
        .await
        .expect("a ranking");
    assert_eq!(top.iter().map(|r| r.score).sum::<u64>(), expected);
    let fresh = workspace("after-fault");
    let outcome = bounded("a write", store.append(&fresh, &views("after", 3, 0)))
        .await
        .expect("a write");
    assert_eq!(outcome.inserted, 3);
}

/// Case 32: with every pooled connection held elsewhere, a report, an export and an append
/// each end with [`Error::Busy`] after the acquire timeout (no hang, nothing written), and the
/// pool serves again once the connections come back.
pub(crate) async fn pool_exhaustion<DB: Database>(
    store: &dyn EventStore,
    pool: &Pool<DB>,
    backend: &str,
    acquire: Duration,
) {
    let ws = workspace(&format!("exhaust-{backend}"));
    store.append(&ws, &views("x", 10, 0)).await.expect("append");
    let size = pool.options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(pool.acquire().await.expect("take a connection"));
    }

    let started = Instant::now();
    let report = bounded("a report on a full pool", count(store, &ws)).await;
    busy_after_the_timeout("a report", &report.err(), started, acquire);

    let started = Instant::now();
    let (events, error) = bounded("an export on a full pool", drain(store, &ws)).await;
    assert!(events.is_empty());
    busy_after_the_timeout("an export", &error, started, acquire);

    let started = Instant::now();
    let write = bounded(
        "an append on a full pool",
        store.append(&ws, &views("y", 5, 100)),
    )
    .await;
    busy_after_the_timeout("an append", &write.err(), started, acquire);

    drop(held);
    still_serves(store, &ws, 10).await;
}

/// Asserts that `what`, started at `started` on a full pool, ended with `error`
/// [`Error::Busy`], and no sooner than the pool's `acquire` timeout.
fn busy_after_the_timeout(what: &str, error: &Option<Error>, started: Instant, acquire: Duration) {
    assert!(
        matches!(error, Some(Error::Busy { .. })),
        "{what} on a full pool: {error:?}"
    );
    assert!(
        started.elapsed() >= acquire,
        "{what}: Busy came before the acquire timeout"
    );
}

/// Case 31, the part every backend shares: 25,000 events (two and a half export chunks of
/// 10,000, so the export reads ahead), an export dropped after 10 rows, then a full export and
/// a report on the same pool.
pub(crate) async fn dropped_export(store: &dyn EventStore) -> WorkspaceId {
    let ws = workspace("dropped-export");
    store
        .append(&ws, &views("d", 25_000, 0))
        .await
        .expect("append");
    let mut stream = export_events(store.export(ws.clone(), EventFilter::new(TimeWindow::ALL)));
    for _ in 0..10 {
        bounded("an export row", stream.next())
            .await
            .expect("a row")
            .expect("an event");
    }
    drop(stream);
    let (events, error) = bounded("the next export", drain(store, &ws)).await;
    assert!(error.is_none(), "the next export failed: {error:?}");
    assert_eq!(events.len(), 25_000);
    still_serves(store, &ws, 25_000).await;
    let page = EventPageQuery {
        filter: EventFilter::new(TimeWindow::ALL),
        after: None,
        limit: 10,
    };
    assert_eq!(
        store
            .event_page(&ws, &page)
            .await
            .expect("a page")
            .events
            .len(),
        10
    );
    ws
}

/// Case 30, what follows a killed connection: the export ended with a typed backend error (not
/// a panic, not a silent short file) having yielded only rows in order, and the pool serves
/// the next report.
pub(crate) async fn after_kill(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    backend: &str,
    expected: u64,
    result: (Vec<Event>, Option<Error>),
) {
    let (events, error) = result;
    match error {
        Some(Error::Backend { backend: b, .. }) if b == backend => {}
        other => panic!(
            "a killed export must end with a {backend} backend error, got {other:?} after {} rows",
            events.len()
        ),
    }
    assert!((events.len() as u64) < expected, "the export ended early");
    let keys: Vec<_> = events.iter().map(Event::key).collect();
    assert!(
        keys.windows(2).all(|k| k[0] < k[1]),
        "rows before the error are in order, each once"
    );
    still_serves(store, ws, expected).await;
}

/// What a store does with a call its caller stopped waiting for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OnCancel {
    /// The call stops (a server finishes the statement in flight).
    Stops,
    /// The call runs to its end on a task of its own (MySQL, `Dialect::CANCEL_SAFE`).
    RunsToEnd,
}

/// Case 35, interrupted: 25,000 events before the cutoff (five SQL purge chunks) and 2,000
/// from it on; a purge is cancelled once the first chunks are gone, then run again. The end
/// state is exact (the event at cutoff − 1 µs gone, the one at the cutoff kept) and a third run
/// deletes nothing. Returns whether the cancel came before the purge finished.
pub(crate) async fn interrupted_purge(
    store: std::sync::Arc<dyn EventStore>,
    on_cancel: OnCancel,
) -> bool {
    use engagement_core::{PurgeMode, PurgeScope, Timestamp};

    let ws = workspace("interrupted-purge");
    let cutoff = Timestamp::from_micros(1_000_000);
    let old = views("old", 25_000, cutoff.as_micros() - 25_000);
    let kept = views("new", 2_000, cutoff.as_micros());
    assert_eq!(
        old.last().map(|e| e.occurred_at.as_micros()),
        Some(cutoff.as_micros() - 1)
    );
    for batch in old.chunks(5_000).chain([kept.as_slice()]) {
        store.append(&ws, batch).await.expect("append");
    }
    let scope = PurgeScope::Before { cutoff };
    let purge = {
        let (store, ws) = (store.clone(), ws.clone());
        tokio::spawn(async move { store.purge(&ws, scope, PurgeMode::Delete).await })
    };
    let started = Instant::now();
    while count(&*store, &ws).await.expect("count") == 27_000
        && !purge.is_finished()
        && started.elapsed() < HANG
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let interrupted = !purge.is_finished();
    purge.abort();
    let _ = purge.await;
    let left = match on_cancel {
        OnCancel::Stops => settled_count(&*store, &ws).await,
        OnCancel::RunsToEnd => {
            let started = Instant::now();
            while count(&*store, &ws).await.expect("count") != 2_000 {
                assert!(started.elapsed() < HANG, "a cancelled purge never ended");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            2_000
        }
    };
    assert!(
        (2_000..=27_000).contains(&left),
        "an interrupted purge left {left} events"
    );

    let rerun = bounded(
        "the rerun purge",
        store.purge(&ws, scope, PurgeMode::Delete),
    )
    .await
    .expect("rerun");
    assert_eq!(
        rerun.events,
        left - 2_000,
        "the rerun deletes exactly what was left"
    );
    let (events, error) = drain(&*store, &ws).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        events, kept,
        "exactly the events at or after the cutoff remain"
    );
    let again = store
        .purge(&ws, scope, PurgeMode::Delete)
        .await
        .expect("a third run");
    assert_eq!(again.events, 0, "a finished purge is a no-op");
    interrupted
}

/// The workspace's count once a cancelled purge stopped: a server finishes the DELETE that was
/// in flight when the task was cancelled (observed: one chunk), so the count is read until it
/// holds still.
async fn settled_count(store: &dyn EventStore, ws: &WorkspaceId) -> u64 {
    let settled = Instant::now();
    let mut seen = count(store, ws).await.expect("count");
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = count(store, ws).await.expect("count");
        if now == seen {
            return now;
        }
        assert!(settled.elapsed() < HANG, "a cancelled purge kept deleting");
        seen = now;
    }
}

/// [`interrupted_purge`] on a store whose purge runs in several chunks, repeated (each time in
/// a fresh workspace) until a run's cancel lands before the purge finishes, so that the rerun
/// after an interruption is checked, not only an uninterrupted purge.
///
/// # Panics
/// When three runs in a row finish before their cancel.
pub(crate) async fn purge_interrupted_mid_way(
    store: std::sync::Arc<dyn EventStore>,
    on_cancel: OnCancel,
) {
    for _ in 0..3 {
        if interrupted_purge(store.clone(), on_cancel).await {
            return;
        }
    }
    panic!("three purges in a row finished before they could be cancelled");
}

/// Purges beside other workspaces' appends and purges, in the tables they share: every one
/// finishes (a purge chunk that meets a lock conflict, which InnoDB's next-key locks make
/// likely, is tried again, not reported) and each workspace ends with exactly the events after
/// its last cutoff.
pub(crate) async fn purges_beside_other_writers(store: std::sync::Arc<dyn EventStore>) {
    use engagement_core::{CustomerId, PurgeMode, PurgeScope, Timestamp, names};

    const ROUNDS: i64 = 12;
    const PER_ROUND: i64 = 300;
    const MINUTE: i64 = 60_000_000;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let ws = workspace(&format!("purges-beside-{w}"));
                let at = |n: i64| Timestamp::from_micros(1_700_000_000_000_000 + n * 7 * MINUTE);
                for round in 0..ROUNDS {
                    let events: Vec<Event> = (0..PER_ROUND)
                        .map(|i| {
                            let n = round * PER_ROUND + i;
                            Event::new(
                                format!("e{n}"),
                                CustomerId(i % 7),
                                names::PAGE_VIEWED,
                                at(n),
                            )
                        })
                        .collect();
                    store.append(&ws, &events).await.expect("append");
                    let cutoff = at(round * PER_ROUND + PER_ROUND / 2);
                    store
                        .purge(&ws, PurgeScope::Before { cutoff }, PurgeMode::Delete)
                        .await
                        .expect("purge beside other writers");
                }
                ws
            })
        })
        .collect();
    for writer in writers {
        let ws = bounded("a writer", writer).await.expect("the writer ran");
        let left = count(&*store, &ws).await.expect("count");
        assert_eq!(left, u64::try_from(PER_ROUND / 2).expect("small"), "{ws:?}");
    }
}

/// Calls cancelled at every point of their first round trips leave the pool clean: on a pool
/// of one connection, appends, reports and exports are spawned and aborted after 0 to 2 ms (so
/// some are cut inside `BEGIN` or a prepare), and after each the next append lands and the next
/// report counts it.
/// A `BEGIN` that reached the server with nothing left to end it (sqlx 0.9.0 on PostgreSQL and
/// MySQL) made the next write fail — "cannot execute INSERT in a read-only transaction",
/// "Transaction characteristics can't be changed" — or run inside a stale transaction; a
/// MySQL prepare cut in flight left the connection reading old answers, and the pool waited
/// for it for good.
pub(crate) async fn cancelled_calls_leave_the_pool_clean(store: std::sync::Arc<dyn EventStore>) {
    const ROUNDS: usize = 400;
    const BATCH: usize = 3;
    let ws = workspace("cancelled-calls");
    let cut = workspace("cancelled-calls-cut");
    for round in 0..ROUNDS {
        let call = {
            let (store, cut) = (store.clone(), cut.clone());
            tokio::spawn(async move {
                match round % 3 {
                    0 => {
                        let batch = views(&format!("cut{round}"), BATCH, 0);
                        store.append(&cut, &batch).await.map(drop)
                    }
                    1 => count(&*store, &cut).await.map(drop),
                    _ => drain(&*store, &cut).await.1.map_or(Ok(()), Err),
                }
            })
        };
        let delay = Duration::from_micros(5 * round as u64);
        let started = Instant::now();
        while started.elapsed() < delay {
            std::hint::spin_loop();
        }
        call.abort();
        let _ = call.await;

        let batch = views(&format!("r{round}"), BATCH, 0);
        let landed = bounded(
            "the append after a cancelled call",
            store.append(&ws, &batch),
        )
        .await
        .unwrap_or_else(|e| panic!("the append after cancelled call {round}: {e}"));
        assert_eq!(landed.inserted, BATCH as u64);
        let total = bounded("the count after a cancelled call", count(&*store, &ws))
            .await
            .unwrap_or_else(|e| panic!("the count after cancelled call {round}: {e}"));
        assert_eq!(total, ((round + 1) * BATCH) as u64, "after call {round}");
    }
    let cut_total = count(&*store, &cut).await.expect("count the cut workspace");
    assert_eq!(
        cut_total % BATCH as u64,
        0,
        "a cancelled append landed in part"
    );
}
