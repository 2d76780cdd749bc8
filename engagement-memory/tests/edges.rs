//! Differential tests at the edges the shared generators never reach: customer ids at the ends
//! of `i64`, ids and names that differ only in case or Unicode normalization, timestamps at
//! the ends of time, reversed and empty windows, extreme page sizes, cursors from anywhere,
//! appends interleaved with purges and upserts over several workspaces, and metadata that
//! must round-trip exactly.

mod same;

use same::same;

use chrono::TimeDelta;
use engagement_core::conformance::{collect_export, proptest_cases};
use engagement_core::{
    ActivityQuery, ActivitySort, ActivitySortKey, Actor, BucketCountsQuery, Customer,
    CustomerFilter, CustomerId, Event, EventFilter, EventId, EventKey, EventPageQuery, EventStore,
    FunnelQuery, Milestone, Milestones, PurgeMode, PurgeScope, ReferenceStore, TimeWindow,
    Timestamp, TopCustomersQuery, WorkspaceId,
};
use engagement_memory::MemoryStore;
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::json;

const CUSTOMERS: [i64; 7] = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];

const INSTANTS: [i64; 9] = [
    i64::MIN,
    i64::MIN + 1,
    -1_000_000_000_000_000,
    -1,
    0,
    1,
    1_000_000_000_000_000,
    i64::MAX - 1,
    i64::MAX,
];

/// Ids that differ in case, normalization, length, or order by bytes versus by UTF-16.
const IDS: [&str; 10] = [
    "a",
    "A",
    "caf\u{e9}",
    "cafe\u{301}",
    "\u{ffff}",
    "\u{10000}",
    "ß",
    "SS",
    "a ",
    "id-with-a-rather-long-tail-0123456789-0123456789-0123456789-0123456789-0123456789-0123",
];

const NAMES: [&str; 4] = ["Link Opened", "link opened", "Caf\u{e9}", "Cafe\u{301}"];

fn at(i: usize) -> Timestamp {
    Timestamp::from_micros(INSTANTS[i])
}

/// A window from two instants of the pool, in either order (a reversed window holds nothing).
fn window(a: usize, b: usize) -> TimeWindow {
    TimeWindow {
        from: at(a),
        to: at(b),
    }
}

fn metadata(kind: u8) -> engagement_core::Metadata {
    let value = match kind {
        0 => return engagement_core::Metadata::new(),
        1 => json!({}),
        2 => json!(u64::MAX),
        3 => json!(i64::MIN),
        4 => json!(1.7976931348623157e308),
        5 => json!(-0.0),
        6 => json!([[[[[[{"k": [1, 2.5, "ü", null, true]}]]]]]]),
        _ => json!("\u{0}\u{1f44d}\"\\"),
    };
    engagement_core::Metadata::from_iter([("k".to_owned(), value)])
}

prop_compose! {
    fn event()(id in 0..IDS.len(), customer in 0..CUSTOMERS.len(), name in 0..NAMES.len(),
               t in 0..INSTANTS.len(), actor in 0..3usize, meta in 0..8u8, received in 0..INSTANTS.len())
               -> Event {
        let mut e = Event::new(IDS[id], CustomerId(CUSTOMERS[customer]), NAMES[name], at(t));
        e.actor = Actor::ALL[actor];
        e.received_at = at(received);
        e.metadata = metadata(meta);
        e
    }
}

/// One step of a scenario, on workspace `ws` (0 or 1).
#[derive(Debug, Clone)]
enum Op {
    Append(usize, Vec<Event>),
    Upsert(usize, Vec<(usize, bool)>),
    PurgeBefore(usize, usize),
    PurgeCustomer(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, prop::collection::vec(event(), 0..10)).prop_map(|(w, b)| Op::Append(w, b)),
        1 => (0..2usize, prop::collection::vec((0..CUSTOMERS.len(), any::<bool>()), 0..4))
            .prop_map(|(w, c)| Op::Upsert(w, c)),
        1 => (0..2usize, 0..INSTANTS.len()).prop_map(|(w, t)| Op::PurgeBefore(w, t)),
        1 => (0..2usize, 0..CUSTOMERS.len()).prop_map(|(w, c)| Op::PurgeCustomer(w, c)),
    ]
}

fn workspace(i: usize) -> WorkspaceId {
    WorkspaceId::new(["w", "W"][i]).unwrap()
}

