//! What a funnel needs: who entered, the step events of those who reached step 2, who waits.

use std::collections::BTreeMap;

use super::counted;
use crate::model::event::Event;
use crate::model::ids::CustomerId;
use crate::store::query::{FunnelInput, FunnelQuery, Journey, StepEvent};

/// [`EventStore::funnel_input`](crate::EventStore::funnel_input), exactly as
/// [`FunnelInput`]'s fields are documented: own events in the window whose name is a step
/// (the first step with that name), grouped by customer, each journey keeping only its
/// decisive step-1 events ([`Journey::retain_decisive`]).
pub fn funnel_input(events: &[Event], query: &FunnelQuery) -> FunnelInput {
    let mut by_customer: BTreeMap<CustomerId, Vec<(&Event, usize)>> = BTreeMap::new();
    for event in events.iter().filter(|e| counted(e, query.window)) {
        if let Some(step) = query.steps.iter().position(|s| *s == event.name) {
            by_customer
                .entry(event.customer)
                .or_default()
                .push((event, step));
        }
    }
    let mut input = FunnelInput::default();
    for (customer, mut steps) in by_customer {
        let latest_entry = steps
            .iter()
            .filter(|(_, step)| *step == 0)
            .map(|(e, _)| e.occurred_at)
            .max();
        let Some(latest_entry) = latest_entry else {
            continue;
        };
        input.entered += 1;
        if steps.iter().any(|(_, step)| *step == 1) {
            steps.sort_by(|(a, _), (b, _)| (a.occurred_at, &a.id).cmp(&(b.occurred_at, &b.id)));
            let mut journey = Journey {
                customer,
                events: steps
                    .into_iter()
                    .map(|(e, step)| StepEvent {
                        at: e.occurred_at,
                        step,
                    })
                    .collect(),
            };
            journey.retain_decisive(query.steps.len(), query.conversion_window);
            input.journeys.push(journey);
        } else if query.open_since.is_some_and(|since| latest_entry >= since) {
            input.waiting += 1;
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    use crate::model::event::Actor;
    use crate::time::{TimeWindow, Timestamp};

    fn ev(id: &str, customer: i64, name: &str, at: i64) -> Event {
        Event::new(id, CustomerId(customer), name, Timestamp::from_micros(at))
    }

    fn query(open_since: Option<i64>) -> FunnelQuery {
        FunnelQuery {
            window: TimeWindow::new(Timestamp::from_micros(0), Timestamp::from_micros(100))
                .unwrap(),
            steps: vec!["A".into(), "B".into(), "C".into()],
            conversion_window: TimeDelta::microseconds(10),
            open_since: open_since.map(Timestamp::from_micros),
        }
    }

    #[test]
    fn journeys_hold_their_decisive_step_events_in_time_then_id_order() {
        let mut staff = ev("s", 1, "C", 5);
        staff.actor = Actor::Staff;
        let events = vec![
            ev("z", 1, "B", 5),
            ev("y", 1, "A", 5),
            ev("x", 1, "B", 1), // a step before step 1 still belongs to the journey
            ev("w", 1, "A", 9),
            ev("t", 1, "A", 7), // neither reaches further nor is the latest: left out
            ev("v", 1, "Other", 6),
            ev("u", 1, "C", 100), // at the window end: out
            staff,
        ];
        let input = funnel_input(&events, &query(None));
        assert_eq!(input.entered, 1);
        assert_eq!(input.waiting, 0);
        let got: Vec<(i64, usize)> = input.journeys[0]
            .events
            .iter()
            .map(|s| (s.at.as_micros(), s.step))
            .collect();
        // x, then y before z (same microsecond, smaller id), then w.
        assert_eq!(got, vec![(1, 1), (5, 0), (5, 1), (9, 0)]);
    }

    #[test]
    fn waiting_uses_the_latest_entry_and_needs_open_since() {
        let events = vec![
            ev("a", 1, "A", 10),
            ev("b", 1, "A", 50),
            ev("c", 2, "A", 49),
            ev("d", 3, "B", 60), // step 2 without step 1: not entered
            ev("e", 4, "C", 60),
        ];
        let input = funnel_input(&events, &query(Some(50)));
        assert_eq!((input.entered, input.waiting), (2, 1));
        assert!(input.journeys.is_empty());
        assert_eq!(funnel_input(&events, &query(None)).waiting, 0);
    }
}
