//! The engagement ranking as CSV.

use std::io;

use super::{Cell, CsvOptions, CsvReport, CsvWriter, engagement_file_name};
use crate::error::Result;
use crate::report::{EngagementReport, EngagementRow};

/// The columns of the engagement ranking.
pub const ENGAGEMENT_COLUMNS: [&str; 7] = [
    "rank",
    "customer_id",
    "first_name",
    "last_name",
    "score",
    "band",
    "investigate",
];

impl CsvReport for EngagementReport {
    /// `engagement_FROM_to_TO.csv` (see [`engagement_file_name`]).
    fn csv_file_name(&self) -> String {
        engagement_file_name(&self.period)
    }

    /// One row per ranked customer, in rank order, under [`ENGAGEMENT_COLUMNS`]. A customer
    /// without a directory record has empty names.
    fn write_csv<W: io::Write>(&self, out: W, options: CsvOptions) -> Result<W> {
        let mut csv = CsvWriter::new(out, options);
        csv.write_header(ENGAGEMENT_COLUMNS)?;
        for row in &self.rows {
            csv.write_row(cells(row))?;
        }
        csv.finish()
    }
}

fn cells(row: &EngagementRow) -> [Cell<'_>; 7] {
    let (first, last) = row
        .customer
        .as_ref()
        .map_or(("", ""), |c| (c.first_name.as_str(), c.last_name.as_str()));
    [
        Cell::Uint(row.rank),
        Cell::Int(row.customer_id.0),
        Cell::Text(first),
        Cell::Text(last),
        Cell::Uint(row.score),
        Cell::Text(row.band.label()),
        Cell::Bool(row.investigate),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::writer::tests::parse;
    use crate::model::customer::Customer;
    use crate::model::ids::{CustomerId, WorkspaceId};
    use crate::report::{
        BandThresholds, EngagementRequest, EventLogRequest, ReportPeriod, ScoreBand,
    };
    use crate::time::{RangeSpec, ReportZone, TimeWindow};

    fn report(rows: Vec<EngagementRow>) -> EngagementReport {
        let ws = WorkspaceId::new("w").unwrap();
        let (from, to) = (
            "2026-03-01T00:00:00Z".parse().unwrap(),
            "2026-03-08T00:00:00Z".parse().unwrap(),
        );
        EngagementReport {
            request: EngagementRequest::new(ws),
            period: ReportPeriod {
                spec: RangeSpec::Between { from, to },
                window: TimeWindow { from, to },
                zone: ReportZone::utc(),
            },
            generated_at: to,
            complete_up_to: None,
            rows,
            standing: None,
        }
    }

    fn row(rank: u64, id: i64, customer: Option<Customer>, score: u64) -> EngagementRow {
        let bands = BandThresholds::default();
        EngagementRow {
            rank,
            customer_id: CustomerId(id),
            customer,
            score,
            band: bands.band(score),
            investigate: bands.investigate(score),
            drill_down: EventLogRequest::new(WorkspaceId::new("w").unwrap()),
        }
    }

    #[test]
    fn rows_follow_the_header_with_guarded_names_and_raw_numbers() {
        let evil = Customer::new(CustomerId(-7), "=HYPERLINK(\"x\")", "O'Brien, \"Jr\"");
        let r = report(vec![
            row(1, -7, Some(evil), 1200),
            row(2, 3, None, 10),
            row(
                3,
                12,
                Some(Customer::new(CustomerId(12), "Zoë 🦀", "－x")),
                1,
            ),
        ]);
        let rows = parse(&r.write_csv(Vec::new(), CsvOptions::default()).unwrap());
        assert_eq!(rows[0], ENGAGEMENT_COLUMNS);
        assert_eq!(
            rows[1],
            [
                "1",
                "-7",
                "'=HYPERLINK(\"x\")",
                "O'Brien, \"Jr\"",
                "1200",
                "Very High",
                "true"
            ]
        );
        assert_eq!(rows[2], ["2", "3", "", "", "10", "Medium", "false"]);
        assert_eq!(rows[3], ["3", "12", "Zoë 🦀", "'－x", "1", "Low", "false"]);
        assert_eq!(ScoreBand::Low.label(), rows[3][5]);
        assert_eq!(r.csv_file_name(), "engagement_2026-03-01_to_2026-03-07.csv");
    }

    #[test]
    fn an_empty_ranking_is_just_the_header() {
        let bytes = report(Vec::new())
            .write_csv(Vec::new(), CsvOptions::default())
            .unwrap();
        assert_eq!(parse(&bytes), [ENGAGEMENT_COLUMNS]);
    }
}
