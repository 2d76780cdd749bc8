//! Property tests of the rules that need no store (issue 7, part 5): range specs, local days,
//! timestamp text, the CSV writer and its formula guard, and event validation. Each property is
//! a class of the bad inputs in `bad-inputs.md` (cases 1–3, 12–17, 19–21), fed random and
//! extreme values; none may panic.

use chrono::{Datelike, FixedOffset, NaiveDate, SecondsFormat, TimeDelta, TimeZone, Weekday};
use engagement_core::csv::{
    Cell, CsvOptions, CsvWriter, GUARD_PREFIX, guard_formula, needs_formula_guard, unguard_formula,
};
use engagement_core::{
    CalendarPreset, CustomerId, Error, Event, Limits, Lookback, RangeSpec, ReportZone, Timestamp,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

/// Zones with every kind of rule: none, DST in either hemisphere, a missing midnight
/// (Sao Paulo 2018), clocks falling back across midnight (St John's 1987–2010), half- and
/// quarter-hour offsets, half-hour DST (Lord Howe), ±12 h and more.
const ZONES: [&str; 11] = [
    "UTC",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Europe/Berlin",
];

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn arb_zone() -> impl Strategy<Value = ReportZone> {
    (select(ZONES.to_vec()), select(WEEKDAYS.to_vec())).prop_map(|(name, start)| {
        ReportZone::parse(name)
            .expect("a known zone")
            .with_week_start(start)
    })
}

/// Any instant, weighted towards plausible ones and the extremes.
fn arb_now() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        4 => (0_i64..4_102_444_800_000_000).prop_map(Timestamp::from_micros),
        1 => any::<i64>().prop_map(Timestamp::from_micros),
        1 => select(vec![Timestamp::MIN, Timestamp::MAX, Timestamp::EPOCH, Timestamp::from_micros(-1)]),
    ]
}

/// Any date chrono knows, weighted towards plausible ones and the extremes.
fn arb_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        4 => (0_i64..50_000).prop_map(|d| NaiveDate::from_ymd_opt(1970, 1, 1).expect("date") + TimeDelta::days(d)),
        1 => select(vec![NaiveDate::MIN, NaiveDate::MAX]),
        1 => (NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce())
            .prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).expect("in range")),
    ]
}

fn arb_spec() -> impl Strategy<Value = RangeSpec> {
    let lookback = prop_oneof![
        Just(Lookback::Minutes15),
        Just(Lookback::Minutes30),
        Just(Lookback::Minutes60),
        Just(Lookback::Hours24),
        Just(Lookback::Hours48),
        any::<u16>().prop_map(Lookback::Days),
    ];
    let preset = prop_oneof![
        Just(CalendarPreset::Today),
        Just(CalendarPreset::Yesterday),
        Just(CalendarPreset::ThisWeek),
        Just(CalendarPreset::ThisMonth),
        any::<u16>().prop_map(CalendarPreset::LastDays),
    ];
    prop_oneof![
        lookback.prop_map(RangeSpec::last),
        preset.prop_map(RangeSpec::preset),
        (
            proptest::option::of(arb_date()),
            proptest::option::of(arb_date())
        )
            .prop_map(|(from, to)| RangeSpec::Custom { from, to }),
        (arb_now(), arb_now()).prop_map(|(from, to)| RangeSpec::Between { from, to }),
    ]
}

/// How many local dates a resolved window covers.
fn local_days(zone: &ReportZone, from: Timestamp, to: Timestamp) -> i64 {
    let last = zone.date_of(Timestamp::from_micros(to.as_micros() - 1));
    (last - zone.date_of(from)).num_days() + 1
}

