//! The shared backend test suite: one `pub async fn` per case of the
//! [`EventStore`] contract, differential property tests against
//! [`ReferenceStore`], and [`conformance_tests!`](crate::conformance_tests) to run them all.
//!
//! Every case works in its own fresh workspace (named after the case plus a nonce), never
//! assumes the store is empty, and panics with a message saying what went wrong, so one database
//! can be shared by every case and every test run. A backend runs the whole suite in one line,
//! handing over an async constructor:
//!
//! ```
//! use engagement_core::{ReferenceStore, conformance_tests};
//!
//! // In a backend's `tests/conformance.rs`; a SQL backend would connect and migrate here.
//! conformance_tests!(|| async { ReferenceStore::default() });
//!
//! // A store behind `Arc<dyn EventStore>` works the same.
//! mod shared {
//!     use std::sync::Arc;
//!     use engagement_core::{EventStore, ReferenceStore, conformance_tests};
//!     conformance_tests!(|| async { Arc::new(ReferenceStore::default()) as Arc<dyn EventStore> });
//! }
//! # fn main() {}
//! ```
//!
//! The macro stamps out plain `#[test]` functions that each build a Tokio current-thread
//! runtime through [`run`] (what `#[tokio::test]` does), so a backend's tests need no direct
//! Tokio dependency and no crate-path attribute.
//!
//! A single case can also be called directly:
//!
//! ```
//! use engagement_core::{ReferenceStore, conformance};
//!
//! conformance::run(async {
//!     conformance::append_is_idempotent(&ReferenceStore::default()).await;
//! });
//! ```
//!
//! The [`differential`] test plays 24 random scenarios on the backend and on the reference
//! (set `PROPTEST_CASES` to change the number). Its generators (`arb_*`) are public, so other
//! property tests can reuse them.

use std::fmt::Debug;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use futures::StreamExt;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

mod process_tz;

pub use process_tz::{PROCESS_ZONES, TIME_CASES, rerun_under_process_zones};

use crate::ingest::{IngestConfig, Ingestor};
use crate::{
    ActivityCounters, ActivityPage, ActivityQuery, ActivitySort, ActivitySortKey, Actor,
    AppendOutcome, BucketCount, BucketCountsQuery, Customer, CustomerFilter, CustomerId,
    CustomerScore, CustomerStatus, Device, Event, EventFilter, EventId, EventKey, EventPageQuery,
    EventStore, FixedClock, FunnelQuery, Geo, Metadata, Milestone, Milestones, Page, PurgeOutcome,
    PurgeScope, RankedScore, ReferenceStore, ReportZone, Result, TimeWindow, Timestamp,
    TopCustomersQuery, WorkspaceId, names, reference,
};

/// Stamps out one named test per conformance case, plus the differential property test, for
/// the store that `$setup` builds.
///
/// `$setup` is anything callable with no arguments that returns a future of the store (any type
/// implementing [`EventStore`](crate::EventStore), including `Arc<dyn EventStore>`), typically
/// `|| async { MyStore::connect(url).await.expect("connect") }`. It is called once per test,
/// inside a fresh Tokio current-thread runtime (see [`conformance::run`](crate::conformance::run)).
#[macro_export]
macro_rules! conformance_tests {
    ($setup:expr) => {
        $crate::conformance_tests!(@cases $setup;
            append_is_idempotent,
            append_conflict_keeps_first_write,
            every_field_round_trips,
            tenants_are_isolated,
            windows_are_half_open,
            ranking_ties_break_by_customer_id,
            ranking_counts_only_customers_own_events,
            customer_rank_agrees_with_ranking,
            activity_counts_milestones,
            activity_search_is_literal,
            activity_filters_status_and_ids,
            activity_sorts_by_every_key,
            activity_pages_concatenate,
            bucket_counts_follow_local_days,
            event_page_keyset_survives_appends,
            event_page_filters_every_field,
            event_by_id_is_scoped,
            export_streams_everything_in_order,
            dropped_export_leaves_store_usable,
            funnel_input_follows_its_definition,
            purge_before_cutoff,
            purge_customer_erases_only_that_workspace,
            large_batch_appends_atomically,
            huge_id_lists_work,
            upsert_customers_last_write_wins,
            customers_returns_found_in_id_order,
        );
        $crate::conformance_tests!(@owned $setup;
            ingestor_concurrent_senders_count_exactly,
        );

        #[test]
        fn differential_against_reference() {
            $crate::conformance::differential($setup);
        }

        #[test]
        fn time_cases_ignore_the_process_tz() {
            $crate::conformance::rerun_under_process_zones(&$crate::conformance::TIME_CASES);
        }
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::conformance::run(async {
                let store = ($setup)().await;
                $crate::conformance::$case(&store).await;
            });
        }
    )+};
    (@owned $setup:expr; $($case:ident),+ $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::conformance::run(async {
                let store = ($setup)().await;
                $crate::conformance::$case(store).await;
            });
        }
    )+};
}

/// Runs a future to completion on a fresh Tokio current-thread runtime with time and I/O
/// enabled: what `#[tokio::test]` does, without the attribute's crate-path requirement.
///
/// # Panics
/// When the runtime cannot be built, or when the future panics.
pub fn run<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the cases.

