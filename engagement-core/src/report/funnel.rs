//! Funnels: ordered steps, a conversion window measured from step 1, and the pure evaluation
//! of what the store hands back.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::{ReportPeriod, refuse_control_characters};
use crate::error::{Error, Result};
use crate::model::ids::WorkspaceId;
use crate::model::names;
use crate::store::query::{FunnelInput, Journey, StepEvent};
use crate::time::{CalendarPreset, RangeSpec, TimeWindow, Timestamp};

/// Most steps a funnel may have.
pub const MAX_FUNNEL_STEPS: usize = 8;

/// A funnel to evaluate.
///
/// A customer reaches step `j` when they have events of steps `1..=j` in strictly increasing
/// (time, id) order, all inside the window, each at most `conversion_window` after the step-1
/// event (`t_j ≤ t_1 + conversion_window`). Only what the customer did counts: events staff or
/// the system recorded on the account (their [`Actor`](crate::Actor)) are no step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunnelRequest {
    /// The workspace to read.
    pub workspace: WorkspaceId,
    /// The span every step event must lie in.
    pub range: RangeSpec,
    /// Distinct event names, step 1 first.
    pub steps: Vec<String>,
    /// How long after step 1 later steps still count (in JSON: whole microseconds).
    #[serde(with = "crate::time::micros")]
    pub conversion_window: TimeDelta,
}

impl FunnelRequest {
    /// Page Viewed → Registered → Subscribed over the last 30 days, 7 days to convert.
    #[must_use]
    pub fn new(workspace: WorkspaceId) -> Self {
        Self {
            workspace,
            range: RangeSpec::preset(CalendarPreset::LastDays(30)),
            steps: vec![
                names::PAGE_VIEWED.to_owned(),
                names::REGISTERED.to_owned(),
                names::SUBSCRIBED.to_owned(),
            ],
            conversion_window: TimeDelta::days(7),
        }
    }

    /// The same funnel over another range.
    #[must_use]
    pub fn with_range(self, range: RangeSpec) -> Self {
        Self { range, ..self }
    }

