//! Differential property tests: the backend answers exactly what the reference answers.

use std::fmt::Debug;
use std::future::Future;

use futures::TryStreamExt;
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::generators::{
    ID_POOL, POOL_NAMES, anchors, arb_activity, arb_batches, arb_conversion_window,
    arb_customer_ids, arb_customers, arb_filter, arb_instant, arb_window,
};
use super::runtime;
use super::support::fresh_workspace;
use crate::{
    ActivityQuery, BucketCountsQuery, Customer, CustomerId, Event, EventFilter, EventId,
    EventPageQuery, EventStore, FunnelQuery, PurgeMode, PurgeScope, RankingQuery, ReferenceStore,
    Result, TimeWindow, TopCustomersQuery, WorkspaceId,
};

/// One read of every kind the differential test compares.
#[derive(Debug, Clone)]
enum Read {
    Top(TopCustomersQuery),
    Ranking(RankingQuery),
    Rank(TimeWindow, CustomerId),
    Activity(ActivityQuery),
    Buckets(BucketCountsQuery),
    Pages(EventPageQuery),
    Export(EventFilter),
    Funnel(FunnelQuery),
    Event(EventId),
}

fn arb_read() -> impl Strategy<Value = Read> {
    let names = || {
        subsequence(POOL_NAMES.to_vec(), 0..=3)
            .prop_map(|n| n.into_iter().map(String::from).collect())
    };
    prop_oneof![
        (arb_window(), 0..8_usize)
            .prop_map(|(window, limit)| Read::Top(TopCustomersQuery { window, limit })),
        (arb_window(), 0..=7_i64).prop_map(|(w, c)| Read::Rank(w, CustomerId(c))),
        (
            arb_window(),
            0..8_usize,
            any::<bool>(),
            proptest::option::of(0..=7_i64)
        )
            .prop_map(|(window, limit, records, standing_of)| {
                Read::Ranking(RankingQuery {
                    top: TopCustomersQuery { window, limit },
                    records,
                    standing_of: standing_of.map(CustomerId),
                })
            }),
        arb_activity().prop_map(Read::Activity),
        (arb_customer_ids(), names(), subsequence(anchors(), 0..=5)).prop_map(
            |(customers, names, edges)| {
                Read::Buckets(BucketCountsQuery {
                    customers,
                    names,
                    edges,
                })
            }
        ),
        (arb_filter(), 1..6_usize).prop_map(|(filter, limit)| Read::Pages(EventPageQuery {
            filter,
            after: None,
            limit
        })),
        arb_filter().prop_map(Read::Export),
        (
            arb_window(),
            subsequence(POOL_NAMES.to_vec(), 2..=4).prop_shuffle(),
            arb_conversion_window(),
            proptest::option::of(arb_instant())
        )
            .prop_map(
                |(window, steps, conversion_window, open_since)| Read::Funnel(FunnelQuery {
                    window,
                    steps: steps.into_iter().map(String::from).collect(),
                    conversion_window,
                    open_since,
                })
            ),
        (0..ID_POOL + 1).prop_map(|id| Read::Event(EventId::from(format!("e{id:02}")))),
    ]
}

/// A random workspace history, reads, a purge, and the history appended again.
#[derive(Debug, Clone)]
struct Scenario {
    batches: Vec<Vec<Event>>,
    upserts: Vec<Vec<Customer>>,
    reads: Vec<Read>,
    purge: PurgeScope,
    mode: PurgeMode,
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    let purge = prop_oneof![
        arb_instant().prop_map(|cutoff| PurgeScope::Before { cutoff }),
        (0..=6_i64).prop_map(|c| PurgeScope::Customer {
            customer: CustomerId(c)
        }),
    ];
    (
        arb_batches(),
        proptest::collection::vec(arb_customers(), 0..3),
        proptest::collection::vec(arb_read(), 1..12),
        purge,
        proptest::bool::weighted(0.3).prop_map(|dry| {
            if dry {
                PurgeMode::DryRun
            } else {
                PurgeMode::Delete
            }
        }),
    )
        .prop_map(|(batches, upserts, reads, purge, mode)| Scenario {
            batches,
            upserts,
            reads,
            purge,
            mode,
        })
}

