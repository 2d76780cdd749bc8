//! What an activity page reads with its rows (their counts per bucket, their latest events),
//! from the same state as the rows: a customer's detail panel, a page's sparklines.

use std::sync::Arc;

use super::support::{
    DAY, HOUR, Writer, activity_query, append, base, by, customer, ev, fresh_workspace, micros, ok,
    upsert,
};
use crate::{
    ActivityPage, ActivityQuery, Actor, CustomerFilter, CustomerId, EventPage, EventStore,
    LatestEvents, ReferenceStore, RowBuckets, TimeWindow, Timestamp, names,
};

/// The names the queries below list as milestones.
const MILESTONES: [&str; 2] = [names::VERIFIED, names::ORDER_SUBMITTED];

/// Rows of `window` (the customers `ids`, or all) with their link opens per hour over the
/// 1,500 hours from `base()` (more buckets than one SQL statement counts) and their latest
/// `limit` milestones.
fn with_rows(ids: Option<Vec<i64>>, window: TimeWindow, limit: usize) -> ActivityQuery {
    ActivityQuery {
        customers: CustomerFilter {
            ids: ids.map(|ids| ids.into_iter().map(CustomerId).collect()),
            ..CustomerFilter::default()
        },
        row_buckets: Some(RowBuckets {
            names: vec![names::LINK_OPENED.to_owned()],
            edges: (0..=1_500).map(|h| micros(base(), h * HOUR)).collect(),
        }),
        latest: Some(LatestEvents {
            names: MILESTONES.map(String::from).to_vec(),
            limit,
        }),
        ..activity_query(window)
    }
}

/// A page reads with its rows what `bucket_counts` and `event_page` answer for them, as the
/// reference does: the counts per bucket of the page's customers only (across statement
/// runs), their latest milestones with the total; a page without rows reads nothing.
pub async fn activity_reads_buckets_and_latest_events_with_its_rows(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_reads_buckets_and_latest_events_with_its_rows");
    let oracle = ReferenceStore::new();
    let t = |h: i64| micros(base(), h * HOUR);
    let events = vec![
        ev("1-open-a", 1, names::LINK_OPENED, t(1)),
        ev("1-open-b", 1, names::LINK_OPENED, t(1_200)),
        ev("1-open-c", 1, names::LINK_OPENED, t(1_499)),
        ev("1-verify", 1, names::VERIFIED, t(2)),
        ev("1-order-a", 1, names::ORDER_SUBMITTED, t(3)),
        ev("1-order-b", 1, names::ORDER_SUBMITTED, t(40)),
        by(
            Actor::Staff,
            ev("1-staff-order", 1, names::ORDER_SUBMITTED, t(41)),
        ),
        ev("2-open", 2, names::LINK_OPENED, t(5)),
        ev("2-order", 2, names::ORDER_SUBMITTED, t(6)),
        ev("3-open", 3, names::LINK_OPENED, t(7)),
        ev("3-order", 3, names::ORDER_SUBMITTED, t(8)),
        ev("4-outside", 4, names::ORDER_SUBMITTED, micros(base(), -1)),
    ];
    let records = [
        customer(1, "Ada", "Lovelace"),
        customer(2, "Alan", "Turing"),
        customer(3, "Grace", "Hopper"),
        customer(4, "Edsger", "Dijkstra"),
    ];
    for s in [store, &oracle as &dyn EventStore] {
        append(s, &ws, &events).await;
        upsert(s, &ws, &records).await;
    }
    let window = TimeWindow {
        from: base(),
        to: t(1_500),
    };
    let two_rows = ActivityQuery {
        limit: 2,
        ..with_rows(None, window, 20)
    };
    let asked = [
        with_rows(Some(vec![1]), window, 2),
        with_rows(Some(vec![1]), window, 20),
        with_rows(Some(vec![4]), window, 20),
        with_rows(Some(vec![9]), window, 20),
        two_rows.clone(),
    ];
    for query in &asked {
        let page = ok("activity_page", store.activity_page(&ws, query).await);
        let buckets = match query.row_buckets_query(&page.rows) {
            Some(q) => ok("bucket_counts", store.bucket_counts(&ws, &q).await),
            None => Vec::new(),
        };
        let latest = match query.latest_query(&page.rows) {
            Some(q) => ok("event_page", store.event_page(&ws, &q).await),
            None => EventPage::default(),
        };
        assert_eq!(
            (&page.row_buckets, &page.latest),
            (&buckets, &latest),
            "{query:?}: what the page read with its rows, and the same reads apart"
        );
        let want = ok(
            "the reference's activity_page",
            oracle.activity_page(&ws, query).await,
        );
        assert_eq!(page, want, "{query:?}: the page and the reference's");
    }
    let first = ok("activity_page", store.activity_page(&ws, &asked[0]).await);
    let row = first
        .rows
        .first()
        .unwrap_or_else(|| panic!("customer 1 has a row"));
    assert_eq!(
        (
            row.customer.first_name.as_str(),
            row.counters.views,
            row.counters.orders
        ),
        ("Ada", 3, 2),
        "customer 1's record and counters"
    );
    let hours: Vec<(usize, u64)> = first
        .row_buckets
        .iter()
        .map(|c| (c.bucket, c.count))
        .collect();
    assert_eq!(
        hours,
        vec![(1, 1), (1_200, 1), (1_499, 1)],
        "customer 1's link opens per hour"
    );
    let latest: Vec<&str> = first.latest.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        (latest, first.latest.total),
        (vec!["1-order-b", "1-order-a"], 3),
        "customer 1's latest milestones"
    );
    let unknown = ok("activity_page", store.activity_page(&ws, &asked[3]).await);
    assert_eq!(
        unknown,
        ActivityPage::default(),
        "a customer with no record reads nothing"
    );
    let two = ok("activity_page", store.activity_page(&ws, &two_rows).await);
    let customers: Vec<(i64, i64)> = two
        .row_buckets
        .iter()
        .map(|c| (c.customer.0, i64::try_from(c.bucket).unwrap_or(-1)))
        .chain(two.latest.events.iter().map(|e| (e.customer.0, -1)))
        .collect();
    assert_eq!(
        customers,
        vec![
            (1, 1),
            (1, 1_200),
            (1, 1_499),
            (2, 5),
            (1, -1),
            (2, -1),
            (1, -1),
            (1, -1)
        ],
        "two rows read the buckets and latest events of customers 1 and 2 only"
    );
}

