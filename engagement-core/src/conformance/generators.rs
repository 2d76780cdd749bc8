//! Generators of random events, customers, filters and queries for property tests.

use std::net::IpAddr;

use chrono::TimeDelta;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use serde_json::json;

use super::support::{DAY, HOUR, customer, date, micros, ts};
use crate::{
    ActivityQuery, ActivitySort, ActivitySortKey, Actor, Customer, CustomerFilter, CustomerId,
    CustomerStatus, Device, Event, EventFilter, LatestEvents, Milestone, Milestones, Page,
    ReportZone, RowBuckets, TimeWindow, Timestamp, names, reference,
};

/// The event names random events use: every default milestone name plus one that is none.
pub(super) const POOL_NAMES: [&str; 6] = [
    names::LINK_OPENED,
    names::PAGE_VIEWED,
    names::CONFIRMED,
    names::VERIFIED,
    names::CHECKOUT_STARTED,
    names::ORDER_SUBMITTED,
];
pub(super) const PATHS: [&str; 3] = ["/", "/pricing", "/p/🦀"];
pub(super) const DOMAINS: [&str; 2] = ["shop.example.com", "example.org"];
pub(super) const REFERRERS: [&str; 3] = ["", "https://google.com/", "https://t.co/x"];
pub(super) const FIRST_NAMES: [&str; 9] = [
    "Ann", "ann", "Émile", "émile", "Bob", "50%", "a_b", "O'Neil", "",
];
pub(super) const LAST_NAMES: [&str; 5] = ["Smith", "smith", "Zola", "back\\slash", ""];
pub(super) const CODES: [&str; 3] = ["", "AB-1", "x_y%"];
pub(super) const SEARCHES: [&str; 12] = [
    "a", "ann", "É", "é", "_", "'", "mi", "%", "\\", "smith", "ab-", "zz",
];
/// Event ids come from a small pool so that random batches repeat ids.
pub(super) const ID_POOL: u32 = 32;

pub(super) fn ips() -> Vec<IpAddr> {
    vec![
        IpAddr::from([10, 0, 0, 1]),
        IpAddr::from([192, 0, 2, 7]),
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    ]
}

/// Edges of New York's local days around the 2024 spring-forward change, and the change itself,
/// ascending.
pub(super) fn anchors() -> Vec<Timestamp> {
    let ny = ReportZone::parse("America/New_York").unwrap_or_else(|e| panic!("{e}"));
    let mut points = ny.day_edges(date(2024, 3, 9), date(2024, 3, 11));
    points.push(ts("2024-03-10T07:00:00Z"));
    points.sort();
    points
}

/// An instant clustered near a day edge or the DST change: on it, a microsecond either side, an
/// hour either side, or anywhere within two hours.
pub fn arb_instant() -> impl Strategy<Value = Timestamp> {
    let offset = prop_oneof![
        Just(0_i64),
        Just(-1),
        Just(1),
        Just(-HOUR),
        Just(HOUR),
        -2 * HOUR..2 * HOUR,
    ];
    (select(anchors()), offset).prop_map(|(anchor, delta)| micros(anchor, delta))
}

/// A window between two [`arb_instant`]s (possibly empty), or now and then every instant.
pub fn arb_window() -> impl Strategy<Value = TimeWindow> {
    prop_oneof![
        1 => Just(TimeWindow::ALL),
        6 => (arb_instant(), arb_instant()).prop_map(|(a, b)| TimeWindow { from: a.min(b), to: a.max(b) }),
    ]
}

/// A funnel's conversion window: a microsecond, about the spread of [`arb_instant`]'s
/// offsets, or longer than any window between them.
pub(super) fn arb_conversion_window() -> impl Strategy<Value = TimeDelta> {
    prop_oneof![Just(1_i64), 1..3 * HOUR, Just(3 * DAY),].prop_map(TimeDelta::microseconds)
}

pub(super) fn arb_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![3 => Just(Actor::Customer), 1 => Just(Actor::Staff), 1 => Just(Actor::System)]
}

pub(super) fn arb_event() -> impl Strategy<Value = Event> {
    let context = (
        select(PATHS.to_vec()),
        select(DOMAINS.to_vec()),
        select(REFERRERS.to_vec()),
        proptest::option::of(select(ips())),
        proptest::option::of(select(Device::ALL.to_vec())),
        0..3_u8,
    );
    (
        0..ID_POOL,
        1..=6_i64,
        arb_actor(),
        select(POOL_NAMES.to_vec()),
        arb_instant(),
        context,
    )
        .prop_map(
            |(id, customer, actor, name, at, (path, domain, referrer, ip, device, meta))| {
                let mut e = Event::new(format!("e{id:02}"), CustomerId(customer), name, at);
                e.actor = actor;
                e.received_at = micros(at, 1_000);
                e.page = Page {
                    url: format!("https://{domain}{path}"),
                    path: path.into(),
                    domain: domain.into(),
                    referrer: referrer.into(),
                };
                e.ip = ip;
                e.device = device;
                if meta > 0 {
                    e.metadata.insert("n".into(), json!(meta));
                }
                e
            },
        )
}