fn customer(i: usize, admin: bool) -> Customer {
    let mut c = Customer::new(CustomerId(CUSTOMERS[i]), "Ann", ["Lee", "lee"][i % 2]);
    c.is_admin_placeholder = admin && i.is_multiple_of(3);
    c
}

/// Asserts both stores answer every query alike in workspace `ws`.
async fn compare(memory: &MemoryStore, reference: &ReferenceStore, ws: &WorkspaceId) {
    let ids: Vec<CustomerId> = CUSTOMERS.iter().copied().map(CustomerId).collect();
    let both = [memory as &dyn EventStore, reference as &dyn EventStore];
    same!(both, store => store.customers(ws, &ids));
    let windows = [
        (0, 8),
        (0, 0),
        (8, 0),
        (3, 4),
        (4, 5),
        (7, 8),
        (0, 1),
        (5, 3),
    ];
    for &(a, b) in &windows {
        let w = window(a, b);
        for limit in [0, 1, usize::MAX] {
            same!(both, store => store.top_customers(ws, &TopCustomersQuery { window: w, limit }));
        }
        for &c in &ids {
            same!(both, store => store.customer_rank(ws, w, c));
        }
        for (key, descending) in [
            (ActivitySortKey::Milestone(Milestone::Views), true),
            (ActivitySortKey::LastActivity, false),
            (ActivitySortKey::LastClick, true),
            (ActivitySortKey::CustomerId, true),
            (ActivitySortKey::Name, false),
        ] {
            let query = ActivityQuery {
                window: w,
                customers: CustomerFilter::default(),
                milestones: Milestones::default(),
                sort: ActivitySort { key, descending },
                offset: 1,
                limit: u64::MAX,
                row_buckets: None,
                latest: None,
            };
            same!(both, store => store.activity_page(ws, &query));
        }
        let steps = vec![NAMES[0].to_owned(), NAMES[2].to_owned()];
        for conversion_window in [
            TimeDelta::microseconds(1),
            TimeDelta::days(365),
            TimeDelta::MAX,
        ] {
            let funnel = FunnelQuery {
                window: w,
                steps: steps.clone(),
                conversion_window,
                open_since: Some(at(b)),
            };
            same!(both, store => store.funnel_input(ws, &funnel));
        }
        for steps in [vec![], vec![0], vec![0, 0, 2], vec![3, 2, 1, 0]] {
            let funnel = FunnelQuery {
                window: w,
                steps: steps.into_iter().map(|i| NAMES[i].to_owned()).collect(),
                conversion_window: TimeDelta::microseconds(2),
                open_since: None,
            };
            same!(both, store => store.funnel_input(ws, &funnel));
        }
        let mut filter = EventFilter::new(w);
        for page_size in [0, 1, 3, usize::MAX] {
            let mut after = None;
            for _ in 0..40 {
                let query = EventPageQuery {
                    filter: filter.clone(),
                    after: after.clone(),
                    limit: page_size,
                };
                let page = same!(both, store => store.event_page(ws, &query));
                match page.events.last() {
                    Some(last) if page.events.len() == page_size => after = Some(last.key()),
                    _ => break,
                }
            }
        }
        // Cursors at keys that may or may not be stored.
        for (t, id) in [(0, 0), (4, 1), (8, 9), (3, 4), (5, 5)] {
            let query = EventPageQuery {
                filter: filter.clone(),
                after: Some(EventKey {
                    at: at(t),
                    id: EventId::new(IDS[id]),
                }),
                limit: 4,
            };
            same!(both, store => store.event_page(ws, &query));
        }
        let m = collect_export(memory, ws, &filter).await.unwrap();
        let r = collect_export(reference, ws, &filter).await.unwrap();
        assert_eq!(m, r, "export");
        filter.names = Some(vec![NAMES[1].into(), NAMES[3].into()]);
        filter.customers = Some(vec![CustomerId(i64::MIN), CustomerId(i64::MAX)]);
        let m = collect_export(memory, ws, &filter).await.unwrap();
        let r = collect_export(reference, ws, &filter).await.unwrap();
        assert_eq!(m, r, "filtered export");
    }
    for edges in [
        vec![0, 4, 8],
        vec![0, 8],
        vec![8, 0, 4],
        vec![0, 0, 4, 4, 8],
        vec![1, 3, 5, 7],
        vec![4],
        vec![],
    ] {
        let buckets = BucketCountsQuery {
            customers: ids.clone(),
            names: vec![NAMES[0].into(), NAMES[3].into()],
            edges: edges.into_iter().map(at).collect(),
        };
        same!(both, store => store.bucket_counts(ws, &buckets));
    }
    for id in IDS {
        same!(both, store => store.event(ws, &EventId::new(id)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(300)))]

    #[test]
    fn memory_agrees_with_the_reference_at_the_edges(ops in prop::collection::vec(op(), 1..12)) {
        block_on(async {
            let memory = MemoryStore::new();
            let reference = ReferenceStore::new();
            for op in &ops {
                match op {
                    Op::Append(w, batch) => {
                        let m = memory.append(&workspace(*w), batch).await.unwrap();
                        let r = reference.append(&workspace(*w), batch).await.unwrap();
                        assert_eq!(m, r, "append");
                    }
                    Op::Upsert(w, records) => {
                        let records: Vec<Customer> =
                            records.iter().map(|&(c, admin)| customer(c, admin)).collect();
                        memory.upsert_customers(&workspace(*w), &records).await.unwrap();
                        reference.upsert_customers(&workspace(*w), &records).await.unwrap();
                    }
                    Op::PurgeBefore(w, t) | Op::PurgeCustomer(w, t) => {
                        let scope = match op {
                            Op::PurgeBefore(..) => PurgeScope::Before { cutoff: at(*t) },
                            _ => PurgeScope::Customer { customer: CustomerId(CUSTOMERS[*t]) },
                        };
                        for mode in [PurgeMode::DryRun, PurgeMode::Delete] {
                            let m = memory.purge(&workspace(*w), scope, mode).await.unwrap();
                            let r = reference.purge(&workspace(*w), scope, mode).await.unwrap();
                            assert_eq!(m, r, "purge");
                        }
                    }
                }
            }
            for w in 0..2 {
                compare(&memory, &reference, &workspace(w)).await;
            }
        });
    }
}

