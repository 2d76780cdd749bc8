//! Time ranges as text, shared by the `report` CLI (`--range`, `--from`, `--to`) and the
//! dashboard's query parameters (`range`, `from`, `to`), and back again for links.
//!
//! | text | range |
//! |---|---|
//! | `15m` `30m` `60m` `24h` `48h` | the seed's quick ranges, ending now |
//! | `7d`, `14d`, … | a lookback of whole days, ending now (the event log's "14D") |
//! | `today` `yesterday` `this-week` `this-month` `last-7-days` `last-14-days` `last-30-days` | calendar presets, in the report's zone |
//! | `custom` with `from`/`to` dates `YYYY-MM-DD` | inclusive local dates; a blank `from` is yesterday, a blank `to` today; an RFC 3339 instant counts as its local date in the report's zone (`to` as the date of its last microsecond before), so choosing "custom" on an exact window's page keeps its days |
//! | `between` with `from`/`to` RFC 3339 instants | an exact half-open window (the score link's drill-down) |

use chrono::NaiveDate;
use engagement_core::{
    CalendarPreset, Error, Lookback, RangeSpec, ReportZone, Result, TimeWindow, Timestamp,
};

/// The quick ranges of the engagement report, as text, in the order of its buttons.
pub const QUICK_RANGES: [(&str, &str); 5] = [
    ("15m", "15 min"),
    ("30m", "30 min"),
    ("60m", "60 min"),
    ("24h", "24 hours"),
    ("48h", "48 hours"),
];

/// The calendar presets of the activity page, as text, in the order of its menu.
pub const PRESETS: [(&str, &str); 7] = [
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("this-week", "This week"),
    ("this-month", "This month"),
    ("last-7-days", "Last 7 days"),
    ("last-14-days", "Last 14 days"),
    ("last-30-days", "Last 30 days"),
];

/// Parses a range from its text parts; blank parts count as absent. An instant given to a
/// custom range stands for its local date in `zone` (the zone the page's window was resolved in).
///
/// With no `range`, dates or instants in `from`/`to` make a custom range and nothing at all
/// gives `default`.
///
/// # Errors
/// [`Error::InvalidQuery`] for an unknown range name, a date that is not `YYYY-MM-DD`, or an
/// instant that is not RFC 3339.
pub fn parse_range(
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    default: RangeSpec,
    zone: &ReportZone,
) -> Result<RangeSpec> {
    fn present(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    let (range, from, to) = (present(range), present(from), present(to));
    let name = match range {
        Some(name) => name.to_ascii_lowercase(),
        None if from.is_some() || to.is_some() => {
            if from.or(to).is_some_and(is_instant) {
                "between".into()
            } else {
                "custom".into()
            }
        }
        None => return Ok(default),
    };
    if let Some(spec) = named_range(&name) {
        return Ok(spec);
    }
    match name.as_str() {
        "custom" => Ok(RangeSpec::Custom {
            from: from.map(|s| date_of(s, 0, zone)).transpose()?,
            to: to.map(|s| date_of(s, -1, zone)).transpose()?,
        }),
        "between" => {
            let instant = |s: Option<&str>, which: &str| -> Result<Timestamp> {
                s.ok_or_else(|| {
                    Error::invalid_query("range", format!("a `between` range needs `{which}`"))
                })?
                .parse()
            };
            Ok(RangeSpec::Between {
                from: instant(from, "from")?,
                to: instant(to, "to")?,
            })
        }
        other => Err(Error::invalid_query(
            "range",
            format!(
                "{other:?} is not a range: use 15m, 30m, 60m, 24h, 48h, Nd, today, yesterday, \
                 this-week, this-month, last-N-days, custom or between"
            ),
        )),
    }
}

/// The range a quick range's or a preset's name stands for, in any case and any of the
/// spellings [`parse_range`] reads (`30M`, `1h`, `Today`, `last-90-days`); `None` for other
/// text (`custom`, `between`, an unknown name). [`range_parts`] gives its one spelling back.
///
/// ```
/// use engagement_core::{Lookback, RangeSpec};
/// use engagement_examples::range_text::{named_range, range_parts};
///
/// let hour = named_range("1H").unwrap();
/// assert_eq!(hour, RangeSpec::last(Lookback::Minutes60));
/// assert_eq!(range_parts(&hour).0, "60m");
/// assert_eq!(named_range("custom"), None);
/// ```
pub fn named_range(name: &str) -> Option<RangeSpec> {
    let name = name.trim().to_ascii_lowercase();
    quick(&name)
        .map(RangeSpec::last)
        .or_else(|| preset(&name).map(RangeSpec::preset))
}

/// The text parts (`range`, `from`, `to`) that [`parse_range`] reads back into `spec`.
pub fn range_parts(spec: &RangeSpec) -> (String, Option<String>, Option<String>) {
    match *spec {
        RangeSpec::Last { lookback } => (lookback_name(lookback), None, None),
        RangeSpec::Preset { preset } => (preset_name(preset), None, None),
        RangeSpec::Custom { from, to } => (
            "custom".into(),
            from.map(|d| d.to_string()),
            to.map(|d| d.to_string()),
        ),
        RangeSpec::Between { from, to } => (
            "between".into(),
            Some(from.to_string()),
            Some(to.to_string()),
        ),
    }
}

/// The `range`, `from` and `to` parameters of exactly `window` (`between` and its two
/// instants), all present: a link that carries them shows the same events whenever it is
/// opened, where a range ending now would have moved on (the dashboard's CSV links carry their
/// page's window so).
pub fn exact_window_parts(window: TimeWindow) -> (Option<String>, Option<String>, Option<String>) {
    let (range, from, to) = range_parts(&RangeSpec::Between {
        from: window.from,
        to: window.to,
    });
    (Some(range), from, to)
}

/// How a range reads on a page or in a terminal title ("Last 15 min", "Today").
pub fn range_label(spec: &RangeSpec) -> String {
    match *spec {
        RangeSpec::Last { lookback } => {
            let name = lookback_name(lookback);
            QUICK_RANGES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, label)| format!("Last {label}"))
                .unwrap_or_else(|| format!("Last {} days", name.trim_end_matches('d')))
        }
        RangeSpec::Preset { preset } => {
            let name = preset_name(preset);
            PRESETS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, label)| (*label).to_owned())
                .unwrap_or_else(|| {
                    format!(
                        "Last {} days",
                        name.trim_start_matches("last-").trim_end_matches("-days")
                    )
                })
        }
        RangeSpec::Custom { .. } => "Custom Range".into(),
        RangeSpec::Between { .. } => "Exact window".into(),
    }
}