/// A workspace no other case or run uses: the case name, the process id, a counter and the
/// clock, so that cases can share one database.
fn fresh_workspace(case: &str) -> WorkspaceId {
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
fn ok<T>(what: &str, result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

#[track_caller]
fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad test timestamp {text}: {e}"))
}

fn micros(at: Timestamp, delta: i64) -> Timestamp {
    Timestamp::from_micros(at.as_micros() + delta)
}

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

/// Midnight UTC of the day most cases happen on.
fn base() -> Timestamp {
    ts("2026-11-19T00:00:00Z")
}

fn window(from: Timestamp, to: Timestamp) -> TimeWindow {
    TimeWindow::new(from, to).unwrap_or_else(|e| panic!("bad test window: {e}"))
}

/// The test day `[base, base + 1 day)`.
fn day() -> TimeWindow {
    window(base(), micros(base(), DAY))
}

fn ev(id: &str, customer: i64, name: &str, at: Timestamp) -> Event {
    Event::new(id, CustomerId(customer), name, at)
}

fn by(actor: Actor, mut event: Event) -> Event {
    event.actor = actor;
    event
}

fn customer(id: i64, first: &str, last: &str) -> Customer {
    Customer::new(CustomerId(id), first, last)
}

fn ids_of(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

fn row_ids(page: &ActivityPage) -> Vec<i64> {
    page.rows.iter().map(|r| r.customer.id.0).collect()
}

fn scores(rows: &[CustomerScore]) -> Vec<(i64, u64)> {
    rows.iter().map(|s| (s.customer.0, s.score)).collect()
}

fn cells(rows: &[BucketCount]) -> Vec<(i64, usize, u64)> {
    rows.iter()
        .map(|c| (c.customer.0, c.bucket, c.count))
        .collect()
}

async fn append(store: &dyn EventStore, ws: &WorkspaceId, events: &[Event]) -> AppendOutcome {
    ok("append", store.append(ws, events).await)
}

async fn upsert(store: &dyn EventStore, ws: &WorkspaceId, customers: &[Customer]) {
    ok(
        "upsert_customers",
        store.upsert_customers(ws, customers).await,
    );
}

async fn export(store: &dyn EventStore, ws: &WorkspaceId, filter: EventFilter) -> Vec<Event> {
    let items: Vec<Result<Event>> = store.export(ws.clone(), filter).collect().await;
    items
        .into_iter()
        .map(|item| ok("export item", item))
        .collect()
}

async fn export_all(store: &dyn EventStore, ws: &WorkspaceId) -> Vec<Event> {
    export(store, ws, EventFilter::new(TimeWindow::ALL)).await
}

async fn top(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    w: TimeWindow,
    limit: usize,
) -> Vec<CustomerScore> {
    let query = TopCustomersQuery { window: w, limit };
    ok("top_customers", store.top_customers(ws, &query).await)
}

async fn page(
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

fn activity_query(w: TimeWindow) -> ActivityQuery {
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
    }
}

async fn activity(store: &dyn EventStore, ws: &WorkspaceId, query: &ActivityQuery) -> ActivityPage {
    ok("activity_page", store.activity_page(ws, query).await)
}

/// Every row of an activity query, read in pages of `size`; checks that each page agrees on the
/// total and the summary.
async fn activity_in_pages(
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

// ---------------------------------------------------------------------------------------------
// Append and round trip.

/// The same id twice in a batch is stored once; a re-sent batch stores nothing new; a retry
/// with another `received_at` is still a duplicate.
pub async fn append_is_idempotent(store: &dyn EventStore) {
    let ws = fresh_workspace("append_is_idempotent");
    let a = ev("a", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    let mut a_retry = a.clone();
    a_retry.received_at = micros(a.received_at, 5_000_000);
    let b = ev("b", 1, names::LINK_OPENED, micros(base(), 2 * HOUR));
    let c = ev("c", 2, names::PAGE_VIEWED, micros(base(), 3 * HOUR));
    let batch = vec![a.clone(), b.clone(), a_retry, c.clone()];

    let first = append(store, &ws, &batch).await;
    let want = AppendOutcome {
        inserted: 3,
        duplicates: 1,
        conflicts: vec![],
    };
    assert_eq!(first, want, "a batch repeating one id (same payload)");

    let again = append(store, &ws, &batch).await;
    let want = AppendOutcome {
        inserted: 0,
        duplicates: 4,
        conflicts: vec![],
    };
    assert_eq!(again, want, "the same batch sent again");

    assert_eq!(
        export_all(store, &ws).await,
        vec![a, b, c],
        "stored events after the retry"
    );
    let (_, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 10).await;
    assert_eq!(total, 3, "event_page total after the retry");
    assert_eq!(
        scores(&top(store, &ws, TimeWindow::ALL, 10).await),
        vec![(1, 2), (2, 1)],
        "nothing is counted twice"
    );
}

/// An id stored before, or earlier in the batch, with another payload is a conflict: the first
/// write is kept and the id is reported (once per conflicting event).
pub async fn append_conflict_keeps_first_write(store: &dyn EventStore) {
    let ws = fresh_workspace("append_conflict_keeps_first_write");
    let mut a = ev("a", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    a.page.path = "/one".into();
    append(store, &ws, std::slice::from_ref(&a)).await;

    let mut a2 = a.clone();
    a2.page.path = "/two".into();
    let d = ev("d", 2, names::LINK_OPENED, micros(base(), HOUR));
    let d2 = ev("d", 2, names::ORDER_SUBMITTED, micros(base(), HOUR));
    let outcome = append(store, &ws, &[a2, d.clone(), d2]).await;
    let want = AppendOutcome {
        inserted: 1,
        duplicates: 0,
        conflicts: vec![EventId::from("a"), EventId::from("d")],
    };
    assert_eq!(
        outcome, want,
        "conflicts with a stored id and within the batch"
    );
    let stored_a = ok("event", store.event(&ws, &a.id).await);
    assert_eq!(
        stored_a,
        Some(a),
        "the first write of a conflicting id is kept"
    );
    let stored_d = ok("event", store.event(&ws, &d.id).await);
    assert_eq!(
        stored_d,
        Some(d),
        "the first event of an id within a batch is kept"
    );
}

fn full_event() -> Event {
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

/// Every field of an event, and of several edge instants, comes back exactly as written.
pub async fn every_field_round_trips(store: &dyn EventStore) {
    let ws = fresh_workspace("every_field_round_trips");
    let full = full_event();
    let mut v6 = ev(
        "v6",
        43,
        names::LINK_OPENED,
        ts("2024-02-29T23:59:59.999999Z"),
    );
    v6.actor = Actor::Customer;
    v6.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]));
    v6.device = Some(Device::Tablet);
    let mut epoch = ev("epoch", 44, names::PAGE_VIEWED, Timestamp::EPOCH);
    epoch.actor = Actor::System;
    epoch.device = Some(Device::Desktop);
    let mut meta = Metadata::new();
    meta.insert("k".into(), json!("v"));
    epoch.metadata = meta;
    let events = vec![full.clone(), v6.clone(), epoch.clone()];
    assert_eq!(append(store, &ws, &events).await.inserted, 3);

    for e in &events {
        let got = ok("event", store.event(&ws, &e.id).await);
        assert_eq!(got.as_ref(), Some(e), "event {} read back by id", e.id);
    }
    let want = vec![epoch.clone(), v6.clone(), full.clone()];
    assert_eq!(
        export_all(store, &ws).await,
        want,
        "events read back by export"
    );
    let (newest_first, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 10).await;
    let want: Vec<Event> = want.into_iter().rev().collect();
    assert_eq!(
        (newest_first, total),
        (want, 3),
        "events read back by event_page"
    );

    // 23:59:59.999999 stays on its day, and the epoch is a real instant.
    let leap_day = window(ts("2024-02-29T00:00:00Z"), ts("2024-03-01T00:00:00Z"));
    let (events_on_day, _) = page(store, &ws, &EventFilter::new(leap_day), 10).await;
    assert_eq!(
        ids_of(&events_on_day),
        vec!["v6"],
        "the last microsecond of 2024-02-29"
    );
    let next_day = window(ts("2024-03-01T00:00:00Z"), ts("2024-03-02T00:00:00Z"));
    let (on_next, _) = page(store, &ws, &EventFilter::new(next_day), 10).await;
    assert!(
        on_next.is_empty(),
        "nothing may move to 2024-03-01: {on_next:?}"
    );
    let first_micro = window(Timestamp::EPOCH, Timestamp::from_micros(1));
    let (at_epoch, _) = page(store, &ws, &EventFilter::new(first_micro), 10).await;
    assert_eq!(ids_of(&at_epoch), vec!["epoch"], "an event at the epoch");
    let edges = ReportZone::utc().day_edges(date(2024, 2, 29), date(2024, 3, 1));
    let query = BucketCountsQuery {
        customers: vec![CustomerId(43)],
        names: vec![names::LINK_OPENED.into()],
        edges,
    };
    let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
    assert_eq!(cells(&got), vec![(43, 0, 1)], "bucketed on its own UTC day");
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad test date {y}-{m}-{d}"))
}

// ---------------------------------------------------------------------------------------------
// Tenancy and windows.

/// Two workspaces with the same event ids and customer ids: no primitive of one reads, counts,
/// returns or deletes anything of the other.
pub async fn tenants_are_isolated(store: &dyn EventStore) {
    let a = fresh_workspace("tenants_are_isolated-a");
    let b = fresh_workspace("tenants_are_isolated-b");
    let t = |h: i64| micros(base(), h * HOUR);
    let in_a = vec![
        ev("e1", 1, names::LINK_OPENED, t(1)),
        ev("e2", 1, names::ORDER_SUBMITTED, t(2)),
        ev("e3", 2, names::LINK_OPENED, t(3)),
    ];
    let in_b = vec![
        ev("e1", 2, names::LINK_OPENED, t(1)),
        ev("e2", 2, names::LINK_OPENED, t(2)),
        ev("e3", 2, names::CHECKOUT_STARTED, t(3)),
        ev("e4", 1, names::PAGE_VIEWED, t(4)),
    ];
    assert_eq!(append(store, &a, &in_a).await.inserted, 3);
    let outcome = append(store, &b, &in_b).await;
    assert_eq!(
        (outcome.inserted, outcome.conflicts.len()),
        (4, 0),
        "ids of another workspace are not duplicates"
    );
    upsert(
        store,
        &a,
        &[customer(1, "Ann", "A"), customer(2, "Bob", "A")],
    )
    .await;
    upsert(
        store,
        &b,
        &[
            customer(1, "Ann", "B"),
            customer(2, "Bob", "B"),
            customer(3, "Cy", "B"),
        ],
    )
    .await;

    assert_eq!(
        scores(&top(store, &a, day(), 10).await),
        vec![(1, 2), (2, 1)],
        "top_customers of a"
    );
    assert_eq!(
        scores(&top(store, &b, day(), 10).await),
        vec![(2, 3), (1, 1)],
        "top_customers of b"
    );
    let rank = ok(
        "customer_rank",
        store.customer_rank(&a, day(), CustomerId(2)).await,
    );
    assert_eq!(
        rank,
        Some(RankedScore { rank: 2, score: 1 }),
        "customer_rank in a"
    );

    let rows = activity(store, &a, &activity_query(day())).await;
    let names_a: Vec<String> = rows.rows.iter().map(|r| r.customer.full_name()).collect();
    assert_eq!(names_a, vec!["Ann A", "Bob A"], "activity rows of a");
    assert_eq!(
        (
            rows.total_rows,
            rows.summary.views,
            rows.summary.orders,
            rows.summary.checkout
        ),
        (2, 2, 1, 0)
    );

    let query = BucketCountsQuery {
        customers: vec![CustomerId(1), CustomerId(2)],
        names: vec![names::LINK_OPENED.into()],
        edges: vec![day().from, day().to],
    };
    let got = ok("bucket_counts", store.bucket_counts(&a, &query).await);
    assert_eq!(
        cells(&got),
        vec![(1, 0, 1), (2, 0, 1)],
        "bucket_counts of a"
    );

    let (events, total) = page(store, &a, &EventFilter::new(TimeWindow::ALL), 10).await;
    assert_eq!(
        (ids_of(&events), total),
        (vec!["e3", "e2", "e1"], 3),
        "event_page of a"
    );
    assert_eq!(
        ok("event", store.event(&a, &EventId::from("e4")).await),
        None,
        "b's e4 from a"
    );
    let e1 = ok("event", store.event(&a, &EventId::from("e1")).await);
    assert_eq!(e1.map(|e| e.customer), Some(CustomerId(1)), "a's own e1");
    assert_eq!(export_all(store, &a).await, in_a, "export of a");

    let funnel = FunnelQuery {
        window: day(),
        steps: vec![names::LINK_OPENED.into(), names::ORDER_SUBMITTED.into()],
        open_since: Some(base()),
    };
    let input = ok("funnel_input", store.funnel_input(&a, &funnel).await);
    let journeys: Vec<i64> = input.journeys.iter().map(|j| j.customer.0).collect();
    assert_eq!(
        (input.entered, journeys, input.waiting),
        (2, vec![1], 1),
        "funnel_input of a"
    );

    let found = ok(
        "customers",
        store
            .customers(&a, &[CustomerId(1), CustomerId(2), CustomerId(3)])
            .await,
    );
    let last: Vec<&str> = found.iter().map(|c| c.last_name.as_str()).collect();
    assert_eq!(last, vec!["A", "A"], "customers of a");

    let everything = PurgeScope::Before {
        cutoff: Timestamp::MAX,
    };
    let dry = ok("purge", store.purge(&b, everything, true).await);
    assert_eq!(
        dry,
        PurgeOutcome {
            events: 4,
            customers: 0
        },
        "dry purge of b counts only b"
    );
    let erase = PurgeScope::Customer {
        customer: CustomerId(2),
    };
    let erased = ok("purge", store.purge(&a, erase, false).await);
    assert_eq!(
        erased,
        PurgeOutcome {
            events: 1,
            customers: 1
        },
        "erasing customer 2 in a"
    );
    assert_eq!(
        export_all(store, &b).await,
        in_b,
        "b after erasing a's customer 2"
    );
    let found = ok("customers", store.customers(&b, &[CustomerId(2)]).await);
    assert_eq!(found.len(), 1, "b keeps its customer 2");
}

/// Every windowed primitive counts an event at `from` and leaves out one at `to`.
pub async fn windows_are_half_open(store: &dyn EventStore) {
    let ws = fresh_workspace("windows_are_half_open");
    let (from, to) = (micros(base(), 6 * HOUR), micros(base(), 18 * HOUR));
    let w = window(from, to);
    let events = vec![
        ev("c1-at-from", 1, names::LINK_OPENED, from),
        ev("c1-at-to", 1, names::LINK_OPENED, to),
        ev("c1-order", 1, names::ORDER_SUBMITTED, micros(to, -1)),
        ev("c2-before", 2, names::LINK_OPENED, micros(from, -1)),
        ev("c2-last", 2, names::LINK_OPENED, micros(to, -1)),
        ev("c3-at-to", 3, names::ORDER_SUBMITTED, to),
        ev("c4-before", 4, names::LINK_OPENED, micros(from, -1)),
        ev("c4-order", 4, names::ORDER_SUBMITTED, from),
    ];
    append(store, &ws, &events).await;
    upsert(
        store,
        &ws,
        &[
            customer(1, "A", "A"),
            customer(2, "B", "B"),
            customer(3, "C", "C"),
        ],
    )
    .await;

    assert_eq!(
        scores(&top(store, &ws, w, 10).await),
        vec![(1, 2), (2, 1), (4, 1)],
        "top_customers"
    );
    let two = ok(
        "customer_rank",
        store.customer_rank(&ws, w, CustomerId(2)).await,
    );
    let want = Some(RankedScore { rank: 2, score: 1 });
    assert_eq!(two, want, "customer_rank with an event at to − 1µs");
    let three = ok(
        "customer_rank",
        store.customer_rank(&ws, w, CustomerId(3)).await,
    );
    assert_eq!(three, None, "customer_rank with an event only at to");

    let rows = activity(store, &ws, &activity_query(w)).await;
    let got: Vec<(i64, u64, u64, Option<Timestamp>)> = rows
        .rows
        .iter()
        .map(|r| {
            (
                r.customer.id.0,
                r.counters.views,
                r.counters.orders,
                r.counters.last_click,
            )
        })
        .collect();
    let want = vec![
        (1, 1, 1, Some(from)),
        (2, 1, 0, Some(micros(to, -1))),
        (3, 0, 0, None),
    ];
    assert_eq!(got, want, "activity counters");

    let query = BucketCountsQuery {
        customers: vec![CustomerId(1), CustomerId(2), CustomerId(3)],
        names: vec![names::LINK_OPENED.into()],
        edges: vec![micros(from, -1), from, to, micros(to, 1)],
    };
    let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
    assert_eq!(
        cells(&got),
        vec![(1, 1, 1), (1, 2, 1), (2, 0, 1), (2, 1, 1)],
        "bucket edges"
    );

    let filter = EventFilter::new(w);
    let (newest, total) = page(store, &ws, &filter, 10).await;
    let want = vec!["c2-last", "c1-order", "c4-order", "c1-at-from"];
    assert_eq!((ids_of(&newest), total), (want, 4), "event_page");
    let oldest: Vec<String> = export(store, &ws, filter)
        .await
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(
        oldest,
        vec!["c1-at-from", "c4-order", "c1-order", "c2-last"],
        "export"
    );

    let funnel = FunnelQuery {
        window: w,
        steps: vec![names::LINK_OPENED.into(), names::ORDER_SUBMITTED.into()],
        open_since: Some(from),
    };
    let input = ok("funnel_input", store.funnel_input(&ws, &funnel).await);
    let journeys: Vec<(i64, Vec<(Timestamp, usize)>)> = input
        .journeys
        .iter()
        .map(|j| {
            (
                j.customer.0,
                j.events.iter().map(|s| (s.at, s.step)).collect(),
            )
        })
        .collect();
    assert_eq!(
        input.entered, 2,
        "funnel entered (c4 entered before the window)"
    );
    assert_eq!(
        journeys,
        vec![(1, vec![(from, 0), (micros(to, -1), 1)])],
        "funnel journeys"
    );
    assert_eq!(input.waiting, 1, "funnel waiting (c2)");
}

// ---------------------------------------------------------------------------------------------
// Ranking.

/// 150 customers tied on score: exactly 100 rows (the first 100 ids), ordered by customer id.
pub async fn ranking_ties_break_by_customer_id(store: &dyn EventStore) {
    let ws = fresh_workspace("ranking_ties_break_by_customer_id");
    // Customer ids in a scrambled order, so insertion order cannot explain a correct answer.
    let events: Vec<Event> = (0..150)
        .map(|i| {
            let c = 1_000 + (i * 37) % 150;
            ev(
                &format!("tie-{i:03}"),
                c,
                names::PAGE_VIEWED,
                micros(base(), HOUR + i),
            )
        })
        .collect();
    append(store, &ws, &events).await;
    let rows = top(store, &ws, day(), 100).await;
    let want: Vec<(i64, u64)> = (1_000..1_100).map(|c| (c, 1)).collect();
    assert_eq!(scores(&rows), want, "100 tied customers by id ascending");
    let all = top(store, &ws, day(), 1_000).await;
    assert_eq!(all.len(), 150, "an unlimited ranking holds all 150");
    let last = ok(
        "customer_rank",
        store.customer_rank(&ws, day(), CustomerId(1_149)).await,
    );
    assert_eq!(
        last,
        Some(RankedScore {
            rank: 150,
            score: 1
        }),
        "rank of the largest id"
    );
    assert!(
        top(store, &ws, day(), 0).await.is_empty(),
        "limit 0 gives no rows"
    );
}

/// Admin placeholders and staff/system events are not ranked, but the log shows them all;
/// customers without a record are ranked.
pub async fn ranking_counts_only_customers_own_events(store: &dyn EventStore) {
    let ws = fresh_workspace("ranking_counts_only_customers_own_events");
    let t = |i: i64| micros(base(), HOUR + i);
    let mut events = Vec::new();
    for i in 0..5 {
        events.push(ev(&format!("placeholder-{i}"), 1, names::PAGE_VIEWED, t(i)));
    }
    events.push(ev("two-a", 2, names::PAGE_VIEWED, t(10)));
    events.push(ev("two-b", 2, names::LINK_OPENED, t(11)));
    events.push(ev("no-record", 3, names::PAGE_VIEWED, t(12)));
    for i in 0..10 {
        events.push(by(
            Actor::Staff,
            ev(&format!("staff-{i}"), 4, names::PAGE_VIEWED, t(20 + i)),
        ));
        events.push(by(
            Actor::System,
            ev(&format!("system-{i}"), 4, names::PAGE_VIEWED, t(40 + i)),
        ));
    }
    events.push(ev("four-own", 4, names::PAGE_VIEWED, t(60)));
    append(store, &ws, &events).await;
    let mut placeholder = customer(1, "Admin", "Placeholder");
    placeholder.is_admin_placeholder = true;
    upsert(
        store,
        &ws,
        &[placeholder, customer(2, "B", "B"), customer(4, "D", "D")],
    )
    .await;

    let rows = top(store, &ws, day(), 100).await;
    assert_eq!(scores(&rows), vec![(2, 2), (3, 1), (4, 1)], "ranking");
    let rank = ok(
        "customer_rank",
        store.customer_rank(&ws, day(), CustomerId(1)).await,
    );
    assert_eq!(rank, None, "a placeholder has no rank");
    let rank = ok(
        "customer_rank",
        store.customer_rank(&ws, day(), CustomerId(4)).await,
    );
    assert_eq!(
        rank,
        Some(RankedScore { rank: 3, score: 1 }),
        "staff events do not score"
    );
    let (_, total) = page(store, &ws, &EventFilter::new(day()), 1).await;
    assert_eq!(
        total,
        events.len() as u64,
        "the log shows every actor and the placeholder"
    );
    let staff = EventFilter::new(day()).with_actors(vec![Actor::Staff, Actor::System]);
    assert_eq!(
        page(store, &ws, &staff, 1).await.1,
        20,
        "staff and system events in the log"
    );
}

/// `customer_rank` is each customer's position in the unlimited ranking; `None` for
/// placeholders and customers without events.
pub async fn customer_rank_agrees_with_ranking(store: &dyn EventStore) {
    let ws = fresh_workspace("customer_rank_agrees_with_ranking");
    let counts: [(i64, i64); 11] = [
        (1, 3),
        (2, 1),
        (3, 4),
        (4, 1),
        (5, 5),
        (6, 9),
        (7, 2),
        (8, 6),
        (9, 5),
        (10, 3),
        (11, 5),
    ];
    let mut events = Vec::new();
    for (c, n) in counts {
        for i in 0..n {
            events.push(ev(
                &format!("r-{c}-{i}"),
                c,
                names::PAGE_VIEWED,
                micros(base(), c * HOUR + i),
            ));
        }
    }
    append(store, &ws, &events).await;
    let mut placeholder = customer(8, "P", "H");
    placeholder.is_admin_placeholder = true;
    upsert(store, &ws, &[placeholder, customer(12, "No", "Events")]).await;

    let want = vec![
        (6, 9),
        (5, 5),
        (9, 5),
        (11, 5),
        (3, 4),
        (1, 3),
        (10, 3),
        (7, 2),
        (2, 1),
        (4, 1),
    ];
    let ranking = top(store, &ws, day(), 1_000).await;
    assert_eq!(scores(&ranking), want, "the full ranking");
    for c in 0..=13 {
        let got = ok(
            "customer_rank",
            store.customer_rank(&ws, day(), CustomerId(c)).await,
        );
        let expected = want
            .iter()
            .position(|(id, _)| *id == c)
            .map(|i| RankedScore {
                rank: i as u64 + 1,
                score: want[i].1,
            });
        assert_eq!(got, expected, "customer_rank of customer {c}");
    }
}

// ---------------------------------------------------------------------------------------------
// Activity.

/// Counters per milestone, the last click and last activity, zero rows for customers without
/// events, no rows for events without a customer record, and a summary equal to the sum of all
/// rows (read in pages).
pub async fn activity_counts_milestones(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_counts_milestones");
    let t = |h: i64| micros(base(), h * HOUR);
    let events = vec![
        ev("1-open-a", 1, names::LINK_OPENED, t(1)),
        ev("1-open-b", 1, names::LINK_OPENED, t(3)),
        ev("1-confirm", 1, names::CONFIRMED, t(2)),
        ev("1-verify", 1, names::VERIFIED, t(2)),
        ev("1-checkout", 1, names::CHECKOUT_STARTED, t(4)),
        ev("1-order-a", 1, names::ORDER_SUBMITTED, t(4)),
        ev("1-order-b", 1, names::ORDER_SUBMITTED, t(4)),
        ev("1-page", 1, names::PAGE_VIEWED, t(5)),
        by(
            Actor::Staff,
            ev("1-staff-open", 1, names::LINK_OPENED, t(9)),
        ),
        ev("2-page", 2, names::PAGE_VIEWED, t(2)),
        ev("4-outside", 4, names::LINK_OPENED, micros(base(), -1)),
        ev("5-no-record", 5, names::LINK_OPENED, t(1)),
    ];
    append(store, &ws, &events).await;
    let records: Vec<Customer> = (1..=4).map(|c| customer(c, "C", &c.to_string())).collect();
    upsert(store, &ws, &records).await;

    let query = activity_query(day());
    let all = activity_in_pages(store, &ws, &query, 1).await;
    assert_eq!(
        row_ids(&all),
        vec![1, 2, 3, 4],
        "one row per customer record"
    );
    let one = ActivityCounters {
        views: 2,
        confirmed: 1,
        verified: 1,
        checkout: 1,
        orders: 2,
        last_click: Some(t(3)),
        last_activity: Some(t(5)),
    };
    let two = ActivityCounters {
        last_activity: Some(t(2)),
        ..ActivityCounters::default()
    };
    let counters: Vec<ActivityCounters> = all.rows.iter().map(|r| r.counters).collect();
    assert_eq!(
        counters,
        vec![
            one,
            two,
            ActivityCounters::default(),
            ActivityCounters::default()
        ]
    );
    let mut sum = crate::ActivitySummary::default();
    for row in &all.rows {
        sum.add(&row.counters);
    }
    assert_eq!(
        (all.total_rows, all.summary),
        (4, sum),
        "total and summary over all rows"
    );
    assert_eq!((sum.customers_with_views, sum.views, sum.orders), (1, 2, 2));

    // Event names are data: map "Page Viewed" to views as well.
    let mut custom = query.clone();
    custom.milestones.views = vec![names::LINK_OPENED.into(), names::PAGE_VIEWED.into()];
    let got = activity(store, &ws, &custom).await;
    let views: Vec<(u64, Option<Timestamp>)> = got
        .rows
        .iter()
        .map(|r| (r.counters.views, r.counters.last_click))
        .collect();
    assert_eq!(
        views,
        vec![(3, Some(t(5))), (1, Some(t(2))), (0, None), (0, None)],
        "custom milestones"
    );
}

/// Search terms match literally (`%`, `_`, `\`, quotes are ordinary characters) and
/// case-insensitively, also beyond ASCII, against names, full name, code and email.
pub async fn activity_search_is_literal(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_search_is_literal");
    let mut records = vec![
        customer(1, "50%", "Discount"),
        customer(2, "500", "Percent"),
        customer(3, "a_b", "X"),
        customer(4, "axb", "Y"),
        customer(5, "back\\slash", "Z"),
        customer(6, "O'Brien", "W"),
        customer(7, "'; DROP TABLE events;--", "V"),
        customer(8, "Émilie", "Zola"),
        customer(9, "émile", "U"),
    ];
    records[8].email = "EMILE@EXAMPLE.COM".into();
    records[3].code = "CODE-77".into();
    upsert(store, &ws, &records).await;
    let events = vec![ev("s1", 1, names::LINK_OPENED, micros(base(), HOUR))];
    append(store, &ws, &events).await;

    let cases: [(&str, Vec<i64>); 13] = [
        ("50%", vec![1]),
        ("%", vec![1]),
        ("a_b", vec![3]),
        ("_", vec![3]),
        ("\\", vec![5]),
        ("'", vec![6, 7]),
        ("'; DROP TABLE events;--", vec![7]),
        ("émil", vec![8, 9]),
        ("ÉMIL", vec![8, 9]),
        ("émilie zola", vec![8]),
        ("emile@ex", vec![9]),
        ("code-7", vec![4]),
        ("nobody", vec![]),
    ];
    for (term, want) in cases {
        let mut query = activity_query(day());
        query.customers.search = Some(term.into());
        let got = activity(store, &ws, &query).await;
        assert_eq!(row_ids(&got), want, "search {term:?}");
        assert_eq!(
            got.total_rows,
            want.len() as u64,
            "total for search {term:?}"
        );
    }
    assert_eq!(
        export_all(store, &ws).await,
        events,
        "events intact after the searches"
    );
    assert_eq!(
        activity(store, &ws, &activity_query(day()))
            .await
            .total_rows,
        9,
        "customers intact"
    );
}

/// The status and id filters select exactly their customers; an empty id list selects none.
pub async fn activity_filters_status_and_ids(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_filters_status_and_ids");
    let mut records: Vec<Customer> = (1..=4).map(|c| customer(c, "N", &c.to_string())).collect();
    records[1].status = CustomerStatus::Inactive;
    records[3].status = CustomerStatus::Inactive;
    upsert(store, &ws, &records).await;
    let filter = |status, ids: Option<Vec<i64>>| CustomerFilter {
        search: None,
        status,
        ids: ids.map(|ids| ids.into_iter().map(CustomerId).collect()),
    };
    let cases = [
        (filter(Some(CustomerStatus::Active), None), vec![1, 3]),
        (filter(Some(CustomerStatus::Inactive), None), vec![2, 4]),
        (filter(None, Some(vec![4, 1, 99])), vec![1, 4]),
        (filter(None, Some(vec![])), vec![]),
        (
            filter(Some(CustomerStatus::Inactive), Some(vec![1, 4])),
            vec![4],
        ),
    ];
    for (customers, want) in cases {
        let mut query = activity_query(day());
        query.customers = customers.clone();
        let got = activity(store, &ws, &query).await;
        assert_eq!(
            (row_ids(&got), got.total_rows),
            (want.clone(), want.len() as u64),
            "filter {customers:?}"
        );
    }
}

/// Every sort key in both directions, ties broken by customer id ascending.
pub async fn activity_sorts_by_every_key(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_sorts_by_every_key");
    let t = |h: i64| micros(base(), h * HOUR);
    upsert(
        store,
        &ws,
        &[
            customer(1, "bob", ""),
            customer(2, "Alice", ""),
            customer(3, "alice", ""),
            customer(4, "Carl", ""),
        ],
    )
    .await;
    let events = vec![
        ev("1-open", 1, names::LINK_OPENED, t(4)),
        ev("1-open-2", 1, names::LINK_OPENED, t(1)),
        ev("1-order", 1, names::ORDER_SUBMITTED, t(6)),
        ev("2-open", 2, names::LINK_OPENED, t(4)),
        ev("2-open-2", 2, names::LINK_OPENED, t(2)),
        ev("3-order", 3, names::ORDER_SUBMITTED, t(6)),
    ];
    append(store, &ws, &events).await;
    use ActivitySortKey as K;
    let unsorted = vec![1, 2, 3, 4];
    let cases: Vec<(ActivitySortKey, Vec<i64>, Vec<i64>)> = vec![
        (
            K::Milestone(Milestone::Views),
            vec![3, 4, 1, 2],
            vec![1, 2, 3, 4],
        ),
        (
            K::Milestone(Milestone::Confirmed),
            unsorted.clone(),
            unsorted.clone(),
        ),
        (
            K::Milestone(Milestone::Verified),
            unsorted.clone(),
            unsorted.clone(),
        ),
        (
            K::Milestone(Milestone::Checkout),
            unsorted.clone(),
            unsorted.clone(),
        ),
        (
            K::Milestone(Milestone::Orders),
            vec![2, 4, 1, 3],
            vec![1, 3, 2, 4],
        ),
        (K::LastClick, vec![3, 4, 1, 2], vec![1, 2, 3, 4]),
        (K::LastActivity, vec![4, 2, 1, 3], vec![1, 3, 2, 4]),
        (K::Name, vec![2, 3, 1, 4], vec![4, 1, 2, 3]),
        (K::CustomerId, vec![1, 2, 3, 4], vec![4, 3, 2, 1]),
    ];
    for (key, ascending, descending) in cases {
        for (desc, want) in [(false, ascending), (true, descending)] {
            let mut query = activity_query(day());
            query.sort = ActivitySort {
                key,
                descending: desc,
            };
            let got = activity(store, &ws, &query).await;
            assert_eq!(row_ids(&got), want, "sort by {key:?}, descending = {desc}");
        }
    }
}

/// Pages of any size concatenate to the whole table, for several sorts; a page past the end is
/// empty but keeps the total.
pub async fn activity_pages_concatenate(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_pages_concatenate");
    let records: Vec<Customer> = (1..=23)
        .map(|c| customer(c, ["Ann", "Bo", "Cy"][c as usize % 3], "P"))
        .collect();
    upsert(store, &ws, &records).await;
    let events: Vec<Event> = (0..60)
        .map(|i| {
            let name = [
                names::LINK_OPENED,
                names::ORDER_SUBMITTED,
                names::PAGE_VIEWED,
            ][i % 3];
            ev(
                &format!("p-{i}"),
                (i as i64 * 7) % 19 + 1,
                name,
                micros(base(), i as i64 * 60_000_000),
            )
        })
        .collect();
    append(store, &ws, &events).await;
    let sorts = [
        ActivitySort::default(),
        ActivitySort {
            key: ActivitySortKey::Name,
            descending: false,
        },
        ActivitySort {
            key: ActivitySortKey::LastActivity,
            descending: true,
        },
        ActivitySort {
            key: ActivitySortKey::Milestone(Milestone::Orders),
            descending: false,
        },
    ];
    for sort in sorts {
        let mut query = activity_query(day());
        query.sort = sort;
        let whole = activity(store, &ws, &query).await;
        assert_eq!(whole.total_rows, 23);
        assert_eq!(whole.rows.len(), 23);
        for size in [1, 5, 7] {
            let paged = activity_in_pages(store, &ws, &query, size).await;
            assert_eq!(paged, whole, "pages of {size} sorted by {sort:?}");
        }
        query.offset = 23;
        let past = activity(store, &ws, &query).await;
        assert!(past.rows.is_empty(), "a page past the end is empty");
        assert_eq!(
            (past.total_rows, past.summary),
            (23, whole.summary),
            "a page past the end keeps the totals"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Buckets and the event log.

/// Buckets follow the caller's edges: New York's 23- and 25-hour days count every event of the
/// local day once; fewer than two edges give no buckets.
pub async fn bucket_counts_follow_local_days(store: &dyn EventStore) {
    let ws = fresh_workspace("bucket_counts_follow_local_days");
    let ny = ReportZone::parse("America/New_York").unwrap_or_else(|e| panic!("{e}"));
    let spring = ny.day_edges(date(2024, 3, 9), date(2024, 3, 11));
    let fall = ny.day_edges(date(2024, 11, 2), date(2024, 11, 4));
    let v = names::LINK_OPENED;
    let events = vec![
        ev("s0", 1, v, ts("2024-03-10T04:59:59.999999Z")), // Mar 9, 23:59:59.999999 EST
        ev("s1", 1, v, ts("2024-03-10T05:00:00Z")),        // Mar 10 00:00 EST
        ev("s2", 1, v, ts("2024-03-10T07:30:00Z")),        // 03:30 EDT, after the gap
        ev("s3", 1, v, ts("2024-03-11T03:59:59.999999Z")), // Mar 10, 23:59:59.999999 EDT
        ev("s4", 1, v, ts("2024-03-11T04:00:00Z")),        // Mar 11 00:00 EDT
        ev("f1", 1, v, ts("2024-11-03T05:30:00Z")),        // 01:30 EDT
        ev("f2", 1, v, ts("2024-11-03T06:30:00Z")),        // 01:30 EST, the repeated hour
        ev("f3", 1, v, ts("2024-11-04T04:30:00Z")),        // Nov 3, 23:30 EST
        ev("f4", 1, v, ts("2024-11-04T05:00:00Z")),        // Nov 4 00:00 EST
        ev(
            "other-name",
            1,
            names::PAGE_VIEWED,
            ts("2024-03-10T12:00:00Z"),
        ),
        ev("other-customer", 3, v, ts("2024-03-10T12:00:00Z")),
        by(Actor::Staff, ev("staff", 2, v, ts("2024-03-10T12:00:00Z"))),
        ev("two", 2, v, ts("2024-03-10T12:00:00Z")),
    ];
    append(store, &ws, &events).await;
    let query = |edges: Vec<Timestamp>| BucketCountsQuery {
        customers: vec![CustomerId(2), CustomerId(1)],
        names: vec![v.into()],
        edges,
    };
    let got = ok(
        "bucket_counts",
        store.bucket_counts(&ws, &query(spring.clone())).await,
    );
    assert_eq!(
        cells(&got),
        vec![(1, 0, 1), (1, 1, 3), (1, 2, 1), (2, 1, 1)],
        "spring forward"
    );
    let got = ok(
        "bucket_counts",
        store.bucket_counts(&ws, &query(fall)).await,
    );
    assert_eq!(cells(&got), vec![(1, 1, 3), (1, 2, 1)], "fall back");
    for edges in [vec![], vec![spring[1]]] {
        let got = ok(
            "bucket_counts",
            store.bucket_counts(&ws, &query(edges.clone())).await,
        );
        assert!(
            got.is_empty(),
            "{} edges give no buckets: {got:?}",
            edges.len()
        );
    }
}

/// 1,000 events in the same microsecond, read newest first in pages of 7 while new events
/// arrive: each original event is seen exactly once, in strictly descending (time, id) order.
pub async fn event_page_keyset_survives_appends(store: &dyn EventStore) {
    let ws = fresh_workspace("event_page_keyset_survives_appends");
    let at = micros(base(), 12 * HOUR);
    let mut events: Vec<Event> = (0..1_000)
        .map(|i| {
            ev(
                &format!("k{:04}", (i * 379) % 1_000),
                i % 13,
                names::PAGE_VIEWED,
                at,
            )
        })
        .collect();
    events.rotate_left(417);
    for chunk in events.chunks(250) {
        append(store, &ws, chunk).await;
    }
    let filter = EventFilter::new(day());
    let mut after: Option<EventKey> = None;
    let mut seen: Vec<EventKey> = Vec::new();
    let mut stored = 1_000_u64;
    for round in 0..1_000 {
        let query = EventPageQuery {
            filter: filter.clone(),
            after: after.clone(),
            limit: 7,
        };
        let page = ok("event_page", store.event_page(&ws, &query).await);
        assert_eq!(page.total, stored, "total on page {round}");
        assert!(page.events.len() <= 7, "page {round} is over its limit");
        let Some(last) = page.events.last() else {
            break;
        };
        after = Some(last.key());
        seen.extend(page.events.iter().map(Event::key));
        // One event newer than every cursor (never seen) and one older than all (seen at the end).
        let newer = ev(&format!("k9999-{round:04}"), 1, names::PAGE_VIEWED, at);
        let older = ev(
            &format!("older-{round:04}"),
            1,
            names::PAGE_VIEWED,
            micros(at, -1),
        );
        append(store, &ws, &[newer, older]).await;
        stored += 2;
    }
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "keys strictly descending, no repeats"
    );
    let originals: Vec<String> = seen
        .iter()
        .filter(|k| k.at == at)
        .map(|k| k.id.to_string())
        .collect();
    let want: Vec<String> = (0..1_000).rev().map(|i| format!("k{i:04}")).collect();
    assert_eq!(originals, want, "every original event exactly once");
    assert!(
        seen.iter().all(|k| !k.id.as_str().starts_with("k9999")),
        "no event newer than the cursor"
    );
}

fn filter_events() -> Vec<Event> {
    let mut e1 = ev("f1", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    e1.ip = Some(IpAddr::from([10, 0, 0, 1]));
    e1.page = Page {
        url: "https://x.com/a".into(),
        path: "/a".into(),
        domain: "x.com".into(),
        referrer: String::new(),
    };
    let mut e2 = by(
        Actor::Staff,
        ev("f2", 2, names::LINK_OPENED, micros(base(), 2 * HOUR)),
    );
    e2.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]));
    e2.page = Page {
        url: "https://y.com/b".into(),
        path: "/b".into(),
        domain: "y.com".into(),
        referrer: "https://google.com/".into(),
    };
    let mut e3 = by(
        Actor::System,
        ev("f3", 1, names::LINK_OPENED, micros(base(), 3 * HOUR)),
    );
    e3.page = Page {
        url: "https://y.com/a".into(),
        path: "/a".into(),
        domain: "y.com".into(),
        referrer: String::new(),
    };
    let mut e4 = ev("f4", 3, names::ORDER_SUBMITTED, micros(base(), 4 * HOUR));
    e4.ip = Some(IpAddr::from([10, 0, 0, 1]));
    e4.page = Page {
        url: "https://x.com/c".into(),
        path: "/c".into(),
        domain: "x.com".into(),
        referrer: "https://t.co/".into(),
    };
    vec![e1, e2, e3, e4]
}

/// Every filter field selects exactly its events, with the exact total; an empty list selects
/// nothing and an empty referrer selects direct traffic.
pub async fn event_page_filters_every_field(store: &dyn EventStore) {
    let ws = fresh_workspace("event_page_filters_every_field");
    append(store, &ws, &filter_events()).await;
    let f = || EventFilter::new(day());
    let with = |change: &dyn Fn(&mut EventFilter)| {
        let mut filter = f();
        change(&mut filter);
        filter
    };
    let cases: Vec<(EventFilter, Vec<&str>)> = vec![
        (f(), vec!["f4", "f3", "f2", "f1"]),
        (f().with_names([names::LINK_OPENED]), vec!["f3", "f2"]),
        (
            f().with_names([names::LINK_OPENED, names::ORDER_SUBMITTED]),
            vec!["f4", "f3", "f2"],
        ),
        (f().with_names(Vec::<String>::new()), vec![]),
        (f().with_customers(vec![CustomerId(1)]), vec!["f3", "f1"]),
        (f().with_customers(vec![]), vec![]),
        (
            f().with_actors(vec![Actor::Staff, Actor::System]),
            vec!["f3", "f2"],
        ),
        (f().with_actors(vec![]), vec![]),
        (
            with(&|q| q.ip = Some(IpAddr::from([10, 0, 0, 1]))),
            vec!["f4", "f1"],
        ),
        (
            with(&|q| q.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]))),
            vec!["f2"],
        ),
        (with(&|q| q.path = Some("/a".into())), vec!["f3", "f1"]),
        (with(&|q| q.domain = Some("y.com".into())), vec!["f3", "f2"]),
        (
            with(&|q| q.referrer = Some(String::new())),
            vec!["f3", "f1"],
        ),
        (
            with(&|q| q.referrer = Some("https://t.co/".into())),
            vec!["f4"],
        ),
        (with(&|q| q.path = Some("/A".into())), vec![]),
        (
            with(&|q| {
                q.customers = Some(vec![CustomerId(1)]);
                q.referrer = Some(String::new());
                q.actors = Some(vec![Actor::Customer]);
            }),
            vec!["f1"],
        ),
    ];
    for (filter, want) in cases {
        let (events, total) = page(store, &ws, &filter, 10).await;
        assert_eq!(
            (ids_of(&events), total),
            (want.clone(), want.len() as u64),
            "event_page with {filter:?}"
        );
        let (first, total) = page(store, &ws, &filter, 1).await;
        assert_eq!(
            (first.len(), total),
            (want.len().min(1), want.len() as u64),
            "a page of 1 keeps the total"
        );
        let oldest_first: Vec<Event> = export(store, &ws, filter.clone()).await;
        let mut want_oldest = want.clone();
        want_oldest.reverse();
        assert_eq!(ids_of(&oldest_first), want_oldest, "export with {filter:?}");
    }
}

