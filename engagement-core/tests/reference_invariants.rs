//! Invariants of the reference evaluator that hold whatever the data: counts add up, narrower
//! filters never count more, and pages, export and totals describe the same log.

use std::collections::BTreeMap;

use engagement_core::conformance::{
    arb_customers, arb_events, arb_filter, arb_instant, arb_window,
};
use engagement_core::{
    Actor, BucketCountsQuery, Customer, CustomerId, Event, EventFilter, EventKey, EventPageQuery,
    TimeWindow, Timestamp, reference,
};
use proptest::prelude::*;

type Directory = BTreeMap<CustomerId, Customer>;

fn directory(records: Vec<Customer>) -> Directory {
    records.into_iter().map(|c| (c.id, c)).collect()
}

fn ranking_total(
    events: &[Event],
    dir: &Directory,
    window: TimeWindow,
) -> BTreeMap<CustomerId, u64> {
    reference::ranking(events, dir, window)
        .into_iter()
        .map(|s| (s.customer, s.score))
        .collect()
}

fn total(events: &[Event], filter: &EventFilter) -> u64 {
    let query = EventPageQuery {
        filter: filter.clone(),
        after: None,
        limit: 0,
    };
    reference::event_page(events, &query).total
}

/// Every event `narrow` matches, `wide` matches too: `narrow` is `wide` plus `extra`'s
/// restrictions (lists intersected, windows intersected, unset scalars taken from `extra`).
fn narrow(wide: &EventFilter, extra: &EventFilter) -> EventFilter {
    fn both<T: PartialEq + Clone>(a: &Option<Vec<T>>, b: &Option<Vec<T>>) -> Option<Vec<T>> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.iter().filter(|x| b.contains(x)).cloned().collect()),
            (Some(a), None) => Some(a.clone()),
            (None, b) => b.clone(),
        }
    }
    EventFilter {
        window: wide.window.intersect(&extra.window),
        names: both(&wide.names, &extra.names),
        customers: both(&wide.customers, &extra.customers),
        actors: both(&wide.actors, &extra.actors),
        ip: wide.ip.or(extra.ip),
        path: wide.path.clone().or_else(|| extra.path.clone()),
        domain: wide.domain.clone().or_else(|| extra.domain.clone()),
        referrer: wide.referrer.clone().or_else(|| extra.referrer.clone()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn ranking_sums_to_counted_events(events in arb_events(), records in arb_customers(), window in arb_window()) {
        let dir = directory(records);
        let query = engagement_core::TopCustomersQuery { window, limit: usize::MAX };
        let sum: u64 = reference::top_customers(&events, &dir, &query).iter().map(|s| s.score).sum();
        let counted = events
            .iter()
            .filter(|e| e.actor == Actor::Customer && window.contains(e.occurred_at))
            .filter(|e| !dir.get(&e.customer).is_some_and(|c| c.is_admin_placeholder))
            .count() as u64;
        prop_assert_eq!(sum, counted);
    }

    #[test]
    fn adjacent_windows_add_up(events in arb_events(), records in arb_customers(), a in arb_instant(), b in arb_instant(), c in arb_instant()) {
        let mut edges = [a, b, c];
        edges.sort();
        let [a, b, c] = edges;
        let dir = directory(records);
        let whole = TimeWindow { from: a, to: c };
        let (left, right) = (TimeWindow { from: a, to: b }, TimeWindow { from: b, to: c });
        let mut sum = ranking_total(&events, &dir, left);
        for (customer, score) in ranking_total(&events, &dir, right) {
            *sum.entry(customer).or_default() += score;
        }
        prop_assert_eq!(sum, ranking_total(&events, &dir, whole));
        let log = |w| total(&events, &EventFilter::new(w));
        prop_assert_eq!(log(left) + log(right), log(whole));
    }

    #[test]
    fn narrower_filters_never_count_more(events in arb_events(), wide in arb_filter(), extra in arb_filter()) {
        let narrow = narrow(&wide, &extra);
        prop_assert!(total(&events, &narrow) <= total(&events, &wide));
        let wide_events = reference::export(&events, &wide);
        for e in reference::export(&events, &narrow) {
            prop_assert!(wide_events.contains(&e), "{:?} matches the narrower filter only", e.id);
        }
        // Bucket queries listing what each filter selects (everything, when it sets nothing).
        let every_customer: Vec<CustomerId> = (1..=6).map(CustomerId).collect();
        let every_name: Vec<String> = events.iter().map(|e| e.name.clone()).collect();
        let customers = wide.customers.clone().unwrap_or(every_customer);
        let names = wide.names.clone().unwrap_or(every_name);
        let edges: Vec<Timestamp> = vec![narrow.window.from, narrow.window.to];
        let wide_cells = reference::bucket_counts(&events, &BucketCountsQuery { customers: customers.clone(), names: names.clone(), edges: edges.clone() });
        let narrow_query = BucketCountsQuery {
            customers: narrow.customers.clone().unwrap_or(customers),
            names: narrow.names.clone().unwrap_or(names),
            edges,
        };
        for cell in reference::bucket_counts(&events, &narrow_query) {
            let wider = wide_cells.iter().find(|w| (w.customer, w.bucket) == (cell.customer, cell.bucket));
            prop_assert!(wider.is_some_and(|w| w.count >= cell.count), "{:?} grew under a narrower query", cell);
        }
    }

    #[test]
    fn pages_concatenate_to_the_reversed_export(events in arb_events(), filter in arb_filter(), limit in 1..6_usize) {
        let all = reference::export(&events, &filter);
        let mut after: Option<EventKey> = None;
        let mut pages: Vec<Event> = Vec::new();
        for _ in 0..=events.len() {
            let query = EventPageQuery { filter: filter.clone(), after: after.clone(), limit };
            let page = reference::event_page(&events, &query);
            prop_assert_eq!(page.total, all.len() as u64);
            prop_assert!(page.events.len() <= limit);
            let Some(last) = page.events.last() else { break };
            after = Some(last.key());
            pages.extend(page.events);
        }
        pages.reverse();
        prop_assert_eq!(pages, all);
    }
}
