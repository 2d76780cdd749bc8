//! Customer activity: milestone counters, search, filters, sorts, pages and day buckets.

use super::support::{
    HOUR, activity, activity_in_pages, activity_query, append, base, by, cells, customer, date,
    day, ev, export_all, fresh_workspace, micros, ok, row_ids, ts, upsert,
};
use crate::{
    ActivityCounters, ActivitySort, ActivitySortKey, Actor, BucketCountsQuery, Customer,
    CustomerFilter, CustomerId, CustomerStatus, Event, EventStore, Milestone, ReportZone,
    TimeWindow, Timestamp, names,
};

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
/// case-insensitively, also beyond ASCII (a Greek Σ whether it ends a word or not), against
/// names, full name, code and email: every word of the term, in any order.
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
        customer(10, "ΚΩΣΤΑΣ", "ΠΑΠΑΔΟΠΟΥΛΟΣ"),
    ];
    records[8].email = "EMILE@EXAMPLE.COM".into();
    records[3].code = "CODE-77".into();
    upsert(store, &ws, &records).await;
    let events = vec![ev("s1", 1, names::LINK_OPENED, micros(base(), HOUR))];
    append(store, &ws, &events).await;

    let cases: [(&str, Vec<i64>); 22] = [
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
        // Σ ends a word in the term, not in the name (a word-final σ is written ς).
        ("ΚΩΣ", vec![10]),
        ("κως", vec![10]),
        ("σ παπ", vec![10]),
        ("ΚΩΣΤΑΣ ΠΑΠΑΔΟΠΟΥΛΟΣ", vec![10]),
        // Every word, in any order, anywhere in the record.
        ("zola émilie", vec![8]),
        ("  discount   50% ", vec![1]),
        ("code-77 axb", vec![4]),
        ("émil example.com", vec![9]),
        ("émil zola nobody", vec![]),
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
        10,
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

/// A customer without a click (or any activity) sorts below one whose last is the earliest
/// instant a store holds, `Timestamp::MIN`, whatever their ids: absent is smaller than every
/// instant, not equal to the first.
pub async fn activity_sorts_absent_instants_below_the_earliest(store: &dyn EventStore) {
    let ws = fresh_workspace("activity_sorts_absent_instants_below_the_earliest");
    upsert(
        store,
        &ws,
        &[customer(1, "Ann", ""), customer(2, "Bob", "")],
    )
    .await;
    append(
        store,
        &ws,
        &[ev("1-open", 1, names::LINK_OPENED, Timestamp::MIN)],
    )
    .await;
    for key in [ActivitySortKey::LastClick, ActivitySortKey::LastActivity] {
        for (descending, want) in [(false, [2, 1]), (true, [1, 2])] {
            let mut query = activity_query(TimeWindow::ALL);
            query.sort = ActivitySort { key, descending };
            let got = activity(store, &ws, &query).await;
            assert_eq!(
                row_ids(&got),
                want,
                "sort by {key:?}, descending = {descending}"
            );
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
