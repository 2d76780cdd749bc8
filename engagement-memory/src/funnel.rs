//! What a funnel needs: who entered, who could progress (with their step events), who waits.

use std::cell::RefCell;

use engagement_core::{FunnelInput, FunnelQuery, Journey, StepEvent, Timestamp};

use crate::scratch::{Scratch, with_zeroed};
use crate::workspace::Workspace;

/// A customer's progress while scanning the window.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The latest step-1 event, if any.
    last_first: Option<i64>,
    /// Whether a step-2 event was seen.
    second: bool,
    /// 1 + the index of the customer's journey in the answer (0: none).
    journey: u32,
}

thread_local! {
    static PROGRESS: Scratch<Progress> = const { RefCell::new(Vec::new()) };
}

/// "Not a step" in the name table.
const NONE: u8 = u8::MAX;

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
        let range = self.window(query.window);
        let cols = &self.cols;
        let step_of = |p: usize| {
            let step = steps[cols.name[p] as usize];
            (step != NONE && cols.flags(p).by_customer()).then_some(step)
        };
        with_zeroed(&PROGRESS, self.dir.len(), |progress| {
            for p in range.clone() {
                match step_of(p) {
                    Some(0) => {
                        let slot = &mut progress[cols.customer[p] as usize];
                        slot.last_first = slot.last_first.max(Some(cols.at[p]));
                    }
                    Some(1) => progress[cols.customer[p] as usize].second = true,
                    _ => {}
                }
            }
            let mut input = FunnelInput::default();
            let mut progressed = Vec::new();
            for (d, state) in progress.iter().enumerate() {
                let Some(last_first) = state.last_first else {
                    continue;
                };
                input.entered += 1;
                if state.second {
                    progressed.push((self.dir.id(d as u32), d));
                } else if query
                    .open_since
                    .is_some_and(|since| last_first >= since.as_micros())
                {
                    input.waiting += 1;
                }
            }
            progressed.sort_unstable();
            for (i, &(_, d)) in progressed.iter().enumerate() {
                progress[d].journey = i as u32 + 1;
            }
            let mut journeys: Vec<Journey> = progressed
                .iter()
                .map(|&(customer, _)| Journey {
                    customer,
                    events: Vec::new(),
                })
                .collect();
            // A second sequential pass (cheaper than walking postings scattered in the log)
            // hands each journey its step events in log order.
            if !journeys.is_empty() {
                for p in range {
                    let Some(step) = step_of(p) else {
                        continue;
                    };
                    let journey = progress[cols.customer[p] as usize].journey;
                    if let Some(j) = journey.checked_sub(1) {
                        journeys[j as usize].events.push(StepEvent {
                            at: Timestamp::from_micros(cols.at[p]),
                            step: usize::from(step),
                        });
                    }
                }
            }
            input.journeys = journeys;
            input
        })
    }
}
