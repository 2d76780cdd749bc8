//! Bulk import of existing logs: streaming CSV and NDJSON readers with line-numbered errors,
//! and [`import`], which validates, batches and appends what they read.
//!
//! A bad line never costs the good ones: it is counted and listed (up to
//! [`ImportOptions::max_errors_kept`]) in the [`ImportReport`], and the import goes on unless
//! [`ImportOptions::stop_on_error`] asks it to stop; then the good lines before it are stored
//! and nothing after. Appends are idempotent, so re-running an import after an interruption
//! stores each event once.
//!
//! An event-log CSV export ([`EventLogCsv`](crate::csv::EventLogCsv)) imports back with every
//! field as it was: [`CsvLines`] removes the formula guard the export puts on by default (and
//! is told [`with_formula_guard(false)`](CsvLines::with_formula_guard) for an export written
//! without it).
//!
//! No line or record is read into memory whole before it is checked: both readers refuse one
//! longer than their cap ([`DEFAULT_MAX_LINE_BYTES`], 1 MiB, by default; see
//! [`NdjsonLines::max_line_bytes`] and [`CsvLines::max_record_bytes`]) with a
//! [`LineErrorKind::TooLong`] error on the line it starts on, reading past the rest of it a
//! chunk at a time, and go on with the next line (NDJSON) or record (CSV, where the next record
//! starts after the line break that ends the long one by the CSV grammar, quotes included: an
//! unclosed quote runs to the end of the file, so nothing after it is read as a record). A
//! corrupt or hostile file cannot make an import hold more than about the cap per reader, or
//! for CSV up to about 17 times the cap (a record of nothing but commas costs the `csv` reader
//! an 8-byte field end per byte, in a vector it grows by doubling; about 9 times at the
//! default cap, a power of two).
//!
//! ```
//! use engagement_core::import::{self, CsvLines, ImportOptions};
//! use engagement_core::{ReferenceStore, WorkspaceId};
//!
//! # futures::executor::block_on(async {
//! let data = "\
//! event_id,customer_id,name,occurred_at,path,device
//! e1,7,Page Viewed,2026-11-19T10:00:00Z,/pricing,Mobile
//! e2,7,Page Viewed,yesterday,/pricing,Mobile
//! e3,8,Subscribed,2026-11-19T10:05:00Z,/checkout,
//! ";
//! let store = ReferenceStore::default();
//! let ws = WorkspaceId::new("acme")?;
//! let now = "2026-11-20T00:00:00Z".parse()?;
//! let report = import::import(&store, &ws, CsvLines::new(data.as_bytes()), &ImportOptions::default(), now, &mut |_| {}).await?;
//! assert_eq!((report.lines, report.inserted, report.rejected), (3, 2, 1));
//! assert_eq!(report.errors[0].line, 3);
//! assert!(report.errors[0].to_string().contains("occurred_at"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod csv;
mod ndjson;
mod record;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

pub use self::csv::CsvLines;
pub use self::ndjson::NdjsonLines;
use self::record::ImportRecord;
use crate::error::{Error, Result};
use crate::model::event::Event;
use crate::model::ids::{EventId, WorkspaceId};
use crate::model::validate::Limits;
use crate::store::EventStore;
use crate::time::Timestamp;

/// The longest line (NDJSON) or record (CSV) a reader takes by default, in bytes, its line end
/// not counted: 1 MiB.
///
/// Every event [`Limits::default`] accepts fits with room to spare. Its values hold at most
/// about 33 KiB: an id of [`MAX_ID_BYTES`](crate::MAX_ID_BYTES) (128), a name of 128, eight
/// page and geo texts of 2,048 ([`Limits::max_text_bytes`]), metadata of 16 KiB as compact
/// JSON ([`Limits::max_metadata_bytes`]), and a timestamp, IP, actor and device of under 100
/// bytes together. Written with every character escaped (JSON's `\uXXXX` spends 6 bytes on
/// one; CSV's doubled quote 2) that is under 200 KiB, and a `user_agent` (which `Limits` does
/// not bound; HTTP servers refuse headers past 8 to 16 KiB) adds little: 1 MiB leaves a
/// margin of 5 and more. A caller who raises the limits much should raise the cap with them.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// One line that parsed into an event.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportLine {
    /// 1-based line number in the source: where the line starts (a CSV record may span several).
    pub line: u64,
    /// The event it describes.
    pub event: Event,
    /// The `user_agent` column, when the source has one (for enrichment).
    pub user_agent: Option<String>,
}

