//! Appends: idempotence, conflicts, every field's round trip.

use std::net::IpAddr;

use serde_json::json;

use super::support::{
    HOUR, append, base, cells, date, ev, export_all, fresh_workspace, full_event, ids_of, micros,
    ok, page, scores, top, ts, window,
};
use crate::{
    Actor, AppendOutcome, BucketCountsQuery, CustomerId, Device, Event, EventFilter, EventId,
    EventStore, Metadata, ReportZone, TimeWindow, Timestamp, names,
};

/// The same id twice in a batch is stored once; a re-sent batch stores nothing new; a retry
/// with another `received_at` is still a duplicate.
pub async fn append_is_idempotent(store: &dyn EventStore) {
    let ws = fresh_workspace("append_is_idempotent");
    let a = ev("a", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    let mut a_retry = a.clone();
    a_retry.received_at = micros(a.received_at, 5_000_000);
    let b = ev("b", 1, names::LINK_OPENED, micros(base(), 2 * HOUR));
    let c = ev("c", 2, names::PAGE_VIEWED, micros(base(), 3 * HOUR));
    let batch = vec![a.clone(), b.clone(), a_retry, c.clone()];

    let first = append(store, &ws, &batch).await;
    let want = AppendOutcome {
        inserted: 3,
        duplicates: 1,
        conflicts: vec![],
    };
    assert_eq!(first, want, "a batch repeating one id (same payload)");

    let again = append(store, &ws, &batch).await;
    let want = AppendOutcome {
        inserted: 0,
        duplicates: 4,
        conflicts: vec![],
    };
    assert_eq!(again, want, "the same batch sent again");

    assert_eq!(
        export_all(store, &ws).await,
        vec![a, b, c],
        "stored events after the retry"
    );
    let (_, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 10).await;
    assert_eq!(total, 3, "event_page total after the retry");
    assert_eq!(
        scores(&top(store, &ws, TimeWindow::ALL, 10).await),
        vec![(1, 2), (2, 1)],
        "nothing is counted twice"
    );
}

/// An id stored before, or earlier in the batch, with another payload is a conflict: the first
/// write is kept and the id is reported (once per conflicting event).
pub async fn append_conflict_keeps_first_write(store: &dyn EventStore) {
    let ws = fresh_workspace("append_conflict_keeps_first_write");
    let mut a = ev("a", 1, names::PAGE_VIEWED, micros(base(), HOUR));
    a.page.path = "/one".into();
    append(store, &ws, std::slice::from_ref(&a)).await;

    let mut a2 = a.clone();
    a2.page.path = "/two".into();
    let d = ev("d", 2, names::LINK_OPENED, micros(base(), HOUR));
    let d2 = ev("d", 2, names::ORDER_SUBMITTED, micros(base(), HOUR));
    let outcome = append(store, &ws, &[a2, d.clone(), d2]).await;
    let want = AppendOutcome {
        inserted: 1,
        duplicates: 0,
        conflicts: vec![EventId::from("a"), EventId::from("d")],
    };
    assert_eq!(
        outcome, want,
        "conflicts with a stored id and within the batch"
    );
    let stored_a = ok("event", store.event(&ws, &a.id).await);
    assert_eq!(
        stored_a,
        Some(a),
        "the first write of a conflicting id is kept"
    );
    let stored_d = ok("event", store.event(&ws, &d.id).await);
    assert_eq!(
        stored_d,
        Some(d),
        "the first event of an id within a batch is kept"
    );
}

/// Numbers in metadata come back as the very numbers written, so a re-sent event is a
/// duplicate and not a conflict: floats that a parser rounding its last digit would change,
/// the extremes of `f64`, and integers beyond `f64`'s exact range.
pub async fn metadata_numbers_round_trip_exactly(store: &dyn EventStore) {
    let ws = fresh_workspace("metadata_numbers_round_trip_exactly");
    let numbers = [
        json!(985.6906946328695),
        json!(0.30000000000000004),
        json!(f64::MAX),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(-1.2345678901234567e-89),
        json!(u64::MAX),
        json!(i64::MIN),
    ];
    let events: Vec<Event> = numbers
        .iter()
        .enumerate()
        .map(|(i, number)| {
            let mut e = ev(
                &format!("n{i}"),
                1,
                names::CHECKOUT_STARTED,
                micros(base(), HOUR),
            );
            e.metadata.insert("amount".into(), number.clone());
            e
        })
        .collect();
    assert_eq!(append(store, &ws, &events).await.inserted, 8);
    for e in &events {
        let got = ok("event", store.event(&ws, &e.id).await);
        assert_eq!(got.as_ref(), Some(e), "event {} read back by id", e.id);
    }
    let (newest_first, _) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 10).await;
    let mut by_page: Vec<Event> = newest_first.into_iter().rev().collect();
    by_page.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(by_page, events, "events read back by event_page");
    assert_eq!(
        export_all(store, &ws).await,
        events,
        "events read back by export"
    );
    let again = append(store, &ws, &events).await;
    let want = AppendOutcome {
        inserted: 0,
        duplicates: 8,
        conflicts: vec![],
    };
    assert_eq!(again, want, "the same events sent again are duplicates");
}

