//! The engagement ranking: ties, own events only, a customer's rank.

use super::support::{
    HOUR, append, base, by, customer, day, ev, fresh_workspace, micros, ok, page, scores, top,
    upsert,
};
use crate::{Actor, CustomerId, Event, EventFilter, EventStore, RankedScore, names};

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
