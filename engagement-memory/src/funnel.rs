//! What a funnel needs: who entered, who could progress (with their step events), who waits.
//!
//! Two sequential passes over the window: the first tallies each customer's step events into a
//! compact per-customer slot (16 bytes, so the table stays in cache), the second copies the
//! step events of the customers who could progress into one buffer grouped by customer (each
//! customer's run was sized by the first pass), from which every journey takes its slice.

use std::cell::RefCell;

use engagement_core::{FunnelInput, FunnelQuery, Journey, StepEvent, Timestamp};

use crate::scratch::{Scratch, with_zeroed};
use crate::workspace::Workspace;

/// A customer's progress while scanning the window.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The latest step-1 event (meaningful when [`HAS_FIRST`] is set).
    last_first: i64,
    /// Pass 1: step events seen. Pass 2: where the customer's next step event goes in the
    /// buffer.
    cursor: u32,
    /// Pass 1: [`HAS_FIRST`] and [`HAS_SECOND`]. Pass 2: [`JOURNEY`] when the customer could
    /// progress.
    state: u32,
}

/// A step-1 event was seen.
const HAS_FIRST: u32 = 1;
/// A step-2 event was seen.
const HAS_SECOND: u32 = 2;
/// Both: the customer has a journey.
const JOURNEY: u32 = HAS_FIRST | HAS_SECOND;

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
                let Some(step) = step_of(p) else {
                    continue;
                };
                let slot = &mut progress[cols.customer[p] as usize];
                slot.cursor += 1;
                match step {
                    0 if slot.state & HAS_FIRST == 0 => {
                        slot.state |= HAS_FIRST;
                        slot.last_first = cols.at[p];
                    }
                    0 => slot.last_first = slot.last_first.max(cols.at[p]),
                    1 => slot.state |= HAS_SECOND,
                    _ => {}
                }
            }
            let mut input = FunnelInput::default();
            let mut progressed = Vec::new();
            for (d, slot) in progress.iter_mut().enumerate() {
                if slot.state & HAS_FIRST == 0 {
                    continue;
                }
                input.entered += 1;
                if slot.state == JOURNEY {
                    progressed.push((self.dir.id(d as u32), d));
                } else if query
                    .open_since
                    .is_some_and(|since| slot.last_first >= since.as_micros())
                {
                    input.waiting += 1;
                }
            }
            progressed.sort_unstable();
            // Each journey's run in the buffer, in answer order.
            let mut runs = Vec::with_capacity(progressed.len());
            let mut total = 0u32;
            for &(_, d) in &progressed {
                let count = progress[d].cursor;
                runs.push(total as usize..(total + count) as usize);
                progress[d].cursor = total;
                total += count;
            }
            if !progressed.is_empty() {
                let mut buffer = vec![
                    StepEvent {
                        at: Timestamp::MIN,
                        step: 0,
                    };
                    total as usize
                ];
                for p in range {
                    let Some(step) = step_of(p) else {
                        continue;
                    };
                    let slot = &mut progress[cols.customer[p] as usize];
                    if slot.state == JOURNEY {
                        buffer[slot.cursor as usize] = StepEvent {
                            at: Timestamp::from_micros(cols.at[p]),
                            step: usize::from(step),
                        };
                        slot.cursor += 1;
                    }
                }
                input.journeys = progressed
                    .iter()
                    .zip(runs)
                    .map(|(&(customer, _), run)| Journey {
                        customer,
                        events: buffer[run].to_vec(),
                    })
                    .collect();
            }
            input
        })
    }
}
