//! The engagement ranking: scores per customer, ordered by (score desc, customer id asc).

use std::collections::BTreeMap;

use super::{Directory, counted};
use crate::model::event::Event;
use crate::model::ids::CustomerId;
use crate::store::query::{CustomerScore, RankedScore, TopCustomersQuery};
use crate::time::TimeWindow;

/// The full ranking over `window`: every customer with at least one own event, except admin
/// placeholders (a customer without a record is not a placeholder), by score descending, then
/// customer id ascending.
pub fn ranking(events: &[Event], customers: &Directory, window: TimeWindow) -> Vec<CustomerScore> {
    let is_placeholder =
        |id: &CustomerId| customers.get(id).is_some_and(|c| c.is_admin_placeholder);
    let mut scores: BTreeMap<CustomerId, u64> = BTreeMap::new();
    for event in events.iter().filter(|e| counted(e, window)) {
        if !is_placeholder(&event.customer) {
            *scores.entry(event.customer).or_default() += 1;
        }
    }
    let mut rows: Vec<CustomerScore> = scores
        .into_iter()
        .map(|(customer, score)| CustomerScore { customer, score })
        .collect();
    rows.sort_by(|a, b| b.score.cmp(&a.score).then(a.customer.cmp(&b.customer)));
    rows
}

/// [`EventStore::top_customers`](crate::EventStore::top_customers): the first `limit` rows of
/// [`ranking`].
pub fn top_customers(
    events: &[Event],
    customers: &Directory,
    query: &TopCustomersQuery,
) -> Vec<CustomerScore> {
    let mut rows = ranking(events, customers, query.window);
    rows.truncate(query.limit);
    rows
}

/// [`EventStore::customer_rank`](crate::EventStore::customer_rank): the customer's 1-based
/// position in [`ranking`], if they are in it.
pub fn customer_rank(
    events: &[Event],
    customers: &Directory,
    window: TimeWindow,
    customer: CustomerId,
) -> Option<RankedScore> {
    let rows = ranking(events, customers, window);
    let index = rows.iter().position(|row| row.customer == customer)?;
    Some(RankedScore {
        rank: u64::try_from(index + 1).unwrap_or(u64::MAX),
        score: rows[index].score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::customer::Customer;
    use crate::model::event::Actor;
    use crate::time::Timestamp;

    fn ev(id: &str, customer: i64, at: i64) -> Event {
        Event::new(id, CustomerId(customer), "X", Timestamp::from_micros(at))
    }

    #[test]
    fn ties_break_by_customer_id_and_limit_cuts_after_sorting() {
        let events = vec![ev("a", 9, 1), ev("b", 3, 1), ev("c", 5, 1), ev("d", 9, 2)];
        let query = TopCustomersQuery {
            window: TimeWindow::ALL,
            limit: 2,
        };
        let top = top_customers(&events, &Directory::new(), &query);
        let got: Vec<(i64, u64)> = top.iter().map(|s| (s.customer.0, s.score)).collect();
        assert_eq!(got, vec![(9, 2), (3, 1)]);
    }

    #[test]
    fn placeholders_staff_and_window_edges_are_excluded() {
        let mut staff = ev("s", 1, 5);
        staff.actor = Actor::Staff;
        let events = vec![
            ev("a", 1, 5),
            staff,
            ev("b", 2, 5),
            ev("c", 3, 10),
            ev("d", 4, 4),
        ];
        let mut placeholder = Customer::new(CustomerId(2), "Ad", "Min");
        placeholder.is_admin_placeholder = true;
        let directory = Directory::from([(CustomerId(2), placeholder)]);
        let window =
            TimeWindow::new(Timestamp::from_micros(5), Timestamp::from_micros(10)).unwrap();
        let rows = ranking(&events, &directory, window);
        assert_eq!(
            rows,
            vec![CustomerScore {
                customer: CustomerId(1),
                score: 1
            }]
        );
        assert_eq!(
            customer_rank(&events, &directory, window, CustomerId(1)),
            Some(RankedScore { rank: 1, score: 1 })
        );
        assert_eq!(
            customer_rank(&events, &directory, window, CustomerId(2)),
            None
        );
        assert_eq!(
            customer_rank(&events, &directory, window, CustomerId(3)),
            None
        );
    }
}
