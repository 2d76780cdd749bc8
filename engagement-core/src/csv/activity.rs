//! The customer-activity table as CSV, one page or every page of it.

use std::io;

use chrono::{Days, NaiveDate};

use super::writer::csv_invalid;
use super::{Cell, CsvOptions, CsvReport, CsvWriter, activity_file_name};
use crate::error::Result;
use crate::report::{
    ActivityReport, ActivityReportRow, ReportPeriod, SPARKLINE_DAYS, trend_last_day,
};
use crate::time::{Timestamp, dates_from};

/// The columns before the 7-day trend.
pub const ACTIVITY_LEADING_COLUMNS: [&str; 7] = [
    "customer_id",
    "code",
    "name",
    "email",
    "status",
    "last_click",
    "views",
];

/// The columns after the 7-day trend (`latest_day` repeats the trend's last count).
pub const ACTIVITY_TRAILING_COLUMNS: [&str; 6] = [
    "latest_day",
    "confirmed",
    "verified",
    "checkout",
    "orders",
    "recent_activity",
];

/// Writes customer-activity rows as they come, so that "Export all results" can stream every
/// page of a search without holding them all.
///
/// The header is [`ACTIVITY_LEADING_COLUMNS`], then one column per day of the 7-day trend headed
/// by its local date (`2026-11-13`), then [`ACTIVITY_TRAILING_COLUMNS`]. The trend days are the
/// last [`SPARKLINE_DAYS`] local days of the period up to the day the report was generated, as
/// in the report (a "This month" file ends its trend today), so every page of the same request
/// fits the same header.
///
/// ```
/// use engagement_core::csv::{ActivityCsv, CsvOptions};
/// use engagement_core::report::ReportPeriod;
/// use engagement_core::{RangeSpec, ReportZone, TimeWindow};
///
/// let (from, to) = ("2026-11-01T00:00:00Z".parse()?, "2026-11-20T00:00:00Z".parse()?);
/// let period = ReportPeriod {
///     spec: RangeSpec::Between { from, to },
///     window: TimeWindow { from, to },
///     zone: ReportZone::utc(),
/// };
/// let generated_at = "2026-11-20T08:00:00Z".parse()?;
/// let csv = ActivityCsv::new(Vec::new(), &period, generated_at, CsvOptions::default())?;
/// // ... csv.write_row(&row)? for every row of every page ...
/// let text = String::from_utf8(csv.finish()?)?;
/// assert!(text.contains("\"views\",\"2026-11-13\","));
/// assert!(text.contains(",\"2026-11-19\",\"latest_day\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ActivityCsv<W: io::Write> {
    csv: CsvWriter<W>,
    first_day: NaiveDate,
    days: usize,
}

impl<W: io::Write> ActivityCsv<W> {
    /// A writer for rows of a report over `period` generated at `generated_at` (the report's
    /// own fields); writes the header at once.
    ///
    /// # Errors
    /// [`crate::Error::Csv`] when `out` fails.
    pub fn new(
        out: W,
        period: &ReportPeriod,
        generated_at: Timestamp,
        options: CsvOptions,
    ) -> Result<Self> {
        let last = trend_last_day(&period.zone, period.window, generated_at);
        let back = Days::new(u64::from(SPARKLINE_DAYS.saturating_sub(1)));
        let first_day = last.checked_sub_days(back).unwrap_or(last);
        let days: Vec<String> = dates_from(first_day)
            .take_while(|d| *d <= last)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect();
        let mut csv = CsvWriter::new(out, options);
        csv.write_header(
            ACTIVITY_LEADING_COLUMNS
                .into_iter()
                .chain(days.iter().map(String::as_str))
                .chain(ACTIVITY_TRAILING_COLUMNS),
        )?;
        Ok(Self {
            csv,
            first_day,
            days: days.len(),
        })
    }

    /// Writes one row.
    ///
    /// # Errors
    /// [`crate::Error::Csv`] when `out` fails, or when the row's sparkline does not cover the
    /// header's days (a row of a report over another period).
    pub fn write_row(&mut self, row: &ActivityReportRow) -> Result<()> {
        let trend = &row.sparkline;
        if trend.first_day != self.first_day || trend.counts.len() != self.days {
            return Err(csv_invalid(format!(
                "customer {}: its trend covers {} days from {}, the file's trend columns {} days \
                 from {}; write rows of one report period per file",
                row.customer.id,
                trend.counts.len(),
                trend.first_day,
                self.days,
                self.first_day
            )));
        }
        let c = &row.customer;
        let n = &row.counters;
        let csv = &mut self.csv;
        csv.write_cell(Cell::Int(c.id.0))?;
        csv.write_cell(Cell::Text(&c.code))?;
        csv.write_cell(Cell::Text(&c.full_name()))?;
        csv.write_cell(Cell::Text(&c.email))?;
        csv.write_cell(Cell::Text(c.status.as_str()))?;
        csv.write_cell(Cell::time_or_empty(n.last_click))?;
        csv.write_cell(Cell::Uint(n.views))?;
        for &count in &trend.counts {
            csv.write_cell(Cell::Uint(count))?;
        }
        csv.write_row([
            Cell::Uint(trend.latest()),
            Cell::Uint(n.confirmed),
            Cell::Uint(n.verified),
            Cell::Uint(n.checkout),
            Cell::Uint(n.orders),
            Cell::time_or_empty(n.last_activity),
        ])
    }

