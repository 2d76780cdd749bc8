//! Helpers shared by the cases.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use futures::StreamExt;
use serde_json::json;

use crate::{
    ActivityPage, ActivityQuery, ActivitySort, ActivitySortKey, Actor, AppendOutcome, BucketCount,
    Customer, CustomerFilter, CustomerId, CustomerScore, Device, Event, EventBatch, EventFilter,
    EventPageQuery, EventStore, Geo, Milestones, Page, Result, TimeWindow, Timestamp,
    TopCustomersQuery, WorkspaceId,
};

/// A workspace no other case or run uses: the case name, the process id, a counter and the
/// clock, so that cases can share one database.
pub(super) fn fresh_workspace(case: &str) -> WorkspaceId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let case: String = case.chars().take(60).collect();
    let id = format!("{case}-{}-{n}-{nanos}", std::process::id());
    WorkspaceId::new(id).unwrap_or_else(|e| panic!("bad test workspace id: {e}"))
}

#[track_caller]
pub(super) fn ok<T>(what: &str, result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

#[track_caller]
pub(super) fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad test timestamp {text}: {e}"))
}

pub(super) fn micros(at: Timestamp, delta: i64) -> Timestamp {
    Timestamp::from_micros(at.as_micros() + delta)
}

pub(super) const HOUR: i64 = 3_600_000_000;
pub(super) const DAY: i64 = 24 * HOUR;

/// Midnight UTC of the day most cases happen on.
pub(super) fn base() -> Timestamp {
    ts("2026-11-19T00:00:00Z")
}

pub(super) fn window(from: Timestamp, to: Timestamp) -> TimeWindow {
    TimeWindow::new(from, to).unwrap_or_else(|e| panic!("bad test window: {e}"))
}

/// The test day `[base, base + 1 day)`.
pub(super) fn day() -> TimeWindow {
    window(base(), micros(base(), DAY))
}

pub(super) fn ev(id: &str, customer: i64, name: &str, at: Timestamp) -> Event {
    Event::new(id, CustomerId(customer), name, at)
}

pub(super) fn by(actor: Actor, mut event: Event) -> Event {
    event.actor = actor;
    event
}

pub(super) fn customer(id: i64, first: &str, last: &str) -> Customer {
    Customer::new(CustomerId(id), first, last)
}

