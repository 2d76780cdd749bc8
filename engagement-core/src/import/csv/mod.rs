//! [`CsvLines`]: events from CSV with a header row, one at a time.

mod line_starts;

use std::io::{Read, SeekFrom};

use serde_json::Value;

use super::record::{ImportRecord, REQUIRED};
use super::{ImportLine, LineError, LineErrorKind};
use crate::csv::{GUARD_PREFIX, unguard_formula};
use line_starts::LineStarts;

/// Reads events from CSV whose first row names the columns (see the module docs for which),
/// streaming: one record in memory at a time. Each item is one data row with the 1-based line
/// of the file it starts on (lines end at LF, CRLF or a lone CR, as the CSV grammar's records
/// do; blank lines and the line breaks inside quoted fields count), or the error of that row; a
/// bad row does not end the iteration.
///
/// A row may leave out trailing columns that are not required (they read as empty); a row
/// with more fields than the header has columns is an error, as its fields cannot be told
/// apart (an unquoted `,` inside a field, most often).
///
/// A header column no event field takes (a misspelt `refferer`) ends the reading at once with
/// a [`LineErrorKind::UnknownColumn`] error on line 1, rather than importing every row without
/// its value. An export's `metadata.<key>` columns are taken beside a `metadata` column, which
/// holds the whole object and is what is imported: a row whose `metadata.<key>` cell does not
/// say what its `metadata` holds under the key (one of them edited) is a
/// [`LineErrorKind::Field`] error. Without a `metadata` column they are unknown columns too,
/// as their values would be lost. [`ignore_unknown_columns(true)`](Self::ignore_unknown_columns) reads
/// past unknown columns instead. A header without a column every event needs (`event_id`,
/// `customer_id`, `name`, `occurred_at`, or an alias) ends the reading with
/// [`LineErrorKind::MissingColumn`], rather than refusing every row for it; so does a header
/// naming one field twice, with [`LineErrorKind::DuplicateColumn`]. Header cells are read
/// without the whitespace around them, but for the key of a `metadata.<key>` column, which
/// is kept as written: an export writes the stored key as it is.
///
/// By default the reader expects CSV written with the formula guard, as
/// [`CsvOptions`](crate::csv::CsvOptions) writes it by default: a cell that
/// [`unguard_formula`] finds guarded loses its `'`, so a guarded export imports back unchanged.
/// [`with_formula_guard(false)`](Self::with_formula_guard) reads every cell as it is, for CSV
/// written without the guard.
///
/// A record longer than [`max_record_bytes`](Self::max_record_bytes) (by default
/// [`DEFAULT_MAX_LINE_BYTES`](super::DEFAULT_MAX_LINE_BYTES), 1 MiB) is a
/// [`LineErrorKind::TooLong`] error on the line it starts on, and is not read into memory:
/// the reader follows the CSV grammar (quotes, doubled quotes, line breaks inside quotes) over
/// the rest of it, a buffer at a time, to the line break that ends it, and reads the next
/// record from there. An unclosed quote thus runs to the end of the file: what follows it is
/// one over-long record, not rows guessed from the middle of a quoted field. A header that
/// long ends the reading.
///
/// ```
/// use engagement_core::import::CsvLines;
///
/// let data = "event_id,customer_id,name,occurred_at\r\n'-1,7,Page Viewed,2026-11-19T10:00:00Z\r\n\r\ne2,x,Page Viewed,2026-11-19T10:00:00Z\r\n";
/// let lines: Vec<_> = CsvLines::new(data.as_bytes()).collect();
/// assert_eq!(lines[0].as_ref().map(|l| (l.line, l.event.id.as_str(), l.event.customer.0)).ok(), Some((2, "-1", 7)));
/// assert_eq!(lines[1].as_ref().map_err(|e| e.line).err(), Some(4));
/// ```
#[derive(Debug)]
pub struct CsvLines<R> {
    reader: csv::Reader<LineStarts<R>>,
    record: csv::StringRecord,
    /// The current record without the formula guard, when it had guarded cells.
    unguarded: csv::StringRecord,
    headers: Option<csv::StringRecord>,
    /// The header's `metadata.<key>` columns beside a `metadata` column: position and key.
    metadata_columns: Vec<(usize, String)>,
    formula_guard: bool,
    ignore_unknown_columns: bool,
    failed: bool,
}

