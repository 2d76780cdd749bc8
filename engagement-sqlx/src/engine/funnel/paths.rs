//! Which step-1 events a journey needs, found by asking for as few as possible.
//!
//! Of a customer's step-1 events a funnel needs only the decisive ones
//! ([`Journey::retain_decisive`]): the latest, and for each step reached the earliest step-1
//! event reaching it. Every step-1 event between two consecutive step-2 events (a *class*)
//! continues the same way: to the later of the two, then to the first step-3 event after it,
//! and so on (the class's *chain*). An event of the class reaches step `j` exactly when it lies
//! within the conversion window before the chain's step-`j` event. So the earliest step-1 event
//! reaching `j` is, in the first class whose chain can reach `j`, the earliest of its events
//! at or after that bound: one probe by index, the customer's step-1 events themselves (most of
//! an active customer's events in a typical funnel) never read. Classes are taken in time
//! order, and a customer is done once the last step is reached.

use std::collections::HashMap;

use engagement_core::{CustomerId, Journey, StepEvent, TimeWindow, Timestamp};

/// An event's place in (occurred_at, id) order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub(super) at: i64,
    pub(super) id: String,
}

impl Key {
    /// The place before every event at or after `at` (ids are never empty).
    fn before_all_at(at: i64) -> Self {
        Self {
            at,
            id: String::new(),
        }
    }
}

/// A question for the store: the earliest (or latest) step-1 event of `customer` strictly
/// between `after` and `before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Probe {
    pub(super) customer: i64,
    pub(super) after: Key,
    pub(super) before: Key,
}

/// One customer's journey being completed.
#[derive(Debug)]
struct Path {
    customer: i64,
    /// The customer's events of steps 2 and later in the window, in (occurred_at, id) order.
    later: Vec<(Key, usize)>,
    /// Positions in `later` of the step-2 events: where the classes end.
    class_ends: Vec<usize>,
    /// The decisive step-1 events found so far.
    starts: Vec<Key>,
    /// The furthest (1-based) step reached from them.
    furthest: usize,
    /// The first class not yet looked at.
    next_class: usize,
}

/// A probe planned for step `step` (0-based) of one class of one path.
#[derive(Debug)]
pub(super) struct Planned {
    path: usize,
    class: usize,
    step: usize,
}

/// The journeys of one funnel while their step-1 events are probed.
#[derive(Debug)]
pub(super) struct Paths {
    paths: Vec<Path>,
    steps: usize,
    conversion_micros: i64,
    window: TimeWindow,
}

impl Paths {
    /// The journeys of `customers` (step-1 and step-2 customers alike), from `later`: every
    /// counted event of steps 2 and later in the window as `(customer, key, step)`, step 0-based.
    pub(super) fn new(
        customers: &[i64],
        later: Vec<(i64, Key, usize)>,
        steps: usize,
        conversion_micros: i64,
        window: TimeWindow,
    ) -> Self {
        let slot: HashMap<i64, usize> =
            customers.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let mut paths: Vec<Path> = customers
            .iter()
            .map(|&customer| Path {
                customer,
                later: Vec::new(),
                class_ends: Vec::new(),
                starts: Vec::new(),
                furthest: 1,
                next_class: 0,
            })
            .collect();
        for (customer, key, step) in later {
            if let Some(&i) = slot.get(&customer) {
                paths[i].later.push((key, step));
            }
        }
        for path in &mut paths {
            path.later.sort_unstable();
            path.class_ends = (0..path.later.len())
                .filter(|&p| path.later[p].1 == 1)
                .collect();
        }
        Self {
            paths,
            steps,
            conversion_micros,
            window,
        }
    }

    /// One probe a path for its latest step-1 event in the window (to be asked newest first).
    pub(super) fn latest_probes(&self) -> Vec<Probe> {
        self.paths
            .iter()
            .map(|path| Probe {
                customer: path.customer,
                after: Key::before_all_at(self.window.from.as_micros()),
                before: Key::before_all_at(self.window.to.as_micros()),
            })
            .collect()
    }

    /// Takes the answers to [`latest_probes`](Self::latest_probes), in their order. A path
    /// without a step-1 event (none in a consistent snapshot) is no journey.
    pub(super) fn add_latest(&mut self, found: Vec<Option<Key>>) {
        for (path, key) in self.paths.iter_mut().zip(found) {
            path.starts.extend(key);
        }
        self.paths.retain(|p| !p.starts.is_empty());
    }

    /// The probes of the next round: for every path not done, its next `classes` classes that
    /// could take it further, each asked for the earliest step-1 event reaching each step
    /// beyond the furthest reached. Empty when every path is done.
    pub(super) fn plan(&mut self, classes: usize) -> (Vec<Planned>, Vec<Probe>) {
        let (mut planned, mut probes) = (Vec::new(), Vec::new());
        for (p, path) in self.paths.iter_mut().enumerate() {
            let mut taken = 0;
            while taken < classes && path.furthest < self.steps {
                let Some(&end) = path.class_ends.get(path.next_class) else {
                    break;
                };
                let class = path.next_class;
                path.next_class += 1;
                let chain = chain(&path.later, end, self.steps);
                // The chain reaches step `chain.len() + 1` at best.
                if chain.len() < path.furthest {
                    continue;
                }
                taken += 1;
                let after = match class.checked_sub(1) {
                    Some(prev) => path.later[path.class_ends[prev]].0.clone(),
                    None => Key::before_all_at(self.window.from.as_micros()),
                };
                let before = path.later[end].0.clone();
                for (step, &at) in chain.iter().enumerate().skip(path.furthest - 1) {
                    let floor = Key::before_all_at(at.saturating_sub(self.conversion_micros));
                    planned.push(Planned {
                        path: p,
                        class,
                        step: step + 1,
                    });
                    probes.push(Probe {
                        customer: path.customer,
                        after: after.clone().max(floor),
                        before: before.clone(),
                    });
                }
            }
        }
        (planned, probes)
    }

