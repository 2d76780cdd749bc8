//! Range specifications (quick ranges, calendar presets, custom dates) and their resolution
//! into a UTC window.

use chrono::{Datelike, Days, Months, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use super::{ReportZone, TimeWindow, Timestamp};
use crate::error::{Error, Result};

/// A span of time ending "now": the engagement report's quick buttons, the event log's 14D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookback {
    /// The last 15 minutes (the engagement report's default view).
    Minutes15,
    /// The last 30 minutes.
    Minutes30,
    /// The last 60 minutes.
    Minutes60,
    /// The last 24 hours.
    Hours24,
    /// The last 48 hours.
    Hours48,
    /// The last `n` × 24 hours (the event log's "14D" selector).
    Days(u16),
}

impl Lookback {
    /// The length of the span.
    pub fn duration(self) -> TimeDelta {
        match self {
            Self::Minutes15 => TimeDelta::minutes(15),
            Self::Minutes30 => TimeDelta::minutes(30),
            Self::Minutes60 => TimeDelta::minutes(60),
            Self::Hours24 => TimeDelta::hours(24),
            Self::Hours48 => TimeDelta::hours(48),
            Self::Days(n) => TimeDelta::days(i64::from(n)),
        }
    }
}

/// Calendar periods, resolved in the workspace's zone: whole local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarPreset {
    /// From today's local midnight to tomorrow's.
    Today,
    /// The whole previous local day.
    Yesterday,
    /// The local week holding today, starting on the zone's week start.
    ThisWeek,
    /// The local calendar month holding today.
    ThisMonth,
    /// The last `n` local days, today included (`LastDays(7)`, `LastDays(14)`, `LastDays(30)`).
    LastDays(u16),
}

/// What a report is asked to cover.
///
/// ```
/// use chrono::NaiveDate;
/// use engagement_core::{RangeSpec, ReportZone, Timestamp};
///
/// let now: Timestamp = "2026-11-20T09:30:00Z".parse()?;
/// let spec = RangeSpec::Custom {
///     from: NaiveDate::from_ymd_opt(2026, 11, 1),
///     to: NaiveDate::from_ymd_opt(2026, 11, 7),
/// };
/// let window = spec.resolve(now, &ReportZone::utc(), Some(28))?;
/// assert_eq!(window.from.to_string(), "2026-11-01T00:00:00.000000Z");
/// assert_eq!(window.to.to_string(), "2026-11-08T00:00:00.000000Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RangeSpec {
    /// A span ending now.
    Last {
        /// How far back.
        lookback: Lookback,
    },
    /// A calendar period.
    Preset {
        /// Which period.
        preset: CalendarPreset,
    },
    /// Inclusive local dates; `from` defaults to yesterday and `to` to today.
    Custom {
        /// First local date, inclusive.
        from: Option<NaiveDate>,
        /// Last local date, inclusive.
        to: Option<NaiveDate>,
    },
    /// Exact instants `[from, to)`, as a drill-down link carries them.
    Between {
        /// First instant inside.
        from: Timestamp,
        /// First instant after.
        to: Timestamp,
    },
}

impl RangeSpec {
    /// A span ending now.
    #[must_use]
    pub const fn last(lookback: Lookback) -> Self {
        Self::Last { lookback }
    }

    /// A calendar period.
    #[must_use]
    pub const fn preset(preset: CalendarPreset) -> Self {
        Self::Preset { preset }
    }

