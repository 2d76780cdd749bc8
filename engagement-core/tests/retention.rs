//! Retention deletes exactly the events before the cutoff, and erasure exactly one customer.

use chrono::TimeDelta;
use engagement_core::retention::{self, RetentionPolicy};
use engagement_core::{
    Customer, CustomerId, Error, Event, EventFilter, EventPageQuery, EventStore, PurgeMode,
    ReferenceStore, ReportZone, TimeWindow, Timestamp, WorkspaceId, names,
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

    let preview = retention::enforce(&store, &ws("a"), &policy, now, PurgeMode::DryRun)
        .await
        .unwrap();
    assert_eq!((preview.removed.events, preview.dry_run), (expired, true));
    assert_eq!(
        ids(&store, &ws("a")).await.len(),
        events.len(),
        "a dry run deletes nothing"
    );

    let report = retention::enforce(&store, &ws("a"), &policy, now, PurgeMode::Delete)
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

    let again = retention::enforce(&store, &ws("a"), &policy, now, PurgeMode::Delete)
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

    let preview = retention::erase_customer(&store, &ws("a"), CustomerId(3), PurgeMode::DryRun)
        .await
        .unwrap();
    assert_eq!(
        (preview.removed.events, preview.removed.customers),
        (theirs, 1)
    );
    let report = retention::erase_customer(&store, &ws("a"), CustomerId(3), PurgeMode::Delete)
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
        "cutoffs_follow_the_local_calendar",
    ]);
}

/// Keeping zero months or days is refused before anything is deleted: it would otherwise remove
/// every event but today's, most likely from a missing setting.
#[tokio::test]
async fn a_policy_keeping_nothing_is_refused_and_deletes_nothing() {
    let now = at("2026-11-20T12:00:00Z");
    let (store, events) = seeded(at("2026-01-01T00:00:00Z")).await;
    for policy in [RetentionPolicy::months(0), RetentionPolicy::days(0)] {
        for mode in [PurgeMode::DryRun, PurgeMode::Delete] {
            let err = retention::enforce(&store, &ws("a"), &policy, now, mode).await;
            assert!(
                matches!(
                    err,
                    Err(Error::InvalidConfig {
                        setting: "keep",
                        ..
                    })
                ),
                "{policy:?}: {err:?}"
            );
        }
    }
    assert_eq!(ids(&store, &ws("a")).await.len(), events.len());
}

/// Month ends, leap days and local midnights that do not exist or happen twice.
#[test]
fn cutoffs_follow_the_local_calendar() {
    let havana = ReportZone::parse("America/Havana").unwrap();
    let cases = [
        // 1 month back from 31 March of a leap year is 29 February.
        (
            RetentionPolicy::months(1),
            "2028-03-31T12:00:00Z",
            "2028-02-29T00:00:00Z",
        ),
        // 12 months back from 29 February is 28 February.
        (
            RetentionPolicy::months(12),
            "2028-02-29T12:00:00Z",
            "2027-02-28T00:00:00Z",
        ),
        (
            RetentionPolicy::days(366),
            "2028-12-31T23:59:59.999999Z",
            "2027-12-31T00:00:00Z",
        ),
        // Havana's clocks jumped from 00:00 to 01:00 on 2024-03-10: the day starts at 01:00
        // CDT, 05:00 UTC.
        (
            RetentionPolicy::months(1).in_zone(havana),
            "2024-04-10T12:00:00Z",
            "2024-03-10T05:00:00Z",
        ),
        (
            RetentionPolicy::days(1).in_zone(havana),
            "2024-03-11T12:00:00Z",
            "2024-03-10T05:00:00Z",
        ),
        // On 2024-11-03 they went back from 01:00 to 00:00: the earlier midnight, 04:00 UTC.
        (
            RetentionPolicy::days(2).in_zone(havana),
            "2024-11-05T12:00:00Z",
            "2024-11-03T04:00:00Z",
        ),
    ];
    for (policy, now, cutoff) in cases {
        assert_eq!(
            policy.cutoff(at(now)).unwrap(),
            at(cutoff),
            "{policy:?} at {now}"
        );
    }
}

/// A policy longer than the calendar is refused, however far away `now` is; never a panic.
#[test]
fn policies_past_the_calendar_are_refused() {
    for now in [Timestamp::MIN, Timestamp::EPOCH, Timestamp::MAX] {
        for policy in [
            RetentionPolicy::months(u32::MAX),
            RetentionPolicy::days(u32::MAX),
            RetentionPolicy::months(u32::MAX).in_zone(ReportZone::parse("Asia/Tokyo").unwrap()),
        ] {
            assert!(
                matches!(
                    policy.cutoff(now),
                    Err(Error::InvalidConfig {
                        setting: "keep",
                        ..
                    })
                ),
                "{policy:?} at {now:?}"
            );
        }
    }
}
