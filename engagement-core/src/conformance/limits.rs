//! Size limits: large batches, concurrent senders, huge id lists.

use std::sync::Arc;

use super::support::{
    DAY, activity, activity_query, append, base, by, cells, customer, day, ev, export, export_all,
    fresh_workspace, full_event, ids_of, micros, ok, page, row_ids, upsert,
};
use crate::ingest::{IngestConfig, Ingestor};
use crate::{
    Actor, AppendOutcome, BucketCountsQuery, CustomerId, Event, EventFilter, EventId, EventStore,
    FixedClock, Geo, Limits, MAX_ID_BYTES, Metadata, Page, TimeWindow, WorkspaceId, names,
};

/// 7,000 events with every column set (beyond a 65,535 bind-parameter limit at ~15 columns)
/// are stored by one append, and re-sent they are all duplicates.
pub async fn large_batch_appends_atomically(store: &dyn EventStore) {
    let ws = fresh_workspace("large_batch_appends_atomically");
    let template = full_event();
    let events: Vec<Event> = (0..7_000)
        .map(|i| {
            let mut e = template.clone();
            e.id = EventId::from(format!("big-{i:05}"));
            e.customer = CustomerId(i % 97);
            e.occurred_at = micros(base(), i);
            e.received_at = micros(base(), i + 1);
            e
        })
        .collect();
    let want = AppendOutcome {
        inserted: 7_000,
        duplicates: 0,
        conflicts: vec![],
    };
    assert_eq!(append(store, &ws, &events).await, want, "one large batch");
    let (_, total) = page(store, &ws, &EventFilter::new(TimeWindow::ALL), 1).await;
    assert_eq!(total, 7_000);
    let want = AppendOutcome {
        inserted: 0,
        duplicates: 7_000,
        conflicts: vec![],
    };
    assert_eq!(
        append(store, &ws, &events).await,
        want,
        "the large batch again"
    );
    let mut mixed: Vec<Event> = events[3_500..].to_vec();
    mixed.extend((7_000..10_500).map(|i| {
        let mut e = events[0].clone();
        e.id = EventId::from(format!("big-{i:05}"));
        e
    }));
    mixed[0].name = "Changed".into();
    let want = AppendOutcome {
        inserted: 3_500,
        duplicates: 3_499,
        conflicts: vec![EventId::from("big-03500")],
    };
    assert_eq!(
        append(store, &ws, &mixed).await,
        want,
        "half new, one conflict"
    );
    assert_eq!(export_all(store, &ws).await.len(), 10_500);
    let kept = ok("event", store.event(&ws, &EventId::from("big-03500")).await);
    assert_eq!(
        kept.map(|e| e.name),
        Some(template.name),
        "the first write of big-03500"
    );
}

/// One id sent twice through an [`Ingestor`] at its default settings with different
/// payloads, the second in a small batch that closes while the first's large batch is still
/// being appended: the first payload sent is kept and the second counted a conflict, on every
/// store (a database's appends race to the id; the later, smaller batch won it on PostgreSQL
/// and MariaDB).
///
/// The case owns the store, as [`ingestor_concurrent_senders_count_exactly`] does.
pub async fn ingestor_keeps_the_first_payload_sent_under_an_id<S: EventStore>(store: S) {
    let ws = fresh_workspace("ingestor_keeps_the_first_payload_sent_under_an_id");
    let store: Arc<dyn EventStore> = Arc::new(store);
    let clock = Arc::new(FixedClock::new(micros(base(), DAY)));
    let config = IngestConfig::default();
    let filler = config.max_batch - 1;
    let ingestor = ok(
        "starting an ingestor",
        Ingestor::start(store.clone(), clock, config),
    );
    let sent = |path: &str| {
        let mut e = ev("twice", 1, names::PAGE_VIEWED, micros(base(), 0));
        e.page.path = path.into();
        e
    };
    let mut large: Vec<Event> = (0..filler)
        .map(|i| {
            ev(
                &format!("filler-{i}"),
                2,
                names::PAGE_VIEWED,
                micros(base(), 1),
            )
        })
        .collect();
    large.push(sent("/first"));
    ok("send_many", ingestor.send_many(&ws, large).await);
    ok("send", ingestor.send(&ws, sent("/second")).await);
    ok("flush", ingestor.flush().await);
    let stats = ingestor.shutdown().await;
    assert_eq!(
        (stats.inserted, stats.conflicts),
        (filler as u64 + 1, 1),
        "inserted, conflicts"
    );
    let kept = ok("event", store.event(&ws, &EventId::from("twice")).await);
    assert_eq!(
        kept.map(|e| e.page.path),
        Some("/first".to_owned()),
        "the payload kept"
    );
}

