//! The event log: keyset pages, filters, lookups by id and exports.

use std::net::IpAddr;

use futures::StreamExt;

use super::support::{
    DAY, HOUR, append, base, by, day, ev, export, export_all, fresh_workspace, full_event, ids_of,
    micros, ok, page, window,
};
use crate::{
    Actor, CustomerId, Event, EventFilter, EventId, EventKey, EventPageQuery, EventStore, Page,
    PurgeMode, PurgeScope, TimeWindow, Timestamp, WorkspaceId, names,
};

/// 1,000 events in the same microsecond, read newest first in pages of 7 while new events
/// arrive: each original event is seen exactly once, in strictly descending (time, id) order.
pub async fn event_page_keyset_survives_appends(store: &dyn EventStore) {
    let ws = fresh_workspace("event_page_keyset_survives_appends");
    let at = micros(base(), 12 * HOUR);
    let mut events: Vec<Event> = (0..1_000)
        .map(|i| {
            ev(
                &format!("k{:04}", (i * 379) % 1_000),
                i % 13,
                names::PAGE_VIEWED,
                at,
            )
        })
        .collect();
    events.rotate_left(417);
    for chunk in events.chunks(250) {
        append(store, &ws, chunk).await;
    }
    let filter = EventFilter::new(day());
    let mut after: Option<EventKey> = None;
    let mut seen: Vec<EventKey> = Vec::new();
    let mut stored = 1_000_u64;
    for round in 0..1_000 {
        let query = EventPageQuery {
            filter: filter.clone(),
            after: after.clone(),
            limit: 7,
        };
        let page = ok("event_page", store.event_page(&ws, &query).await);
        assert_eq!(page.total, stored, "total on page {round}");
        assert!(page.events.len() <= 7, "page {round} is over its limit");
        let Some(last) = page.events.last() else {
            break;
        };
        after = Some(last.key());
        seen.extend(page.events.iter().map(Event::key));
        // One event newer than every cursor (never seen) and one older than all (seen at the end).
        let newer = ev(&format!("k9999-{round:04}"), 1, names::PAGE_VIEWED, at);
        let older = ev(
            &format!("older-{round:04}"),
            1,
            names::PAGE_VIEWED,
            micros(at, -1),
        );
        append(store, &ws, &[newer, older]).await;
        stored += 2;
    }
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "keys strictly descending, no repeats"
    );
    let originals: Vec<String> = seen
        .iter()
        .filter(|k| k.at == at)
        .map(|k| k.id.to_string())
        .collect();
    let want: Vec<String> = (0..1_000).rev().map(|i| format!("k{i:04}")).collect();
    assert_eq!(originals, want, "every original event exactly once");
    assert!(
        seen.iter().all(|k| !k.id.as_str().starts_with("k9999")),
        "no event newer than the cursor"
    );
}

fn filter_events() -> Vec<Event> {
    let mut e1 = ev("f1", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    e1.ip = Some(IpAddr::from([10, 0, 0, 1]));
    e1.page = Page {
        url: "https://x.com/a".into(),
        path: "/a".into(),
        domain: "x.com".into(),
        referrer: String::new(),
    };
    let mut e2 = by(
        Actor::Staff,
        ev("f2", 2, names::LINK_OPENED, micros(base(), 2 * HOUR)),
    );
    e2.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]));
    e2.page = Page {
        url: "https://y.com/b".into(),
        path: "/b".into(),
        domain: "y.com".into(),
        referrer: "https://google.com/".into(),
    };
    let mut e3 = by(
        Actor::System,
        ev("f3", 1, names::LINK_OPENED, micros(base(), 3 * HOUR)),
    );
    e3.page = Page {
        url: "https://y.com/a".into(),
        path: "/a".into(),
        domain: "y.com".into(),
        referrer: String::new(),
    };
    let mut e4 = ev("f4", 3, names::ORDER_SUBMITTED, micros(base(), 4 * HOUR));
    e4.ip = Some(IpAddr::from([10, 0, 0, 1]));
    e4.page = Page {
        url: "https://x.com/c".into(),
        path: "/c".into(),
        domain: "x.com".into(),
        referrer: "https://t.co/".into(),
    };
    vec![e1, e2, e3, e4]
}