    /// Resolves the spec into a half-open UTC window at `now` in `zone`.
    ///
    /// `max_days` caps the length: a custom range and a calendar preset are measured in
    /// inclusive local dates (28 are accepted, 29 refused when the cap is 28), so a span that
    /// crosses a DST change is not refused for its 23- or 25-hour day; so is a span between two
    /// instants that are both local midnights (a resolved report window handed back, as a
    /// link carries it); a lookback and any other span between two instants by their exact
    /// duration.
    ///
    /// # Errors
    /// - [`Error::InvalidRange`] when `from` is after `to`, a preset or lookback of zero days,
    ///   or a span that leaves the representable range.
    /// - [`Error::RangeTooLong`] when the span exceeds `max_days`.
    pub fn resolve(
        &self,
        now: Timestamp,
        zone: &ReportZone,
        max_days: Option<u16>,
    ) -> Result<TimeWindow> {
        let cap = max_days.map(i64::from);
        // The local date that holds `now`: before chrono's first local date (an instant of
        // year -262143 west of Greenwich) there is none, and `date_of` answers a later one.
        let today = || {
            let today = zone.date_of(now);
            if zone.day_start(today) <= now {
                Ok(today)
            } else {
                Err(Error::invalid_range(
                    "now is before the first representable local date",
                ))
            }
        };
        let (first, last) = match *self {
            Self::Last { lookback } => {
                if lookback == Lookback::Days(0) {
                    return Err(Error::invalid_range(
                        "a lookback must cover at least one day",
                    ));
                }
                let from = now.checked_sub(lookback.duration()).ok_or_else(|| {
                    Error::invalid_range(
                        "the lookback reaches past the first representable instant",
                    )
                })?;
                return check_duration(TimeWindow::new(from, now)?, cap);
            }
            Self::Between { from, to } => {
                let window = TimeWindow::new(from, to)?;
                // Where a skipped date starts at the instant the next one does, the window's
                // first day is the later of them, the day its end excludes the earlier.
                let first = zone.midnight_date(from).map(|_| zone.date_of(from));
                return match (first, zone.midnight_date(to)) {
                    (Some(first), Some(end)) => check_days((end - first).num_days(), cap, window),
                    _ => check_duration(window, cap),
                };
            }
            Self::Preset { preset } => preset_dates(preset, today()?, zone)?,
            Self::Custom { from, to } => {
                let today = today()?;
                let from = match from {
                    Some(from) => from,
                    None => last_day_before(today, zone).ok_or_else(|| {
                        Error::invalid_range("no day before the first representable date")
                    })?,
                };
                (from, to.unwrap_or(today))
            }
        };
        if first > last {
            return Err(Error::invalid_range(format!(
                "the From date {first} is after the To date {last}"
            )));
        }
        let window = TimeWindow {
            from: zone.day_start(first),
            to: zone.day_end(last),
        };
        check_days((last - first).num_days() + 1, cap, window)
    }
}

/// Spans of whole local days are capped by their number of days.
fn check_days(days: i64, cap: Option<i64>, window: TimeWindow) -> Result<TimeWindow> {
    match cap.filter(|max| days > *max) {
        Some(max_days) => Err(Error::RangeTooLong { days, max_days }),
        None => Ok(window),
    }
}