/// The checks of `custom_ranges_are_judged_in_local_days` for the range of `len` local dates
/// starting `first` days after 1971-01-01.
fn judge_custom_range(first: i64, len: i64, zone: &ReportZone) -> Result<(), TestCaseError> {
    let from = NaiveDate::from_ymd_opt(1971, 1, 1).expect("date") + TimeDelta::days(first);
    let to = from + TimeDelta::days(len - 1);
    let now = zone.day_start(to);
    let spec = RangeSpec::Custom {
        from: Some(from),
        to: Some(to),
    };
    match spec.resolve(now, zone, Some(28)) {
        Ok(window) => {
            prop_assert!(len <= 28);
            prop_assert_eq!(window.from, zone.day_start(from));
            prop_assert_eq!(window.to, zone.day_end(to));
            // A local date can be skipped (Kiritimati's 1994-12-31 has no instant): the
            // dates the window's edges fall on are the range's own where those exist.
            let exists = |date: NaiveDate| zone.day_start(date) < zone.day_end(date);
            if exists(from) {
                prop_assert_eq!(zone.date_of(window.from), from);
            }
            if exists(to) {
                prop_assert_eq!(
                    zone.date_of(Timestamp::from_micros(window.to.as_micros() - 1)),
                    to
                );
            }
            if exists(to + TimeDelta::days(1)) {
                prop_assert_eq!(zone.date_of(window.to), to + TimeDelta::days(1));
            }
        }
        Err(e @ Error::RangeTooLong { .. }) => {
            prop_assert!(len > 28);
            prop_assert!(
                e.to_string()
                    .starts_with("Date Range must be less than 4 weeks"),
                "{e}"
            );
        }
        Err(other) => prop_assert!(false, "{other:?}"),
    }
    let backwards = RangeSpec::Custom {
        from: Some(to + TimeDelta::days(1)),
        to: Some(from),
    };
    let refused = matches!(
        backwards.resolve(now, zone, Some(28)),
        Err(Error::InvalidRange { .. })
    );
    prop_assert!(refused, "from after to must be InvalidRange");
    Ok(())
}

