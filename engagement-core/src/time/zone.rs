//! [`ReportZone`]: the IANA time zone and week start that calendar rules are resolved in.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::error::{Error, Result};

/// The zone a workspace's reports are read in, and the day its weeks start on.
///
/// A local day is the span between two local midnights: 23 or 25 hours on DST days, and it starts
/// at its first instant when midnight itself does not exist.
///
/// ```
/// use chrono::NaiveDate;
/// use engagement_core::ReportZone;
///
/// let ny = ReportZone::parse("America/New_York")?;
/// let day = NaiveDate::from_ymd_opt(2024, 3, 10).unwrap();
/// let hours = ny.day_end(day).since(ny.day_start(day)).num_hours();
/// assert_eq!(hours, 23);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportZone {
    /// The IANA zone.
    pub tz: Tz,
    /// The first day of a week ("This week"); Monday by default.
    pub week_start: Weekday,
}

/// As [`ReportZone::parse`]: `"Europe/Berlin".parse::<ReportZone>()`.
impl FromStr for ReportZone {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::parse(name)
    }
}

impl Default for ReportZone {
    fn default() -> Self {
        Self::new(Tz::UTC)
    }
}

impl fmt::Display for ReportZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tz.name())
    }
}

impl ReportZone {
    /// A zone whose weeks start on Monday.
    #[must_use]
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            week_start: Weekday::Mon,
        }
    }

    /// UTC, weeks starting on Monday.
    #[must_use]
    pub fn utc() -> Self {
        Self::default()
    }

    /// A zone by IANA name ("Europe/Berlin").
    ///
    /// # Errors
    /// [`Error::UnknownTimeZone`] when the name is not in the IANA database.
    pub fn parse(name: &str) -> Result<Self> {
        name.trim()
            .parse::<Tz>()
            .map(Self::new)
            .map_err(|_| Error::UnknownTimeZone { name: name.into() })
    }

    /// The same zone with weeks starting on `day`.
    #[must_use]
    pub fn with_week_start(self, day: Weekday) -> Self {
        Self {
            week_start: day,
            ..self
        }
    }

    /// The local date whose day holds an instant: `at` is in
    /// [`day_start`](Self::day_start)`..`[`day_end`](Self::day_end) of the date returned.
    /// That is the date on the wall clock, but where the clocks fell back across midnight
    /// (America/St_Johns from 00:01 to 23:01 every October of 1987–2010): the hour lived
    /// again after the new date's first midnight shows the old date and belongs to the new
    /// one, as its events are counted in the new date's bucket.
    pub fn date_of(&self, at: Timestamp) -> NaiveDate {
        let wall = self.wall_time(at).date();
        match wall.succ_opt() {
            Some(next) if at >= self.day_start(next) => next,
            _ => wall,
        }
    }

    /// The local wall time at an instant; at the ends of chrono's calendar, where the local
    /// time would leave it, the UTC wall time instead (never a panic).
    fn wall_time(&self, at: Timestamp) -> NaiveDateTime {
        let utc = at.to_datetime().naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&utc).fix();
        utc.checked_add_offset(offset).unwrap_or(utc)
    }

    /// The local date `at` starts, when `at` is the first instant of a local day. Where the
    /// zone skipped a whole date (Pacific/Apia's 30 December 2011), the skipped date starts
    /// where the next one does, and the earlier of them is returned: the first date a window
    /// ending at `at` leaves out ([`date_of`](Self::date_of) gives the later one, the day that
    /// has its hours).
    pub fn midnight_date(&self, at: Timestamp) -> Option<NaiveDate> {
        let mut date = self.date_of(at);
        if self.day_start(date) != at {
            return None;
        }
        while let Some(skipped) = date.pred_opt().filter(|d| self.day_start(*d) == at) {
            date = skipped;
        }
        Some(date)
    }

    /// The first instant of a local date: its midnight, or — where midnight does not exist —
    /// the first instant after the gap; where midnight happens twice, the earlier one.
    pub fn day_start(&self, date: NaiveDate) -> Timestamp {
        self.first_instant_at_or_after(date.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    /// The first instant of the next local date: the exclusive end of `date`.
    pub fn day_end(&self, date: NaiveDate) -> Timestamp {
        date.succ_opt()
            .map_or(Timestamp::MAX, |next| self.day_start(next))
    }

    /// Edges of one bucket per local date from `first` to `last` inclusive: `n + 1` instants
    /// for `n` dates, bucket `i` being `[edges[i], edges[i + 1])`. Empty when `last < first`.
    pub fn day_edges(&self, first: NaiveDate, last: NaiveDate) -> Vec<Timestamp> {
        if last < first {
            return Vec::new();
        }
        let mut edges: Vec<Timestamp> = dates_from(first)
            .take_while(|d| *d <= last)
            .map(|d| self.day_start(d))
            .collect();
        edges.push(self.day_end(last));
        edges
    }

    /// The first day of the week that holds `date` (the first representable date when that
    /// week begins before it).
    pub fn week_start_of(&self, date: NaiveDate) -> NaiveDate {
        let back = (7 + date.weekday().num_days_from_monday()
            - self.week_start.num_days_from_monday())
            % 7;
        date.checked_sub_days(chrono::Days::new(u64::from(back)))
            .unwrap_or(NaiveDate::MIN)
    }

    fn first_instant_at_or_after(&self, local: NaiveDateTime) -> Timestamp {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(dt) => Timestamp::from_datetime(&dt),
            LocalResult::Ambiguous(earlier, _) => Timestamp::from_datetime(&earlier),
            LocalResult::None => self.end_of_gap(local),
        }
    }

    /// `local` falls in a gap (clocks jumped forward past it): find the first instant whose local
    /// wall time is at or after it. Wall time only moves forward across a gap, so a binary search
    /// over the surrounding two days of instants finds the jump exactly.
    fn end_of_gap(&self, local: NaiveDateTime) -> Timestamp {
        let naive_utc = local.and_utc().timestamp_micros();
        let span = 2 * 86_400_000_000_i64;
        let (mut lo, mut hi) = (naive_utc - span, naive_utc + span);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let wall = self.wall_time(Timestamp::from_micros(mid));
            if wall >= local {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Timestamp::from_micros(lo)
    }
}

/// Every date from `first` on, the last representable one included (chrono's `iter_days`
/// never yields `NaiveDate::MAX`).
pub(crate) fn dates_from(first: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(first), |d| d.succ_opt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn hours(zone: &ReportZone, date: NaiveDate) -> i64 {
        zone.day_end(date).since(zone.day_start(date)).num_minutes()
    }

    #[test]
    fn new_york_dst_days_have_23_and_25_hours() {
        let ny = ReportZone::parse("America/New_York").unwrap();
        assert_eq!(hours(&ny, d(2024, 3, 10)), 23 * 60);
        assert_eq!(hours(&ny, d(2024, 11, 3)), 25 * 60);
        assert_eq!(hours(&ny, d(2024, 11, 4)), 24 * 60);
        assert_eq!(ny.day_start(d(2024, 3, 10)), ts("2024-03-10T05:00:00Z"));
        assert_eq!(ny.day_start(d(2024, 3, 11)), ts("2024-03-11T04:00:00Z"));
    }

    #[test]
    fn berlin_dst_days_have_23_and_25_hours() {
        let berlin = ReportZone::parse("Europe/Berlin").unwrap();
        assert_eq!(hours(&berlin, d(2024, 3, 31)), 23 * 60);
        assert_eq!(hours(&berlin, d(2024, 10, 27)), 25 * 60);
        assert_eq!(
            berlin.day_start(d(2024, 10, 27)),
            ts("2024-10-26T22:00:00Z")
        );
    }

    #[test]
    fn missing_midnight_starts_the_day_at_its_first_instant() {
        let sp = ReportZone::parse("America/Sao_Paulo").unwrap();
        // 2018-11-04 00:00 local did not exist: clocks went from 23:59:59.999999 -03 to 01:00 -02.
        let start = sp.day_start(d(2018, 11, 4));
        assert_eq!(start, ts("2018-11-04T03:00:00Z"));
        assert_eq!(sp.date_of(start), d(2018, 11, 4));
        assert_eq!(
            sp.date_of(Timestamp::from_micros(start.as_micros() - 1)),
            d(2018, 11, 3)
        );
        assert_eq!(hours(&sp, d(2018, 11, 4)), 23 * 60);
    }

    #[test]
    fn the_hour_lived_again_after_midnight_is_on_the_new_date() {
        // St John's fell back from 00:01 NDT (-2:30) to 23:01 NST (-3:30) on 2006-10-29:
        // 23:01–23:59 of the 28th were lived again after the 29th's first midnight.
        let st_johns = ReportZone::parse("America/St_Johns").unwrap();
        let start = st_johns.day_start(d(2006, 10, 29));
        assert_eq!(start, ts("2006-10-29T02:30:00Z"));
        let again = ts("2006-10-29T03:00:00Z"); // the wall clock shows 23:30 on the 28th
        assert_eq!(st_johns.date_of(again), d(2006, 10, 29));
        assert_eq!(
            st_johns.date_of(Timestamp::from_micros(start.as_micros() - 1)),
            d(2006, 10, 28)
        );
        assert_eq!(hours(&st_johns, d(2006, 10, 29)), 25 * 60);
        // Casey went from +11 to +8 at 02:00 on 2010-03-05: 23:00–23:59 of the 4th again.
        let casey = ReportZone::parse("Antarctica/Casey").unwrap();
        let again = ts("2010-03-04T15:30:00Z"); // 23:30 on the 4th, on the wall, at +8
        assert!(casey.day_start(d(2010, 3, 5)) <= again);
        assert_eq!(casey.date_of(again), d(2010, 3, 5));
    }

    #[test]
    fn half_hour_offsets_bucket_on_local_midnight() {
        let kolkata = ReportZone::parse("Asia/Kolkata").unwrap();
        assert_eq!(
            kolkata.day_start(d(2026, 11, 20)),
            ts("2026-11-19T18:30:00Z")
        );
        let kathmandu = ReportZone::parse("Asia/Kathmandu").unwrap();
        assert_eq!(
            kathmandu.day_start(d(2026, 11, 20)),
            ts("2026-11-19T18:15:00Z")
        );
    }

    #[test]
    fn edges_cover_every_local_day_once() {
        let ny = ReportZone::parse("America/New_York").unwrap();
        let edges = ny.day_edges(d(2024, 3, 9), d(2024, 3, 11));
        assert_eq!(edges.len(), 4);
        assert_eq!(edges[0], ts("2024-03-09T05:00:00Z"));
        assert_eq!(edges[1], ts("2024-03-10T05:00:00Z"));
        assert_eq!(edges[2], ts("2024-03-11T04:00:00Z"));
        assert_eq!(edges[3], ts("2024-03-12T04:00:00Z"));
        assert!(ny.day_edges(d(2024, 3, 9), d(2024, 3, 8)).is_empty());
    }

    #[test]
    fn last_microsecond_stays_on_its_day() {
        let utc = ReportZone::utc();
        assert_eq!(
            utc.date_of(ts("2024-02-29T23:59:59.999999Z")),
            d(2024, 2, 29)
        );
        assert_eq!(utc.date_of(ts("2024-03-01T00:00:00Z")), d(2024, 3, 1));
    }

    #[test]
    fn unknown_zone_is_a_typed_error() {
        assert!(matches!(
            ReportZone::parse("Mars/Olympus_Mons"),
            Err(Error::UnknownTimeZone { .. })
        ));
    }

    #[test]
    fn week_start_is_configurable_across_a_year_end() {
        let monday = ReportZone::utc();
        assert_eq!(monday.week_start_of(d(2027, 1, 1)), d(2026, 12, 28));
        let sunday = monday.with_week_start(Weekday::Sun);
        assert_eq!(sunday.week_start_of(d(2027, 1, 1)), d(2026, 12, 27));
        assert_eq!(sunday.week_start_of(d(2026, 12, 27)), d(2026, 12, 27));
        assert_eq!(monday.week_start_of(d(2026, 12, 28)), d(2026, 12, 28));
    }

    /// chrono's `iter_days` never yields the last representable date, which left it without
    /// a bucket of its own.
    #[test]
    fn the_last_representable_date_has_its_own_bucket() {
        let utc = ReportZone::utc();
        let (last, before) = (NaiveDate::MAX, NaiveDate::MAX.pred_opt().unwrap());
        assert_eq!(
            utc.day_edges(last, last),
            vec![utc.day_start(last), utc.day_end(last)]
        );
        assert_eq!(
            utc.day_edges(before, last),
            vec![
                utc.day_start(before),
                utc.day_start(last),
                utc.day_end(last)
            ]
        );
    }
}