/// A deterministic pseudo-random sequence (xorshift), so that large workspaces need no
/// generator.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `n` events with ids drawn from `0..ids` (so repeats, in and across batches), times
/// scattered over a wide span and customers over the whole `i64` range.
fn scattered(seed: u64, n: usize, ids: u64) -> Vec<Event> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let id = xorshift(&mut s) % ids;
            // The payload follows the id, so that most repeats are duplicates.
            let mut r = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let customer = CUSTOMERS[(xorshift(&mut r) % 7) as usize] / (1 + (id % 5) as i64);
            let t = (xorshift(&mut r) % 100_000) as i64 - 50_000;
            let mut e = Event::new(
                format!("E{id}"),
                CustomerId(customer),
                NAMES[(id % 4) as usize],
                Timestamp::from_micros(t),
            );
            e.actor = Actor::ALL[(id % 3) as usize];
            if xorshift(&mut s).is_multiple_of(50) {
                e.metadata = metadata(2); // a conflict when the id was stored without it
            }
            e
        })
        .collect()
}

#[test]
fn large_out_of_order_batches_and_purges_agree_with_the_reference() {
    block_on(async {
        let memory = MemoryStore::new();
        let reference = ReferenceStore::new();
        let ws = workspace(0);
        for (round, seed) in [11u64, 23, 37, 41].into_iter().enumerate() {
            let batch = scattered(seed, 6_000, 15_000);
            let m = memory.append(&ws, &batch).await.unwrap();
            let r = reference.append(&ws, &batch).await.unwrap();
            assert_eq!(m, r, "append {round}");
            let scope = match round {
                1 => PurgeScope::Before {
                    cutoff: Timestamp::from_micros(-30_000),
                },
                2 => PurgeScope::Customer {
                    customer: CustomerId(i64::MIN),
                },
                _ => continue,
            };
            let m = memory.purge(&ws, scope, PurgeMode::Delete).await.unwrap();
            let r = reference
                .purge(&ws, scope, PurgeMode::Delete)
                .await
                .unwrap();
            assert_eq!(m, r, "purge {round}");
        }
        compare(&memory, &reference, &ws).await;
        let all = EventFilter::new(TimeWindow::ALL);
        let m = collect_export(&memory, &ws, &all).await.unwrap();
        let r = collect_export(&reference, &ws, &all).await.unwrap();
        assert_eq!(m, r, "export of everything");
        for limit in [1, 1_000, usize::MAX] {
            let query = EventPageQuery {
                filter: all.clone(),
                after: m.get(m.len() / 2).map(Event::key),
                limit,
            };
            assert_eq!(
                memory.event_page(&ws, &query).await.unwrap(),
                reference.event_page(&ws, &query).await.unwrap()
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_batch_appended_by_many_tasks_at_once_is_stored_once() {
    let memory = MemoryStore::new();
    let batch = std::sync::Arc::new(scattered(5, 3_000, 2_000));
    let distinct = batch
        .iter()
        .map(|e| e.id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (memory, batch) = (memory.clone(), batch.clone());
            tokio::spawn(async move { memory.append(&workspace(1), &batch).await.unwrap() })
        })
        .collect();
    let (mut inserted, mut repeats) = (0, 0);
    for task in tasks {
        let outcome = task.await.unwrap();
        inserted += outcome.inserted;
        repeats += outcome.duplicates + outcome.conflicts.len() as u64;
    }
    assert_eq!(inserted, distinct);
    assert_eq!(inserted + repeats, 8 * batch.len() as u64);
    assert_eq!(memory.event_count() as u64, distinct);
    let reference = ReferenceStore::new();
    reference.append(&workspace(1), &batch).await.unwrap();
    compare(&memory, &reference, &workspace(1)).await;
    compare(&memory, &reference, &workspace(0)).await;
}

proptest! {
    /// Metadata of any numbers and text comes back exactly, and a retry of its event is a
    /// duplicate.
    #[test]
    fn metadata_round_trips_exactly(
        floats in prop::collection::vec(any::<f64>().prop_filter("finite", |f| f.is_finite()), 0..4),
        ints in prop::collection::vec(any::<i64>(), 0..3),
        big in any::<u64>(),
        text in ".{0,12}",
    ) {
        block_on(async {
            let memory = MemoryStore::new();
            let ws = workspace(0);
            let mut e = Event::new("m", CustomerId(1), "X", Timestamp::from_micros(1));
            e.metadata = engagement_core::Metadata::from_iter([
                ("floats".to_owned(), json!(floats)),
                ("ints".to_owned(), json!(ints)),
                ("big".to_owned(), json!(big)),
                (text.clone(), json!({ "t": text, "empty": {}, "list": [] })),
            ]);
            assert_eq!(memory.append(&ws, std::slice::from_ref(&e)).await.unwrap().inserted, 1);
            assert_eq!(memory.event(&ws, &e.id).await.unwrap(), Some(e.clone()));
            assert_eq!(memory.append(&ws, std::slice::from_ref(&e)).await.unwrap().duplicates, 1);
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_appends_of_one_new_id_at_once_insert_it_once() {
    let memory = MemoryStore::new();
    for i in 0..200 {
        let event = Event::new(format!("race{i}"), CustomerId(i), "X", at(4));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (memory, event) = (memory.clone(), event.clone());
                tokio::spawn(async move { memory.append(&workspace(0), &[event]).await.unwrap() })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let inserted: u64 = outcomes.iter().map(|o| o.inserted).sum();
        let duplicates: u64 = outcomes.iter().map(|o| o.duplicates).sum();
        assert_eq!((inserted, duplicates), (1, 1), "{outcomes:?}");
    }
    assert_eq!(memory.event_count(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_purges_of_many_workspaces_touch_only_their_own() {
    let memory = MemoryStore::new();
    let names: Vec<WorkspaceId> = (0..12)
        .map(|i| WorkspaceId::new(format!("ws{i}")).unwrap())
        .collect();
    let tasks: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, ws)| {
            let (memory, ws) = (memory.clone(), ws.clone());
            tokio::spawn(async move {
                let reference = ReferenceStore::new();
                for round in 0..6u64 {
                    let batch = scattered(i as u64 * 100 + round + 1, 400, 1_000);
                    assert_eq!(
                        memory.append(&ws, &batch).await.unwrap(),
                        reference.append(&ws, &batch).await.unwrap()
                    );
                    let scope = if round % 2 == 0 {
                        PurgeScope::Customer {
                            customer: CustomerId(CUSTOMERS[(i + round as usize) % 7]),
                        }
                    } else {
                        PurgeScope::Before {
                            cutoff: Timestamp::from_micros(-40_000 + round as i64 * 5_000),
                        }
                    };
                    assert_eq!(
                        memory.purge(&ws, scope, PurgeMode::Delete).await.unwrap(),
                        reference
                            .purge(&ws, scope, PurgeMode::Delete)
                            .await
                            .unwrap()
                    );
                }
                reference
            })
        })
        .collect();
    for (task, ws) in tasks.into_iter().zip(&names) {
        let reference = task.await.unwrap();
        compare(&memory, &reference, ws).await;
    }
}
