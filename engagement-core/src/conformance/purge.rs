//! Retention: purges before a cutoff and erasure of one customer.

use super::support::{
    DAY, HOUR, activity, activity_query, append, base, by, customer, day, ev, export_all,
    fresh_workspace, ids_of, micros, ok, page, scores, top, ts, upsert,
};
use crate::retention::{self, RetentionPolicy};
use crate::{
    Actor, BucketCountsQuery, CustomerId, Error, EventFilter, EventStore, PurgeMode, PurgeOutcome,
    PurgeScope, TimeWindow, Timestamp, WorkspaceId, names,
};

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
        ok("purge", store.purge(&ws, scope, PurgeMode::DryRun).await),
        want,
        "dry run"
    );
    assert_eq!(
        export_all(store, &ws).await,
        events,
        "a dry run deletes nothing"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, PurgeMode::Delete).await),
        want,
        "purge"
    );
    assert_eq!(
        ids_of(&export_all(store, &ws).await),
        vec!["p-at", "p-plus-1"],
        "what is kept"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, PurgeMode::Delete).await),
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

/// A purge takes events of any name off the aggregates: names with quotes, a backslash, an
/// emoji, a trailing space or a letter beyond ASCII, each a rollup row of its own. Customer 2's
/// events are all before the cutoff, so nothing of its activity is left; customer 1 keeps the
/// events after it.
pub async fn purge_takes_any_name_off_the_aggregates(store: &dyn EventStore) {
    let ws = fresh_workspace("purge_takes_any_name_off_the_aggregates");
    let cut = micros(base(), 12 * HOUR);
    let unusual = [
        "Say \"hi\"",
        "back\\slash",
        "🦀 crab",
        "trailing ",
        "Straße",
    ];
    let mut events = Vec::new();
    for (i, name) in unusual.into_iter().enumerate() {
        let minute = i64::try_from(i).unwrap_or(0) * 60_000_000;
        events.push(ev(&format!("u-2-{i}"), 2, name, micros(base(), minute)));
        events.push(ev(
            &format!("u-1-old-{i}"),
            1,
            name,
            micros(base(), HOUR + minute),
        ));
        events.push(ev(&format!("u-1-new-{i}"), 1, name, micros(cut, minute)));
    }
    append(store, &ws, &events).await;
    upsert(store, &ws, &[customer(1, "A", "B"), customer(2, "C", "D")]).await;
    let purged = ok(
        "purge",
        store
            .purge(&ws, PurgeScope::Before { cutoff: cut }, PurgeMode::Delete)
            .await,
    );
    assert_eq!(purged.events, 10, "{purged:?}");
    assert_eq!(scores(&top(store, &ws, day(), 10).await), vec![(1, 5)]);
    let page = activity(store, &ws, &activity_query(day())).await;
    let rows: Vec<(i64, Option<Timestamp>)> = page
        .rows
        .iter()
        .map(|r| (r.customer.id.0, r.counters.last_activity))
        .collect();
    assert_eq!(
        rows,
        vec![(1, Some(micros(cut, 4 * 60_000_000))), (2, None)],
        "customer 2 left without activity"
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
        ok("purge", store.purge(&ws, scope, PurgeMode::DryRun).await),
        want,
        "dry run"
    );
    assert_eq!(
        export_all(store, &ws).await.len(),
        4,
        "a dry run deletes nothing"
    );
    assert_eq!(
        ok("purge", store.purge(&ws, scope, PurgeMode::Delete).await),
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
        ok("purge", store.purge(&ws, scope, PurgeMode::Delete).await),
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
        ok("purge", store.purge(&ws, nobody, PurgeMode::Delete).await),
        PurgeOutcome::default()
    );
}

/// Retention through its policy: in a zone whose local midnight did not exist (Havana, clocks
/// from 00:00 to 01:00 on 2024-03-10), "keep 1 month" on 10 April removes exactly the events
/// before 01:00 local on 10 March; a dry run reports what the run removes; a rerun removes
/// nothing; a policy keeping nothing is refused before anything is removed.
pub async fn retention_policy_purges_from_the_first_local_instant(store: &dyn EventStore) {
    let ws = fresh_workspace("retention_policy_purges_from_the_first_local_instant");
    let zone = crate::ReportZone::parse("America/Havana").unwrap_or_else(|e| panic!("{e}"));
    let policy = RetentionPolicy::months(1).in_zone(zone);
    let now = ts("2024-04-10T12:00:00Z");
    let cut = ts("2024-03-10T05:00:00Z");
    let events = vec![
        ev("r-old", 1, names::PAGE_VIEWED, ts("2024-01-01T00:00:00Z")),
        by(
            Actor::Staff,
            ev("r-staff", 2, names::PAGE_VIEWED, micros(cut, -HOUR)),
        ),
        ev("r-minus-1", 1, names::PAGE_VIEWED, micros(cut, -1)),
        ev("r-at", 2, names::PAGE_VIEWED, cut),
        ev("r-now", 1, names::PAGE_VIEWED, now),
    ];
    append(store, &ws, &events).await;
    let zero = RetentionPolicy::days(0).in_zone(zone);
    let refused = retention::enforce(store, &ws, &zero, now, PurgeMode::Delete).await;
    assert!(
        matches!(
            refused,
            Err(Error::InvalidConfig {
                setting: "keep",
                ..
            })
        ),
        "keep 0 days: {refused:?}"
    );
    assert_eq!(export_all(store, &ws).await, events, "nothing removed");
    let preview = ok(
        "enforce",
        retention::enforce(store, &ws, &policy, now, PurgeMode::DryRun).await,
    );
    let report = ok(
        "enforce",
        retention::enforce(store, &ws, &policy, now, PurgeMode::Delete).await,
    );
    assert_eq!((preview.cutoff, preview.dry_run), (Some(cut), true));
    assert_eq!((report.cutoff, report.dry_run), (Some(cut), false));
    let want = PurgeOutcome {
        events: 3,
        customers: 0,
    };
    assert_eq!((preview.removed, report.removed), (want, want));
    assert_eq!(
        ids_of(&export_all(store, &ws).await),
        vec!["r-at", "r-now"],
        "what is kept"
    );
    let again = ok(
        "enforce",
        retention::enforce(store, &ws, &policy, now, PurgeMode::Delete).await,
    );
    assert_eq!(again.removed, PurgeOutcome::default(), "rerun");
}

