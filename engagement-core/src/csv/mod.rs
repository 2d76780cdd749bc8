//! CSV for every report: RFC 4180 files that are safe to open in a spreadsheet.
//!
//! - [`CsvReport`] writes a whole report — the engagement ranking, a page of customer activity,
//!   a funnel, a page of the event log — and names its download file after the product
//!   documents (`engagement_2026-03-01_to_2026-03-07.csv`, `customer-activity-2026-03-08.csv`).
//! - [`EventLogCsv`] writes the complete event log one event at a time, and
//!   [`event_log_chunks`] turns the export stream of
//!   [`Reports::export_event_log`](crate::report::Reports::export_event_log) into chunks for an
//!   HTTP body; [`export_to_path`] writes it to a file that appears only once complete.
//!   Memory does not grow with the number of events, and a failed export is always detectable:
//!   the stream ends with the error, the file is never renamed into place.
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
//! The guard can be undone exactly: text that already looks like a guarded cell (`'`s, then a
//! formula: `'=1`) gets a `'` as well (`''=1`), so [`unguard_formula`] gives back every text
//! [`guard_formula`] wrote. [`CsvLines`](crate::import::CsvLines) undoes it, so a guarded
//! event-log export imports back unchanged.
//!
//! # Example
//!
//! ```
//! use engagement_core::csv::{CsvOptions, EventLogCsv};
//! use engagement_core::{CustomerId, Event, Timestamp};
//!
//! let mut event = Event::new("evt-1", CustomerId(-7), "Page Viewed", "2026-11-19T10:00:00Z".parse()?);
//! event.page.referrer = "=HYPERLINK(\"https://evil.example\")".into();
//!
//! let mut csv = EventLogCsv::new(Vec::new(), CsvOptions::default())?;
//! csv.write_event(&event)?;
//! let bytes = csv.finish()?;
//!
//! let mut rows = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
//! let row = rows.records().next().unwrap()?;
//! assert_eq!(&row[1], "2026-11-19T10:00:00.000000Z"); // timestamps raw
//! assert_eq!(&row[2], "-7"); // numbers raw, even negative ones
//! assert_eq!(&row[8], "'=HYPERLINK(\"https://evil.example\")"); // text guarded
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A whole report goes the same way: `report.write_csv(Vec::new(), CsvOptions::default())?`
//! gives its bytes and `report.csv_file_name()` the name to download them under.

use std::io;

use crate::error::Result;

mod activity;
mod engagement;
mod event_log;
mod event_stream;
mod export_file;
mod export_pipeline;
mod file_name;
mod funnel;
mod guard;
mod writer;

pub use activity::{ACTIVITY_LEADING_COLUMNS, ACTIVITY_TRAILING_COLUMNS, ActivityCsv};
pub use engagement::ENGAGEMENT_COLUMNS;
pub use event_log::{EVENT_LOG_COLUMNS, EventLogCsv};
pub use event_stream::{ChunkSize, event_log_chunks};
pub use export_file::{export_to_path, write_report_to_path};
pub use file_name::{
    activity_file_name, engagement_file_name, event_log_file_name, funnel_file_name, period_dates,
};
pub use funnel::FUNNEL_COLUMNS;
pub use guard::{GUARD_PREFIX, guard_formula, needs_formula_guard, unguard_formula};
pub use writer::{Cell, CsvOptions, CsvWriter};

/// A report that can be downloaded as CSV.
///
/// Implemented by [`EngagementReport`](crate::report::EngagementReport),
/// [`ActivityReport`](crate::report::ActivityReport),
/// [`FunnelReport`](crate::report::FunnelReport) and
/// [`EventLogPage`](crate::report::EventLogPage).
pub trait CsvReport {
    /// The file name the download should carry.
    fn csv_file_name(&self) -> String;

    /// Writes the report, header first, to `out` and hands `out` back.
    ///
    /// # Errors
    /// [`Error::Csv`](crate::Error::Csv) when `out` fails; the output is then incomplete.
    fn write_csv<W: io::Write>(&self, out: W, options: CsvOptions) -> Result<W>;
}
