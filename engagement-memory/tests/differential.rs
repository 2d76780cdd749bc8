//! Differential tests: random workspaces answered by `MemoryStore` and by the reference
//! evaluator must agree exactly on every primitive, including after purges.

mod same;

use same::same;

use chrono::TimeDelta;
use engagement_core::conformance::{collect_export, proptest_cases};
use engagement_core::{
    ActivityQuery, ActivitySort, ActivitySortKey, Actor, BucketCountsQuery, Customer,
    CustomerFilter, CustomerId, CustomerStatus, Device, Event, EventFilter, EventId,
    EventPageQuery, EventStore, FunnelQuery, Milestone, Milestones, PurgeMode, PurgeScope,
    ReferenceStore, TimeWindow, Timestamp, TopCustomersQuery, WorkspaceId,
};
use engagement_memory::MemoryStore;
use futures::executor::block_on;
use proptest::prelude::*;

const NAMES: [&str; 4] = [
    "Page Viewed",
    "Link Opened",
    "Registered",
    "Order Submitted",
];
const PATHS: [&str; 3] = ["/", "/a", "/b"];
const IPS: [Option<&str>; 4] = [None, Some("10.0.0.1"), Some("10.0.0.2"), Some("::1")];

fn at(us: i64) -> Timestamp {
    Timestamp::from_micros(us)
}

fn window(a: i64, b: i64) -> TimeWindow {
    TimeWindow::new(at(a.min(b)), at(a.max(b))).unwrap()
}

prop_compose! {
    fn event()(id in 0..40u8, customer in 0..6i64, name in 0..4usize, t in 0..24i64,
               actor in 0..3usize, path in 0..3usize, referrer in 0..2usize, ip in 0..4usize,
               device in 0..4usize, note in 0..3u8, received in 0..3i64) -> Event {
        let mut e = Event::new(format!("e{id}"), CustomerId(customer), NAMES[name], at(t));
        e.actor = Actor::ALL[actor];
        e.received_at = at(t + received);
        e.page.path = PATHS[path].into();
        e.page.domain = if path == 0 { "a.test".into() } else { "b.test".into() };
        e.page.url = format!("https://{}{}", e.page.domain, e.page.path);
        e.page.referrer = ["", "https://r.test/"][referrer].into();
        e.ip = IPS[ip].map(|s| s.parse().unwrap());
        e.device = Device::ALL.get(device).copied();
        if note > 0 {
            e.metadata.insert("note".into(), serde_json::json!(["x", note]));
        }
        e
    }
}

prop_compose! {
    fn customer()(id in 0..7i64, first in 0..3usize, status in any::<bool>(),
                  admin in prop::bool::weighted(0.2)) -> Customer {
        let mut c = Customer::new(CustomerId(id), ["Ann", "Dan", "Zoë"][first], "Lee");
        c.code = format!("C{id}");
        c.status = if status { CustomerStatus::Active } else { CustomerStatus::Inactive };
        c.is_admin_placeholder = admin;
        c
    }
}

prop_compose! {
    fn filter()(a in 0..26i64, b in 0..26i64, names in prop::option::of(prop::sample::subsequence(NAMES.to_vec(), 0..3)),
                customers in prop::option::of(prop::collection::vec(0..8i64, 0..3)),
                actors in prop::option::of(prop::sample::subsequence(Actor::ALL.to_vec(), 0..3)),
                ip in 0..5usize, path in 0..5usize, referrer in 0..3usize) -> EventFilter {
        let mut f = EventFilter::new(window(a, b));
        f.names = names.map(|n| n.into_iter().map(String::from).collect());
        f.customers = customers.map(|c| c.into_iter().map(CustomerId).collect());
        f.actors = actors;
        f.ip = IPS.get(ip).copied().flatten().map(|s| s.parse().unwrap());
        f.path = PATHS.get(path).map(|p| p.to_string()).or((path == 4).then(|| "/zz".into()));
        f.referrer = ["", "https://r.test/"].get(referrer).map(|r| r.to_string());
        f
    }
}

/// Everything a scenario does, generated up front.
#[derive(Debug, Clone)]
struct Scenario {
    batches: Vec<Vec<Event>>,
    customers: Vec<Customer>,
    windows: Vec<(i64, i64)>,
    filters: Vec<EventFilter>,
    page_size: usize,
    edges: Vec<i64>,
    search: Option<String>,
    sort: (usize, bool),
    offset: u64,
    limit: u64,
    steps: Vec<usize>,
    conversion: i64,
    purge: Option<(bool, i64)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(prop::collection::vec(event(), 0..12), 1..5),
        prop::collection::vec(customer(), 0..8),
        prop::collection::vec((0..26i64, 0..26i64), 1..4),
        prop::collection::vec(filter(), 1..4),
        1..5usize,
        prop::collection::vec(0..26i64, 0..6),
        prop::option::of(prop::sample::select(vec![
            "", "an", "LEE", "c3", "zoë", "%",
        ])),
        (0..9usize, any::<bool>()),
        (0..4u64, 0..5u64),
        (
            prop::sample::subsequence(vec![0usize, 1, 2, 3], 2..4).prop_shuffle(),
            1..30i64,
        ),
        prop::option::of((any::<bool>(), 0..26i64)),
    )
        .prop_map(
            |(
                batches,
                customers,
                windows,
                filters,
                page_size,
                edges,
                search,
                sort,
                (offset, limit),
                (steps, conversion),
                purge,
            )| {
                Scenario {
                    batches,
                    customers,
                    windows,
                    filters,
                    page_size,
                    edges,
                    search: search.map(String::from),
                    sort,
                    offset,
                    limit,
                    steps,
                    conversion,
                    purge,
                }
            },
        )
}

