//! What a funnel needs: who entered, who could progress (with their step events), who waits.
//!
//! Two passes over the window, each split over the cores. The first tallies, per part, each
//! customer's step events into a compact per-customer slot (16 bytes, so the table stays in
//! cache); every journey's events are then allocated at their final size. Writing each event
//! straight to its journey would scatter the writes over every journey at once (a cache miss
//! each), so the second pass stages them in buckets of a few hundred journeys (a few
//! sequential streams), and each bucket is then written out while its journeys stay in cache.

use std::ops::Range;

use engagement_core::{CustomerId, FunnelInput, FunnelQuery, Journey, StepEvent, Timestamp};

use crate::parallel::{MIN_EVENTS_PER_PART, MIN_ITEMS_PER_PART, each_part, part_bounds};
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

/// Journeys whose events one bucket stages: writing a bucket out stays within the cache.
const JOURNEYS_PER_BUCKET: usize = 512;

/// A step event on its way to its journey.
#[derive(Debug, Clone, Copy)]
struct Staged {
    at: i64,
    journey: u32,
    step: u8,
}

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
        // Pass 2: each part stages its step events by bucket of journeys, each bucket
        // sized exactly from the part's tallies.
        let buckets = journeys.len().div_ceil(JOURNEYS_PER_BUCKET);
        let sizes = tallies.iter().map(|part| {
            let mut sizes = vec![0; buckets];
            for (j, &(_, d)) in progressed.iter().enumerate() {
                sizes[j / JOURNEYS_PER_BUCKET] += part[d as usize].count as usize;
            }
            sizes
        });
        let journey_of = &journey_of;
        let staged = each_part(
            bounds.into_iter().zip(sizes),
            |part: Range<usize>, sizes| {
                let mut staged: Vec<Vec<Staged>> =
                    sizes.into_iter().map(Vec::with_capacity).collect();
                for p in part {
                    let Some(step) = step_of(p) else {
                        continue;
                    };
                    let journey = journey_of[cols.customer[p] as usize];
                    if let Some(bucket) = staged.get_mut(journey as usize / JOURNEYS_PER_BUCKET) {
                        bucket.push(Staged {
                            at: cols.at[p],
                            journey,
                            step,
                        });
                    }
                }
                staged
            },
        );
        // Then bucket by bucket (split over the cores), the parts in order, every event goes
        // to the next free place of its journey, and each journey keeps its decisive events.
        let bucket_parts =
            part_bounds(0..buckets, MIN_ITEMS_PER_PART.div_ceil(JOURNEYS_PER_BUCKET));
        let mut rest = journeys.as_mut_slice();
        let mut shares = Vec::with_capacity(bucket_parts.len());
        for part in &bucket_parts {
            let n = (part.len() * JOURNEYS_PER_BUCKET).min(rest.len());
            let (share, after) = std::mem::take(&mut rest).split_at_mut(n);
            shares.push(share);
            rest = after;
        }
        let staged = &staged;
        each_part(bucket_parts.into_iter().zip(shares), |part, share| {
            let mut filled = [0u32; JOURNEYS_PER_BUCKET];
            for (b, bucket) in part.zip(share.chunks_mut(JOURNEYS_PER_BUCKET)) {
                filled.fill(0);
                let first = b * JOURNEYS_PER_BUCKET;
                for e in staged.iter().flat_map(|buckets| &buckets[b]) {
                    let i = e.journey as usize - first;
                    if let Some(slot) = bucket[i].events.get_mut(filled[i] as usize) {
                        *slot = StepEvent {
                            at: Timestamp::from_micros(e.at),
                            step: usize::from(e.step),
                        };
                    }
                    filled[i] += 1;
                }
                for journey in bucket {
                    journey.retain_decisive(query.steps.len(), query.conversion_window);
                }
            }
        });
        input.journeys = journeys;
        input
    }
}