/// 16 tasks send 10,000 events each through an [`Ingestor`] at its default settings (several
/// appends in flight at once); four of them send their first 1,000 again as one batch. Every
/// event is stored exactly once and the ingestor's counts say so.
///
/// The case owns the store (the ingestor needs it behind an `Arc`), so the macro hands it over
/// by value.
pub async fn ingestor_concurrent_senders_count_exactly<S: EventStore>(store: S) {
    const TASKS: i64 = 16;
    const EACH: i64 = 10_000;
    const RESENT: i64 = 1_000;
    let ws = fresh_workspace("ingestor_concurrent_senders_count_exactly");
    let store: Arc<dyn EventStore> = Arc::new(store);
    let clock = Arc::new(FixedClock::new(micros(base(), DAY)));
    let ingestor = Arc::new(ok(
        "starting an ingestor",
        Ingestor::start(store.clone(), clock, IngestConfig::default()),
    ));
    let id = |task: i64, i: i64| format!("sender-{task}-{i}");
    let senders: Vec<_> = (0..TASKS)
        .map(|task| {
            let ingestor = ingestor.clone();
            let ws = ws.clone();
            tokio::spawn(async move {
                let event = |i| ev(&id(task, i), task, names::PAGE_VIEWED, micros(base(), i));
                for i in 0..EACH {
                    ok("send", ingestor.send(&ws, event(i)).await);
                }
                if task < 4 {
                    let again = (0..RESENT).map(event).collect();
                    ok("send_many", ingestor.send_many(&ws, again).await);
                }
            })
        })
        .collect();
    for sender in senders {
        sender
            .await
            .unwrap_or_else(|e| panic!("a sender failed: {e}"));
    }
    let ingestor = Arc::into_inner(ingestor)
        .unwrap_or_else(|| panic!("every sender has ended, the ingestor is no longer shared"));
    let stats = ingestor.shutdown().await;
    let sent = TASKS * EACH;
    assert_eq!(
        (
            stats.accepted,
            stats.inserted,
            stats.duplicates,
            stats.conflicts,
            stats.failed
        ),
        (
            sent as u64 + 4 * RESENT as u64,
            sent as u64,
            4 * RESENT as u64,
            0,
            0
        ),
        "accepted, inserted, duplicates, conflicts, failed"
    );
    let (_, total) = page(&*store, &ws, &EventFilter::new(TimeWindow::ALL), 1).await;
    assert_eq!(total, sent as u64, "events stored");
    let mut one = EventFilter::new(TimeWindow::ALL);
    one.customers = Some(vec![CustomerId(7)]);
    let (_, of_one) = page(&*store, &ws, &one, 1).await;
    assert_eq!(of_one, EACH as u64, "events of one sender");
}

/// Filters and lookups with 70,000 customer ids answer correctly (no bind-limit failure).
pub async fn huge_id_lists_work(store: &dyn EventStore) {
    let ws = fresh_workspace("huge_id_lists_work");
    let events = vec![
        ev("h1", 5, names::LINK_OPENED, micros(base(), 1)),
        ev("h2", 69_999, names::LINK_OPENED, micros(base(), 2)),
        ev("h3", 80_000, names::LINK_OPENED, micros(base(), 3)),
    ];
    append(store, &ws, &events).await;
    upsert(
        store,
        &ws,
        &[
            customer(5, "A", "A"),
            customer(69_999, "B", "B"),
            customer(80_000, "C", "C"),
        ],
    )
    .await;
    let ids: Vec<CustomerId> = (1..=70_000).map(CustomerId).collect();
    let filter = EventFilter::new(day()).with_customers(ids.clone());
    let (got, total) = page(store, &ws, &filter, 10).await;
    assert_eq!((ids_of(&got), total), (vec!["h2", "h1"], 2), "event_page");
    assert_eq!(
        ids_of(&export(store, &ws, filter).await),
        vec!["h1", "h2"],
        "export"
    );
    let query = BucketCountsQuery {
        customers: ids.clone(),
        names: vec![names::LINK_OPENED.into()],
        edges: vec![day().from, day().to],
    };
    let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
    assert_eq!(
        cells(&got),
        vec![(5, 0, 1), (69_999, 0, 1)],
        "bucket_counts"
    );
    let mut q = activity_query(day());
    q.customers.ids = Some(ids.clone());
    assert_eq!(
        row_ids(&activity(store, &ws, &q).await),
        vec![5, 69_999],
        "activity ids filter"
    );
    let found = ok("customers", store.customers(&ws, &ids).await);
    assert_eq!(
        found.iter().map(|c| c.id.0).collect::<Vec<_>>(),
        vec![5, 69_999],
        "customers"
    );
}