    /// Takes the answers to the probes [`plan`](Self::plan) returned, in their order.
    pub(super) fn add_round(&mut self, planned: Vec<Planned>, found: Vec<Option<Key>>) {
        let mut failed_class = None;
        for (plan, key) in planned.into_iter().zip(found) {
            let path = &mut self.paths[plan.path];
            let this_class = (plan.path, plan.class);
            if failed_class == Some(this_class) || plan.step < path.furthest {
                // A later step of a class that reached no further, or a step an earlier class
                // reached first.
                continue;
            }
            match key {
                Some(key) => {
                    path.furthest = plan.step + 1;
                    if !path.starts.contains(&key) {
                        path.starts.push(key);
                    }
                }
                None => failed_class = Some(this_class),
            }
        }
    }

    /// The journeys, in customer order.
    pub(super) fn into_journeys(mut self) -> Vec<Journey> {
        self.paths.sort_unstable_by_key(|p| p.customer);
        self.paths
            .into_iter()
            .map(|path| {
                let mut events: Vec<(Key, usize)> = path.later;
                events.extend(path.starts.into_iter().map(|key| (key, 0)));
                events.sort_unstable();
                Journey {
                    customer: CustomerId(path.customer),
                    events: events
                        .into_iter()
                        .map(|(key, step)| StepEvent {
                            at: Timestamp::from_micros(key.at),
                            step,
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

/// The instants of the chain from the step-2 event at `end` of `later`: the step-2 event, then
/// the first step-3 event after it, and so on while there is one.
fn chain(later: &[(Key, usize)], end: usize, steps: usize) -> Vec<i64> {
    let mut chain = vec![later[end].0.at];
    let mut at = end;
    for step in 2..steps {
        match (at + 1..later.len()).find(|&p| later[p].1 == step) {
            Some(p) => {
                chain.push(later[p].0.at);
                at = p;
            }
            None => break,
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(at: i64, id: &str) -> Key {
        Key {
            at,
            id: id.to_owned(),
        }
    }

    fn window() -> TimeWindow {
        TimeWindow {
            from: Timestamp::from_micros(0),
            to: Timestamp::from_micros(1_000),
        }
    }

    /// Answers probes from a customer's step-1 events, as the store would.
    fn answer(starts: &[Key], probes: &[Probe], newest: bool) -> Vec<Option<Key>> {
        probes
            .iter()
            .map(|p| {
                let between = starts.iter().filter(|k| **k > p.after && **k < p.before);
                if newest {
                    between.max().cloned()
                } else {
                    between.min().cloned()
                }
            })
            .collect()
    }

    /// Runs the rounds of one customer whose step-1 events are `starts`.
    fn journey(
        starts: &[Key],
        later: Vec<(Key, usize)>,
        steps: usize,
        w: i64,
    ) -> Vec<(i64, usize)> {
        let later = later.into_iter().map(|(k, s)| (7, k, s)).collect();
        let mut paths = Paths::new(&[7], later, steps, w, window());
        let latest = paths.latest_probes();
        paths.add_latest(answer(starts, &latest, true));
        let mut classes = 1;
        loop {
            let (planned, probes) = paths.plan(classes);
            if probes.is_empty() {
                break;
            }
            paths.add_round(planned, answer(starts, &probes, false));
            classes *= 2;
        }
        let journeys = paths.into_journeys();
        journeys[0]
            .events
            .iter()
            .map(|e| (e.at.as_micros(), e.step))
            .collect()
    }

    #[test]
    fn a_later_class_reaches_what_the_first_could_not() {
        // Step 2 at 50 is too late for the start at 10 (window 20); the class before the
        // step 2 at 200 has starts at 150 and 190, of which 190 also reaches step 3 at 205.
        let starts = [key(10, "a"), key(150, "b"), key(190, "c"), key(900, "d")];
        let later = vec![(key(50, "x"), 1), (key(200, "y"), 1), (key(205, "z"), 2)];
        assert_eq!(
            journey(&starts, later, 3, 20),
            vec![(50, 1), (190, 0), (200, 1), (205, 2), (900, 0)]
        );
    }

    #[test]
    fn ties_in_a_microsecond_follow_the_ids() {
        // The start at 50 with id "b" comes after the step 2 at 50 with id "a": it cannot
        // reach it, and the class after that step 2 is empty.
        let starts = [key(50, "b")];
        let later = vec![(key(50, "a"), 1)];
        assert_eq!(journey(&starts, later, 2, 10), vec![(50, 1), (50, 0)]);
        // With the smaller id it comes first and reaches it.
        let starts = [key(50, "0")];
        let later = vec![(key(50, "a"), 1)];
        assert_eq!(journey(&starts, later, 2, 10), vec![(50, 0), (50, 1)]);
    }

    #[test]
    fn a_customer_without_a_step_one_event_has_no_journey() {
        let mut paths = Paths::new(&[7], vec![(7, key(5, "x"), 1)], 2, 10, window());
        let latest = paths.latest_probes();
        paths.add_latest(vec![None; latest.len()]);
        assert!(paths.plan(1).1.is_empty());
        assert!(paths.into_journeys().is_empty());
    }
}