/// What the property found (proptest shrank it to this): Kiritimati skipped 1994-12-31, so a
/// custom range of that date alone is an empty window at the start of 1995-01-01.
#[test]
fn a_custom_range_of_a_skipped_date_is_empty() {
    let zone = ReportZone::parse("Pacific/Kiritimati").expect("a known zone");
    let skipped = NaiveDate::from_ymd_opt(1994, 12, 31).expect("date");
    let first = (skipped - NaiveDate::from_ymd_opt(1971, 1, 1).expect("date")).num_days();
    judge_custom_range(first, 1, &zone).expect("the checks hold");
    let spec = RangeSpec::Custom {
        from: Some(skipped),
        to: Some(skipped),
    };
    let window = spec
        .resolve(zone.day_start(skipped), &zone, Some(28))
        .expect("a range of one date");
    assert_eq!(window.from, window.to, "{window:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Case 17 as a class: `resolve` never panics; it answers a window with `from ≤ to` that
    /// respects the cap, or `InvalidRange` / `RangeTooLong`.
    #[test]
    fn range_specs_resolve_or_refuse(spec in arb_spec(), now in arb_now(), zone in arb_zone(), cap in proptest::option::of(0_u16..400)) {
        match spec.resolve(now, &zone, cap) {
            Ok(window) => {
                prop_assert!(window.from <= window.to, "{window:?}");
                if let Some(cap) = cap.map(i64::from) {
                    match spec {
                        RangeSpec::Custom { .. } | RangeSpec::Preset { .. } => {
                            prop_assert!(window.from == window.to || local_days(&zone, window.from, window.to) <= cap, "{window:?} is longer than {cap} local days");
                        }
                        RangeSpec::Last { .. } | RangeSpec::Between { .. } => {
                            prop_assert!(window.to.since(window.from) <= TimeDelta::days(cap), "{window:?} is longer than {cap} days");
                        }
                    }
                }
            }
            Err(Error::InvalidRange { reason }) => prop_assert!(!reason.is_empty()),
            Err(Error::RangeTooLong { days, max_days }) => prop_assert!(Some(max_days) == cap.map(i64::from) && days > max_days),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    /// Case 17: a custom range of `n` local days is accepted up to 28 and refused above with
    /// the seed's message, in every zone, across leap days and DST changes; the window starts
    /// on the first local date and ends after the last (also where a local date is skipped).
    #[test]
    fn custom_ranges_are_judged_in_local_days(first in 0_i64..40_000, len in 1_i64..=40, zone in arb_zone()) {
        judge_custom_range(first, len, &zone)?;
    }

    /// Cases 19–21 as a class: one bucket per local date, edges strictly ascending, each bucket
    /// starting on its date and its last microsecond still on it (23/25-hour days, missing
    /// midnights, half- and quarter-hour offsets).
    #[test]
    fn day_edges_cover_each_local_day_once(first in 0_i64..40_000, days in 0_i64..70, zone in arb_zone()) {
        let start = NaiveDate::from_ymd_opt(1971, 1, 1).expect("date") + TimeDelta::days(first);
        let last = start + TimeDelta::days(days);
        let edges = zone.day_edges(start, last);
        prop_assert_eq!(edges.len() as i64, days + 2);
        for (i, pair) in edges.windows(2).enumerate() {
            let date = start + TimeDelta::days(i as i64);
            prop_assert!(pair[0] <= pair[1]);
            if pair[0] == pair[1] {
                // A local date that never happened (Kiritimati skipped 1994-12-31): an empty
                // bucket, so nothing is counted on it or twice.
                prop_assert!(zone.date_of(pair[0]) > date);
                continue;
            }
            prop_assert_eq!(zone.date_of(pair[0]), date, "bucket {} starts on its date", i);
            prop_assert_eq!(zone.date_of(Timestamp::from_micros(pair[1].as_micros() - 1)), date, "case 14: the last microsecond of {} stays on it", date);
            let hours = pair[1].since(pair[0]).num_minutes();
            prop_assert!((22 * 60..=26 * 60).contains(&hours), "a local day of {} minutes", hours);
        }
    }

    /// The date of an instant is the date whose day holds it, also in the hour a zone lived
    /// again after midnight (St John's on the last Sunday of October 1987–2006: the instants
    /// drawn from those hours half the time).
    #[test]
    fn the_date_of_an_instant_is_the_day_that_holds_it(
        at in prop_oneof![
            (0_i64..4_102_444_800_000_000).prop_map(Timestamp::from_micros),
            (1987_i32..=2006, 0_i64..3_600_000_000).prop_map(|(year, into)| {
                // The last Sunday of October, 03:30 UTC is the second 00:00 NST.
                let last = NaiveDate::from_ymd_opt(year, 10, 31).expect("date");
                let sunday = last - TimeDelta::days(i64::from(last.weekday().num_days_from_sunday()));
                let midnight = sunday.and_hms_opt(3, 30, 0).expect("time").and_utc().timestamp_micros();
                Timestamp::from_micros(midnight - 3_600_000_000 + into)
            }),
        ],
        zone in arb_zone(),
    ) {
        let date = zone.date_of(at);
        prop_assert!(zone.day_start(date) <= at && at < zone.day_end(date), "{} on {}", at, date);
    }

    /// Day functions never panic, even at the ends of chrono's calendar.
    #[test]
    fn day_functions_never_panic(date in arb_date(), zone in arb_zone(), at in arb_now()) {
        let start = zone.day_start(date);
        prop_assert!(start <= zone.day_end(date));
        let _ = zone.week_start_of(zone.date_of(at));
    }

    /// Case 13: the same instant written with any offset parses to one timestamp, and display
    /// then parse is the identity (microseconds kept, never rounded).
    #[test]
    fn timestamps_survive_any_offset(micros in -62_135_596_800_000_000_i64..253_402_300_799_999_999, minutes in -1_439_i32..1_440) {
        // RFC 3339 offsets are whole minutes.
        let offset = minutes * 60;
        let at = Timestamp::from_micros(micros);
        prop_assert_eq!(at.to_string().parse::<Timestamp>().expect("own display parses"), at);
        let zone = FixedOffset::east_opt(offset).expect("offset in range");
        let text = zone.from_utc_datetime(&at.to_datetime().naive_utc()).to_rfc3339_opts(SecondsFormat::Micros, false);
        prop_assert_eq!(text.parse::<Timestamp>().expect("offset form parses"), at, "{}", text);
    }

    /// Sub-microsecond digits are refused, not rounded (case 14's "no rounding").
    #[test]
    fn sub_microsecond_text_is_refused(secs in 0_i64..4_102_444_800, nanos in 1_u32..1_000) {
        let text = format!("{}.{:09}Z", chrono::DateTime::from_timestamp(secs, 0).expect("in range").format("%Y-%m-%dT%H:%M:%S"), 1_000 + nanos);
        prop_assert!(matches!(text.parse::<Timestamp>(), Err(Error::InvalidQuery { field: "timestamp", .. })), "{}", text);
    }

    /// Timestamp parsing never panics on any text.
    #[test]
    fn timestamp_parsing_never_panics(text in "\\PC*|[0-9T:.+\\-Z ]{0,40}") {
        if let Ok(at) = text.parse::<Timestamp>() {
            prop_assert_eq!(at.to_string().parse::<Timestamp>().expect("display parses"), at);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CSV.

/// One cell's value, owned.
#[derive(Debug, Clone)]
enum Written {
    Text(String),
    Int(i64),
    Uint(u64),
    Time(Timestamp),
}

fn arb_cell() -> impl Strategy<Value = Written> {
    prop_oneof![
        3 => any::<String>().prop_map(Written::Text),
        3 => "[ \t\r\n=+\\-@,\"';a\u{FF1D}\u{FF0B}\u{FF0D}\u{FF20}\u{3000}😀]{0,8}".prop_map(Written::Text),
        1 => any::<i64>().prop_map(Written::Int),
        1 => any::<u64>().prop_map(Written::Uint),
        1 => (0_i64..253_402_300_799_999_999).prop_map(|m| Written::Time(Timestamp::from_micros(m))),
    ]
}

fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| {
            r.expect("the output parses as CSV")
                .iter()
                .map(String::from)
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Cases 1–3: any header and rows of any cells parse back with the `csv` crate to exactly
    /// what was written; text cells are guarded exactly when a spreadsheet would read a formula
    /// (header cells too), typed numbers and timestamps are raw, even when negative.
    #[test]
    fn csv_rows_round_trip(header in proptest::collection::vec(any::<String>(), 1..5), rows in proptest::collection::vec(proptest::collection::vec(arb_cell(), 4), 0..5)) {
        let width = header.len();
        let mut csv = CsvWriter::new(Vec::new(), CsvOptions::default());
        csv.write_header(header.iter().map(String::as_str)).expect("header");
        let rows: Vec<Vec<Written>> = rows.into_iter().map(|mut r| { r.resize(width, Written::Int(0)); r }).collect();
        for row in &rows {
            csv.write_row(row.iter().map(|v| match v {
                Written::Text(s) => Cell::Text(s),
                Written::Int(i) => Cell::Int(*i),
                Written::Uint(u) => Cell::Uint(*u),
                Written::Time(t) => Cell::Time(*t),
            })).expect("row");
        }
        let parsed = parse(&csv.finish().expect("finish"));
        prop_assert_eq!(parsed.len(), rows.len() + 1);
        for (cell, original) in parsed[0].iter().zip(&header) {
            prop_assert_eq!(cell, &guard_formula(original).into_owned());
        }
        for (got, want) in parsed[1..].iter().zip(&rows) {
            for (cell, value) in got.iter().zip(want) {
                match value {
                    Written::Text(s) => {
                        // Guarded when a spreadsheet would read a formula, or when `'`s before one
                        // would make the text read back as a guarded cell.
                        let guarded = needs_formula_guard(s.trim_start_matches(GUARD_PREFIX));
                        prop_assert_eq!(cell.starts_with(GUARD_PREFIX) && cell.len() == s.len() + 1, guarded);
                        prop_assert_eq!(unguard_formula(cell), s.as_str());
                    }
                    Written::Int(i) => prop_assert_eq!(cell, &i.to_string()),
                    Written::Uint(u) => prop_assert_eq!(cell, &u.to_string()),
                    Written::Time(t) => prop_assert_eq!(cell, &t.to_string()),
                }
            }
        }
    }

    /// Case 1 as a class: any run of white space other than TAB/CR/LF, then a trigger, then
    /// anything, is guarded; text whose first non-blank character is not a trigger is not.
    #[test]
    fn the_guard_follows_the_first_non_blank_character(lead in "[ \u{A0}\u{3000}\u{2003}]{0,4}", trigger in "[=+\\-@\t\r\n\u{FF1D}\u{FF0B}\u{FF0D}\u{FF20}]", rest in any::<String>(), plain in "[^=+\\-@\\s\u{FF1D}\u{FF0B}\u{FF0D}\u{FF20}]") {
        let formula = format!("{lead}{trigger}{rest}");
        let text = format!("{lead}{plain}{rest}");
        prop_assert!(needs_formula_guard(&formula), "{:?}", formula);
        prop_assert!(!needs_formula_guard(&text), "{:?}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// Validation (cases 12 and 15).

fn now() -> Timestamp {
    "2026-11-20T00:00:00Z".parse().expect("now")
}

/// A random JSON value nested up to `depth`, with strings that may hold NUL.
fn arb_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[a\u{0}😀 ]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[a\u{0}]{0,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether a JSON value holds NUL in any key or string, and how deep it nests (a scalar is 0).
fn nul_and_depth(value: &Value) -> (bool, usize) {
    match value {
        Value::String(s) => (s.contains('\0'), 0),
        Value::Array(items) => items
            .iter()
            .map(nul_and_depth)
            .fold((false, 1), |(n, d), (n2, d2)| (n || n2, d.max(d2 + 1))),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let (n, d) = nul_and_depth(v);
                (n || k.contains('\0'), d)
            })
            .fold((false, 1), |(n, d), (n2, d2)| (n || n2, d.max(d2 + 1))),
        _ => (false, 0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Case 15 as a class: any name is accepted exactly when it is non-blank, at most 128 bytes
    /// and free of control characters (NUL included); otherwise a typed error names `name`.
    #[test]
    fn names_are_validated(name in "\\PC{0,20}|[ \t\u{0}\u{7}a😀]{0,6}|.{120,140}") {
        let mut e = Event::new("e1", CustomerId(1), name.clone(), now());
        e.occurred_at = now();
        let ok = !name.trim().is_empty() && name.len() <= 128 && !name.chars().any(char::is_control);
        match Limits::default().validate_event(0, &e, now()) {
            Ok(()) => prop_assert!(ok, "{name:?} was accepted"),
            Err(Error::InvalidEvent { field: "name", index: 0, .. }) => prop_assert!(!ok, "{name:?} was refused"),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    /// Case 15: metadata with NUL anywhere (a nested key or string) or nested deeper than the
    /// limit is refused; everything else of a small size is accepted.
    #[test]
    fn metadata_is_validated(value in arb_json(10), key in "[a\u{0}]{1,3}") {
        let mut e = Event::new("e1", CustomerId(1), "Page Viewed", now());
        e.metadata.insert(key.clone(), value.clone());
        let (nul, depth) = nul_and_depth(&value);
        let ok = !nul && !key.contains('\0') && depth < Limits::default().max_metadata_depth && serde_json::to_vec(&e.metadata).map_or(0, |v| v.len()) <= 16 * 1024;
        match Limits::default().validate_event(0, &e, now()) {
            Ok(()) => prop_assert!(ok, "{:?} was accepted", json!({ key: value })),
            Err(Error::InvalidEvent { field: "metadata", .. }) => prop_assert!(!ok, "{:?} was refused", json!({ key: value })),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    /// Case 12: an instant before 1970 or beyond the allowed skew is refused by name, never
    /// clamped; any instant in between is accepted as is.
    #[test]
    fn instants_outside_the_window_are_refused(micros in any::<i64>()) {
        let mut e = Event::new("e1", CustomerId(1), "Page Viewed", Timestamp::from_micros(micros));
        e.occurred_at = Timestamp::from_micros(micros);
        let latest = now().as_micros() + 15 * 60 * 1_000_000;
        match Limits::default().validate_event(0, &e, now()) {
            Ok(()) => prop_assert!((0..=latest).contains(&micros)),
            Err(Error::InvalidEvent { field: "occurred_at", .. }) => prop_assert!(!(0..=latest).contains(&micros)),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }
}

/// Named examples of cases 1 and 22 that a reader of `docs/reliability.md` can check by eye.
#[test]
fn named_examples() {
    for text in ["＝1+1", "  @SUM(A1)", "\u{3000}－2", "\t=1", "\r\n=1"] {
        assert!(needs_formula_guard(text), "{text:?}");
    }
    for text in ["1-2", "x@example.com", "😀=1", "'=1"] {
        assert!(!needs_formula_guard(text), "{text:?}");
    }
    let zone = ReportZone::parse("Not/AZone");
    assert!(matches!(zone, Err(Error::UnknownTimeZone { .. })));
}

/// Case 24: the time rules give the same answers whatever the process's `TZ` says.
#[cfg(feature = "conformance")]
#[test]
fn time_rules_ignore_the_process_tz() {
    engagement_core::conformance::rerun_under_process_zones(&[
        "range_specs_resolve_or_refuse",
        "custom_ranges_are_judged_in_local_days",
        "day_edges_cover_each_local_day_once",
        "timestamps_survive_any_offset",
    ]);
}