fn sort_key(i: usize) -> ActivitySortKey {
    match i {
        0..=4 => ActivitySortKey::Milestone(Milestone::ALL[i]),
        5 => ActivitySortKey::LastClick,
        6 => ActivitySortKey::LastActivity,
        7 => ActivitySortKey::Name,
        _ => ActivitySortKey::CustomerId,
    }
}

/// Asserts both stores give the same answer to every query of the scenario.
async fn compare(s: &Scenario, memory: &MemoryStore, reference: &ReferenceStore, ws: &WorkspaceId) {
    let ids: Vec<CustomerId> = (-1..8).map(CustomerId).collect();
    let both = [memory as &dyn EventStore, reference as &dyn EventStore];
    same!(both, store => store.customers(ws, &ids));
    for &(a, b) in &s.windows {
        let w = window(a, b);
        for limit in [0, 2, 100] {
            same!(both, store => store.top_customers(ws, &TopCustomersQuery { window: w, limit }));
        }
        for &c in &ids {
            same!(both, store => store.customer_rank(ws, w, c));
        }
        let query = ActivityQuery {
            window: w,
            customers: CustomerFilter {
                search: s.search.clone(),
                status: (a % 3 == 0).then_some(CustomerStatus::Active),
                ids: (b % 4 == 0).then(|| vec![CustomerId(1), CustomerId(3), CustomerId(1)]),
            },
            milestones: Milestones::default(),
            sort: ActivitySort {
                key: sort_key(s.sort.0),
                descending: s.sort.1,
            },
            offset: s.offset,
            limit: s.limit,
            row_buckets: None,
            latest: None,
        };
        same!(both, store => store.activity_page(ws, &query));
        let steps: Vec<String> = s.steps.iter().map(|&i| NAMES[i].to_owned()).collect();
        same!(both, store => store.funnel_input(ws, &FunnelQuery { window: w, steps: steps.clone(), conversion_window: TimeDelta::microseconds(s.conversion), open_since: Some(at(b)) }));
    }
    let buckets = BucketCountsQuery {
        customers: ids.clone(),
        names: NAMES[..2].iter().map(|s| s.to_string()).collect(),
        edges: s.edges.iter().map(|&e| at(e)).collect(),
    };
    same!(both, store => store.bucket_counts(ws, &buckets));
    for filter in &s.filters {
        let mut after = None;
        loop {
            let query = EventPageQuery {
                filter: filter.clone(),
                after: after.clone(),
                limit: s.page_size,
            };
            let page = same!(both, store => store.event_page(ws, &query));
            match page.events.last() {
                Some(last) if page.events.len() == s.page_size => after = Some(last.key()),
                _ => break,
            }
        }
        let m = collect_export(memory, ws, filter).await.unwrap();
        let r = collect_export(reference, ws, filter).await.unwrap();
        assert_eq!(m, r, "export");
    }
    for id in 0..41 {
        same!(both, store => store.event(ws, &EventId::new(format!("e{id}"))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(200)))]

    #[test]
    fn memory_agrees_with_the_reference(s in scenario()) {
        block_on(async {
            let memory = MemoryStore::new();
            let reference = ReferenceStore::new();
            let ws = WorkspaceId::new("w").unwrap();
            let other = WorkspaceId::new("other").unwrap();
            memory.append(&other, &s.batches[0]).await.unwrap();
            memory.upsert_customers(&other, &s.customers).await.unwrap();
            let half = s.customers.len() / 2;
            for (i, batch) in s.batches.iter().enumerate() {
                let m = memory.append(&ws, batch).await.unwrap();
                let r = reference.append(&ws, batch).await.unwrap();
                assert_eq!(m, r);
                if i == 0 {
                    memory.upsert_customers(&ws, &s.customers[..half]).await.unwrap();
                    reference.upsert_customers(&ws, &s.customers[..half]).await.unwrap();
                }
            }
            memory.upsert_customers(&ws, &s.customers[half..]).await.unwrap();
            reference.upsert_customers(&ws, &s.customers[half..]).await.unwrap();
            compare(&s, &memory, &reference, &ws).await;
            if let Some((by_customer, n)) = s.purge {
                let scope = if by_customer {
                    PurgeScope::Customer { customer: CustomerId(n % 7) }
                } else {
                    PurgeScope::Before { cutoff: at(n) }
                };
                for mode in [PurgeMode::DryRun, PurgeMode::Delete] {
                    let m = memory.purge(&ws, scope, mode).await.unwrap();
                    let r = reference.purge(&ws, scope, mode).await.unwrap();
                    assert_eq!(m, r);
                }
                compare(&s, &memory, &reference, &ws).await;
                // Appending after a purge keeps every index in step.
                for batch in &s.batches {
                    assert_eq!(
                        memory.append(&ws, batch).await.unwrap(),
                        reference.append(&ws, batch).await.unwrap()
                    );
                }
                compare(&s, &memory, &reference, &ws).await;
            }
        });
    }
}
