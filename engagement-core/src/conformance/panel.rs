//! A customer's detail panel: three reads answered together, from one state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::support::{
    DAY, HOUR, activity_query, append, base, by, customer, ev, fresh_workspace, micros, ok, upsert,
};
use crate::{
    Actor, BucketCountsQuery, CustomerFilter, CustomerId, CustomerPanel, CustomerPanelQuery,
    EventFilter, EventPageQuery, EventStore, ReferenceStore, TimeWindow, Timestamp, names,
};

/// The names the panels below list as milestones.
const MILESTONES: [&str; 2] = [names::VERIFIED, names::ORDER_SUBMITTED];

/// The panel query of `customer`: counters over `window`, link opens per hour over the 1,500
/// hours from `base()` (more buckets than one SQL statement counts), the latest `limit`
/// milestones of `window`.
fn panel_query(customer: i64, window: TimeWindow, limit: usize) -> CustomerPanelQuery {
    let ids = vec![CustomerId(customer)];
    CustomerPanelQuery {
        counters: crate::ActivityQuery {
            customers: CustomerFilter {
                ids: Some(ids.clone()),
                ..CustomerFilter::default()
            },
            ..activity_query(window)
        },
        trend: BucketCountsQuery {
            customers: ids.clone(),
            names: vec![names::LINK_OPENED.to_owned()],
            edges: (0..=1_500).map(|h| micros(base(), h * HOUR)).collect(),
        },
        recent: EventPageQuery {
            filter: EventFilter::new(window)
                .with_customers(ids)
                .with_actors(vec![Actor::Customer])
                .with_names(MILESTONES),
            after: None,
            limit,
        },
    }
}

/// The panel answers each of its queries as its own primitive does, and as the reference
/// does: the record with counters, the trend's cells across statement runs, the latest
/// milestones with their total; an unknown customer has no row, cells or events.
pub async fn customer_panel_answers_as_its_three_reads(store: &dyn EventStore) {
    let ws = fresh_workspace("customer_panel_answers_as_its_three_reads");
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
        ev("3-outside", 3, names::ORDER_SUBMITTED, micros(base(), -1)),
    ];
    let records = [
        customer(1, "Ada", "Lovelace"),
        customer(2, "Alan", "Turing"),
        customer(3, "Grace", "Hopper"),
    ];
    for s in [store, &oracle as &dyn EventStore] {
        append(s, &ws, &events).await;
        upsert(s, &ws, &records).await;
    }
    let window = TimeWindow {
        from: base(),
        to: t(1_500),
    };
    for (customer, limit) in [(1, 2), (1, 20), (2, 20), (3, 20), (9, 20)] {
        let query = panel_query(customer, window, limit);
        let panel = ok("customer_panel", store.customer_panel(&ws, &query).await);
        let apart = CustomerPanel {
            counters: ok(
                "activity_page",
                store.activity_page(&ws, &query.counters).await,
            ),
            trend: ok(
                "bucket_counts",
                store.bucket_counts(&ws, &query.trend).await,
            ),
            recent: ok("event_page", store.event_page(&ws, &query.recent).await),
        };
        assert_eq!(
            panel, apart,
            "customer {customer}: the panel and its reads one by one"
        );
        let want = ok(
            "the reference's panel",
            oracle.customer_panel(&ws, &query).await,
        );
        assert_eq!(
            panel, want,
            "customer {customer}: the panel and the reference's"
        );
    }
    let first = ok(
        "customer_panel",
        store.customer_panel(&ws, &panel_query(1, window, 2)).await,
    );
    let row = first
        .counters
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
    let hours: Vec<(usize, u64)> = first.trend.iter().map(|c| (c.bucket, c.count)).collect();
    assert_eq!(
        hours,
        vec![(1, 1), (1_200, 1), (1_499, 1)],
        "customer 1's link opens per hour"
    );
    let recent: Vec<&str> = first.recent.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        (recent, first.recent.total),
        (vec!["1-order-b", "1-order-a"], 3),
        "customer 1's latest milestones"
    );
    let unknown = ok(
        "customer_panel",
        store.customer_panel(&ws, &panel_query(9, window, 20)).await,
    );
    assert_eq!(
        unknown,
        CustomerPanel::default(),
        "a customer with no record and no events"
    );
}

/// Panels read while another thread appends, batch after batch, a link open and an order of
/// the same customer in one append: every panel counts as many opens in its counters as in
/// its trend, as many orders as its latest milestones total, and each append whole or not at
/// all (a panel of three reads one by one would see a batch in one part and not the next).
pub async fn customer_panel_is_one_snapshot<S: EventStore>(store: S) {
    const PANELS: usize = 100;
    const MAX_BATCHES: i64 = 5_000;
    const LISTED: usize = 50;
    let ws = fresh_workspace("customer_panel_is_one_snapshot");
    let store: Arc<dyn EventStore> = Arc::new(store);
    upsert(store.as_ref(), &ws, &[customer(1, "Ada", "Lovelace")]).await;
    let minute = |i: i64| micros(base(), i * 60_000_000);
    let stop = Arc::new(AtomicBool::new(false));
    // The writer runs on a thread of its own, so that it appends beside a store whose calls
    // never wait (the in-memory ones) as well as between a SQL store's statements; this
    // runtime's thread drives the I/O of both while it waits for the panels.
    let writer = {
        let (store, ws, stop) = (Arc::clone(&store), ws.clone(), Arc::clone(&stop));
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(async {
                let mut written = 0;
                while written < MAX_BATCHES && !stop.load(Ordering::SeqCst) {
                    let batch = [names::LINK_OPENED, names::ORDER_SUBMITTED]
                        .map(|name| ev(&format!("{name}-{written}"), 1, name, minute(written)));
                    ok("append", store.append(&ws, &batch).await);
                    written += 1;
                }
                written
            })
        })
    };
    let window = TimeWindow {
        from: base(),
        to: micros(base(), 30 * DAY),
    };
    let query = panel_query(1, window, LISTED);
    // The batches land in order, so a panel holds the first n of them.
    let check = |panel: &CustomerPanel| -> u64 {
        let counters = panel
            .counters
            .rows
            .first()
            .map(|r| r.counters)
            .unwrap_or_default();
        let trend: u64 = panel.trend.iter().map(|c| c.count).sum();
        let latest: Vec<Timestamp> = panel.recent.events.iter().map(|e| e.occurred_at).collect();
        let n = counters.views;
        let newest = i64::try_from(n).unwrap_or(i64::MAX);
        let want: Vec<Timestamp> = (0..newest).rev().take(LISTED).map(minute).collect();
        assert_eq!(
            (counters.orders, trend, panel.recent.total, latest),
            (n, n, n, want),
            "a panel counting {n} link opens: orders, opens in its trend, milestones and the latest ones' instants"
        );
        n
    };
    let mut seen = Vec::with_capacity(PANELS);
    for _ in 0..PANELS {
        seen.push(check(&ok(
            "customer_panel",
            store.customer_panel(&ws, &query).await,
        )));
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::SeqCst);
    let written = writer
        .await
        .unwrap_or_else(|e| panic!("the writer failed: {e}"));
    let last = check(&ok(
        "customer_panel",
        store.customer_panel(&ws, &query).await,
    ));
    assert_eq!(
        last,
        u64::try_from(written).unwrap_or(0),
        "every batch counted once the writer ended (panels beside it saw {seen:?})"
    );
}
