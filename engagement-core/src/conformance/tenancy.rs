//! Tenancy and half-open windows.

use chrono::TimeDelta;

use super::support::{
    HOUR, activity, activity_query, append, base, cells, customer, day, ev, export, export_all,
    fresh_workspace, ids_of, micros, ok, page, scores, top, upsert, window,
};
use crate::{
    BucketCountsQuery, CustomerId, EventFilter, EventId, EventStore, FunnelQuery, PurgeMode,
    PurgeOutcome, PurgeScope, RankedScore, TimeWindow, Timestamp, names,
};

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
        conversion_window: TimeDelta::days(1),
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
    let dry = ok(
        "purge",
        store.purge(&b, everything, PurgeMode::DryRun).await,
    );
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
    let erased = ok("purge", store.purge(&a, erase, PurgeMode::Delete).await);
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

/// A customer flagged as an admin placeholder in one workspace is ranked in another that
/// holds a customer of the same id: the flag is the workspace's own.
pub async fn placeholders_are_their_workspaces_own(store: &dyn EventStore) {
    let a = fresh_workspace("placeholders_are_their_workspaces_own-a");
    let b = fresh_workspace("placeholders_are_their_workspaces_own-b");
    let t = |h: i64| micros(base(), h * HOUR);
    let mut placeholder = customer(7, "Ops", "Bot");
    placeholder.is_admin_placeholder = true;
    upsert(store, &a, &[placeholder]).await;
    upsert(store, &b, &[customer(7, "Ann", "B")]).await;
    for ws in [&a, &b] {
        let events = [
            ev("p1", 7, names::PAGE_VIEWED, t(1)),
            ev("p2", 8, names::PAGE_VIEWED, t(2)),
        ];
        append(store, ws, &events).await;
    }
    assert_eq!(
        scores(&top(store, &a, day(), 10).await),
        vec![(8, 1)],
        "the placeholder is left out of a"
    );
    assert_eq!(
        scores(&top(store, &b, day(), 10).await),
        vec![(7, 1), (8, 1)],
        "customer 7 of b is ranked"
    );
    assert_eq!(
        ok(
            "customer_rank",
            store.customer_rank(&b, day(), CustomerId(7)).await
        ),
        Some(RankedScore { rank: 1, score: 1 }),
        "customer 7's rank in b"
    );
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
        conversion_window: TimeDelta::days(1),
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
