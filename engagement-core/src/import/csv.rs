//! [`CsvLines`]: events from CSV with a header row, one at a time.

use std::collections::VecDeque;
use std::io::{self, Read};

use super::record::ImportRecord;
use super::{ImportLine, LineError, LineErrorKind};
use crate::csv::{GUARD_PREFIX, unguard_formula};

/// Reads events from CSV whose first row names the columns (see the module docs for which),
/// streaming: one record in memory at a time. Each item is one data row with the 1-based line
/// of the file it starts on (lines end at LF or CRLF; blank lines and the line breaks inside
/// quoted fields count), or the error of that row; a bad row does not end the iteration.
///
/// A row may leave out trailing columns that are not required (they read as empty); a row
/// with more fields than the header has columns is an error, as its fields cannot be told
/// apart (an unquoted `,` inside a field, most often).
///
/// A header column no event field takes (a misspelt `refferer`) ends the reading at once with
/// a [`LineErrorKind::UnknownKey`] error on line 1, rather than importing every row without
/// its value; `metadata.<key>` columns (an export's extra columns; `metadata` holds the whole
/// object) are taken and ignored. [`ignore_unknown_columns(true)`](Self::ignore_unknown_columns)
/// reads past unknown columns instead.
///
/// By default the reader expects CSV written with the formula guard, as
/// [`CsvOptions`](crate::csv::CsvOptions) writes it by default: a cell that
/// [`unguard_formula`] finds guarded loses its `'`, so a guarded export imports back unchanged.
/// [`with_formula_guard(false)`](Self::with_formula_guard) reads every cell as it is, for CSV
/// written without the guard.
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
            .trim(csv::Trim::Headers)
            .from_reader(LineStarts::new(source));
        Self {
            reader,
            record: csv::StringRecord::new(),
            unguarded: csv::StringRecord::new(),
            headers: None,
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
    /// refusing the file at its header with [`LineErrorKind::UnknownKey`] (the default), so
    /// that no column is dropped unseen.
    #[must_use]
    pub fn ignore_unknown_columns(self, ignore: bool) -> Self {
        Self {
            ignore_unknown_columns: ignore,
            ..self
        }
    }

    /// The 1-based line a record that the reader began at byte `at` starts on; 0 when the
    /// reader gave no position (an I/O error).
    fn line_at(&mut self, at: Option<u64>) -> u64 {
        at.and_then(|byte| self.reader.get_mut().line_from(byte))
            .unwrap_or(0)
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
                Ok(h) => self.headers = Some(h.clone()),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(LineError::fatal(1, e.to_string())));
                }
            }
            let unknown = self.headers.iter().flatten().find(|c| !is_known_column(c));
            if let Some(column) = unknown.filter(|_| !self.ignore_unknown_columns) {
                self.failed = true;
                return Some(Err(LineError {
                    line: 1,
                    kind: LineErrorKind::UnknownKey {
                        key: column.to_owned(),
                    },
                }));
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
                        .map(|mut l| {
                            l.line = line;
                            l
                        })
                        .map_err(|kind| LineError { line, kind }),
                )
            }
            Err(e) => {
                let line = self.line_at(e.position().map(csv::Position::byte));
                // An I/O error cannot be resumed; a malformed row (bad UTF-8) can.
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    self.failed = true;
                    return Some(Err(LineError::fatal(line, e.to_string())));
                }
                Some(Err(LineError {
                    line,
                    kind: LineErrorKind::Malformed {
                        reason: e.to_string(),
                    },
                }))
            }
        }
    }
}

/// Whether an event field takes the header column `name`: a field's name or alias, or an
/// export's `metadata.<key>` column.
fn is_known_column(name: &str) -> bool {
    ImportRecord::keys().contains(&name) || name.starts_with("metadata.")
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
            reason: match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    let column = err
                        .field()
                        .and_then(|i| headers.get(usize::try_from(i).ok()?));
                    match column {
                        Some(name) => format!("column `{name}`: {}", err.kind()),
                        None => err.kind().to_string(),
                    }
                }
                _ => e.to_string(),
            },
        })
        .and_then(ImportLine::from_record)
}

/// The source of a [`CsvLines`], noting where each line's text starts as the `csv` reader pulls
/// bytes through it.
///
/// The `csv` crate's [`Position`](csv::Position) of a record is where the reader stood before
/// reading it: just after the previous record's terminator, and before the line breaks it skips
/// (blank lines, and the LF of a CRLF, as `csv` ends a record at its CR). Its `line()` counts the
/// LFs before that point, so it is one short on CRLF files and misses blank lines. Its `byte()`
/// is exact, though, and a record's text starts at the first byte from there that is no line
/// break: the line of that byte is the record's.
#[derive(Debug)]
struct LineStarts<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// LFs read so far.
    newlines: u64,
    /// Whether the last byte read was CR or LF.
    after_break: bool,
    /// The offset and 1-based line of each byte read that follows CR or LF and is neither,
    /// from the earliest one at or after the last offset asked about. The `csv` reader reads
    /// ahead by at most its buffer, so this holds the line starts of about that many bytes,
    /// and those of the multi-line record being read.
    starts: VecDeque<(u64, u64)>,
}

impl<R> LineStarts<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            newlines: 0,
            after_break: false,
            starts: VecDeque::new(),
        }
    }

    /// Notes the line starts in `bytes`, the next ones read.
    fn note(&mut self, bytes: &[u8]) {
        if self.after_break && bytes.first().is_some_and(|&b| !is_break(b)) {
            self.starts.push_back((self.offset, self.newlines + 1));
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            self.newlines += u64::from(bytes[i] == b'\n');
            if bytes.get(i + 1).is_some_and(|&b| !is_break(b)) {
                self.starts
                    .push_back((self.offset + i as u64 + 1, self.newlines + 1));
            }
        }
        if let Some(&last) = bytes.last() {
            self.after_break = is_break(last);
        }
        self.offset += bytes.len() as u64;
    }

    /// The 1-based line of the first byte at or after `offset` that starts a line, forgetting
    /// those before; `None` when none has been read.
    fn line_from(&mut self, offset: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(at, _)| at < offset) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }
}

impl<R: Read> Read for LineStarts<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.note(&buf[..n]);
        Ok(n)
    }
}

/// Whether `byte` ends a line for the `csv` reader (which also ends a record at a lone CR).
fn is_break(byte: u8) -> bool {
    byte == b'\n' || byte == b'\r'
}