/// Random append batches for one workspace: customer ids 1 to 6, ids from a small pool (so the
/// same id recurs with the same payload — a resend with a later `received_at` — or another
/// one), timestamps near day edges and the New York DST change, split into up to four batches
/// out of time order.
pub fn arb_batches() -> impl Strategy<Value = Vec<Vec<Event>>> {
    let item = (
        arb_event(),
        0..4_usize,
        proptest::option::weighted(0.2, any::<Index>()),
    );
    proptest::collection::vec(item, 0..48).prop_map(|items| {
        let mut events: Vec<(Event, usize)> = Vec::new();
        for (event, batch, copy) in items {
            let event = match copy {
                Some(i) if !events.is_empty() => {
                    let mut again = events[i.index(events.len())].0.clone();
                    again.received_at = micros(again.received_at, 1_000_000);
                    again
                }
                _ => event,
            };
            events.push((event, batch));
        }
        (0..4)
            .map(|b| {
                events
                    .iter()
                    .filter(|(_, x)| *x == b)
                    .map(|(e, _)| e.clone())
                    .collect::<Vec<_>>()
            })
            .filter(|batch| !batch.is_empty())
            .collect()
    })
}

/// The events a workspace holds after appending [`arb_batches`]: unique ids, first write kept.
pub fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    arb_batches().prop_map(|batches| {
        let mut stored = Vec::new();
        for batch in batches {
            let (_, new) = reference::append(&stored, &batch);
            stored.extend(new);
        }
        stored
    })
}

pub(super) fn arb_customer_ids() -> impl Strategy<Value = Vec<CustomerId>> {
    subsequence((1..=6).map(CustomerId).collect::<Vec<_>>(), 0..=6)
}

/// A random log filter over the values [`arb_events`] uses; any field may be set.
pub fn arb_filter() -> impl Strategy<Value = EventFilter> {
    use proptest::option::of;
    (
        arb_window(),
        of(subsequence(POOL_NAMES.to_vec(), 0..=3)),
        of(arb_customer_ids()),
        of(subsequence(Actor::ALL.to_vec(), 0..=3)),
        of(select(ips())),
        of(select(PATHS.to_vec())),
        of(select(DOMAINS.to_vec())),
        of(select(REFERRERS.to_vec())),
    )
        .prop_map(
            |(window, names, customers, actors, ip, path, domain, referrer)| EventFilter {
                window,
                names: names.map(|n| n.into_iter().map(String::from).collect()),
                customers,
                actors,
                ip,
                path: path.map(String::from),
                domain: domain.map(String::from),
                referrer: referrer.map(String::from),
            },
        )
}

/// Random customer records for ids 1 to 5 (6 never has one): names with accents, `%`, `_`,
/// quotes and backslashes; either status; a quarter of them admin placeholders. Ids may repeat.
pub fn arb_customers() -> impl Strategy<Value = Vec<Customer>> {
    let record = (
        1..=5_i64,
        select(FIRST_NAMES.to_vec()),
        select(LAST_NAMES.to_vec()),
        select(CODES.to_vec()),
        any::<bool>(),
        proptest::bool::weighted(0.25),
    );
    proptest::collection::vec(record, 0..8).prop_map(|records| {
        records
            .into_iter()
            .map(|(id, first, last, code, active, placeholder)| {
                let mut c = customer(id, first, last);
                c.code = code.into();
                c.email = format!("{}@example.com", first.to_lowercase());
                c.status = if active {
                    CustomerStatus::Active
                } else {
                    CustomerStatus::Inactive
                };
                c.is_admin_placeholder = placeholder;
                c
            })
            .collect()
    })
}

pub(super) fn arb_activity() -> impl Strategy<Value = ActivityQuery> {
    use proptest::option::of;
    let keys: Vec<ActivitySortKey> = Milestone::ALL
        .into_iter()
        .map(ActivitySortKey::Milestone)
        .chain([
            ActivitySortKey::LastClick,
            ActivitySortKey::LastActivity,
            ActivitySortKey::Name,
            ActivitySortKey::CustomerId,
        ])
        .collect();
    let filter = (
        of(select(SEARCHES.to_vec())),
        of(prop_oneof![
            Just(CustomerStatus::Active),
            Just(CustomerStatus::Inactive)
        ]),
        of(arb_customer_ids()),
    );
    let names = || {
        subsequence(POOL_NAMES.to_vec(), 0..=3)
            .prop_map(|n| n.into_iter().map(String::from).collect::<Vec<String>>())
    };
    // What is read with the rows: their counts per bucket, their latest events.
    let with_rows = (
        of((names(), subsequence(anchors(), 0..=5))
            .prop_map(|(names, edges)| RowBuckets { names, edges })),
        of((names(), 0..6_usize).prop_map(|(names, limit)| LatestEvents { names, limit })),
    );
    (
        arb_window(),
        filter,
        any::<bool>(),
        select(keys),
        any::<bool>(),
        (0..7_u64, 0..7_u64),
        with_rows,
    )
        .prop_map(
            |(
                window,
                (search, status, ids),
                custom,
                key,
                descending,
                (offset, limit),
                (row_buckets, latest),
            )| {
                let mut milestones = Milestones::default();
                if custom {
                    milestones.views.push(names::PAGE_VIEWED.into());
                    milestones.orders.push(names::CHECKOUT_STARTED.into());
                }
                ActivityQuery {
                    window,
                    customers: CustomerFilter {
                        search: search.map(String::from),
                        status,
                        ids,
                    },
                    milestones,
                    sort: ActivitySort { key, descending },
                    offset,
                    limit,
                    row_buckets,
                    latest,
                }
            },
        )
}