/// An event is found by id in its own workspace only.
pub async fn event_by_id_is_scoped(store: &dyn EventStore) {
    let a = fresh_workspace("event_by_id_is_scoped-a");
    let b = fresh_workspace("event_by_id_is_scoped-b");
    let e = full_event();
    append(store, &a, std::slice::from_ref(&e)).await;
    assert_eq!(
        ok("event", store.event(&a, &e.id).await),
        Some(e.clone()),
        "own workspace"
    );
    assert_eq!(
        ok("event", store.event(&b, &e.id).await),
        None,
        "other workspace"
    );
    assert_eq!(
        ok("event", store.event(&a, &EventId::from("missing")).await),
        None,
        "unknown id"
    );
}

/// An export of more events than any reasonable chunk yields every matching event once, in
/// (occurred_at, id) order, whatever order they were appended in.
pub async fn export_streams_everything_in_order(store: &dyn EventStore) {
    let ws = fresh_workspace("export_streams_everything_in_order");
    let mut events: Vec<Event> = (0..2_600)
        .map(|i| {
            let at = micros(base(), (i % 3) * HOUR); // three instants, many ties
            let e = ev(
                &format!("x{:05}", (i * 7_919) % 2_600),
                i % 17,
                names::PAGE_VIEWED,
                at,
            );
            if i % 10 == 0 { by(Actor::Staff, e) } else { e }
        })
        .collect();
    events.push(ev("outside", 1, names::PAGE_VIEWED, micros(base(), DAY)));
    for chunk in events.chunks(900).rev() {
        append(store, &ws, chunk).await;
    }
    let filter = EventFilter::new(day()).with_actors(vec![Actor::Customer]);
    let got = export(store, &ws, filter.clone()).await;
    let mut want: Vec<Event> = events
        .iter()
        .filter(|e| filter.matches(e))
        .cloned()
        .collect();
    want.sort_by_key(Event::key);
    assert_eq!(got.len(), 2_340, "customer events of the day");
    assert!(
        got == want,
        "export order or content differs (first difference at {:?})",
        got.iter().zip(&want).position(|(g, w)| g != w)
    );
}