    /// Flushes and hands back the output.
    ///
    /// # Errors
    /// [`crate::Error::Csv`] when the final flush fails.
    pub fn finish(self) -> Result<W> {
        self.csv.finish()
    }
}

impl CsvReport for ActivityReport {
    /// `customer-activity-YYYY-MM-DD.csv`, dated when the report was generated.
    fn csv_file_name(&self) -> String {
        activity_file_name(self.generated_at, &self.period.zone)
    }

    /// The rows of this page (see [`ActivityCsv`] for the columns and for exporting every page).
    fn write_csv<W: io::Write>(&self, out: W, options: CsvOptions) -> Result<W> {
        let mut csv = ActivityCsv::new(out, &self.period, self.generated_at, options)?;
        for row in &self.rows {
            csv.write_row(row)?;
        }
        csv.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::writer::tests::parse;
    use crate::error::Error;
    use crate::model::customer::{Customer, CustomerStatus};
    use crate::model::ids::{CustomerId, WorkspaceId};
    use crate::report::{ActivityRequest, DailySeries};
    use crate::store::query::{ActivityCounters, ActivitySummary};
    use crate::time::{RangeSpec, ReportZone, TimeWindow, Timestamp};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn period(from: &str, to: &str, zone: &str) -> ReportPeriod {
        let (from, to) = (t(from), t(to));
        ReportPeriod {
            spec: RangeSpec::Between { from, to },
            window: TimeWindow { from, to },
            zone: ReportZone::parse(zone).unwrap(),
        }
    }

    fn row(id: i64, first_day: NaiveDate, counts: Vec<u64>) -> ActivityReportRow {
        let mut customer = Customer::new(CustomerId(id), "Ada", "+Lovelace");
        customer.code = "@C1".into();
        customer.email = "ada@example.com".into();
        customer.status = CustomerStatus::Inactive;
        ActivityReportRow {
            customer,
            counters: ActivityCounters {
                views: 12,
                confirmed: 1,
                verified: 2,
                checkout: 3,
                orders: 4,
                last_click: Some(t("2026-02-28T23:59:59.999999Z")),
                last_activity: None,
            },
            sparkline: DailySeries { first_day, counts },
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn trend_columns_are_the_last_seven_local_days_across_a_month_end() {
        // Kolkata: the window is 2026-02-20 .. 2026-03-02 local (inclusive).
        let p = period(
            "2026-02-19T18:30:00Z",
            "2026-03-02T18:30:00Z",
            "Asia/Kolkata",
        );
        let report = ActivityReport {
            request: ActivityRequest::new(WorkspaceId::new("w").unwrap()),
            period: p,
            generated_at: t("2026-03-02T19:00:00Z"),
            complete_up_to: None,
            rows: vec![row(5, d(2026, 2, 24), vec![0, 1, 2, 3, 4, 5, 6])],
            total_rows: 1,
            page_count: 1,
            summary: ActivitySummary::default(),
        };
        let rows = parse(&report.write_csv(Vec::new(), CsvOptions::default()).unwrap());
        let header: Vec<&str> = rows[0].iter().map(String::as_str).collect();
        assert_eq!(
            header,
            [
                "customer_id",
                "code",
                "name",
                "email",
                "status",
                "last_click",
                "views",
                "2026-02-24",
                "2026-02-25",
                "2026-02-26",
                "2026-02-27",
                "2026-02-28",
                "2026-03-01",
                "2026-03-02",
                "latest_day",
                "confirmed",
                "verified",
                "checkout",
                "orders",
                "recent_activity"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "5",
                "'@C1",
                "Ada +Lovelace",
                "ada@example.com",
                "inactive",
                "2026-02-28T23:59:59.999999Z",
                "12",
                "0",
                "1",
                "2",
                "3",
                "4",
                "5",
                "6",
                "6",
                "1",
                "2",
                "3",
                "4",
                ""
            ]
        );
        assert_eq!(report.csv_file_name(), "customer-activity-2026-03-03.csv");
    }

    #[test]
    fn names_and_emails_starting_like_a_formula_are_guarded() {
        let p = period("2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z", "UTC");
        let mut r = row(7, d(2026, 11, 13), vec![0; 7]);
        r.customer.first_name = "=HYPERLINK(\"http://x.test\")".into();
        r.customer.email = " -2+3@example.com".into();
        let mut csv = ActivityCsv::new(Vec::new(), &p, p.window.to, CsvOptions::default()).unwrap();
        csv.write_row(&r).unwrap();
        let rows = parse(&csv.finish().unwrap());
        assert_eq!(rows[1][2], "'=HYPERLINK(\"http://x.test\") +Lovelace");
        assert_eq!(rows[1][3], "' -2+3@example.com");
    }

    #[test]
    fn rows_of_another_period_are_refused() {
        let p = period("2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z", "UTC");
        let mut csv = ActivityCsv::new(Vec::new(), &p, p.window.to, CsvOptions::default()).unwrap();
        csv.write_row(&row(1, d(2026, 11, 13), vec![0; 7])).unwrap();
        for bad in [
            row(2, d(2026, 11, 12), vec![0; 7]),
            row(3, d(2026, 11, 13), vec![0; 6]),
        ] {
            let err = csv.write_row(&bad).unwrap_err();
            assert!(matches!(err, Error::Csv { .. }), "{err}");
        }
    }
}