/// Every field of an event, and of several edge instants, comes back exactly as written.
pub async fn every_field_round_trips(store: &dyn EventStore) {
    let ws = fresh_workspace("every_field_round_trips");
    let full = full_event();
    let mut v6 = ev(
        "v6",
        43,
        names::LINK_OPENED,
        ts("2024-02-29T23:59:59.999999Z"),
    );
    v6.actor = Actor::Customer;
    v6.ip = Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]));
    v6.device = Some(Device::Tablet);
    // Texts that look like a store's escapes and null markers stay texts.
    v6.page.referrer = "\\N".into();
    v6.page.path = "/a\\b\\tc\\".into();
    v6.geo.city = "\\101\\x41 \\\\ NULL".into();
    let mut epoch = ev("epoch", 44, names::PAGE_VIEWED, Timestamp::EPOCH);
    epoch.actor = Actor::System;
    epoch.device = Some(Device::Desktop);
    let mut meta = Metadata::new();
    meta.insert("k".into(), json!("v"));
    epoch.metadata = meta;
    let events = vec![full.clone(), v6.clone(), epoch.clone()];
    assert_eq!(append(store, &ws, &events).await.inserted, 3);

    for e in &events {
        let got = ok("event", store.event(&ws, &e.id).await);
        assert_eq!(got.as_ref(), Some(e), "event {} read back by id", e.id);
    }
    let want = vec![epoch.clone(), v6.clone(), full.clone()];
    assert_eq!(
        export_all(store, &ws).await,
        want,
        "events read back by export"
    );
    let (newest_first, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 10).await;
    let want: Vec<Event> = want.into_iter().rev().collect();
    assert_eq!(
        (newest_first, total),
        (want, 3),
        "events read back by event_page"
    );

    // 23:59:59.999999 stays on its day, and the epoch is a real instant.
    let leap_day = window(ts("2024-02-29T00:00:00Z"), ts("2024-03-01T00:00:00Z"));
    let (events_on_day, _) = page(store, &ws, &EventFilter::new(leap_day), 10).await;
    assert_eq!(
        ids_of(&events_on_day),
        vec!["v6"],
        "the last microsecond of 2024-02-29"
    );
    let next_day = window(ts("2024-03-01T00:00:00Z"), ts("2024-03-02T00:00:00Z"));
    let (on_next, _) = page(store, &ws, &EventFilter::new(next_day), 10).await;
    assert!(
        on_next.is_empty(),
        "nothing may move to 2024-03-01: {on_next:?}"
    );
    let first_micro = window(Timestamp::EPOCH, Timestamp::from_micros(1));
    let (at_epoch, _) = page(store, &ws, &EventFilter::new(first_micro), 10).await;
    assert_eq!(ids_of(&at_epoch), vec!["epoch"], "an event at the epoch");
    let edges = ReportZone::utc().day_edges(date(2024, 2, 29), date(2024, 3, 1));
    let query = BucketCountsQuery {
        customers: vec![CustomerId(43)],
        names: vec![names::LINK_OPENED.into()],
        edges,
    };
    let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
    assert_eq!(cells(&got), vec![(43, 0, 1)], "bucketed on its own UTC day");
}