/// Dropping an export stream after 10 items leaves the store fully usable.
pub async fn dropped_export_leaves_store_usable(store: &dyn EventStore) {
    let ws = fresh_workspace("dropped_export_leaves_store_usable");
    let events: Vec<Event> = (0..3_000)
        .map(|i| {
            ev(
                &format!("d{i:05}"),
                i % 5,
                names::PAGE_VIEWED,
                micros(base(), i),
            )
        })
        .collect();
    append(store, &ws, &events).await;
    for _ in 0..3 {
        let mut stream = store.export(ws.clone(), EventFilter::new(TimeWindow::ALL));
        for (i, want) in events.iter().take(10).enumerate() {
            let item = stream.next().await;
            let got = item.map(|r| ok("export item", r));
            assert_eq!(got.as_ref(), Some(want), "export item {i}");
        }
        drop(stream);
    }
    let extra = ev("d-after", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    assert_eq!(
        append(store, &ws, &[extra]).await.inserted,
        1,
        "append after dropped exports"
    );
    let (_, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 5).await;
    assert_eq!(total, 3_001, "event_page after dropped exports");
    assert_eq!(
        export_all(store, &ws).await.len(),
        3_001,
        "a full export after dropped ones"
    );
}

// ---------------------------------------------------------------------------------------------
// Funnels.

/// `funnel_input` per [`FunnelInput`](crate::FunnelInput)'s docs: steps in the same
/// microsecond ordered by id, repeated steps, a step before step 1, events outside the window or
/// by staff ignored, and `open_since` deciding who is waiting.
pub async fn funnel_input_follows_its_definition(store: &dyn EventStore) {
    let ws = fresh_workspace("funnel_input_follows_its_definition");
    let t = |h: i64| micros(base(), h * HOUR);
    let (a, b, c) = ("Step A", "Step B", "Step C");
    let events = vec![
        ev("c1-1", 1, a, t(1)),
        ev("c1-0", 1, b, t(1)), // same microsecond as step 1, smaller id: sorts first
        ev("c1-2", 1, c, t(2)),
        ev("c1-x", 1, names::PAGE_VIEWED, t(2)),
        ev("c2-1", 2, a, t(1)),
        ev("c2-2", 2, a, t(3)),
        ev("c2-3", 2, b, t(4)),
        ev("c2-4", 2, b, t(5)),
        ev("c3-1", 3, b, micros(t(0), 1)), // a step before step 1
        ev("c3-2", 3, a, t(2)),
        ev("c4-1", 4, a, t(3)),
        ev("c5-1", 5, a, t(1)),
        ev("c6-1", 6, b, t(1)),
        ev("c7-1", 7, a, micros(base(), -1)),
        ev("c7-2", 7, b, t(1)),
        by(Actor::Staff, ev("c8-1", 8, a, t(1))),
        by(Actor::Staff, ev("c8-2", 8, b, t(2))),
        ev("c9-1", 9, a, t(3)),
        ev("c9-2", 9, b, micros(base(), DAY)),
    ];
    append(store, &ws, &events).await;
    let query = |open_since| FunnelQuery {
        window: day(),
        steps: vec![a.into(), b.into(), c.into()],
        open_since,
    };
    let input = ok(
        "funnel_input",
        store.funnel_input(&ws, &query(Some(t(2)))).await,
    );
    let journeys: Vec<(i64, Vec<(Timestamp, usize)>)> = input
        .journeys
        .iter()
        .map(|j| {
            (
                j.customer.0,
                j.events.iter().map(|s| (s.at, s.step)).collect(),
            )
        })
        .collect();
    // c1's step B shares step A's microsecond but has the smaller id, so it comes first.
    let want = vec![
        (1, vec![(t(1), 1), (t(1), 0), (t(2), 2)]),
        (2, vec![(t(1), 0), (t(3), 0), (t(4), 1), (t(5), 1)]),
        (3, vec![(micros(t(0), 1), 1), (t(2), 0)]),
    ];
    assert_eq!(journeys, want, "journeys");
    let times: Vec<Timestamp> = input.journeys[0].events.iter().map(|s| s.at).collect();
    assert_eq!(times, vec![t(1), t(1), t(2)], "step instants");
    assert_eq!(input.entered, 6, "entered: customers 1, 2, 3, 4, 5, 9");
    assert_eq!(input.waiting, 2, "waiting since t(2): customers 4 and 9");
    let input = ok("funnel_input", store.funnel_input(&ws, &query(None)).await);
    assert_eq!(
        (input.entered, input.waiting, input.journeys.len()),
        (6, 0, 3),
        "open_since None"
    );
    let input = ok(
        "funnel_input",
        store.funnel_input(&ws, &query(Some(t(1)))).await,
    );
    assert_eq!(input.waiting, 3, "waiting since t(1): customers 4, 5 and 9");
}

// ---------------------------------------------------------------------------------------------
// Purge.

/// Retention: an event at cutoff − 1µs is deleted, one at the cutoff kept, a dry run only
/// counts, a rerun is a no-op, another workspace is untouched.
pub async fn purge_before_cutoff(store: &dyn EventStore) {
    let ws = fresh_workspace("purge_before_cutoff");
    let other = fresh_workspace("purge_before_cutoff-other");
    let cut = micros(base(), 12 * HOUR);
    // In (time, id) order, as an export returns them.
    let events = vec![
        ev("p-day-before", 2, names::PAGE_VIEWED, micros(cut, -DAY)),
        by(
            Actor::Staff,
            ev("p-staff", 3, names::PAGE_VIEWED, micros(cut, -2)),
        ),
        ev("p-minus-1", 1, names::PAGE_VIEWED, micros(cut, -1)),
        ev("p-at", 1, names::PAGE_VIEWED, cut),
        ev("p-plus-1", 2, names::PAGE_VIEWED, micros(cut, 1)),
    ];
    append(store, &ws, &events).await;
    append(store, &other, &events).await;
    upsert(store, &ws, &[customer(1, "A", "B")]).await;
    let scope = PurgeScope::Before { cutoff: cut };
    let want = PurgeOutcome {
        events: 3,
        customers: 0,
    };
    assert_eq!(
        ok("purge", store.purge(&ws, scope, true).await),
        want,
        "dry run"
    );
    assert_eq!(
        export_all(store, &ws).await,
        events,
        "a dry run deletes nothing"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        want,
        "purge"
    );
    assert_eq!(
        ids_of(&export_all(store, &ws).await),
        vec!["p-at", "p-plus-1"],
        "what is kept"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        PurgeOutcome::default(),
        "rerun"
    );
    assert_eq!(
        export_all(store, &other).await,
        events,
        "the other workspace"
    );
    assert_eq!(
        ok("customers", store.customers(&ws, &[CustomerId(1)]).await).len(),
        1,
        "records stay"
    );
}

/// Erasure: every event (any actor) and the record of the customer go, only in that workspace.
pub async fn purge_customer_erases_only_that_workspace(store: &dyn EventStore) {
    let ws = fresh_workspace("purge_customer_erases-a");
    let other = fresh_workspace("purge_customer_erases-b");
    let events = vec![
        ev("q1", 5, names::PAGE_VIEWED, micros(base(), 1)),
        by(
            Actor::Staff,
            ev("q2", 5, names::PAGE_VIEWED, micros(base(), 2)),
        ),
        ev("q3", 6, names::PAGE_VIEWED, micros(base(), 3)),
        ev("q4", 5, names::LINK_OPENED, micros(base(), 4)),
    ];
    for w in [&ws, &other] {
        append(store, w, &events).await;
        upsert(
            store,
            w,
            &[customer(5, "Erase", "Me"), customer(6, "Keep", "Me")],
        )
        .await;
    }
    let scope = PurgeScope::Customer {
        customer: CustomerId(5),
    };
    let want = PurgeOutcome {
        events: 3,
        customers: 1,
    };
    assert_eq!(
        ok("purge", store.purge(&ws, scope, true).await),
        want,
        "dry run"
    );
    assert_eq!(
        export_all(store, &ws).await.len(),
        4,
        "a dry run deletes nothing"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        want,
        "purge"
    );
    assert_eq!(
        ids_of(&export_all(store, &ws).await),
        vec!["q3"],
        "events left"
    );
    let left = ok(
        "customers",
        store.customers(&ws, &[CustomerId(5), CustomerId(6)]).await,
    );
    assert_eq!(
        left.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![6],
        "records left"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, false).await),
        PurgeOutcome::default(),
        "rerun"
    );
    assert_eq!(
        export_all(store, &other).await,
        events,
        "the other workspace's events"
    );
    assert_eq!(
        ok("customers", store.customers(&other, &[CustomerId(5)]).await).len(),
        1
    );
    let nobody = PurgeScope::Customer {
        customer: CustomerId(77),
    };
    assert_eq!(
        ok("purge", store.purge(&ws, nobody, false).await),
        PurgeOutcome::default()
    );
}

