//! The load test: concurrent writers and readers on one workspace of any backend, a fixed
//! number of events, and checks that every event is counted exactly once and that every report
//! taken during the run was consistent within itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use engagement_core::{
    ActivityQuery, ActivitySort, ActivitySortKey, ActivitySummary, Customer, CustomerFilter,
    CustomerId, Error, Event, EventFilter, EventPageQuery, EventStore, Milestones, TimeWindow,
    Timestamp, TopCustomersQuery, WorkspaceId, names,
};
use futures::StreamExt;

/// The shape of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Concurrent writer tasks.
    pub(crate) writers: usize,
    /// Concurrent reader tasks.
    pub(crate) readers: usize,
    /// Events in all (split evenly between writers).
    pub(crate) events: usize,
    /// Events per append.
    pub(crate) batch: usize,
    /// Customers the events are spread over (all with a record).
    pub(crate) customers: i64,
}

impl Plan {
    /// The run CI makes on every backend: 20,000 events.
    pub(crate) const CI: Self = Self {
        writers: 8,
        readers: 4,
        events: 20_000,
        batch: 250,
        customers: 50,
    };

    /// The larger run behind `#[ignore]`, for the figures in `docs/reliability.md`.
    pub(crate) const LARGE: Self = Self {
        writers: 16,
        readers: 8,
        events: 200_000,
        batch: 500,
        customers: 500,
    };
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Figures {
    /// The backend's name.
    pub(crate) backend: &'static str,
    /// Events stored.
    pub(crate) events: u64,
    /// Reports taken (and checked) while the writers ran.
    pub(crate) reports: u64,
    /// Appends that came back `Busy` and were retried.
    pub(crate) busy: u64,
    /// Other errors (each fails the run).
    pub(crate) errors: u64,
    /// Wall time of the write phase.
    pub(crate) elapsed: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "load[{}]: {} events in {:.2}s = {:.0} events/s; {} reports = {:.1} reports/s; \
             {} busy retries; {} errors",
            self.backend,
            self.events,
            secs,
            self.events as f64 / secs,
            self.reports,
            self.reports as f64 / secs,
            self.busy,
            self.errors
        )
    }
}

/// The names events cycle through: every default milestone plus a name that is none.
const NAMES: [&str; 6] = [
    names::PAGE_VIEWED,
    names::LINK_OPENED,
    names::CONFIRMED,
    names::VERIFIED,
    names::CHECKOUT_STARTED,
    names::ORDER_SUBMITTED,
];

fn event(plan: &Plan, writer: usize, seq: usize) -> Event {
    let n = i64::try_from(writer * plan.events + seq).expect("small");
    let customer = CustomerId(n % plan.customers + 1);
    // Ten events share each instant so that keyset pages meet ties.
    let at = Timestamp::from_micros(1_700_000_000_000_000 + n / 10);
    Event::new(
        format!("w{writer:02}-{seq:07}"),
        customer,
        NAMES[seq % NAMES.len()],
        at,
    )
}

/// Counters shared by the tasks.
#[derive(Debug, Default)]
struct Tally {
    reports: AtomicU64,
    busy: AtomicU64,
    errors: AtomicU64,
}