/// Every filter field selects exactly its events, with the exact total; an empty list selects
/// nothing and an empty referrer selects direct traffic.
pub async fn event_page_filters_every_field(store: &dyn EventStore) {
    let ws = fresh_workspace("event_page_filters_every_field");
    append(store, &ws, &filter_events()).await;
    let f = || EventFilter::new(day());
    let with = |change: &dyn Fn(&mut EventFilter)| {
        let mut filter = f();
        change(&mut filter);
        filter
    };
    let cases: Vec<(EventFilter, Vec<&str>)> = vec![
        (f(), vec!["f4", "f3", "f2", "f1"]),
        (f().with_names([names::LINK_OPENED]), vec!["f3", "f2"]),
        (
            f().with_names([names::LINK_OPENED, names::ORDER_SUBMITTED]),
            vec!["f4", "f3", "f2"],
        ),
        (f().with_names(Vec::<String>::new()), vec![]),
        (f().with_customers(vec![CustomerId(1)]), vec!["f3", "f1"]),
        (f().with_customers(vec![]), vec![]),
        (
            f().with_actors(vec![Actor::Staff, Actor::System]),
            vec!["f3", "f2"],
        ),
        (f().with_actors(vec![]), vec![]),
        (
            with(&|q| q.ip = Some(IpAddr::from([10, 0, 0, 1]))),
            vec!["f4", "f1"],
        ),
        (
            with(&|q| q.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]))),
            vec!["f2"],
        ),
        (with(&|q| q.path = Some("/a".into())), vec!["f3", "f1"]),
        (with(&|q| q.domain = Some("y.com".into())), vec!["f3", "f2"]),
        (
            with(&|q| q.referrer = Some(String::new())),
            vec!["f3", "f1"],
        ),
        (
            with(&|q| q.referrer = Some("https://t.co/".into())),
            vec!["f4"],
        ),
        (with(&|q| q.path = Some("/A".into())), vec![]),
        (
            with(&|q| {
                q.customers = Some(vec![CustomerId(1)]);
                q.referrer = Some(String::new());
                q.actors = Some(vec![Actor::Customer]);
            }),
            vec!["f1"],
        ),
    ];
    for (filter, want) in cases {
        let (events, total) = page(store, &ws, &filter, 10).await;
        assert_eq!(
            (ids_of(&events), total),
            (want.clone(), want.len() as u64),
            "event_page with {filter:?}"
        );
        let (first, total) = page(store, &ws, &filter, 1).await;
        assert_eq!(
            (first.len(), total),
            (want.len().min(1), want.len() as u64),
            "a page of 1 keeps the total"
        );
        // A page of none: the total counted, also where nothing matches (a first page shorter
        // than its limit, as the two above may be, can be its own total).
        let (none, total) = page(store, &ws, &filter, 0).await;
        assert_eq!(
            (none.len(), total),
            (0, want.len() as u64),
            "a page of none keeps the total"
        );
        let oldest_first: Vec<Event> = export(store, &ws, filter.clone()).await;
        let mut want_oldest = want.clone();
        want_oldest.reverse();
        assert_eq!(ids_of(&oldest_first), want_oldest, "export with {filter:?}");
    }
}

/// Events over four UTC days of every name, actor and domain mix, stored out of order and
/// partly re-sent; each event-log total (filters on names, actors and a domain, which stores may
/// take from per-day counts, and on a customer, which they may not) over whole days, partial
/// edges and all time is the number of stored events the filter matches: before any purge,
/// after a purge whose cutoff falls inside a day, and after a customer's erasure.
pub async fn event_log_totals_stay_exact_over_whole_days(store: &dyn EventStore) {
    let ws = fresh_workspace("event_log_totals_stay_exact_over_whole_days");
    let start = totals_start();
    let kinds = [
        names::PAGE_VIEWED,
        names::LINK_OPENED,
        names::ORDER_SUBMITTED,
    ];
    let domains = ["x.com", "y.com", "z.com"];
    let mut events: Vec<Event> = (0..240_usize)
        .map(|i| {
            let at = micros(start, i as i64 * 23 * 60_000_000);
            let mut e = by(
                Actor::ALL[i % 3],
                ev(&format!("t{i:03}"), (i % 5) as i64, kinds[(i / 3) % 3], at),
            );
            e.page.domain = domains[(i / 9) % 3].into();
            e
        })
        .collect();
    let (early, late): (Vec<Event>, Vec<Event>) = events
        .iter()
        .cloned()
        .partition(|e| e.id.as_str().ends_with(['0', '2', '4', '6', '8']));
    append(store, &ws, &early).await;
    append(store, &ws, &late).await;
    append(store, &ws, &events[100..140]).await;

    totals_agree(store, &ws, &events, "after the appends").await;

    let cutoff = micros(base(), 5 * HOUR);
    let scope = PurgeScope::Before { cutoff };
    ok("purge", store.purge(&ws, scope, PurgeMode::Delete).await);
    events.retain(|e| e.occurred_at >= cutoff);
    totals_agree(store, &ws, &events, "after a purge inside a day").await;

    let scope = PurgeScope::Customer {
        customer: CustomerId(3),
    };
    ok("purge", store.purge(&ws, scope, PurgeMode::Delete).await);
    events.retain(|e| e.customer != CustomerId(3));
    totals_agree(store, &ws, &events, "after an erasure").await;
}