// ---------------------------------------------------------------------------------------------
// Size limits and the directory.

/// 7,000 events with every column set (beyond a 65,535 bind-parameter limit at ~15 columns)
/// are stored by one append, and re-sent they are all duplicates.
pub async fn large_batch_appends_atomically(store: &dyn EventStore) {
    let ws = fresh_workspace("large_batch_appends_atomically");
    let template = full_event();
    let events: Vec<Event> = (0..7_000)
        .map(|i| {
            let mut e = template.clone();
            e.id = EventId::from(format!("big-{i:05}"));
            e.customer = CustomerId(i % 97);
            e.occurred_at = micros(base(), i);
            e.received_at = micros(base(), i + 1);
            e
        })
        .collect();
    let want = AppendOutcome {
        inserted: 7_000,
        duplicates: 0,
        conflicts: vec![],
    };
    assert_eq!(append(store, &ws, &events).await, want, "one large batch");
    let (_, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 1).await;
    assert_eq!(total, 7_000);
    let want = AppendOutcome {
        inserted: 0,
        duplicates: 7_000,
        conflicts: vec![],
    };
    assert_eq!(
        append(store, &ws, &events).await,
        want,
        "the large batch again"
    );
    let mut mixed: Vec<Event> = events[3_500..].to_vec();
    mixed.extend((7_000..10_500).map(|i| {
        let mut e = events[0].clone();
        e.id = EventId::from(format!("big-{i:05}"));
        e
    }));
    mixed[0].name = "Changed".into();
    let want = AppendOutcome {
        inserted: 3_500,
        duplicates: 3_499,
        conflicts: vec![EventId::from("big-03500")],
    };
    assert_eq!(
        append(store, &ws, &mixed).await,
        want,
        "half new, one conflict"
    );
    assert_eq!(export_all(store, &ws).await.len(), 10_500);
    let kept = ok("event", store.event(&ws, &EventId::from("big-03500")).await);
    assert_eq!(
        kept.map(|e| e.name),
        Some(template.name),
        "the first write of big-03500"
    );
}

