//! The activity table (milestone counters per customer record) and bucketed counts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Directory, counted};
use crate::model::event::{Actor, Event};
use crate::model::ids::CustomerId;
use crate::store::query::{
    ActivityCounters, ActivityPage, ActivityQuery, ActivityRow, ActivitySort, ActivitySortKey,
    ActivitySummary, BucketCount, BucketCountsQuery,
};

/// [`EventStore::activity_page`](crate::EventStore::activity_page): the customer records matching
/// the filter, each with its counters over the window (zero when it has no events), sorted by the
/// sort key then customer id ascending; the page is `limit` rows after `offset`, while the total
/// and the summary cover every matching record.
pub fn activity_page(
    events: &[Event],
    customers: &Directory,
    query: &ActivityQuery,
) -> ActivityPage {
    let mut counters: BTreeMap<CustomerId, ActivityCounters> = customers
        .values()
        .filter(|c| query.customers.matches(c))
        .map(|c| (c.id, ActivityCounters::default()))
        .collect();
    for event in events.iter().filter(|e| counted(e, query.window)) {
        if let Some(c) = counters.get_mut(&event.customer) {
            c.record(&query.milestones, &event.name, event.occurred_at);
        }
    }
    let mut rows: Vec<ActivityRow> = counters
        .into_iter()
        .filter_map(|(id, counters)| {
            let customer = customers.get(&id)?.clone();
            Some(ActivityRow { customer, counters })
        })
        .collect();
    rows.sort_by(|a, b| compare_rows(query.sort, a, b));
    let mut summary = ActivitySummary::default();
    for row in &rows {
        summary.add(&row.counters);
    }
    let total_rows = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let rows: Vec<ActivityRow> = rows.into_iter().skip(offset).take(limit).collect();
    ActivityPage {
        row_buckets: query
            .row_buckets_query(&rows)
            .map(|q| bucket_counts(events, &q))
            .unwrap_or_default(),
        latest: query
            .latest_query(&rows)
            .map(|q| super::log::event_page(events, &q))
            .unwrap_or_default(),
        rows,
        total_rows,
        summary,
    }
}

/// The activity order: the sort key in the asked direction, then customer id ascending. Missing
/// timestamps are the smallest value; names compare lower-cased, byte-wise.
fn compare_rows(sort: ActivitySort, a: &ActivityRow, b: &ActivityRow) -> Ordering {
    let (x, y) = (&a.counters, &b.counters);
    let by_key = match sort.key {
        ActivitySortKey::Milestone(m) => x.get(m).cmp(&y.get(m)),
        ActivitySortKey::LastClick => x.last_click.cmp(&y.last_click),
        ActivitySortKey::LastActivity => x.last_activity.cmp(&y.last_activity),
        ActivitySortKey::Name => sort_name(a).cmp(&sort_name(b)),
        ActivitySortKey::CustomerId => a.customer.id.cmp(&b.customer.id),
    };
    let by_key = if sort.descending {
        by_key.reverse()
    } else {
        by_key
    };
    by_key.then(a.customer.id.cmp(&b.customer.id))
}

fn sort_name(row: &ActivityRow) -> String {
    row.customer.full_name().to_lowercase()
}

