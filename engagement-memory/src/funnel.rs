//! What a funnel needs: who entered, who could progress (with their step events), who waits.
//!
//! Two passes over the window, each split over the cores. The first tallies, per part, each
//! customer's step events into a compact per-customer slot (16 bytes, so the table stays in
//! cache). Every journey's events are then allocated at their final size and cut into one
//! run per part (each part's count of the customer's events), and the second pass writes each
//! step event straight into its customer's run: no event is copied twice.

use std::ops::Range;

use engagement_core::{CustomerId, FunnelInput, FunnelQuery, Journey, StepEvent, Timestamp};

use crate::parallel::{MIN_EVENTS_PER_PART, each_part, part_bounds};
use crate::workspace::Workspace;

/// A customer's step events in one part of the window.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The latest step-1 event (meaningful when [`HAS_FIRST`] is set).
    last_first: i64,
    /// Step events seen.
    count: u32,
    /// [`HAS_FIRST`] and [`HAS_SECOND`].
    state: u32,
}

/// A step-1 event was seen.
const HAS_FIRST: u32 = 1;
/// A step-2 event was seen.
const HAS_SECOND: u32 = 2;
/// Both: the customer has a journey.
const JOURNEY: u32 = HAS_FIRST | HAS_SECOND;

/// "Not a step" in the name table.
const NONE: u8 = u8::MAX;

/// "No journey" in the table of journey numbers.
const NO_JOURNEY: u32 = u32::MAX;

impl Progress {
    /// Adds what a later part of the window saw.
    fn merge_later(&mut self, later: &Progress) {
        if later.state & HAS_FIRST != 0 {
            self.last_first = later.last_first;
        }
        self.count += later.count;
        self.state |= later.state;
    }
}

impl Workspace {
    /// See [`EventStore::funnel_input`](engagement_core::EventStore::funnel_input).
    pub(crate) fn funnel_input(&self, query: &FunnelQuery) -> FunnelInput {
        let steps: Vec<u8> = (0..self.dict.names.len() as u32)
            .map(|n| {
                let name = self.dict.names.get(n);
                query
                    .steps
                    .iter()
                    .position(|s| s == name)
                    .and_then(|i| u8::try_from(i).ok())
                    .unwrap_or(NONE)
            })
            .collect();
        let cols = &self.cols;
        let step_of = |p: usize| {
            let step = steps[cols.name[p] as usize];
            (step != NONE && cols.flags(p).by_customer()).then_some(step)
        };
        let bounds = part_bounds(self.window(query.window), MIN_EVENTS_PER_PART);
        let tallies = each_part(bounds.iter().map(|b| (b.clone(), ())), |part, ()| {
            let mut progress = vec![Progress::default(); self.dir.len()];
            for p in part {
                let Some(step) = step_of(p) else {
                    continue;
                };
                let slot = &mut progress[cols.customer[p] as usize];
                slot.count += 1;
                match step {
                    0 => {
                        slot.state |= HAS_FIRST;
                        slot.last_first = cols.at[p];
                    }
                    1 => slot.state |= HAS_SECOND,
                    _ => {}
                }
            }
            progress
        });
        let mut input = FunnelInput::default();
        let mut progressed: Vec<(CustomerId, u32)> = Vec::new();
        for d in 0..self.dir.len() {
            let mut total = Progress::default();
            for part in &tallies {
                total.merge_later(&part[d]);
            }
            if total.state & HAS_FIRST == 0 {
                continue;
            }
            input.entered += 1;
            if total.state == JOURNEY {
                progressed.push((self.dir.id(d as u32), d as u32));
            } else if query
                .open_since
                .is_some_and(|since| total.last_first >= since.as_micros())
            {
                input.waiting += 1;
            }
        }
        progressed.sort_unstable();
        if progressed.is_empty() {
            return input;
        }
        let mut journey_of = vec![NO_JOURNEY; self.dir.len()];
        let mut journeys: Vec<Journey> = progressed
            .iter()
            .enumerate()
            .map(|(j, &(customer, d))| {
                journey_of[d as usize] = j as u32;
                let count = tallies
                    .iter()
                    .map(|part| part[d as usize].count)
                    .sum::<u32>();
                Journey {
                    customer,
                    events: vec![
                        StepEvent {
                            at: Timestamp::MIN,
                            step: 0,
                        };
                        count as usize
                    ],
                }
            })
            .collect();
        let runs = runs_by_part(&mut journeys, &progressed, &tallies);
        let journey_of = &journey_of;
        each_part(
            bounds.into_iter().zip(runs),
            |part: Range<usize>, mut runs| {
                for p in part {
                    let Some(step) = step_of(p) else {
                        continue;
                    };
                    let j = journey_of[cols.customer[p] as usize];
                    let Some(run) = runs.get_mut(j as usize) else {
                        continue;
                    };
                    if let Some((slot, rest)) = std::mem::take(run).split_first_mut() {
                        *slot = StepEvent {
                            at: Timestamp::from_micros(cols.at[p]),
                            step: usize::from(step),
                        };
                        *run = rest;
                    }
                }
            },
        );
        input.journeys = journeys;
        input
    }
}

/// Cuts every journey's events into one run per part of the window, sized by that part's
/// count of the customer's step events: `runs[part][journey]`.
fn runs_by_part<'a>(
    journeys: &'a mut [Journey],
    progressed: &[(CustomerId, u32)],
    tallies: &[Vec<Progress>],
) -> Vec<Vec<&'a mut [StepEvent]>> {
    let mut runs: Vec<Vec<&mut [StepEvent]>> = tallies
        .iter()
        .map(|_| Vec::with_capacity(journeys.len()))
        .collect();
    for (journey, &(_, d)) in journeys.iter_mut().zip(progressed) {
        let mut rest = journey.events.as_mut_slice();
        for (part, part_runs) in tallies.iter().zip(&mut runs) {
            let (run, after) = rest.split_at_mut(part[d as usize].count as usize);
            part_runs.push(run);
            rest = after;
        }
    }
    runs
}