impl Tally {
    /// Counts an error; `Busy` is expected under load, anything else is reported.
    fn failed(&self, what: &str, error: &Error) {
        if matches!(error, Error::Busy { .. }) {
            self.busy.fetch_add(1, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{what} failed: {error}");
        }
    }
}

/// Appends a batch until it lands (a retry after a failure must not count anything twice).
async fn write_batch(store: &dyn EventStore, ws: &WorkspaceId, batch: &[Event], tally: &Tally) {
    for attempt in 0..100_u64 {
        match store.append(ws, batch).await {
            Ok(outcome) => {
                assert!(
                    outcome.conflicts.is_empty(),
                    "a fresh batch reported conflicts: {outcome:?}"
                );
                return;
            }
            Err(e) => {
                tally.failed("append", &e);
                tokio::time::sleep(Duration::from_millis(5 * attempt.min(20))).await;
            }
        }
    }
    panic!("a batch never landed after 100 attempts");
}

async fn writer(
    store: Arc<dyn EventStore>,
    ws: WorkspaceId,
    plan: Plan,
    w: usize,
    tally: Arc<Tally>,
) {
    let share = plan.events / plan.writers;
    let events: Vec<Event> = (0..share).map(|seq| event(&plan, w, seq)).collect();
    for (i, batch) in events.chunks(plan.batch).enumerate() {
        write_batch(&*store, &ws, batch, &tally).await;
        if i == 1 {
            // The client timed out and sent the batch again: all duplicates.
            let again = store.append(&ws, batch).await;
            match again {
                Ok(outcome) => assert_eq!(
                    (outcome.inserted, outcome.duplicates),
                    (0, batch.len() as u64),
                    "a re-sent batch must be all duplicates"
                ),
                Err(e) => tally.failed("re-send", &e),
            }
        }
    }
}

fn activity_query(plan: &Plan) -> ActivityQuery {
    ActivityQuery {
        window: TimeWindow::ALL,
        customers: CustomerFilter::default(),
        milestones: Milestones::default(),
        sort: ActivitySort {
            key: ActivitySortKey::Milestone(engagement_core::Milestone::Views),
            descending: true,
        },
        offset: 0,
        limit: u64::try_from(plan.customers).expect("positive") + 10,
        row_buckets: None,
        latest: None,
    }
}

/// One round of the three reports a reader takes, each checked on its own; `last_total` is the
/// log total this reader saw last, which may only grow.
async fn read_round(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    plan: &Plan,
    last_total: &mut u64,
    tally: &Tally,
) {
    match store.activity_page(ws, &activity_query(plan)).await {
        Ok(page) => {
            assert_eq!(
                page.total_rows,
                page.rows.len() as u64,
                "one page holds every row"
            );
            let mut sum = ActivitySummary::default();
            for row in &page.rows {
                sum.add(&row.counters);
            }
            assert_eq!(
                page.summary, sum,
                "the activity summary is the sum of its rows"
            );
            tally.reports.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tally.failed("activity_page", &e),
    }
    let ranking = store
        .top_customers(
            ws,
            &TopCustomersQuery {
                window: TimeWindow::ALL,
                limit: 1_000,
            },
        )
        .await;
    let query = EventPageQuery {
        filter: EventFilter::new(TimeWindow::ALL),
        after: None,
        limit: 25,
    };
    match store.event_page(ws, &query).await {
        Ok(page) => {
            assert!(
                page.total >= *last_total,
                "the log total went down: {} after {}",
                page.total,
                *last_total
            );
            *last_total = page.total;
            assert_eq!(
                page.events.len() as u64,
                page.total.min(25),
                "a page is full while events remain"
            );
            let keys: Vec<_> = page.events.iter().map(Event::key).collect();
            assert!(
                keys.windows(2).all(|k| k[0] > k[1]),
                "a log page runs newest first"
            );
            tally.reports.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tally.failed("event_page", &e),
    }
    match ranking {
        Ok(rows) => {
            let sum: u64 = rows.iter().map(|r| r.score).sum();
            // The ranking was taken before the page: its scores cannot exceed the later total.
            assert!(
                sum <= *last_total,
                "ranking scores sum to {sum}, more than the {} events stored after it",
                *last_total
            );
            let order: Vec<_> = rows
                .iter()
                .map(|r| (std::cmp::Reverse(r.score), r.customer))
                .collect();
            assert!(
                order.windows(2).all(|p| p[0] < p[1]),
                "the ranking is ordered by score, then id"
            );
            tally.reports.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tally.failed("top_customers", &e),
    }
}

async fn reader(
    store: Arc<dyn EventStore>,
    ws: WorkspaceId,
    plan: Plan,
    done: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut last_total = 0;
    while !done.load(Ordering::Acquire) {
        read_round(&*store, &ws, &plan, &mut last_total, &tally).await;
        tokio::task::yield_now().await;
    }
}

/// Runs the plan on `store` (on the current multi-threaded runtime) and checks the end state:
/// every event stored once, counted once by the log, the export, the ranking and the activity
/// summary. Panics on any inconsistency or any error other than a retried `Busy`.
pub(crate) async fn run(store: Arc<dyn EventStore>, backend: &'static str, plan: Plan) -> Figures {
    let ws = super::workspace(&format!("load-{backend}"));
    let records: Vec<Customer> = (1..=plan.customers)
        .map(|id| Customer::new(CustomerId(id), format!("First{id}"), format!("Last{id}")))
        .collect();
    store
        .upsert_customers(&ws, &records)
        .await
        .expect("upsert the customers");

    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let readers: Vec<_> = (0..plan.readers)
        .map(|_| {
            tokio::spawn(reader(
                store.clone(),
                ws.clone(),
                plan,
                done.clone(),
                tally.clone(),
            ))
        })
        .collect();
    let writers: Vec<_> = (0..plan.writers)
        .map(|w| tokio::spawn(writer(store.clone(), ws.clone(), plan, w, tally.clone())))
        .collect();
    for task in writers {
        task.await.expect("a writer panicked");
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Release);
    for task in readers {
        task.await.expect("a reader panicked");
    }

    let expected = (plan.events / plan.writers * plan.writers) as u64;
    check_end_state(&*store, &ws, &plan, expected).await;
    let figures = Figures {
        backend,
        events: expected,
        reports: tally.reports.load(Ordering::Relaxed),
        busy: tally.busy.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        elapsed,
    };
    eprintln!("{figures}");
    assert_eq!(figures.errors, 0, "errors other than Busy during the run");
    assert!(figures.reports > 0, "no report was taken during the run");
    figures
}

async fn check_end_state(store: &dyn EventStore, ws: &WorkspaceId, plan: &Plan, expected: u64) {
    assert_eq!(
        crate::common::count(store, ws).await.expect("count"),
        expected,
        "the log total"
    );

    let exported: Vec<Event> = engagement_core::store::export_events(
        store.export(ws.clone(), EventFilter::new(TimeWindow::ALL)),
    )
    .map(|item| item.expect("export item"))
    .collect()
    .await;
    let ids: BTreeSet<&str> = exported.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        exported.len() as u64,
        expected,
        "the export holds every event"
    );
    assert_eq!(
        ids.len() as u64,
        expected,
        "the export holds each event once"
    );
    let want: BTreeSet<String> = (0..plan.writers)
        .flat_map(|w| (0..plan.events / plan.writers).map(move |s| (w, s)))
        .map(|(w, s)| event(plan, w, s).id.as_str().to_owned())
        .collect();
    assert!(
        ids.iter().copied().eq(want.iter().map(String::as_str)),
        "the export holds exactly the events written"
    );

    let ranking = store
        .top_customers(
            ws,
            &TopCustomersQuery {
                window: TimeWindow::ALL,
                limit: 1_000,
            },
        )
        .await
        .expect("ranking");
    assert_eq!(
        ranking.iter().map(|r| r.score).sum::<u64>(),
        expected,
        "the ranking counts every event once"
    );

    let page = store
        .activity_page(ws, &activity_query(plan))
        .await
        .expect("activity");
    let mut want = ActivitySummary::default();
    for e in &exported {
        let mut one = engagement_core::ActivityCounters::default();
        one.record(&Milestones::default(), &e.name, e.occurred_at);
        want.views += one.views;
        want.verified += one.verified;
        want.checkout += one.checkout;
        want.orders += one.orders;
    }
    want.customers_with_views = page.rows.iter().filter(|r| r.counters.views > 0).count() as u64;
    assert_eq!(
        page.summary, want,
        "the activity summary counts every event once"
    );
}