/// Pages of filters no per-day count answers (an IP, a path, a referrer, a customer), cut
/// inside runs of events sharing one microsecond: walked newest first in pages of every size,
/// each page holds the next matches in (time, id) order, and its total, and that of a page of
/// none after the same key, counts every match, wherever the page's key and its last event
/// fall in a run and whatever events of other values lie around them.
pub async fn event_page_totals_count_past_a_full_page(store: &dyn EventStore) {
    let ws = fresh_workspace("event_page_totals_count_past_a_full_page");
    let ip = IpAddr::from([192, 0, 2, 7]);
    let events: Vec<Event> = (0..40_i64)
        .map(|i| {
            // Runs of four events in one microsecond, ids out of time order.
            let id = format!("p{:02}", (i * 7) % 40);
            let mut e = ev(
                &id,
                i % 3,
                names::PAGE_VIEWED,
                micros(base(), (i / 4) * HOUR),
            );
            let ours = i % 5 != 0;
            e.ip = Some(if ours {
                ip
            } else {
                IpAddr::from([192, 0, 2, 8])
            });
            e.page.path = if ours { "/p".into() } else { "/q".into() };
            e.page.referrer = if ours {
                "https://r.example/".into()
            } else {
                String::new()
            };
            e
        })
        .collect();
    append(store, &ws, &events).await;
    let mut by_ip = EventFilter::new(day());
    by_ip.ip = Some(ip);
    let mut by_path = EventFilter::new(day());
    by_path.path = Some("/p".into());
    let mut by_referrer = EventFilter::new(day());
    by_referrer.referrer = Some("https://r.example/".into());
    let by_customer = EventFilter::new(day()).with_customers(vec![CustomerId(1)]);
    for filter in [by_ip, by_path, by_referrer, by_customer] {
        let mut want: Vec<&Event> = events.iter().filter(|e| filter.matches(e)).collect();
        want.sort_by_key(|e| std::cmp::Reverse(e.key()));
        let total = want.len() as u64;
        for limit in 1..=want.len() {
            let mut after: Option<EventKey> = None;
            for newest in want.chunks(limit) {
                let query = |limit| EventPageQuery {
                    filter: filter.clone(),
                    after: after.clone(),
                    limit,
                };
                let got = ok("event_page", store.event_page(&ws, &query(limit)).await);
                let ids: Vec<&str> = newest.iter().map(|e| e.id.as_str()).collect();
                assert_eq!(
                    (ids_of(&got.events), got.total),
                    (ids, total),
                    "a page of {limit} after {after:?} with {filter:?}"
                );
                let none = ok("event_page", store.event_page(&ws, &query(0)).await);
                assert_eq!(
                    none.total, total,
                    "a page of none after {after:?} with {filter:?}"
                );
                after = got.events.last().map(Event::key);
            }
            // Past the last match: an empty page that still counts every one.
            let query = EventPageQuery {
                filter: filter.clone(),
                after,
                limit,
            };
            let past = ok("event_page", store.event_page(&ws, &query).await);
            assert_eq!((past.events.len(), past.total), (0, total), "past the end");
        }
    }
}