/// After an erasure the reports agree with a store that never held the customer: no rank, no
/// activity row, no log entry, totals of what is left; a customer with a record and no events
/// is erased as one record; one that never existed gives an empty report; the customer can
/// come back as new.
pub async fn erasure_leaves_no_trace_in_the_reports(store: &dyn EventStore) {
    let ws = fresh_workspace("erasure_leaves_no_trace_in_the_reports");
    let oracle = crate::ReferenceStore::new();
    let at = |i: i64| micros(base(), HOUR + i);
    let mut events = Vec::new();
    for i in 0..6 {
        events.push(ev(&format!("x-5-{i}"), 5, names::LINK_OPENED, at(i)));
        events.push(ev(&format!("x-6-{i}"), 6, names::LINK_OPENED, at(100 + i)));
    }
    events.push(by(
        Actor::Staff,
        ev("x-5-staff", 5, names::PAGE_VIEWED, at(200)),
    ));
    events.push(ev("x-6-last", 6, names::PAGE_VIEWED, at(300)));
    let records = [
        customer(5, "Erase", "Me"),
        customer(6, "Keep", "Me"),
        customer(7, "No", "Events"),
    ];
    for s in [store, &oracle as &dyn EventStore] {
        append(s, &ws, &events).await;
        upsert(s, &ws, &records).await;
    }
    for (who, want) in [(5, (7, 1)), (7, (0, 1)), (8, (0, 0))] {
        let preview = ok(
            "erase",
            retention::erase_customer(store, &ws, CustomerId(who), PurgeMode::DryRun).await,
        );
        let report = ok(
            "erase",
            retention::erase_customer(store, &ws, CustomerId(who), PurgeMode::Delete).await,
        );
        ok(
            "erase",
            retention::erase_customer(&oracle, &ws, CustomerId(who), PurgeMode::Delete).await,
        );
        let want = PurgeOutcome {
            events: want.0,
            customers: want.1,
        };
        assert_eq!(
            (preview.removed, report.removed),
            (want, want),
            "customer {who}"
        );
        assert_eq!(report.customer, Some(CustomerId(who)));
    }
    reports_agree(store, &oracle, &ws, "after the erasures").await;
    let back = [ev("x-5-back", 5, names::LINK_OPENED, at(400))];
    for s in [store, &oracle as &dyn EventStore] {
        append(s, &ws, &back).await;
    }
    reports_agree(store, &oracle, &ws, "after the customer came back").await;
}

/// Ranking, ranks, activity, the event log and buckets of `ws` agree with the oracle's.
async fn reports_agree(
    store: &dyn EventStore,
    oracle: &dyn EventStore,
    ws: &WorkspaceId,
    when: &str,
) {
    let everyone: Vec<CustomerId> = (5..=8).map(CustomerId).collect();
    assert_eq!(
        scores(&top(store, ws, day(), 10).await),
        scores(&top(oracle, ws, day(), 10).await),
        "ranking {when}"
    );
    for &c in &everyone {
        assert_eq!(
            ok("rank", store.customer_rank(ws, day(), c).await),
            ok("rank", oracle.customer_rank(ws, day(), c).await),
            "rank of {c:?} {when}"
        );
    }
    let query = activity_query(day());
    assert_eq!(
        activity(store, ws, &query).await,
        activity(oracle, ws, &query).await,
        "activity {when}"
    );
    for filter in [
        EventFilter::new(TimeWindow::ALL),
        EventFilter::new(day()),
        EventFilter::new(TimeWindow::ALL).with_customers(vec![CustomerId(5)]),
    ] {
        assert_eq!(
            page(store, ws, &filter, 100).await,
            page(oracle, ws, &filter, 100).await,
            "event log {filter:?} {when}"
        );
        // A page of none: the total is counted, where a first page shorter than its limit
        // (the one above) may be its own total.
        assert_eq!(
            page(store, ws, &filter, 0).await.1,
            page(oracle, ws, &filter, 0).await.1,
            "event log total {filter:?} {when}"
        );
    }
    let buckets = BucketCountsQuery {
        customers: everyone,
        names: vec![names::LINK_OPENED.to_owned()],
        edges: vec![base(), micros(base(), HOUR), micros(base(), DAY)],
    };
    assert_eq!(
        ok("buckets", store.bucket_counts(ws, &buckets).await),
        ok("buckets", oracle.bucket_counts(ws, &buckets).await),
        "buckets {when}"
    );
}
