//! Retention deletes exactly the events before the cutoff, and erasure exactly one customer.

use chrono::TimeDelta;
use engagement_core::retention::{self, RetentionPolicy};
use engagement_core::{
    Customer, CustomerId, Event, EventFilter, EventPageQuery, EventStore, ReferenceStore,
    ReportZone, TimeWindow, Timestamp, WorkspaceId, names,
};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::new(name).unwrap()
}

async fn ids(store: &ReferenceStore, workspace: &WorkspaceId) -> Vec<String> {
    let page = store
        .event_page(
            workspace,
            &EventPageQuery {
                filter: EventFilter::new(TimeWindow::ALL),
                after: None,
                limit: 10_000,
            },
        )
        .await
        .unwrap();
    let mut ids: Vec<String> = page.events.into_iter().map(|e| e.id.to_string()).collect();
    ids.sort();
    ids
}

/// Events every 7 hours over two years, plus three at the cutoff's edges, in two workspaces.
async fn seeded(cutoff: Timestamp) -> (ReferenceStore, Vec<Event>) {
    let store = ReferenceStore::default();
    let start = at("2025-01-01T00:00:00Z");
    let mut events: Vec<Event> = (0..2_500)
        .map(|i| {
            let when = start.checked_add(TimeDelta::hours(7 * i)).unwrap();
            Event::new(
                format!("e{i:05}"),
                CustomerId(i % 5),
                names::PAGE_VIEWED,
                when,
            )
        })
        .collect();
    for (id, delta) in [("edge-before", -1), ("edge-at", 0), ("edge-after", 1)] {
        let when = cutoff.checked_add(TimeDelta::microseconds(delta)).unwrap();
        events.push(Event::new(id, CustomerId(9), names::PAGE_VIEWED, when));
    }
    store.append(&ws("a"), &events).await.unwrap();
    store.append(&ws("b"), &events).await.unwrap();
    (store, events)
}

#[tokio::test]
async fn retention_deletes_exactly_the_events_before_the_cutoff() {
    let now = at("2026-11-20T12:00:00Z");
    let policy = RetentionPolicy::months(13).in_zone(ReportZone::parse("Europe/Paris").unwrap());
    let cutoff = policy.cutoff(now).unwrap();
    let (store, events) = seeded(cutoff).await;
    let mut kept: Vec<String> = events
        .iter()
        .filter(|e| e.occurred_at >= cutoff)
        .map(|e| e.id.to_string())
        .collect();
    kept.sort();
    let expired = (events.len() - kept.len()) as u64;
    assert!(expired > 100 && !kept.is_empty());

    let preview = retention::enforce(&store, &ws("a"), &policy, now, true)
        .await
        .unwrap();
    assert_eq!((preview.removed.events, preview.dry_run), (expired, true));
    assert_eq!(
        ids(&store, &ws("a")).await.len(),
        events.len(),
        "a dry run deletes nothing"
    );

    let report = retention::enforce(&store, &ws("a"), &policy, now, false)
        .await
        .unwrap();
    assert_eq!(report.cutoff, Some(cutoff));
    assert_eq!(report.removed.events, expired);
    let left = ids(&store, &ws("a")).await;
    assert_eq!(left, kept);
    assert!(left.contains(&"edge-at".to_owned()) && !left.contains(&"edge-before".to_owned()));
    assert_eq!(
        ids(&store, &ws("b")).await.len(),
        events.len(),
        "other workspaces untouched"
    );

    let again = retention::enforce(&store, &ws("a"), &policy, now, false)
        .await
        .unwrap();
    assert_eq!(again.removed.events, 0, "a rerun finds nothing more");
}

#[tokio::test]
async fn erasure_removes_one_customer_and_nothing_else() {
    let (store, events) = seeded(at("2026-01-01T00:00:00Z")).await;
    store
        .upsert_customers(
            &ws("a"),
            &[
                Customer::new(CustomerId(3), "Ada", "L"),
                Customer::new(CustomerId(4), "Bo", "M"),
            ],
        )
        .await
        .unwrap();
    let theirs = events
        .iter()
        .filter(|e| e.customer == CustomerId(3))
        .count() as u64;

    let preview = retention::erase_customer(&store, &ws("a"), CustomerId(3), true)
        .await
        .unwrap();
    assert_eq!(
        (preview.removed.events, preview.removed.customers),
        (theirs, 1)
    );
    let report = retention::erase_customer(&store, &ws("a"), CustomerId(3), false)
        .await
        .unwrap();
    assert_eq!(report.removed, preview.removed);
    assert_eq!(report.customer, Some(CustomerId(3)));
    assert_eq!(
        ids(&store, &ws("a")).await.len() as u64,
        events.len() as u64 - theirs
    );
    let left = store
        .customers(&ws("a"), &[CustomerId(3), CustomerId(4)])
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|c| c.id).collect::<Vec<_>>(),
        [CustomerId(4)]
    );
    assert_eq!(ids(&store, &ws("b")).await.len(), events.len());
}

/// Case 24: retention cutoffs and what they delete ignore the process's `TZ`.
#[cfg(feature = "conformance")]
#[test]
fn retention_ignores_the_process_tz() {
    engagement_core::conformance::rerun_under_process_zones(&[
        "retention_deletes_exactly_the_events_before_the_cutoff",
    ]);
}