/// A page resumed after a key past either edge of its window: after one newer than the
/// window's end it starts at the window's newest event (events newer than the window stay out),
/// after one older than its start it is empty; the total counts the window either way.
pub async fn event_page_resumes_after_keys_past_the_window(store: &dyn EventStore) {
    let ws = fresh_workspace("event_page_resumes_after_keys_past_the_window");
    // Two hours of events and one on each side: the window is the two hours.
    let events: Vec<Event> = (-1..=2_i64)
        .map(|h| {
            ev(
                &format!("w{}", h + 1),
                1,
                names::PAGE_VIEWED,
                micros(base(), h * HOUR),
            )
        })
        .collect();
    append(store, &ws, &events).await;
    let window = window(base(), micros(base(), 2 * HOUR));
    // Counted from per-day counts where a store keeps them, and from the events.
    let filters = [
        EventFilter::new(window),
        EventFilter::new(window).with_customers(vec![CustomerId(1)]),
    ];
    let key = |at: Timestamp| EventKey { at, id: "w".into() };
    let cases = [
        (key(micros(base(), 3 * HOUR)), vec!["w2", "w1"]),
        (key(micros(base(), 2 * HOUR)), vec!["w2", "w1"]),
        (key(micros(base(), -2 * HOUR)), vec![]),
        (key(base()), vec![]),
    ];
    for filter in filters {
        for (after, want) in &cases {
            let query = EventPageQuery {
                filter: filter.clone(),
                after: Some(after.clone()),
                limit: 10,
            };
            let got = ok("event_page", store.event_page(&ws, &query).await);
            assert_eq!(
                (ids_of(&got.events), got.total),
                (want.clone(), 2),
                "a page after {after:?} with {filter:?}"
            );
        }
    }
}

/// When the first event of [`event_log_totals_stay_exact_over_whole_days`] occurs.
fn totals_start() -> Timestamp {
    micros(base(), -2 * DAY)
}

/// Every total of [`event_log_totals_stay_exact_over_whole_days`]'s windows and filters is the
/// number of `stored` events the filter matches.
async fn totals_agree(store: &dyn EventStore, ws: &WorkspaceId, stored: &[Event], when: &str) {
    let windows = [
        TimeWindow::ALL,
        window(micros(totals_start(), -HOUR), micros(base(), 3 * DAY)),
        window(
            micros(base(), -DAY + 7 * HOUR),
            micros(base(), DAY + 5 * HOUR),
        ),
        window(micros(base(), -DAY), micros(base(), DAY)),
        window(micros(base(), 2 * HOUR), micros(base(), 9 * HOUR)),
    ];
    for w in windows {
        let mut domain = EventFilter::new(w);
        domain.domain = Some("y.com".into());
        let mut mixed = EventFilter::new(w)
            .with_names([names::PAGE_VIEWED, names::ORDER_SUBMITTED])
            .with_actors(vec![Actor::Customer, Actor::System]);
        mixed.domain = Some("z.com".into());
        let filters = [
            EventFilter::new(w),
            EventFilter::new(w).with_names([names::LINK_OPENED]),
            EventFilter::new(w).with_names(Vec::<String>::new()),
            EventFilter::new(w).with_actors(vec![Actor::Staff]),
            domain,
            mixed,
            EventFilter::new(w).with_customers(vec![CustomerId(2)]),
        ];
        for filter in filters {
            let want = stored.iter().filter(|e| filter.matches(e)).count() as u64;
            // A page of none, so that the total is counted even when nothing matches (a first
            // page shorter than its limit may be its own total).
            let (_, total) = page(store, ws, &filter, 0).await;
            assert_eq!(total, want, "total {when} with {filter:?}");
        }
    }
}

/// An event is found by id in its own workspace only.
pub async fn event_by_id_is_scoped(store: &dyn EventStore) {
    let a = fresh_workspace("event_by_id_is_scoped-a");
    let b = fresh_workspace("event_by_id_is_scoped-b");
    let e = full_event();
    append(store, &a, std::slice::from_ref(&e)).await;
    assert_eq!(
        ok("event", store.event(&a, &e.id).await),
        Some(e.clone()),
        "own workspace"
    );
    assert_eq!(
        ok("event", store.event(&b, &e.id).await),
        None,
        "other workspace"
    );
    assert_eq!(
        ok("event", store.event(&a, &EventId::from("missing")).await),
        None,
        "unknown id"
    );
    assert_eq!(
        ok("event", store.event(&a, &EventId::from("full-\0")).await),
        None,
        "an id no event can have (a NUL)"
    );
}

/// An export of more events than any reasonable chunk yields every matching event once, in
/// (occurred_at, id) order, whatever order they were appended in.
pub async fn export_streams_everything_in_order(store: &dyn EventStore) {
    let ws = fresh_workspace("export_streams_everything_in_order");
    let mut events: Vec<Event> = (0..2_600)
        .map(|i| {
            let at = micros(base(), (i % 3) * HOUR); // three instants, many ties
            let e = ev(
                &format!("x{:05}", (i * 7_919) % 2_600),
                i % 17,
                names::PAGE_VIEWED,
                at,
            );
            if i % 10 == 0 { by(Actor::Staff, e) } else { e }
        })
        .collect();
    events.push(ev("outside", 1, names::PAGE_VIEWED, micros(base(), DAY)));
    for chunk in events.chunks(900).rev() {
        append(store, &ws, chunk).await;
    }
    let filter = EventFilter::new(day()).with_actors(vec![Actor::Customer]);
    let got = export(store, &ws, filter.clone()).await;
    let mut want: Vec<Event> = events
        .iter()
        .filter(|e| filter.matches(e))
        .cloned()
        .collect();
    want.sort_by_key(Event::key);
    assert_eq!(got.len(), 2_340, "customer events of the day");
    assert!(
        got == want,
        "export order or content differs (first difference at {:?})",
        got.iter().zip(&want).position(|(g, w)| g != w)
    );
}