impl ImportLine {
    fn from_record(mut record: ImportRecord) -> Result<Self, LineErrorKind> {
        let user_agent = record.user_agent.take().filter(|ua| !ua.trim().is_empty());
        Ok(Self {
            line: 0,
            event: record.into_event()?,
            user_agent,
        })
    }
}

/// What was wrong with a line.
///
/// Non-exhaustive: new kinds may be added (as [`TooLong`](Self::TooLong) was) without a
/// breaking change, so a `match` on it needs a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum LineErrorKind {
    /// The line is not a record (bad CSV or JSON, a missing required column, a wrong type, more
    /// CSV fields than the header has columns).
    Malformed {
        /// What the parser said.
        reason: String,
    },
    /// A field has a value that cannot be an event's.
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// An NDJSON line has a key that no event field takes (see
    /// [`NdjsonLines::ignore_unknown_keys`]): a misspelt field, most often.
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A CSV header has a column that no event field takes (see
    /// [`CsvLines::ignore_unknown_columns`]): a misspelt field, most often. Every row would
    /// lose its value, so the reading ends here and the import stops.
    UnknownColumn {
        /// The column's name.
        column: String,
    },
    /// A CSV header lacks a column every event needs (`event_id`, `customer_id`, `name`,
    /// `occurred_at`, or an alias of one): no row could be read, so the reading ends here and
    /// the import stops.
    MissingColumn {
        /// The column's name.
        column: String,
    },
    /// A CSV header names one field twice: a column repeated, or a field's name beside its
    /// alias (`event_id` and `id`). No row could say which of its cells holds the field, so the
    /// reading ends here and the import stops.
    DuplicateColumn {
        /// The later of the two columns.
        column: String,
    },
    /// The source cannot be read any further (an I/O error, or a CSV header that cannot be
    /// read: not UTF-8, longer than the reader's cap); the import stops here.
    Unreadable {
        /// What the reader said.
        reason: String,
    },
    /// The line (NDJSON) or record (CSV) is longer than the reader's cap
    /// ([`NdjsonLines::max_line_bytes`], [`CsvLines::max_record_bytes`]; by default
    /// [`DEFAULT_MAX_LINE_BYTES`]). It was read past, not held in memory, and the reading goes
    /// on with the next line or record (a CSV header this long is
    /// [`Unreadable`](Self::Unreadable)).
    TooLong {
        /// The cap, in bytes (the line end not counted).
        limit: usize,
    },
}

/// A line that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based line number in the source: where the line starts (a CSV record may span several).
    pub line: u64,
    /// What was wrong.
    pub kind: LineErrorKind,
}

impl LineError {
    fn fatal(line: u64, reason: String) -> Self {
        Self {
            line,
            kind: LineErrorKind::Unreadable { reason },
        }
    }

