//! Funnel input.

use chrono::TimeDelta;

use super::support::{DAY, HOUR, append, base, by, day, ev, fresh_workspace, micros, ok};
use crate::{Actor, EventStore, FunnelQuery, Timestamp, names};

/// `funnel_input` per [`FunnelInput`](crate::FunnelInput)'s docs: steps in the same
/// microsecond ordered by id, repeated steps, a step before step 1, a step-1 event that
/// decides nothing left out, events outside the window or by staff ignored, and `open_since`
/// deciding who is waiting.
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
        conversion_window: TimeDelta::hours(2),
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
        // c2's first step A is more than 2 hours before any step B, and not the latest.
        (2, vec![(t(3), 0), (t(4), 1), (t(5), 1)]),
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

/// A funnel with tens of thousands of journeys (more than a backend is likely to read in one
/// statement) over a window with partial days at both ends equals the reference's, journey
/// for journey and in customer order.
pub async fn funnel_input_of_many_journeys_matches_the_reference(store: &dyn EventStore) {
    let ws = fresh_workspace("funnel_input_of_many_journeys_matches_the_reference");
    let (a, b, c) = ("Step A", "Step B", "Step C");
    let t = |i: i64| micros(base(), (i * 1_000_003_001) % (3 * DAY));
    let mut events = Vec::new();
    for customer in 0..25_000_i64 {
        let i = customer * 3;
        events.push(ev(&format!("m{customer}-a"), customer, a, t(i)));
        if customer % 5 != 0 {
            events.push(ev(&format!("m{customer}-b"), customer, b, t(i + 1)));
        }
        if customer % 3 == 0 {
            events.push(ev(&format!("m{customer}-c"), customer, c, t(i + 2)));
        }
        if customer % 7 == 0 {
            // More step-1 events, some of which decide nothing.
            events.push(ev(&format!("m{customer}-a2"), customer, a, t(i + 4)));
            events.push(ev(&format!("m{customer}-a3"), customer, a, t(i + 5)));
        }
    }
    let reference = crate::ReferenceStore::default();
    for chunk in events.chunks(5_000) {
        append(store, &ws, chunk).await;
        append(&reference, &ws, chunk).await;
    }
    let query = FunnelQuery {
        window: crate::TimeWindow {
            from: micros(base(), 5 * HOUR),
            to: micros(base(), 2 * DAY + 7 * HOUR),
        },
        steps: vec![a.into(), b.into(), c.into()],
        conversion_window: TimeDelta::hours(12),
        open_since: Some(micros(base(), DAY + 3 * HOUR)),
    };
    let got = ok("funnel_input", store.funnel_input(&ws, &query).await);
    let want = ok(
        "reference funnel_input",
        reference.funnel_input(&ws, &query).await,
    );
    assert!(
        got.journeys.len() > 10_000,
        "the case needs many journeys, it has {}",
        got.journeys.len()
    );
    assert_eq!(
        (got.entered, got.waiting, got.journeys.len()),
        (want.entered, want.waiting, want.journeys.len()),
        "entered, waiting and journeys"
    );
    assert!(
        got.journeys == want.journeys,
        "journeys differ (first at {:?})",
        got.journeys
            .iter()
            .zip(&want.journeys)
            .position(|(g, w)| g != w)
    );
}
