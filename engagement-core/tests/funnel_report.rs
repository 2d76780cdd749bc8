//! The funnel report end to end over the reference store, against a brute-force evaluation of
//! its definition over the raw events: reached, dropped, in progress, conversions and medians.

use std::sync::Arc;

use chrono::TimeDelta;
use engagement_core::csv::{CsvOptions, CsvReport};
use engagement_core::report::{FreshnessSource, FunnelReport, FunnelRequest, FunnelStep, Reports};
use engagement_core::{
    Actor, CustomerId, Event, EventStore, FixedClock, RangeSpec, ReferenceStore, ReportZone, Role,
    Timestamp, Viewer, WorkspaceId,
};
use proptest::prelude::*;

const BASE: i64 = 1_790_000_000_000_000;
const NAMES: [&str; 9] = ["A", "B", "C", "D", "E", "F", "G", "H", "Other"];

fn ws() -> WorkspaceId {
    WorkspaceId::new("acme").unwrap()
}

fn at(offset: i64) -> Timestamp {
    Timestamp::from_micros(BASE + offset)
}

/// A funnel report over `events` at `now`, for steps `steps` over `[from, to)`.
fn report(
    events: &[Event],
    steps: &[&str],
    window: (i64, i64),
    conversion_window: TimeDelta,
    now: i64,
) -> FunnelReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(ReferenceStore::default());
        if !events.is_empty() {
            store.append(&ws(), events).await.unwrap();
        }
        let reports = Reports::new(store)
            .with_clock(Arc::new(FixedClock::new(at(now))))
            .with_zone(ReportZone::utc());
        let request = FunnelRequest::new(ws())
            .with_steps(steps.iter().copied())
            .with_range(RangeSpec::Between {
                from: at(window.0),
                to: at(window.1),
            })
            .with_conversion_window(conversion_window);
        reports
            .funnel(&Viewer::new(ws(), Role::Administrator), &request)
            .await
            .unwrap()
    })
}

/// One customer's step events as (at, id, step), in (at, id) order.
type Path = Vec<(i64, String, usize)>;

/// Every chain from the step-1 event at `start` through steps `2..`, tried exhaustively: per
/// step, the earliest time (from `start`) at which some chain reaches it.
fn chains(path: &Path, start: usize, k: usize, window: i64) -> Vec<Option<i64>> {
    fn go(
        path: &Path,
        last: usize,
        step: usize,
        deadline: i64,
        t1: i64,
        best: &mut Vec<Option<i64>>,
    ) {
        if step >= best.len() {
            return;
        }
        for (i, (at, _, s)) in path.iter().enumerate().skip(last + 1) {
            if *s == step && *at <= deadline {
                let d = at - t1;
                best[step] = Some(best[step].map_or(d, |b: i64| b.min(d)));
                go(path, i, step + 1, deadline, t1, best);
            }
        }
    }
    let mut best = vec![None; k];
    let t1 = path[start].0;
    go(path, start, 1, t1 + window, t1, &mut best);
    best
}

/// The funnel's definition, literally: per step (reached, dropped, in progress, durations).
fn brute(
    events: &[Event],
    steps: &[&str],
    window: (i64, i64),
    conversion_window: i64,
    now: i64,
) -> Vec<(u64, u64, u64, Vec<i64>)> {
    let k = steps.len();
    let mut out = vec![(0, 0, 0, Vec::new()); k];
    let mut customers: Vec<CustomerId> = events.iter().map(|e| e.customer).collect();
    customers.sort();
    customers.dedup();
    for customer in customers {
        let mut path: Path = events
            .iter()
            .filter(|e| e.customer == customer && e.actor == Actor::Customer)
            .map(|e| (e.occurred_at.as_micros() - BASE, e))
            .filter(|(t, _)| (window.0..window.1).contains(t))
            .filter_map(|(t, e)| {
                let step = steps.iter().position(|s| *s == e.name)?;
                Some((t, e.id.as_str().to_owned(), step))
            })
            .collect();
        path.sort();
        let starts: Vec<usize> = (0..path.len()).filter(|&i| path[i].2 == 0).collect();
        let Some(&latest) = starts.last() else {
            continue;
        };
        // Per step, the time from the earliest step-1 event reaching it.
        let mut times: Vec<Option<i64>> = vec![None; k];
        times[0] = Some(0);
        for &s in &starts {
            for (slot, t) in times.iter_mut().zip(chains(&path, s, k, conversion_window)) {
                if slot.is_none() {
                    *slot = t;
                }
            }
        }
        let furthest = times.iter().take_while(|t| t.is_some()).count();
        for (j, t) in times.iter().enumerate().take(furthest) {
            out[j].0 += 1;
            if j > 0 {
                out[j].3.push(t.unwrap());
            }
        }
        if furthest < k {
            let open = now <= window.1 && path[latest].0 + conversion_window >= now;
            if open {
                out[furthest - 1].2 += 1;
            } else {
                out[furthest - 1].1 += 1;
            }
        }
    }
    out
}

fn lower_median(mut values: Vec<i64>) -> Option<TimeDelta> {
    values.sort_unstable();
    let mid = values.len().checked_sub(1)? / 2;
    Some(TimeDelta::microseconds(values[mid]))
}