    /// Whether the error ends the reading: the reader yields nothing after it.
    fn is_fatal(&self) -> bool {
        matches!(
            self.kind,
            LineErrorKind::Unreadable { .. }
                | LineErrorKind::UnknownColumn { .. }
                | LineErrorKind::MissingColumn { .. }
                | LineErrorKind::DuplicateColumn { .. }
        )
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LineErrorKind::Malformed { reason } => write!(f, "line {}: {reason}", self.line),
            LineErrorKind::Field { field, reason } => {
                write!(f, "line {}: field `{field}`: {reason}", self.line)
            }
            LineErrorKind::UnknownKey { key } => write!(
                f,
                "line {}: no event field takes the key `{key}` (misspelt?)",
                self.line
            ),
            LineErrorKind::MissingColumn { column } => write!(
                f,
                "line {}: the header has no `{column}` column, which every event needs, so no row was read",
                self.line
            ),
            LineErrorKind::DuplicateColumn { column } => write!(
                f,
                "line {}: the column `{column}` names a field an earlier column names, so no row was read",
                self.line
            ),
            LineErrorKind::UnknownColumn { column } => write!(
                f,
                "line {}: no event field takes the column `{column}` (misspelt?), so no row was read",
                self.line
            ),
            LineErrorKind::Unreadable { reason } => {
                write!(f, "line {}: cannot read further: {reason}", self.line)
            }
            LineErrorKind::TooLong { limit } => write!(
                f,
                "line {}: longer than {limit} bytes (the reader's cap), not read",
                self.line
            ),
        }
    }
}

impl std::error::Error for LineError {}

/// How [`import`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Events per append, from 1 to [`Limits::max_batch_events`] (default 50,000). Larger
    /// appends cost a SQL store less per event (each transaction writes the index pages it
    /// touched once: the workload runner loading 1M events into SQLite, 5,000 → 50,000: 33k →
    /// 60k events/s) but hold its write lock longer; lower it when live traffic writes to the
    /// same store meanwhile.
    pub batch_size: usize,
    /// Stop at the first bad line (default false: count it and go on).
    pub stop_on_error: bool,
    /// How many line errors the report lists (default 1,000), and how many conflicts
    /// ([`ImportReport::conflicting`]); all are counted.
    pub max_errors_kept: usize,
    /// Validation applied to each event before it is stored.
    pub limits: Limits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_size: 50_000,
            stop_on_error: false,
            max_errors_kept: 1_000,
            limits: Limits::default(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ImportReport {
    /// Data lines read, good and bad (blank NDJSON lines and the CSV header not counted, nor
    /// the error that ended the reading).
    pub lines: u64,
    /// Events newly stored.
    pub inserted: u64,
    /// Events already stored with the same payload (a re-run), not counted twice.
    pub duplicates: u64,
    /// Events whose id was already stored with another payload; the stored one was kept.
    pub conflicts: u64,
    /// The first of those events, in order (up to [`ImportOptions::max_errors_kept`], as
    /// [`errors`](Self::errors) are bounded; [`conflicts`](Self::conflicts) counts them all).
    pub conflicting: Vec<Conflict>,
    /// Data lines not imported.
    pub rejected: u64,
    /// The first rejected lines, in order, and last the error that ended the reading, if one
    /// did ([`LineErrorKind::Unreadable`], [`LineErrorKind::UnknownColumn`],
    /// [`LineErrorKind::MissingColumn`], [`LineErrorKind::DuplicateColumn`]), however many were
    /// kept before it.
    pub errors: Vec<LineError>,
    /// Whether the import ended before the end of the source (asked to stop on error, or the
    /// source became unreadable, or its CSV header unusable).
    pub stopped: bool,
}

/// An event kept out because its id was already stored, or came earlier in the import, with
/// another payload (the first write is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Conflict {
    /// The event's id.
    pub id: EventId,
    /// The 1-based line of the event, when its id is on one line of the batch it was appended
    /// in; `None` when the batch holds the id on several lines, as which of them was kept out
    /// depends on what the store held before.
    pub line: Option<u64>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(
            f,
            "the id `{}` is stored with other content, which was kept",
            self.id.as_str()
        )
    }
}

impl ImportReport {
    fn reject(&mut self, error: LineError, keep: usize) {
        self.rejected += 1;
        if self.errors.len() < keep {
            self.errors.push(error);
        }
    }

    fn stop(&mut self, error: Option<LineError>) {
        self.errors.extend(error);
        self.stopped = true;
    }
}

