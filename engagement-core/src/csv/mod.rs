//! CSV for every report: RFC 4180 files that are safe to open in a spreadsheet.
//!
//! - [`CsvReport`] writes a whole report — the engagement ranking, a page of customer activity,
//!   a funnel — and names its download file after the product
//!   documents (`engagement_2026-03-01_to_2026-03-07.csv`, `customer-activity-2026-03-08.csv`).
//! - [`ActivityCsv`] streams every page of a customer-activity search ("Export all results").
//! - [`CsvWriter`] and [`Cell`] are the building blocks, for a host's own tables.
//!
//! Every file is RFC 4180 (CRLF line ends; quotes doubled inside quoted cells) and parses back
//! with the `csv` crate to exactly the values written. Text cells are quoted; numbers are bare.
//!
//! # The formula guard
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula, which lets
//! whoever controls the text (a referrer, a page path, a customer's name) attack whoever opens the
//! export. So every *text* cell whose first non-space character is one of those, a TAB, CR or LF,
//! or a full-width `＝ ＋ － ＠`, is written with a leading `'` (see [`needs_formula_guard`]).
//! Typed cells — counts, scores, ranks, negative numbers, timestamps — are never prefixed: the
//! writer knows a cell's type from its [`Cell`] variant, not from its content. The guard is on by
//! default; [`CsvOptions::with_formula_guard`] turns it off.
//!
//! A whole report goes the same way: `report.write_csv(Vec::new(), CsvOptions::default())?`
//! gives its bytes and `report.csv_file_name()` the name to download them under.

use std::io;

use crate::error::Result;

mod activity;
mod engagement;
mod file_name;
mod funnel;
mod guard;
mod writer;

pub use activity::{ACTIVITY_LEADING_COLUMNS, ACTIVITY_TRAILING_COLUMNS, ActivityCsv};
pub use engagement::ENGAGEMENT_COLUMNS;
pub use file_name::{
    activity_file_name, engagement_file_name, event_log_file_name, funnel_file_name, period_dates,
};
pub use funnel::FUNNEL_COLUMNS;
pub use guard::{GUARD_PREFIX, guard_formula, needs_formula_guard};
pub use writer::{Cell, CsvOptions, CsvWriter};

/// A report that can be downloaded as CSV.
///
/// Implemented by [`EngagementReport`](crate::report::EngagementReport),
/// [`ActivityReport`](crate::report::ActivityReport) and
/// [`FunnelReport`](crate::report::FunnelReport).
pub trait CsvReport {
    /// The file name the download should carry.
    fn csv_file_name(&self) -> String;

    /// Writes the report, header first, to `out` and hands `out` back.
    ///
    /// # Errors
    /// [`Error::Csv`](crate::Error::Csv) when `out` fails; the output is then incomplete.
    fn write_csv<W: io::Write>(&self, out: W, options: CsvOptions) -> Result<W>;
}