/// Events of a large export: 12,000 in one microsecond (more than a backend's chunk is likely
/// to hold), then a dense hour with many ties, a sparse day, a late burst, one far-off event,
/// every fourth by staff and every fifth of another name.
fn large_export_events() -> Vec<Event> {
    let n = 36_000_i64;
    (0..n)
        .map(|i| {
            let at = match i {
                0..12_000 => base(),
                12_000..26_000 => micros(base(), 1 + (i * 7_919) % (HOUR / 1_000)),
                26_000..33_000 => micros(base(), HOUR + (i * 104_729) % DAY),
                33_000..35_999 => micros(base(), 2 * DAY + i % 7),
                _ => micros(base(), 400 * DAY),
            };
            let name = if i % 5 == 0 {
                names::REGISTERED
            } else {
                names::PAGE_VIEWED
            };
            let e = ev(&format!("L{:06}", (i * 7_919) % n), i % 41, name, at);
            if i % 4 == 0 { by(Actor::Staff, e) } else { e }
        })
        .collect()
}

/// An export of tens of thousands of events, ties and gaps included, yields every matching
/// event once in (occurred_at, id) order, whether the window is bounded or not; dropping such
/// an export part-way leaves the store usable and a later export complete.
pub async fn large_export_is_complete_and_in_order(store: &dyn EventStore) {
    let ws = fresh_workspace("large_export_is_complete_and_in_order");
    let events = large_export_events();
    for chunk in events.chunks(5_000).rev() {
        append(store, &ws, chunk).await;
    }
    let mut sorted = events.clone();
    sorted.sort_by_key(Event::key);

    let mut partial =
        crate::store::export_events(store.export(ws.clone(), EventFilter::new(TimeWindow::ALL)));
    for (i, want) in sorted.iter().take(15_000).enumerate() {
        let got = partial.next().await.map(|r| ok("export item", r));
        assert_eq!(
            got.as_ref(),
            Some(want),
            "item {i} of an export dropped later"
        );
    }
    drop(partial);

    let bounded =
        EventFilter::new(window(base(), micros(base(), 3 * DAY))).with_names([names::PAGE_VIEWED]);
    for filter in [EventFilter::new(TimeWindow::ALL), bounded] {
        let got = export(store, &ws, filter.clone()).await;
        let want: Vec<&Event> = sorted.iter().filter(|e| filter.matches(e)).collect();
        assert_eq!(got.len(), want.len(), "events exported with {filter:?}");
        assert!(
            got.iter().eq(want.iter().copied()),
            "export order or content differs with {filter:?} (first difference at {:?})",
            got.iter().zip(&want).position(|(g, w)| g != *w)
        );
    }
}

/// Dropping an export stream after 10 events leaves the store fully usable.
pub async fn dropped_export_leaves_store_usable(store: &dyn EventStore) {
    let ws = fresh_workspace("dropped_export_leaves_store_usable");
    let events: Vec<Event> = (0..3_000)
        .map(|i| {
            ev(
                &format!("d{i:05}"),
                i % 5,
                names::PAGE_VIEWED,
                micros(base(), i),
            )
        })
        .collect();
    append(store, &ws, &events).await;
    for _ in 0..3 {
        let mut stream = crate::store::export_events(
            store.export(ws.clone(), EventFilter::new(TimeWindow::ALL)),
        );
        for (i, want) in events.iter().take(10).enumerate() {
            let item = stream.next().await;
            let got = item.map(|r| ok("export item", r));
            assert_eq!(got.as_ref(), Some(want), "export item {i}");
        }
        drop(stream);
    }
    let extra = ev("d-after", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    assert_eq!(
        append(store, &ws, &[extra]).await.inserted,
        1,
        "append after dropped exports"
    );
    let (_, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 5).await;
    assert_eq!(total, 3_001, "event_page after dropped exports");
    assert_eq!(
        export_all(store, &ws).await.len(),
        3_001,
        "a full export after dropped ones"
    );
}