/// An event name holding what a JSON text escapes (quotes, a backslash) and a 4-byte character.
const QUOTED: &str = "Said \"hi\" \\ 🦀";

/// Lists of 40,000 event names (and actor lists as long) in the log's filters, the bucket
/// counts and the activity milestones answer as short ones do, past every database's bind
/// limit; a name escaped in the list's one argument is found as itself.
pub async fn huge_name_lists_work(store: &dyn EventStore) {
    let ws = fresh_workspace("huge_name_lists_work");
    let events = vec![
        ev("n1", 5, names::LINK_OPENED, micros(base(), 1)),
        ev("n2", 6, names::PAGE_VIEWED, micros(base(), 2)),
        ev("n3", 7, names::ORDER_SUBMITTED, micros(base(), 3)),
        by(
            Actor::Staff,
            ev("n4", 5, names::LINK_OPENED, micros(base(), 4)),
        ),
        ev("n5", 6, QUOTED, micros(base(), 5)),
    ];
    append(store, &ws, &events).await;
    upsert(store, &ws, &[customer(5, "A", "A"), customer(6, "B", "B")]).await;
    let many = |kept: &[&str]| -> Vec<String> {
        let mut list: Vec<String> = (0..40_000).map(|i| format!("Not Sent {i}")).collect();
        list.extend(kept.iter().map(|&n| n.to_owned()));
        list
    };
    let filter = EventFilter::new(day())
        .with_names(many(&[names::LINK_OPENED, names::PAGE_VIEWED, QUOTED]))
        .with_actors(vec![Actor::Customer; 40_000]);
    let (got, total) = page(store, &ws, &filter, 10).await;
    assert_eq!(
        (ids_of(&got), total),
        (vec!["n5", "n2", "n1"], 3),
        "event_page"
    );
    let whole_days = EventFilter {
        window: TimeWindow::ALL,
        ..filter.clone()
    };
    let (_, total) = page(store, &ws, &whole_days, 10).await;
    assert_eq!(total, 3, "event_page total over whole days");
    assert_eq!(
        ids_of(&export(store, &ws, filter).await),
        vec!["n1", "n2", "n5"],
        "export"
    );
    let query = BucketCountsQuery {
        customers: vec![CustomerId(5), CustomerId(6), CustomerId(7)],
        names: many(&[names::LINK_OPENED, names::ORDER_SUBMITTED]),
        edges: vec![day().from, day().to],
    };
    let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
    assert_eq!(cells(&got), vec![(5, 0, 1), (7, 0, 1)], "bucket_counts");
    let mut q = activity_query(day());
    q.milestones.views = many(&[names::LINK_OPENED]);
    q.milestones.orders = many(&[names::ORDER_SUBMITTED]);
    let rows = activity(store, &ws, &q).await.rows;
    let counters: Vec<(i64, u64, u64)> = rows
        .iter()
        .map(|r| (r.customer.id.0, r.counters.views, r.counters.orders))
        .collect();
    assert_eq!(counters, vec![(5, 1, 0), (6, 0, 0)], "activity milestones");
}

