//! Download file names, from the product documents: dates are local dates in the report's zone.

use chrono::NaiveDate;

use crate::report::ReportPeriod;
use crate::time::{ReportZone, Timestamp};

/// The local dates of a period's first and last day. The last day is the date of the window's
/// last instant (`to − 1µs`), so a window ending at midnight does not spill into the next day.
pub fn period_dates(period: &ReportPeriod) -> (NaiveDate, NaiveDate) {
    let window = period.window;
    let last_instant =
        Timestamp::from_micros(window.to.as_micros().saturating_sub(1)).max(window.from);
    (
        period.zone.date_of(window.from),
        period.zone.date_of(last_instant),
    )
}

/// `engagement_YYYY-MM-DD_to_YYYY-MM-DD.csv`, as the engagement ranking's seed names its files.
///
/// ```
/// use chrono::NaiveDate;
/// use engagement_core::csv::engagement_file_name;
/// use engagement_core::report::ReportPeriod;
/// use engagement_core::{RangeSpec, ReportZone, Timestamp};
///
/// let spec = RangeSpec::Custom {
///     from: NaiveDate::from_ymd_opt(2026, 3, 1),
///     to: NaiveDate::from_ymd_opt(2026, 3, 7),
/// };
/// let zone = ReportZone::utc();
/// let window = spec.resolve("2026-03-09T12:00:00Z".parse()?, &zone, Some(28))?;
/// let period = ReportPeriod { spec, window, zone };
/// assert_eq!(engagement_file_name(&period), "engagement_2026-03-01_to_2026-03-07.csv");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn engagement_file_name(period: &ReportPeriod) -> String {
    spanning("engagement_", period)
}

/// `event-log_YYYY-MM-DD_to_YYYY-MM-DD.csv` for an event-log export over `period`.
pub fn event_log_file_name(period: &ReportPeriod) -> String {
    spanning("event-log_", period)
}

/// `funnel_YYYY-MM-DD_to_YYYY-MM-DD.csv` for a funnel over `period`.
pub fn funnel_file_name(period: &ReportPeriod) -> String {
    spanning("funnel_", period)
}

/// `customer-activity-YYYY-MM-DD.csv`, dated with the local date the export was generated on,
/// as the customer-activity seed names its files.
pub fn activity_file_name(generated_at: Timestamp, zone: &ReportZone) -> String {
    format!("customer-activity-{}.csv", ymd(zone.date_of(generated_at)))
}

fn spanning(prefix: &str, period: &ReportPeriod) -> String {
    let (first, last) = period_dates(period);
    format!("{prefix}{}_to_{}.csv", ymd(first), ymd(last))
}

fn ymd(date: NaiveDate) -> impl std::fmt::Display {
    date.format("%Y-%m-%d")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{RangeSpec, TimeWindow};

    fn period(from: &str, to: &str, zone: &str) -> ReportPeriod {
        let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
        ReportPeriod {
            spec: RangeSpec::Between { from, to },
            window: TimeWindow { from, to },
            zone: ReportZone::parse(zone).unwrap(),
        }
    }

    #[test]
    fn kolkata_days_start_at_half_past_six_the_previous_evening_utc() {
        // 2026-01-30 00:00 IST is 2026-01-29T18:30Z; the window ends at 2026-02-01 00:00 IST.
        let p = period(
            "2026-01-29T18:30:00Z",
            "2026-01-31T18:30:00Z",
            "Asia/Kolkata",
        );
        assert_eq!(
            engagement_file_name(&p),
            "engagement_2026-01-30_to_2026-01-31.csv"
        );
        // One microsecond later the window reaches into February (local), across the month end.
        let p = period(
            "2026-01-29T18:29:59.999999Z",
            "2026-01-31T18:30:00.000001Z",
            "Asia/Kolkata",
        );
        assert_eq!(
            event_log_file_name(&p),
            "event-log_2026-01-29_to_2026-02-01.csv"
        );
    }

    #[test]
    fn a_window_ending_at_local_midnight_ends_on_the_day_before() {
        let p = period("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "UTC");
        assert_eq!(funnel_file_name(&p), "funnel_2026-02-01_to_2026-02-28.csv");
    }

    #[test]
    fn dst_days_are_local_days() {
        // America/New_York 2024-03-10 is 23 hours long: 05:00Z to 04:00Z next day.
        let p = period(
            "2024-03-10T05:00:00Z",
            "2024-03-11T04:00:00Z",
            "America/New_York",
        );
        assert_eq!(
            engagement_file_name(&p),
            "engagement_2024-03-10_to_2024-03-10.csv"
        );
    }

    #[test]
    fn an_empty_window_names_one_day() {
        let p = period("2026-05-05T10:00:00Z", "2026-05-05T10:00:00Z", "UTC");
        assert_eq!(period_dates(&p).0, period_dates(&p).1);
    }

    #[test]
    fn activity_files_carry_the_local_generation_date() {
        let zone = ReportZone::parse("Asia/Kolkata").unwrap();
        // 2026-03-31T19:00Z is already 1 April 00:30 in Kolkata.
        let at = "2026-03-31T19:00:00Z".parse().unwrap();
        assert_eq!(
            activity_file_name(at, &zone),
            "customer-activity-2026-04-01.csv"
        );
        assert_eq!(
            activity_file_name(at, &ReportZone::utc()),
            "customer-activity-2026-03-31.csv"
        );
    }
}