    /// The same funnel with these steps, step 1 first (2 to [`MAX_FUNNEL_STEPS`] distinct
    /// names, checked when the report runs).
    #[must_use]
    pub fn with_steps<S: Into<String>>(self, steps: impl IntoIterator<Item = S>) -> Self {
        Self {
            steps: steps.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    /// The same funnel with another conversion window (positive, checked when the report
    /// runs).
    #[must_use]
    pub fn with_conversion_window(self, conversion_window: TimeDelta) -> Self {
        Self {
            conversion_window,
            ..self
        }
    }

    /// Checks the steps and the conversion window.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] for fewer than 2 or more than [`MAX_FUNNEL_STEPS`] steps, a
    /// blank or repeated step name or one with a control character (no stored event has
    /// one), or a conversion window that is not positive or not whole microseconds.
    pub fn validate(&self) -> Result<()> {
        let n = self.steps.len();
        if !(2..=MAX_FUNNEL_STEPS).contains(&n) {
            return Err(Error::invalid_query(
                "steps",
                format!("a funnel has 2 to {MAX_FUNNEL_STEPS} steps, this one has {n}"),
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            if step.trim().is_empty() {
                return Err(Error::invalid_query(
                    "steps",
                    format!("step {} is blank", i + 1),
                ));
            }
            refuse_control_characters("steps", step)?;
            if self.steps[..i].contains(step) {
                return Err(Error::invalid_query(
                    "steps",
                    format!("{step:?} appears twice; every step needs its own event name"),
                ));
            }
        }
        if self.conversion_window <= TimeDelta::zero() {
            return Err(Error::invalid_query(
                "conversion_window",
                "the conversion window must be positive",
            ));
        }
        if self.conversion_window.num_microseconds().is_none() {
            return Err(Error::invalid_query(
                "conversion_window",
                "the conversion window must fit in 64-bit microseconds (about 292,000 years)",
            ));
        }
        // Instants are microseconds, and so is the window everywhere it is read: a fraction of
        // one would be dropped.
        if self.conversion_window.subsec_nanos() % 1_000 != 0 {
            return Err(Error::invalid_query(
                "conversion_window",
                "the conversion window must be whole microseconds",
            ));
        }
        Ok(())
    }
}

/// One step of a funnel report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunnelStep {
    /// The step's event name.
    pub name: String,
    /// Unique customers who reached this step.
    pub reached: u64,
    /// `reached / reached at step 1` (0 when nobody entered).
    pub conversion_from_first: f64,
    /// `reached / reached at the previous step` (1 for step 1; 0 when the previous is 0).
    pub conversion_from_previous: f64,
    /// Customers who stopped at this step and whose conversion window has closed (before the
    /// earliest occurrence still waiting to be stored, when the reports have a freshness
    /// source: [`FreshnessSource::earliest_waiting_occurrence`]).
    ///
    /// [`FreshnessSource::earliest_waiting_occurrence`]: crate::report::FreshnessSource::earliest_waiting_occurrence
    pub dropped: u64,
    /// Customers who stopped at this step but can still convert: their window is open, or
    /// closed after the earliest occurrence still waiting to be stored, so a conversion may
    /// not be stored yet.
    pub in_progress: u64,
    /// Median time to this step among customers who reached it, each measured from the
    /// earliest step-1 event from which they reached it (a customer who viewed a page 23 hours
    /// before registering, and again an hour before, counts 23 hours when the conversion
    /// window spans them); the lower median for an even count, in whole microseconds (in JSON
    /// too); `None` for step 1 and when nobody reached it.
    #[serde(default, with = "crate::time::micros::option")]
    pub median_time_to_convert: Option<TimeDelta>,
}

/// A funnel report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunnelReport {
    /// The request it answers.
    pub request: FunnelRequest,
    /// The span it covers.
    pub period: ReportPeriod,
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Every event accepted before this instant is included (see
    /// [`FreshnessSource`](crate::report::FreshnessSource)); `None` when the reports have no
    /// freshness source.
    #[serde(default)]
    pub complete_up_to: Option<Timestamp>,
    /// One entry per step; `reached` never increases from one step to the next.
    pub steps: Vec<FunnelStep>,
}

/// Where one customer got to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    /// 1-based furthest step.
    furthest: usize,
    /// Latest step-1 event.
    last_start: Timestamp,
}

/// Buffers [`progress`] reuses from one journey to the next (one entry per step).
#[derive(Debug)]
struct Scratch {
    /// Per step, where the search for its next event stands.
    cursor: Vec<usize>,
    /// Time from step 1 to step `j` (index `j - 1`) for one step-1 event.
    times: Vec<Option<TimeDelta>>,
    /// The same for the earliest step-1 event reaching `j`: the journey's answer.
    best_times: Vec<Option<TimeDelta>>,
}

impl Scratch {
    fn new(k: usize) -> Self {
        Self {
            cursor: vec![0; k],
            times: vec![None; k],
            best_times: vec![None; k],
        }
    }
}

/// Evaluates a funnel from the store's [`FunnelInput`]: a pure function of its arguments.
///
/// `open` says whether a customer whose latest step-1 event is at `t` can still convert:
/// callers pass `t + conversion_window >= now && now <= window.to`.
///
/// One entry per step; no steps give no entries, whatever `input` holds (a funnel of no steps
/// has nobody entering it).
pub fn evaluate(
    steps: &[String],
    input: &FunnelInput,
    conversion_window: TimeDelta,
    open: impl Fn(Timestamp) -> bool,
) -> Vec<FunnelStep> {
    let k = steps.len();
    // Every per-step count below is indexed by step, step 1 (`[0]`) always.
    if k == 0 {
        return Vec::new();
    }
    let mut reached = vec![0_u64; k];
    let mut in_progress = vec![0_u64; k];
    let mut durations: Vec<Vec<TimeDelta>> = vec![Vec::new(); k];
    let mut journey_entries = 0_u64;
    let mut scratch = Scratch::new(k);
    for journey in &input.journeys {
        let Some(p) = progress(journey, conversion_window, &mut scratch) else {
            continue;
        };
        journey_entries += 1;
        for j in 0..p.furthest {
            reached[j] += 1;
            if let Some(d) = scratch.best_times[j] {
                durations[j].push(d);
            }
        }
        if p.furthest < k && open(p.last_start) {
            in_progress[p.furthest - 1] += 1;
        }
    }
    // Customers without any step-2 event stop at step 1; the store counted the open ones.
    reached[0] = input.entered.max(journey_entries);
    if k > 1 {
        in_progress[0] += input.waiting;
    }
    (0..k)
        .map(|j| {
            let stopped = if j + 1 < k {
                reached[j] - reached[j + 1]
            } else {
                0
            };
            let previous = if j == 0 { reached[0] } else { reached[j - 1] };
            FunnelStep {
                name: steps[j].clone(),
                reached: reached[j],
                conversion_from_first: ratio(reached[j], reached[0]),
                conversion_from_previous: ratio(reached[j], previous),
                dropped: stopped - in_progress[j].min(stopped),
                in_progress: in_progress[j].min(stopped),
                median_time_to_convert: lower_median(&mut durations[j]),
            }
        })
        .collect()
}

/// Follows, from every step-1 event, the earliest continuation (see [`follow`]). `None` when
/// the journey holds no step-1 event; otherwise the times of the earliest step-1 event reaching
/// each step are left in `scratch.best_times`. Once a step-1 event completes the funnel, later
/// ones can change nothing but the latest start.
fn progress(
    journey: &Journey,
    conversion_window: TimeDelta,
    scratch: &mut Scratch,
) -> Option<Progress> {
    let events = &journey.events;
    let k = scratch.cursor.len();
    scratch.cursor.fill(0);
    scratch.best_times.fill(None);
    let mut best: Option<Progress> = None;
    for (start, first) in events.iter().enumerate().filter(|(_, e)| e.step == 0) {
        let furthest = follow(
            events,
            start,
            conversion_window,
            &mut scratch.cursor,
            &mut scratch.times,
        );
        let entry = best.get_or_insert(Progress {
            furthest: 0,
            last_start: first.at,
        });
        entry.last_start = entry.last_start.max(first.at);
        entry.furthest = entry.furthest.max(furthest);
        for (slot, &t) in scratch.best_times.iter_mut().zip(scratch.times.iter()) {
            if slot.is_none() {
                *slot = t;
            }
        }
        if entry.furthest == k {
            let later_starts = events[start + 1..].iter().filter(|e| e.step == 0);
            if let Some(latest) = later_starts.map(|e| e.at).max() {
                entry.last_start = entry.last_start.max(latest);
            }
            break;
        }
    }
    best
}

/// Follows the earliest continuation of the step-1 event at `start`: the first step-2 event
/// after it, then the first step-3 event after that, … while each lies within the conversion
/// window of it. Returns the (1-based) furthest step reached and leaves the time from the start
/// to each step reached in `times` (`None` elsewhere).
///
/// `cursor` holds, per step, where the search for its next event stands. A later step-1 event
/// never continues earlier than an earlier one does, step by step, so when callers pass their
/// starts in order every cursor only moves forward: a journey costs one pass per step.
fn follow(
    events: &[StepEvent],
    start: usize,
    conversion_window: TimeDelta,
    cursor: &mut [usize],
    times: &mut [Option<TimeDelta>],
) -> usize {
    let first = events[start];
    let deadline = first
        .at
        .checked_add(conversion_window)
        .unwrap_or(Timestamp::MAX);
    let mut at = start;
    times.fill(None);
    let mut furthest = 1;
    for (s, next) in cursor.iter_mut().enumerate().skip(1) {
        *next = (*next).max(at + 1);
        while events.get(*next).is_some_and(|e| e.step != s) {
            *next += 1;
        }
        match events.get(*next) {
            Some(e) if e.at <= deadline => {
                at = *next;
                furthest = s + 1;
                times[s] = Some(e.at.since(first.at));
            }
            _ => break,
        }
    }
    furthest
}

impl Journey {
    /// Keeps of the step-1 events only those that decide the funnel: the latest, and for each
    /// step the customer reaches, the earliest step-1 event from which it is reached. Every
    /// event of the later steps stays. What [`evaluate`] answers is unchanged, since it reads
    /// of the step-1 events only how far each gets (the furthest is reached from one of those
    /// kept), the time to each step from the earliest one reaching it, and the latest one.
    ///
    /// `steps` is the funnel's number of steps; `events` must be in (occurred_at, id) order.
    ///
    /// # Examples
    /// ```
    /// use chrono::TimeDelta;
    /// use engagement_core::{CustomerId, Journey, StepEvent, Timestamp};
    ///
    /// let ev = |at, step| StepEvent { at: Timestamp::from_micros(at), step };
    /// let mut journey = Journey {
    ///     customer: CustomerId(1),
    ///     events: vec![ev(1, 0), ev(2, 0), ev(3, 1), ev(4, 0), ev(5, 0)],
    /// };
    /// journey.retain_decisive(2, TimeDelta::microseconds(10));
    /// // The first step-1 event reaches step 2; the last is the latest start.
    /// assert_eq!(journey.events, vec![ev(1, 0), ev(3, 1), ev(5, 0)]);
    /// ```
    pub fn retain_decisive(&mut self, steps: usize, conversion_window: TimeDelta) {
        let events = &self.events;
        let latest = events.iter().rposition(|e| e.step == 0);
        let mut cursor = vec![0; steps.max(1)];
        let mut times = vec![None; steps.max(1)];
        let mut reached = 1;
        let mut keep = vec![false; events.len()];
        for (i, event) in events.iter().enumerate() {
            keep[i] = if event.step != 0 || Some(i) == latest {
                true
            } else if reached < steps {
                let furthest = follow(events, i, conversion_window, &mut cursor, &mut times);
                let decides = furthest > reached;
                reached = reached.max(furthest);
                decides
            } else {
                false
            };
        }
        let mut kept = keep.into_iter();
        self.events.retain(|_| kept.next().unwrap_or(false));
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn lower_median(values: &mut [TimeDelta]) -> Option<TimeDelta> {
    if values.is_empty() {
        return None;
    }
    let mid = (values.len() - 1) / 2;
    Some(*values.select_nth_unstable(mid).1)
}

/// Whether a conversion may still come inside the report's `window`: it reaches the present
/// (a lookback ends exactly at `now`, and nothing after `now` has happened yet), or it ends
/// after `known_up_to`, the last instant the store is known complete up to (`now`, or the
/// earliest occurrence still waiting in the ingestion pipeline before it), so its last events
/// may not be stored yet.
pub(crate) fn may_still_convert(
    now: Timestamp,
    known_up_to: Timestamp,
    window: TimeWindow,
) -> bool {
    now <= window.to || known_up_to < window.to
}

/// Whether a customer whose latest step-1 event is at `last_start` can still convert as far as
/// the report knows: [`may_still_convert`] in the report's window, and the conversion window
/// was not over at `known_up_to` (a conversion inside a window that closed after it may not be
/// stored yet).
pub(crate) fn is_open(
    last_start: Timestamp,
    conversion_window: TimeDelta,
    now: Timestamp,
    known_up_to: Timestamp,
    window: TimeWindow,
) -> bool {
    may_still_convert(now, known_up_to, window)
        && last_start
            .checked_add(conversion_window)
            .is_none_or(|end| end >= known_up_to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{CustomerId, EventId};

    fn t(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    /// A step event with the id that orders it within its microsecond.
    fn ev(at: i64, id: &str, step: usize) -> (Timestamp, EventId, usize) {
        (t(at), EventId::from(id), step)
    }

    /// A journey in (at, id) order, as a store hands it over.
    fn journey(customer: i64, mut events: Vec<(Timestamp, EventId, usize)>) -> Journey {
        events.sort();
        Journey {
            customer: CustomerId(customer),
            events: events
                .into_iter()
                .map(|(at, _, step)| StepEvent { at, step })
                .collect(),
        }
    }

    fn steps3() -> Vec<String> {
        vec!["A".into(), "B".into(), "C".into()]
    }

    fn reached(report: &[FunnelStep]) -> Vec<u64> {
        report.iter().map(|s| s.reached).collect()
    }

    const W: i64 = 100;

    fn run(input: &FunnelInput) -> Vec<FunnelStep> {
        evaluate(&steps3(), input, TimeDelta::microseconds(W), |_| false)
    }

    #[test]
    fn steps_must_follow_in_order_within_the_window() {
        let input = FunnelInput {
            entered: 4,
            journeys: vec![
                journey(1, vec![ev(0, "a", 0), ev(10, "b", 1), ev(20, "c", 2)]),
                // B before A does not count.
                journey(2, vec![ev(5, "b", 1), ev(10, "a", 0)]),
                // C beyond the conversion window.
                journey(3, vec![ev(0, "a", 0), ev(50, "b", 1), ev(101, "c", 2)]),
            ],
            waiting: 0,
        };
        let r = run(&input);
        assert_eq!(reached(&r), vec![4, 2, 1]);
        assert_eq!(
            r[1].median_time_to_convert,
            Some(TimeDelta::microseconds(10))
        );
        assert_eq!(
            r[2].median_time_to_convert,
            Some(TimeDelta::microseconds(20))
        );
        assert_eq!(r[0].dropped, 2);
        assert_eq!(r[1].dropped, 1);
        assert!((r[1].conversion_from_first - 0.5).abs() < 1e-12);
        assert!((r[2].conversion_from_previous - 0.5).abs() < 1e-12);
    }

    #[test]
    fn same_microsecond_steps_are_ordered_by_id() {
        let input = FunnelInput {
            entered: 2,
            journeys: vec![
                journey(1, vec![ev(7, "1", 0), ev(7, "2", 1), ev(7, "3", 2)]),
                journey(2, vec![ev(7, "3", 0), ev(7, "2", 1)]),
            ],
            waiting: 0,
        };
        assert_eq!(reached(&run(&input)), vec![2, 1, 1]);
    }

    #[test]
    fn a_later_start_can_complete_what_an_earlier_one_could_not() {
        // The first A is too early for C; the second A converts fully.
        let input = FunnelInput {
            entered: 1,
            journeys: vec![journey(
                1,
                vec![
                    ev(0, "a1", 0),
                    ev(90, "b1", 1),
                    ev(150, "a2", 0),
                    ev(160, "b2", 1),
                    ev(170, "c", 2),
                ],
            )],
            waiting: 0,
        };
        let r = run(&input);
        assert_eq!(reached(&r), vec![1, 1, 1]);
        // Step 2 is first reached from a1 (90 µs); step 3 only from a2 (20 µs).
        assert_eq!(
            r[1].median_time_to_convert,
            Some(TimeDelta::microseconds(90))
        );
        assert_eq!(
            r[2].median_time_to_convert,
            Some(TimeDelta::microseconds(20))
        );
    }

    #[test]
    fn open_windows_are_in_progress_not_dropped() {
        let input = FunnelInput {
            entered: 5,
            journeys: vec![
                journey(1, vec![ev(0, "a", 0), ev(10, "b", 1)]),
                journey(2, vec![ev(500, "a", 0), ev(510, "b", 1)]),
            ],
            waiting: 2,
        };
        let r = evaluate(&steps3(), &input, TimeDelta::microseconds(W), |start| {
            start >= t(400)
        });
        assert_eq!(reached(&r), vec![5, 2, 0]);
        assert_eq!((r[0].in_progress, r[0].dropped), (2, 1));
        assert_eq!((r[1].in_progress, r[1].dropped), (1, 1));
        assert_eq!((r[2].in_progress, r[2].dropped), (0, 0));
    }

    #[test]
    fn empty_input_reports_zeros() {
        let r = run(&FunnelInput::default());
        assert_eq!(reached(&r), vec![0, 0, 0]);
        assert_eq!(r[0].conversion_from_first, 0.0);
        assert_eq!(r[1].median_time_to_convert, None);
    }

    #[test]
    fn requests_are_validated() {
        let ws = WorkspaceId::new("w").unwrap();
        assert!(FunnelRequest::new(ws.clone()).validate().is_ok());
        let mut r = FunnelRequest::new(ws);
        r.steps = vec!["A".into()];
        assert!(r.validate().is_err());
        r.steps = vec!["A".into(), "A".into()];
        assert!(r.validate().is_err());
        r.steps = vec!["A".into(), " ".into()];
        assert!(r.validate().is_err());
        r.steps = vec!["A".into(), "B".into()];
        r.conversion_window = TimeDelta::zero();
        assert!(r.validate().is_err());
        // Longer than 64-bit microseconds hold: refused, not clamped (a report's JSON carries
        // it in microseconds).
        r.conversion_window = TimeDelta::MAX;
        assert!(matches!(
            r.validate(),
            Err(Error::InvalidQuery {
                field: "conversion_window",
                ..
            })
        ));
        r.conversion_window = TimeDelta::microseconds(i64::MAX);
        assert!(r.validate().is_ok());
        // A fraction of a microsecond is refused, not dropped.
        r.conversion_window = TimeDelta::nanoseconds(500);
        assert!(matches!(
            r.validate(),
            Err(Error::InvalidQuery {
                field: "conversion_window",
                ..
            })
        ));
        r.conversion_window = TimeDelta::seconds(1) + TimeDelta::nanoseconds(1_500);
        assert!(r.validate().is_err());
    }

    #[test]
    fn openness_needs_both_the_window_and_the_report_end() {
        let window = TimeWindow {
            from: t(0),
            to: t(1_000),
        };
        let w = TimeDelta::microseconds(100);
        assert!(is_open(t(900), w, t(950), t(950), window));
        assert!(!is_open(t(800), w, t(950), t(950), window));
        assert!(
            is_open(t(900), w, t(1_000), t(1_000), window),
            "a window ending now reaches the present"
        );
        assert!(
            !is_open(t(950), w, t(1_001), t(1_001), window),
            "a window in the past"
        );
        assert!(
            is_open(t(800), w, t(950), t(890), window),
            "a conversion window closing after what is known complete"
        );
        assert!(
            is_open(t(950), w, t(1_001), t(990), window),
            "a past window ending after what is known complete"
        );
    }

    mod brute_force {
        use super::*;
        use proptest::prelude::*;

        /// Every ordered chain, tried exhaustively.
        fn reaches(events: &[StepEvent], target: usize, w: i64) -> bool {
            fn go(
                events: &[StepEvent],
                from: usize,
                step: usize,
                t1: i64,
                target: usize,
                w: i64,
            ) -> bool {
                if step > target {
                    return true;
                }
                events.iter().enumerate().skip(from).any(|(i, e)| {
                    e.step == step
                        && e.at.as_micros() <= t1 + w
                        && go(events, i + 1, step + 1, t1, target, w)
                })
            }
            events
                .iter()
                .enumerate()
                .any(|(i, e)| e.step == 0 && go(events, i + 1, 1, e.at.as_micros(), target, w))
        }

        /// The earliest continuation of every step-1 event, followed literally (a fresh search
        /// for each step of each start): (furthest step, times of the earliest start reaching
        /// each step, latest start).
        fn literal(
            events: &[StepEvent],
            k: usize,
            w: TimeDelta,
        ) -> Option<(usize, Vec<Option<TimeDelta>>, Timestamp)> {
            let mut best: Option<(usize, Vec<Option<TimeDelta>>, Timestamp)> = None;
            for (start, first) in events.iter().enumerate().filter(|(_, e)| e.step == 0) {
                let (mut at, mut furthest, mut times) = (start, 1, vec![None; k]);
                for (s, time) in times.iter_mut().enumerate().skip(1) {
                    match (at + 1..events.len()).find(|&p| events[p].step == s) {
                        Some(p) if events[p].at <= first.at.checked_add(w).unwrap() => {
                            at = p;
                            furthest = s + 1;
                            *time = Some(events[p].at.since(first.at));
                        }
                        _ => break,
                    }
                }
                let (f, t, last) = best.get_or_insert((0, vec![None; k], first.at));
                *f = (*f).max(furthest);
                *last = (*last).max(first.at);
                for (slot, x) in t.iter_mut().zip(times) {
                    if slot.is_none() {
                        *slot = x;
                    }
                }
            }
            best
        }

        /// A journey of up to 40 events over 60 µs, its number of steps (2 to 4) and a
        /// conversion window of 1 to 29 µs.
        fn arb_case() -> impl Strategy<Value = (Journey, usize, TimeDelta)> {
            (
                proptest::collection::vec((0_i64..60, 0_usize..4), 0..40),
                2_usize..=4,
                1_i64..30,
            )
                .prop_map(|(raw, k, w)| {
                    let events: Vec<(Timestamp, EventId, usize)> = raw
                        .iter()
                        .enumerate()
                        .map(|(i, (at, step))| ev(*at, &format!("{i:03}"), *step % k))
                        .collect();
                    (journey(1, events), k, TimeDelta::microseconds(w))
                })
        }

        proptest! {
            #[test]
            fn forward_cursors_follow_the_definition((j, k, w) in arb_case()) {
                let mut scratch = Scratch::new(k);
                let got = progress(&j, w, &mut scratch)
                    .map(|p| (p.furthest, scratch.best_times.clone(), p.last_start));
                prop_assert_eq!(got, literal(&j.events, k, w));
            }
        }

        proptest! {
            #[test]
            fn the_decisive_step_one_events_decide_as_all_of_them_do((full, k, w) in arb_case()) {
                let mut decisive = full.clone();
                decisive.retain_decisive(k, w);
                prop_assert_eq!(literal(&decisive.events, k, w), literal(&full.events, k, w));
                let later = |j: &Journey| j.events.iter().filter(|e| e.step != 0).count();
                prop_assert_eq!(later(&decisive), later(&full));
                // At most one step-1 event a step reached, plus the latest.
                let starts = decisive.events.len() - later(&decisive);
                prop_assert!(starts <= k);
                let mut again = decisive.clone();
                again.retain_decisive(k, w);
                prop_assert_eq!(again, decisive);
            }
        }

        proptest! {
            #[test]
            fn greedy_equals_exhaustive(raw in proptest::collection::vec((0_i64..40, 0_usize..3), 0..12)) {
                let events: Vec<(Timestamp, EventId, usize)> = raw
                    .iter()
                    .enumerate()
                    .map(|(i, (at, step))| ev(*at, &format!("{i:03}"), *step))
                    .collect();
                let j = journey(1, events.clone());
                let has_start = j.events.iter().any(|e| e.step == 0);
                let input = FunnelInput { entered: u64::from(has_start), journeys: vec![j.clone()], waiting: 0 };
                let r = evaluate(&steps3(), &input, TimeDelta::microseconds(10), |_| false);
                for (target, step) in r.iter().enumerate().skip(1) {
                    let want = u64::from(reaches(&j.events, target, 10));
                    prop_assert_eq!(step.reached, want, "step {}", target + 1);
                }
                prop_assert!(r.windows(2).all(|p| p[0].reached >= p[1].reached));
            }
        }
    }
}