/// 36,000 one-minute buckets (three bound values each would pass every database's bind
/// limit in one statement) and 2,500 daily ones count exactly as a few do, events on the runs'
/// edges and outside the span included.
pub async fn many_buckets_count_exactly(store: &dyn EventStore) {
    const MINUTE: i64 = 60_000_000;
    let ws = fresh_workspace("many_buckets_count_exactly");
    let minute = |m: i64| micros(base(), m * MINUTE);
    let day = |d: i64| micros(base(), d * DAY);
    let events = vec![
        ev("m1", 5, names::LINK_OPENED, minute(0)),
        ev("m2", 5, names::LINK_OPENED, micros(minute(1_000), -1)),
        ev("m3", 5, names::LINK_OPENED, minute(1_000)),
        ev("m4", 5, names::LINK_OPENED, minute(35_999)),
        ev("m5", 5, names::LINK_OPENED, minute(36_000)),
        ev("m6", 6, names::LINK_OPENED, minute(17_500)),
        ev(
            "m7",
            6,
            names::LINK_OPENED,
            micros(minute(17_500), 59_999_999),
        ),
        ev("m8", 6, names::PAGE_VIEWED, minute(17_500)),
        ev("d1", 5, names::LINK_OPENED, day(-2_000)),
        ev("d2", 6, names::LINK_OPENED, micros(day(-2_000), -1)),
        ev("d3", 6, names::LINK_OPENED, micros(day(-1), DAY - 1)),
        ev("d4", 6, names::LINK_OPENED, day(500)),
    ];
    append(store, &ws, &events).await;
    for edges in [
        (0..=36_000).map(minute).collect::<Vec<_>>(),
        (-2_000..=500).map(day).collect(),
    ] {
        let query = BucketCountsQuery {
            customers: vec![CustomerId(5), CustomerId(6)],
            names: vec![names::LINK_OPENED.into()],
            edges: edges.clone(),
        };
        let got = ok("bucket_counts", store.bucket_counts(&ws, &query).await);
        // Each counted event in the bucket whose edges surround it.
        let mut want: Vec<(i64, usize, u64)> = Vec::new();
        for e in events.iter().filter(|e| e.name == names::LINK_OPENED) {
            let after = edges.partition_point(|&edge| edge <= e.occurred_at);
            if (1..edges.len()).contains(&after) {
                want.push((e.customer.0, after - 1, 1));
            }
        }
        want.sort_unstable();
        want.dedup_by(|b, a| {
            let same = (a.0, a.1) == (b.0, b.1);
            if same {
                a.2 += b.2;
            }
            same
        });
        assert_eq!(cells(&got), want, "{} buckets", edges.len() - 1);
    }
}

/// `bytes` bytes of text, as many of them 4-byte UTF-8 (🦀) as fit.
fn four_byte_text(bytes: usize) -> String {
    "🦀".repeat(bytes / 4) + &"x".repeat(bytes % 4)
}

/// A workspace, an event and a customer with every text at its limit in 4-byte UTF-8 (ids of
/// [`MAX_ID_BYTES`], a name of [`Limits::max_name_bytes`], page, geo and customer fields of
/// [`Limits::max_text_bytes`], metadata of [`Limits::max_metadata_bytes`] nested
/// [`Limits::max_metadata_depth`] deep) pass validation and read back byte-exact: whatever
/// the default limits take, every store holds.
pub async fn texts_at_every_limit_round_trip(store: &dyn EventStore) {
    let limits = Limits::default();
    let unique = fresh_workspace("limits");
    let pad = four_byte_text(MAX_ID_BYTES - unique.as_str().len());
    let ws = ok("workspace", WorkspaceId::new(format!("{unique}{pad}")));
    assert_eq!(ws.as_str().len(), MAX_ID_BYTES);

    let text = four_byte_text(limits.max_text_bytes);
    let mut e = ev(
        &four_byte_text(MAX_ID_BYTES),
        7,
        &four_byte_text(limits.max_name_bytes),
        base(),
    );
    e.page = Page {
        url: text.clone(),
        path: text.clone(),
        domain: text.clone(),
        referrer: text.clone(),
    };
    e.geo = Geo {
        country: text.clone(),
        region: text.clone(),
        city: text.clone(),
        zone: text.clone(),
    };
    e.ip = Some("2001:db8::7".parse().expect("an IPv6 address"));
    e.metadata = metadata_of_size(limits.max_metadata_bytes, limits.max_metadata_depth);
    ok("validation", limits.validate_event(0, &e, base()));
    assert_eq!(
        append(store, &ws, std::slice::from_ref(&e)).await.inserted,
        1
    );
    assert_eq!(export_all(store, &ws).await, [e.clone()], "exported");
    assert_eq!(ok("event", store.event(&ws, &e.id).await), Some(e), "by id");

    let mut c = customer(7, &text, &text);
    c.code = text.clone();
    c.email = text;
    upsert(store, &ws, std::slice::from_ref(&c)).await;
    assert_eq!(ok("customers", store.customers(&ws, &[c.id]).await), [c]);
}

/// Metadata exactly `bytes` long as compact JSON, objects nested `depth` deep (the top level
/// counting as one) around a 4-byte UTF-8 string.
fn metadata_of_size(bytes: usize, depth: usize) -> Metadata {
    let nest = |innermost: String| {
        let mut value = serde_json::Value::String(innermost);
        for _ in 1..depth {
            value = serde_json::json!({ "d": value });
        }
        match value {
            serde_json::Value::Object(map) => map,
            other => Metadata::from_iter([("d".to_owned(), other)]),
        }
    };
    let empty = serde_json::to_vec(&nest(String::new())).map_or(0, |json| json.len());
    nest(four_byte_text(bytes - empty))
}