/// [`EventStore::bucket_counts`](crate::EventStore::bucket_counts): own events of the listed
/// customers with one of the names, counted per customer and half-open bucket
/// `[edges[i], edges[i + 1])`; only non-zero cells, ordered by (customer, bucket).
pub fn bucket_counts(events: &[Event], query: &BucketCountsQuery) -> Vec<BucketCount> {
    let mut cells: BTreeMap<(CustomerId, usize), u64> = BTreeMap::new();
    for event in events {
        if event.actor != Actor::Customer
            || !query.customers.contains(&event.customer)
            || !query.names.contains(&event.name)
        {
            continue;
        }
        let at = event.occurred_at;
        if let Some(bucket) = query.edges.windows(2).position(|e| e[0] <= at && at < e[1]) {
            *cells.entry((event.customer, bucket)).or_default() += 1;
        }
    }
    cells
        .into_iter()
        .map(|((customer, bucket), count)| BucketCount {
            customer,
            bucket,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::customer::{Customer, CustomerStatus};
    use crate::model::names;
    use crate::store::query::{CustomerFilter, Milestone, Milestones};
    use crate::time::{TimeWindow, Timestamp};

    fn at(us: i64) -> Timestamp {
        Timestamp::from_micros(us)
    }

    fn query(sort: ActivitySort) -> ActivityQuery {
        ActivityQuery {
            window: TimeWindow::new(at(0), at(100)).unwrap(),
            customers: CustomerFilter::default(),
            milestones: Milestones::default(),
            sort,
            offset: 0,
            limit: 100,
            row_buckets: None,
            latest: None,
        }
    }

    fn directory(customers: &[(i64, &str)]) -> Directory {
        customers
            .iter()
            .map(|(id, first)| (CustomerId(*id), Customer::new(CustomerId(*id), *first, "")))
            .collect()
    }

    fn ids(page: &ActivityPage) -> Vec<i64> {
        page.rows.iter().map(|r| r.customer.id.0).collect()
    }

    #[test]
    fn rows_without_events_have_zero_counters_and_missing_times_sort_smallest() {
        let dir = directory(&[(1, "a"), (2, "b"), (3, "c")]);
        let events = vec![
            Event::new("x", CustomerId(2), names::LINK_OPENED, at(5)),
            Event::new("y", CustomerId(3), names::PAGE_VIEWED, at(7)),
            Event::new("z", CustomerId(9), names::LINK_OPENED, at(7)),
        ];
        let sort = |key, descending| ActivitySort { key, descending };
        let page = activity_page(
            &events,
            &dir,
            &query(sort(ActivitySortKey::LastClick, false)),
        );
        assert_eq!(ids(&page), vec![1, 3, 2]);
        assert_eq!(page.rows[0].counters, ActivityCounters::default());
        assert_eq!(page.total_rows, 3);
        assert_eq!(page.summary.views, 1);
        assert_eq!(page.summary.customers_with_views, 1);
        let page = activity_page(
            &events,
            &dir,
            &query(sort(ActivitySortKey::LastActivity, true)),
        );
        assert_eq!(ids(&page), vec![3, 2, 1]);
    }

    #[test]
    fn ties_break_by_id_ascending_in_both_directions() {
        let dir = directory(&[(3, "Émile"), (1, "émile"), (2, "Zoe")]);
        for descending in [false, true] {
            let sort = ActivitySort {
                key: ActivitySortKey::Name,
                descending,
            };
            let page = activity_page(&[], &dir, &query(sort));
            let expected = if descending {
                vec![1, 3, 2]
            } else {
                vec![2, 1, 3]
            };
            assert_eq!(ids(&page), expected, "descending = {descending}");
            let sort = ActivitySort {
                key: ActivitySortKey::Milestone(Milestone::Orders),
                descending,
            };
            assert_eq!(ids(&activity_page(&[], &dir, &query(sort))), vec![1, 2, 3]);
        }
    }

    #[test]
    fn paging_and_filters_keep_total_and_summary_of_all_rows() {
        let mut dir = directory(&[(1, "a"), (2, "b"), (3, "c")]);
        if let Some(c) = dir.get_mut(&CustomerId(3)) {
            c.status = CustomerStatus::Inactive;
        }
        let events: Vec<Event> = (1..=3)
            .map(|c| Event::new(format!("e{c}"), CustomerId(c), names::LINK_OPENED, at(1)))
            .collect();
        let mut q = query(ActivitySort::default());
        q.customers.status = Some(CustomerStatus::Active);
        q.offset = 1;
        q.limit = 5;
        let page = activity_page(&events, &dir, &q);
        assert_eq!(ids(&page), vec![2]);
        assert_eq!(page.total_rows, 2);
        assert_eq!(page.summary.views, 2);
    }

    #[test]
    fn buckets_are_half_open_and_need_two_edges() {
        let events = vec![
            Event::new("a", CustomerId(1), "V", at(10)),
            Event::new("b", CustomerId(1), "V", at(19)),
            Event::new("c", CustomerId(1), "V", at(20)),
            Event::new("d", CustomerId(1), "V", at(30)),
            Event::new("e", CustomerId(2), "W", at(10)),
        ];
        let mut q = BucketCountsQuery {
            customers: vec![CustomerId(1), CustomerId(2)],
            names: vec!["V".into()],
            edges: vec![at(10), at(20), at(30)],
        };
        let cells: Vec<(i64, usize, u64)> = bucket_counts(&events, &q)
            .iter()
            .map(|c| (c.customer.0, c.bucket, c.count))
            .collect();
        assert_eq!(cells, vec![(1, 0, 2), (1, 1, 1)]);
        q.edges.truncate(1);
        assert!(bucket_counts(&events, &q).is_empty());
    }
}