pub(super) fn ids_of(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

pub(super) fn row_ids(page: &ActivityPage) -> Vec<i64> {
    page.rows.iter().map(|r| r.customer.id.0).collect()
}

pub(super) fn scores(rows: &[CustomerScore]) -> Vec<(i64, u64)> {
    rows.iter().map(|s| (s.customer.0, s.score)).collect()
}

pub(super) fn cells(rows: &[BucketCount]) -> Vec<(i64, usize, u64)> {
    rows.iter()
        .map(|c| (c.customer.0, c.bucket, c.count))
        .collect()
}

pub(super) async fn append(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    events: &[Event],
) -> AppendOutcome {
    ok("append", store.append(ws, events).await)
}

pub(super) async fn upsert(store: &dyn EventStore, ws: &WorkspaceId, customers: &[Customer]) {
    ok(
        "upsert_customers",
        store.upsert_customers(ws, customers).await,
    );
}

pub(super) async fn export(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    filter: EventFilter,
) -> Vec<Event> {
    let batches: Vec<Result<EventBatch>> = store.export(ws.clone(), filter).collect().await;
    let mut events = Vec::new();
    for batch in batches {
        let batch = ok("export batch", batch);
        assert!(!batch.is_empty(), "export batches are never empty");
        events.extend(ok(
            "exported metadata",
            batch
                .to_events()
                .map_err(|e| crate::Error::backend("export", e)),
        ));
    }
    events
}

pub(super) async fn export_all(store: &dyn EventStore, ws: &WorkspaceId) -> Vec<Event> {
    export(store, ws, EventFilter::new(TimeWindow::ALL)).await
}

pub(super) async fn top(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    w: TimeWindow,
    limit: usize,
) -> Vec<CustomerScore> {
    let query = TopCustomersQuery { window: w, limit };
    ok("top_customers", store.top_customers(ws, &query).await)
}

pub(super) async fn page(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    filter: &EventFilter,
    limit: usize,
) -> (Vec<Event>, u64) {
    let query = EventPageQuery {
        filter: filter.clone(),
        after: None,
        limit,
    };
    let page = ok("event_page", store.event_page(ws, &query).await);
    (page.events, page.total)
}

pub(super) fn activity_query(w: TimeWindow) -> ActivityQuery {
    ActivityQuery {
        window: w,
        customers: CustomerFilter::default(),
        milestones: Milestones::default(),
        sort: ActivitySort {
            key: ActivitySortKey::CustomerId,
            descending: false,
        },
        offset: 0,
        limit: 1_000,
        row_buckets: None,
        latest: None,
    }
}

pub(super) async fn activity(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    query: &ActivityQuery,
) -> ActivityPage {
    ok("activity_page", store.activity_page(ws, query).await)
}

/// Every row of an activity query, read in pages of `size`; checks that each page agrees on the
/// total and the summary.
pub(super) async fn activity_in_pages(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    query: &ActivityQuery,
    size: u64,
) -> ActivityPage {
    let mut all = ActivityPage::default();
    let mut query = query.clone();
    query.limit = size;
    query.offset = 0;
    loop {
        let page = activity(store, ws, &query).await;
        if query.offset > 0 {
            assert_eq!(
                (page.total_rows, page.summary),
                (all.total_rows, all.summary),
                "activity pages disagree on the total or summary at offset {}",
                query.offset
            );
        }
        all.total_rows = page.total_rows;
        all.summary = page.summary;
        let len = page.rows.len() as u64;
        assert!(
            len <= size,
            "an activity page holds {len} rows, more than its limit {size}"
        );
        all.rows.extend(page.rows);
        if len < size {
            return all;
        }
        assert!(
            query.offset <= all.total_rows,
            "activity pages go on past the total of {} rows",
            all.total_rows
        );
        query.offset += size;
    }
}

pub(super) fn full_event() -> Event {
    let mut e = ev(
        "full-🦀-1",
        42,
        "Clicked 🎉 ünïcødé",
        ts("2026-11-19T10:11:12.123456Z"),
    );
    e.actor = Actor::Staff;
    e.received_at = ts("2026-11-19T10:11:13.654321Z");
    e.page = Page {
        url: "https://shop.example.com/p/🦀?q=a%20b&x=1".into(),
        path: "/p/🦀".into(),
        domain: "shop.example.com".into(),
        referrer: "https://search.example/?q=\"quoted\",comma".into(),
    };
    e.geo = Geo {
        country: "DE".into(),
        region: "Baden-Württemberg".into(),
        city: "Stuttgart".into(),
        zone: "Europe/Berlin".into(),
    };
    e.device = Some(Device::Mobile);
    e.ip = Some(IpAddr::from([203, 0, 113, 9]));
    let metadata = json!({
        "emoji": "🦀👩‍👩‍👧",
        "nested": {"list": [1, "two", null, true, {"deep": "🎉"}], "empty": {}, "none": []},
        "big": 9_007_199_254_740_993_i64,
        "neg": -42,
        "half": 1.5,
        "quote": "it's \"quoted\"\n\ttabbed",
    });
    if let serde_json::Value::Object(map) = metadata {
        e.metadata = map;
    }
    e
}

pub(super) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad test date {y}-{m}-{d}"))
}

/// Writes made on a thread of their own beside a case's reads, until the case stops them: so
/// that they land beside a store whose calls never wait (the in-memory ones) as well as
/// between a SQL store's statements. The case's runtime thread drives the I/O of both while
/// it awaits its reads.
pub(super) struct Writer {
    stop: Arc<AtomicBool>,
    thread: tokio::task::JoinHandle<i64>,
}

impl Writer {
    /// Calls `write(0)`, `write(1)` … one after the other, at most `max` times.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub(super) fn start<F, W>(max: i64, write: W) -> Self
    where
        W: Fn(i64) -> F + Send + 'static,
        F: Future<Output = ()>,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let runtime = tokio::runtime::Handle::current();
        let thread = tokio::task::spawn_blocking(move || {
            runtime.block_on(async {
                let mut written = 0;
                while written < max && !stopped.load(Ordering::SeqCst) {
                    write(written).await;
                    written += 1;
                }
                written
            })
        });
        Self { stop, thread }
    }

    /// Stops the writes and says how many were made.
    ///
    /// # Panics
    /// When a write panicked.
    pub(super) async fn stop(self) -> i64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .await
            .unwrap_or_else(|e| panic!("the writer failed: {e}"))
    }
}
