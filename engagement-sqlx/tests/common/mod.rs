//! What the server-backed suites share: a name for this run's own database or schema, which
//! names earlier runs left behind, and helpers that work on any store.

use std::time::{SystemTime, UNIX_EPOCH};

/// Names of test databases and schemas start with this.
pub(crate) const TEST_PREFIX: &str = "engagement_t_";

/// Runs older than this are over; what they left is dropped.
const STALE_AFTER_SECS: u64 = 6 * 3600;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This test binary's own name: the prefix, the start time and the process id.
pub(crate) fn run_name() -> String {
    format!("{TEST_PREFIX}{}_{}", now_secs(), std::process::id())
}

/// Whether `name` was made by a run that started long enough ago to be over.
pub(crate) fn is_stale(name: &str) -> bool {
    name.strip_prefix(TEST_PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok())
        .is_some_and(|secs| secs + STALE_AFTER_SECS < now_secs())
}

/// Runs `work` to completion on a runtime of its own, on another thread (test setup runs inside
/// the suite's runtime, which cannot block on a second one).
pub(crate) fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a runtime for the test setup")
            .block_on(work)
    })
    .join()
    .expect("the test setup thread panicked")
}

/// How many events the workspace holds (the event log's exact count: a page of none, so the
/// store counts even an empty workspace, where a first page shorter than its limit would be its
/// own total).
pub(crate) async fn count(
    store: &dyn engagement_core::EventStore,
    ws: &engagement_core::WorkspaceId,
) -> engagement_core::Result<u64> {
    use engagement_core::{EventFilter, EventPageQuery, TimeWindow};

    let query = EventPageQuery {
        filter: EventFilter::new(TimeWindow::ALL),
        after: None,
        limit: 0,
    };
    Ok(store.event_page(ws, &query).await?.total)
}

/// Closes `store` after an append: a clone of it answers `Closed` to a write and to a read, and
/// `reopened`, a store opened afresh on the same database once the close is over, holds the
/// append.
pub(crate) async fn closing_keeps_appends_and_refuses_later_calls<S>(
    store: S,
    reopened: impl std::future::Future<Output = S>,
) where
    S: engagement_core::EventStore + Clone,
{
    use engagement_core::{CustomerId, Error, Event, Timestamp, WorkspaceId};

    let ws = WorkspaceId::new(format!("close-{}", std::process::id())).expect("workspace");
    let event = Event::new(
        "kept",
        CustomerId(1),
        "Page Viewed",
        Timestamp::from_micros(1),
    );
    store
        .append(&ws, std::slice::from_ref(&event))
        .await
        .expect("append");
    let clone = store.clone();

    store.close().await;

    let late = Event::new(
        "late",
        CustomerId(1),
        "Page Viewed",
        Timestamp::from_micros(2),
    );
    assert!(matches!(
        clone.append(&ws, &[late]).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        clone.event(&ws, &event.id).await,
        Err(Error::Closed)
    ));
    let reopened = reopened.await;
    assert_eq!(
        reopened.event(&ws, &event.id).await.expect("read"),
        Some(event)
    );
}

/// The activity query of every customer whose search text holds `term`, over all time, the
/// first ten by id.
pub(crate) fn search_query(term: &str) -> engagement_core::ActivityQuery {
    use engagement_core::{ActivitySort, ActivitySortKey, CustomerFilter, Milestones, TimeWindow};
    engagement_core::ActivityQuery {
        window: TimeWindow::ALL,
        customers: CustomerFilter {
            search: Some(term.into()),
            ..CustomerFilter::default()
        },
        milestones: Milestones::default(),
        sort: ActivitySort {
            key: ActivitySortKey::CustomerId,
            descending: false,
        },
        offset: 0,
        limit: 10,
        row_buckets: None,
        latest: None,
    }
}
