//! Writes: the outcome of an append and what a purge removes.

use std::collections::HashMap;

use super::Directory;
use crate::model::event::Event;
use crate::model::ids::EventId;
use crate::store::query::{AppendOutcome, PurgeOutcome, PurgeScope};

/// [`EventStore::append`](crate::EventStore::append): the outcome of appending `batch` to the
/// `stored` events, and the events to store. The first write of an id wins; a later event with
/// that id is a duplicate when [`Event::same_payload`] holds and a conflict otherwise (one entry
/// in [`AppendOutcome::conflicts`] per conflicting event, in batch order).
pub fn append(stored: &[Event], batch: &[Event]) -> (AppendOutcome, Vec<Event>) {
    let mut first: HashMap<&EventId, &Event> = stored.iter().map(|e| (&e.id, e)).collect();
    let mut outcome = AppendOutcome::default();
    let mut new = Vec::new();
    for event in batch {
        match first.get(&event.id) {
            Some(kept) if kept.same_payload(event) => outcome.duplicates += 1,
            Some(_) => outcome.conflicts.push(event.id.clone()),
            None => {
                first.insert(&event.id, event);
                new.push(event.clone());
                outcome.inserted += 1;
            }
        }
    }
    (outcome, new)
}

/// Whether the purge `scope` removes `event`.
pub fn purge_removes(scope: PurgeScope, event: &Event) -> bool {
    match scope {
        PurgeScope::Before { cutoff } => event.occurred_at < cutoff,
        PurgeScope::Customer { customer } => event.customer == customer,
    }
}

/// [`EventStore::purge`](crate::EventStore::purge): how many events and customer records the
/// scope removes (events of every actor strictly before the cutoff; or every event and the
/// record of one customer).
pub fn purge(events: &[Event], customers: &Directory, scope: PurgeScope) -> PurgeOutcome {
    let removed = events.iter().filter(|e| purge_removes(scope, e)).count();
    let records = match scope {
        PurgeScope::Before { .. } => 0,
        PurgeScope::Customer { customer } => usize::from(customers.contains_key(&customer)),
    };
    PurgeOutcome {
        events: u64::try_from(removed).unwrap_or(u64::MAX),
        customers: u64::try_from(records).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::customer::Customer;
    use crate::model::event::Actor;
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    fn ev(id: &str, customer: i64, at: i64) -> Event {
        Event::new(id, CustomerId(customer), "X", Timestamp::from_micros(at))
    }

    #[test]
    fn first_write_wins_within_a_batch_and_across_batches() {
        let stored = vec![ev("a", 1, 1)];
        let mut retry = ev("a", 1, 1);
        retry.received_at = Timestamp::from_micros(99);
        let batch = vec![
            retry,
            ev("a", 2, 1),
            ev("b", 1, 1),
            ev("b", 1, 1),
            ev("b", 1, 2),
        ];
        let (outcome, new) = append(&stored, &batch);
        assert_eq!(outcome.inserted, 1);
        assert_eq!(outcome.duplicates, 2);
        assert_eq!(
            outcome.conflicts,
            vec![EventId::from("a"), EventId::from("b")]
        );
        assert_eq!(new, vec![ev("b", 1, 1)]);
    }

    #[test]
    fn purge_counts_strictly_before_or_one_customer_with_record() {
        let mut staff = ev("s", 2, 0);
        staff.actor = Actor::Staff;
        let events = vec![ev("a", 1, 9), ev("b", 1, 10), staff];
        let dir = Directory::from([(CustomerId(2), Customer::new(CustomerId(2), "B", "C"))]);
        let before = PurgeScope::Before {
            cutoff: Timestamp::from_micros(10),
        };
        assert_eq!(
            purge(&events, &dir, before),
            PurgeOutcome {
                events: 2,
                customers: 0
            }
        );
        let two = PurgeScope::Customer {
            customer: CustomerId(2),
        };
        assert_eq!(
            purge(&events, &dir, two),
            PurgeOutcome {
                events: 1,
                customers: 1
            }
        );
        let one = PurgeScope::Customer {
            customer: CustomerId(1),
        };
        assert_eq!(
            purge(&events, &dir, one),
            PurgeOutcome {
                events: 2,
                customers: 0
            }
        );
    }
}
