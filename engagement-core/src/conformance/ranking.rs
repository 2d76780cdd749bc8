//! The engagement ranking: ties, own events only, a customer's rank.

use super::support::{
    DAY, HOUR, append, base, by, customer, day, ev, fresh_workspace, micros, ok, page, scores, top,
    upsert,
};
use crate::{
    Actor, CustomerId, Event, EventFilter, EventStore, PurgeMode, PurgeScope, RankedScore, names,
};

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

/// The top of a window is exact whatever the customers' events outside it: the most active
/// customers of all time (an admin placeholder, a customer of last week, one whose events are
/// mostly staff's) need not place, ties at the last place break by id, and purges and erasures
/// change the ranking exactly.
pub async fn ranking_top_ignores_activity_outside_the_window(store: &dyn EventStore) {
    let ws = fresh_workspace("ranking_top_ignores_activity_outside_the_window");
    let at = |i: i64| micros(base(), HOUR + i);
    let mut events = Vec::new();
    let own = |id: String, customer: i64, t| ev(&id, customer, names::PAGE_VIEWED, t);
    // Customers 10..=19 score 1..=10 in the window; 30 ties with 17 at 8.
    for c in 10..=19_i64 {
        for i in 0..(c - 9) {
            events.push(own(format!("w-{c}-{i}"), c, at(c * 100 + i)));
        }
    }
    for i in 0..8 {
        events.push(own(format!("w-30-{i}"), 30, at(3_000 + i)));
    }
    // Customer 1: 40 events last week, 1 in the window. Customer 2, a placeholder: 40 in it.
    for i in 0..40 {
        events.push(own(format!("old-1-{i}"), 1, micros(base(), -5 * DAY + i)));
        events.push(own(format!("admin-{i}"), 2, at(5_000 + i)));
    }
    events.push(own("w-1".into(), 1, at(6_000)));
    // Customer 3: 40 staff events in the window, 2 of its own.
    for i in 0..40 {
        let staff = own(format!("staff-3-{i}"), 3, at(7_000 + i));
        events.push(by(Actor::Staff, staff));
    }
    events.push(own("w-3-a".into(), 3, at(7_100)));
    events.push(own("w-3-b".into(), 3, at(7_101)));
    append(store, &ws, &events).await;
    let mut placeholder = customer(2, "Admin", "Placeholder");
    placeholder.is_admin_placeholder = true;
    upsert(store, &ws, &[placeholder]).await;

    let rows = top(store, &ws, day(), 4).await;
    assert_eq!(
        scores(&rows),
        vec![(19, 10), (18, 9), (17, 8), (30, 8)],
        "top 4 of the window, the tie at the last place by id"
    );
    let rows = top(store, &ws, day(), 3).await;
    assert_eq!(scores(&rows), vec![(19, 10), (18, 9), (17, 8)], "top 3");

    let erase = PurgeScope::Customer {
        customer: CustomerId(19),
    };
    ok("purge", store.purge(&ws, erase, PurgeMode::Delete).await);
    let before_window = PurgeScope::Before { cutoff: base() };
    ok(
        "purge",
        store.purge(&ws, before_window, PurgeMode::Delete).await,
    );
    let rows = top(store, &ws, day(), 3).await;
    assert_eq!(
        scores(&rows),
        vec![(18, 9), (17, 8), (30, 8)],
        "top 3 after erasing the leader and purging last week"
    );
    let rows = top(store, &ws, day(), 12).await;
    let want = vec![
        (18, 9),
        (17, 8),
        (30, 8),
        (16, 7),
        (15, 6),
        (14, 5),
        (13, 4),
        (12, 3),
        (3, 2),
        (11, 2),
        (1, 1),
        (10, 1),
    ];
    assert_eq!(scores(&rows), want, "the whole ranking after the purges");
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

/// Admin placeholders are recognised by their name too (seed 000: "adminplaceholder names"),
/// flagged or not: left out of the ranking, and read back flagged.
pub async fn placeholders_are_recognised_by_name(store: &dyn EventStore) {
    let ws = fresh_workspace("placeholders_are_recognised_by_name");
    let named = [
        customer(1, "Admin", "Placeholder"),
        customer(2, "adminplaceholder", ""),
        customer(3, "Admin", "Smith"),
        customer(4, "Placeholder", "Admin"),
    ];
    upsert(store, &ws, &named).await;
    let events: Vec<Event> = (1..=4)
        .map(|c| {
            ev(
                &format!("e{c}"),
                c,
                names::PAGE_VIEWED,
                micros(base(), HOUR + c),
            )
        })
        .collect();
    append(store, &ws, &events).await;
    let rows = top(store, &ws, day(), 100).await;
    assert_eq!(
        scores(&rows),
        vec![(3, 1), (4, 1)],
        "placeholders by name left out"
    );
    let ids: Vec<CustomerId> = (1..=4).map(CustomerId).collect();
    let stored = ok("customers", store.customers(&ws, &ids).await);
    let flags: Vec<(i64, bool)> = stored
        .iter()
        .map(|c| (c.id.0, c.is_admin_placeholder))
        .collect();
    assert_eq!(
        flags,
        vec![(1, true), (2, true), (3, false), (4, false)],
        "read back as placeholders"
    );
}

/// A customer's rank where more than 10,000 customers score at least as much (more than a SQL
/// store scores one by one), and where only a few do: every better-ranked customer is counted,
/// ties by id, a placeholder among them left out, activity outside the window ignored.
pub async fn customer_rank_counts_every_customer_ahead(store: &dyn EventStore) {
    let ws = fresh_workspace("customer_rank_counts_every_customer_ahead");
    let tied: i64 = 10_050;
    // Customers 100..100+tied score 1; 1..=5 score 2; placeholder 150 scores 1; customer 7
    // has 50 events last week and none in the window.
    let mut events: Vec<Event> = (100..100 + tied)
        .map(|c| {
            ev(
                &format!("one-{c}"),
                c,
                names::PAGE_VIEWED,
                micros(base(), HOUR + c),
            )
        })
        .collect();
    for c in 1..=5 {
        for i in 0..2 {
            let at = micros(base(), 2 * HOUR + c * 10 + i);
            events.push(ev(&format!("two-{c}-{i}"), c, names::PAGE_VIEWED, at));
        }
    }
    for i in 0..50 {
        let at = micros(base(), -5 * DAY + i);
        events.push(ev(&format!("old-7-{i}"), 7, names::PAGE_VIEWED, at));
    }
    append(store, &ws, &events).await;
    let mut placeholder = customer(150, "Admin", "Placeholder");
    placeholder.is_admin_placeholder = true;
    upsert(store, &ws, &[placeholder]).await;

    let ws = &ws;
    let rank = |c: i64| async move {
        ok(
            "customer_rank",
            store.customer_rank(ws, day(), CustomerId(c)).await,
        )
    };
    let at = |rank: u64, score: u64| Some(RankedScore { rank, score });
    assert_eq!(rank(3).await, at(3, 2), "among the few scoring 2");
    assert_eq!(rank(100).await, at(6, 1), "the first of the tied");
    assert_eq!(rank(149).await, at(55, 1), "before the placeholder");
    assert_eq!(rank(151).await, at(56, 1), "after the placeholder");
    let last = 100 + tied - 1;
    assert_eq!(
        rank(last).await,
        at(5 + tied as u64 - 1, 1),
        "the last of the tied"
    );
    assert_eq!(rank(150).await, None, "the placeholder");
    assert_eq!(rank(7).await, None, "no event in the window");
}