/// 16 tasks send 10,000 events each through an [`Ingestor`] at its default settings (several
/// appends in flight at once); four of them send their first 1,000 again as one batch. Every
/// event is stored exactly once and the ingestor's counts say so.
///
/// The case owns the store (the ingestor needs it behind an `Arc`), so the macro hands it over
/// by value.
pub async fn ingestor_concurrent_senders_count_exactly<S: EventStore>(store: S) {
    const TASKS: i64 = 16;
    const EACH: i64 = 10_000;
    const RESENT: i64 = 1_000;
    let ws = fresh_workspace("ingestor_concurrent_senders_count_exactly");
    let store: Arc<dyn EventStore> = Arc::new(store);
    let clock = Arc::new(FixedClock::new(micros(base(), DAY)));
    let ingestor = Arc::new(Ingestor::start(
        store.clone(),
        clock,
        IngestConfig::default(),
    ));
    let id = |task: i64, i: i64| format!("sender-{task}-{i}");
    let senders: Vec<_> = (0..TASKS)
        .map(|task| {
            let ingestor = ingestor.clone();
            let ws = ws.clone();
            tokio::spawn(async move {
                let event = |i| ev(&id(task, i), task, names::PAGE_VIEWED, micros(base(), i));
                for i in 0..EACH {
                    ok("send", ingestor.send(&ws, event(i)).await);
                }
                if task < 4 {
                    let again = (0..RESENT).map(event).collect();
                    ok("send_many", ingestor.send_many(&ws, again).await);
                }
            })
        })
        .collect();
    for sender in senders {
        sender
            .await
            .unwrap_or_else(|e| panic!("a sender failed: {e}"));
    }
    let ingestor = Arc::into_inner(ingestor)
        .unwrap_or_else(|| panic!("every sender has ended, the ingestor is no longer shared"));
    let stats = ingestor.shutdown().await;
    let sent = TASKS * EACH;
    assert_eq!(
        (
            stats.accepted,
            stats.inserted,
            stats.duplicates,
            stats.conflicts,
            stats.failed
        ),
        (
            sent as u64 + 4 * RESENT as u64,
            sent as u64,
            4 * RESENT as u64,
            0,
            0
        ),
        "accepted, inserted, duplicates, conflicts, failed"
    );
    let (_, total) = page(&*store, &ws, &EventFilter::new(TimeWindow::ALL), 1).await;
    assert_eq!(total, sent as u64, "events stored");
    let mut one = EventFilter::new(TimeWindow::ALL);
    one.customers = Some(vec![CustomerId(7)]);
    let (_, of_one) = page(&*store, &ws, &one, 1).await;
    assert_eq!(of_one, EACH as u64, "events of one sender");
}