/// Spans given as instants are capped by their exact duration.
fn check_duration(window: TimeWindow, cap: Option<i64>) -> Result<TimeWindow> {
    let length = window.to.since(window.from);
    match cap {
        Some(max_days) if length > TimeDelta::days(max_days) => {
            // Rounded up without overflow: the length can be as long as `i64::MAX` µs.
            let micros = length.num_microseconds().unwrap_or(i64::MAX);
            let days = micros / DAY_MICROS + i64::from(micros % DAY_MICROS != 0);
            Err(Error::RangeTooLong { days, max_days })
        }
        _ => Ok(window),
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

/// The last local date that had a day before `today`: the date before it, or where the zone
/// skipped that one (Pacific/Apia's 30 December 2011), the one before that; `None` on the
/// first representable date.
fn last_day_before(today: NaiveDate, zone: &ReportZone) -> Option<NaiveDate> {
    let before_today = zone
        .day_start(today)
        .checked_sub(TimeDelta::microseconds(1))?;
    Some(zone.date_of(before_today)).filter(|day| *day < today)
}

fn preset_dates(
    preset: CalendarPreset,
    today: NaiveDate,
    zone: &ReportZone,
) -> Result<(NaiveDate, NaiveDate)> {
    let out_of_range = || Error::invalid_range("the period leaves the representable dates");
    Ok(match preset {
        CalendarPreset::Today => (today, today),
        CalendarPreset::Yesterday => {
            let y = last_day_before(today, zone).ok_or_else(out_of_range)?;
            (y, y)
        }
        CalendarPreset::ThisWeek => {
            let first = zone.week_start_of(today);
            let last = first
                .checked_add_days(Days::new(6))
                .ok_or_else(out_of_range)?;
            (first, last)
        }
        CalendarPreset::ThisMonth => {
            let first = today.with_day(1).ok_or_else(out_of_range)?;
            let last = first
                .checked_add_months(Months::new(1))
                .and_then(|next| next.pred_opt())
                .ok_or_else(out_of_range)?;
            (first, last)
        }
        CalendarPreset::LastDays(0) => {
            return Err(Error::invalid_range(
                "\"last N days\" needs at least one day",
            ));
        }
        CalendarPreset::LastDays(n) => {
            let first = today
                .checked_sub_days(Days::new(u64::from(n) - 1))
                .ok_or_else(out_of_range)?;
            (first, today)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn custom(from: NaiveDate, to: NaiveDate) -> RangeSpec {
        RangeSpec::Custom {
            from: Some(from),
            to: Some(to),
        }
    }

    #[test]
    fn quick_ranges_end_now() {
        let now = ts("2026-11-20T00:00:00Z");
        let utc = ReportZone::utc();
        for (lookback, from) in [
            (Lookback::Minutes15, "2026-11-19T23:45:00Z"),
            (Lookback::Minutes30, "2026-11-19T23:30:00Z"),
            (Lookback::Minutes60, "2026-11-19T23:00:00Z"),
            (Lookback::Hours24, "2026-11-19T00:00:00Z"),
            (Lookback::Hours48, "2026-11-18T00:00:00Z"),
            (Lookback::Days(14), "2026-11-06T00:00:00Z"),
        ] {
            let w = RangeSpec::last(lookback)
                .resolve(now, &utc, Some(28))
                .unwrap();
            assert_eq!((w.from, w.to), (ts(from), now), "{lookback:?}");
        }
        assert!(
            RangeSpec::last(Lookback::Days(0))
                .resolve(now, &utc, None)
                .is_err()
        );
    }

    #[test]
    fn custom_range_defaults_to_yesterday_through_today() {
        let ny = ReportZone::parse("America/New_York").unwrap();
        // 02:00 UTC on the 20th is still the 19th in New York.
        let now = ts("2026-11-20T02:00:00Z");
        let w = RangeSpec::Custom {
            from: None,
            to: None,
        }
        .resolve(now, &ny, Some(28))
        .unwrap();
        assert_eq!(w.from, ts("2026-11-18T05:00:00Z"));
        assert_eq!(w.to, ts("2026-11-20T05:00:00Z"));
    }

    #[test]
    fn custom_range_cap_is_28_local_days() {
        let now = ts("2024-03-30T12:00:00Z");
        let berlin = ReportZone::parse("Europe/Berlin").unwrap();
        // 28 days across the leap day: accepted.
        let ok = custom(d(2024, 2, 10), d(2024, 3, 8))
            .resolve(now, &berlin, Some(28))
            .unwrap();
        assert_eq!(ok.from, ts("2024-02-09T23:00:00Z"));
        // 29 days: refused with the seed's words.
        let err = custom(d(2024, 2, 10), d(2024, 3, 9))
            .resolve(now, &berlin, Some(28))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::RangeTooLong {
                days: 29,
                max_days: 28
            }
        ));
        assert!(
            err.to_string()
                .starts_with("Date Range must be less than 4 weeks")
        );
        // 28 local days spanning the spring-forward day are 28 × 24 − 1 hours, still accepted.
        let dst = custom(d(2024, 3, 10), d(2024, 4, 6))
            .resolve(now, &berlin, Some(28))
            .unwrap();
        assert_eq!(dst.to.since(dst.from).num_hours(), 28 * 24 - 1);
        // Uncapped reports accept any length.
        assert!(
            custom(d(2023, 1, 1), d(2024, 3, 9))
                .resolve(now, &berlin, None)
                .is_ok()
        );
    }

    /// Pacific/Apia skipped 30 December 2011 (UTC−10 to UTC+14): 29 December ended at the
    /// instant 31 December began.
    #[test]
    fn a_skipped_date_is_no_day_of_its_own() {
        let apia = ReportZone::parse("Pacific/Apia").unwrap();
        let now = ts("2011-12-31T05:00:00Z"); // 31 December, local
        // Yesterday is the 29th, the last date that had a day.
        let yesterday = RangeSpec::preset(CalendarPreset::Yesterday)
            .resolve(now, &apia, None)
            .unwrap();
        assert_eq!(yesterday.from, apia.day_start(d(2011, 12, 29)));
        assert_eq!(yesterday.to, apia.day_start(d(2011, 12, 31)));
        // A custom range of 28 dates, handed back as its instants, is 28 days still: one
        // ending before the skipped date, and one starting on the day after (which starts
        // with it).
        let handed_back = |first, last, now| {
            let window = custom(first, last).resolve(now, &apia, Some(28)).unwrap();
            let between = RangeSpec::Between {
                from: window.from,
                to: window.to,
            };
            assert_eq!(between.resolve(now, &apia, Some(28)).unwrap(), window);
        };
        handed_back(d(2011, 12, 2), d(2011, 12, 29), now);
        handed_back(d(2011, 12, 31), d(2012, 1, 27), ts("2012-01-30T12:00:00Z"));
        // A custom range's blank start is yesterday too: the 29th, not the skipped date.
        let blank = RangeSpec::Custom {
            from: None,
            to: None,
        }
        .resolve(now, &apia, None)
        .unwrap();
        assert_eq!(blank.from, apia.day_start(d(2011, 12, 29)));
    }

    #[test]
    fn a_capped_window_handed_back_between_its_midnights_is_accepted() {
        let new_york = ReportZone::parse("America/New_York").unwrap();
        let now = ts("2024-11-20T12:00:00Z");
        // 28 local days with the 25-hour 3 November: 28 × 24 + 1 hours.
        let window = custom(d(2024, 10, 20), d(2024, 11, 16))
            .resolve(now, &new_york, Some(28))
            .unwrap();
        assert_eq!(window.to.since(window.from).num_hours(), 28 * 24 + 1);
        let between = RangeSpec::Between {
            from: window.from,
            to: window.to,
        };
        assert_eq!(between.resolve(now, &new_york, Some(28)).unwrap(), window);
        // A 29th local day is still refused, and so is 28 × 24 + 1 hours between other instants.
        let longer = RangeSpec::Between {
            from: window.from,
            to: new_york.day_end(d(2024, 11, 17)),
        };
        assert!(matches!(
            longer.resolve(now, &new_york, Some(28)),
            Err(Error::RangeTooLong { days: 29, .. })
        ));
        let off_midnight = RangeSpec::Between {
            from: ts("2024-10-20T12:00:00Z"),
            to: ts("2024-10-20T12:00:00Z")
                .checked_add(TimeDelta::hours(28 * 24 + 1))
                .unwrap(),
        };
        assert!(matches!(
            off_midnight.resolve(now, &new_york, Some(28)),
            Err(Error::RangeTooLong { days: 29, .. })
        ));
    }

    #[test]
    fn from_after_to_is_invalid() {
        let now = ts("2026-11-20T00:00:00Z");
        let err = custom(d(2026, 11, 5), d(2026, 11, 4))
            .resolve(now, &ReportZone::utc(), Some(28))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRange { .. }));
        let between = RangeSpec::Between {
            from: now,
            to: Timestamp::EPOCH,
        };
        assert!(matches!(
            between.resolve(now, &ReportZone::utc(), None),
            Err(Error::InvalidRange { .. })
        ));
    }

    #[test]
    fn presets_resolve_in_local_days() {
        let kolkata = ReportZone::parse("Asia/Kolkata").unwrap();
        let now = ts("2026-11-19T20:00:00Z"); // 01:30 on the 20th in Kolkata
        let resolve = |p| RangeSpec::preset(p).resolve(now, &kolkata, None).unwrap();
        let today = resolve(CalendarPreset::Today);
        assert_eq!(
            (today.from, today.to),
            (ts("2026-11-19T18:30:00Z"), ts("2026-11-20T18:30:00Z"))
        );
        let yesterday = resolve(CalendarPreset::Yesterday);
        assert_eq!(yesterday.to, today.from);
        let week = resolve(CalendarPreset::ThisWeek); // Friday the 20th: week of Monday the 16th
        assert_eq!(week.from, ts("2026-11-15T18:30:00Z"));
        assert_eq!(week.to, ts("2026-11-22T18:30:00Z"));
        let month = resolve(CalendarPreset::ThisMonth);
        assert_eq!(
            (month.from, month.to),
            (ts("2026-10-31T18:30:00Z"), ts("2026-11-30T18:30:00Z"))
        );
        let last7 = resolve(CalendarPreset::LastDays(7));
        assert_eq!(
            (last7.from, last7.to),
            (ts("2026-11-13T18:30:00Z"), today.to)
        );
    }

    #[test]
    fn this_week_honours_the_week_start_across_a_year_end() {
        let now = ts("2027-01-01T12:00:00Z"); // a Friday
        let monday = ReportZone::utc();
        let sunday = monday.with_week_start(Weekday::Sun);
        let w = RangeSpec::preset(CalendarPreset::ThisWeek)
            .resolve(now, &monday, None)
            .unwrap();
        assert_eq!(
            (w.from, w.to),
            (ts("2026-12-28T00:00:00Z"), ts("2027-01-04T00:00:00Z"))
        );
        let w = RangeSpec::preset(CalendarPreset::ThisWeek)
            .resolve(now, &sunday, None)
            .unwrap();
        assert_eq!(
            (w.from, w.to),
            (ts("2026-12-27T00:00:00Z"), ts("2027-01-03T00:00:00Z"))
        );
    }

    #[test]
    fn this_month_handles_february_of_a_leap_year() {
        let now = ts("2024-02-29T23:59:59.999999Z");
        let w = RangeSpec::preset(CalendarPreset::ThisMonth)
            .resolve(now, &ReportZone::utc(), None)
            .unwrap();
        assert_eq!(
            (w.from, w.to),
            (ts("2024-02-01T00:00:00Z"), ts("2024-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn caps_apply_to_every_spec() {
        let now = ts("2026-11-20T00:00:00Z");
        let utc = ReportZone::utc();
        assert!(
            RangeSpec::last(Lookback::Days(28))
                .resolve(now, &utc, Some(28))
                .is_ok()
        );
        assert!(matches!(
            RangeSpec::last(Lookback::Days(29)).resolve(now, &utc, Some(28)),
            Err(Error::RangeTooLong { days: 29, .. })
        ));
        assert!(matches!(
            RangeSpec::preset(CalendarPreset::LastDays(30)).resolve(now, &utc, Some(28)),
            Err(Error::RangeTooLong { .. })
        ));
    }

    /// At the ends of chrono's calendar there is no yesterday, and west of Greenwich no local
    /// date at all for the first instants: typed errors, never another day's window.
    #[test]
    fn days_beyond_the_calendar_are_refused_not_replaced() {
        let utc = ReportZone::utc();
        let first_day = ts("-262143-01-01T12:00:00Z");
        for spec in [
            RangeSpec::preset(CalendarPreset::Yesterday),
            RangeSpec::Custom {
                from: None,
                to: None,
            },
        ] {
            let got = spec.resolve(first_day, &utc, None);
            assert!(
                matches!(got, Err(Error::InvalidRange { .. })),
                "{spec:?}: {got:?}"
            );
        }
        assert!(
            RangeSpec::preset(CalendarPreset::Today)
                .resolve(first_day, &utc, None)
                .is_ok_and(|w| w.contains(first_day))
        );
        // The last instant is in the last date.
        assert!(
            RangeSpec::preset(CalendarPreset::Today)
                .resolve(Timestamp::MAX, &utc, None)
                .is_ok_and(|w| w.to == Timestamp::MAX)
        );
        let new_york = ReportZone::parse("America/New_York").unwrap();
        for now in [Timestamp::MIN, ts("-262143-01-01T00:00:00Z")] {
            let got = RangeSpec::preset(CalendarPreset::Today).resolve(now, &new_york, None);
            assert!(
                matches!(got, Err(Error::InvalidRange { .. })),
                "{now:?}: {got:?}"
            );
        }
    }
}