/// Both answers succeeded and are equal, or a failure saying what differs: the comparison of
/// every differential property, public so that a backend's own property tests report alike.
///
/// # Errors
/// A [`TestCaseError`] when either answer failed or they differ (`asked` says for what query).
pub fn agree<T: PartialEq + Debug>(
    what: &str,
    asked: &(dyn Debug + Sync),
    got: Result<T>,
    want: Result<T>,
) -> std::result::Result<(), TestCaseError> {
    let want =
        want.map_err(|e| TestCaseError::fail(format!("the reference {what} failed: {e}")))?;
    let got = got.map_err(|e| TestCaseError::fail(format!("{what} failed for {asked:?}: {e}")))?;
    if got == want {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "{what} differs from the reference for {asked:?}\n  backend:   {got:?}\n  reference: {want:?}"
        )))
    }
}

/// Every event an export of `filter` yields, or its first error.
///
/// # Errors
/// The first error the export stream yields.
pub async fn collect_export(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<Event>> {
    crate::store::export_events(store.export(ws.clone(), filter.clone()))
        .try_collect()
        .await
}

/// Reads the log from `query` page after page (each page after the previous one's last event)
/// on the backend and on the reference until the reference's pages end; every page must agree.
///
/// # Errors
/// A [`TestCaseError`] when a page differs, either store fails, or the pages do not end within
/// `max_pages`.
pub async fn pages_agree(
    store: &dyn EventStore,
    oracle: &ReferenceStore,
    ws: &WorkspaceId,
    query: &EventPageQuery,
    max_pages: usize,
) -> std::result::Result<(), TestCaseError> {
    let mut q = query.clone();
    for _ in 0..max_pages {
        let want = oracle.event_page(ws, &q).await;
        let next = want
            .as_ref()
            .ok()
            .and_then(|p| p.events.last())
            .map(Event::key);
        agree("event_page", &q, store.event_page(ws, &q).await, want)?;
        match next {
            Some(key) => q.after = Some(key),
            None => return Ok(()),
        }
    }
    Err(TestCaseError::fail(format!(
        "event_page never reached the end in {max_pages} pages: {q:?}"
    )))
}

async fn read_agrees(
    store: &dyn EventStore,
    oracle: &ReferenceStore,
    ws: &WorkspaceId,
    read: &Read,
) -> std::result::Result<(), TestCaseError> {
    match read {
        Read::Top(q) => agree(
            "top_customers",
            q,
            store.top_customers(ws, q).await,
            oracle.top_customers(ws, q).await,
        ),
        Read::Ranking(q) => agree(
            "ranking",
            q,
            store.ranking(ws, q).await,
            oracle.ranking(ws, q).await,
        ),
        Read::Rank(w, c) => agree(
            "customer_rank",
            &(w, c),
            store.customer_rank(ws, *w, *c).await,
            oracle.customer_rank(ws, *w, *c).await,
        ),
        Read::Activity(q) => agree(
            "activity_page",
            q,
            store.activity_page(ws, q).await,
            oracle.activity_page(ws, q).await,
        ),
        Read::Buckets(q) => agree(
            "bucket_counts",
            q,
            store.bucket_counts(ws, q).await,
            oracle.bucket_counts(ws, q).await,
        ),
        // Each page moves the cursor past at least one event; more pages than events means the
        // backend's pages do not advance.
        Read::Pages(q) => pages_agree(store, oracle, ws, q, ID_POOL as usize + 1).await,
        Read::Export(f) => agree(
            "export",
            f,
            collect_export(store, ws, f).await,
            collect_export(oracle, ws, f).await,
        ),
        Read::Funnel(q) => agree(
            "funnel_input",
            q,
            store.funnel_input(ws, q).await,
            oracle.funnel_input(ws, q).await,
        ),
        Read::Event(id) => agree(
            "event",
            id,
            store.event(ws, id).await,
            oracle.event(ws, id).await,
        ),
    }
}

/// Plays one scenario on the backend (in a fresh workspace) and on a fresh reference store.
async fn scenario_agrees(
    store: &dyn EventStore,
    s: &Scenario,
) -> std::result::Result<(), TestCaseError> {
    let ws = fresh_workspace("differential");
    let oracle = ReferenceStore::new();
    for batch in &s.batches {
        agree(
            "append",
            batch,
            store.append(&ws, batch).await,
            oracle.append(&ws, batch).await,
        )?;
    }
    for records in &s.upserts {
        agree(
            "upsert_customers",
            records,
            store.upsert_customers(&ws, records).await,
            oracle.upsert_customers(&ws, records).await,
        )?;
    }
    let everyone: Vec<CustomerId> = (0..=7).map(CustomerId).collect();
    let all = EventFilter::new(TimeWindow::ALL);
    for read in &s.reads {
        read_agrees(store, &oracle, &ws, read).await?;
    }
    let asked = (s.purge, s.mode);
    agree(
        "purge",
        &asked,
        store.purge(&ws, s.purge, s.mode).await,
        oracle.purge(&ws, s.purge, s.mode).await,
    )?;
    agree(
        "export after purge",
        &asked,
        collect_export(store, &ws, &all).await,
        collect_export(&oracle, &ws, &all).await,
    )?;
    agree(
        "customers after purge",
        &asked,
        store.customers(&ws, &everyone).await,
        oracle.customers(&ws, &everyone).await,
    )?;
    for read in &s.reads {
        read_agrees(store, &oracle, &ws, read).await?;
    }
    // What a purge left must take appends as before: every batch again, so the purged events
    // come back and the others are duplicates or conflicts.
    for batch in &s.batches {
        agree(
            "append after purge",
            batch,
            store.append(&ws, batch).await,
            oracle.append(&ws, batch).await,
        )?;
    }
    agree(
        "export after the appends after purge",
        &asked,
        collect_export(store, &ws, &all).await,
        collect_export(&oracle, &ws, &all).await,
    )?;
    for read in &s.reads {
        read_agrees(store, &oracle, &ws, read).await?;
    }
    Ok(())
}

/// The number of cases a property test should run: `PROPTEST_CASES` from the environment when
/// it is set to a number, else `default`. For a test that names its own number of cases
/// (`ProptestConfig::with_cases`), which proptest's own reading of the variable does not change.
///
/// ```
/// use engagement_core::conformance::proptest_cases;
/// use proptest::test_runner::Config;
///
/// // 200 cases, or as many as PROPTEST_CASES says.
/// let config = Config::with_cases(proptest_cases(200));
/// # let _ = config;
/// ```
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The differential property test: random workspace histories (see [`arb_batches`]) and random
/// queries of every primitive, played on the store that `setup` builds and on a
/// [`ReferenceStore`]; every answer must be identical, before and after a random purge and after the
/// history is appended again.
///
/// `setup` runs once, on the runtime the cases run on; each case uses a fresh workspace. The
/// number of cases is `PROPTEST_CASES` from the environment, 24 by default.
///
/// # Panics
/// With the shrunk failing scenario and the first answer that differs.
pub fn differential<S, Fut>(setup: impl FnOnce() -> Fut)
where
    S: EventStore,
    Fut: Future<Output = S>,
{
    let runtime = runtime();
    let store = runtime.block_on(setup());
    let cases = proptest_cases(24);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&arb_scenario(), |scenario| {
        runtime.block_on(scenario_agrees(&store, &scenario))
    });
    if let Err(failure) = result {
        panic!("the backend disagrees with the reference: {failure}");
    }
}
