//! The event log: keyset pages newest first, the export oldest first, and lookup by id.

use crate::model::event::Event;
use crate::model::ids::EventId;
use crate::store::query::{EventFilter, EventPage, EventPageQuery};

/// [`EventStore::export`](crate::EventStore::export): every event matching the filter (any
/// actor), in (occurred_at, id) order.
pub fn export(events: &[Event], filter: &EventFilter) -> Vec<Event> {
    let mut matching: Vec<Event> = events
        .iter()
        .filter(|e| filter.matches(e))
        .cloned()
        .collect();
    matching.sort_by_key(Event::key);
    matching
}

/// [`EventStore::event_page`](crate::EventStore::event_page): the matching events strictly older
/// than the cursor in (occurred_at, id) descending order, at most `limit`, and the number of all
/// matching events.
pub fn event_page(events: &[Event], query: &EventPageQuery) -> EventPage {
    let matching = export(events, &query.filter);
    let total = u64::try_from(matching.len()).unwrap_or(u64::MAX);
    let events = matching
        .into_iter()
        .rev()
        .filter(|e| query.after.as_ref().is_none_or(|after| e.key() < *after))
        .take(query.limit)
        .collect();
    EventPage { events, total }
}

/// [`EventStore::event`](crate::EventStore::event): the event with this id.
pub fn event(events: &[Event], id: &EventId) -> Option<Event> {
    events.iter().find(|e| e.id == *id).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{Actor, EventKey};
    use crate::model::ids::CustomerId;
    use crate::time::{TimeWindow, Timestamp};

    #[test]
    fn keyset_pages_over_one_instant_visit_each_event_once() {
        let at = Timestamp::from_micros(7);
        let mut events: Vec<Event> = (0..23)
            .map(|i| Event::new(format!("{i:03}"), CustomerId(i % 3), "X", at))
            .collect();
        events[4].actor = Actor::System;
        events.reverse();
        let filter = EventFilter::new(TimeWindow::ALL);
        let mut after: Option<EventKey> = None;
        let mut seen = Vec::new();
        loop {
            let query = EventPageQuery {
                filter: filter.clone(),
                after: after.clone(),
                limit: 5,
            };
            let page = event_page(&events, &query);
            assert_eq!(page.total, 23);
            let Some(last) = page.events.last() else {
                break;
            };
            after = Some(last.key());
            seen.extend(page.events.iter().map(|e| e.id.as_str().to_owned()));
        }
        let expected: Vec<String> = (0..23).rev().map(|i| format!("{i:03}")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn export_orders_by_time_then_id_bytewise() {
        let events = vec![
            Event::new("9", CustomerId(1), "X", Timestamp::from_micros(2)),
            Event::new("10", CustomerId(1), "X", Timestamp::from_micros(2)),
            Event::new("z", CustomerId(1), "X", Timestamp::from_micros(1)),
        ];
        let ids: Vec<String> = export(&events, &EventFilter::new(TimeWindow::ALL))
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        assert_eq!(ids, vec!["z", "10", "9"]);
        assert_eq!(
            event(&events, &EventId::from("10")),
            Some(events[1].clone())
        );
        assert_eq!(event(&events, &EventId::from("11")), None);
    }
}