impl<R: Read> CsvLines<R> {
    /// Reads from `source`, whose first row is the header.
    #[must_use]
    pub fn new(source: R) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(LineStarts::new(source));
        Self {
            reader,
            record: csv::StringRecord::new(),
            unguarded: csv::StringRecord::new(),
            headers: None,
            metadata_columns: Vec::new(),
            formula_guard: true,
            ignore_unknown_columns: false,
            failed: false,
        }
    }

    /// The same reader, removing the formula guard's `'` from guarded cells (`on`, the
    /// default) or reading every cell as it is (for CSV written with
    /// [`CsvOptions::with_formula_guard(false)`](crate::csv::CsvOptions::with_formula_guard),
    /// where a text such as `'=1` was written as it is and must not lose its `'`).
    #[must_use]
    pub fn with_formula_guard(self, on: bool) -> Self {
        Self {
            formula_guard: on,
            ..self
        }
    }

    /// The same reader, reading past header columns no event field takes (`ignore`) or
    /// refusing the file at its header with [`LineErrorKind::UnknownColumn`] (the default), so
    /// that no column is dropped unseen.
    #[must_use]
    pub fn ignore_unknown_columns(self, ignore: bool) -> Self {
        Self {
            ignore_unknown_columns: ignore,
            ..self
        }
    }

    /// The same reader, refusing a record of more than `bytes` bytes, from its first
    /// character to its line end (not counted), with [`LineErrorKind::TooLong`] rather than
    /// reading it into memory (default
    /// [`DEFAULT_MAX_LINE_BYTES`](super::DEFAULT_MAX_LINE_BYTES)); the records after it are
    /// read as usual. A header that long ends the reading ([`LineErrorKind::Unreadable`]). The
    /// reader holds at most about `bytes` of a record, and for its field ends 8 bytes a field,
    /// in a vector the `csv` crate grows by doubling: up to about 16 times `bytes` for a record
    /// of nothing but commas (8 times at a power-of-two cap such as the default).
    #[must_use]
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.reader.get_mut().limit = u64::try_from(bytes).unwrap_or(u64::MAX);
        self
    }

    /// After the source refused a record as too long and read past it (see
    /// [`LineStarts::refused`]): starts the `csv` reader afresh at the next record (its
    /// parser stopped inside the long one, and ended itself at the error) and gives the error.
    fn too_long(&mut self, line: u64) -> Result<ImportLine, LineError> {
        let limit = usize::try_from(self.reader.get_ref().limit).unwrap_or(usize::MAX);
        let error = LineError {
            line,
            kind: LineErrorKind::TooLong { limit },
        };
        let mut at = csv::Position::new();
        at.set_byte(self.reader.get_ref().offset);
        // The source seeks nowhere: this resets the parser, and the buffer (empty: it asked
        // the source for more) and the end of input the error left.
        if let Err(e) = self.reader.seek_raw(SeekFrom::Current(0), at) {
            self.failed = true;
            return Err(LineError::fatal(line, e.to_string()));
        }
        Err(error)
    }

    /// The 1-based line a record that the reader began at byte `at` starts on; when the
    /// reader gave no position (an I/O error), the line it had read up to.
    fn line_at(&mut self, at: Option<u64>) -> u64 {
        let source = self.reader.get_mut();
        at.and_then(|byte| source.line_from(byte))
            .unwrap_or(source.newlines + 1)
    }
}