/// Normalizes ([`Event::normalize`]), validates, batches and appends every line, stamping
/// `received_at` with `now`; calls `progress` after each batch stored. Lines that fail to
/// parse or validate are rejected with their line number (see [`ImportReport`]).
///
/// # Errors
/// [`Error::InvalidConfig`] when [`ImportOptions::batch_size`] is 0 or above
/// [`Limits::max_batch_events`] (nothing is read). A store failure: the batches before it are
/// stored, the report so far is lost; re-running the import is safe (appends are idempotent).
pub async fn import<I>(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    lines: I,
    options: &ImportOptions,
    now: Timestamp,
    progress: &mut (dyn FnMut(&ImportReport) + Send),
) -> Result<ImportReport>
where
    I: IntoIterator<Item = Result<ImportLine, LineError>>,
    I::IntoIter: Send,
{
    let batch_size = options.batch_size;
    options.limits.check_batch_size("batch_size", batch_size)?;
    let mut report = ImportReport::default();
    // Grown as lines come: a short file need not reserve a whole batch of 50,000 events.
    let mut batch = Batch {
        events: Vec::with_capacity(batch_size.min(4_096)),
        lines: Vec::with_capacity(batch_size.min(4_096)),
    };
    let keep = options.max_errors_kept;
    for item in lines {
        let item = match item {
            Err(error) if error.is_fatal() => {
                report.stop(Some(error));
                break;
            }
            item => item,
        };
        report.lines += 1;
        let checked = item.and_then(|mut line| {
            line.event.received_at = now;
            line.event.normalize();
            match options.limits.validate_event(0, &line.event, now) {
                Ok(()) => Ok(line),
                Err(Error::InvalidEvent { field, reason, .. }) => Err(LineError {
                    line: line.line,
                    kind: LineErrorKind::Field { field, reason },
                }),
                Err(other) => Err(LineError {
                    line: line.line,
                    kind: LineErrorKind::Malformed {
                        reason: other.to_string(),
                    },
                }),
            }
        });
        match checked {
            Ok(line) => {
                batch.events.push(line.event);
                batch.lines.push(line.line);
                if batch.events.len() >= batch_size {
                    batch.store(store, workspace, &mut report, keep).await?;
                    progress(&report);
                }
            }
            Err(error) => {
                report.reject(error, keep);
                if options.stop_on_error {
                    report.stop(None);
                    break;
                }
            }
        }
    }
    batch.store(store, workspace, &mut report, keep).await?;
    progress(&report);
    Ok(report)
}

/// The events read and not yet appended, with the line of each.
struct Batch {
    events: Vec<Event>,
    lines: Vec<u64>,
}

impl Batch {
    /// Appends the events, counts what the store did with them in `report` (listing up to
    /// `keep` conflicts) and empties the batch.
    async fn store(
        &mut self,
        store: &dyn EventStore,
        workspace: &WorkspaceId,
        report: &mut ImportReport,
        keep: usize,
    ) -> Result<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        let outcome = store.append(workspace, &self.events).await?;
        report.inserted += outcome.inserted;
        report.duplicates += outcome.duplicates;
        report.conflicts += outcome.conflicts.len() as u64;
        let room = keep.saturating_sub(report.conflicting.len());
        if room > 0 && !outcome.conflicts.is_empty() {
            // The line of each id, `None` for an id on several lines of the batch.
            let mut lines: HashMap<&EventId, Option<u64>> = HashMap::new();
            for (event, &line) in self.events.iter().zip(&self.lines) {
                lines
                    .entry(&event.id)
                    .and_modify(|l| *l = None)
                    .or_insert(Some(line));
            }
            report
                .conflicting
                .extend(outcome.conflicts.into_iter().take(room).map(|id| Conflict {
                    line: lines.get(&id).copied().flatten(),
                    id,
                }));
        }
        self.events.clear();
        self.lines.clear();
        Ok(())
    }
}