/// A customer's page (their detail panel) read while another thread appends, batch after
/// batch, a link open and an order of theirs in one append: every page counts as many opens
/// in its counters as in its buckets, as many orders as its latest milestones total, and each
/// append whole or not at all (the three read one by one would see a batch in one part and
/// not the next).
pub async fn activity_reads_its_rows_and_what_goes_with_them_from_one_state<S: EventStore>(
    store: S,
) {
    const PAGES: usize = 100;
    const MAX_BATCHES: i64 = 5_000;
    const LISTED: usize = 50;
    let ws = fresh_workspace("activity_reads_from_one_state");
    let store: Arc<dyn EventStore> = Arc::new(store);
    upsert(store.as_ref(), &ws, &[customer(1, "Ada", "Lovelace")]).await;
    let minute = |i: i64| micros(base(), i * 60_000_000);
    let writer = {
        let (store, ws) = (Arc::clone(&store), ws.clone());
        Writer::start(MAX_BATCHES, move |i| {
            let (store, ws) = (Arc::clone(&store), ws.clone());
            let batch = [names::LINK_OPENED, names::ORDER_SUBMITTED]
                .map(|name| ev(&format!("{name}-{i}"), 1, name, minute(i)));
            async move {
                ok("append", store.append(&ws, &batch).await);
            }
        })
    };
    let window = TimeWindow {
        from: base(),
        to: micros(base(), 30 * DAY),
    };
    let query = with_rows(Some(vec![1]), window, LISTED);
    // The batches land in order, so a page holds the first n of them.
    let check = |page: &ActivityPage| -> u64 {
        let counters = page.rows.first().map(|r| r.counters).unwrap_or_default();
        let opens: u64 = page.row_buckets.iter().map(|c| c.count).sum();
        let latest: Vec<Timestamp> = page.latest.events.iter().map(|e| e.occurred_at).collect();
        let n = counters.views;
        let newest = i64::try_from(n).unwrap_or(i64::MAX);
        let want: Vec<Timestamp> = (0..newest).rev().take(LISTED).map(minute).collect();
        assert_eq!(
            (counters.orders, opens, page.latest.total, latest),
            (n, n, n, want),
            "a page counting {n} link opens: orders, opens in its buckets, milestones and the latest ones' instants"
        );
        n
    };
    let mut seen = Vec::with_capacity(PAGES);
    for _ in 0..PAGES {
        seen.push(check(&ok(
            "activity_page",
            store.activity_page(&ws, &query).await,
        )));
        tokio::task::yield_now().await;
    }
    let written = writer.stop().await;
    let last = check(&ok("activity_page", store.activity_page(&ws, &query).await));
    assert_eq!(
        last,
        u64::try_from(written).unwrap_or(0),
        "every batch counted once the writer ended (pages beside it saw {seen:?})"
    );
}