impl<R: Read> Iterator for CsvLines<R> {
    type Item = Result<ImportLine, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.headers.is_none() {
            match self.reader.headers() {
                Ok(h) => self.headers = Some(h.iter().map(header_name).collect()),
                Err(e) => {
                    self.failed = true;
                    let reason = match self.reader.get_mut().refused.take() {
                        Some(_) => format!(
                            "the header is longer than {} bytes (the reader's cap)",
                            self.reader.get_ref().limit
                        ),
                        None => format!("the header: {}", reason(&e, None)),
                    };
                    return Some(Err(LineError::fatal(1, reason)));
                }
            }
            let headers = self.headers.iter().flatten();
            let has = |names: &[&str]| headers.clone().any(|c| names.contains(&c));
            if let Some(missing) = REQUIRED.iter().find(|names| !has(names)) {
                self.failed = true;
                return Some(Err(LineError {
                    line: 1,
                    kind: LineErrorKind::MissingColumn {
                        column: missing[0].to_owned(),
                    },
                }));
            }
            let has_metadata = has(&["metadata"]);
            let unknown = headers.clone().find(|c| !is_known_column(c, has_metadata));
            if let Some(column) = unknown.filter(|_| !self.ignore_unknown_columns) {
                self.failed = true;
                return Some(Err(LineError {
                    line: 1,
                    kind: LineErrorKind::UnknownColumn {
                        column: column.to_owned(),
                    },
                }));
            }
            if let Some(column) = repeated_field(headers.clone()) {
                self.failed = true;
                return Some(Err(LineError {
                    line: 1,
                    kind: LineErrorKind::DuplicateColumn {
                        column: column.to_owned(),
                    },
                }));
            }
            if has_metadata {
                self.metadata_columns = headers
                    .enumerate()
                    .filter_map(|(i, c)| Some((i, c.strip_prefix("metadata.")?.to_owned())))
                    .collect();
            }
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.line_at(self.record.position().map(csv::Position::byte));
                let headers = self.headers.as_ref()?;
                let record = if self.formula_guard {
                    without_guard(&self.record, &mut self.unguarded)
                } else {
                    &self.record
                };
                Some(
                    parse(record, headers)
                        .and_then(|l| agrees_with_metadata(l, record, &self.metadata_columns))
                        .map(|mut l| {
                            l.line = line;
                            l
                        })
                        .map_err(|kind| LineError { line, kind }),
                )
            }
            Err(e) => {
                if let Some(line) = self.reader.get_mut().refused.take() {
                    return Some(self.too_long(line));
                }
                let line = self.line_at(e.position().map(csv::Position::byte));
                // An I/O error cannot be resumed; a malformed row (bad UTF-8) can.
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    self.failed = true;
                    return Some(Err(LineError::fatal(line, e.to_string())));
                }
                Some(Err(LineError {
                    line,
                    kind: LineErrorKind::Malformed {
                        reason: reason(&e, self.headers.as_ref()),
                    },
                }))
            }
        }
    }
}

/// The name a header cell gives its column: without the whitespace around it, but an
/// export's `metadata.<key>` column keeps its key as written, whitespace included (an export
/// writes the stored key verbatim, so `metadata.plan ` is the column of the key `"plan "`).
fn header_name(cell: &str) -> &str {
    let cell = cell.trim_start();
    if cell.starts_with("metadata.") {
        cell
    } else {
        cell.trim_end()
    }
}

/// Whether an event field takes the header column `name`: a field's name or alias, or an
/// export's `metadata.<key>` column when the header has the `metadata` column that holds it.
fn is_known_column(name: &str, has_metadata: bool) -> bool {
    ImportRecord::keys().contains(&name) || (has_metadata && name.starts_with("metadata."))
}

/// The first of `headers` that names a field an earlier column names: the same name, or a
/// field's name and its alias. Columns no field takes (`metadata.<key>`, or unknown ones read
/// past) are not fields, and may repeat.
fn repeated_field<'h>(headers: impl Iterator<Item = &'h str>) -> Option<&'h str> {
    let mut named: Vec<&str> = Vec::new();
    headers
        .filter(|column| ImportRecord::keys().contains(column))
        .find(|&column| {
            let field = REQUIRED
                .iter()
                .find(|names| names.contains(&column))
                .map_or(column, |names| names[0]);
            let repeated = named.contains(&field);
            named.push(field);
            repeated
        })
}

/// `record` with the formula guard removed from each cell, built in `scratch`; `record` itself
/// when no cell starts with the guard's `'` (nearly every row), without copying.
fn without_guard<'r>(
    record: &'r csv::StringRecord,
    scratch: &'r mut csv::StringRecord,
) -> &'r csv::StringRecord {
    if !record.iter().any(|cell| cell.starts_with(GUARD_PREFIX)) {
        return record;
    }
    scratch.clear();
    for cell in record {
        scratch.push_field(unguard_formula(cell));
    }
    scratch
}