type Fields = (String, u64, f64, f64, u64, u64, Option<TimeDelta>);

fn fields(step: &FunnelStep) -> Fields {
    (
        step.name.clone(),
        step.reached,
        step.conversion_from_first,
        step.conversion_from_previous,
        step.dropped,
        step.in_progress,
        step.median_time_to_convert,
    )
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Random events of 4 customers over 60 µs (a step name, another name, now and then staff's),
/// 2 to 8 steps, a report window and `now`, and a conversion window of 1 to 29 µs.
fn arb_case() -> impl Strategy<Value = (Vec<Event>, usize, (i64, i64), i64, i64)> {
    (
        proptest::collection::vec(
            (1_i64..5, 0_usize..9, 0_i64..60, 0_u16..1000, 0_u8..10),
            0..60,
        ),
        2_usize..=8,
        (0_i64..30, 1_i64..60),
        1_i64..30,
        0_i64..100,
    )
        .prop_map(|(raw, k, (from, len), w, now)| {
            let events = raw
                .into_iter()
                .enumerate()
                .filter(|(_, (_, _, t, _, _))| *t < now)
                .map(|(i, (customer, name, t, key, actor))| {
                    let mut e = Event::new(
                        format!("{key:03}-{i:02}"),
                        CustomerId(customer),
                        NAMES[name],
                        at(t),
                    );
                    if actor == 0 {
                        e.actor = Actor::Staff;
                    }
                    e
                })
                .collect();
            (events, k, (from, from + len), w, now)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_report_follows_the_definition((events, k, window, w, now) in arb_case()) {
        let steps = &NAMES[..k];
        let got = report(&events, steps, window, TimeDelta::microseconds(w), now);
        let want = brute(&events, steps, window, w, now);
        prop_assert_eq!(got.steps.len(), k);
        let r0 = want[0].0;
        for (j, (step, (reached, dropped, in_progress, times))) in
            got.steps.iter().zip(want).enumerate()
        {
            let previous = if j == 0 { r0 } else { got.steps[j - 1].reached };
            let expected = (
                steps[j].to_owned(),
                reached,
                ratio(reached, r0),
                ratio(reached, previous),
                dropped,
                in_progress,
                lower_median(times),
            );
            prop_assert_eq!(fields(step), expected, "step {}", j + 1);
        }
        // The JSON round trip gives the report back.
        let json = serde_json::to_string(&got).unwrap();
        let back: FunnelReport = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, got);
    }
}

#[test]
fn an_empty_funnel_serializes_and_writes_zeros() {
    let got = report(&[], &["A", "B"], (0, 10), TimeDelta::microseconds(5), 20);
    let json = serde_json::to_string(&got).unwrap();
    let back: FunnelReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, got);
    let csv = String::from_utf8(got.write_csv(Vec::new(), CsvOptions::default()).unwrap()).unwrap();
    assert!(!csv.contains("NaN") && !csv.contains("inf"), "{csv}");
}

#[test]
fn evaluating_a_funnel_of_no_steps_does_not_panic() {
    let got = std::panic::catch_unwind(|| {
        engagement_core::report::evaluate_funnel(
            &[],
            &engagement_core::FunnelInput::default(),
            TimeDelta::days(7),
            |_| false,
        )
    });
    assert!(
        got.as_ref().is_ok_and(Vec::is_empty),
        "evaluate_funnel(&[], empty input) panicked"
    );
    // Nor with an input that has customers in it (a step-1 event, someone waiting).
    let input = engagement_core::FunnelInput {
        entered: 2,
        journeys: vec![engagement_core::Journey {
            customer: CustomerId(1),
            events: vec![engagement_core::StepEvent { at: at(0), step: 0 }],
        }],
        waiting: 1,
    };
    let got = std::panic::catch_unwind(|| {
        engagement_core::report::evaluate_funnel(&[], &input, TimeDelta::days(7), |_| true)
    });
    assert!(
        got.as_ref().is_ok_and(Vec::is_empty),
        "evaluate_funnel(&[], a journey) panicked"
    );
}

#[test]
fn reports_of_every_range_kind_round_trip_through_json() {
    use engagement_core::{CalendarPreset, Lookback};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for zone in ["UTC", "America/New_York", "Asia/Kolkata"] {
        for range in [
            RangeSpec::preset(CalendarPreset::LastDays(30)),
            RangeSpec::last(Lookback::Days(30)),
            RangeSpec::Between {
                from: at(0),
                to: at(10),
            },
        ] {
            let got = runtime.block_on(async {
                let store = Arc::new(ReferenceStore::default());
                let reports = Reports::new(store)
                    .with_clock(Arc::new(FixedClock::new(at(20))))
                    .with_zone(ReportZone::parse(zone).unwrap());
                let mut request = FunnelRequest::new(ws());
                request.range = range;
                // The longest window a request takes, as whole microseconds in the JSON.
                request.conversion_window = TimeDelta::microseconds(i64::MAX);
                reports
                    .funnel(&Viewer::new(ws(), Role::Administrator), &request)
                    .await
                    .unwrap()
            });
            let json = serde_json::to_string(&got).unwrap();
            let back: FunnelReport = serde_json::from_str(&json).unwrap();
            assert_eq!(back, got, "{json}");
        }
    }
}

/// The conversion window's end is inclusive, for a step (`t ≤ t1 + window`) and for being in
/// progress (`now ≤ t1 + window`); a window in the past has no one in progress, and a step after
/// the window's end is not counted.
#[test]
fn the_conversion_window_end_is_inclusive() {
    let ev = |id: &str, customer, name, t| Event::new(id, CustomerId(customer), name, at(t));
    let events = vec![
        // Step 2 exactly at t1 + 10 µs counts; 1 µs later does not.
        ev("1a", 1, "A", 0),
        ev("1b", 1, "B", 10),
        ev("2a", 2, "A", 0),
        ev("2b", 2, "B", 11),
        // Step 2 in the same microsecond as step 1 counts only with a larger id.
        ev("3b", 3, "A", 5),
        ev("3c", 3, "B", 5),
        ev("4b", 4, "A", 5),
        ev("4a", 4, "B", 5),
        // Starts at 20: open until 30 inclusive.
        ev("5a", 5, "A", 20),
    ];
    let steps = ["A", "B"];
    let w = TimeDelta::microseconds(10);
    let counts = |r: &FunnelReport| {
        r.steps
            .iter()
            .map(|s| (s.reached, s.dropped, s.in_progress))
            .collect::<Vec<_>>()
    };
    // A window ending now, at 30: customer 5 can still convert.
    let r = report(&events, &steps, (0, 30), w, 30);
    assert_eq!(counts(&r), [(5, 2, 1), (2, 0, 0)]);
    // At 31 their window has closed.
    let r = report(&events, &steps, (0, 31), w, 31);
    assert_eq!(counts(&r), [(5, 3, 0), (2, 0, 0)]);
    // A window that ended before now: nothing in it can still convert.
    let r = report(&events, &steps, (0, 25), w, 26);
    assert_eq!(counts(&r), [(5, 3, 0), (2, 0, 0)]);
    // Step 2 after the window's end is not counted.
    let r = report(&events, &steps, (0, 10), w, 30);
    assert_eq!(counts(&r), [(4, 3, 0), (1, 0, 0)]);
    assert_eq!(r.steps[1].median_time_to_convert, Some(TimeDelta::zero()));
}

/// What is stored is complete only up to the ingestion watermark: a customer whose conversion
/// window closed after it may still have converted (the event not stored yet), so they are in
/// progress, not dropped; once the watermark passes the window's end they are dropped. The
/// same holds for a report window in the past that the watermark has not passed.
#[test]
fn a_window_closing_after_the_watermark_is_in_progress() {
    #[derive(Debug)]
    struct Watermark(Timestamp);
    impl FreshnessSource for Watermark {
        fn complete_up_to(&self) -> Timestamp {
            self.0
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Step 1 at 20 with 10 µs to convert: the window closes at 30; now is 31 (or `now`).
    let report_at = |now: i64, to: i64, watermark: Option<i64>| {
        runtime.block_on(async {
            let store = Arc::new(ReferenceStore::default());
            let start = Event::new("a", CustomerId(1), "A", at(20));
            store.append(&ws(), &[start]).await.unwrap();
            let mut reports = Reports::new(store).with_clock(Arc::new(FixedClock::new(at(now))));
            if let Some(w) = watermark {
                reports = reports.with_freshness(Arc::new(Watermark(at(w))));
            }
            let request = FunnelRequest::new(ws())
                .with_steps(["A", "B"])
                .with_range(RangeSpec::Between {
                    from: at(0),
                    to: at(to),
                })
                .with_conversion_window(TimeDelta::microseconds(10));
            let step = &reports
                .funnel(&Viewer::new(ws(), Role::Administrator), &request)
                .await
                .unwrap()
                .steps[0];
            (step.dropped, step.in_progress)
        })
    };
    let report_to = |to: i64, watermark: Option<i64>| report_at(31, to, watermark);
    let counts = |watermark| report_to(31, watermark);
    assert_eq!(counts(None), (1, 0), "closed before now");
    assert_eq!(counts(Some(29)), (0, 1), "closed after what is known");
    assert_eq!(
        counts(Some(30)),
        (0, 1),
        "the window's last instant is not known yet"
    );
    assert_eq!(counts(Some(31)), (1, 0), "known past the window's end");
    // The report's window ends at 25, before now: a conversion in [watermark, 25) counts.
    assert_eq!(report_to(25, None), (1, 0), "a past window, all known");
    assert_eq!(
        report_to(25, Some(22)),
        (0, 1),
        "a past window the watermark has not passed"
    );
    assert_eq!(
        report_to(25, Some(25)),
        (1, 0),
        "a past window the watermark reached"
    );
    // A watermark ahead of the report's clock (another clock, or a host's own source) knows
    // nothing the clock has not reached: at 25 the window closing at 30 is still open.
    assert_eq!(
        report_at(25, 25, Some(40)),
        (0, 1),
        "a watermark past now is read as now"
    );
}
