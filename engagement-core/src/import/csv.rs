//! [`CsvLines`]: events from CSV with a header row, one at a time.

use std::io::Read;

use super::record::ImportRecord;
use super::{ImportLine, LineError, LineErrorKind};

/// Reads events from CSV whose first row names the columns (see the module docs for which),
/// streaming: one record in memory at a time. Each item is one data row with its 1-based line
/// number in the file, or the error of that row; a bad row does not end the iteration.
///
/// ```
/// use engagement_core::import::CsvLines;
///
/// let data = "event_id,customer_id,name,occurred_at\ne1,7,Page Viewed,2026-11-19T10:00:00Z\ne2,x,Page Viewed,2026-11-19T10:00:00Z\n";
/// let lines: Vec<_> = CsvLines::new(data.as_bytes()).collect();
/// assert_eq!(lines[0].as_ref().map(|l| (l.line, l.event.customer.0)).ok(), Some((2, 7)));
/// assert_eq!(lines[1].as_ref().map_err(|e| e.line).err(), Some(3));
/// ```
#[derive(Debug)]
pub struct CsvLines<R> {
    reader: csv::Reader<R>,
    record: csv::StringRecord,
    headers: Option<csv::StringRecord>,
    failed: bool,
}

impl<R: Read> CsvLines<R> {
    /// Reads from `source`, whose first row is the header.
    pub fn new(source: R) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::Headers)
            .from_reader(source);
        Self {
            reader,
            record: csv::StringRecord::new(),
            headers: None,
            failed: false,
        }
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
        }
        let headers = self.headers.as_ref()?;
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                let parsed = self
                    .record
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
                    .and_then(ImportLine::from_record);
                Some(
                    parsed
                        .map(|mut l| {
                            l.line = line;
                            l
                        })
                        .map_err(|kind| LineError { line, kind }),
                )
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
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