/// The event of one row, its cells named by `headers`.
fn parse(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> Result<ImportLine, LineErrorKind> {
    // The reader is flexible so that rows may leave out optional trailing columns; extra
    // fields would be dropped by `deserialize`, so they are refused here.
    if record.len() > headers.len() {
        return Err(LineErrorKind::Malformed {
            reason: format!(
                "{} fields, but the header names {} columns (is a `,` inside a field unquoted?)",
                record.len(),
                headers.len()
            ),
        });
    }
    record
        .deserialize::<ImportRecord>(Some(headers))
        .map_err(|e| LineErrorKind::Malformed {
            reason: reason(&e, Some(headers)),
        })
        .and_then(ImportLine::from_record)
}

/// What the `csv` crate says of `error`, with the column it is in (named by `headers`, or
/// numbered from 1 without them), but not the record number and line it adds: it counts
/// lines by LF only and from the first non-blank one, and the reader names the line itself.
fn reason(error: &csv::Error, headers: Option<&csv::StringRecord>) -> String {
    let (field, what) = match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => (err.field(), err.kind().to_string()),
        csv::ErrorKind::Utf8 { err, .. } => (
            u64::try_from(err.field()).ok(),
            format!("not UTF-8 after its first {} bytes", err.valid_up_to()),
        ),
        // An I/O error or the like, which names no position (the reader is flexible: rows
        // of unequal lengths are no error of the `csv` crate's).
        _ => (None, error.to_string()),
    };
    let Some(i) = field.and_then(|i| usize::try_from(i).ok()) else {
        return what;
    };
    match headers.and_then(|h| h.get(i)) {
        Some(name) => format!("column `{name}`: {what}"),
        None => format!("field {}: {what}", i + 1),
    }
}

/// `line` when each of its row's `metadata.<key>` cells (at the `columns` given) says what
/// the event's `metadata` holds under the key, as an export writes it (empty when the key is
/// absent, a text as it is, any other value as JSON; a number in any spelling of its value);
/// else a [`LineErrorKind::Field`] error: a cell edited without the `metadata` column (or the
/// other way round) must not be dropped unseen, nor one of the two guessed to win.
fn agrees_with_metadata(
    line: ImportLine,
    record: &csv::StringRecord,
    columns: &[(usize, String)],
) -> Result<ImportLine, LineErrorKind> {
    for (i, key) in columns {
        let cell = record.get(*i).unwrap_or_default();
        let value = line.event.metadata.get(key);
        let agrees = match value {
            None => cell.is_empty(),
            Some(Value::String(text)) => cell == text,
            Some(Value::Number(n)) => spells_number(cell, n),
            Some(other) => serde_json::from_str::<Value>(cell).is_ok_and(|v| &v == other),
        };
        if !agrees {
            let holds = value.map_or_else(|| "nothing".to_owned(), Value::to_string);
            return Err(LineErrorKind::Field {
                field: "metadata",
                reason: format!(
                    "column `metadata.{key}` says {cell:?}, but the `metadata` column holds \
                     {holds} under {key:?}: make the two agree (the `metadata` column is the \
                     one imported), or leave the `metadata.{key}` column out"
                ),
            });
        }
    }
    Ok(line)
}

/// Whether `cell` spells the number `n`: an integer exactly (as an `f64`, 2^53 + 1 and an
/// edited 2^53 would be one value), whether written `5`, `5.0` or `5e0`; a fraction by its
/// `f64` value.
fn spells_number(cell: &str, n: &serde_json::Number) -> bool {
    if cell == n.to_string() {
        return true;
    }
    let integer = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    match integer {
        Some(n) => match cell.parse::<i128>() {
            Ok(cell) => cell == n,
            // `as` saturates: a value out of `i128`'s range is no integer `n` can be.
            Err(_) => cell
                .parse::<f64>()
                .is_ok_and(|cell| cell.fract() == 0.0 && cell as i128 == n),
        },
        None => cell
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(a, b)| a == b),
    }
}