/// Filters and lookups with 70,000 customer ids answer correctly (no bind-limit failure).
pub async fn huge_id_lists_work(store: &dyn EventStore) {
    let ws = fresh_workspace("huge_id_lists_work");
    let events = vec![
        ev("h1", 5, names::LINK_OPENED, micros(base(), 1)),
        ev("h2", 69_999, names::LINK_OPENED, micros(base(), 2)),
        ev("h3", 80_000, names::LINK_OPENED, micros(base(), 3)),
    ];
    append(store, &ws, &events).await;
    upsert(
        store,
        &ws,
        &[
            customer(5, "A", "A"),
            customer(69_999, "B", "B"),
            customer(80_000, "C", "C"),
        ],
    )
    .await;
    let ids: Vec<CustomerId> = (1..=70_000).map(CustomerId).collect();
    let filter = EventFilter::new(day()).with_customers(ids.clone());
    let (got, total) = page(store, &ws, &filter, 10).await;
    assert_eq!((ids_of(&got), total), (vec!["h2", "h1"], 2), "event_page");
    assert_eq!(
        ids_of(&export(store, &ws, filter).await),
        vec!["h1", "h2"],
        "export"
    );
    let query = BucketCountsQuery {
        customers: ids.clone(),
        names: vec![names::LINK_OPENED.into()],
        edges: vec![day().from, day().to],
    };
    let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
    assert_eq!(
        cells(&got),
        vec![(5, 0, 1), (69_999, 0, 1)],
        "bucket_counts"
    );
    let mut q = activity_query(day());
    q.customers.ids = Some(ids.clone());
    assert_eq!(
        row_ids(&activity(store, &ws, &q).await),
        vec![5, 69_999],
        "activity ids filter"
    );
    let found = ok("customers", store.customers(&ws, &ids).await);
    assert_eq!(
        found.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![5, 69_999],
        "customers"
    );
}

/// Upserts replace whole records, the last write winning (also within one call), and every
/// field round-trips.
pub async fn upsert_customers_last_write_wins(store: &dyn EventStore) {
    let ws = fresh_workspace("upsert_customers_last_write_wins");
    upsert(store, &ws, &[customer(1, "Old", "Name")]).await;
    let mut full = customer(1, "Zoë 🦀", "O'Brien-Łukasz");
    full.code = "C-1_%".into();
    full.email = "zoe@example.com".into();
    full.status = CustomerStatus::Inactive;
    full.is_admin_placeholder = true;
    let first = customer(3, "First", "Write");
    let last = customer(3, "Last", "Write");
    upsert(
        store,
        &ws,
        &[full.clone(), customer(2, "Two", "T"), first, last.clone()],
    )
    .await;
    let got = ok(
        "customers",
        store
            .customers(&ws, &[CustomerId(1), CustomerId(2), CustomerId(3)])
            .await,
    );
    assert_eq!(
        got,
        vec![full, customer(2, "Two", "T"), last],
        "records after the upserts"
    );
}

/// `customers` returns each existing record once, ordered by id, whatever the order asked.
pub async fn customers_returns_found_in_id_order(store: &dyn EventStore) {
    let ws = fresh_workspace("customers_returns_found_in_id_order");
    upsert(
        store,
        &ws,
        &[
            customer(5, "E", "E"),
            customer(1, "A", "A"),
            customer(3, "C", "C"),
        ],
    )
    .await;
    let asked = [
        CustomerId(3),
        CustomerId(99),
        CustomerId(1),
        CustomerId(5),
        CustomerId(1),
    ];
    let got = ok("customers", store.customers(&ws, &asked).await);
    assert_eq!(
        got.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![1, 3, 5]
    );
    assert!(
        ok("customers", store.customers(&ws, &[]).await).is_empty(),
        "no ids, no records"
    );
}

// ---------------------------------------------------------------------------------------------
// Differential property tests: the backend answers exactly what the reference answers.

/// The event names random events use: every default milestone name plus one that is none.
const POOL_NAMES: [&str; 6] = [
    names::LINK_OPENED,
    names::PAGE_VIEWED,
    names::CONFIRMED,
    names::VERIFIED,
    names::CHECKOUT_STARTED,
    names::ORDER_SUBMITTED,
];
const PATHS: [&str; 3] = ["/", "/pricing", "/p/🦀"];
const DOMAINS: [&str; 2] = ["shop.example.com", "example.org"];
const REFERRERS: [&str; 3] = ["", "https://google.com/", "https://t.co/x"];
const FIRST_NAMES: [&str; 9] = [
    "Ann", "ann", "Émile", "émile", "Bob", "50%", "a_b", "O'Neil", "",
];
const LAST_NAMES: [&str; 5] = ["Smith", "smith", "Zola", "back\\slash", ""];
const CODES: [&str; 3] = ["", "AB-1", "x_y%"];
const SEARCHES: [&str; 12] = [
    "a", "ann", "É", "é", "_", "'", "mi", "%", "\\", "smith", "ab-", "zz",
];
/// Event ids come from a small pool so that random batches repeat ids.
const ID_POOL: u32 = 32;

