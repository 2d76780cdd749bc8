//! Which step-1 events a journey needs, found by asking for as few as possible.
//!
//! Of a customer's step-1 events a funnel needs only the decisive ones
//! ([`Journey::retain_decisive`]): the latest, and for each step reached the earliest step-1 event
//! reaching it. The latest one's instant comes with the customer (from the rollup); its id only
//! decides its place among events of the same microsecond, so it is asked for only where another
//! event of the journey shares that microsecond. Every step-1 event between two consecutive step-2
//! events (a *class*) continues the same way: to the later of the two, then to the first step-3
//! event after it, and so on (the class's *chain*). An event of the class reaches step `j` exactly
//! when it lies within the conversion window before the chain's step-`j` event. So the earliest
//! step-1 event reaching `j` is, in the first class whose chain can reach `j`, the earliest of its
//! events at or after that bound: one probe by index, the customer's step-1 events themselves (most
//! of an active customer's events in a typical funnel) never read. Classes are taken in time order,
//! and a customer is done once the last step is reached.

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
    /// The instant of the latest step-1 event.
    latest_at: i64,
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
    /// The journeys of `customers` (step-1 and step-2 customers alike, each with the instant of
    /// its latest step-1 event), from `later`: every counted event of steps 2 and later in the
    /// window as `(customer, key, step)`, step 0-based.
    pub(super) fn new(
        customers: &[(i64, i64)],
        later: Vec<(i64, Key, usize)>,
        steps: usize,
        conversion_micros: i64,
        window: TimeWindow,
    ) -> Self {
        let slot: HashMap<i64, usize> = customers
            .iter()
            .enumerate()
            .map(|(i, &(c, _))| (c, i))
            .collect();
        let mut paths: Vec<Path> = customers
            .iter()
            .map(|&(customer, latest_at)| Path {
                customer,
                later: Vec::new(),
                class_ends: Vec::new(),
                starts: Vec::new(),
                latest_at,
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

    /// Probes (to be asked newest first) for the latest step-1 event of each path where
    /// another of its events shares that event's microsecond, so that its id decides its
    /// place; with the paths they are for. Ask them after the rounds.
    pub(super) fn tied_latest(&self) -> (Vec<usize>, Vec<Probe>) {
        let tied = |path: &Path| {
            let at = path.latest_at;
            path.later.iter().any(|(k, _)| k.at == at) || path.starts.iter().any(|k| k.at == at)
        };
        self.paths
            .iter()
            .enumerate()
            .filter(|(_, path)| tied(path))
            .map(|(i, path)| {
                let probe = Probe {
                    customer: path.customer,
                    after: Key::before_all_at(path.latest_at),
                    before: Key::before_all_at(path.latest_at.saturating_add(1)),
                };
                (i, probe)
            })
            .unzip()
    }

    /// Takes the answers to [`tied_latest`](Self::tied_latest)'s probes, in their order.
    pub(super) fn add_latest(&mut self, tied: &[usize], found: Vec<Option<Key>>) {
        for (&i, key) in tied.iter().zip(found) {
            let path = &mut self.paths[i];
            if let Some(key) = key.filter(|k| !path.starts.contains(k)) {
                path.starts.push(key);
            }
        }
    }

    /// The journeys, in customer order.
    pub(super) fn into_journeys(mut self) -> Vec<Journey> {
        self.paths.sort_unstable_by_key(|p| p.customer);
        self.paths
            .into_iter()
            .map(|path| {
                let latest_known = path.starts.iter().any(|k| k.at == path.latest_at);
                let mut events: Vec<(Key, usize)> = path.later;
                events.extend(path.starts.into_iter().map(|key| (key, 0)));
                if !latest_known {
                    // No other event shares its microsecond: the instant alone places it.
                    events.push((Key::before_all_at(path.latest_at), 0));
                }
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

    /// Runs the rounds of one customer whose step-1 events are `starts`, as the store does.
    fn journey(
        starts: &[Key],
        later: Vec<(Key, usize)>,
        steps: usize,
        w: i64,
    ) -> Vec<(i64, usize)> {
        let later = later.into_iter().map(|(k, s)| (7, k, s)).collect();
        let latest_at = starts.iter().map(|k| k.at).max().unwrap();
        let mut paths = Paths::new(&[(7, latest_at)], later, steps, w, window());
        let mut classes = 1;
        loop {
            let (planned, probes) = paths.plan(classes);
            if probes.is_empty() {
                break;
            }
            paths.add_round(planned, answer(starts, &probes, false));
            classes *= 2;
        }
        let (tied, probes) = paths.tied_latest();
        paths.add_latest(&tied, answer(starts, &probes, true));
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
    fn the_latest_start_is_probed_only_where_its_microsecond_is_shared() {
        let later = vec![(7, key(50, "x"), 1)];
        let paths = Paths::new(&[(7, 60)], later.clone(), 2, 10, window());
        assert!(paths.tied_latest().1.is_empty());
        let paths = Paths::new(&[(7, 50)], later, 2, 10, window());
        let (tied, probes) = paths.tied_latest();
        assert_eq!(tied, vec![0]);
        assert_eq!(
            (&probes[0].after, &probes[0].before),
            (&key(50, ""), &key(51, ""))
        );
    }
}
