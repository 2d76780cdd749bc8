//! Funnel steps as CSV.

use std::io;

use super::{Cell, CsvOptions, CsvReport, CsvWriter, funnel_file_name};
use crate::error::Result;
use crate::report::{FunnelReport, FunnelStep};

/// The columns of a funnel: conversions are fractions (`0.25`), the median time to convert is in
/// seconds with microsecond decimals, empty when nobody converted (and for step 1).
pub const FUNNEL_COLUMNS: [&str; 8] = [
    "step",
    "name",
    "reached",
    "conversion_from_first",
    "conversion_from_previous",
    "dropped",
    "in_progress",
    "median_seconds_to_convert",
];

impl CsvReport for FunnelReport {
    /// `funnel_FROM_to_TO.csv` (see [`funnel_file_name`]).
    fn csv_file_name(&self) -> String {
        funnel_file_name(&self.period)
    }

    /// One row per step, step 1 first, under [`FUNNEL_COLUMNS`].
    fn write_csv<W: io::Write>(&self, out: W, options: CsvOptions) -> Result<W> {
        let mut csv = CsvWriter::new(out, options);
        csv.write_header(FUNNEL_COLUMNS)?;
        for (step, number) in self.steps.iter().zip(1..) {
            csv.write_row(cells(number, step))?;
        }
        csv.finish()
    }
}

fn cells(number: u64, step: &FunnelStep) -> [Cell<'_>; 8] {
    let median = step
        .median_time_to_convert
        .and_then(|d| d.num_microseconds())
        // Exact below about 272 years (2^33 s): seconds with six decimals then have at most 15
        // significant digits, which an f64 keeps and prints back as written.
        .map_or(Cell::Empty, |us| Cell::Float(us as f64 / 1e6));
    [
        Cell::Uint(number),
        Cell::Text(&step.name),
        Cell::Uint(step.reached),
        Cell::Float(step.conversion_from_first),
        Cell::Float(step.conversion_from_previous),
        Cell::Uint(step.dropped),
        Cell::Uint(step.in_progress),
        median,
    ]
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::csv::writer::tests::parse;
    use crate::model::ids::WorkspaceId;
    use crate::report::{FunnelRequest, ReportPeriod};
    use crate::time::{RangeSpec, ReportZone, TimeWindow};

    fn step(name: &str, reached: u64, median_us: Option<i64>) -> FunnelStep {
        FunnelStep {
            name: name.into(),
            reached,
            conversion_from_first: reached as f64 / 4.0,
            conversion_from_previous: 0.5,
            dropped: 1,
            in_progress: 2,
            median_time_to_convert: median_us.map(TimeDelta::microseconds),
        }
    }

    #[test]
    fn steps_in_order_with_guarded_names_and_raw_numbers() {
        let (from, to) = (
            "2026-01-31T00:00:00Z".parse().unwrap(),
            "2026-02-02T00:00:00Z".parse().unwrap(),
        );
        let report = FunnelReport {
            request: FunnelRequest::new(WorkspaceId::new("w").unwrap()),
            period: ReportPeriod {
                spec: RangeSpec::Between { from, to },
                window: TimeWindow { from, to },
                zone: ReportZone::utc(),
            },
            generated_at: to,
            complete_up_to: None,
            steps: vec![
                step("Page Viewed", 4, None),
                step("-Registered", 2, Some(90_061_000_001)),
                step("Subscribed, \"paid\"", 1, Some(90)),
            ],
        };
        let rows = parse(&report.write_csv(Vec::new(), CsvOptions::default()).unwrap());
        assert_eq!(rows[0], FUNNEL_COLUMNS);
        assert_eq!(rows[1], ["1", "Page Viewed", "4", "1", "0.5", "1", "2", ""]);
        assert_eq!(
            rows[2],
            [
                "2",
                "'-Registered",
                "2",
                "0.5",
                "0.5",
                "1",
                "2",
                "90061.000001"
            ]
        );
        assert_eq!(
            rows[3],
            [
                "3",
                "Subscribed, \"paid\"",
                "1",
                "0.25",
                "0.5",
                "1",
                "2",
                "0.00009"
            ]
        );
        assert_eq!(
            report.csv_file_name(),
            "funnel_2026-01-31_to_2026-02-01.csv"
        );
    }
}