fn ips() -> Vec<IpAddr> {
    vec![
        IpAddr::from([10, 0, 0, 1]),
        IpAddr::from([192, 0, 2, 7]),
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    ]
}

/// Edges of New York's local days around the 2024 spring-forward change, and the change itself,
/// ascending.
fn anchors() -> Vec<Timestamp> {
    let ny = ReportZone::parse("America/New_York").unwrap_or_else(|e| panic!("{e}"));
    let mut points = ny.day_edges(date(2024, 3, 9), date(2024, 3, 11));
    points.push(ts("2024-03-10T07:00:00Z"));
    points.sort();
    points
}

/// An instant clustered near a day edge or the DST change: on it, a microsecond either side, an
/// hour either side, or anywhere within two hours.
pub fn arb_instant() -> impl Strategy<Value = Timestamp> {
    let offset = prop_oneof![
        Just(0_i64),
        Just(-1),
        Just(1),
        Just(-HOUR),
        Just(HOUR),
        -2 * HOUR..2 * HOUR,
    ];
    (select(anchors()), offset).prop_map(|(anchor, delta)| micros(anchor, delta))
}

/// A window between two [`arb_instant`]s (possibly empty), or now and then every instant.
pub fn arb_window() -> impl Strategy<Value = TimeWindow> {
    prop_oneof![
        1 => Just(TimeWindow::ALL),
        6 => (arb_instant(), arb_instant()).prop_map(|(a, b)| TimeWindow { from: a.min(b), to: a.max(b) }),
    ]
}

fn arb_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![3 => Just(Actor::Customer), 1 => Just(Actor::Staff), 1 => Just(Actor::System)]
}

fn arb_event() -> impl Strategy<Value = Event> {
    let context = (
        select(PATHS.to_vec()),
        select(DOMAINS.to_vec()),
        select(REFERRERS.to_vec()),
        proptest::option::of(select(ips())),
        proptest::option::of(select(Device::ALL.to_vec())),
        0..3_u8,
    );
    (
        0..ID_POOL,
        1..=6_i64,
        arb_actor(),
        select(POOL_NAMES.to_vec()),
        arb_instant(),
        context,
    )
        .prop_map(
            |(id, customer, actor, name, at, (path, domain, referrer, ip, device, meta))| {
                let mut e = Event::new(format!("e{id:02}"), CustomerId(customer), name, at);
                e.actor = actor;
                e.received_at = micros(at, 1_000);
                e.page = Page {
                    url: format!("https://{domain}{path}"),
                    path: path.into(),
                    domain: domain.into(),
                    referrer: referrer.into(),
                };
                e.ip = ip;
                e.device = device;
                if meta > 0 {
                    e.metadata.insert("n".into(), json!(meta));
                }
                e
            },
        )
}

/// Random append batches for one workspace: customer ids 1 to 6, ids from a small pool (so the
/// same id recurs with the same payload — a resend with a later `received_at` — or another
/// one), timestamps near day edges and the New York DST change, split into up to four batches
/// out of time order.
pub fn arb_batches() -> impl Strategy<Value = Vec<Vec<Event>>> {
    let item = (
        arb_event(),
        0..4_usize,
        proptest::option::weighted(0.2, any::<Index>()),
    );
    proptest::collection::vec(item, 0..48).prop_map(|items| {
        let mut events: Vec<(Event, usize)> = Vec::new();
        for (event, batch, copy) in items {
            let event = match copy {
                Some(i) if !events.is_empty() => {
                    let mut again = events[i.index(events.len())].0.clone();
                    again.received_at = micros(again.received_at, 1_000_000);
                    again
                }
                _ => event,
            };
            events.push((event, batch));
        }
        (0..4)
            .map(|b| {
                events
                    .iter()
                    .filter(|(_, x)| *x == b)
                    .map(|(e, _)| e.clone())
                    .collect::<Vec<_>>()
            })
            .filter(|batch| !batch.is_empty())
            .collect()
    })
}

/// The events a workspace holds after appending [`arb_batches`]: unique ids, first write kept.
pub fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    arb_batches().prop_map(|batches| {
        let mut stored = Vec::new();
        for batch in batches {
            let (_, new) = reference::append(&stored, &batch);
            stored.extend(new);
        }
        stored
    })
}

fn arb_customer_ids() -> impl Strategy<Value = Vec<CustomerId>> {
    subsequence((1..=6).map(CustomerId).collect::<Vec<_>>(), 0..=6)
}

/// A random log filter over the values [`arb_events`] uses; any field may be set.
pub fn arb_filter() -> impl Strategy<Value = EventFilter> {
    use proptest::option::of;
    (
        arb_window(),
        of(subsequence(POOL_NAMES.to_vec(), 0..=3)),
        of(arb_customer_ids()),
        of(subsequence(Actor::ALL.to_vec(), 0..=3)),
        of(select(ips())),
        of(select(PATHS.to_vec())),
        of(select(DOMAINS.to_vec())),
        of(select(REFERRERS.to_vec())),
    )
        .prop_map(
            |(window, names, customers, actors, ip, path, domain, referrer)| EventFilter {
                window,
                names: names.map(|n| n.into_iter().map(String::from).collect()),
                customers,
                actors,
                ip,
                path: path.map(String::from),
                domain: domain.map(String::from),
                referrer: referrer.map(String::from),
            },
        )
}

/// Random customer records for ids 1 to 5 (6 never has one): names with accents, `%`, `_`,
/// quotes and backslashes; either status; a quarter of them admin placeholders. Ids may repeat.
pub fn arb_customers() -> impl Strategy<Value = Vec<Customer>> {
    let record = (
        1..=5_i64,
        select(FIRST_NAMES.to_vec()),
        select(LAST_NAMES.to_vec()),
        select(CODES.to_vec()),
        any::<bool>(),
        proptest::bool::weighted(0.25),
    );
    proptest::collection::vec(record, 0..8).prop_map(|records| {
        records
            .into_iter()
            .map(|(id, first, last, code, active, placeholder)| {
                let mut c = customer(id, first, last);
                c.code = code.into();
                c.email = format!("{}@example.com", first.to_lowercase());
                c.status = if active {
                    CustomerStatus::Active
                } else {
                    CustomerStatus::Inactive
                };
                c.is_admin_placeholder = placeholder;
                c
            })
            .collect()
    })
}

fn arb_activity() -> impl Strategy<Value = ActivityQuery> {
    use proptest::option::of;
    let keys: Vec<ActivitySortKey> = Milestone::ALL
        .into_iter()
        .map(ActivitySortKey::Milestone)
        .chain([
            ActivitySortKey::LastClick,
            ActivitySortKey::LastActivity,
            ActivitySortKey::Name,
            ActivitySortKey::CustomerId,
        ])
        .collect();
    let filter = (
        of(select(SEARCHES.to_vec())),
        of(prop_oneof![
            Just(CustomerStatus::Active),
            Just(CustomerStatus::Inactive)
        ]),
        of(arb_customer_ids()),
    );
    (
        arb_window(),
        filter,
        any::<bool>(),
        select(keys),
        any::<bool>(),
        0..7_u64,
        0..7_u64,
    )
        .prop_map(
            |(window, (search, status, ids), custom, key, descending, offset, limit)| {
                let mut milestones = Milestones::default();
                if custom {
                    milestones.views.push(names::PAGE_VIEWED.into());
                    milestones.orders.push(names::CHECKOUT_STARTED.into());
                }
                ActivityQuery {
                    window,
                    customers: CustomerFilter {
                        search: search.map(String::from),
                        status,
                        ids,
                    },
                    milestones,
                    sort: ActivitySort { key, descending },
                    offset,
                    limit,
                }
            },
        )
}

/// One read of every kind the differential test compares.
#[derive(Debug, Clone)]
enum Read {
    Top(TopCustomersQuery),
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
            proptest::option::of(arb_instant())
        )
            .prop_map(|(window, steps, open_since)| Read::Funnel(FunnelQuery {
                window,
                steps: steps.into_iter().map(String::from).collect(),
                open_since,
            })),
        (0..ID_POOL + 1).prop_map(|id| Read::Event(EventId::from(format!("e{id:02}")))),
    ]
}

/// A random workspace history, reads, and a purge.
#[derive(Debug, Clone)]
struct Scenario {
    batches: Vec<Vec<Event>>,
    upserts: Vec<Vec<Customer>>,
    reads: Vec<Read>,
    purge: PurgeScope,
    dry_run: bool,
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
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(batches, upserts, reads, purge, dry_run)| Scenario {
            batches,
            upserts,
            reads,
            purge,
            dry_run,
        })
}

/// Both answers succeeded and are equal, or a failure saying what differs.
fn agree<T: PartialEq + Debug>(
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

async fn collect_export(
    store: &dyn EventStore,
    ws: &WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<Event>> {
    let items: Vec<Result<Event>> = store.export(ws.clone(), filter.clone()).collect().await;
    items.into_iter().collect()
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
        Read::Pages(q) => {
            let mut q = q.clone();
            // Each page moves the cursor past at least one event; more pages than events
            // means the backend's pages do not advance.
            for _ in 0..=ID_POOL {
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
                "event_page never reached the end: {q:?}"
            )))
        }
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
    let asked = (s.purge, s.dry_run);
    agree(
        "purge",
        &asked,
        store.purge(&ws, s.purge, s.dry_run).await,
        oracle.purge(&ws, s.purge, s.dry_run).await,
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
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a Tokio runtime for the conformance suite: {e}"))
}

/// The differential property test: random workspace histories (see [`arb_batches`]) and random
/// queries of every primitive, played on the store that `setup` builds and on a
/// [`ReferenceStore`]; every answer must be identical, before and after a random purge.
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
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
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