fn quick(name: &str) -> Option<Lookback> {
    Some(match name {
        "15m" | "15min" => Lookback::Minutes15,
        "30m" | "30min" => Lookback::Minutes30,
        "60m" | "60min" | "1h" => Lookback::Minutes60,
        "24h" => Lookback::Hours24,
        "48h" => Lookback::Hours48,
        _ => Lookback::Days(name.strip_suffix('d')?.parse().ok()?),
    })
}

fn preset(name: &str) -> Option<CalendarPreset> {
    Some(match name {
        "today" => CalendarPreset::Today,
        "yesterday" => CalendarPreset::Yesterday,
        "this-week" => CalendarPreset::ThisWeek,
        "this-month" => CalendarPreset::ThisMonth,
        _ => CalendarPreset::LastDays(
            name.strip_prefix("last-")?
                .strip_suffix("-days")?
                .parse()
                .ok()?,
        ),
    })
}

fn lookback_name(lookback: Lookback) -> String {
    match lookback {
        Lookback::Minutes15 => "15m".into(),
        Lookback::Minutes30 => "30m".into(),
        Lookback::Minutes60 => "60m".into(),
        Lookback::Hours24 => "24h".into(),
        Lookback::Hours48 => "48h".into(),
        Lookback::Days(n) => format!("{n}d"),
    }
}

fn preset_name(preset: CalendarPreset) -> String {
    match preset {
        CalendarPreset::Today => "today".into(),
        CalendarPreset::Yesterday => "yesterday".into(),
        CalendarPreset::ThisWeek => "this-week".into(),
        CalendarPreset::ThisMonth => "this-month".into(),
        CalendarPreset::LastDays(n) => format!("last-{n}-days"),
    }
}

/// The date `text` names: a date, or an instant's local date in `zone` after moving it `shift`
/// microseconds (an exclusive end's last microsecond is the one before it).
/// Whether `text` is an instant (as [`Timestamp`]'s text: a time after a `T` or `t`, or `@`
/// and microseconds beyond the calendar) rather than a date.
fn is_instant(text: &str) -> bool {
    text.contains(['T', 't']) || text.trim_start().starts_with('@')
}

fn date_of(text: &str, shift: i64, zone: &ReportZone) -> Result<NaiveDate> {
    if !is_instant(text) {
        return date(text);
    }
    let at: Timestamp = text.parse()?;
    Ok(zone.date_of(Timestamp::from_micros(at.as_micros().saturating_add(shift))))
}

fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Error::invalid_query(
            "date",
            format!("{text:?} is not a date: use YYYY-MM-DD, such as 2026-03-01"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(range: &str, from: &str, to: &str) -> Result<RangeSpec> {
        parse_range(
            Some(range),
            Some(from),
            Some(to),
            RangeSpec::last(Lookback::Minutes15),
            &ReportZone::utc(),
        )
    }

    /// The exact windows the dashboard's links carry come back as they went, to the ends of
    /// time (a window ending at `Timestamp::MAX`, `TimeWindow::ALL`).
    /// RFC 3339 takes a lower-case `t` and `z`: a custom range reads such an instant as
    /// `between` does.
    #[test]
    fn a_custom_range_reads_a_lower_case_instant() {
        let lower = parse("custom", "2026-11-20t10:00:00z", "2026-11-21").unwrap();
        assert_eq!(
            lower,
            parse("custom", "2026-11-20T10:00:00Z", "2026-11-21").unwrap()
        );
    }

    #[test]
    fn exact_windows_round_trip_to_the_ends_of_time() {
        let last_day = "+262142-12-31T00:00:00Z".parse().unwrap();
        for (from, to) in [(Timestamp::MIN, Timestamp::MAX), (last_day, Timestamp::MAX)] {
            let spec = RangeSpec::Between { from, to };
            let (range, first, end) = exact_window_parts(TimeWindow { from, to });
            let back = parse(
                range.as_deref().unwrap_or_default(),
                first.as_deref().unwrap_or_default(),
                end.as_deref().unwrap_or_default(),
            );
            assert_eq!(back.unwrap(), spec, "{first:?} .. {end:?}");
        }
    }

    #[test]
    fn every_named_range_round_trips() {
        let names = QUICK_RANGES
            .iter()
            .chain(PRESETS.iter())
            .map(|(n, _)| *n)
            .chain(["14d", "last-90-days"]);
        for name in names {
            let spec = parse(name, "", "").unwrap();
            assert_eq!(range_parts(&spec).0, name);
        }
        assert_eq!(
            parse("24h", "", "").unwrap(),
            RangeSpec::last(Lookback::Hours24)
        );
        assert_eq!(range_label(&parse("48h", "", "").unwrap()), "Last 48 hours");
        assert_eq!(
            range_label(&parse("this-week", "", "").unwrap()),
            "This week"
        );
        assert_eq!(range_label(&parse("14d", "", "").unwrap()), "Last 14 days");
    }

    #[test]
    fn custom_and_between_ranges_round_trip() {
        let custom = parse("custom", "2026-03-01", "").unwrap();
        assert_eq!(
            custom,
            RangeSpec::Custom {
                from: NaiveDate::from_ymd_opt(2026, 3, 1),
                to: None
            }
        );
        let (name, from, to) = range_parts(&custom);
        assert_eq!(
            parse_range(
                Some(&name),
                from.as_deref(),
                to.as_deref(),
                RangeSpec::last(Lookback::Hours24),
                &ReportZone::utc(),
            )
            .unwrap(),
            custom
        );
        let between = parse("between", "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z").unwrap();
        let (name, from, to) = range_parts(&between);
        assert_eq!(
            parse(&name, from.as_deref().unwrap(), to.as_deref().unwrap()).unwrap(),
            between
        );
    }

    #[test]
    fn custom_on_an_exact_window_keeps_its_days() {
        // The dashboard's range menu turned to "custom" on a page of an exact window: the
        // window's instants come along and stand for their days (the end is exclusive).
        assert_eq!(
            parse("custom", "2026-03-01T10:00:00Z", "2026-03-03T00:00:00Z").unwrap(),
            RangeSpec::Custom {
                from: NaiveDate::from_ymd_opt(2026, 3, 1),
                to: NaiveDate::from_ymd_opt(2026, 3, 2),
            }
        );
    }

    #[test]
    fn custom_on_an_exact_window_keeps_its_local_days_east_of_utc() {
        // A 28-day custom range in Berlin, handed back as its exact window (the score link's
        // drill-down), then turned to "custom" in the range menu.
        let berlin = ReportZone::parse("Europe/Berlin").unwrap();
        let now: Timestamp = "2026-03-31T12:00:00Z".parse().unwrap();
        let custom = RangeSpec::Custom {
            from: NaiveDate::from_ymd_opt(2026, 3, 1),
            to: NaiveDate::from_ymd_opt(2026, 3, 28),
        };
        let window = custom.resolve(now, &berlin, Some(28)).unwrap();
        let (_, from, to) = exact_window_parts(window);
        let back = parse_range(
            Some("custom"),
            from.as_deref(),
            to.as_deref(),
            RangeSpec::last(Lookback::Minutes15),
            &berlin,
        )
        .unwrap();
        assert_eq!(back, custom, "the window's local days");
        assert!(back.resolve(now, &berlin, Some(28)).is_ok());
    }

    #[test]
    fn missing_names_follow_the_dates_or_the_default() {
        let default = RangeSpec::last(Lookback::Days(14));
        let utc = ReportZone::utc();
        assert_eq!(
            parse_range(None, Some(" "), None, default, &utc).unwrap(),
            default
        );
        assert!(matches!(
            parse_range(None, Some("2026-03-01"), None, default, &utc).unwrap(),
            RangeSpec::Custom { .. }
        ));
        assert!(matches!(
            parse_range(None, None, Some("2026-03-01T00:00:00Z"), default, &utc),
            Err(Error::InvalidQuery { .. })
        ));
    }

    #[test]
    fn bad_text_is_refused_with_a_hint() {
        let err = parse("fortnight", "", "").unwrap_err().to_string();
        assert!(err.contains("15m"), "{err}");
        assert!(parse("custom", "01/03/2026", "").is_err());
        assert!(parse("between", "2026-03-01", "").is_err());
    }
}
